// Test helper: a fresh warehouse in a directory, opened for writing. Test-only; header-only so
// that only the test binaries that use it link the warehouse.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "core/schema.h"
#include "warehouse/warehouse.h"

namespace backfill::testing {

// Creates a warehouse in `dir` whose owner is `principal` (plus `others` with their roles), with
// no lock wait, and opens it for writing as `principal`.
inline Result<std::unique_ptr<Warehouse>> CreateTestWarehouse(
    const std::filesystem::path& dir, const Clock& clock, const std::string& principal = "alice",
    const std::map<std::string, Role>& others = {}) {
  WarehouseConfig config;
  config.principals = others;
  config.principals[principal] = Role::kOwner;
  config.lock_timeout_seconds = 0;
  BF_RETURN_IF_ERROR(Warehouse::Init(dir, config));
  return Warehouse::Open(dir, {principal, &clock, true, std::nullopt, "test"});
}

// A derived table to lose and rescue: `table` (its project and dataset created), partitioned by
// submission_date, with 10 rows on each of 2020-01-01..03, each day its own write.
inline Status CreateThreeDayTable(Warehouse& w, const TableName& table) {
  BF_RETURN_IF_ERROR(w.CreateProject(table.project));
  BF_RETURN_IF_ERROR(w.CreateDataset({table.project, table.dataset}, {}));
  TableOptions o;
  BF_ASSIGN_OR_RETURN(
      o.schema,
      ParseBqSchema(R"([{"name":"submission_date","type":"DATE"},{"name":"n","type":"INT64"}])",
                    "t.bq"));
  o.partition_by = "submission_date";
  BF_RETURN_IF_ERROR(w.CreateTable(table, o));
  for (int d = 1; d <= 3; ++d) {
    BF_RETURN_IF_ERROR(
        w.Append(table, "SELECT DATE '2020-01-0" + std::to_string(d) + "', i FROM range(10) t(i)")
            .status());
  }
  return Status::Ok();
}

}  // namespace backfill::testing
