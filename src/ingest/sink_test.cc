// The sink on a real warehouse, with real gzip files: where every input record ends (a row, an
// error-output line with its reason, or skipped by a filter), damaged input files, transient and
// permanent infrastructure failures (promise 6), and thread-count independence.
#include "ingest/sink.h"

#include <gtest/gtest.h>

#include "ingest/sink_testing.h"

namespace backfill::ingest {
namespace {

using namespace sink_testing;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;
using testing::Gzip;

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
  in += Line(with("document_type", "nope"), "{}") + "\n";  // unknown table, looked up before
  testing::WriteFile(dir_ / "in/bad.ndjson", in);
  auto r = Sink(*w_, Options({dir_ / "in/bad.ndjson"}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectBalanced(*r);
  EXPECT_EQ(r->totals.read, 14);
  EXPECT_EQ(r->totals.written, 3);
  EXPECT_EQ(r->totals.errored, 11);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1 WHERE client_id = 'zipped'"), 1);

  std::vector<json> errors = ReadErrorOutput(dir_ / "errors");
  ASSERT_EQ(errors.size(), 11u);
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
  EXPECT_EQ(reasons.count("Route: table not found: q.telemetry_live.nope_v1"), 2u);
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
  auto failed = [](const std::string& id, const std::string& type, const std::string& message,
                   const std::string& payload = R"({"clientId":"c"})") {
    return Line({{"document_namespace", "telemetry"},
                 {"document_type", "main"},
                 {"document_version", "1"},
                 {"document_id", id},
                 {"submission_timestamp", "2020-03-17T05:00:00Z"},
                 {"error_type", type},
                 {"error_message", message},
                 {"exception_class", "java.io.IOException"},
                 {"stack_trace", "at ..."}},
                payload);
  };
  const std::string gz = Gzip(R"({"clientId":"zipped"})");
  std::string in =
      failed("1", "SendRequest",
             "com.google.api.client.http.HttpResponseException: 429 rate limit") +
      "\n" + failed("2", "SendRequest", "table lookup failed: 503") + "\n" +
      failed("3", "ParsePayload", "payload is not valid JSON") + "\n" +
      failed("4", "SendRequest", "com.google.api.client.http.HttpResponseException: 400 bad row") +
      "\n" + Good("5") + "\n" +  // no error_type: filtered out by --error-type
      // skipped, so never decoded: its truncated gzip payload is no error
      failed("6", "ParsePayload", "truncated", gz.substr(0, gz.size() / 2)) + "\n";
  testing::WriteFile(dir_ / "in/err.ndjson", in);
  SinkOptions o = Options({dir_ / "in/err.ndjson"});
  o.error_types = {"SendRequest"};
  o.exclude_error_message = "400 bad row";
  auto r = Sink(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectBalanced(*r);
  EXPECT_EQ(r->totals.read, 6);
  EXPECT_EQ(r->totals.written, 2);
  EXPECT_EQ(r->totals.skipped, 4);
  EXPECT_EQ(r->totals.errored, 0);
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
  EXPECT_EQ(r->commits, 1);
  EXPECT_EQ(Count("SELECT count(DISTINCT document_id) FROM q.telemetry_live.main_v1"), 5000);
}

// Past `reopen_row_group_columns` the run commits and attaches the project file again (DuckDB
// then drops what it kept per row group): here after an append, while at least half as much
// input as the transaction took in is still to come. A shorter rest joins the transaction, so
// the last one is never a small one (DuckDB would write its rows into the tables' last row
// groups in memory and the WAL). Ten files of 500 records; chunks of 2,048 rows, one worker:
// the first chunk is taken after half of the input (the rest is as much: commit and reopen),
// the second after 90% (the rest is a quarter of what the transaction took in: no reopen).
// Every row lands once, the ledger records the files, and the project is a newly attached
// database afterwards.
TEST_F(SinkTest, LargeRunsCommitAndReopenTheProjectAsTheyGoButNotNearTheEnd) {
  auto oid = [&] {
    return Count("SELECT database_oid FROM duckdb_databases() WHERE database_name = 'q'");
  };
  const int64_t before = oid();
  std::vector<std::string> files;
  for (int f = 0; f < 10; ++f) {
    std::string in;
    for (int i = f * 500; i < (f + 1) * 500; ++i)
      in += Good(fmt::format("m{:04}", i), i % 24, i % 2 ? "2020-03-17" : "2020-03-18") + "\n";
    files.push_back(dir_ / fmt::format("in/{}.ndjson", f));
    testing::WriteFile(files.back(), in);
  }
  SinkOptions o = Options(files);
  o.commit_bytes = 1;
  o.reopen_row_group_columns = 1;
  auto r = Sink(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->totals.written, 5000);
  EXPECT_EQ(r->appends, 3);
  EXPECT_EQ(r->commits, 2);  // after the first append; then the rest with the ledger
  EXPECT_NE(oid(), before);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1"), 5000);
  EXPECT_EQ(Count("SELECT count(DISTINCT document_id) FROM q.telemetry_live.main_v1"), 5000);
  EXPECT_EQ(Count("SELECT count(*) FROM q._bf.loads"), 10);
  EXPECT_EQ(w_->ListProjects(), std::vector<std::string>{"q"});
}

// While the sink writes, DuckDB does not try FSST on the row groups (it was hardly ever chosen
// there and trying it cost 7% of a run); the setting is put back afterwards, and rewriting the
// same strings then uses FSST: the data below is data FSST wins on. The threads and insertion
// order, changed for the run's last append, are put back too.
TEST_F(SinkTest, RowsAreWrittenWithoutFsstAndTheSettingsArePutBack) {
  auto settings = [&] {
    auto r = w_->connection().Query(
        "SELECT current_setting('disabled_compression_methods')::VARCHAR || ' ' || "
        "current_setting('threads')::VARCHAR || ' ' || "
        "current_setting('preserve_insertion_order')::VARCHAR");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->GetString(0, 0) : std::string();
  };
  ASSERT_TRUE(w_->connection().Exec("SET threads = 3").ok());
  EXPECT_EQ(settings(), " 3 true");
  std::string in;
  for (int i = 0; i < 6000; ++i)
    in += Good(fmt::format("https://www.mozilla.org/en-US/firefox/{}.0/whatsnew/?oldversion={}.0",
                           i, i * 7)) +
          "\n";
  testing::WriteFile(dir_ / "in/a.ndjson", in);
  auto r = Sink(*w_, Options({dir_ / "in/a.ndjson"}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->totals.written, 6000);
  // Over the rows' storage: the warehouse's _bf_store tables behind the views.
  auto fsst_segments = [&] {
    auto tables = w_->connection().Query(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'q' AND "
        "schema_name = '_bf_store'");
    EXPECT_TRUE(tables.ok()) << tables.status().ToString();
    int64_t total = 0;
    for (size_t i = 0; tables.ok() && i < tables->rows(); ++i) {
      auto n = w_->connection().Query(
          fmt::format("SELECT count(*) FROM pragma_storage_info('q._bf_store.{}') WHERE "
                      "compression = 'FSST'",
                      tables->GetString(0, i)));
      EXPECT_TRUE(n.ok()) << n.status().ToString();
      total += n.ok() ? n->GetInt64(0, 0) : 0;
    }
    return total;
  };
  ASSERT_TRUE(w_->connection().Exec("CHECKPOINT").ok());
  EXPECT_EQ(fsst_segments(), 0);
  EXPECT_EQ(settings(), " 3 true");
  ASSERT_TRUE(w_->connection()
                  .Exec("CREATE TABLE q._bf_store.fsst_check AS SELECT client_id, document_id "
                        "FROM q.telemetry_live.main_v1; CHECKPOINT")
                  .ok());
  EXPECT_GT(fsst_segments(), 0);
}

// Rows of ~256 kB (an unknown field kept in additional_properties) hand a chunk over at 16 MiB
// of strings, not at 2048 rows: with every chunk appended as it comes, three appends of
// 64 + 64 + 32 rows, in one transaction; every row lands once.
TEST_F(SinkTest, LargeRowsMakeSmallChunks) {
  const std::string big(256 << 10, 'x');
  std::string in;
  for (int i = 0; i < 160; ++i) {
    in += Line({{"document_namespace", "telemetry"},
                {"document_type", "main"},
                {"document_version", "1"},
                {"document_id", "b" + std::to_string(i)},
                {"submission_timestamp", "2020-03-17T10:00:00Z"}},
               R"({"clientId":"c","unknown":")" + big + R"("})") +
          "\n";
  }
  testing::WriteFile(dir_ / "in/a.ndjson", in);
  SinkOptions o = Options({dir_ / "in/a.ndjson"});
  o.commit_bytes = 1;  // every chunk is appended as it comes
  auto r = Sink(*w_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectBalanced(*r);
  EXPECT_EQ(r->totals.written, 160);
  EXPECT_EQ(r->appends, 3);
  EXPECT_EQ(r->commits, 1);
  EXPECT_EQ(Count("SELECT count(DISTINCT document_id) FROM q.telemetry_live.main_v1"), 160);
  EXPECT_EQ(Count("SELECT count(*) FROM q.telemetry_live.main_v1 WHERE length("
                  "additional_properties) > 262144"),
            160);
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
    if (threads == 1) {
      EXPECT_EQ(r->appends, 3);
    }
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

}  // namespace
}  // namespace backfill::ingest
