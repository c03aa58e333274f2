#include "recover/replay.h"
#include "core/text.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "warehouse/schema_deploy.h"

namespace backfill {
namespace fs = std::filesystem;

namespace {

constexpr const char* kPartialSuffix = ".bf-partial";

std::string Q(std::string_view s) { return QuoteIdent(s); }
std::string S(std::string_view s) { return QuoteString(s); }
std::string DayLiteral(Date d) { return "DATE " + S(FormatDate(d)); }


// The first few differences, for messages that must stay readable.
std::string FirstDifferences(const std::vector<std::string>& diffs, size_t n = 3) {
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
Result<std::vector<TableName>> MatchingTables(Warehouse& w, const std::string& project, const TableFilter& filter) {
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

}  // namespace

bool TableFilter::Matches(std::string_view dataset_table) const {
  std::string name(dataset_table);
  auto any = [&](const std::vector<std::string>& globs) {
    return std::any_of(globs.begin(), globs.end(),
                       [&](const std::string& g) { return fnmatch(g.c_str(), name.c_str(), 0) == 0; });
  };
  if (!only.empty() && !any(only)) return false;
  return !any(exclude);
}

// =============================================================================================
// Stage

int64_t StageReport::Copied() const {
  int64_t n = 0;
  for (const auto& d : days) n += d.copied;
  return n;
}
int64_t StageReport::Skipped() const {
  int64_t n = 0;
  for (const auto& d : days) n += d.skipped_identical;
  return n;
}
int64_t StageReport::BytesCopied() const {
  int64_t n = 0;
  for (const auto& d : days) n += d.bytes_copied;
  return n;
}
int StageReport::MissingDays() const {
  return static_cast<int>(std::count_if(days.begin(), days.end(), [](const StageDay& d) { return d.missing; }));
}

namespace {

// std::FILE with fclose on scope exit.
struct File {
  std::FILE* f = nullptr;
  explicit File(std::FILE* file) : f(file) {}
  ~File() {
    if (f) std::fclose(f);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
};

std::string Errno() { return std::strerror(errno); }

// Copies src to dst through dst.bf-partial, fsyncs, reads the copy back and compares its size
// and CRC32 with what was read from src, then renames it into place.
Status CopyVerified(const fs::path& src, const fs::path& dst, FileDigest* copied) {
  std::error_code ec;
  fs::create_directories(dst.parent_path(), ec);
  if (ec) return IoError(fmt::format("cannot create {}: {}", dst.parent_path().string(), ec.message()));
  fs::path tmp = dst;
  tmp += kPartialSuffix;
  FileDigest read;
  {
    File in(std::fopen(src.c_str(), "rb"));
    if (!in.f) return IoError(fmt::format("cannot read {}: {}", src.string(), Errno()));
    File out(std::fopen(tmp.c_str(), "wb"));
    if (!out.f) return IoError(fmt::format("cannot write {}: {}", tmp.string(), Errno()));
    std::vector<unsigned char> buf(1 << 16);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (;;) {
      size_t n = std::fread(buf.data(), 1, buf.size(), in.f);
      if (n > 0) {
        crc = crc32(crc, buf.data(), static_cast<uInt>(n));
        read.size += n;
        if (std::fwrite(buf.data(), 1, n, out.f) != n) {
          return IoError(fmt::format("cannot write {}: {}", tmp.string(), Errno()));
        }
      }
      if (n < buf.size()) break;
    }
    if (std::ferror(in.f)) return IoError(fmt::format("cannot read {}: {}", src.string(), Errno()));
    read.crc32 = static_cast<uint32_t>(crc);
    if (std::fflush(out.f) != 0 || ::fsync(fileno(out.f)) != 0) {
      return IoError(fmt::format("cannot write {}: {}", tmp.string(), Errno()));
    }
    std::FILE* f = out.f;
    out.f = nullptr;
    if (std::fclose(f) != 0) return IoError(fmt::format("cannot write {}: {}", tmp.string(), Errno()));
  }
  BF_ASSIGN_OR_RETURN(FileDigest written, DigestFile(tmp));
  if (!(written == read)) {
    fs::remove(tmp, ec);
    return DataLoss(fmt::format("copy of {} does not verify: {} bytes crc32 {:08x} read, {} bytes crc32 {:08x} "
                                "written; removed the partial copy",
                                src.string(), read.size, read.crc32, written.size, written.crc32));
  }
  fs::rename(tmp, dst, ec);
  if (ec) return IoError(fmt::format("cannot rename {} to {}: {}", tmp.string(), dst.string(), ec.message()));
  *copied = read;
  return Status::Ok();
}

struct StageTask {
  size_t day = 0;  // index into report.days
  fs::path src, dst;
};

struct StageOutcome {
  Status status;
  bool copied = false, replaced = false, skipped = false;
  int64_t bytes = 0;
};

StageOutcome RunStageTask(const StageTask& t, bool preview) {
  StageOutcome o;
  std::error_code ec;
  bool exists = fs::exists(t.dst, ec);
  if (exists) {
    auto src = DigestFile(t.src);
    if (!src.ok()) return {src.status()};
    uint64_t dst_size = fs::file_size(t.dst, ec);
    if (!ec && dst_size == src->size) {
      auto dst = DigestFile(t.dst);
      if (!dst.ok()) return {dst.status()};
      if (*dst == *src) {
        o.skipped = true;
        return o;
      }
    }
    o.replaced = true;
  }
  o.copied = true;
  if (preview) {
    o.bytes = static_cast<int64_t>(fs::file_size(t.src, ec));
    return o;
  }
  FileDigest d;
  o.status = CopyVerified(t.src, t.dst, &d);
  o.bytes = static_cast<int64_t>(d.size);
  return o;
}

}  // namespace

Result<FileDigest> DigestFile(const fs::path& path) {
  File in(std::fopen(path.c_str(), "rb"));
  if (!in.f) return IoError(fmt::format("cannot read {}: {}", path.string(), Errno()));
  std::vector<unsigned char> buf(1 << 16);
  FileDigest d;
  uLong crc = crc32(0L, Z_NULL, 0);
  for (;;) {
    size_t n = std::fread(buf.data(), 1, buf.size(), in.f);
    crc = crc32(crc, buf.data(), static_cast<uInt>(n));
    d.size += n;
    if (n < buf.size()) break;
  }
  if (std::ferror(in.f)) return IoError(fmt::format("cannot read {}: {}", path.string(), Errno()));
  d.crc32 = static_cast<uint32_t>(crc);
  return d;
}

Result<StageReport> Stage(const StageOptions& o) {
  if (o.threads < 1) return InvalidArgument(fmt::format("--threads must be at least 1 (got {})", o.threads));
  if (o.from.empty() || o.to.empty()) return InvalidArgument("stage needs a source and a destination directory");
  std::error_code ec;
  if (!fs::is_directory(o.from, ec)) return NotFound(fmt::format("error output directory {} does not exist", o.from.string()));
  StageReport report;
  report.preview = o.preview;
  report.destination = o.to;
  report.source_root = fs::is_directory(o.from / "error", ec) ? o.from / "error" : o.from;
  if (fs::weakly_canonical(report.source_root, ec) == fs::weakly_canonical(o.to, ec)) {
    return InvalidArgument(fmt::format("stage: source and destination are the same directory ({})", o.to.string()));
  }

  std::vector<StageTask> tasks;
  for (Date day : o.dates.Days()) {
    StageDay sd;
    sd.date = day;
    fs::path dir = report.source_root / FormatDate(day);
    if (!fs::is_directory(dir, ec)) {
      sd.missing = true;
      report.days.push_back(sd);
      continue;
    }
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_regular_file() && !EndsWith(it->path().filename().string(), kPartialSuffix)) {
        files.push_back(it->path());
      }
    }
    if (ec) return IoError(fmt::format("cannot list {}: {}", dir.string(), ec.message()));
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      sd.files++;
      sd.bytes_total += static_cast<int64_t>(fs::file_size(f, ec));
      tasks.push_back({report.days.size(), f, o.to / FormatDate(day) / fs::relative(f, dir)});
    }
    report.days.push_back(sd);
  }
  if (report.MissingDays() == static_cast<int>(report.days.size())) {
    return NotFound(fmt::format("no day folder of {} under {} (expected {}/YYYY-MM-DD/HH/...)", o.dates.ToString(),
                                report.source_root.string(), report.source_root.string()));
  }

  std::vector<StageOutcome> outcomes(tasks.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < tasks.size();) {
      if (failed.load()) break;
      outcomes[i] = RunStageTask(tasks[i], o.preview);
      if (!outcomes[i].status.ok()) failed.store(true);
    }
  };
  size_t n_threads = std::min<size_t>(static_cast<size_t>(o.threads), std::max<size_t>(tasks.size(), 1));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n_threads; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();

  for (size_t i = 0; i < tasks.size(); ++i) {
    const StageOutcome& r = outcomes[i];
    BF_RETURN_IF_ERROR(r.status);
    StageDay& d = report.days[tasks[i].day];
    if (r.skipped) d.skipped_identical++;
    if (r.copied) {
      d.copied++;
      d.bytes_copied += r.bytes;
    }
    if (r.replaced) d.replaced++;
  }
  if (o.progress) {
    for (const auto& d : report.days) {
      if (d.missing) {
        o.progress(fmt::format("{}: no day folder in {}", FormatDate(d.date), report.source_root.string()));
      } else {
        o.progress(fmt::format("{}: {} {}, {} identical skipped ({} bytes)", FormatDate(d.date), d.copied,
                               o.preview ? "to copy" : "copied", d.skipped_identical, d.bytes_copied));
      }
    }
  }
  return report;
}

// =============================================================================================
// Mirror

const char* MirrorOutcomeName(MirrorOutcome o) {
  switch (o) {
    case MirrorOutcome::kCreated: return "created";
    case MirrorOutcome::kUnchanged: return "unchanged";
    case MirrorOutcome::kDiffers: return "differs";
  }
  return "differs";
}

int MirrorReport::Count(MirrorOutcome o) const {
  return static_cast<int>(std::count_if(tables.begin(), tables.end(), [&](const MirrorTable& t) { return t.outcome == o; }));
}

namespace {

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// How an existing mirror dataset's access differs from its source's. The principal running the
// mirror is an owner of what it creates, so it is left out of the owner comparison.
std::vector<std::string> AccessDifferences(const DatasetOptions& source, const DatasetOptions& target,
                                           const std::string& principal) {
  std::vector<std::string> out;
  if (source.restricted != target.restricted) {
    out.push_back(fmt::format("restricted: {} in the source, {} here", source.restricted, target.restricted));
  }
  auto compare = [&](const char* what, std::vector<std::string> a, std::vector<std::string> b, bool drop_principal) {
    if (drop_principal) {
      std::erase(a, principal);
      std::erase(b, principal);
    }
    a = Sorted(a);
    b = Sorted(b);
    if (a != b) out.push_back(fmt::format("{}: [{}] in the source, [{}] here", what, Join(a, ", "), Join(b, ", ")));
  };
  compare("readers", source.readers, target.readers, false);
  compare("writers", source.writers, target.writers, false);
  compare("owners", source.owners, target.owners, true);
  return out;
}

std::vector<std::string> TableDifferences(const TableOptions& existing, const TableOptions& wanted) {
  std::vector<std::string> out = DiffSchemas(existing.schema, wanted.schema);
  if (existing.partition_by != wanted.partition_by) {
    out.push_back(fmt::format("partitioned by '{}' here, '{}' in the source", existing.partition_by, wanted.partition_by));
  }
  if (existing.cluster_by != wanted.cluster_by) {
    out.push_back(fmt::format("clustered by [{}] here, [{}] in the source", Join(existing.cluster_by, ", "),
                              Join(wanted.cluster_by, ", ")));
  }
  return out;
}

}  // namespace

Result<MirrorReport> Mirror(Warehouse& w, const MirrorOptions& o) {
  BF_RETURN_IF_ERROR(RequireProject(w, o.from_project));
  BF_RETURN_IF_ERROR(ValidateProjectName(o.to_project));
  if (o.from_project == o.to_project) return InvalidArgument("mirror: --from-project and --to-project are the same");
  MirrorReport report;
  report.preview = o.preview;
  const bool to_exists = w.HasProject(o.to_project);
  report.project_created = !to_exists;

  BF_ASSIGN_OR_RETURN(auto sources, MatchingTables(w, o.from_project, o.filter));
  if (sources.empty()) {
    return NotFound(fmt::format("mirror: no table of project {}{}", o.from_project, FilterText(o.filter)));
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
      problems.push_back(fmt::format("dataset {} has other access than {}: {}", d.target.ToString(), d.source.ToString(),
                                     FirstDifferences(d.details)));
    }
  }
  for (const auto& t : report.tables) {
    if (t.outcome == MirrorOutcome::kDiffers) {
      problems.push_back(fmt::format("table {} differs from {}: {}", t.target.ToString(), t.source.ToString(),
                                     FirstDifferences(t.details)));
    }
  }
  if (o.preview) return report;
  if (!problems.empty()) {
    return Refused(fmt::format("mirror {} -> {}: {}; nothing was created or altered", o.from_project, o.to_project,
                               Join(problems, "; ")));
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
  if (o.from_project == o.to_project) return InvalidArgument("append: --from-project and --to-project are the same");
  BF_ASSIGN_OR_RETURN(auto sources, MatchingTables(w, o.from_project, o.filter));
  if (sources.empty()) {
    return NotFound(fmt::format("append: no table of project {}{}", o.from_project, FilterText(o.filter)));
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
      problems.push_back(fmt::format("{} has no counterpart {} (exclude it with -x {}.{})", src.ToString(),
                                     dst.ToString(), src.dataset, src.table));
      continue;
    }
    BF_ASSIGN_OR_RETURN(TableInfo p, w.DescribeTable(dst));
    if (auto diff = DiffSchemas(p.options.schema, q.options.schema); !diff.empty()) {
      problems.push_back(fmt::format("the schema of {} differs from {}: {}", src.ToString(), dst.ToString(),
                                     FirstDifferences(diff)));
      continue;
    }
    if (!q.options.schema.Find("document_id")) {
      problems.push_back(fmt::format("{} has no document_id column, so its rows cannot be deduplicated against {} "
                                     "(append is for live tables; exclude it with -x {}.{})",
                                     src.ToString(), dst.ToString(), src.dataset, src.table));
      continue;
    }
    if (q.partition_kind == PartitionKind::kNone || p.partition_kind == PartitionKind::kNone ||
        q.options.partition_by != p.options.partition_by) {
      problems.push_back(fmt::format("{} and {} must both be partitioned by day on the same column "
                                     "(partitioned by '{}' and '{}')",
                                     src.ToString(), dst.ToString(), q.options.partition_by, p.options.partition_by));
      continue;
    }
    pairs.push_back({std::move(q), std::move(p)});
  }
  if (!problems.empty()) {
    return Refused(fmt::format("append {} -> {} refused, nothing was appended: {}", o.from_project, o.to_project,
                               Join(problems, "; ")));
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
      std::string in_p = fmt::format("EXISTS (SELECT 1 FROM {} AS _bf_p WHERE {} AND _bf_p.document_id = _bf_q.document_id)",
                                     p_rel, InDay("_bf_p", p, day));
      std::string q_day = fmt::format("{} AS _bf_q WHERE {}", q_rel, InDay("_bf_q", q, day));
      std::string counts = fmt::format(
          "SELECT count(*), count(*) FILTER (WHERE _bf_q.document_id IS NULL), "
          "count(*) FILTER (WHERE _bf_q.document_id IS NOT NULL AND {}) FROM {}",
          in_p, q_day);
      std::string rows = fmt::format("SELECT _bf_q.* FROM {} AS _bf_q WHERE {} AND _bf_q.document_id IS NOT NULL AND NOT {}",
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
      BF_RETURN_IF_ERROR(o.preview ? count_and_append() : w.InTransaction(o.to_project, count_and_append));
      if (o.progress) {
        o.progress(fmt::format("{} {}: {} candidate(s), {} already present, {} {}{}", FormatDate(day),
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
// CopyDeduplicate

const char* DedupActionName(DedupAction a) {
  switch (a) {
    case DedupAction::kReplace: return "replace";
    case DedupAction::kReplaceWithEmpty: return "replace with empty (allowed)";
    case DedupAction::kSkipBothEmpty: return "skip (live and stable empty)";
    case DedupAction::kRefuse: return "refuse (live empty)";
  }
  return "refuse (live empty)";
}

int CopyDeduplicateReport::Count(DedupAction a) const {
  return static_cast<int>(std::count_if(items.begin(), items.end(), [&](const auto& i) { return i.action == a; }));
}

Result<std::vector<Date>> ParseDateList(const std::vector<std::string>& values) {
  std::set<Date> days;
  for (const auto& v : values) {
    BF_ASSIGN_OR_RETURN(DateRange r, ParseDateRange(v));
    for (Date d : r.Days()) days.insert(d);
  }
  if (days.empty()) return InvalidArgument("no dates given (use --dates YYYY-MM-DD [...] or --dates A..B)");
  return std::vector<Date>(days.begin(), days.end());
}

namespace {

// Sets DuckDB's worker threads for the lifetime of the guard and restores the old value.
class ThreadsGuard {
 public:
  static Result<std::unique_ptr<ThreadsGuard>> Set(Warehouse& w, int threads) {
    BF_ASSIGN_OR_RETURN(QueryResult r, w.Query("SELECT current_setting('threads')"));
    auto g = std::unique_ptr<ThreadsGuard>(new ThreadsGuard(w, r.GetString(0, 0)));
    BF_RETURN_IF_ERROR(w.Query(fmt::format("SET threads = {}", threads)).status());
    return g;
  }
  ~ThreadsGuard() { (void)w_.Query("SET threads = " + old_); }

 private:
  ThreadsGuard(Warehouse& w, std::string old) : w_(w), old_(std::move(old)) {}
  Warehouse& w_;
  std::string old_;
};

std::string RefusalMessage(const CopyDeduplicateItem& i, const std::string& expiry) {
  return fmt::format(
      "live partition {} of {} is empty (0 rows){}; replacing the stable partition would destroy the {} row(s) "
      "that {} holds for {} now",
      FormatDate(i.date), i.live.ToString(), expiry, i.stable_rows_before, i.stable.ToString(), FormatDate(i.date));
}

// The column copy-deduplicate's days and first-seen times are on (the reference's).
constexpr char kDedupDay[] = "submission_timestamp";

// metadata.header.x_source_tags holds the tag `automation` (each comma-separated tag trimmed of
// whitespace, as TRIM does in the reference), over "alias".
std::string AutomationTagged(const std::string& alias) {
  return fmt::format("coalesce(regexp_matches({}.metadata.header.x_source_tags, "
                     "'(^|,)[[:space:]]*automation[[:space:]]*(,|$)'), false)", alias);
}

// The query writing one stable day: see CopyDeduplicateOptions for the rule. A window sorts and
// materializes every column of its input, and most documents occur once: only the rows whose
// hash(document_id) occurs more than once in the day go through one (a collision merely sends
// a few more), the others pass straight through. In the window, count(*) over the default frame
// counts a document's rows at its earliest timestamp, so the JSON is built only where several
// tie. Documents seen in the preceding days are anti-joined by id. bench/dedupe --parts times
// the alternatives.
std::string DedupSelect(const TableInfo& live, const std::string& rel, Date day, int preceding_days,
                        bool source_tags, bool geo) {
  std::vector<std::string> cols, json;
  for (const auto& f : live.options.schema.fields) {
    json.push_back(Q(f.name));
    cols.push_back(geo && f.name == "metadata"
                       ? "struct_update(metadata, geo := struct_update(metadata.geo, city := NULL::VARCHAR, "
                         "subdivision1 := NULL::VARCHAR, subdivision2 := NULL::VARCHAR)) AS metadata"
                       : Q(f.name));
  }
  auto keep = [&](Date from) {
    std::string out = fmt::format("_bf_l.submission_timestamp >= {} AND _bf_l.submission_timestamp < {} AND "
                                  "_bf_l.document_id IS NOT NULL",
                                  Warehouse::TimestampLiteral(StartOf(from)),
                                  Warehouse::TimestampLiteral(StartOf(from == day ? AddDays(day, 1) : day)));
    if (source_tags) out += " AND NOT " + AutomationTagged("_bf_l");
    return out;
  };
  std::string prev_cte, prev_join;
  if (preceding_days > 0) {
    prev_cte = fmt::format(", _bf_prev AS MATERIALIZED (SELECT DISTINCT _bf_l.document_id AS _bf_id FROM {} AS _bf_l "
                           "WHERE {})", rel, keep(AddDays(day, -preceding_days)));
    prev_join = " ANTI JOIN _bf_prev ON _bf_l.document_id = _bf_prev._bf_id";
  }
  std::string select = fmt::format(
      "WITH _bf_dup AS MATERIALIZED (SELECT hash(_bf_l.document_id) AS _bf_h FROM {rel} AS _bf_l WHERE {day} "
      "GROUP BY _bf_h HAVING count(*) > 1){prev_cte} "
      "SELECT {lcols} FROM {rel} AS _bf_l ANTI JOIN _bf_dup ON hash(_bf_l.document_id) = _bf_dup._bf_h{prev} "
      "WHERE {day} "
      "UNION ALL "
      "SELECT {json} FROM (SELECT _bf_l.*, count(*) OVER _bf_w AS _bf_c FROM {rel} AS _bf_l "
      "SEMI JOIN _bf_dup ON hash(_bf_l.document_id) = _bf_dup._bf_h{prev} WHERE {day} "
      "WINDOW _bf_w AS (PARTITION BY _bf_l.document_id ORDER BY _bf_l.submission_timestamp) "
      "QUALIFY rank() OVER _bf_w = 1) "
      "QUALIFY row_number() OVER (PARTITION BY document_id ORDER BY CASE WHEN _bf_c > 1 THEN "
      "CAST(to_json(struct_pack({json})) AS VARCHAR) END) = 1",
      fmt::arg("rel", rel), fmt::arg("day", keep(day)), fmt::arg("prev_cte", prev_cte), fmt::arg("prev", prev_join),
      fmt::arg("json", Join(json, ", ")), fmt::arg("lcols", "_bf_l." + Join(json, ", _bf_l.")));
  if (!geo) return select;
  return fmt::format("SELECT {} FROM ({}) AS _bf_r", Join(cols, ", "), select);
}

}  // namespace

bool HasSourceTags(const TableInfo& live) {
  return live.options.schema.FindPath("metadata.header.x_source_tags") != nullptr;
}

bool GeoDeprecationApplies(const TableInfo& live, const WarehouseConfig& config) {
  auto contains = [](const std::vector<std::string>& list, const std::string& v) {
    return std::find(list.begin(), list.end(), v) != list.end();
  };
  const std::string& ds = live.name.dataset;
  std::string app = EndsWith(ds, "_live") ? ds.substr(0, ds.size() - 5) : ds;
  static const std::regex kVersion(R"(_v[0-9]+$)");
  std::string table = std::regex_replace(live.name.table, kVersion, "");
  auto glean = live.properties.find(kGleanProperty);
  if (contains(config.geo_skip_apps, app) || contains(config.geo_skip_tables, table)) return false;
  if (glean == live.properties.end() || glean->second != "true") return false;
  const Schema& s = live.options.schema;
  return s.FindPath("client_info.client_id") && s.FindPath("metadata.geo.city") &&
         s.FindPath("metadata.geo.subdivision1") && s.FindPath("metadata.geo.subdivision2");
}

Result<CopyDeduplicateReport> CopyDeduplicate(Warehouse& w, const CopyDeduplicateOptions& o) {
  BF_RETURN_IF_ERROR(RequireProject(w, o.project));
  if (o.dates.empty()) return InvalidArgument("copy-deduplicate: no dates given");
  if (o.parallelism < 0) return InvalidArgument("--parallelism must be positive");
  if (o.preceding_days < 0) return InvalidArgument("--preceding-days must be 0 or more");
  if (o.slices < 1) return InvalidArgument("--slices must be 1 or more");
  std::vector<Date> dates = o.dates;
  std::sort(dates.begin(), dates.end());
  dates.erase(std::unique(dates.begin(), dates.end()), dates.end());

  // <ns>_live.<t> with a <ns>_stable.<t> counterpart; the filter may name either.
  BF_ASSIGN_OR_RETURN(auto datasets, w.ListDatasets(o.project));
  std::vector<std::pair<TableInfo, TableInfo>> pairs;
  std::vector<std::string> problems;
  for (const auto& ds : datasets) {
    const std::string& name = ds.name.dataset;
    if (!EndsWith(name, "_live")) continue;
    std::string stable_ds = name.substr(0, name.size() - 5) + "_stable";
    BF_ASSIGN_OR_RETURN(auto tables, w.ListTables(ds.name));
    for (const auto& t : tables) {
      if (!o.filter.Matches(name + "." + t) && !o.filter.Matches(stable_ds + "." + t)) continue;
      if (t.find("beam_load_sink") != std::string::npos) continue;  // as the reference lists tables
      TableName live{o.project, name, t}, stable{o.project, stable_ds, t};
      if (!w.TableExists(stable)) continue;
      BF_ASSIGN_OR_RETURN(TableInfo li, w.DescribeTable(live));
      BF_ASSIGN_OR_RETURN(TableInfo si, w.DescribeTable(stable));
      if (auto diff = DiffSchemas(si.options.schema, li.options.schema); !diff.empty()) {
        problems.push_back(fmt::format("the schema of {} differs from {}: {}", stable.ToString(), live.ToString(),
                                       FirstDifferences(diff)));
      } else if (!li.options.schema.Find("document_id") || !li.options.schema.Find("submission_timestamp")) {
        problems.push_back(fmt::format("{} needs document_id and submission_timestamp columns to be deduplicated",
                                       live.ToString()));
      } else if (li.partition_kind != PartitionKind::kTimestamp || li.options.partition_by != kDedupDay ||
                 si.options.partition_by != kDedupDay) {
        problems.push_back(fmt::format("{} and {} must both be partitioned by day on submission_timestamp, as "
                                       "the reference copy_deduplicate expects (partitioned by '{}' and '{}')",
                                       live.ToString(), stable.ToString(), li.options.partition_by,
                                       si.options.partition_by));
      } else {
        pairs.emplace_back(std::move(li), std::move(si));
      }
    }
  }
  if (!problems.empty()) return Refused("copy-deduplicate refused, nothing was changed: " + Join(problems, "; "));
  if (pairs.empty()) {
    return NotFound(fmt::format("copy-deduplicate: no <namespace>_live table of project {}{} has a "
                                "<namespace>_stable counterpart",
                                o.project, FilterText(o.filter)));
  }

  CopyDeduplicateReport report;
  report.preview = o.preview;
  report.parallelism = o.parallelism;
  std::unique_ptr<ThreadsGuard> threads;
  if (o.parallelism > 0) {
    BF_ASSIGN_OR_RETURN(threads, ThreadsGuard::Set(w, o.parallelism));
  }

  // Preview every table and day first: a refusal anywhere changes nothing anywhere.
  std::vector<std::string> selects;  // parallel to report.items
  std::vector<std::string> refusals;
  Timestamp now = w.clock().Now();
  for (const auto& [live, stable] : pairs) {
    BF_ASSIGN_OR_RETURN(std::string live_rel, w.Relation(live.name));
    BF_ASSIGN_OR_RETURN(std::string stable_rel, w.Relation(stable.name));
    bool geo = GeoDeprecationApplies(live, w.config());
    for (Date day : dates) {
      CopyDeduplicateItem item;
      item.live = live.name;
      item.stable = stable.name;
      item.date = day;
      item.geo_deprecation = geo;
      std::string live_day = fmt::format("{} AS _bf_l WHERE {}", live_rel, InDay("_bf_l", live, day));
      std::string select = DedupSelect(live, live_rel, day, o.preceding_days, HasSourceTags(live), geo);
      BF_ASSIGN_OR_RETURN(item.live_rows, QueryCount(w, "SELECT count(*) FROM " + live_day));
      if (o.preview && item.live_rows > 0) {
        BF_ASSIGN_OR_RETURN(item.distinct_documents, QueryCount(w, "SELECT count(*) FROM (" + select + ")"));
      } else {
        // A real run learns the rows it copies from what it writes, so it does not pay for the
        // query twice.
        item.distinct_documents = item.live_rows > 0 ? -1 : 0;
      }
      item.duplicates_removed = item.live_rows - item.distinct_documents;
      BF_ASSIGN_OR_RETURN(item.stable_rows_before, QueryCount(w, fmt::format(
          "SELECT count(*) FROM {} AS _bf_s WHERE {}", stable_rel, InDay("_bf_s", stable, day))));
      item.stable_rows_after = item.distinct_documents;
      if (item.live_rows > 0) {
        item.action = DedupAction::kReplace;
      } else if (item.stable_rows_before == 0) {
        item.action = DedupAction::kSkipBothEmpty;
        item.note = "nothing to replace";
        item.stable_rows_after = 0;
      } else {
        std::string expiry;
        if (auto days = live.dataset.options.partition_expiration_days) {
          Timestamp at = PartitionExpiresAt(day, *days);
          if (at <= now) expiry = fmt::format(", past its retention (expired at {})", FormatTimestamp(at));
        }
        if (o.allow_empty) {
          item.action = DedupAction::kReplaceWithEmpty;
          item.note = fmt::format("live day empty{}; {} stable row(s) removed as allowed", expiry, item.stable_rows_before);
        } else {
          item.action = DedupAction::kRefuse;
          item.note = RefusalMessage(item, expiry);
          item.stable_rows_after = item.stable_rows_before;
          refusals.push_back(item.note);
        }
      }
      selects.push_back(std::move(select));
      report.items.push_back(item);
    }
  }
  if (o.preview) return report;
  if (!refusals.empty()) {
    std::string more = refusals.size() > 1 ? fmt::format(" (and {} more empty live partition(s))", refusals.size() - 1) : "";
    Status refusal = Refused(fmt::format("copy-deduplicate refused, nothing was changed: {}{}. Check the live table (expired? "
                                         "not loaded yet?), or allow emptying the stable day explicitly (--allow-empty)",
                                         refusals[0], more));
    for (const auto& i : report.items) {
      if (i.action != DedupAction::kRefuse) continue;
      Status audited = w.AuditRefusal(o.project, "copy-deduplicate",
                                      fmt::format("{}${}", i.stable.ToString(), FormatDateCompact(i.date)), Refused(i.note));
      if (audited.message() != i.note) refusal = Refused(refusal.message() + "\n" + audited.message());
    }
    return refusal;
  }

  for (size_t i = 0; i < report.items.size(); ++i) {
    CopyDeduplicateItem& item = report.items[i];
    if (item.action == DedupAction::kSkipBothEmpty) {
      if (o.progress) o.progress(fmt::format("{} {}: skipped (live and stable empty)", FormatDate(item.date), item.stable.ToString()));
      continue;
    }
    BF_ASSIGN_OR_RETURN(WriteStats st, w.ReplacePartition(item.stable, item.date, selects[i]));
    item.distinct_documents = st.rows_written;
    item.stable_rows_after = st.rows_written;
    item.duplicates_removed = item.live_rows - st.rows_written;
    if (o.progress) {
      o.progress(fmt::format("{} {}: {} live row(s), {} not copied, stable {} -> {} row(s)",
                             FormatDate(item.date), item.stable.ToString(), item.live_rows, item.duplicates_removed,
                             item.stable_rows_before, item.stable_rows_after));
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
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
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
    return Refused(fmt::format("cleanup: project {} holds protected dataset(s) {}; it does not look like a backfill "
                               "project (mirror never creates protected datasets); nothing was removed",
                               o.project, Join(protected_ds, ", ")));
  }
  Timestamp now = w.clock().Now();
  for (const auto& ds : datasets) {
    BF_ASSIGN_OR_RETURN(auto tables, w.ListTables(ds.name));
    for (const auto& t : tables) {
      TableName name{o.project, ds.name.dataset, t};
      BF_ASSIGN_OR_RETURN(TableInfo info, w.DescribeTable(name));
      report.tables.push_back({name, info.total_rows, now + std::chrono::hours(*info.dataset.options.time_travel_hours)});
    }
  }
  std::error_code ec;
  if (!o.staged.empty() && fs::is_directory(o.staged, ec)) {
    ClassifyStaged(o.staged, true, report);
    for (const auto& p : report.staged_removed) CountFiles(p, &report.staged_files, &report.staged_bytes);
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
