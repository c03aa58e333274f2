// What the BigQuery dialect tests share (bq_sql_test.cc, bq_sql_expr_test.cc): a resolver that
// shows what it was given, and Translate/Query/Error over TranslateStatement. Test-only.
#pragma once

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "warehouse/bq_sql.h"

namespace backfill::bq_sql_testing {

constexpr const char* kNow = "TIMESTAMPTZ '2020-03-19 10:00:00+00'";

// The resolver the tests use shows what it was given: the quoted name, and "@asof(expr)" when
// the read is a time-travel read.
inline SqlDialectOptions Options() {
  SqlDialectOptions o;
  o.default_project = "prod";
  o.now_literal = kNow;
  o.parameters = {{"submission_date", "DATE '2020-03-01'"},
                  {"ts", "TIMESTAMPTZ '2020-03-18 00:00:00+00'"},
                  {"n", "5"}};
  o.resolve_table = [](const TableName& t, const std::string& as_of) -> Result<std::string> {
    std::string s = QuoteIdent(t.project) + "." + QuoteIdent(t.dataset) + "." + QuoteIdent(t.table);
    if (!as_of.empty()) s += "@asof(" + as_of + ")";
    return s;
  };
  return o;
}

inline TranslatedStatement Translate(std::string_view sql,
                                     const SqlDialectOptions& options = Options()) {
  auto r = TranslateStatement(sql, options);
  EXPECT_TRUE(r.ok()) << sql << "\n-> " << r.status().ToString();
  return r.ok() ? std::move(r).value() : TranslatedStatement{};
}

// The DuckDB query text a statement becomes.
inline std::string Query(std::string_view sql) { return Translate(sql).query; }

// The message of the error a statement must produce; every refusal is InvalidArgument.
inline std::string Error(std::string_view sql, const SqlDialectOptions& options = Options()) {
  auto r = TranslateStatement(sql, options);
  EXPECT_FALSE(r.ok()) << sql << "\n-> translated to: " << (r.ok() ? r->query : "");
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  return r.status().message();
}

constexpr const char* kUnsupported = "unsupported in backfill's BigQuery subset: ";

}  // namespace backfill::bq_sql_testing
