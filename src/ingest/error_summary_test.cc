// SummarizeErrors over small error-output trees: groups and bytes, both line shapes, gzip,
// undecodable lines, --dates, the classification rules and their overrides, and that the
// thread count does not change the result. The incident of testdata/incident is checked
// through the real binary in cli/errors_cli_test.cc.
#include "ingest/error_summary.h"

#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ingest/payload.h"
#include "testing/testing.h"

namespace backfill::ingest {
namespace {

namespace fs = std::filesystem;

std::string Beam(const std::string& type, const std::string& hour, const std::string& error_type,
                 const std::string& message, const std::string& exception = "java.io.IOException") {
  return fmt::format(
      R"({{"attributeMap":{{"document_namespace":"telemetry","document_type":"{}","document_version":"4",)"
      R"("document_id":"x","submission_timestamp":"2020-03-17T{}:00:00Z","error_type":"{}",)"
      R"("error_message":"{}","exception_class":"{}"}},"payload":"{}"}})",
      type, hour, error_type, message, exception, Base64Encode("{}"));
}

std::string Raw(const std::string& day) {
  return fmt::format(
      R"({{"document_namespace":"org-mozilla-fenix","document_type":"baseline","document_version":"1",)"
      R"("submission_timestamp":"{}T04:10:00Z","payload":"{}"}})",
      day, Base64Encode("{}"));
}

class ErrorSummaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string rate = Beam("event", "10", "SinkError", "403 Forbidden: rateLimitExceeded");
    const std::string parse =
        Beam("main", "11", "ParsePayload", "payload is not valid JSON", "ParseException");
    a_ = rate + "\n" + rate + "\n" + parse + "\nnot json\n";
    testing::WriteFile(dir_.path() / "error/2020-03-17/10/a.ndjson", a_);
    testing::WriteFile(dir_.path() / "error/2020-03-17/04/b.ndjson.gz",
                       testing::Gzip(Raw("2020-03-17") + "\n" + Raw("2020-03-18") + "\n" +
                                     Beam("event", "12", "Mystery", "something odd") + "\n"));
  }

  ErrorSummary Summarize(ErrorSummaryOptions o) {
    if (o.inputs.empty()) o.inputs = {dir_.path() / "error"};
    auto r = SummarizeErrors(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : ErrorSummary{};
  }

  testing::TempDir dir_;
  std::string a_;
};

TEST_F(ErrorSummaryTest, GroupsClassifiesAndCounts) {
  ErrorSummary s = Summarize({});
  EXPECT_EQ(s.records, 6);
  EXPECT_EQ(s.raw_lines, 2);
  EXPECT_EQ(s.beam_lines, 4);
  ASSERT_EQ(s.groups.size(), 5u);
  // Sorted by key: table, day, error_type ("Mystery" before "SinkError").
  const ErrorGroup& fenix17 = s.groups[0];
  EXPECT_EQ(fenix17.key,
            (std::vector<std::string>{"org_mozilla_fenix_live.baseline_v1", "2020-03-17", ""}));
  EXPECT_EQ(fenix17.error_class, ErrorClass::kUnclassified);
  EXPECT_NE(fenix17.rule.find("no error attributes"), std::string::npos) << fenix17.rule;
  const ErrorGroup& parse = s.groups[4];
  EXPECT_EQ(parse.key,
            (std::vector<std::string>{"telemetry_live.main_v4", "2020-03-17", "ParsePayload"}));
  EXPECT_EQ(parse.error_class, ErrorClass::kData);
  const ErrorGroup& mystery = s.groups[2];
  EXPECT_EQ(mystery.key[2], "Mystery");
  EXPECT_EQ(mystery.error_class, ErrorClass::kUnclassified);
  EXPECT_EQ(mystery.rule, "no rule matched");
  const ErrorGroup& rate = s.groups[3];
  EXPECT_EQ(rate.key,
            (std::vector<std::string>{"telemetry_live.event_v4", "2020-03-17", "SinkError"}));
  EXPECT_EQ(rate.records, 2);
  EXPECT_EQ(rate.error_class, ErrorClass::kInfrastructure);
  EXPECT_EQ(rate.rule, "default:rate-limit (any contains \"RateLimit\")");
  const size_t rate_line = a_.find('\n') + 1;
  EXPECT_EQ(rate.bytes, static_cast<int64_t>(2 * rate_line));
  EXPECT_EQ(s.per_class[0], 2);
  EXPECT_EQ(s.per_class[1], 1);
  EXPECT_EQ(s.per_class[2], 3);

  ASSERT_EQ(s.messages.size(), 3u);
  EXPECT_EQ(s.messages[0].error_message, "403 Forbidden: rateLimitExceeded");
  EXPECT_EQ(s.messages[0].records, 2);
  EXPECT_EQ(s.messages[0].example.line, 1);
  EXPECT_NE(s.messages[0].example.file.find("a.ndjson"), std::string::npos);

  ASSERT_EQ(s.undecodable.size(), 1u);
  EXPECT_EQ(s.undecodable_lines, 1);
  EXPECT_EQ(s.undecodable[0].line, 4);
  EXPECT_NE(s.undecodable[0].reason.find("not valid JSON"), std::string::npos)
      << s.undecodable[0].reason;
  ASSERT_EQ(s.files.size(), 2u);
  EXPECT_EQ(s.files[0].lines + s.files[1].lines, 7);
}

TEST_F(ErrorSummaryTest, DatesAndOtherGroupings) {
  ErrorSummaryOptions o;
  o.dates = *ParseDateRange("2020-03-18");
  o.by = {ErrorDimension::kDay, ErrorDimension::kHour};
  ErrorSummary s = Summarize(o);
  EXPECT_EQ(s.records, 1);
  EXPECT_EQ(s.outside_dates, 5);
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_EQ(s.groups[0].key, (std::vector<std::string>{"2020-03-18", "04"}));
}

TEST_F(ErrorSummaryTest, ThreadCountDoesNotChangeTheResult) {
  for (int i = 0; i < 6; ++i) {
    testing::WriteFile(dir_.path() / fmt::format("error/2020-03-17/1{}/c.ndjson", i), a_);
  }
  ErrorSummaryOptions one, four;
  one.threads = 1;
  four.threads = 4;
  ErrorSummary a = Summarize(one), b = Summarize(four);
  ASSERT_EQ(a.groups.size(), b.groups.size());
  for (size_t i = 0; i < a.groups.size(); ++i) {
    EXPECT_EQ(a.groups[i].key, b.groups[i].key);
    EXPECT_EQ(a.groups[i].records, b.groups[i].records);
    EXPECT_EQ(a.groups[i].bytes, b.groups[i].bytes);
  }
  ASSERT_EQ(a.messages.size(), b.messages.size());
  for (size_t i = 0; i < a.messages.size(); ++i) {
    EXPECT_EQ(a.messages[i].records, b.messages[i].records);
    EXPECT_EQ(a.messages[i].example.file, b.messages[i].example.file);
    EXPECT_EQ(a.messages[i].example.line, b.messages[i].example.line);
  }
  ASSERT_EQ(a.undecodable.size(), b.undecodable.size());
  EXPECT_EQ(a.undecodable[0].file, b.undecodable[0].file);
}

TEST_F(ErrorSummaryTest, RulesFromTomlOverrideTheDefaults) {
  testing::WriteFile(dir_.path() / "backfill.toml", R"(
[warehouse]
time_travel_hours = 168

[[triage.rules]]
name = "mystery-is-replayable"
field = "error_type"
contains = "mystery"
class = "infrastructure"

[[triage.rules]]
name = "forbidden-is-data"
field = "error_message"
contains = "403 Forbidden"
class = "data"
)");
  auto rules = LoadErrorRules(dir_.path() / "backfill.toml");
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ((*rules)[0].name, "backfill.toml:mystery-is-replayable");
  ErrorSummaryOptions o;
  o.rules = *rules;
  ErrorSummary s = Summarize(o);
  EXPECT_EQ(s.groups[2].error_class, ErrorClass::kInfrastructure);
  EXPECT_EQ(s.groups[2].rule,
            "backfill.toml:mystery-is-replayable (error_type contains \"mystery\")");
  EXPECT_EQ(s.groups[3].error_class, ErrorClass::kData);

  testing::WriteFile(dir_.path() / "bad.toml",
                     "[[triage.rules]]\nname = \"x\"\ncontains = \"y\"\nclass = \"maybe\"\n");
  auto bad = LoadErrorRules(dir_.path() / "bad.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.toml:1: triage rule: unknown error class 'maybe'"),
            std::string::npos)
      << bad.status().ToString();
  testing::WriteFile(dir_.path() / "none.toml", "[warehouse]\n");
  EXPECT_TRUE(LoadErrorRules(dir_.path() / "none.toml")->empty());
}

TEST(ErrorDimensions, ParsesAndRefuses) {
  auto d = ParseErrorDimensions("table,hour,exception_class");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (std::vector<ErrorDimension>{ErrorDimension::kTable, ErrorDimension::kHour,
                                             ErrorDimension::kExceptionClass}));
  EXPECT_FALSE(ParseErrorDimensions("table,table").ok());
  EXPECT_FALSE(ParseErrorDimensions("tables").ok());
  EXPECT_FALSE(ParseErrorDimensions("").ok());
}

TEST(ErrorRules, DefaultsClassifyWhatTheSinksWrite) {
  auto classify = [](const std::string& type, const std::string& message,
                     const std::string& exception) {
    PubsubMessage m;
    m.SetAttribute("error_type", type);
    m.SetAttribute("error_message", message);
    m.SetAttribute("exception_class", exception);
    for (const auto& r : DefaultErrorRules()) {
      if (r.Matches(m)) return r.error_class;
    }
    return ErrorClass::kUnclassified;
  };
  // The Beam Sink's table lookup failure, as in the incident.
  EXPECT_EQ(
      classify(
          "KeyByBigQueryTableDestination",
          "java.lang.IllegalArgumentException: Resolved destination table does not exist: p:d.t",
          "java.lang.IllegalArgumentException"),
      ErrorClass::kInfrastructure);
  EXPECT_EQ(classify("SinkError", "Quota exceeded", "com.google.cloud.bigquery.BigQueryException"),
            ErrorClass::kInfrastructure);
  EXPECT_EQ(classify("SinkError", "DEADLINE_EXCEEDED", "io.grpc.StatusRuntimeException"),
            ErrorClass::kInfrastructure);
  // Our own sink's record errors (sink.cc: error_type Transform/Route/ParsePubsubMessage).
  EXPECT_EQ(classify("Transform", "payload is not a JSON object", "InvalidArgument"),
            ErrorClass::kData);
  EXPECT_EQ(classify("ParsePubsubMessage", "not valid JSON: ...", "InvalidArgument"),
            ErrorClass::kData);
  EXPECT_EQ(classify("Route", "missing attribute document_type", "InvalidArgument"),
            ErrorClass::kData);
  EXPECT_EQ(classify("DecompressPayload", "java.util.zip.ZipException: invalid block type",
                     "ZipException"),
            ErrorClass::kData);
  EXPECT_EQ(classify("SinkError", "com.google.api.client.http.HttpResponseException: HTTP 503",
                     "HttpResponseException"),
            ErrorClass::kInfrastructure);
  EXPECT_EQ(classify("SinkError", "503 Service Unavailable", "GoogleJsonResponseException"),
            ErrorClass::kInfrastructure);
  // A 503 that is not a status code says nothing about the service.
  EXPECT_EQ(classify("Something", "unexpected token at offset 503", "x"),
            ErrorClass::kUnclassified);
  EXPECT_EQ(classify("Something", "else", "x"), ErrorClass::kUnclassified);
}

}  // namespace
}  // namespace backfill::ingest
