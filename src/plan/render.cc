#include "plan/render.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/names.h"
#include "core/schema.h"
#include "core/text.h"
#include "core/time.h"
#include "recover/replay.h"
#include "recover/rescue.h"
#include "warehouse/bq_sql.h"

namespace backfill {
namespace render_internal {
extern const std::string_view kRunShTemplate;  // src/plan/run.sh.in
}  // namespace render_internal

namespace {

// ---------------------------------------------------------------------------------------------
// The catalog as the plan goes: the warehouse, plus what earlier steps create or drop.
class Catalog {
 public:
  explicit Catalog(Warehouse& w) : w_(w) {}

  bool HasProject(const std::string& project) const { return w_.HasProject(project) || projects_.count(project); }
  void AddProject(const std::string& project) { projects_.insert(project); }

  // The project's current tables, by dataset then table.
  Result<std::vector<TableInfo>> Tables(const std::string& project) {
    std::map<TableName, TableInfo> out;
    if (w_.HasProject(project)) {
      BF_ASSIGN_OR_RETURN(auto datasets, w_.ListDatasets(project));
      for (const auto& ds : datasets) {
        BF_ASSIGN_OR_RETURN(auto tables, w_.ListTables(ds.name));
        for (const auto& t : tables) {
          TableName name{project, ds.name.dataset, t};
          if (dropped_.count(name)) continue;
          BF_ASSIGN_OR_RETURN(TableInfo info, w_.DescribeTable(name));
          out[name] = std::move(info);
        }
      }
    }
    for (const auto& [name, info] : created_) {
      if (name.project == project) out[name] = info;
    }
    std::vector<TableInfo> list;
    for (auto& [_, info] : out) list.push_back(std::move(info));
    return list;
  }

  Result<TableInfo> Describe(const TableName& name) {
    if (auto it = created_.find(name); it != created_.end()) return it->second;
    if (dropped_.count(name)) return NotFound(fmt::format("table {} is dropped by an earlier step", name.ToString()));
    auto info = w_.DescribeTable(name);
    if (info.ok()) Use(*info);
    return info;
  }
  // Records a table the SQL reads or writes, for RenderedPlan::tables (the analyzer's catalog).
  void Use(const TableInfo& info) { used_.emplace(info.name, info); }
  std::vector<TableInfo> Used() const {
    std::vector<TableInfo> out;
    for (const auto& [_, info] : used_) out.push_back(info);
    return out;
  }

  // Whether any dataset of the project is protected (in the warehouse; steps never create one).
  Result<std::vector<std::string>> ProtectedDatasets(const std::string& project) {
    std::vector<std::string> out;
    if (!w_.HasProject(project)) return out;
    BF_ASSIGN_OR_RETURN(auto datasets, w_.ListDatasets(project));
    for (const auto& ds : datasets) {
      if (ds.options.is_protected) out.push_back(ds.name.ToString());
    }
    return out;
  }

  void Create(TableInfo info) {
    dropped_.erase(info.name);
    created_[info.name] = std::move(info);
  }
  void Drop(const TableName& name) {
    created_.erase(name);
    dropped_.insert(name);
  }

 private:
  Warehouse& w_;
  std::map<TableName, TableInfo> created_;
  std::set<TableName> dropped_;
  std::set<std::string> projects_;
  std::map<TableName, TableInfo> used_;
};

// ---------------------------------------------------------------------------------------------
// Text helpers.

// `p.d.t`, backticked whole: project ids have dashes.
std::string Bq(const TableName& t) { return "`" + t.ToString() + "`"; }
// p:d.t, the bq command line's form.
std::string BqCli(const TableName& t) { return t.project + ":" + t.dataset + "." + t.table; }
std::string BqCli(const DatasetName& d) { return d.project + ":" + d.dataset; }
std::string Ident(const std::string& name) { return "`" + name + "`"; }

// A single-quoted shell word.
std::string Sh(std::string_view s) {
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
  std::string col = alias.empty() ? Ident(layout.options.partition_by) : alias + "." + Ident(layout.options.partition_by);
  switch (layout.partition_kind) {
    case PartitionKind::kNone: return "CAST(NULL AS DATE)";
    case PartitionKind::kDate: return col;
    case PartitionKind::kTimestamp: return "DATE(" + col + ")";
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
  if (!info.options.description.empty()) out += "\nOPTIONS (description = " + SqlString(info.options.description) + ")";
  return out;
}

// `bq mk` / `bq query` flags for the same layout.
std::vector<std::string> LayoutFlags(const TableInfo& info) {
  std::vector<std::string> flags;
  if (info.partition_kind != PartitionKind::kNone) {
    flags.push_back("--time_partitioning_type=DAY");
    flags.push_back("--time_partitioning_field=" + info.options.partition_by);
  }
  if (!info.options.cluster_by.empty()) flags.push_back("--clustering_fields=" + Join(info.options.cluster_by, ","));
  return flags;
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

// The embedded checksum's BigQuery counterpart: per day, the row count and the sum of 64-bit
// fingerprints of each row's JSON (as NUMERIC, which cannot overflow below 10^10 rows a day):
// order-independent, and a duplicated row changes it.
std::string DigestCte(const std::string& name, const TableName& table, const TableInfo& layout,
                      const std::optional<DateRange>& dates, const std::string& alias) {
  std::string day = DayExpr(layout, alias);
  std::string where = dates ? fmt::format("\n  WHERE {} BETWEEN {} AND {}", day, DateSql(dates->first), DateSql(dates->last)) : "";
  return fmt::format(
      "{name} AS (\n"
      "  SELECT {day} AS day, COUNT(*) AS row_count,\n"
      "    SUM(CAST(FARM_FINGERPRINT(TO_JSON_STRING({a})) AS NUMERIC)) AS checksum\n"
      "  FROM {table} AS {a}{where}\n"
      "  GROUP BY day\n"
      ")",
      fmt::arg("name", name), fmt::arg("day", day), fmt::arg("a", alias), fmt::arg("table", Bq(table)),
      fmt::arg("where", where));
}

bool LooksLikeFile(const std::string& path) {
  for (const char* ext : {".json", ".ndjson", ".gz", ".jsonl"}) {
    if (EndsWith(path, ext)) return true;
  }
  return false;
}

bool HasGlob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// Dataflow job names: lowercase letters, digits and dashes.
std::string JobName(std::string name) {
  for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '-';
  return name;
}

// ---------------------------------------------------------------------------------------------
// The renderer: SQL files (numbered at the end) and run.sh, step by step.
class Renderer {
 public:
  Renderer(const Plan& plan, Warehouse& w, const RenderOptions& options)
      : plan_(plan), w_(w), catalog_(w), options_(options),
        billing_(options.billing_project.empty() ? plan.billing_project : options.billing_project) {}

  Result<RenderedPlan> Render();

 private:
  struct SqlFile {
    std::string base;  // without the number: "append-telemetry_live.main_v4.sql"
    std::string content;
    int step;
    std::string default_project = {};
    std::map<std::string, std::string> parameters = {};
  };
  struct GcsPath {
    std::string var;
    std::string local;
    std::string url;  // empty: must be set by whoever runs run.sh
    std::set<int> steps;
  };

  Status Step(size_t i);
  Status Stage(const PlanStep& s);
  Status Mirror(const PlanStep& s);
  Status Sink(const PlanStep& s);
  Status Append(const PlanStep& s);
  Status CopyDeduplicate(const PlanStep& s);
  Status Rerun(const PlanStep& s);
  Status Snapshot(const PlanStep& s);
  Status Restore(const PlanStep& s);
  Status Validate(const PlanStep& s);
  Status Drop(const PlanStep& s);
  Status Cleanup(const PlanStep& s);

  Status RequireProject(const std::string& project, const std::string& option);
  Result<TableInfo> Table(const std::string& text, const std::string& option);
  Result<std::vector<TableInfo>> Matching(const PlanStep& s, const std::string& project);
  // Adds a SQL file; returns the token run.sh uses for its name.
  std::string AddSql(const std::string& kind, const std::string& table, const std::string& day, std::string body);
  // "${GCS_STAGED}" for a local path of the plan.
  std::string Gcs(const std::string& local);
  void Sh(const std::string& line) { script_ += line + "\n"; }
  // The project a job runs and is billed in: the billing project when there is one.
  std::string JobProject(const std::string& data_project) const {
    return billing_.empty() ? data_project : billing_;
  }
  Status Error(const std::string& message) const {
    return InvalidArgument(fmt::format("{}: {}: {}", options_.plan_file.empty() ? "plan" : options_.plan_file,
                                       plan_.steps[index_].Label(index_), message));
  }
  std::string Header(const std::string& what) const {
    const PlanStep& s = plan_.steps[index_];
    return Comment(fmt::format("Plan {}, {}: {}\n{}", plan_.name, s.Label(index_), s.Spec().summary, what));
  }
  void NoteProtected(const TableInfo& target) {
    if (target.dataset.options.is_protected) {
      protected_writes_.push_back(fmt::format("{} writes {} (protected dataset {})", plan_.steps[index_].Label(index_),
                                              target.name.ToString(), target.dataset.name.ToString()));
    }
  }

  const Plan& plan_;
  Warehouse& w_;  // for translating derived tables' queries (the sources they read)
  Catalog catalog_;
  const RenderOptions& options_;
  std::string billing_;  // empty: each job runs in the project of the data it writes
  size_t index_ = 0;
  std::vector<SqlFile> files_;
  std::string script_;
  std::vector<GcsPath> gcs_;
  bool needs_sink_ = false;
  std::vector<std::string> protected_writes_;
  std::vector<std::string> review_notes_;
  std::set<TableName> validated_;  // tables an earlier validate step compared as `expected`
};

std::string FileToken(size_t i) { return fmt::format("@@FILE{}@@", i); }

std::string Renderer::AddSql(const std::string& kind, const std::string& table, const std::string& day,
                             std::string body) {
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
    if (norm == p) g.url = u;
    else if (norm.size() > p.size() && norm.compare(0, p.size(), p) == 0 && norm[p.size()] == '/') g.url = u + norm.substr(p.size());
    if (!g.url.empty()) break;
  }
  std::string var = "GCS_";
  for (char c : norm) var += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  std::string unique = var;
  for (int n = 2; std::any_of(gcs_.begin(), gcs_.end(), [&](const GcsPath& o) { return o.var == unique; }); ++n) {
    unique = var + "_" + std::to_string(n);
  }
  g.var = unique;
  gcs_.push_back(g);
  return "${" + g.var + "}";
}

Status Renderer::RequireProject(const std::string& project, const std::string& option) {
  if (catalog_.HasProject(project)) return Status::Ok();
  return NotFound(fmt::format("{}: {}: project {} ({}) does not exist in the warehouse and no earlier step creates it",
                              options_.plan_file.empty() ? "plan" : options_.plan_file,
                              plan_.steps[index_].Label(index_), project, option));
}

Result<TableInfo> Renderer::Table(const std::string& text, const std::string& option) {
  BF_ASSIGN_OR_RETURN(TableName name, ParseTableName(text));
  BF_RETURN_IF_ERROR(RequireProject(name.project, option));
  auto info = catalog_.Describe(name);
  if (!info.ok()) return Error(fmt::format("{} {}: {}", option, name.ToString(), info.status().message()));
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

std::string FilterText(const PlanStep& s) {
  std::string out;
  if (!s.List("only").empty()) out += " matching " + Join(s.List("only"), ", ");
  if (!s.List("exclude").empty()) out += " except " + Join(s.List("exclude"), ", ");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Steps

Status Renderer::Stage(const PlanStep& s) {
  BF_ASSIGN_OR_RETURN(DateRange dates, ParseDateRange(s.String("dates")));
  std::string from = Gcs(s.String("from")), to = Gcs(s.String("to"));
  std::vector<std::string> days;
  for (Date d : dates.Days()) days.push_back(FormatDate(d));
  if (s.options.count("threads")) {
    Sh(fmt::format("export CLOUDSDK_STORAGE_THREAD_COUNT={}  # threads = {}", s.Int("threads", 4), s.Int("threads", 4)));
  }
  Sh(fmt::format("run {} stage_days \"{}\" \"{}\" {}", ::backfill::Sh(fmt::format("step{}-stage", index_ + 1)), from, to,
                 Join(days, " ")));
  return Status::Ok();
}

Status Renderer::Mirror(const PlanStep& s) {
  std::string from = s.String("from_project"), to = s.String("to_project");
  BF_RETURN_IF_ERROR(RequireProject(from, "from_project"));
  BF_ASSIGN_OR_RETURN(auto tables, Matching(s, from));
  if (tables.empty()) return Error(fmt::format("no table of {}{} to mirror", from, FilterText(s)));
  catalog_.AddProject(to);
  std::set<DatasetName> datasets;
  for (const auto& t : tables) {
    DatasetName src = t.name.Dataset(), dst{to, t.name.dataset};
    if (datasets.insert(src).second) {
      Sh(fmt::format("run {} mirror_dataset {} {}", ::backfill::Sh(fmt::format("step{}-mirror-{}", index_ + 1, src.dataset)),
                     BqCli(src), BqCli(dst)));
    }
    TableName target{to, t.name.dataset, t.name.table};
    std::vector<std::string> flags = LayoutFlags(t);
    if (!t.options.description.empty()) flags.push_back("--description=" + ::backfill::Sh(t.options.description));
    Sh(fmt::format("run {} mirror_table {} {}{}{}", ::backfill::Sh(fmt::format("step{}-mirror-{}.{}", index_ + 1, t.name.dataset, t.name.table)),
                   BqCli(t.name), BqCli(target), flags.empty() ? "" : " ", Join(flags, " ")));
    TableInfo copy = t;
    copy.name = target;
    copy.partitions.clear();
    copy.total_rows = 0;
    copy.dataset.name = target.Dataset();
    copy.dataset.options.is_protected = false;  // mirror never copies `protected`
    copy.properties.clear();
    catalog_.Use(copy);  // made by `bq mk`, not by SQL the analyzer sees
    catalog_.Create(std::move(copy));
  }
  return Status::Ok();
}

// The sink step's filters as a jq expression over a beam-shaped message (true: keep it), the
// same rules as ingest/sink.h: kept conditions grouped by attribute (one of a group must hold),
// excluding ones (none may hold). "A=V" is equality, "A~R" jq's test() (Oniguruma; the local
// sink uses std::regex ECMAScript: the same for ordinary patterns).
Result<std::string> SinkSelection(const PlanStep& s, size_t index) {
  struct Cond {
    std::string attribute, value;
    bool regex = false, exclude = false;
  };
  std::vector<Cond> conds;
  for (const auto& t : s.List("error_type")) conds.push_back({"error_type", t, false, false});
  if (!s.String("exclude_error_message").empty()) {
    conds.push_back({"error_message", s.String("exclude_error_message"), true, true});
  }
  for (const char* key : {"where", "where_not"}) {
    for (const auto& t : s.List(key)) {
      size_t at = t.find_first_of("=~");
      if (at == std::string::npos || at == 0) {
        return InvalidArgument(fmt::format("{}: {} '{}': expected ATTR=VALUE or ATTR~REGEX", s.Label(index), key, t));
      }
      conds.push_back({t.substr(0, at), t.substr(at + 1), t[at] == '~', std::string_view(key) == "where_not"});
    }
  }
  auto test = [](const Cond& c) {
    std::string v = fmt::format(".attributeMap[{}]", nlohmann::json(c.attribute).dump());
    return c.regex ? fmt::format("(({} // null) as $v | $v != null and ($v | test({})))", v, nlohmann::json(c.value).dump())
                   : fmt::format("({} == {})", v, nlohmann::json(c.value).dump());
  };
  std::vector<std::string> order, all;
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& c : conds) {
    if (c.exclude) continue;
    if (!groups.count(c.attribute)) order.push_back(c.attribute);
    groups[c.attribute].push_back(test(c));
  }
  for (const auto& a : order) {
    all.push_back(groups[a].size() == 1 ? groups[a][0] : "(" + Join(groups[a], " or ") + ")");
  }
  for (const auto& c : conds) {
    if (c.exclude) all.push_back("(" + test(c) + " | not)");
  }
  return all.empty() ? std::string("true") : Join(all, " and ");
}

Status Renderer::Sink(const PlanStep& s) {
  std::string project = s.String("project");
  BF_RETURN_IF_ERROR(RequireProject(project, "project"));
  needs_sink_ = true;
  std::string errors = s.options.count("error_output") ? Gcs(s.String("error_output")) : "";
  BF_ASSIGN_OR_RETURN(std::string select, SinkSelection(s, index_));
  int n = 0;
  for (const auto& input : s.List("input")) {
    ++n;
    std::string url = Gcs(input);
    // A folder is read whole (the staged layout is <day>/<hour>/<file>); files and globs as given.
    std::string pattern = HasGlob(input) || LooksLikeFile(input) ? url : url + "/**";
    std::string id = ::backfill::Sh(fmt::format("step{}-sink-{}", index_ + 1, n));
    Sh(fmt::format("run {} sink_replay \"{}\" {} {} {} {}", id, pattern, ::backfill::Sh(project),
                   ::backfill::Sh(select), errors.empty() ? "''" : "\"" + errors + "\"",
                   ::backfill::Sh(JobName(fmt::format("{}-step{}-{}", plan_.name, index_ + 1, n)))) +
       (JobProject(project) != project ? " " + ::backfill::Sh(JobProject(project)) : ""));
  }
  if (s.options.count("threads")) {
    review_notes_.push_back(fmt::format("{}: threads = {} has no Dataflow counterpart (Dataflow sizes its workers; "
                                        "set MAX_WORKERS to cap them)", s.Label(index_), s.Int("threads", 0)));
  }
  return Status::Ok();
}

Status Renderer::Append(const PlanStep& s) {
  std::string from = s.String("from_project"), to = s.String("to_project");
  BF_RETURN_IF_ERROR(RequireProject(from, "from_project"));
  BF_RETURN_IF_ERROR(RequireProject(to, "to_project"));
  BF_ASSIGN_OR_RETURN(DateRange dates, ParseDateRange(s.String("dates")));
  BF_ASSIGN_OR_RETURN(auto tables, Matching(s, from));
  if (tables.empty()) return Error(fmt::format("no table of {}{} to append", from, FilterText(s)));
  std::vector<std::string> problems;
  std::vector<std::pair<TableInfo, TableInfo>> pairs;
  for (auto& q : tables) {
    TableName pn{to, q.name.dataset, q.name.table};
    auto p = catalog_.Describe(pn);
    if (!p.ok()) {
      problems.push_back(fmt::format("{} does not exist", pn.ToString()));
    } else if (auto diff = DiffSchemas(p->options.schema, q.options.schema); !diff.empty()) {
      problems.push_back(fmt::format("the schema of {} differs from {} ({})", q.name.ToString(), pn.ToString(), diff.front()));
    } else if (!q.options.schema.Find("document_id")) {
      problems.push_back(fmt::format("{} has no document_id column", q.name.ToString()));
    } else if (q.partition_kind == PartitionKind::kNone || p->partition_kind == PartitionKind::kNone) {
      problems.push_back(fmt::format("{} and {} must both be partitioned by day", q.name.ToString(), pn.ToString()));
    } else {
      pairs.emplace_back(std::move(q), std::move(*p));
    }
  }
  if (!problems.empty()) return Error("append refused: " + Join(problems, "; "));
  for (const auto& [q, p] : pairs) {
    NoteProtected(p);
    catalog_.Use(q);
    std::string sday = DayExpr(q, "s"), pday = DayExpr(p, "p");
    std::string sql = Header(fmt::format(
        "Appends the rows of {} from {} to {} whose document_id {} does not hold on the same day.\n"
        "Rows without a document_id cannot be deduplicated and are not appended. Running it twice appends nothing.",
        q.name.ToString(), FormatDate(dates.first), FormatDate(dates.last), p.name.ToString()));
    sql += fmt::format(
        "INSERT INTO {p}\n"
        "SELECT s.*\n"
        "FROM {q} AS s\n"
        "WHERE {sday} BETWEEN {a} AND {b}\n"
        "  AND s.document_id IS NOT NULL\n"
        "  AND NOT EXISTS (\n"
        "    SELECT 1\n"
        "    FROM {p} AS p\n"
        "    WHERE {pday} BETWEEN {a} AND {b}\n"
        "      AND {pday} = {sday}\n"
        "      AND p.document_id = s.document_id\n"
        "  );\n",
        fmt::arg("p", Bq(p.name)), fmt::arg("q", Bq(q.name)), fmt::arg("sday", sday), fmt::arg("pday", pday),
        fmt::arg("a", DateSql(dates.first)), fmt::arg("b", DateSql(dates.last)));
    std::string file = AddSql("append", q.name.dataset + "." + q.name.table, "", std::move(sql));
    Sh(fmt::format("run {f} query {f} --project_id={proj}", fmt::arg("f", file), fmt::arg("proj", JobProject(to))));
  }
  return Status::Ok();
}

// TIMESTAMP literal with microseconds when there are any (slice boundaries).
std::string TimestampMicrosSql(Timestamp ts) {
  auto secs = std::chrono::floor<std::chrono::seconds>(ts);
  std::string out = TimestampSql(secs);
  if (auto us = (ts - secs).count(); us != 0) out.insert(out.size() - 4, fmt::format(".{:06d}", us));
  return out;
}

// The reference's automation filter (Bug 1657360) over `alias`'s row ("" for unqualified).
std::string NotAutomation(const std::string& alias) {
  std::string col = (alias.empty() ? "" : alias + ".") + "metadata.header.x_source_tags";
  return "'automation' NOT IN (SELECT TRIM(t) FROM UNNEST(SPLIT(" + col + ", ',')) AS t)";
}

// `b`.metadata with geo.city, geo.subdivision1 and geo.subdivision2 NULL, as an explicit STRUCT
// of the schema's fields (the reference writes `(SELECT AS STRUCT metadata.* REPLACE (...))`,
// which gives the same value; the explicit form is what our GoogleSQL checker parses).
std::string GeoDeprecatedMetadata(const Field& metadata, const std::string& alias) {
  std::vector<std::string> fields;
  for (const auto& f : metadata.fields) {
    std::string path = alias + "." + Ident(metadata.name) + "." + Ident(f.name);
    if (f.name != "geo") {
      fields.push_back(path + " AS " + Ident(f.name));
      continue;
    }
    std::vector<std::string> geo;
    for (const auto& g : f.fields) {
      bool drop = g.name == "city" || g.name == "subdivision1" || g.name == "subdivision2";
      geo.push_back((drop ? std::string("CAST(NULL AS STRING)") : path + "." + Ident(g.name)) + " AS " + Ident(g.name));
    }
    fields.push_back("STRUCT(\n      " + Join(geo, ",\n      ") + "\n    ) AS `geo`");
  }
  return "STRUCT(\n    " + Join(fields, ",\n    ") + "\n  ) AS " + Ident(metadata.name);
}

// bigquery-etl's copy_deduplicate query for one time slice [start, end) of `day`, with our
// deterministic tie-break (see CopyDeduplicateOptions in recover/replay.h).
std::string DedupQuery(const TableInfo& live, Date day, Timestamp start, Timestamp end, int preceding_days,
                       bool geo) {
  bool tags = HasSourceTags(live);
  std::string select = "b.*";
  if (geo) select += " REPLACE (\n  " + GeoDeprecatedMetadata(*live.options.schema.Find("metadata"), "b") + "\n)";
  return fmt::format(
      "WITH\n"
      "  -- The document_ids first seen{untagged} in this slice, with their first submission_timestamp\n"
      "  -- (one seen in the {n} preceding day(s) or earlier in the day is not copied again).\n"
      "  distinct_document_ids AS (\n"
      "    SELECT\n"
      "      document_id,\n"
      "      MIN(submission_timestamp) AS first_seen\n"
      "    FROM {live}\n"
      "    WHERE\n"
      "      DATE(submission_timestamp) >= DATE_SUB({day}, INTERVAL {n} DAY)\n"
      "      AND submission_timestamp < {end}{tag_filter}\n"
      "    GROUP BY document_id\n"
      "    HAVING MIN(submission_timestamp) >= {start}\n"
      "  ),\n"
      "  -- The slice's rows at their document's first submission_timestamp (a NULL document_id never\n"
      "  -- joins, so such rows are not copied).\n"
      "  base AS (\n"
      "    SELECT l.*\n"
      "    FROM {live} AS l\n"
      "    JOIN distinct_document_ids AS d\n"
      "      ON l.document_id = d.document_id AND l.submission_timestamp = d.first_seen\n"
      "    WHERE l.submission_timestamp >= {start}\n"
      "      AND l.submission_timestamp < {end}{l_tag_filter}\n"
      "  )\n"
      "-- One row per document_id: the least row as JSON text among its first ones, so that re-runs give\n"
      "-- identical days (the reference keeps an arbitrary one).{geo_note}\n"
      "SELECT {select}\n"
      "FROM base AS b\n"
      "WHERE TRUE\n"
      "QUALIFY ROW_NUMBER() OVER (PARTITION BY b.document_id ORDER BY TO_JSON_STRING(b)) = 1",
      fmt::arg("untagged", tags ? " (not tagged automation)" : ""), fmt::arg("n", preceding_days),
      fmt::arg("live", Bq(live.name)), fmt::arg("day", DateSql(day)), fmt::arg("start", TimestampMicrosSql(start)),
      fmt::arg("end", TimestampMicrosSql(end)),
      fmt::arg("tag_filter", tags ? "\n      -- Bug 1657360\n      AND " + NotAutomation("") : ""),
      fmt::arg("l_tag_filter", tags ? "\n      AND " + NotAutomation("l") : ""),
      fmt::arg("geo_note", geo ? "\n-- Glean geo deprecation: metadata.geo city, subdivision1 and subdivision2 are NULL."
                               : ""),
      fmt::arg("select", select));
}

Status Renderer::CopyDeduplicate(const PlanStep& s) {
  std::string project = s.String("project");
  BF_RETURN_IF_ERROR(RequireProject(project, "project"));
  BF_ASSIGN_OR_RETURN(DateRange dates, ParseDateRange(s.String("dates")));
  int64_t preceding = s.Int("preceding_days", 0), slices = s.Flag("hourly") ? 24 : s.Int("slices", 1);
  if (preceding < 0) return Error("preceding_days must be 0 or more");
  if (slices < 1) return Error("slices must be 1 or more");
  if (s.Flag("hourly") && s.Int("slices", 24) != 24) return Error("hourly means slices = 24; give one or the other");
  TableFilter filter{s.List("only"), s.List("exclude")};
  BF_ASSIGN_OR_RETURN(auto tables, catalog_.Tables(project));
  std::vector<std::pair<TableInfo, TableInfo>> pairs;
  std::vector<std::string> problems;
  for (const auto& live : tables) {
    const std::string& ds = live.name.dataset;
    if (!EndsWith(ds, "_live")) continue;
    std::string stable_ds = ds.substr(0, ds.size() - 5) + "_stable";
    if (!filter.Matches(ds + "." + live.name.table) && !filter.Matches(stable_ds + "." + live.name.table)) continue;
    if (live.name.table.find("beam_load_sink") != std::string::npos) continue;  // as the reference
    auto stable = catalog_.Describe({project, stable_ds, live.name.table});
    if (!stable.ok()) continue;
    if (auto diff = DiffSchemas(stable->options.schema, live.options.schema); !diff.empty()) {
      problems.push_back(fmt::format("the schema of {} differs from {} ({})", stable->name.ToString(), live.name.ToString(), diff.front()));
    } else if (!live.options.schema.Find("document_id") || !live.options.schema.Find("submission_timestamp")) {
      problems.push_back(fmt::format("{} needs document_id and submission_timestamp columns", live.name.ToString()));
    } else if (live.partition_kind != PartitionKind::kTimestamp || live.options.partition_by != "submission_timestamp" ||
               stable->options.partition_by != "submission_timestamp") {
      problems.push_back(fmt::format("{} and {} must both be partitioned by day on submission_timestamp",
                                     live.name.ToString(), stable->name.ToString()));
    } else {
      pairs.emplace_back(live, std::move(*stable));
    }
  }
  if (!problems.empty()) return Error("copy-deduplicate refused: " + Join(problems, "; "));
  if (pairs.empty()) {
    return Error(fmt::format("no <namespace>_live table of {}{} has a <namespace>_stable counterpart", project, FilterText(s)));
  }
  std::string extra = s.options.count("parallelism")
                          ? fmt::format(" (parallelism = {}: BigQuery parallelises each query itself)", s.Int("parallelism", 0))
                          : "";
  if (s.Flag("allow_empty")) {
    review_notes_.push_back(fmt::format("{}: allow_empty = true: no guard; an empty live day empties its stable day",
                                        s.Label(index_)));
  } else {
    // Promise 3, as the embedded step: every table and day is checked before any is replaced.
    std::vector<std::string> rows;
    for (const auto& [live, stable] : pairs) {
      for (Date d : dates.Days()) {
        rows.push_back(fmt::format(
            "  SELECT {name} AS stable_table, {day} AS day,\n"
            "    (SELECT COUNT(*) FROM {live} AS l WHERE {lday} = {day}) AS live_rows,\n"
            "    (SELECT COUNT(*) FROM {stable} AS s WHERE {sday} = {day}) AS stable_rows",
            fmt::arg("name", SqlString(stable.name.ToString())), fmt::arg("day", DateSql(d)),
            fmt::arg("live", Bq(live.name)), fmt::arg("lday", DayExpr(live, "l")), fmt::arg("stable", Bq(stable.name)),
            fmt::arg("sday", DayExpr(stable, "s"))));
      }
    }
    std::string sql = Header(
        "Guard, run before any stable day is replaced: fails (ERROR) when a live day is empty while its stable day\n"
        "holds rows, since replacing it would destroy them (past the live table's retention, or not loaded yet).\n"
        "Nothing has been written when it fails. Set allow_empty = true in the plan to empty such days on purpose.");
    sql += "WITH days AS (\n" + Join(rows, "\n  UNION ALL\n") + "\n)\n";
    sql += "SELECT IF(\n"
           "  COUNTIF(live_rows = 0 AND stable_rows > 0) > 0,\n"
           "  ERROR(CONCAT('copy-deduplicate refused, nothing was changed: empty live day(s) would destroy stable rows: ',\n"
           "    STRING_AGG(IF(live_rows = 0 AND stable_rows > 0,\n"
           "      FORMAT('%s %t (%d stable rows)', stable_table, day, stable_rows), NULL), '; '))),\n"
           "  FORMAT('ok: %d table day(s) checked', COUNT(*))) AS verdict\n"
           "FROM days;\n";
    std::string file = AddSql("copy-deduplicate", "check", "", std::move(sql));
    Sh(fmt::format("run {f} check {f} --project_id={p}", fmt::arg("f", file), fmt::arg("p", JobProject(project))));
  }
  std::string rule = fmt::format(
      "bigquery-etl's copy_deduplicate rule: rows tagged automation (metadata.header.x_source_tags) and rows\n"
      "without a document_id are not copied, nor documents first seen in the {} preceding day(s); one row per\n"
      "document_id at its first submission_timestamp, equal ones broken by the row's JSON text (TO_JSON_STRING)\n"
      "so that re-runs give identical days",
      preceding);
  for (const auto& [live, stable] : pairs) {
    NoteProtected(stable);
    catalog_.Use(live);
    bool geo = GeoDeprecationApplies(live, w_.config());
    std::string table_token = stable.name.dataset + "." + stable.name.table;
    for (Date d : dates.Days()) {
      Timestamp start = StartOf(d), end = StartOf(AddDays(d, 1));
      std::string dest = ::backfill::Sh(BqCli(stable.name) + "$" + FormatDateCompact(d));
      if (slices == 1) {
        std::string sql = Header(fmt::format(
            "The {} partition of {} rebuilt from {}{} by\n{}{}.\n"
            "run.sh: bq query --destination_table='{}${}' --replace (WRITE_TRUNCATE of that day only).",
            FormatDate(d), stable.name.ToString(), live.name.ToString(), extra, rule,
            geo ? "; a Glean table: metadata.geo city and subdivisions NULL" : "", BqCli(stable.name),
            FormatDateCompact(d)));
        sql += DedupQuery(live, d, start, end, static_cast<int>(preceding), geo) + ";\n";
        std::string file = AddSql("copy-deduplicate", table_token, FormatDate(d), std::move(sql));
        // The stable table exists with its partitioning and clustering: the decorator and --replace
        // truncate that one day (WRITE_TRUNCATE), as the reference copy_deduplicate does.
        Sh(fmt::format("run {f} query {f} --project_id={p} --destination_table={dest} --replace", fmt::arg("f", file),
                       fmt::arg("p", JobProject(project)), fmt::arg("dest", dest)));
        continue;
      }
      // As the reference's --slices: each time slice into its own table (1-day expiration), then
      // one copy job writes the day from all of them (WRITE_TRUNCATE) and the slices are removed.
      // The slice tables live in the stable dataset, so they are as restricted as the data.
      int64_t step_us = (std::chrono::microseconds(std::chrono::hours(24)).count() * 2 + slices) / (2 * slices);
      std::vector<std::string> sources;
      for (int64_t i = 0; i < slices; ++i) {
        Timestamp a = start + std::chrono::microseconds(step_us * i);
        Timestamp b = i + 1 == slices ? end : start + std::chrono::microseconds(step_us * (i + 1));
        TableName slice{stable.name.project, stable.name.dataset,
                        fmt::format("_bf_slice_{}_{}_{}", stable.name.table, FormatDateCompact(d), i + 1)};
        std::string sql = Header(fmt::format(
            "Slice {} of {} of the {} partition of {} ({} to {}), from {}{} by\n{}{}.\n"
            "Written into {} (expires in a day); run.sh then copies all slices into the day at once.",
            i + 1, slices, FormatDate(d), stable.name.ToString(), FormatTimestamp(a), FormatTimestamp(b),
            live.name.ToString(), extra, rule, geo ? "; a Glean table: metadata.geo city and subdivisions NULL" : "",
            slice.ToString()));
        TableInfo layout = stable;
        layout.options.description.clear();  // the one OPTIONS clause is the expiration's
        sql += fmt::format("CREATE OR REPLACE TABLE {}{}\nOPTIONS (\n  partition_expiration_days = CAST('inf' AS FLOAT64),\n"
                           "  expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)\n)\nAS\n",
                           Bq(slice), LayoutClauses(layout));
        sql += DedupQuery(live, d, a, b, static_cast<int>(preceding), geo) + ";\n";
        std::string file = AddSql("copy-deduplicate", table_token, fmt::format("{}-slice{}", FormatDate(d), i + 1),
                                  std::move(sql));
        Sh(fmt::format("run {f} query {f} --project_id={p}", fmt::arg("f", file), fmt::arg("p", JobProject(project))));
        sources.push_back(BqCli(slice) + "$" + FormatDateCompact(d));
      }
      Sh(fmt::format("run {id} copy_slices {p} {dest} {src}",
                     fmt::arg("id", ::backfill::Sh(fmt::format("step{}-copy-{}-{}", index_ + 1, table_token, FormatDate(d)))),
                     fmt::arg("p", JobProject(project)), fmt::arg("dest", dest),
                     fmt::arg("src", ::backfill::Sh(Join(sources, ",")))));
    }
  }
  return Status::Ok();
}

Status Renderer::Rerun(const PlanStep& s) {
  BF_ASSIGN_OR_RETURN(TableInfo t, Table(s.String("table"), "table"));
  BF_ASSIGN_OR_RETURN(DateRange dates, ParseDateRange(s.String("dates")));
  if (t.options.query.empty()) return Error(fmt::format("{} has no query to re-run", t.name.ToString()));
  if (t.partition_kind == PartitionKind::kNone) {
    return Error(fmt::format("{} is not partitioned by day; rerun replaces one day at a time", t.name.ToString()));
  }
  NoteProtected(t);
  std::string table_token = t.name.dataset + "." + t.name.table;
  if (s.Flag("allow_data_loss")) {
    review_notes_.push_back(fmt::format("{}: allow_data_loss = true: no guard; days whose sources are gone are replaced "
                                        "by what the query returns (possibly nothing)", s.Label(index_)));
  } else {
    // The sources the query reads (as the embedded rerun finds them), checked per day.
    auto translated = w_.Translate(t.options.query, t.name.project, {{"submission_date", DateSql(dates.first)}});
    if (!translated.ok()) return Error(fmt::format("the query of {}: {}", t.name.ToString(), translated.status().message()));
    std::vector<std::string> rows;
    std::set<TableName> seen;
    for (const auto& read : translated->reads) {
      if (!read.as_of_expr.empty() || !seen.insert(read.table).second) continue;
      auto src = catalog_.Describe(read.table);
      std::string src_day = src.ok() ? DayExpr(*src, "x") : "";
      for (Date d : dates.Days()) {
        std::string src_rows = !src.ok() ? "0"
                               : src->partition_kind == PartitionKind::kNone
                                   ? fmt::format("(SELECT COUNT(*) FROM {} AS x)", Bq(read.table))
                                   : fmt::format("(SELECT COUNT(*) FROM {} AS x WHERE {} = {})", Bq(read.table), src_day, DateSql(d));
        rows.push_back(fmt::format(
            "  SELECT {day} AS day, {src} AS source_table, {src_rows} AS source_rows,\n"
            "    (SELECT COUNT(*) FROM {t} AS t WHERE {tday} = {day}) AS target_rows",
            fmt::arg("day", DateSql(d)), fmt::arg("src", SqlString(read.table.ToString())), fmt::arg("src_rows", src_rows),
            fmt::arg("t", Bq(t.name)), fmt::arg("tday", DayExpr(t, "t"))));
      }
    }
    if (!rows.empty()) {
      std::string sql = Header(fmt::format(
          "Guard, run before any day of {} is replaced: fails (ERROR) when a source of its query has no rows for a\n"
          "day (expired, deleted or not loaded) while the table still holds rows for it: re-running would destroy\n"
          "them. Rescue them by time travel (snapshot + restore) instead, or set allow_data_loss = true.",
          t.name.ToString()));
      sql += "WITH days AS (\n" + Join(rows, "\n  UNION ALL\n") + "\n)\n";
      sql += fmt::format(
          "SELECT IF(\n"
          "  COUNTIF(source_rows = 0 AND target_rows > 0) > 0,\n"
          "  ERROR(CONCAT('rerun of {} refused, nothing was changed: sources gone while the table holds rows: ',\n"
          "    STRING_AGG(IF(source_rows = 0 AND target_rows > 0,\n"
          "      FORMAT('%t: %s empty, %d rows would be lost', day, source_table, target_rows), NULL), '; '))),\n"
          "  FORMAT('ok: %d source day(s) checked', COUNT(*))) AS verdict\n"
          "FROM days;\n",
          t.name.ToString());
      std::string file = AddSql("rerun", table_token + "-check", "", std::move(sql));
      Sh(fmt::format("run {f} check {f} --project_id={p}", fmt::arg("f", file), fmt::arg("p", JobProject(t.name.project))));
    }
  }
  std::string query = t.options.query;
  while (!query.empty() && (std::isspace(static_cast<unsigned char>(query.back())) || query.back() == ';')) query.pop_back();
  std::string names = fmt::format("Unqualified names resolve in project {} (--project_id).", t.name.project);
  if (JobProject(t.name.project) != t.name.project) {
    // The job runs in the billing project, where two-part names would resolve: qualify them.
    auto translated = w_.Translate(t.options.query, t.name.project, {{"submission_date", DateSql(dates.first)}});
    if (!translated.ok()) return Error(fmt::format("the query of {}: {}", t.name.ToString(), translated.status().message()));
    for (const auto& read : translated->reads) {
      if (read.table.project != t.name.project) continue;
      std::regex two_part("(^|[^A-Za-z0-9_.`-])`?" + read.table.dataset + "`?\\.`?" + read.table.table +
                          "`?(?=[^A-Za-z0-9_`]|$)");
      query = std::regex_replace(query, two_part, "$1" + Bq(read.table));
    }
    names = fmt::format("It runs in the billing project {}, so the names of project {} it reads are qualified.",
                        billing_, t.name.project);
  }
  std::string sql = Header(fmt::format(
      "The query of {} (as stored in the catalog), run once per day from {} to {} with\n"
      "--parameter=submission_date:DATE:<day> into the day's partition ('{}$YYYYMMDD', --replace:\n"
      "WRITE_TRUNCATE of that day only). {}",
      t.name.ToString(), FormatDate(dates.first), FormatDate(dates.last), BqCli(t.name), names));
  sql += query + ";\n";
  std::string file = AddSql("rerun", table_token, "", std::move(sql));
  files_.back().default_project = t.name.project;
  files_.back().parameters = {{"submission_date", "DATE"}};
  // The tables the query reads, into the analyzer's catalog (the guard above may be skipped).
  auto reads = w_.Translate(t.options.query, t.name.project, {{"submission_date", DateSql(dates.first)}});
  if (reads.ok()) {
    for (const auto& read : reads->reads) (void)catalog_.Describe(read.table);
  }
  for (Date d : dates.Days()) {
    Sh(fmt::format("run {id} query {f} --project_id={p} --parameter=submission_date:DATE:{day} --destination_table={dest} --replace",
                   fmt::arg("id", ::backfill::Sh(fmt::format("step{}-rerun-{}", index_ + 1, FormatDate(d)))), fmt::arg("f", file),
                   fmt::arg("p", JobProject(t.name.project)), fmt::arg("day", FormatDate(d)),
                   fmt::arg("dest", ::backfill::Sh(BqCli(t.name) + "$" + FormatDateCompact(d)))));
  }
  if (s.options.count("parallelism")) {
    review_notes_.push_back(fmt::format("{}: parallelism = {}: run.sh replaces the days one after another",
                                        s.Label(index_), s.Int("parallelism", 0)));
  }
  return Status::Ok();
}

Status Renderer::Snapshot(const PlanStep& s) {
  BF_ASSIGN_OR_RETURN(TableName source, ParseTableName(s.String("table")));
  BF_ASSIGN_OR_RETURN(TableName target, ParseTableName(s.String("to")));
  BF_ASSIGN_OR_RETURN(Timestamp as_of, ParseTimestamp(s.String("as_of")));
  BF_ASSIGN_OR_RETURN(TableInfo src, Table(s.String("table"), "table"));
  BF_RETURN_IF_ERROR(RequireProject(target.project, "to"));
  if (catalog_.Describe(target).ok()) {
    return Error(fmt::format("{} already exists; a snapshot is written into a new table", target.ToString()));
  }
  std::string sql = Header(fmt::format(
      "Copies {} as it was at {} (time travel: readable only within the window, 7 days by default)\n"
      "into {}, with the same partitioning and clustering. run.sh creates the dataset {} first when it does not\n"
      "exist, with the access list of {} (a rescue copy is at least as restricted as its source).",
      source.ToString(), FormatTimestamp(as_of), target.ToString(), target.Dataset().ToString(), src.dataset.name.ToString()));
  sql += fmt::format("CREATE TABLE {}{}\nAS\nSELECT *\nFROM {} FOR SYSTEM_TIME AS OF {};\n", Bq(target), LayoutClauses(src),
                     Bq(source), TimestampSql(as_of));
  std::string file = AddSql("snapshot", target.dataset + "." + target.table, "", std::move(sql));
  Sh(fmt::format("run {} ensure_dataset {} {}", ::backfill::Sh(fmt::format("step{}-snapshot-dataset", index_ + 1)),
                 BqCli(target.Dataset()), BqCli(src.dataset.name)));
  Sh(fmt::format("run {f} query {f} --project_id={p}", fmt::arg("f", file), fmt::arg("p", JobProject(target.project))));
  TableInfo copy = src;
  copy.name = target;
  copy.options.query.clear();
  copy.dataset.name = target.Dataset();
  copy.properties = {{kSnapshotOf, source.ToString()}, {kSnapshotAsOf, FormatTimestamp(as_of)}};
  catalog_.Create(std::move(copy));
  return Status::Ok();
}

Status Renderer::Restore(const PlanStep& s) {
  BF_ASSIGN_OR_RETURN(TableInfo snap, Table(s.String("snapshot"), "snapshot"));
  BF_ASSIGN_OR_RETURN(TableInfo dest, Table(s.String("to"), "to"));
  if (auto diff = DiffSchemas(dest.options.schema, snap.options.schema); !diff.empty()) {
    return Error(fmt::format("cannot restore {} into {}: the schemas differ ({})", snap.name.ToString(), dest.name.ToString(), diff.front()));
  }
  if (dest.partition_kind == PartitionKind::kNone) {
    return Error(fmt::format("cannot restore partitions into {}: it is not partitioned by day", dest.name.ToString()));
  }
  NoteProtected(dest);
  std::optional<DateRange> dates;
  if (s.options.count("dates")) {
    BF_ASSIGN_OR_RETURN(DateRange r, ParseDateRange(s.String("dates")));
    dates = r;
  }
  // Both sides are split into days the way the target is partitioned, as the embedded step does.
  std::string sday = DayExpr(dest, "s"), tday = DayExpr(dest, "t");
  std::string range_s = dates ? fmt::format("\n  AND {} BETWEEN {} AND {}", sday, DateSql(dates->first), DateSql(dates->last)) : "";
  std::string range_t = dates ? fmt::format("\n      AND {} BETWEEN {} AND {}", tday, DateSql(dates->first), DateSql(dates->last)) : "";
  bool replace = s.Flag("replace_partial");
  std::string sql = Header(fmt::format(
      "Inserts the days of {} that {} does not hold at all (anti-join on the partition day){}.\n"
      "{}Running it twice inserts nothing.",
      snap.name.ToString(), dest.name.ToString(), dates ? " from " + dates->ToString() : "",
      replace ? "replace_partial = true: days present in both with other rows or content are deleted first, so the\n"
                "INSERT below puts the snapshot's rows back for them too (a crash in between leaves them missing, and\n"
                "a re-run restores them). "
              : "Days present in both but different are left alone (partial), as with the embedded restore.\n"));
  if (replace) {
    sql += fmt::format(
        "DELETE FROM {t}\n"
        "WHERE {day} IN (\n"
        "  WITH\n"
        "  {e},\n"
        "  {a}\n"
        "  SELECT expected.day\n"
        "  FROM expected\n"
        "  JOIN actual ON expected.day = actual.day\n"
        "  WHERE expected.row_count != actual.row_count OR expected.checksum != actual.checksum\n"
        ");\n\n",
        fmt::arg("t", Bq(dest.name)), fmt::arg("day", DayExpr(dest, "")),
        fmt::arg("e", DigestCte("expected", snap.name, dest, dates, "e")),
        fmt::arg("a", DigestCte("actual", dest.name, dest, dates, "a")));
  }
  sql += fmt::format(
      "INSERT INTO {t}\n"
      "SELECT s.*\n"
      "FROM {snap} AS s\n"
      "WHERE {sday} IS NOT NULL{range_s}\n"
      "  AND {sday} NOT IN (\n"
      "    SELECT DISTINCT {tday}\n"
      "    FROM {t} AS t\n"
      "    WHERE {tday} IS NOT NULL{range_t}\n"
      "  );\n",
      fmt::arg("t", Bq(dest.name)), fmt::arg("snap", Bq(snap.name)), fmt::arg("sday", sday), fmt::arg("tday", tday),
      fmt::arg("range_s", range_s), fmt::arg("range_t", range_t));
  std::string file = AddSql("restore", dest.name.dataset + "." + dest.name.table, "", std::move(sql));
  Sh(fmt::format("run {f} query {f} --project_id={p}", fmt::arg("f", file), fmt::arg("p", JobProject(dest.name.project))));
  return Status::Ok();
}

Status Renderer::Validate(const PlanStep& s) {
  BF_ASSIGN_OR_RETURN(TableInfo exp, Table(s.String("expected"), "expected"));
  BF_ASSIGN_OR_RETURN(TableInfo act, Table(s.String("actual"), "actual"));
  if (auto diff = DiffSchemas(exp.options.schema, act.options.schema); !diff.empty()) {
    return Error(fmt::format("{} and {} have different schemas ({}): the validation cannot pass", exp.name.ToString(),
                             act.name.ToString(), diff.front()));
  }
  std::optional<DateRange> dates;
  std::string scope = s.String("dates");
  auto restored = RestoredDaysOf(plan_, index_);
  if (restored) scope = restored->dates;
  if (!scope.empty()) {
    BF_ASSIGN_OR_RETURN(DateRange r, ParseDateRange(scope));
    dates = r;
  }
  // After a restore from the snapshot, only its days: the daily job adds days after the snapshot.
  bool expected_days_only = restored && !dates;
  const TableInfo& layout = act.partition_kind != PartitionKind::kNone ? act : exp;
  std::string what = dates ? " from " + dates->ToString() : "";
  if (restored) {
    what += expected_days_only ? ", only the days the snapshot holds (an earlier step restored from it; days\n"
                                 "the table gained since are not compared)"
                               : " (the days an earlier restore step restored)";
  }
  std::string sql = Header(fmt::format(
      "Compares {} (expected) with {} (actual) day by day{}: row counts and an order-independent\n"
      "checksum (the sum of FARM_FINGERPRINT(TO_JSON_STRING(row)) as NUMERIC, so a duplicated row changes it).\n"
      "Fails with ERROR() naming every differing day; run.sh stops there, before anything is dropped.",
      exp.name.ToString(), act.name.ToString(), what));
  sql += fmt::format(
      "WITH\n"
      "{e},\n"
      "{a},\n"
      "compared AS (\n"
      "  SELECT COALESCE(expected.day, actual.day) AS day,\n"
      "    IFNULL(expected.row_count, 0) AS expected_rows, IFNULL(actual.row_count, 0) AS actual_rows,\n"
      "    IFNULL(expected.checksum, 0) AS expected_checksum, IFNULL(actual.checksum, 0) AS actual_checksum\n"
      "  FROM expected\n"
      "  {join} actual\n"
      "    ON IFNULL(expected.day, DATE '0001-01-01') = IFNULL(actual.day, DATE '0001-01-01')\n"
      ")\n"
      "SELECT IF(\n"
      "  COUNTIF(expected_rows != actual_rows OR expected_checksum != actual_checksum) > 0,\n"
      "  ERROR(CONCAT('validation of {actual} against {expected} failed: ',\n"
      "    STRING_AGG(IF(expected_rows != actual_rows OR expected_checksum != actual_checksum,\n"
      "      FORMAT('%t: %d expected vs %d actual rows%s', day, expected_rows, actual_rows,\n"
      "        IF(expected_rows = actual_rows, ' (same count, other content)', '')), NULL), '; '))),\n"
      "  FORMAT('validation passed: %d partition(s) identical', COUNT(*))) AS verdict\n"
      "FROM compared;\n",
      fmt::arg("e", DigestCte("expected", exp.name, layout, dates, "e")),
      fmt::arg("a", DigestCte("actual", act.name, layout, dates, "a")), fmt::arg("actual", act.name.ToString()),
      fmt::arg("expected", exp.name.ToString()), fmt::arg("join", expected_days_only ? "LEFT JOIN" : "FULL OUTER JOIN"));
  std::string file = AddSql("validate", act.name.dataset + "." + act.name.table, "", std::move(sql));
  Sh(fmt::format("run {f} check {f} --project_id={p}", fmt::arg("f", file), fmt::arg("p", JobProject(act.name.project))));
  validated_.insert(exp.name);
  return Status::Ok();
}

Status Renderer::Drop(const PlanStep& s) {
  BF_ASSIGN_OR_RETURN(TableInfo t, Table(s.String("table"), "table"));
  // As DropTableGuarded: a rescue snapshot may be the only copy of the data.
  if (t.properties.count(kSnapshotOf) && !s.Flag("force") && !validated_.count(t.name)) {
    auto v = t.properties.find(kValidation);
    if (v == t.properties.end() || v->second.rfind("passed", 0) != 0) {
      return Refused(fmt::format("{}: {}: {} is a rescue snapshot of {} and no earlier validate step of the plan compares "
                                 "it (expected = \"{}\"): dropping it could lose the only copy. Add a validate step "
                                 "before the drop, or set force = true",
                                 options_.plan_file.empty() ? "plan" : options_.plan_file, s.Label(index_),
                                 t.name.ToString(), t.properties[kSnapshotOf], t.name.ToString()));
    }
  }
  std::string sql = Header(fmt::format(
      "Drops {}{}. BigQuery keeps a dropped table restorable for the time-travel window\n"
      "(bq cp '{}@<milliseconds since epoch>' ...).",
      t.name.ToString(), validated_.count(t.name) ? ", compared by the validate step before it" : "", BqCli(t.name)));
  sql += "DROP TABLE " + Bq(t.name) + ";\n";
  std::string file = AddSql("drop", t.name.dataset + "." + t.name.table, "", std::move(sql));
  Sh(fmt::format("run {f} query {f} --project_id={p}", fmt::arg("f", file), fmt::arg("p", JobProject(t.name.project))));
  catalog_.Drop(t.name);
  return Status::Ok();
}

Status Renderer::Cleanup(const PlanStep& s) {
  std::string project = s.String("project");
  BF_RETURN_IF_ERROR(RequireProject(project, "project"));
  BF_ASSIGN_OR_RETURN(auto protected_datasets, catalog_.ProtectedDatasets(project));
  if (!protected_datasets.empty()) {
    return Refused(fmt::format("{}: {}: project {} holds protected dataset(s) {}: it is not a backfill project",
                               options_.plan_file.empty() ? "plan" : options_.plan_file, s.Label(index_), project,
                               Join(protected_datasets, ", ")));
  }
  BF_ASSIGN_OR_RETURN(auto tables, catalog_.Tables(project));
  if (!tables.empty()) {
    std::vector<std::string> names;
    for (const auto& t : tables) names.push_back(t.name.ToString());
    std::string sql = Header(fmt::format(
        "Drops every table of the backfill project {} ({}). Each stays restorable for the time-travel\n"
        "window (bq cp 'p:d.t@<milliseconds since epoch>' ...). Datasets stay.",
        project, tables.size()));
    for (const auto& t : tables) sql += "DROP TABLE " + Bq(t.name) + ";\n";
    std::string file = AddSql("cleanup", project, "", std::move(sql));
    Sh(fmt::format("run {f} query {f} --project_id={p}", fmt::arg("f", file), fmt::arg("p", JobProject(project))));
    for (const auto& t : tables) catalog_.Drop(t.name);
  }
  if (s.options.count("staged")) {
    Sh(fmt::format("run {} remove_staged \"{}\"", ::backfill::Sh(fmt::format("step{}-cleanup-staged", index_ + 1)),
                   Gcs(s.String("staged"))));
  }
  return Status::Ok();
}

Status Renderer::Step(size_t i) {
  index_ = i;
  const PlanStep& s = plan_.steps[i];
  Sh("");
  std::string summary;
  for (const auto& [k, v] : s.options) {
    std::string text;
    if (const auto* str = std::get_if<std::string>(&v)) text = *str;
    else if (const auto* n = std::get_if<int64_t>(&v)) text = std::to_string(*n);
    else if (const auto* b = std::get_if<bool>(&v)) text = *b ? "true" : "false";
    else text = "[" + Join(std::get<std::vector<std::string>>(v), ", ") + "]";
    summary += " " + k + "=" + text;
  }
  script_ += ShComment(fmt::format("--- {}: {}\n   {}", s.Label(i), s.Spec().summary, summary.substr(summary.empty() ? 0 : 1)));
  switch (s.kind) {  // no default: the compiler names a kind without a rendering
    case StepKind::kStage: return Stage(s);
    case StepKind::kMirror: return Mirror(s);
    case StepKind::kSink: return Sink(s);
    case StepKind::kAppend: return Append(s);
    case StepKind::kCopyDeduplicate: return CopyDeduplicate(s);
    case StepKind::kRerun: return Rerun(s);
    case StepKind::kSnapshot: return Snapshot(s);
    case StepKind::kRestore: return Restore(s);
    case StepKind::kValidate: return Validate(s);
    case StepKind::kDrop: return Drop(s);
    case StepKind::kCleanup: return Cleanup(s);
  }
  return Error("no BigQuery rendering for this step kind");
}

}  // namespace

namespace {

// run.sh's shell functions (sections of run.sh.in), in the order they are written, each only when
// a step's commands call it.
const char* const kShellFunctions[] = {"stage_days",   "copy_access", "mirror_dataset", "ensure_dataset",
                                       "mirror_table", "sink_replay", "copy_slices",    "remove_staged"};

// The section `name` of run.sh.in (its header describes the format), @KEY@ replaced by each value.
std::string RunShSection(std::string_view name, const std::vector<std::pair<std::string, std::string>>& values = {}) {
  std::string_view text = render_internal::kRunShTemplate;
  std::string marker = "\n#@ " + std::string(name) + "\n";
  size_t at = text.find(marker);
  if (at == std::string_view::npos) return "";
  size_t begin = at + marker.size();
  size_t end = text.find("\n#@ ", begin - 1);
  std::string section(text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end + 1 - begin));
  for (const auto& [key, value] : values) {
    std::string token = "@" + key + "@";
    for (size_t pos = 0; (pos = section.find(token, pos)) != std::string::npos; pos += value.size()) {
      section.replace(pos, token.size(), value);
    }
  }
  return section;
}

}  // namespace

Result<RenderedPlan> Renderer::Render() {
  for (size_t i = 0; i < plan_.steps.size(); ++i) BF_RETURN_IF_ERROR(Step(i));

  // Number the SQL files in execution order and put their names into run.sh.
  size_t width = std::max<size_t>(2, std::to_string(files_.size()).size());
  RenderedPlan out;
  for (size_t i = 0; i < files_.size(); ++i) {
    std::string name = fmt::format("{:0{}}-{}", i + 1, width, files_[i].base);
    std::string token = FileToken(i);
    for (size_t at; (at = script_.find(token)) != std::string::npos;) script_.replace(at, token.size(), name);
    out.files.push_back({name, files_[i].content, files_[i].step, files_[i].default_project, files_[i].parameters});
  }
  out.tables = catalog_.Used();

  std::string origin = options_.plan_file.empty() ? "the plan" : options_.plan_file;
  std::string sh = "#!/usr/bin/env bash\n";
  sh += ShComment(fmt::format(
      "Plan {} by {}: {}\n"
      "Rendered for BigQuery by `backfill render {} --target bigquery` (plan sha256 {}).\n"
      "Review README.md and every numbered .sql file, set the variables below, then: bash run.sh\n"
      "Each command runs once: completed ones are recorded in the state file below, so after a failure\n"
      "(a guard or validation refusing, a quota error) fixing the cause and starting run.sh again resumes\n"
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
        sh += fmt::format("{v}=\"${{{v}:?set {v} to the gs:// URL of the plan path '{l}' (or render with --bucket-map {l}=gs://...)}}\"\n",
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
  readme += fmt::format("- **Reason:** {}\n- **Author:** {}\n- **Plan:** `{}` (sha256 `{}`)\n\n", plan_.reason, plan_.author,
                        origin, plan_.content_hash);
  readme += "Rendered by `backfill render --target bigquery` from the plan and the catalog of the embedded warehouse "
            "(tables matched by `only`/`exclude`, schemas, partitioning, clustering, derived tables' queries). "
            "`run.sh` runs the steps in order with `bq` and `gcloud storage`; each numbered `.sql` file is one "
            "BigQuery job.\n\n## What to review\n\n";
  readme += "1. The tables each step touches and the days: the file names say table and day; compare with the plan.\n"
            "2. Every write: `INSERT` (appends and restores anti-join the target, so a re-run adds nothing), "
            "`--destination_table 'p:d.t$YYYYMMDD' --replace` (WRITE_TRUNCATE of that one day only), "
            "`CREATE TABLE ... FOR SYSTEM_TIME AS OF` (snapshots), `DROP TABLE`.\n"
            "3. The guards (`*-check.sql`) and validations (`*validate*.sql`): they raise `ERROR()` so that run.sh "
            "stops before anything destructive follows.\n"
            "4. The variables at the top of `run.sh` (Cloud Storage locations of the plan's local paths).\n\n";
  readme += "## Files\n\n| file | step |\n| --- | --- |\n";
  for (const auto& f : out.files) {
    readme += fmt::format("| `{}` | {} |\n", f.name, plan_.steps[f.step - 1].Label(f.step - 1));
  }
  readme += "| `run.sh` | all steps, in order |\n\n";
  if (!protected_writes_.empty()) {
    readme += "## Protected data\n\nThese writes go into protected datasets and need a second person's approval of "
              "this ticket before run.sh is started:\n\n";
    for (const auto& p : protected_writes_) readme += "- " + p + "\n";
    readme += "\n";
  }
  if (!review_notes_.empty()) {
    readme += "## Notes\n\n";
    for (const auto& n : review_notes_) readme += "- " + n + "\n";
    readme += "\n";
  }
  readme += "`backfill render` analyzes every `.sql` file with ZetaSQL, BigQuery's GoogleSQL analyzer (names resolved "
            "against `catalog.json`, the schemas of the tables they use; types checked) when it is installed, and says "
            "so; `node scripts/check-zetasql.mjs catalog.json` repeats the check.\n";
  out.files.push_back({"run.sh", std::move(sh), 0});
  out.files.push_back({"README.md", std::move(readme), 0});
  return out;
}

Result<RenderedPlan> RenderBigQuery(const Plan& plan, Warehouse& catalog, const RenderOptions& options) {
  return Renderer(plan, catalog, options).Render();
}

Result<std::pair<std::string, std::string>> ParseBucketMapping(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || text.compare(eq + 1, 5, "gs://") != 0 || text.size() <= eq + 6) {
    return InvalidArgument(fmt::format("--bucket-map '{}': expected LOCAL_PATH=gs://bucket[/prefix]", text));
  }
  return std::pair{text.substr(0, eq), text.substr(eq + 1)};
}

}  // namespace backfill
