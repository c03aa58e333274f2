// Scenario tests for the error-replay steps (stage, mirror, append, copy-deduplicate, cleanup)
// on a real warehouse in a temporary directory. They read like the incident runbook: production
// P lost three days of records to error output; Q is the backfill project they are replayed into.
#include "recover/replay.h"

#include <filesystem>
#include <tuple>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "testing/testing.h"
#include "warehouse/schema_deploy.h"

namespace backfill {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

Timestamp T(const char* s) { return *ParseTimestamp(s); }
Date D(const char* s) { return *ParseDate(s); }

constexpr const char* kLiveSchema = R"([
  {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
  {"name":"document_id","type":"STRING","mode":"NULLABLE"},
  {"name":"normalized_channel","type":"STRING","mode":"NULLABLE"},
  {"name":"sample_id","type":"INT64","mode":"NULLABLE"},
  {"name":"payload","type":"STRING","mode":"NULLABLE"}
])";

// One row: (timestamp, document_id, payload); document_id "" means NULL.
struct Row {
  const char* ts;
  const char* doc;
  const char* payload;
};

std::string Values(const std::vector<Row>& rows) {
  std::string sql;
  for (const auto& r : rows) {
    sql += sql.empty() ? "SELECT * FROM (VALUES " : ", ";
    sql += fmt::format("(TIMESTAMPTZ '{}', {}, 'release', 1, '{}')", r.ts,
                       *r.doc ? QuoteString(r.doc) : "CAST(NULL AS VARCHAR)", r.payload);
  }
  return sql + ")";
}

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WarehouseConfig config;
    config.principals["alice"] = Role::kOwner;
    config.lock_timeout_seconds = 0;
    ASSERT_TRUE(Warehouse::Init(dir_ / "wh", config).ok());
    Reopen("alice");
    Ok(w_->CreateProject("prod"));
    Ok(w_->CreateDataset({"prod", "telemetry_live"}, {}));
    Ok(w_->CreateDataset({"prod", "telemetry_stable"}, {}));
    Ok(w_->CreateTable(live_, Options({"submission_timestamp"})));
    Ok(w_->CreateTable(stable_, Options({"normalized_channel", "sample_id"})));
  }

  static void Ok(const Status& s) { ASSERT_TRUE(s.ok()) << s.ToString(); }

  static TableOptions Options(std::vector<std::string> cluster, const char* schema = kLiveSchema) {
    TableOptions o;
    o.schema = *ParseBqSchema(schema, "test.bq");
    o.partition_by = "submission_timestamp";
    o.cluster_by = std::move(cluster);
    return o;
  }

  void Reopen(const std::string& principal) {
    w_.reset();
    auto w = Warehouse::Open(dir_ / "wh", {principal, &clock_, true, std::nullopt, "test"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    w_ = std::move(w).value();
  }

  void Insert(const TableName& t, const std::vector<Row>& rows) {
    auto st = w_->Append(t, Values(rows));
    ASSERT_TRUE(st.ok()) << st.status().ToString();
  }

  // "doc:payload" of a table's day, ordered, e.g. {"a:p1", "b:p2"}.
  std::vector<std::string> Docs(const TableName& t, const char* day,
                                std::optional<Timestamp> as_of = std::nullopt) {
    auto rel = w_->Relation(t, as_of);
    EXPECT_TRUE(rel.ok()) << rel.status().ToString();
    if (!rel.ok()) return {};
    auto r =
        w_->Query(fmt::format("SELECT coalesce(document_id, 'NULL') || ':' || payload FROM {} "
                              "WHERE CAST(submission_timestamp AS DATE) = DATE '{}' ORDER BY 1",
                              *rel, day));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    for (size_t i = 0; r.ok() && i < r->rows(); ++i) out.push_back(r->GetString(0, i));
    return out;
  }

  int64_t Rows(const TableName& t, const char* day) {
    return static_cast<int64_t>(Docs(t, day).size());
  }

  MirrorReport MirrorToQ(TableFilter filter = {}) {
    auto r = Mirror(*w_, {"prod", "backfill-q", filter});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : MirrorReport{};
  }

  testing::TempDir dir_;
  FixedClock clock_{T("2020-03-15T00:00:00Z")};
  std::unique_ptr<Warehouse> w_;
  TableName live_{"prod", "telemetry_live", "main_v1"};
  TableName stable_{"prod", "telemetry_stable", "main_v1"};
  TableName q_live_{"backfill-q", "telemetry_live", "main_v1"};
};

// --- mirror ---------------------------------------------------------------------------------

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

TEST_F(ReplayTest, CopyDeduplicateKeepsTheEarliestRowPerDocumentWithADeterministicTieBreak) {
  // x: the earliest timestamp wins. y: equal timestamps, inserted in opposite orders on the two
  // days; the tie-break (row JSON text) picks payload "a" both times.
  Insert(live_, {{"2020-03-16 10:00:00+00", "x", "late"},
                 {"2020-03-16 09:00:00+00", "x", "early"},
                 {"2020-03-16 08:00:00+00", "y", "b"},
                 {"2020-03-16 07:00:00+00", "z", "only"}});
  Insert(live_, {{"2020-03-16 08:00:00+00", "y", "a"}});
  Insert(live_, {{"2020-03-17 08:00:00+00", "y", "a"}});
  Insert(live_, {{"2020-03-17 08:00:00+00", "y", "b"}});
  Insert(stable_, {{"2020-03-16 00:00:00+00", "old", "stale"}});

  CopyDeduplicateOptions o;
  o.project = "prod";
  o.dates = {D("2020-03-17"), D("2020-03-16")};
  auto threads_before = w_->Query("SELECT current_setting('threads')");
  ASSERT_TRUE(threads_before.ok());
  o.parallelism = threads_before->GetInt64(0, 0) == 1 ? 2 : 1;
  o.preview = true;
  auto preview = CopyDeduplicate(*w_, o);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  ASSERT_EQ(preview->items.size(), 2u);
  EXPECT_EQ(preview->items[0].date, D("2020-03-16"));  // dates are sorted
  EXPECT_EQ(preview->items[0].live_rows, 5);
  EXPECT_EQ(preview->items[0].distinct_documents, 3);
  EXPECT_EQ(preview->items[0].stable_rows_before, 1);
  EXPECT_EQ(preview->items[0].action, DedupAction::kReplace);
  EXPECT_EQ(Docs(stable_, "2020-03-16"), std::vector<std::string>{"old:stale"});

  o.preview = false;
  auto r = CopyDeduplicate(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->items[0].stable_rows_before, 1);
  EXPECT_EQ(r->items[0].stable_rows_after, 3);
  EXPECT_EQ(r->items[0].duplicates_removed, 2);
  EXPECT_EQ(r->items[1].stable_rows_after, 1);
  EXPECT_EQ(Docs(stable_, "2020-03-16"), (std::vector<std::string>{"x:early", "y:a", "z:only"}));
  EXPECT_EQ(Docs(stable_, "2020-03-17"), std::vector<std::string>{"y:a"});
  // DuckDB's threads setting is restored after the run.
  auto threads = w_->Query("SELECT current_setting('threads')");
  ASSERT_TRUE(threads.ok());
  EXPECT_EQ(threads->GetString(0, 0), threads_before->GetString(0, 0));

  // A rerun produces the identical table.
  auto again = CopyDeduplicate(*w_, o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Docs(stable_, "2020-03-16"), (std::vector<std::string>{"x:early", "y:a", "z:only"}));
  EXPECT_EQ(Docs(stable_, "2020-03-17"), std::vector<std::string>{"y:a"});
}

// A Glean ping's live/stable shape, cut down: client_info.client_id, metadata.geo and
// metadata.header.x_source_tags as in org-mozilla-fenix/metrics/metrics.1.bq.
constexpr const char* kGleanSchema = R"([
  {"name":"submission_timestamp","type":"TIMESTAMP"},
  {"name":"document_id","type":"STRING"},
  {"name":"client_info","type":"RECORD","fields":[{"name":"client_id","type":"STRING"}]},
  {"name":"metadata","type":"RECORD","fields":[
    {"name":"geo","type":"RECORD","fields":[
      {"name":"city","type":"STRING"},{"name":"country","type":"STRING"},
      {"name":"db_version","type":"STRING"},
      {"name":"subdivision1","type":"STRING"},{"name":"subdivision2","type":"STRING"}]},
    {"name":"header","type":"RECORD","fields":[{"name":"x_source_tags","type":"STRING"}]}]},
  {"name":"payload","type":"STRING"}
])";

// Production-shaped rows: (timestamp, document_id, x_source_tags, payload); "" is NULL. Every
// row comes from Berlin (city Berlin, country DE, subdivisions BE and 11).
struct PingRow {
  const char* ts;
  const char* doc;
  const char* tags;
  const char* payload;
};

class CopyDeduplicateRuleTest : public ReplayTest {
 protected:
  // <ns>_live.<table> and <ns>_stable.<table> with kGleanSchema, as schemas deploy makes them.
  std::pair<TableName, TableName> Pair(const std::string& ns, const std::string& table) {
    TableName live{"prod", ns + "_live", table}, stable{"prod", ns + "_stable", table};
    for (const TableName& t : {live, stable}) {
      if (!w_->GetDataset(t.Dataset()).ok()) Ok(w_->CreateDataset(t.Dataset(), {}));
      Ok(w_->CreateTable(t, Options({}, kGleanSchema)));
    }
    return {live, stable};
  }

  void InsertPings(const TableName& t, const std::vector<PingRow>& rows) {
    std::string sql;
    auto str = [](const char* v) {
      return *v ? QuoteString(v) : std::string("CAST(NULL AS VARCHAR)");
    };
    for (const auto& r : rows) {
      sql += sql.empty() ? "SELECT * FROM (VALUES " : ", ";
      sql += fmt::format(
          "({}, {}, {{'client_id': 'c-{}'}}, {{'geo': {{'city': 'Berlin', 'country': 'DE', "
          "'db_version': 'v1', "
          "'subdivision1': 'BE', 'subdivision2': '11'}}, 'header': {{'x_source_tags': {}}}}}, {})",
          *r.ts ? fmt::format("TIMESTAMPTZ '{}'", r.ts) : "CAST(NULL AS TIMESTAMPTZ)", str(r.doc),
          r.doc, str(r.tags), str(r.payload));
    }
    auto st = w_->Append(t, sql + ")");
    ASSERT_TRUE(st.ok()) << st.status().ToString();
  }

  // "doc | HH:MM | payload | city,country,subdivision1,subdivision2" of a stable day, sorted.
  std::vector<std::string> Stable(const TableName& t, const char* day) {
    auto rel = w_->Relation(t);
    EXPECT_TRUE(rel.ok()) << rel.status().ToString();
    if (!rel.ok()) return {};
    auto r = w_->Query(fmt::format(
        "SELECT concat_ws(' | ', document_id, strftime(submission_timestamp, '%H:%M'), payload, "
        "concat_ws(',', coalesce(metadata.geo.city, 'NULL'), coalesce(metadata.geo.country, "
        "'NULL'), "
        "coalesce(metadata.geo.subdivision1, 'NULL'), coalesce(metadata.geo.subdivision2, "
        "'NULL'))) "
        "FROM {} WHERE CAST(submission_timestamp AS DATE) = DATE '{}' ORDER BY 1",
        *rel, day));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    for (size_t i = 0; r.ok() && i < r->rows(); ++i) out.push_back(r->GetString(0, i));
    return out;
  }

  Result<CopyDeduplicateReport> Run(const std::vector<std::string>& only, const char* day,
                                    int preceding_days = 0, bool preview = false) {
    CopyDeduplicateOptions o;
    o.project = "prod";
    o.filter.only = only;
    o.dates = {D(day)};
    o.preceding_days = preceding_days;
    o.preview = preview;
    return CopyDeduplicate(*w_, o);
  }
};

// The rows below and the expected stable rows are written by hand from bigquery-etl's
// copy_deduplicate query (bigquery_etl/copy_deduplicate.py).
const std::vector<PingRow> kDay16 = {
    {"2020-03-16 10:00:00+00", "u1", "", "unique"},
    {"2020-03-16 11:00:00+00", "d1", "", "late"},
    {"2020-03-16 08:00:00+00", "d1", "", "early"},  // the first submission wins
    {"2020-03-16 07:00:00+00", "t1", "", "b"},
    {"2020-03-16 07:00:00+00", "t1", "", "a"},                    // a tie: the least JSON text
    {"2020-03-16 09:00:00+00", "auto1", "automation", "tagged"},  // dropped (Bug 1657360)
    {"2020-03-16 09:00:00+00", "auto2", "foo, automation", "tagged in a list"},  // dropped
    {"2020-03-16 09:00:00+00", "like", "automation-like", "not the tag"},        // copied
    {"2020-03-16 09:30:00+00", "ci", "ci, nightly", "other tags"},               // copied
    {"2020-03-16 06:00:00+00", "mixed", " automation ", "tagged first"},         // dropped
    {"2020-03-16 12:00:00+00", "mixed", "", "untagged later"},  // its first untagged sighting
    {"2020-03-16 05:00:00+00", "", "", "no document_id"},       // never joins: dropped
    {"2020-03-16 05:00:00+00", "", "", "no document_id either"},
    {"", "nots", "", "no submission_timestamp"},  // in no day at all
};

TEST_F(CopyDeduplicateRuleTest, GleanTableFollowsTheReferenceRuleAndLosesCityAndSubdivisions) {
  auto [live, stable] = Pair("org_mozilla_fenix", "metrics_v1");
  Ok(w_->SetTableProperty(live, kGleanProperty, "true"));
  InsertPings(live, kDay16);
  const std::vector<std::string> expected = {
      "ci | 09:30 | other tags | NULL,DE,NULL,NULL",
      "d1 | 08:00 | early | NULL,DE,NULL,NULL",
      "like | 09:00 | not the tag | NULL,DE,NULL,NULL",
      "mixed | 12:00 | untagged later | NULL,DE,NULL,NULL",
      "t1 | 07:00 | a | NULL,DE,NULL,NULL",
      "u1 | 10:00 | unique | NULL,DE,NULL,NULL",
  };
  auto preview = Run({"org_mozilla_fenix_live.*"}, "2020-03-16", 0, true);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  ASSERT_EQ(preview->items.size(), 1u);
  EXPECT_EQ(preview->items[0].live_rows, 13);  // the row without a timestamp is in no day
  EXPECT_EQ(preview->items[0].distinct_documents, 6);
  EXPECT_TRUE(preview->items[0].geo_deprecation);
  EXPECT_TRUE(Stable(stable, "2020-03-16").empty());

  auto r = Run({"org_mozilla_fenix_live.*"}, "2020-03-16");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->items[0].stable_rows_after, 6);
  EXPECT_EQ(r->items[0].duplicates_removed, 7);
  EXPECT_EQ(Stable(stable, "2020-03-16"), expected);
  // db_version and the rest of metadata are kept; client_info too.
  auto rel = w_->Relation(stable);
  ASSERT_TRUE(rel.ok());
  auto kept =
      w_->Query(fmt::format("SELECT metadata.geo.db_version, metadata.header.x_source_tags, "
                            "client_info.client_id FROM {} WHERE document_id = 'ci'",
                            *rel));
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->GetString(0, 0), "v1");
  EXPECT_EQ(kept->GetString(1, 0), "ci, nightly");
  EXPECT_EQ(kept->GetString(2, 0), "c-ci");

  // A rerun writes the identical day.
  auto again = Run({"org_mozilla_fenix_live.*"}, "2020-03-16");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Stable(stable, "2020-03-16"), expected);
}

TEST_F(CopyDeduplicateRuleTest, NonGleanAndSkippedTablesKeepTheirGeo) {
  // No glean property (a legacy telemetry table), a Glean table listed in skip_tables, and a Glean
  // table of an app listed in skip_apps: the same rule, geo kept.
  auto [legacy, legacy_stable] = Pair("telemetry", "event_v4");
  auto [newtab, newtab_stable] = Pair("firefox_desktop", "newtab_v1");
  auto [vpn, vpn_stable] = Pair("mozillavpn", "main_v1");
  Ok(w_->SetTableProperty(newtab, kGleanProperty, "true"));
  Ok(w_->SetTableProperty(vpn, kGleanProperty, "true"));
  w_.reset();
  auto config = LoadConfig(fs::path(dir_ / "wh") / Warehouse::kConfigFile);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  config->geo_skip_apps = {"mozillavpn"};
  config->geo_skip_tables = {"newtab"};
  Ok(SaveConfig(*config, fs::path(dir_ / "wh") / Warehouse::kConfigFile));
  Reopen("alice");
  for (const TableName& t : {legacy, newtab, vpn}) InsertPings(t, kDay16);
  const std::vector<std::string> expected = {
      "ci | 09:30 | other tags | Berlin,DE,BE,11",
      "d1 | 08:00 | early | Berlin,DE,BE,11",
      "like | 09:00 | not the tag | Berlin,DE,BE,11",
      "mixed | 12:00 | untagged later | Berlin,DE,BE,11",
      "t1 | 07:00 | a | Berlin,DE,BE,11",
      "u1 | 10:00 | unique | Berlin,DE,BE,11",
  };
  auto r =
      Run({"telemetry_live.event_v4", "firefox_desktop_live.*", "mozillavpn_live.*"}, "2020-03-16");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->items.size(), 3u);
  for (const auto& i : r->items) EXPECT_FALSE(i.geo_deprecation) << i.live.ToString();
  EXPECT_EQ(Stable(legacy_stable, "2020-03-16"), expected);
  EXPECT_EQ(Stable(newtab_stable, "2020-03-16"), expected);
  EXPECT_EQ(Stable(vpn_stable, "2020-03-16"), expected);
}

TEST_F(CopyDeduplicateRuleTest, PrecedingDaysDropDocumentsFirstSeenBefore) {
  auto [live, stable] = Pair("telemetry", "event_v4");
  InsertPings(
      live, {
                {"2020-03-14 23:00:00+00", "two-days", "", "first, two days before"},
                {"2020-03-15 10:00:00+00", "resent", "", "first, the day before"},
                {"2020-03-15 11:00:00+00", "tagged-before", "automation", "tagged, the day before"},
                {"2020-03-16 00:30:00+00", "resent", "", "again"},
                {"2020-03-16 00:30:00+00", "two-days", "", "again"},
                {"2020-03-16 00:30:00+00", "tagged-before", "", "untagged now"},
                {"2020-03-16 01:00:00+00", "new", "", "new"},
            });
  // 0 (the default): each day on its own.
  auto r0 = Run({"telemetry_live.*"}, "2020-03-16", 0);
  ASSERT_TRUE(r0.ok()) << r0.status().ToString();
  EXPECT_EQ(Stable(stable, "2020-03-16"),
            (std::vector<std::string>{"new | 01:00 | new | Berlin,DE,BE,11",
                                      "resent | 00:30 | again | Berlin,DE,BE,11",
                                      "tagged-before | 00:30 | untagged now | Berlin,DE,BE,11",
                                      "two-days | 00:30 | again | Berlin,DE,BE,11"}));
  // 1: "resent" was first seen the day before; an automation-tagged sighting does not count.
  auto preview = Run({"telemetry_live.*"}, "2020-03-16", 1, true);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  EXPECT_EQ(preview->items[0].distinct_documents, 3);
  auto r1 = Run({"telemetry_live.*"}, "2020-03-16", 1);
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(r1->items[0].stable_rows_after, 3);
  EXPECT_EQ(Stable(stable, "2020-03-16"),
            (std::vector<std::string>{"new | 01:00 | new | Berlin,DE,BE,11",
                                      "tagged-before | 00:30 | untagged now | Berlin,DE,BE,11",
                                      "two-days | 00:30 | again | Berlin,DE,BE,11"}));
  // 2: "two-days" too.
  auto r2 = Run({"telemetry_live.*"}, "2020-03-16", 2);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(Stable(stable, "2020-03-16"),
            (std::vector<std::string>{"new | 01:00 | new | Berlin,DE,BE,11",
                                      "tagged-before | 00:30 | untagged now | Berlin,DE,BE,11"}));
  auto negative = Run({"telemetry_live.*"}, "2020-03-16", -1);
  EXPECT_EQ(negative.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CopyDeduplicateRuleTest, SkipsBeamLoadSinkTablesAndRefusesOtherPartitioning) {
  auto [sink, sink_stable] = Pair("telemetry", "beam_load_sink_v1");
  InsertPings(sink, kDay16);
  auto only_sink = Run({"telemetry_live.beam_load_sink_v1"}, "2020-03-16");
  EXPECT_EQ(only_sink.status().code(), StatusCode::kNotFound) << only_sink.status().ToString();
  EXPECT_TRUE(Stable(sink_stable, "2020-03-16").empty());

  // Days are submission_timestamp's, as in the reference: another partition column is refused.
  const TableName live{"prod", "events_live", "ping_v1"},
      stable{"prod", "events_stable", "ping_v1"};
  const char* schema =
      R"([{"name":"day","type":"DATE"},{"name":"submission_timestamp","type":"TIMESTAMP"},
                           {"name":"document_id","type":"STRING"}])";
  for (const TableName& t : {live, stable}) {
    Ok(w_->CreateDataset(t.Dataset(), {}));
    TableOptions options = Options({}, schema);
    options.partition_by = "day";
    Ok(w_->CreateTable(t, options));
  }
  auto r = Run({"events_live.*"}, "2020-03-16");
  ASSERT_EQ(r.status().code(), StatusCode::kRefused);
  EXPECT_NE(r.status().message().find(
                "prod.events_live.ping_v1 and prod.events_stable.ping_v1 must both be "
                "partitioned by day on submission_timestamp"),
            std::string::npos)
      << r.status().message();
}

TEST_F(CopyDeduplicateRuleTest, SchemasDeploySetsTheGleanPropertyFromTheSchema) {
  fs::path source = fs::path(BACKFILL_SOURCE_DIR) / "../shared/corpus/schemas";
  if (!fs::exists(source))
    GTEST_SKIP() << "no ../shared/corpus: Mozilla's schemas are not checked out";
  // A Glean ping and a legacy telemetry ping, as Mozilla publishes them.
  fs::path corpus = fs::path(dir_ / "schemas");
  for (const char* doc : {"org-mozilla-fenix/baseline", "telemetry/event"}) {
    fs::create_directories(corpus / doc);
    fs::copy(source / doc, corpus / doc, fs::copy_options::recursive);
  }
  auto deployed = DeploySchemas(*w_, corpus, "prod");
  ASSERT_TRUE(deployed.ok()) << deployed.status().ToString();
  auto glean = [&](const char* ds, const char* t) -> std::string {
    auto info = w_->DescribeTable({"prod", ds, t});
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    if (!info.ok()) return "?";
    auto it = info->properties.find(kGleanProperty);
    return it == info->properties.end() ? "unset" : it->second;
  };
  EXPECT_EQ(glean("org_mozilla_fenix_live", "baseline_v1"), "true");
  EXPECT_EQ(glean("org_mozilla_fenix_stable", "baseline_v1"),
            "unset");  // the reference reads the live table
  EXPECT_EQ(glean("telemetry_live", "event_v4"), "unset");
  auto info = w_->DescribeTable({"prod", "org_mozilla_fenix_live", "baseline_v1"});
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(GeoDeprecationApplies(*info, w_->config()));
  // An explicit value is kept by a later deploy.
  Ok(w_->SetTableProperty({"prod", "org_mozilla_fenix_live", "baseline_v1"}, kGleanProperty,
                          "false"));
  ASSERT_TRUE(DeploySchemas(*w_, corpus, "prod").ok());
  EXPECT_EQ(glean("org_mozilla_fenix_live", "baseline_v1"), "false");
}

TEST_F(ReplayTest, CopyDeduplicateTakesTheUtcDayOfTimestamps) {
  Insert(live_, {{"2020-03-15 23:59:59.999999+00", "a", "before"},
                 {"2020-03-16 00:00:00+00", "b", "first"},
                 {"2020-03-16 23:59:59.999999+00", "c", "last"},
                 {"2020-03-17 00:00:00+00", "d", "after"},
                 {"2020-03-16 01:00:00+01", "e", "first, in another zone"}});
  CopyDeduplicateOptions o;
  o.project = "prod";
  o.dates = {D("2020-03-16")};
  o.preview = true;
  auto preview = CopyDeduplicate(*w_, o);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  EXPECT_EQ(preview->items[0].live_rows, 3);
  o.preview = false;
  auto r = CopyDeduplicate(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->items[0].live_rows, 3);
  EXPECT_EQ(Docs(stable_, "2020-03-16"),
            (std::vector<std::string>{"b:first", "c:last", "e:first, in another zone"}));
}

TEST_F(ReplayTest, CopyDeduplicateRefusesAnEmptyLiveDayAndChangesNothingUnlessAllowed) {
  Insert(live_, {{"2020-03-16 01:00:00+00", "a", "new"}});
  Insert(stable_, {{"2020-03-16 01:00:00+00", "a", "old"}, {"2020-03-16 02:00:00+00", "b", "old"}});
  Insert(stable_, {{"2020-03-17 01:00:00+00", "c", "old"},
                   {"2020-03-17 02:00:00+00", "d", "old"},
                   {"2020-03-17 03:00:00+00", "e", "old"}});
  // The live day 2020-03-17 is empty (expired, or never loaded); 2020-03-18 is empty everywhere.
  CopyDeduplicateOptions o;
  o.project = "prod";
  o.dates = {D("2020-03-16"), D("2020-03-17"), D("2020-03-18")};
  auto r = CopyDeduplicate(*w_, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kRefused);
  EXPECT_NE(r.status().message().find(
                "live partition 2020-03-17 of prod.telemetry_live.main_v1 is empty (0 rows); "
                "replacing the stable partition would destroy the 3 row(s) that "
                "prod.telemetry_stable.main_v1 holds for 2020-03-17 now"),
            std::string::npos)
      << r.status().message();
  // Nothing changed, not even the day that could have been rebuilt.
  EXPECT_EQ(Docs(stable_, "2020-03-16"), (std::vector<std::string>{"a:old", "b:old"}));
  EXPECT_EQ(Rows(stable_, "2020-03-17"), 3);
  auto audit = w_->Audit("prod");
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->back().target, "prod.telemetry_stable.main_v1$20200317");
  EXPECT_EQ(audit->back().outcome.rfind("refused: ", 0), 0u) << audit->back().outcome;

  o.preview = true;
  auto preview = CopyDeduplicate(*w_, o);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  EXPECT_EQ(preview->items[1].action, DedupAction::kRefuse);
  EXPECT_EQ(preview->items[1].stable_rows_before, 3);
  EXPECT_EQ(preview->items[2].action, DedupAction::kSkipBothEmpty);

  o.preview = false;
  o.allow_empty = true;
  clock_.Set(T("2020-03-19T10:00:00Z"));
  r = CopyDeduplicate(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->items[1].action, DedupAction::kReplaceWithEmpty);
  EXPECT_EQ(r->items[1].stable_rows_before, 3);
  EXPECT_EQ(r->items[1].stable_rows_after, 0);
  EXPECT_EQ(Docs(stable_, "2020-03-16"), std::vector<std::string>{"a:new"});
  EXPECT_EQ(Rows(stable_, "2020-03-17"), 0);
  // The emptied day stays readable by time travel.
  EXPECT_EQ(Docs(stable_, "2020-03-17", T("2020-03-19T09:00:00Z")),
            (std::vector<std::string>{"c:old", "d:old", "e:old"}));
}

// --- stage ----------------------------------------------------------------------------------

class StageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(src_ / "error/2020-03-16/01/output-0.ndjson.gz", "day 16 hour 1");
    testing::WriteFile(src_ / "error/2020-03-16/02/output-0.ndjson.gz", std::string(200000, 'x'));
    testing::WriteFile(src_ / "error/2020-03-17/00/output-1.ndjson.gz", "day 17");
    testing::WriteFile(src_ / "error/2020-03-19/00/output-1.ndjson.gz", "not selected");
  }
  StageOptions Options(const fs::path& from) {
    StageOptions o;
    o.from = from;
    o.to = dir_.path() / "staged";
    o.dates = {D("2020-03-16"), D("2020-03-18")};
    o.threads = 3;
    return o;
  }
  testing::TempDir dir_;
  fs::path src_ = dir_.path() / "sink";
};

TEST_F(StageTest, CopiesVerifiedSkipsIdenticalOnTheSecondRunAndReportsAMissingDay) {
  StageOptions o = Options(src_);
  o.preview = true;
  auto preview = Stage(o);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  EXPECT_EQ(preview->Copied(), 3);
  EXPECT_FALSE(fs::exists(o.to));

  o.preview = false;
  auto first = Stage(o);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->source_root, src_ / "error");
  ASSERT_EQ(first->days.size(), 3u);
  EXPECT_EQ(first->days[0].copied, 2);
  EXPECT_EQ(first->days[0].bytes_copied, 200000 + 13);
  EXPECT_EQ(first->days[1].copied, 1);
  EXPECT_TRUE(first->days[2].missing);
  EXPECT_EQ(first->MissingDays(), 1);
  EXPECT_EQ(testing::ReadFile(o.to / "2020-03-16/02/output-0.ndjson.gz"), std::string(200000, 'x'));
  EXPECT_EQ(*DigestFile(o.to / "2020-03-17/00/output-1.ndjson.gz"),
            *DigestFile(src_ / "error/2020-03-17/00/output-1.ndjson.gz"));
  EXPECT_FALSE(fs::exists(o.to / "2020-03-19"));
  for (const auto& e : fs::recursive_directory_iterator(o.to)) {
    EXPECT_EQ(e.path().string().find(".bf-partial"), std::string::npos) << e.path();
  }

  // Second run (from the error/ folder itself this time): everything identical, nothing copied.
  auto second = Stage(Options(src_ / "error"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->Copied(), 0);
  EXPECT_EQ(second->Skipped(), 3);

  // A damaged copy (same size, other bytes) is detected by its checksum and replaced.
  testing::WriteFile(o.to / "2020-03-17/00/output-1.ndjson.gz", "day 1X");
  auto third = Stage(o);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->days[1].copied, 1);
  EXPECT_EQ(third->days[1].replaced, 1);
  EXPECT_EQ(testing::ReadFile(o.to / "2020-03-17/00/output-1.ndjson.gz"), "day 17");
}

TEST_F(StageTest, NoDayAtAllIsAnError) {
  StageOptions o = Options(src_);
  o.dates = {D("2020-04-01"), D("2020-04-02")};
  auto r = Stage(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("no day folder of 2020-04-01..2020-04-02"), std::string::npos)
      << r.status().message();
  o.threads = 0;
  EXPECT_EQ(Stage(o).status().code(), StatusCode::kInvalidArgument);
}

// --- cleanup --------------------------------------------------------------------------------

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
