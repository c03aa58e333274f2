#include "core/schema.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace backfill {
namespace {

TEST(SchemaTest, MapsEveryBigQueryTypeAndKeepsOrder) {
  auto s = ParseBqSchema(R"([
    {"name":"z","type":"STRING","mode":"NULLABLE"},
    {"name":"a","type":"INTEGER","mode":"REPEATED"},
    {"name":"ts","type":"TIMESTAMP"},
    {"name":"rec","type":"RECORD","mode":"REPEATED","fields":[
      {"name":"key","type":"STRING"},{"name":"value","type":"FLOAT"}]},
    {"name":"b","type":"BOOLEAN"},{"name":"d","type":"DATE"},{"name":"j","type":"JSON"},
    {"name":"n","type":"NUMERIC"},{"name":"by","type":"BYTES"},{"name":"dt","type":"DATETIME"}
  ])",
                         "t.bq");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->fields[0].name, "z");
  EXPECT_EQ(DuckDbType(s->fields[1]), "BIGINT[]");
  EXPECT_EQ(DuckDbType(s->fields[2]), "TIMESTAMPTZ");
  EXPECT_EQ(DuckDbType(s->fields[3]), "STRUCT(\"key\" VARCHAR, \"value\" DOUBLE)[]");
  EXPECT_EQ(DuckDbType(s->fields[4]), "BOOLEAN");
  EXPECT_EQ(DuckDbType(s->fields[6]), "JSON");
  EXPECT_EQ(DuckDbType(s->fields[7]), "DECIMAL(38,9)");
  EXPECT_EQ(DuckDbType(s->fields[9]), "TIMESTAMP");
  EXPECT_EQ(GoogleSqlType(s->fields[3]), "ARRAY<STRUCT<`key` STRING, `value` FLOAT64>>");
  EXPECT_EQ(s->LeafCount(), 11u);
}

TEST(SchemaTest, ErrorsNameTheFileAndFieldPath) {
  auto s = ParseBqSchema(
      R"([{"name":"p","type":"RECORD","fields":[{"name":"x","type":"INTEGR"}]}])", "bad.bq");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "bad.bq:1: p.x: unknown type 'INTEGR'");
  EXPECT_FALSE(ParseBqSchema("[", "a.bq").ok());
  EXPECT_FALSE(ParseBqSchema("[]", "a.bq").ok());
  EXPECT_FALSE(ParseBqSchema(R"([{"name":"r","type":"RECORD"}])", "a.bq").ok());
  EXPECT_FALSE(
      ParseBqSchema(R"([{"name":"a","type":"STRING"},{"name":"a","type":"STRING"}])", "a.bq").ok());
}

TEST(SchemaTest, RoundTripsAndDiffs) {
  auto a = ParseBqSchema(
      R"([{"name":"x","type":"INT64"},{"name":"r","type":"RECORD","fields":[{"name":"y","type":"STRING"}]}])",
      "a");
  ASSERT_TRUE(a.ok());
  auto again = ParseBqSchema(SchemaToBqJson(*a), "b");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(a->SameShape(*again));
  auto b = ParseBqSchema(
      R"([{"name":"x","type":"STRING"},{"name":"r","type":"RECORD","fields":[{"name":"y","type":"STRING"},{"name":"z","type":"BOOL"}]}])",
      "c");
  ASSERT_TRUE(b.ok());
  auto diff = DiffSchemas(*a, *b);
  ASSERT_EQ(diff.size(), 2u);
  EXPECT_EQ(diff[0], "column x: NULLABLE INT64 -> NULLABLE STRING");
  EXPECT_EQ(diff[1], "added column r.z");
}

TEST(SchemaTest, ParsesEveryCorpusSchema) {
  BF_REQUIRE_CORPUS();
  int count = 0;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(testing::CorpusDir() / "schemas")) {
    if (e.path().extension() != ".bq") continue;
    auto s = ParseBqSchema(testing::ReadFile(e.path()), e.path().filename().string());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_FALSE(DuckDbColumnList(*s).empty());
    if (e.path().filename() == "main.5.bq") {
      EXPECT_GT(s->LeafCount(), 6000u);
    }
    ++count;
  }
  EXPECT_GE(count, 20);
}

TEST(SchemaTest, ErrorsNameTheLineOfTheField) {
  // Sub-fields, a "fields" key before "type", an object value that is not a field and a
  // string containing brackets must not throw the count off.
  const char* doc = R"({"fields": [
  {"name": "a", "type": "STRING", "description": "[{\"x\"}]", "policyTags": {"names": []}},
  {"fields": [
     {"name": "c", "type": "INT64"},
     {"name": "d", "type": "FLOAT"}
   ],
   "name": "b", "type": "RECORD"},
  {"name": "e",
   "type": "INTEGR"}
]})";
  auto s = ParseBqSchema(doc, "dir/x.1.bq");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "dir/x.1.bq:8: e: unknown type 'INTEGR'");
  auto sub = ParseBqSchema(
      "[\n {\"name\": \"r\", \"type\": \"RECORD\", \"fields\": [\n  {\"name\": \"x\", \"type\": "
      "\"STRING\"},\n  {\"name\": \"y\", \"mode\": \"SOMETIMES\", \"type\": \"STRING\"}]}\n]",
      "s.bq");
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.status().message(), "s.bq:4: r.y: unknown mode '\"SOMETIMES\"'");
  auto dup = ParseBqSchema(
      "[{\"name\": \"a\", \"type\": \"STRING\"},\n{\"name\": \"a\", \"type\": \"INT64\"}]", "d.bq");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message(), "d.bq:2: duplicate column 'a'");
  auto not_object = ParseBqSchema("[\n\n 7]", "n.bq");
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.status().message(), "n.bq:3: a field must be a JSON object");
}

// Regression (found while writing fuzz/fuzz_bq_schema): nlohmann::json throws out_of_range,
// not parse_error, for a number beyond a double's range; it escaped ParseBqSchema and ended
// the process.
TEST(SchemaTest, ANumberTooLargeForADoubleIsAnErrorNotAnException) {
  auto s = ParseBqSchema(R"([{"name": "a", "type": "STRING", "x": 1e400}])", "big.bq");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("big.bq: not valid JSON"), std::string::npos)
      << s.status().message();
}

// Regression (fuzz/fuzz_bq_schema): a RECORD with two sub-fields of the same name parsed, then
// differed from itself (DiffSchemas) and could not become a DuckDB STRUCT. BigQuery and DuckDB
// compare names without regard to case, so "a" and "A" are the same column too.
TEST(SchemaTest, DuplicateFieldNamesAreRefusedAtEveryLevel) {
  auto nested = ParseBqSchema(R"([
  {"name": "metadata", "type": "RECORD", "fields": [
    {"name": "geo", "type": "STRING"},
    {"name": "geo", "type": "INT64"}]}
])",
                              "m.bq");
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(nested.status().message(), "m.bq:4: metadata: duplicate field 'geo'");
  auto cased = ParseBqSchema(
      R"([{"name": "Client_Id", "type": "STRING"}, {"name": "client_id", "type": "STRING"}])",
      "c.bq");
  ASSERT_FALSE(cased.ok());
  EXPECT_EQ(cased.status().message(), "c.bq:1: duplicate column 'client_id'");
  // The same name in different records is fine.
  EXPECT_TRUE(ParseBqSchema(
                  R"([{"name": "a", "type": "RECORD", "fields": [{"name": "x", "type": "STRING"}]},
                               {"name": "b", "type": "RECORD", "fields": [{"name": "x", "type": "STRING"}]}])",
                  "ok.bq")
                  .ok());
}

}  // namespace
}  // namespace backfill
