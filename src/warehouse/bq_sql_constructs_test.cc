// The BigQuery constructs that runbooks and bigquery-etl queries use (issue 13), each run on a
// real warehouse through `ExecuteSql` and compared to the value BigQuery's documentation gives
// for the same statement. Examples come from the GoogleSQL reference at
// https://cloud.google.com/bigquery/docs/reference/standard-sql/ (page named per row); where a
// row adapts one (a table replaced by a literal), it says so. Values are as `backfill sql
// --format json` prints them: scalars as text, arrays and structs as JSON.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/schema.h"
#include "testing/testing.h"
#include "testing/warehouse_testing.h"
#include "warehouse/json_values.h"
#include "warehouse/warehouse.h"

namespace backfill {
namespace {

struct Case {
  const char* construct;
  const char* doc;  // page#anchor of the documented example
  const char* sql;
  const char* expected;  // the first column of every row, joined by " | "
};

// clang-format off
const Case kCases[] = {
    {"TO_JSON_STRING", "json_functions#to_json_string",
     "SELECT TO_JSON_STRING(STRUCT(1 AS id, [10, 20] AS coordinates)) AS json_data",
     R"({"id":1,"coordinates":[10,20]})"},
    {"TO_JSON_STRING of NULL", "json_functions#json_encodings (NULL is null)",
     "SELECT TO_JSON_STRING(CAST(NULL AS INT64))", "null"},
    // TO_JSON_STRING's encoding of each type (json_functions#json_encodings, the table's SQL
    // input and JSON output); where the table has no example, the behaviour of GoogleSQL's
    // reference implementation (ZetaSQL, zetasql/public/functions/json_format.cc), named.
    {"TO_JSON_STRING BOOL", "json_functions#json_encodings (BOOL)",
     "SELECT TO_JSON_STRING([TRUE, FALSE])", "[true,false]"},
    {"TO_JSON_STRING INT64 at 2^53", "json_functions#json_encodings (INT64: a number in "
     "[-2^53, 2^53])", "SELECT TO_JSON_STRING(9007199254740992)", "9007199254740992"},
    {"TO_JSON_STRING INT64 beyond 2^53", "json_functions#json_encodings (INT64: a string outside)",
     "SELECT TO_JSON_STRING(9007199254740993)", R"("9007199254740993")"},
    {"TO_JSON_STRING INT64 minimum", "json_functions#json_encodings (INT64: a string outside)",
     "SELECT TO_JSON_STRING(CAST('-9223372036854775808' AS INT64))", R"("-9223372036854775808")"},
    {"TO_JSON_STRING INT64 in an array", "json_functions#json_encodings (ARRAY of INT64)",
     "SELECT TO_JSON_STRING([1, 2, 3])", "[1,2,3]"},
    {"TO_JSON_STRING NUMERIC integral", "json_functions#json_encodings (NUMERIC: -1 and 0 are "
     "numbers)", "SELECT TO_JSON_STRING([NUMERIC '-1', NUMERIC '0', NUMERIC '9007199254740992'])",
     "[-1,0,9007199254740992]"},
    {"TO_JSON_STRING NUMERIC beyond 2^53", "json_functions#json_encodings (NUMERIC "
     "9007199254740993 is a string)", "SELECT TO_JSON_STRING(NUMERIC '9007199254740993')",
     R"("9007199254740993")"},
    {"TO_JSON_STRING NUMERIC with a fraction", "json_functions#json_encodings (NUMERIC 123.56 is "
     "a string)", "SELECT TO_JSON_STRING(NUMERIC '123.56')", R"("123.56")"},
    {"TO_JSON_STRING NUMERIC large and trailing zeros", "json_functions#json_encodings (NUMERIC "
     "with a fraction; NumericValue's text drops trailing zeros)",
     "SELECT TO_JSON_STRING([NUMERIC '-99999999999999999999999999999.999999999', "
     "NUMERIC '1.500'])",
     R"(["-99999999999999999999999999999.999999999","1.5"])"},
    {"TO_JSON_STRING FLOAT64 1.0", "json_functions#json_encodings (FLOAT64 1.0 is 1)",
     "SELECT TO_JSON_STRING(1.0)", "1"},
    {"TO_JSON_STRING FLOAT64 -0.0", "json_format_test.cc CanonicalizeZeroLegacyDouble0Test "
     "(ZetaSQL: -0.0 is -0)", "SELECT TO_JSON_STRING(-0.0)", "-0"},
    {"TO_JSON_STRING FLOAT64 NaN and infinities", "json_functions#json_encodings (+/-inf and NaN "
     "as strings)",
     "SELECT TO_JSON_STRING([CAST('NaN' AS FLOAT64), CAST('+inf' AS FLOAT64), "
     "CAST('-inf' AS FLOAT64)])",
     R"(["NaN","Infinity","-Infinity"])"},
    {"TO_JSON_STRING FLOAT64 exponents and digits", "json_format.cc (ZetaSQL: "
     "RoundTripDoubleToString, %.15g or else %.17g)",
     "SELECT TO_JSON_STRING([1e20, 1e-7, 0.1, 123456.789, 0.1 + 0.2, 0.1 + 0.7, -1.5e300])",
     "[1e+20,1e-07,0.1,123456.789,0.30000000000000004,0.79999999999999993,-1.5e+300]"},
    {"TO_JSON_STRING FLOAT64 beyond 2^53", "json_functions#json_encodings (FLOAT64 "
     "9007199254740993 is a number; as a double it is 9007199254740992)",
     "SELECT TO_JSON_STRING(CAST(9007199254740993 AS FLOAT64))", "9007199254740992"},
    {"TO_JSON_STRING STRING", "json_functions#json_encodings (STRING)",
     "SELECT TO_JSON_STRING(['abc', '\"abc\"'])", R"(["abc","\"abc\""])"},
    {"TO_JSON_STRING STRING escapes", "json_functions#json_encodings (\", \\ and U+0000..U+001F "
     "escaped; json_util.cc JsonEscapeString also escapes U+2028/U+2029, nothing else)",
     R"(SELECT TO_JSON_STRING('q" b\\ t\t n\n r\r f\f x\x01\x1f é <>&/ \u2028\u2029 \x7f'))",
     "\"q\\\" b\\\\ t\\t n\\n r\\r f\\f x\\u0001\\u001f é <>&/ \\u2028\\u2029 \x7f\""},
    {"TO_JSON_STRING DATE", "json_functions#json_encodings (DATE)",
     "SELECT TO_JSON_STRING(DATE '2017-03-06')", R"("2017-03-06")"},
    {"TO_JSON_STRING TIMESTAMP", "json_functions#json_encodings (TIMESTAMP)",
     "SELECT TO_JSON_STRING(TIMESTAMP '2017-03-06 12:34:56.789012')",
     R"("2017-03-06T12:34:56.789012Z")"},
    {"TO_JSON_STRING TIMESTAMP whole seconds and milliseconds", "json_format_test.cc PicosTest "
     "(ZetaSQL: no, 3 or 6 fractional digits)",
     "SELECT TO_JSON_STRING([TIMESTAMP '2017-06-25 05:13:00', TIMESTAMP '2017-06-25 12:34:56.12', "
     "TIMESTAMP '2017-06-25 12:34:56.12345'])",
     R"(["2017-06-25T05:13:00Z","2017-06-25T12:34:56.120Z","2017-06-25T12:34:56.123450Z"])"},
    {"TO_JSON_STRING DATETIME", "json_functions#json_encodings (DATETIME; whole seconds as in "
     "json_format.cc)",
     "SELECT TO_JSON_STRING([DATETIME '2017-03-06 12:34:56.789012', "
     "DATETIME '2017-03-06 12:34:56'])",
     R"(["2017-03-06T12:34:56.789012","2017-03-06T12:34:56"])"},
    {"TO_JSON_STRING TIME", "json_functions#json_encodings (TIME; whole seconds and "
     "milliseconds as in json_format.cc)",
     "SELECT TO_JSON_STRING([TIME '12:34:56.789012', TIME '12:34:56', TIME '00:00:00.5'])",
     R"(["12:34:56.789012","12:34:56","00:00:00.500"])"},
    {"TO_JSON_STRING ARRAY", "json_functions#json_encodings (ARRAY)",
     "SELECT TO_JSON_STRING(['red', 'blue', 'green'])", R"(["red","blue","green"])"},
    {"TO_JSON_STRING STRUCT", "json_functions#json_encodings (STRUCT; the table lists the keys "
     "reordered, JsonFromValue writes the fields in order)",
     "SELECT TO_JSON_STRING(STRUCT(12 AS purchases, TRUE AS inStock))",
     R"({"purchases":12,"inStock":true})"},
    {"TO_JSON_STRING ARRAY<STRUCT> with NULLs", "json_functions#json_encodings (ARRAY, STRUCT "
     "and NULL nested)",
     "SELECT TO_JSON_STRING([STRUCT(1 AS id, CAST(NULL AS STRING) AS name, ARRAY<FLOAT64>[] AS "
     "xs, STRUCT(CAST(NULL AS INT64) AS n) AS s), STRUCT(2 AS id, 'b' AS name, [2.5, 1.0] AS xs, "
     "STRUCT(3 AS n) AS s)])",
     R"([{"id":1,"name":null,"xs":[],"s":{"n":null}},{"id":2,"name":"b","xs":[2.5,1],"s":{"n":3}}])"},
    {"TO_JSON_STRING NULL element", "json_functions#json_encodings (NULL in an ARRAY)",
     "SELECT TO_JSON_STRING([1, NULL, 3])", "[1,null,3]"},
    {"TO_JSON_STRING of a row in QUALIFY", "the rendered copy-deduplicate's tie-break "
     "(plan/render_copy_deduplicate.cc): the least row as JSON text",
     "WITH base AS (SELECT 'a' AS document_id, 2 AS n UNION ALL SELECT 'a', 10 UNION ALL "
     "SELECT 'b', 3) SELECT n FROM base AS b WHERE TRUE "
     "QUALIFY ROW_NUMBER() OVER (PARTITION BY b.document_id ORDER BY TO_JSON_STRING(b)) = 1 "
     "ORDER BY n",
     "3 | 10"},
    {"STRUCT(...)", "data-types#constructing_a_struct (tuple syntax with names)",
     "SELECT STRUCT(1 AS a, 'abc' AS b).b", "abc"},
    {"[...] literal", "arrays#constructing_arrays", "SELECT [1, 2, 3] AS numbers", "[1,2,3]"},
    {"ARRAY<T>[...]", "arrays#constructing_arrays (ARRAY<FLOAT64>[1, 2, 3])",
     "SELECT ARRAY<FLOAT64>[1, 2, 3] AS floats", "[1.0,2.0,3.0]"},
    {"UNNEST", "arrays#flattening_arrays",
     "SELECT * FROM UNNEST(['foo', 'bar', 'baz', 'qux', 'corge', 'garply', 'waldo', 'fred']) "
     "AS element WITH OFFSET AS offset ORDER BY offset",
     "foo | bar | baz | qux | corge | garply | waldo | fred"},
    {"UNNEST WITH OFFSET", "arrays#flattening_arrays (the offset column)",
     "SELECT offset FROM UNNEST(['foo', 'bar', 'baz']) AS element WITH OFFSET AS offset "
     "ORDER BY offset",
     "0 | 1 | 2"},
    {"UNNEST (correlated, CROSS JOIN)", "arrays#querying_nested_arrays (sequences adapted)",
     "WITH sequences AS (SELECT 1 AS id, [0, 1, 1, 2, 3, 5] AS some_numbers UNION ALL "
     "SELECT 2, [2, 4, 8, 16, 32] UNION ALL SELECT 3, [5, 10]) "
     "SELECT SUM(n) FROM sequences CROSS JOIN UNNEST(sequences.some_numbers) AS n GROUP BY id "
     "ORDER BY id",
     "12 | 62 | 15"},
    {"UNNEST of STRUCTs", "arrays#query_structs_in_an_array (ORDER BY added)",
     "WITH races AS (SELECT '800M' AS race, [STRUCT('Rudisha' AS name, [23.4, 26.3] AS laps), "
     "STRUCT('Makhloufi' AS name, [24.5, 25.4] AS laps)] AS participants) "
     "SELECT participant.name FROM races AS r CROSS JOIN UNNEST(r.participants) AS participant "
     "WITH OFFSET AS i ORDER BY i",
     "Rudisha | Makhloufi"},
    {"LEFT JOIN UNNEST", "query-syntax#unnest_operator (LEFT JOIN keeps empty arrays)",
     "WITH t AS (SELECT 1 AS id, [10, 20] AS a UNION ALL SELECT 2, ARRAY<INT64>[]) "
     "SELECT id FROM t LEFT JOIN UNNEST(t.a) AS x ORDER BY id, x",
     "1 | 1 | 2"},
    {"FROM t, t.array (implicit UNNEST)", "arrays#querying_nested_arrays (sequences adapted)",
     "WITH sequences AS (SELECT 1 AS id, [0, 1, 1, 2, 3, 5] AS some_numbers UNION ALL "
     "SELECT 2, [2, 4, 8, 16, 32] UNION ALL SELECT 3, [5, 10]) "
     "SELECT SUM(n) FROM sequences, sequences.some_numbers AS n GROUP BY id ORDER BY id",
     "12 | 62 | 15"},
    {"FROM t AS r, r.array WITH OFFSET", "arrays#query_structs_in_an_array (implicit UNNEST)",
     "WITH races AS (SELECT '800M' AS race, [STRUCT('Rudisha' AS name, [23.4, 26.3] AS laps), "
     "STRUCT('Makhloufi' AS name, [24.5, 25.4] AS laps)] AS participants) "
     "SELECT participant.name FROM races AS r, r.participants AS participant "
     "WITH OFFSET AS i ORDER BY i",
     "Rudisha | Makhloufi"},
    {"LEFT JOIN t.array", "query-syntax#unnest_operator (implicit UNNEST keeps empty arrays)",
     "WITH t AS (SELECT 1 AS id, [10, 20] AS a UNION ALL SELECT 2, ARRAY<INT64>[]) "
     "SELECT id FROM t LEFT JOIN t.a AS x ORDER BY id, x",
     "1 | 1 | 2"},
    {"IN UNNEST", "operators#in_operators", "SELECT 'b' IN UNNEST(['a', 'b', 'c'])", "true"},
    {"IN UNNEST, NULL in the array", "operators#in_operators (a NULL in the list: TRUE or NULL, "
     "never FALSE)", "SELECT 'z' IN UNNEST(['a', NULL])", "NULL"},
    {"IN UNNEST of an empty array", "operators#in_operators (an empty right side is FALSE)",
     "SELECT NULL IN UNNEST(ARRAY<INT64>[])", "false"},
    {"NOT IN UNNEST", "operators#in_operators", "SELECT 'z' NOT IN UNNEST(['a', 'b'])", "true"},
    {"ARRAY(SELECT ...)", "array_functions#array (ORDER BY added: without one the order is "
     "unspecified, in BigQuery as in DuckDB)",
     "SELECT ARRAY(SELECT x FROM (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3) "
     "ORDER BY x) AS new_array", "[1,2,3]"},
    {"ARRAY(SELECT ...) of no rows", "array_functions#array (zero rows: an empty array, never NULL)",
     "SELECT ARRAY(SELECT x FROM UNNEST([1]) AS x WHERE x > 1)", "[]"},
    {"ARRAY(SELECT ... FROM UNNEST(column))", "arrays#creating_arrays_from_subqueries (ids added)",
     "WITH sequences AS (SELECT 1 AS id, [0, 1, 1, 2, 3, 5] AS some_numbers UNION ALL "
     "SELECT 2, [2, 4, 8, 16, 32] UNION ALL SELECT 3, [5, 10]) "
     "SELECT ARRAY(SELECT x * 2 FROM UNNEST(some_numbers) AS x WITH OFFSET AS o ORDER BY o) "
     "AS doubled FROM sequences ORDER BY id",
     "[0,2,2,4,6,10] | [4,8,16,32,64] | [10,20]"},
    {"ARRAY_AGG", "aggregate_functions#array_agg",
     "SELECT ARRAY_AGG(x) AS array_agg FROM UNNEST([2, 1, -2, 3, -2, 1, 2]) AS x",
     "[2,1,-2,3,-2,1,2]"},
    {"ARRAY_AGG ORDER BY", "aggregate_functions#array_agg",
     "SELECT ARRAY_AGG(x ORDER BY x) AS array_agg FROM UNNEST([2, 1, -2, 3, -2, 1, 2]) AS x",
     "[-2,-2,1,1,2,2,3]"},
    {"ARRAY_AGG IGNORE NULLS", "aggregate_functions#array_agg",
     "SELECT ARRAY_AGG(x IGNORE NULLS) AS array_agg FROM UNNEST([NULL, 1, -2, 3, -2, 1, NULL]) "
     "AS x",
     "[1,-2,3,-2,1]"},
    {"ARRAY_AGG DISTINCT", "aggregate_functions#array_agg (ORDER BY added: order is unspecified)",
     "SELECT ARRAY_AGG(DISTINCT x ORDER BY x) AS array_agg FROM UNNEST([2, 1, -2, 3, -2, 1, 2]) "
     "AS x",
     "[-2,1,2,3]"},
    {"[SAFE_OFFSET]", "arrays#accessing_array_elements",
     "WITH Items AS (SELECT ['coffee', 'tea', 'milk'] AS item_array) "
     "SELECT TO_JSON_STRING([item_array[SAFE_OFFSET(1)], item_array[SAFE_OFFSET(6)], "
     "item_array[SAFE_OFFSET(-1)], item_array[SAFE_ORDINAL(1)]]) FROM Items",
     R"(["tea",null,null,"coffee"])"},
    {"COUNTIF", "aggregate_functions#countif",
     "SELECT COUNTIF(x < 0) AS num_negative FROM UNNEST([5, -2, 3, 6, -10, -7, 4, 0]) AS x",
     "3"},
    {"SAFE_CAST", "conversion_functions#safe_casting", "SELECT SAFE_CAST('apple' AS INT64)",
     "NULL"},
    {"SAFE_DIVIDE", "mathematical_functions#safe_divide", "SELECT SAFE_DIVIDE(20, 4)", "5.0"},
    {"SAFE_DIVIDE by zero", "mathematical_functions#safe_divide", "SELECT SAFE_DIVIDE(20, 0)",
     "NULL"},
    {"IFNULL", "conditional_expressions#ifnull", "SELECT IFNULL(NULL, 0) AS result", "0"},
    {"COALESCE", "conditional_expressions#coalesce",
     "SELECT COALESCE(NULL, 'B', 'C') AS result", "B"},
    {"FORMAT_DATE %x", "date_functions#format_date",
     "SELECT FORMAT_DATE('%x', DATE '2008-12-25') AS US_format", "12/25/08"},
    {"FORMAT_DATE %b-%d-%Y", "date_functions#format_date",
     "SELECT FORMAT_DATE('%b-%d-%Y', DATE '2008-12-25') AS formatted", "Dec-25-2008"},
    {"FORMAT_DATE %b %Y", "date_functions#format_date",
     "SELECT FORMAT_DATE('%b %Y', DATE '2008-12-25') AS formatted", "Dec 2008"},
    {"PARSE_DATE %Y%m%d", "date_functions#parse_date",
     "SELECT CAST(PARSE_DATE('%Y%m%d', '20081225') AS STRING) AS parsed", "2008-12-25"},
    {"PARSE_DATE %A %b %e %Y", "date_functions#parse_date",
     "SELECT CAST(PARSE_DATE('%A %b %e %Y', 'Thursday Dec 25 2008') AS STRING)", "2008-12-25"},
    {"GENERATE_DATE_ARRAY", "array_functions#generate_date_array",
     "SELECT GENERATE_DATE_ARRAY('2016-10-05', '2016-10-08') AS example",
     R"(["2016-10-05","2016-10-06","2016-10-07","2016-10-08"])"},
    {"GENERATE_DATE_ARRAY step", "array_functions#generate_date_array",
     "SELECT GENERATE_DATE_ARRAY('2016-10-05', '2016-10-09', INTERVAL 2 DAY) AS example",
     R"(["2016-10-05","2016-10-07","2016-10-09"])"},
    {"GENERATE_DATE_ARRAY end before start", "array_functions#generate_date_array",
     "SELECT GENERATE_DATE_ARRAY('2016-10-05', '2016-10-01', INTERVAL 1 DAY) AS example", "[]"},
    {"SELECT * EXCEPT", "query-syntax#select_except",
     "WITH orders AS (SELECT 5 AS order_id, 'sprocket' AS item_name, 200 AS quantity) "
     "SELECT * EXCEPT (order_id) FROM orders",
     "sprocket"},
    {"SELECT * REPLACE", "query-syntax#select_replace",
     "WITH orders AS (SELECT 5 AS order_id, 'sprocket' AS item_name, 200 AS quantity) "
     "SELECT * REPLACE ('widget' AS item_name) FROM orders",
     "5"},
    {"SPLIT", "string_functions#split", "SELECT SPLIT('b,c,d', ',') AS example",
     R"(["b","c","d"])"},
    {"SPLIT default delimiter and empty string", "string_functions#split",
     "SELECT TO_JSON_STRING([SPLIT('a,b'), SPLIT('')])", R"([["a","b"],[""]])"},
    {"REGEXP_CONTAINS", "string_functions#regexp_contains",
     "SELECT REGEXP_CONTAINS('foo@example.com', r'@[a-zA-Z0-9-]+\\.[a-zA-Z0-9-.]+')", "true"},
    {"REGEXP_EXTRACT", "string_functions#regexp_extract",
     "SELECT REGEXP_EXTRACT('foo@example.com', r'^[a-zA-Z0-9_.+-]+') AS user_name", "foo"},
    {"REGEXP_EXTRACT capturing group", "string_functions#regexp_extract",
     "SELECT REGEXP_EXTRACT('foo@example.com', r'^([a-zA-Z0-9_.+-]+)@') AS user_name", "foo"},
    {"REGEXP_EXTRACT no match", "string_functions#regexp_extract (NULL when nothing matches)",
     "SELECT REGEXP_EXTRACT('foo', r'@(.+)')", "NULL"},
    {"DATE_TRUNC", "date_functions#date_trunc",
     "SELECT CAST(DATE_TRUNC(DATE '2008-12-25', MONTH) AS STRING) AS month", "2008-12-01"},
    {"TIMESTAMP_TRUNC", "timestamp_functions#timestamp_trunc",
     "SELECT TIMESTAMP_TRUNC(TIMESTAMP '2008-12-25 15:30:00+00', DAY) AS utc",
     "2008-12-25T00:00:00.000000Z"},
};
// clang-format on

class BqSqlConstructsTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    auto w = testing::CreateTestWarehouse(dir_.path(), clock_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    w_ = std::move(w).value();
    ASSERT_TRUE(w_->CreateProject("p").ok());
  }
  testing::TempDir dir_;
  FixedClock clock_{*ParseTimestamp("2020-03-19T10:00:00Z")};
  std::unique_ptr<Warehouse> w_;
};

TEST_P(BqSqlConstructsTest, GivesTheDocumentedValue) {
  const Case& c = GetParam();
  auto r = w_->ExecuteSql(c.sql, "p");
  ASSERT_TRUE(r.ok()) << c.construct << ": " << c.sql << "\n-> " << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  std::vector<std::string> firsts;
  for (const auto& row : r->back().rows) {
    const JsonValue& cell = row.at(0);
    firsts.push_back(cell.is_array() || cell.is_object() ? cell.dump()
                                                         : JsonCellText(cell, "NULL"));
  }
  std::string got;
  for (const auto& f : firsts) got += (got.empty() ? "" : " | ") + f;
  EXPECT_EQ(got, c.expected) << c.construct << " (" << c.doc << "): " << c.sql;
}

INSTANTIATE_TEST_SUITE_P(Documented, BqSqlConstructsTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string name;
                           for (const char* p = info.param.construct; *p; ++p) {
                             name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
                           }
                           return name + "_" + std::to_string(info.index);
                         });

// The types no BigQuery literal of the dialect makes (bytes literals, BIGNUMERIC and JSON
// literals, INTERVAL values are refused), read from a table's columns; and a whole row.
class ToJsonStringOfColumnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = testing::CreateTestWarehouse(dir_.path(), clock_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    w_ = std::move(w).value();
    ASSERT_TRUE(w_->CreateProject("p").ok());
    ASSERT_TRUE(w_->CreateDataset({"p", "d"}, {}).ok());
    TableOptions o;
    auto schema = ParseBqSchema(
        R"([{"name":"b","type":"BYTES"},{"name":"g","type":"BYTES"},
            {"name":"big","type":"BIGNUMERIC"},{"name":"whole","type":"BIGNUMERIC"},
            {"name":"j","type":"JSON"},{"name":"iv","type":"INTERVAL"},
            {"name":"zero","type":"INTERVAL"},{"name":"neg","type":"INTERVAL"},
            {"name":"xs","type":"INT64","mode":"REPEATED"}])",
        "v.bq");
    ASSERT_TRUE(schema.ok()) << schema.status().ToString();
    o.schema = *schema;
    ASSERT_TRUE(w_->CreateTable({"p", "d", "v"}, o).ok());
    auto appended = w_->Append(
        {"p", "d", "v"},
        R"(SELECT '\x00\xFF'::BLOB, 'Google'::BLOB, '-123.56'::DECIMAL(38,9), 42::DECIMAL(38,9),
                  '{"price": 10, "item": "pen"}'::JSON,
                  INTERVAL '1 year 2 months 3 days 4 hours 5 minutes 6.5 seconds',
                  INTERVAL '0 seconds', -INTERVAL '1 minute 0.25 seconds', NULL::BIGINT[])");
    ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  }

  // TO_JSON_STRING of each expression, in the one row of d.v.
  std::vector<std::string> Texts(const std::string& select_list) {
    auto r = w_->ExecuteSql("SELECT " + select_list + " FROM d.v AS t", "p");
    EXPECT_TRUE(r.ok()) << select_list << "\n-> " << r.status().ToString();
    std::vector<std::string> out;
    if (!r.ok() || r->back().rows.size() != 1) return out;
    for (const JsonValue& cell : r->back().rows[0]) out.push_back(JsonCellText(cell, "NULL"));
    return out;
  }

  testing::TempDir dir_;
  FixedClock clock_{*ParseTimestamp("2020-03-19T10:00:00Z")};
  std::unique_ptr<Warehouse> w_;
};

TEST_F(ToJsonStringOfColumnsTest, BytesAreBase64) {
  // json_functions#json_encodings (BYTES: b"Google" is "R29vZ2xl", RFC 4648 base64).
  EXPECT_THAT(Texts("TO_JSON_STRING(g), TO_JSON_STRING(b)"),
              ::testing::ElementsAre(R"("R29vZ2xl")", R"("AP8=")"));
}

TEST_F(ToJsonStringOfColumnsTest, BigNumericIsANumberOnlyWhenIntegralAndExact) {
  // json_functions#json_encodings (NUMERIC/BIGNUMERIC: 123.56 is "123.56", -1 is -1).
  EXPECT_THAT(Texts("TO_JSON_STRING(big), TO_JSON_STRING(whole)"),
              ::testing::ElementsAre(R"("-123.56")", "42"));
}

TEST_F(ToJsonStringOfColumnsTest, JsonIsItsValueWithSortedKeys) {
  // json_functions#json_encodings (JSON '{"item": "pen", "price": 10}' is
  // {"item":"pen","price":10}); json_functions#json_type shows BigQuery's JSON objects with
  // their keys sorted ({"State":"NY","city":"New York"}).
  EXPECT_THAT(Texts("TO_JSON_STRING(j)"), ::testing::ElementsAre(R"({"item":"pen","price":10})"));
}

TEST_F(ToJsonStringOfColumnsTest, IntervalIsIso8601) {
  // json_format.cc JsonFromInterval: IntervalValue::ToISO8601 (zetasql/public/interval_value.cc),
  // only the parts that are not zero, "P0Y" for none, each part with its own sign.
  EXPECT_THAT(Texts("TO_JSON_STRING(iv), TO_JSON_STRING(zero), TO_JSON_STRING(neg)"),
              ::testing::ElementsAre(R"("P1Y2M3DT4H5M6.5S")", R"("P0Y")", R"("PT-1M-0.25S")"));
}

TEST_F(ToJsonStringOfColumnsTest, ARowIsAnObjectOfItsColumns) {
  // json_functions#json_encodings (STRUCT: fields in order; an ARRAY a table holds is never
  // NULL in BigQuery, data-types#array_nulls, so a NULL one reads as []).
  EXPECT_THAT(Texts("TO_JSON_STRING(t)"),
              ::testing::ElementsAre(
                  R"({"b":"AP8=","g":"R29vZ2xl","big":"-123.56","whole":42,)"
                  R"("j":{"item":"pen","price":10},"iv":"P1Y2M3DT4H5M6.5S","zero":"P0Y",)"
                  R"("neg":"PT-1M-0.25S","xs":[]})"));
}

TEST_F(ToJsonStringOfColumnsTest, ScriptsAndMergeHaveItToo) {
  // A script's variables are bound through DuckDB's binder, and MERGE runs as the warehouse's
  // own DELETE and INSERT: both must find the function.
  auto script = w_->ExecuteSql(
      "DECLARE x FLOAT64 DEFAULT 1.0;\nSET x = x * 1e20;\nSELECT TO_JSON_STRING(x)", "p");
  ASSERT_TRUE(script.ok()) << script.status().ToString();
  ASSERT_EQ(script->back().rows.size(), 1u);
  EXPECT_EQ(JsonCellText(script->back().rows[0].at(0), "NULL"), "1e+20");
  auto merge = w_->ExecuteSql(
      "MERGE d.v AS T USING (SELECT TO_JSON_STRING(2.50) AS s) AS S ON S.s = '2.5' "
      "WHEN MATCHED AND TO_JSON_STRING(T.whole) = '42' THEN DELETE",
      "p");
  ASSERT_TRUE(merge.ok()) << merge.status().ToString();
  EXPECT_THAT(Texts("COUNT(*)"), ::testing::ElementsAre("0"));
}

}  // namespace
}  // namespace backfill
