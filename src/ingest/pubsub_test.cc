#include "ingest/pubsub.h"

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ingest/payload.h"
#include "testing/testing.h"

namespace backfill::ingest {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Lines(const fs::path& path) {
  std::istringstream in(testing::ReadFile(path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

TEST(PubsubTest, ParsesTheWrappedForm) {
  auto m = ParsePubsubLine(R"({"attributeMap":{"host":"test","b":"2"},"payload":"dGVzdA=="})");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->attributes.size(), 2u);
  EXPECT_EQ(m->attributes[0].first, "host");
  EXPECT_EQ(*m->FindAttribute("b"), "2");
  EXPECT_EQ(m->FindAttribute("missing"), nullptr);
  EXPECT_EQ(m->payload, "test");
}

TEST(PubsubTest, NullAndEmptyForms) {
  for (const char* line : {R"({"attributeMap":null,"payload":null})",
                           R"({"attributeMap":{},"payload":""})", R"({})", R"({"payload":""})"}) {
    auto m = ParsePubsubLine(line);
    ASSERT_TRUE(m.ok()) << line << ": " << m.status().ToString();
    EXPECT_TRUE(m->attributes.empty());
    EXPECT_TRUE(m->payload.empty());
  }
}

TEST(PubsubTest, NumericAttributesKeepTheirText) {
  auto m = ParsePubsubLine(
      R"({"attributeMap":{"document_version": 1, "x": true, "y": null},"payload":""})");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(*m->FindAttribute("document_version"), "1");
  EXPECT_EQ(*m->FindAttribute("x"), "true");
  EXPECT_EQ(m->FindAttribute("y"), nullptr);
}

TEST(PubsubTest, ClearErrors) {
  EXPECT_TRUE(
      ParsePubsubLine(R"({"attributeMap":{"host":"test"},"payload":"missing_closing_quote})")
          .status()
          .message()
          .starts_with("not valid JSON"));
  EXPECT_EQ(ParsePubsubLine(R"({"attributeMap":[1],"payload":""})").status().message(),
            "attributeMap must be an object or null");
  EXPECT_EQ(ParsePubsubLine(R"({"attributeMap":{"a":{}},"payload":""})").status().message(),
            "attribute 'a' must be a string, not an object or array");
  EXPECT_EQ(ParsePubsubLine(R"({"payload":"dG$z"})").status().message(),
            "payload: invalid base64 at byte 2: unexpected character '$'");
  EXPECT_EQ(ParsePubsubLine(R"({"payload":3})").status().message(),
            "payload must be a base64 string or null");
  EXPECT_EQ(ParsePubsubLine(R"([1])").status().message(), "line is not a JSON object");
  EXPECT_EQ(ParsePubsubLine(R"({"attributeMap":{},"host":"x"})").status().message(),
            "unexpected key 'host' beside attributeMap in a PubsubMessage line");
  EXPECT_EQ(ParsePubsubLine(R"({"host":{"a":1},"payload":""})").status().message(),
            "attribute 'host' must be a string, not an object or array");
  // Without attributeMap a line is raw: its keys are attributes.
  LineShape shape = LineShape::kBeam;
  auto raw = ParsePubsubLine(R"({"clientId":"abc"})", LineFormat::kWrapped, &shape);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(shape, LineShape::kRaw);
  EXPECT_EQ(raw->attributes,
            (std::vector<std::pair<std::string, std::string>>{{"clientId", "abc"}}));
  EXPECT_EQ(raw->payload, "");
  // The same bare document is a payload in auto mode.
  auto m = ParsePubsubLine(R"({"clientId":"abc"})", LineFormat::kAuto, &shape);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(shape, LineShape::kBare);
  EXPECT_EQ(m->payload, R"({"clientId":"abc"})");
}

// ingestion-sink's error output, OUTPUT_FORMAT=raw (its default): the failed message unchanged,
// attributes as top-level fields, the payload in base64 last; no error attributes.
constexpr const char* kIngestionSinkRawLine =
    R"({"document_id":"8b6a3e84-2c4f-4f5e-9d5c-0c1f6f7f3a11","document_namespace":"telemetry",)"
    R"("document_type":"main","document_version":"4","geo_city":"Berlin","geo_country":"DE",)"
    R"("geo_db_version":"2020-03-10T00:00:00Z","host":"incoming.telemetry.mozilla.org",)"
    R"("submission_timestamp":"2020-03-17T10:15:42.123456Z",)"
    R"("uri":"/submit/telemetry/8b6a3e84-2c4f-4f5e-9d5c-0c1f6f7f3a11/main/Firefox/74.0/release/20200309095159",)"
    R"("user_agent":"pingsender/1.0","x_pingsender_version":"1.0","payload":"eyJ2ZXJzaW9uIjo0fQ=="})";
// The same message as ingestion-sink writes it with OUTPUT_FORMAT=beam.
constexpr const char* kIngestionSinkBeamLine =
    R"({"attributeMap":{"document_id":"8b6a3e84-2c4f-4f5e-9d5c-0c1f6f7f3a11",)"
    R"("document_namespace":"telemetry","document_type":"main","document_version":"4",)"
    R"("geo_city":"Berlin","geo_country":"DE","geo_db_version":"2020-03-10T00:00:00Z",)"
    R"("host":"incoming.telemetry.mozilla.org","submission_timestamp":"2020-03-17T10:15:42.123456Z",)"
    R"("uri":"/submit/telemetry/8b6a3e84-2c4f-4f5e-9d5c-0c1f6f7f3a11/main/Firefox/74.0/release/20200309095159",)"
    R"("user_agent":"pingsender/1.0","x_pingsender_version":"1.0"},"payload":"eyJ2ZXJzaW9uIjo0fQ=="})";

TEST(PubsubTest, IngestionSinkRawAndBeamLinesGiveTheSameMessage) {
  LineShape raw_shape, beam_shape;
  auto raw = ParsePubsubLine(kIngestionSinkRawLine, LineFormat::kWrapped, &raw_shape);
  auto beam = ParsePubsubLine(kIngestionSinkBeamLine, LineFormat::kWrapped, &beam_shape);
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  ASSERT_TRUE(beam.ok()) << beam.status().ToString();
  EXPECT_EQ(raw_shape, LineShape::kRaw);
  EXPECT_EQ(beam_shape, LineShape::kBeam);
  EXPECT_EQ(*raw, *beam);
  EXPECT_EQ(raw->attributes.size(), 12u);
  EXPECT_EQ(*raw->FindAttribute("document_namespace"), "telemetry");
  EXPECT_EQ(raw->FindAttribute("payload"), nullptr);
  EXPECT_EQ(raw->payload, R"({"version":4})");
  // Serialized back in the reference's raw shape, byte for byte.
  EXPECT_EQ(SerializeRawPubsubLine(*raw), kIngestionSinkRawLine);
  // The same line in auto mode is still a message (it has a payload key), not a bare document.
  LineShape shape;
  auto autom = ParsePubsubLine(kIngestionSinkRawLine, LineFormat::kAuto, &shape);
  ASSERT_TRUE(autom.ok());
  EXPECT_EQ(shape, LineShape::kRaw);
  EXPECT_EQ(*autom, *raw);
}

TEST(PubsubTest, RawShapeEdgeCases) {
  // An empty payload is left out of a raw line; an attribute named "payload" cannot be
  // written (the reference puts the payload over it).
  PubsubMessage m;
  m.attributes = {{"b", "2"}, {"payload", "lost"}, {"a", "1"}};
  EXPECT_EQ(SerializeRawPubsubLine(m), R"({"b":"2","a":"1"})");
  m.payload = "x";
  EXPECT_EQ(SerializeRawPubsubLine(m), R"({"b":"2","a":"1","payload":"eA=="})");
  EXPECT_EQ(SerializeRawPubsubLine(PubsubMessage{}), "{}");
  // Numbers and booleans keep their text, null is no attribute; a null payload is empty.
  auto n = ParsePubsubLine(R"({"content_length":"1234","n":12,"f":true,"z":null,"payload":null})");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->attributes, (std::vector<std::pair<std::string, std::string>>{
                               {"content_length", "1234"}, {"n", "12"}, {"f", "true"}}));
  EXPECT_EQ(n->payload, "");
  EXPECT_EQ(ParsePubsubLine(R"({"host":"x","payload":"dG$z"})").status().message(),
            "payload: invalid base64 at byte 2: unexpected character '$'");
}

// What `bq extract --destination_format NEWLINE_DELIMITED_JSON` writes from a payload_bytes_*
// table: the columns as fields (NULL ones left out), BYTES in base64 and TIMESTAMP in
// BigQuery's export form, which raw lines read as the pipeline's form.
TEST(PubsubTest, BigQueryExportOfPayloadBytesTables) {
  auto m = ParsePubsubLine(
      R"({"submission_timestamp":"2020-03-17 10:15:42.123456 UTC","uri":"/submit/telemetry/x/main/Firefox/74.0/release/1",)"
      R"("document_namespace":"telemetry","document_type":"main","document_version":"4","document_id":"x",)"
      R"("error_type":"KeyByBigQueryTableDestination","payload":"eyJ2ZXJzaW9uIjo0fQ=="})");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(*m->FindAttribute("submission_timestamp"), "2020-03-17T10:15:42.123456Z");
  EXPECT_EQ(*m->FindAttribute("error_type"), "KeyByBigQueryTableDestination");
  EXPECT_EQ(m->payload, R"({"version":4})");
  auto whole = ParsePubsubLine(R"({"submission_timestamp":"2020-03-17 10:15:42 UTC"})");
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(*whole->FindAttribute("submission_timestamp"), "2020-03-17T10:15:42Z");
  // Only that exact form is rewritten, and only in raw lines.
  for (const char* v : {"2020-03-17 10:15:42. UTC", "2020-03-17 10:15:42 utc",
                        "x2020-03-17 10:15:42 UTC", "2020-03-17 10:15:42.12a UTC"}) {
    auto same = ParsePubsubLine(fmt::format(R"({{"t":"{}"}})", v));
    ASSERT_TRUE(same.ok());
    EXPECT_EQ(*same->FindAttribute("t"), v);
  }
  auto beam = ParsePubsubLine(R"({"attributeMap":{"t":"2020-03-17 10:15:42 UTC"}})");
  ASSERT_TRUE(beam.ok());
  EXPECT_EQ(*beam->FindAttribute("t"), "2020-03-17 10:15:42 UTC");
}

TEST(PubsubTest, SerializeRoundTrips) {
  PubsubMessage m;
  m.attributes = {{"z", "last"}, {"a", "first \"quoted\""}};
  m.payload = std::string("\x1f\x8b\x00binary", 9);
  std::string line = SerializePubsubLine(m);
  EXPECT_TRUE(
      line.starts_with(R"({"attributeMap":{"a":"first \"quoted\"","z":"last"},"payload":")"))
      << line;
  auto back = ParsePubsubLine(line);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->payload, m.payload);
  EXPECT_EQ(*back->FindAttribute("a"), "first \"quoted\"");
  EXPECT_EQ(SerializePubsubLine(PubsubMessage{}), R"({"attributeMap":{},"payload":""})");
}

TEST(PubsubTest, TruncateUtf8) {
  EXPECT_EQ(TruncateUtf8("short", 10), "short");
  EXPECT_EQ(TruncateUtf8("0123456789abc", 10), "0123456...");
  // "é" is two bytes; a cut inside it backs up to before it.
  std::string s = "012345\xc3\xa9xyzw";
  EXPECT_EQ(TruncateUtf8(s, 10), "012345...");
  std::string t = TruncateUtf8(std::string(2000, 'x') + "\xe2\x82\xac", 1024);
  EXPECT_EQ(t.size(), 1024u);
  std::string euros;
  for (int i = 0; i < 400; ++i) euros += "\xe2\x82\xac";  // 3 bytes each
  t = TruncateUtf8(euros, 1024);
  EXPECT_LE(t.size(), 1024u);
  EXPECT_EQ(t.size(), 1020u + 3u);  // 340 whole characters + "..."
}

TEST(PubsubTest, ErrorOutputLine) {
  PubsubMessage m;
  m.attributes = {{"host", "test"}, {"submission_timestamp", "2018-03-12T21:02:18.123456Z"}};
  m.payload = "{}";
  ErrorInfo e{"Transform", std::string(3000, 'm'), "InvalidArgument", ""};
  PubsubMessage out = WithErrorAttributes(m, e);
  EXPECT_EQ(*out.FindAttribute("error_type"), "Transform");
  EXPECT_EQ(out.FindAttribute("error_message")->size(), 1024u);
  EXPECT_TRUE(out.FindAttribute("error_message")->ends_with("..."));
  EXPECT_EQ(*out.FindAttribute("exception_class"), "InvalidArgument");
  EXPECT_EQ(*out.FindAttribute("stack_trace"), "");
  EXPECT_EQ(out.payload, "{}");
  auto parsed = ParsePubsubLine(ErrorOutputLine(m, e));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed->FindAttribute("host"), "test");
  // Adding error attributes twice replaces them.
  PubsubMessage twice = WithErrorAttributes(out, {"Again", "why", "X", "trace"});
  EXPECT_EQ(twice.attributes.size(), out.attributes.size());
  EXPECT_EQ(*twice.FindAttribute("error_type"), "Again");
}

TEST(PubsubTest, ErrorOutputFolder) {
  PubsubMessage m;
  EXPECT_EQ(ErrorOutputFolder("out", m), "out/error/NULL/NULL/");
  m.SetAttribute("submission_timestamp", "2018-03-12T21:02:18.123456Z");
  EXPECT_EQ(ErrorOutputFolder("gs://b/p", m), "gs://b/p/error/2018-03-12/21/");
  m.SetAttribute("submission_timestamp", "2018-03-12");
  EXPECT_EQ(ErrorOutputFolder("out", m), "out/error/2018-03-12/NULL/");
  m.SetAttribute("submission_timestamp", "../../etc/passwd/xx");
  EXPECT_EQ(ErrorOutputFolder("out", m), "out/error/NULL/NULL/");
}

TEST(PubsubCorpusTest, EveryFileParsesLineByLine) {
  BF_REQUIRE_CORPUS();
  fs::path dir = testing::CorpusDir() / "pubsub";
  int files = 0, lines = 0, errors = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".ndjson") continue;
    ++files;
    bool invalid_file = entry.path().filename() == "basic-messages-invalid.ndjson";
    int n = 0;
    for (const std::string& line : Lines(entry.path())) {
      ++n;
      ++lines;
      auto m = ParsePubsubLine(line, LineFormat::kAuto);
      if (invalid_file && n <= 2) {
        ++errors;
        EXPECT_FALSE(m.ok()) << entry.path() << ":" << n;
        EXPECT_TRUE(m.status().message().starts_with("not valid JSON")) << m.status().message();
      } else {
        EXPECT_TRUE(m.ok()) << entry.path() << ":" << n << ": " << m.status().ToString();
      }
    }
  }
  EXPECT_EQ(files, 18);
  EXPECT_EQ(errors, 2);
  EXPECT_GT(lines, 50);
}

TEST(PubsubCorpusTest, InvalidFileKeepsGoing) {
  BF_REQUIRE_CORPUS();
  auto lines = Lines(testing::CorpusDir() / "pubsub/testdata/basic-messages-invalid.ndjson");
  ASSERT_EQ(lines.size(), 3u);
  PubsubLineParser parser;
  PubsubMessage m;
  EXPECT_FALSE(parser.Parse(lines[0], &m).ok());
  Status s = parser.Parse(lines[1], &m);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.message().starts_with("not valid JSON")) << s.message();
  EXPECT_TRUE(parser.Parse(lines[2], &m).ok());
  EXPECT_TRUE(m.attributes.empty());
  EXPECT_TRUE(m.payload.empty());
}

TEST(PubsubCorpusTest, GzippedPayloadsDecode) {
  BF_REQUIRE_CORPUS();
  auto gz = Lines(testing::CorpusDir() / "pubsub/pubsub-integration/gzipped.ndjson");
  auto plain = Lines(testing::CorpusDir() / "pubsub/pubsub-integration/truncated.ndjson");
  ASSERT_EQ(gz.size(), plain.size());
  for (size_t i = 0; i < gz.size(); ++i) {
    auto g = ParsePubsubLine(gz[i]);
    auto p = ParsePubsubLine(plain[i]);
    ASSERT_TRUE(g.ok() && p.ok());
    ASSERT_TRUE(IsGzip(g->payload));
    std::string out;
    ASSERT_TRUE(Gunzip(g->payload, &out).ok());
    EXPECT_EQ(out, p->payload) << i;
    EXPECT_EQ(g->attributes, p->attributes);
  }
}

TEST(PubsubCorpusTest, AttributeLimitsMatchTheReference) {
  BF_REQUIRE_CORPUS();
  auto in = Lines(testing::CorpusDir() / "pubsub/pubsub-integration/input.ndjson");
  auto want = Lines(testing::CorpusDir() / "pubsub/pubsub-integration/truncated.ndjson");
  ASSERT_EQ(in.size(), want.size());
  for (size_t i = 0; i < in.size(); ++i) {
    auto m = ParsePubsubLine(in[i]);
    auto w = ParsePubsubLine(want[i]);
    ASSERT_TRUE(m.ok() && w.ok());
    ApplyPubsubConstraints(&*m);
    EXPECT_EQ(*m, *w) << i;
  }
}

TEST(PubsubCorpusTest, ErrorOutputLinesRoundTripByteForByte) {
  BF_REQUIRE_CORPUS();
  for (const std::string& line :
       Lines(testing::CorpusDir() / "pubsub/decoder-integration/error-output.ndjson")) {
    auto m = ParsePubsubLine(line);
    ASSERT_TRUE(m.ok());
    EXPECT_NE(m->FindAttribute("error_type"), nullptr);
    EXPECT_EQ(SerializePubsubLine(*m), line);
  }
}

}  // namespace
}  // namespace backfill::ingest
