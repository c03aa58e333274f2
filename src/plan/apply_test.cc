// The plan engine on a real warehouse with scripted step runners: journaling, stopping at a
// failed step, resuming without repeating finished steps, and the sink's clean redo; the
// journal's file format; the report's Markdown, HTML and SVG.
#include "plan/apply.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/files.h"
#include "plan/report.h"
#include "testing/testing.h"
#include "testing/warehouse_testing.h"

namespace backfill {
namespace {

const char* kPlan = R"(name = "p1"
reason = "test"
author = "alice"
[[step]]
kind = "mirror"
from_project = "prod"
to_project = "bf"
[[step]]
kind = "sink"
input = ["staged"]
project = "bf"
[[step]]
kind = "cleanup"
project = "bf"
)";

class ApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = testing::CreateTestWarehouse(dir_.path() / "wh", clock_);
    ASSERT_TRUE(w.ok()) << w.status().message();
    w_ = std::move(*w);
    ASSERT_TRUE(w_->CreateProject("prod").ok());
    ASSERT_TRUE(w_->CreateProject("bf").ok());
    ASSERT_TRUE(w_->CreateDataset({"bf", "x_live"}, {}).ok());
    TableOptions t;
    t.schema = *ParseBqSchema(R"([{"name":"document_id","type":"STRING","mode":"NULLABLE"},
                                  {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"}])",
                              "t_v1.bq");
    t.partition_by = "submission_timestamp";
    ASSERT_TRUE(w_->CreateTable(table_, t).ok());
    auto plan = ParsePlan(kPlan, "p1.toml");
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    plan_ = *plan;
  }
  Status AppendRows(int n) {
    std::string sql = fmt::format(
        "SELECT 'd' || i::VARCHAR, TIMESTAMPTZ '2020-03-16 01:00:00+00' FROM range({}) t(i)", n);
    return w_->Append(table_, sql).status();
  }
  int64_t Rows() {
    auto r = w_->Query("SELECT count(*) FROM " + *w_->Relation(table_));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->GetInt64(0, 0) : -1;
  }

  testing::TempDir dir_;
  FixedClock clock_{*ParseTimestamp("2020-03-19T10:00:00Z")};
  std::unique_ptr<Warehouse> w_;
  TableName table_{"bf", "x_live", "t_v1"};
  Plan plan_;
};

TEST_F(ApplyTest, StopsAtAFailedStepAndResumesWithoutRepeatingOrDuplicating) {
  std::vector<std::string> calls;
  bool sink_fails = true;
  StepRunner runner = [&](size_t i, const PlanStep& s, const JournalStep& state,
                          PlanJson* result) -> Status {
    calls.push_back(fmt::format("{}#{}", s.kind, state.attempts));
    if (s.kind == StepKind::kSink) {
      BF_RETURN_IF_ERROR(AppendRows(5));  // a first batch commits, then the step dies
      if (sink_fails) return Unavailable("table metadata lookup failed");
      BF_RETURN_IF_ERROR(AppendRows(3));
    }
    *result = PlanJson{{"rows", 1}};
    return Status::Ok();
  };
  Journal journal;
  Status s = ApplyPlan(*w_, plan_, journal, runner);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("step 2 (sink, line"), std::string::npos) << s.message();
  EXPECT_EQ(Rows(), 5);
  auto saved = LoadJournal(w_->dir(), "p1");
  ASSERT_TRUE(saved.ok() && saved->has_value());
  EXPECT_EQ((*saved)->steps[0].state, StepState::kDone);
  EXPECT_EQ((*saved)->steps[1].state, StepState::kFailed);
  EXPECT_EQ((*saved)->steps[1].error, "table metadata lookup failed");
  EXPECT_EQ((*saved)->steps[2].state, StepState::kPending);
  EXPECT_FALSE((*saved)->finished());

  // The redo retracts the failed attempt's 5 rows first: 8 rows, not 13.
  sink_fails = false;
  Journal resumed = **saved;
  std::vector<std::string> undone;
  ApplyEvents events;
  events.step_undone = [&](size_t, const PlanStep&, const std::string& what) {
    undone.push_back(what);
  };
  ASSERT_TRUE(ApplyPlan(*w_, plan_, resumed, runner, events).ok());
  EXPECT_EQ(Rows(), 8);
  ASSERT_EQ(undone.size(), 1u);
  EXPECT_NE(undone[0].find("retracted 5 row(s) of bf.x_live.t_v1"), std::string::npos) << undone[0];
  EXPECT_EQ(calls, (std::vector<std::string>{"mirror#1", "sink#1", "sink#2", "cleanup#1"}));
  EXPECT_TRUE(resumed.finished());
  EXPECT_EQ(resumed.before.at("bf.x_live.t_v1").size(), 0u) << "rows before the plan: none";

  // Finished: nothing runs again.
  calls.clear();
  ASSERT_TRUE(ApplyPlan(*w_, plan_, resumed, runner).ok());
  EXPECT_TRUE(calls.empty());
  EXPECT_EQ(Rows(), 8);

  // The audit since the plan started names the table; the changed tables come from it.
  auto audit = AuditSince(*w_, PlanProjects(plan_), resumed.audit_marks);
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(ChangedTables(*audit), std::set<std::string>{"bf.x_live.t_v1"});
}

TEST_F(ApplyTest, ProtectedTargetsComeFromTheCatalogWithoutRunningAnything) {
  auto none = ProtectedTargets(*w_, plan_);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  Warehouse::DatasetUpdate u;
  u.is_protected = true;
  ASSERT_TRUE(w_->UpdateDataset({"bf", "x_live"}, u).ok());
  auto some = ProtectedTargets(*w_, plan_);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(*some, std::vector<std::string>{"bf.x_live"});
  EXPECT_EQ(PlanProjects(plan_), (std::vector<std::string>{"prod", "bf"}));
}

TEST(JournalTest, RoundTripsAndNamesACorruptFile) {
  testing::TempDir dir;
  Journal j;
  j.plan = "p";
  j.sha256 = "abc";
  j.started_at = *ParseTimestamp("2020-03-19T10:00:00Z");
  j.before["a.b.c"]["2020-03-16"] = 7;
  j.steps.resize(2);
  j.steps[0].kind = StepKind::kStage;
  j.steps[0].state = StepState::kDone;
  j.steps[0].write_marks["a"] = 3;
  j.steps[0].result = PlanJson{{"files", 2}};
  j.steps[1].kind = StepKind::kSink;
  ASSERT_TRUE(SaveJournal(dir.path(), j).ok());
  auto back = LoadJournal(dir.path(), "p");
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ((*back)->before, j.before);
  EXPECT_EQ((*back)->steps[0].write_marks, j.steps[0].write_marks);
  EXPECT_EQ((*back)->steps[0].result, j.steps[0].result);
  EXPECT_EQ((*back)->steps[0].kind, StepKind::kStage);
  EXPECT_EQ((*back)->steps[0].state, StepState::kDone);
  EXPECT_EQ((*back)->steps[1].kind, StepKind::kSink);
  EXPECT_EQ((*back)->steps[1].state, StepState::kPending);
  EXPECT_EQ((*back)->started_at, j.started_at);
  EXPECT_FALSE((*back)->finished_at.has_value());
  auto none = LoadJournal(dir.path(), "other");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(WriteFileAtomically(PlanDir(dir.path(), "p") / "journal.json", "{\"steps\": 3").ok());
  auto bad = LoadJournal(dir.path(), "p");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("journal.json"), std::string::npos)
      << bad.status().message();
}

// A journal written by another version, with a kind or a state this one does not know, is
// refused naming the file and the step rather than read as something else.
TEST(JournalTest, RefusesAnUnknownKindOrStateNamingTheFileAndStep) {
  testing::TempDir dir;
  std::filesystem::path file = PlanDir(dir.path(), "p") / "journal.json";
  auto journal = [](const std::string& kind, const std::string& state) {
    return R"({"plan": "p", "steps": [{"kind": "stage", "state": "done"}, {"kind": ")" + kind +
           R"(", "state": ")" + state + R"("}]})";
  };
  ASSERT_TRUE(WriteFileAtomically(file, journal("teleport", "pending")).ok());
  auto bad_kind = LoadJournal(dir.path(), "p");
  ASSERT_FALSE(bad_kind.ok());
  EXPECT_EQ(bad_kind.status().message(), file.string() +
                                             ": step 2 has kind 'teleport', which this version of "
                                             "backfill does not know; nothing was run");
  ASSERT_TRUE(WriteFileAtomically(file, journal("sink", "half-done")).ok());
  auto bad_state = LoadJournal(dir.path(), "p");
  ASSERT_FALSE(bad_state.ok());
  EXPECT_EQ(bad_state.status().message(), file.string() +
                                              ": step 2 has state 'half-done', which this version "
                                              "of backfill does not know; nothing was run");
  ASSERT_TRUE(WriteFileAtomically(file, journal("sink", "running")).ok());
  auto good = LoadJournal(dir.path(), "p");
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_EQ((*good)->steps[1].state, StepState::kRunning);
}

TEST(ReportTest, ShowsRowsBeforeAndAfterPerDayWithAChartAndEscapesHtml) {
  Plan plan = *ParsePlan(kPlan, "p1.toml");
  Journal j;
  j.plan = "p1";
  j.sha256 = "f00d";
  j.principal = "alice";
  j.approved_by = "bob";
  j.before["prod.x_stable.t_v1"] = {{"2020-03-16", 10}, {"2020-03-17", 10}};
  j.steps.resize(3);
  for (size_t i = 0; i < 3; ++i) {
    j.steps[i].kind = plan.steps[i].kind;
    j.steps[i].state = StepState::kDone;
    j.steps[i].attempts = 1;
  }
  j.steps[1].result =
      PlanJson{{"project", "bf"}, {"totals", {{"read", 40}, {"written", 30}}}, {"dry_run", false}};
  RowCounts after = {{"prod.x_stable.t_v1", {{"2020-03-16", 27}, {"2020-03-17", 10}}}};
  AuditEntry e;
  e.project = "prod";
  e.seq = 9;
  e.action = "replace partition";
  e.target = "prod.x_stable.t_v1$20200316";
  e.principal = "<alice>";
  e.rows = 27;
  e.outcome = "ok";
  PlanReport r = MakeReport(plan, j, after, {"prod.x_stable.t_v1", "bf.x_live.gone_v1"}, {e});
  std::string md = ReportMarkdown(r);
  EXPECT_NE(md.find("| 2020-03-16 | 10 | 27 | +17 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2020-03-17 | 10 | 10 | = |"), std::string::npos);
  EXPECT_NE(md.find("Total: 20 before, 37 after (+17)."), std::string::npos);
  EXPECT_NE(md.find("read=40, written=30"), std::string::npos)
      << "step figures, not the options echoed";
  EXPECT_EQ(md.find("dry_run"), std::string::npos);
  EXPECT_NE(md.find("approved by bob"), std::string::npos);
  EXPECT_NE(md.find("Created or dropped without rows left before or after: bf.x_live.gone_v1."),
            std::string::npos);
  std::string html = ReportHtml(r);
  EXPECT_NE(html.find("&lt;alice&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<alice>"), std::string::npos);
  std::string svg = RowsChartSvg(r.tables[1]);
  EXPECT_EQ(r.tables[1].table, "prod.x_stable.t_v1");
  // One bar before and one after per day; the tallest (27) is full height, 10 is 10/27 of it.
  size_t bars = 0;
  for (size_t at = 0; (at = svg.find("<title>", at)) != std::string::npos; ++at) ++bars;
  EXPECT_EQ(bars, 4u);
  EXPECT_NE(svg.find("height=\"120\" fill=\"#1f6fd1\"><title>2020-03-16 after: 27</title>"),
            std::string::npos)
      << svg;
  EXPECT_NE(svg.find("height=\"44\" fill=\"#bbb\"><title>2020-03-16 before: 10</title>"),
            std::string::npos)
      << svg;
}

}  // namespace
}  // namespace backfill
