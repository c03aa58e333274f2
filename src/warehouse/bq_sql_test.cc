// The BigQuery dialect's statements: splitting scripts, each statement kind, table names and
// time travel.
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

// --- splitting --------------------------------------------------------------------------------

TEST(BqSqlSplitTest, SplitsOnTopLevelSemicolons) {
  auto r = SplitSqlStatements("SELECT 1;\nDELETE FROM ds.t WHERE true;  DROP TABLE ds.u;\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(*r, ElementsAre("SELECT 1", "DELETE FROM ds.t WHERE true", "DROP TABLE ds.u"));
}

TEST(BqSqlSplitTest, IgnoresSemicolonsInStringsNamesAndComments) {
  auto r = SplitSqlStatements(
      "SELECT ';' AS a, \";\" AS b, 'it\\'s;' AS c FROM `p.d.t;x` -- not; here\n"
      "WHERE x = 1 /* nor; here */ # nor; here\n;\n"
      "SELECT '''a;b'''");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0],
            "SELECT ';' AS a, \";\" AS b, 'it\\'s;' AS c FROM `p.d.t;x` -- not; here\n"
            "WHERE x = 1");
  EXPECT_EQ((*r)[1], "SELECT '''a;b'''");
}

TEST(BqSqlSplitTest, DropsEmptyStatementsAndCommentOnlyStatements) {
  auto r = SplitSqlStatements(";;\n  -- just a comment\n;\n/* block */ SELECT 1;;");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(*r, ElementsAre("SELECT 1"));
  auto empty = SplitSqlStatements("  \n-- nothing\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(BqSqlSplitTest, UnterminatedStringOrCommentIsAnErrorWithPosition) {
  auto r = SplitSqlStatements("SELECT 1;\nSELECT 'abc");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("unterminated string literal (at 2:8)"));
  auto c = SplitSqlStatements("SELECT 1 /* open");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("unterminated /* comment (at 1:10)"));
  auto q = SplitSqlStatements("SELECT * FROM `p.d.t");
  ASSERT_FALSE(q.ok());
  EXPECT_THAT(q.status().message(), HasSubstr("unterminated `quoted name` (at 1:15)"));
}

TEST(BqSqlSplitTest, SplitStatementsTranslate) {
  auto r = SplitSqlStatements("SELECT a FROM ds.t; SELECT b FROM ds.u");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(Query((*r)[1]), "SELECT b FROM \"prod\".\"ds\".\"u\"");
}

// --- statements -------------------------------------------------------------------------------

TEST(BqSqlStatementTest, Select) {
  auto s =
      Translate("SELECT a, b FROM `moz-fx-data-shared-prod.ds.t` WHERE a > 1 ORDER BY b LIMIT 10;");
  EXPECT_EQ(s.kind, SqlStatementKind::kSelect);
  EXPECT_EQ(
      s.query,
      "SELECT a, b FROM \"moz-fx-data-shared-prod\".\"ds\".\"t\" WHERE a > 1 ORDER BY b LIMIT 10");
  EXPECT_EQ(s.original,
            "SELECT a, b FROM `moz-fx-data-shared-prod.ds.t` WHERE a > 1 ORDER BY b LIMIT 10;");
  EXPECT_FALSE(s.target.has_value());
  ASSERT_EQ(s.reads.size(), 1u);
  EXPECT_EQ(s.reads[0].table.ToString(), "moz-fx-data-shared-prod.ds.t");
  EXPECT_EQ(s.reads[0].as_of_expr, "");
}

TEST(BqSqlStatementTest, KeepsLayoutAndDropsComments) {
  EXPECT_EQ(Query("SELECT\n  a, -- the key\n  b /* the value */\nFROM ds.t # trailing\n"),
            "SELECT\n  a, \n  b \nFROM \"prod\".\"ds\".\"t\"");
}

TEST(BqSqlStatementTest, InsertSelect) {
  auto s = Translate(
      "INSERT INTO `p.ds.target` SELECT * FROM `p.ds.source` WHERE submission_date = "
      "@submission_date");
  EXPECT_EQ(s.kind, SqlStatementKind::kInsert);
  ASSERT_TRUE(s.target.has_value());
  EXPECT_EQ(s.target->ToString(), "p.ds.target");
  EXPECT_TRUE(s.insert_columns.empty());
  EXPECT_EQ(s.query,
            "SELECT * FROM \"p\".\"ds\".\"source\" WHERE submission_date = DATE '2020-03-01'");
  ASSERT_EQ(s.reads.size(), 1u);  // the target is not a read
  EXPECT_EQ(s.reads[0].table.ToString(), "p.ds.source");
}

TEST(BqSqlStatementTest, InsertWithColumnListAndWithoutInto) {
  auto s = Translate(
      "INSERT ds.target (document_id, `submission_date`) SELECT document_id, d FROM ds.source");
  EXPECT_EQ(s.target->ToString(), "prod.ds.target");
  EXPECT_THAT(s.insert_columns, ElementsAre("document_id", "submission_date"));
  EXPECT_EQ(s.query, "SELECT document_id, d FROM \"prod\".\"ds\".\"source\"");
}

TEST(BqSqlStatementTest, InsertParenthesisedQueryIsNotAColumnList) {
  auto s = Translate("INSERT INTO ds.target (SELECT a FROM ds.source)");
  EXPECT_TRUE(s.insert_columns.empty());
  EXPECT_EQ(s.query, "(SELECT a FROM \"prod\".\"ds\".\"source\")");
}

TEST(BqSqlStatementTest, InsertWithCte) {
  auto s = Translate("INSERT INTO ds.target WITH x AS (SELECT a FROM ds.source) SELECT a FROM x");
  EXPECT_EQ(s.query, "WITH x AS (SELECT a FROM \"prod\".\"ds\".\"source\") SELECT a FROM x");
  ASSERT_EQ(s.reads.size(), 1u);
}

TEST(BqSqlStatementTest, InsertValues) {
  auto s = Translate("INSERT INTO ds.t (a, b) VALUES (1, \"x\"), (2, 'y')");
  EXPECT_EQ(s.query, "VALUES (1, 'x'), (2, 'y')");
  EXPECT_THAT(s.insert_columns, ElementsAre("a", "b"));
  EXPECT_TRUE(s.reads.empty());
}

TEST(BqSqlStatementTest, Delete) {
  auto s = Translate("DELETE FROM `p.ds.t` WHERE submission_date = '2020-03-01'");
  EXPECT_EQ(s.kind, SqlStatementKind::kDelete);
  EXPECT_EQ(s.target->ToString(), "p.ds.t");
  EXPECT_EQ(s.delete_condition, "submission_date = '2020-03-01'");
  EXPECT_EQ(s.query, "");
  EXPECT_TRUE(s.reads.empty());  // the target is rewritten by the caller, not resolved
}

TEST(BqSqlStatementTest, DeleteWithoutFromAndWithAlias) {
  auto s = Translate("DELETE ds.t AS x WHERE x.a IS NULL");
  EXPECT_EQ(s.target->ToString(), "prod.ds.t");
  EXPECT_EQ(s.target_alias, "x");
  EXPECT_EQ(s.delete_condition, "x.a IS NULL");
}

TEST(BqSqlStatementTest, DeleteWithSubqueryResolvesTheSubqueryTables) {
  auto s = Translate(
      "DELETE FROM ds.live WHERE DATE(submission_timestamp) = @submission_date "
      "AND document_id NOT IN (SELECT DISTINCT document_id FROM ds.stable WHERE submission_date = "
      "@submission_date)");
  EXPECT_EQ(s.delete_condition,
            "CAST(submission_timestamp AS DATE) = DATE '2020-03-01' AND document_id NOT IN "
            "(SELECT DISTINCT document_id FROM \"prod\".\"ds\".\"stable\" WHERE submission_date = "
            "DATE '2020-03-01')");
  ASSERT_EQ(s.reads.size(), 1u);
  EXPECT_EQ(s.reads[0].table.ToString(), "prod.ds.stable");
}

TEST(BqSqlStatementTest, DeleteRequiresWhere) {
  EXPECT_THAT(Error("DELETE FROM ds.t"),
              HasSubstr(std::string(kUnsupported) + "DELETE without WHERE"));
  EXPECT_THAT(Error("DELETE FROM ds.t;"), HasSubstr("(at 1:1)"));
  EXPECT_EQ(Translate("DELETE FROM ds.t WHERE TRUE").delete_condition, "TRUE");
}

TEST(BqSqlStatementTest, CreateTableAsParenthesisedSelect) {
  auto s = Translate("CREATE TABLE `p.ds.snap` AS (SELECT * FROM `p.ds.t` WHERE d = '2020-03-01')");
  EXPECT_EQ(s.kind, SqlStatementKind::kCreateTableAsSelect);
  EXPECT_EQ(s.target->ToString(), "p.ds.snap");
  EXPECT_FALSE(s.or_replace);
  EXPECT_EQ(s.query, "(SELECT * FROM \"p\".\"ds\".\"t\" WHERE d = '2020-03-01')");
}

TEST(BqSqlStatementTest, CreateOrReplaceTableAsSelect) {
  auto s = Translate("CREATE OR REPLACE TABLE ds.snap AS SELECT a FROM ds.t");
  EXPECT_TRUE(s.or_replace);
  EXPECT_FALSE(s.if_not_exists);
  EXPECT_EQ(s.target->ToString(), "prod.ds.snap");
  EXPECT_EQ(s.query, "SELECT a FROM \"prod\".\"ds\".\"t\"");
}

TEST(BqSqlStatementTest, CreateTableIfNotExistsAsSelect) {
  auto s =
      Translate("CREATE TABLE IF NOT EXISTS ds.snap AS WITH x AS (SELECT 1 AS a) SELECT a FROM x");
  EXPECT_TRUE(s.if_not_exists);
  EXPECT_EQ(s.query, "WITH x AS (SELECT 1 AS a) SELECT a FROM x");
  EXPECT_TRUE(s.reads.empty());
}

TEST(BqSqlStatementTest, DropTable) {
  auto s = Translate("DROP TABLE `p.restricted.snap`");
  EXPECT_EQ(s.kind, SqlStatementKind::kDropTable);
  EXPECT_EQ(s.target->ToString(), "p.restricted.snap");
  EXPECT_FALSE(s.if_exists);
  EXPECT_EQ(s.query, "");
  auto e = Translate("DROP TABLE IF EXISTS ds.snap;");
  EXPECT_TRUE(e.if_exists);
  EXPECT_EQ(e.target->ToString(), "prod.ds.snap");
  EXPECT_THAT(Error("DROP TABLE ds.a, ds.b"), HasSubstr("near ',' (at 1:16)"));
}

TEST(BqSqlStatementTest, DeclareAndSet) {
  auto d = Translate("DECLARE a, B DATE DEFAULT '2020-03-01'");
  EXPECT_EQ(d.kind, SqlStatementKind::kDeclare);
  ASSERT_EQ(d.variables.size(), 2u);
  EXPECT_EQ(d.variables[1].name, "b");
  EXPECT_EQ(d.variables[1].column, 12);
  EXPECT_EQ(d.variable_type, "DATE");
  EXPECT_EQ(d.variable_duckdb_type, "DATE");
  EXPECT_THAT(d.values, ElementsAre("'2020-03-01'"));
  EXPECT_THAT(d.value_is_string_literal, ElementsAre(true));
  auto untyped = Translate("DECLARE n DEFAULT (SELECT COUNT(*) FROM ds.t)");
  EXPECT_EQ(untyped.variable_type, "");
  EXPECT_THAT(untyped.values, ElementsAre("(SELECT COUNT(*) FROM \"prod\".\"ds\".\"t\")"));
  EXPECT_EQ(untyped.reads.size(), 1u);
  auto set = Translate("SET (a, b) = (1.5, CONCAT('x', 'y'))");
  EXPECT_EQ(set.kind, SqlStatementKind::kSet);
  EXPECT_THAT(set.values, ElementsAre("1.5e0", "('x' || 'y')"));
  EXPECT_THAT(set.value_is_string_literal, ElementsAre(false, false));
  EXPECT_EQ(Error("DECLARE x"),
            "BigQuery SQL syntax error at the end of the statement (at 1:10): expected a type or "
            "DEFAULT");
  EXPECT_EQ(Error("SET (a, b) = (1)"),
            "BigQuery SQL syntax error near 'SET' (at 1:1): SET assigns 2 variable(s) 1 value(s)");
}

TEST(BqSqlStatementTest, VariableReferencesAreBareNamesInExpressions) {
  SqlDialectOptions o = Options();
  o.variables = {{"x", "getvariable('x')"}};
  // Not references: a function, a path part, a field after '.', a table; the last x is one.
  auto s = Translate("SELECT t.x, x.y FROM ds.x AS t WHERE x = 1", o);
  EXPECT_EQ(s.query, "SELECT t.x, x.y FROM \"prod\".\"ds\".\"x\" AS t WHERE getvariable('x') = 1");
  ASSERT_EQ(s.variable_references.size(), 1u);
  EXPECT_EQ(s.variable_references[0].column, 38);
  // read_as_variable decides each reference by its index.
  o.read_as_variable = [](size_t i) { return i == 1; };
  EXPECT_EQ(Translate("SELECT X + `x`", o).query, "SELECT X + getvariable('x')");
  EXPECT_THAT(Error("SELECT 1 x", o),
              HasSubstr("alias x named like a script variable (rename the alias or the variable) "
                        "(at 1:10)"));
  EXPECT_THAT(Error("SELECT 1 FROM ds.t x", o), HasSubstr("alias x named like a script variable"));
}

TEST(BqSqlStatementTest, Merge) {
  auto m = Translate(
      "MERGE INTO ds.t AS T USING (SELECT * FROM ds.s) AS S ON T.id = S.id "
      "WHEN MATCHED AND S.op = 'd' THEN DELETE "
      "WHEN MATCHED THEN UPDATE SET v = CASE WHEN S.v > 0 THEN S.v END, w = 2 "
      "WHEN NOT MATCHED BY SOURCE THEN DELETE "
      "WHEN NOT MATCHED THEN INSERT (id, v) VALUES (S.id, S.v) "
      "WHEN NOT MATCHED BY TARGET AND S.v IS NULL THEN INSERT ROW");
  EXPECT_EQ(m.kind, SqlStatementKind::kMerge);
  EXPECT_EQ(m.target->ToString(), "prod.ds.t");
  EXPECT_EQ(m.target_alias, "T");
  EXPECT_EQ(m.merge_source, "(SELECT * FROM \"prod\".\"ds\".\"s\") AS S");
  EXPECT_EQ(m.merge_source_alias, "S");
  EXPECT_EQ(m.merge_condition, "T.id = S.id");
  ASSERT_EQ(m.merge_clauses.size(), 5u);
  using C = SqlMergeClause;
  EXPECT_EQ(m.merge_clauses[0].condition, "S.op = 'd'");
  EXPECT_EQ(m.merge_clauses[0].action, C::Action::kDelete);
  EXPECT_THAT(m.merge_clauses[1].columns, ElementsAre("v", "w"));
  EXPECT_THAT(m.merge_clauses[1].values, ElementsAre("CASE WHEN S.v > 0 THEN S.v END", "2"));
  EXPECT_EQ(m.merge_clauses[2].match, C::Match::kNotMatchedBySource);
  EXPECT_EQ(m.merge_clauses[3].match, C::Match::kNotMatchedByTarget);
  EXPECT_THAT(m.merge_clauses[3].values, ElementsAre("S.id", "S.v"));
  EXPECT_TRUE(m.merge_clauses[4].insert_row);
  // Without aliases the tables' names stand for them.
  auto plain = Translate("MERGE ds.t USING ds.s ON t.id = s.id WHEN MATCHED THEN DELETE");
  EXPECT_EQ(plain.target_alias, "t");
  EXPECT_EQ(plain.merge_source, "\"prod\".\"ds\".\"s\"");
  EXPECT_EQ(plain.merge_source_alias, "s");
  EXPECT_EQ(Error("MERGE ds.t USING ds.s ON t.id = s.id WHEN MATCHED THEN INSERT ROW"),
            "BigQuery SQL syntax error near 'INSERT' (at 1:56): expected UPDATE or DELETE");
  EXPECT_EQ(Error("MERGE ds.t USING ds.s ON t.id = s.id"),
            "BigQuery SQL syntax error at the end of the statement (at 1:37): expected WHEN");
}

TEST(BqSqlStatementTest, ImplicitUnnestOfAPathAfterItsTable) {
  // `t.arr` after `t` in the same FROM list is an array, not a table: no read is resolved.
  auto s = Translate("SELECT v FROM ds.t, t.arr AS v");
  EXPECT_EQ(s.query,
            "SELECT v FROM \"prod\".\"ds\".\"t\", (SELECT unnest(t.arr) AS \"v\") AS "
            "_bf_unnest_1");
  ASSERT_EQ(s.reads.size(), 1u);
  // Without an alias the element is named after the array; joins need no ON.
  EXPECT_EQ(Query("SELECT 1 FROM ds.t AS a JOIN a.s.arr"),
            "SELECT 1 FROM \"prod\".\"ds\".\"t\" AS a JOIN (SELECT unnest(a.s.arr) AS \"arr\") AS "
            "_bf_unnest_1 ON TRUE");
  // A two-part name whose first part is no earlier FROM item is a table.
  EXPECT_EQ(Translate("SELECT 1 FROM ds.t, ds.u").reads.size(), 2u);
}

TEST(BqSqlStatementTest, InUnnestAndArraySubquery) {
  EXPECT_EQ(Query("SELECT x IN UNNEST(arr), x NOT IN UNNEST([1]) FROM ds.t"),
            "SELECT x IN (SELECT unnest(arr)), x NOT IN (SELECT unnest([1])) FROM "
            "\"prod\".\"ds\".\"t\"");
  EXPECT_EQ(Query("SELECT ARRAY(SELECT x FROM ds.u ORDER BY x)"),
            "SELECT ARRAY(SELECT x FROM \"prod\".\"ds\".\"u\" ORDER BY x)");
}

TEST(BqSqlStatementTest, RefusesMoreThanOneStatement) {
  EXPECT_THAT(Error("SELECT 1; SELECT 2"), HasSubstr("more than one statement (at 1:9)"));
  EXPECT_THAT(Error("  -- nothing\n"), HasSubstr("empty statement"));
}

// --- names ------------------------------------------------------------------------------------

TEST(BqSqlNamesTest, QuotedAndDashedProjectNames) {
  EXPECT_EQ(Query("SELECT * FROM `moz-fx-data-shared-prod`.telemetry_live.main_v5"),
            "SELECT * FROM \"moz-fx-data-shared-prod\".\"telemetry_live\".\"main_v5\"");
  EXPECT_EQ(Query("SELECT * FROM moz-fx-data-shared-prod.telemetry_live.main_v5"),
            "SELECT * FROM \"moz-fx-data-shared-prod\".\"telemetry_live\".\"main_v5\"");
  EXPECT_EQ(Query("SELECT * FROM `moz-fx-data-shared-prod`.`telemetry_live`.`main_v5`"),
            "SELECT * FROM \"moz-fx-data-shared-prod\".\"telemetry_live\".\"main_v5\"");
}

TEST(BqSqlNamesTest, DashedProjectEndingInDigits) {
  auto s = Translate("SELECT * FROM my-proj-123.ds.t");
  ASSERT_EQ(s.reads.size(), 1u);
  EXPECT_EQ(s.reads[0].table, (TableName{"my-proj-123", "ds", "t"}));
  // With spaces it is a subtraction, not a name.
  EXPECT_THAT(Error("SELECT * FROM my - proj.ds.t"), HasSubstr("'my' is not a table name"));
}

TEST(BqSqlNamesTest, TwoPartNamesResolveAgainstTheDefaultProject) {
  auto s = Translate("SELECT 1 FROM telemetry_live.main_v5");
  ASSERT_EQ(s.reads.size(), 1u);
  EXPECT_EQ(s.reads[0].table, (TableName{"prod", "telemetry_live", "main_v5"}));
  SqlDialectOptions no_default = Options();
  no_default.default_project.clear();
  EXPECT_THAT(Error("SELECT 1 FROM telemetry_live.main_v5", no_default),
              HasSubstr("'telemetry_live.main_v5' is not a table name (expected "
                        "project.dataset.table) (at 1:15)"));
}

TEST(BqSqlNamesTest, InvalidTableNamesAreNamed) {
  EXPECT_THAT(Error("SELECT * FROM main_v5"), HasSubstr("'main_v5' is not a table name"));
  EXPECT_THAT(Error("SELECT * FROM `Prod.ds.t`"), HasSubstr("'Prod' is not a valid project name"));
  EXPECT_THAT(Error("SELECT * FROM `p.ds.t-x`"), HasSubstr("'t-x' is not a valid table name"));
  EXPECT_THAT(Error("INSERT INTO a.b.c.d SELECT 1"), HasSubstr("'a.b.c.d' is not a table name"));
  EXPECT_THAT(Error("DELETE FROM p._bf_segments.t WHERE true"), HasSubstr("reserved"));
}

TEST(BqSqlNamesTest, ColumnReferencesAndAliasesAreNotTables) {
  auto s = Translate(
      "SELECT t.a, u.b, t.payload.info.x FROM ds.t AS t JOIN ds.u u ON t.id = u.id WHERE t.a > "
      "u.b");
  EXPECT_EQ(s.query,
            "SELECT t.a, u.b, t.payload.info.x FROM \"prod\".\"ds\".\"t\" AS t JOIN "
            "\"prod\".\"ds\".\"u\" u "
            "ON t.id = u.id WHERE t.a > u.b");
  ASSERT_EQ(s.reads.size(), 2u);
  EXPECT_EQ(s.reads[0].table.table, "t");
  EXPECT_EQ(s.reads[1].table.table, "u");
}

TEST(BqSqlNamesTest, BacktickedColumnsAreDoubleQuoted) {
  EXPECT_EQ(Query("SELECT `my col`, `select` FROM ds.t `x`"),
            "SELECT \"my col\", \"select\" FROM \"prod\".\"ds\".\"t\" \"x\"");
}

TEST(BqSqlNamesTest, CommaJoinsAndJoinKinds) {
  auto s = Translate(
      "SELECT * FROM ds.a, ds.b LEFT OUTER JOIN ds.c USING (id) CROSS JOIN ds.d FULL JOIN ds.e ON "
      "TRUE, ds.f");
  EXPECT_EQ(s.query,
            "SELECT * FROM \"prod\".\"ds\".\"a\", \"prod\".\"ds\".\"b\" LEFT OUTER JOIN "
            "\"prod\".\"ds\".\"c\" "
            "USING (id) CROSS JOIN \"prod\".\"ds\".\"d\" FULL JOIN \"prod\".\"ds\".\"e\" ON TRUE, "
            "\"prod\".\"ds\".\"f\"");
  ASSERT_EQ(s.reads.size(), 6u);
  EXPECT_EQ(s.reads[5].table.table, "f");
}

TEST(BqSqlNamesTest, CteNamesAreNotResolved) {
  auto s = Translate(
      "WITH base AS (SELECT * FROM ds.t), `dedup` AS (SELECT * FROM base QUALIFY ROW_NUMBER() OVER "
      "(PARTITION BY id ORDER BY ts) = 1) SELECT * FROM dedup JOIN BASE USING (id) "
      "WHERE id IN (SELECT id FROM base)");
  EXPECT_EQ(s.query,
            "WITH base AS (SELECT * FROM \"prod\".\"ds\".\"t\"), \"dedup\" AS (SELECT * FROM base "
            "QUALIFY "
            "ROW_NUMBER() OVER (PARTITION BY id ORDER BY ts) = 1) SELECT * FROM dedup JOIN BASE "
            "USING (id) "
            "WHERE id IN (SELECT id FROM base)");
  ASSERT_EQ(s.reads.size(), 1u);
}

TEST(BqSqlNamesTest, CteIsVisibleOnlyAfterItsDefinition) {
  EXPECT_THAT(Error("WITH a AS (SELECT * FROM a) SELECT * FROM a"),
              HasSubstr("'a' is not a table name"));
  // A CTE of a subquery does not leak out of it.
  EXPECT_THAT(
      Error("SELECT * FROM (WITH a AS (SELECT 1) SELECT * FROM a), a"),
      HasSubstr(
          "'a' is not a table name (expected project.dataset.table or dataset.table) (at 1:55)"));
}

TEST(BqSqlNamesTest, SubqueriesInFromAndParenthesisedJoins) {
  EXPECT_EQ(
      Query("SELECT x.a FROM (SELECT a FROM ds.t) AS x, (ds.u JOIN ds.v USING (a))"),
      "SELECT x.a FROM (SELECT a FROM \"prod\".\"ds\".\"t\") AS x, (\"prod\".\"ds\".\"u\" JOIN "
      "\"prod\".\"ds\".\"v\" USING (a))");
}

TEST(BqSqlNamesTest, ResolverSubqueriesKeepTheTableNameAsAlias) {
  SqlDialectOptions o = Options();
  o.resolve_table = [](const TableName& t, const std::string&) -> Result<std::string> {
    return "(SELECT * FROM " + QuoteIdent(t.table) + "_current)";
  };
  EXPECT_EQ(Translate("SELECT t.a FROM ds.t WHERE t.a = 1", o).query,
            "SELECT t.a FROM (SELECT * FROM \"t\"_current) AS \"t\" WHERE t.a = 1");
  EXPECT_EQ(Translate("SELECT x.a FROM ds.t x", o).query,
            "SELECT x.a FROM (SELECT * FROM \"t\"_current) x");
}

TEST(BqSqlNamesTest, ResolverErrorsPropagate) {
  SqlDialectOptions o = Options();
  o.resolve_table = [](const TableName& t, const std::string&) -> Result<std::string> {
    return NotFound("table " + t.ToString() + " not found");
  };
  auto r = TranslateStatement("SELECT * FROM ds.missing", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(BqSqlNamesTest, WithoutResolverNamesAreQuoted) {
  SqlDialectOptions o = Options();
  o.resolve_table = nullptr;
  EXPECT_EQ(Translate("SELECT * FROM ds.t", o).query, "SELECT * FROM \"prod\".\"ds\".\"t\"");
  EXPECT_THAT(Error("SELECT * FROM ds.t FOR SYSTEM_TIME AS OF CURRENT_TIMESTAMP()", o),
              HasSubstr("needs a table resolver"));
}

// --- time travel ------------------------------------------------------------------------------

TEST(BqSqlTimeTravelTest, ForSystemTimeAsOf) {
  auto s = Translate(
      "SELECT * FROM `p.ds.t` FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 "
      "HOUR) "
      "WHERE d = '2020-03-01'");
  EXPECT_EQ(s.query,
            "SELECT * FROM \"p\".\"ds\".\"t\"@asof((TIMESTAMPTZ '2020-03-19 10:00:00+00' - "
            "INTERVAL 1 HOUR)) "
            "WHERE d = '2020-03-01'");
  ASSERT_EQ(s.reads.size(), 1u);
  EXPECT_EQ(s.reads[0].as_of_expr, "(TIMESTAMPTZ '2020-03-19 10:00:00+00' - INTERVAL 1 HOUR)");
}

TEST(BqSqlTimeTravelTest, AliasGoesBeforeForSystemTime) {
  auto s = Translate(
      "SELECT a.x FROM ds.t AS a FOR SYSTEM_TIME AS OF @ts JOIN ds.u b FOR SYSTEM_TIME AS OF "
      "TIMESTAMP '2020-03-18 12:00:00' ON a.id = b.id");
  EXPECT_EQ(
      s.query,
      "SELECT a.x FROM \"prod\".\"ds\".\"t\"@asof(TIMESTAMPTZ '2020-03-18 00:00:00+00') AS a JOIN "
      "\"prod\".\"ds\".\"u\"@asof(TIMESTAMPTZ '2020-03-18 12:00:00') b ON a.id = b.id");
  ASSERT_EQ(s.reads.size(), 2u);
  EXPECT_EQ(s.reads[1].as_of_expr, "TIMESTAMPTZ '2020-03-18 12:00:00'");
}

TEST(BqSqlTimeTravelTest, AliasAfterTheTimestampIsRejectedWithTheBigQueryOrder) {
  EXPECT_THAT(Error("SELECT * FROM ds.t FOR SYSTEM_TIME AS OF @ts AS a"),
              HasSubstr("the alias goes before FOR SYSTEM_TIME AS OF"));
}

TEST(BqSqlTimeTravelTest, AsOfEndsAtClauseBoundaries) {
  EXPECT_EQ(Query("SELECT * FROM ds.t FOR SYSTEM_TIME AS OF @ts, ds.u GROUP BY 1"),
            "SELECT * FROM \"prod\".\"ds\".\"t\"@asof(TIMESTAMPTZ '2020-03-18 00:00:00+00'), "
            "\"prod\".\"ds\".\"u\" GROUP BY 1");
  EXPECT_EQ(Query("SELECT * FROM (SELECT * FROM ds.t FOR SYSTEM_TIME AS OF @ts)"),
            "SELECT * FROM (SELECT * FROM \"prod\".\"ds\".\"t\"@asof(TIMESTAMPTZ '2020-03-18 "
            "00:00:00+00'))");
  EXPECT_EQ(Query("SELECT * FROM ds.t FOR SYSTEM TIME AS OF @ts"),
            "SELECT * FROM \"prod\".\"ds\".\"t\"@asof(TIMESTAMPTZ '2020-03-18 00:00:00+00')");
}

TEST(BqSqlTimeTravelTest, RefusedOnSubqueriesAndCtes) {
  EXPECT_THAT(
      Error("SELECT * FROM (SELECT 1) FOR SYSTEM_TIME AS OF @ts"),
      HasSubstr(std::string(kUnsupported) + "FOR SYSTEM_TIME AS OF on a subquery (at 1:26)"));
  EXPECT_THAT(Error("WITH x AS (SELECT 1) SELECT * FROM x FOR SYSTEM_TIME AS OF @ts"),
              HasSubstr("FOR SYSTEM_TIME AS OF on a WITH query"));
  EXPECT_THAT(Error("SELECT * FROM ds.t WHERE FOR SYSTEM_TIME AS OF @ts"),
              HasSubstr("FOR SYSTEM_TIME AS OF outside a FROM item"));
  EXPECT_THAT(Error("SELECT * FROM ds.t FOR SYSTEM_TIME AS OF"),
              HasSubstr("expected a timestamp after AS OF"));
}

}  // namespace
}  // namespace backfill
