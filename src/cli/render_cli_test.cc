// `backfill render FILE --target bigquery --out DIR` through the binary: files written, JSON
// listing, refusals (a project missing from the warehouse, an --out that is not empty), and the
// ZetaSQL analysis of what it wrote: the demo's two plans analyze cleanly, SQL BigQuery would
// reject fails the command with the analyzer's message, and without the analyzer it says so.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/testing.h"

namespace backfill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::RunBackfill;
using testing::RunResult;

class RenderCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = {{"BACKFILL_WAREHOUSE", dir_ / "wh"},
            {"BACKFILL_PRINCIPAL", "alice"},
            {"BACKFILL_NOW", "2020-03-19T10:00:00Z"}};
    Ok({"init"});
    Ok({"project", "create", "moz-fx-data-shared-prod"});
    Ok({"schemas", "deploy", std::string(BACKFILL_SOURCE_DIR) + "/testdata/schemas", "--project",
        "moz-fx-data-shared-prod"});
    Ok({"plan", "new", "--template", "error-replay", "--out", plan_});
    std::string text = testing::ReadFile(plan_);
    text.replace(text.find("TODO/error-output"), 17, "incident/error-output");
    testing::WriteFile(plan_, text);
  }

  RunResult Run(const std::vector<std::string>& args) { return RunBackfill(args, env_); }
  void Ok(const std::vector<std::string>& args) {
    RunResult r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
  }

  testing::TempDir dir_;
  std::map<std::string, std::string> env_;
  std::string plan_ = dir_ / "replay.toml";
  std::string out_ = dir_ / "ticket";
};

TEST_F(RenderCliTest, WritesNumberedSqlRunShAndReadmeAndListsThemInJson) {
  RunResult r = Run({"--format", "json", "render", plan_, "--target", "bigquery", "--out", out_,
                     "--bucket-map", "incident=gs://moz-fx-data-prod-data/incident", "--bucket-map",
                     "staged=gs://bug-1-backfill/staged", "--bucket-map",
                     "replay-errors=gs://bug-1-backfill/replay-errors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["target"], "bigquery");
  ASSERT_GE(j["files"].size(), 4u);
  EXPECT_EQ(j["files"][0]["name"], "01-append-contextual_services_live.quicksuggest_block_v1.sql");
  EXPECT_EQ(j["files"][0]["step"], 4);
  EXPECT_EQ(j["files"][0]["kind"], "append");
  EXPECT_EQ(j["files"][j["files"].size() - 2]["name"], "run.sh");
  EXPECT_EQ(j["files"][j["files"].size() - 1]["name"], "README.md");
  for (const auto& f : j["files"])
    EXPECT_TRUE(fs::exists(f["file"].get<std::string>())) << f.dump();
  EXPECT_TRUE((fs::status(out_ + "/run.sh").permissions() & fs::perms::owner_exec) !=
              fs::perms::none);
  std::string sh = testing::ReadFile(out_ + "/run.sh");
  EXPECT_THAT(sh, HasSubstr("GCS_STAGED=\"${GCS_STAGED:-gs://bug-1-backfill/staged}\""));
  EXPECT_THAT(sh, HasSubstr("$20200318' --replace"));
  EXPECT_EQ(std::system(("bash -n '" + out_ + "/run.sh'").c_str()), 0);

  // The same directory again: refused, nothing changed; --force replaces the rendering.
  fs::path extra = fs::path(out_) / "notes.txt";
  testing::WriteFile(extra, "reviewer notes\n");
  RunResult again = Run({"render", plan_, "--target", "bigquery", "--out", out_});
  EXPECT_EQ(again.exit_code, 3) << again.err;
  EXPECT_THAT(again.err, HasSubstr("--out " + out_ + " is not empty"));
  EXPECT_EQ(testing::ReadFile(out_ + "/run.sh"), sh);
  RunResult forced = Run({"render", plan_, "--target", "bigquery", "--out", out_, "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_THAT(forced.out,
              HasSubstr("01-append-contextual_services_live.quicksuggest_block_v1.sql"));
  EXPECT_TRUE(fs::exists(extra));  // not ours: kept
  // Unmapped paths now: run.sh insists they are set before it runs.
  EXPECT_THAT(testing::ReadFile(out_ + "/run.sh"),
              HasSubstr("GCS_STAGED=\"${GCS_STAGED:?set GCS_STAGED"));
}

TEST_F(RenderCliTest, AProjectMissingFromTheWarehouseIsAnErrorNamingIt) {
  std::string text = testing::ReadFile(plan_);
  text.replace(text.find("from_project = \"moz-fx-data-shared-prod\""), 40,
               "from_project = \"moz-fx-data-shared-prd\"");
  testing::WriteFile(plan_, text);
  RunResult r = Run({"render", plan_, "--target", "bigquery", "--out", out_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(
      r.err,
      HasSubstr(
          "step 2 (mirror, line 15): project moz-fx-data-shared-prd (from_project) does not exist "
          "in the warehouse"));
  EXPECT_FALSE(fs::exists(out_));  // nothing written
}

// The demo's plans (testdata/demo/plans), on the demo's warehouse: every file they render is
// analyzed by ZetaSQL against the catalog.json the render writes.
TEST_F(RenderCliTest, TheDemoPlansRenderToSqlThatZetaSqlAnalyzes) {
  fs::path corpus = fs::path(BACKFILL_CORPUS_DIR) / "schemas";
  std::string schemas =
      fs::exists(corpus) ? corpus.string() : std::string(BACKFILL_SOURCE_DIR) + "/testdata/schemas";
  if (!fs::exists(corpus))
    std::cerr << "note: corpus schemas absent, the demo plans render over testdata/schemas\n";
  if (fs::exists(corpus))
    Ok({"schemas", "deploy", schemas, "--project", "moz-fx-data-shared-prod"});
  Ok({"dataset", "create", "moz-fx-data-shared-prod.contextual_services_derived"});
  std::string demo = std::string(BACKFILL_SOURCE_DIR) + "/testdata/demo";
  Ok({"table", "create", "moz-fx-data-shared-prod.contextual_services_derived.topsites_clicks_v1",
      "--schema", demo + "/topsites_clicks_v1.bq", "--partition-by", "submission_date", "--query",
      demo + "/topsites_clicks_v1.sql"});
  Ok({"project", "create", "backfill-sandbox"});
  for (const std::string plan : {"error-replay-2020-03", "rescue-topsites-clicks"}) {
    std::string out = dir_ / plan;
    RunResult r = Run({"--format", "json", "render", demo + "/plans/" + plan + ".toml", "--target",
                       "bigquery", "--out", out});
    ASSERT_EQ(r.exit_code, 0) << plan << ": " << r.err << r.out;
    auto j = nlohmann::json::parse(r.out);
    int sql_files = 0;
    for (const auto& f : j["files"])
      sql_files += f["name"].get<std::string>().ends_with(".sql") ? 1 : 0;
    EXPECT_GE(sql_files, 4) << plan;
    EXPECT_EQ(j["zetasql"]["status"], "checked") << plan << ": " << j["zetasql"].dump();
    EXPECT_EQ(j["zetasql"]["errors"], nlohmann::json::array()) << plan;
    EXPECT_EQ(j["zetasql"]["files"], sql_files) << plan;
    EXPECT_EQ(j["catalog"], out + "/catalog.json");
    auto catalog = nlohmann::json::parse(testing::ReadFile(out + "/catalog.json"));
    EXPECT_EQ(catalog["files"].size(), static_cast<size_t>(sql_files));
  }
  // In words too.
  RunResult text = Run({"render", demo + "/plans/rescue-topsites-clicks.toml", "--target",
                        "bigquery", "--out", dir_ / "rescue-text"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("ZetaSQL: 4 file(s), 4 statement(s) analyzed against " +
                                  (dir_ / "rescue-text") + "/catalog.json: all valid GoogleSQL"));
}

// A derived table whose stored query BigQuery would reject (a column its source does not have):
// the rerun renders, ZetaSQL refuses it with its message and position, and the command fails.
TEST_F(RenderCliTest, SqlThatZetaSqlRejectsFailsTheRenderWithTheAnalyzersMessage) {
  Ok({"dataset", "create", "moz-fx-data-shared-prod.contextual_services_derived"});
  std::string query = dir_ / "bad.sql";
  testing::WriteFile(
      query,
      "SELECT DATE(submission_timestamp) AS submission_date, COUNT(no_such_column) AS n\n"
      "FROM contextual_services_live.topsites_click_v1\n"
      "WHERE DATE(submission_timestamp) = @submission_date\nGROUP BY 1\n");
  std::string schema = dir_ / "t.bq";
  testing::WriteFile(
      schema, R"([{"name": "submission_date", "type": "DATE"}, {"name": "n", "type": "INT64"}])");
  RunResult created =
      Run({"table", "create", "moz-fx-data-shared-prod.contextual_services_derived.bad_v1",
           "--schema", schema, "--partition-by", "submission_date", "--query", query});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  testing::WriteFile(plan_,
                     "name = \"bad\"\nreason = \"r\"\nauthor = \"a\"\n[[step]]\nkind = \"rerun\"\n"
                     "table = \"moz-fx-data-shared-prod.contextual_services_derived.bad_v1\"\n"
                     "dates = \"2020-03-16\"\nallow_data_loss = true\n");
  RunResult r = Run({"--format", "json", "render", plan_, "--target", "bigquery", "--out", out_});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto j = nlohmann::json::parse(r.out);  // still one JSON document
  EXPECT_EQ(j["zetasql"]["status"], "failed");
  ASSERT_EQ(j["zetasql"]["errors"].size(), 1u) << j["zetasql"].dump();
  EXPECT_EQ(j["zetasql"]["errors"][0]["file"], "01-rerun-contextual_services_derived.bad_v1.sql");
  EXPECT_EQ(j["zetasql"]["errors"][0]["message"], "Unrecognized name: no_such_column");
  EXPECT_EQ(j["zetasql"]["errors"][0]["column"], 61);
  EXPECT_THAT(r.err, HasSubstr("the rendered SQL fails ZetaSQL analysis"));
  RunResult text = Run({"render", plan_, "--target", "bigquery", "--out", out_, "--force"});
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_THAT(text.out,
              HasSubstr("ZetaSQL: 1 error(s) in the rendered SQL (BigQuery would reject it):\n"
                        "  01-rerun-contextual_services_derived.bad_v1.sql:"));
  EXPECT_THAT(text.out, HasSubstr(":61: Unrecognized name: no_such_column\n"));
}

TEST_F(RenderCliTest, WithoutTheAnalyzerTheRenderSaysItIsNotChecked) {
  env_["BACKFILL_ZETASQL_MODULES"] = dir_ / "no-such-node-modules";
  RunResult r = Run({"--format", "json", "render", plan_, "--target", "bigquery", "--out", out_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["zetasql"]["status"], "not checked");
  EXPECT_THAT(j["zetasql"]["reason"].get<std::string>(), HasSubstr("ZetaSQL is not installed"));
  EXPECT_TRUE(fs::exists(out_ + "/catalog.json"));  // for a check elsewhere
}

TEST_F(RenderCliTest, OnlyBigQueryIsATarget) {
  RunResult r = Run({"render", plan_, "--target", "snowflake", "--out", out_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("the only target is bigquery"));
}

}  // namespace
}  // namespace backfill
