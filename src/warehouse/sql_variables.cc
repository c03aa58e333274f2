// ScriptVariables: see sql_variables.h for why names are bound by asking DuckDB's binder.
#include "warehouse/sql_variables.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "core/names.h"
#include "core/schema.h"
#include "core/text.h"

namespace backfill {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Where(int line, int column) { return fmt::format("(at {}:{})", line, column); }

// DuckDB session variables of the script: one per BigQuery variable, and scratch values.
std::string SessionName(const std::string& name) { return "_bf_var_" + name; }
std::string ScratchName(size_t i) { return fmt::format("_bf_value_{}", i); }
std::string GetVariable(const std::string& session_name) {
  return "getvariable(" + QuoteString(session_name) + ")";
}

// DuckDB's typeof() names, folded to one per BigQuery type ("" = no BigQuery scalar type).
std::string Canonical(const std::string& duckdb_type) {
  static const char* kIntegers[] = {"TINYINT",  "SMALLINT",  "INTEGER",  "BIGINT",  "HUGEINT",
                                    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"};
  for (const char* i : kIntegers) {
    if (duckdb_type == i) return "BIGINT";
  }
  if (duckdb_type.rfind("DECIMAL", 0) == 0) return "DECIMAL(38,9)";
  if (duckdb_type == "FLOAT" || duckdb_type == "DOUBLE") return "DOUBLE";
  if (duckdb_type == "TIMESTAMP WITH TIME ZONE" || duckdb_type == "TIMESTAMPTZ")
    return "TIMESTAMPTZ";
  for (const char* same : {"VARCHAR", "BOOLEAN", "BLOB", "TIMESTAMP", "DATE", "TIME", "NULL"}) {
    if (duckdb_type == same) return same;
  }
  return "";
}

std::string BigQueryName(const std::string& canonical, const std::string& duckdb_type) {
  static const std::map<std::string, std::string> kNames = {
      {"BIGINT", "INT64"},   {"DOUBLE", "FLOAT64"},     {"DECIMAL(38,9)", "NUMERIC"},
      {"VARCHAR", "STRING"}, {"BOOLEAN", "BOOL"},       {"BLOB", "BYTES"},
      {"DATE", "DATE"},      {"TIMESTAMP", "DATETIME"}, {"TIMESTAMPTZ", "TIMESTAMP"},
      {"TIME", "TIME"},      {"NULL", "NULL"}};
  auto it = kNames.find(canonical);
  return it != kNames.end() ? it->second : "DuckDB type " + duckdb_type;
}

// BigQuery's implicit coercions of a value into a variable (the "Coercion" table of
// conversion_rules): the same type, NULL, INT64 -> NUMERIC / FLOAT64, NUMERIC -> FLOAT64, and
// a string literal -> DATE, DATETIME, TIME, TIMESTAMP.
bool Coerces(const std::string& from, const std::string& to, bool string_literal) {
  if (from == to || from == "NULL") return true;
  if (from == "BIGINT") return to == "DOUBLE" || to == "DECIMAL(38,9)";
  if (from == "DECIMAL(38,9)") return to == "DOUBLE";
  if (from == "VARCHAR" && string_literal) {
    return to == "DATE" || to == "TIMESTAMP" || to == "TIMESTAMPTZ" || to == "TIME";
  }
  return false;
}

// DuckDB's binder found no column of this name anywhere in scope (only, perhaps, the alias
// that names a select-list item after it).
bool NoColumnNamed(const std::string& message, const std::string& name) {
  std::string m = Lower(message);
  return m.find("referenced column \"" + name + "\" not found") != std::string::npos ||
         m.find("referenced column \"" + name + "\" was not found") != std::string::npos ||
         m.find("column \"" + name + "\" referenced that exists in the select clause") !=
             std::string::npos;
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

ScriptVariables::~ScriptVariables() {
  for (const auto& [name, type] : types_) {
    (void)conn_.Exec("RESET VARIABLE " + QuoteIdent(SessionName(name)));
  }
  // Scratch values a failed assignment left behind.
  for (size_t i = 0; i < scratch_; ++i) {
    (void)conn_.Exec("RESET VARIABLE " + QuoteIdent(ScratchName(i)));
  }
}

std::string ScriptVariables::Read(const std::string& name) const {
  return GetVariable(SessionName(name));
}

Status ScriptVariables::CheckScript(const std::vector<std::string>& statements,
                                    const std::string& default_project) {
  // The shape only: names and kinds, so tables need not resolve.
  SqlDialectOptions options;
  options.default_project = default_project;
  options.now_literal = "NULL";
  options.resolve_table = [](const TableName&, const std::string&) -> Result<std::string> {
    return std::string("t");
  };
  bool body_started = false;
  for (size_t i = 0; i < statements.size(); ++i) {
    auto t = TranslateStatement(statements[i], options);
    if (!t.ok()) {
      // Reported when the statement is reached; a DECLARE's still ends the prologue.
      if (!Lower(statements[i]).starts_with("declare")) body_started = true;
      continue;
    }
    auto fail = [&](const SqlVariableName& at, const std::string& what) {
      return InvalidArgument(fmt::format("{} {}", what, Where(at.line, at.column)))
          .WithContext(fmt::format("statement {}", i + 1));
    };
    if (t->kind == SqlStatementKind::kDeclare) {
      if (body_started) {
        return InvalidArgument(
                   "variable declarations are allowed only at the start of a script (at 1:1)")
            .WithContext(fmt::format("statement {}", i + 1));
      }
      for (const auto& v : t->variables) {
        auto seen = declared_in_.find(v.name);
        if (seen != declared_in_.end()) {
          return fail(v, seen->second == i ? fmt::format("variable {} is declared twice", v.name)
                                           : fmt::format("variable {} is already declared in "
                                                         "statement {}",
                                                         v.name, seen->second + 1));
        }
        declared_in_[v.name] = i;
        names_.push_back(v.name);
      }
      continue;
    }
    body_started = true;
    if (t->kind == SqlStatementKind::kSet) {
      for (const auto& v : t->variables) {
        if (!declared_in_.count(v.name)) {
          return fail(v, fmt::format("SET of undeclared variable {} (DECLARE it at the start of "
                                     "the script)",
                                     v.name));
        }
      }
    }
  }
  return Status::Ok();
}

Result<TranslatedStatement> ScriptVariables::Translate(
    size_t index, const std::string& text, SqlDialectOptions options,
    const std::function<Result<std::string>(const TranslatedStatement&)>& probe) {
  if (names_.empty()) return TranslateStatement(text, options);
  auto declared = [&](const std::string& name) {
    auto it = declared_in_.find(name);
    return it != declared_in_.end() && it->second < index;
  };
  // A variable not declared yet still reads as one, to be refused below by name.
  for (const auto& n : names_) {
    options.variables[n] = declared(n) ? Read(n) : GetVariable("_bf_undeclared");
  }
  options.read_as_variable = nullptr;
  BF_ASSIGN_OR_RETURN(TranslatedStatement first, TranslateStatement(text, options));
  const auto refs = first.variable_references;
  if (refs.empty()) return first;
  std::vector<bool> variable(refs.size(), true);
  for (size_t i = 0; i < refs.size(); ++i) {
    options.read_as_variable = [&](size_t k) { return k == i ? false : variable[k]; };
    BF_ASSIGN_OR_RETURN(TranslatedStatement bare, TranslateStatement(text, options));
    BF_ASSIGN_OR_RETURN(std::string sql, probe(bare));
    Status bound = conn_.Prepare(sql);
    if (bound.ok()) {
      variable[i] = false;
    } else if (!NoColumnNamed(bound.message(), refs[i].name)) {
      // Another error: if it stays with the name read as the variable, it is not this name's
      // (the statement fails with it when it runs); if it goes away, neither reading is proven.
      options.read_as_variable = [&](size_t k) { return variable[k]; };
      BF_ASSIGN_OR_RETURN(TranslatedStatement as_variable, TranslateStatement(text, options));
      BF_ASSIGN_OR_RETURN(std::string other, probe(as_variable));
      if (conn_.Prepare(other).ok()) {
        return InvalidArgument(fmt::format(
            "cannot tell whether {} {} reads a column or the script variable: read as a column, "
            "DuckDB says: {}",
            refs[i].name, Where(refs[i].line, refs[i].column), FirstLine(bound.message())));
      }
    }
  }
  for (size_t i = 0; i < refs.size(); ++i) {
    if (variable[i] && !declared(refs[i].name)) {
      return InvalidArgument(fmt::format("variable {} is read before its DECLARE {}", refs[i].name,
                                         Where(refs[i].line, refs[i].column)));
    }
  }
  options.read_as_variable = [&](size_t k) { return variable[k]; };
  return TranslateStatement(text, options);
}

Result<std::string> ScriptVariables::Assign(const std::vector<SqlVariableName>& names,
                                            const std::vector<std::string>& values,
                                            const std::vector<bool>& string_literals,
                                            const std::string& declared_type) {
  // Every value is computed before any is assigned: SET (a, b) = (b, a) swaps.
  std::vector<std::string> types;
  scratch_ = std::max(scratch_, values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    BF_RETURN_IF_ERROR(
        conn_.Exec(fmt::format("SET VARIABLE {} = ({})", QuoteIdent(ScratchName(i)), values[i])));
    BF_ASSIGN_OR_RETURN(auto type,
                        conn_.QueryScalar("SELECT typeof(" + GetVariable(ScratchName(i)) + ")"));
    types.push_back(type.value_or("NULL"));
  }
  std::vector<std::string> done;
  for (size_t i = 0; i < names.size(); ++i) {
    const SqlVariableName& v = names[i];
    size_t k = values.size() == 1 ? 0 : i;
    std::string from = Canonical(types[k]);
    std::string to;
    if (!declared_type.empty()) {
      to = Canonical(declared_type);
    } else if (auto it = types_.find(v.name); it != types_.end()) {
      to = it->second;
    } else {
      // DECLARE x DEFAULT expr: the value's type; an untyped NULL is INT64, as in BigQuery.
      if (from.empty() || from == "NULL") {
        if (from.empty()) {
          return InvalidArgument(fmt::format(
              "unsupported in backfill's BigQuery subset: DECLARE {} with a value of {} "
              "(variables of scalar types only) {}",
              v.name, BigQueryName(from, types[k]), Where(v.line, v.column)));
        }
        from = "BIGINT";
      }
      to = from;
    }
    if (!Coerces(from, to, string_literals[k])) {
      return InvalidArgument(
          fmt::format("variable {} is {}; a value of type {} cannot be assigned to it {}", v.name,
                      BigQueryName(to, to), BigQueryName(from, types[k]), Where(v.line, v.column)));
    }
    BF_RETURN_IF_ERROR(
        conn_.Exec(fmt::format("SET VARIABLE {} = CAST({} AS {})", QuoteIdent(SessionName(v.name)),
                               GetVariable(ScratchName(k)), to)));
    types_[v.name] = to;
    BF_ASSIGN_OR_RETURN(auto text,
                        conn_.QueryScalar("SELECT CAST(" + Read(v.name) + " AS VARCHAR)"));
    done.push_back(fmt::format("{} = {}", v.name, text.value_or("NULL")));
  }
  for (size_t i = 0; i < values.size(); ++i) {
    (void)conn_.Exec("RESET VARIABLE " + QuoteIdent(ScratchName(i)));
  }
  return Join(done, ", ");
}

Result<std::string> ScriptVariables::Run(const TranslatedStatement& ts) {
  if (ts.kind == SqlStatementKind::kSet) {
    return Assign(ts.variables, ts.values, ts.value_is_string_literal, "");
  }
  std::string type = ts.variable_duckdb_type;
  if (!ts.values.empty()) {
    BF_ASSIGN_OR_RETURN(std::string done,
                        Assign(ts.variables, ts.values, ts.value_is_string_literal, type));
    return "Declared " + done;
  }
  std::vector<std::string> done;
  for (const auto& v : ts.variables) {
    BF_RETURN_IF_ERROR(conn_.Exec(
        fmt::format("SET VARIABLE {} = CAST(NULL AS {})", QuoteIdent(SessionName(v.name)), type)));
    types_[v.name] = Canonical(type);
    done.push_back(v.name + " = NULL");
  }
  return "Declared " + Join(done, ", ");
}

}  // namespace backfill
