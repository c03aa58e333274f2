// Move-only RAII wrappers over DuckDB's C API: a database, a connection, a materialized
// result and an appender. Every duckdb_state is checked and turned into a Status; results are
// always destroyed.
//
// Thread-safety: a Connection is used by one thread at a time; a Database may hand out
// connections to several threads. I/O: opening touches the database file.
#pragma once

#include <duckdb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace backfill {

class QueryResult {
 public:
  QueryResult() = default;
  explicit QueryResult(duckdb_result r) : result_(r), valid_(true) {}
  ~QueryResult();
  QueryResult(QueryResult&& o) noexcept;
  QueryResult& operator=(QueryResult&& o) noexcept;
  QueryResult(const QueryResult&) = delete;
  QueryResult& operator=(const QueryResult&) = delete;

  size_t rows() const;
  size_t columns() const;
  std::string ColumnName(size_t col) const;
  bool IsNull(size_t col, size_t row) const;
  // Values in DuckDB's text form ("NULL" never: check IsNull first, or use GetOptional).
  std::string GetString(size_t col, size_t row) const;
  std::optional<std::string> GetOptional(size_t col, size_t row) const;
  int64_t GetInt64(size_t col, size_t row) const;
  bool GetBool(size_t col, size_t row) const;
  double GetDouble(size_t col, size_t row) const;
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t RowsChanged() const;
  duckdb_result* raw() { return &result_; }

 private:
  mutable duckdb_result result_{};
  bool valid_ = false;
};

class Connection {
 public:
  Connection() = default;
  explicit Connection(duckdb_connection c) : conn_(c) {}
  ~Connection();
  Connection(Connection&& o) noexcept : conn_(o.conn_) { o.conn_ = nullptr; }
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements; the error names the statement's start when it fails.
  Status Exec(const std::string& sql);
  Result<QueryResult> Query(const std::string& sql);
  // Parses and binds one statement without running it; the error is DuckDB's message as it is
  // (e.g. a binder error naming a column no table in scope has).
  Status Prepare(const std::string& sql);
  // Runs a query expected to return one row and one column.
  Result<std::optional<std::string>> QueryScalar(const std::string& sql);
  Result<int64_t> QueryInt(const std::string& sql);
  duckdb_connection raw() const { return conn_; }

 private:
  duckdb_connection conn_ = nullptr;
};

class Database {
 public:
  Database() = default;
  ~Database();
  Database(Database&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Database& operator=(Database&& o) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // path empty = in-memory. Options are DuckDB config pairs (e.g. {"threads","2"}).
  static Result<Database> Open(
      const std::string& path,
      const std::vector<std::pair<std::string, std::string>>& options = {});
  Result<Connection> Connect();
  duckdb_database raw() const { return db_; }

 private:
  duckdb_database db_ = nullptr;
};

// Maps a DuckDB error message onto a Status code: lock conflicts and I/O failures are
// transient (kUnavailable / kIoError), everything else is the statement's fault.
Status StatusFromDuckDbError(const std::string& message, const std::string& sql);

}  // namespace backfill
