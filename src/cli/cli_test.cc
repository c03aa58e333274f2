// Golden tests of the `backfill` binary: stdout, stderr and exit codes, run as a child process.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/cli_fixture.h"
#include "testing/testing.h"
#include "warehouse/duckdb.h"
#include "warehouse/lock.h"

namespace backfill {
namespace {

using testing::RunBackfill;
using testing::RunResult;
using Json = nlohmann::json;

class CliTest : public testing::CliFixture {
 protected:
  void SetUp() override {
    UseWarehouse("alice", "2020-03-16T00:00:00Z");
    ASSERT_EQ(Run({"init"}).exit_code, 0);
    ASSERT_EQ(Run({"project", "create", "prod"}).exit_code, 0);
    testing::WriteFile(dir_ / "schemas/contextual-services/topsites-click/topsites-click.1.bq",
                       kSchema);
  }

  void Deploy() { Ok({"schemas", "deploy", dir_ / "schemas", "--project", "prod"}); }

  void LoadTwoDays() {
    Deploy();
    Ok({"sql", "--project", "prod",
        "INSERT INTO contextual_services_live.topsites_click_v1 (submission_timestamp, "
        "document_id) "
        "SELECT TIMESTAMP '2020-03-17 01:00:00+00', 'a' UNION ALL SELECT TIMESTAMP '2020-03-17 "
        "02:00:00+00', 'b' "
        "UNION ALL SELECT TIMESTAMP '2020-03-18 02:00:00+00', 'c'"},
       {{"BACKFILL_NOW", "2020-03-18T06:00:00Z"}});
    env_["BACKFILL_NOW"] = "2020-03-19T10:00:00Z";  // the clock only moves forward
  }

  static constexpr const char* kSchema = R"([
    {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
    {"name":"document_id","type":"STRING","mode":"NULLABLE"},
    {"name":"normalized_channel","type":"STRING","mode":"NULLABLE"},
    {"name":"sample_id","type":"INTEGER","mode":"NULLABLE"}])";
};

TEST_F(CliTest, InitRefusesAnExistingWarehouse) {
  RunResult r = Run({"init"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "backfill: error: " + (dir_ / "wh") +
                       " is already a warehouse (backfill.toml exists)\n");
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  RunResult r = Run({"table", "create", "prod.d.t"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--schema is required"), std::string::npos) << r.err;
  r = Run({"show", "not-a-table"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not a table name"), std::string::npos) << r.err;
  r = Run({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(CliTest, SchemasDeployIsIdempotentAndNeverAltersADifferingTable) {
  RunResult first = Ok({"schemas", "deploy", dir_ / "schemas", "--project", "prod"});
  EXPECT_NE(first.out.find("2 created, 0 unchanged, 0 differ (not altered), 0 failed"),
            std::string::npos)
      << first.out;
  RunResult second =
      Ok({"schemas", "deploy", dir_ / "schemas", "--project", "prod", "--format", "json"});
  Json j = Json::parse(second.out);
  EXPECT_EQ(j["summary"]["unchanged"], 2);
  EXPECT_EQ(j["tables"][0]["table"], "prod.contextual_services_live.topsites_click_v1");
  EXPECT_EQ(j["tables"][1]["table"], "prod.contextual_services_stable.topsites_click_v1");

  testing::WriteFile(
      dir_ / "schemas/contextual-services/topsites-click/topsites-click.1.bq",
      R"([{"name":"submission_timestamp","type":"TIMESTAMP"},{"name":"document_id","type":"INT64"}])");
  RunResult third = Run({"schemas", "deploy", dir_ / "schemas", "--project", "prod"});
  EXPECT_EQ(third.exit_code, 1);
  EXPECT_NE(third.out.find("column document_id: NULLABLE STRING -> NULLABLE INT64"),
            std::string::npos)
      << third.out;
  EXPECT_NE(third.out.find("removed column normalized_channel"), std::string::npos) << third.out;
  RunResult show =
      Ok({"show", "prod.contextual_services_stable.topsites_click_v1", "--format", "json"});
  Json s = Json::parse(show.out);
  EXPECT_EQ(s["schema"].size(), 4u);  // not altered
  EXPECT_EQ(s["cluster_by"], Json::array({"normalized_channel", "sample_id"}));
}

TEST_F(CliTest, ShowsPartitionsAndLsGolden) {
  LoadTwoDays();
  RunResult ls = Ok({"ls", "prod.contextual_services_live"});
  EXPECT_EQ(ls.out,
            "table              rows  partitions  partitioned by\n"
            "-----------------  ----  ----------  --------------------\n"
            "topsites_click_v1  3     2           submission_timestamp\n");
  RunResult show = Ok({"show", "prod.contextual_services_live.topsites_click_v1"});
  EXPECT_NE(show.out.find("2020-03-17  2     2020-03-18T06:00:00Z"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("readable as of 2020-03-16T00:00:00Z or later (168h window)"),
            std::string::npos)
      << show.out;
}

TEST_F(CliTest, OverwriteThenReadAsOfBeforeIt) {
  LoadTwoDays();
  Ok({"sql", "--project", "prod", "--destination-table",
      "contextual_services_live.topsites_click_v1$20200317", "--replace",
      "SELECT TIMESTAMP '2020-03-17 05:00:00+00', 'z', NULL, NULL"});
  RunResult now = Ok({"sql", "--project", "prod", "--format", "csv",
                      "SELECT document_id FROM contextual_services_live.topsites_click_v1 "
                      "WHERE DATE(submission_timestamp) = '2020-03-17' ORDER BY 1"});
  EXPECT_EQ(now.out, "document_id\nz\n");
  RunResult before = Ok(
      {"sql", "--project", "prod", "--format", "csv",
       "SELECT document_id FROM contextual_services_live.topsites_click_v1 FOR SYSTEM_TIME AS OF "
       "TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR) WHERE DATE(submission_timestamp) = "
       "'2020-03-17' ORDER BY 1"});
  EXPECT_EQ(before.out, "document_id\na\nb\n");
}

TEST_F(CliTest, TimeTravelOutsideTheWindowIsRefusedWithExitThree) {
  LoadTwoDays();
  RunResult r =
      Run({"sql", "--project", "prod",
           "SELECT count(*) FROM contextual_services_live.topsites_click_v1 FOR SYSTEM_TIME AS OF "
           "'2020-03-10 00:00:00+00'"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("backfill: refused: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the earliest readable time is 2020-03-12T10:00:00Z"), std::string::npos)
      << r.err;
}

TEST_F(CliTest, RestrictedReadIsRefusedAndTheReaderIsAllowed) {
  LoadTwoDays();
  Ok({"dataset", "create", "prod.sandbox", "--restricted", "--readers", "carol"});
  Ok({"sql", "--project", "prod",
      "CREATE TABLE sandbox.copy AS (SELECT * FROM contextual_services_live.topsites_click_v1)"});
  RunResult refused = Run({"--as", "mallory", "--format", "json", "sql", "--project", "prod",
                           "SELECT count(*) AS n FROM sandbox.copy"});
  EXPECT_EQ(refused.exit_code, 3);
  EXPECT_EQ(refused.out, "");  // errors go to stderr, as JSON with --format json
  Json err = Json::parse(refused.err);
  EXPECT_EQ(err["error"]["code"], "permission denied");
  EXPECT_EQ(err["error"]["exit_code"], 3);
  EXPECT_NE(refused.err.find("principal 'mallory' may not read restricted dataset prod.sandbox"),
            std::string::npos);
  RunResult allowed = Ok({"--as", "carol", "--format", "json", "sql", "--project", "prod",
                          "SELECT count(*) AS n FROM sandbox.copy"});
  EXPECT_EQ(Json::parse(allowed.out)[0]["rows"][0]["n"], 3);
  // A refused write changes nothing and is audited.
  RunResult write =
      Run({"--as", "carol", "sql", "--project", "prod", "DELETE FROM sandbox.copy WHERE true"});
  EXPECT_EQ(write.exit_code, 3);
  RunResult count =
      Ok({"--format", "csv", "sql", "--project", "prod", "SELECT count(*) AS n FROM sandbox.copy"});
  EXPECT_EQ(count.out, "n\n3\n");
  Json audit = Json::parse(Ok({"--format", "json", "audit", "--project", "prod"}).out);
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit.back()["principal"], "carol");
  EXPECT_EQ(audit.back()["action"], "refused write");
  EXPECT_EQ(audit.back()["target"], "prod.sandbox");
  EXPECT_EQ(audit.back()["outcome"].get<std::string>().rfind(
                "refused: principal 'carol' may not write to restricted dataset prod.sandbox", 0),
            0u)
      << audit.back().dump();
}

TEST_F(CliTest, DropAndUndrop) {
  LoadTwoDays();
  RunResult drop = Ok({"table", "drop", "prod.contextual_services_live.topsites_click_v1"});
  EXPECT_NE(drop.out.find("Undo with `backfill table undrop"), std::string::npos);
  EXPECT_EQ(Run({"show", "prod.contextual_services_live.topsites_click_v1"}).exit_code, 1);
  RunResult undrop = Ok({"table", "undrop", "prod.contextual_services_live.topsites_click_v1"});
  EXPECT_EQ(undrop.out, "Restored prod.contextual_services_live.topsites_click_v1 (3 rows)\n");
  RunResult late = Run({"table", "undrop", "prod.contextual_services_live.topsites_click_v1"},
                       {{"BACKFILL_NOW", "2020-03-30T00:00:00Z"}});
  EXPECT_EQ(late.exit_code, 1);  // exists again: nothing to undrop
}

TEST_F(CliTest, MaintainExpiresPartitionsOfAnExpiringDataset) {
  LoadTwoDays();
  Ok({"dataset", "update", "prod.contextual_services_live", "--partition-expiration-days", "1"},
     {{"BACKFILL_NOW", "2020-03-18T22:00:00Z"}});
  RunResult m = Ok({"--format", "json", "maintain"}, {{"BACKFILL_NOW", "2020-03-18T23:00:00Z"}});
  Json j = Json::parse(m.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["action"], "expired partition");
  EXPECT_EQ(j[0]["partition"], "2020-03-17");  // expired at 2020-03-18T00:00Z
  EXPECT_EQ(j[0]["rows"], 2);
  RunResult audit = Ok({"--format", "json", "audit"}, {{"BACKFILL_NOW", "2020-03-18T23:30:00Z"}});
  EXPECT_EQ(Json::parse(audit.out).back()["action"], "expire partition");
}

TEST_F(CliTest, SecondWriterGetsAClearBusyError) {
  auto lock = WarehouseLock::Acquire(dir_ / "wh", WarehouseLock::Mode::kExclusive,
                                     std::chrono::milliseconds(0), "backfill sink (test holder)");
  ASSERT_TRUE(lock.ok());
  RunResult r = Run({"--lock-timeout", "0.2", "project", "create", "other"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("warehouse busy (held by pid"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("backfill sink (test holder)"), std::string::npos) << r.err;
}

// A writer turned away in the moment between another taking the lock and recording itself
// (its record lock, then .lock.owner) still names it: the busy error waits for both.
TEST_F(CliTest, ABusyErrorNamesAHolderThatHasJustTakenTheLock) {
  const std::filesystem::path wh = dir_ / "wh";
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t holder = fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    int fd = open((wh / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) _exit(2);
    (void)!write(ready[1], "x", 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));  // no record lock yet
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) _exit(3);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));  // record lock, no record
    std::ofstream(wh / ".lock.owner") << "pid " << getpid() << ": backfill late-holder\n";
    std::this_thread::sleep_for(std::chrono::seconds(30));
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  RunResult r = Run({"--lock-timeout", "0", "project", "create", "other"});
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("warehouse busy (held by pid " + std::to_string(holder) +
                       ": backfill late-holder)"),
            std::string::npos)
      << r.err;
}

// A wide table (thresholds lowered so the test's schema qualifies): `show` names its encoded
// column; its rows read back through the view, also as of before they were replaced.
TEST_F(CliTest, ShowNamesTheEncodedColumnsOfAWideTable) {
  testing::SetWideThresholds(dir_ / "wh", 3, 2);
  testing::WriteFile(dir_ / "wide.bq", R"([
    {"name":"submission_timestamp","type":"TIMESTAMP"}, {"name":"document_id","type":"STRING"},
    {"name":"payload","type":"RECORD","fields":[{"name":"n","type":"NUMERIC"},{"name":"b","type":"BYTES"}]}])");
  Ok({"dataset", "create", "prod.d"});
  Ok({"table", "create", "prod.d.w", "--schema", dir_ / "wide.bq", "--partition-by",
      "submission_timestamp"});
  RunResult show = Ok({"show", "prod.d.w"});
  EXPECT_NE(
      show.out.find(
          "  stored encoded: payload (wide table: each is one text column; the view shows their "
          "types)\n"),
      std::string::npos)
      << show.out;
  Json json = Json::parse(Ok({"--format", "json", "show", "prod.d.w"}).out);
  EXPECT_EQ(json["encoded_columns"], Json::array({"payload"}));
  Ok({"sql", "--project", "prod",
      "INSERT INTO d.w (submission_timestamp, document_id) SELECT TIMESTAMP '2020-03-15 "
      "01:00:00+00', 'a'"});
  // CREATE TABLE AS SELECT from a wide table makes a wide table of the same rows.
  Ok({"sql", "--project", "prod", "CREATE TABLE d.w2 AS SELECT * FROM d.w"});
  EXPECT_EQ(Json::parse(Ok({"--format", "json", "show", "prod.d.w2"}).out)["encoded_columns"],
            Json::array({"payload"}));
  RunResult q = Ok({"--format", "csv", "sql", "--project", "prod",
                    "SELECT document_id, payload IS NULL AS no_payload FROM d.w2"});
  EXPECT_EQ(q.out, "document_id,no_payload\na,true\n");
}

// A warehouse of storage format 1 is refused, naming `backfill migrate`, which converts it.
TEST_F(CliTest, OlderStorageFormatIsRefusedUntilMigrate) {
  LoadTwoDays();
  {
    auto db = Database::Open(dir_ / "wh/projects/prod.duckdb");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto conn = db->Connect();
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(conn->Exec("ALTER TABLE _bf.tables DROP COLUMN encoded; DROP TABLE _bf.meta").ok());
  }
  RunResult r = Run({"ls", "prod"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(
      r.err.find(
          "has storage format 1; this backfill needs format 2. Run `backfill migrate --warehouse "),
      std::string::npos)
      << r.err;
  RunResult m = Ok({"migrate"});
  EXPECT_EQ(m.out, "project prod: storage format 1 -> 2\n");
  Json again = Json::parse(Ok({"--format", "json", "migrate"}).out);
  EXPECT_EQ(again, Json::parse(R"({"migrated": []})"));
  RunResult q = Ok({"--format", "csv", "sql", "--project", "prod",
                    "SELECT COUNT(*) AS n FROM contextual_services_live.topsites_click_v1"});
  EXPECT_EQ(q.out, "n\n3\n");
}

}  // namespace
}  // namespace backfill
