#include "core/names.h"

#include <gtest/gtest.h>

namespace backfill {
namespace {

TEST(NamesTest, ParsesQualifiedAndBacktickedNames) {
  auto t = ParseTableName("`moz-fx-data-shared-prod.telemetry_live.main_v5`");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->project, "moz-fx-data-shared-prod");
  EXPECT_EQ(t->dataset, "telemetry_live");
  EXPECT_EQ(t->table, "main_v5");
  auto u = ParseTableName("`moz-fx-data-shared-prod`.telemetry_live.main_v5");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(*t, *u);
}

TEST(NamesTest, ResolvesTwoPartNamesAgainstDefaultProject) {
  auto t = ParseTableName("telemetry_live.main_v5", "prod");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->ToString(), "prod.telemetry_live.main_v5");
  EXPECT_FALSE(ParseTableName("telemetry_live.main_v5").ok());
}

TEST(NamesTest, RejectsBadNames) {
  EXPECT_FALSE(ParseTableName("Prod.d.t").ok());    // uppercase project
  EXPECT_FALSE(ParseTableName("prod.d-x.t").ok());  // dash in dataset
  EXPECT_FALSE(ParseTableName("prod.d.t;drop").ok());
  EXPECT_FALSE(ParseTableName("prod._bf_catalog.t").ok());  // reserved
  EXPECT_FALSE(ParseDatasetName("prod").ok());
  EXPECT_TRUE(ParseDatasetName("prod.d").ok());
}

TEST(NamesTest, DashesBecomeUnderscores) {
  EXPECT_EQ(DashesToUnderscores("quicksuggest-click"), "quicksuggest_click");
}

}  // namespace
}  // namespace backfill

#include "core/text.h"

namespace backfill {
namespace {

TEST(TextTest, JoinAndSplitList) {
  EXPECT_EQ(Join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(Join({}, ","), "");
  EXPECT_EQ(SplitList(" a, b,,c ,"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(SplitList("").empty());
}

}  // namespace
}  // namespace backfill
