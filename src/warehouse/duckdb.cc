#include "warehouse/duckdb.h"

#include <fmt/format.h>

namespace backfill {
namespace {

std::string Abbreviate(const std::string& sql) {
  constexpr size_t kMax = 300;
  std::string s = sql.size() > kMax ? sql.substr(0, kMax) + "..." : sql;
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

}  // namespace

Status StatusFromDuckDbError(const std::string& message, const std::string& sql) {
  std::string m = fmt::format("{} (in: {})", message, Abbreviate(sql));
  if (message.find("Could not set lock") != std::string::npos ||
      message.find("Conflicting lock") != std::string::npos) {
    return Busy(m);
  }
  // I/O failures, also when DuckDB reports them inside another error (a COMMIT that cannot
  // write its WAL is a "TransactionContext Error").
  for (const char* io :
       {"IO Error", "No space left", "Could not write file", "Could not read file",
        "Cannot open file", "File too large", "Read-only file system", "Disk quota exceeded"}) {
    if (message.find(io) != std::string::npos) return IoError(m);
  }
  if (message.find("INTERRUPT") != std::string::npos ||
      message.find("Interrupted") != std::string::npos) {
    return Unavailable(m);
  }
  return InvalidArgument(m);
}

QueryResult::~QueryResult() {
  if (valid_) duckdb_destroy_result(&result_);
}

QueryResult::QueryResult(QueryResult&& o) noexcept : result_(o.result_), valid_(o.valid_) {
  o.valid_ = false;
}

QueryResult& QueryResult::operator=(QueryResult&& o) noexcept {
  if (this != &o) {
    if (valid_) duckdb_destroy_result(&result_);
    result_ = o.result_;
    valid_ = o.valid_;
    o.valid_ = false;
  }
  return *this;
}

size_t QueryResult::rows() const { return valid_ ? duckdb_row_count(&result_) : 0; }
size_t QueryResult::columns() const { return valid_ ? duckdb_column_count(&result_) : 0; }
std::string QueryResult::ColumnName(size_t col) const { return duckdb_column_name(&result_, col); }
bool QueryResult::IsNull(size_t col, size_t row) const {
  return duckdb_value_is_null(&result_, col, row);
}

std::string QueryResult::GetString(size_t col, size_t row) const {
  char* v = duckdb_value_varchar(&result_, col, row);
  if (!v) return "";
  std::string out(v);
  duckdb_free(v);
  return out;
}

std::optional<std::string> QueryResult::GetOptional(size_t col, size_t row) const {
  if (IsNull(col, row)) return std::nullopt;
  return GetString(col, row);
}

int64_t QueryResult::GetInt64(size_t col, size_t row) const {
  return duckdb_value_int64(&result_, col, row);
}
bool QueryResult::GetBool(size_t col, size_t row) const {
  return duckdb_value_boolean(&result_, col, row);
}
double QueryResult::GetDouble(size_t col, size_t row) const {
  return duckdb_value_double(&result_, col, row);
}
int64_t QueryResult::RowsChanged() const {
  return valid_ ? static_cast<int64_t>(duckdb_rows_changed(&result_)) : 0;
}

Connection::~Connection() {
  if (conn_) duckdb_disconnect(&conn_);
}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    if (conn_) duckdb_disconnect(&conn_);
    conn_ = o.conn_;
    o.conn_ = nullptr;
  }
  return *this;
}

Status Connection::Exec(const std::string& sql) {
  auto r = Query(sql);
  return r.ok() ? Status::Ok() : r.status();
}

Result<QueryResult> Connection::Query(const std::string& sql) {
  duckdb_result r;
  if (duckdb_query(conn_, sql.c_str(), &r) == DuckDBError) {
    const char* err = duckdb_result_error(&r);
    std::string message = err ? err : "unknown DuckDB error";
    duckdb_destroy_result(&r);
    return StatusFromDuckDbError(message, sql);
  }
  return QueryResult(r);
}

Status Connection::Prepare(const std::string& sql) {
  duckdb_prepared_statement p = nullptr;
  Status status;
  if (duckdb_prepare(conn_, sql.c_str(), &p) == DuckDBError) {
    const char* err = p ? duckdb_prepare_error(p) : nullptr;
    status = InvalidArgument(err ? err : "unknown DuckDB error");
  }
  duckdb_destroy_prepare(&p);
  return status;
}

Result<std::optional<std::string>> Connection::QueryScalar(const std::string& sql) {
  BF_ASSIGN_OR_RETURN(QueryResult r, Query(sql));
  if (r.rows() == 0 || r.columns() == 0) return std::optional<std::string>();
  return r.GetOptional(0, 0);
}

Result<int64_t> Connection::QueryInt(const std::string& sql) {
  BF_ASSIGN_OR_RETURN(QueryResult r, Query(sql));
  if (r.rows() == 0 || r.columns() == 0 || r.IsNull(0, 0)) return int64_t{0};
  return r.GetInt64(0, 0);
}

Database::~Database() {
  if (db_) duckdb_close(&db_);
}

Database& Database::operator=(Database&& o) noexcept {
  if (this != &o) {
    if (db_) duckdb_close(&db_);
    db_ = o.db_;
    o.db_ = nullptr;
  }
  return *this;
}

Result<Database> Database::Open(const std::string& path,
                                const std::vector<std::pair<std::string, std::string>>& options) {
  duckdb_config config;
  if (duckdb_create_config(&config) == DuckDBError) return Internal("duckdb_create_config failed");
  for (const auto& [k, v] : options) {
    if (duckdb_set_config(config, k.c_str(), v.c_str()) == DuckDBError) {
      duckdb_destroy_config(&config);
      return InvalidArgument(fmt::format("DuckDB rejected option {}={}", k, v));
    }
  }
  Database db;
  char* err = nullptr;
  duckdb_state st = duckdb_open_ext(path.empty() ? nullptr : path.c_str(), &db.db_, config, &err);
  duckdb_destroy_config(&config);
  if (st == DuckDBError) {
    std::string message = err ? err : "unknown error";
    if (err) duckdb_free(err);
    return StatusFromDuckDbError(message, "open " + path);
  }
  return db;
}

Result<Connection> Database::Connect() {
  duckdb_connection c;
  if (duckdb_connect(db_, &c) == DuckDBError) return Internal("duckdb_connect failed");
  return Connection(c);
}

}  // namespace backfill
