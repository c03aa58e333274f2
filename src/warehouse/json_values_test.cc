// DuckDB values -> BigQuery's JSON encoding, value by value, from real DuckDB results.
#include "warehouse/json_values.h"

#include <gtest/gtest.h>

#include "warehouse/duckdb.h"

namespace backfill {
namespace {

class JsonValuesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open("");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    auto conn = db_.Connect();
    ASSERT_TRUE(conn.ok());
    conn_ = std::move(conn).value();
    ASSERT_TRUE(conn_.Exec("SET TimeZone = 'UTC'").ok());
  }

  // The one row of `select`, as compact JSON text of its cells: [cell, cell, ...].
  std::string Row(const std::string& select) {
    auto r = conn_.Query(select);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    auto rows = ResultRowsAsJson(*r);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    if (!rows.ok() || rows->size() != 1)
      return "rows: " + std::to_string(rows.ok() ? rows->size() : 0);
    return JsonValue((*rows)[0]).dump();
  }

  Database db_;
  Connection conn_;
};

TEST_F(JsonValuesTest, Int64IsANumberOnlyWhereEveryJsonReaderKeepsItExact) {
  EXPECT_EQ(
      Row("SELECT 0::BIGINT, 9007199254740992::BIGINT, -9007199254740992::BIGINT, "
          "9007199254740993::BIGINT, (-9223372036854775808)::BIGINT, 9223372036854775807::BIGINT"),
      R"([0,9007199254740992,-9007199254740992,"9007199254740993","-9223372036854775808",)"
      R"("9223372036854775807"])");
  // DuckDB sums BIGINTs into HUGEINTs: the same rule.
  EXPECT_EQ(Row("SELECT sum(x) FROM (VALUES (9223372036854775807::BIGINT), (1::BIGINT)) t(x)"),
            R"(["9223372036854775808"])");
  EXPECT_EQ(Row("SELECT sum(x) FROM (VALUES (-5::BIGINT), (2::BIGINT)) t(x)"), "[-3]");
}

TEST_F(JsonValuesTest, Float64IsShortestRoundTripWithNonFiniteValuesAsStrings) {
  EXPECT_EQ(
      Row("SELECT 0.1::DOUBLE, -0.0::DOUBLE, 1e300::DOUBLE, 'NaN'::DOUBLE, 'Infinity'::DOUBLE, "
          "'-Infinity'::DOUBLE, 1.0::DOUBLE"),
      R"([0.1,-0.0,1e+300,"NaN","Infinity","-Infinity",1.0])");
}

TEST_F(JsonValuesTest, NumericIsTheExactDecimalAsAString) {
  EXPECT_EQ(Row("SELECT '12345678901234567890123456789.123456789'::DECIMAL(38,9), "
                "'-0.000000001'::DECIMAL(38,9), '1.5'::DECIMAL(4,2), '-12'::DECIMAL(9,0), "
                "'-99999999999999999999999999999.999999999'::DECIMAL(38,9), "
                "'2.000'::DECIMAL(9,3), '-0.5'::DECIMAL(38,9), '0'::DECIMAL(38,9), "
                "'120'::DECIMAL(38,9)"),
            R"(["12345678901234567890123456789.123456789","-0.000000001","1.5","-12",)"
            R"("-99999999999999999999999999999.999999999","2","-0.5","0","120"])");
}

TEST_F(JsonValuesTest, BytesAreBase64OfEveryByte) {
  EXPECT_EQ(Row("SELECT '\\x00\\xFF\\x80a'::BLOB, ''::BLOB, 'abc'::BLOB"),
            R"(["AP+AYQ==","","YWJj"])");
}

TEST_F(JsonValuesTest, DatesAndTimesAreIsoTextWithMicroseconds) {
  EXPECT_EQ(
      Row("SELECT TIMESTAMPTZ '2020-03-17 01:02:03.000004+00', TIMESTAMPTZ '1969-12-31 "
          "23:59:59.999999+00', "
          "TIMESTAMPTZ '2020-03-17 01:00:00+01', DATE '2020-02-29', DATE '0001-01-01', "
          "TIMESTAMP '2020-03-17 01:02:03', TIME '23:59:59.5'"),
      R"(["2020-03-17T01:02:03.000004Z","1969-12-31T23:59:59.999999Z","2020-03-17T00:00:00.000000Z",)"
      R"("2020-02-29","0001-01-01","2020-03-17T01:02:03.000000","23:59:59.500000"])");
}

// A NULL array prints as [] (BigQuery has none); a NULL struct or element stays null.
TEST_F(JsonValuesTest, NestedValuesKeepNullEmptyAndFieldNames) {
  EXPECT_EQ(Row("SELECT {'id': 3, 'tags': ['a', NULL, 'b,c'], 'inner': {'x': NULL}}, "
                "[{'k': 'a', 'v': 1}, NULL, {'k': '{''q'': 1}', 'v': NULL}], "
                "[]::INT[], NULL::INT[], NULL::STRUCT(a INT), [[1, 2], []]"),
            R"([{"id":3,"tags":["a",null,"b,c"],"inner":{"x":null}},)"
            R"([{"k":"a","v":1},null,{"k":"{'q': 1}","v":null}],[],[],null,[[1,2],[]]])");
}

TEST_F(JsonValuesTest, StringsAndJsonColumns) {
  EXPECT_EQ(Row("SELECT 'tab\there \"quoted\" é', '{\"a\": [1, 2]}'::JSON, 'not json'::VARCHAR, "
                "true, NULL"),
            R"(["tab\there \"quoted\" é",{"a":[1,2]},"not json",true,null])");
}

TEST_F(JsonValuesTest, RowsSpanSeveralChunks) {
  auto r = conn_.Query("SELECT range AS i, range % 2 = 0 AS even FROM range(5000)");
  ASSERT_TRUE(r.ok());
  auto rows = ResultRowsAsJson(*r);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 5000u);
  EXPECT_EQ((*rows)[4999][0], 4999);
  EXPECT_EQ((*rows)[4999][1], false);
  EXPECT_EQ((*rows)[2048][0], 2048);
}

TEST_F(JsonValuesTest, ATypeWithoutABigQueryCounterpartIsNamed) {
  auto r = conn_.Query("SELECT MAP {'a': 1} AS m");
  ASSERT_TRUE(r.ok());
  auto rows = ResultRowsAsJson(*r);
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("column m:"), std::string::npos)
      << rows.status().ToString();
}

// The function reads DuckDB's vectors as they reach it: several chunks, a constant child in a
// struct, list children at offsets, NULL rows; and it names a type it cannot write.
TEST_F(JsonValuesTest, ToJsonStringFunctionReadsEveryRow) {
  ASSERT_TRUE(RegisterToJsonString(conn_.raw()).ok());
  auto r = conn_.Query(
      "SELECT bf_to_json_string(CASE WHEN i % 1000 = 7 THEN NULL ELSE "
      "struct_pack(k := 'const', i := i, xs := range(i % 3)) END) FROM range(5000) t(i) "
      "ORDER BY i");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->rows(), 5000u);
  EXPECT_EQ(r->GetString(0, 0), R"({"k":"const","i":0,"xs":[]})");
  EXPECT_EQ(r->GetString(0, 7), "null");
  EXPECT_EQ(r->GetString(0, 4100), R"({"k":"const","i":4100,"xs":[0,1]})");
  EXPECT_EQ(r->GetString(0, 4999), R"({"k":"const","i":4999,"xs":[0]})");
  auto map = conn_.Query("SELECT bf_to_json_string(MAP {'a': 1})");
  ASSERT_FALSE(map.ok());
  EXPECT_NE(map.status().message().find("TO_JSON_STRING's argument:"), std::string::npos)
      << map.status().ToString();
}

TEST(JsonCellTextTest, StringsAsTheyAreEverythingElseAsJson) {
  EXPECT_EQ(JsonCellText(JsonValue("a,b"), "NULL"), "a,b");
  EXPECT_EQ(JsonCellText(JsonValue(), "NULL"), "NULL");
  EXPECT_EQ(JsonCellText(JsonValue(), ""), "");
  EXPECT_EQ(JsonCellText(JsonValue::parse(R"({"a":[1,"x"]})"), ""), R"({"a":[1,"x"]})");
  EXPECT_EQ(JsonCellText(JsonValue(2.5), ""), "2.5");
}

}  // namespace
}  // namespace backfill
