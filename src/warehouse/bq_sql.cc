// One algorithm in one file: the token-level rewriter of bq_sql.h. Its two parts (the tables of
// what the subset contains, the rewriter that walks the tokens) share the statement cursor and
// are read together when the dialect grows. The tokens come from bq_sql_lexer.h; functions
// rewritten from their translated arguments alone (no tokens) are in bq_sql_functions.cc.
#include "warehouse/bq_sql.h"
#include "core/text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <memory>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "core/schema.h"
#include "warehouse/bq_sql_functions.h"
#include "warehouse/bq_sql_lexer.h"

namespace backfill {
namespace {

using bq_sql_internal::DecodeString;
using bq_sql_internal::IsDigit;
using bq_sql_internal::Lower;
using bq_sql_internal::Token;
using bq_sql_internal::TokenKind;
using bq_sql_internal::Trim;
using bq_sql_internal::Upper;
using bq_sql_internal::Where;

// ---------------------------------------------------------------------------------------------
// What the subset contains

// Reserved keywords of GoogleSQL that never start a function call but may precede '(' (IN (...),
// OVER (...), AS (...), ...). Everything else before '(' is a function call and is checked
// against kFunctions.
const std::set<std::string, std::less<>> kKeywordsBeforeParen = {
    "ALL",    "AND",    "AS",   "BETWEEN", "BY",     "CASE",      "DISTINCT", "ELSE",
    "EXCEPT", "EXISTS", "FROM", "HAVING",  "IN",     "INTERSECT", "IS",       "LIKE",
    "LIMIT",  "NOT",    "ON",   "OR",      "OVER",   "QUALIFY",   "SELECT",   "THEN",
    "UNION",  "USING",  "WHEN", "WHERE",   "OFFSET",
};

// Reserved keywords (and a few pseudo-columns) the subset refuses wherever they appear: either
// BigQuery semantics that DuckDB would run differently (UNNEST, ARRAY, STRUCT) or constructs we
// have not mapped. Naming them beats letting DuckDB fail on something it half understands.
const std::set<std::string, std::less<>> kRefusedWords = {
    "ANY",
    "ARRAY",
    "ASSERT_ROWS_MODIFIED",
    "AT",
    "COLLATE",
    "CONTAINS",
    "CREATE",
    "CUBE",
    "DEFAULT",
    "DEFINE",
    "ENUM",
    "ESCAPE",
    "EXCLUDE",
    "FETCH",
    "FOR",
    "GROUPING",
    "GROUPS",
    "HASH",
    "INTERVAL",
    "INTO",
    "LATERAL",
    "LOOKUP",
    "MERGE",
    "NATURAL",
    "NEW",
    "NO",
    "PROTO",
    "RECURSIVE",
    "ROLLUP",
    "SET",
    "SOME",
    "STRUCT",
    "TABLESAMPLE",
    "TO",
    "TREAT",
    "UNNEST",
    "WITHIN",
    "_PARTITIONTIME",
    "_PARTITIONDATE",
    "_TABLE_SUFFIX",
    "_FILE_NAME",
};

// The GoogleSQL reserved keywords: never an implicit alias or a table name.
const std::set<std::string, std::less<>> kReserved = {
    "ALL",
    "AND",
    "ANY",
    "ARRAY",
    "AS",
    "ASC",
    "ASSERT_ROWS_MODIFIED",
    "AT",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "COLLATE",
    "CONTAINS",
    "CREATE",
    "CROSS",
    "CUBE",
    "CURRENT",
    "DEFAULT",
    "DEFINE",
    "DESC",
    "DISTINCT",
    "ELSE",
    "END",
    "ENUM",
    "ESCAPE",
    "EXCEPT",
    "EXCLUDE",
    "EXISTS",
    "EXTRACT",
    "FALSE",
    "FETCH",
    "FOLLOWING",
    "FOR",
    "FROM",
    "FULL",
    "GROUP",
    "GROUPING",
    "GROUPS",
    "HASH",
    "HAVING",
    "IF",
    "IGNORE",
    "IN",
    "INNER",
    "INTERSECT",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "LATERAL",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LOOKUP",
    "MERGE",
    "NATURAL",
    "NEW",
    "NO",
    "NOT",
    "NULL",
    "NULLS",
    "OF",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARTITION",
    "PRECEDING",
    "PROTO",
    "QUALIFY",
    "RANGE",
    "RECURSIVE",
    "RESPECT",
    "RIGHT",
    "ROLLUP",
    "ROWS",
    "SELECT",
    "SET",
    "SOME",
    "STRUCT",
    "TABLESAMPLE",
    "THEN",
    "TO",
    "TREAT",
    "TRUE",
    "UNBOUNDED",
    "UNION",
    "UNNEST",
    "USING",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "WITHIN",
};

// Functions passed through by name (same arguments, same semantics in DuckDB), with their
// DuckDB spelling when it differs. Functions whose semantics differ are deliberately absent
// (GREATEST/LEAST ignore NULLs in DuckDB, CONCAT treats NULL as '', SUBSTR treats position 0
// differently, LOG swaps its arguments, EXTRACT(MILLISECOND) counts from the minute, ...).
struct FunctionSpec {
  std::string_view duckdb;  // empty: keep the user's spelling
  int min_args;
  int max_args;  // -1: any number
};
const std::map<std::string, FunctionSpec, std::less<>> kFunctions = {
    // Aggregates.
    {"COUNT", {"", 1, 1}},
    {"SUM", {"", 1, 1}},
    {"AVG", {"", 1, 1}},
    {"MIN", {"", 1, 1}},
    {"MAX", {"", 1, 1}},
    {"ANY_VALUE", {"", 1, 1}},
    {"COUNTIF", {"count_if", 1, 1}},
    {"LOGICAL_AND", {"bool_and", 1, 1}},
    {"LOGICAL_OR", {"bool_or", 1, 1}},
    {"STRING_AGG", {"", 1, 2}},
    // Window functions.
    {"ROW_NUMBER", {"", 0, 0}},
    {"RANK", {"", 0, 0}},
    {"DENSE_RANK", {"", 0, 0}},
    {"PERCENT_RANK", {"", 0, 0}},
    {"CUME_DIST", {"", 0, 0}},
    {"NTILE", {"", 1, 1}},
    {"LAG", {"", 1, 3}},
    {"LEAD", {"", 1, 3}},
    {"FIRST_VALUE", {"", 1, 1}},
    {"LAST_VALUE", {"", 1, 1}},
    // NULL handling.
    {"COALESCE", {"", 1, -1}},
    {"IFNULL", {"", 2, 2}},
    {"NULLIF", {"", 2, 2}},
    // Math.
    {"ABS", {"", 1, 1}},
    {"SIGN", {"", 1, 1}},
    {"FLOOR", {"", 1, 1}},
    {"CEIL", {"", 1, 1}},
    {"CEILING", {"", 1, 1}},
    {"ROUND", {"", 1, 2}},
    {"MOD", {"", 2, 2}},
    {"SQRT", {"", 1, 1}},
    {"POW", {"", 2, 2}},
    {"POWER", {"", 2, 2}},
    {"EXP", {"", 1, 1}},
    {"LN", {"", 1, 1}},
    {"LOG10", {"", 1, 1}},
    // Strings.
    {"LOWER", {"", 1, 1}},
    {"UPPER", {"", 1, 1}},
    {"LENGTH", {"", 1, 1}},
    {"TRIM", {"", 1, 2}},
    {"LTRIM", {"", 1, 2}},
    {"RTRIM", {"", 1, 2}},
    {"STARTS_WITH", {"", 2, 2}},
    {"ENDS_WITH", {"", 2, 2}},
    {"REPLACE", {"", 3, 3}},
    {"REGEXP_CONTAINS", {"regexp_matches", 2, 2}},
    // Arrays.
    {"ARRAY_LENGTH", {"len", 1, 1}},
};

// BigQuery type names in CAST and typed literals -> DuckDB. TIMESTAMP is an absolute point in
// time in BigQuery, i.e. DuckDB's TIMESTAMPTZ; BigQuery's zone-less DATETIME is DuckDB's
// TIMESTAMP.
const std::map<std::string, std::string_view, std::less<>> kTypes = {
    {"INT64", "BIGINT"},
    {"INT", "BIGINT"},
    {"INTEGER", "BIGINT"},
    {"SMALLINT", "BIGINT"},
    {"BIGINT", "BIGINT"},
    {"TINYINT", "BIGINT"},
    {"BYTEINT", "BIGINT"},
    {"FLOAT64", "DOUBLE"},
    {"STRING", "VARCHAR"},
    {"BOOL", "BOOLEAN"},
    {"BOOLEAN", "BOOLEAN"},
    {"BYTES", "BLOB"},
    {"TIMESTAMP", "TIMESTAMPTZ"},
    {"DATETIME", "TIMESTAMP"},
    {"DATE", "DATE"},
    {"TIME", "TIME"},
    {"NUMERIC", "DECIMAL(38,9)"},
    {"DECIMAL", "DECIMAL(38,9)"},
};

const std::set<std::string, std::less<>> kTimestampUnits = {"MICROSECOND", "MILLISECOND", "SECOND",
                                                            "MINUTE",      "HOUR",        "DAY"};
const std::set<std::string, std::less<>> kDateAddUnits = {"DAY", "WEEK", "MONTH", "QUARTER",
                                                          "YEAR"};
// DATE_DIFF counts boundaries; DuckDB's date_diff does too, except that its weeks start on
// Monday where BigQuery's start on Sunday, so WEEK is left out.
const std::set<std::string, std::less<>> kDateDiffUnits = {"DAY", "MONTH", "QUARTER", "YEAR"};
const std::set<std::string, std::less<>> kTimestampTruncUnits = {
    "MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "MONTH", "QUARTER", "YEAR"};
const std::set<std::string, std::less<>> kExtractParts = {
    "YEAR", "QUARTER", "MONTH", "DAY", "DAYOFYEAR", "HOUR", "MINUTE", "SECOND"};

// Words after which a '*' is a select-star rather than a multiplication.
bool StarContext(const Token& prev) {
  if (prev.kind == TokenKind::kWord) {
    return prev.upper == "SELECT" || prev.upper == "DISTINCT" || prev.upper == "ALL";
  }
  return prev.kind == TokenKind::kSymbol && (prev.text == "," || prev.text == ".");
}

bool IsAllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return IsDigit(c); });
}

// ---------------------------------------------------------------------------------------------
// The rewriter

using StopFn = std::function<bool(const Token&)>;

class Translator {
 public:
  Translator(std::vector<Token> tokens, const SqlDialectOptions& options, TranslatedStatement* out)
      : toks_(std::move(tokens)), options_(options), stmt_(out) {}

  Status Statement() {
    // A trailing ';' is allowed; any other is reported where the parser meets it (see Symbol),
    // so that statements we refuse anyway (a procedure body) are named first.
    if (toks_.size() >= 2 && IsSymbol(toks_[toks_.size() - 2], ";")) {
      toks_.erase(toks_.end() - 2);
    }
    const Token& first = Cur();
    if (first.kind == TokenKind::kEnd) return InvalidArgument("empty statement");
    if (IsWord(first, "SELECT") || IsWord(first, "WITH") || IsSymbol(first, "(")) {
      stmt_->kind = SqlStatementKind::kSelect;
      BF_RETURN_IF_ERROR(Query(&stmt_->query));
    } else if (IsWord(first, "INSERT")) {
      BF_RETURN_IF_ERROR(Insert());
    } else if (IsWord(first, "DELETE")) {
      BF_RETURN_IF_ERROR(Delete());
    } else if (IsWord(first, "CREATE")) {
      BF_RETURN_IF_ERROR(CreateTableAsSelect());
    } else if (IsWord(first, "DROP")) {
      BF_RETURN_IF_ERROR(Drop());
    } else if (IsWord(first, "DECLARE")) {
      BF_RETURN_IF_ERROR(Declare());
    } else if (IsWord(first, "SET")) {
      BF_RETURN_IF_ERROR(Set());
    } else if (IsWord(first, "MERGE")) {
      BF_RETURN_IF_ERROR(Merge());
    } else if (IsWord(first, "UPDATE")) {
      BF_RETURN_IF_ERROR(Update());
    } else if (first.kind == TokenKind::kWord) {
      std::string what = first.upper;
      // Name the statement as people say it ("EXECUTE IMMEDIATE", "CREATE TEMP FUNCTION").
      if (Peek(1).kind == TokenKind::kWord &&
          (what == "EXECUTE" || what == "BEGIN" || what == "ALTER" || what == "TRUNCATE")) {
        what += " " + Peek(1).upper;
      }
      return Unsupported(first, "statement " + what);
    } else {
      return SyntaxError(first, "expected a statement");
    }
    if (IsSymbol(Cur(), ";")) return MoreThanOneStatement(Cur());
    if (Cur().kind != TokenKind::kEnd)
      return SyntaxError(Cur(), "expected the end of the statement");
    stmt_->query = Trim(stmt_->query);
    stmt_->delete_condition = Trim(stmt_->delete_condition);
    return Status::Ok();
  }

 private:
  // --- cursor -------------------------------------------------------------------------------

  const Token& Cur() const { return toks_[pos_]; }
  const Token& Peek(size_t k) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  const Token& Prev() const { return toks_[pos_ == 0 ? 0 : pos_ - 1]; }
  void Advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  static bool IsWord(const Token& t, std::string_view upper) {
    return t.kind == TokenKind::kWord && t.upper == upper;
  }
  static bool IsSymbol(const Token& t, std::string_view s) {
    return t.kind == TokenKind::kSymbol && t.text == s;
  }
  static bool IsName(const Token& t) {
    return t.kind == TokenKind::kWord || t.kind == TokenKind::kQuotedName;
  }
  bool AcceptWord(std::string_view upper) {
    if (!IsWord(Cur(), upper)) return false;
    Advance();
    return true;
  }
  Status ExpectWord(std::string_view upper) {
    if (!AcceptWord(upper)) return SyntaxError(Cur(), fmt::format("expected {}", upper));
    return Status::Ok();
  }
  Status ExpectSymbol(std::string_view s) {
    if (!IsSymbol(Cur(), s)) return SyntaxError(Cur(), fmt::format("expected '{}'", s));
    Advance();
    return Status::Ok();
  }

  static Status Unsupported(const Token& t, std::string_view what) {
    return InvalidArgument(fmt::format("unsupported in backfill's BigQuery subset: {} {}", what,
                                       Where(t.line, t.column)));
  }
  static Status MoreThanOneStatement(const Token& t) {
    return InvalidArgument(
        fmt::format("more than one statement {}: split scripts with SplitSqlStatements first",
                    Where(t.line, t.column)));
  }
  static Status SyntaxError(const Token& t, std::string_view expected) {
    if (IsSymbol(t, ";")) return MoreThanOneStatement(t);
    if (t.kind == TokenKind::kEnd) {
      return InvalidArgument(
          fmt::format("BigQuery SQL syntax error at the end of the statement {}: {}",
                      Where(t.line, t.column), expected));
    }
    return InvalidArgument(fmt::format("BigQuery SQL syntax error near '{}' {}: {}", t.text,
                                       Where(t.line, t.column), expected));
  }

  // --- statements ---------------------------------------------------------------------------

  Status Insert() {
    stmt_->kind = SqlStatementKind::kInsert;
    Advance();  // INSERT
    AcceptWord("INTO");
    BF_ASSIGN_OR_RETURN(stmt_->target, TargetName());
    // `(a, b)` is a column list unless it opens the query: INSERT INTO t (SELECT ...).
    if (IsSymbol(Cur(), "(") && !StartsQuery(Peek(1))) {
      Advance();
      while (true) {
        if (!IsName(Cur())) return SyntaxError(Cur(), "expected a column name");
        stmt_->insert_columns.push_back(Cur().kind == TokenKind::kWord ? Cur().text : Cur().body);
        Advance();
        if (IsSymbol(Cur(), ",")) {
          Advance();
          continue;
        }
        BF_RETURN_IF_ERROR(ExpectSymbol(")"));
        break;
      }
    }
    if (IsWord(Cur(), "VALUES")) {
      // VALUES (...), (...): each row is a parenthesised expression list.
      stmt_->query = "VALUES";
      Advance();
      while (true) {
        if (!IsSymbol(Cur(), "(")) return SyntaxError(Cur(), "expected '(' of a VALUES row");
        BF_RETURN_IF_ERROR(ParenGroup(&stmt_->query));
        if (!IsSymbol(Cur(), ",")) break;
        stmt_->query += ",";
        Advance();
      }
      return Status::Ok();
    }
    if (!StartsQuery(Cur())) return SyntaxError(Cur(), "expected SELECT, WITH or VALUES");
    return Query(&stmt_->query);
  }

  Status Delete() {
    stmt_->kind = SqlStatementKind::kDelete;
    const Token& del = Cur();
    Advance();
    AcceptWord("FROM");
    BF_ASSIGN_OR_RETURN(stmt_->target, TargetName());
    if (AcceptWord("AS")) {
      if (!IsName(Cur())) return SyntaxError(Cur(), "expected an alias");
      stmt_->target_alias = NameValue(Cur());
      Advance();
    } else if (IsName(Cur()) && !IsWord(Cur(), "WHERE") && !IsReserved(Cur())) {
      stmt_->target_alias = NameValue(Cur());
      Advance();
    }
    if (!AcceptWord("WHERE")) {
      if (Cur().kind == TokenKind::kEnd) {
        return Unsupported(
            del, "DELETE without WHERE (BigQuery requires a WHERE clause; write WHERE TRUE)");
      }
      return SyntaxError(Cur(), "expected WHERE");
    }
    if (Cur().kind == TokenKind::kEnd)
      return SyntaxError(Cur(), "expected a condition after WHERE");
    return Expr(nullptr, &stmt_->delete_condition);
  }

  Status CreateTableAsSelect() {
    stmt_->kind = SqlStatementKind::kCreateTableAsSelect;
    const Token& create = Cur();
    Advance();
    if (AcceptWord("OR")) {
      BF_RETURN_IF_ERROR(ExpectWord("REPLACE"));
      stmt_->or_replace = true;
    }
    if (!IsWord(Cur(), "TABLE")) {
      std::string what = "CREATE " + (Cur().kind == TokenKind::kWord ? Cur().upper : Cur().text);
      // CREATE TEMP FUNCTION, CREATE MATERIALIZED VIEW, ...: name the object kind too.
      static const std::set<std::string, std::less<>> kModifiers = {
          "TEMP",      "TEMPORARY", "MATERIALIZED", "SNAPSHOT", "EXTERNAL",
          "AGGREGATE", "SEARCH",    "VECTOR",       "ROW"};
      if (kModifiers.count(Cur().upper) && Peek(1).kind == TokenKind::kWord)
        what += " " + Peek(1).upper;
      return Unsupported(create, what);
    }
    Advance();
    if (AcceptWord("IF")) {
      BF_RETURN_IF_ERROR(ExpectWord("NOT"));
      BF_RETURN_IF_ERROR(ExpectWord("EXISTS"));
      if (stmt_->or_replace)
        return SyntaxError(create, "OR REPLACE and IF NOT EXISTS exclude each other");
      stmt_->if_not_exists = true;
    }
    BF_ASSIGN_OR_RETURN(stmt_->target, TargetName());
    const Token& t = Cur();
    if (IsSymbol(t, "(")) return Unsupported(t, "CREATE TABLE with a column list");
    if (t.kind == TokenKind::kWord && t.upper != "AS") {
      if (t.upper == "PARTITION" || t.upper == "CLUSTER")
        return Unsupported(t, "CREATE TABLE ... " + t.upper + " BY");
      if (t.upper == "DEFAULT") return Unsupported(t, "CREATE TABLE ... DEFAULT COLLATE");
      return Unsupported(t, "CREATE TABLE ... " + t.upper);
    }
    if (!AcceptWord("AS")) return Unsupported(create, "CREATE TABLE without AS SELECT");
    if (!StartsQuery(Cur())) return SyntaxError(Cur(), "expected SELECT, WITH or '(' after AS");
    return Query(&stmt_->query);
  }

  Status Drop() {
    stmt_->kind = SqlStatementKind::kDropTable;
    const Token& drop = Cur();
    Advance();
    if (!AcceptWord("TABLE")) {
      return Unsupported(drop,
                         "DROP " + (Cur().kind == TokenKind::kWord ? Cur().upper : Cur().text));
    }
    if (AcceptWord("IF")) {
      BF_RETURN_IF_ERROR(ExpectWord("EXISTS"));
      stmt_->if_exists = true;
    }
    BF_ASSIGN_OR_RETURN(stmt_->target, TargetName());
    return Status::Ok();
  }

  // --- scripting: DECLARE and SET of scalar variables ----------------------------------------

  Result<SqlVariableName> VariableName() {
    const Token& n = Cur();
    if (n.kind == TokenKind::kParam) return Unsupported(n, "system variable " + n.text);
    if (n.kind != TokenKind::kWord || IsReserved(n))
      return SyntaxError(n, "expected a variable name");
    Advance();
    return SqlVariableName{Lower(n.text), n.line, n.column};
  }

  // One value of a DECLARE or SET, up to `stop`; notes whether it is a lone string literal.
  Status VariableValue(const StopFn& stop) {
    size_t start = pos_;
    std::string value;
    BF_RETURN_IF_ERROR(Expr(stop, &value));
    if (Trim(value).empty()) return SyntaxError(Cur(), "expected a value");
    stmt_->values.push_back(Trim(value));
    stmt_->value_is_string_literal.push_back(pos_ == start + 1 &&
                                             toks_[start].kind == TokenKind::kString);
    return Status::Ok();
  }

  // DECLARE a[, b] [TYPE] [DEFAULT expr]: scalar types only.
  Status Declare() {
    stmt_->kind = SqlStatementKind::kDeclare;
    Advance();
    while (true) {
      BF_ASSIGN_OR_RETURN(SqlVariableName name, VariableName());
      stmt_->variables.push_back(std::move(name));
      if (!IsSymbol(Cur(), ",")) break;
      Advance();
    }
    const Token& type = Cur();
    if (type.kind != TokenKind::kEnd && !IsWord(type, "DEFAULT")) {
      if (type.kind != TokenKind::kWord) return SyntaxError(type, "expected a type or DEFAULT");
      auto mapped = kTypes.find(type.upper);
      bool parameterized = IsSymbol(Peek(1), "<") || IsSymbol(Peek(1), "(");
      if (mapped == kTypes.end() || parameterized) {
        std::string params = IsSymbol(Peek(1), "<")   ? "<...>"
                             : IsSymbol(Peek(1), "(") ? "(...)"
                                                      : "";
        return Unsupported(
            type, "DECLARE of type " + type.upper + params + " (variables of scalar types only)");
      }
      stmt_->variable_type = type.upper;
      stmt_->variable_duckdb_type = std::string(mapped->second);
      Advance();
    }
    if (AcceptWord("DEFAULT")) return VariableValue(nullptr);
    if (stmt_->variable_type.empty()) return SyntaxError(Cur(), "expected a type or DEFAULT");
    return Status::Ok();
  }

  // SET a = expr, or SET (a, b) = (x, y): every value is computed before any is assigned.
  Status Set() {
    stmt_->kind = SqlStatementKind::kSet;
    const Token& set = Cur();
    Advance();
    if (!IsSymbol(Cur(), "(")) {
      BF_ASSIGN_OR_RETURN(SqlVariableName name, VariableName());
      stmt_->variables.push_back(std::move(name));
      BF_RETURN_IF_ERROR(ExpectSymbol("="));
      return VariableValue(nullptr);
    }
    Advance();
    while (true) {
      BF_ASSIGN_OR_RETURN(SqlVariableName name, VariableName());
      stmt_->variables.push_back(std::move(name));
      if (IsSymbol(Cur(), ",")) {
        Advance();
        continue;
      }
      BF_RETURN_IF_ERROR(ExpectSymbol(")"));
      break;
    }
    BF_RETURN_IF_ERROR(ExpectSymbol("="));
    if (!IsSymbol(Cur(), "(") || StartsQuery(Peek(1))) {
      return Unsupported(Cur(), "SET (...) = a value other than a list (x, y, ...)");
    }
    Advance();
    while (true) {
      BF_RETURN_IF_ERROR(VariableValue([](const Token& x) { return IsSymbol(x, ","); }));
      if (IsSymbol(Cur(), ",")) {
        Advance();
        continue;
      }
      BF_RETURN_IF_ERROR(ExpectSymbol(")"));
      break;
    }
    if (stmt_->values.size() != stmt_->variables.size()) {
      return SyntaxError(set, fmt::format("SET assigns {} variable(s) {} value(s)",
                                          stmt_->variables.size(), stmt_->values.size()));
    }
    return Status::Ok();
  }

  // --- MERGE --------------------------------------------------------------------------------

  // Stops at a top-level `word` that is not inside a CASE ... END of the expression.
  static StopFn StopAtWord(std::string_view word) {
    auto depth = std::make_shared<int>(0);
    return [depth, word](const Token& x) {
      if (IsWord(x, "CASE")) ++*depth;
      if (IsWord(x, "END") && *depth > 0) --*depth;
      return *depth == 0 && IsWord(x, word);
    };
  }

  // MERGE [INTO] target [[AS] t] USING table-or-subquery [[AS] s] ON cond WHEN ... (the
  // clauses SqlMergeClause describes).
  Status Merge() {
    stmt_->kind = SqlStatementKind::kMerge;
    Advance();
    AcceptWord("INTO");
    BF_ASSIGN_OR_RETURN(stmt_->target, TargetName());
    if (AcceptWord("AS")) {
      if (!IsName(Cur()) || IsReserved(Cur())) return SyntaxError(Cur(), "expected an alias");
      stmt_->target_alias = NameValue(Cur());
      Advance();
    } else if (IsName(Cur()) && !IsReserved(Cur()) && !IsWord(Cur(), "USING")) {
      stmt_->target_alias = NameValue(Cur());
      Advance();
    }
    if (stmt_->target_alias.empty()) stmt_->target_alias = stmt_->target->table;
    BF_RETURN_IF_ERROR(ExpectWord("USING"));
    factor_alias_.clear();
    factor_table_.clear();
    std::string source;
    BF_RETURN_IF_ERROR(TableFactor(&source));
    stmt_->merge_source = Trim(source);
    stmt_->merge_source_alias = !factor_alias_.empty()   ? factor_alias_
                                : !factor_table_.empty() ? factor_table_
                                                         : "_bf_source";
    BF_RETURN_IF_ERROR(ExpectWord("ON"));
    BF_RETURN_IF_ERROR(Expr(StopAtWord("WHEN"), &stmt_->merge_condition));
    stmt_->merge_condition = Trim(stmt_->merge_condition);
    if (stmt_->merge_condition.empty()) return SyntaxError(Cur(), "expected the ON condition");
    if (!IsWord(Cur(), "WHEN")) return SyntaxError(Cur(), "expected WHEN");
    while (IsWord(Cur(), "WHEN")) BF_RETURN_IF_ERROR(MergeClause());
    return Status::Ok();
  }

  // UPDATE t [[AS] a] SET col = x, ... [FROM item] WHERE cond: the MERGE of
  // TranslatedStatement::update_statement.
  Status Update() {
    using C = SqlMergeClause;
    stmt_->kind = SqlStatementKind::kMerge;
    stmt_->update_statement = true;
    const Token& update = Cur();
    Advance();
    BF_ASSIGN_OR_RETURN(stmt_->target, TargetName());
    if (AcceptWord("AS")) {
      if (!IsName(Cur()) || IsReserved(Cur())) return SyntaxError(Cur(), "expected an alias");
      stmt_->target_alias = NameValue(Cur());
      Advance();
    } else if (IsName(Cur()) && !IsReserved(Cur())) {
      stmt_->target_alias = NameValue(Cur());
      Advance();
    }
    if (stmt_->target_alias.empty()) stmt_->target_alias = stmt_->target->table;
    BF_RETURN_IF_ERROR(ExpectWord("SET"));
    C clause;
    clause.match = C::Match::kMatched;
    clause.action = C::Action::kUpdate;
    while (true) {
      // `col` or `alias.col`; a deeper path sets a STRUCT field.
      if (IsName(Cur()) && IsSymbol(Peek(1), ".") && IsName(Peek(2)) &&
          Lower(NameValue(Cur())) == Lower(stmt_->target_alias) && !IsSymbol(Peek(3), ".")) {
        Advance();
        Advance();
      }
      if (!IsName(Cur())) return SyntaxError(Cur(), "expected a column name (SET column = value)");
      if (IsSymbol(Peek(1), ".")) return Unsupported(Cur(), "UPDATE SET of a STRUCT field");
      clause.columns.push_back(NameValue(Cur()));
      Advance();
      BF_RETURN_IF_ERROR(ExpectSymbol("="));
      std::string value;
      BF_RETURN_IF_ERROR(Expr(
          [](const Token& x) {
            return IsSymbol(x, ",") || IsWord(x, "FROM") || IsWord(x, "WHERE");
          },
          &value));
      if (Trim(value).empty()) return SyntaxError(Cur(), "expected a value");
      clause.values.push_back(Trim(value));
      if (!IsSymbol(Cur(), ",")) break;
      Advance();
    }
    stmt_->merge_source = "(SELECT 1 AS _bf_one)";
    stmt_->merge_source_alias = "_bf_update";
    if (AcceptWord("FROM")) {
      factor_alias_.clear();
      factor_table_.clear();
      std::string source;
      BF_RETURN_IF_ERROR(TableFactor(&source));
      if (!IsWord(Cur(), "WHERE")) {
        return Unsupported(Cur(),
                           "UPDATE ... FROM with more than one FROM item (join them in a "
                           "subquery)");
      }
      stmt_->merge_source = Trim(source);
      stmt_->merge_source_alias = !factor_alias_.empty()   ? factor_alias_
                                  : !factor_table_.empty() ? factor_table_
                                                           : "_bf_update";
    }
    if (!AcceptWord("WHERE")) {
      if (Cur().kind == TokenKind::kEnd) {
        return Unsupported(
            update, "UPDATE without WHERE (BigQuery requires a WHERE clause; write WHERE TRUE)");
      }
      return SyntaxError(Cur(), "expected WHERE");
    }
    BF_RETURN_IF_ERROR(Expr(nullptr, &stmt_->merge_condition));
    stmt_->merge_condition = Trim(stmt_->merge_condition);
    if (stmt_->merge_condition.empty()) return SyntaxError(Cur(), "expected a condition");
    stmt_->merge_clauses.push_back(std::move(clause));
    return Status::Ok();
  }

  Status MergeClause() {
    using C = SqlMergeClause;
    C clause;
    Advance();  // WHEN
    if (AcceptWord("NOT")) {
      BF_RETURN_IF_ERROR(ExpectWord("MATCHED"));
      clause.match = C::Match::kNotMatchedByTarget;
      if (AcceptWord("BY")) {
        if (AcceptWord("SOURCE")) {
          clause.match = C::Match::kNotMatchedBySource;
        } else if (!AcceptWord("TARGET")) {
          return SyntaxError(Cur(), "expected TARGET or SOURCE");
        }
      }
    } else {
      BF_RETURN_IF_ERROR(ExpectWord("MATCHED"));
    }
    if (AcceptWord("AND")) {
      BF_RETURN_IF_ERROR(Expr(StopAtWord("THEN"), &clause.condition));
      clause.condition = Trim(clause.condition);
      if (clause.condition.empty()) return SyntaxError(Cur(), "expected a condition after AND");
    }
    BF_RETURN_IF_ERROR(ExpectWord("THEN"));
    const Token& action = Cur();
    bool by_target = clause.match == C::Match::kNotMatchedByTarget;
    if (IsWord(action, "UPDATE") && !by_target) {
      clause.action = C::Action::kUpdate;
      Advance();
      BF_RETURN_IF_ERROR(ExpectWord("SET"));
      while (true) {
        if (!IsName(Cur()) || IsSymbol(Peek(1), "."))
          return SyntaxError(Cur(), "expected a column name (UPDATE SET column = value)");
        clause.columns.push_back(NameValue(Cur()));
        Advance();
        BF_RETURN_IF_ERROR(ExpectSymbol("="));
        auto when = StopAtWord("WHEN");
        std::string value;
        BF_RETURN_IF_ERROR(
            Expr([&](const Token& x) { return when(x) || IsSymbol(x, ","); }, &value));
        if (Trim(value).empty()) return SyntaxError(Cur(), "expected a value");
        clause.values.push_back(Trim(value));
        if (!IsSymbol(Cur(), ",")) break;
        Advance();
      }
    } else if (IsWord(action, "DELETE") && !by_target) {
      clause.action = C::Action::kDelete;
      Advance();
    } else if (IsWord(action, "INSERT") && by_target) {
      clause.action = C::Action::kInsert;
      Advance();
      if (AcceptWord("ROW")) {
        clause.insert_row = true;
      } else {
        if (IsSymbol(Cur(), "(")) {
          Advance();
          while (true) {
            if (!IsName(Cur())) return SyntaxError(Cur(), "expected a column name");
            clause.columns.push_back(NameValue(Cur()));
            Advance();
            if (!IsSymbol(Cur(), ",")) break;
            Advance();
          }
          BF_RETURN_IF_ERROR(ExpectSymbol(")"));
        }
        BF_RETURN_IF_ERROR(ExpectWord("VALUES"));
        if (!IsSymbol(Cur(), "(")) return SyntaxError(Cur(), "expected '(' of the VALUES");
        BF_ASSIGN_OR_RETURN(clause.values, Args());
        if (!clause.columns.empty() && clause.columns.size() != clause.values.size()) {
          return SyntaxError(action, fmt::format("INSERT names {} column(s) and {} value(s)",
                                                 clause.columns.size(), clause.values.size()));
        }
      }
    } else {
      return SyntaxError(action, by_target ? "expected INSERT (WHEN NOT MATCHED [BY TARGET])"
                                           : "expected UPDATE or DELETE");
    }
    stmt_->merge_clauses.push_back(std::move(clause));
    return Status::Ok();
  }

  static bool StartsQuery(const Token& t) {
    return IsWord(t, "SELECT") || IsWord(t, "WITH") || IsSymbol(t, "(");
  }
  static bool IsReserved(const Token& t) {
    return t.kind == TokenKind::kWord && kReserved.count(t.upper) > 0;
  }
  static std::string NameValue(const Token& t) {
    return t.kind == TokenKind::kQuotedName ? t.body : t.text;
  }
  // An identifier as DuckDB should see it: words as written (BigQuery and DuckDB both fold
  // case for column names), backticked names double-quoted.
  static std::string NameSql(const Token& t) {
    return t.kind == TokenKind::kQuotedName ? QuoteIdent(t.body) : t.text;
  }

  // --- table names --------------------------------------------------------------------------

  struct TablePath {
    std::string text;  // as ParseTableName reads it: backticks kept, dashes joined
    const Token* first = nullptr;
    bool single_part = false;
  };

  // Reads a table path at the cursor: `a.b.c`, `a`.b.c, a.b.c, and BigQuery's unquoted dashed
  // project ids (moz-fx-data-shared-prod.ds.t), which the lexer sees as words and '-'.
  Result<TablePath> ReadTablePath() {
    TablePath path;
    path.first = &Cur();
    if (!IsName(Cur())) return SyntaxError(Cur(), "expected a table name");
    int parts = 0;
    while (true) {
      const Token& t = Cur();
      if (t.kind == TokenKind::kQuotedName) {
        path.text += "`" + t.body + "`";
        parts += 1 + static_cast<int>(std::count(t.body.begin(), t.body.end(), '.'));
        Advance();
      } else if (t.kind == TokenKind::kWord) {
        path.text += t.text;
        Advance();
        // Dashes glue only when nothing separates them from their neighbours.
        while (IsSymbol(Cur(), "-") && Cur().space.empty() && Peek(1).space.empty() &&
               (Peek(1).kind == TokenKind::kWord || Peek(1).kind == TokenKind::kNumber)) {
          path.text += "-" + Peek(1).text;
          Advance();
          Advance();
        }
        ++parts;
      } else {
        return SyntaxError(t, "expected a table name part");
      }
      if (IsSymbol(Cur(), ".") && IsName(Peek(1))) {
        path.text += ".";
        Advance();
        continue;
      }
      break;
    }
    if (IsSymbol(Cur(), "*") && Cur().space.empty())
      return Unsupported(Cur(), "wildcard table " + path.text + "*");
    path.single_part = parts == 1;
    return path;
  }

  Result<TableName> ParsePath(const TablePath& path) {
    auto name = ParseTableName(path.text, options_.default_project);
    if (!name.ok()) {
      return Status(name.status().code(), fmt::format("{} {}", name.status().message(),
                                                      Where(path.first->line, path.first->column)));
    }
    return std::move(name).value();
  }

  Result<std::optional<TableName>> TargetName() {
    BF_ASSIGN_OR_RETURN(TablePath path, ReadTablePath());
    BF_ASSIGN_OR_RETURN(TableName name, ParsePath(path));
    return std::optional<TableName>(std::move(name));
  }

  bool IsCte(const std::string& name) const {
    std::string key = Lower(name);
    for (const auto& scope : cte_scopes_) {
      if (scope.count(key)) return true;
    }
    return false;
  }

  // --- queries ------------------------------------------------------------------------------

  // [WITH name AS (query), ...] body. CTE names are visible after their definition, in later
  // CTEs, the body and its subqueries: there they are not tables and must not be resolved.
  Status Query(std::string* out) {
    cte_scopes_.emplace_back();
    Status status = QueryInScope(out);
    cte_scopes_.pop_back();
    return status;
  }

  Status QueryInScope(std::string* out) {
    if (IsWord(Cur(), "WITH")) {
      *out += Cur().space + Cur().text;
      Advance();
      if (IsWord(Cur(), "RECURSIVE")) return Unsupported(Cur(), "WITH RECURSIVE");
      while (true) {
        const Token& name = Cur();
        if (!IsName(name) || IsReserved(name)) return SyntaxError(name, "expected a CTE name");
        BF_RETURN_IF_ERROR(NotAVariable(name));
        *out += name.space + NameSql(name);
        Advance();
        if (!IsWord(Cur(), "AS")) return SyntaxError(Cur(), "expected AS");
        *out += Cur().space + Cur().text;
        Advance();
        if (!IsSymbol(Cur(), "(")) return SyntaxError(Cur(), "expected '(' after AS");
        BF_RETURN_IF_ERROR(ParenGroup(out));
        cte_scopes_.back().insert(Lower(NameValue(name)));
        if (!IsSymbol(Cur(), ",")) break;
        *out += Cur().space + ",";
        Advance();
      }
    }
    return QueryBody(out);
  }

  // The clauses of a query up to its end or an unmatched ')'. Most tokens are expression
  // elements; FROM switches to the table-position rules until the FROM list ends.
  Status QueryBody(std::string* out) {
    while (true) {
      const Token& t = Cur();
      if (t.kind == TokenKind::kEnd || IsSymbol(t, ")")) return Status::Ok();
      // IS [NOT] DISTINCT FROM is an operator, not the start of a FROM clause.
      if (IsWord(t, "FROM") && !IsWord(Prev(), "DISTINCT")) {
        *out += t.space + t.text;
        Advance();
        BF_RETURN_IF_ERROR(FromList(out));
        continue;
      }
      if (IsWord(t, "SELECT") && IsWord(Peek(1), "AS")) {
        return Unsupported(t, "SELECT AS " + Peek(2).upper);
      }
      size_t start = pos_;
      size_t references = stmt_->variable_references.size();
      BF_RETURN_IF_ERROR(Element(out));
      // A select-list item that is a variable alone is named after it, as in BigQuery.
      if (stmt_->variable_references.size() > references && pos_ == start + 1 && start > 0 &&
          (IsWord(toks_[start - 1], "SELECT") || IsWord(toks_[start - 1], "DISTINCT") ||
           IsWord(toks_[start - 1], "ALL") || IsSymbol(toks_[start - 1], ",")) &&
          (IsSymbol(Cur(), ",") || IsWord(Cur(), "FROM") || IsSymbol(Cur(), ")") ||
           Cur().kind == TokenKind::kEnd) &&
          SelectListAt(start)) {
        *out += " AS " + NameSql(toks_[start]);
      }
    }
  }

  // Whether the token at `at` is in the select list of its query: the nearest SELECT before it
  // at the same parenthesis depth has no clause keyword between them.
  bool SelectListAt(size_t at) const {
    int depth = 0;
    for (size_t i = at; i-- > 0;) {
      const Token& t = toks_[i];
      if (IsSymbol(t, ")")) ++depth;
      if (IsSymbol(t, "(")) {
        if (depth == 0) return false;
        --depth;
      }
      if (depth > 0) continue;
      if (IsWord(t, "SELECT")) return true;
      static const std::set<std::string, std::less<>> kClauses = {
          "FROM",  "WHERE", "GROUP",  "HAVING", "QUALIFY",   "WINDOW", "ORDER",
          "LIMIT", "UNION", "EXCEPT", "ON",     "INTERSECT", "BY",     "USING"};
      if (t.kind == TokenKind::kWord && kClauses.count(t.upper)) return false;
    }
    return false;
  }

  static bool EndsFromItem(const Token& t) {
    if (IsSymbol(t, ",") || IsSymbol(t, ")") || t.kind == TokenKind::kEnd) return true;
    static const std::set<std::string, std::less<>> kWords = {
        "JOIN",  "INNER", "CROSS", "LEFT",      "RIGHT",  "FULL",    "NATURAL",
        "ON",    "USING", "WHERE", "GROUP",     "HAVING", "QUALIFY", "WINDOW",
        "ORDER", "LIMIT", "UNION", "INTERSECT", "EXCEPT"};
    return t.kind == TokenKind::kWord && kWords.count(t.upper) > 0;
  }

  // The names of the FROM items read so far in each FROM list being read (innermost last):
  // `FROM t, t.arr` unnests the array t.arr because `t` is one of them.
  Status FromList(std::string* out) {
    from_scopes_.emplace_back();
    Status status = FromListInScope(out);
    from_scopes_.pop_back();
    return status;
  }

  Status ScopedTableFactor(std::string* out) {
    BF_RETURN_IF_ERROR(TableFactor(out));
    const std::string& name = !factor_alias_.empty() ? factor_alias_ : factor_table_;
    if (!name.empty()) from_scopes_.back().insert(Lower(name));
    return Status::Ok();
  }

  Status FromListInScope(std::string* out) {
    BF_RETURN_IF_ERROR(ScopedTableFactor(out));
    while (true) {
      const Token& t = Cur();
      if (IsSymbol(t, ",")) {
        *out += t.space + ",";
        Advance();
        BF_RETURN_IF_ERROR(ScopedTableFactor(out));
        continue;
      }
      if (IsWord(t, "NATURAL")) return Unsupported(t, "NATURAL JOIN");
      if (IsWord(t, "HASH") || IsWord(t, "LOOKUP")) return Unsupported(t, "join hint " + t.upper);
      if (!(IsWord(t, "JOIN") || IsWord(t, "INNER") || IsWord(t, "CROSS") || IsWord(t, "LEFT") ||
            IsWord(t, "RIGHT") || IsWord(t, "FULL"))) {
        return Status::Ok();
      }
      // [INNER | CROSS | LEFT [OUTER] | RIGHT [OUTER] | FULL [OUTER]] JOIN
      bool outer_allowed = IsWord(t, "LEFT") || IsWord(t, "RIGHT") || IsWord(t, "FULL");
      if (!IsWord(t, "JOIN")) {
        *out += t.space + t.text;
        Advance();
        if (outer_allowed && IsWord(Cur(), "OUTER")) {
          *out += Cur().space + Cur().text;
          Advance();
        }
      }
      if (IsWord(Cur(), "HASH") || IsWord(Cur(), "LOOKUP"))
        return Unsupported(Cur(), "join hint " + Cur().upper);
      if (!IsWord(Cur(), "JOIN")) return SyntaxError(Cur(), "expected JOIN");
      *out += Cur().space + Cur().text;
      Advance();
      bool cross = IsWord(t, "CROSS");
      unnest_factor_ = false;
      BF_RETURN_IF_ERROR(ScopedTableFactor(out));
      if (unnest_factor_ && !cross && !IsWord(Cur(), "ON") && !IsWord(Cur(), "USING")) {
        *out += " ON TRUE";
      }
      if (IsWord(Cur(), "ON")) {
        *out += Cur().space + Cur().text;
        Advance();
        BF_RETURN_IF_ERROR(Expr(EndsFromItem, out));
      } else if (IsWord(Cur(), "USING")) {
        *out += Cur().space + Cur().text;
        Advance();
        if (!IsSymbol(Cur(), "(")) return SyntaxError(Cur(), "expected '(' after USING");
        BF_RETURN_IF_ERROR(ParenGroup(out));
      }
    }
  }

  // One FROM item: a table (resolved), a CTE reference, a subquery or a parenthesised join,
  // each with an optional alias; tables may carry FOR SYSTEM_TIME AS OF.
  Status TableFactor(std::string* out) {
    const Token& t = Cur();
    if (IsSymbol(t, "(")) {
      *out += t.space + "(";
      Advance();
      if (StartsQuery(Cur())) {
        BF_RETURN_IF_ERROR(Query(out));
      } else {
        BF_RETURN_IF_ERROR(FromList(out));
      }
      if (!IsSymbol(Cur(), ")")) return SyntaxError(Cur(), "expected ')'");
      *out += Cur().space + ")";
      Advance();
      factor_alias_.clear();
      factor_table_.clear();
      BF_RETURN_IF_ERROR(Alias(out, nullptr));
      if (IsWord(Cur(), "FOR")) return Unsupported(Cur(), "FOR SYSTEM_TIME AS OF on a subquery");
      return TableSuffixes();
    }
    if (IsWord(t, "UNNEST") && IsSymbol(Peek(1), "(")) return Unnest(out);
    if (IsWord(t, "UNNEST")) return Unsupported(t, "UNNEST");
    if (t.kind == TokenKind::kWord && IsSymbol(Peek(1), "(")) {
      return Unsupported(t, "table-valued function " + t.upper);
    }
    if (!IsName(t) || (IsReserved(t))) return SyntaxError(t, "expected a table name");
    size_t start = pos_;
    BF_ASSIGN_OR_RETURN(TablePath path, ReadTablePath());
    if (std::string array = ArrayPath(start, path); !array.empty()) {
      return UnnestAs(*path.first, array, NameValue(toks_[pos_ - 1]), out);
    }

    // [[AS] alias] [FOR SYSTEM_TIME AS OF expr], in that order (ZetaSQL's table_path_expression).
    std::string alias_sql;
    bool has_alias = false;
    factor_alias_.clear();
    factor_table_ = NameValue(*path.first);
    BF_RETURN_IF_ERROR(Alias(&alias_sql, &has_alias));
    std::string as_of;
    const Token& for_tok = Cur();
    if (IsWord(for_tok, "FOR")) {
      Advance();
      if (AcceptWord("SYSTEM")) {
        BF_RETURN_IF_ERROR(ExpectWord("TIME"));
      } else if (!AcceptWord("SYSTEM_TIME")) {
        return Unsupported(for_tok,
                           "FOR " + Cur().text + " after a table (only FOR SYSTEM_TIME AS OF)");
      }
      BF_RETURN_IF_ERROR(ExpectWord("AS"));
      BF_RETURN_IF_ERROR(ExpectWord("OF"));
      auto stop = [](const Token& x) {
        return EndsFromItem(x) || IsWord(x, "AS") || IsWord(x, "TABLESAMPLE");
      };
      if (stop(Cur())) return SyntaxError(Cur(), "expected a timestamp after AS OF");
      BF_RETURN_IF_ERROR(Expr(stop, &as_of));
      as_of = Trim(as_of);
      if (IsWord(Cur(), "AS")) {
        return SyntaxError(Cur(),
                           "in BigQuery the alias goes before FOR SYSTEM_TIME AS OF "
                           "(FROM t AS a FOR SYSTEM_TIME AS OF ...)");
      }
    }
    BF_RETURN_IF_ERROR(TableSuffixes());

    if (path.single_part && IsCte(NameValue(*path.first))) {
      if (!as_of.empty()) return Unsupported(for_tok, "FOR SYSTEM_TIME AS OF on a WITH query");
      *out += path.first->space + NameSql(*path.first) + alias_sql;
      return Status::Ok();
    }
    BF_ASSIGN_OR_RETURN(TableName name, ParsePath(path));
    factor_table_ = name.table;
    std::string resolved;
    if (options_.resolve_table) {
      auto r = options_.resolve_table(name, as_of);
      if (!r.ok()) return r.status();
      resolved = std::move(r).value();
    } else {
      if (!as_of.empty()) {
        return InvalidArgument(fmt::format("FOR SYSTEM_TIME AS OF needs a table resolver {}",
                                           Where(for_tok.line, for_tok.column)));
      }
      resolved =
          QuoteIdent(name.project) + "." + QuoteIdent(name.dataset) + "." + QuoteIdent(name.table);
    }
    // BigQuery lets `FROM ds.t` be referred to as `t`; a subquery in DuckDB has no such name.
    if (!has_alias && !resolved.empty() && resolved.front() == '(') {
      resolved += " AS " + QuoteIdent(name.table);
    }
    *out += path.first->space + resolved + alias_sql;
    stmt_->reads.push_back({std::move(name), std::move(as_of)});
    return Status::Ok();
  }

  // `t.arr` (or `t.s.arr`) as a FROM item where `t` names an earlier item of the same FROM
  // list: BigQuery's implicit UNNEST. Returns the array's DuckDB path, or "" for a table.
  std::string ArrayPath(size_t start, const TablePath& path) const {
    if (path.single_part || from_scopes_.empty() || path.first->kind != TokenKind::kWord ||
        !from_scopes_.back().count(Lower(NameValue(*path.first)))) {
      return "";
    }
    std::string sql;
    for (size_t i = start; i < pos_; ++i) {
      const Token& x = toks_[i];
      if (IsSymbol(x, ".")) {
        sql += ".";
      } else if (x.kind == TokenKind::kWord ||
                 (x.kind == TokenKind::kQuotedName && x.body.find('.') == std::string::npos)) {
        sql += NameSql(x);
      } else {
        return "";  // a dashed or dotted quoted name: a table path
      }
    }
    return sql;
  }

  // [AS] alias after a FROM item; a word that is reserved or starts another construct is not an
  // alias.
  Status Alias(std::string* out, bool* has_alias) {
    if (IsWord(Cur(), "AS")) {
      const Token& as = Cur();
      Advance();
      if (!IsName(Cur()) || IsReserved(Cur()))
        return SyntaxError(Cur(), "expected an alias after AS");
      BF_RETURN_IF_ERROR(NotAVariable(Cur()));
      factor_alias_ = NameValue(Cur());
      *out += as.space + as.text + Cur().space + NameSql(Cur());
      Advance();
      if (has_alias) *has_alias = true;
      return Status::Ok();
    }
    const Token& t = Cur();
    if (t.kind == TokenKind::kQuotedName ||
        (t.kind == TokenKind::kWord && !IsReserved(t) && t.upper != "PIVOT" &&
         t.upper != "UNPIVOT" && t.upper != "SYSTEM_TIME")) {
      BF_RETURN_IF_ERROR(NotAVariable(t));
      factor_alias_ = NameValue(t);
      *out += t.space + NameSql(t);
      Advance();
      if (has_alias) *has_alias = true;
    }
    return Status::Ok();
  }

  // Constructs that may follow a FROM item and that the subset refuses.
  Status TableSuffixes() {
    const Token& t = Cur();
    if ((IsWord(t, "PIVOT") || IsWord(t, "UNPIVOT")) && IsSymbol(Peek(1), "("))
      return Unsupported(t, t.upper);
    if (IsWord(t, "TABLESAMPLE")) return Unsupported(t, "TABLESAMPLE");
    if (IsWord(t, "WITH") && IsWord(Peek(1), "OFFSET")) return Unsupported(t, "WITH OFFSET");
    if (IsSymbol(t, "@") && IsSymbol(Peek(1), "{")) return Unsupported(t, "table hint @{...}");
    return Status::Ok();
  }

  // --- expressions --------------------------------------------------------------------------

  // Expression elements up to the end, an unmatched ')', or a token `stop` accepts. Commas are
  // elements too: inside parentheses they separate arguments, at the top of a SELECT list
  // columns.
  Status Expr(const StopFn& stop, std::string* out) {
    while (true) {
      const Token& t = Cur();
      if (t.kind == TokenKind::kEnd || IsSymbol(t, ")")) return Status::Ok();
      if (stop && stop(t)) return Status::Ok();
      BF_RETURN_IF_ERROR(Element(out));
    }
  }

  // '(' subquery ')' or '(' expression list ')'.
  Status ParenGroup(std::string* out) {
    const Token& open = Cur();
    Advance();
    std::string inner;
    if (IsWord(Cur(), "SELECT") || IsWord(Cur(), "WITH")) {
      BF_RETURN_IF_ERROR(Query(&inner));
    } else {
      BF_RETURN_IF_ERROR(Expr(nullptr, &inner));
    }
    if (!IsSymbol(Cur(), ")")) return SyntaxError(Cur(), "expected ')'");
    *out += open.space + "(" + inner + Cur().space + ")";
    Advance();
    return Status::Ok();
  }

  // Consumes at least one token and appends its translation.
  Status Element(std::string* out) {
    const Token& t = Cur();
    switch (t.kind) {
      case TokenKind::kEnd:
        return SyntaxError(t, "unexpected end of statement");
      case TokenKind::kString:
        return StringLiteral(out);
      case TokenKind::kNumber:
        return NumberLiteral(out);
      case TokenKind::kParam:
        return Parameter(out);
      case TokenKind::kQuotedName:
        if (IsSymbol(Peek(1), "(")) return Unsupported(t, "function `" + t.body + "`");
        // Column names cannot contain dots; whether `a.b` is a path here is not worth guessing.
        if (t.body.find('.') != std::string::npos) {
          return Unsupported(t, "quoted path " + t.text + " outside a FROM item (quote each part)");
        }
        if (MayReadVariable(t)) return VariableReference(out);
        *out += t.space + NameSql(t);
        Advance();
        return Status::Ok();
      case TokenKind::kSymbol:
        return Symbol(out);
      case TokenKind::kWord:
        return Word(out);
    }
    return Status::Ok();
  }

  Status StringLiteral(std::string* out) {
    const Token& t = Cur();
    if (t.triple) return Unsupported(t, "triple-quoted string");
    if (t.bytes) return Unsupported(t, "bytes literal " + t.text);
    BF_ASSIGN_OR_RETURN(std::string value, DecodeString(t));
    *out += t.space + QuoteString(value);
    Advance();
    return Status::Ok();
  }

  Status NumberLiteral(std::string* out) {
    const Token& t = Cur();
    const std::string& s = t.text;
    bool ok = !s.empty();
    bool has_dot = false;
    bool has_exp = false;
    for (char c : s) {
      if (c == '.') {
        has_dot = true;
      } else if (c == 'e' || c == 'E') {
        has_exp = true;
      } else if (!IsDigit(c) && c != '+' && c != '-') {
        ok = false;
      }
    }
    if (!ok) return Unsupported(t, "numeric literal " + s);
    std::string sql = s;
    // 1.5 is FLOAT64 in BigQuery but DECIMAL in DuckDB, where 0.1 + 0.2 = 0.3 exactly; an
    // exponent makes DuckDB read it as DOUBLE too.
    if (has_dot && !has_exp) sql += (sql.back() == '.' ? "0e0" : "e0");
    *out += t.space + sql;
    Advance();
    return Status::Ok();
  }

  Status Parameter(std::string* out) {
    const Token& t = Cur();
    std::string name = t.text.substr(1);
    if (!name.empty() && name[0] == '@') return Unsupported(t, "system variable " + t.text);
    auto it = options_.parameters.find(name);
    if (it == options_.parameters.end()) {
      return InvalidArgument(
          fmt::format("unknown query parameter {} {}", t.text, Where(t.line, t.column)));
    }
    *out += t.space + it->second;
    Advance();
    return Status::Ok();
  }

  Status Symbol(std::string* out) {
    const Token& t = Cur();
    const std::string& s = t.text;
    if (s == "(") return ParenGroup(out);
    if (s == "*" && StarContext(Prev())) return Star(out);
    static const std::set<std::string, std::less<>> kPassThrough = {
        "+", "-", "*", "/", "=", "<", ">", "<=", ">=", "<>", "!=", "||", ",", "."};
    if (kPassThrough.count(s)) {
      *out += t.space + s;
      Advance();
      return Status::Ok();
    }
    if (s == "[") {
      const Token& p = Prev();
      bool after_value = pos_ > 0 && (IsName(p) || IsSymbol(p, ")") || IsSymbol(p, "]")) &&
                         !(p.kind == TokenKind::kWord && kReserved.count(p.upper));
      if (after_value) return Subscript(out);
      return ArrayLiteral(out, "");
    }
    // BigQuery has no '%' operator, and '^' (XOR there) is power in DuckDB: refuse the bit
    // operators rather than guess.
    if (s == "%" || s == "^" || s == "~" || s == "&" || s == "|" || s == "<<" || s == ">>") {
      return Unsupported(t, "operator '" + s + "'");
    }
    if (s == ";") return MoreThanOneStatement(t);
    if (s == "$") return Unsupported(t, "partition decorator '$'");
    if (s == "?") return Unsupported(t, "positional parameter '?'");
    if (s == "=>") return Unsupported(t, "named argument '=>'");
    if (s == ")") return SyntaxError(t, "unmatched ')'");
    return SyntaxError(t, "unexpected character");
  }

  // `*` in a select list, then its EXCEPT (...) -> EXCLUDE (...) and REPLACE (...) modifiers.
  Status Star(std::string* out) {
    *out += Cur().space + "*";
    Advance();
    if (IsWord(Cur(), "EXCEPT") && IsSymbol(Peek(1), "(")) {
      *out += Cur().space + "EXCLUDE";
      Advance();
      BF_RETURN_IF_ERROR(ParenGroup(out));
    }
    if (IsWord(Cur(), "REPLACE") && IsSymbol(Peek(1), "(")) {
      *out += Cur().space + Cur().text;
      Advance();
      BF_RETURN_IF_ERROR(ParenGroup(out));
    }
    return Status::Ok();
  }

  Status Word(std::string* out) {
    const Token& t = Cur();
    const std::string& u = t.upper;
    bool call = IsSymbol(Peek(1), "(");
    if (u == "CURRENT_TIMESTAMP" || u == "CURRENT_DATE") return CurrentTime(out);
    if (u == "CURRENT_DATETIME" || u == "CURRENT_TIME") return Unsupported(t, u);
    if (Peek(1).kind == TokenKind::kString &&
        (u == "DATE" || u == "TIMESTAMP" || u == "DATETIME" || u == "TIME" || u == "NUMERIC" ||
         u == "DECIMAL" || u == "BIGNUMERIC" || u == "JSON" || u == "RANGE")) {
      return TypedLiteral(out);
    }
    if (u == "INTERVAL") {
      return Unsupported(t, "INTERVAL outside TIMESTAMP_ADD/SUB and DATE_ADD/SUB");
    }
    if (u == "SELECT" && IsWord(Peek(1), "AS")) return Unsupported(t, "SELECT AS " + Peek(2).upper);
    if (u == "FOR" && IsWord(Peek(1), "SYSTEM_TIME")) {
      return Unsupported(t, "FOR SYSTEM_TIME AS OF outside a FROM item");
    }
    if (u == "STRUCT" && call) return StructLiteral(out);
    if (u == "ARRAY" && IsSymbol(Peek(1), "<")) return TypedArrayLiteral(out);
    // ARRAY(subquery): DuckDB's is the same (rows in the subquery's order, [] for none).
    if (u == "ARRAY" && call && (IsWord(Peek(2), "SELECT") || IsWord(Peek(2), "WITH"))) {
      *out += t.space + "ARRAY";
      Advance();
      return ParenGroup(out);
    }
    if (u == "UNNEST" && call && IsWord(Prev(), "IN")) return InUnnest(out);
    if (kRefusedWords.count(u)) return Unsupported(t, u);
    if ((u == "PIVOT" || u == "UNPIVOT") && call) return Unsupported(t, u);
    if (call && !IsSymbol(Prev(), ".")) {
      if (kKeywordsBeforeParen.count(u)) {
        *out += t.space + t.text;
        Advance();
        return Status::Ok();
      }
      return FunctionCall(out);
    }
    if (call) return Unsupported(t, "function " + DottedNameEndingAt(pos_));
    // OFFSET names a column (UNNEST ... WITH OFFSET) unless it follows LIMIT's count; DuckDB
    // reserves the word, so the column is quoted.
    if (u == "OFFSET" && !(pos_ >= 2 && IsWord(toks_[pos_ - 2], "LIMIT"))) {
      *out += t.space + QuoteIdent(t.text);
      Advance();
      return Status::Ok();
    }
    if (MayReadVariable(t)) return VariableReference(out);
    if (AliasPosition() && options_.variables.count(Lower(t.text))) {
      BF_RETURN_IF_ERROR(NotAVariable(t));
    }
    *out += t.space + t.text;
    Advance();
    return Status::Ok();
  }

  // --- script variables ---------------------------------------------------------------------

  // Whether the name at the cursor stands where an alias does: after AS, or right after a
  // value (SELECT a x).
  bool AliasPosition() const {
    if (pos_ == 0) return false;
    const Token& p = Prev();
    if (IsWord(p, "AS")) return true;
    if (p.kind == TokenKind::kWord) {
      return !IsReserved(p) || p.upper == "TRUE" || p.upper == "FALSE" || p.upper == "NULL" ||
             p.upper == "END";
    }
    return p.kind == TokenKind::kQuotedName || p.kind == TokenKind::kNumber ||
           p.kind == TokenKind::kString || p.kind == TokenKind::kParam || IsSymbol(p, ")") ||
           IsSymbol(p, "]");
  }

  // A bare name in expression position that a script variable may answer to.
  bool MayReadVariable(const Token& t) const {
    if (options_.variables.empty() || !IsName(t) || IsReserved(t)) return false;
    if (!options_.variables.count(Lower(NameValue(t)))) return false;
    if (IsSymbol(Peek(1), "(") || IsSymbol(Peek(1), ".")) return false;
    if (pos_ > 0 && IsSymbol(Prev(), ".")) return false;
    if (IsUnitWord(t) && IsSymbol(Prev(), ",") && IsSymbol(Peek(1), ")")) {
      // DATE_DIFF(a, b, DAY): a date part, even in a script that declares `day`.
      static const std::set<std::string, std::less<>> kUnitLast = {"DATE_DIFF", "TIMESTAMP_DIFF",
                                                                   "DATE_TRUNC", "TIMESTAMP_TRUNC"};
      int depth = 0;
      for (size_t i = pos_; i-- > 0;) {
        if (IsSymbol(toks_[i], ")")) ++depth;
        if (IsSymbol(toks_[i], "(") && depth-- == 0) {
          if (i > 0 && kUnitLast.count(toks_[i - 1].upper)) return false;
          break;
        }
      }
    }
    return !AliasPosition();
  }

  // The name at the cursor reads a column of that name or the variable: read_as_variable says
  // which (ExecuteSql asks DuckDB's binder whether a column answers to it).
  Status VariableReference(std::string* out) {
    const Token& t = Cur();
    std::string name = Lower(NameValue(t));
    size_t index = stmt_->variable_references.size();
    stmt_->variable_references.push_back({name, t.line, t.column});
    bool variable = !options_.read_as_variable || options_.read_as_variable(index);
    *out += t.space + (variable ? options_.variables.at(name) : NameSql(t));
    Advance();
    return Status::Ok();
  }

  // A script variable's name used as an alias: BigQuery reads the alias in some clauses and
  // the variable in others (WHERE cannot see SELECT aliases), which DuckDB does not.
  Status NotAVariable(const Token& t) const {
    if (!options_.variables.count(Lower(NameValue(t)))) return Status::Ok();
    return Unsupported(t, "alias " + NameValue(t) +
                              " named like a script variable (rename the alias or the variable)");
  }

  // x [NOT] IN UNNEST(array) -> x [NOT] IN (SELECT unnest(array)): the IN list's three-valued
  // logic (NULL when nothing matches but the array holds NULL), FALSE for an empty or NULL array.
  Status InUnnest(std::string* out) {
    const Token& u = Cur();
    Advance();  // UNNEST
    Advance();  // (
    std::string array;
    BF_RETURN_IF_ERROR(Expr(nullptr, &array));
    if (Trim(array).empty()) return SyntaxError(Cur(), "expected an array in UNNEST");
    BF_RETURN_IF_ERROR(ExpectSymbol(")"));
    *out += u.space + "(SELECT unnest(" + Trim(array) + "))";
    return Status::Ok();
  }

  // "mozfun.map.get_key" for the word at `end` preceded by dotted parts.
  std::string DottedNameEndingAt(size_t end) const {
    std::string name = toks_[end].text;
    size_t i = end;
    while (i >= 2 && IsSymbol(toks_[i - 1], ".") && IsName(toks_[i - 2])) {
      name = NameValue(toks_[i - 2]) + "." + name;
      i -= 2;
    }
    return name;
  }

  Status CurrentTime(std::string* out) {
    const Token& t = Cur();
    Advance();
    if (IsSymbol(Cur(), "(")) {
      Advance();
      if (!IsSymbol(Cur(), ")")) return Unsupported(t, t.upper + " with a time zone argument");
      Advance();
    }
    if (options_.now_literal.empty()) {
      return InvalidArgument(fmt::format("{} needs the clock (SqlDialectOptions::now_literal) {}",
                                         t.upper, Where(t.line, t.column)));
    }
    if (t.upper == "CURRENT_TIMESTAMP") {
      *out += t.space + options_.now_literal;
    } else {
      // The connection runs with TimeZone=UTC, as BigQuery's CURRENT_DATE() defaults to.
      *out += t.space + "CAST(" + options_.now_literal + " AS DATE)";
    }
    return Status::Ok();
  }

  Status TypedLiteral(std::string* out) {
    const Token& t = Cur();
    const Token& lit = Peek(1);
    if (lit.triple) return Unsupported(lit, "triple-quoted string");
    if (lit.bytes) return Unsupported(lit, "bytes literal " + lit.text);
    auto type = kTypes.find(t.upper);
    if (type == kTypes.end()) return Unsupported(t, t.upper + " literal");
    BF_ASSIGN_OR_RETURN(std::string value, DecodeString(lit));
    std::string duck(type->second);
    if (t.upper == "NUMERIC" || t.upper == "DECIMAL") {
      *out += t.space + "CAST(" + QuoteString(value) + " AS " + duck + ")";
    } else {
      *out += t.space + duck + " " + QuoteString(value);
    }
    Advance();
    Advance();
    return Status::Ok();
  }

  // Translated, trimmed arguments of the call whose '(' is at the cursor; consumes the ')'.
  Result<std::vector<std::string>> Args() {
    Advance();  // (
    std::vector<std::string> args;
    if (IsSymbol(Cur(), ")")) {
      Advance();
      return args;
    }
    while (true) {
      std::string arg;
      BF_RETURN_IF_ERROR(Expr([](const Token& x) { return IsSymbol(x, ","); }, &arg));
      if (Trim(arg).empty()) return SyntaxError(Cur(), "expected a function argument");
      args.push_back(Trim(arg));
      if (IsSymbol(Cur(), ",")) {
        Advance();
        continue;
      }
      BF_RETURN_IF_ERROR(ExpectSymbol(")"));
      return args;
    }
  }

  Status CheckArgCount(const Token& name, size_t n, int min_args, int max_args) {
    if (static_cast<int>(n) < min_args || (max_args >= 0 && static_cast<int>(n) > max_args)) {
      std::string expected = min_args == max_args ? std::to_string(min_args)
                             : max_args < 0       ? fmt::format("at least {}", min_args)
                                                  : fmt::format("{} to {}", min_args, max_args);
      return InvalidArgument(fmt::format("{} takes {} argument(s), not {} {}", name.upper, expected,
                                         n, Where(name.line, name.column)));
    }
    return Status::Ok();
  }

  Status FunctionCall(std::string* out) {
    const Token& name = Cur();
    const std::string& u = name.upper;
    Advance();  // the name; the cursor is on '('
    if (u == "CAST" || u == "SAFE_CAST") return Cast(name, out);
    if (u == "EXTRACT") return Extract(name, out);
    if (u == "TIMESTAMP_ADD" || u == "TIMESTAMP_SUB" || u == "DATE_ADD" || u == "DATE_SUB") {
      return AddInterval(name, out);
    }
    if (u == "GENERATE_DATE_ARRAY") return GenerateDateArray(name, out);
    if (u == "ARRAY_AGG") return ArrayAgg(name, out);
    if (u == "IF" || u == "CONCAT" || u == "DATE" || u == "TIMESTAMP" || u == "DATE_DIFF" ||
        u == "TIMESTAMP_DIFF" || u == "DATE_TRUNC" || u == "TIMESTAMP_TRUNC" ||
        bq_sql_internal::IsDialectFunction(u)) {
      BF_ASSIGN_OR_RETURN(std::vector<std::string> args, Args());
      return RewrittenCall(name, args, out);
    }
    auto spec = kFunctions.find(u);
    if (spec == kFunctions.end()) return Unsupported(name, "function " + u);
    BF_ASSIGN_OR_RETURN(std::vector<std::string> args, Args());
    BF_RETURN_IF_ERROR(
        CheckArgCount(name, args.size(), spec->second.min_args, spec->second.max_args));
    std::string fn = spec->second.duckdb.empty() ? name.text : std::string(spec->second.duckdb);
    *out += name.space + fn + "(" + Join(args, ", ") + ")";
    return Status::Ok();
  }

  // Functions that become a different DuckDB construct.
  Status RewrittenCall(const Token& name, const std::vector<std::string>& a, std::string* out) {
    const std::string& u = name.upper;
    std::string sql;
    if (u == "IF") {
      BF_RETURN_IF_ERROR(CheckArgCount(name, a.size(), 3, 3));
      sql = "CASE WHEN " + a[0] + " THEN " + a[1] + " ELSE " + a[2] + " END";
    } else if (u == "CONCAT") {
      // DuckDB's concat() skips NULLs; BigQuery's CONCAT returns NULL, as '||' does.
      BF_RETURN_IF_ERROR(CheckArgCount(name, a.size(), 1, -1));
      sql = "(" + Join(a, " || ") + ")";
    } else if (u == "DATE") {
      if (a.size() == 1) {
        // DATE(timestamp) takes the UTC day; the connection's TimeZone is UTC, so a cast does.
        sql = "CAST(" + a[0] + " AS DATE)";
      } else if (a.size() == 3) {
        sql = "make_date(" + Join(a, ", ") + ")";
      } else {
        return Unsupported(name, "DATE with a time zone argument");
      }
    } else if (u == "TIMESTAMP") {
      if (a.size() != 1) return Unsupported(name, "TIMESTAMP with a time zone argument");
      sql = "CAST(" + a[0] + " AS TIMESTAMPTZ)";
    } else if (u == "DATE_DIFF" || u == "TIMESTAMP_DIFF") {
      BF_RETURN_IF_ERROR(CheckArgCount(name, a.size(), 3, 3));
      bool is_date = u == "DATE_DIFF";
      BF_ASSIGN_OR_RETURN(std::string unit,
                          Unit(name, a[2], is_date ? kDateDiffUnits : kTimestampUnits));
      // BigQuery's DATE_DIFF counts unit boundaries crossed (DuckDB date_diff); TIMESTAMP_DIFF
      // counts whole units elapsed, truncated toward zero (DuckDB date_sub). Both take the
      // later value first, DuckDB takes it last.
      sql = fmt::format("{}('{}', {}, {})", is_date ? "date_diff" : "date_sub", Lower(unit), a[1],
                        a[0]);
    } else if (u == "DATE_TRUNC" || u == "TIMESTAMP_TRUNC") {
      BF_RETURN_IF_ERROR(CheckArgCount(name, a.size(), 2, 2));
      bool is_date = u == "DATE_TRUNC";
      BF_ASSIGN_OR_RETURN(std::string unit,
                          Unit(name, a[1], is_date ? kDateDiffUnits : kTimestampTruncUnits));
      sql = fmt::format("date_trunc('{}', {})", Lower(unit), a[0]);
      if (is_date) sql = "CAST(" + sql + " AS DATE)";
    } else {
      BF_ASSIGN_OR_RETURN(sql, DialectCall(name, a));
    }
    *out += name.space + sql;
    return Status::Ok();
  }

  Result<std::string> Unit(const Token& fn, const std::string& arg,
                           const std::set<std::string, std::less<>>& allowed) {
    std::string unit = Upper(arg);
    if (!allowed.count(unit)) {
      return Unsupported(
          fn, fmt::format("{} with unit {} (supported: {})", fn.upper, arg,
                          Join(std::vector<std::string>(allowed.begin(), allowed.end()), ", ")));
    }
    return unit;
  }

  // TIMESTAMP_ADD(ts, INTERVAL n UNIT), DATE_SUB(d, INTERVAL n UNIT), ...
  Status AddInterval(const Token& name, std::string* out) {
    const std::string& u = name.upper;
    bool is_date = u.rfind("DATE", 0) == 0;
    bool add = u.size() >= 3 && u.substr(u.size() - 3) == "ADD";
    Advance();  // (
    std::string value;
    BF_RETURN_IF_ERROR(Expr([](const Token& x) { return IsSymbol(x, ","); }, &value));
    if (Trim(value).empty()) return SyntaxError(Cur(), "expected a value to add an interval to");
    BF_RETURN_IF_ERROR(ExpectSymbol(","));
    if (!IsWord(Cur(), "INTERVAL"))
      return SyntaxError(Cur(), fmt::format("{} expects INTERVAL n UNIT", u));
    Advance();
    const auto& units = is_date ? kDateAddUnits : kTimestampUnits;
    std::string amount;
    BF_RETURN_IF_ERROR(
        Expr([&](const Token& x) { return x.kind == TokenKind::kWord && IsUnitWord(x); }, &amount));
    amount = Trim(amount);
    if (amount.empty()) return SyntaxError(Cur(), "expected the interval's amount");
    const Token& unit_tok = Cur();
    if (unit_tok.kind != TokenKind::kWord)
      return SyntaxError(unit_tok, "expected an interval unit");
    BF_ASSIGN_OR_RETURN(std::string unit, Unit(name, unit_tok.text, units));
    Advance();
    BF_RETURN_IF_ERROR(ExpectSymbol(")"));
    std::string interval = IsAllDigits(amount) ? fmt::format("INTERVAL {} {}", amount, unit)
                                               : fmt::format("INTERVAL ({}) {}", amount, unit);
    std::string sql = fmt::format("{} {} {}", Trim(value), add ? "+" : "-", interval);
    // DuckDB's DATE +/- INTERVAL is a TIMESTAMP; BigQuery's DATE_ADD stays a DATE.
    *out += name.space + (is_date ? "CAST(" + sql + " AS DATE)" : "(" + sql + ")");
    return Status::Ok();
  }

  static bool IsUnitWord(const Token& t) {
    static const std::set<std::string, std::less<>> kAll = {
        "MICROSECOND", "MILLISECOND", "SECOND",    "MINUTE",    "HOUR",
        "DAY",         "WEEK",        "MONTH",     "QUARTER",   "YEAR",
        "ISOWEEK",     "ISOYEAR",     "DAYOFWEEK", "DAYOFYEAR", "NANOSECOND"};
    return kAll.count(t.upper) > 0;
  }

  // CAST(x AS type) / SAFE_CAST(x AS type) with BigQuery type names mapped.
  Status Cast(const Token& name, std::string* out) {
    Advance();  // (
    std::string value;
    BF_RETURN_IF_ERROR(Expr([](const Token& x) { return IsWord(x, "AS"); }, &value));
    if (Trim(value).empty()) return SyntaxError(Cur(), "expected a value to cast");
    BF_RETURN_IF_ERROR(ExpectWord("AS"));
    const Token& type = Cur();
    if (type.kind != TokenKind::kWord) return SyntaxError(type, "expected a type name");
    Advance();
    if (IsSymbol(Cur(), "<") || IsSymbol(Cur(), "(")) {
      return Unsupported(type, "CAST to parameterized type " + type.upper + Cur().text + "...");
    }
    auto mapped = kTypes.find(type.upper);
    if (mapped == kTypes.end()) return Unsupported(type, "CAST to " + type.upper);
    if (IsWord(Cur(), "FORMAT")) return Unsupported(Cur(), "CAST ... FORMAT");
    BF_RETURN_IF_ERROR(ExpectSymbol(")"));
    std::string fn = name.upper == "SAFE_CAST" ? "TRY_CAST" : name.text;
    *out += name.space + fn + "(" + Trim(value) + " AS " + std::string(mapped->second) + ")";
    return Status::Ok();
  }

  // EXTRACT(part FROM x) for the parts whose numbering DuckDB shares.
  Status Extract(const Token& name, std::string* out) {
    Advance();  // (
    const Token& part = Cur();
    if (part.kind != TokenKind::kWord) return SyntaxError(part, "expected a date part");
    if (!kExtractParts.count(part.upper))
      return Unsupported(part, "EXTRACT(" + part.upper + " FROM ...)");
    Advance();
    BF_RETURN_IF_ERROR(ExpectWord("FROM"));
    std::string value;
    BF_RETURN_IF_ERROR(Expr(nullptr, &value));
    if (Trim(value).empty()) return SyntaxError(Cur(), "expected a value to extract from");
    BF_RETURN_IF_ERROR(ExpectSymbol(")"));
    *out += name.space + name.text + "(" + part.upper + " FROM " + Trim(value) + ")";
    return Status::Ok();
  }

  Result<std::string> DialectCall(const Token& name, const std::vector<std::string>& args) {
    auto sql = bq_sql_internal::DialectFunction(name.upper, args);
    if (!sql.ok()) return Unsupported(name, sql.status().message());
    return std::move(sql).value();
  }

  // GENERATE_DATE_ARRAY(start, end [, INTERVAL n UNIT]): DuckDB's generate_series over dates
  // yields timestamps, cast back to a list of dates.
  Status GenerateDateArray(const Token& name, std::string* out) {
    Advance();  // (
    auto comma = [](const Token& x) { return IsSymbol(x, ","); };
    std::string start, end;
    BF_RETURN_IF_ERROR(Expr(comma, &start));
    BF_RETURN_IF_ERROR(ExpectSymbol(","));
    BF_RETURN_IF_ERROR(Expr(comma, &end));
    if (Trim(start).empty() || Trim(end).empty())
      return SyntaxError(Cur(), "expected GENERATE_DATE_ARRAY(start, end [, INTERVAL n UNIT])");
    std::string step = "INTERVAL 1 DAY";
    if (IsSymbol(Cur(), ",")) {
      Advance();
      if (!AcceptWord("INTERVAL")) return SyntaxError(Cur(), "expected INTERVAL n UNIT");
      std::string amount;
      BF_RETURN_IF_ERROR(Expr(
          [&](const Token& x) { return x.kind == TokenKind::kWord && IsUnitWord(x); }, &amount));
      if (Trim(amount).empty()) return SyntaxError(Cur(), "expected the interval's amount");
      BF_ASSIGN_OR_RETURN(std::string unit, Unit(name, Cur().text, kDateAddUnits));
      Advance();
      step = fmt::format("INTERVAL ({}) {}", Trim(amount), unit);
    }
    BF_RETURN_IF_ERROR(ExpectSymbol(")"));
    *out += name.space + fmt::format(
                             "CAST(generate_series(CAST({} AS DATE), CAST({} AS DATE), {}) "
                             "AS DATE[])",
                             Trim(start), Trim(end), step);
    return Status::Ok();
  }

  // ARRAY_AGG([DISTINCT] x [IGNORE | RESPECT NULLS] [ORDER BY ...]). Without IGNORE NULLS
  // BigQuery fails the query on a NULL element where DuckDB keeps it; with it, both drop them.
  Status ArrayAgg(const Token& name, std::string* out) {
    Advance();  // (
    auto nulls = [](const Token& x) {
      return (IsWord(x, "IGNORE") || IsWord(x, "RESPECT")) && x.kind == TokenKind::kWord;
    };
    std::string head, tail;
    BF_RETURN_IF_ERROR(Expr(nulls, &head));
    bool ignore = false;
    if (nulls(Cur())) {
      ignore = IsWord(Cur(), "IGNORE");
      Advance();
      BF_RETURN_IF_ERROR(ExpectWord("NULLS"));
    }
    BF_RETURN_IF_ERROR(Expr(nullptr, &tail));
    BF_RETURN_IF_ERROR(ExpectSymbol(")"));
    if (Trim(head).empty()) return SyntaxError(Cur(), "expected a value to aggregate");
    if (IsWord(Cur(), "OVER")) return Unsupported(name, "ARRAY_AGG as a window function");
    std::string sql = "array_agg(" + Trim(head + tail) + ")";
    if (ignore) sql = "list_filter(" + sql + ", lambda _bf_x: _bf_x IS NOT NULL)";
    *out += name.space + sql;
    return Status::Ok();
  }

  // a[SAFE_OFFSET(i)] (0-based) and a[SAFE_ORDINAL(i)] (1-based): NULL out of range, as DuckDB's
  // 1-based index gives, once negative indexes (from the end in DuckDB) are made NULL too.
  // OFFSET / ORDINAL fail the query out of range in BigQuery; DuckDB cannot, so they are refused.
  Status Subscript(std::string* out) {
    const Token& open = Cur();
    const Token& kind = Peek(1);
    bool safe_offset = IsWord(kind, "SAFE_OFFSET"), safe_ordinal = IsWord(kind, "SAFE_ORDINAL");
    if (!(safe_offset || safe_ordinal) || !IsSymbol(Peek(2), "(")) {
      if ((IsWord(kind, "OFFSET") || IsWord(kind, "ORDINAL")) && IsSymbol(Peek(2), "(")) {
        return Unsupported(open, "array subscript [" + kind.upper + "(...)] (write SAFE_" +
                                     kind.upper + ": out of range it is NULL in both engines)");
      }
      return Unsupported(open, "array subscript '['");
    }
    Advance();
    Advance();
    Advance();  // [ SAFE_... (
    std::string index;
    BF_RETURN_IF_ERROR(Expr(nullptr, &index));
    index = Trim(index);
    if (index.empty()) return SyntaxError(Cur(), "expected an array index");
    BF_RETURN_IF_ERROR(ExpectSymbol(")"));
    BF_RETURN_IF_ERROR(ExpectSymbol("]"));
    *out += open.space + fmt::format("[CASE WHEN ({0}) >= {1} THEN ({0}) + {2} END]", index,
                                     safe_offset ? 0 : 1, safe_offset ? 1 : 0);
    return Status::Ok();
  }

  // [a, b, c]: the same list literal in DuckDB. `cast_to` (a DuckDB element type) types it.
  Status ArrayLiteral(std::string* out, const std::string& cast_to) {
    const Token& open = Cur();
    Advance();
    std::string inner;
    BF_RETURN_IF_ERROR(Expr([](const Token& x) { return IsSymbol(x, "]"); }, &inner));
    if (!IsSymbol(Cur(), "]")) return SyntaxError(Cur(), "expected ']' closing the array");
    Advance();
    std::string sql = "[" + Trim(inner) + "]";
    if (!cast_to.empty()) sql = "CAST(" + sql + " AS " + cast_to + "[])";
    *out += open.space + sql;
    return Status::Ok();
  }

  // ARRAY<scalar type>[...].
  Status TypedArrayLiteral(std::string* out) {
    const Token& array = Cur();
    Advance();  // ARRAY
    Advance();  // <
    const Token& type = Cur();
    auto mapped = type.kind == TokenKind::kWord ? kTypes.find(type.upper) : kTypes.end();
    if (mapped == kTypes.end() || !IsSymbol(Peek(1), ">") || !IsSymbol(Peek(2), "[")) {
      return Unsupported(array, "ARRAY<" + type.text + "...> other than ARRAY<scalar type>[...]");
    }
    Advance();
    Advance();
    std::string sql;
    BF_RETURN_IF_ERROR(ArrayLiteral(&sql, std::string(mapped->second)));
    *out += array.space + Trim(sql);
    return Status::Ok();
  }

  // STRUCT(x AS a, y AS b) -> {'a': x, 'b': y}. A field without AS takes its name from a
  // column or path (BigQuery's rule); other unnamed fields are anonymous in BigQuery and have
  // no DuckDB equivalent.
  Status StructLiteral(std::string* out) {
    const Token& name = Cur();
    Advance();  // STRUCT
    Advance();  // (
    if (IsSymbol(Cur(), ")")) return Unsupported(name, "empty STRUCT()");
    std::vector<std::string> fields;
    while (true) {
      const Token& first = Cur();
      size_t start = pos_;
      std::string value;
      BF_RETURN_IF_ERROR(
          Expr([](const Token& x) { return IsSymbol(x, ",") || IsWord(x, "AS"); }, &value));
      if (Trim(value).empty()) return SyntaxError(Cur(), "expected a STRUCT field");
      std::string field;
      if (AcceptWord("AS")) {
        if (!IsName(Cur())) return SyntaxError(Cur(), "expected a field name after AS");
        field = NameValue(Cur());
        Advance();
      } else if (IsName(toks_[pos_ - 1]) && !IsReserved(toks_[pos_ - 1]) &&
                 (pos_ == start + 1 || IsSymbol(toks_[pos_ - 2], "."))) {
        field = NameValue(toks_[pos_ - 1]);
      } else {
        return Unsupported(first, "STRUCT field without a name (write expr AS name)");
      }
      fields.push_back(QuoteString(field) + ": " + Trim(value));
      if (IsSymbol(Cur(), ",")) {
        Advance();
        continue;
      }
      BF_RETURN_IF_ERROR(ExpectSymbol(")"));
      break;
    }
    *out += name.space + "{" + Join(fields, ", ") + "}";
    return Status::Ok();
  }

  // UNNEST(array) [AS] x [WITH OFFSET [[AS] o]] as a FROM item: a lateral subquery with one
  // row per element (none for an empty or NULL array, as in BigQuery) and the 0-based offset.
  Status Unnest(std::string* out) {
    const Token& u = Cur();
    Advance();  // UNNEST
    Advance();  // (
    std::string array;
    BF_RETURN_IF_ERROR(Expr(nullptr, &array));
    array = Trim(array);
    if (array.empty()) return SyntaxError(Cur(), "expected an array in UNNEST");
    BF_RETURN_IF_ERROR(ExpectSymbol(")"));
    return UnnestAs(u, array, "", out);
  }

  // The rest of an UNNEST FROM item, after its array: [AS] x [WITH OFFSET [[AS] o]].
  // `default_alias` names the element when no alias is given ("" = an alias is required).
  Status UnnestAs(const Token& u, const std::string& array, const std::string& default_alias,
                  std::string* out) {
    auto alias_here = [&]() {
      return Cur().kind == TokenKind::kQuotedName ||
             (Cur().kind == TokenKind::kWord && !IsReserved(Cur()) && !IsWord(Cur(), "WITH"));
    };
    std::string alias;
    if (AcceptWord("AS")) {
      if (!IsName(Cur()) || IsReserved(Cur())) return SyntaxError(Cur(), "expected an alias");
      alias = NameValue(Cur());
      Advance();
    } else if (alias_here()) {
      alias = NameValue(Cur());
      Advance();
    }
    if (alias.empty()) alias = default_alias;
    if (alias.empty()) return Unsupported(u, "UNNEST without an alias (write UNNEST(...) AS x)");
    factor_alias_ = alias;
    factor_table_.clear();
    if (options_.variables.count(Lower(alias))) {
      return Unsupported(
          u, "alias " + alias + " named like a script variable (rename the alias or the variable)");
    }
    std::string sql = fmt::format("(SELECT unnest({}) AS {}", array, QuoteIdent(alias));
    if (IsWord(Cur(), "WITH") && IsWord(Peek(1), "OFFSET")) {
      Advance();
      Advance();
      std::string offset = "offset";
      if (AcceptWord("AS")) {
        if (!IsName(Cur()) || IsReserved(Cur())) return SyntaxError(Cur(), "expected an alias");
        offset = NameValue(Cur());
        Advance();
      } else if (alias_here()) {
        offset = NameValue(Cur());
        Advance();
      }
      sql += fmt::format(", unnest(range(len({}))) AS {}", array, QuoteIdent(offset));
    }
    sql += fmt::format(") AS _bf_unnest_{}", ++unnest_count_);
    *out += u.space + sql;
    unnest_factor_ = true;
    return TableSuffixes();
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  bool unnest_factor_ = false;  // the FROM item just read was an UNNEST
  std::string factor_alias_;    // the alias of the FROM item just read ("" without one)
  std::string factor_table_;    // the table name of the FROM item just read, if a table
  int unnest_count_ = 0;
  const SqlDialectOptions& options_;
  TranslatedStatement* stmt_;
  std::vector<std::set<std::string>> cte_scopes_;
  std::vector<std::set<std::string>> from_scopes_;  // see FromList
};

}  // namespace

Result<std::vector<std::string>> SplitSqlStatements(std::string_view script) {
  BF_ASSIGN_OR_RETURN(std::vector<Token> tokens, bq_sql_internal::Tokenize(script));
  std::vector<std::string> statements;
  const Token* first = nullptr;
  const Token* last = nullptr;
  for (const Token& t : tokens) {
    if (t.kind == TokenKind::kEnd || (t.kind == TokenKind::kSymbol && t.text == ";")) {
      if (first) statements.emplace_back(script.substr(first->begin, last->end - first->begin));
      first = last = nullptr;
      continue;
    }
    if (!first) first = &t;
    last = &t;
  }
  return statements;
}

Result<std::string> BindSqlParameters(std::string_view script,
                                      const std::map<std::string, std::string>& values) {
  BF_ASSIGN_OR_RETURN(std::vector<Token> tokens, bq_sql_internal::Tokenize(script));
  std::string out;
  size_t copied = 0;
  for (const Token& t : tokens) {
    if (t.kind != TokenKind::kParam || t.text.rfind("@@", 0) == 0) continue;
    auto it = values.find(t.text.substr(1));
    if (it == values.end()) {
      return InvalidArgument(
          fmt::format("no value for query parameter {} {} (give --parameter={}:TYPE:VALUE)", t.text,
                      Where(t.line, t.column), t.text.substr(1)));
    }
    out += std::string(script.substr(copied, t.begin - copied)) + it->second;
    copied = t.end;
  }
  return out + std::string(script.substr(copied));
}

Result<TranslatedStatement> TranslateStatement(std::string_view statement,
                                               const SqlDialectOptions& options) {
  BF_ASSIGN_OR_RETURN(std::vector<Token> tokens, bq_sql_internal::Tokenize(statement));
  TranslatedStatement out;
  out.original = Trim(statement);
  Translator translator(std::move(tokens), options, &out);
  BF_RETURN_IF_ERROR(translator.Statement());
  return out;
}

}  // namespace backfill
