// The SQL dialect layer: translates a documented subset of BigQuery's GoogleSQL, as users paste
// it from runbooks, into DuckDB SQL for the embedded warehouse.
//
// This is a token-level rewriter, not a full SQL parser: it tokenizes the statement, finds the
// statement kind, clause boundaries, table positions and function calls (by matching
// parentheses), and rewrites what differs between the dialects. Everything outside the subset is
// refused with an InvalidArgument error that names the construct and its line:column, so that a
// statement never silently runs with different semantics. The supported subset:
//
//   statements  SELECT (with WITH, UNION/INTERSECT/EXCEPT DISTINCT, QUALIFY, WINDOW),
//               INSERT [INTO] t [(cols)] SELECT|VALUES, DELETE [FROM] t [[AS] a] WHERE ...,
//               CREATE [OR REPLACE] TABLE [IF NOT EXISTS] t AS [(]SELECT ...[)],
//               DROP TABLE [IF EXISTS] t,
//               MERGE [INTO] t [[AS] a] USING table|(query) [[AS] s] ON cond, then clauses
//               WHEN MATCHED [AND c] THEN UPDATE SET col = x, ... | DELETE,
//               WHEN NOT MATCHED [BY TARGET] [AND c] THEN INSERT [(cols)] VALUES (...) | ROW,
//               WHEN NOT MATCHED BY SOURCE [AND c] THEN UPDATE SET ... | DELETE
//               (run by warehouse_merge.cc), UPDATE t [[AS] a] SET col = x, ...
//               [FROM table|(query) [[AS] s]] WHERE cond (run as that MERGE)
//   scripting   DECLARE a[, b] [scalar type] [DEFAULT expr], SET a = expr,
//               SET (a, b) = (x, y); bare names in expressions may read a variable
//               (SqlDialectOptions::variables; bound by warehouse/sql_variables.h)
//   names       `p.d.t`, `p`.d.t, p.d.t, p-with-dashes.d.t, d.t (against default_project);
//               CTE names; aliases. Only names in table position are tables.
//   time travel t [[AS] a] FOR SYSTEM_TIME AS OF <expr> (BigQuery puts the alias first)
//   literals    'x', "x", r'x' (escapes decoded, re-quoted for DuckDB), numbers (decimals are
//               FLOAT64 in BigQuery, so they become DOUBLE), DATE/TIMESTAMP/DATETIME/TIME/NUMERIC
//               typed literals, @parameters from SqlDialectOptions::parameters
//   functions   a whitelist (see kFunctions in bq_sql.cc): common aggregates and window
//               functions, COUNTIF, LOGICAL_AND/OR, IF, IFNULL, COALESCE, NULLIF, CONCAT,
//               CAST/SAFE_CAST with BigQuery type names, EXTRACT, CURRENT_TIMESTAMP/CURRENT_DATE,
//               DATE(), TIMESTAMP(), DATE_/TIMESTAMP_ ADD/SUB/DIFF/TRUNC, string and math basics
//               SAFE_DIVIDE, FORMAT_DATE/PARSE_DATE (literal formats), SPLIT, REGEXP_EXTRACT,
//               TO_JSON_STRING, ARRAY_AGG, ARRAY_LENGTH, GENERATE_DATE_ARRAY
//               (bq_sql_functions.h has the rewrites whose edge cases differ)
//   arrays      [a, b] and ARRAY<scalar type>[...] literals; FROM ..., UNNEST(x) [AS] e
//               [WITH OFFSET [AS] o] (also after [CROSS | LEFT] JOIN, no ON needed), and
//               FROM t, t.arr [AS e] (a path from an earlier item of the same FROM list);
//               x [NOT] IN UNNEST(array); ARRAY(SELECT ...)
//   structs     STRUCT(x AS a, t.b, ...) (named fields; typed STRUCT<...> is refused)
//   select      * EXCEPT (...) -> * EXCLUDE (...), * REPLACE (...)
//
// Pure functions of their arguments; no I/O, no DuckDB calls. Thread-safe as long as the
// resolve_table callback is.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/names.h"
#include "core/status.h"

namespace backfill {

enum class SqlStatementKind {
  kSelect,
  kInsert,
  kDelete,
  kCreateTableAsSelect,
  kDropTable,
  kDeclare,  // DECLARE a[, b] [TYPE] [DEFAULT expr]
  kSet,      // SET a = expr, SET (a, b) = (x, y)
  kMerge,
};

// A name a statement writes or reads as a script variable, with its place in the statement.
struct SqlVariableName {
  std::string name;  // lowercased: variables are case-insensitive
  int line = 0;
  int column = 0;
};

// One WHEN clause of a MERGE. Expressions are DuckDB SQL over the target's alias and the
// source's alias, as the clause may see them.
struct SqlMergeClause {
  enum class Match { kMatched, kNotMatchedByTarget, kNotMatchedBySource };
  enum class Action { kUpdate, kDelete, kInsert };
  Match match = Match::kMatched;
  Action action = Action::kUpdate;
  std::string condition;  // the AND condition; empty = TRUE
  // UPDATE SET column = value (column names as written) / INSERT (columns) VALUES (values);
  // INSERT without a column list: columns empty (all, in order); INSERT ROW: values empty.
  std::vector<std::string> columns;
  std::vector<std::string> values;
  bool insert_row = false;
};

// One table a statement reads.
struct SqlTableRead {
  TableName table;
  std::string as_of_expr;  // translated DuckDB expression; empty without FOR SYSTEM_TIME AS OF
};

struct TranslatedStatement {
  SqlStatementKind kind = SqlStatementKind::kSelect;
  std::string original;                     // the BigQuery text of this one statement
  std::optional<TableName> target;          // INSERT / DELETE / CTAS / DROP target
  std::string target_alias;                 // DELETE FROM t AS a: "a" (the condition may use it)
  std::vector<std::string> insert_columns;  // INSERT INTO t (a, b) ...; empty = all, in order
  // DuckDB query text for kSelect / kInsert / kCreateTableAsSelect: a SELECT (or, for
  // INSERT ... VALUES, a VALUES list), with every table reference replaced through resolve_table.
  std::string query;
  std::string
      delete_condition;        // DuckDB boolean expression for kDelete (over the target's columns)
  bool if_exists = false;      // DROP TABLE IF EXISTS
  bool if_not_exists = false;  // CREATE TABLE IF NOT EXISTS ... AS
  bool or_replace = false;     // CREATE OR REPLACE TABLE ... AS
  // DECLARE: the names declared, `variable_type` (a BigQuery scalar type name, upper case; empty
  // when DEFAULT gives it) and `values` = {default} or {}. SET: the names assigned and one
  // value each. `value_is_string_literal[i]`: values[i] is a lone string literal (which
  // BigQuery coerces to DATE, TIMESTAMP, ...).
  std::vector<SqlVariableName> variables;
  std::string variable_type;
  std::string variable_duckdb_type;  // variable_type in DuckDB's spelling
  std::vector<std::string> values;
  std::vector<bool> value_is_string_literal;
  // Every name that may read a script variable (SqlDialectOptions::variables), in the order
  // SqlDialectOptions::read_as_variable numbers them.
  std::vector<SqlVariableName> variable_references;
  // MERGE target (in `target`, its alias here, the table's name when none) USING `merge_source`
  // (a DuckDB FROM item: a resolved table or a subquery) AS `merge_source_alias` ON
  // `merge_condition`, then the WHEN clauses in order.
  std::string merge_source;
  std::string merge_source_alias;
  std::string merge_condition;
  std::vector<SqlMergeClause> merge_clauses;
  // UPDATE t [[AS] a] SET c = x, ... [FROM s] WHERE cond, which is kMerge: MERGE t USING s (or
  // one row) ON cond WHEN MATCHED THEN UPDATE SET ..., BigQuery's UPDATE ... FROM rules included.
  bool update_statement = false;
  // Every table the statement reads, in order of appearance. The target of INSERT / DELETE /
  // CTAS / DROP is not listed (a DELETE's target is rewritten by the caller, not resolved).
  std::vector<SqlTableRead> reads;
};

struct SqlDialectOptions {
  // Two-part names `dataset.table` resolve against it; empty = such names are an error.
  std::string default_project;
  // DuckDB literal that CURRENT_TIMESTAMP() becomes, e.g.
  // "TIMESTAMPTZ '2020-03-19 10:00:00+00'": the tool's Clock, so tests can fake time. Empty =
  // CURRENT_TIMESTAMP / CURRENT_DATE are an error.
  std::string now_literal;
  // Query parameters: "submission_date" -> "DATE '2020-03-01'" replaces @submission_date. The
  // values are DuckDB literals inserted as they are; an unknown parameter is an error.
  std::map<std::string, std::string> parameters;
  // Called for every table reference in a FROM / JOIN; returns the DuckDB text that replaces it
  // (a quoted name or a parenthesised subquery). as_of_expr is the translated AS OF expression
  // or "". When the text starts with '(' and the query gave no alias, " AS \"<table>\"" is
  // appended so that `t.col` keeps working as in BigQuery. Unset: the name is quoted as
  // "project"."dataset"."table" and FOR SYSTEM_TIME AS OF is an error.
  std::function<Result<std::string>(const TableName&, const std::string& as_of_expr)> resolve_table;
  // Script variables (lowercased name -> the DuckDB expression that reads its value). A bare
  // name in an expression that may be one of them is listed in variable_references; whether it
  // reads the variable or a column of the same name (which BigQuery prefers) is for
  // read_as_variable to say, by its index there (unset: every one reads the variable). Table
  // names, aliases, field names and function names are never variable references.
  std::map<std::string, std::string> variables;
  std::function<bool(size_t reference)> read_as_variable;
};

// Splits a script on top-level semicolons (not inside strings, quoted names or comments) and
// returns each statement's text without surrounding whitespace and comments; drops empty
// statements. Fails only on an unterminated string, quoted name or comment.
Result<std::vector<std::string>> SplitSqlStatements(std::string_view script);

// Replaces every query parameter @name in `script` by `values[name]` (GoogleSQL text, e.g.
// "DATE '2020-03-01'"), as BigQuery binds `bq query --parameter`: only parameter tokens, never
// text inside strings, quoted names or comments. An @name without a value is an
// InvalidArgument naming it and its line:column; @@system variables are left alone.
Result<std::string> BindSqlParameters(std::string_view script,
                                      const std::map<std::string, std::string>& values);

// Translates one statement (a trailing semicolon is allowed). Errors are InvalidArgument and
// give the line:column within `statement`; constructs outside the subset are reported as
// "unsupported in backfill's BigQuery subset: <construct> (at L:C)".
Result<TranslatedStatement> TranslateStatement(std::string_view statement,
                                               const SqlDialectOptions& options);

}  // namespace backfill
