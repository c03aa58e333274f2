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

}  // namespace
}  // namespace backfill
