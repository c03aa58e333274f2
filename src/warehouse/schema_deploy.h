// Deploys a tree of BigQuery schemas laid out <namespace>/<doctype>/<doctype>.<version>.bq as
// live and stable tables, the way the telemetry pipeline lays out its warehouse:
//   <namespace>_live.<doctype>_v<version>    partitioned on DATE(submission_timestamp),
//                                            clustered on submission_timestamp
//   <namespace>_stable.<doctype>_v<version>  same schema, partitioned the same way, clustered
//                                            on normalized_channel, sample_id where present
// ('-' becomes '_' in names). A live table whose schema is a Glean ping's with a client id
// (client_info.client_id) gets the table property `glean` = "true" (kGleanProperty), as the
// pipeline's generator gives such tables the label include_client_id = "true": copy-deduplicate
// reads it for the geo deprecation. The property is set when the table is created or has none;
// a value set since (`backfill table update --no-glean`) is kept. Idempotent: existing tables with
// the same schema are reported unchanged; a schema that differs is reported with its differences
// and never altered.
//
// I/O: reads the schema files; writes through the Warehouse.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "warehouse/warehouse.h"

namespace backfill {

// The table property copy-deduplicate reads to know a live table is a Glean ping ("true").
inline constexpr char kGleanProperty[] = "glean";

// Whether a schema is a Glean ping's that includes the client id (client_info.client_id).
bool IsGleanSchema(const Schema& schema);

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
Result<DeployReport> DeploySchemas(Warehouse& warehouse, const std::filesystem::path& dir,
                                   const std::string& project);

}  // namespace backfill
