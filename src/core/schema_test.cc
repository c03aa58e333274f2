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
  ])", "t.bq");
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
  auto s = ParseBqSchema(R"([{"name":"p","type":"RECORD","fields":[{"name":"x","type":"INTEGR"}]}])",
                         "bad.bq");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "bad.bq: p.x: unknown type 'INTEGR'");
  EXPECT_FALSE(ParseBqSchema("[", "a.bq").ok());
  EXPECT_FALSE(ParseBqSchema("[]", "a.bq").ok());
  EXPECT_FALSE(ParseBqSchema(R"([{"name":"r","type":"RECORD"}])", "a.bq").ok());
  EXPECT_FALSE(ParseBqSchema(R"([{"name":"a","type":"STRING"},{"name":"a","type":"STRING"}])", "a.bq").ok());
}

TEST(SchemaTest, RoundTripsAndDiffs) {
  auto a = ParseBqSchema(R"([{"name":"x","type":"INT64"},{"name":"r","type":"RECORD","fields":[{"name":"y","type":"STRING"}]}])", "a");
  ASSERT_TRUE(a.ok());
  auto again = ParseBqSchema(SchemaToBqJson(*a), "b");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(a->SameShape(*again));
  auto b = ParseBqSchema(R"([{"name":"x","type":"STRING"},{"name":"r","type":"RECORD","fields":[{"name":"y","type":"STRING"},{"name":"z","type":"BOOL"}]}])", "c");
  ASSERT_TRUE(b.ok());
  auto diff = DiffSchemas(*a, *b);
  ASSERT_EQ(diff.size(), 2u);
  EXPECT_EQ(diff[0], "column x: NULLABLE INT64 -> NULLABLE STRING");
  EXPECT_EQ(diff[1], "added column r.z");
}

TEST(SchemaTest, ParsesEveryCorpusSchema) {
  BF_REQUIRE_CORPUS();
  int count = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(testing::CorpusDir() / "schemas")) {
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

}  // namespace
}  // namespace backfill
