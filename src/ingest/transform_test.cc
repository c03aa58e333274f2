#include "ingest/transform.h"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/schema.h"
#include "ingest/row.h"

namespace backfill::ingest {
namespace {

using nlohmann::json;

std::shared_ptr<const CompiledSchema> SchemaOf(const std::string& bq) {
  auto parsed = ParseBqSchema(bq, "test.bq");
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return CompiledSchema::Compile(parsed->fields);
}

const char* kLiveSchema = R"([
  {"name": "additional_properties", "type": "STRING", "mode": "NULLABLE"},
  {"name": "client_id", "type": "STRING", "mode": "NULLABLE"},
  {"name": "document_id", "type": "STRING", "mode": "NULLABLE"},
  {"name": "metadata", "type": "RECORD", "mode": "NULLABLE", "fields": [
    {"name": "geo", "type": "RECORD", "mode": "NULLABLE", "fields": [
      {"name": "city", "type": "STRING"}, {"name": "country", "type": "STRING"}]},
    {"name": "header", "type": "RECORD", "mode": "NULLABLE", "fields": [
      {"name": "date", "type": "STRING"}, {"name": "x_debug_id", "type": "STRING"},
      {"name": "x_foxsec_ip_reputation", "type": "STRING"}]},
    {"name": "uri", "type": "RECORD", "mode": "NULLABLE", "fields": [
      {"name": "app_name", "type": "STRING"}]},
    {"name": "user_agent", "type": "RECORD", "mode": "NULLABLE", "fields": [
      {"name": "browser", "type": "STRING"}, {"name": "os", "type": "STRING"}]}]},
  {"name": "normalized_channel", "type": "STRING", "mode": "NULLABLE"},
  {"name": "payload", "type": "RECORD", "mode": "NULLABLE", "fields": [
    {"name": "histograms", "type": "RECORD", "fields": [
      {"name": "use_counter2_x", "type": "STRING"}]},
    {"name": "json_thing", "type": "JSON"},
    {"name": "ratios", "type": "FLOAT64", "mode": "REPEATED"},
    {"name": "when", "type": "TIMESTAMP"}]},
  {"name": "sample_id", "type": "INT64", "mode": "NULLABLE"},
  {"name": "submission_timestamp", "type": "TIMESTAMP", "mode": "NULLABLE"}
])";

PubsubMessage Message(std::string payload) {
  PubsubMessage m;
  m.attributes = {{"document_namespace", "telemetry"},
                  {"document_type", "main"},
                  {"submission_timestamp", "2020-03-19T10:00:00Z"},
                  {"document_id", "abc"},
                  {"sample_id", "7"},
                  {"normalized_channel", "nightly"},
                  {"geo_country", "DE"},
                  {"geo_city", "Berlin"},
                  {"geo_db_version", "ignored: no column"},
                  {"x_debug_id", "dbg"},
                  {"app_name", "Firefox"},
                  {"user_agent_browser", "Firefox"}};
  m.payload = std::move(payload);
  return m;
}

json RowOf(const Transformer& t, const CompiledSchema& schema) {
  return json::parse(RowToJson(t.row().root(), schema.fields()));
}

TEST(TransformTest, MetadataColumnsComeFromAttributes) {
  auto schema = SchemaOf(kLiveSchema);
  Transformer t;
  ASSERT_TRUE(t.TransformMessage(*schema, Message(R"({"clientId":"c1","extra":1})")).ok());
  json row = RowOf(t, *schema);
  EXPECT_EQ(row["client_id"], "c1");
  EXPECT_EQ(row["document_id"], "abc");
  EXPECT_EQ(row["submission_timestamp"], "2020-03-19T10:00:00Z");
  EXPECT_EQ(row["sample_id"], 7);
  EXPECT_EQ(row["normalized_channel"], "nightly");
  EXPECT_EQ(row["metadata"]["geo"], json({{"city", "Berlin"}, {"country", "DE"}}));
  EXPECT_EQ(row["metadata"]["header"], json({{"x_debug_id", "dbg"}}));
  EXPECT_EQ(row["metadata"]["uri"], json({{"app_name", "Firefox"}}));  // telemetry only
  EXPECT_EQ(row["metadata"]["user_agent"], json({{"browser", "Firefox"}}));
  EXPECT_EQ(row["additional_properties"], R"({"extra":1})");
  EXPECT_EQ(*t.additional_properties(), R"({"extra":1})");
}

TEST(TransformTest, RowIsPositionalInSchemaOrder) {
  auto schema = SchemaOf(kLiveSchema);
  Transformer t;
  ASSERT_TRUE(t.TransformMessage(*schema, Message(R"({"clientId":"c1"})")).ok());
  RowValue root = t.row().root();
  ASSERT_EQ(root.kind(), RowKind::kRecord);
  ASSERT_EQ(root.size(), schema->fields().size());
  EXPECT_EQ(root.child(0).string_value(), "{}");  // additional_properties
  EXPECT_EQ(root.child(1).string_value(), "c1");  // client_id
  EXPECT_TRUE(root.child(5).is_null());           // payload
  EXPECT_EQ(root.child(6).int_value(), 7);        // sample_id
  RowValue metadata = root.child(3);
  ASSERT_EQ(metadata.size(), 4u);
  EXPECT_EQ(metadata.child(0).child(1).string_value(), "DE");
}

TEST(TransformTest, UriOnlyForTelemetry) {
  auto schema = SchemaOf(kLiveSchema);
  PubsubMessage m = Message("{}");
  m.SetAttribute("document_namespace", "org-mozilla-fenix");
  Transformer t;
  ASSERT_TRUE(t.TransformMessage(*schema, m).ok());
  EXPECT_FALSE(RowOf(t, *schema)["metadata"].contains("uri"));
}

TEST(TransformTest, MissingAttributes) {
  auto schema = SchemaOf(kLiveSchema);
  PubsubMessage m;
  m.payload = R"({"clientId":"c1"})";
  Transformer t;
  ASSERT_TRUE(t.TransformMessage(*schema, m).ok());
  json row = RowOf(t, *schema);
  EXPECT_FALSE(row.contains("submission_timestamp"));
  EXPECT_FALSE(row.contains("sample_id"));
  // Empty geo/header/user_agent records, as the reference writes {} for them; no uri.
  EXPECT_EQ(row["metadata"], json::parse(R"({"geo":{},"header":{},"user_agent":{}})"));
  // A sample_id that is not an int is left out, as Integer.parseInt fails.
  m.attributes = {{"sample_id", "x7"}};
  ASSERT_TRUE(t.TransformMessage(*schema, m).ok());
  EXPECT_FALSE(RowOf(t, *schema).contains("sample_id"));
}

TEST(TransformTest, PayloadMetadataIsPassedThrough) {
  auto schema = SchemaOf(kLiveSchema);
  Transformer t;
  ASSERT_TRUE(
      t.TransformMessage(
           *schema,
           Message(
               R"({"metadata":{"geo":{"country":"FR","unknown":1},"header":{"date":"d"}},"x":2})"))
          .ok());
  json row = RowOf(t, *schema);
  EXPECT_EQ(row["metadata"], json::parse(R"({"geo":{"country":"FR"},"header":{"date":"d"}})"));
  EXPECT_EQ(row["additional_properties"], R"({"x":2})");
  EXPECT_FALSE(t.passthrough_metadata().has_value());
}

TEST(TransformTest, PayloadValuesReplaceAttributeValues) {
  auto schema = SchemaOf(kLiveSchema);
  Transformer t;
  ASSERT_TRUE(
      t.TransformMessage(
           *schema, Message(R"({"submission_timestamp":"2021-01-01T00:00:00Z","sample_id":null})"))
          .ok());
  json row = RowOf(t, *schema);
  EXPECT_EQ(row["submission_timestamp"], "2021-01-01T00:00:00Z");
  EXPECT_FALSE(row.contains("sample_id"));
}

TEST(TransformTest, CoercionsInNestedColumns) {
  auto schema = SchemaOf(kLiveSchema);
  Transformer t;
  ASSERT_TRUE(t.TransformMessage(*schema, Message(R"({"payload":{
      "histograms":{"use_counter2_x":{"histogram_type":2,"sum":3,"values":{"0":0,"1":3}}},
      "jsonThing":{"b":[1,2.5,"x"],"a":null},
      "ratios":[1,2.5,true],
      "when":"2020-01-01 00:00:00"}})"))
                  .ok());
  json row = RowOf(t, *schema);
  EXPECT_EQ(row["payload"]["histograms"]["use_counter2_x"], "3");
  EXPECT_EQ(row["payload"]["json_thing"], R"({"b":[1,2.5,"x"],"a":null})");
  EXPECT_EQ(row["payload"]["ratios"], json::parse("[1.0,2.5,1.0]"));
  EXPECT_EQ(row["payload"]["when"], "2020-01-01 00:00:00");
  EXPECT_EQ(row["additional_properties"], "{}");
}

TEST(TransformTest, ValuesBigQueryWouldRejectFailTheRecord) {
  auto schema = SchemaOf(kLiveSchema);
  Transformer t;
  Status s = t.TransformMessage(*schema, Message(R"({"payload":"a string"})"));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "column 'payload' is a record but the value is a string");
  s = t.TransformMessage(*schema, Message(R"({"payload":{"ratios":[1,"x"]}})"));
  EXPECT_EQ(s.message(), "column 'ratios' (FLOAT64 REPEATED): element 1 is a string");
  s = t.TransformMessage(*schema, Message(R"({"payload":{"when":{"t":1}}})"));
  EXPECT_EQ(s.message(), "column 'when' (TIMESTAMP) cannot hold a JSON object");
  s = t.TransformMessage(*schema, Message(R"({"metadata":"x"})"));
  EXPECT_EQ(s.message(), "payload metadata is a string, not an object");
  // And the transformer works again afterwards, without leftovers from the failed record.
  ASSERT_TRUE(t.TransformMessage(*schema, Message(R"({"clientId":"ok"})")).ok());
  EXPECT_EQ(RowOf(t, *schema)["client_id"], "ok");
  EXPECT_EQ(RowOf(t, *schema)["additional_properties"], "{}");
}

TEST(TransformTest, BadPayloadsAreRecordErrors) {
  auto schema = SchemaOf(kLiveSchema);
  Transformer t;
  EXPECT_EQ(t.TransformMessage(*schema, Message("[]")).message(), "payload is not a JSON object");
  EXPECT_TRUE(t.TransformMessage(*schema, Message("{\"a\""))
                  .message()
                  .starts_with("payload is not valid JSON"));
  EXPECT_EQ(t.TransformMessage(*schema, Message("")).message(), "payload is empty");
  EXPECT_EQ(t.TransformMessage(*schema, Message(std::string("\x1f\x8b\x08\x00", 4))).message(),
            "truncated gzip payload");
}

TEST(TransformTest, StrictSchemaDropsLeftovers) {
  auto schema = SchemaOf(kLiveSchema);
  Transformer t;
  TransformOptions strict;
  strict.strict_schema = true;
  ASSERT_TRUE(t.TransformMessage(*schema, Message(R"({"clientId":"c","extra":1})"), strict).ok());
  EXPECT_FALSE(t.additional_properties().has_value());
  EXPECT_FALSE(RowOf(t, *schema).contains("additional_properties"));
}

TEST(TransformTest, ReusedAcrossRecords) {
  auto schema = SchemaOf(kLiveSchema);
  Transformer t;
  for (int i = 0; i < 100; ++i) {
    std::string payload = "{\"clientId\":\"c" + std::to_string(i) + "\",\"k" +
                          std::to_string(i % 3) + "\":" + std::to_string(i) + "}";
    ASSERT_TRUE(t.TransformMessage(*schema, Message(payload)).ok());
    json row = RowOf(t, *schema);
    EXPECT_EQ(row["client_id"], "c" + std::to_string(i));
    EXPECT_EQ(row["additional_properties"],
              "{\"k" + std::to_string(i % 3) + "\":" + std::to_string(i) + "}");
  }
}

// Left-over keys are escaped as Jackson writes them, at the top, nested and in maps.
TEST(TransformTest, LeftOverKeysAreEscaped) {
  auto schema = SchemaOf(kLiveSchema);
  Transformer t;
  ASSERT_TRUE(t.TransformMessage(*schema, Message(R"({"a\"b":1,"clientId":"c",
      "payload":{"histograms":{"q\\x":2,"use_counter2_x":null},"n\nl":[true]},
      "tab\there":"v","plain":4})"))
                  .ok());
  EXPECT_EQ(RowOf(t, *schema)["additional_properties"],
            R"({"a\"b":1,"payload":{"histograms":{"q\\x":2},"n\nl":[true]},"tab\there":"v",)"
            R"("plain":4})");
  auto maps = SchemaOf(R"([{"name":"m","type":"RECORD","mode":"REPEATED","fields":[
      {"name":"key","type":"STRING"},{"name":"value","type":"INT64"}]},
      {"name":"k","type":"RECORD","mode":"REPEATED","fields":[{"name":"key","type":"STRING"}]}])");
  simdjson::dom::parser p;
  simdjson::dom::element e;
  ASSERT_FALSE(p.parse(std::string(R"({"m":{"k\"1":"x","k2":5},"k":{"\u0001":1,"ok":2}})")).get(e));
  ASSERT_TRUE(t.TransformObject(*maps, simdjson::dom::object(e), false).ok());
  EXPECT_EQ(*t.additional_properties(), R"({"m":{"k\"1":"x"},"k":{"\u0001":1,"ok":2}})");
}

TEST(TransformTest, EmptyMapKeepsAnEmptyList) {
  auto schema = SchemaOf(R"([{"name":"m","type":"RECORD","mode":"REPEATED","fields":[
      {"name":"key","type":"STRING"},{"name":"value","type":"INT64"}]}])");
  Transformer t;
  simdjson::dom::parser p;
  simdjson::dom::element e;
  ASSERT_FALSE(p.parse(std::string(R"({"m":{}})")).get(e));
  ASSERT_TRUE(t.TransformObject(*schema, simdjson::dom::object(e), false).ok());
  EXPECT_EQ(RowToJson(t.row().root(), schema->fields()), R"({"m":[]})");
  // Already expanded key/value lists are kept as they are (gcp-ingestion issue 2609).
  ASSERT_FALSE(p.parse(std::string(R"({"m":[{"key":"a","value":1}]})")).get(e));
  ASSERT_TRUE(t.TransformObject(*schema, simdjson::dom::object(e), false).ok());
  EXPECT_EQ(RowToJson(t.row().root(), schema->fields()), R"({"m":[{"key":"a","value":1}]})");
}

TEST(TransformTest, SnakeCaseExamples) {
  EXPECT_EQ(SnakeCase("activeGMPlugins"), "active_gm_plugins");
  EXPECT_EQ(SnakeCase("contentblocking.category"), "contentblocking_category");
  EXPECT_EQ(SnakeCase("liveSink"), "live_sink");
  EXPECT_EQ(SnakeCase("test_int64 "), "test_int64");
  EXPECT_EQ(SnakeCase("caf\xc3\xa9Name"), "caf_name");
  EXPECT_EQ(ConvertNameForBq("64bit"), "_64bit");
  EXPECT_EQ(ConvertNameForBq(""), "");
}

TEST(FormatTest, RawAndDecoded) {
  PubsubMessage m;
  m.attributes = {{"document_namespace", "telemetry"}, {"geo_city", "X"}, {"sample_id", "5"}};
  m.payload = "test";
  EXPECT_EQ(json::parse(RawFormatJson(m)),
            json::parse(R"({"document_namespace":"telemetry","geo_city":"X","sample_id":"5",
                            "payload":"dGVzdA=="})"));
  EXPECT_EQ(json::parse(DecodedFormatJson(m)), json::parse(R"({"metadata":{"geo":{"city":"X"},
      "isp":{},"user_agent":{},"header":{},"uri":{},"document_namespace":"telemetry"},
      "sample_id":5,"payload":"dGVzdA=="})"));
}

}  // namespace
}  // namespace backfill::ingest
