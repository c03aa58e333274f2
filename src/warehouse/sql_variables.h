// Scalar script variables of `backfill sql`: BigQuery scripting's DECLARE and SET, run on the
// warehouse's DuckDB connection.
//
// BigQuery reads a bare name as a column when a table in scope has one, and as the variable
// only otherwise, so replacing the name's text would change what queries mean. The translator
// (bq_sql.h) lists every name that may read a variable; Translate() asks DuckDB's binder, one
// name at a time, whether a column answers to it: the name is left bare and the others read
// their variables, and the statement is prepared (bound, not run). Bound: a column (or alias),
// as BigQuery has it. "Referenced column not found": the variable. Any other binder error: the
// statement is refused, since neither answer can be proven.
//
// Values live in DuckDB session variables (SET VARIABLE, read by getvariable()), typed as
// BigQuery types them: a DECLAREd type, or the DEFAULT's. Assignments follow BigQuery's
// coercion rules (INT64 to FLOAT64 and NUMERIC, NUMERIC to FLOAT64, a string literal to DATE
// and the timestamp types, NULL to any) and refuse others. The script's shape is checked before
// anything runs, as BigQuery does: DECLAREs only at the start, each name once, SET only of
// declared names, no variable read before its DECLARE.
//
// Not thread-safe (the connection's). The destructor drops the session variables it set.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "warehouse/bq_sql.h"
#include "warehouse/duckdb.h"

namespace backfill {

class ScriptVariables {
 public:
  explicit ScriptVariables(Connection& conn) : conn_(conn) {}
  ~ScriptVariables();
  ScriptVariables(const ScriptVariables&) = delete;
  ScriptVariables& operator=(const ScriptVariables&) = delete;

  // Checks the shape of the script (its statements as SplitSqlStatements cut them) and learns
  // the names it declares. Errors name the statement and the line:column in it.
  Status CheckScript(const std::vector<std::string>& statements,
                     const std::string& default_project);

  // Translates statement number `index` (0-based) of the script, each name that may read a
  // variable bound as described above. `probe` returns the DuckDB statement that binds every
  // expression of a translation (its query, a SELECT of a DELETE's condition, ...).
  Result<TranslatedStatement> Translate(
      size_t index, const std::string& text, SqlDialectOptions options,
      const std::function<Result<std::string>(const TranslatedStatement&)>& probe);

  // Runs a DECLARE or a SET that Translate returned; returns what it did ("x = 5").
  Result<std::string> Run(const TranslatedStatement& statement);

 private:
  std::string Read(const std::string& name) const;
  Result<std::string> Assign(const std::vector<SqlVariableName>& names,
                             const std::vector<std::string>& values,
                             const std::vector<bool>& string_literals, const std::string& type);

  Connection& conn_;
  std::vector<std::string> names_;             // every variable the script declares, lowercased
  std::map<std::string, size_t> declared_in_;  // name -> the statement that declares it
  std::map<std::string, std::string> types_;   // declared so far -> DuckDB type of its value
  size_t scratch_ = 0;                         // scratch session variables used: _bf_value_0 ...
};

}  // namespace backfill
