// The time-travel rescue, played as a runbook through the real binary on a simulated clock:
// sources keep 30 days, a derived table holds 60 days; a careless re-run with the override wipes
// the older days; two days later the rescue snapshots the table as of before the wipe into a
// restricted sandbox, a second principal approves the restore, which is validated, and the
// snapshot dropped. The final table equals the pre-incident one exactly.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>
#include "core/time.h"
#include "testing/cli_fixture.h"
#include "testing/testing.h"

namespace backfill {
namespace {

using testing::RunBackfill;
using testing::RunResult;
using Json = nlohmann::json;

constexpr const char* kDerived = "prod.contextual_services_derived.event_aggregates_v1";
constexpr const char* kSnapshot = "sandbox.rescue_restricted.event_aggregates_v1";

class RescueScenarioTest : public testing::CliFixture {
 protected:
  void SetUp() override {
    UseWarehouse("alice");
    testing::WriteFile(dir_ / "events.bq", R"([{"name":"submission_timestamp","type":"TIMESTAMP"},
      {"name":"document_id","type":"STRING"},{"name":"event","type":"STRING"}])");
    testing::WriteFile(dir_ / "aggregates.bq", R"([{"name":"submission_date","type":"DATE"},
      {"name":"event","type":"STRING"},{"name":"event_count","type":"INT64"}])");
    testing::WriteFile(
        dir_ / "aggregates.sql",
        "SELECT DATE(submission_timestamp) AS submission_date, event, COUNT(*) AS event_count\n"
        "FROM contextual_services_live.events_v1\n"
        "WHERE DATE(submission_timestamp) = @submission_date\nGROUP BY 1, 2");
    At("2020-01-01T00:00:00Z");
    Ok({"init"});
    Ok({"principal", "set", "bob", "writer"});
    Ok({"project", "create", "prod"});
    Ok({"project", "create", "sandbox"});
    Ok({"dataset", "create", "prod.contextual_services_live", "--partition-expiration-days", "30"});
    Ok({"dataset", "create", "prod.contextual_services_derived"});
    Ok({"table", "create", "prod.contextual_services_live.events_v1", "--schema",
        dir_ / "events.bq", "--partition-by", "submission_timestamp"});
    Ok({"table", "create", kDerived, "--schema", dir_ / "aggregates.bq", "--partition-by",
        "submission_date", "--query", dir_ / "aggregates.sql"});
    Ok({"dataset", "update", "prod.contextual_services_derived", "--protected"});
  }

  RunResult Refused(std::vector<std::string> args, const std::string& why) {
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 3) << args[0] << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    return r;
  }
  Json JsonOf(std::vector<std::string> args) {
    args.insert(args.begin(), {"--format", "json"});
    return Json::parse(Ok(args).out);
  }
  int64_t Partitions(const std::string& table) {
    return JsonOf({"show", table})["partitions"].size();
  }

  // 60 days of events (2020-01-01..2020-02-29), each day its own write as a daily load would be,
  // and the derived table built day by day the way the scheduler builds it.
  void BuildHistory() {
    for (int d = 0; d < 60; ++d) {
      std::string day = FormatDate(AddDays(*ParseDate("2020-01-01"), d));
      At(day + "T23:00:00Z");
      Ok({"sql", "--project", "prod",
          fmt::format("INSERT INTO contextual_services_live.events_v1 SELECT TIMESTAMP '{0} "
                      "10:00:00+00', 'a-{0}', "
                      "'click' UNION ALL SELECT TIMESTAMP '{0} 11:00:00+00', 'b-{0}', 'click' "
                      "UNION ALL SELECT "
                      "TIMESTAMP '{0} 12:00:00+00', 'c-{0}', 'impression'",
                      day)});
    }
  }
};

TEST_F(RescueScenarioTest, CarelessRerunThenRescueRestoresThePreIncidentTableExactly) {
  BuildHistory();
  // The daily builds: the derived dataset is protected, so even the scheduler's backfill goes
  // through a reviewed request.
  At("2020-03-01T00:30:00Z");
  Refused({"rerun", kDerived, "--dates", "2020-01-01..2020-02-29"}, "is protected");
  Json req =
      JsonOf({"request", "create", "--", "rerun", kDerived, "--dates", "2020-01-01..2020-02-29"});
  EXPECT_EQ(req["statements"].size(), 60u);
  Ok({"--as", "bob", "request", "approve", req["id"]});
  Ok({"rerun", kDerived, "--dates", "2020-01-01..2020-02-29", "--request", req["id"]});
  EXPECT_EQ(Partitions(kDerived), 60);
  // A test-only oracle of the pre-incident state.
  Ok({"dataset", "create", "prod.oracle", "--restricted"});
  Ok({"sql", "--project", "prod",
      "CREATE TABLE oracle.before AS (SELECT * FROM "
      "contextual_services_derived.event_aggregates_v1)"});

  // Retention runs: source days older than 30 days go.
  At("2020-03-01T02:00:00Z");
  Json maintained = JsonOf({"maintain"});
  EXPECT_EQ(maintained.size(), 31u);  // 2020-01-01 .. 2020-01-31 expired

  // The careless re-run without the override is refused and changes nothing.
  At("2020-03-01T03:00:00Z");
  Json dry = JsonOf({"rerun", kDerived, "--dates", "2020-01-01..2020-02-29", "--dry-run"});
  EXPECT_EQ(dry["refused_days"], 31);
  RunResult refused = Refused({"rerun", kDerived, "--dates", "2020-01-01..2020-02-29"},
                              "refused for 31 of 60 dates");
  EXPECT_NE(refused.err.find(std::string(kDerived) + " 2020-01-05: 2 rows would be lost"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("backfill snapshot"), std::string::npos);
  Ok({"validate", "--expected", "prod.oracle.before", "--actual", kDerived});

  // ... and with the override (approved in a hurry) it wipes the 31 older days.
  Json careless = JsonOf({"request", "create", "--", "rerun", kDerived, "--dates",
                          "2020-01-01..2020-02-29", "--allow-data-loss"});
  Ok({"--as", "bob", "request", "approve", careless["id"]});
  Ok({"rerun", kDerived, "--dates", "2020-01-01..2020-02-29", "--allow-data-loss", "--request",
      careless["id"]});
  EXPECT_EQ(Partitions(kDerived), 29);
  EXPECT_EQ(Run({"validate", "--expected", "prod.oracle.before", "--actual", kDerived}).exit_code,
            1);

  // Two days later: the rescue.
  At("2020-03-03T03:00:00Z");
  Json snap = JsonOf({"snapshot", kDerived, "--as-of", "2020-03-01T02:30:00Z", "--to", kSnapshot});
  EXPECT_EQ(snap["partitions"].size(), 60u);
  EXPECT_EQ(snap["window_closes"], "2020-03-08T02:30:00Z");
  EXPECT_TRUE(snap["created_dataset"]);
  Refused({"--as", "mallory", "sql", "--project", "sandbox",
           "SELECT count(*) FROM rescue_restricted.event_aggregates_v1"},
          "may not read restricted dataset sandbox.rescue_restricted");

  std::vector<std::string> restore = {"restore", kSnapshot, "--to", kDerived,
                                      "--missing-partitions"};
  Refused(restore, "is protected");
  std::vector<std::string> create = {"request", "create", "--"};
  create.insert(create.end(), restore.begin(), restore.end());
  Json r = JsonOf(create);
  EXPECT_EQ(r["statements"].size(), 31u);
  EXPECT_EQ(r["protected_datasets"], Json::array({"prod.contextual_services_derived"}));
  Refused({"request", "approve", r["id"]}, "cannot approve it");  // the author
  Refused({"--as", "mallory", "request", "approve", r["id"]}, "may not approve writes");
  Ok({"--as", "bob", "request", "approve", r["id"]});
  std::vector<std::string> run = restore;
  run.insert(run.end(), {"--request", r["id"]});
  Ok(run);
  Refused(run, "already executed");
  EXPECT_EQ(Partitions(kDerived), 60);
  Ok({"validate", "--expected", kSnapshot, "--actual", kDerived});
  Ok({"table", "drop", kSnapshot});
  Ok({"validate", "--expected", "prod.oracle.before", "--actual",
      kDerived});  // exactly the pre-incident table

  // Restore again: idempotent (nothing missing; a request is not even needed).
  Json again = JsonOf(
      {"restore", "prod.oracle.before", "--to", kDerived, "--missing-partitions", "--dry-run"});
  for (const auto& p : again["partitions"]) EXPECT_EQ(p["state"], "present");

  // The audit log has the requests, approvals and refusals.
  Json audit = JsonOf({"audit", "--project", "prod"});
  int creates = 0, approvals = 0, refusals = 0, executions = 0;
  for (const auto& e : audit) {
    creates += e["action"] == "request create";
    approvals += e["action"] == "request approve" && e["outcome"] == "ok";
    refusals += e["outcome"].get<std::string>().rfind("refused", 0) == 0;
    executions += e["action"] == "execute request";
  }
  EXPECT_EQ(creates, 3);
  EXPECT_EQ(approvals, 3);
  EXPECT_EQ(executions, 3);
  EXPECT_GE(refusals, 4);  // 2 unrequested writes, 2 refused approvals
}

TEST_F(RescueScenarioTest, TheSameRescueEightDaysLaterFailsWithTheEarliestReadableTime) {
  BuildHistory();
  At("2020-03-01T03:00:00Z");
  Ok({"dataset", "update", "prod.contextual_services_derived", "--unprotected"});
  Ok({"rerun", kDerived, "--dates", "2020-02-01..2020-02-29"});
  At("2020-03-09T03:00:00Z");
  RunResult late =
      Refused({"snapshot", kDerived, "--as-of", "2020-03-01T04:00:00Z", "--to", kSnapshot},
              "the earliest readable time is 2020-03-02T03:00:00Z");
  EXPECT_EQ(Run({"show", kSnapshot}).exit_code, 1);  // nothing was created
}

TEST_F(RescueScenarioTest, ChangedDataInvalidatesAnApprovedRequest) {
  BuildHistory();
  At("2020-03-01T03:00:00Z");
  Json r =
      JsonOf({"request", "create", "--", "rerun", kDerived, "--dates", "2020-02-27..2020-02-29"});
  Ok({"--as", "bob", "request", "approve", r["id"]});
  // The source changes after approval: the statements are the same, so it still runs...
  Ok({"sql", "--project", "prod",
      "INSERT INTO contextual_services_live.events_v1 SELECT TIMESTAMP '2020-02-28 13:00:00+00', "
      "'x', 'click'"});
  // ...but a different command under the same approval is refused and changes nothing.
  Refused({"rerun", kDerived, "--dates", "2020-02-27..2020-02-28", "--request", r["id"]},
          "no longer runs what request");
  EXPECT_EQ(Partitions(kDerived), 0);
  Ok({"rerun", kDerived, "--dates", "2020-02-27..2020-02-29", "--request", r["id"]});
  EXPECT_EQ(Partitions(kDerived), 3);
}

TEST_F(RescueScenarioTest, SnapshotIntoALessRestrictedDatasetIsRefused) {
  BuildHistory();
  At("2020-03-01T03:00:00Z");
  Ok({"dataset", "create", "prod.secret", "--restricted", "--readers", "carol"});
  Ok({"sql", "--project", "prod",
      "CREATE TABLE secret.events AS (SELECT * FROM contextual_services_live.events_v1)"});
  Ok({"dataset", "create", "sandbox.open"});
  Refused({"snapshot", "prod.secret.events", "--as-of", "2020-03-01T03:00:00Z", "--to",
           "sandbox.open.events"},
          "must be at least as restricted as its source");
  Ok({"dataset", "create", "sandbox.wider", "--restricted", "--readers", "mallory"});
  Refused({"snapshot", "prod.secret.events", "--as-of", "2020-03-01T03:00:00Z", "--to",
           "sandbox.wider.events"},
          "grants access to mallory");
  Ok({"snapshot", "prod.secret.events", "--as-of", "2020-03-01T03:00:00Z", "--to",
      "sandbox.fresh.events"});
  Refused({"--as", "carol", "sql", "SELECT 1 FROM sandbox.fresh.events"},
          "may not read restricted dataset");
  // An unvalidated snapshot cannot be dropped without --force.
  Refused({"table", "drop", "sandbox.fresh.events"}, "no validation of it has passed");
  Ok({"table", "drop", "sandbox.fresh.events", "--force"});
}

// In production the daily job keeps adding days after the snapshot time: a plan's validate after
// a restore compares the days restored (the snapshot's), not the whole table.
TEST_F(RescueScenarioTest, APlanValidatesOnlyTheRestoredDaysWhileTheDailyJobAddsNewOnes) {
  testing::WriteFile(dir_ / "t.bq",
                     R"([{"name":"submission_date","type":"DATE"},{"name":"n","type":"INT64"}])");
  At("2020-01-04T00:00:00Z");
  Ok({"dataset", "create", "prod.analysis"});
  Ok({"table", "create", "prod.analysis.t", "--schema", dir_ / "t.bq", "--partition-by",
      "submission_date"});
  Ok({"sql", "--project", "prod",
      "INSERT INTO analysis.t SELECT DATE '2020-01-01', 1 UNION ALL SELECT DATE '2020-01-02', 2 "
      "UNION ALL SELECT DATE '2020-01-03', 3"});
  At("2020-01-04T12:00:00Z");
  Ok({"sql", "--project", "prod",
      "DELETE FROM analysis.t WHERE submission_date = DATE '2020-01-02'"});
  At("2020-01-05T01:00:00Z");
  Ok({"sql", "--project", "prod",
      "INSERT INTO analysis.t SELECT DATE '2020-01-04', 4"});  // the daily job
  testing::WriteFile(dir_ / "rescue.toml", R"(name = "rescue-t"
reason = "day 2020-01-02 deleted by mistake"
author = "alice"

[[step]]
kind = "snapshot"
table = "prod.analysis.t"
as_of = "2020-01-04T06:00:00Z"
to = "sandbox.rescue_restricted.t"

[[step]]
kind = "restore"
snapshot = "sandbox.rescue_restricted.t"
to = "prod.analysis.t"

[[step]]
kind = "validate"
expected = "sandbox.rescue_restricted.t"
actual = "prod.analysis.t"

[[step]]
kind = "drop"
table = "sandbox.rescue_restricted.t"
)");
  At("2020-01-05T02:00:00Z");
  Ok({"apply", dir_ / "rescue.toml"});
  EXPECT_EQ(JsonOf({"show", "prod.analysis.t"})["partitions"].size(), 4u);
  EXPECT_NE(testing::ReadFile(dir_ / "rescue.report.md")
                .find("- `prod.analysis.t` against `sandbox.rescue_restricted.t`: **PASSED** (3 "
                      "partition(s))"),
            std::string::npos)
      << testing::ReadFile(dir_ / "rescue.report.md");

  // The same comparison by hand: the whole tables differ (the new day); --expected-days passes.
  Ok({"snapshot", "prod.analysis.t", "--as-of", "2020-01-04T06:00:00Z", "--to",
      "sandbox.rescue_restricted.t2"});
  RunResult whole = Run(
      {"validate", "--expected", "sandbox.rescue_restricted.t2", "--actual", "prod.analysis.t"});
  EXPECT_EQ(whole.exit_code, 1) << whole.out << whole.err;
  EXPECT_NE(whole.err.find("partitions 2020-01-04"), std::string::npos) << whole.err;
  Json days = JsonOf({"validate", "--expected", "sandbox.rescue_restricted.t2", "--actual",
                      "prod.analysis.t", "--expected-days"});
  EXPECT_EQ(days["passed"], true);
  EXPECT_EQ(days["partitions"].size(), 3u);
}

}  // namespace
}  // namespace backfill
