// The embedded warehouse: BigQuery-like projects, datasets and date-partitioned tables stored
// in DuckDB, with time travel, partition expiration, access control and an audit log.
//
// Layout of a warehouse directory:
//   backfill.toml             configuration (WarehouseConfig)
//   projects/<project>.duckdb one DuckDB file per project, attached under the project's name
//   .lock, .lock.owner        the writer lock (WarehouseLock)
// Inside a project file, dataset D is schema D and table T is a view D.T over the storage table
// _bf_store.t<id>, whose rows carry the *segment* (one write into one partition) that wrote
// them. _bf.segments records when each segment was created and deleted, so "as of T" selects
// the segments alive at T, and replacing a partition writes only the new rows and marks the old
// segment deleted: it costs what the new data costs, not what the table's history holds.
// Maintain() drops expired partitions and garbage-collects segments deleted longer ago than
// the dataset's time-travel window. The views keep the files usable from the stock duckdb shell.
//
// Every data change commits in one DuckDB transaction together with its audit entry, so after
// a crash it is either fully applied or not at all. A transaction writes one project only.
//
// Thread-safety: one Warehouse per thread (it owns one DuckDB connection). I/O: the warehouse
// directory. Time comes from the Clock passed to Open().
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/names.h"
#include "core/schema.h"
#include "core/status.h"
#include "core/time.h"
#include "warehouse/config.h"
#include "warehouse/duckdb.h"
#include "warehouse/json_values.h"
#include "warehouse/lock.h"
#include "warehouse/review.h"

namespace backfill {

struct SqlDialectOptions;    // warehouse/bq_sql.h
struct TranslatedStatement;  // warehouse/bq_sql.h

struct DatasetOptions {
  bool restricted = false;
  bool is_protected = false;  // writes need an approved request (see plan/)
  std::vector<std::string> readers, writers, owners;
  std::optional<int> partition_expiration_days;
  std::optional<int> time_travel_hours;  // unset: the warehouse default
};

struct DatasetInfo {
  DatasetName name;
  DatasetOptions options;  // time_travel_hours always set
  Timestamp created_at;
  std::string created_by;
};

enum class PartitionKind { kNone, kDate, kTimestamp };

struct TableOptions {
  Schema schema;
  std::string partition_by;  // a DATE or TIMESTAMP column; empty = one unpartitioned partition
  std::vector<std::string> cluster_by;
  std::string query;  // derived tables: rebuilds one partition, uses @submission_date
  std::string description;
};

struct PartitionInfo {
  std::optional<Date> date;  // nullopt: the unpartitioned partition (or NULL partition values)
  int64_t rows = 0;
  Timestamp last_modified;
};

struct TableInfo {
  TableName name;
  int64_t id = 0;
  TableOptions options;
  PartitionKind partition_kind = PartitionKind::kNone;
  Timestamp created_at;
  std::optional<Timestamp> dropped_at;
  std::vector<PartitionInfo> partitions;  // the current state, ordered by date
  int64_t total_rows = 0;
  Timestamp earliest_time_travel;  // max(now - window, created_at)
  DatasetInfo dataset;
  std::map<std::string, std::string> properties;  // e.g. what a snapshot was taken of
  // Top-level columns stored wide-encoded (core/wide.h); the view still shows their exact types.
  std::vector<std::string> encoded_columns;
};

// The form of the rows a write's SELECT produces: the table's columns with their native types,
// or as its storage holds them (wide-encoded columns as their text; see core/wide.h), which
// writers that build rows themselves (the sink) or copy between tables of the same storage use
// so nothing is decoded and encoded again.
enum class RowForm { kNative, kStored };

struct WriteStats {
  int64_t rows_written = 0;
  int64_t rows_deleted = 0;
  std::vector<std::optional<Date>> partitions;  // partitions that received rows
};

struct AuditEntry {
  std::string project;
  int64_t seq = 0;
  Timestamp at;
  std::string principal;
  std::string action;
  std::string target;
  std::string statement;
  int64_t rows = 0;
  std::string outcome;  // "ok" or "refused: ..."
};

// One input file a load (the sink) took into a project: the ledger that makes a second load of
// the same content a no-op.
struct LoadRecord {
  std::string sha256;  // hex, of the file's bytes as stored (compressed for gzip)
  int64_t size = 0;
  std::string path;
  std::string run_id;
  Timestamp loaded_at;
  int64_t write_id = 0;  // from the project's "write" counter, so RetractLoads can undo it
};

struct MaintainReport {
  struct Item {
    std::string action;  // "expired partition", "purged history", "purged dropped table"
    std::string target;
    std::optional<Date> partition;
    int64_t rows = 0;
  };
  std::vector<Item> items;
};

// The result of one statement of `backfill sql`.
struct StatementResult {
  std::string statement;
  std::vector<std::string> columns;
  // A query's result columns as BigQuery fields (types as BigQuery would report them).
  std::vector<Field> schema;
  // Cells in BigQuery's JSON encoding (warehouse/json_values.h), in column order.
  std::vector<std::vector<JsonValue>> rows;
  int64_t rows_affected = -1;  // -1 for queries
  std::string message;
};

struct OpenOptions {
  std::string principal;
  const Clock* clock = nullptr;  // required; must outlive the Warehouse
  bool write = false;
  std::optional<std::chrono::milliseconds> lock_timeout;  // unset: the config's
  std::string command;  // recorded with the lock so a waiting process can say who holds it
  // Opens projects of an older storage format (to Migrate() them); otherwise they are refused
  // with a message naming `backfill migrate`. Needs `write`.
  bool migrate = false;
};

class Warehouse {
 public:
  static constexpr const char* kConfigFile = "backfill.toml";
  // Rows per DuckDB row group in project files (see Attach).
  static constexpr int kRowGroupRows = 2048;

  // Creates a warehouse directory with its config; refuses a directory that already has one.
  static Status Init(const std::filesystem::path& dir, const WarehouseConfig& config);
  static Result<std::unique_ptr<Warehouse>> Open(const std::filesystem::path& dir,
                                                 const OpenOptions& options);

  ~Warehouse();

  const std::string& principal() const { return principal_; }
  const Clock& clock() const { return *clock_; }
  const WarehouseConfig& config() const { return config_; }
  const std::filesystem::path& dir() const { return dir_; }

  // Sets a principal's warehouse-wide role (owners only).
  Status SetPrincipalRole(const std::string& name, Role role);

  // --- Catalog ---
  Status CreateProject(const std::string& project);
  std::vector<std::string> ListProjects() const;
  bool HasProject(const std::string& project) const;
  Status CreateDataset(const DatasetName& name, const DatasetOptions& options);
  // Changes the dataset's flags/lists; fields left unset keep their value.
  struct DatasetUpdate {
    std::optional<bool> restricted, is_protected;
    std::optional<std::vector<std::string>> readers, writers, owners;
    std::optional<int> partition_expiration_days, time_travel_hours;
  };
  Status UpdateDataset(const DatasetName& name, const DatasetUpdate& update);
  Result<DatasetInfo> GetDataset(const DatasetName& name);
  Result<std::vector<DatasetInfo>> ListDatasets(const std::string& project);
  Status CreateTable(const TableName& name, const TableOptions& options);
  Result<std::vector<std::string>> ListTables(const DatasetName& name);
  bool TableExists(const TableName& name);
  // The current table (not dropped), with its partitions; or, with `as_of`, the version alive
  // then (dropped ones included) with its partitions as they were. Needs read access; `as_of`
  // must be inside the time-travel window.
  Result<TableInfo> DescribeTable(const TableName& name,
                                  std::optional<Timestamp> as_of = std::nullopt);
  Status DropTable(const TableName& name);
  // Brings back the most recently dropped version, while its window is open.
  Status UndropTable(const TableName& name);

  // --- Data changes (each one transaction, audited) ---
  // `select_sql` is DuckDB SQL producing the table's columns in order (names do not matter).
  Result<WriteStats> Append(const TableName& name, const std::string& select_sql,
                            RowForm form = RowForm::kNative);
  // Replaces one day's partition whole; refuses rows of other days.
  Result<WriteStats> ReplacePartition(const TableName& name, Date day,
                                      const std::string& select_sql,
                                      RowForm form = RowForm::kNative);
  Result<WriteStats> DeletePartitions(const TableName& name, const std::vector<Date>& days);
  // Deletes the rows where `condition_sql` is true (rewrites the affected partitions).
  // `alias` names the table inside the condition (DELETE FROM t AS a WHERE a.x = 1).
  Result<WriteStats> DeleteWhere(const TableName& name, const std::string& condition_sql,
                                 const std::string& alias = "");

  // Retracts (marks deleted; time travel still reads them) the rows `name` received from writes
  // numbered above `after_write`. A plan undoes an interrupted append-only step this way before
  // redoing it; writes that replaced or deleted rows are not undone by it.
  Result<WriteStats> RetractWrites(const TableName& name, int64_t after_write);
  // The last number a project's counter handed out: "write" (segments carry it) or "audit"
  // (the audit log's seq). A plan's journal keeps them to know what a step wrote.
  Result<int64_t> LastCounter(const std::string& project, const std::string& counter);

  // --- Load ledger (catalog table _bf.loads of each project) ---
  // The files loaded into a project, oldest first (none for a project without a ledger yet).
  Result<std::vector<LoadRecord>> ListLoads(const std::string& project);
  // Records loaded files (loaded_at and write_id are set here). Called inside the transaction
  // that appends their rows, so the entries exist exactly when the rows do. Nothing in record
  // mode.
  Status RecordLoads(const std::string& project, const std::vector<LoadRecord>& loads);
  // Forgets the loads recorded after write `after_write` (a plan undoing an interrupted load
  // also undoes its ledger entries, so the redo is not skipped). Returns how many.
  Result<int64_t> RetractLoads(const std::string& project, int64_t after_write);

  // --- Reading ---
  // DuckDB relation text to put after FROM: the current table, or the table as of a time.
  // Checks read access; refuses (kRefused) times outside the dataset's window, naming the
  // earliest readable time.
  Result<std::string> Relation(const TableName& name,
                               std::optional<Timestamp> as_of = std::nullopt);
  // How to read `source` (current, or as of a time) for a copy into `target`: its rows as their
  // storage holds them (RowForm::kStored) when both tables store rows alike (the same schema and
  // the same wide-encoded columns, core/wide.h), so a copy between wide tables moves the encoded
  // text as it is; otherwise its view (RowForm::kNative). Checks as Relation() does.
  struct CopySource {
    std::string relation;
    RowForm form = RowForm::kNative;
  };
  Result<CopySource> CopyRelation(const TableName& source, const TableName& target,
                                  std::optional<Timestamp> as_of = std::nullopt);
  // Runs DuckDB SQL directly. Callers build FROM clauses with Relation() so access is checked.
  Result<QueryResult> Query(const std::string& duckdb_sql);
  // A DuckDB literal for a timestamp, e.g. TIMESTAMPTZ '2020-03-19 10:00:00+00'.
  static std::string TimestampLiteral(Timestamp ts);

  // The warehouse's own DuckDB connection, for bulk loaders (ingest/sink.h): only TEMP tables
  // may be created and written through it (e.g. with an appender), to be moved into warehouse
  // tables by Append(name, "SELECT ... FROM temp.main.t"), which checks access and audits.
  // Writing warehouse storage directly through it would bypass time travel, access and audit.
  Connection& connection() { return conn_; }

  // --- BigQuery dialect (`backfill sql`) ---
  // Runs a script statement by statement, each in its own transaction: reads go through
  // Relation() (access and window checked), writes through the storage above (time-travelable
  // and audited with the user's statement).
  Result<std::vector<StatementResult>> ExecuteSql(const std::string& script,
                                                  const std::string& default_project);
  // Translates one SELECT statement (reads resolved and checked as in ExecuteSql) into DuckDB
  // SQL, for callers that write its rows somewhere themselves.
  Result<std::string> TranslateQuery(const std::string& statement,
                                     const std::string& default_project);
  // Translates one statement with query parameters (@name -> DuckDB literal), keeping what it
  // reads; for derived tables, whose queries use @submission_date.
  Result<TranslatedStatement> Translate(const std::string& statement,
                                        const std::string& default_project,
                                        const std::map<std::string, std::string>& parameters);
  // Whether a script has statements that change data (so it needs the writer lock).
  static Result<bool> SqlScriptWrites(const std::string& script,
                                      const std::string& default_project);
  // The BigQuery schema of a DuckDB query's result (for CREATE TABLE ... AS SELECT).
  Result<Schema> SchemaOfQuery(const std::string& duckdb_sql);

  // Table properties (key/value, audited): recovery steps keep their bookkeeping here, e.g.
  // which table and time a snapshot was taken of and whether it has been validated.
  Status SetTableProperty(const TableName& name, const std::string& key, const std::string& value);

  // --- Reviewed writes (see warehouse/review.h) ---
  // In record mode nothing changes: each write is appended to recorded() as the statement it
  // would run, with row counts computed by reading, so a request shows reviewers exactly what
  // will happen.
  void StartRecording() { recording_ = true; }
  // Back to executing after a recording, keeping the lock (the recorded writes are forgotten).
  void StopRecording() {
    recording_ = false;
    recorded_.clear();
    recorded_protected_.clear();
    recorded_projects_.clear();
  }
  bool recording() const { return recording_; }
  const std::vector<std::string>& recorded() const { return recorded_; }
  const std::vector<std::string>& recorded_protected() const { return recorded_protected_; }
  const std::vector<std::string>& recorded_projects() const { return recorded_projects_; }
  // Lets writes into protected datasets proceed while each write matches, in order, the next
  // statement of this approved request; any other write is refused.
  Status ActivateRequest(const ReviewRequest& request);
  // After the command: refuses when approved statements were left unexecuted.
  Status FinishRequest() const;
  // Lets writes into protected datasets proceed: an approved plan is applying, or a plan is
  // being rehearsed on a scratch copy. protected_written() lists the datasets written so.
  void AllowProtectedWrites() { protected_allowed_ = true; }
  const std::vector<std::string>& protected_written() const { return protected_written_; }

  // --- Maintenance and audit ---
  Result<MaintainReport> Maintain();
  // Converts the projects opened in an older storage format (OpenOptions::migrate) to the
  // current one, one transaction per project: the catalog gains what the format adds, and wide
  // tables (core/wide.h) move their wide columns into the encoded form, keeping their history.
  // Owners only. Returns one line per change (empty: nothing to migrate).
  Result<std::vector<std::string>> Migrate();
  // Entries of every project (or one), oldest first.
  Result<std::vector<AuditEntry>> Audit(const std::string& project = "");
  // Records an event that changes no data (requests, approvals) in a project's audit log.
  Status AuditEvent(const std::string& project, const std::string& action,
                    const std::string& target, const std::string& detail);
  // Records a refused operation in the audit log (in its own transaction) and returns `why`, or
  // `why` saying that it could not be recorded: a refusal is never silently left out of the log.
  [[nodiscard]] Status AuditRefusal(const std::string& project, const std::string& action,
                                    const std::string& target, const Status& why);

  // Runs `body` in one transaction on `project` (nested calls join the outer transaction).
  Status InTransaction(const std::string& project, const std::function<Status()>& body);
  // Waits until what DuckDB has written to the project's file so far is on disk. Not needed for
  // durability (a COMMIT syncs the file itself); called by a thread with nothing else to do
  // while a long transaction finishes, so that the COMMIT's own sync waits only for the rest.
  // Best effort: a failure costs nothing but that wait. Safe from any thread (no DuckDB call).
  void WriteBackProjectFile(const std::string& project) const;
  // Detaches the project's file and attaches it again (outside a transaction only). DuckDB keeps
  // the state of every row group its tables gained in memory while the file stays attached
  // (~2.3 kB per stored column of each row group, see bench/README `replay`, session 13), and
  // only this lets it go: a long writer (the sink) calls it between its transactions.
  Status ReopenProject(const std::string& project);
  // Checks that the principal has `role` on the dataset (reader: may read; writer: may write).
  Status CheckAccess(const DatasetName& dataset, Role role);

 private:
  Warehouse() = default;
  std::filesystem::path ProjectFile(const std::string& project) const {
    return dir_ / "projects" / (project + ".duckdb");
  }
  struct TableRow;
  Status Attach(const std::string& project, bool create);
  Result<int> StorageFormat(const std::string& project);
  Status RequireWrite() const;
  Status RequireWarehouseRole(Role role, const std::string& what) const;
  Result<TableRow> FindTable(const TableName& name, std::optional<Timestamp> alive_at);
  Result<TableRow> LoadTable(const TableName& name, const std::string& where,
                             std::optional<Timestamp> alive_at = std::nullopt);
  Result<std::optional<TableRow>> FindDroppedTable(const TableName& name);
  Status CreateView(const TableRow& table);
  Result<int64_t> NextCounter(const std::string& project, const std::string& counter);
  Result<WriteStats> InsertRows(const TableRow& table, const std::string& select_sql, RowForm form,
                                int64_t* write_id);
  Status AuditChange(const std::string& project, const std::string& action,
                     const std::string& target, const std::string& statement, int64_t rows);
  Result<std::vector<DatasetInfo>> ReadDatasets(const std::string& project,
                                                const std::string& only);
  // Decides whether a write runs: false in record mode (it is recorded instead); refuses
  // writes into protected datasets unless they match the active request.
  Result<bool> AuthorizeWrite(const DatasetName& dataset, const std::string& statement);
  int WindowHours(const DatasetInfo& ds) const;
  SqlDialectOptions DialectOptions(const std::string& default_project);
  // A DuckDB statement that binds every expression of `ts` (see warehouse/sql_variables.h).
  Result<std::string> BindingProbe(const TranslatedStatement& ts);
  // MERGE (warehouse_merge.cc): one transaction of the warehouse's own DELETE and INSERT paths.
  Result<StatementResult> ExecuteMerge(const TranslatedStatement& ts);

  std::filesystem::path dir_;
  WarehouseConfig config_;
  std::string principal_;
  const Clock* clock_ = nullptr;
  bool write_ = false;
  bool migrating_ = false;
  std::vector<std::string> outdated_;  // projects in an older storage format (migrating_ only)
  WarehouseLock lock_;
  Database db_;
  Connection conn_;
  std::vector<std::string> projects_;
  std::string tx_project_;           // non-empty while a transaction is open
  std::string statement_for_audit_;  // the user's statement while ExecuteSql runs it
  bool recording_ = false;
  std::vector<std::string> recorded_, recorded_protected_, recorded_projects_;
  std::optional<ReviewRequest> request_;
  bool protected_allowed_ = false;
  std::vector<std::string> protected_written_;
  size_t request_next_ = 0;
  Status RecordRefusal(const std::string& project, const std::string& action,
                       const std::string& target, const Status& why);
  std::optional<std::pair<std::string, Status>> pending_refusal_;  // project, why
  // (project, table id) -> the table's parsed schema. Every write looks its table up, and
  // reading and parsing the 2.7 MB schema text of a Glean metrics table costs more than
  // appending a chunk of its rows (the sink appends dozens of times a run). A catalog row's
  // schema never changes and its id is never given again once committed; a rolled-back
  // transaction may have taken ids that a later one takes again, so a rollback (and attaching
  // a project) empties the cache.
  std::map<std::pair<std::string, int64_t>, Schema> schemas_;
  Result<Schema> TableSchema(const std::string& project, int64_t id, const std::string& origin);
};

const char* PartitionKindName(PartitionKind kind);
// The kind a name from PartitionKindName stands for; any other name (NULL in older catalogs) is
// kNone.
PartitionKind ParsePartitionKind(std::string_view name);

// BigQuery's rule: a partition expires at its partition time (the day's start, UTC) plus the
// dataset's expiration.
Timestamp PartitionExpiresAt(Date partition, int expiration_days);

}  // namespace backfill
