#include "ingest/pubsub.h"

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

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
  EXPECT_TRUE(ParsePubsubLine(R"({"attributeMap":{"host":"test"},"payload":"missing_closing_quote})")
                  .status().message().starts_with("not valid JSON"));
  EXPECT_EQ(ParsePubsubLine(R"({"attributeMap":[1],"payload":""})").status().message(),
            "attributeMap must be an object or null");
  EXPECT_EQ(ParsePubsubLine(R"({"attributeMap":{"a":{}},"payload":""})").status().message(),
            "attribute 'a' must be a string, not an object or array");
  EXPECT_EQ(ParsePubsubLine(R"({"payload":"dG$z"})").status().message(),
            "payload: invalid base64 at byte 2: unexpected character '$'");
  EXPECT_EQ(ParsePubsubLine(R"({"payload":3})").status().message(),
            "payload must be a base64 string or null");
  EXPECT_EQ(ParsePubsubLine(R"([1])").status().message(), "line is not a JSON object");
  EXPECT_EQ(ParsePubsubLine(R"({"clientId":"abc"})").status().message(),
            "unexpected key 'clientId' in a PubsubMessage line");
  // The same bare document is a payload in auto mode.
  auto m = ParsePubsubLine(R"({"clientId":"abc"})", LineFormat::kAuto);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->payload, R"({"clientId":"abc"})");
}

TEST(PubsubTest, SerializeRoundTrips) {
  PubsubMessage m;
  m.attributes = {{"z", "last"}, {"a", "first \"quoted\""}};
  m.payload = std::string("\x1f\x8b\x00binary", 9);
  std::string line = SerializePubsubLine(m);
  EXPECT_TRUE(line.starts_with(R"({"attributeMap":{"a":"first \"quoted\"","z":"last"},"payload":")"))
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
