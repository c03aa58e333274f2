#include "warehouse/config.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/files.h"

namespace backfill {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kNone:
      return "none";
    case Role::kReader:
      return "reader";
    case Role::kWriter:
      return "writer";
    case Role::kOwner:
      return "owner";
  }
  return "none";
}

Result<Role> ParseRole(std::string_view name) {
  if (name == "reader") return Role::kReader;
  if (name == "writer") return Role::kWriter;
  if (name == "owner") return Role::kOwner;
  return InvalidArgument(fmt::format("unknown role '{}' (expected reader, writer or owner)", name));
}

Role WarehouseConfig::RoleOf(const std::string& principal) const {
  auto it = principals.find(principal);
  return it == principals.end() ? Role::kNone : it->second;
}

Status ValidateTimeTravelHours(int hours) {
  if (hours < 48 || hours > 168 || hours % 24 != 0) {
    return InvalidArgument(fmt::format(
        "time-travel window {}h is not allowed: it must be 48..168 hours, a multiple of 24",
        hours));
  }
  return Status::Ok();
}

Result<WarehouseConfig> LoadConfig(const std::filesystem::path& file) {
  toml::table t;
  try {
    t = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return InvalidArgument(fmt::format("{}:{}:{}: {}", file.string(), e.source().begin.line,
                                       e.source().begin.column, e.description()));
  }
  WarehouseConfig c;
  if (auto h = t["warehouse"]["time_travel_hours"].value<int64_t>())
    c.time_travel_hours = static_cast<int>(*h);
  if (auto s = t["warehouse"]["lock_timeout_seconds"].value<int64_t>())
    c.lock_timeout_seconds = static_cast<int>(*s);
  BF_RETURN_IF_ERROR(ValidateTimeTravelHours(c.time_travel_hours).WithContext(file.string()));
  if (auto n = t["warehouse"]["wide_table_leaves"].value<int64_t>())
    c.wide.table_leaves = static_cast<int>(*n);
  if (auto n = t["warehouse"]["wide_column_leaves"].value<int64_t>())
    c.wide.column_leaves = static_cast<int>(*n);
  if (auto* principals = t["principals"].as_table()) {
    for (const auto& [name, value] : *principals) {
      auto role_name = value.value<std::string>();
      if (!role_name) {
        return InvalidArgument(
            fmt::format("{}: principals.{} must be a role string", file.string(), name.str()));
      }
      BF_ASSIGN_OR_RETURN(Role role, ParseRole(*role_name));
      c.principals[std::string(name.str())] = role;
    }
  }
  for (auto [key, list] :
       {std::pair{"skip_apps", &c.geo_skip_apps}, std::pair{"skip_tables", &c.geo_skip_tables}}) {
    const toml::node_view<toml::node> node = t["geo_deprecation"][key];
    if (!node) continue;
    const toml::array* a = node.as_array();
    bool ok = a != nullptr;
    for (size_t i = 0; ok && i < a->size(); ++i) {
      auto v = (*a)[i].value<std::string>();
      ok = v.has_value();
      if (ok) list->push_back(*v);
    }
    if (!ok) {
      return InvalidArgument(fmt::format("{}:{}: geo_deprecation.{} must be a list of strings",
                                         file.string(), node.node()->source().begin.line, key));
    }
  }
  return c;
}

Status SaveConfig(const WarehouseConfig& config, const std::filesystem::path& file) {
  toml::table principals;
  for (const auto& [name, role] : config.principals) principals.insert(name, RoleName(role));
  toml::table warehouse{{"time_travel_hours", config.time_travel_hours},
                        {"lock_timeout_seconds", config.lock_timeout_seconds}};
  if (config.wide.table_leaves != WideThresholds::kDefaultTableLeaves) {
    warehouse.insert("wide_table_leaves", config.wide.table_leaves);
  }
  if (config.wide.column_leaves != WideThresholds::kDefaultColumnLeaves) {
    warehouse.insert("wide_column_leaves", config.wide.column_leaves);
  }
  toml::table root{
      {"warehouse", warehouse},
      {"principals", principals},
  };
  if (!config.geo_skip_apps.empty() || !config.geo_skip_tables.empty()) {
    toml::array apps, tables;
    for (const auto& a : config.geo_skip_apps) apps.push_back(a);
    for (const auto& t : config.geo_skip_tables) tables.push_back(t);
    root.insert("geo_deprecation", toml::table{{"skip_apps", apps}, {"skip_tables", tables}});
  }
  // Sections other commands read from this file (e.g. [triage] rules of `errors summarize`) are
  // kept as they are: a `grant` must not drop them.
  if (std::error_code ec; std::filesystem::is_regular_file(file, ec)) {
    try {
      toml::table old = toml::parse_file(file.string());
      for (const auto& [key, node] : old) {
        if (root.contains(key.str()) || key.str() == "geo_deprecation") continue;
        node.visit([&, k = std::string(key.str())](const auto& v) { root.insert(k, v); });
      }
    } catch (const toml::parse_error& e) {
      return InvalidArgument(fmt::format("{}:{}:{}: {} (not rewritten)", file.string(),
                                         e.source().begin.line, e.source().begin.column,
                                         e.description()));
    }
  }
  std::ostringstream text;
  text << "# backfill warehouse configuration.\n"
          "# time_travel_hours: default window for new datasets (48..168, a multiple of 24).\n"
          "# principals: warehouse-wide roles (reader, writer, owner). Restricted datasets\n"
          "# ignore these and list their own readers, writers and owners.\n\n"
       << root << "\n";
  return WriteFileAtomically(file, text.str());
}

}  // namespace backfill
