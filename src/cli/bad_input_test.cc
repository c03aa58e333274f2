// The bad-input catalog, through the real binary: one case per class of damaged or hostile
// input. For the sink each case checks promise 1 (read = written + errored + skipped, from
// `backfill sink --format json`; every errored record is in error output with a reason) and
// that the warehouse changed by exactly the good records (both tables' rows, `show` and `ls`
// compared before and after). Files that are refused (a `.bq` with an unknown type, a plan
// with a step that does not exist, a date range that ends before it starts) are named with
// their line, and nothing changes.
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ingest/payload.h"
#include "testing/cli_fixture.h"
#include "testing/testing.h"

namespace backfill {
namespace {

using testing::Gzip;
using testing::Has;
using testing::RunBackfill;
using testing::RunResult;
using Json = nlohmann::json;
namespace fs = std::filesystem;

// One PubsubMessage line routed to telemetry_live.main_v1 (the payload given as bytes).
std::string Message(const std::string& id, const std::string& payload) {
  return fmt::format(
      R"({{"attributeMap":{{"document_namespace":"telemetry","document_type":"main","document_version":"1",)"
      R"("document_id":"{}","submission_timestamp":"2020-03-17T10:00:00Z"}},"payload":"{}"}})",
      id, ingest::Base64Encode(payload));
}

// Every line of every error-output file under `dir` (gzip NDJSON, members concatenated).
std::vector<Json> ErrorOutput(const fs::path& dir) {
  std::vector<Json> lines;
  if (!fs::exists(dir)) return lines;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    gzFile f = gzopen(e.path().c_str(), "rb");
    EXPECT_NE(f, nullptr) << e.path();
    if (f == nullptr) continue;
    std::string text;
    char buf[65536];
    int n;
    while ((n = gzread(f, buf, sizeof(buf))) > 0) text.append(buf, n);
    gzclose(f);
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      if (end > start) lines.push_back(Json::parse(text.substr(start, end - start)));
      start = end + 1;
    }
  }
  return lines;
}

class BadInputTest : public testing::CliFixture {
 protected:
  void SetUp() override {
    UseWarehouse("alice", "2020-03-19T10:00:00Z");
    Ok({"init"});
    Ok({"project", "create", "q"});
    testing::WriteFile(dir_ / "schemas/telemetry/main/main.1.bq", R"([
      {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
      {"name":"document_id","type":"STRING","mode":"NULLABLE"},
      {"name":"n","type":"INT64","mode":"NULLABLE"},
      {"name":"s","type":"STRING","mode":"NULLABLE"},
      {"name":"additional_properties","type":"STRING","mode":"NULLABLE"}])");
    Ok({"schemas", "deploy", dir_ / "schemas", "--project", "q"});
    // Rows that were there before, which no bad input may touch.
    testing::WriteFile(dir_ / "before/part-0.ndjson", Message("old-1", R"({"n":1})") + "\n" +
                                                          Message("old-2", R"({"n":2})") + "\n");
    Json j = Sink(dir_ / "before", 0);
    ASSERT_EQ(j["totals"]["written"], 2) << j.dump();
    before_ = State();
  }

  // Runs the sink over `input` into q with its own error-output prefix, expects `exit_code`,
  // and checks the balance of the report's totals, per item and against the file counts.
  Json Sink(const std::string& input, int exit_code) {
    error_output_ = dir_ / fmt::format("err-{}", ++runs_);
    RunResult r = Run({"--format", "json", "sink", "-i", input, "--project", "q", "--error-output",
                       error_output_});
    EXPECT_EQ(r.exit_code, exit_code) << r.out << r.err;
    Json j = Json::parse(r.out.empty() ? "{}" : r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    if (j.is_discarded() || !j.contains("totals")) return Json::object();
    const Json& t = j["totals"];
    EXPECT_EQ(t["read"].get<int64_t>(), t["written"].get<int64_t>() + t["errored"].get<int64_t>() +
                                            t["skipped"].get<int64_t>())
        << j.dump(2);
    EXPECT_EQ(j["balanced"], true);
    int64_t file_records = 0;
    for (const auto& f : j["files"]) file_records += f["records"].get<int64_t>();
    EXPECT_EQ(file_records, t["read"].get<int64_t>()) << j.dump(2);
    for (const auto& item : j["items"]) {
      EXPECT_EQ(item["read"].get<int64_t>(), item["written"].get<int64_t>() +
                                                 item["errored"].get<int64_t>() +
                                                 item["skipped"].get<int64_t>());
    }
    // Every errored record is in error output, with the reason.
    std::vector<Json> errors = ErrorOutput(error_output_);
    EXPECT_EQ(static_cast<int64_t>(errors.size()), t["errored"].get<int64_t>());
    EXPECT_EQ(j["error_lines_written"], t["errored"]);
    for (const Json& e : errors) {
      EXPECT_FALSE(e["attributeMap"].value("error_message", "").empty()) << e.dump();
      EXPECT_FALSE(e["attributeMap"].value("error_type", "").empty()) << e.dump();
    }
    return j;
  }

  // The error messages of the last run's error output, sorted.
  std::vector<std::string> ErrorMessages() {
    std::vector<std::string> out;
    for (const Json& e : ErrorOutput(error_output_))
      out.push_back(e["attributeMap"].value("error_message", ""));
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string Csv(const std::string& sql) {
    return Ok({"sql", "--project", "q", "--format", "csv", sql}).out;
  }

  struct WarehouseState {
    std::string ls, show_live, show_stable, live, stable;
    bool operator==(const WarehouseState&) const = default;
  };
  WarehouseState State() {
    return {Ok({"--format", "json", "ls", "q"}).out, Ok({"show", "q.telemetry_live.main_v1"}).out,
            Ok({"show", "q.telemetry_stable.main_v1"}).out, LiveRows(),
            Csv("SELECT * FROM telemetry_stable.main_v1 ORDER BY ALL")};
  }
  std::string LiveRows() {
    return Csv(
        "SELECT document_id, n, s, additional_properties FROM telemetry_live.main_v1 ORDER BY ALL");
  }
  // The live rows: those from before plus `added` (CSV lines without the header).
  std::string LiveRowsWith(std::vector<std::string> added) {
    added.push_back("old-1,1,,{}");
    added.push_back("old-2,2,,{}");
    std::sort(added.begin(), added.end());
    std::string out = "document_id,n,s,additional_properties\n";
    for (const auto& row : added) out += row + "\n";
    return out;
  }
  // Nothing but the live rows changed, and those are exactly the rows from before plus `added`.
  void ExpectOnlyAdded(const std::vector<std::string>& added) {
    WarehouseState now = State();
    EXPECT_EQ(now.live, LiveRowsWith(added));
    EXPECT_EQ(now.ls, before_.ls);
    EXPECT_EQ(now.show_stable, before_.show_stable);
    EXPECT_EQ(now.stable, before_.stable);
  }
  void ExpectUnchanged() {
    WarehouseState now = State();
    EXPECT_EQ(now.live, before_.live);
    EXPECT_TRUE(now == before_) << "before:\n"
                                << before_.show_live << "\nafter:\n"
                                << now.show_live;
  }

  WarehouseState before_;
  std::string error_output_;
  int runs_ = 0;
};

TEST_F(BadInputTest, TruncatedGzipFile) {
  std::string in;
  for (int i = 0; i < 3000; ++i)
    in += Message(fmt::format("t{:04}", i), fmt::format(R"({{"n":{}}})", i)) + "\n";
  std::string gz = Gzip(in);
  testing::WriteFile(dir_ / "in/cut.ndjson.gz", gz.substr(0, gz.size() / 2));
  Json j = Sink(dir_ / "in", 1);  // a damaged file fails the run; what was read is accounted for
  ASSERT_EQ(j["files"].size(), 1u);
  EXPECT_TRUE(Has(j["files"][0]["problem"].get<std::string>(), "truncated gzip file"))
      << j["files"][0];
  int64_t read = j["totals"]["read"];
  EXPECT_GT(read, 100);
  EXPECT_LT(read, 3000);
  // The last, cut line (if it was read at all) is an error; every whole line is written.
  EXPECT_GE(j["totals"]["written"].get<int64_t>(), read - 1);
  EXPECT_EQ(Csv("SELECT count(*) FROM telemetry_live.main_v1 WHERE document_id LIKE 't%'"),
            fmt::format("count_star()\n{}\n", j["totals"]["written"].get<int64_t>()));
  WarehouseState now = State();
  EXPECT_EQ(now.ls, before_.ls);
  EXPECT_EQ(now.stable, before_.stable);
}

TEST_F(BadInputTest, GzipMemberBoundaryInsideALine) {
  std::string in = Message("m1", R"({"n":10})") + "\n" + Message("m2", R"({"n":20})") + "\n" +
                   Message("m3", R"({"n":30})") + "\n";
  size_t cut = in.find("m2") + 1;  // inside the second line
  testing::WriteFile(dir_ / "in/members.ndjson.gz", Gzip(in.substr(0, cut)) + Gzip(in.substr(cut)));
  Json j = Sink(dir_ / "in", 0);
  EXPECT_EQ(j["totals"]["read"], 3);
  EXPECT_EQ(j["totals"]["written"], 3);
  EXPECT_EQ(j["files"][0]["problem"], nullptr);
  ExpectOnlyAdded({"m1,10,,{}", "m2,20,,{}", "m3,30,,{}"});
}

TEST_F(BadInputTest, InvalidBase64) {
  std::string bad = Message("b1", R"({"n":1})");
  bad.replace(bad.find(R"("payload":")") + 11, 1, "%");
  std::string truncated = Message("b2", R"({"n":2})");
  // "eyJuIjoyfQ==" -> "eyJuIjoyf": a last unit of one character.
  truncated.replace(truncated.rfind('"') - 3, 3, "");
  testing::WriteFile(dir_ / "in/b.ndjson",
                     bad + "\n" + truncated + "\n" + Message("ok", R"({"n":5})") + "\n");
  Json j = Sink(dir_ / "in", 0);
  EXPECT_EQ(j["totals"]["read"], 3);
  EXPECT_EQ(j["totals"]["errored"], 2);
  for (const auto& m : ErrorMessages()) EXPECT_TRUE(Has(m, "invalid base64 at byte")) << m;
  ExpectOnlyAdded({"ok,5,,{}"});
}

TEST_F(BadInputTest, InvalidUtf8) {
  std::string in_line = Message("u1", R"({"n":1})");
  in_line.insert(in_line.find("telemetry") + 3, "\xff\xfe");          // inside an attribute value
  std::string in_payload = Message("u2", "{\"s\":\"caf\xc3\x28\"}");  // a broken 2-byte sequence
  std::string overlong = Message("u3", "{\"s\":\"\xc0\xaf\"}");
  testing::WriteFile(dir_ / "in/u.ndjson", in_line + "\n" + in_payload + "\n" + overlong + "\n" +
                                               Message("ok", "{\"s\":\"caf\xc3\xa9\"}") + "\n");
  Json j = Sink(dir_ / "in", 0);
  EXPECT_EQ(j["totals"]["read"], 4);
  EXPECT_EQ(j["totals"]["errored"], 3);
  for (const auto& m : ErrorMessages()) EXPECT_TRUE(Has(m, "UTF-8")) << m;
  ExpectOnlyAdded({"ok,,caf\xc3\xa9,{}"});
}

TEST_F(BadInputTest, JsonNestedTenThousandDeep) {
  std::string deep = std::string(10000, '[') + std::string(10000, ']');
  std::string deep_objects;
  for (int i = 0; i < 10000; ++i) deep_objects += "{\"a\":";
  deep_objects += "1" + std::string(10000, '}');
  std::string line = Message("d3", R"({"n":3})");
  line.insert(line.size() - 1, ",\"x\":" + deep);  // the line itself is too deep
  testing::WriteFile(dir_ / "in/d.ndjson", Message("d1", R"({"s":)" + deep + "}") + "\n" +
                                               Message("d2", deep_objects) + "\n" + line + "\n" +
                                               Message("ok", R"({"s":[[[["fine"]]]]})") + "\n");
  Json j = Sink(dir_ / "in", 0);
  EXPECT_EQ(j["totals"]["read"], 4);
  EXPECT_EQ(j["totals"]["errored"], 3);
  for (const auto& m : ErrorMessages()) EXPECT_TRUE(Has(m, "not valid JSON")) << m;
  ExpectOnlyAdded({R"(ok,,"[[[[""fine""]]]]",{})"});
}

TEST_F(BadInputTest, TwentyMegabyteRecord) {
  std::string big = R"({"s":")" + std::string(20 << 20, 'x') + R"("})";
  // As it is (a 27 MB line) and gzip-compressed (20 KB that inflate to 20 MB).
  testing::WriteFile(dir_ / "in/big.ndjson", Message("big", big) + "\n" +
                                                 Message("big-gz", Gzip(big)) + "\n" +
                                                 Message("ok", R"({"n":7})") + "\n");
  Json j = Sink(dir_ / "in", 0);
  EXPECT_EQ(j["totals"]["read"], 3);
  EXPECT_EQ(j["totals"]["errored"], 2);
  std::vector<std::string> messages = ErrorMessages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(Has(messages[0], "record larger than 10485760 bytes")) << messages[0];
  EXPECT_TRUE(Has(messages[1], "record larger than 10485760 bytes")) << messages[1];
  ExpectOnlyAdded({"ok,7,,{}"});
}

TEST_F(BadInputTest, DuplicateKeys) {
  // In the payload the last value wins for the column (Jackson keeps the last); in the
  // attributes too.
  std::string dup_attr = Message("first", R"({"n":1})");
  const std::string first = R"("document_id":"first")";
  dup_attr.replace(dup_attr.find(first), first.size(), first + R"(,"document_id":"last")");
  testing::WriteFile(dir_ / "in/k.ndjson",
                     Message("dup", R"({"n":1,"s":"a","n":2,"s":"b"})") + "\n" + dup_attr + "\n");
  Json j = Sink(dir_ / "in", 0);
  EXPECT_EQ(j["totals"]["read"], 2);
  EXPECT_EQ(j["totals"]["written"], 2);
  ExpectOnlyAdded({"dup,2,b,{}", "last,1,,{}"});
}

TEST_F(BadInputTest, NumbersOutOfInt64Range) {
  // 2^63 is a JSON number that fits no INT64 column: it is kept in additional_properties.
  // Beyond 64 bits simdjson refuses the document: the record goes to error output.
  testing::WriteFile(dir_ / "in/n.ndjson",
                     Message("u64", R"({"n":9223372036854775808})") + "\n" +
                         Message("big", R"({"n":99999999999999999999999})") + "\n" +
                         Message("neg", R"({"n":-9223372036854775809})") + "\n" +
                         Message("min", R"({"n":-9223372036854775808})") + "\n");
  Json j = Sink(dir_ / "in", 0);
  EXPECT_EQ(j["totals"]["read"], 4);
  EXPECT_EQ(j["totals"]["errored"], 2);
  for (const auto& m : ErrorMessages()) EXPECT_TRUE(Has(m, "payload is not valid JSON")) << m;
  ExpectOnlyAdded({R"(u64,,,"{""n"":9223372036854775808}")", "min,-9223372036854775808,,{}"});
}

TEST_F(BadInputTest, NanAndInfinity) {
  testing::WriteFile(dir_ / "in/f.ndjson", Message("nan", R"({"n":NaN})") + "\n" +
                                               Message("inf", R"({"n":Infinity})") + "\n" +
                                               Message("minf", R"({"n":-Infinity})") + "\n" +
                                               Message("huge", R"({"n":1e400})") + "\n" +
                                               Message("ok", R"({"n":1e2})") + "\n");
  Json j = Sink(dir_ / "in", 0);
  EXPECT_EQ(j["totals"]["read"], 5);
  EXPECT_EQ(j["totals"]["errored"], 4);
  for (const auto& m : ErrorMessages()) EXPECT_TRUE(Has(m, "payload is not valid JSON")) << m;
  // 1e2 is a double: it does not fit the INT64 column and is kept in additional_properties.
  ExpectOnlyAdded({R"(ok,,,"{""n"":100.0}")"});
}

TEST_F(BadInputTest, EmptyFile) {
  testing::WriteFile(dir_ / "in/empty.ndjson", "");
  testing::WriteFile(dir_ / "in/empty.ndjson.gz", "");               // not even a gzip header
  testing::WriteFile(dir_ / "in/empty-member.ndjson.gz", Gzip(""));  // a gzip of nothing
  Json j = Sink(dir_ / "in", 0);
  EXPECT_EQ(j["totals"]["read"], 0);
  EXPECT_EQ(j["files"].size(), 3u);
  for (const auto& f : j["files"]) EXPECT_EQ(f["problem"], nullptr) << f;
  EXPECT_TRUE(ErrorOutput(error_output_).empty());
  ExpectUnchanged();
}

TEST_F(BadInputTest, FileOfOnlyNewlines) {
  testing::WriteFile(dir_ / "in/lf.ndjson", std::string(1000, '\n'));
  testing::WriteFile(dir_ / "in/crlf.ndjson", "\r\n\r\n\r\n");
  Json j = Sink(dir_ / "in", 0);
  EXPECT_EQ(j["totals"]["read"], 0);  // blank lines are no records
  EXPECT_TRUE(ErrorOutput(error_output_).empty());
  ExpectUnchanged();
}

TEST_F(BadInputTest, CrlfLineEnds) {
  testing::WriteFile(dir_ / "in/w.ndjson", Message("c1", R"({"n":1})") + "\r\n" +
                                               Message("c2", R"({"s":"x"})") + "\r\n" +
                                               Message("c3", R"({"n":3})"));  // no line end at all
  testing::WriteFile(dir_ / "in/w.ndjson.gz", Gzip(Message("c4", R"({"n":4})") + "\r\n"));
  Json j = Sink(dir_ / "in", 0);
  EXPECT_EQ(j["totals"]["read"], 4);
  EXPECT_EQ(j["totals"]["written"], 4);
  ExpectOnlyAdded({"c1,1,,{}", "c2,,x,{}", "c3,3,,{}", "c4,4,,{}"});
}

TEST_F(BadInputTest, SchemaWithAnUnknownTypeIsRefusedNamingFileAndLine) {
  std::string bq =
      "[\n  {\"name\": \"a\", \"type\": \"STRING\"},\n  {\"name\": \"r\", \"type\": \"RECORD\", "
      "\"fields\": [\n"
      "    {\"name\": \"b\",\n     \"type\": \"INTEGR\"}]}\n]\n";
  testing::WriteFile(dir_ / "bad/telemetry/other/other.1.bq", bq);
  RunResult deploy = Run({"schemas", "deploy", dir_ / "bad", "--project", "q"});
  EXPECT_EQ(deploy.exit_code, 1);
  EXPECT_TRUE(Has(deploy.out, "telemetry/other/other.1.bq:4: r.b: unknown type 'INTEGR'"))
      << deploy.out << deploy.err;
  testing::WriteFile(dir_ / "other.bq", bq);
  RunResult create =
      Run({"table", "create", "q.telemetry_live.other_v1", "--schema", dir_ / "other.bq"});
  EXPECT_EQ(create.exit_code, 1);  // a clear failure, not a crash (which is also "not 0")
  EXPECT_TRUE(Has(create.err, dir_ / "other.bq" + ":4: r.b: unknown type 'INTEGR'")) << create.err;
  ExpectUnchanged();
}

TEST_F(BadInputTest, PlanWithAStepThatDoesNotExistIsRefusedNamingFileAndLine) {
  testing::WriteFile(
      dir_ / "p.toml",
      "name = \"n\"\nreason = \"r\"\nauthor = \"alice\"\n\n[[step]]\nkind = \"copy-deduplicate\"\n"
      "project = \"q\"\ndates = \"2020-03-17\"\n\n[[step]]\nkind = \"undelete\"\n");
  RunResult r = Run({"plan", dir_ / "p.toml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(Has(r.err, dir_ / "p.toml" + ":10: step 2 has kind 'undelete', which does not exist"))
      << r.err;
  ExpectUnchanged();
}

TEST_F(BadInputTest, DateRangeEndingBeforeItStartsIsRefused) {
  testing::WriteFile(dir_ / "sink/error/2020-03-17/10/output-0.ndjson",
                     Message("x", R"({"n":1})") + "\n");
  RunResult r = Run({"stage", "--from", dir_ / "sink", "--to", dir_ / "staged", "--dates",
                     "2020-03-18..2020-03-16"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Has(r.err, "date range '2020-03-18..2020-03-16' ends before it starts")) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "staged"));
  RunResult dedup =
      Run({"copy-deduplicate", "--project", "q", "--dates", "2020-03-18..2020-03-16"});
  EXPECT_EQ(dedup.exit_code, 2);
  EXPECT_TRUE(Has(dedup.err, "ends before it starts")) << dedup.err;
  ExpectUnchanged();
}

}  // namespace
}  // namespace backfill
