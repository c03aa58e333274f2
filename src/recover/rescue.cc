#include "recover/rescue.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace backfill {
namespace {

std::string PartitionExpr(const TableInfo& info) {
  switch (info.partition_kind) {
    case PartitionKind::kNone:
      return "CAST(NULL AS DATE)";
    case PartitionKind::kDate:
      return QuoteIdent(info.options.partition_by);
    case PartitionKind::kTimestamp:
      return "CAST(" + QuoteIdent(info.options.partition_by) + " AS DATE)";
  }
  return "NULL";
}

std::string DateLiteral(Date d) { return "DATE " + QuoteString(FormatDate(d)); }

std::string PartitionLabel(const std::optional<Date>& d) {
  return d ? FormatDate(*d) : "(unpartitioned)";
}

std::vector<std::string> Principals(const DatasetOptions& o) {
  std::vector<std::string> all = o.readers;
  all.insert(all.end(), o.writers.begin(), o.writers.end());
  all.insert(all.end(), o.owners.begin(), o.owners.end());
  return all;
}

// A snapshot may not widen who can read the data it copies.
Status CheckAtLeastAsRestricted(const DatasetInfo& source, const DatasetInfo& target) {
  if (!source.options.restricted) return Status::Ok();
  if (!target.options.restricted) {
    return Refused(fmt::format(
        "dataset {} is not restricted, but the source dataset {} is: a copy must be at least "
        "as restricted as its source",
        target.name.ToString(), source.name.ToString()));
  }
  std::vector<std::string> allowed = Principals(source.options), extra;
  for (const auto& p : Principals(target.options)) {
    if (std::find(allowed.begin(), allowed.end(), p) == allowed.end() &&
        std::find(extra.begin(), extra.end(), p) == extra.end()) {
      extra.push_back(p);
    }
  }
  if (!extra.empty()) {
    std::string names;
    for (const auto& e : extra) names += (names.empty() ? "" : ", ") + e;
    return Refused(fmt::format(
        "dataset {} grants access to {}, who cannot read the source dataset {}: a copy must "
        "be at least as restricted as its source",
        target.name.ToString(), names, source.name.ToString()));
  }
  return Status::Ok();
}

}  // namespace

int RestoreReport::Count(RestorePartition::State s) const {
  return static_cast<int>(std::count_if(partitions.begin(), partitions.end(),
                                        [&](const RestorePartition& p) { return p.state == s; }));
}

const char* RestoreStateName(RestorePartition::State s) {
  switch (s) {
    case RestorePartition::State::kMissing:
      return "missing";
    case RestorePartition::State::kPresent:
      return "present";
    case RestorePartition::State::kPartial:
      return "partial";
  }
  return "?";
}

std::vector<std::string> ValidationReport::FailedPartitions() const {
  std::vector<std::string> out;
  for (const auto& p : partitions) {
    if (!p.match) out.push_back(PartitionLabel(p.date));
  }
  return out;
}

Result<SnapshotReport> Snapshot(Warehouse& w, const TableName& source, Timestamp as_of,
                                const TableName& target, bool preview) {
  BF_ASSIGN_OR_RETURN(std::string relation, w.Relation(source, as_of));
  BF_ASSIGN_OR_RETURN(TableInfo src, w.DescribeTable(source, as_of));
  SnapshotReport report;
  report.source = source;
  report.target = target;
  report.as_of = as_of;
  report.rows = src.total_rows;
  report.partitions = src.partitions;
  report.window_closes = as_of + std::chrono::hours(*src.dataset.options.time_travel_hours);

  if (w.TableExists(target)) {
    BF_ASSIGN_OR_RETURN(TableInfo existing, w.DescribeTable(target));
    auto of = existing.properties.find(kSnapshotOf);
    auto at = existing.properties.find(kSnapshotAsOf);
    if (of != existing.properties.end() && of->second == source.ToString() &&
        at != existing.properties.end() && at->second == FormatTimestamp(as_of)) {
      report.already_taken = true;  // taking the same snapshot twice changes nothing
      report.rows = existing.total_rows;
      report.partitions = existing.partitions;
      return report;
    }
    return AlreadyExists(fmt::format("table {} already exists and is not a snapshot of {} as of {}",
                                     target.ToString(), source.ToString(), FormatTimestamp(as_of)));
  }
  auto target_ds = w.GetDataset(target.Dataset());
  if (target_ds.ok()) {
    BF_RETURN_IF_ERROR(CheckAtLeastAsRestricted(src.dataset, *target_ds));
  } else if (target_ds.status().code() == StatusCode::kNotFound && w.HasProject(target.project)) {
    report.created_dataset = true;
  } else {
    return target_ds.status();
  }
  if (preview) return report;
  if (report.created_dataset) {
    DatasetOptions o;
    o.restricted = true;  // rescued data is treated as confidential by default
    o.owners = {w.principal()};
    BF_RETURN_IF_ERROR(w.CreateDataset(target.Dataset(), o));
  }
  TableOptions options = src.options;
  options.query.clear();  // a snapshot holds data; it is not re-derived
  BF_RETURN_IF_ERROR(w.InTransaction(target.project, [&]() -> Status {
    BF_RETURN_IF_ERROR(w.CreateTable(target, options));
    BF_ASSIGN_OR_RETURN(Warehouse::CopySource copy, w.CopyRelation(source, target, as_of));
    BF_ASSIGN_OR_RETURN(WriteStats st,
                        w.Append(target, "SELECT * FROM " + copy.relation, copy.form));
    report.rows = st.rows_written;
    BF_RETURN_IF_ERROR(w.SetTableProperty(target, kSnapshotOf, source.ToString()));
    return w.SetTableProperty(target, kSnapshotAsOf, FormatTimestamp(as_of));
  }));
  return report;
}

Result<Digests> DigestPartitions(Warehouse& w, const TableName& table, const TableInfo& layout,
                                 std::optional<DateRange> dates) {
  BF_ASSIGN_OR_RETURN(std::string relation, w.Relation(table));
  std::string part = PartitionExpr(layout);
  std::string where = dates ? fmt::format(" WHERE {} BETWEEN {} AND {}", part,
                                          DateLiteral(dates->first), DateLiteral(dates->last))
                            : "";
  // Summing 64-bit row hashes as HUGEINT is order-independent and counts duplicates.
  BF_ASSIGN_OR_RETURN(
      QueryResult r,
      w.Query(fmt::format("SELECT CAST({} AS VARCHAR), count(*), CAST(sum(hash(_bf_row)::HUGEINT) "
                          "AS VARCHAR) FROM {} AS _bf_row{} "
                          "GROUP BY 1 ORDER BY 1 NULLS FIRST",
                          part, relation, where)));
  Digests out;
  for (size_t i = 0; i < r.rows(); ++i) {
    std::optional<Date> d;
    if (!r.IsNull(0, i)) {
      BF_ASSIGN_OR_RETURN(Date parsed, ParseDate(r.GetString(0, i)));
      d = parsed;
    }
    out[d] = {r.GetInt64(1, i), r.GetString(2, i)};
  }
  return out;
}

Result<RestoreReport> RestoreMissingPartitions(Warehouse& w, const TableName& snapshot,
                                               const TableName& target,
                                               std::optional<DateRange> dates, bool replace_partial,
                                               bool preview, const ProgressFn& progress) {
  BF_ASSIGN_OR_RETURN(TableInfo snap, w.DescribeTable(snapshot));
  BF_ASSIGN_OR_RETURN(TableInfo dest, w.DescribeTable(target));
  if (auto diff = DiffSchemas(dest.options.schema, snap.options.schema); !diff.empty()) {
    return InvalidArgument(fmt::format("cannot restore {} into {}: the schemas differ ({})",
                                       snapshot.ToString(), target.ToString(), diff.front()));
  }
  if (dest.partition_kind == PartitionKind::kNone) {
    return InvalidArgument(fmt::format(
        "cannot restore partitions into {}: it is not partitioned by day", target.ToString()));
  }
  // Both sides are split into days the way the target is partitioned.
  BF_ASSIGN_OR_RETURN(Digests want, DigestPartitions(w, snapshot, dest, dates));
  BF_ASSIGN_OR_RETURN(Digests have, DigestPartitions(w, target, dest, dates));
  BF_ASSIGN_OR_RETURN(Warehouse::CopySource copy, w.CopyRelation(snapshot, target));
  const std::string& snap_relation = copy.relation;
  std::string part = PartitionExpr(dest);
  RestoreReport report{snapshot, target, {}, 0};
  for (const auto& [date, digest] : want) {
    RestorePartition p{date,       RestorePartition::State::kMissing, digest.rows, 0, "insert",
                       digest.rows};
    if (auto it = have.find(date); it != have.end()) {
      p.target_rows = it->second.rows;
      if (it->second.checksum == digest.checksum && it->second.rows == digest.rows) {
        p.state = RestorePartition::State::kPresent;
        p.action = "skip (identical)";
      } else {
        p.state = RestorePartition::State::kPartial;
        p.action = replace_partial ? "replace (partial)" : "leave (partial)";
        p.rows_after = replace_partial ? digest.rows : it->second.rows;
      }
    }
    if (!date && p.state != RestorePartition::State::kPresent) {
      return InvalidArgument(fmt::format("{} has rows with a NULL {}; restore them by hand",
                                         snapshot.ToString(), snap.options.partition_by));
    }
    report.partitions.push_back(p);
  }
  if (preview) return report;
  BF_RETURN_IF_ERROR(w.InTransaction(target.project, [&]() -> Status {
    for (auto& p : report.partitions) {
      std::string select =
          fmt::format("SELECT * FROM {} WHERE {} = {}", snap_relation, part, DateLiteral(*p.date));
      int64_t written = -1;
      if (p.state == RestorePartition::State::kMissing) {
        BF_ASSIGN_OR_RETURN(WriteStats st, w.Append(target, select, copy.form));
        written = st.rows_written;
      } else if (p.state == RestorePartition::State::kPartial && replace_partial) {
        BF_ASSIGN_OR_RETURN(WriteStats st, w.ReplacePartition(target, *p.date, select, copy.form));
        written = st.rows_written;
      }
      if (written >= 0) {
        report.rows_inserted += written;
        if (progress)
          progress(fmt::format("{} {}: {} rows restored", FormatDate(*p.date), target.ToString(),
                               written));
      }
    }
    return Status::Ok();
  }));
  return report;
}

Result<ValidationReport> Validate(Warehouse& w, const TableName& expected, const TableName& actual,
                                  std::optional<DateRange> dates, bool expected_days_only) {
  BF_ASSIGN_OR_RETURN(TableInfo exp, w.DescribeTable(expected));
  BF_ASSIGN_OR_RETURN(TableInfo act, w.DescribeTable(actual));
  ValidationReport report;
  report.expected = expected;
  report.actual = actual;
  report.schema_differences = DiffSchemas(exp.options.schema, act.options.schema);
  if (report.schema_differences.empty()) {
    const TableInfo& layout = act.partition_kind != PartitionKind::kNone ? act : exp;
    BF_ASSIGN_OR_RETURN(Digests e, DigestPartitions(w, expected, layout, dates));
    BF_ASSIGN_OR_RETURN(Digests a, DigestPartitions(w, actual, layout, dates));
    std::set<std::optional<Date>> keys;
    for (const auto& [d, _] : e) keys.insert(d);
    if (!expected_days_only) {
      for (const auto& [d, _] : a) keys.insert(d);
    }
    for (const auto& d : keys) {
      ValidationRow row{d, e.count(d) ? e[d] : PartitionDigest{},
                        a.count(d) ? a[d] : PartitionDigest{}, false};
      row.match =
          row.expected.rows == row.actual.rows && row.expected.checksum == row.actual.checksum;
      report.partitions.push_back(row);
    }
  }
  report.passed = report.schema_differences.empty() && report.FailedPartitions().empty();
  if (exp.properties.count(kSnapshotOf) && w.CheckAccess(expected.Dataset(), Role::kWriter).ok() &&
      !w.recording()) {
    std::string verdict = report.passed ? "passed" : "failed";
    Status s = w.SetTableProperty(expected, kValidation,
                                  fmt::format("{} against {} at {}", verdict, actual.ToString(),
                                              FormatTimestamp(w.clock().Now())));
    report.recorded = s.ok();
  }
  return report;
}

Status DropTableGuarded(Warehouse& w, const TableName& table, bool force) {
  BF_ASSIGN_OR_RETURN(TableInfo info, w.DescribeTable(table));
  auto of = info.properties.find(kSnapshotOf);
  if (of != info.properties.end() && !force) {
    auto v = info.properties.find(kValidation);
    if (v == info.properties.end() || v->second.rfind("passed", 0) != 0) {
      return Refused(
          fmt::format("{} is a rescue snapshot of {} (as of {}) and {}: dropping it could lose the "
                      "only copy. Run `backfill "
                      "validate --expected {} --actual {}` first, or pass --force",
                      table.ToString(), of->second,
                      info.properties.count(kSnapshotAsOf) ? info.properties[kSnapshotAsOf] : "?",
                      v == info.properties.end() ? "no validation of it has passed"
                                                 : "its last validation " + v->second.substr(0, 6),
                      table.ToString(), of->second));
    }
  }
  return w.DropTable(table);
}

}  // namespace backfill
