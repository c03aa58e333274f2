// Gaps: incident triage inside the warehouse. Where did records go missing? Rows per table and
// hour (or day) of the live and stable tables, compared with the same hour on the surrounding
// days, and the stable days compared with what copy-deduplicate would build from their live day.
// Read-only; meant to gate a plan (`backfill gaps` exits 1 when something is flagged).
//
//   * Tables: every `<ns>_live.<t>` of the project whose `dataset.table`, or its stable twin's
//     `<ns>_stable.<t>`, passes the filter (as copy-deduplicate selects them), and that twin when
//     it exists. Each needs a submission_timestamp column; tables without one are listed in
//     `skipped` and not read.
//   * Slots: each day of `dates` (and each UTC hour of it with kHour), rows counted by
//     submission_timestamp. Slots without any row are slots too (a lost hour has zero rows).
//     Slots that have not ended by the warehouse clock's now are left out (`not_ended`): their
//     rows are still arriving. Days not over yet are not compared with their stable day either.
//   * Baseline days: the `baseline_days` days before the range's first day and the
//     `baseline_days` days after its last, of those the ones that are over by the clock and on
//     which the table holds at least one row. Days with no row at all are not data (not loaded yet,
//     expired, before the table existed) and would make every slot look normal or missing; within a
//     baseline day an hour without rows counts as 0.
//   * Baseline of a slot: the median of the same slot (same hour, or the whole day) over the
//     table's baseline days. The median, not the mean, so that one baseline day hit by the same
//     incident, or one spike, does not move it. No baseline day: the slot has no baseline and is
//     not judged (the report says so; it is not a hole).
//   * Hole: baseline > 0 and rows < threshold * baseline.
//   * Disagreement: a day of `dates` where a stable table's rows differ from the documents
//     copy-deduplicate keeps from its live day: distinct non-NULL document_ids not tagged
//     `automation` (replay_internal::DedupCandidate, the rule's own predicate). Simplification:
//     `--preceding-days` is taken as 0 (its default), so a stable day built with N > 0 may hold
//     fewer rows than counted here. Tables named `*beam_load_sink*` are not compared (the rule
//     skips them).
//
// Reading: one query per table for the slots (submission_timestamp only) and, for a live table
// with a stable twin, one more for the documents (submission_timestamp, document_id and
// metadata.header.x_source_tags, a small RECORD stored natively). Never a whole row: wide tables
// keep their big RECORD columns encoded, and DuckDB prunes the columns a query does not read.
//
// Thread-safety: uses the Warehouse it is given from one thread. I/O: reads through Warehouse.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/names.h"
#include "core/status.h"
#include "core/time.h"
#include "recover/replay.h"
#include "warehouse/warehouse.h"

namespace backfill {

enum class GapsGranularity { kHour, kDay };
const char* GapsGranularityName(GapsGranularity g);  // "hour", "day"
Result<GapsGranularity> ParseGapsGranularity(const std::string& text);

enum class GapsKind { kLive, kStable };
const char* GapsKindName(GapsKind k);  // "live", "stable"

struct GapsOptions {
  std::string project;
  TableFilter filter;
  DateRange dates;
  int baseline_days = 7;  // >= 1, on each side of the range
  GapsGranularity by = GapsGranularity::kHour;
  double threshold = 0.8;  // in (0, 1]
};

struct GapsSlot {
  TableName table;
  GapsKind kind = GapsKind::kLive;
  Date day;
  int hour = -1;  // 0..23 with kHour; -1 with kDay
  int64_t rows = 0;
  std::optional<double> baseline;  // none: the table has no baseline day
  std::optional<double> ratio;     // rows / baseline, when baseline > 0
  bool hole = false;
};

struct GapsDisagreement {
  TableName live, stable;
  Date day;
  int64_t live_rows = 0;
  int64_t live_documents = 0;  // what copy-deduplicate would write
  int64_t stable_rows = 0;
};

struct GapsTable {
  TableName name;
  GapsKind kind = GapsKind::kLive;
  std::vector<Date> baseline_days;       // the candidate days that hold rows, sorted
  std::map<Date, int64_t> rows_per_day;  // every day read (range and candidates) holding rows
};

struct GapsReport {
  GapsOptions options;
  std::vector<Date> candidate_baseline_days;  // before and after the range, sorted
  std::vector<GapsTable> tables;              // live, then its stable twin
  std::vector<GapsSlot> slots;                // by table, then day and hour
  std::vector<GapsDisagreement> disagreements;
  std::vector<std::string> skipped;  // tables not read, each with why
  int64_t not_ended = 0;             // slots left out: not over by the clock's now

  // A slot below its baseline, or a stable day disagreeing with its live day: records are
  // missing somewhere.
  bool HasHole() const;
  std::vector<GapsSlot> Holes() const;
  // Slots judged against a baseline (the others had no baseline day).
  int64_t CheckedSlots() const;
  // Tables with no baseline day at all (their slots are not judged).
  std::vector<TableName> TablesWithoutBaseline() const;
};

// Counts and compares (see the top of this file). kNotFound when the project has no matching
// live table.
Result<GapsReport> Gaps(Warehouse& warehouse, const GapsOptions& options);

// The same queries as GoogleSQL for BigQuery, table by table: `slots` counts rows per slot over
// the range and its candidate baseline days, `documents` (live tables with a stable twin only)
// counts the documents per day of the range. The comparison itself is left to the reader.
struct GapsQuery {
  TableName table;
  GapsKind kind = GapsKind::kLive;
  std::string what;  // "slots" or "documents"
  std::string sql;
};
Result<std::vector<GapsQuery>> RenderGapsBigQuery(Warehouse& warehouse, const GapsOptions& options);

}  // namespace backfill
