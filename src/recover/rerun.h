// Re-running a derived table: each day's partition is replaced by the result of the table's
// query with @submission_date set to that day — the normal backfill, which destroys data when
// the query's sources have already expired. So before anything is written, every date is
// checked: when a source partition is expired, empty or missing while the target partition
// holds rows, that date is refused (with the rows that would be lost and a pointer to the
// time-travel rescue) unless data loss is explicitly allowed.
//
// Not thread-safe (one Warehouse); I/O only through the Warehouse.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/names.h"
#include "core/time.h"
#include "recover/step.h"
#include "warehouse/warehouse.h"

namespace backfill {

struct SourceCheck {
  TableName table;
  enum class State { kOk, kExpired, kEmpty, kMissing } state = State::kOk;
  int64_t rows = 0;
  std::optional<Timestamp> expired_at = {};
  std::string Describe() const;  // "ok (120 rows)", "expired at 2020-...", ...
};

struct RerunDay {
  Date date;
  int64_t rows_now = 0;
  std::vector<SourceCheck> sources = {};
  bool refused = false;     // a source is not there while the target holds rows
  bool at_risk = false;     // refused, but --allow-data-loss lets it run
  std::string action = {};  // "replace", "replace (target empty)", "refuse: ...", "replaced"
  int64_t rows_after = -1;
};

struct RerunReport {
  TableName table;
  std::vector<RerunDay> days;
  bool preview = false;
  int RefusedDays() const;
};

struct RerunOptions {
  DateRange dates;
  bool preview = false;
  bool allow_data_loss = false;
  int parallelism = 0;  // DuckDB threads for the queries; 0 = DuckDB's default
  ProgressFn progress;  // one line per replaced day
};

// Checks every date, then (unless preview) replaces each partition in date order, each in its
// own transaction. A refusal changes nothing: it is kRefused and lists every refused date.
Result<RerunReport> Rerun(Warehouse& w, const TableName& table, const RerunOptions& options);

}  // namespace backfill
