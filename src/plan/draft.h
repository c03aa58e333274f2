// An error-replay plan drafted from the evidence: the JSON document of `backfill errors
// summarize --by table,day[,error_type] --format json` (ingest/error_summary.h) says which
// tables and days lost records to error output and why; the draft replays the replayable ones.
//
// What is replayed: groups of class infrastructure (good records hit by a rate limit, a lookup
// or a timeout); with include_unclassified also unclassified ones (ingestion-sink's raw error
// output keeps no reason, so only a person can decide, narrowing with `filter`); never class
// data (they would fail again). From those groups:
//   - days: one stage, append and copy-deduplicate step per run of consecutive days, so a day
//     between two incident days is never replayed by accident;
//   - tables: `only` lists exactly the live tables that lost records (mirror, append,
//     copy-deduplicate);
//   - sink filters: `where = document_namespace=...` for their namespaces (the dataset
//     `<namespace>_live` with '_' read as '-', as namespaces are written), and `error_type` when
//     the summary was grouped by it and every replayed group has one;
//   - inputs: a summary of one folder is staged from it (relative to the plan's folder);
//     otherwise the sink reads the summary's inputs directly.
// Every value is followed by a comment saying where it came from, and what was left out (and
// why) is listed at the top. The draft is checked with ParsePlan before it is returned.
//
// Pure except for reading whether the inputs are folders; thread-compatible.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "core/time.h"
#include "recover/replay.h"

namespace backfill {

struct DraftOptions {
  std::string summary_file;        // named in the draft and in errors
  std::filesystem::path plan_dir;  // the folder the plan is written to
  std::string project = "moz-fx-data-shared-prod";
  std::string backfill_project = "moz-fx-data-backfill-1";
  TableFilter filter;  // over the summary's "dataset.table" names
  bool include_unclassified = false;
  std::string author;
  std::string command;  // the command line that drafted it, quoted at the top of the draft
};

struct Draft {
  std::string text;                 // the plan file
  std::vector<std::string> tables;  // "dataset.table" replayed
  std::vector<DateRange> ranges;    // runs of consecutive days
  int64_t records = 0;              // records of the replayed groups
};

// kInvalidArgument, naming the summary file, when it is not grouped by table and day or holds
// nothing to replay (with the counts per class and what to do).
Result<Draft> DraftErrorReplay(const nlohmann::ordered_json& summary, const DraftOptions& options);

}  // namespace backfill
