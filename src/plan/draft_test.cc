#include "plan/draft.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "plan/plan.h"
#include "testing/testing.h"

namespace backfill {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

Json Group(const std::string& table, const std::string& day, const std::string& cls,
           int64_t records, const std::string& error_type = "") {
  Json g{{"table", table}, {"day", day}};
  if (!error_type.empty()) g["error_type"] = error_type;
  g["class"] = cls;
  g["records"] = records;
  return g;
}

class DraftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    fs::create_directories(dir_ / "error");
    options_.summary_file = "summary.json";
    options_.plan_dir = dir_ / "plans";
    options_.author = "alice";
  }
  Json Summary(std::vector<std::string> by, Json groups) {
    return Json{{"inputs", {(dir_ / "error").string()}}, {"by", by}, {"groups", groups}};
  }
  std::vector<std::string> Kinds(const Draft& d) {
    auto plan = ParsePlan(d.text, "draft");
    EXPECT_TRUE(plan.ok()) << plan.status().message();
    std::vector<std::string> kinds;
    if (!plan.ok()) return kinds;
    for (const auto& s : plan->steps) kinds.push_back(fmt::format("{}", s.kind));
    return kinds;
  }
  testing::TempDir tmp_;
  fs::path dir_;
  DraftOptions options_;
};

TEST_F(DraftTest, ReplaysInfrastructureGroupsByRunsOfDaysAndNamesWhatItLeftOut) {
  Json summary = Summary(
      {"table", "day", "error_type"},
      Json::array(
          {Group("contextual_services_live.topsites_click_v1", "2020-03-16", "infrastructure", 20,
                 "KeyByBigQueryTableDestination"),
           Group("contextual_services_live.topsites_click_v1", "2020-03-17", "infrastructure", 21,
                 "KeyByBigQueryTableDestination"),
           Group("telemetry_live.event_v4", "2020-03-19", "infrastructure", 8, "BigQueryRateLimit"),
           Group("telemetry_live.main_v5", "2020-03-18", "data", 5, "ParsePayload"),
           Group("org_mozilla_fenix_live.baseline_v1", "2020-03-18", "infrastructure", 3,
                 "KeyByBigQueryTableDestination")}));
  options_.filter.exclude = {"org_mozilla_fenix_live.*"};
  auto d = DraftErrorReplay(summary, options_);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->records, 49);
  EXPECT_EQ(d->tables, (std::vector<std::string>{"contextual_services_live.topsites_click_v1",
                                                 "telemetry_live.event_v4"}));
  // 2020-03-18 had no replayable record once fenix is left out: it is not replayed.
  ASSERT_EQ(d->ranges.size(), 2u);
  EXPECT_EQ(d->ranges[0].ToString(), "2020-03-16..2020-03-17");
  EXPECT_EQ(d->ranges[1].ToString(), "2020-03-19");
  EXPECT_EQ(Kinds(*d),
            (std::vector<std::string>{"stage", "stage", "mirror", "sink", "append", "append",
                                      "copy-deduplicate", "copy-deduplicate", "cleanup"}));
  auto plan = ParsePlan(d->text, "draft");
  ASSERT_TRUE(plan.ok());
  const PlanStep& stage = plan->steps[0];
  EXPECT_EQ(stage.String("from"), "../error");  // relative to the plan's folder
  EXPECT_EQ(stage.String("dates"), "2020-03-16..2020-03-17");
  const PlanStep& sink = plan->steps[3];
  EXPECT_EQ(sink.List("where"), (std::vector<std::string>{"document_namespace=contextual-services",
                                                          "document_namespace=telemetry"}));
  EXPECT_EQ(sink.List("error_type"),
            (std::vector<std::string>{"BigQueryRateLimit", "KeyByBigQueryTableDestination"}));
  EXPECT_EQ(plan->steps[2].List("only"), d->tables);
  EXPECT_EQ(plan->steps[5].String("dates"), "2020-03-19");
  EXPECT_EQ(plan->name, "error-replay-2020-03-16-2020-03-19");
  EXPECT_EQ(plan->author, "alice");
  EXPECT_NE(d->text.find("# Left out: 5 record(s) of class data"), std::string::npos) << d->text;
  EXPECT_NE(d->text.find("# Left out: 3 record(s) of org_mozilla_fenix_live.baseline_v1: left out "
                         "by -o/-x"),
            std::string::npos)
      << d->text;
}

TEST_F(DraftTest, UnclassifiedRecordsAreReplayedOnlyWhenAskedAndThenWithoutAnErrorTypeFilter) {
  Json summary =
      Summary({"table", "day"}, Json::array({Group("contextual_services_live.topsites_click_v1",
                                                   "2020-03-16", "unclassified", 21)}));
  auto refused = DraftErrorReplay(summary, options_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "summary.json: nothing to replay: 0 infrastructure, 0 data, 21 unclassified "
            "record(s). ingestion-sink's raw error output keeps no reason: if those records were "
            "good, draft with --include-unclassified and narrow the tables with -o/-x");

  options_.include_unclassified = true;
  auto d = DraftErrorReplay(summary, options_);
  ASSERT_TRUE(d.ok()) << d.status().message();
  auto plan = ParsePlan(d->text, "draft");
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->steps[2].List("error_type"), std::vector<std::string>{});
  EXPECT_EQ(plan->steps[2].List("where"),
            std::vector<std::string>{"document_namespace=contextual-services"});
}

TEST_F(DraftTest, ASummaryWithoutTableAndDayIsRefusedSayingHowToMakeOne) {
  Json summary = Summary({"error_type"}, Json::array());
  auto d = DraftErrorReplay(summary, options_);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(),
            "summary.json: grouped by error_type; a draft needs the table and the day of each "
            "group: run `backfill errors summarize ... --by table,day --format json` (error_type "
            "may be added)");
  EXPECT_FALSE(DraftErrorReplay(Json{{"groups", Json::array()}}, options_).ok());
}

}  // namespace
}  // namespace backfill
