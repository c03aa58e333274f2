// Test helper: a fresh warehouse in a directory, opened for writing. Test-only; header-only so
// that only the test binaries that use it link the warehouse.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

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

}  // namespace backfill::testing
