// Deploys a tree of BigQuery schemas laid out <namespace>/<doctype>/<doctype>.<version>.bq as
// live and stable tables, the way the telemetry pipeline lays out its warehouse:
//   <namespace>_live.<doctype>_v<version>    partitioned on DATE(submission_timestamp),
//                                            clustered on submission_timestamp
//   <namespace>_stable.<doctype>_v<version>  same schema, partitioned the same way, clustered
//                                            on normalized_channel, sample_id where present
// ('-' becomes '_' in names). Idempotent: existing tables with the same schema are reported
// unchanged; a schema that differs is reported with its differences and never altered.
//
// I/O: reads the schema files; writes through the Warehouse.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "warehouse/warehouse.h"

namespace backfill {

struct DeployItem {
  TableName table;
  std::string source;  // the .bq file
  enum class Outcome { kCreated, kUnchanged, kDiffers, kFailed } outcome;
  std::vector<std::string> details;  // differences or the error
};

struct DeployReport {
  std::vector<DeployItem> items;
  int Count(DeployItem::Outcome o) const;
};

const char* DeployOutcomeName(DeployItem::Outcome o);

// Fails only when the tree cannot be read; per-table problems are items of the report.
Result<DeployReport> DeploySchemas(Warehouse& warehouse, const std::filesystem::path& dir, const std::string& project);

}  // namespace backfill
