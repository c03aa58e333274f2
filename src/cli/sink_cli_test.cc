// Golden-ish tests of `backfill sink` run as the real binary: the report table, --format json,
// exit codes (0 all accounted for; 1 record errors without --error-output, damaged input, a
// failed run; 2 usage), and that nothing is written by a run that cannot get the warehouse.
#include <zlib.h>

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ingest/payload.h"
#include "testing/cli_fixture.h"
#include "testing/testing.h"

namespace backfill {
namespace {

using testing::Has;
using testing::RunBackfill;
using testing::RunResult;
using Json = nlohmann::json;
namespace fs = std::filesystem;

std::string Message(const std::string& id, const std::string& type = "main",
                    const std::string& hour = "10") {
  return fmt::format(
      R"({{"attributeMap":{{"document_namespace":"telemetry","document_type":"{}","document_version":"1",)"
      R"("document_id":"{}","submission_timestamp":"2020-03-17T{}:00:00Z"}},"payload":"{}"}})",
      type, id, hour, ingest::Base64Encode(R"({"clientId":"c","n":3})"));
}

class SinkCliTest : public testing::CliFixture {
 protected:
  void SetUp() override {
    UseWarehouse("alice", "2020-03-19T10:00:00Z");
    Ok({"init"});
    Ok({"project", "create", "backfill-q"});
    testing::WriteFile(dir_ / "schemas/telemetry/main/main.1.bq", R"([
      {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
      {"name":"document_id","type":"STRING","mode":"NULLABLE"},
      {"name":"client_id","type":"STRING","mode":"NULLABLE"},
      {"name":"n","type":"INT64","mode":"NULLABLE"}])");
    Ok({"schemas", "deploy", dir_ / "schemas", "--project", "backfill-q"});
    std::string in;
    for (int i = 0; i < 3; ++i) in += Message("d" + std::to_string(i)) + "\n";
    in += Message("x", "unknown") + "\n";
    in += "not a message\n";
    testing::WriteFile(dir_ / "in/part-0.ndjson", in);
  }

  // The live table's row count, exactly (a substring check would pass 3 for 13 or 30).
  int64_t Rows() {
    std::string csv = Ok({"sql", "--project", "backfill-q", "--format", "csv",
                          "SELECT count(*) AS n FROM telemetry_live.main_v1"})
                          .out;
    EXPECT_EQ(csv.rfind("n\n", 0), 0u) << csv;
    return csv.size() > 2 ? std::stoll(csv.substr(2)) : -1;
  }
};

TEST_F(SinkCliTest, ReportTableWithErrorOutputExitsZero) {
  RunResult r = Ok(
      {"sink", "--input", dir_ / "in", "--project", "backfill-q", "--error-output", dir_ / "err"});
  EXPECT_TRUE(Has(
      r.out,
      "table                                 date        read  written  errored  skipped (filter)\n"
      "------------------------------------  ----------  ----  -------  -------  ----------------\n"
      "(unrouted)                            NULL        1     0        1        0\n"
      "backfill-q.telemetry_live.main_v1     2020-03-17  3     3        0        0\n"
      "backfill-q.telemetry_live.unknown_v1  2020-03-17  1     0        1        0\n"
      "total                                             5     3        2        0\n"))
      << r.out;
  EXPECT_TRUE(Has(r.out, "Record errors (first 2 of 2):\n")) << r.out;
  EXPECT_TRUE(Has(r.out,
                  "3 written (1 append(s)), 2 errored, 0 skipped by filters. read = written + "
                  "errored + skipped holds."))
      << r.out;
  EXPECT_TRUE(Has(r.out, "Error output: 2 record(s) in 2 file(s):")) << r.out;
  EXPECT_TRUE(
      Has(r.out, "part-0.ndjson:4: [Route] table not found: backfill-q.telemetry_live.unknown_v1"))
      << r.out;
  EXPECT_TRUE(Has(r.out, "part-0.ndjson:5: [ParsePubsubMessage] not valid JSON")) << r.out;
  EXPECT_EQ(r.err, "");  // progress lines only on a terminal
  EXPECT_TRUE(fs::exists(fs::path(dir_ / "err/error/2020-03-17/10")));
  EXPECT_EQ(Rows(), 3);
}

TEST_F(SinkCliTest, JsonReportAndRecordErrorsWithoutErrorOutputExitOne) {
  RunResult r = Run({"--format", "json", "sink", "--input", dir_ / "in/part-0.ndjson", "--project",
                     "backfill-q"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, "2 record(s) could not be written and no --error-output was given"))
      << r.err;
  Json j = Json::parse(r.out);  // one document
  EXPECT_EQ(j["totals"]["read"], 5);
  EXPECT_EQ(j["totals"]["written"], 3);
  EXPECT_EQ(j["totals"]["errored"], 2);
  EXPECT_EQ(j["balanced"], true);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["examples"].size(), 2u);
  EXPECT_EQ(j["examples"][0]["error_type"], "Route");
  EXPECT_EQ(j["items"][0]["table"], nullptr);
  EXPECT_EQ(j["files"][0]["records"], 5);
  EXPECT_EQ(Rows(), 3);  // the good records are written all the same
}

TEST_F(SinkCliTest, FiltersAndATruncatedGzipFile) {
  std::string in;
  for (int i = 0; i < 2000; ++i) in += Message("g" + std::to_string(i)) + "\n";
  std::string gz = testing::Gzip(in);
  testing::WriteFile(dir_ / "gz/cut.ndjson.gz", gz.substr(0, gz.size() * 2 / 3));
  RunResult r =
      Run({"--format", "json", "sink", "-i", dir_ / "gz/*.gz", "--project", "backfill-q",
           "--error-output", dir_ / "err", "--error-type", "SendRequest", "--threads", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, "1 input file(s) could not be read to the end")) << r.err;
  Json j = Json::parse(r.out);
  int64_t records = j["files"][0]["records"];
  EXPECT_GT(records, 100);
  EXPECT_TRUE(Has(j["files"][0]["problem"].get<std::string>(), "truncated gzip file"))
      << j["files"][0];
  EXPECT_EQ(j["totals"]["skipped"], records);  // no error_type attribute: filtered out
  EXPECT_EQ(j["totals"]["written"], 0);
  EXPECT_EQ(
      j["warnings"],
      Json::array({fmt::format(
          "filter `--error-type SendRequest` matched none of the {} record(s) read", records)}));
  EXPECT_EQ(j["filters"]["matches"],
            Json::parse(R"([{"filter":"--error-type SendRequest","matched":0}])"));

  // The file is in the project's ledger now: a second run skips it, unless --reload.
  RunResult again = Ok(
      {"sink", "-i", dir_ / "gz/*.gz", "--project", "backfill-q", "--error-output", dir_ / "err"});
  EXPECT_TRUE(
      Has(again.out,
          fmt::format("Skipped 1 input file(s) already loaded into backfill-q (--reload loads them "
                      "again):\n  {}: already loaded by run ",
                      (dir_ / "gz/cut.ndjson.gz"))))
      << again.out;
  EXPECT_EQ(Rows(), 0);
  RunResult table = Run({"sink", "-i", dir_ / "gz/*.gz", "--project", "backfill-q",
                         "--error-output", dir_ / "err", "--reload"});
  EXPECT_EQ(table.exit_code, 1);
  EXPECT_TRUE(Has(table.out, "Damaged input (1 file(s)):")) << table.out;
  EXPECT_TRUE(Has(table.out, "cut.ndjson.gz: truncated gzip file")) << table.out;
  EXPECT_EQ(Rows(), records);
}

// ingestion-sink's error output (raw lines) filtered by attribute, with a warning for a filter that
// matched nothing, in text and JSON.
TEST_F(SinkCliTest, RawLinesWhereFiltersAndWarnings) {
  std::string in;
  for (int i = 0; i < 4; ++i) {
    in +=
        fmt::format(
            R"({{"document_id":"r{}","document_namespace":"telemetry","document_type":"main",)"
            R"("document_version":"1","submission_timestamp":"2020-03-17T10:00:00Z","payload":"{}"}})",
            i, ingest::Base64Encode(R"({"n":1})")) +
        "\n";
  }
  testing::WriteFile(dir_ / "raw/output-0.ndjson", in);
  RunResult r =
      Ok({"sink", "-i", dir_ / "raw", "--project", "backfill-q", "--where", "document_type=main",
          "--where-not", "document_id=r0", "--where-not", "document_id=nothing"});
  EXPECT_TRUE(Has(r.out, "3 written (1 append(s)), 0 errored, 1 skipped by filters.")) << r.out;
  EXPECT_TRUE(Has(r.out, "Line shapes: 0 beam, 4 raw.\n")) << r.out;
  EXPECT_TRUE(Has(
      r.out,
      "Warning: filter `--where-not document_id=nothing` matched none of the 4 record(s) read\n"))
      << r.out;
  EXPECT_EQ(Rows(), 3);
  RunResult j = Ok({"--format", "json", "sink", "-i", dir_ / "raw", "--project", "backfill-q",
                    "--reload", "--error-type", "SinkError"});
  Json doc = Json::parse(j.out);
  EXPECT_EQ(doc["line_shapes"], Json::parse(R"({"beam":0,"raw":4})"));
  EXPECT_EQ(doc["totals"]["skipped"], 4);
  ASSERT_EQ(doc["warnings"].size(), 1u);
  EXPECT_EQ(
      doc["warnings"][0],
      "filter `--error-type SinkError` matched none of the 4 record(s) read (4 of them are raw "
      "lines, which ingestion-sink writes without error attributes: filter with --where instead)");
  RunResult bad =
      Run({"sink", "-i", dir_ / "raw", "--project", "backfill-q", "--where", "document_type"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(Has(bad.err, "--where 'document_type': expected ATTR=VALUE or ATTR~REGEX"))
      << bad.err;
}

TEST_F(SinkCliTest, UsageAndFailures) {
  RunResult bad_regex =
      Run({"sink", "-i", dir_ / "in", "--project", "backfill-q", "--exclude-error-message", "(["});
  EXPECT_EQ(bad_regex.exit_code, 2) << bad_regex.err;
  EXPECT_TRUE(Has(bad_regex.err, "invalid regular expression")) << bad_regex.err;
  EXPECT_EQ(Run({"sink", "-i", dir_ / "in"}).exit_code, 2);
  EXPECT_EQ(Run({"sink", "-i", dir_ / "in", "--project", "backfill-q", "--threads", "0"}).exit_code,
            2);
  RunResult missing = Run({"sink", "-i", dir_ / "nowhere", "--project", "backfill-q"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(Has(missing.err, "does not exist")) << missing.err;
  RunResult no_project = Run({"sink", "-i", dir_ / "in", "--project", "nope"});
  EXPECT_EQ(no_project.exit_code, 1);
  EXPECT_TRUE(Has(no_project.err, "project nope does not exist")) << no_project.err;
  EXPECT_EQ(Rows(), 0);
}

}  // namespace
}  // namespace backfill
