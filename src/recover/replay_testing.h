// The fixture the replay step tests share (replay_test.cc, copy_deduplicate_test.cc): a real
// warehouse in a temporary directory, production P with live and stable tables and the backfill
// project Q. Test-only.
#pragma once

#include "recover/replay.h"

#include <filesystem>
#include <tuple>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "testing/testing.h"
#include "warehouse/schema_deploy.h"

namespace backfill::replay_testing {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

inline Timestamp T(const char* s) { return *ParseTimestamp(s); }
inline Date D(const char* s) { return *ParseDate(s); }

constexpr const char* kLiveSchema = R"([
  {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
  {"name":"document_id","type":"STRING","mode":"NULLABLE"},
  {"name":"normalized_channel","type":"STRING","mode":"NULLABLE"},
  {"name":"sample_id","type":"INT64","mode":"NULLABLE"},
  {"name":"payload","type":"STRING","mode":"NULLABLE"}
])";

// One row: (timestamp, document_id, payload); document_id "" means NULL.
struct Row {
  const char* ts;
  const char* doc;
  const char* payload;
};

inline std::string Values(const std::vector<Row>& rows) {
  std::string sql;
  for (const auto& r : rows) {
    sql += sql.empty() ? "SELECT * FROM (VALUES " : ", ";
    sql += fmt::format("(TIMESTAMPTZ '{}', {}, 'release', 1, '{}')", r.ts,
                       *r.doc ? QuoteString(r.doc) : "CAST(NULL AS VARCHAR)", r.payload);
  }
  return sql + ")";
}

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WarehouseConfig config;
    config.principals["alice"] = Role::kOwner;
    config.lock_timeout_seconds = 0;
    ASSERT_TRUE(Warehouse::Init(dir_ / "wh", config).ok());
    Reopen("alice");
    Ok(w_->CreateProject("prod"));
    Ok(w_->CreateDataset({"prod", "telemetry_live"}, {}));
    Ok(w_->CreateDataset({"prod", "telemetry_stable"}, {}));
    Ok(w_->CreateTable(live_, Options({"submission_timestamp"})));
    Ok(w_->CreateTable(stable_, Options({"normalized_channel", "sample_id"})));
  }

  static void Ok(const Status& s) { ASSERT_TRUE(s.ok()) << s.ToString(); }

  static TableOptions Options(std::vector<std::string> cluster, const char* schema = kLiveSchema) {
    TableOptions o;
    o.schema = *ParseBqSchema(schema, "test.bq");
    o.partition_by = "submission_timestamp";
    o.cluster_by = std::move(cluster);
    return o;
  }

  void Reopen(const std::string& principal) {
    w_.reset();
    auto w = Warehouse::Open(dir_ / "wh", {principal, &clock_, true, std::nullopt, "test"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    w_ = std::move(w).value();
  }

  void Insert(const TableName& t, const std::vector<Row>& rows) {
    auto st = w_->Append(t, Values(rows));
    ASSERT_TRUE(st.ok()) << st.status().ToString();
  }

  // "doc:payload" of a table's day, ordered, e.g. {"a:p1", "b:p2"}.
  std::vector<std::string> Docs(const TableName& t, const char* day,
                                std::optional<Timestamp> as_of = std::nullopt) {
    auto rel = w_->Relation(t, as_of);
    EXPECT_TRUE(rel.ok()) << rel.status().ToString();
    if (!rel.ok()) return {};
    auto r =
        w_->Query(fmt::format("SELECT coalesce(document_id, 'NULL') || ':' || payload FROM {} "
                              "WHERE CAST(submission_timestamp AS DATE) = DATE '{}' ORDER BY 1",
                              *rel, day));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    for (size_t i = 0; r.ok() && i < r->rows(); ++i) out.push_back(r->GetString(0, i));
    return out;
  }

  int64_t Rows(const TableName& t, const char* day) {
    return static_cast<int64_t>(Docs(t, day).size());
  }

  MirrorReport MirrorToQ(TableFilter filter = {}) {
    auto r = Mirror(*w_, {"prod", "backfill-q", filter});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : MirrorReport{};
  }

  testing::TempDir dir_;
  FixedClock clock_{T("2020-03-15T00:00:00Z")};
  std::unique_ptr<Warehouse> w_;
  TableName live_{"prod", "telemetry_live", "main_v1"};
  TableName stable_{"prod", "telemetry_stable", "main_v1"};
  TableName q_live_{"backfill-q", "telemetry_live", "main_v1"};
};

// --- mirror ---------------------------------------------------------------------------------

}  // namespace backfill::replay_testing
