// `backfill render FILE --target bigquery --out DIR` through the binary: files written, JSON
// listing, refusals (a project missing from the warehouse, an --out that is not empty).
#include <cstdlib>
#include <filesystem>

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
    env_ = {{"BACKFILL_WAREHOUSE", dir_ / "wh"}, {"BACKFILL_PRINCIPAL", "alice"}, {"BACKFILL_NOW", "2020-03-19T10:00:00Z"}};
    Ok({"init"});
    Ok({"project", "create", "moz-fx-data-shared-prod"});
    Ok({"schemas", "deploy", std::string(BACKFILL_SOURCE_DIR) + "/testdata/schemas", "--project", "moz-fx-data-shared-prod"});
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
  RunResult r = Run({"--format", "json", "render", plan_, "--target", "bigquery", "--out", out_, "--bucket-map",
                     "incident=gs://moz-fx-data-prod-data/incident", "--bucket-map", "staged=gs://bug-1-backfill/staged",
                     "--bucket-map", "replay-errors=gs://bug-1-backfill/replay-errors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["target"], "bigquery");
  ASSERT_GE(j["files"].size(), 4u);
  EXPECT_EQ(j["files"][0]["name"], "01-append-contextual_services_live.quicksuggest_block_v1.sql");
  EXPECT_EQ(j["files"][0]["step"], 4);
  EXPECT_EQ(j["files"][0]["kind"], "append");
  EXPECT_EQ(j["files"][j["files"].size() - 2]["name"], "run.sh");
  EXPECT_EQ(j["files"][j["files"].size() - 1]["name"], "README.md");
  for (const auto& f : j["files"]) EXPECT_TRUE(fs::exists(f["file"].get<std::string>())) << f.dump();
  EXPECT_TRUE((fs::status(out_ + "/run.sh").permissions() & fs::perms::owner_exec) != fs::perms::none);
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
  EXPECT_THAT(forced.out, HasSubstr("01-append-contextual_services_live.quicksuggest_block_v1.sql"));
  EXPECT_TRUE(fs::exists(extra));  // not ours: kept
  // Unmapped paths now: run.sh insists they are set before it runs.
  EXPECT_THAT(testing::ReadFile(out_ + "/run.sh"), HasSubstr("GCS_STAGED=\"${GCS_STAGED:?set GCS_STAGED"));
}

TEST_F(RenderCliTest, AProjectMissingFromTheWarehouseIsAnErrorNamingIt) {
  std::string text = testing::ReadFile(plan_);
  text.replace(text.find("from_project = \"moz-fx-data-shared-prod\""), 40, "from_project = \"moz-fx-data-shared-prd\"");
  testing::WriteFile(plan_, text);
  RunResult r = Run({"render", plan_, "--target", "bigquery", "--out", out_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("step 2 (mirror, line 15): project moz-fx-data-shared-prd (from_project) does not exist "
                               "in the warehouse"));
  EXPECT_FALSE(fs::exists(out_));  // nothing written
}

TEST_F(RenderCliTest, OnlyBigQueryIsATarget) {
  RunResult r = Run({"render", plan_, "--target", "snowflake", "--out", out_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("the only target is bigquery"));
}

}  // namespace
}  // namespace backfill
