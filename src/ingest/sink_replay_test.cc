// Replays through the sink: both production error outputs end in the same tables, a replay from
// a BigQuery export, attribute filters, the ledger of loaded content, and the reference corpus.
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
