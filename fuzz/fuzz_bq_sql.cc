// Fuzzes the SQL dialect layer (warehouse/bq_sql.h): splitting a script into statements and
// translating each from BigQuery's GoogleSQL to DuckDB SQL, with a default project, a fixed
// clock, a query parameter, a script variable and a table resolver that supports time travel.
// Properties: nothing crashes and nothing throws; failures are InvalidArgument with a message; a
// translated statement has a query, condition, target, variables or clauses as its kind requires.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "warehouse/bq_sql.h"

using namespace backfill;

namespace {

const SqlDialectOptions& Options() {
  static const SqlDialectOptions options = [] {
    SqlDialectOptions o;
    o.default_project = "moz-fx-data-shared-prod";
    o.now_literal = "TIMESTAMPTZ '2020-03-19 10:00:00+00'";
    o.parameters = {{"submission_date", "DATE '2020-03-17'"}};
    // A script variable: bare names `n` may read it (every one does here).
    o.variables = {{"n", "getvariable('_bf_var_n')"}};
    o.resolve_table = [](const TableName& t, const std::string& as_of) -> Result<std::string> {
      if (as_of.empty()) return "\"" + t.project + "\".\"" + t.dataset + "\".\"" + t.table + "\"";
      return "(SELECT * FROM \"" + t.project + "\".\"" + t.dataset + "\".\"" + t.table +
             "\" WHERE ts <= " + as_of + ")";
    };
    return o;
  }();
  return options;
}

void Check(const Result<TranslatedStatement>& r) {
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == StatusCode::kInvalidArgument, r.status().ToString());
    FUZZ_CHECK(!r.status().message().empty(), "an error without a message");
    return;
  }
  switch (r->kind) {
    case SqlStatementKind::kSelect:
      FUZZ_CHECK(!r->query.empty(), "SELECT without a query");
      break;
    case SqlStatementKind::kInsert:
    case SqlStatementKind::kCreateTableAsSelect:
      FUZZ_CHECK(!r->query.empty() && r->target.has_value(), r->original);
      break;
    case SqlStatementKind::kDelete:
      FUZZ_CHECK(r->target.has_value(), r->original);
      break;
    case SqlStatementKind::kDropTable:
      FUZZ_CHECK(r->target.has_value(), r->original);
      break;
    case SqlStatementKind::kDeclare:
      FUZZ_CHECK(!r->variables.empty() && r->values.size() <= 1 &&
                     (r->values.size() == 1 || !r->variable_type.empty()),
                 r->original);
      break;
    case SqlStatementKind::kSet:
      FUZZ_CHECK(!r->values.empty() && r->values.size() == r->variables.size() &&
                     r->value_is_string_literal.size() == r->values.size(),
                 r->original);
      break;
    case SqlStatementKind::kMerge:
      FUZZ_CHECK(r->target.has_value() && !r->merge_source.empty() &&
                     !r->merge_source_alias.empty() && !r->merge_condition.empty() &&
                     !r->merge_clauses.empty(),
                 r->original);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view script(reinterpret_cast<const char*>(data), size);
  auto statements = SplitSqlStatements(script);
  if (statements.ok()) {
    for (const std::string& s : *statements) {
      FUZZ_CHECK(!s.empty(), "an empty statement was kept");
      Check(TranslateStatement(s, Options()));
    }
  } else {
    FUZZ_CHECK(statements.status().code() == StatusCode::kInvalidArgument,
               statements.status().ToString());
  }
  Check(TranslateStatement(script, Options()));
  return 0;
}
