// Plans through the real binary, on the error-replay incident of testdata/incident: preview by
// rehearsal (nothing written), approval by a second principal bound to the file's content,
// refusals that change nothing, apply with a report, and the kill test: the process dies at
// every crash point of an uninterrupted run (each journal write and each committed transaction,
// so at every step boundary and inside every step), `apply` is run again, and the warehouse
// must equal the uninterrupted run's, table by table and partition by partition.
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <zlib.h>
#include <nlohmann/json.hpp>

#include "core/sha256.h"
#include "recover/rescue.h"
#include "testing/testing.h"
#include "testing/warehouse_state.h"

namespace backfill {
namespace {

namespace fs = std::filesystem;
using testing::RunBackfill;
using testing::RunResult;
using Json = nlohmann::json;

const fs::path kIncident = fs::path(BACKFILL_SOURCE_DIR) / "testdata" / "incident";
const fs::path kSchemas = fs::path(BACKFILL_SOURCE_DIR) / "testdata" / "schemas";
constexpr const char* kNow = "2020-03-19T10:00:00Z";

std::string PlanText(const std::string& name) {
  return "name = \"" + name + "\"\n" +
         R"(reason = "Live sink hit the API rate limit 2020-03-16..18; good records went to error output"
author = "sre"

[[step]]
kind = "stage"
from = ")" +
         (kIncident / "error").string() + R"("
to = "staged"
dates = "2020-03-16..2020-03-18"

[[step]]
kind = "mirror"
from_project = "prod"
to_project = "backfill"
only = ["*_live.*"]

[[step]]
kind = "sink"
input = ["staged"]
project = "backfill"
error_output = "replay-errors"
where = ["document_namespace=contextual-services", "document_namespace=telemetry"]

[[step]]
kind = "append"
from_project = "backfill"
to_project = "prod"
only = ["*_live.*"]
dates = "2020-03-16..2020-03-18"

[[step]]
kind = "copy-deduplicate"
project = "prod"
only = ["*_live.*"]
dates = "2020-03-16..2020-03-18"

[[step]]
kind = "cleanup"
project = "backfill"
staged = "staged"
)";
}

// Every table of every project, per partition: rows and content checksum.
std::map<std::string, std::string> WarehouseState(const fs::path& dir) {
  return testing::TableContents(dir, kNow, "sre");
}

// The records in `root`/replay-errors, sorted (file names differ between runs), with `root`
// (named in the records' stack traces) left out.
std::multiset<std::string> ErrorRecords(const fs::path& root) {
  fs::path dir = root / "replay-errors";
  std::multiset<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string name = e.path().filename().string();
    if (name.front() == '.') {
      out.insert("leftover " + name);
      continue;
    }
    std::string text = testing::GunzipFile(e.path());
    size_t start = 0;
    for (size_t i = 0; i <= text.size(); ++i) {
      if (i == text.size() || text[i] == '\n') {
        std::string record = text.substr(start, i - start);
        for (size_t at; (at = record.find(root.string())) != std::string::npos;)
          record.replace(at, root.string().size(), "ROOT");
        if (i > start) out.insert(record);
        start = i + 1;
      }
    }
  }
  return out;
}

class PlanApplyTest : public ::testing::Test {
 protected:
  // Production as the incident left it, built once: schemas deployed, the records that did
  // land, stable days built. Each test works on copies.
  static void SetUpTestSuite() {
    base_ = new testing::TempDir();
    std::map<std::string, std::string> env = {{"BACKFILL_WAREHOUSE", *base_ / "wh"},
                                              {"BACKFILL_PRINCIPAL", "sre"},
                                              {"BACKFILL_NOW", "2020-03-15T00:00:00Z"}};
    auto ok = [&](const std::vector<std::string>& args) {
      RunResult r = RunBackfill(args, env);
      ASSERT_EQ(r.exit_code, 0) << args[0] << "\n" << r.out << r.err;
    };
    ok({"init"});
    // telemetry event_v4 is stored wide (its `environment` encoded), so the plans, kills and
    // resumes below go through wide tables too.
    testing::SetWideThresholds(*base_ / "wh", 300, 100);
    ok({"principal", "set", "bob", "writer"});
    ok({"principal", "set", "mallory", "reader"});
    ok({"project", "create", "prod"});
    ok({"schemas", "deploy", kSchemas.string(), "--project", "prod"});
    env["BACKFILL_NOW"] = "2020-03-19T00:30:00Z";
    ok({"sink", "--input", (kIncident / "live").string(), "--project", "prod"});
    ok({"copy-deduplicate", "--project", "prod", "-o", "*_live.*", "--dates",
        "2020-03-16..2020-03-18"});
  }
  static void TearDownTestSuite() {
    delete base_;
    base_ = nullptr;
  }

  // A fresh copy of the incident's warehouse and the plan, in `dir`.
  void Prepare(const fs::path& dir, const std::string& plan_name = "error-replay") {
    fs::create_directories(dir);
    fs::copy(*base_ / "wh", dir / "wh", fs::copy_options::recursive);
    testing::WriteFile(dir / "plan.toml", PlanText(plan_name));
  }
  std::map<std::string, std::string> Env(const fs::path& dir,
                                         const std::string& principal = "sre") {
    return {{"BACKFILL_WAREHOUSE", (dir / "wh").string()},
            {"BACKFILL_PRINCIPAL", principal},
            {"BACKFILL_NOW", kNow}};
  }

  static testing::TempDir* base_;
  testing::TempDir dir_;
};
testing::TempDir* PlanApplyTest::base_ = nullptr;

TEST_F(PlanApplyTest, PreviewApprovalRefusalsApplyReportAndStatus) {
  fs::path d = dir_.path();
  Prepare(d);
  auto env = Env(d);
  auto before = WarehouseState(d / "wh");
  RunResult r =
      RunBackfill({"dataset", "update", "prod.contextual_services_stable", "--protected"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  before = WarehouseState(d / "wh");

  // Preview: every step rehearsed, the counts it would leave, the approval it needs; nothing
  // written.
  r = RunBackfill({"--format", "json", "plan", (d / "plan.toml").string()}, env);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Json preview = Json::parse(r.out);
  EXPECT_EQ(preview["needs_approval"], Json::array({"prod.contextual_services_stable"}));
  ASSERT_EQ(preview["steps"].size(), 6u);
  for (const auto& s : preview["steps"]) EXPECT_EQ(s["outcome"], "ok") << s.dump();
  EXPECT_EQ(preview["steps"][4]["needs_approval"],
            Json::array({"prod.contextual_services_stable"}));
  std::ifstream in(kIncident / "expected.json");
  Json expected = Json::parse(in);
  int checked = 0;
  for (const auto& t : preview["tables"]) {
    std::string table = t["table"];
    if (table.rfind("prod.", 0) != 0 || table.find("_stable.") == std::string::npos) continue;
    std::string live = table.substr(5);
    live.replace(live.find("_stable."), 8, "_live.");
    for (const auto& day : t["days"]) {
      EXPECT_EQ(day["after"],
                expected["tables"][live][day["day"].get<std::string>()]["stable_rows_after"])
          << table << " " << day.dump();
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
  EXPECT_EQ(WarehouseState(d / "wh"), before) << "the preview changed the warehouse";
  EXPECT_FALSE(fs::exists(d / "staged")) << "the preview wrote outside its scratch copy";
  EXPECT_FALSE(fs::exists(d / "replay-errors"));

  // Refusals change nothing: no approval, the author approving, a reader approving.
  r = RunBackfill({"apply", (d / "plan.toml").string()}, env);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("backfill: refused: plan error-replay writes protected "
                       "prod.contextual_services_stable: it needs an "
                       "approval of this exact file"),
            std::string::npos)
      << r.err;
  r = RunBackfill({"approve", (d / "plan.toml").string()}, env);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err,
            "backfill: refused: sre wrote plan error-replay: a plan is approved by a second "
            "principal, not its "
            "author; nothing was recorded\n");
  r = RunBackfill({"--as", "mallory", "approve", (d / "plan.toml").string()}, env);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err,
            "backfill: refused: mallory has role reader in this warehouse; approving a plan needs "
            "writer or owner; "
            "nothing was recorded\n");
  EXPECT_EQ(WarehouseState(d / "wh"), before);
  EXPECT_FALSE(fs::exists(d / "staged"));

  // bob approves; an edited plan is refused until approved again.
  r = RunBackfill({"--as", "bob", "approve", (d / "plan.toml").string()}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("approved by bob"), std::string::npos) << r.out;
  std::string text = testing::ReadFile(d / "plan.toml");
  testing::WriteFile(d / "plan.toml", text + "# edited after the approval\n");
  r = RunBackfill({"apply", (d / "plan.toml").string()}, env);
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_EQ(WarehouseState(d / "wh"), before);
  testing::WriteFile(d / "plan.toml", text);

  // Apply: the stable days hold what the incident's oracle says; the report shows it.
  r = RunBackfill({"--format", "json", "apply", (d / "plan.toml").string()}, env);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Json applied = Json::parse(r.out);
  EXPECT_EQ(applied["approved_by"], "bob");
  for (const auto& s : applied["steps"]) EXPECT_EQ(s["state"], "done") << s.dump();
  auto after = WarehouseState(d / "wh");
  for (const auto& t : preview["tables"]) {
    if (t["dropped_after"]) continue;
    for (const auto& day : t["days"]) {
      std::string key = t["table"].get<std::string>() + "@" +
                        (day["day"].is_null() ? "-" : day["day"].get<std::string>());
      std::string rows = after[key].substr(0, after[key].find(' '));
      EXPECT_EQ(rows, std::to_string(day["after"].get<int64_t>()))
          << key << ": the preview and the apply disagree";
    }
  }
  std::string md = testing::ReadFile(applied["report"]["markdown"].get<std::string>());
  std::string html = testing::ReadFile(applied["report"]["html"].get<std::string>());
  EXPECT_NE(md.find("### `prod.contextual_services_stable.topsites_click_v1`"), std::string::npos)
      << md;
  EXPECT_NE(md.find("approved by bob"), std::string::npos);
  EXPECT_NE(
      md.find("| replace partition | prod.contextual_services_stable.topsites_click_v1$20200316 |"),
      std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);

  // Status and a second apply: everything done, nothing run again.
  r = RunBackfill({"--format", "json", "status", (d / "plan.toml").string()}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["state"], "applied");
  r = RunBackfill({"apply", (d / "plan.toml").string()}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("was already applied"), std::string::npos) << r.out;
  EXPECT_EQ(WarehouseState(d / "wh"), after);
}

TEST_F(PlanApplyTest, PreviewAndApprovalGolden) {
  fs::path d = dir_.path();
  Prepare(d);
  auto env = Env(d);
  for (std::vector<std::string> args :
       {std::vector<std::string>{"sql", "--project", "prod",
                                 "DELETE FROM contextual_services_stable.topsites_click_v1 "
                                 "WHERE DATE(submission_timestamp) = '2020-03-16'"},
        {"dataset", "update", "prod.contextual_services_stable", "--protected"},
        {"dataset", "update", "prod.contextual_services_live", "--partition-expiration-days",
         "30"}}) {
    RunResult r = RunBackfill(args, env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  testing::WriteFile(d / "p.toml", R"(name = "rebuild-topsites"
reason = "Someone deleted the stable topsites clicks of 2020-03-16"
author = "sre"

[[step]]
kind = "copy-deduplicate"
project = "prod"
only = ["contextual_services_live.topsites_click_v1"]
dates = "2020-03-16..2020-03-17"
)");
  std::string plan = (d / "p.toml").string();
  const std::string rows =
      "Rows that change (now -> expected after the plan):\n"
      "table                                              day         now  after  change\n"
      "-------------------------------------------------  ----------  ---  -----  ------\n"
      "prod.contextual_services_stable.topsites_click_v1  2020-03-16  0    10     +10\n"
      "\n"
      "Deadlines:\n"
      "  2020-04-15T00:00:00Z  partition 2020-03-16 of the tables of prod.contextual_services_live "
      "expires (30 day(s) kept)\n";
  auto preview = [&](const std::string& approval, const std::string& next) {
    return "Plan rebuild-topsites by sre: Someone deleted the stable topsites clicks of "
           "2020-03-16\n"
           "sha256 " +
           Sha256HexOfParts({testing::ReadFile(d / "p.toml")}) +
           "\n"
           "Approval: needed for prod.contextual_services_stable — " +
           approval +
           "\n"
           "Rehearsed on a scratch copy of the warehouse; nothing was written.\n"
           "\n"
           "1. copy-deduplicate — ok\n"
           "   dates=2020-03-16..2020-03-17 only=[contextual_services_live.topsites_click_v1] "
           "project=prod\n"
           "   checks: live partition not empty\n"
           "   prod.contextual_services_stable.topsites_click_v1: replace partition 2020-03-16, "
           "2020-03-17 (20 rows)\n"
           "   needs approval: writes protected prod.contextual_services_stable\n"
           "   result: preceding_days=0, slices=1, items=2, live_rows=20, distinct_documents=20, "
           "duplicates_removed=0, stable_rows_before=10, stable_rows_after=20\n"
           "\n" +
           rows +
           "\n"
           "The rehearsal ran every step. Next: " +
           next + "\n";
  };
  RunResult r = RunBackfill({"plan", plan}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, preview("not approved yet: a second principal runs `backfill approve " + plan +
                               " --as REVIEWER`",
                           "approval, then backfill apply " + plan));
  EXPECT_EQ(r.err, "");
  r = RunBackfill({"--as", "bob", "approve", plan}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Plan rebuild-topsites (sha256 " +
                Sha256HexOfParts({testing::ReadFile(d / "p.toml")}).substr(0, 16) +
                ") approved by bob; it may write protected prod.contextual_services_stable.\n"
                "An edited plan needs a new approval.\n");
  r = RunBackfill({"plan", plan}, env);
  EXPECT_EQ(r.out, preview("approved by bob", "backfill apply " + plan));
}

TEST_F(PlanApplyTest, APlanEditedAfterItStartedApplyingIsRefusedUntilPutBack) {
  fs::path d = dir_.path();
  Prepare(d);
  std::string plan = (d / "plan.toml").string();
  auto kill_env = Env(d);
  // Crash points: the "apply plan" audit entry, journal created, step 1 started, step 1 done.
  kill_env["BACKFILL_CRASH_AT"] = "4";
  ASSERT_EQ(RunBackfill({"apply", plan}, kill_env).exit_code, 137);
  auto before = WarehouseState(d / "wh");
  std::string text = testing::ReadFile(plan);
  testing::WriteFile(plan, text + "# edited while half applied\n");
  RunResult r = RunBackfill({"apply", plan}, Env(d));
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(
      r.err.find("plan error-replay was changed after it started to apply (1 of 6 step(s) done"),
      std::string::npos)
      << r.err;
  EXPECT_EQ(WarehouseState(d / "wh"), before);
  // Put back, it resumes.
  testing::WriteFile(plan, text);
  r = RunBackfill({"--format", "json", "apply", plan}, Env(d));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Json applied = Json::parse(r.out);
  EXPECT_TRUE(applied["resumed"]);
  EXPECT_EQ(applied["steps"][0]["attempts"], 1) << "the finished step is not run again";
}

TEST_F(PlanApplyTest, APreviewShowsTheStepThatWouldRefuseAndWhatIsNotReached) {
  fs::path d = dir_.path();
  Prepare(d);
  std::string text = testing::ReadFile(d / "plan.toml");
  // A live day lost after its stable day was built (and not appended by the plan): rebuilding
  // the stable day from an empty live day would destroy it, so copy-deduplicate refuses.
  size_t at = text.find("2020-03-16..2020-03-18", text.find("kind = \"append\""));
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 22, "2020-03-17..2020-03-18");
  testing::WriteFile(d / "plan.toml", text);
  RunResult del = RunBackfill({"sql", "--project", "prod",
                               "DELETE FROM contextual_services_live.topsites_click_v1 WHERE "
                               "DATE(submission_timestamp) = '2020-03-16'"},
                              Env(d));
  ASSERT_EQ(del.exit_code, 0) << del.err;
  auto before = WarehouseState(d / "wh");
  RunResult r = RunBackfill({"--format", "json", "plan", (d / "plan.toml").string()}, Env(d));
  ASSERT_EQ(r.exit_code, 3) << r.out << r.err;
  Json preview = Json::parse(r.out);  // one document on stdout; the refusal is on stderr
  EXPECT_EQ(Json::parse(r.err)["error"]["exit_code"], 3);
  std::string refusal = preview["steps"][4]["outcome"];
  EXPECT_EQ(refusal.rfind("would refuse: ", 0), 0u) << refusal;
  EXPECT_NE(refusal.find("empty"), std::string::npos) << refusal;
  EXPECT_EQ(preview["steps"][5]["outcome"], "not reached");
  EXPECT_EQ(WarehouseState(d / "wh"), before);
}

TEST_F(PlanApplyTest, KilledAtEveryCrashPointThenResumedEqualsAnUninterruptedRun) {
  fs::path ref = dir_.path() / "ref";
  Prepare(ref);
  auto env = Env(ref);
  env["BACKFILL_CRASH_TRACE"] = (ref / "trace.txt").string();
  RunResult r = RunBackfill({"apply", (ref / "plan.toml").string()}, env);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "") << "no progress bar when stderr is not a terminal";
  auto expected = WarehouseState(ref / "wh");
  auto expected_errors = ErrorRecords(ref);
  ASSERT_FALSE(expected_errors.empty()) << "the incident has genuinely bad records";
  std::vector<std::string> points;
  {
    std::ifstream trace(ref / "trace.txt");
    for (std::string line; std::getline(trace, line);) points.push_back(line);
  }
  ASSERT_GT(points.size(), 20u) << "crash points of an uninterrupted run";
  int sink_commits = 0;
  for (const auto& p : points) sink_commits += p.find("commit backfill") != std::string::npos;
  ASSERT_GT(sink_commits, 1) << "mirror and sink commit";

  // Every step boundary (journal writes) and, inside the steps, the first, middle and last
  // commit of each run of commits between two journal writes.
  std::vector<size_t> chosen;
  for (size_t i = 0; i < points.size(); ++i) {
    bool journal = points[i].find("commit") == std::string::npos;
    bool first = i > 0 && points[i - 1].find("commit") == std::string::npos;
    bool last = i + 1 < points.size() && points[i + 1].find("commit") == std::string::npos;
    size_t run_start = i;
    while (run_start > 0 && points[run_start - 1].find("commit") != std::string::npos) --run_start;
    size_t run_end = i;
    while (run_end + 1 < points.size() && points[run_end + 1].find("commit") != std::string::npos)
      ++run_end;
    bool middle = i == (run_start + run_end) / 2;
    if (journal || first || last || middle) chosen.push_back(i + 1);
  }
  for (size_t at : chosen) {
    SCOPED_TRACE("killed at crash point " + points[at - 1]);
    fs::path d = dir_.path() / ("kill" + std::to_string(at));
    Prepare(d);
    auto kill_env = Env(d);
    kill_env["BACKFILL_CRASH_AT"] = std::to_string(at);
    r = RunBackfill({"apply", (d / "plan.toml").string()}, kill_env);
    ASSERT_EQ(r.exit_code, 137) << r.out << r.err;
    r = RunBackfill({"apply", (d / "plan.toml").string()}, Env(d));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(WarehouseState(d / "wh"), expected);
    EXPECT_EQ(ErrorRecords(d), expected_errors);
    EXPECT_FALSE(fs::exists(d / "staged"));
    fs::remove_all(d);
  }

  // Killed right after the sink's commit (before the journal knew), then again after the
  // redo's retractions and its own commit, then finished.
  size_t in_sink = 0;
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    if (points[i].find("step 3 started") != std::string::npos) {
      ASSERT_NE(points[i + 1].find("commit backfill"), std::string::npos) << "the sink commits";
      in_sink = i + 2;
      break;
    }
  }
  ASSERT_GT(in_sink, 0u);
  fs::path d = dir_.path() / "twice";
  Prepare(d);
  auto kill_env = Env(d);
  kill_env["BACKFILL_CRASH_AT"] = std::to_string(in_sink);
  ASSERT_EQ(RunBackfill({"apply", (d / "plan.toml").string()}, kill_env).exit_code, 137);
  kill_env["BACKFILL_CRASH_AT"] = "6";
  kill_env["BACKFILL_CRASH_TRACE"] = (d / "trace2.txt").string();
  ASSERT_EQ(RunBackfill({"apply", (d / "plan.toml").string()}, kill_env).exit_code, 137);
  {
    std::ifstream trace(d / "trace2.txt");
    std::vector<std::string> redo;
    for (std::string line; std::getline(trace, line);) redo.push_back(line);
    ASSERT_EQ(redo.size(), 6u);
    EXPECT_EQ(redo[0], "1 commit backfill") << "retracting the first attempt's rows";
    // The first attempt's ledger entries (they committed with its rows) are forgotten, so the
    // redo loads the staged files again instead of skipping them as loaded.
    EXPECT_EQ(redo[3], "4 commit backfill") << "forgetting the first attempt's ledger entries";
    EXPECT_EQ(redo[4], "5 step 3 started");
    EXPECT_EQ(redo[5], "6 commit backfill") << "killed after the redo's own commit";
  }
  r = RunBackfill({"--format", "json", "status", (d / "plan.toml").string()}, Env(d));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["steps"][2]["state"], "running");
  // The preview of an interrupted plan rehearses the resume: finished steps are not run again,
  // the interrupted sink is undone and redone, so the counts after are the uninterrupted ones.
  r = RunBackfill({"--format", "json", "plan", (d / "plan.toml").string()}, Env(d));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Json preview = Json::parse(r.out);
  EXPECT_EQ(preview["steps"][0]["outcome"], "done");
  EXPECT_EQ(preview["steps"][1]["outcome"], "done");
  EXPECT_EQ(preview["steps"][2]["outcome"], "ok");
  EXPECT_TRUE(fs::exists(d / "staged"))
      << "the preview's cleanup step removed the real staging folder";
  int compared = 0;
  for (const auto& t : preview["tables"]) {
    if (t["dropped_after"]) continue;
    for (const auto& day : t["days"]) {
      std::string key = t["table"].get<std::string>() + "@" + day["day"].get<std::string>();
      ASSERT_TRUE(expected.count(key)) << key;
      EXPECT_EQ(expected[key].substr(0, expected[key].find(' ')),
                std::to_string(day["after"].get<int64_t>()))
          << key;
      ++compared;
    }
  }
  EXPECT_GT(compared, 0);
  r = RunBackfill({"--progress", "apply", (d / "plan.toml").string()}, Env(d));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("Resuming plan error-replay: 2 of 6 step(s) already done."),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("[########"), std::string::npos)
      << "the progress bar, forced by --progress: " << r.err;
  EXPECT_NE(r.err.find("done   step 3 (sink, line 17)"), std::string::npos) << r.err;
  EXPECT_EQ(WarehouseState(d / "wh"), expected);
  EXPECT_EQ(ErrorRecords(d), expected_errors);
}

}  // namespace
}  // namespace backfill
