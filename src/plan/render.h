// Rendering a plan for BigQuery: the same recovery as numbered GoogleSQL files and a `run.sh`
// of `bq` and `gcloud storage` commands, for warehouses that live in BigQuery and Cloud Storage,
// ready to paste into a review ticket.
//
// Each step is rendered the way the embedded step behaves (recover/), with BigQuery's means:
//   stage             `gcloud storage rsync --checksums-only` of each error-output day folder
//   mirror            `bq mk` of the datasets (access copied) and tables (schema from production,
//                     partitioning and clustering from the catalog), then a schema comparison
//   sink              gcp-ingestion's Beam Sink over the staged files (error_type / error_message
//                     filters applied first with jq, since the Sink replays all it reads)
//   append            INSERT ... SELECT with a NOT EXISTS anti-join on (document_id, day)
//   copy-deduplicate  a guard query (empty live day vs stable rows), then per table and day
//                     bigquery-etl's copy_deduplicate query (recover/replay.h has the rule) written
//                     with `--destination_table 'p:d_stable.t$YYYYMMDD' --replace`; with slices
//                     (or hourly) one CREATE TABLE per time slice, then one `bq cp` of the day
//   rerun             a guard query over the query's sources, then the table's query per day with
//                     `--parameter=submission_date:DATE:...` into `t$YYYYMMDD` with --replace
//   snapshot          CREATE TABLE ... PARTITION BY ... CLUSTER BY ... AS SELECT * FROM t
//                     FOR SYSTEM_TIME AS OF TIMESTAMP '...'
//   restore           INSERT of the snapshot's days missing from the target (anti-join on days);
//                     with replace_partial, differing days are deleted first
//   validate          per-day row counts and order-independent checksums of both tables; the
//                     query raises ERROR() when they differ. After a restore of the same pair,
//                     only the restored days (plan.h RestoredDaysOf)
// Every bq job runs with --project_id of the billing project when there is one.
//   drop, cleanup     DROP TABLE; cleanup also `gcloud storage rm -r` of the staged day folders
//
// Globs (`only`/`exclude`) and schemas are expanded against a catalog: the embedded warehouse,
// with the tables that earlier steps of the plan create (mirror, snapshot) or drop applied as
// the rendering goes, so a plan renders before it has run. A project that neither exists nor
// is created by an earlier step is an error naming it and the step.
//
// Pure apart from reading the catalog through Warehouse (read-only use): the caller writes the
// files. Not thread-safe (the Warehouse is not).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "plan/plan.h"
#include "warehouse/warehouse.h"

namespace backfill {

struct RenderOptions {
  // Local path prefix (as written in the plan) -> Cloud Storage URL ("gs://bucket/prefix").
  // Paths of stage/sink/cleanup steps without a mapping become variables at the top of run.sh
  // that must be set before it runs.
  std::map<std::string, std::string> bucket_map;
  std::string plan_file;  // named in the generated comments
  // Where every bq job and the Dataflow job run and are billed (bq --project_id), as
  // bigquery-etl's --billing-project; empty: the plan's billing_project, else each job runs in
  // the project of the data it writes. Table names stay fully qualified either way.
  std::string billing_project;
};

struct RenderedFile {
  std::string name;  // relative to the output directory: "03-append-telemetry_live.main_v4.sql"
  std::string content;
  int step = 0;  // 1-based plan step it belongs to; 0 for run.sh and README.md
  // How run.sh runs a .sql file, for the analyzer: the project unqualified names resolve in
  // (empty: every name is qualified) and its query parameters (name -> GoogleSQL type).
  std::string default_project = {};
  std::map<std::string, std::string> parameters = {};
  bool is_sql() const { return name.size() > 4 && name.compare(name.size() - 4, 4, ".sql") == 0; }
};

struct RenderedPlan {
  std::vector<RenderedFile> files;  // the SQL files in execution order, then run.sh and README.md
  // Every table the SQL files read or write that exists before they run (in the warehouse, or
  // made by a step without SQL: mirror's `bq mk`), as the catalog for checking them.
  std::vector<TableInfo> tables;
};

Result<RenderedPlan> RenderBigQuery(const Plan& plan, Warehouse& catalog,
                                    const RenderOptions& options = {});

// "LOCAL=gs://bucket/prefix" -> (LOCAL, URL), for --bucket-map.
Result<std::pair<std::string, std::string>> ParseBucketMapping(const std::string& text);

}  // namespace backfill
