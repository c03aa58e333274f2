// Warehouse::ExecuteSql: BigQuery-dialect statements on the embedded warehouse.
#include <fmt/format.h>

#include "core/text.h"

#include "warehouse/bq_sql.h"
#include "warehouse/sql_variables.h"
#include "warehouse/warehouse.h"

namespace backfill {
namespace {

std::string Quoted(const std::string& s) { return QuoteIdent(s); }

// Maps a DuckDB result type back onto a BigQuery field (the inverse of DuckDbType).
Result<Field> FieldOfType(const std::string& name, duckdb_logical_type type, bool repeated) {
  Field f;
  f.name = name;
  f.mode = repeated ? FieldMode::kRepeated : FieldMode::kNullable;
  char* alias = duckdb_logical_type_get_alias(type);
  std::string alias_name = alias ? alias : "";
  if (alias) duckdb_free(alias);
  if (alias_name == "JSON") {
    f.type = FieldType::kJson;
    return f;
  }
  switch (duckdb_get_type_id(type)) {
    case DUCKDB_TYPE_BOOLEAN:
      f.type = FieldType::kBool;
      break;
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
      f.type = FieldType::kInt64;
      break;
    // DuckDB sums BIGINTs into a HUGEINT; BigQuery's SUM(INT64) is an INT64 (and fails past it).
    case DUCKDB_TYPE_HUGEINT:
      f.type = FieldType::kInt64;
      break;
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_DECIMAL:
      f.type = FieldType::kNumeric;
      break;
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
      f.type = FieldType::kFloat64;
      break;
    case DUCKDB_TYPE_VARCHAR:
      f.type = FieldType::kString;
      break;
    case DUCKDB_TYPE_BLOB:
      f.type = FieldType::kBytes;
      break;
    case DUCKDB_TYPE_DATE:
      f.type = FieldType::kDate;
      break;
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIME_TZ:
      f.type = FieldType::kTime;
      break;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
      f.type = FieldType::kDatetime;
      break;
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      f.type = FieldType::kTimestamp;
      break;
    case DUCKDB_TYPE_INTERVAL:
      f.type = FieldType::kInterval;
      break;
    case DUCKDB_TYPE_STRUCT: {
      f.type = FieldType::kRecord;
      idx_t n = duckdb_struct_type_child_count(type);
      for (idx_t i = 0; i < n; ++i) {
        char* child_name = duckdb_struct_type_child_name(type, i);
        std::string cn = child_name ? child_name : "";
        if (child_name) duckdb_free(child_name);
        duckdb_logical_type child = duckdb_struct_type_child_type(type, i);
        auto cf = FieldOfType(cn, child, false);
        duckdb_destroy_logical_type(&child);
        if (!cf.ok()) return cf.status();
        f.fields.push_back(std::move(cf).value());
      }
      break;
    }
    case DUCKDB_TYPE_LIST: {
      if (repeated)
        return InvalidArgument(
            fmt::format("column {}: arrays of arrays have no BigQuery type", name));
      duckdb_logical_type child = duckdb_list_type_child_type(type);
      auto cf = FieldOfType(name, child, true);
      duckdb_destroy_logical_type(&child);
      return cf;
    }
    default:
      return InvalidArgument(
          fmt::format("column {}: its DuckDB type has no BigQuery equivalent", name));
  }
  return f;
}

// Restores the statement recorded in the audit log when ExecuteSql leaves.
class AuditStatementScope {
 public:
  AuditStatementScope(std::string& slot, const std::string& text) : slot_(slot) { slot_ = text; }
  ~AuditStatementScope() { slot_.clear(); }

 private:
  std::string& slot_;
};

}  // namespace

Result<Schema> Warehouse::SchemaOfQuery(const std::string& duckdb_sql) {
  BF_ASSIGN_OR_RETURN(QueryResult r, conn_.Query("SELECT * FROM (" + duckdb_sql + ") LIMIT 0"));
  Schema schema;
  for (size_t c = 0; c < r.columns(); ++c) {
    duckdb_logical_type t = duckdb_column_logical_type(r.raw(), c);
    auto f = FieldOfType(r.ColumnName(c), t, false);
    duckdb_destroy_logical_type(&t);
    if (!f.ok()) return f.status();
    schema.fields.push_back(std::move(f).value());
  }
  return schema;
}

Result<bool> Warehouse::SqlScriptWrites(const std::string& script,
                                        const std::string& default_project) {
  BF_ASSIGN_OR_RETURN(auto statements, SplitSqlStatements(script));
  SqlDialectOptions options;
  options.default_project = default_project;
  options.now_literal = "NULL";
  options.resolve_table = [](const TableName&, const std::string&) -> Result<std::string> {
    return std::string("t");
  };
  for (const auto& s : statements) {
    BF_ASSIGN_OR_RETURN(TranslatedStatement t, TranslateStatement(s, options));
    if (t.kind != SqlStatementKind::kSelect && t.kind != SqlStatementKind::kDeclare &&
        t.kind != SqlStatementKind::kSet)
      return true;
  }
  return false;
}

SqlDialectOptions Warehouse::DialectOptions(const std::string& default_project) {
  SqlDialectOptions options;
  options.default_project = default_project;
  options.now_literal = TimestampLiteral(clock_->Now());
  options.resolve_table = [this](const TableName& t,
                                 const std::string& as_of) -> Result<std::string> {
    if (as_of.empty()) return Relation(t);
    // The AS OF expression is evaluated once, so the window check sees the exact time read.
    BF_ASSIGN_OR_RETURN(auto v,
                        conn_.QueryScalar("SELECT epoch_us(CAST((" + as_of + ") AS TIMESTAMPTZ))"));
    if (!v)
      return InvalidArgument(
          fmt::format("FOR SYSTEM_TIME AS OF on {} evaluates to NULL", t.ToString()));
    return Relation(t, FromMicros(std::stoll(*v)));
  };
  return options;
}

Result<std::string> Warehouse::TranslateQuery(const std::string& statement,
                                              const std::string& default_project) {
  BF_ASSIGN_OR_RETURN(auto statements, SplitSqlStatements(statement));
  if (statements.size() != 1) return InvalidArgument("expected exactly one SELECT statement");
  BF_ASSIGN_OR_RETURN(TranslatedStatement t,
                      TranslateStatement(statements[0], DialectOptions(default_project)));
  if (t.kind != SqlStatementKind::kSelect) return InvalidArgument("expected a SELECT statement");
  return t.query;
}

Result<TranslatedStatement> Warehouse::Translate(
    const std::string& statement, const std::string& default_project,
    const std::map<std::string, std::string>& parameters) {
  BF_ASSIGN_OR_RETURN(auto statements, SplitSqlStatements(statement));
  if (statements.size() != 1) return InvalidArgument("expected exactly one statement");
  SqlDialectOptions options = DialectOptions(default_project);
  options.parameters = parameters;
  return TranslateStatement(statements[0], options);
}

Result<std::string> Warehouse::BindingProbe(const TranslatedStatement& ts) {
  auto target = [&]() -> Result<std::string> {
    BF_ASSIGN_OR_RETURN(std::string relation, Relation(*ts.target));
    return relation + " AS " + Quoted(ts.target_alias.empty() ? ts.target->table : ts.target_alias);
  };
  switch (ts.kind) {
    case SqlStatementKind::kDelete: {
      BF_ASSIGN_OR_RETURN(std::string t, target());
      return fmt::format("SELECT 1 FROM {} WHERE ({})", t, ts.delete_condition);
    }
    case SqlStatementKind::kDeclare:
    case SqlStatementKind::kSet:
      return "SELECT " + (ts.values.empty() ? std::string("1") : Join(ts.values, ", "));
    case SqlStatementKind::kMerge: {
      // Every expression bound where it can see both tables; the clauses' own scopes are
      // narrower, which the run itself enforces.
      std::vector<std::string> exprs = {ts.merge_condition};
      for (const auto& c : ts.merge_clauses) {
        if (!c.condition.empty()) exprs.push_back(c.condition);
        exprs.insert(exprs.end(), c.values.begin(), c.values.end());
      }
      BF_ASSIGN_OR_RETURN(std::string t, target());
      return fmt::format("SELECT {} FROM {} FULL JOIN {} ON ({})", Join(exprs, ", "), t,
                         ts.merge_source, ts.merge_condition);
    }
    default:
      return ts.query;
  }
}

Result<std::vector<StatementResult>> Warehouse::ExecuteSql(const std::string& script,
                                                           const std::string& default_project) {
  BF_ASSIGN_OR_RETURN(auto statements, SplitSqlStatements(script));
  if (statements.empty()) return InvalidArgument("no SQL statement given");
  SqlDialectOptions options = DialectOptions(default_project);
  ScriptVariables variables(conn_);
  BF_RETURN_IF_ERROR(variables.CheckScript(statements, default_project));
  std::vector<StatementResult> results;
  for (const auto& text : statements) {
    auto translated =
        variables.Translate(results.size(), text, options,
                            [&](const TranslatedStatement& t) { return BindingProbe(t); });
    if (!translated.ok())
      return translated.status().WithContext(fmt::format("statement {}", results.size() + 1));
    const TranslatedStatement& ts = *translated;
    AuditStatementScope audit_scope(statement_for_audit_, ts.original);
    StatementResult out;
    out.statement = ts.original;
    switch (ts.kind) {
      case SqlStatementKind::kSelect: {
        BF_ASSIGN_OR_RETURN(QueryResult r, conn_.Query(ts.query));
        for (size_t c = 0; c < r.columns(); ++c) {
          out.columns.push_back(r.ColumnName(c));
          duckdb_logical_type t = duckdb_column_logical_type(r.raw(), c);
          auto f = FieldOfType(out.columns.back(), t, false);
          duckdb_destroy_logical_type(&t);
          if (!f.ok()) return f.status();
          out.schema.push_back(std::move(f).value());
        }
        BF_ASSIGN_OR_RETURN(out.rows, ResultRowsAsJson(r));
        break;
      }
      case SqlStatementKind::kInsert: {
        std::string select = ts.query;
        if (!ts.insert_columns.empty()) {
          BF_ASSIGN_OR_RETURN(TableInfo info, DescribeTable(*ts.target));
          std::vector<std::string> given;
          for (const auto& c : ts.insert_columns) {
            if (!info.options.schema.Find(c)) {
              return InvalidArgument(
                  fmt::format("INSERT INTO {}: no column named {}", ts.target->ToString(), c));
            }
            given.push_back(Quoted(c));
          }
          std::string cols;
          for (const auto& f : info.options.schema.fields) {
            bool present = std::find(ts.insert_columns.begin(), ts.insert_columns.end(), f.name) !=
                           ts.insert_columns.end();
            cols += (cols.empty() ? "" : ", ") + (present ? Quoted(f.name) : std::string("NULL"));
          }
          std::string list;
          for (const auto& g : given) list += (list.empty() ? "" : ", ") + g;
          select = fmt::format("SELECT {} FROM ({}) AS _bf_ins({})", cols, ts.query, list);
        }
        BF_ASSIGN_OR_RETURN(WriteStats st, Append(*ts.target, select));
        out.rows_affected = st.rows_written;
        out.message =
            fmt::format("Inserted {} row(s) into {}", st.rows_written, ts.target->ToString());
        break;
      }
      case SqlStatementKind::kDelete: {
        BF_ASSIGN_OR_RETURN(WriteStats st,
                            DeleteWhere(*ts.target, ts.delete_condition, ts.target_alias));
        out.rows_affected = st.rows_deleted;
        out.message =
            fmt::format("Deleted {} row(s) from {}", st.rows_deleted, ts.target->ToString());
        break;
      }
      case SqlStatementKind::kCreateTableAsSelect: {
        const TableName& target = *ts.target;
        bool exists = TableExists(target);
        if (exists && ts.if_not_exists) {
          out.rows_affected = 0;
          out.message = fmt::format("Table {} already exists; left as it is", target.ToString());
          break;
        }
        if (exists && !ts.or_replace)
          return AlreadyExists(fmt::format("table {} already exists", target.ToString()));
        BF_ASSIGN_OR_RETURN(Schema schema, SchemaOfQuery(ts.query));
        WriteStats st;
        BF_RETURN_IF_ERROR(InTransaction(target.project, [&]() -> Status {
          if (exists) BF_RETURN_IF_ERROR(DropTable(target));
          TableOptions o;
          o.schema = schema;
          BF_RETURN_IF_ERROR(CreateTable(target, o));
          BF_ASSIGN_OR_RETURN(st, Append(target, ts.query));
          return Status::Ok();
        }));
        out.rows_affected = st.rows_written;
        out.message = fmt::format("Created {} with {} row(s)", target.ToString(), st.rows_written);
        break;
      }
      case SqlStatementKind::kDeclare:
      case SqlStatementKind::kSet: {
        auto done = variables.Run(ts);
        if (!done.ok())
          return done.status().WithContext(fmt::format("statement {}", results.size() + 1));
        out.rows_affected = 0;
        out.message = *done;
        break;
      }
      case SqlStatementKind::kMerge: {
        auto merged = ExecuteMerge(ts);
        if (!merged.ok())
          return merged.status().WithContext(fmt::format("statement {}", results.size() + 1));
        out.rows_affected = merged->rows_affected;
        out.message = merged->message;
        break;
      }
      case SqlStatementKind::kDropTable: {
        if (!TableExists(*ts.target) && ts.if_exists) {
          out.rows_affected = 0;
          out.message =
              fmt::format("Table {} does not exist; nothing dropped", ts.target->ToString());
          break;
        }
        BF_RETURN_IF_ERROR(DropTable(*ts.target));
        out.rows_affected = 0;
        out.message = fmt::format("Dropped {} (undrop possible within the time-travel window)",
                                  ts.target->ToString());
        break;
      }
    }
    results.push_back(std::move(out));
  }
  return results;
}

}  // namespace backfill
