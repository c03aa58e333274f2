// The BigQuery SQL subset run statement by statement on a real warehouse: each statement
// must read or write through the same storage (time-travelable, access-checked, audited).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "testing/testing.h"
#include "testing/warehouse_testing.h"
#include "warehouse/warehouse.h"

namespace backfill {
namespace {

using namespace std::chrono_literals;

class WarehouseSqlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = testing::CreateTestWarehouse(dir_.path(), clock_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    w_ = std::move(w).value();
    ASSERT_TRUE(w_->CreateProject("moz-fx-data-shared-prod").ok());
    ASSERT_TRUE(w_->CreateDataset({"moz-fx-data-shared-prod", "telemetry_live"}, {}).ok());
    ASSERT_TRUE(w_->CreateDataset({"moz-fx-data-shared-prod", "telemetry_stable"}, {}).ok());
    TableOptions o;
    o.schema = *ParseBqSchema(R"([
      {"name":"submission_timestamp","type":"TIMESTAMP"},{"name":"document_id","type":"STRING"},
      {"name":"sample_id","type":"INT64"},{"name":"payload","type":"STRING"}])",
                              "t.bq");
    o.partition_by = "submission_timestamp";
    ASSERT_TRUE(w_->CreateTable(live_, o).ok());
    ASSERT_TRUE(w_->CreateTable(stable_, o).ok());
    // Two days, with a duplicate document on the first day (later copy has payload 'dup').
    Run("INSERT INTO `moz-fx-data-shared-prod.telemetry_live.main_v5` "
        "SELECT TIMESTAMP '2020-03-17 01:00:00+00', 'a', 1, 'x' UNION ALL "
        "SELECT TIMESTAMP '2020-03-17 02:00:00+00', 'a', 1, 'dup' UNION ALL "
        "SELECT TIMESTAMP '2020-03-17 03:00:00+00', 'b', 2, 'x' UNION ALL "
        "SELECT TIMESTAMP '2020-03-18 03:00:00+00', 'c', 3, 'x'");
  }

  std::vector<StatementResult> Run(const std::string& sql) {
    auto r = w_->ExecuteSql(sql, "moz-fx-data-shared-prod");
    EXPECT_TRUE(r.ok()) << sql << "\n-> " << r.status().ToString();
    return r.ok() ? *r : std::vector<StatementResult>{};
  }
  std::string One(const std::string& sql) {
    auto r = Run(sql);
    if (r.empty() || r.back().rows.empty() || r.back().rows[0][0].is_null()) return "<none>";
    return JsonCellText(r.back().rows[0][0], "<none>");
  }

  testing::TempDir dir_;
  FixedClock clock_{*ParseTimestamp("2020-03-19T10:00:00Z")};
  std::unique_ptr<Warehouse> w_;
  TableName live_{"moz-fx-data-shared-prod", "telemetry_live", "main_v5"};
  TableName stable_{"moz-fx-data-shared-prod", "telemetry_stable", "main_v5"};
};

TEST_F(WarehouseSqlTest, BacktickedAndTwoPartNames) {
  EXPECT_EQ(One("SELECT count(*) FROM `moz-fx-data-shared-prod.telemetry_live.main_v5`"), "4");
  EXPECT_EQ(One("SELECT count(*) FROM `moz-fx-data-shared-prod`.telemetry_live.main_v5"), "4");
  EXPECT_EQ(One("SELECT count(*) FROM telemetry_live.main_v5"), "4");
  // Values come back as text, timestamps included.
  EXPECT_EQ(One("SELECT submission_timestamp FROM telemetry_live.main_v5 WHERE document_id = 'b'"),
            "2020-03-17T03:00:00.000000Z");
}

TEST_F(WarehouseSqlTest, CurrentTimestampAndDateFunctionsUseTheClock) {
  EXPECT_EQ(One("SELECT CAST(DATE(CURRENT_TIMESTAMP()) AS STRING)"), "2020-03-19");
  EXPECT_EQ(One("SELECT CAST(DATE_SUB(DATE(CURRENT_TIMESTAMP()), INTERVAL 2 DAY) AS STRING)"),
            "2020-03-17");
  EXPECT_EQ(One("SELECT CAST(DATE_ADD(DATE '2020-02-28', INTERVAL 1 DAY) AS STRING)"),
            "2020-02-29");
  EXPECT_EQ(
      One("SELECT count(*) FROM telemetry_live.main_v5 "
          "WHERE submission_timestamp > TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 36 HOUR)"),
      "1");
  EXPECT_EQ(One("SELECT count(*) FROM telemetry_live.main_v5 WHERE DATE(submission_timestamp) = "
                "\"2020-03-17\""),
            "3");
}

TEST_F(WarehouseSqlTest, SelectExceptAndQualifyDeduplicate) {
  auto r = Run("SELECT * EXCEPT (payload, sample_id) FROM telemetry_live.main_v5 LIMIT 1");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].columns, (std::vector<std::string>{"submission_timestamp", "document_id"}));
  EXPECT_EQ(One("SELECT count(*) FROM (SELECT * FROM telemetry_live.main_v5 WHERE "
                "DATE(submission_timestamp) = "
                "'2020-03-17' QUALIFY ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY "
                "submission_timestamp) = 1)"),
            "2");
}

TEST_F(WarehouseSqlTest, InsertSelectWithNotInAntiJoinIsIdempotent) {
  const char* append =
      "INSERT INTO telemetry_stable.main_v5 SELECT * FROM telemetry_live.main_v5 WHERE document_id "
      "NOT IN "
      "(SELECT DISTINCT document_id FROM telemetry_stable.main_v5) "
      "QUALIFY ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY submission_timestamp) = 1";
  auto first = Run(append);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].rows_affected, 3);
  auto second = Run(append);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].rows_affected, 0);
  EXPECT_EQ(One("SELECT payload FROM telemetry_stable.main_v5 WHERE document_id = 'a'"), "x");
}

TEST_F(WarehouseSqlTest, InsertWithColumnListFillsTheRestWithNull) {
  Run("INSERT INTO telemetry_live.main_v5 (document_id, submission_timestamp) "
      "SELECT 'z', TIMESTAMP '2020-03-18 05:00:00+00'");
  EXPECT_EQ(One("SELECT coalesce(CAST(sample_id AS STRING), 'null') FROM telemetry_live.main_v5 "
                "WHERE document_id = 'z'"),
            "null");
}

TEST_F(WarehouseSqlTest, DeleteIsTimeTravelableWithForSystemTimeAsOf) {
  clock_.Advance(1h);
  auto r = Run("DELETE FROM telemetry_live.main_v5 WHERE document_id = 'a'");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].rows_affected, 2);
  clock_.Advance(1h);
  EXPECT_EQ(One("SELECT count(*) FROM telemetry_live.main_v5"), "2");
  EXPECT_EQ(One("SELECT count(*) FROM telemetry_live.main_v5 FOR SYSTEM_TIME AS OF "
                "TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 MINUTE)"),
            "4");
  EXPECT_EQ(One("SELECT count(*) FROM `moz-fx-data-shared-prod.telemetry_live.main_v5` AS t FOR "
                "SYSTEM_TIME AS OF "
                "TIMESTAMP '2020-03-19 10:30:00+00' WHERE t.document_id = 'a'"),
            "2");
}

TEST_F(WarehouseSqlTest, AsOfOutsideTheWindowIsRefusedWithTheEarliestTime) {
  auto r = w_->ExecuteSql(
      "SELECT count(*) FROM telemetry_live.main_v5 FOR SYSTEM_TIME AS OF "
      "TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 8 DAY)",
      "moz-fx-data-shared-prod");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kRefused);
  EXPECT_NE(r.status().message().find("earliest readable time is 2020-03-12T10:00:00Z"),
            std::string::npos)
      << r.status().message();
}

TEST_F(WarehouseSqlTest, CreateTableAsSelectThenDropAndUndrop) {
  auto r =
      Run("CREATE TABLE telemetry_stable.counts AS (SELECT DATE(submission_timestamp) AS "
          "submission_date, "
          "count(*) AS n FROM telemetry_live.main_v5 GROUP BY 1)");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].rows_affected, 2);
  auto info = w_->DescribeTable({"moz-fx-data-shared-prod", "telemetry_stable", "counts"});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->options.schema.fields[0].type, FieldType::kDate);
  EXPECT_EQ(info->options.schema.fields[1].type, FieldType::kInt64);
  clock_.Advance(1h);
  Run("DROP TABLE telemetry_stable.counts");
  EXPECT_FALSE(w_->TableExists({"moz-fx-data-shared-prod", "telemetry_stable", "counts"}));
  EXPECT_EQ(One("SELECT sum(n) FROM telemetry_stable.counts FOR SYSTEM_TIME AS OF "
                "TIMESTAMP_SUB(CURRENT_TIMESTAMP(), "
                "INTERVAL 30 MINUTE)"),
            "4");
  Run("DROP TABLE IF EXISTS telemetry_stable.counts");
  ASSERT_TRUE(w_->UndropTable({"moz-fx-data-shared-prod", "telemetry_stable", "counts"}).ok());
  EXPECT_EQ(One("SELECT sum(n) FROM telemetry_stable.counts"), "4");
}

TEST_F(WarehouseSqlTest, UnsupportedConstructIsNamedAndChangesNothing) {
  auto r = w_->ExecuteSql("TRUNCATE TABLE telemetry_live.main_v5", "moz-fx-data-shared-prod");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "statement 1: unsupported in backfill's BigQuery subset: statement TRUNCATE TABLE "
            "(at 1:1)");
  EXPECT_EQ(One("SELECT count(*) FROM telemetry_live.main_v5"), "4");
}

TEST_F(WarehouseSqlTest, WritesAreAuditedWithTheUsersStatement) {
  const std::string stmt = "DELETE FROM telemetry_live.main_v5 WHERE sample_id = 3";
  Run(stmt);
  auto audit = w_->Audit("moz-fx-data-shared-prod");
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->back().action, "delete");
  EXPECT_EQ(audit->back().statement, stmt);
  EXPECT_EQ(audit->back().rows, 1);
}

TEST_F(WarehouseSqlTest, RestrictedTablesAreRefusedThroughSqlToo) {
  DatasetOptions secret;
  secret.restricted = true;
  ASSERT_TRUE(w_->CreateDataset({"moz-fx-data-shared-prod", "secret"}, secret).ok());
  Run("CREATE TABLE secret.copy AS (SELECT * FROM telemetry_live.main_v5)");
  w_.reset();
  auto w = Warehouse::Open(dir_.path(), {"mallory", &clock_, false, std::nullopt, "test"});
  ASSERT_TRUE(w.ok());
  auto r = (*w)->ExecuteSql("SELECT count(*) FROM secret.copy", "moz-fx-data-shared-prod");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
}

TEST(WarehouseSqlStatic, ClassifiesScriptsThatWrite) {
  EXPECT_FALSE(*Warehouse::SqlScriptWrites("SELECT 1; SELECT 'insert'", "p"));
  EXPECT_TRUE(*Warehouse::SqlScriptWrites("SELECT 1; delete from d.t where true", "p"));
}

}  // namespace
}  // namespace backfill
