// Scenario tests for the error-replay steps (stage, mirror, append, copy-deduplicate, cleanup)
// on a real warehouse in a temporary directory. They read like the incident runbook: production
// P lost three days of records to error output; Q is the backfill project they are replayed into.
#include "recover/replay.h"

#include <gtest/gtest.h>

#include "recover/replay_testing.h"

namespace backfill {
namespace {

using namespace replay_testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_F(ReplayTest, MirrorCreatesIdenticalTablesAndKeepsRestrictedDatasetsRestricted) {
  DatasetOptions secret;
  secret.restricted = true;
  secret.readers = {"carol"};
  secret.writers = {"dave"};
  Ok(w_->CreateDataset({"prod", "secret_live"}, secret));
  TableName events{"prod", "secret_live", "events_v1"};
  Ok(w_->CreateTable(events, Options({"submission_timestamp"})));

  // Preview: reports everything, creates nothing (not even the project).
  auto preview = Mirror(*w_, {"prod", "backfill-q", {}, true});
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  EXPECT_EQ(preview->Count(MirrorOutcome::kCreated), 3);
  EXPECT_FALSE(w_->HasProject("backfill-q"));

  MirrorReport first = MirrorToQ();
  EXPECT_TRUE(first.project_created);
  EXPECT_EQ(first.Count(MirrorOutcome::kCreated), 3);
  for (const TableName& src : {live_, stable_, events}) {
    TableName dst{"backfill-q", src.dataset, src.table};
    auto a = w_->DescribeTable(src);
    auto b = w_->DescribeTable(dst);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_TRUE(a->options.schema.SameShape(b->options.schema)) << dst.ToString();
    EXPECT_EQ(a->options.schema.fields[4].name, b->options.schema.fields[4].name);
    EXPECT_EQ(a->options.partition_by, b->options.partition_by);
    EXPECT_EQ(a->options.cluster_by, b->options.cluster_by);
    EXPECT_EQ(a->partition_kind, b->partition_kind);
  }
  auto q_secret = w_->GetDataset({"backfill-q", "secret_live"});
  ASSERT_TRUE(q_secret.ok());
  EXPECT_TRUE(q_secret->options.restricted);
  EXPECT_EQ(q_secret->options.readers, std::vector<std::string>{"carol"});
  EXPECT_EQ(q_secret->options.writers, std::vector<std::string>{"dave"});
  auto q_telemetry = w_->GetDataset({"backfill-q", "telemetry_live"});
  ASSERT_TRUE(q_telemetry.ok()) << q_telemetry.status().ToString();
  EXPECT_FALSE(q_telemetry->options.restricted);

  // The staging copy is as closed as the source: mallory reads neither; carol reads both.
  Reopen("mallory");
  EXPECT_EQ(w_->Relation({"backfill-q", "secret_live", "events_v1"}).status().code(),
            StatusCode::kPermissionDenied);
  Reopen("carol");
  EXPECT_TRUE(w_->Relation({"backfill-q", "secret_live", "events_v1"}).ok());
  Reopen("alice");

  // Idempotent.
  MirrorReport second = MirrorToQ();
  EXPECT_FALSE(second.project_created);
  EXPECT_EQ(second.Count(MirrorOutcome::kUnchanged), 3);
  EXPECT_EQ(second.Count(MirrorOutcome::kCreated), 0);
  EXPECT_EQ(second.datasets[0].outcome, MirrorOutcome::kUnchanged);
}

TEST_F(ReplayTest, MirrorFiltersByGlobAndRefusesADifferingTableCreatingNothing) {
  MirrorReport only_live = MirrorToQ({{"telemetry_live.*"}, {}});
  ASSERT_EQ(only_live.tables.size(), 1u);
  EXPECT_EQ(only_live.tables[0].target, q_live_);
  EXPECT_FALSE(w_->TableExists({"backfill-q", "telemetry_stable", "main_v1"}));
  MirrorReport excluded = MirrorToQ({{}, {"*_live.*"}});
  ASSERT_EQ(excluded.tables.size(), 1u);
  EXPECT_EQ(excluded.tables[0].target.dataset, "telemetry_stable");

  // Q's live table drifts: a column changes type. A new P table must not be created either.
  Ok(w_->DropTable(q_live_));
  Ok(w_->CreateTable(q_live_, Options({"submission_timestamp"}, R"([
    {"name":"submission_timestamp","type":"TIMESTAMP"},{"name":"document_id","type":"INT64"},
    {"name":"normalized_channel","type":"STRING"},{"name":"sample_id","type":"INT64"},
    {"name":"payload","type":"STRING"}])")));
  Ok(w_->CreateTable({"prod", "telemetry_live", "other_v1"}, Options({})));
  auto r = Mirror(*w_, {"prod", "backfill-q", {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kRefused);
  EXPECT_NE(r.status().message().find(
                "table backfill-q.telemetry_live.main_v1 differs from prod.telemetry_live.main_v1: "
                "column document_id: NULLABLE INT64 -> NULLABLE STRING"),
            std::string::npos)
      << r.status().message();
  EXPECT_FALSE(w_->TableExists({"backfill-q", "telemetry_live", "other_v1"}));
  // Clustering is part of "identical" too.
  auto preview = Mirror(*w_, {"prod", "backfill-q", {{"telemetry_stable.*"}, {}}, true});
  ASSERT_TRUE(preview.ok());
  EXPECT_EQ(preview->Count(MirrorOutcome::kUnchanged), 1);
}

// --- append ---------------------------------------------------------------------------------

TEST_F(ReplayTest, AppendAddsOnlyNewDocumentDaysAndASecondRunAppendsNothing) {
  Insert(live_, {{"2020-03-16 01:00:00+00", "a", "p"},
                 {"2020-03-16 02:00:00+00", "b", "p"},
                 {"2020-03-17 01:00:00+00", "c", "p"}});
  MirrorToQ({{"telemetry_live.*"}, {}});
  // The replayed records: some reached P before the sink failed, some are new, one is a
  // document P holds on another day (a new (document_id, day) for the 17th).
  Insert(q_live_, {{"2020-03-16 01:00:00+00", "a", "replayed"},
                   {"2020-03-16 03:00:00+00", "d", "replayed"},
                   {"2020-03-16 04:00:00+00", "d", "dup"},
                   {"2020-03-16 05:00:00+00", "", "no-id"},
                   {"2020-03-17 01:00:00+00", "c", "replayed"},
                   {"2020-03-17 02:00:00+00", "a", "replayed"},
                   {"2020-03-18 01:00:00+00", "e", "outside the dates"}});
  AppendOptions o;
  o.from_project = "backfill-q";
  o.to_project = "prod";
  o.filter.only = {"telemetry_live.*"};
  o.dates = {D("2020-03-16"), D("2020-03-17")};

  o.preview = true;
  auto preview = AppendMissing(*w_, o);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  EXPECT_EQ(preview->Appended(), 3);
  EXPECT_EQ(Rows(live_, "2020-03-16"), 2);  // the preview wrote nothing

  o.preview = false;
  std::vector<std::string> progress;
  o.progress = [&](std::string_view l) { progress.emplace_back(l); };
  auto first = AppendMissing(*w_, o);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->items.size(), 2u);
  const AppendItem& d16 = first->items[0];
  EXPECT_EQ(d16.date, D("2020-03-16"));
  EXPECT_EQ(d16.candidates, 4);
  EXPECT_EQ(d16.already_present, 1);
  EXPECT_EQ(d16.without_document_id, 1);
  EXPECT_EQ(d16.appended, 2);
  EXPECT_EQ(first->items[1].candidates, 2);
  EXPECT_EQ(first->items[1].already_present, 1);
  EXPECT_EQ(first->items[1].appended, 1);
  EXPECT_EQ(Docs(live_, "2020-03-16"),
            (std::vector<std::string>{"a:p", "b:p", "d:dup", "d:replayed"}));
  EXPECT_EQ(Docs(live_, "2020-03-17"), (std::vector<std::string>{"a:replayed", "c:p"}));
  EXPECT_EQ(Rows(live_, "2020-03-18"), 0);
  ASSERT_EQ(progress.size(), 2u);
  EXPECT_EQ(
      progress[0],
      "2020-03-16 prod.telemetry_live.main_v1: 4 candidate(s), 1 already present, 2 appended, "
      "1 without document_id (not appended)");

  auto second = AppendMissing(*w_, o);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->Appended(), 0);
  EXPECT_EQ(second->items[0].already_present, 3);
  EXPECT_EQ(Rows(live_, "2020-03-16"), 4);

  // Every append is audited with the rows it wrote, and the no-op run left no entry.
  auto audit = w_->Audit("prod");
  ASSERT_TRUE(audit.ok());
  int appends = 0;
  for (const auto& e : *audit)
    appends += e.action == "append" && e.target == live_.ToString() && e.rows > 0;
  EXPECT_EQ(appends, 1 + 2);  // the setup insert, then one per day
}

TEST_F(ReplayTest, AppendRefusesASchemaMismatchAndTablesWithoutDocumentId) {
  Ok(w_->CreateProject("backfill-q"));
  Ok(w_->CreateDataset({"backfill-q", "telemetry_live"}, {}));
  Ok(w_->CreateTable(q_live_, Options({}, R"([
    {"name":"submission_timestamp","type":"TIMESTAMP"},{"name":"document_id","type":"STRING"},
    {"name":"normalized_channel","type":"STRING"},{"name":"sample_id","type":"INT64"},
    {"name":"payload","type":"STRING"},{"name":"extra","type":"STRING"}])")));
  Ok(w_->Append(q_live_, "SELECT TIMESTAMPTZ '2020-03-16 01:00:00+00', 'a', 'release', 1, 'p', 'x'")
         .status());
  AppendOptions o;
  o.from_project = "backfill-q";
  o.to_project = "prod";
  o.dates = {D("2020-03-16"), D("2020-03-16")};
  auto r = AppendMissing(*w_, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kRefused);
  EXPECT_NE(
      r.status().message().find("the schema of backfill-q.telemetry_live.main_v1 differs from "
                                "prod.telemetry_live.main_v1: added column extra"),
      std::string::npos)
      << r.status().message();
  EXPECT_EQ(Rows(live_, "2020-03-16"), 0);

  const char* no_id =
      R"([{"name":"submission_timestamp","type":"TIMESTAMP"},{"name":"n","type":"INT64"}])";
  Ok(w_->CreateTable({"prod", "telemetry_live", "counts_v1"}, Options({}, no_id)));
  Ok(w_->CreateTable({"backfill-q", "telemetry_live", "counts_v1"}, Options({}, no_id)));
  o.filter.only = {"*.counts_v1"};
  r = AppendMissing(*w_, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kRefused);
  EXPECT_NE(
      r.status().message().find("backfill-q.telemetry_live.counts_v1 has no document_id column"),
      std::string::npos)
      << r.status().message();
}

// --- copy-deduplicate -----------------------------------------------------------------------

TEST_F(ReplayTest, CleanupPreviewRemovesNothingAndTheRealRunDropsTablesThatCanBeUndropped) {
  MirrorToQ();
  Insert(q_live_, {{"2020-03-16 01:00:00+00", "a", "p"}, {"2020-03-16 02:00:00+00", "b", "p"}});
  fs::path staged = dir_.path() / "staged";
  testing::WriteFile(staged / "2020-03-16/01/output-0.ndjson.gz", "12345");
  testing::WriteFile(staged / "2020-03-17/00/x.ndjson.gz.bf-partial", "1");
  testing::WriteFile(staged / "notes.txt", "not staged by us");

  auto preview = Cleanup(*w_, {"backfill-q", staged, true});
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  ASSERT_EQ(preview->tables.size(), 2u);
  EXPECT_EQ(preview->tables[0].name, q_live_);
  EXPECT_EQ(preview->tables[0].rows, 2);
  EXPECT_EQ(preview->tables[0].undrop_until, clock_.Now() + 168h);
  EXPECT_EQ(preview->staged_files, 2);
  EXPECT_EQ(preview->staged_bytes, 6);
  ASSERT_EQ(preview->left_alone.size(), 1u);
  EXPECT_TRUE(w_->TableExists(q_live_));
  EXPECT_TRUE(fs::exists(staged / "2020-03-16/01/output-0.ndjson.gz"));

  auto r = Cleanup(*w_, {"backfill-q", staged, false});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(w_->TableExists(q_live_));
  auto q_tables = w_->ListTables({"backfill-q", "telemetry_live"});
  ASSERT_TRUE(q_tables.ok()) << q_tables.status().ToString();
  EXPECT_TRUE(q_tables->empty());
  EXPECT_TRUE(w_->TableExists(live_));  // production untouched
  EXPECT_FALSE(fs::exists(staged / "2020-03-16"));
  EXPECT_FALSE(fs::exists(staged / "2020-03-17"));
  EXPECT_TRUE(fs::exists(staged / "notes.txt"));

  // Dropped, not destroyed: undrop brings the rows back within the window.
  clock_.Advance(2h);
  Ok(w_->UndropTable(q_live_));
  EXPECT_EQ(Rows(q_live_, "2020-03-16"), 2);

  // Running it again is harmless.
  Ok(w_->DropTable(q_live_));
  auto again = Cleanup(*w_, {"backfill-q", staged, false});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->tables.empty());
}

TEST_F(ReplayTest, CleanupRefusesAProjectWithAProtectedDataset) {
  Warehouse::DatasetUpdate u;
  u.is_protected = true;
  Ok(w_->UpdateDataset({"prod", "telemetry_stable"}, u));
  auto r = Cleanup(*w_, {"prod", {}, false});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kRefused);
  EXPECT_NE(r.status().message().find("prod.telemetry_stable"), std::string::npos)
      << r.status().message();
  EXPECT_TRUE(w_->TableExists(live_));
  EXPECT_TRUE(w_->TableExists(stable_));
}

// The whole replay on the real, wide telemetry `main` schema (thousands of nested fields): the
// anti-join and the tie-break's row serialization must cope with it.
TEST_F(ReplayTest, ReplayOnTheRealMainSchema) {
  BF_REQUIRE_CORPUS();
  fs::path schemas = dir_.path() / "schemas/telemetry/main";
  fs::create_directories(schemas);
  fs::copy_file(testing::CorpusDir() / "schemas/telemetry/main/main.5.bq", schemas / "main.5.bq");
  auto deployed = DeploySchemas(*w_, dir_.path() / "schemas", "prod");
  ASSERT_TRUE(deployed.ok()) << deployed.status().ToString();
  TableName stable{"prod", "telemetry_stable", "main_v5"};
  auto insert = [&](const std::string& project, const std::string& rows) {
    auto r = w_->ExecuteSql(
        "INSERT INTO telemetry_live.main_v5 (submission_timestamp, document_id, "
        "normalized_channel) " +
            rows,
        project);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  };
  insert("prod", "SELECT TIMESTAMP '2020-03-16 01:00:00+00', 'a', 'release'");
  MirrorReport m = MirrorToQ({{"telemetry_*.main_v5"}, {}});
  ASSERT_EQ(m.Count(MirrorOutcome::kCreated), 2);
  insert("backfill-q",
         "SELECT TIMESTAMP '2020-03-16 01:00:00+00', 'a', 'release' UNION ALL "
         "SELECT TIMESTAMP '2020-03-16 02:00:00+00', 'b', 'beta' UNION ALL "
         "SELECT TIMESTAMP '2020-03-16 02:00:00+00', 'b', 'nightly'");
  AppendOptions a;
  a.from_project = "backfill-q";
  a.to_project = "prod";
  a.filter.only = {"telemetry_live.main_v5"};
  a.dates = {D("2020-03-16"), D("2020-03-16")};
  auto appended = AppendMissing(*w_, a);
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  EXPECT_EQ(appended->Appended(), 2);
  CopyDeduplicateOptions c;
  c.project = "prod";
  c.dates = {D("2020-03-16")};
  c.filter.only = {"*.main_v5"};
  auto dedup = CopyDeduplicate(*w_, c);
  ASSERT_TRUE(dedup.ok()) << dedup.status().ToString();
  ASSERT_EQ(dedup->items.size(), 1u);
  EXPECT_EQ(dedup->items[0].stable_rows_after, 2);
  auto rel = w_->Relation(stable);
  ASSERT_TRUE(rel.ok()) << rel.status().ToString();
  auto r =
      w_->Query("SELECT document_id || ':' || normalized_channel FROM " + *rel + " ORDER BY 1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rows(), 2u);
  EXPECT_EQ(r->GetString(0, 1),
            "b:beta");  // equal timestamps: "beta" < "nightly" in the row's JSON
}

TEST(TableFilterTest, OnlyAndExcludeGlobs) {
  TableFilter f{{"telemetry_live.*", "*.main_v?"}, {"*.main_v5"}};
  EXPECT_TRUE(f.Matches("telemetry_live.event_v4"));
  EXPECT_TRUE(f.Matches("telemetry_stable.main_v4"));
  EXPECT_FALSE(f.Matches("telemetry_live.main_v5"));
  EXPECT_FALSE(f.Matches("other_live.x_v1"));
  EXPECT_TRUE(TableFilter{}.Matches("anything.at_all"));
}

TEST(ParseDateListTest, DaysAndRangesUnionSorted) {
  auto d = ParseDateList({"2020-03-18", "2020-03-16..2020-03-17", "2020-03-17"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (std::vector<Date>{D("2020-03-16"), D("2020-03-17"), D("2020-03-18")}));
  EXPECT_FALSE(ParseDateList({"2020-03-18..2020-03-16"}).ok());
  EXPECT_FALSE(ParseDateList({}).ok());
}

}  // namespace
}  // namespace backfill
