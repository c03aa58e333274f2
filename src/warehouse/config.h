// The warehouse's configuration file (`backfill.toml` at the warehouse root): defaults such as
// the time-travel window, and the principals with their warehouse-wide roles.
//
// Pure values plus Load/Save, which read and write that one file. Thread-compatible.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/wide.h"

namespace backfill {

// Roles order by power: a writer may read, an owner may write and administer.
enum class Role { kNone = 0, kReader = 1, kWriter = 2, kOwner = 3 };
const char* RoleName(Role role);
Result<Role> ParseRole(std::string_view name);

struct WarehouseConfig {
  static constexpr int kDefaultTimeTravelHours = 168;
  int time_travel_hours = kDefaultTimeTravelHours;  // 48..168, a multiple of 24
  // How long a writer waits for another process to release the warehouse.
  int lock_timeout_seconds = 30;
  std::map<std::string, Role> principals;
  // [geo_deprecation]: exceptions to copy-deduplicate's NULLing of metadata.geo.{city,
  // subdivision1,subdivision2} in Glean tables (bigquery-etl's bqetl_project.yaml keys).
  // skip_apps: namespaces (the dataset name without _live); skip_tables: table names without
  // their _vN suffix, e.g. "newtab".
  std::vector<std::string> geo_skip_apps;
  std::vector<std::string> geo_skip_tables;

  // Which new tables store their wide RECORD columns encoded (core/wide.h). Written to the file
  // only when they differ from the defaults; tests lower them to force the wide form.
  WideThresholds wide;

  Role RoleOf(const std::string& principal) const;
};

// Validates a time-travel window: 48..168 hours, a multiple of 24 (BigQuery's rule).
Status ValidateTimeTravelHours(int hours);

Result<WarehouseConfig> LoadConfig(const std::filesystem::path& file);
Status SaveConfig(const WarehouseConfig& config, const std::filesystem::path& file);

}  // namespace backfill
