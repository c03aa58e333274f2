// `backfill gaps` through the real binary, as a runbook would use it to gate a plan: ten days of
// pings, the same number every hour, into prod's live table and its stable twin; one hour
// loses 70% of its rows. gaps flags exactly that hour (exit 1), then only the stable day once
// live is refilled, then nothing once the stable day is rebuilt (exit 0). Also: no baseline
// days (an error, not an all-clear), a stable day missing documents, the incident of
// testdata/incident (which has no baseline days), --render bigquery and usage errors.
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/cli_fixture.h"
#include "testing/testing.h"

namespace backfill {
namespace {

using testing::Has;
using testing::RunResult;
using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kLive = "prod.telemetry_live.main_v1";
constexpr const char* kStable = "prod.telemetry_stable.main_v1";

class GapsCliTest : public testing::CliFixture {
 protected:
  void SetUp() override {
    UseWarehouse("alice", "2020-03-12T10:00:00Z");
    Ok({"init"});
    Ok({"project", "create", "prod"});
    testing::WriteFile(dir_ / "schemas/telemetry/main/main.1.bq", R"([
      {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
      {"name":"document_id","type":"STRING","mode":"NULLABLE"},
      {"name":"payload","type":"STRING","mode":"NULLABLE"}])");
    Ok({"schemas", "deploy", dir_ / "schemas", "--project", "prod"});
  }

  // 10 pings in every hour of 2020-03-01..10 into the live table (documents doc-<day>-<hour>-<k>,
  // day 0 = 2020-03-01), where `where` (over dd.i, hour, k.i) holds.
  void Fill(const std::string& where) {
    std::string digits = "(SELECT 0 AS i";
    for (int i = 1; i < 10; ++i) digits += fmt::format(" UNION ALL SELECT {}", i);
    digits += ")";
    Ok({"sql", "--project", "prod",
        fmt::format("INSERT INTO telemetry_live.main_v1 (submission_timestamp, document_id, "
                    "payload) SELECT TIMESTAMP_ADD(TIMESTAMP '2020-03-01 00:00:00+00', INTERVAL "
                    "dd.i * 1440 + (h1.i * 10 + h2.i) * 60 + k.i MINUTE), CONCAT('doc-', "
                    "CAST(dd.i AS STRING), '-', CAST(h1.i * 10 + h2.i AS STRING), '-', "
                    "CAST(k.i AS STRING)), 'p' FROM {0} AS dd CROSS JOIN {0} AS h1 CROSS JOIN "
                    "{0} AS h2 CROSS JOIN {0} AS k WHERE h1.i * 10 + h2.i < 24 AND ({1})",
                    digits, where)});
  }

  // The JSON report and the exit code.
  std::pair<Json, int> Gaps(std::vector<std::string> args) {
    args.insert(args.begin(), {"--format", "json", "gaps", "prod"});
    RunResult r = Run(args);
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.out << r.err;
    Json j = Json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return {j, r.exit_code};
  }

  // "table kind day hour rows baseline" per flagged slot, in report order.
  static std::vector<std::string> Holes(const Json& j) {
    std::vector<std::string> out;
    for (const auto& h : j["holes"]) {
      out.push_back(fmt::format("{} {} {} {} {} {}", h["table"].get<std::string>(),
                                h["kind"].get<std::string>(), h["day"].get<std::string>(),
                                h["hour"].dump(), h["rows"].dump(), h["baseline"].dump()));
    }
    return out;
  }
  static std::vector<std::string> Disagreements(const Json& j) {
    std::vector<std::string> out;
    for (const auto& d : j["disagreements"]) {
      out.push_back(fmt::format("{} {} stable={} documents={}", d["stable"].get<std::string>(),
                                d["day"].get<std::string>(), d["stable_rows"].dump(),
                                d["live_documents"].dump()));
    }
    return out;
  }

  const std::vector<std::string> kCheck = {"--dates", "2020-03-05..2020-03-06", "--baseline-days",
                                           "3"};
};

TEST_F(GapsCliTest, FlagsExactlyTheHourThatLostRecordsAndNothingAfterTheRecovery) {
  // 2020-03-05 13:00 keeps 3 of its 10 pings.
  Fill("NOT (dd.i = 4 AND h1.i * 10 + h2.i = 13 AND k.i >= 3)");
  Ok({"copy-deduplicate", "--project", "prod", "-o", "*_live.*", "--dates",
      "2020-03-01..2020-03-10"});

  auto [before, code] = Gaps(kCheck);
  EXPECT_EQ(code, 1);
  EXPECT_EQ(Holes(before),
            (std::vector<std::string>{fmt::format("{} live 2020-03-05 13 3 10.0", kLive),
                                      fmt::format("{} stable 2020-03-05 13 3 10.0", kStable)}));
  EXPECT_EQ(Disagreements(before), std::vector<std::string>{});
  EXPECT_EQ(before["checked_slots"], 96);
  EXPECT_EQ(before["slots"].size(), 96u);
  EXPECT_EQ(before["tables"][0]["baseline_days"],
            Json::array({"2020-03-02", "2020-03-03", "2020-03-04", "2020-03-07", "2020-03-08",
                         "2020-03-09"}));

  // For people: the flagged slots and one summary line.
  RunResult text =
      Run({"gaps", "prod", "--dates", "2020-03-05..2020-03-06", "--baseline-days", "3"});
  EXPECT_EQ(text.exit_code, 1) << text.err;
  EXPECT_EQ(text.out,
            "Holes: hours with fewer rows than 0.8 x the median of the same hour on the baseline "
            "days\n"
            "table                          kind    day         hour   rows  baseline  ratio\n"
            "-----------------------------  ------  ----------  -----  ----  --------  -----\n"
            "prod.telemetry_live.main_v1    live    2020-03-05  13:00  3     10        0.30\n"
            "prod.telemetry_stable.main_v1  stable  2020-03-05  13:00  3     10        0.30\n"
            "Checked 96 of 96 hour slot(s) of 2 table(s) on 2020-03-05..2020-03-06; baseline: the "
            "median of the same hour on the candidate days 2020-03-02..2020-03-04, "
            "2020-03-07..2020-03-09 that hold rows (6 of 6 per table): 2 hole(s), 0 disagreeing "
            "stable day(s).\n");

  // The lost pings are replayed into live: now the stable day misses them.
  Fill("dd.i = 4 AND h1.i * 10 + h2.i = 13 AND k.i >= 3");
  auto [replayed, code2] = Gaps(kCheck);
  EXPECT_EQ(code2, 1);
  EXPECT_EQ(Holes(replayed),
            (std::vector<std::string>{fmt::format("{} stable 2020-03-05 13 3 10.0", kStable)}));
  EXPECT_EQ(
      Disagreements(replayed),
      (std::vector<std::string>{fmt::format("{} 2020-03-05 stable=233 documents=240", kStable)}));

  // The stable day is rebuilt: nothing is flagged, the gate opens.
  Ok({"copy-deduplicate", "--project", "prod", "-o", "*_live.*", "--dates", "2020-03-05"});
  auto [after, code3] = Gaps(kCheck);
  EXPECT_EQ(code3, 0);
  EXPECT_EQ(Holes(after), std::vector<std::string>{});
  EXPECT_EQ(Disagreements(after), std::vector<std::string>{});
  EXPECT_EQ(after["has_hole"], false);
  RunResult clean = Ok(
      {"gaps", "prod", "--dates", "2020-03-05..2020-03-06", "--baseline-days", "3", "--by", "day"});
  EXPECT_TRUE(Has(clean.out, "Checked 4 of 4 day slot(s) of 2 table(s)")) << clean.out;
  RunResult csv = Ok({"--format", "csv", "gaps", "prod", "--dates", "2020-03-05..2020-03-06",
                      "--baseline-days", "3", "--by", "day"});
  EXPECT_EQ(csv.out,
            "table,kind,day,hour,rows,baseline,ratio,hole\n"
            "prod.telemetry_live.main_v1,live,2020-03-05,,240,240,1,false\n"
            "prod.telemetry_live.main_v1,live,2020-03-06,,240,240,1,false\n"
            "prod.telemetry_stable.main_v1,stable,2020-03-05,,240,240,1,false\n"
            "prod.telemetry_stable.main_v1,stable,2020-03-06,,240,240,1,false\n");
  // The clock stands at 10:00 of the last day: its remaining hours are left out, not flagged.
  RunResult today = Ok({"gaps", "prod", "--dates", "2020-03-10", "--baseline-days", "3"},
                       {{"BACKFILL_NOW", "2020-03-10T10:00:00Z"}});
  EXPECT_TRUE(Has(today.out,
                  "Left out: 28 hour slot(s) not over yet (the clock says "
                  "2020-03-10T10:00:00"))
      << today.out;
}

// How often `needle` occurs in `text`.
size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(GapsCliTest, TheHtmlReportChartsTheHoleAndTheFill) {
  Fill("NOT (dd.i = 4 AND h1.i * 10 + h2.i = 13 AND k.i >= 3)");
  Ok({"copy-deduplicate", "--project", "prod", "-o", "*_live.*", "--dates",
      "2020-03-01..2020-03-10"});
  const std::string before_html = dir_ / "before.html";
  std::vector<std::string> args = {
      "gaps", "prod",   "--dates",  "2020-03-05..2020-03-06", "--baseline-days",
      "3",    "--html", before_html};
  RunResult before = Run(args);
  EXPECT_EQ(before.exit_code, 1) << before.err;
  EXPECT_TRUE(Has(before.out, "Report: " + before_html)) << before.out;
  std::string page = testing::ReadFile(before_html);
  EXPECT_EQ(Count(page, "<svg"), 2u);  // live and stable
  // The day with the hour that lost 7 of its 10 pings is red; its neighbours are not.
  EXPECT_EQ(Count(page, "fill=\"#b00020\"><title>2020-03-05: 233 row(s)</title>"), 2u) << page;
  EXPECT_EQ(Count(page, "fill=\"#1f6fd1\"><title>2020-03-06: 240 row(s)</title>"), 2u);
  EXPECT_EQ(Count(page, "fill=\"#bbb\"><title>2020-03-04: 240 row(s)</title>"), 2u);
  EXPECT_TRUE(Has(page, "<td>prod.telemetry_live.main_v1</td><td>2020-03-05</td><td>13</td>"))
      << page;

  // After the recovery the same day is filled, in blue.
  Fill("dd.i = 4 AND h1.i * 10 + h2.i = 13 AND k.i >= 3");
  Ok({"copy-deduplicate", "--project", "prod", "-o", "*_live.*", "--dates", "2020-03-05"});
  const std::string after_html = dir_ / "after.html";
  args.back() = after_html;
  Ok(args);
  page = testing::ReadFile(after_html);
  EXPECT_EQ(Count(page, "fill=\"#1f6fd1\"><title>2020-03-05: 240 row(s)</title>"), 2u) << page;
  EXPECT_EQ(Count(page, "fill=\"#b00020\"><title>"), 0u);
  EXPECT_FALSE(Has(page, "<h2>Holes</h2>"));
}

TEST_F(GapsCliTest, WithoutBaselineDaysItSaysSoInsteadOfFlaggingOrPassing) {
  Fill("true");
  // 2020-03-20 and the seven days on either side hold no rows at all.
  RunResult r =
      Run({"gaps", "prod", "--dates", "2020-03-20"}, {{"BACKFILL_NOW", "2020-04-01T00:00:00Z"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(Has(r.out, "Holes")) << r.out;
  EXPECT_TRUE(Has(r.out, "Checked 0 of 48 hour slot(s) of 2 table(s)")) << r.out;
  EXPECT_TRUE(Has(r.err,
                  "no baseline: none of the candidate baseline days 2020-03-13..2020-03-19, "
                  "2020-03-21..2020-03-27 holds rows of the 2 table(s), so no hour could be "
                  "judged"))
      << r.err;
  // Half the baseline is enough: the days after the range are simply not there yet.
  auto [recent, code] = Gaps({"--dates", "2020-03-10", "--baseline-days", "3", "-o", "*_live.*"});
  EXPECT_EQ(code, 1);  // the stable table was never built: it disagrees with live
  EXPECT_EQ(Holes(recent), std::vector<std::string>{});
  EXPECT_EQ(recent["tables"][0]["baseline_days"],
            Json::array({"2020-03-07", "2020-03-08", "2020-03-09"}));
  EXPECT_EQ(recent["tables"][1]["baseline_days"], Json::array());
  EXPECT_EQ(
      Disagreements(recent),
      (std::vector<std::string>{fmt::format("{} 2020-03-10 stable=0 documents=240", kStable)}));
}

TEST_F(GapsCliTest, AStableDayMissingDocumentsIsFlagged) {
  Fill("true");
  Ok({"copy-deduplicate", "--project", "prod", "-o", "*_live.*", "--dates",
      "2020-03-01..2020-03-10"});
  // Two documents of 2020-03-06 07:00 disappear from stable (9 and 8 rows remain in no hour
  // below 0.8 x 10, so only the day's count gives it away).
  Ok({"sql", "--project", "prod",
      "DELETE FROM telemetry_stable.main_v1 WHERE document_id = 'doc-5-7-0' OR document_id = "
      "'doc-5-8-0'"});
  auto [j, code] = Gaps(kCheck);
  EXPECT_EQ(code, 1);
  EXPECT_EQ(Holes(j), std::vector<std::string>{});
  EXPECT_EQ(
      Disagreements(j),
      (std::vector<std::string>{fmt::format("{} 2020-03-06 stable=238 documents=240", kStable)}));
  RunResult text =
      Run({"gaps", "prod", "--dates", "2020-03-05..2020-03-06", "--baseline-days", "3"});
  EXPECT_TRUE(Has(text.out,
                  "prod.telemetry_stable.main_v1  2020-03-06  238          240             "
                  "240        stable is missing documents"))
      << text.out;
}

TEST_F(GapsCliTest, TheIncidentOfTestdataHasNoBaselineDays) {
  // The incident's live data covers exactly the three incident days, each of which lost records
  // in the same hours: nothing around them to compare with, so gaps says so (and, the stable days
  // having been built from those live days, finds no disagreement).
  const fs::path incident = fs::path(BACKFILL_SOURCE_DIR) / "testdata" / "incident";
  env_["BACKFILL_WAREHOUSE"] = dir_ / "incident-wh";
  At("2020-03-15T00:00:00Z");
  Ok({"init"});
  testing::SetWideThresholds(dir_ / "incident-wh", 300, 100);  // event_v4 stored wide
  Ok({"project", "create", "prod"});
  Ok({"schemas", "deploy", (fs::path(BACKFILL_SOURCE_DIR) / "testdata" / "schemas").string(),
      "--project", "prod"});
  At("2020-03-19T00:30:00Z");
  Ok({"sink", "--input", (incident / "live").string(), "--project", "prod"});
  Ok({"copy-deduplicate", "--project", "prod", "-o", "*_live.*", "--dates",
      "2020-03-16..2020-03-18"});
  At("2020-03-19T10:00:00Z");
  auto [j, code] = Gaps({"--dates", "2020-03-16..2020-03-18"});
  EXPECT_EQ(code, 1);
  EXPECT_EQ(j["checked_slots"], 0);
  EXPECT_EQ(Holes(j), std::vector<std::string>{});
  EXPECT_EQ(Disagreements(j), std::vector<std::string>{});
  RunResult r = Run({"gaps", "prod", "--dates", "2020-03-16..2020-03-18"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Has(r.err,
                  "no baseline: none of the candidate baseline days 2020-03-09..2020-03-15, "
                  "2020-03-19..2020-03-25 holds rows"))
      << r.err;
}

TEST_F(GapsCliTest, RendersTheCountingQueriesForBigQueryAndRefusesBadUsage) {
  RunResult r = Ok({"gaps", "prod", "--dates", "2020-03-05", "--render", "bigquery"});
  EXPECT_TRUE(Has(r.out, "-- prod.telemetry_live.main_v1 (live): slots\n")) << r.out;
  EXPECT_TRUE(Has(r.out, "TIMESTAMP_TRUNC(submission_timestamp, HOUR) AS submission_hour"));
  EXPECT_TRUE(Has(r.out, "FROM `prod.telemetry_stable.main_v1`"));
  EXPECT_TRUE(Has(r.out, "COUNT(DISTINCT document_id) AS documents"));
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"gaps", "prod", "--dates", "2020-03-05", "--by", "week"},
           {"gaps", "prod", "--dates", "2020-03-05", "--threshold", "0"},
           {"gaps", "prod", "--dates", "2020-03-05", "--baseline-days", "0"},
           {"gaps", "prod", "--dates", "2020-03-05", "--render", "snowflake"},
           {"gaps", "prod", "--dates", "2020-03-06..2020-03-05"}}) {
    RunResult u = Run(bad);
    EXPECT_EQ(u.exit_code, 2) << bad[4] << "\n" << u.err;
  }
}

}  // namespace
}  // namespace backfill
