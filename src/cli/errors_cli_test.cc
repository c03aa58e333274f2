// `backfill errors summarize` through the real binary, on the incident of testdata/incident: its
// counts per table, day and error type equal the generator's answer key (expected.json) for both
// sinks' error output, and the classification says which rule decided. Also --dates, --format
// csv, rules from the warehouse's backfill.toml and --rules, undecodable lines, damaged files and
// exit codes (0; 1 damaged input; 2 usage).
#include <filesystem>
#include <map>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing/cli_fixture.h"
#include "testing/testing.h"

namespace backfill {
namespace {

using testing::Has;
using testing::RunBackfill;
using testing::RunResult;
using Json = nlohmann::json;
namespace fs = std::filesystem;

const fs::path kIncident = fs::path(BACKFILL_SOURCE_DIR) / "testdata" / "incident";

// (table, day) -> records, from the answer key. Besides each table's rate-limited records,
// generate.py writes per day one topsites-click record with a truncated payload
// (rate_limited_bad_payload) and one org-mozilla-fenix baseline record (other_namespace).
std::map<std::pair<std::string, std::string>, int64_t> ExpectedPerTableDay() {
  Json key = Json::parse(testing::ReadFile(kIncident / "expected.json"));
  std::map<std::pair<std::string, std::string>, int64_t> out;
  for (const auto& [table, days] : key["tables"].items()) {
    for (const auto& [day, stats] : days.items())
      out[{table, day}] += stats["error_records"].get<int64_t>();
  }
  for (const auto& [day, counts] : key["error_output"].items()) {
    out[{"contextual_services_live.topsites_click_v1", day}] +=
        counts["rate_limited_bad_payload"].get<int64_t>();
    out[{"org_mozilla_fenix_live.baseline_v1", day}] += counts["other_namespace"].get<int64_t>();
  }
  return out;
}

std::map<std::string, int64_t> ExpectedPerDay() {
  Json key = Json::parse(testing::ReadFile(kIncident / "expected.json"));
  std::map<std::string, int64_t> out;
  for (const auto& [day, counts] : key["error_output"].items()) {
    for (const auto& [kind, n] : counts.items()) out[day] += n.get<int64_t>();
  }
  return out;
}

class ErrorsCliTest : public testing::CliFixture {
 protected:
  void SetUp() override { env_ = {{"BACKFILL_WAREHOUSE", dir_ / "wh"}}; }
  Json RunJson(std::vector<std::string> args) {
    args.insert(args.begin(), {"--format", "json"});
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    try {
      return Json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << r.out;
      return Json::object();
    }
  }
};

TEST_F(ErrorsCliTest, BeamErrorOutputMatchesTheAnswerKeyPerTableDayAndErrorType) {
  Json j = RunJson({"errors", "summarize", (kIncident / "error-beam").string()});
  std::map<std::pair<std::string, std::string>, int64_t> got;
  int64_t total = 0;
  for (const auto& g : j["groups"]) {
    ASSERT_FALSE(g["table"].is_null()) << g;
    EXPECT_EQ(g["error_type"], "KeyByBigQueryTableDestination") << g;
    EXPECT_EQ(g["class"], "infrastructure") << g;
    EXPECT_EQ(g["rule"], "default:lookup (any contains \"KeyByBigQueryTableDestination\")") << g;
    got[{g["table"], g["day"]}] += g["records"].get<int64_t>();
    total += g["records"].get<int64_t>();
  }
  EXPECT_EQ(got, ExpectedPerTableDay());
  EXPECT_EQ(j["totals"]["records"], total);
  EXPECT_EQ(j["totals"]["infrastructure"], total);
  EXPECT_EQ(j["totals"]["undecodable_lines"], 0);
  EXPECT_EQ(j["line_shapes"]["beam"], total);
  EXPECT_EQ(j["files"].size(), 12u);
  // One distinct message per table (the lookup failure names the table).
  EXPECT_EQ(j["messages"].size(), got.size() / 3);
  for (const auto& m : j["messages"]) {
    EXPECT_TRUE(Has(m["error_message"], "Resolved destination table does not exist")) << m;
    EXPECT_EQ(m["exception_class"], "java.lang.IllegalArgumentException");
    EXPECT_GT(m["example"]["line"].get<int64_t>(), 0);
  }

  // Per day and error type, the answer key's per-day totals.
  Json by_day = RunJson(
      {"errors", "summarize", (kIncident / "error-beam").string(), "--by", "day,error_type"});
  std::map<std::string, int64_t> days;
  for (const auto& g : by_day["groups"]) {
    EXPECT_EQ(g["error_type"], "KeyByBigQueryTableDestination");
    days[g["day"]] += g["records"].get<int64_t>();
  }
  EXPECT_EQ(days, ExpectedPerDay());
}

TEST_F(ErrorsCliTest, RawErrorOutputMatchesTheAnswerKeyAndIsUnclassified) {
  Json j = RunJson({"errors", "summarize", (kIncident / "error").string(), "--threads", "1"});
  std::map<std::pair<std::string, std::string>, int64_t> got;
  for (const auto& g : j["groups"]) {
    EXPECT_TRUE(g["error_type"].is_null()) << g;  // ingestion-sink keeps no reason
    EXPECT_EQ(g["class"], "unclassified") << g;
    EXPECT_TRUE(Has(g["rule"], "no error attributes")) << g;
    got[{g["table"], g["day"]}] += g["records"].get<int64_t>();
  }
  EXPECT_EQ(got, ExpectedPerTableDay());
  EXPECT_EQ(j["line_shapes"]["beam"], 0);
  EXPECT_EQ(j["messages"].size(), 0u);
}

TEST_F(ErrorsCliTest, TableAndCsvOutputWithDates) {
  RunResult r = Run({"errors", "summarize", (kIncident / "error-beam").string(), "--dates",
                     "2020-03-17", "--by", "table,exception_class"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.out,
                  "table                                                exception_class            "
                  "         class      "
                  "     records  bytes  rule\n"))
      << r.out;
  EXPECT_TRUE(Has(
      r.out,
      "\norg_mozilla_fenix_live.baseline_v1                   java.lang.IllegalArgumentException  "
      "infrastructure  1        2175   default:lookup (any contains "
      "\"KeyByBigQueryTableDestination\")\n"))
      << r.out;
  EXPECT_TRUE(Has(r.out, "50 record(s)")) << r.out;
  EXPECT_TRUE(
      Has(r.out, "50 infrastructure (replayable), 0 data (stays in error output), 0 unclassified."))
      << r.out;
  EXPECT_TRUE(Has(r.out, "100 record(s) outside 2020-03-17 not counted.")) << r.out;
  EXPECT_TRUE(Has(r.out, "Error messages (4 distinct):")) << r.out;

  RunResult csv =
      Run({"--format", "csv", "errors", "summarize", (kIncident / "error-beam").string(), "--dates",
           "2020-03-16..2020-03-17", "--by", "day"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_TRUE(csv.out.starts_with("day,class,records,bytes,rule\n2020-03-16,infrastructure,50,"))
      << csv.out;
  EXPECT_TRUE(Has(csv.out, "\n2020-03-17,infrastructure,50,")) << csv.out;
  EXPECT_TRUE(
      Has(csv.out, "\"default:lookup (any contains \"\"KeyByBigQueryTableDestination\"\")\"\n"))
      << csv.out;
}

TEST_F(ErrorsCliTest, RulesFromTheWarehouseConfigAndRulesFile) {
  testing::WriteFile(dir_ / "wh/backfill.toml", R"([[triage.rules]]
name = "missing-table-is-data"
field = "error_message"
contains = "does not exist"
class = "data"
)");
  Json j =
      RunJson({"errors", "summarize", (kIncident / "error-beam").string(), "--by", "error_type"});
  ASSERT_EQ(j["groups"].size(), 1u);
  EXPECT_EQ(j["groups"][0]["class"], "data");
  EXPECT_EQ(j["groups"][0]["rule"],
            "backfill.toml:missing-table-is-data (error_message contains \"does not exist\")");

  // --rules goes before the warehouse's rules.
  testing::WriteFile(dir_ / "rules.toml", R"([[triage.rules]]
name = "lookup"
contains = "IllegalArgumentException"
class = "infrastructure"
)");
  j = RunJson({"errors", "summarize", (kIncident / "error-beam").string(), "--by", "error_type",
               "--rules", dir_ / "rules.toml"});
  EXPECT_EQ(j["groups"][0]["class"], "infrastructure");
  EXPECT_EQ(j["groups"][0]["rule"],
            "rules.toml:lookup (any contains \"IllegalArgumentException\")");
  EXPECT_EQ(j["rule_files"].size(), 2u);
}

TEST_F(ErrorsCliTest, UndecodableLinesDamagedFilesAndUsage) {
  testing::WriteFile(dir_ / "err/a.ndjson",
                     "not json\n{\"attributeMap\":{\"error_type\":\"x\"},\"payload\":\"\"}\n");
  std::string gz = testing::Gzip(
      "{\"attributeMap\":{},\"payload\":\"\"}\n{\"attributeMap\":{},\"payload\":\"\"}\n");
  testing::WriteFile(dir_ / "err/b.ndjson.gz", gz.substr(0, gz.size() / 2));
  RunResult r = Run({"errors", "summarize", dir_ / "err"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(
      Has(r.out, "Undecodable lines (1):\n  " + (dir_ / "err/a.ndjson") + ":1: not valid JSON"))
      << r.out;
  EXPECT_TRUE(Has(r.out, "Damaged input (1 file(s)):\n  " + (dir_ / "err/b.ndjson.gz") + ": "))
      << r.out;
  EXPECT_TRUE(Has(r.err, "backfill: error: 1 input file(s) could not be read to the end")) << r.err;

  EXPECT_EQ(Run({"errors", "summarize", dir_ / "err", "--by", "table,weekday"}).exit_code, 2);
  EXPECT_EQ(
      Run({"errors", "summarize", dir_ / "err", "--dates", "2020-03-18..2020-03-17"}).exit_code, 2);
  EXPECT_EQ(Run({"errors", "summarize"}).exit_code, 2);
  testing::WriteFile(dir_ / "bad.toml", "[[triage.rules]]\nname = \"x\"\n");
  RunResult bad = Run({"errors", "summarize", dir_ / "err", "--rules", dir_ / "bad.toml"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(Has(bad.err, "bad.toml:1: triage rule: needs a non-empty 'contains'")) << bad.err;
  RunResult missing = Run({"errors", "summarize", dir_ / "nothing-here"});
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
}

}  // namespace
}  // namespace backfill
