// The error-replay incident, end to end, through the real binary: a live sink hit the BigQuery
// API rate limit while looking up table metadata and wrote three days of good records to error
// output (both pipelines: structured and telemetry), mixed with records of another namespace and
// one undecodable record per day. The recovery stages the error output, mirrors production's
// live tables into a backfill project, sinks the incident's namespaces there, appends them to
// production without duplicates, rebuilds the stable days, and cleans up. Every step run a
// second time changes no table anywhere. The error output is replayed as both sinks write it:
// ingestion-sink's raw lines and the Beam Sink's attributeMap lines with error attributes, with
// the same end state. Data: testdata/incident (see generate.py there).
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <zlib.h>
#include <nlohmann/json.hpp>

#include "testing/cli_fixture.h"
#include "testing/testing.h"
#include "testing/warehouse_state.h"

namespace backfill {
namespace {

namespace fs = std::filesystem;
using testing::RunBackfill;
using testing::RunResult;
using Json = nlohmann::json;

const fs::path kIncident = fs::path(BACKFILL_SOURCE_DIR) / "testdata" / "incident";
const fs::path kSchemas = fs::path(BACKFILL_SOURCE_DIR) / "testdata" / "schemas";
constexpr const char* kDates = "2020-03-16..2020-03-18";

std::vector<std::string> GzipLines(const fs::path& file) {
  std::vector<std::string> lines;
  std::string text = testing::GunzipFile(file), cur;
  for (char c : text) {
    if (c == '\n') {
      lines.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

class ReplayScenarioTest : public testing::CliFixture {
 protected:
  void SetUp() override {
    UseWarehouse("sre");
    std::ifstream in(kIncident / "expected.json");
    expected_ = Json::parse(in);
  }
  Json JsonOf(std::vector<std::string> args) {
    args.insert(args.begin(), {"--format", "json"});
    RunResult r = Ok(args);
    return r.exit_code == 0 ? Json::parse(r.out) : Json();
  }
  // rows per "dataset.table" and day of a project's tables matching `dataset_suffix`.
  std::map<std::string, int64_t> Rows(const std::string& project,
                                      const std::string& dataset_suffix) {
    std::map<std::string, int64_t> out;
    for (const auto& [table, days] : expected_["tables"].items()) {
      std::string ds = table.substr(0, table.find('.'));
      std::string name =
          ds.substr(0, ds.size() - 5) + dataset_suffix + table.substr(table.find('.'));
      Json show = JsonOf({"show", project + "." + name});
      for (const auto& p : show["partitions"])
        out[name + "@" + p["partition"].get<std::string>()] = p["rows"];
    }
    return out;
  }

  size_t ExpectedTableDays() const {
    size_t n = 0;
    for (const auto& [table, days] : expected_["tables"].items()) n += days.size();
    return n;
  }

  // Appends the backfill project to production and rebuilds the stable days. The first time
  // every error record not already in production is appended; again, none is: each
  // (document_id, day) is in the backfill project once, and in production once.
  void Append(bool first) {
    Json append = JsonOf({"append", "--from-project", "backfill", "--to-project", "prod", "-o",
                          "*_live.*", "--dates", kDates});
    size_t hit = 0;  // items of the answer key's (table, day)s: all of them, or the loop proved
                     // nothing
    for (const auto& item : append["items"]) {
      std::string table = item["table"].get<std::string>().substr(5);  // drop "prod."
      std::string day = item["date"].get<std::string>();
      if (!expected_["tables"].contains(table) || !expected_["tables"][table].contains(day)) {
        EXPECT_EQ(item["candidates"], 0) << item.dump();  // a table the incident did not touch
        continue;
      }
      ++hit;
      const Json& want = expected_["tables"][table][day];
      EXPECT_EQ(item["candidates"], want["error_records"].get<int64_t>()) << table;
      EXPECT_EQ(
          item["appended"],
          first ? want["error_records"].get<int64_t>() - want["duplicates"].get<int64_t>() : 0)
          << table;
    }
    EXPECT_EQ(hit, ExpectedTableDays());
    Ok({"copy-deduplicate", "--project", "prod", "-o", "*_live.*", "--dates", kDates});
  }

  Json expected_;
};

TEST_F(ReplayScenarioTest, RateLimitedRecordsAreReplayedIntoLiveAndStableWithoutDuplicatesOrLoss) {
  // The whole scenario once per shape of error output, each in its own warehouse.
  std::map<std::string, std::map<std::string, std::string>> prod_after;
  for (const std::string shape : {"error", "error-beam"}) {
    SCOPED_TRACE(shape);
    const fs::path root = dir_ / shape;
    env_["BACKFILL_WAREHOUSE"] = root / "wh";
    const std::string error_output = (kIncident / shape).string();
    const bool raw = shape == "error";
    // Production as it was: schemas deployed, the records that did land, stable days built.
    At("2020-03-15T00:00:00Z");
    Ok({"init"});
    // telemetry event_v4 (314 leaves) is stored wide: `environment` (220 leaves) as encoded text.
    testing::SetWideThresholds(root / "wh", 300, 100);
    Ok({"project", "create", "prod"});
    Ok({"schemas", "deploy", kSchemas.string(), "--project", "prod"});
    EXPECT_EQ(JsonOf({"show", "prod.telemetry_live.event_v4"})["encoded_columns"],
              Json::array({"environment"}));
    EXPECT_EQ(JsonOf({"show", "prod.telemetry_stable.event_v4"})["encoded_columns"],
              Json::array({"environment"}));
    At("2020-03-19T00:30:00Z");
    Json landed = JsonOf({"sink", "--input", (kIncident / "live").string(), "--project", "prod"});
    ASSERT_TRUE(landed["balanced"]);
    Ok({"copy-deduplicate", "--project", "prod", "-o", "*_live.*", "--dates", kDates});

    // The recovery, three days after the incident began.
    At("2020-03-19T10:00:00Z");
    std::string staged = root / "staged", replay_errors = root / "replay-errors";
    auto recover = [&](bool first) {
      Json stage = JsonOf({"stage", "--from", error_output, "--to", staged, "--dates", kDates});
      EXPECT_EQ(stage["days"].size(), 3u);
      Json mirror = JsonOf(
          {"mirror", "--from-project", "prod", "--to-project", "backfill", "-o", "*_live.*"});
      Json sink = JsonOf({"sink", "--input", staged, "--project", "backfill", "--error-output",
                          replay_errors, "--where", "document_namespace=contextual-services",
                          "--where", "document_namespace=telemetry"});
      EXPECT_TRUE(sink["balanced"]);
      int64_t good = 0, bad_payload = 0, other = 0;
      ASSERT_EQ(expected_["error_output"].size(),
                3u);  // the answer key has the incident's three days
      for (const auto& [day, c] : expected_["error_output"].items()) {
        good += c["rate_limited_good"].get<int64_t>();
        bad_payload += c["rate_limited_bad_payload"].get<int64_t>();
        other += c["other_namespace"].get<int64_t>();
      }
      if (!first) {
        // The ledger: every staged file was loaded by the first run; nothing is read again.
        EXPECT_EQ(sink["skipped_files"].size(), 12u);
        EXPECT_NE(
            sink["skipped_files"][0]["reason"].get<std::string>().find("already loaded by run "),
            std::string::npos);
        EXPECT_EQ(sink["totals"]["read"], 0);
        EXPECT_EQ(sink["error_lines_written"], 0);
        return;
      }
      EXPECT_EQ(sink["skipped_files"].size(), 0u);
      EXPECT_EQ(sink["totals"]["read"], good + bad_payload + other);
      EXPECT_EQ(sink["line_shapes"]["raw"], raw ? good + bad_payload + other : 0);
      EXPECT_EQ(sink["line_shapes"]["beam"], raw ? 0 : good + bad_payload + other);
      EXPECT_EQ(sink["totals"]["written"], good);
      EXPECT_EQ(sink["totals"]["errored"],
                bad_payload);                       // truncated gzip payloads: back to error output
      EXPECT_EQ(sink["totals"]["skipped"], other);  // another namespace: not this replay
      EXPECT_EQ(sink["error_lines_written"], bad_payload);
      EXPECT_EQ(sink["warnings"].size(), 0u) << sink["warnings"].dump();
      Append(/*first=*/true);
    };
    auto recover_all = [&](bool first) {
      recover(first);
      if (first) return;
      Append(/*first=*/false);
    };
    recover_all(true);

    // Stable tables hold exactly the expected rows: one per document and day.
    auto stable = Rows("prod", "_stable");
    ASSERT_EQ(stable.size(), 9u);
    for (const auto& [table, days] : expected_["tables"].items()) {
      std::string stable_table =
          table.substr(0, table.find('.') - 5) + "_stable" + table.substr(table.find('.'));
      for (const auto& [day, want] : days.items()) {
        EXPECT_EQ(stable[stable_table + "@" + day], want["stable_rows_after"].get<int64_t>())
            << stable_table << " " << day;
      }
    }
    auto live = Rows("prod", "_live");
    Json distinct = JsonOf({"sql", "--project", "prod",
                            "SELECT COUNT(*) AS n, COUNT(DISTINCT document_id) AS d FROM "
                            "contextual_services_live.topsites_click_v1"});
    EXPECT_EQ(distinct[0]["rows"][0]["n"],
              distinct[0]["rows"][0]["d"]);  // no duplicate reached production

    // The bad records are still in error output: the originals are untouched, and the records the
    // replay could not decode were written back with the reason.
    int64_t errors_back = 0;
    for (const auto& e : fs::recursive_directory_iterator(replay_errors)) {
      if (!e.is_regular_file()) continue;
      for (const auto& line : GzipLines(e.path())) {
        Json m = Json::parse(line);
        EXPECT_NE(m["attributeMap"]["error_message"].get<std::string>().find("gzip"),
                  std::string::npos)
            << line;
        ++errors_back;
      }
    }
    EXPECT_EQ(errors_back, 3);

    // Every step a second time changes no table anywhere, the backfill project's included.
    auto before = testing::TableContents(root / "wh", "2020-03-19T11:00:00Z", "sre");
    EXPECT_GT(before.size(), 30u);
    for (const auto& [k, v] : before) {
      if (k.starts_with("prod.")) prod_after[shape][k] = v;
    }
    if (!raw) continue;  // what follows does not depend on the shape of the input lines
    At("2020-03-19T11:00:00Z");
    recover_all(false);
    EXPECT_EQ(testing::TableContents(root / "wh", "2020-03-19T11:00:00Z", "sre"), before);
    EXPECT_EQ(Rows("prod", "_stable"), stable);
    EXPECT_EQ(Rows("prod", "_live"), live);

    // Cleanup removes the backfill project's tables and the staged files; a second cleanup changes
    // nothing.
    Json cleanup = JsonOf({"cleanup", "--project", "backfill", "--staged", staged});
    EXPECT_FALSE(cleanup["tables"].empty());
    EXPECT_FALSE(fs::exists(fs::path(staged) / "2020-03-16"));
    auto cleaned = testing::TableContents(root / "wh", "2020-03-19T11:00:00Z", "sre");
    JsonOf({"cleanup", "--project", "backfill", "--staged", staged});
    EXPECT_EQ(testing::TableContents(root / "wh", "2020-03-19T11:00:00Z", "sre"), cleaned);
  }
  // Both shapes of error output end in the same production tables, row for row.
  ASSERT_EQ(prod_after.size(), 2u);
  EXPECT_EQ(
      prod_after["error"].count("prod.contextual_services_stable.topsites_click_v1@2020-03-17"),
      1u);
  EXPECT_EQ(prod_after["error"], prod_after["error-beam"]);
}

}  // namespace
}  // namespace backfill
