#include "plan/render.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/text.h"
#include "core/time.h"
#include "plan/render_internal.h"
#include "recover/replay.h"

namespace backfill {
namespace render_internal {
namespace {

std::string FileToken(size_t i) { return fmt::format("@@FILE{}@@", i); }

// run.sh's shell functions (sections of run.sh.in), in the order they are written, each only when
// a step's commands call it.
const char* const kShellFunctions[] = {"stage_days",     "copy_access",  "mirror_dataset",
                                       "ensure_dataset", "mirror_table", "sink_replay",
                                       "copy_slices",    "remove_staged"};

// The section `name` of run.sh.in (its header describes the format), @KEY@ replaced by each value.
std::string RunShSection(std::string_view name,
                         const std::vector<std::pair<std::string, std::string>>& values = {}) {
  std::string_view text = kRunShTemplate;
  std::string marker = "\n#@ " + std::string(name) + "\n";
  size_t at = text.find(marker);
  if (at == std::string_view::npos) return "";
  size_t begin = at + marker.size();
  size_t end = text.find("\n#@ ", begin - 1);
  std::string section(
      text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end + 1 - begin));
  for (const auto& [key, value] : values) {
    std::string token = "@" + key + "@";
    for (size_t pos = 0; (pos = section.find(token, pos)) != std::string::npos;
         pos += value.size()) {
      section.replace(pos, token.size(), value);
    }
  }
  return section;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Text helpers.

// `p.d.t`, backticked whole: project ids have dashes.
std::string Bq(const TableName& t) { return "`" + t.ToString() + "`"; }
// p:d.t, the bq command line's form.
std::string BqCli(const TableName& t) { return t.project + ":" + t.dataset + "." + t.table; }
std::string BqCli(const DatasetName& d) { return d.project + ":" + d.dataset; }
std::string Ident(const std::string& name) { return "`" + name + "`"; }

// A single-quoted shell word.
std::string ShQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A GoogleSQL string literal.
std::string SqlString(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "'";
}

std::string DateSql(Date d) { return "DATE '" + FormatDate(d) + "'"; }

// TIMESTAMP '2020-04-01 02:30:00+00': BigQuery's canonical form.
std::string TimestampSql(Timestamp ts) {
  std::string s = FormatTimestamp(ts);
  std::replace(s.begin(), s.end(), 'T', ' ');
  if (!s.empty() && s.back() == 'Z') s.replace(s.size() - 1, 1, "+00");
  return "TIMESTAMP '" + s + "'";
}

// The day a row belongs to in `layout`'s partitioning, over `alias`.
std::string DayExpr(const TableInfo& layout, const std::string& alias) {
  std::string col = alias.empty() ? Ident(layout.options.partition_by)
                                  : alias + "." + Ident(layout.options.partition_by);
  switch (layout.partition_kind) {
    case PartitionKind::kNone:
      return "CAST(NULL AS DATE)";
    case PartitionKind::kDate:
      return col;
    case PartitionKind::kTimestamp:
      return "DATE(" + col + ")";
  }
  return "CAST(NULL AS DATE)";
}

// PARTITION BY / CLUSTER BY / OPTIONS clauses of a CREATE TABLE with `info`'s layout.
std::string LayoutClauses(const TableInfo& info) {
  std::string out;
  if (info.partition_kind != PartitionKind::kNone) out += "\nPARTITION BY " + DayExpr(info, "");
  if (!info.options.cluster_by.empty()) {
    std::vector<std::string> cols;
    for (const auto& c : info.options.cluster_by) cols.push_back(Ident(c));
    out += "\nCLUSTER BY " + Join(cols, ", ");
  }
  if (!info.options.description.empty())
    out += "\nOPTIONS (description = " + SqlString(info.options.description) + ")";
  return out;
}

// "-- " before every line of `text`.
std::string Comment(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += "-- " + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

// Bash comment lines.
std::string ShComment(const std::string& text) {
  std::string c = Comment(text), out;
  for (size_t i = 0; i < c.size(); ++i) {
    if ((i == 0 || c[i - 1] == '\n') && c.compare(i, 3, "-- ") == 0) {
      out += "# ";
      i += 2;
    } else {
      out += c[i];
    }
  }
  return out;
}

std::string FilterText(const PlanStep& s) {
  std::string out;
  if (!s.List("only").empty()) out += " matching " + Join(s.List("only"), ", ");
  if (!s.List("exclude").empty()) out += " except " + Join(s.List("exclude"), ", ");
  return out;
}

// ---------------------------------------------------------------------------------------------
// The walk: steps in order, each into SQL files and run.sh lines (the step methods are in the file
// of their idea, render_internal.h lists them).

std::string Renderer::AddSql(const std::string& kind, const std::string& table,
                             const std::string& day, std::string body) {
  std::string base = kind;
  if (!table.empty()) base += "-" + table;
  if (!day.empty()) base += "-" + day;
  files_.push_back({base + ".sql", std::move(body), static_cast<int>(index_ + 1)});
  return FileToken(files_.size() - 1);
}

std::string Renderer::Gcs(const std::string& local) {
  std::string norm = std::filesystem::path(local).lexically_normal().generic_string();
  while (norm.size() > 1 && norm.back() == '/') norm.pop_back();
  for (auto& g : gcs_) {
    if (g.local == norm) {
      g.steps.insert(static_cast<int>(index_ + 1));
      return "${" + g.var + "}";
    }
  }
  GcsPath g{"", norm, "", {static_cast<int>(index_ + 1)}};
  for (const auto& [prefix, url] : options_.bucket_map) {
    std::string p = std::filesystem::path(prefix).lexically_normal().generic_string();
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    std::string u = url;
    while (!u.empty() && u.back() == '/') u.pop_back();
    if (norm == p)
      g.url = u;
    else if (norm.size() > p.size() && norm.compare(0, p.size(), p) == 0 && norm[p.size()] == '/')
      g.url = u + norm.substr(p.size());
    if (!g.url.empty()) break;
  }
  std::string var = "GCS_";
  for (char c : norm)
    var += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  std::string unique = var;
  for (int n = 2;
       std::any_of(gcs_.begin(), gcs_.end(), [&](const GcsPath& o) { return o.var == unique; });
       ++n) {
    unique = var + "_" + std::to_string(n);
  }
  g.var = unique;
  gcs_.push_back(g);
  return "${" + g.var + "}";
}

Status Renderer::RequireProject(const std::string& project, const std::string& option) {
  if (catalog_.HasProject(project)) return Status::Ok();
  return NotFound(fmt::format(
      "{}: {}: project {} ({}) does not exist in the warehouse and no earlier step creates it",
      options_.plan_file.empty() ? "plan" : options_.plan_file, plan_.steps[index_].Label(index_),
      project, option));
}

Result<TableInfo> Renderer::Table(const std::string& text, const std::string& option) {
  BF_ASSIGN_OR_RETURN(TableName name, ParseTableName(text));
  BF_RETURN_IF_ERROR(RequireProject(name.project, option));
  auto info = catalog_.Describe(name);
  if (!info.ok())
    return Error(fmt::format("{} {}: {}", option, name.ToString(), info.status().message()));
  return info;
}

Result<std::vector<TableInfo>> Renderer::Matching(const PlanStep& s, const std::string& project) {
  TableFilter filter{s.List("only"), s.List("exclude")};
  BF_ASSIGN_OR_RETURN(auto tables, catalog_.Tables(project));
  std::vector<TableInfo> out;
  for (auto& t : tables) {
    if (filter.Matches(t.name.dataset + "." + t.name.table)) out.push_back(std::move(t));
  }
  return out;
}

Status Renderer::Step(size_t i) {
  index_ = i;
  const PlanStep& s = plan_.steps[i];
  Sh("");
  std::string summary;
  for (const auto& [k, v] : s.options) {
    std::string text;
    if (const auto* str = std::get_if<std::string>(&v))
      text = *str;
    else if (const auto* n = std::get_if<int64_t>(&v))
      text = std::to_string(*n);
    else if (const auto* b = std::get_if<bool>(&v))
      text = *b ? "true" : "false";
    else
      text = "[" + Join(std::get<std::vector<std::string>>(v), ", ") + "]";
    summary += " " + k + "=" + text;
  }
  script_ += ShComment(fmt::format("--- {}: {}\n   {}", s.Label(i), s.Spec().summary,
                                   summary.substr(summary.empty() ? 0 : 1)));
  switch (s.kind) {  // no default: the compiler names a kind without a rendering
    case StepKind::kStage:
      return Stage(s);
    case StepKind::kMirror:
      return Mirror(s);
    case StepKind::kSink:
      return Sink(s);
    case StepKind::kAppend:
      return Append(s);
    case StepKind::kCopyDeduplicate:
      return CopyDeduplicate(s);
    case StepKind::kRerun:
      return Rerun(s);
    case StepKind::kSnapshot:
      return Snapshot(s);
    case StepKind::kRestore:
      return Restore(s);
    case StepKind::kValidate:
      return Validate(s);
    case StepKind::kDrop:
      return Drop(s);
    case StepKind::kCleanup:
      return Cleanup(s);
  }
  return Error("no BigQuery rendering for this step kind");
}

Result<RenderedPlan> Renderer::Render() {
  for (size_t i = 0; i < plan_.steps.size(); ++i) BF_RETURN_IF_ERROR(Step(i));

  // Number the SQL files in execution order and put their names into run.sh.
  size_t width = std::max<size_t>(2, std::to_string(files_.size()).size());
  RenderedPlan out;
  for (size_t i = 0; i < files_.size(); ++i) {
    std::string name = fmt::format("{:0{}}-{}", i + 1, width, files_[i].base);
    std::string token = FileToken(i);
    for (size_t at; (at = script_.find(token)) != std::string::npos;)
      script_.replace(at, token.size(), name);
    out.files.push_back(
        {name, files_[i].content, files_[i].step, files_[i].default_project, files_[i].parameters});
  }
  out.tables = catalog_.Used();

  std::string origin = options_.plan_file.empty() ? "the plan" : options_.plan_file;
  std::string sh = "#!/usr/bin/env bash\n";
  sh += ShComment(fmt::format(
      "Plan {} by {}: {}\n"
      "Rendered for BigQuery by `backfill render {} --target bigquery` (plan sha256 {}).\n"
      "Review README.md and every numbered .sql file, set the variables below, then: bash run.sh\n"
      "Each command runs once: completed ones are recorded in the state file below, so after a "
      "failure\n"
      "(a guard or validation refusing, a quota error) fixing the cause and starting run.sh again "
      "resumes\n"
      "after the last completed command. Needs bq and gcloud storage (Google Cloud SDK) and jq.",
      plan_.name, plan_.author, plan_.reason, origin, plan_.content_hash));
  sh += RunShSection("start");
  if (!gcs_.empty()) {
    sh += RunShSection("gcs_paths");
    std::vector<std::string> vars;
    for (const auto& g : gcs_) {
      std::vector<std::string> steps;
      for (int st : g.steps) steps.push_back(std::to_string(st));
      sh += fmt::format("# plan path '{}' (step {})\n", g.local, Join(steps, ", "));
      if (g.url.empty()) {
        sh += fmt::format(
            "{v}=\"${{{v}:?set {v} to the gs:// URL of the plan path '{l}' (or render with "
            "--bucket-map {l}=gs://...)}}\"\n",
            fmt::arg("v", g.var), fmt::arg("l", g.local));
      } else {
        sh += fmt::format("{v}=\"${{{v}:-{u}}}\"\n", fmt::arg("v", g.var), fmt::arg("u", g.url));
      }
      vars.push_back(g.var);
    }
    sh += RunShSection("gcs_check", {{"GCS_VARS", Join(vars, " ")}});
  }
  if (needs_sink_) sh += RunShSection("sink_settings");
  sh += RunShSection("runner", {{"STATE_ID", plan_.content_hash.substr(0, 16)}});
  for (std::string_view f : kShellFunctions) {
    bool used = script_.find(" " + std::string(f) + " ") != std::string::npos ||
                (f == "copy_access" && (script_.find(" mirror_dataset ") != std::string::npos ||
                                        script_.find(" ensure_dataset ") != std::string::npos));
    if (used) sh += RunShSection(f);
  }
  sh += script_;
  sh += RunShSection("finish", {{"PLAN_NAME", plan_.name}});

  std::string readme = fmt::format("# {} — BigQuery rendering\n\n", plan_.name);
  readme += fmt::format("- **Reason:** {}\n- **Author:** {}\n- **Plan:** `{}` (sha256 `{}`)\n\n",
                        plan_.reason, plan_.author, origin, plan_.content_hash);
  readme +=
      "Rendered by `backfill render --target bigquery` from the plan and the catalog of the "
      "embedded warehouse "
      "(tables matched by `only`/`exclude`, schemas, partitioning, clustering, derived tables' "
      "queries). "
      "`run.sh` runs the steps in order with `bq` and `gcloud storage`; each numbered `.sql` file "
      "is one "
      "BigQuery job.\n\n## What to review\n\n";
  readme +=
      "1. The tables each step touches and the days: the file names say table and day; compare "
      "with the plan.\n"
      "2. Every write: `INSERT` (appends and restores anti-join the target, so a re-run adds "
      "nothing), "
      "`--destination_table 'p:d.t$YYYYMMDD' --replace` (WRITE_TRUNCATE of that one day only), "
      "`CREATE TABLE ... FOR SYSTEM_TIME AS OF` (snapshots), `DROP TABLE`.\n"
      "3. The guards (`*-check.sql`) and validations (`*validate*.sql`): they raise `ERROR()` so "
      "that run.sh "
      "stops before anything destructive follows.\n"
      "4. The variables at the top of `run.sh` (Cloud Storage locations of the plan's local "
      "paths).\n\n";
  readme += "## Files\n\n| file | step |\n| --- | --- |\n";
  for (const auto& f : out.files) {
    readme += fmt::format("| `{}` | {} |\n", f.name, plan_.steps[f.step - 1].Label(f.step - 1));
  }
  readme += "| `run.sh` | all steps, in order |\n\n";
  if (!protected_writes_.empty()) {
    readme +=
        "## Protected data\n\nThese writes go into protected datasets and need a second person's "
        "approval of "
        "this ticket before run.sh is started:\n\n";
    for (const auto& p : protected_writes_) readme += "- " + p + "\n";
    readme += "\n";
  }
  if (!review_notes_.empty()) {
    readme += "## Notes\n\n";
    for (const auto& n : review_notes_) readme += "- " + n + "\n";
    readme += "\n";
  }
  readme +=
      "`backfill render` analyzes every `.sql` file with ZetaSQL, BigQuery's GoogleSQL analyzer "
      "(names resolved "
      "against `catalog.json`, the schemas of the tables they use; types checked) when it is "
      "installed, and says "
      "so; `node scripts/check-zetasql.mjs catalog.json` repeats the check.\n";
  out.files.push_back({"run.sh", std::move(sh), 0});
  out.files.push_back({"README.md", std::move(readme), 0});
  return out;
}

}  // namespace render_internal

Result<RenderedPlan> RenderBigQuery(const Plan& plan, Warehouse& catalog,
                                    const RenderOptions& options) {
  return render_internal::Renderer(plan, catalog, options).Render();
}

Result<std::pair<std::string, std::string>> ParseBucketMapping(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || text.compare(eq + 1, 5, "gs://") != 0 ||
      text.size() <= eq + 6) {
    return InvalidArgument(
        fmt::format("--bucket-map '{}': expected LOCAL_PATH=gs://bucket[/prefix]", text));
  }
  return std::pair{text.substr(0, eq), text.substr(eq + 1)};
}

}  // namespace backfill
