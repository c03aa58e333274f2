// The sink on a real warehouse, with real gzip files: where every input record ends (a row, an
// error-output line with its reason, or skipped by a filter), damaged input files, transient and
// permanent infrastructure failures (promise 6), and thread-count independence.
#include "ingest/sink.h"

#include <zlib.h>

#include <filesystem>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ingest/payload.h"
#include "ingest/pubsub.h"
#include "testing/testing.h"
#include "testing/warehouse_testing.h"
#include "warehouse/schema_deploy.h"

namespace backfill::ingest {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;
using testing::Gzip;

constexpr const char* kMainSchema = R"([
  {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
  {"name":"document_id","type":"STRING","mode":"NULLABLE"},
  {"name":"client_id","type":"STRING","mode":"NULLABLE"},
  {"name":"day","type":"DATE","mode":"NULLABLE"},
  {"name":"n","type":"INT64","mode":"NULLABLE"},
  {"name":"tags","type":"STRING","mode":"REPEATED"},
  {"name":"additional_properties","type":"STRING","mode":"NULLABLE"}
])";

std::string Line(const std::vector<std::pair<std::string, std::string>>& attrs,
                 const std::string& payload) {
  PubsubMessage m;
  m.attributes = attrs;
  m.payload = payload;
  return SerializePubsubLine(m);
}

// A good telemetry/main/v1 message.
std::string Good(const std::string& id, int hour = 10, const std::string& day = "2020-03-17",
                 int n = 1, const std::string& type = "main") {
  return Line(
      {{"document_namespace", "telemetry"},
       {"document_type", type},
       {"document_version", "1"},
       {"document_id", id},
       {"submission_timestamp", fmt::format("{}T{:02d}:00:00.000001Z", day, hour)}},
      fmt::format(R"({{"clientId":"c-{}","n":{},"tags":["a","b"],"extra":{{"x":1}}}})", id, n));
}

std::vector<json> ReadErrorOutput(const fs::path& dir) {
  std::vector<json> lines;
  if (!fs::exists(dir)) return lines;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string text;
    Status s = Gunzip(testing::ReadFile(e.path()), &text, size_t(1) << 30);
    EXPECT_TRUE(s.ok()) << e.path() << ": " << s.ToString();
    size_t start = 0;
    while (start < text.size()) {
      size_t nl = text.find('\n', start);
      lines.push_back(json::parse(text.substr(start, nl - start)));
      start = nl + 1;
    }
  }
  return lines;
}

std::vector<fs::path> FilesUnder(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  return out;
}

// Fails lookups as told, then asks the warehouse.
class FlakyLookup : public TableLookup {
 public:
  FlakyLookup(Warehouse& w, std::function<bool(int call)> fail)
      : real_(w), fail_(std::move(fail)) {}
  Result<SinkTable> Lookup(const TableName& name) override {
    int call = ++calls;
    if (fail_(call)) return Unavailable("table metadata unavailable for " + name.ToString());
    return real_.Lookup(name);
  }
  int calls = 0;

 private:
  WarehouseTableLookup real_;
  std::function<bool(int)> fail_;
};

class SinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = testing::CreateTestWarehouse(dir_ / "wh", clock_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    w_ = std::move(w).value();
    Deploy("q");
  }

  void Deploy(const std::string& project) {
    ASSERT_TRUE(w_->CreateProject(project).ok());
    testing::WriteFile(dir_ / "schemas/telemetry/main/main.1.bq", kMainSchema);
    testing::WriteFile(dir_ / "schemas/telemetry/event/event.1.bq", kMainSchema);
    auto r = DeploySchemas(*w_, dir_ / "schemas", project);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  SinkOptions Options(std::vector<std::string> inputs, const std::string& project = "q") {
    SinkOptions o;
    o.inputs = std::move(inputs);
    o.project = project;
    o.error_output = dir_ / "errors";
    o.run_id = "test";
    o.retry.sleep = [this](std::chrono::milliseconds d) {
      std::lock_guard<std::mutex> lock(sleeps_mu_);  // workers retry in parallel
      sleeps_.push_back(d);
    };
    return o;
  }

  int64_t Count(const std::string& sql) {
    auto r = w_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->GetInt64(0, 0) : -1;
  }

  static void ExpectBalanced(const SinkReport& r) {
    EXPECT_TRUE(r.totals.Balanced());
    for (const auto& i : r.items) EXPECT_TRUE(i.counts.Balanced()) << i.table;
  }

  testing::TempDir dir_;
  FixedClock clock_{*ParseTimestamp("2020-03-19T10:00:00Z")};
  std::unique_ptr<Warehouse> w_;
  std::mutex sleeps_mu_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

TEST_F(SinkTest, GoodMessagesLandInTheirLiveTablesByDay) {
  std::string in;
  for (int i = 0; i < 10; ++i)
    in += Good("m" + std::to_string(i), i, i < 6 ? "2020-03-17" : "2020-03-18") + "\n";
  for (int i = 0; i < 3; ++i)
    in += Good("e" + std::to_string(i), 1, "2020-03-17", 1, "event") + "\n";
  testing::WriteFile(dir_ / "in/a.ndjson", in);
  auto r = Sink(*w_, Options({dir_ / "in/a.ndjson"}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->totals.read, 13);
  EXPECT_EQ(r->totals.written, 13);
  EXPECT_EQ(r->totals.errored, 0);
  ASSERT_EQ(r->items.size(), 3u);
  EXPECT_EQ(r->items[0].table, "q.telemetry_live.event_v1");
  EXPECT_EQ(r->items[1].table, "q.telemetry_live.main_v1");
  EXPECT_EQ(FormatDate(*r->items[1].date), "2020-03-17");
  EXPECT_EQ(r->items[1].counts.written, 6);
  EXPECT_EQ(r->items[2].counts.written, 4);
  EXPECT_EQ(r->appends, 2);  // one Append per table, in one transaction
  EXPECT_TRUE(r->error_files.empty());
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1"), 10);
  EXPECT_EQ(
      Count("SELECT count(*) FROM q.telemetry_live.main_v1 WHERE client_id = 'c-m3' AND n = 1 AND "
            "len(tags) = 2 AND additional_properties = '{\"extra\":{\"x\":1}}' AND "
            "submission_timestamp = TIMESTAMPTZ '2020-03-17 03:00:00.000001+00'"),
      1);
  // Two segments (one per day) for main, audited as one append.
  auto audit = w_->Audit("q");
  ASSERT_TRUE(audit.ok());
  int appends = 0;
  for (const auto& e : *audit) appends += e.action == "append";
  EXPECT_EQ(appends, 2);
}

TEST_F(SinkTest, BadRecordsGoToErrorOutputWithTheirReasons) {
  std::vector<std::pair<std::string, std::string>> base = {
      {"document_namespace", "telemetry"},
      {"document_type", "main"},
      {"document_version", "1"},
      {"document_id", "x"},
      {"submission_timestamp", "2020-03-17T10:11:12Z"}};
  auto without = [&](const std::string& key) {
    auto a = base;
    std::erase_if(a, [&](const auto& kv) { return kv.first == key; });
    return a;
  };
  auto with = [&](const std::string& key, const std::string& value) {
    auto a = base;
    for (auto& kv : a) {
      if (kv.first == key) kv.second = value;
    }
    return a;
  };
  std::string big = R"({"clientId":")" + std::string(11 << 20, 'x') + R"("})";
  std::string gz = Gzip(R"({"clientId":"zipped"})");
  std::string in;
  in += Good("ok1") + "\n";
  in += R"({"attributeMap":{"document_id":"b64"},"payload":"not*base64"})"
        "\n";                                              // invalid base64
  in += Line(base, gz.substr(0, gz.size() / 2)) + "\n";    // truncated gzip payload
  in += Line(base, "[1,2,3]") + "\n";                      // not an object
  in += Line(base, "{\"clientId\":") + "\n";               // invalid JSON
  in += Line(base, big) + "\n";                            // > 10 MB
  in += Line(without("document_id"), "{}") + "\n";         // missing document_id
  in += Line(without("document_namespace"), "{}") + "\n";  // missing namespace
  in += Line(with("document_type", "nope"), "{}") + "\n";  // unknown table
  in += Line(base, R"({"day":"2020-02-30"})") + "\n";      // value the column cannot take
  in += "this is not json\n";                              // unparsable line
  in += Line(base, gz) + "\n";                             // a good gzip payload
  in += "\n";                                              // blank: not a record
  in += Good("ok2") + "\n";
  testing::WriteFile(dir_ / "in/bad.ndjson", in);
  auto r = Sink(*w_, Options({dir_ / "in/bad.ndjson"}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectBalanced(*r);
  EXPECT_EQ(r->totals.read, 13);
  EXPECT_EQ(r->totals.written, 3);
  EXPECT_EQ(r->totals.errored, 10);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1 WHERE client_id = 'zipped'"), 1);

  std::vector<json> errors = ReadErrorOutput(dir_ / "errors");
  ASSERT_EQ(errors.size(), 10u);
  std::multiset<std::string> reasons;
  for (const auto& e : errors) {
    const json& a = e["attributeMap"];
    ASSERT_TRUE(a.contains("error_type")) << e.dump().substr(0, 300);
    ASSERT_TRUE(a.contains("error_message"));
    ASSERT_TRUE(a.contains("exception_class"));
    ASSERT_TRUE(a.contains("stack_trace"));
    reasons.insert(a["error_type"].get<std::string>() + ": " +
                   a["error_message"].get<std::string>());
  }
  auto has = [&](const std::string& needle) {
    for (const auto& r : reasons) {
      if (r.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("ParsePubsubMessage: payload: invalid base64 at byte 3"))
      << ::testing::PrintToString(reasons);
  EXPECT_TRUE(has("truncated gzip")) << ::testing::PrintToString(reasons);
  EXPECT_TRUE(has("not a JSON object")) << ::testing::PrintToString(reasons);
  EXPECT_TRUE(has("larger than 10485760")) << ::testing::PrintToString(reasons);
  EXPECT_TRUE(has("Route: missing attribute document_id"));
  EXPECT_TRUE(has("Route: missing attribute document_namespace"));
  EXPECT_TRUE(has("Route: table not found: q.telemetry_live.nope_v1"));
  EXPECT_TRUE(has("Write: column 'day' (DATE): cannot read '2020-02-30' as a date"))
      << ::testing::PrintToString(reasons);
  EXPECT_TRUE(has("ParsePubsubMessage: not valid JSON")) << ::testing::PrintToString(reasons);
  // Routed errors are filed by submission hour, under one file per run; the raw line keeps its
  // bytes.
  auto files = r->error_files;
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0], (dir_ / "errors/error/2020-03-17/10/sink-test.ndjson.gz"));
  EXPECT_EQ(files[1], (dir_ / "errors/error/NULL/NULL/sink-test.ndjson.gz"));
  bool raw_kept = false, original_kept = false;
  for (const auto& e : errors) {
    std::string payload;
    ASSERT_TRUE(Base64Decode(e["payload"].get<std::string>(), &payload).ok());
    raw_kept |= payload == "this is not json";
    original_kept |= payload == "[1,2,3]" && e["attributeMap"]["document_id"] == "x";
  }
  EXPECT_TRUE(raw_kept);
  EXPECT_TRUE(original_kept);
  EXPECT_EQ(r->examples.size(), 10u);
  EXPECT_EQ(r->examples[0].line, 2);
}

TEST_F(SinkTest, WithoutErrorOutputErrorsAreCountedAndListed) {
  testing::WriteFile(dir_ / "in/a.ndjson", Good("a") + "\nbroken\n" + Good("b") + "\n");
  SinkOptions o = Options({dir_ / "in/a.ndjson"});
  o.error_output.clear();
  auto r = Sink(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->totals.errored, 1);
  EXPECT_EQ(r->totals.written, 2);
  ASSERT_EQ(r->examples.size(), 1u);
  EXPECT_EQ(r->examples[0].line, 2);
  EXPECT_EQ(r->examples[0].error_type, "ParsePubsubMessage");
  EXPECT_TRUE(FilesUnder(dir_ / "errors").empty());
}

TEST_F(SinkTest, GzipInputsMultiMemberAndDamagedFilesAreReadUpToTheDamage) {
  std::string part1, part2, many;
  for (int i = 0; i < 5; ++i) part1 += Good("a" + std::to_string(i)) + "\n";
  for (int i = 0; i < 5; ++i) part2 += Good("b" + std::to_string(i)) + "\n";
  testing::WriteFile(dir_ / "in/multi.ndjson.gz", Gzip(part1) + Gzip(part2));  // two members
  for (int i = 0; i < 3000; ++i) many += Good("t" + std::to_string(i), i % 24) + "\n";
  std::string gz = Gzip(many);
  testing::WriteFile(dir_ / "in/truncated.ndjson.gz", gz.substr(0, gz.size() / 2));
  std::string corrupt = Gzip(many);
  for (size_t k = corrupt.size() / 2; k < corrupt.size() / 2 + 64; ++k)
    corrupt[k] = static_cast<char>(k * 7);
  testing::WriteFile(dir_ / "in/corrupt.ndjson.gz", corrupt);
  testing::WriteFile(dir_ / "in/trailing.ndjson.gz", Gzip(part1) + "garbage after the member");
  auto r = Sink(*w_, Options({(dir_ / "in/*.gz")}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectBalanced(*r);
  ASSERT_EQ(r->files.size(), 4u);
  std::map<std::string, SinkFile> by_name;
  for (const auto& f : r->files) by_name[fs::path(f.path).filename().string()] = f;
  EXPECT_EQ(by_name["multi.ndjson.gz"].records, 10);
  EXPECT_EQ(by_name["multi.ndjson.gz"].problem, "");
  const SinkFile& t = by_name["truncated.ndjson.gz"];
  EXPECT_NE(t.problem.find("truncated gzip file"), std::string::npos) << t.problem;
  EXPECT_NE(t.problem.find("incomplete last line"), std::string::npos) << t.problem;
  EXPECT_GT(t.records, 100);
  EXPECT_LT(t.records, 3000);
  // Corrupt deflate data may inflate to garbage before zlib notices (at worst at the member's
  // CRC): those lines are records like any other (here: errors, with their bytes kept).
  const SinkFile& c = by_name["corrupt.ndjson.gz"];
  EXPECT_NE(c.problem.find("corrupt gzip data"), std::string::npos) << c.problem;
  EXPECT_GT(c.records, 100);
  const SinkFile& g = by_name["trailing.ndjson.gz"];
  EXPECT_EQ(g.records, 5);
  EXPECT_NE(g.problem.find("corrupt gzip data"), std::string::npos) << g.problem;
  EXPECT_EQ(r->FileProblems(), 3);
  // Every record read before the damage is in the table or in error output, and nothing else.
  EXPECT_EQ(r->totals.read, 10 + t.records + c.records + 5);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1"), r->totals.written);
  EXPECT_EQ(static_cast<int64_t>(ReadErrorOutput(dir_ / "errors").size()), r->totals.errored);
  EXPECT_GE(r->totals.written, 10 + t.records + 5);
  EXPECT_EQ(
      Count(fmt::format("SELECT count(*) FROM q.telemetry_live.main_v1 WHERE document_id = 't{}'",
                        t.records - 1)),
      2);
}

TEST_F(SinkTest, FiltersCountSkippedRecordsAndErrorAttributesAreStripped) {
  auto failed = [](const std::string& id, const std::string& type, const std::string& message) {
    return Line({{"document_namespace", "telemetry"},
                 {"document_type", "main"},
                 {"document_version", "1"},
                 {"document_id", id},
                 {"submission_timestamp", "2020-03-17T05:00:00Z"},
                 {"error_type", type},
                 {"error_message", message},
                 {"exception_class", "java.io.IOException"},
                 {"stack_trace", "at ..."}},
                R"({"clientId":"c"})");
  };
  std::string in =
      failed("1", "SendRequest",
             "com.google.api.client.http.HttpResponseException: 429 rate limit") +
      "\n" + failed("2", "SendRequest", "table lookup failed: 503") + "\n" +
      failed("3", "ParsePayload", "payload is not valid JSON") + "\n" +
      failed("4", "SendRequest", "com.google.api.client.http.HttpResponseException: 400 bad row") +
      "\n" + Good("5") + "\n";  // no error_type: filtered out by --error-type
  testing::WriteFile(dir_ / "in/err.ndjson", in);
  SinkOptions o = Options({dir_ / "in/err.ndjson"});
  o.error_types = {"SendRequest"};
  o.exclude_error_message = "400 bad row";
  auto r = Sink(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectBalanced(*r);
  EXPECT_EQ(r->totals.read, 5);
  EXPECT_EQ(r->totals.written, 2);
  EXPECT_EQ(r->totals.skipped, 3);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1 WHERE document_id IN ('1', '2')"),
            2);
  // The old error attributes did not reach the row (they would land in additional_properties
  // only if they were payload fields; as attributes they must simply be gone).
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1 WHERE additional_properties LIKE "
                  "'%error%'"),
            0);

  auto bad = Sink(*w_, [&] {
    SinkOptions b = Options({dir_ / "in/err.ndjson"});
    b.exclude_error_message = "([unclosed";
    return b;
  }());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SinkTest, ErrorOutputOfAMissingTableReplaysOnceTheTableExists) {
  std::string in;
  for (int i = 0; i < 4; ++i) {
    in += Line({{"document_namespace", "telemetry"},
                {"document_type", "crash"},
                {"document_version", "1"},
                {"document_id", "c" + std::to_string(i)},
                {"submission_timestamp", "2020-03-17T08:30:00Z"}},
               R"({"clientId":"x","n":2})") +
          "\n";
  }
  testing::WriteFile(dir_ / "in/crash.ndjson", in);
  auto first = Sink(*w_, Options({dir_ / "in/crash.ndjson"}));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->totals.errored, 4);
  ASSERT_EQ(first->error_files.size(), 1u);
  EXPECT_EQ(first->error_files[0], (dir_ / "errors/error/2020-03-17/08/sink-test.ndjson.gz"));

  testing::WriteFile(dir_ / "schemas/telemetry/crash/crash.1.bq", kMainSchema);
  ASSERT_TRUE(DeploySchemas(*w_, dir_ / "schemas", "q").ok());
  SinkOptions o = Options({(dir_ / "errors/error")});
  o.error_output = dir_ / "errors2";
  o.error_types = {"Route"};
  auto replay = Sink(*w_, o);
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  EXPECT_EQ(replay->totals.written, 4);
  EXPECT_EQ(replay->totals.errored, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.crash_v1 WHERE n = 2"), 4);
  EXPECT_TRUE(FilesUnder(dir_ / "errors2").empty());
}

TEST_F(SinkTest, TransientLookupFailuresAreRetriedAndNeverReachErrorOutput) {
  std::string in;
  for (int i = 0; i < 50; ++i)
    in += Good("m" + std::to_string(i)) + "\n" +
          Good("e" + std::to_string(i), 2, "2020-03-17", 1, "event") + "\n";
  testing::WriteFile(dir_ / "in/a.ndjson", in);
  // The first three lookups fail: the first table needs four attempts.
  {
    FlakyLookup lookup(*w_, [](int call) { return call <= 3; });
    SinkOptions o = Options({dir_ / "in/a.ndjson"});
    o.lookup = &lookup;
    auto r = Sink(*w_, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->totals.written, 100);
    EXPECT_EQ(r->totals.errored, 0);
    EXPECT_EQ(lookup.calls, 5);
    EXPECT_EQ(sleeps_, (std::vector<std::chrono::milliseconds>{50ms, 100ms, 200ms}));
  }
  // Every other lookup fails, with two worker threads.
  {
    sleeps_.clear();
    FlakyLookup lookup(*w_, [](int call) { return call % 2 == 1; });
    SinkOptions o = Options({dir_ / "in/a.ndjson"});
    o.lookup = &lookup;
    o.threads = 2;
    o.reload = true;  // the same file again
    auto r = Sink(*w_, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->totals.written, 100);
    EXPECT_EQ(r->totals.errored, 0);
    EXPECT_EQ(sleeps_.size(), 2u);
  }
  EXPECT_TRUE(FilesUnder(dir_ / "errors").empty());
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1"), 100);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.event_v1"), 100);
}

TEST_F(SinkTest, APermanentFailureFailsTheRunWritesNothingAndLeavesNoErrorOutput) {
  std::string in = "a bad line that would go to error output\n";
  for (int i = 0; i < 20; ++i) in += Good("m" + std::to_string(i)) + "\n";
  testing::WriteFile(dir_ / "in/a.ndjson", in);
  for (int threads : {1, 2}) {
    sleeps_.clear();
    FlakyLookup lookup(*w_, [](int) { return true; });
    SinkOptions o = Options({dir_ / "in/a.ndjson"});
    o.lookup = &lookup;
    o.threads = threads;
    auto r = Sink(*w_, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find("table metadata unavailable"), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find("gave up after 5 attempt(s)"), std::string::npos)
        << r.status().message();
    EXPECT_EQ(lookup.calls, 5);
    EXPECT_EQ(sleeps_, (std::vector<std::chrono::milliseconds>{50ms, 100ms, 200ms, 400ms}));
  }
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1"), 0);
  EXPECT_TRUE(FilesUnder(dir_ / "errors").empty()) << FilesUnder(dir_ / "errors").front();
}

TEST_F(SinkTest, EarlyCommitsKeepMemoryBoundedAndLandEverything) {
  std::string in;
  for (int i = 0; i < 5000; ++i)
    in += Good("m" + std::to_string(i), i % 24, i % 2 ? "2020-03-17" : "2020-03-18") + "\n";
  testing::WriteFile(dir_ / "in/a.ndjson", in);
  SinkOptions o = Options({dir_ / "in/a.ndjson"});
  o.commit_bytes = 1;  // every chunk is appended as it comes
  auto r = Sink(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->totals.written, 5000);
  EXPECT_EQ(r->appends, 3);  // 2048 + 2048 + the rest
  EXPECT_EQ(Count("SELECT count(DISTINCT document_id) FROM q.telemetry_live.main_v1"), 5000);
}

// A wide table's chunk holds every column's vectors however small its rows are: the budget for
// staged chunks counts that memory, so tiny rows of a wide table are appended early (and a
// narrow table beside it is not), and every row still lands once.
TEST_F(SinkTest, TheStagingBudgetCountsTheVectorsOfWideTables) {
  std::string schema = R"([{"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
    {"name":"document_id","type":"STRING","mode":"NULLABLE"},
    {"name":"additional_properties","type":"STRING","mode":"NULLABLE"})";
  for (int i = 0; i < 400; ++i)
    schema += fmt::format(R"(,{{"name":"c{}","type":"STRING","mode":"NULLABLE"}})", i);
  schema += "]";
  testing::WriteFile(dir_ / "schemas/telemetry/wide/wide.1.bq", schema);
  ASSERT_TRUE(DeploySchemas(*w_, dir_ / "schemas", "q").ok());
  std::string in;
  for (int i = 0; i < 5000; ++i) {
    in += Line({{"document_namespace", "telemetry"},
                {"document_type", "wide"},
                {"document_version", "1"},
                {"document_id", "w" + std::to_string(i)},
                {"submission_timestamp", "2020-03-17T10:00:00Z"}},
               R"({"c7":"x"})") +
          "\n";
    if (i % 10 == 0) in += Good("m" + std::to_string(i)) + "\n";
  }
  testing::WriteFile(dir_ / "in/a.ndjson", in);
  for (int threads : {1, 2}) {
    SinkOptions o = Options({dir_ / "in/a.ndjson"});
    // One wide chunk is 2048 x 403 vectors of 16 bytes (~13 MB); the rows' own bytes are ~30 KB.
    o.commit_bytes = 20 << 20;
    o.threads = threads;
    o.error_output.clear();
    o.reload = true;  // the same file, once per thread count
    auto r = Sink(*w_, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ExpectBalanced(*r);
    EXPECT_EQ(r->totals.written, 5500);
    // The second wide chunk puts the staged chunks over budget: the wide table is appended
    // alone; then the last wide rows and all main rows at the end. (With two workers each
    // hands over its own partly filled chunk, which may add an early append.)
    if (threads == 1) EXPECT_EQ(r->appends, 3);
    EXPECT_GE(r->appends, 3);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.wide_v1"), 10000);
  EXPECT_EQ(Count("SELECT count(DISTINCT document_id) FROM q.telemetry_live.wide_v1"), 5000);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.wide_v1 WHERE c7 = 'x'"), 10000);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1"), 1000);
}

TEST_F(SinkTest, ThreadCountDoesNotChangeTheTables) {
  Deploy("q2");
  std::string in;
  for (int i = 0; i < 6000; ++i) {
    if (i % 97 == 0) {
      in += "garbage " + std::to_string(i) + "\n";
    } else {
      in += Good("d" + std::to_string(i), i % 24, i % 3 ? "2020-03-17" : "2020-03-16", i,
                 i % 4 ? "main" : "event") +
            "\n";
    }
  }
  testing::WriteFile(dir_ / "in/a.ndjson", in.substr(0, in.size() / 2));
  testing::WriteFile(dir_ / "in/b.ndjson.gz", Gzip(in.substr(in.size() / 2)));
  // a.ndjson ends mid-line; b starts with the rest of that line: both halves are records.
  auto one = Sink(*w_, Options({(dir_ / "in")}, "q"));
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  SinkOptions o = Options({(dir_ / "in")}, "q2");
  o.threads = 3;
  o.error_output = dir_ / "errors3";
  auto three = Sink(*w_, o);
  ASSERT_TRUE(three.ok()) << three.status().ToString();
  ASSERT_EQ(one->items.size(), three->items.size());
  for (size_t i = 0; i < one->items.size(); ++i) {
    EXPECT_EQ(one->items[i].date, three->items[i].date);
    EXPECT_EQ(one->items[i].counts.read, three->items[i].counts.read);
    EXPECT_EQ(one->items[i].counts.written, three->items[i].counts.written);
    EXPECT_EQ(one->items[i].counts.errored, three->items[i].counts.errored);
  }
  EXPECT_EQ(one->totals.read, 6001);
  for (const char* t : {"main_v1", "event_v1"}) {
    std::string cols =
        "submission_timestamp, document_id, client_id, day, n, tags, additional_properties";
    EXPECT_EQ(
        Count(fmt::format("SELECT count(*) FROM (SELECT {0} FROM q.telemetry_live.{1} EXCEPT ALL "
                          "SELECT {0} FROM q2.telemetry_live.{1})",
                          cols, t)),
        0);
    EXPECT_EQ(
        Count(fmt::format("SELECT count(*) FROM (SELECT {0} FROM q2.telemetry_live.{1} EXCEPT ALL "
                          "SELECT {0} FROM q.telemetry_live.{1})",
                          cols, t)),
        0);
    EXPECT_GT(Count(fmt::format("SELECT count(*) FROM q2.telemetry_live.{}", t)), 1000);
  }
  EXPECT_EQ(ReadErrorOutput(dir_ / "errors").size(), ReadErrorOutput(dir_ / "errors3").size());
}

// The two error outputs of production, line for line as the reference sinks write them.
// ingestion-sink (OUTPUT_FORMAT raw, its default): the failed message unchanged, attributes as
// top-level fields, payload last and in base64, no error attributes.
std::string IngestionSinkRawLine(const std::string& id, const std::string& ts,
                                 const std::string& payload, const std::string& type = "main") {
  PubsubMessage m;
  m.attributes = {{"document_id", id},
                  {"document_namespace", "telemetry"},
                  {"document_type", type},
                  {"document_version", "1"},
                  {"geo_country", "DE"},
                  {"host", "incoming.telemetry.mozilla.org"},
                  {"submission_timestamp", ts},
                  {"uri", "/submit/telemetry/" + id + "/" + type + "/Firefox/74.0/release/1"},
                  {"user_agent", "pingsender/1.0"}};
  m.payload = payload;
  return SerializeRawPubsubLine(m);
}

// The Beam Sink: {"attributeMap":...,"payload":...} with FailureMessage's error attributes; a
// table lookup failure is KeyByBigQueryTableDestination's IllegalArgumentException.
std::string BeamSinkErrorLine(const std::string& id, const std::string& ts,
                              const std::string& payload, const std::string& type = "main") {
  return Line(
      {{"document_id", id},
       {"document_namespace", "telemetry"},
       {"document_type", type},
       {"document_version", "1"},
       {"error_message",
        "java.lang.IllegalArgumentException: Resolved destination table does not exist: "
        "moz-fx-data-shared-prod:telemetry_live." +
            type + "_v1"},
       {"error_type", "KeyByBigQueryTableDestination"},
       {"exception_class", "java.lang.IllegalArgumentException"},
       {"geo_country", "DE"},
       {"host", "incoming.telemetry.mozilla.org"},
       {"stack_trace",
        "[com.mozilla.telemetry.transforms.KeyByBigQueryTableDestination.getTableDestination("
        "KeyByBigQueryTableDestination.java:118)]"},
       {"stack_trace_cause_1",
        "[java.base/java.util.concurrent.FutureTask.run(FutureTask.java:264)]"},
       {"submission_timestamp", ts},
       {"uri", "/submit/telemetry/" + id + "/" + type + "/Firefox/74.0/release/1"},
       {"user_agent", "pingsender/1.0"}},
      payload);
}

TEST_F(SinkTest, BothSinkFormatsEndInTheSameTables) {
  Deploy("q2");
  std::string raw, beam;
  for (int i = 0; i < 30; ++i) {
    std::string id = "d" + std::to_string(i);
    std::string ts = fmt::format("2020-03-{}T{:02d}:00:00.123456Z", i % 2 ? 17 : 18, i % 24);
    std::string payload =
        fmt::format(R"({{"clientId":"c{}","n":{},"tags":["x"],"extra":{{"k":{}}}}})", i, i, i);
    if (i % 3 == 0) payload = Gzip(payload);  // the edge's payloads are often gzipped
    std::string type = i % 5 ? "main" : "event";
    raw += IngestionSinkRawLine(id, ts, payload, type) + "\n";
    beam += BeamSinkErrorLine(id, ts, payload, type) + "\n";
  }
  EXPECT_TRUE(raw.starts_with(
      R"({"document_id":"d0","document_namespace":"telemetry","document_type":"event",)"))
      << raw.substr(0, 100);
  testing::WriteFile(dir_ / "raw/error/2020-03-17/10/output-0.ndjson.gz", Gzip(raw));
  testing::WriteFile(dir_ / "beam/error/2020-03-17/10/output-0.ndjson.gz", Gzip(beam));
  auto a = Sink(*w_, Options({dir_ / "raw"}, "q"));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = Sink(*w_, Options({dir_ / "beam"}, "q2"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(a->raw_lines, 30);
  EXPECT_EQ(a->beam_lines, 0);
  EXPECT_EQ(b->raw_lines, 0);
  EXPECT_EQ(b->beam_lines, 30);
  EXPECT_EQ(a->totals.written, 30);
  EXPECT_EQ(b->totals.written, 30);
  EXPECT_EQ(a->totals.errored + b->totals.errored, 0);
  for (const char* t : {"main_v1", "event_v1"}) {
    std::string cols =
        "submission_timestamp, document_id, client_id, day, n, tags, additional_properties";
    EXPECT_EQ(
        Count(fmt::format("SELECT count(*) FROM (SELECT {0} FROM q.telemetry_live.{1} EXCEPT ALL "
                          "SELECT {0} FROM q2.telemetry_live.{1})",
                          cols, t)),
        0)
        << t;
    EXPECT_EQ(
        Count(fmt::format("SELECT count(*) FROM (SELECT {0} FROM q2.telemetry_live.{1} EXCEPT ALL "
                          "SELECT {0} FROM q.telemetry_live.{1})",
                          cols, t)),
        0)
        << t;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM q2.telemetry_live.main_v1"), 24);
  EXPECT_EQ(Count("SELECT count(*) FROM q2.telemetry_live.event_v1"), 6);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1 WHERE document_id = 'd7' AND "
                  "client_id = 'c7' AND "
                  "submission_timestamp = TIMESTAMPTZ '2020-03-17 07:00:00.123456+00'"),
            1);
}

// `bq extract` of a payload_bytes_error table writes the raw shape with BigQuery's TIMESTAMP
// text: a replay can start from such an export.
TEST_F(SinkTest, AReplayCanStartFromABigQueryExportOfPayloadBytesError) {
  std::string in =
      R"({"submission_timestamp":"2020-03-17 05:06:07.250000 UTC","uri":"/submit/telemetry/x1/main/Firefox/74.0/release/1",)"
      R"("document_namespace":"telemetry","document_type":"main","document_version":"1","document_id":"x1",)"
      R"("error_type":"KeyByBigQueryTableDestination","error_message":"java.lang.IllegalArgumentException: Resolved )"
      R"(destination table does not exist: moz-fx-data-shared-prod:telemetry_live.main_v1",)"
      R"("exception_class":"java.lang.IllegalArgumentException","payload":")" +
      Base64Encode(R"({"clientId":"from-export","n":5})") + "\"}\n" +
      R"({"submission_timestamp":"2020-03-18 00:00:00 UTC","document_namespace":"telemetry","document_type":"main",)"
      R"("document_version":"1","document_id":"x2","payload":")" +
      Base64Encode(R"({"n":6})") + "\"}\n";
  testing::WriteFile(dir_ / "export/payload_bytes_error-000000000000.json.gz", Gzip(in));
  auto r = Sink(*w_, Options({dir_ / "export"}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->totals.written, 2);
  EXPECT_EQ(r->raw_lines, 2);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1 WHERE document_id = 'x1' AND "
                  "client_id = 'from-export' "
                  "AND n = 5 AND submission_timestamp = TIMESTAMPTZ '2020-03-17 05:06:07.25+00'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1 WHERE document_id = 'x2' AND "
                  "submission_timestamp = TIMESTAMPTZ '2020-03-18 00:00:00+00'"),
            1);
}

TEST_F(SinkTest, WhereFiltersOnAnyAttributeAndFiltersThatMatchNothingWarn) {
  std::string in;
  for (int i = 0; i < 10; ++i) {
    in += IngestionSinkRawLine("r" + std::to_string(i), "2020-03-17T01:00:00Z", R"({"n":1})",
                               i < 7 ? "main" : "event") +
          "\n";
  }
  testing::WriteFile(dir_ / "in/raw.ndjson", in);
  // --error-type on ingestion-sink output: its lines have no error_type, so nothing is replayed.
  {
    SinkOptions o = Options({dir_ / "in/raw.ndjson"});
    o.error_types = {"SinkError"};
    auto r = Sink(*w_, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->totals.skipped, 10);
    EXPECT_EQ(r->totals.written, 0);
    ASSERT_EQ(r->filters.size(), 1u);
    EXPECT_EQ(r->filters[0].filter, "--error-type SinkError");
    EXPECT_EQ(r->filters[0].matched, 0);
    EXPECT_EQ(
        r->warnings,
        (std::vector<std::string>{
            "filter `--error-type SinkError` matched none of the 10 record(s) read (10 of them "
            "are raw lines, which ingestion-sink writes without error attributes: filter with "
            "--where instead)"}));
  }
  // Nothing was loaded, yet the file is in the ledger: the next run needs --reload.
  SinkOptions o = Options({dir_ / "in/raw.ndjson"});
  o.reload = true;
  o.where = {"document_namespace=telemetry", "document_type=main", "document_type=crash"};
  o.where_not = {"document_id~^r[01]$", "uri~nomatch"};
  auto r = Sink(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectBalanced(*r);
  EXPECT_EQ(r->totals.written, 5);  // main r2..r6
  EXPECT_EQ(r->totals.skipped, 5);
  EXPECT_EQ(
      Count(
          "SELECT count(*) FROM q.telemetry_live.main_v1 WHERE document_id BETWEEN 'r2' AND 'r6'"),
      5);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.event_v1"), 0);
  ASSERT_EQ(r->filters.size(), 5u);
  std::vector<std::pair<std::string, int64_t>> matches;
  for (const auto& f : r->filters) matches.emplace_back(f.filter, f.matched);
  EXPECT_EQ(matches, (std::vector<std::pair<std::string, int64_t>>{
                         {"--where document_namespace=telemetry", 10},
                         {"--where document_type=main", 7},
                         {"--where document_type=crash", 0},
                         {"--where-not document_id~^r[01]$", 2},
                         {"--where-not uri~nomatch", 0}}));
  EXPECT_EQ(r->warnings,
            (std::vector<std::string>{
                "filter `--where document_type=crash` matched none of the 10 record(s) read",
                "filter `--where-not uri~nomatch` matched none of the 10 record(s) read"}));
  for (const char* bad : {"noequals", "=value", "a~([unclosed"}) {
    SinkOptions b = Options({dir_ / "in/raw.ndjson"});
    b.where = {bad};
    auto e = Sink(*w_, b);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(e.status().message().starts_with(fmt::format("--where '{}': ", bad)))
        << e.status().message();
  }
}

TEST_F(SinkTest, TheLedgerSkipsContentAlreadyLoadedUnlessReload) {
  std::string in;
  for (int i = 0; i < 5; ++i) in += Good("m" + std::to_string(i)) + "\n";
  testing::WriteFile(dir_ / "in/a.ndjson", in);
  testing::WriteFile(dir_ / "copy/a-again.ndjson", in);  // same content, other name
  testing::WriteFile(dir_ / "in/b.ndjson", Good("other") + "\n");
  auto first = Sink(*w_, Options({dir_ / "in/a.ndjson"}));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->totals.written, 5);
  EXPECT_TRUE(first->skipped_files.empty());
  ASSERT_EQ(first->files.size(), 1u);
  EXPECT_EQ(first->files[0].sha256.size(), 64u);
  auto loads = w_->ListLoads("q");
  ASSERT_TRUE(loads.ok()) << loads.status().ToString();
  ASSERT_EQ(loads->size(), 1u);
  EXPECT_EQ((*loads)[0].path, (dir_ / "in/a.ndjson"));
  EXPECT_EQ((*loads)[0].size, static_cast<int64_t>(in.size()));
  EXPECT_EQ((*loads)[0].sha256, first->files[0].sha256);
  EXPECT_EQ((*loads)[0].run_id, "test");

  // Again, under another run id, with the copy and a new file: only the new file loads.
  SinkOptions again = Options({dir_ / "in", dir_ / "copy"});
  again.run_id = "second";
  auto second = Sink(*w_, again);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->totals.read, 1);
  EXPECT_EQ(second->totals.written, 1);
  ASSERT_EQ(second->skipped_files.size(), 2u);
  EXPECT_EQ(second->skipped_files[0].path, (dir_ / "in/a.ndjson"));
  EXPECT_EQ(second->skipped_files[0].reason,
            fmt::format("already loaded by run test at 2020-03-19T10:00:00Z (as {})",
                        (dir_ / "in/a.ndjson")));
  EXPECT_EQ(second->skipped_files[1].path, (dir_ / "copy/a-again.ndjson"));
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1"), 6);
  // A third run changes nothing at all.
  auto third = Sink(*w_, again);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->totals.read, 0);
  EXPECT_EQ(third->skipped_files.size(), 3u);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1"), 6);

  // --reload loads it again (duplicates are the replay's append to remove).
  SinkOptions reload = Options({dir_ / "in/a.ndjson"});
  reload.reload = true;
  auto fourth = Sink(*w_, reload);
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ(fourth->totals.written, 5);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1"), 11);

  // Within one run, two files with the same content load once.
  Deploy("q3");
  auto dup = Sink(*w_, Options({dir_ / "in/a.ndjson", dir_ / "copy/a-again.ndjson"}, "q3"));
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->totals.written, 5);
  ASSERT_EQ(dup->skipped_files.size(), 1u);
  EXPECT_EQ(dup->skipped_files[0].reason,
            fmt::format("same content as {} in this run", (dir_ / "in/a.ndjson")));
}

TEST_F(SinkTest, AFailedRunRecordsNoLoadsAndRetractLoadsForgetsLaterOnes) {
  testing::WriteFile(dir_ / "in/a.ndjson", Good("a") + "\n");
  {
    FlakyLookup lookup(*w_, [](int) { return true; });
    SinkOptions o = Options({dir_ / "in/a.ndjson"});
    o.lookup = &lookup;
    ASSERT_FALSE(Sink(*w_, o).ok());
  }
  auto none = w_->ListLoads("q");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto mark = w_->LastCounter("q", "write");
  ASSERT_TRUE(mark.ok());
  auto ok = Sink(*w_, Options({dir_ / "in/a.ndjson"}));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(w_->ListLoads("q")->size(), 1u);
  auto retracted = w_->RetractLoads("q", *mark);
  ASSERT_TRUE(retracted.ok());
  EXPECT_EQ(*retracted, 1);
  EXPECT_TRUE(w_->ListLoads("q")->empty());
  auto again = Sink(*w_, Options({dir_ / "in/a.ndjson"}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->totals.written, 1);
}

TEST_F(SinkTest, UsageErrors) {
  EXPECT_EQ(Sink(*w_, Options({})).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Sink(*w_, Options({dir_ / "nothing-here"})).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Sink(*w_, Options({(dir_ / "none*.gz")})).status().code(), StatusCode::kNotFound);
  testing::WriteFile(dir_ / "in/a.ndjson", Good("a") + "\n");
  EXPECT_EQ(Sink(*w_, Options({dir_ / "in/a.ndjson"}, "no-such-project")).status().code(),
            StatusCode::kNotFound);
}

// The reference corpus: every passing sample, wrapped as a message for its table, lands in its
// live table; the gcp-ingestion message files (mostly unroutable on purpose) go to error output.
TEST_F(SinkTest, CorpusSamplesAndMessageFilesLandOrGoToErrorOutput) {
  BF_REQUIRE_CORPUS();
  fs::path corpus = testing::CorpusDir();
  ASSERT_TRUE(w_->CreateProject("corpus").ok());
  auto deployed = DeploySchemas(*w_, corpus / "schemas", "corpus");
  ASSERT_TRUE(deployed.ok()) << deployed.status().ToString();
  std::string in;
  std::map<std::string, int> expected;  // table -> rows
  int n = 0;
  for (const auto& ns_dir : fs::directory_iterator(corpus / "samples")) {
    std::string ns = ns_dir.path().filename().string();
    std::vector<fs::path> docs;
    for (const auto& d : fs::directory_iterator(ns_dir.path())) {
      if (d.path().filename().string().ends_with(".pass.json")) docs.push_back(d.path());
    }
    std::sort(docs.begin(), docs.end());
    for (const auto& doc : docs) {
      std::string name = doc.filename().string();
      std::string type = name.substr(0, name.find('.'));
      std::string version =
          name.substr(type.size() + 1, name.find('.', type.size() + 1) - type.size() - 1);
      std::vector<std::pair<std::string, std::string>> targets;
      if (ns == "glean") {
        std::string label = name.substr(name.find('.', type.size() + 1) + 1);
        std::string t = label.starts_with("baseline") ? "baseline"
                        : label.starts_with("events") ? "events"
                                                      : "metrics";
        targets = {{"firefox-desktop", t}, {"org-mozilla-fenix", t}};
      } else {
        targets = {{ns, type}};
        if (ns == "telemetry" && type == "main") version = "5";
      }
      for (const auto& [tns, ttype] : targets) {
        ++n;
        in +=
            Line({{"document_namespace", tns},
                  {"document_type", ttype},
                  {"document_version", version},
                  {"document_id", fmt::format("doc-{}", n)},
                  {"submission_timestamp", fmt::format("2020-03-17T{:02d}:00:00.123456Z", n % 24)}},
                 testing::ReadFile(doc)) +
            "\n";
        auto table = RouteMessage("corpus", tns, ttype, version);
        ASSERT_TRUE(table.ok());
        ++expected[table->ToString()];
      }
    }
  }
  ASSERT_GE(n, 50);
  testing::WriteFile(dir_ / "in/samples.ndjson.gz", Gzip(in));
  SinkOptions o = Options({dir_ / "in/samples.ndjson.gz", corpus / "pubsub"}, "corpus");
  o.threads = 2;
  auto r = Sink(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectBalanced(*r);
  EXPECT_EQ(r->FileProblems(), 0);
  for (const auto& [table, rows] : expected) {
    auto name = ParseTableName(table);
    auto rel = w_->Relation(*name);
    ASSERT_TRUE(rel.ok()) << rel.status().ToString();
    // (Some samples carry their own document_id, which wins over the attribute.)
    EXPECT_EQ(Count("SELECT count(*) FROM " + *rel),
              rows + (table == "corpus.eng_workflow_live.hgpush_v1"))
        << table;
  }
  int64_t sample_rows = 0;
  for (const auto& [_, rows] : expected) sample_rows += rows;
  // The corpus's message files: one eng-workflow hgpush message is routable (error-output.ndjson
  // of the decoder test); everything else lacks routing attributes or names a missing table.
  EXPECT_EQ(r->totals.written, sample_rows + 1);
  EXPECT_EQ(r->totals.errored, r->totals.read - sample_rows - 1);
  EXPECT_EQ(static_cast<int64_t>(ReadErrorOutput(dir_ / "errors").size()), r->totals.errored);
}

}  // namespace
}  // namespace backfill::ingest
