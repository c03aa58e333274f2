// The BigQuery dialect's expressions: time functions, select-list forms and clauses, the
// function whitelist, literals and parameters, and refusals.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/schema.h"
#include "warehouse/bq_sql.h"
#include "warehouse/bq_sql_testing.h"

namespace backfill {
namespace {

using namespace bq_sql_testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// --- time functions ---------------------------------------------------------------------------

TEST(BqSqlTimeTest, CurrentTimestampAndDate) {
  EXPECT_EQ(Query("SELECT CURRENT_TIMESTAMP(), current_timestamp, CURRENT_DATE()"),
            "SELECT TIMESTAMPTZ '2020-03-19 10:00:00+00', TIMESTAMPTZ '2020-03-19 10:00:00+00', "
            "CAST(TIMESTAMPTZ '2020-03-19 10:00:00+00' AS DATE)");
  SqlDialectOptions no_clock = Options();
  no_clock.now_literal.clear();
  EXPECT_THAT(Error("SELECT CURRENT_DATE", no_clock), HasSubstr("CURRENT_DATE needs the clock"));
  EXPECT_THAT(
      Error("SELECT CURRENT_DATE('America/Los_Angeles')"),
      HasSubstr(std::string(kUnsupported) + "CURRENT_DATE with a time zone argument (at 1:8)"));
  EXPECT_THAT(Error("SELECT CURRENT_DATETIME()"),
              HasSubstr(std::string(kUnsupported) + "CURRENT_DATETIME"));
}

TEST(BqSqlTimeTest, TimestampAddAndSub) {
  EXPECT_EQ(Query("SELECT TIMESTAMP_SUB(ts, INTERVAL 7 DAY), TIMESTAMP_ADD(ts, INTERVAL @n MINUTE) "
                  "FROM ds.t"),
            "SELECT (ts - INTERVAL 7 DAY), (ts + INTERVAL 5 MINUTE) FROM \"prod\".\"ds\".\"t\"");
  EXPECT_EQ(Query("SELECT TIMESTAMP_SUB(ts, INTERVAL n_hours + 1 HOUR) FROM ds.t"),
            "SELECT (ts - INTERVAL (n_hours + 1) HOUR) FROM \"prod\".\"ds\".\"t\"");
  EXPECT_EQ(Query("SELECT timestamp_add(ts, interval -1 microsecond) FROM ds.t"),
            "SELECT (ts + INTERVAL (-1) MICROSECOND) FROM \"prod\".\"ds\".\"t\"");
  EXPECT_THAT(Error("SELECT TIMESTAMP_SUB(ts, INTERVAL 1 MONTH) FROM ds.t"),
              HasSubstr("TIMESTAMP_SUB with unit MONTH"));
  EXPECT_THAT(Error("SELECT TIMESTAMP_SUB(ts, 1) FROM ds.t"), HasSubstr("expects INTERVAL n UNIT"));
}

TEST(BqSqlTimeTest, DateAddAndSubStayDates) {
  EXPECT_EQ(
      Query("SELECT DATE_SUB(@submission_date, INTERVAL 1 DAY), DATE_ADD(d, INTERVAL 2 MONTH) FROM "
            "ds.t"),
      "SELECT CAST(DATE '2020-03-01' - INTERVAL 1 DAY AS DATE), CAST(d + INTERVAL 2 MONTH AS DATE) "
      "FROM \"prod\".\"ds\".\"t\"");
  EXPECT_EQ(Query("SELECT DATE_ADD(d, INTERVAL 1 WEEK), DATE_SUB(d, INTERVAL 1 YEAR) FROM ds.t"),
            "SELECT CAST(d + INTERVAL 1 WEEK AS DATE), CAST(d - INTERVAL 1 YEAR AS DATE) FROM "
            "\"prod\".\"ds\".\"t\"");
  EXPECT_THAT(Error("SELECT DATE_SUB(d, INTERVAL 1 HOUR) FROM ds.t"),
              HasSubstr("DATE_SUB with unit HOUR"));
}

TEST(BqSqlTimeTest, DateAndTimestampConstructors) {
  EXPECT_EQ(Query("SELECT DATE(submission_timestamp), DATE('2020-03-01'), DATE(2020, 3, 1), "
                  "TIMESTAMP('2020-03-01 10:00:00') FROM ds.t"),
            "SELECT CAST(submission_timestamp AS DATE), CAST('2020-03-01' AS DATE), "
            "make_date(2020, 3, 1), "
            "CAST('2020-03-01 10:00:00' AS TIMESTAMPTZ) FROM \"prod\".\"ds\".\"t\"");
  EXPECT_THAT(Error("SELECT DATE(ts, 'America/Los_Angeles') FROM ds.t"),
              HasSubstr(std::string(kUnsupported) + "DATE with a time zone argument (at 1:8)"));
  EXPECT_THAT(Error("SELECT TIMESTAMP('2020-03-01', 'UTC')"),
              HasSubstr("TIMESTAMP with a time zone argument"));
}

TEST(BqSqlTimeTest, TypedLiterals) {
  EXPECT_EQ(Query("SELECT DATE '2020-03-01', TIMESTAMP \"2020-03-01 10:00:00+00\", DATETIME "
                  "'2020-03-01 10:00:00', "
                  "NUMERIC '1.25', TIME '10:00:00'"),
            "SELECT DATE '2020-03-01', TIMESTAMPTZ '2020-03-01 10:00:00+00', TIMESTAMP '2020-03-01 "
            "10:00:00', "
            "CAST('1.25' AS DECIMAL(38,9)), TIME '10:00:00'");
  EXPECT_THAT(Error("SELECT JSON '{}'"),
              HasSubstr(std::string(kUnsupported) + "JSON literal (at 1:8)"));
  EXPECT_THAT(Error("SELECT BIGNUMERIC '1'"), HasSubstr("BIGNUMERIC literal"));
}

TEST(BqSqlTimeTest, DateDiffAndTimestampDiff) {
  EXPECT_EQ(
      Query("SELECT DATE_DIFF(@submission_date, d, DAY), TIMESTAMP_DIFF(a, b, HOUR) FROM ds.t"),
      "SELECT date_diff('day', d, DATE '2020-03-01'), date_sub('hour', b, a) FROM "
      "\"prod\".\"ds\".\"t\"");
  EXPECT_THAT(Error("SELECT DATE_DIFF(a, b, WEEK) FROM ds.t"),
              HasSubstr("DATE_DIFF with unit WEEK (supported: DAY, MONTH, QUARTER, YEAR)"));
  EXPECT_THAT(Error("SELECT TIMESTAMP_DIFF(a, b) FROM ds.t"),
              HasSubstr("TIMESTAMP_DIFF takes 3 argument(s), not 2"));
}

TEST(BqSqlTimeTest, Truncation) {
  EXPECT_EQ(Query("SELECT DATE_TRUNC(d, MONTH), TIMESTAMP_TRUNC(ts, HOUR) FROM ds.t"),
            "SELECT CAST(date_trunc('month', d) AS DATE), date_trunc('hour', ts) FROM "
            "\"prod\".\"ds\".\"t\"");
  EXPECT_THAT(Error("SELECT DATE_TRUNC(d, WEEK(MONDAY)) FROM ds.t"), HasSubstr("function WEEK"));
}

TEST(BqSqlTimeTest, Extract) {
  EXPECT_EQ(Query("SELECT EXTRACT(hour FROM ts), EXTRACT(YEAR FROM DATE(ts)) FROM ds.t"),
            "SELECT EXTRACT(HOUR FROM ts), EXTRACT(YEAR FROM CAST(ts AS DATE)) FROM "
            "\"prod\".\"ds\".\"t\"");
  EXPECT_THAT(Error("SELECT EXTRACT(DAYOFWEEK FROM ts) FROM ds.t"),
              HasSubstr(std::string(kUnsupported) + "EXTRACT(DAYOFWEEK FROM ...) (at 1:16)"));
  EXPECT_THAT(Error("SELECT EXTRACT(DAY FROM ts AT TIME ZONE 'UTC') FROM ds.t"),
              HasSubstr(std::string(kUnsupported) + "AT"));
}

TEST(BqSqlTimeTest, IntervalOnlyInsideAddAndSub) {
  EXPECT_THAT(Error("SELECT ts - INTERVAL 1 DAY FROM ds.t"),
              HasSubstr(std::string(kUnsupported) +
                        "INTERVAL outside TIMESTAMP_ADD/SUB and DATE_ADD/SUB (at 1:13)"));
}

// --- select-list and clauses ------------------------------------------------------------------

TEST(BqSqlSelectTest, StarExceptBecomesExclude) {
  EXPECT_EQ(Query("SELECT * EXCEPT (a, b) FROM ds.t"),
            "SELECT * EXCLUDE (a, b) FROM \"prod\".\"ds\".\"t\"");
  EXPECT_EQ(Query("SELECT t.* EXCEPT(a), 2 * 3 FROM ds.t"),
            "SELECT t.* EXCLUDE(a), 2 * 3 FROM \"prod\".\"ds\".\"t\"");
}

TEST(BqSqlSelectTest, StarReplace) {
  EXPECT_EQ(Query("SELECT * EXCEPT (b) REPLACE (LOWER(a) AS a) FROM ds.t"),
            "SELECT * EXCLUDE (b) REPLACE (LOWER(a) AS a) FROM \"prod\".\"ds\".\"t\"");
  EXPECT_EQ(Query("SELECT REPLACE(a, 'x', 'y') FROM ds.t"),
            "SELECT REPLACE(a, 'x', 'y') FROM \"prod\".\"ds\".\"t\"");
}

TEST(BqSqlSelectTest, ExceptDistinctIsASetOperation) {
  EXPECT_EQ(
      Query("SELECT a FROM ds.t EXCEPT DISTINCT SELECT a FROM ds.u"),
      "SELECT a FROM \"prod\".\"ds\".\"t\" EXCEPT DISTINCT SELECT a FROM \"prod\".\"ds\".\"u\"");
}

TEST(BqSqlSelectTest, QualifyAndWindowFunctions) {
  EXPECT_EQ(
      Query(
          "SELECT * FROM ds.live WHERE DATE(submission_timestamp) = @submission_date "
          "QUALIFY ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY submission_timestamp) = 1"),
      "SELECT * FROM \"prod\".\"ds\".\"live\" WHERE CAST(submission_timestamp AS DATE) = DATE "
      "'2020-03-01' "
      "QUALIFY ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY submission_timestamp) = 1");
  EXPECT_EQ(
      Query("SELECT LAG(x, 1) OVER w, FIRST_VALUE(x IGNORE NULLS) OVER (w ROWS BETWEEN UNBOUNDED "
            "PRECEDING AND CURRENT ROW) FROM ds.t WINDOW w AS (ORDER BY y DESC)"),
      "SELECT LAG(x, 1) OVER w, FIRST_VALUE(x IGNORE NULLS) OVER (w ROWS BETWEEN UNBOUNDED "
      "PRECEDING AND CURRENT ROW) FROM \"prod\".\"ds\".\"t\" WINDOW w AS (ORDER BY y DESC)");
}

TEST(BqSqlSelectTest, GroupByOrderByLimitUnionAll) {
  EXPECT_EQ(Query("SELECT d, COUNT(*) AS n, COUNT(DISTINCT id) FROM ds.t GROUP BY d HAVING n > 1 "
                  "UNION ALL SELECT d, 0, 0 FROM ds.u ORDER BY d DESC NULLS LAST LIMIT 5 OFFSET 2"),
            "SELECT d, COUNT(*) AS n, COUNT(DISTINCT id) FROM \"prod\".\"ds\".\"t\" GROUP BY d "
            "HAVING n > 1 "
            "UNION ALL SELECT d, 0, 0 FROM \"prod\".\"ds\".\"u\" ORDER BY d DESC NULLS LAST LIMIT "
            "5 OFFSET 2");
}

TEST(BqSqlSelectTest, ParenthesisedSetOperands) {
  auto s = Translate("(SELECT a FROM ds.t) UNION DISTINCT (SELECT a FROM ds.u)");
  EXPECT_EQ(
      s.query,
      "(SELECT a FROM \"prod\".\"ds\".\"t\") UNION DISTINCT (SELECT a FROM \"prod\".\"ds\".\"u\")");
  EXPECT_EQ(s.reads.size(), 2u);
}

TEST(BqSqlSelectTest, SubqueriesInExpressions) {
  auto s = Translate(
      "SELECT a, (SELECT MAX(b) FROM ds.u) AS m FROM ds.t WHERE EXISTS (SELECT 1 FROM ds.v WHERE "
      "v.a = t.a) "
      "AND a NOT IN (SELECT DISTINCT a FROM ds.w)");
  EXPECT_EQ(
      s.query,
      "SELECT a, (SELECT MAX(b) FROM \"prod\".\"ds\".\"u\") AS m FROM \"prod\".\"ds\".\"t\" WHERE "
      "EXISTS "
      "(SELECT 1 FROM \"prod\".\"ds\".\"v\" WHERE v.a = t.a) AND a NOT IN (SELECT DISTINCT a FROM "
      "\"prod\".\"ds\".\"w\")");
  ASSERT_EQ(s.reads.size(), 4u);
  EXPECT_EQ(s.reads[0].table.table, "u");
  EXPECT_EQ(s.reads[1].table.table, "t");
  EXPECT_EQ(s.reads[2].table.table, "v");
  EXPECT_EQ(s.reads[3].table.table, "w");
}

TEST(BqSqlSelectTest, IsDistinctFromIsNotAFromClause) {
  auto s = Translate("SELECT a IS DISTINCT FROM b FROM ds.t WHERE a IS NOT DISTINCT FROM b");
  EXPECT_EQ(
      s.query,
      "SELECT a IS DISTINCT FROM b FROM \"prod\".\"ds\".\"t\" WHERE a IS NOT DISTINCT FROM b");
  EXPECT_EQ(s.reads.size(), 1u);
}

TEST(BqSqlSelectTest, CaseExpressions) {
  EXPECT_EQ(
      Query("SELECT CASE WHEN a IS NULL THEN 'none' WHEN a BETWEEN 1 AND 2 THEN 'low' ELSE 'high' "
            "END, "
            "CASE a WHEN 1 THEN TRUE END FROM ds.t"),
      "SELECT CASE WHEN a IS NULL THEN 'none' WHEN a BETWEEN 1 AND 2 THEN 'low' ELSE 'high' END, "
      "CASE a WHEN 1 THEN TRUE END FROM \"prod\".\"ds\".\"t\"");
}

// --- functions --------------------------------------------------------------------------------

TEST(BqSqlFunctionTest, CastMapsTypeNames) {
  EXPECT_EQ(
      Query("SELECT CAST(a AS INT64), CAST(b AS FLOAT64), CAST(c AS STRING), CAST(d AS BOOL), "
            "CAST(e AS BYTES), CAST(f AS TIMESTAMP), CAST(g AS DATETIME), CAST(h AS NUMERIC), "
            "CAST(i AS DATE) FROM ds.t"),
      "SELECT CAST(a AS BIGINT), CAST(b AS DOUBLE), CAST(c AS VARCHAR), CAST(d AS BOOLEAN), "
      "CAST(e AS BLOB), CAST(f AS TIMESTAMPTZ), CAST(g AS TIMESTAMP), CAST(h AS DECIMAL(38,9)), "
      "CAST(i AS DATE) FROM \"prod\".\"ds\".\"t\"");
}

TEST(BqSqlFunctionTest, SafeCastBecomesTryCast) {
  EXPECT_EQ(Query("SELECT SAFE_CAST(x AS INT64) FROM ds.t"),
            "SELECT TRY_CAST(x AS BIGINT) FROM \"prod\".\"ds\".\"t\"");
  EXPECT_THAT(Error("SELECT CAST(x AS ARRAY<INT64>) FROM ds.t"),
              HasSubstr(std::string(kUnsupported) + "CAST to parameterized type ARRAY<"));
  EXPECT_THAT(Error("SELECT CAST(x AS STRING(10)) FROM ds.t"),
              HasSubstr("parameterized type STRING("));
  EXPECT_THAT(Error("SELECT CAST(x AS JSON) FROM ds.t"),
              HasSubstr(std::string(kUnsupported) + "CAST to JSON"));
  EXPECT_THAT(Error("SELECT CAST(d AS STRING FORMAT 'YYYY') FROM ds.t"),
              HasSubstr("CAST ... FORMAT"));
}

TEST(BqSqlFunctionTest, CountIfAndLogicalAggregates) {
  EXPECT_EQ(
      Query("SELECT COUNTIF(a > 1), LOGICAL_AND(b), LOGICAL_OR(c), ANY_VALUE(d) FROM ds.t"),
      "SELECT count_if(a > 1), bool_and(b), bool_or(c), ANY_VALUE(d) FROM \"prod\".\"ds\".\"t\"");
}

TEST(BqSqlFunctionTest, IfBecomesCase) {
  EXPECT_EQ(
      Query("SELECT IF(a > 1, 'big', IF(a IS NULL, NULL, 'small')) FROM ds.t"),
      "SELECT CASE WHEN a > 1 THEN 'big' ELSE CASE WHEN a IS NULL THEN NULL ELSE 'small' END END "
      "FROM \"prod\".\"ds\".\"t\"");
  EXPECT_THAT(Error("SELECT IF(a, b) FROM ds.t"),
              HasSubstr("IF takes 3 argument(s), not 2 (at 1:8)"));
}

TEST(BqSqlFunctionTest, NullHandling) {
  EXPECT_EQ(Query("SELECT IFNULL(a, 0), COALESCE(a, b, 0), NULLIF(a, '') FROM ds.t"),
            "SELECT IFNULL(a, 0), COALESCE(a, b, 0), NULLIF(a, '') FROM \"prod\".\"ds\".\"t\"");
}

TEST(BqSqlFunctionTest, ConcatKeepsNullSemantics) {
  EXPECT_EQ(Query("SELECT CONCAT(a, '-', b) FROM ds.t"),
            "SELECT (a || '-' || b) FROM \"prod\".\"ds\".\"t\"");
}

TEST(BqSqlFunctionTest, StringAndMathBasics) {
  EXPECT_EQ(
      Query("SELECT LOWER(a), REGEXP_CONTAINS(a, r'^\\d+$'), ROUND(x, 2), MOD(n, 7), "
            "STARTS_WITH(a, 'x') FROM ds.t"),
      "SELECT LOWER(a), regexp_matches(a, '^\\d+$'), ROUND(x, 2), MOD(n, 7), STARTS_WITH(a, 'x') "
      "FROM \"prod\".\"ds\".\"t\"");
  EXPECT_THAT(Error("SELECT ROUND(x, 2, 'ROUND_HALF_EVEN') FROM ds.t"),
              HasSubstr("ROUND takes 1 to 2 argument(s), not 3"));
}

TEST(BqSqlFunctionTest, FunctionsOutsideTheWhitelistAreRefusedByName) {
  EXPECT_THAT(Error("SELECT ARRAY_CONCAT(x) FROM ds.t"),
              HasSubstr(std::string(kUnsupported) + "function ARRAY_CONCAT (at 1:8)"));
  EXPECT_THAT(Error("SELECT GREATEST(a, b) FROM ds.t"), HasSubstr("function GREATEST"));
  EXPECT_THAT(Error("SELECT substr(a, 0, 2) FROM ds.t"), HasSubstr("function SUBSTR"));
  EXPECT_THAT(Error("SELECT GENERATE_UUID()"), HasSubstr("function GENERATE_UUID"));
  EXPECT_THAT(Error("SELECT mozfun.map.get_key(m, 'k') FROM ds.t"),
              HasSubstr("function mozfun.map.get_key"));
  EXPECT_THAT(Error("SELECT SAFE.LOWER(a) FROM ds.t"), HasSubstr("function SAFE.LOWER"));
  EXPECT_THAT(Error("SELECT `udf`(a) FROM ds.t"), HasSubstr("function `udf`"));
}

// --- literals and parameters ------------------------------------------------------------------

TEST(BqSqlLiteralTest, StringsBecomeSingleQuoted) {
  EXPECT_EQ(
      Query("SELECT \"it's\", 'say \"hi\"', 'a\\'b', \"a\\\"b\", 'back\\\\slash', 'tab\\tnl\\n'"),
      "SELECT 'it''s', 'say \"hi\"', 'a''b', 'a\"b', 'back\\slash', 'tab\tnl\n'");
}

TEST(BqSqlLiteralTest, UnicodeAndRawStrings) {
  EXPECT_EQ(Query("SELECT '\\u00e9\\x41', r'a\\nb', R\"x'y\""), "SELECT 'éA', 'a\\nb', 'x''y'");
  EXPECT_THAT(Error("SELECT 'a\\qb'"),
              HasSubstr("invalid escape sequence '\\q' in string literal (at 1:8)"));
  EXPECT_THAT(Error("SELECT '\\x00'"), HasSubstr("not allowed"));
}

TEST(BqSqlLiteralTest, DecimalsAreDoubles) {
  EXPECT_EQ(Query("SELECT 1, 1.5, .25, 2., 1e3, 2.5E-2"),
            "SELECT 1, 1.5e0, .25e0, 2.0e0, 1e3, 2.5E-2");
  EXPECT_THAT(Error("SELECT 0x1F"),
              HasSubstr(std::string(kUnsupported) + "numeric literal 0x1F (at 1:8)"));
}

TEST(BqSqlLiteralTest, RefusedLiterals) {
  EXPECT_THAT(Error("SELECT '''multi\nline'''"),
              HasSubstr(std::string(kUnsupported) + "triple-quoted string (at 1:8)"));
  EXPECT_THAT(Error("SELECT \"\"\"x\"\"\""), HasSubstr("triple-quoted string"));
  EXPECT_THAT(Error("SELECT b'abc'"),
              HasSubstr(std::string(kUnsupported) + "bytes literal b'abc'"));
}

TEST(BqSqlLiteralTest, QueryParameters) {
  EXPECT_EQ(Query("SELECT * FROM ds.t WHERE d = @submission_date"),
            "SELECT * FROM \"prod\".\"ds\".\"t\" WHERE d = DATE '2020-03-01'");
  EXPECT_THAT(Error("SELECT * FROM ds.t WHERE d = @submission_day"),
              HasSubstr("unknown query parameter @submission_day (at 1:30)"));
  EXPECT_THAT(Error("SELECT @@project_id"),
              HasSubstr(std::string(kUnsupported) + "system variable @@project_id"));
  EXPECT_THAT(Error("SELECT * FROM ds.t WHERE a = ?"), HasSubstr("positional parameter '?'"));
}

TEST(BqSqlLiteralTest, BindingParametersReplacesOnlyParameterTokens) {
  auto r = BindSqlParameters("SELECT @d, '@d', `@d` -- @d\n, @@x", {{"d", "DATE '2020-03-01'"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "SELECT DATE '2020-03-01', '@d', `@d` -- @d\n, @@x");
  EXPECT_THAT(BindSqlParameters("SELECT\n  @e", {}).status().message(),
              HasSubstr("no value for query parameter @e (at 2:3)"));
}

// --- refusals ---------------------------------------------------------------------------------

TEST(BqSqlRefusalTest, Statements) {
  struct Case {
    const char* sql;
    const char* construct;
  };
  const std::vector<Case> cases = {
      {"MERGE ds.t USING ds.u AS u PIVOT(SUM(a) FOR b IN (1)) ON t.id = u.id WHEN MATCHED THEN "
       "DELETE",
       "PIVOT (at 1:28)"},
      {"UPDATE ds.t SET a = 1",
       "UPDATE without WHERE (BigQuery requires a WHERE clause; write "
       "WHERE TRUE) (at 1:1)"},
      {"UPDATE ds.t SET s.f = 1 WHERE true", "UPDATE SET of a STRUCT field (at 1:17)"},
      {"UPDATE ds.t SET a = 1 FROM ds.u, ds.v WHERE true",
       "UPDATE ... FROM with more than one FROM item (join them in a subquery) (at 1:32)"},
      {"TRUNCATE TABLE ds.t", "statement TRUNCATE TABLE"},
      {"ALTER TABLE ds.t ADD COLUMN x INT64", "statement ALTER TABLE"},
      {"CREATE TEMP FUNCTION f(x INT64) AS (x + 1)", "CREATE TEMP FUNCTION"},
      {"CREATE FUNCTION ds.f(x INT64) AS (x + 1)", "CREATE FUNCTION"},
      {"CREATE OR REPLACE VIEW ds.v AS SELECT 1", "CREATE VIEW"},
      {"CREATE PROCEDURE ds.p() BEGIN SELECT 1; END", "CREATE PROCEDURE"},
      {"CREATE SNAPSHOT TABLE ds.s CLONE ds.t", "CREATE SNAPSHOT TABLE"},
      {"CREATE TABLE ds.t (a INT64)", "CREATE TABLE with a column list"},
      {"CREATE TABLE ds.t PARTITION BY d AS SELECT 1 AS d", "CREATE TABLE ... PARTITION BY"},
      {"CREATE TABLE ds.t CLUSTER BY d AS SELECT 1 AS d", "CREATE TABLE ... CLUSTER BY"},
      {"CREATE TABLE ds.t OPTIONS(description='x') AS SELECT 1", "CREATE TABLE ... OPTIONS"},
      {"CREATE TABLE ds.t LIKE ds.u", "CREATE TABLE ... LIKE"},
      {"CREATE TABLE ds.t", "CREATE TABLE without AS SELECT"},
      {"CREATE SCHEMA ds", "CREATE SCHEMA"},
      {"DROP VIEW ds.v", "DROP VIEW"},
      {"DECLARE x STRUCT<a INT64>",
       "DECLARE of type STRUCT<...> (variables of scalar types only) "
       "(at 1:11)"},
      {"DECLARE x STRING(10)", "DECLARE of type STRING(...)"},
      {"SET @@dataset_id = 'x'", "system variable @@dataset_id (at 1:5)"},
      {"SET (a, b) = (SELECT AS STRUCT 1, 2)",
       "SET (...) = a value other than a list (x, y, ...) (at 1:14)"},
      {"BEGIN TRANSACTION", "statement BEGIN TRANSACTION"},
      {"EXECUTE IMMEDIATE 'SELECT 1'", "statement EXECUTE IMMEDIATE"},
      {"CALL ds.p()", "statement CALL"},
      {"EXPORT DATA OPTIONS(uri='gs://x') AS SELECT 1", "statement EXPORT"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(Error(c.sql), HasSubstr(std::string(kUnsupported) + c.construct)) << c.sql;
  }
}

TEST(BqSqlRefusalTest, QueryConstructs) {
  struct Case {
    const char* sql;
    const char* construct;
  };
  const std::vector<Case> cases = {
      {"SELECT x FROM ds.t, UNNEST(t.arr)",
       "UNNEST without an alias (write UNNEST(...) AS x) (at 1:21)"},
      {"SELECT x FROM ds.t CROSS JOIN UNNEST x", "UNNEST"},
      {"SELECT * FROM ds.t WHERE UNNEST([1, 2]) IS NULL", "UNNEST (at 1:26)"},
      {"SELECT * FROM ds.t PIVOT(SUM(a) FOR b IN ('x'))", "PIVOT"},
      {"SELECT * FROM ds.t UNPIVOT(a FOR b IN (x, y))", "UNPIVOT"},
      {"SELECT * FROM ds.t TABLESAMPLE SYSTEM (10 PERCENT)", "TABLESAMPLE"},
      {"SELECT ARRAY(1)", "ARRAY (at 1:8)"},
      {"SELECT ARRAY(SELECT AS STRUCT 1 AS a)", "SELECT AS STRUCT (at 1:14)"},
      {"SELECT STRUCT<a INT64>(1)", "STRUCT"},
      {"SELECT STRUCT(1 + 1)", "STRUCT field without a name (write expr AS name) (at 1:15)"},
      {"SELECT ARRAY<STRUCT<a INT64>>[]", "ARRAY<STRUCT...> other than ARRAY<scalar type>[...]"},
      {"SELECT FORMAT_DATE(fmt, d) FROM ds.t",
       "FORMAT_DATE with a format that is not a string literal"},
      {"SELECT FORMAT_DATE('%Q', d) FROM ds.t", "FORMAT_DATE with format element %Q"},
      {"SELECT REGEXP_EXTRACT(s, r'(a)(b)') FROM ds.t",
       "REGEXP_EXTRACT with more than one capturing group"},
      {"SELECT arr[OFFSET(0)] FROM ds.t", "array subscript [OFFSET(...)] (write SAFE_OFFSET"},
      {"SELECT arr[0] FROM ds.t", "array subscript '[' (at 1:11)"},
      {"SELECT ARRAY_AGG(x) OVER () FROM ds.t", "ARRAY_AGG as a window function"},
      {"SELECT AS STRUCT 1 AS a", "SELECT AS STRUCT"},
      {"SELECT * FROM (SELECT AS VALUE 1)", "SELECT AS VALUE"},
      {"WITH RECURSIVE x AS (SELECT 1) SELECT * FROM x", "WITH RECURSIVE"},
      {"SELECT * FROM ds.a NATURAL JOIN ds.b", "NATURAL JOIN"},
      {"SELECT * FROM ds.a HASH JOIN ds.b ON TRUE", "join hint HASH"},
      {"SELECT d, SUM(x) FROM ds.t GROUP BY ROLLUP(d)", "ROLLUP"},
      {"SELECT 5 % 2", "operator '%'"},
      {"SELECT 5 ^ 2", "operator '^'"},
      {"SELECT * FROM ds.t WHERE _PARTITIONTIME > '2020-01-01'", "_PARTITIONTIME"},
      {"SELECT * FROM ds.events_*", "wildcard table ds.events_*"},
      {"SELECT * FROM EXTERNAL_QUERY('c', 'SELECT 1')", "table-valued function EXTERNAL_QUERY"},
      {"SELECT a COLLATE 'und:ci' FROM ds.t", "COLLATE"},
      {"SELECT * FROM ds.t WITH OFFSET", "WITH OFFSET"},
      {"SELECT f(a => 1)", "function F"},
      {"SELECT * FROM ds.t$20200301", "partition decorator '$' (at 1:19)"},
      {"SELECT `t.a` FROM ds.t", "quoted path `t.a` outside a FROM item"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(Error(c.sql), HasSubstr(std::string(kUnsupported) + c.construct)) << c.sql;
  }
}

TEST(BqSqlRefusalTest, ErrorsNameLineAndColumn) {
  EXPECT_THAT(Error("SELECT a\nFROM ds.t\nWHERE ARRAY_REVERSE(a) > 0"),
              HasSubstr(std::string(kUnsupported) + "function ARRAY_REVERSE (at 3:7)"));
  EXPECT_THAT(Error("SELECT (a FROM ds.t"), HasSubstr("expected ')'"));
  EXPECT_THAT(Error("SELECT a) FROM ds.t"), HasSubstr("near ')' (at 1:9)"));
}

}  // namespace
}  // namespace backfill
