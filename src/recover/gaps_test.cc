// Gaps on a real warehouse: a live table with the same rows every hour of ten days, and its
// stable twin built by copy-deduplicate. A known hour loses rows; gaps must flag exactly that
// slot, in live and then in stable, and nothing once the rows are back and the day rebuilt.
// The BigQuery rendering is analyzed by ZetaSQL against the deployed schemas.
#include "recover/gaps.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "recover/replay_testing.h"
#include "warehouse/zetasql.h"

namespace backfill::replay_testing {
namespace {

using ::testing::HasSubstr;

class GapsTest : public ReplayTest {
 protected:
  // `per_hour` rows in every hour of the `days` days from 2020-03-01 into `t` (documents
  // "doc-<day>-<hour>-<k>"), where `where` (over d, h, k: day index, hour, row) holds.
  void Fill(const TableName& t, int days, int per_hour, const std::string& where = "true") {
    auto st = w_->Append(
        t, fmt::format("SELECT TIMESTAMPTZ '2020-03-01 00:00:00+00' + to_days(d) + to_hours(h) + "
                       "to_seconds(k), concat('doc-', d, '-', h, '-', k), 'release', 1, 'p' "
                       "FROM range({}) a(d), range(24) b(h), range({}) c(k) WHERE {}",
                       days, per_hour, where));
    ASSERT_TRUE(st.ok()) << st.status().ToString();
  }

  void Dedupe(const char* dates) {
    CopyDeduplicateOptions o;
    o.project = "prod";
    o.dates = *ParseDateList({dates});
    auto r = CopyDeduplicate(*w_, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  GapsReport Run(const char* dates, int baseline_days = 3,
                 GapsGranularity by = GapsGranularity::kHour) {
    GapsOptions o;
    o.project = "prod";
    o.dates = *ParseDateRange(dates);
    o.baseline_days = baseline_days;
    o.by = by;
    auto r = Gaps(*w_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : GapsReport{};
  }

  // "live 2020-03-05 13 rows=3 baseline=10" per flagged slot.
  static std::vector<std::string> Holes(const GapsReport& r) {
    std::vector<std::string> out;
    for (const auto& s : r.Holes()) {
      out.push_back(fmt::format("{} {} {} rows={} baseline={:g}", GapsKindName(s.kind),
                                FormatDate(s.day), s.hour, s.rows, s.baseline.value_or(-1)));
    }
    return out;
  }
  static std::vector<std::string> Disagreements(const GapsReport& r) {
    std::vector<std::string> out;
    for (const auto& d : r.disagreements) {
      out.push_back(fmt::format("{} stable={} documents={} live={}", FormatDate(d.day),
                                d.stable_rows, d.live_documents, d.live_rows));
    }
    return out;
  }
};

TEST_F(GapsTest, FlagsExactlyTheHourThatLostRowsUntilItIsRefilledAndRebuilt) {
  // Day index 4 = 2020-03-05: hour 13 holds 3 of its 10 rows.
  Fill(live_, 10, 10, "NOT (d = 4 AND h = 13 AND k >= 3)");
  Dedupe("2020-03-01..2020-03-10");
  GapsReport r = Run("2020-03-05..2020-03-06");
  EXPECT_EQ(Holes(r), (std::vector<std::string>{"live 2020-03-05 13 rows=3 baseline=10",
                                                "stable 2020-03-05 13 rows=3 baseline=10"}));
  EXPECT_TRUE(Disagreements(r).empty());
  EXPECT_TRUE(r.HasHole());
  EXPECT_EQ(r.slots.size(), 2u * 2 * 24);
  EXPECT_EQ(r.CheckedSlots(), 96);
  ASSERT_EQ(r.tables.size(), 2u);
  EXPECT_EQ(r.tables[0].baseline_days.size(), 6u);  // 03-02..04 and 03-07..09
  EXPECT_EQ(FormatDate(r.tables[0].baseline_days.front()), "2020-03-02");
  EXPECT_EQ(FormatDate(r.tables[0].baseline_days.back()), "2020-03-09");
  EXPECT_DOUBLE_EQ(*r.Holes()[0].ratio, 0.3);

  // The lost rows come back into live: the stable day now misses documents.
  Fill(live_, 10, 10, "d = 4 AND h = 13 AND k >= 3");
  r = Run("2020-03-05..2020-03-06");
  EXPECT_EQ(Holes(r), (std::vector<std::string>{"stable 2020-03-05 13 rows=3 baseline=10"}));
  EXPECT_EQ(Disagreements(r),
            (std::vector<std::string>{"2020-03-05 stable=233 documents=240 live=240"}));

  Dedupe("2020-03-05");
  r = Run("2020-03-05..2020-03-06");
  EXPECT_TRUE(Holes(r).empty());
  EXPECT_TRUE(Disagreements(r).empty());
  EXPECT_FALSE(r.HasHole());
}

TEST_F(GapsTest, TheBaselineIsTheMedianSoOneBadBaselineDayDoesNotHideAHole) {
  // 2020-03-04 (a baseline day) lost its hour 13 too; 2020-03-05 hour 13 has 7 rows (< 0.8 x 10)
  // and hour 14 has 8 (exactly the threshold: not a hole).
  Fill(live_, 10, 10,
       "NOT (d = 3 AND h = 13) AND NOT (d = 4 AND h = 13 AND k >= 7) AND "
       "NOT (d = 4 AND h = 14 AND k >= 8)");
  GapsReport r = Run("2020-03-05");
  EXPECT_EQ(Holes(r), (std::vector<std::string>{"live 2020-03-05 13 rows=7 baseline=10"}));
  // No stable rows anywhere: the stable table has no baseline, and disagrees with live.
  EXPECT_EQ(r.TablesWithoutBaseline(), (std::vector<TableName>{stable_}));
  EXPECT_EQ(Disagreements(r),
            (std::vector<std::string>{"2020-03-05 stable=0 documents=235 live=235"}));
}

TEST_F(GapsTest, WithoutBaselineDaysNoSlotIsJudged) {
  Fill(live_, 1, 10);  // 2020-03-01 only
  Dedupe("2020-03-01");
  GapsReport r = Run("2020-03-01", 7);
  EXPECT_EQ(r.CheckedSlots(), 0);
  EXPECT_TRUE(Holes(r).empty());
  EXPECT_FALSE(r.HasHole());
  EXPECT_EQ(r.TablesWithoutBaseline(), (std::vector<TableName>{live_, stable_}));
  EXPECT_EQ(r.candidate_baseline_days.size(), 14u);
  for (const auto& s : r.slots) EXPECT_FALSE(s.baseline.has_value());
}

TEST_F(GapsTest, ByDayComparesWholeDaysAndCountsDocumentsAsCopyDeduplicateDoes) {
  // 2020-03-05 lost half of its hours; duplicates and a NULL document_id are not documents.
  Fill(live_, 10, 4, "NOT (d = 4 AND h >= 12)");
  Insert(live_,
         {{"2020-03-06 01:00:00", "doc-5-1-0", "dup"}, {"2020-03-06 02:00:00", "", "no id"}});
  Dedupe("2020-03-01..2020-03-10");
  GapsReport r = Run("2020-03-05..2020-03-06", 2, GapsGranularity::kDay);
  EXPECT_EQ(Holes(r), (std::vector<std::string>{"live 2020-03-05 -1 rows=48 baseline=96",
                                                "stable 2020-03-05 -1 rows=48 baseline=96"}));
  EXPECT_TRUE(Disagreements(r).empty());
  EXPECT_EQ(r.slots.size(), 4u);
}

TEST_F(GapsTest, PingsTaggedAutomationAreNotDocumentsTheStableDayMustHold) {
  // copy-deduplicate drops them (Bug 1657360): gaps must not count them either.
  const char* schema = R"([
    {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
    {"name":"document_id","type":"STRING","mode":"NULLABLE"},
    {"name":"metadata","type":"RECORD","mode":"NULLABLE","fields":[
      {"name":"header","type":"RECORD","mode":"NULLABLE","fields":[
        {"name":"x_source_tags","type":"STRING","mode":"NULLABLE"}]}]}])";
  TableName live{"prod", "tagged_live", "t_v1"}, stable{"prod", "tagged_stable", "t_v1"};
  Ok(w_->CreateDataset({"prod", "tagged_live"}, {}));
  Ok(w_->CreateDataset({"prod", "tagged_stable"}, {}));
  Ok(w_->CreateTable(live, Options({}, schema)));
  Ok(w_->CreateTable(stable, Options({}, schema)));
  auto st =
      w_->Append(live,
                 "SELECT TIMESTAMPTZ '2020-03-05 10:00:00+00' + to_seconds(i), concat('d', i), "
                 "{'header': {'x_source_tags': CASE WHEN i < 3 THEN 'foo, automation' END}} "
                 "FROM range(10) t(i)");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  Dedupe("2020-03-05");
  GapsOptions o;
  o.project = "prod";
  o.filter.only = {"tagged_live.*"};
  o.dates = *ParseDateRange("2020-03-05");
  auto r = Gaps(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(Disagreements(*r).empty());
  ASSERT_TRUE(w_->DeleteWhere(stable, "document_id = 'd5'").ok());
  r = Gaps(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Disagreements(*r),
            (std::vector<std::string>{"2020-03-05 stable=6 documents=7 live=10"}));
}

TEST_F(GapsTest, SlotsNotOverYetAreLeftOutRatherThanFlagged) {
  Fill(live_, 10, 10, "d < 5 OR (d = 5 AND h < 12)");  // pings up to now: 2020-03-06 noon
  clock_.Set(T("2020-03-06T12:30:00Z"));
  GapsReport r = Run("2020-03-05..2020-03-06");
  ASSERT_EQ(r.tables.size(), 2u);
  EXPECT_EQ(r.tables[0].baseline_days.size(), 3u);  // 2020-03-02..04; none after
  EXPECT_TRUE(Holes(r).empty());
  EXPECT_EQ(r.not_ended, 2 * 12);  // hours 12..23 of live and stable
  EXPECT_EQ(r.slots.size(), 2u * 36);
  EXPECT_EQ(r.slots.back().hour, 11);
  // Only 2020-03-05 is compared with its (never built) stable day.
  EXPECT_EQ(Disagreements(r),
            (std::vector<std::string>{"2020-03-05 stable=0 documents=240 live=240"}));
  // A baseline day still filling up is no baseline day.
  r = Run("2020-03-04", 2);
  EXPECT_EQ(r.tables[0].baseline_days,
            (std::vector<Date>{D("2020-03-02"), D("2020-03-03"), D("2020-03-05")}));
}

TEST_F(GapsTest, RefusesBadOptionsAndProjectsWithoutLiveTables) {
  GapsOptions o;
  o.project = "prod";
  o.dates = *ParseDateRange("2020-03-05");
  o.threshold = 1.5;
  EXPECT_THAT(Gaps(*w_, o).status().message(), HasSubstr("--threshold"));
  o.threshold = 0.8;
  o.baseline_days = 0;
  EXPECT_THAT(Gaps(*w_, o).status().message(), HasSubstr("--baseline-days"));
  o.baseline_days = 7;
  o.filter.only = {"nothing_live.*"};
  EXPECT_EQ(Gaps(*w_, o).status().code(), StatusCode::kNotFound);
}

TEST_F(GapsTest, TheBigQueryQueriesAreAnalyzedByZetaSql) {
  Ok(w_->CreateProject("moz-fx-data-shared-prod"));
  auto deployed = DeploySchemas(*w_, fs::path(BACKFILL_SOURCE_DIR) / "testdata/schemas",
                                "moz-fx-data-shared-prod");
  ASSERT_TRUE(deployed.ok()) << deployed.status().ToString();
  std::vector<TableInfo> tables;
  std::vector<ZetaSqlFile> files;
  for (auto by : {GapsGranularity::kHour, GapsGranularity::kDay}) {
    GapsOptions o;
    o.project = "moz-fx-data-shared-prod";
    o.filter.only = {"telemetry_live.*", "contextual_services_live.topsites_click_v1"};
    o.dates = *ParseDateRange("2020-03-16..2020-03-18");
    o.by = by;
    auto queries = RenderGapsBigQuery(*w_, o);
    ASSERT_TRUE(queries.ok()) << queries.status().ToString();
    // live slots, stable slots, documents per table pair.
    ASSERT_EQ(queries->size(), 6u);
    for (const auto& q : *queries) {
      std::string name = fmt::format("{:02d}-{}-{}.sql", files.size(), q.table.ToString(), q.what);
      testing::WriteFile(fs::path(dir_ / "bq") / name, q.sql);
      files.push_back({name, o.project, {}});
      if (by == GapsGranularity::kHour && q.what == "slots")
        tables.push_back(*w_->DescribeTable(q.table));
      EXPECT_THAT(q.sql, HasSubstr("FROM `" + q.table.ToString() + "`"));
    }
    const std::string& slots = (*queries)[0].sql;
    EXPECT_THAT(slots, HasSubstr("DATE(submission_timestamp) AS submission_date"));
    EXPECT_EQ(slots.find("TIMESTAMP_TRUNC(submission_timestamp, HOUR)") != std::string::npos,
              by == GapsGranularity::kHour);
    // The range and the 7 baseline days on each side.
    EXPECT_THAT(slots, HasSubstr("submission_timestamp >= TIMESTAMP '2020-03-09 00:00:00+00' AND "
                                 "submission_timestamp < TIMESTAMP '2020-03-26 00:00:00+00'"));
    EXPECT_THAT((*queries)[2].sql, HasSubstr("COUNT(DISTINCT document_id) AS documents"));
    EXPECT_THAT((*queries)[2].sql, HasSubstr("'automation' NOT IN"));
  }
  testing::WriteFile(dir_ / "bq/catalog.json", ZetaSqlCatalogJson(tables, files));
  if (auto why = ZetaSqlUnavailable()) {
    ADD_FAILURE() << "ZetaSQL is not installed (run scripts/bootstrap.sh): " << *why;
    return;
  }
  auto report = CheckWithZetaSql(dir_ / "bq/catalog.json");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::string errors;
  for (const auto& e : report->errors)
    errors += fmt::format("{}:{}:{}: {}\n", e.file, e.line, e.column, e.message);
  EXPECT_EQ(errors, "");
  EXPECT_EQ(report->files, 12);
  EXPECT_EQ(report->statements, 12);
}

}  // namespace
}  // namespace backfill::replay_testing
