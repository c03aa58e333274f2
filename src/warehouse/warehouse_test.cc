// Scenario tests for the embedded warehouse, on real DuckDB files in a temporary directory.
#include "warehouse/warehouse.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "testing/testing.h"

namespace backfill {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

Timestamp T(const char* s) { return *ParseTimestamp(s); }
Date D(const char* s) { return *ParseDate(s); }

const char* kLiveSchema = R"([
  {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
  {"name":"document_id","type":"STRING","mode":"NULLABLE"},
  {"name":"normalized_channel","type":"STRING","mode":"NULLABLE"},
  {"name":"sample_id","type":"INT64","mode":"NULLABLE"},
  {"name":"metrics","type":"RECORD","mode":"REPEATED","fields":[
    {"name":"key","type":"STRING"},{"name":"value","type":"INT64"}]}
])";

// Rows for `day`: n documents "<tag>-<i>".
std::string DayRows(const char* day, int n, const char* tag) {
  return fmt::format(
      "SELECT TIMESTAMPTZ '{} 00:00:00+00' + to_seconds(i) AS submission_timestamp, '{}-' || i AS "
      "document_id, "
      "'release' AS normalized_channel, i % 100 AS sample_id, [{{'key': 'k', 'value': i}}] AS "
      "metrics "
      "FROM range({}) t(i)",
      day, tag, n);
}

// Every test runs twice: with the table stored natively, and wide (its RECORD column metrics
// stored encoded, core/wide.h, forced by lowered thresholds).
class WarehouseTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    WarehouseConfig config;
    config.principals["alice"] = Role::kOwner;
    config.principals["bob"] = Role::kWriter;
    config.lock_timeout_seconds = 0;
    if (GetParam()) config.wide = {1, 1};
    ASSERT_TRUE(Warehouse::Init(dir_.path(), config).ok());
    Reopen("alice");
    Status s = w_->CreateProject("prod");
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = w_->CreateDataset({"prod", "telemetry_live"}, {});
    ASSERT_TRUE(s.ok()) << s.ToString();
    TableOptions opts;
    opts.schema = *ParseBqSchema(kLiveSchema, "live.bq");
    opts.partition_by = "submission_timestamp";
    opts.cluster_by = {"submission_timestamp"};
    s = w_->CreateTable(table_, opts);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void Reopen(const std::string& principal, bool write = true) {
    w_.reset();
    auto w = Warehouse::Open(dir_.path(), {principal, &clock_, write, std::nullopt, "test"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    w_ = std::move(w).value();
  }

  int64_t Count(const std::string& relation, const char* day = nullptr) {
    std::string sql = "SELECT count(*) FROM " + relation;
    if (day) sql += fmt::format(" WHERE CAST(submission_timestamp AS DATE) = DATE '{}'", day);
    auto r = w_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->GetInt64(0, 0) : -1;
  }

  int64_t CountTagged(const std::string& relation, const char* tag) {
    auto r = w_->Query(
        fmt::format("SELECT count(*) FROM {} WHERE document_id LIKE '{}-%'", relation, tag));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->GetInt64(0, 0) : -1;
  }

  std::string Current() { return *w_->Relation(table_); }
  std::string AsOf(Timestamp t) {
    auto r = w_->Relation(table_, t);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : "";
  }

  testing::TempDir dir_;
  FixedClock clock_{T("2020-03-16T00:00:00Z")};
  std::unique_ptr<Warehouse> w_;
  TableName table_{"prod", "telemetry_live", "main_v5"};
};

TEST_P(WarehouseTest, AppendThenReplaceADayAndReadBothStates) {
  clock_.Set(T("2020-03-17T01:00:00Z"));
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 100, "a")).ok());
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-17", 50, "a")).ok());
  Timestamp before_overwrite = T("2020-03-17T02:00:00Z");
  clock_.Set(T("2020-03-17T03:00:00Z"));
  auto st = w_->ReplacePartition(table_, D("2020-03-16"), DayRows("2020-03-16", 10, "b"));
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->rows_written, 10);
  EXPECT_EQ(st->rows_deleted, 100);

  EXPECT_EQ(Count(Current(), "2020-03-16"), 10);
  EXPECT_EQ(CountTagged(Current(), "b"), 10);
  EXPECT_EQ(Count(Current(), "2020-03-17"), 50);
  EXPECT_EQ(Count(AsOf(before_overwrite), "2020-03-16"), 100);
  EXPECT_EQ(CountTagged(AsOf(before_overwrite), "b"), 0);
  EXPECT_EQ(Count(AsOf(T("2020-03-17T00:30:00Z"))), 0);  // before the first append

  auto info = w_->DescribeTable(table_);
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->partitions.size(), 2u);
  EXPECT_EQ(info->partitions[0].rows, 10);
  EXPECT_EQ(info->partitions[1].rows, 50);
  EXPECT_EQ(info->total_rows, 60);
}

TEST_P(WarehouseTest, ReplaceRefusesRowsOfOtherDaysAndChangesNothing) {
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 5, "a")).ok());
  auto st = w_->ReplacePartition(table_, D("2020-03-16"), DayRows("2020-03-17", 3, "b"));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("include partition 2020-03-17"), std::string::npos);
  EXPECT_EQ(Count(Current()), 5);
  EXPECT_EQ(CountTagged(Current(), "b"), 0);
}

TEST_P(WarehouseTest, TimeTravelOutsideTheWindowNamesTheEarliestReadableTime) {
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-15", 5, "a")).ok());
  clock_.Set(T("2020-03-26T00:00:00Z"));  // 10 days later; the window is 7 days
  auto r = w_->Relation(table_, T("2020-03-17T00:00:00Z"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kRefused);
  EXPECT_NE(r.status().message().find("earliest readable time is 2020-03-19T00:00:00Z"),
            std::string::npos)
      << r.status().message();
  EXPECT_TRUE(w_->Relation(table_, T("2020-03-19T00:00:01Z")).ok());
  EXPECT_FALSE(w_->Relation(table_, T("2020-03-27T00:00:00Z")).ok());  // the future
}

TEST_P(WarehouseTest, DropReadAsOfBeforeDropAndUndrop) {
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 20, "a")).ok());
  clock_.Set(T("2020-03-17T00:00:00Z"));
  ASSERT_TRUE(w_->DropTable(table_).ok());
  EXPECT_EQ(w_->Relation(table_).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Count(AsOf(T("2020-03-16T12:00:00Z"))), 20);
  // A new table of the same name does not hide the dropped one from time travel.
  TableOptions opts;
  opts.schema = *ParseBqSchema(kLiveSchema, "live.bq");
  opts.partition_by = "submission_timestamp";
  clock_.Set(T("2020-03-17T01:00:00Z"));
  ASSERT_TRUE(w_->CreateTable(table_, opts).ok());
  EXPECT_EQ(Count(Current()), 0);
  EXPECT_EQ(Count(AsOf(T("2020-03-16T12:00:00Z"))), 20);
  EXPECT_EQ(w_->UndropTable(table_).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(w_->DropTable(table_).ok());
  Status undropped = w_->UndropTable(table_);  // the most recently dropped: the empty one
  ASSERT_TRUE(undropped.ok()) << undropped.ToString();
  EXPECT_EQ(Count(Current()), 0);
}

TEST_P(WarehouseTest, UndropRefusedAfterTheWindowCloses) {
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 20, "a")).ok());
  ASSERT_TRUE(w_->DropTable(table_).ok());
  clock_.Set(T("2020-03-24T00:00:01Z"));
  Status s = w_->UndropTable(table_);
  EXPECT_EQ(s.code(), StatusCode::kRefused) << s.ToString();
  clock_.Set(T("2020-03-22T00:00:00Z"));
  ASSERT_TRUE(w_->UndropTable(table_).ok());
  EXPECT_EQ(Count(Current()), 20);
}

TEST_P(WarehouseTest, DeleteWhereRewritesOnlyAffectedPartitionsAndKeepsHistory) {
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 10, "a")).ok());
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-17", 10, "a")).ok());
  clock_.Advance(1h);
  auto st = w_->DeleteWhere(
      table_, "sample_id < 3 AND CAST(submission_timestamp AS DATE) = DATE '2020-03-16'");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->rows_deleted, 3);
  EXPECT_EQ(Count(Current(), "2020-03-16"), 7);
  EXPECT_EQ(Count(Current(), "2020-03-17"), 10);
  EXPECT_EQ(Count(AsOf(clock_.Now() - 30min), "2020-03-16"), 10);
  ASSERT_TRUE(w_->DeletePartitions(table_, {D("2020-03-17")}).ok());
  EXPECT_EQ(Count(Current()), 7);
}

TEST_P(WarehouseTest, MaintainExpiresPartitionsButTimeTravelStillReadsThemUntilTheWindowCloses) {
  Warehouse::DatasetUpdate u;
  u.partition_expiration_days = 30;
  ASSERT_TRUE(w_->UpdateDataset({"prod", "telemetry_live"}, u).ok());
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-02-01", 10, "old")).ok());
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-15", 10, "new")).ok());
  clock_.Set(T("2020-03-16T12:00:00Z"));
  Timestamp before = clock_.Now();
  clock_.Advance(1h);
  auto rep = w_->Maintain();
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  ASSERT_EQ(rep->items.size(), 1u);
  EXPECT_EQ(rep->items[0].action, "expired partition");
  EXPECT_EQ(Count(Current()), 10);
  EXPECT_EQ(CountTagged(AsOf(before), "old"), 10);
  // Eight days later the expired rows leave history too.
  clock_.Advance(8 * 24h);
  rep = w_->Maintain();
  ASSERT_TRUE(rep.ok());
  ASSERT_EQ(rep->items.size(), 1u);
  EXPECT_EQ(rep->items[0].action, "purged history");
  EXPECT_EQ(rep->items[0].rows, 10);
  auto store = w_->Query("SELECT count(*) FROM \"prod\"._bf_store.t1");
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(store->GetInt64(0, 0), 10);
}

TEST_P(WarehouseTest, RestrictedDatasetRefusesOutsidersAndAuditsChanges) {
  DatasetOptions restricted;
  restricted.restricted = true;
  restricted.readers = {"carol"};
  ASSERT_TRUE(w_->CreateDataset({"prod", "secret"}, restricted).ok());
  TableName secret{"prod", "secret", "t"};
  TableOptions opts;
  opts.schema = *ParseBqSchema(kLiveSchema, "live.bq");
  opts.partition_by = "submission_timestamp";
  Status created = w_->CreateTable(secret, opts);
  ASSERT_TRUE(created.ok()) << created.ToString();
  ASSERT_TRUE(w_->Append(secret, DayRows("2020-03-16", 3, "s")).ok());

  Reopen("mallory", false);
  auto r = w_->Relation(secret);
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("may not read restricted dataset prod.secret"),
            std::string::npos);
  EXPECT_TRUE(w_->Relation(table_).ok());  // unrestricted: everyone reads

  Reopen("carol", false);
  EXPECT_TRUE(w_->Relation(secret).ok());

  // bob is a warehouse writer, but restricted datasets ignore warehouse roles.
  Reopen("bob");
  auto st = w_->Append(secret, DayRows("2020-03-16", 3, "x"));
  EXPECT_EQ(st.status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(w_->Append(table_, DayRows("2020-03-16", 3, "x")).ok());

  Reopen("carol");  // a reader may not write
  EXPECT_EQ(w_->Append(secret, DayRows("2020-03-16", 3, "x")).status().code(),
            StatusCode::kPermissionDenied);

  Reopen("alice");
  EXPECT_EQ(Count(*w_->Relation(secret)), 3);
  auto audit = w_->Audit("prod");
  ASSERT_TRUE(audit.ok());
  int appends = 0;
  for (const auto& e : *audit) {
    if (e.action == "append") {
      ++appends;
      EXPECT_FALSE(e.statement.empty());
    }
  }
  EXPECT_EQ(appends, 2);
  // The refused writes (bob's and carol's on the restricted dataset) are audited as well.
  int refused = 0;
  for (const auto& e : *audit) refused += e.action == "refused write";
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(audit->back().principal, "carol");
  EXPECT_EQ(audit->back().action, "refused write");
}

TEST_P(WarehouseTest, SecondWriterGetsBusyError) {
  auto second = Warehouse::Open(dir_.path(), {"bob", &clock_, true, 0ms, "second"});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kBusy);
  EXPECT_NE(second.status().message().find("held by pid"), std::string::npos)
      << second.status().message();
  w_.reset();
  EXPECT_TRUE(Warehouse::Open(dir_.path(), {"bob", &clock_, true, 0ms, "second"}).ok());
}

TEST_P(WarehouseTest, EveryCorpusSchemaCreatesATable) {
  BF_REQUIRE_CORPUS();
  ASSERT_TRUE(w_->CreateDataset({"prod", "corpus"}, {}).ok());
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(testing::CorpusDir() / "schemas")) {
    if (e.path().extension() != ".bq") continue;
    auto schema = ParseBqSchema(testing::ReadFile(e.path()), e.path().filename().string());
    ASSERT_TRUE(schema.ok()) << schema.status().ToString();
    TableOptions opts;
    opts.schema = *schema;
    if (schema->Find("submission_timestamp")) opts.partition_by = "submission_timestamp";
    std::string name = DashesToUnderscores(
        e.path().parent_path().parent_path().filename().string() + "_" + e.path().stem().string());
    for (char& c : name) c = c == '.' ? '_' : c;
    Status s = w_->CreateTable({"prod", "corpus", name}, opts);
    ASSERT_TRUE(s.ok()) << e.path() << ": " << s.ToString();
    auto cols = w_->Query(
        fmt::format("SELECT count(*) FROM (DESCRIBE \"prod\".corpus.{})", QuoteIdent(name)));
    ASSERT_TRUE(cols.ok());
    EXPECT_EQ(cols->GetInt64(0, 0), static_cast<int64_t>(schema->fields.size())) << name;
    ++n;
  }
  EXPECT_GE(n, 20);
}

TEST_P(WarehouseTest, ProjectFileIsUsableFromAPlainDuckDbConnection) {
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 4, "a")).ok());
  w_.reset();
  auto db = Database::Open((dir_.path() / "projects" / "prod.duckdb").string());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto conn = db->Connect();
  ASSERT_TRUE(conn.ok());
  auto n = conn->QueryInt("SELECT count(*) FROM telemetry_live.main_v5");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 4);
}

// A process killed in the middle of a partition replace leaves the old or the new partition,
// never a mix.
TEST_P(WarehouseTest, KillDuringReplaceLeavesOldOrNewPartition) {
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 1000, "old")).ok());
  w_.reset();
  int killed_mid_write = 0;  // kills that landed after the replace began and before it committed
  for (int delay_ms : {50, 150, 400, 900}) {
    int started[2];
    ASSERT_EQ(pipe(started), 0);
    pid_t pid = fork();
    if (pid == 0) {
      close(started[0]);
      FixedClock clock(T("2020-03-17T00:00:00Z"));
      auto w = Warehouse::Open(dir_.path(), {"alice", &clock, true, 5000ms, "child"});
      if (!w.ok()) _exit(2);
      // The delay counts from here, so the kill lands in the write, not in Open.
      if (write(started[1], "s", 1) != 1) _exit(3);
      auto st =
          (*w)->ReplacePartition(table_, D("2020-03-16"), DayRows("2020-03-16", 3000000, "new"));
      _exit(st.ok() ? 0 : 1);
    }
    close(started[1]);
    char byte = 0;
    ASSERT_EQ(read(started[0], &byte, 1), 1) << "the child did not open the warehouse";
    close(started[0]);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    Reopen("alice");
    int64_t total = Count(Current());
    int64_t old_rows = CountTagged(Current(), "old");
    int64_t new_rows = CountTagged(Current(), "new");
    EXPECT_TRUE((old_rows == 1000 && new_rows == 0) || (old_rows == 0 && new_rows == 3000000))
        << "after kill at " << delay_ms << "ms: old=" << old_rows << " new=" << new_rows;
    EXPECT_EQ(total, old_rows + new_rows);
    if (WIFSIGNALED(status) && new_rows == 0) ++killed_mid_write;
    if (new_rows > 0) break;  // the replace completed; later kills would prove nothing more
    w_.reset();
  }
  // Without a kill inside the write the test above would pass on any storage.
  EXPECT_GE(killed_mid_write, 1);
}

TEST_P(WarehouseTest, WideColumnsAreStoredEncodedAndDecodedOnlyWhenRead) {
  auto info = w_->DescribeTable(table_);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->encoded_columns,
            GetParam() ? std::vector<std::string>{"metrics"} : std::vector<std::string>{});
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 20, "a")).ok());
  auto stored = w_->Query(
      "SELECT data_type FROM information_schema.columns WHERE table_catalog = 'prod' AND "
      "table_schema = '_bf_store' "
      "AND table_name = 't1' AND column_name = 'metrics'");
  ASSERT_TRUE(stored.ok() && stored->rows() == 1);
  EXPECT_EQ(stored->GetString(0, 0),
            GetParam() ? "VARCHAR" : "STRUCT(\"key\" VARCHAR, \"value\" BIGINT)[]");
  auto value = w_->Query("SELECT CAST(metrics AS VARCHAR), typeof(metrics) FROM " + Current() +
                         " WHERE document_id = 'a-7'");
  ASSERT_TRUE(value.ok() && value->rows() == 1);
  EXPECT_EQ(value->GetString(0, 0), "[{'key': k, 'value': 7}]");
  EXPECT_EQ(value->GetString(1, 0), "STRUCT(\"key\" VARCHAR, \"value\" BIGINT)[]");
  // Readers of native columns only (counts per day, dedupe keys, anti-joins) never decode: the
  // view's decoding projection is pruned with the column, which the scans do not even read.
  auto plan = [&](const std::string& sql) {
    auto r = w_->Query("EXPLAIN " + sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::string text;
    for (size_t i = 0; r.ok() && i < r->rows(); ++i) text += r->GetString(1, i);
    return text;
  };
  for (const std::string& relation : {Current(), AsOf(clock_.Now())}) {
    for (const std::string& sql :
         {"SELECT CAST(submission_timestamp AS DATE), count(*) FROM " + relation + " GROUP BY 1",
          "SELECT document_id, row_number() OVER (PARTITION BY document_id) FROM " + relation,
          "SELECT count(*) FROM " + relation +
              " WHERE document_id NOT IN (SELECT document_id FROM " + relation + ")"}) {
      EXPECT_EQ(plan(sql).find("metrics"), std::string::npos) << sql;
    }
    EXPECT_NE(plan("SELECT metrics FROM " + relation).find("metrics"), std::string::npos);
  }
}

// A new project file has 64 kB blocks; one written before with DuckDB's 256 kB blocks opens as
// it is and takes writes (DuckDB reads the block size from the file).
TEST_P(WarehouseTest, NewProjectFilesHave64kBlocksAndOlderFilesStillOpen) {
  auto block_size = [&] {
    auto r = w_->connection().QueryInt(
        "SELECT block_size FROM pragma_database_size() WHERE database_name = 'prod'");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : -1;
  };
  EXPECT_EQ(block_size(), 65536);
  clock_.Set(T("2020-03-17T01:00:00Z"));
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 30, "a")).ok());
  // The same project copied into a file with 256 kB blocks, which then takes its place.
  const fs::path file = dir_.path() / "projects" / "prod.duckdb";
  const fs::path old = dir_.path() / "old.duckdb";
  ASSERT_TRUE(w_->connection()
                  .Exec(fmt::format("ATTACH '{}' AS old (BLOCK_SIZE 262144); COPY FROM DATABASE "
                                    "prod TO old; DETACH old",
                                    old.string()))
                  .ok());
  w_.reset();
  fs::rename(old, file);
  Reopen("alice");
  EXPECT_EQ(block_size(), 262144);
  EXPECT_EQ(Count(Current()), 30);
  clock_.Set(T("2020-03-17T02:00:00Z"));
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 20, "b")).ok());
  Reopen("alice");
  EXPECT_EQ(block_size(), 262144);
  EXPECT_EQ(Count(Current()), 50);
}

// Two appends leave row groups of 2048, 2048, 2048, 653, 2048, 2048 and 638 rows. DuckDB's
// vacuum would merge the last four into three at the next checkpoint, rewriting 5,387 rows (for
// a wide table, gigabytes); the warehouse turns it off, so closing and a later write keep them.
TEST_P(WarehouseTest, CheckpointsDoNotMergePartlyFilledRowGroups) {
  auto row_groups = [&] {
    auto store = w_->connection().QueryScalar(
        "SELECT 't' || id FROM prod._bf.tables WHERE name = 'main_v5'");
    EXPECT_TRUE(store.ok() && store->has_value());
    auto r = w_->connection().QueryScalar(fmt::format(
        "SELECT string_agg(n::VARCHAR, ',' ORDER BY row_group_id) FROM (SELECT row_group_id, "
        "max(count) AS n FROM pragma_storage_info('prod._bf_store.{}') WHERE column_id = 0 "
        "GROUP BY row_group_id)",
        store.ok() ? store->value_or("") : ""));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->value_or("") : "";
  };
  clock_.Set(T("2020-03-17T01:00:00Z"));
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 6797, "a")).ok());
  clock_.Set(T("2020-03-17T02:00:00Z"));
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 4734, "b")).ok());
  const std::string layout = "2048,2048,2048,653,2048,2048,638";
  EXPECT_EQ(row_groups(), layout);
  Reopen("alice");
  EXPECT_EQ(row_groups(), layout);
  ASSERT_TRUE(w_->CreateDataset({"prod", "other"}, {}).ok());
  Reopen("alice");
  EXPECT_EQ(row_groups(), layout);
  EXPECT_EQ(Count(Current()), 6797 + 4734);
}

// The sink's reading thread writes back the project file while the writer's transaction is
// still open: the file and the transaction are untouched, and an unknown project is a no-op.
TEST_P(WarehouseTest, WritingBackTheProjectFileChangesNothing) {
  clock_.Set(T("2020-03-17T01:00:00Z"));
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 30, "a")).ok());
  const fs::path file = dir_.path() / "projects" / "prod.duckdb";
  const auto size = fs::file_size(file);
  clock_.Set(T("2020-03-17T02:00:00Z"));
  Status s = w_->InTransaction("prod", [&]() -> Status {
    BF_RETURN_IF_ERROR(w_->Append(table_, DayRows("2020-03-16", 20, "b")).status());
    w_->WriteBackProjectFile("prod");
    w_->WriteBackProjectFile("no_such_project");
    EXPECT_EQ(fs::file_size(file), size);
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  Reopen("alice");
  EXPECT_EQ(Count(Current()), 50);
}

// Reopening a project (the sink, between its transactions) keeps everything; inside a
// transaction it is refused and the transaction goes on.
TEST_P(WarehouseTest, ReopeningAProjectKeepsItsDataAndIsRefusedInsideATransaction) {
  clock_.Set(T("2020-03-17T01:00:00Z"));
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 30, "a")).ok());
  Status inside = w_->InTransaction("prod", [&]() -> Status {
    BF_RETURN_IF_ERROR(w_->Append(table_, DayRows("2020-03-16", 20, "b")).status());
    Status refused = w_->ReopenProject("prod");
    EXPECT_EQ(refused.code(), StatusCode::kInternal) << refused.ToString();
    EXPECT_EQ(refused.message(), "cannot reopen project prod inside a transaction");
    return Status::Ok();
  });
  ASSERT_TRUE(inside.ok()) << inside.ToString();
  EXPECT_EQ(w_->ReopenProject("nope").code(), StatusCode::kNotFound);
  ASSERT_TRUE(w_->ReopenProject("prod").ok());
  EXPECT_EQ(w_->ListProjects(), std::vector<std::string>{"prod"});
  EXPECT_EQ(Count(Current()), 50);
  clock_.Set(T("2020-03-17T02:00:00Z"));
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 5, "c")).ok());
  Reopen("alice");
  EXPECT_EQ(Count(Current()), 55);
}

// A table's schema is read once per table id; an id taken by a rolled-back transaction is taken
// again by the next table created, which must be read with its own schema.
TEST_P(WarehouseTest, ATableIdGivenAgainAfterARollbackHasItsOwnSchema) {
  const TableName t{"prod", "telemetry_live", "other_v1"};
  TableOptions a;
  a.schema = *ParseBqSchema(R"([{"name":"a","type":"STRING","mode":"NULLABLE"}])", "a.bq");
  int64_t rolled_back_id = 0;
  Status s = w_->InTransaction("prod", [&]() -> Status {
    BF_RETURN_IF_ERROR(w_->CreateTable(t, a));
    BF_RETURN_IF_ERROR(w_->Append(t, "SELECT 'x' AS a").status());
    BF_ASSIGN_OR_RETURN(TableInfo info, w_->DescribeTable(t));
    rolled_back_id = info.id;
    return InvalidArgument("changed my mind");
  });
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  TableOptions b;
  b.schema = *ParseBqSchema(R"([{"name":"b","type":"INT64","mode":"NULLABLE"}])", "b.bq");
  ASSERT_TRUE(w_->CreateTable(t, b).ok());
  auto info = w_->DescribeTable(t);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->id, rolled_back_id);
  ASSERT_EQ(info->options.schema.fields.size(), 1u);
  EXPECT_EQ(info->options.schema.fields[0].name, "b");
  auto appended = w_->Append(t, "SELECT 7 AS b");
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  EXPECT_EQ(appended->rows_written, 1);
  EXPECT_EQ(Count("prod.telemetry_live.other_v1 WHERE b = 7"), 1);
}

TEST_P(WarehouseTest, OlderStorageFormatIsRefusedUntilMigrated) {
  // Format 1 had no encoded columns: the old warehouse is built from the native variant.
  if (GetParam()) GTEST_SKIP() << "runs in the native variant only";
  clock_.Set(T("2020-03-17T01:00:00Z"));
  ASSERT_TRUE(w_->Append(table_, DayRows("2020-03-16", 30, "a")).ok());
  std::string before =
      *w_->Query("SELECT string_agg(CAST(metrics AS VARCHAR), ',' ORDER BY document_id) FROM " +
                 Current())
           ->GetOptional(0, 0);
  // Turn the project back into storage format 1 (no _bf.meta, no tables.encoded).
  ASSERT_TRUE(w_->connection().Exec("ALTER TABLE prod._bf.tables DROP COLUMN encoded").ok());
  ASSERT_TRUE(w_->connection().Exec("DROP TABLE prod._bf.meta").ok());
  w_.reset();
  auto refused = Warehouse::Open(dir_.path(), {"alice", &clock_, false, std::nullopt, "test"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kRefused);
  EXPECT_NE(refused.status().message().find(
                "storage format 1; this backfill needs format 2. Run `backfill migrate"),
            std::string::npos)
      << refused.status().message();
  // Migrating with the wide thresholds lowered converts the table (it is wide then).
  auto config = LoadConfig(dir_.path() / Warehouse::kConfigFile);
  ASSERT_TRUE(config.ok());
  config->wide = {1, 1};
  ASSERT_TRUE(SaveConfig(*config, dir_.path() / Warehouse::kConfigFile).ok());
  clock_.Set(T("2020-03-17T02:00:00Z"));
  OpenOptions o{"alice", &clock_, true, std::nullopt, "test"};
  o.migrate = true;
  auto w = Warehouse::Open(dir_.path(), o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto done = (*w)->Migrate();
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(*done, (std::vector<std::string>{
                       "project prod: storage format 1 -> 2",
                       "table prod.telemetry_live.main_v5: columns metrics stored encoded"}));
  w->reset();
  Reopen("alice");
  EXPECT_EQ(w_->DescribeTable(table_)->encoded_columns, std::vector<std::string>{"metrics"});
  EXPECT_EQ(
      *w_->Query("SELECT string_agg(CAST(metrics AS VARCHAR), ',' ORDER BY document_id) FROM " +
                 Current())
           ->GetOptional(0, 0),
      before);
  // History is kept: as of before the rows were written there were none.
  EXPECT_EQ(Count(AsOf(T("2020-03-17T00:30:00Z"))), 0);
  EXPECT_EQ(Count(AsOf(T("2020-03-17T01:30:00Z"))), 30);
  // Migrating again finds nothing to do.
  w_.reset();
  auto again = Warehouse::Open(dir_.path(), o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*(*again)->Migrate(), std::vector<std::string>{});
  auto audit = (*again)->Audit("prod");
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->back().action, "migrate");
}

INSTANTIATE_TEST_SUITE_P(Storage, WarehouseTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Wide" : "Native";
                         });

// A refusal is written to the audit log; when that write fails the refusal says so instead of
// looking audited. (Dropping the audit table stands in for any failing audit write.)
// Other commands keep their settings in backfill.toml too (`errors summarize` its [triage]
// rules): changing a principal rewrites the file without losing them.
TEST(WarehouseConfigFileTest, RewritingKeepsSectionsItDoesNotModel) {
  testing::TempDir dir;
  WarehouseConfig config;
  config.principals["alice"] = Role::kOwner;
  ASSERT_TRUE(Warehouse::Init(dir.path(), config).ok());
  const fs::path file = dir.path() / Warehouse::kConfigFile;
  testing::WriteFile(file,
                     testing::ReadFile(file) +
                         "\n[[triage.rules]]\nname = \"x\"\ncontains = \"y\"\nclass = \"data\"\n");
  FixedClock clock(*ParseTimestamp("2020-03-17T00:00:00Z"));
  {
    auto w = Warehouse::Open(dir.path(), {"alice", &clock, true, std::nullopt, "test"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->SetPrincipalRole("bob", Role::kReader).ok());
  }
  const std::string text = testing::ReadFile(file);
  EXPECT_NE(text.find("bob = 'reader'"), std::string::npos) << text;
  EXPECT_NE(text.find("[[triage.rules]]"), std::string::npos) << text;
  EXPECT_NE(text.find("contains = 'y'"), std::string::npos) << text;
}

TEST(WarehouseAuditTest, ARefusalThatCannotBeAuditedSaysSo) {
  testing::TempDir dir;
  FixedClock clock{T("2020-03-16T00:00:00Z")};
  WarehouseConfig config;
  config.principals["alice"] = Role::kOwner;
  ASSERT_TRUE(Warehouse::Init(dir.path(), config).ok());
  auto w = Warehouse::Open(dir.path(), {"alice", &clock, true, std::nullopt, "test"});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->CreateProject("prod").ok());
  ASSERT_TRUE((*w)->CreateDataset({"prod", "telemetry_stable"}, {}).ok());
  TableName stable{"prod", "telemetry_stable", "main_v5"};
  TableOptions opts;
  opts.schema = *ParseBqSchema(kLiveSchema, "live.bq");
  opts.partition_by = "submission_timestamp";
  ASSERT_TRUE((*w)->CreateTable(stable, opts).ok());
  Warehouse::DatasetUpdate guard;
  guard.is_protected = true;
  ASSERT_TRUE((*w)->UpdateDataset({"prod", "telemetry_stable"}, guard).ok());

  // Audited: the refusal comes back unchanged and is in the log.
  Status why = Refused("approve plan p: alice wrote it");
  Status audited = (*w)->AuditRefusal("prod", "approve plan", "p", why);
  EXPECT_EQ(audited.code(), StatusCode::kRefused);
  EXPECT_EQ(audited.message(), why.message());
  auto log = (*w)->Audit("prod");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_FALSE(log->empty());
  EXPECT_EQ(log->back().action, "approve plan");

  ASSERT_TRUE((*w)->connection().Exec("DROP TABLE \"prod\"._bf.audit").ok());
  Status lost = (*w)->AuditRefusal("prod", "approve plan", "p", why);
  EXPECT_EQ(lost.code(), StatusCode::kRefused);
  EXPECT_EQ(lost.message().rfind(why.message() +
                                     " (this refusal could not be recorded in the audit log of "
                                     "project prod: ",
                                 0),
            0u)
      << lost.message();

  // A write refused inside a transaction (protected dataset, no request) is audited after its
  // rollback: the same note reaches the caller.
  auto write = (*w)->Append(stable, DayRows("2020-03-16", 2, "r"));
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.status().code(), StatusCode::kRefused);
  EXPECT_NE(write.status().message().find("is protected"), std::string::npos)
      << write.status().message();
  EXPECT_NE(write.status().message().find("could not be recorded in the audit log of project prod"),
            std::string::npos)
      << write.status().message();
}

}  // namespace
}  // namespace backfill
