// The ZetaSQL check through the real analyzer (scripts/check-zetasql.mjs and the LocalService
// server of .deps/zetasql): BigQuery-typed schemas in the catalog, names resolved and types
// checked (refusals carry the analyzer's message and position), tables a CREATE TABLE AS SELECT
// makes visible to later files, DROP TABLE, parameters and default projects.
#include "warehouse/zetasql.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/schema.h"
#include "testing/testing.h"

namespace backfill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TableInfo Table(const std::string& name, const std::string& schema_json) {
  TableInfo t;
  t.name = *ParseTableName(name);
  auto schema = ParseBqSchema(schema_json, name);
  EXPECT_TRUE(schema.ok()) << schema.status().ToString();
  t.options.schema = *schema;
  t.options.partition_by = "submission_timestamp";
  t.partition_kind = PartitionKind::kTimestamp;
  return t;
}

// Every BigQuery type a Mozilla table uses, nested and repeated.
constexpr const char* kSchema = R"([
  {"name": "submission_timestamp", "type": "TIMESTAMP", "mode": "NULLABLE"},
  {"name": "document_id", "type": "STRING", "mode": "NULLABLE"},
  {"name": "submission_date", "type": "DATE", "mode": "NULLABLE"},
  {"name": "payload", "type": "RECORD", "mode": "NULLABLE", "fields": [
    {"name": "amount", "type": "NUMERIC", "mode": "NULLABLE"},
    {"name": "big", "type": "BIGNUMERIC", "mode": "NULLABLE"},
    {"name": "raw", "type": "BYTES", "mode": "NULLABLE"},
    {"name": "extra", "type": "JSON", "mode": "NULLABLE"},
    {"name": "events", "type": "RECORD", "mode": "REPEATED", "fields": [
      {"name": "category", "type": "STRING", "mode": "NULLABLE"},
      {"name": "timestamp", "type": "INTEGER", "mode": "NULLABLE"}]}]},
  {"name": "tags", "type": "STRING", "mode": "REPEATED"},
  {"name": "ratio", "type": "FLOAT", "mode": "NULLABLE"},
  {"name": "ok", "type": "BOOLEAN", "mode": "NULLABLE"}
])";

TEST(ZetaSqlTest, AnalyzesNamesAndTypesAndRefusesWhatBigQueryWouldWithItsMessage) {
  if (auto why = ZetaSqlUnavailable())
    FAIL() << "ZetaSQL is not installed (run scripts/bootstrap.sh): " << *why;
  testing::TempDir dir;
  std::vector<TableInfo> tables{Table("moz-fx-data-shared-prod.telemetry_live.event_v4", kSchema)};
  std::vector<ZetaSqlFile> files{
      {"01-good.sql", "", {}},
      {"02-ctas.sql", "", {}},
      {"03-params.sql", "moz-fx-data-shared-prod", {{"submission_date", "DATE"}}},
      {"04-bad.sql", "", {}},
      {"05-after-drop.sql", "", {}}};
  testing::WriteFile(dir.path() / "catalog.json", ZetaSqlCatalogJson(tables, files));
  // Every type used as BigQuery types it: NUMERIC arithmetic, BYTES, JSON, arrays of structs.
  testing::WriteFile(
      dir.path() / "01-good.sql",
      "-- a comment; with a semicolon\n"
      "SELECT e.payload.amount + NUMERIC '1.5' AS amount, e.payload.big * 2 AS big,\n"
      "  LENGTH(e.payload.raw) AS raw_bytes, JSON_VALUE(e.payload.extra, '$.a') AS a,\n"
      "  (SELECT COUNT(*) FROM UNNEST(e.payload.events) AS ev WHERE ev.category = 'x') AS n,\n"
      "  ARRAY_LENGTH(e.tags) AS tags, DATE(e.submission_timestamp) = e.submission_date AS same\n"
      "FROM `moz-fx-data-shared-prod.telemetry_live.event_v4` AS e\n"
      "WHERE e.ok AND e.ratio > 0.5\n"
      "QUALIFY ROW_NUMBER() OVER (PARTITION BY e.document_id ORDER BY TO_JSON_STRING(e)) = 1;\n");
  // A snapshot by CREATE TABLE AS SELECT ... FOR SYSTEM_TIME AS OF, then read: the analyzer
  // derived its columns. A script with a variable and ERROR() as the guards use it.
  testing::WriteFile(
      dir.path() / "02-ctas.sql",
      "DECLARE n INT64;\n"
      "CREATE TABLE `moz-fx-data-backfill-1.rescue.event_v4`\n"
      "PARTITION BY DATE(submission_timestamp)\nAS\n"
      "SELECT * FROM `moz-fx-data-shared-prod.telemetry_live.event_v4`\n"
      "  FOR SYSTEM_TIME AS OF TIMESTAMP '2020-04-01 02:30:00+00';\n"
      "SET n = (SELECT COUNT(*) FROM `moz-fx-data-backfill-1.rescue.event_v4`);\n"
      "SELECT IF(n > 0, ERROR(CONCAT('refused: ', CAST(n AS STRING))), 'ok') AS verdict;\n");
  testing::WriteFile(dir.path() / "03-params.sql",
                     "SELECT COUNT(*) FROM telemetry_live.event_v4\n"
                     "WHERE DATE(submission_timestamp) = @submission_date;\n"
                     "DROP TABLE `moz-fx-data-backfill-1.rescue.event_v4`;\n");
  testing::WriteFile(
      dir.path() / "04-bad.sql",
      "SELECT 1;\n"
      "SELECT payload.amount, no_such_column FROM "
      "`moz-fx-data-shared-prod.telemetry_live.event_v4`;\n"
      "SELECT document_id + 1 FROM `moz-fx-data-shared-prod.telemetry_live.event_v4`;\n"
      "SELECT * FROM telemetry_live.event_v4;\n");
  testing::WriteFile(dir.path() / "05-after-drop.sql",
                     "SELECT * FROM `moz-fx-data-backfill-1.rescue.event_v4`;\n");

  auto report = CheckWithZetaSql(dir.path() / "catalog.json");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->files, 5);
  EXPECT_EQ(report->statements, 1 + 4 + 2 + 4 + 1);
  std::string all;
  for (const auto& e : report->errors)
    all += fmt::format("{}:{}:{}: {}\n", e.file, e.line, e.column, e.message);
  ASSERT_EQ(report->errors.size(), 4u) << all;
  const auto& unknown = report->errors[0];
  EXPECT_EQ(fs::path(unknown.file).filename(), "04-bad.sql");
  EXPECT_EQ(unknown.line, 2);
  EXPECT_EQ(unknown.column, 24);
  EXPECT_EQ(unknown.message, "Unrecognized name: no_such_column");
  const auto& type = report->errors[1];
  EXPECT_EQ(type.line, 3);
  EXPECT_EQ(type.column, 8);
  EXPECT_THAT(
      type.message,
      StartsWith("No matching signature for operator + for argument types: STRING, INT64."));
  // No default project for this file: `dataset.table` does not resolve.
  EXPECT_EQ(report->errors[2].line, 4);
  EXPECT_EQ(report->errors[2].message, "Table not found: telemetry_live.event_v4");
  // The snapshot was dropped by 03: gone for 05.
  EXPECT_EQ(fs::path(report->errors[3].file).filename(), "05-after-drop.sql");
  EXPECT_EQ(report->errors[3].message, "Table not found: `moz-fx-data-backfill-1.rescue.event_v4`");
}

TEST(ZetaSqlTest, TheCatalogHoldsBigQuerySchemasAndHowEachFileRuns) {
  TableInfo t = Table("p.d.t", kSchema);
  t.options.cluster_by = {"document_id"};
  auto doc = nlohmann::json::parse(
      ZetaSqlCatalogJson({t}, {{"01-a.sql", "p", {{"submission_date", "DATE"}}}}));
  EXPECT_EQ(doc["tables"][0]["name"], "p.d.t");
  EXPECT_EQ(doc["tables"][0]["schema"], nlohmann::json::parse(SchemaToBqJson(t.options.schema)));
  EXPECT_EQ(doc["tables"][0]["time_partitioning"],
            nlohmann::json::parse(R"({"type":"DAY","field":"submission_timestamp"})"));
  EXPECT_EQ(doc["tables"][0]["clustering"]["fields"], nlohmann::json::parse(R"(["document_id"])"));
  EXPECT_EQ(doc["files"], nlohmann::json::parse(R"([{"name": "01-a.sql", "default_project": "p",)"
                                                R"( "parameters": {"submission_date": "DATE"}}])"));
}

TEST(ZetaSqlTest, WithoutTheAnalyzerTheCheckSaysWhyAndDoesNotRun) {
  testing::TempDir dir;
  const char* old = std::getenv("BACKFILL_ZETASQL_MODULES");
  std::string saved = old ? old : "";
  setenv("BACKFILL_ZETASQL_MODULES", (dir.path() / "node_modules").c_str(), 1);
  auto why = ZetaSqlUnavailable();
  auto report = CheckWithZetaSql(dir.path() / "catalog.json");
  if (old)
    setenv("BACKFILL_ZETASQL_MODULES", saved.c_str(), 1);
  else
    unsetenv("BACKFILL_ZETASQL_MODULES");
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("ZetaSQL is not installed"));
  EXPECT_THAT(*why, HasSubstr("run scripts/bootstrap.sh"));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace backfill
