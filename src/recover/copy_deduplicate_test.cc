// The copy-deduplicate step on a real warehouse: bigquery-etl's rule (the earliest row per
// document, Glean's geo handling, preceding days, skipped tables) and its refusals.
#include <gtest/gtest.h>

#include "recover/replay.h"
#include "recover/replay_testing.h"
#include "warehouse/schema_deploy.h"

namespace backfill {
namespace {

using namespace replay_testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

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

// A wide live table (core/wide.h) is copied as stored, its encoded text as it is, and the
// tie-break still orders rows by the JSON of their values, not of their stored text: for the
// tied document "t", a NULL `rec` ("rec":null) sorts before a set one ("rec":{...}), while the
// stored text of the set one ("rec":"{...}") would sort first.
TEST_F(ReplayTest, CopyDeduplicateCopiesWideTablesAsStoredWithTheSameTieBreak) {
  WarehouseConfig config;
  config.principals["alice"] = Role::kOwner;
  config.wide = {3, 2};  // 4 leaves: wide; `rec` (2 leaves) encoded
  Ok(Warehouse::Init(dir_ / "wide", config));
  auto opened = Warehouse::Open(dir_ / "wide", {"alice", &clock_, true, std::nullopt, "test"});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Warehouse& w = **opened;
  Ok(w.CreateProject("prod"));
  const char* schema = R"([
    {"name":"submission_timestamp","type":"TIMESTAMP"},
    {"name":"document_id","type":"STRING"},
    {"name":"rec","type":"RECORD","fields":[{"name":"a","type":"STRING"},
                                            {"name":"b","type":"STRING"}]}])";
  for (const TableName& t : {live_, stable_}) {
    Ok(w.CreateDataset(t.Dataset(), {}));
    Ok(w.CreateTable(t, Options({}, schema)));
    auto info = w.DescribeTable(t);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    ASSERT_EQ(info->encoded_columns, std::vector<std::string>{"rec"});
  }
  auto appended =
      w.Append(live_,
               "SELECT * FROM (VALUES "
               "(TIMESTAMPTZ '2020-03-16 08:00:00+00', 't', {'a': 'x', 'b': NULL::VARCHAR}), "
               "(TIMESTAMPTZ '2020-03-16 08:00:00+00', 't', NULL), "
               "(TIMESTAMPTZ '2020-03-16 09:00:00+00', 'v', {'a': 'late', 'b': NULL::VARCHAR}), "
               "(TIMESTAMPTZ '2020-03-16 07:00:00+00', 'v', {'a': 'early', 'b': 'e'}), "
               "(TIMESTAMPTZ '2020-03-16 10:00:00+00', 'u', {'a': 'only', 'b': NULL::VARCHAR}))");
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();

  CopyDeduplicateOptions o;
  o.project = "prod";
  o.dates = {D("2020-03-16")};
  auto r = CopyDeduplicate(w, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->items.size(), 1u);
  EXPECT_EQ(r->items[0].live_rows, 5);
  EXPECT_EQ(r->items[0].stable_rows_after, 3);
  auto rel = w.Relation(stable_);
  ASSERT_TRUE(rel.ok()) << rel.status().ToString();
  auto rows = w.Query(
      "SELECT string_agg(document_id || ':' || coalesce(rec.a, 'NULL') || ',' || "
      "coalesce(rec.b, 'NULL'), ' ' ORDER BY document_id) FROM " +
      *rel);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->GetString(0, 0), "t:NULL,NULL u:only,NULL v:early,e");
  auto is_null = w.Query("SELECT count(*) FROM " + *rel + " WHERE rec IS NULL");
  ASSERT_TRUE(is_null.ok()) << is_null.status().ToString();
  EXPECT_EQ(is_null->GetInt64(0, 0), 1);
  // Copied as stored: the query read the store, not the view.
  auto audit = w.Audit("prod");
  ASSERT_TRUE(audit.ok()) << audit.status().ToString();
  ASSERT_FALSE(audit->empty());
  EXPECT_EQ(audit->back().action, "replace partition");
  EXPECT_NE(audit->back().statement.find("_bf_store"), std::string::npos)
      << audit->back().statement;

  // With `metadata` encoded, the automation filter reads inside it: through the view, as before.
  const char* tagged = R"([
    {"name":"submission_timestamp","type":"TIMESTAMP"},
    {"name":"document_id","type":"STRING"},
    {"name":"metadata","type":"RECORD","fields":[
      {"name":"header","type":"RECORD","fields":[{"name":"x_source_tags","type":"STRING"}]},
      {"name":"user_agent","type":"STRING"}]}])";
  TableName live{"prod", "other_live", "t_v1"}, stable{"prod", "other_stable", "t_v1"};
  for (const TableName& t : {live, stable}) {
    Ok(w.CreateDataset(t.Dataset(), {}));
    Ok(w.CreateTable(t, Options({}, tagged)));
    ASSERT_EQ(w.DescribeTable(t)->encoded_columns, std::vector<std::string>{"metadata"});
  }
  appended = w.Append(live,
                      "SELECT * FROM (VALUES "
                      "(TIMESTAMPTZ '2020-03-16 08:00:00+00', 'a', {'header': {'x_source_tags': "
                      "'automation'}, 'user_agent': 'x'}), "
                      "(TIMESTAMPTZ '2020-03-16 09:00:00+00', 'b', {'header': {'x_source_tags': "
                      "NULL::VARCHAR}, 'user_agent': 'y'}))");
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  o.filter.only = {"other_live.t_v1"};
  r = CopyDeduplicate(w, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->items[0].stable_rows_after, 1);
  audit = w.Audit("prod");
  ASSERT_TRUE(audit.ok()) << audit.status().ToString();
  EXPECT_EQ(audit->back().statement.find("_bf_store"), std::string::npos)
      << audit->back().statement;
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

}  // namespace
}  // namespace backfill
