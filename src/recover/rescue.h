// Time-travel rescue: copy a table as it was before an incident into a restricted dataset,
// put back only the partitions that are missing, validate, and drop the snapshot only once it
// has been validated.
//
// Every function works through the Warehouse, so reads are access- and window-checked and
// writes are audited, atomic and (for protected datasets) bound to approved requests. Each
// takes `preview` where it writes, computing exactly what it would do. Not thread-safe (one
// Warehouse per thread); I/O only through the Warehouse.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/names.h"
#include "core/time.h"
#include "recover/step.h"
#include "warehouse/warehouse.h"

namespace backfill {

// Property keys a snapshot carries (Warehouse::SetTableProperty).
inline constexpr const char* kSnapshotOf = "snapshot_of";
inline constexpr const char* kSnapshotAsOf = "snapshot_as_of";
inline constexpr const char* kValidation = "validation";  // "passed" / "failed: ..."

struct SnapshotReport {
  TableName source, target;
  Timestamp as_of;
  int64_t rows = 0;
  std::vector<PartitionInfo> partitions;
  Timestamp window_closes;  // after this, `as_of` can no longer be read from the source
  bool created_dataset = false;
  bool already_taken = false;  // the same snapshot existed: nothing was written
};

// Copies `source` as of `as_of` into `target` (created with the same schema, partitioning and
// clustering). The target dataset is created restricted and owned by the principal when it does
// not exist; an existing one must be at least as restricted as the source. Works on dropped
// tables. Refused outside the time-travel window, naming the earliest readable time.
Result<SnapshotReport> Snapshot(Warehouse& w, const TableName& source, Timestamp as_of,
                                const TableName& target, bool preview = false);

// Per partition: rows and an order-independent checksum of the rows' content.
struct PartitionDigest {
  int64_t rows = 0;
  std::string checksum;
};
using Digests = std::map<std::optional<Date>, PartitionDigest>;
// Digests `table` split into days the way `layout` is partitioned (the same table, or another
// with the same columns), so two tables compare day by day even if only one is partitioned.
Result<Digests> DigestPartitions(Warehouse& w, const TableName& table, const TableInfo& layout,
                                 std::optional<DateRange> dates);

struct RestorePartition {
  std::optional<Date> date;
  enum class State { kMissing, kPresent, kPartial } state;
  int64_t snapshot_rows = 0, target_rows = 0;
  std::string action;  // "insert", "skip (identical)", "leave (partial)", "replace (partial)"
  int64_t rows_after = 0;
};
struct RestoreReport {
  TableName snapshot, target;
  std::vector<RestorePartition> partitions;
  int64_t rows_inserted = 0;
  int Count(RestorePartition::State s) const;
};
const char* RestoreStateName(RestorePartition::State s);

// Inserts the snapshot's partitions that are absent from `target`; a partition present but
// different is left alone (reported partial) unless `replace_partial`. Idempotent.
Result<RestoreReport> RestoreMissingPartitions(Warehouse& w, const TableName& snapshot,
                                               const TableName& target,
                                               std::optional<DateRange> dates, bool replace_partial,
                                               bool preview, const ProgressFn& progress = nullptr);

struct ValidationRow {
  std::optional<Date> date;
  PartitionDigest expected, actual;
  bool match = false;
};
struct ValidationReport {
  TableName expected, actual;
  std::vector<std::string> schema_differences;
  std::vector<ValidationRow> partitions;
  bool passed = false;
  bool recorded = false;  // the verdict was stored on the snapshot
  std::vector<std::string> FailedPartitions() const;
};

// Compares both tables partition by partition (rows and checksums). When `expected` is a
// snapshot and the warehouse is writable, the verdict is stored on it (so it may be dropped).
// `expected_days_only`: only the partitions `expected` holds are compared (a snapshot's days,
// after a restore from it): days the actual table gained since, such as the daily job's new
// ones, are not differences.
Result<ValidationReport> Validate(Warehouse& w, const TableName& expected, const TableName& actual,
                                  std::optional<DateRange> dates, bool expected_days_only = false);

// Drops a table; a rescue snapshot only after a validation of it passed, unless `force`.
Status DropTableGuarded(Warehouse& w, const TableName& table, bool force);

}  // namespace backfill
