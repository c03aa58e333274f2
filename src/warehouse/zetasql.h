// GoogleSQL checked by ZetaSQL, Google's analyzer behind BigQuery: a catalog of table schemas
// (catalog.json) and a run of scripts/check-zetasql.mjs over SQL files, which starts ZetaSQL's
// LocalService server on loopback (npm @fivetrandevelopers/zetasql, installed into
// .deps/zetasql by scripts/bootstrap.sh), resolves every name against the catalog and type-checks
// every statement. Used by `render` for the files it writes; meant for `sql --check` too.
//
// The analyzer is optional: ZetaSqlUnavailable() says why it cannot run (no node, the checker
// or the package missing) and callers report "not checked". Found through
// BACKFILL_ZETASQL_MODULES (a node_modules folder holding the package) and
// BACKFILL_ZETASQL_CHECKER (the script), else next to the source tree the binary was built from.
//
// I/O: CheckWithZetaSql runs node as a child process (one server for all files) and reads its
// JSON report; the rest is pure. Thread-safe (no shared state).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "warehouse/warehouse.h"

namespace backfill {

// How one SQL file is run: unqualified `dataset.table` names resolve in `default_project`
// (bq --project_id), and `parameters` are its query parameters (name -> GoogleSQL type).
struct ZetaSqlFile {
  std::string
      name;  // relative to the catalog's folder, e.g. "03-append-telemetry_live.main_v4.sql"
  std::string default_project;
  std::map<std::string, std::string> parameters;
};

// catalog.json: every table as `project.dataset.table` with its BigQuery JSON schema,
// partitioning and clustering, and the files in the order they run.
std::string ZetaSqlCatalogJson(const std::vector<TableInfo>& tables,
                               const std::vector<ZetaSqlFile>& files);

struct ZetaSqlError {
  std::string file;  // as given to the checker
  int line = 0;      // 1-based, in the file; 0 when the file could not be read
  int column = 0;
  std::string message;  // the analyzer's, e.g. "Unrecognized name: x"
};

struct ZetaSqlReport {
  int files = 0;
  int statements = 0;
  std::vector<ZetaSqlError> errors;  // empty: every statement analyzed
  double seconds = 0;                // the whole run, server start included
  bool ok() const { return errors.empty(); }
};

// Why the analyzer cannot run here, or nullopt when it can.
std::optional<std::string> ZetaSqlUnavailable();

// Analyzes the files `catalog` lists (its folder), in order. An error Status only when the check
// itself could not run (the catalog unreadable, the server not starting); SQL errors are in the
// report.
Result<ZetaSqlReport> CheckWithZetaSql(const std::filesystem::path& catalog);

// Analyzes one script as `bq query` would run it (`sql --check`): `sql` holds statements
// separated by ';', two-part names resolve in `file.default_project`, @parameters have the
// GoogleSQL types `file.parameters` gives. The catalog and the script are written into a fresh
// temporary folder, removed afterwards; error lines and columns are the script's. Errors as
// CheckWithZetaSql's.
Result<ZetaSqlReport> CheckSqlWithZetaSql(const std::string& sql,
                                          const std::vector<TableInfo>& tables,
                                          const ZetaSqlFile& file);

}  // namespace backfill
