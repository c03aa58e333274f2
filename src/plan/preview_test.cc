// The preview on a real warehouse, without the CLI: a time-travel rescue rehearsed on a scratch
// copy reports per step its outcome and writes, per table and day the rows now and after, the
// deadline of the time-travel window and the approval it needs, and leaves the warehouse as it
// was.
#include "plan/preview.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "recover/rescue.h"
#include "testing/testing.h"
#include "testing/warehouse_testing.h"

namespace backfill {
namespace {

using namespace std::chrono_literals;

const char* kRescue = R"(name = "rescue-agg"
reason = "a partition was deleted"
author = "alice"
[[step]]
kind = "snapshot"
table = "prod.derived.agg"
as_of = "2020-01-10T01:00:00Z"
to = "prod.rescue_restricted.agg"
[[step]]
kind = "restore"
snapshot = "prod.rescue_restricted.agg"
to = "prod.derived.agg"
[[step]]
kind = "validate"
expected = "prod.rescue_restricted.agg"
actual = "prod.derived.agg"
[[step]]
kind = "drop"
table = "prod.rescue_restricted.agg"
)";

// Runs the rescue kinds with the recovery functions themselves.
StepRunner RescueRunner(Warehouse& w, const Plan& plan) {
  return [&w, &plan](size_t i, const PlanStep& s, const JournalStep&, PlanJson* result) -> Status {
    auto table = [&](const char* key) { return *ParseTableName(s.String(key)); };
    switch (s.kind) {
      case StepKind::kSnapshot: {
        BF_ASSIGN_OR_RETURN(
            SnapshotReport r,
            Snapshot(w, table("table"), *ParseTimestamp(s.String("as_of")), table("to")));
        *result = PlanJson{{"rows", r.rows}};
        return Status::Ok();
      }
      case StepKind::kRestore: {
        BF_ASSIGN_OR_RETURN(RestoreReport r,
                            RestoreMissingPartitions(w, table("snapshot"), table("to"),
                                                     std::nullopt, false, false));
        *result = PlanJson{{"rows_inserted", r.rows_inserted}};
        return Status::Ok();
      }
      case StepKind::kValidate: {
        bool expected_days_only = RestoredDaysOf(plan, i).has_value();
        BF_ASSIGN_OR_RETURN(ValidationReport r, Validate(w, table("expected"), table("actual"),
                                                         std::nullopt, expected_days_only));
        *result = PlanJson{{"passed", r.passed}};
        return r.passed ? Status::Ok() : Refused("validation failed");
      }
      case StepKind::kDrop:
        return DropTableGuarded(w, table("table"), s.Flag("force"));
      default:
        return InvalidArgument("not a rescue step");
    }
  };
}

class PreviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = testing::CreateTestWarehouse(dir_.path() / "wh", clock_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    w_ = std::move(w).value();
    Status created = testing::CreateThreeDayTable(*w_, table_);
    ASSERT_TRUE(created.ok()) << created.ToString();
    clock_.Set(*ParseTimestamp("2020-01-10T02:00:00Z"));
    ASSERT_TRUE(w_->DeletePartitions(table_, {*ParseDate("2020-01-01")}).ok());
    clock_.Set(*ParseTimestamp("2020-01-11T00:00:00Z"));
    auto plan = ParsePlan(kRescue, "rescue.toml");
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    plan_ = *plan;
  }

  PreviewOptions Options() {
    PreviewOptions o;
    o.plan_dir = dir_.path();
    o.principal = "alice";
    o.clock = &clock_;
    o.command = "preview test";
    o.runner = [this](Warehouse& rehearsal, PathMap&) { return RescueRunner(rehearsal, plan_); };
    return o;
  }

  testing::TempDir dir_;
  FixedClock clock_{*ParseTimestamp("2020-01-10T00:00:00Z")};
  std::unique_ptr<Warehouse> w_;
  TableName table_{"prod", "derived", "agg"};
  Plan plan_;
};

TEST_F(PreviewTest, RehearsesARescueOnACopyAndReportsStepsRowsAndDeadlines) {
  std::vector<size_t> started;
  PreviewOptions options = Options();
  options.step_started = [&](size_t i, const PlanStep&) { started.push_back(i); };
  bool released = false;
  options.release_live = [&] { released = true; };
  auto preview = PreviewPlan(*w_, plan_, options);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  EXPECT_TRUE(released);
  EXPECT_EQ(started, (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_TRUE(preview->rehearsal.ok()) << preview->rehearsal.ToString();
  EXPECT_TRUE(preview->protected_targets.empty());
  EXPECT_EQ(preview->approved_by, "");
  EXPECT_FALSE(preview->resumes);

  ASSERT_EQ(preview->steps.size(), 4u);
  for (const auto& s : preview->steps) EXPECT_EQ(s.outcome, "ok");
  EXPECT_EQ(preview->steps[0].result, PlanJson({{"rows", 30}}));
  EXPECT_EQ(preview->steps[1].result, PlanJson({{"rows_inserted", 10}}));
  EXPECT_EQ(preview->steps[2].result, PlanJson({{"passed", true}}));
  auto actions = [&](size_t i) {
    std::vector<std::string> out;
    for (const auto& e : preview->steps[i].writes) {
      if (e.outcome == "ok") out.push_back(fmt::format("{} {} {}", e.action, e.target, e.rows));
    }
    return out;
  };
  EXPECT_EQ(actions(1), (std::vector<std::string>{"append prod.derived.agg 10"}));
  EXPECT_EQ(actions(3), (std::vector<std::string>{"drop table prod.rescue_restricted.agg 0"}));

  ASSERT_EQ(preview->tables.size(), 2u);
  EXPECT_EQ(preview->tables[0].table, "prod.derived.agg");
  EXPECT_FALSE(preview->tables[0].dropped_after);
  using Days = std::map<std::string, std::pair<int64_t, int64_t>>;
  EXPECT_EQ(preview->tables[0].days,
            (Days{{"2020-01-01", {0, 10}}, {"2020-01-02", {10, 10}}, {"2020-01-03", {10, 10}}}));
  EXPECT_EQ(preview->tables[1].table, "prod.rescue_restricted.agg");
  EXPECT_TRUE(preview->tables[1].dropped_after);
  EXPECT_EQ(preview->tables[1].days, Days{});

  ASSERT_EQ(preview->deadlines.size(), 1u);
  EXPECT_EQ(FormatTimestamp(preview->deadlines[0].at), "2020-01-17T01:00:00Z");
  EXPECT_EQ(preview->deadlines[0].what,
            "prod.derived.agg as of 2020-01-10T01:00:00Z can no longer be read (time-travel window "
            "of 168 h closes)");
  EXPECT_FALSE(preview->deadlines[0].passed);

  // Nothing was written to the warehouse itself.
  EXPECT_EQ(w_->DescribeTable(table_)->total_rows, 20);
  EXPECT_FALSE(w_->GetDataset({"prod", "rescue_restricted"}).ok());
}

TEST_F(PreviewTest, AStepThatWouldFailStopsTheRehearsalAndLaterStepsAreNotReached) {
  clock_.Set(*ParseTimestamp("2020-01-20T00:00:00Z"));  // the window closed on 2020-01-17
  auto preview = PreviewPlan(*w_, plan_, Options());
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  EXPECT_FALSE(preview->rehearsal.ok());
  ASSERT_EQ(preview->steps.size(), 4u);
  EXPECT_EQ(preview->steps[0].outcome.rfind("would ", 0), 0u) << preview->steps[0].outcome;
  EXPECT_EQ(preview->steps[1].outcome, "not reached");
  EXPECT_EQ(preview->steps[3].outcome, "not reached");
  EXPECT_TRUE(preview->tables.empty());
  ASSERT_EQ(preview->deadlines.size(), 1u);
  EXPECT_TRUE(preview->deadlines[0].passed);
}

}  // namespace
}  // namespace backfill
