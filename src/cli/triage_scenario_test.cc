// Triage to recovery on the incident of testdata/incident (see generate.py there): the plan
// drafted from `errors summarize` (`plan new --from-triage`) recovers production exactly as the
// hand-written demo plan does, row for row, through the real binary; `gaps` finds exactly the
// days that lost records before it and none after.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "testing/cli_fixture.h"
#include "testing/testing.h"
#include "testing/warehouse_state.h"

namespace backfill {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing::RunResult;

const fs::path kSource = BACKFILL_SOURCE_DIR;
const fs::path kIncident = kSource / "testdata" / "incident";
constexpr const char* kProd = "moz-fx-data-shared-prod";

class TriageScenarioTest : public testing::CliFixture {
 protected:
  void SetUp() override { UseWarehouse("alice"); }

  // Production as the incident left it, in its own warehouse under `root`: the records that
  // did land, and the stable days the nightly job built from them.
  void Production(const fs::path& root) {
    env_["BACKFILL_WAREHOUSE"] = (root / "wh").string();
    At("2020-03-15T00:00:00Z");
    Ok({"init"});
    Ok({"project", "create", kProd});
    Ok({"schemas", "deploy", (kSource / "testdata" / "schemas").string(), "--project", kProd});
    At("2020-03-19T00:30:00Z");
    Ok({"sink", "--input", (kIncident / "live").string(), "--project", kProd});
    Ok({"copy-deduplicate", "--project", kProd, "-o", "*_live.*", "--dates",
        "2020-03-16..2020-03-18"});
    // The week before ran normally: as many documents a day as the incident days should hold.
    for (const auto& [table, per_day] : kWeekBefore) {
      Ok({"sql", "--project", kProd,
          fmt::format(
              "INSERT INTO {} (submission_timestamp, document_id) WITH d AS (SELECT 0 AS i "
              "UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 "
              "UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 "
              "UNION ALL SELECT 9) SELECT TIMESTAMP_ADD(TIMESTAMP '2020-03-09 04:00:00+00', "
              "INTERVAL w.i * 1440 + a.i * 300 + b.i * 30 MINUTE), CONCAT('week-', "
              "CAST(w.i AS STRING), '-', CAST(a.i * 10 + b.i AS STRING)) FROM d AS w CROSS "
              "JOIN d AS a CROSS JOIN d AS b WHERE w.i < 7 AND a.i * 10 + b.i < {}",
              table, per_day)});
    }
    Ok({"copy-deduplicate", "--project", kProd, "-o", "*_live.*", "--dates",
        "2020-03-09..2020-03-15"});
    At("2020-03-19T10:00:00Z");
  }

  // `gaps` over the incident's tables by day: its exit code and the (table, day)s it flags.
  std::pair<int, std::set<std::string>> Holes() {
    std::vector<std::string> args = {"--format", "json", "gaps", kProd};
    for (const auto& [table, per_day] : kWeekBefore) args.insert(args.end(), {"-o", table});
    args.insert(args.end(), {"--dates", "2020-03-16..2020-03-18", "--by", "day"});
    RunResult r = Run(args);
    std::set<std::string> holes;
    Json j = Json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << r.out << r.err;
    if (!j.is_object()) return {r.exit_code, holes};
    EXPECT_EQ(j["checked_slots"], 18);  // 3 days of 3 live and 3 stable tables: all judged
    for (const auto& h : j["holes"])
      holes.insert(h["table"].get<std::string>() + "@" + h["day"].get<std::string>());
    return {r.exit_code, holes};
  }

  // Documents a day in the incident's tables had it not happened (generate.py: error records
  // plus the records that did land, less those that did both).
  const std::map<std::string, int> kWeekBefore = {
      {"contextual_services_live.topsites_click_v1", 27},
      {"contextual_services_live.quicksuggest_impression_v1", 27},
      {"telemetry_live.event_v4", 10}};

  std::map<std::string, std::string> ProductionTables(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : testing::TableContents(root / "wh", "2020-03-19T12:00:00Z", "alice"))
      if (k.starts_with(std::string(kProd) + ".")) out[k] = v;
    return out;
  }
};

TEST_F(TriageScenarioTest, ThePlanDraftedFromTheTriageRecoversLikeTheHandWrittenPlan) {
  // By hand: the demo plan, its error-output folder made absolute.
  const fs::path by_hand = dir_ / "by-hand";
  Production(by_hand);
  auto hand_text = ReadWholeFile(kSource / "testdata/demo/plans/error-replay-2020-03.toml");
  ASSERT_TRUE(hand_text.ok());
  std::string text = *hand_text;
  const std::string from = "\"../testdata/incident/error\"";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "\"" + (kIncident / "error").string() + "\"");
  ASSERT_TRUE(WriteFileAtomically(by_hand / "plan.toml", text).ok());
  Ok({"apply", (by_hand / "plan.toml").string()});

  // From the evidence: summarize, draft, preview, apply.
  const fs::path drafted = dir_ / "drafted";
  Production(drafted);
  RunResult summary = Ok({"--format", "json", "errors", "summarize", (kIncident / "error").string(),
                          "--by", "table,day", "--dates", "2020-03-16..2020-03-18"});
  ASSERT_TRUE(WriteFileAtomically(drafted / "summary.json", summary.out).ok());
  // Where production has holes: every incident day of every incident table, live and stable.
  auto [before_code, before] = Holes();
  EXPECT_EQ(before_code, 1);
  std::set<std::string> expected_holes;
  for (const auto& [table, per_day] : kWeekBefore) {
    std::string stable = table;
    stable.replace(stable.find("_live."), 6, "_stable.");
    for (const char* day : {"2020-03-16", "2020-03-17", "2020-03-18"}) {
      expected_holes.insert(fmt::format("{}.{}@{}", kProd, table, day));
      expected_holes.insert(fmt::format("{}.{}@{}", kProd, stable, day));
    }
  }
  EXPECT_EQ(before, expected_holes);

  const std::string plan = (drafted / "plan.toml").string();
  // ingestion-sink's raw error output keeps no reason: without a decision, nothing to replay.
  RunResult refused = Run({"plan", "new", "--template", "error-replay", "--from-triage",
                           (drafted / "summary.json").string(), "--out", plan});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_TRUE(testing::Has(refused.err, "--include-unclassified")) << refused.err;
  EXPECT_FALSE(fs::exists(plan));

  Json wrote =
      Json::parse(Ok({"--format", "json", "plan", "new", "--template", "error-replay",
                      "--from-triage", (drafted / "summary.json").string(),
                      "--include-unclassified", "-x", "org_mozilla_fenix_live.*", "--out", plan})
                      .out);
  EXPECT_EQ(wrote["tables"],
            Json::array({"contextual_services_live.quicksuggest_impression_v1",
                         "contextual_services_live.topsites_click_v1", "telemetry_live.event_v4"}));
  EXPECT_EQ(wrote["dates"], Json::array({"2020-03-16..2020-03-18"}));
  EXPECT_EQ(wrote["records"], 3 * (20 + 21 + 8));
  Ok({"plan", plan});
  Ok({"apply", plan});
  auto [after_code, after] = Holes();
  EXPECT_EQ(after_code, 0);
  EXPECT_EQ(after, std::set<std::string>{});

  auto hand = ProductionTables(by_hand), draft = ProductionTables(drafted);
  EXPECT_EQ(
      hand.count(std::string(kProd) + ".contextual_services_stable.topsites_click_v1@2020-03-17"),
      1u);
  EXPECT_EQ(draft, hand);
  // And the recovery did change production (the comparison is not of two untouched copies).
  Production(dir_ / "untouched");
  EXPECT_NE(ProductionTables(dir_ / "untouched"), hand);
}

}  // namespace
}  // namespace backfill
