// `backfill plan new` and `backfill plan --check FILE` through the binary.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/testing.h"

namespace backfill {
namespace {

TEST(PlanCliTest, NewWritesATemplateThatChecksAndIsNeverOverwritten) {
  testing::TempDir dir;
  std::string file = dir / "rescue.toml";
  auto made =
      testing::RunBackfill({"plan", "new", "--template", "time-travel-rescue", "--out", file});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto again =
      testing::RunBackfill({"plan", "new", "--template", "time-travel-rescue", "--out", file});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("exists"), std::string::npos);
  auto previewed = testing::RunBackfill({"plan", file}, {{"BACKFILL_WAREHOUSE", dir / "none"}});
  EXPECT_EQ(previewed.exit_code, 1) << "a preview rehearses on a warehouse";
  EXPECT_NE(previewed.err.find("no warehouse at"), std::string::npos) << previewed.err;
  auto checked = testing::RunBackfill({"--format", "json", "plan", "--check", file});
  ASSERT_EQ(checked.exit_code, 0) << checked.err;
  auto j = nlohmann::json::parse(checked.out);
  ASSERT_EQ(j["steps"].size(), 4u);
  EXPECT_EQ(j["steps"][0]["kind"], "snapshot");
  EXPECT_EQ(j["steps"][0]["options"]["as_of"], "2020-04-01T02:30:00Z");
  EXPECT_EQ(testing::RunBackfill({"plan", "new", "--template", "nope"}).exit_code, 2);
  // Drafting options without a triage summary to draft from are refused, not ignored.
  std::string drafted = dir / "replay.toml";
  auto ignored = testing::RunBackfill(
      {"plan", "new", "--template", "error-replay", "--project", "prod", "--out", drafted});
  EXPECT_EQ(ignored.exit_code, 2);
  EXPECT_EQ(ignored.err,
            "backfill: error: --project, --backfill-project, -o, -x and --include-unclassified "
            "need --from-triage (a template is filled in by hand)\n");
  EXPECT_FALSE(std::filesystem::exists(drafted));
}

TEST(PlanCliTest, AStepThatDoesNotExistFailsNamingTheLine) {
  testing::TempDir dir;
  testing::WriteFile(
      dir.path() / "p.toml",
      "name = \"n\"\nreason = \"r\"\nauthor = \"a\"\n[[step]]\nkind = \"undelete\"\n");
  auto r = testing::RunBackfill({"plan", dir / "p.toml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(dir / "p.toml" + ":4: step 1 has kind 'undelete', which does not exist"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace backfill
