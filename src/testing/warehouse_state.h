// Test helper: the contents of every table of every project of a warehouse directory, per
// partition (rows and content checksum), to show that a command changed no table anywhere.
// Test-only; header-only, for test binaries that link recover/.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "core/time.h"
#include "recover/rescue.h"
#include "warehouse/warehouse.h"

namespace backfill::testing {

// "project.dataset.table" -> "exists" and "project.dataset.table@day" -> "<rows> <checksum>",
// read (read-only, as `principal` at `now`) from the warehouse in `dir`.
inline std::map<std::string, std::string> TableContents(const std::filesystem::path& dir,
                                                        const std::string& now,
                                                        const std::string& principal) {
  FixedClock clock(*ParseTimestamp(now));
  auto w = Warehouse::Open(dir, {principal, &clock, false, std::nullopt, "test"});
  EXPECT_TRUE(w.ok()) << w.status().message();
  std::map<std::string, std::string> out;
  if (!w.ok()) return out;
  for (const auto& p : (*w)->ListProjects()) {
    auto datasets = (*w)->ListDatasets(p);
    EXPECT_TRUE(datasets.ok()) << p;
    for (const auto& ds : datasets.ok() ? *datasets : std::vector<DatasetInfo>{}) {
      auto tables = (*w)->ListTables(ds.name);
      EXPECT_TRUE(tables.ok()) << ds.name.ToString();
      for (const auto& t : tables.ok() ? *tables : std::vector<std::string>{}) {
        TableName name{p, ds.name.dataset, t};
        auto info = (*w)->DescribeTable(name);
        EXPECT_TRUE(info.ok()) << name.ToString();
        if (!info.ok()) continue;
        auto digests = DigestPartitions(**w, name, *info, std::nullopt);
        EXPECT_TRUE(digests.ok()) << name.ToString();
        out[name.ToString()] = "exists";
        if (!digests.ok()) continue;
        for (const auto& [day, d] : *digests) {
          out[name.ToString() + "@" + (day ? FormatDate(*day) : "-")] =
              std::to_string(d.rows) + " " + d.checksum;
        }
      }
    }
  }
  return out;
}

}  // namespace backfill::testing
