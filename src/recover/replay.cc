#include "recover/replay.h"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/text.h"
#include "recover/replay_internal.h"
#include "warehouse/schema_deploy.h"

namespace backfill {
namespace fs = std::filesystem;

namespace replay_internal {

std::string Q(std::string_view s) { return QuoteIdent(s); }
std::string S(std::string_view s) { return QuoteString(s); }
std::string DayLiteral(Date d) { return "DATE " + S(FormatDate(d)); }

// The first few differences, for messages that must stay readable.
std::string FirstDifferences(const std::vector<std::string>& diffs, size_t n) {
  std::vector<std::string> head(diffs.begin(), diffs.begin() + std::min(n, diffs.size()));
  std::string out = Join(head, ", ");
  if (diffs.size() > n) out += fmt::format(" (and {} more)", diffs.size() - n);
  return out;
}

Result<int64_t> QueryCount(Warehouse& w, const std::string& sql) {
  BF_ASSIGN_OR_RETURN(QueryResult r, w.Query(sql));
  if (r.rows() != 1 || r.columns() < 1) return Internal("expected one row from: " + sql);
  return r.IsNull(0, 0) ? 0 : r.GetInt64(0, 0);
}

// "alias"."col" within the day `d` (UTC), for DATE and TIMESTAMP partition columns. A range on
// the column itself rather than CAST(col AS DATE) = d: DuckDB pushes the range into the scan,
// which skips the row groups of other days by their min/max, whereas the cast converts every row
// in the session time zone. The connection runs in UTC (Warehouse::Open), so both select the
// same rows.
std::string InDay(const std::string& alias, const TableInfo& t, Date d) {
  std::string col = fmt::format("{}.{}", alias, Q(t.options.partition_by));
  if (t.partition_kind == PartitionKind::kDate) return fmt::format("{} = {}", col, DayLiteral(d));
  return fmt::format("{0} >= {1} AND {0} < {2}", col, Warehouse::TimestampLiteral(StartOf(d)),
                     Warehouse::TimestampLiteral(StartOf(AddDays(d, 1))));
}

// Tables of `project` (dataset order, then table order) whose "dataset.table" passes `filter`.
Result<std::vector<TableName>> MatchingTables(Warehouse& w, const std::string& project,
                                              const TableFilter& filter) {
  BF_ASSIGN_OR_RETURN(auto datasets, w.ListDatasets(project));
  std::vector<TableName> out;
  for (const auto& ds : datasets) {
    BF_ASSIGN_OR_RETURN(auto tables, w.ListTables(ds.name));
    for (const auto& t : tables) {
      if (filter.Matches(ds.name.dataset + "." + t)) out.push_back({project, ds.name.dataset, t});
    }
  }
  return out;
}

Result<std::vector<LiveTable>> LiveTables(Warehouse& w, const std::string& project,
                                          const TableFilter& filter) {
  BF_ASSIGN_OR_RETURN(auto datasets, w.ListDatasets(project));
  std::vector<LiveTable> out;
  for (const auto& ds : datasets) {
    const std::string& name = ds.name.dataset;
    if (!EndsWith(name, "_live")) continue;
    std::string stable_ds = name.substr(0, name.size() - 5) + "_stable";
    BF_ASSIGN_OR_RETURN(auto tables, w.ListTables(ds.name));
    for (const auto& t : tables) {
      if (!filter.Matches(name + "." + t) && !filter.Matches(stable_ds + "." + t)) continue;
      out.push_back({{project, name, t}, {project, stable_ds, t}});
    }
  }
  return out;
}

std::string FilterText(const TableFilter& f) {
  std::string out;
  if (!f.only.empty()) out += " matching " + Join(f.only, " or ");
  if (!f.exclude.empty()) out += " not matching " + Join(f.exclude, " or ");
  return out;
}

Status RequireProject(Warehouse& w, const std::string& project) {
  BF_RETURN_IF_ERROR(ValidateProjectName(project));
  if (!w.HasProject(project)) return NotFound(fmt::format("project {} does not exist", project));
  return Status::Ok();
}

}  // namespace replay_internal

using namespace replay_internal;

bool TableFilter::Matches(std::string_view dataset_table) const {
  std::string name(dataset_table);
  auto any = [&](const std::vector<std::string>& globs) {
    return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
      return fnmatch(g.c_str(), name.c_str(), 0) == 0;
    });
  };
  if (!only.empty() && !any(only)) return false;
  return !any(exclude);
}

// =============================================================================================
// Mirror

const char* MirrorOutcomeName(MirrorOutcome o) {
  switch (o) {
    case MirrorOutcome::kCreated:
      return "created";
    case MirrorOutcome::kUnchanged:
      return "unchanged";
    case MirrorOutcome::kDiffers:
      return "differs";
  }
  return "differs";
}

int MirrorReport::Count(MirrorOutcome o) const {
  return static_cast<int>(std::count_if(tables.begin(), tables.end(),
                                        [&](const MirrorTable& t) { return t.outcome == o; }));
}

namespace {

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// How an existing mirror dataset's access differs from its source's. The principal running the
// mirror is an owner of what it creates, so it is left out of the owner comparison.
std::vector<std::string> AccessDifferences(const DatasetOptions& source,
                                           const DatasetOptions& target,
                                           const std::string& principal) {
  std::vector<std::string> out;
  if (source.restricted != target.restricted) {
    out.push_back(
        fmt::format("restricted: {} in the source, {} here", source.restricted, target.restricted));
  }
  auto compare = [&](const char* what, std::vector<std::string> a, std::vector<std::string> b,
                     bool drop_principal) {
    if (drop_principal) {
      std::erase(a, principal);
      std::erase(b, principal);
    }
    a = Sorted(a);
    b = Sorted(b);
    if (a != b)
      out.push_back(
          fmt::format("{}: [{}] in the source, [{}] here", what, Join(a, ", "), Join(b, ", ")));
  };
  compare("readers", source.readers, target.readers, false);
  compare("writers", source.writers, target.writers, false);
  compare("owners", source.owners, target.owners, true);
  return out;
}

std::vector<std::string> TableDifferences(const TableOptions& existing,
                                          const TableOptions& wanted) {
  std::vector<std::string> out = DiffSchemas(existing.schema, wanted.schema);
  if (existing.partition_by != wanted.partition_by) {
    out.push_back(fmt::format("partitioned by '{}' here, '{}' in the source", existing.partition_by,
                              wanted.partition_by));
  }
  if (existing.cluster_by != wanted.cluster_by) {
    out.push_back(fmt::format("clustered by [{}] here, [{}] in the source",
                              Join(existing.cluster_by, ", "), Join(wanted.cluster_by, ", ")));
  }
  return out;
}

}  // namespace

Result<MirrorReport> Mirror(Warehouse& w, const MirrorOptions& o) {
  BF_RETURN_IF_ERROR(RequireProject(w, o.from_project));
  BF_RETURN_IF_ERROR(ValidateProjectName(o.to_project));
  if (o.from_project == o.to_project)
    return InvalidArgument("mirror: --from-project and --to-project are the same");
  MirrorReport report;
  report.preview = o.preview;
  const bool to_exists = w.HasProject(o.to_project);
  report.project_created = !to_exists;

  BF_ASSIGN_OR_RETURN(auto sources, MatchingTables(w, o.from_project, o.filter));
  if (sources.empty()) {
    return NotFound(
        fmt::format("mirror: no table of project {}{}", o.from_project, FilterText(o.filter)));
  }
  std::map<std::string, DatasetInfo> source_datasets;
  std::vector<TableOptions> wanted;  // parallel to report.tables
  for (const auto& src : sources) {
    BF_ASSIGN_OR_RETURN(TableInfo info, w.DescribeTable(src));
    if (!source_datasets.count(src.dataset)) {
      source_datasets[src.dataset] = info.dataset;
      MirrorDataset md;
      md.source = src.Dataset();
      md.target = {o.to_project, src.dataset};
      md.restricted = info.dataset.options.restricted;
      if (to_exists) {
        if (auto existing = w.GetDataset(md.target); existing.ok()) {
          md.details = AccessDifferences(info.dataset.options, existing->options, w.principal());
          md.outcome = md.details.empty() ? MirrorOutcome::kUnchanged : MirrorOutcome::kDiffers;
        }
      }
      report.datasets.push_back(md);
    }
    MirrorTable mt;
    mt.source = src;
    mt.target = {o.to_project, src.dataset, src.table};
    if (to_exists && w.TableExists(mt.target)) {
      BF_ASSIGN_OR_RETURN(TableInfo existing, w.DescribeTable(mt.target));
      mt.details = TableDifferences(existing.options, info.options);
      mt.outcome = mt.details.empty() ? MirrorOutcome::kUnchanged : MirrorOutcome::kDiffers;
    }
    report.tables.push_back(mt);
    wanted.push_back(info.options);
  }

  std::vector<std::string> problems;
  for (const auto& d : report.datasets) {
    if (d.outcome == MirrorOutcome::kDiffers) {
      problems.push_back(fmt::format("dataset {} has other access than {}: {}", d.target.ToString(),
                                     d.source.ToString(), FirstDifferences(d.details)));
    }
  }
  for (const auto& t : report.tables) {
    if (t.outcome == MirrorOutcome::kDiffers) {
      problems.push_back(fmt::format("table {} differs from {}: {}", t.target.ToString(),
                                     t.source.ToString(), FirstDifferences(t.details)));
    }
  }
  if (o.preview) return report;
  if (!problems.empty()) {
    return Refused(fmt::format("mirror {} -> {}: {}; nothing was created or altered",
                               o.from_project, o.to_project, Join(problems, "; ")));
  }
  if (!to_exists) BF_RETURN_IF_ERROR(w.CreateProject(o.to_project));
  BF_RETURN_IF_ERROR(w.InTransaction(o.to_project, [&]() -> Status {
    for (const auto& d : report.datasets) {
      if (d.outcome != MirrorOutcome::kCreated) continue;
      const DatasetOptions& src = source_datasets[d.source.dataset].options;
      DatasetOptions opts;
      opts.restricted = src.restricted;
      opts.readers = src.readers;
      opts.writers = src.writers;
      opts.owners = src.owners;
      opts.time_travel_hours = src.time_travel_hours;
      BF_RETURN_IF_ERROR(w.CreateDataset(d.target, opts).WithContext("mirror"));
    }
    for (size_t i = 0; i < report.tables.size(); ++i) {
      if (report.tables[i].outcome != MirrorOutcome::kCreated) continue;
      BF_RETURN_IF_ERROR(w.CreateTable(report.tables[i].target, wanted[i]).WithContext("mirror"));
    }
    return Status::Ok();
  }));
  return report;
}

// =============================================================================================
// AppendMissing

int64_t AppendReport::Appended() const {
  int64_t n = 0;
  for (const auto& i : items) n += i.appended;
  return n;
}
int64_t AppendReport::AlreadyPresent() const {
  int64_t n = 0;
  for (const auto& i : items) n += i.already_present;
  return n;
}

Result<AppendReport> AppendMissing(Warehouse& w, const AppendOptions& o) {
  BF_RETURN_IF_ERROR(RequireProject(w, o.from_project));
  BF_RETURN_IF_ERROR(RequireProject(w, o.to_project));
  if (o.from_project == o.to_project)
    return InvalidArgument("append: --from-project and --to-project are the same");
  BF_ASSIGN_OR_RETURN(auto sources, MatchingTables(w, o.from_project, o.filter));
  if (sources.empty()) {
    return NotFound(
        fmt::format("append: no table of project {}{}", o.from_project, FilterText(o.filter)));
  }

  // Check every table before writing anything.
  struct Pair {
    TableInfo q, p;
  };
  std::vector<Pair> pairs;
  std::vector<std::string> problems;
  for (const auto& src : sources) {
    TableName dst{o.to_project, src.dataset, src.table};
    BF_ASSIGN_OR_RETURN(TableInfo q, w.DescribeTable(src));
    if (!w.TableExists(dst)) {
      problems.push_back(fmt::format("{} has no counterpart {} (exclude it with -x {}.{})",
                                     src.ToString(), dst.ToString(), src.dataset, src.table));
      continue;
    }
    BF_ASSIGN_OR_RETURN(TableInfo p, w.DescribeTable(dst));
    if (auto diff = DiffSchemas(p.options.schema, q.options.schema); !diff.empty()) {
      problems.push_back(fmt::format("the schema of {} differs from {}: {}", src.ToString(),
                                     dst.ToString(), FirstDifferences(diff)));
      continue;
    }
    if (!q.options.schema.Find("document_id")) {
      problems.push_back(
          fmt::format("{} has no document_id column, so its rows cannot be deduplicated against {} "
                      "(append is for live tables; exclude it with -x {}.{})",
                      src.ToString(), dst.ToString(), src.dataset, src.table));
      continue;
    }
    if (q.partition_kind == PartitionKind::kNone || p.partition_kind == PartitionKind::kNone ||
        q.options.partition_by != p.options.partition_by) {
      problems.push_back(fmt::format(
          "{} and {} must both be partitioned by day on the same column "
          "(partitioned by '{}' and '{}')",
          src.ToString(), dst.ToString(), q.options.partition_by, p.options.partition_by));
      continue;
    }
    pairs.push_back({std::move(q), std::move(p)});
  }
  if (!problems.empty()) {
    return Refused(fmt::format("append {} -> {} refused, nothing was appended: {}", o.from_project,
                               o.to_project, Join(problems, "; ")));
  }

  AppendReport report;
  report.preview = o.preview;
  for (const auto& [q, p] : pairs) {
    BF_ASSIGN_OR_RETURN(std::string q_rel, w.Relation(q.name));
    BF_ASSIGN_OR_RETURN(std::string p_rel, w.Relation(p.name));
    // The appended rows move as stored when both tables store rows alike (wide tables: the
    // encoded text as it is, no decoding).
    BF_ASSIGN_OR_RETURN(Warehouse::CopySource q_copy, w.CopyRelation(q.name, p.name));
    for (Date day : o.dates.Days()) {
      AppendItem item;
      item.source = q.name;
      item.target = p.name;
      item.date = day;
      std::string in_p = fmt::format(
          "EXISTS (SELECT 1 FROM {} AS _bf_p WHERE {} AND _bf_p.document_id = _bf_q.document_id)",
          p_rel, InDay("_bf_p", p, day));
      std::string q_day = fmt::format("{} AS _bf_q WHERE {}", q_rel, InDay("_bf_q", q, day));
      std::string counts = fmt::format(
          "SELECT count(*), count(*) FILTER (WHERE _bf_q.document_id IS NULL), "
          "count(*) FILTER (WHERE _bf_q.document_id IS NOT NULL AND {}) FROM {}",
          in_p, q_day);
      std::string rows = fmt::format(
          "SELECT _bf_q.* FROM {} AS _bf_q WHERE {} AND _bf_q.document_id IS NOT NULL AND NOT {}",
          q_copy.relation, InDay("_bf_q", q, day), in_p);
      const TableName& target = p.name;  // clang 14 cannot capture a structured binding in a lambda
      auto count_and_append = [&]() -> Status {
        BF_ASSIGN_OR_RETURN(QueryResult c, w.Query(counts));
        item.candidates = c.GetInt64(0, 0);
        item.without_document_id = c.GetInt64(1, 0);
        item.already_present = c.GetInt64(2, 0);
        item.appended = item.candidates - item.without_document_id - item.already_present;
        if (o.preview || item.appended == 0) return Status::Ok();
        BF_ASSIGN_OR_RETURN(WriteStats st, w.Append(target, rows, q_copy.form));
        item.appended = st.rows_written;
        return Status::Ok();
      };
      // Counts, rows and audit entry in one transaction on P, so the report is what happened.
      BF_RETURN_IF_ERROR(o.preview ? count_and_append()
                                   : w.InTransaction(o.to_project, count_and_append));
      if (o.progress) {
        o.progress(fmt::format(
            "{} {}: {} candidate(s), {} already present, {} {}{}", FormatDate(day),
            p.name.ToString(), item.candidates, item.already_present, item.appended,
            o.preview ? "to append" : "appended",
            item.without_document_id
                ? fmt::format(", {} without document_id (not appended)", item.without_document_id)
                : ""));
      }
      report.items.push_back(item);
    }
  }
  return report;
}

// =============================================================================================
// Cleanup

namespace {

bool IsDayName(const std::string& name) { return name.size() == 10 && ParseDate(name).ok(); }

// Counts the files and bytes under `path` (a file or a directory).
void CountFiles(const fs::path& path, int64_t* files, int64_t* bytes) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    (*files)++;
    *bytes += static_cast<int64_t>(fs::file_size(path, ec));
    return;
  }
  for (auto it = fs::recursive_directory_iterator(path, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) {
      (*files)++;
      *bytes += static_cast<int64_t>(fs::file_size(it->path(), ec));
    }
  }
}

// Sorts the entries of `dir` into staged days / partial files (to remove) and the rest.
void ClassifyStaged(const fs::path& dir, bool allow_error_folder, CleanupReport& report) {
  std::error_code ec;
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir, ec)) entries.push_back(e.path());
  std::sort(entries.begin(), entries.end());
  for (const auto& p : entries) {
    std::string name = p.filename().string();
    bool is_dir = fs::is_directory(p, ec);
    if (is_dir && IsDayName(name)) {
      report.staged_removed.push_back(p);
    } else if (!is_dir && EndsWith(name, kPartialSuffix)) {
      report.staged_removed.push_back(p);
    } else if (is_dir && allow_error_folder && name == "error") {
      ClassifyStaged(p, false, report);
    } else {
      report.left_alone.push_back(p);
    }
  }
}

}  // namespace

Result<CleanupReport> Cleanup(Warehouse& w, const CleanupOptions& o) {
  BF_RETURN_IF_ERROR(RequireProject(w, o.project));
  CleanupReport report;
  report.preview = o.preview;
  BF_ASSIGN_OR_RETURN(auto datasets, w.ListDatasets(o.project));
  std::vector<std::string> protected_ds;
  for (const auto& ds : datasets) {
    if (ds.options.is_protected) protected_ds.push_back(ds.name.ToString());
  }
  if (!protected_ds.empty()) {
    return Refused(fmt::format(
        "cleanup: project {} holds protected dataset(s) {}; it does not look like a backfill "
        "project (mirror never creates protected datasets); nothing was removed",
        o.project, Join(protected_ds, ", ")));
  }
  Timestamp now = w.clock().Now();
  for (const auto& ds : datasets) {
    BF_ASSIGN_OR_RETURN(auto tables, w.ListTables(ds.name));
    for (const auto& t : tables) {
      TableName name{o.project, ds.name.dataset, t};
      BF_ASSIGN_OR_RETURN(TableInfo info, w.DescribeTable(name));
      report.tables.push_back({name, info.total_rows,
                               now + std::chrono::hours(*info.dataset.options.time_travel_hours)});
    }
  }
  std::error_code ec;
  if (!o.staged.empty() && fs::is_directory(o.staged, ec)) {
    ClassifyStaged(o.staged, true, report);
    for (const auto& p : report.staged_removed)
      CountFiles(p, &report.staged_files, &report.staged_bytes);
  }
  if (o.preview) return report;

  if (!report.tables.empty()) {
    BF_RETURN_IF_ERROR(w.InTransaction(o.project, [&]() -> Status {
      for (const auto& t : report.tables) BF_RETURN_IF_ERROR(w.DropTable(t.name));
      return Status::Ok();
    }));
  }
  for (const auto& p : report.staged_removed) {
    fs::remove_all(p, ec);
    if (ec) return IoError(fmt::format("cleanup: cannot remove {}: {}", p.string(), ec.message()));
  }
  if (!o.staged.empty() && fs::is_directory(o.staged, ec)) {
    // Remove the folders the staging left empty (error/, then the staging directory).
    fs::path error = o.staged / "error";
    if (fs::is_directory(error, ec) && fs::is_empty(error, ec)) fs::remove(error, ec);
    if (fs::is_empty(o.staged, ec)) fs::remove(o.staged, ec);
  }
  return report;
}

}  // namespace backfill
