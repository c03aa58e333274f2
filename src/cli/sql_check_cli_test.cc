// `backfill sql --check`: statements are analyzed by ZetaSQL (BigQuery's analyzer) against the
// warehouse's schemas before they run, so a rehearsal never passes on SQL that BigQuery would
// reject. And the derived-table queries of testdata/queries run on a warehouse with Mozilla's
// schemas deployed and analyze cleanly. Tests that need the analyzer skip, saying so, when
// scripts/bootstrap.sh has not installed it; the query corpus skips without ../shared/corpus.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/time.h"
#include "testing/cli_fixture.h"
#include "testing/testing.h"
#include "warehouse/warehouse.h"
#include "warehouse/zetasql.h"

namespace backfill {
namespace {

namespace fs = std::filesystem;
using testing::Has;
using testing::RunResult;
using Json = nlohmann::json;

const fs::path kQueries = fs::path(BACKFILL_SOURCE_DIR) / "testdata" / "queries";
const fs::path kCorpusSchemas = fs::path(BACKFILL_SOURCE_DIR) / "../shared/corpus/schemas";
const fs::path kIncidentLive = fs::path(BACKFILL_SOURCE_DIR) / "testdata" / "incident" / "live";

class SqlCheckCliTest : public testing::CliFixture {
 protected:
  void SetUp() override {
    UseWarehouse("alice", "2020-03-19T00:30:00Z");
    Ok({"init"});
    Ok({"project", "create", "p"});
    Ok({"dataset", "create", "p.ds"});
    Ok({"sql", "--project", "p", "CREATE TABLE ds.t AS SELECT 1 AS a, DATE '2020-03-01' AS d"});
  }
  static bool Analyzer() { return !ZetaSqlUnavailable().has_value(); }
};

TEST_F(SqlCheckCliTest, UnknownColumnIsRefusedWithTheAnalyzersMessageAndPosition) {
  if (!Analyzer()) GTEST_SKIP() << "ZetaSQL is not installed: " << *ZetaSqlUnavailable();
  RunResult r = Run({"sql", "--check", "--project", "p", "SELECT a,\n  b FROM ds.t"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(Has(r.err, "BigQuery would reject this SQL")) << r.err;
  EXPECT_TRUE(Has(r.err, "Unrecognized name: b (at 2:3)")) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(SqlCheckCliTest, TypeErrorIsRefusedWithTheAnalyzersMessage) {
  if (!Analyzer()) GTEST_SKIP() << "ZetaSQL is not installed: " << *ZetaSqlUnavailable();
  // DuckDB would cast '1' and run this; BigQuery does not.
  RunResult r = Run({"sql", "--check", "--project", "p", "SELECT a + '1' FROM ds.t"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(Has(r.err, "No matching signature for operator + for argument types: INT64, STRING"))
      << r.err;
  EXPECT_TRUE(Has(r.err, "(at 1:8)")) << r.err;
  // --no-check runs it as before: the local engine's answer.
  EXPECT_EQ(Run({"sql", "--no-check", "--project", "p", "SELECT a + '1' FROM ds.t"}).exit_code, 0);
}

TEST_F(SqlCheckCliTest, RefusedWritesChangeNothing) {
  if (!Analyzer()) GTEST_SKIP() << "ZetaSQL is not installed: " << *ZetaSqlUnavailable();
  RunResult r = Run({"sql", "--check", "--project", "p",
                     "INSERT INTO ds.t SELECT 2, DATE '2020-03-02'; DELETE FROM ds.t WHERE nope"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(Has(r.err, "Unrecognized name: nope")) << r.err;
  Json rows = Json::parse(
      Ok({"--format", "json", "sql", "--project", "p", "SELECT COUNT(*) AS n FROM ds.t"}).out);
  EXPECT_EQ(rows[0]["rows"][0]["n"], 1) << rows;  // the one row of SetUp; nothing inserted
}

TEST_F(SqlCheckCliTest, ParametersAreTypedForTheAnalyzerAndBoundForTheRun) {
  if (!Analyzer()) GTEST_SKIP() << "ZetaSQL is not installed: " << *ZetaSqlUnavailable();
  RunResult r = Ok({"--format", "json", "sql", "--check", "--project", "p", "--parameter",
                    "submission_date:DATE:2020-03-01", "--parameter", "n:INT64:1",
                    "SELECT a FROM ds.t WHERE d = @submission_date AND a = @n"});
  EXPECT_EQ(Json::parse(r.out)[0]["rows"], Json::parse(R"([{"a": 1}])"));
  // A DATE compared with an INT64 parameter is a type error in BigQuery.
  r = Run({"sql", "--check", "--project", "p", "--parameter", "submission_date:INT64:1",
           "SELECT a FROM ds.t WHERE d = @submission_date"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(Has(r.err, "No matching signature for operator =")) << r.err;
}

TEST_F(SqlCheckCliTest, ScriptWithVariablesAndMergeIsAnalyzedThenRuns) {
  if (!Analyzer()) GTEST_SKIP() << "ZetaSQL is not installed: " << *ZetaSqlUnavailable();
  const std::string script =
      "DECLARE n INT64 DEFAULT 5;\n"
      "DECLARE day DATE DEFAULT '2020-03-06';\n"
      "SET n = n + 1;\n"
      "MERGE ds.t T USING (SELECT n AS a, day AS d) S ON T.a = S.a\n"
      "  WHEN MATCHED THEN DELETE\n"
      "  WHEN NOT MATCHED THEN INSERT ROW;\n"
      "SELECT a, d FROM ds.t WHERE d <= day ORDER BY a";
  RunResult r = Ok({"--format", "json", "sql", "--check", "--project", "p", script});
  Json j = Json::parse(r.out);
  ASSERT_EQ(j.size(), 5u) << j;
  EXPECT_EQ(j[0]["message"], "Declared n = 5");
  EXPECT_EQ(j[1]["message"], "Declared day = 2020-03-06");
  EXPECT_EQ(j[2]["message"], "n = 6");
  EXPECT_EQ(j[3]["message"], "Merged into p.ds.t: 1 row(s) inserted, 0 updated, 0 deleted");
  EXPECT_EQ(j[4]["rows"],
            Json::parse(R"([{"a": 1, "d": "2020-03-01"}, {"a": 6, "d": "2020-03-06"}])"));
  // The analyzer refuses what BigQuery would, before anything runs: a MERGE inserting a STRING
  // into the INT64 column.
  r = Run({"sql", "--check", "--project", "p",
           "DECLARE s STRING DEFAULT 'x';\n"
           "MERGE ds.t T USING (SELECT s AS a) S ON FALSE WHEN NOT MATCHED THEN INSERT (a) VALUES "
           "(s)"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(Has(r.err, "BigQuery would reject this SQL")) << r.err;
  Json rows = Json::parse(
      Ok({"--format", "json", "sql", "--project", "p", "SELECT COUNT(*) AS n FROM ds.t"}).out);
  EXPECT_EQ(rows[0]["rows"][0]["n"], 2) << rows;
}

TEST_F(SqlCheckCliTest, TheAnalyzerReadsAColumnBeforeAVariableAndChecksCoercions) {
  if (!Analyzer()) GTEST_SKIP() << "ZetaSQL is not installed: " << *ZetaSqlUnavailable();
  // `d` is the DATE column of ds.t, not the STRING variable: BigQuery analyzes this cleanly.
  RunResult r = Ok({"--format", "json", "sql", "--check", "--project", "p",
                    "DECLARE d STRING DEFAULT 'x';\n"
                    "DECLARE u DEFAULT DATE '2020-03-01';\n"
                    "SELECT a, d = u AS same FROM ds.t WHERE d = DATE '2020-03-01'"});
  EXPECT_EQ(Json::parse(r.out)[2]["rows"], Json::parse(R"([{"a": 1, "same": true}])")) << r.out;
  // An INT64 variable takes no FLOAT64.
  r = Run({"sql", "--check", "--project", "p", "DECLARE i INT64;\nSET i = 1.5"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(Has(r.err, "Cannot coerce FLOAT64 to INT64 for variable i (at 2:1)")) << r.err;
}

TEST_F(SqlCheckCliTest, UpdateIsAnalyzedThenRuns) {
  if (!Analyzer()) GTEST_SKIP() << "ZetaSQL is not installed: " << *ZetaSqlUnavailable();
  RunResult r = Run({"sql", "--check", "--project", "p", "UPDATE ds.t SET a = 'x' WHERE TRUE"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(Has(r.err, "BigQuery would reject this SQL")) << r.err;
  r = Ok({"sql", "--check", "--project", "p", "UPDATE ds.t t SET a = t.a + 1 WHERE d IS NOT NULL"});
  EXPECT_EQ(r.out, "Updated 1 row(s) of p.ds.t\n");
  Json rows =
      Json::parse(Ok({"--format", "json", "sql", "--project", "p", "SELECT a FROM ds.t"}).out);
  EXPECT_EQ(rows[0]["rows"], Json::parse(R"([{"a": 2}])")) << rows;
}

TEST_F(SqlCheckCliTest, MergeIntoAProtectedDatasetRunsOnlyUnderAnApprovedRequest) {
  Ok({"principal", "set", "bob", "writer"});
  Ok({"dataset", "update", "p.ds", "--protected"});
  const std::string merge =
      "DECLARE k INT64 DEFAULT 1; MERGE ds.t T USING (SELECT k AS a, DATE '2020-03-09' AS d UNION "
      "ALL SELECT 7, DATE '2020-03-07') S ON T.a = S.a WHEN MATCHED THEN UPDATE SET d = S.d "
      "WHEN NOT MATCHED THEN INSERT ROW";
  RunResult r = Run({"sql", "--no-check", "--project", "p", merge});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(Has(r.err, "statement 2: dataset p.ds is protected")) << r.err;
  r = Ok({"request", "create", "--", "sql", "--no-check", "--project", "p", merge});
  EXPECT_TRUE(Has(r.out, "Request R1 by alice")) << r.out;
  env_["BACKFILL_PRINCIPAL"] = "bob";
  Ok({"request", "approve", "R1", "--as", "bob"});
  env_["BACKFILL_PRINCIPAL"] = "alice";
  r = Ok({"sql", "--no-check", "--project", "p", "--request", "R1", merge});
  EXPECT_EQ(r.out, "Declared k = 1\nMerged into p.ds.t: 1 row(s) inserted, 1 updated, 0 deleted\n");
  Json rows = Json::parse(
      Ok({"--format", "json", "sql", "--project", "p", "SELECT a, d FROM ds.t ORDER BY a"}).out);
  EXPECT_EQ(rows[0]["rows"],
            Json::parse(R"([{"a": 1, "d": "2020-03-09"}, {"a": 7, "d": "2020-03-07"}])"));
}

TEST_F(SqlCheckCliTest, ScriptErrorsNameTheStatementAndPlace) {
  RunResult r = Run({"sql", "--no-check", "--project", "p",
                     "INSERT INTO ds.t SELECT 2, DATE '2020-03-02';\nDECLARE x INT64"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(Has(r.err,
                  "statement 2: variable declarations are allowed only at the start of a "
                  "script (at 1:1)"))
      << r.err;
  Json rows = Json::parse(
      Ok({"--format", "json", "sql", "--project", "p", "SELECT COUNT(*) AS n FROM ds.t"}).out);
  EXPECT_EQ(rows[0]["rows"][0]["n"], 1) << rows;  // the INSERT before it did not run
  // A table's output says what each statement did.
  r = Ok({"sql", "--no-check", "--project", "p", "DECLARE a INT64; SET a = 2; SELECT a * 2 AS b"});
  EXPECT_TRUE(Has(r.out, "Declared a = NULL\na = 2\n")) << r.out;
}

TEST_F(SqlCheckCliTest, WithoutTheAnalyzerCheckSaysHowToInstallIt) {
  std::map<std::string, std::string> missing = {{"BACKFILL_ZETASQL_MODULES", dir_ / "none"}};
  RunResult r = Run({"sql", "--check", "--project", "p", "SELECT a FROM ds.t"}, missing);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(Has(r.err, "--check needs the ZetaSQL analyzer")) << r.err;
  EXPECT_TRUE(Has(r.err, "bash scripts/bootstrap.sh")) << r.err;
  // Without --check (and not on a terminal) `sql` runs as it always did, silently.
  r = Run({"sql", "--project", "p", "SELECT a FROM ds.t"}, missing);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST_F(SqlCheckCliTest, FlagMisuseIsAUsageError) {
  EXPECT_EQ(Run({"sql", "--check", "--no-check", "--project", "p", "SELECT 1"}).exit_code, 2);
  RunResult r = Run({"sql", "--project", "p", "--parameter", "x", "SELECT @x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "NAME:TYPE:VALUE")) << r.err;
  r = Run({"sql", "--project", "p", "--parameter", "x:DATE:2020-01-01", "SELECT @y"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "no value for query parameter @y (at 1:8)")) << r.err;
}

// --- the query corpus --------------------------------------------------------------------------

class QueryCorpusCliTest : public testing::CliFixture {
 protected:
  const std::string project_ = "moz-fx-data-shared-prod";
  // Mozilla's schemas, three days of real pings of the incident in live, stable deduplicated.
  void SetUpCorpusWarehouse() {
    UseWarehouse("etl", "2020-03-19T00:30:00Z");
    Ok({"init"});
    Ok({"project", "create", project_});
    Ok({"schemas", "deploy", kCorpusSchemas.string(), "--project", project_});
    Ok({"sink", "--input", kIncidentLive.string(), "--project", project_});
    Ok({"copy-deduplicate", "--project", project_, "-o", "*_live.*", "--dates",
        "2020-03-16..2020-03-18"});
  }
};

TEST_F(QueryCorpusCliTest, DerivedTableQueriesRunLocallyAndAnalyzeUnderZetaSql) {
  if (!fs::exists(kCorpusSchemas)) {
    GTEST_SKIP() << "no ../shared/corpus: Mozilla's schemas are not checked out";
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(kQueries)) {
    if (e.path().filename() == "query.sql") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 20u);
  const std::string& project = project_;
  SetUpCorpusWarehouse();
  std::map<std::string, size_t> rows;
  for (const auto& file : files) {
    std::string name = fs::relative(file.parent_path(), kQueries).string();
    SCOPED_TRACE(name);
    RunResult r = Run({"--format", "json", "sql", "--no-check", "--project", project, "--parameter",
                       "submission_date:DATE:2020-03-17", testing::ReadFile(file)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.exit_code == 0) rows[name] = Json::parse(r.out)[0]["rows"].size();
  }
  if (auto why = ZetaSqlUnavailable()) {
    std::cout << "[ SKIPPED  ] ZetaSQL analysis of the query corpus: " << *why << "\n";
  } else {
    // All files in one analyzer run (one server start), against the deployed tables' schemas.
    FixedClock clock(*ParseTimestamp("2020-03-19T00:30:00Z"));
    auto w = Warehouse::Open(dir_ / "wh", {"etl", &clock, false, std::nullopt, "test"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    std::vector<TableInfo> tables;
    auto datasets = (*w)->ListDatasets(project);
    ASSERT_TRUE(datasets.ok());
    for (const auto& ds : *datasets) {
      auto names = (*w)->ListTables(ds.name);
      ASSERT_TRUE(names.ok());
      for (const auto& t : *names) {
        auto info = (*w)->DescribeTable({project, ds.name.dataset, t});
        ASSERT_TRUE(info.ok()) << info.status().ToString();
        tables.push_back(std::move(info).value());
      }
    }
    w->reset();  // the analyzer run needs no warehouse
    fs::path check = dir_ / "zetasql";
    std::vector<ZetaSqlFile> sql;
    for (const auto& file : files) {
      std::string name = fs::relative(file.parent_path(), kQueries).string();
      std::replace(name.begin(), name.end(), '/', '.');
      fs::create_directories(check);
      fs::copy_file(file, check / (name + ".sql"));
      sql.push_back({name + ".sql", project, {{"submission_date", "DATE"}}});
    }
    testing::WriteFile(check / "catalog.json", ZetaSqlCatalogJson(tables, sql));
    auto report = CheckWithZetaSql(check / "catalog.json");
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->files, static_cast<int>(files.size()));
    for (const auto& e : report->errors) {
      ADD_FAILURE() << e.file << ":" << e.line << ":" << e.column << ": " << e.message;
    }
    // And once through `sql --check`, the command's own catalog of the tables it names.
    RunResult r = Run({"sql", "--check", "--project", project, "--parameter",
                       "submission_date:DATE:2020-03-17",
                       testing::ReadFile(kQueries / "org_mozilla_fenix_derived" /
                                         "events_unnested_v1" / "query.sql")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  // The queries over the incident's tables see its rows.
  EXPECT_EQ(rows["contextual_services_derived/quicksuggest_impressions_dedup_v1"], 10u);
  EXPECT_GT(rows["contextual_services_derived/topsites_clicks_daily_v1"], 0u);
  EXPECT_GT(rows["contextual_services_derived/topsites_experiments_v1"], 0u);
  EXPECT_EQ(rows["telemetry_derived/submission_days_last_week_v1"], 7u);
}

// testdata/runbook/rededuplicate-day.sql, a script as an SRE pastes it (DECLARE/SET, DELETE and
// INSERT of a stable day, MERGE into a count table, a check), on a live day that a replay
// doubled: run twice, then analyzed by ZetaSQL through `sql --check`.
TEST_F(QueryCorpusCliTest, RunbookScriptRebuildsADayAndAnalyzesUnderZetaSql) {
  if (!fs::exists(kCorpusSchemas)) {
    GTEST_SKIP() << "no ../shared/corpus: Mozilla's schemas are not checked out";
  }
  SetUpCorpusWarehouse();
  const std::string live = "`" + project_ + ".telemetry_live.event_v4`";
  const std::string stable = "`" + project_ + ".telemetry_stable.event_v4`";
  Ok({"dataset", "create", project_ + ".runbook"});
  Ok({"sql", "--no-check",
      "CREATE TABLE `" + project_ +
          ".runbook.event_documents_daily` AS SELECT DATE '2020-03-16' AS "
          "submission_date, 0 AS documents"});
  // The replay appended the day's four event pings again.
  Ok({"sql", "--no-check",
      "INSERT INTO " + live + " SELECT * FROM " + live +
          " WHERE DATE(submission_timestamp) = '2020-03-17'"});
  const std::string script =
      testing::ReadFile(fs::path(BACKFILL_SOURCE_DIR) / "testdata/runbook/rededuplicate-day.sql");
  auto run = [&](const std::string& day) {
    RunResult r = Run({"--format", "json", "sql", "--no-check", "--parameter",
                       "submission_date:DATE:" + day, script});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? Json::parse(r.out) : Json::array();
  };
  Json first = run("2020-03-17");
  ASSERT_EQ(first.size(), 9u) << first.dump(2);
  EXPECT_EQ(first[5]["rows_affected"], 4);  // DELETE of the stable day
  EXPECT_EQ(first[6]["rows_affected"], 4);  // INSERT: 8 live rows, 4 documents
  EXPECT_EQ(first[7]["message"],
            "Merged into " + project_ +
                ".runbook.event_documents_daily: 1 row(s) inserted, 0 updated, 0 deleted");
  EXPECT_EQ(first[8]["rows"],
            Json::parse(R"([{"day": "2020-03-17", "live_documents": 4, "stable_before": 4,
                             "stable_after": 4, "counted": 4}])"));
  // Again on the day the count table already holds: the MERGE updates instead of inserting.
  Json again = run("2020-03-16");
  ASSERT_EQ(again.size(), 9u);
  EXPECT_EQ(again[7]["message"],
            "Merged into " + project_ +
                ".runbook.event_documents_daily: 0 row(s) inserted, 1 updated, 0 deleted");
  EXPECT_EQ(again[8]["rows"][0]["counted"], 4);
  RunResult rows = Run({"--format", "json", "sql", "--no-check",
                        "SELECT submission_date, documents FROM `" + project_ +
                            ".runbook.event_documents_daily` ORDER BY 1"});
  ASSERT_EQ(rows.exit_code, 0) << rows.err;
  EXPECT_EQ(Json::parse(rows.out)[0]["rows"],
            Json::parse(R"([{"submission_date": "2020-03-16", "documents": 4},
                            {"submission_date": "2020-03-17", "documents": 4}])"));
  if (auto why = ZetaSqlUnavailable()) {
    std::cout << "[ SKIPPED  ] ZetaSQL analysis of the runbook: " << *why << "\n";
    return;
  }
  RunResult checked =
      Run({"sql", "--check", "--parameter", "submission_date:DATE:2020-03-18", script});
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
}

}  // namespace
}  // namespace backfill
