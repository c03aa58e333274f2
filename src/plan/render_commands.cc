// Stage, mirror and sink: the steps BigQuery runs as commands (gcloud storage, bq mk,
// gcp-ingestion's Sink on Dataflow), one `run` line of run.sh each, calling the shell functions of
// run.sh.in.
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "plan/render_internal.h"

namespace backfill::render_internal {
namespace {

// `bq mk` flags for `info`'s partitioning and clustering (as LayoutClauses for CREATE TABLE).
std::vector<std::string> LayoutFlags(const TableInfo& info) {
  std::vector<std::string> flags;
  if (info.partition_kind != PartitionKind::kNone) {
    flags.push_back("--time_partitioning_type=DAY");
    flags.push_back("--time_partitioning_field=" + info.options.partition_by);
  }
  if (!info.options.cluster_by.empty())
    flags.push_back("--clustering_fields=" + Join(info.options.cluster_by, ","));
  return flags;
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
  for (char& c : name)
    c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '-';
  return name;
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
        return InvalidArgument(
            fmt::format("{}: {} '{}': expected ATTR=VALUE or ATTR~REGEX", s.Label(index), key, t));
      }
      conds.push_back(
          {t.substr(0, at), t.substr(at + 1), t[at] == '~', std::string_view(key) == "where_not"});
    }
  }
  auto test = [](const Cond& c) {
    std::string v = fmt::format(".attributeMap[{}]", nlohmann::json(c.attribute).dump());
    return c.regex ? fmt::format("(({} // null) as $v | $v != null and ($v | test({})))", v,
                                 nlohmann::json(c.value).dump())
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

}  // namespace

Status Renderer::Stage(const PlanStep& s) {
  BF_ASSIGN_OR_RETURN(DateRange dates, ParseDateRange(s.String("dates")));
  std::string from = Gcs(s.String("from")), to = Gcs(s.String("to"));
  std::vector<std::string> days;
  for (Date d : dates.Days()) days.push_back(FormatDate(d));
  if (s.options.count("threads")) {
    Sh(fmt::format("export CLOUDSDK_STORAGE_THREAD_COUNT={}  # threads = {}", s.Int("threads", 4),
                   s.Int("threads", 4)));
  }
  Sh(fmt::format("run {} stage_days \"{}\" \"{}\" {}",
                 ShQuote(fmt::format("step{}-stage", index_ + 1)), from, to, Join(days, " ")));
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
      Sh(fmt::format("run {} mirror_dataset {} {}",
                     ShQuote(fmt::format("step{}-mirror-{}", index_ + 1, src.dataset)), BqCli(src),
                     BqCli(dst)));
    }
    TableName target{to, t.name.dataset, t.name.table};
    std::vector<std::string> flags = LayoutFlags(t);
    if (!t.options.description.empty())
      flags.push_back("--description=" + ShQuote(t.options.description));
    Sh(fmt::format(
        "run {} mirror_table {} {}{}{}",
        ShQuote(fmt::format("step{}-mirror-{}.{}", index_ + 1, t.name.dataset, t.name.table)),
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
    std::string id = ShQuote(fmt::format("step{}-sink-{}", index_ + 1, n));
    Sh(fmt::format("run {} sink_replay \"{}\" {} {} {} {}", id, pattern, ShQuote(project),
                   ShQuote(select), errors.empty() ? "''" : "\"" + errors + "\"",
                   ShQuote(JobName(fmt::format("{}-step{}-{}", plan_.name, index_ + 1, n)))) +
       (JobProject(project) != project ? " " + ShQuote(JobProject(project)) : ""));
  }
  if (s.options.count("threads")) {
    review_notes_.push_back(
        fmt::format("{}: threads = {} has no Dataflow counterpart (Dataflow sizes its workers; "
                    "set MAX_WORKERS to cap them)",
                    s.Label(index_), s.Int("threads", 0)));
  }
  return Status::Ok();
}

}  // namespace backfill::render_internal
