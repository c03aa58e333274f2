#include "warehouse/warehouse.h"
#include "core/fault.h"
#include "core/sha256.h"
#include "core/text.h"
#include "core/wide.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace backfill {
namespace fs = std::filesystem;

namespace {

// Segment ids are (write_id << kDayBits) | day index, so one INSERT assigns every row its
// segment without a second pass; the day index counts days since 0001-01-01.
constexpr int kDayBits = 20;
constexpr int64_t kNullPartition = (int64_t{1} << kDayBits) - 1;
constexpr const char* kDayZero = "DATE '0001-01-01'";
// The layout of a project file. 1: before it was recorded. 2: `_bf.meta` holds it and tables
// record their wide-encoded columns (`_bf.tables.encoded`).
constexpr int kStorageFormat = 2;

std::string Q(std::string_view s) { return QuoteIdent(s); }
std::string S(std::string_view s) { return QuoteString(s); }

// Principal and column lists are stored as comma-separated text: names never contain commas.
std::string ListLiteral(const std::vector<std::string>& v) {
  std::string joined;
  for (size_t i = 0; i < v.size(); ++i) joined += (i ? "," : "") + v[i];
  return S(joined);
}

std::vector<std::string> ParseList(const std::optional<std::string>& text) {
  return text ? SplitList(*text) : std::vector<std::string>{};
}


bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string Cat(const std::string& project) { return Q(project); }

// A write that failed at the file layer (disk full, read-only or immutable file, ...): names the
// project file and says that the rolled-back transaction changed nothing.
Status WrapWriteFailure(const Status& s, const fs::path& file) {
  if (s.code() != StatusCode::kIoError) return s;
  return Status(s.code(), fmt::format("writing {} failed; the transaction was rolled back and nothing was changed "
                                      "by it: {}",
                                      file.string(), s.message()));
}
std::string Bf(const std::string& project, const char* table) { return Q(project) + "._bf." + table; }

}  // namespace

const char* PartitionKindName(PartitionKind kind) {
  switch (kind) {
    case PartitionKind::kNone: return "none";
    case PartitionKind::kDate: return "date";
    case PartitionKind::kTimestamp: return "timestamp";
  }
  return "none";
}

PartitionKind ParsePartitionKind(std::string_view name) {
  for (PartitionKind k : {PartitionKind::kDate, PartitionKind::kTimestamp}) {
    if (name == PartitionKindName(k)) return k;
  }
  return PartitionKind::kNone;
}

Timestamp PartitionExpiresAt(Date partition, int expiration_days) {
  return StartOf(AddDays(partition, expiration_days));
}

struct Warehouse::TableRow {
  TableName name;
  int64_t id = 0;
  TableOptions options;
  PartitionKind kind = PartitionKind::kNone;
  Timestamp created_at;
  std::optional<Timestamp> dropped_at;
  std::vector<std::string> encoded;  // columns stored wide-encoded (core/wide.h)

  bool IsEncoded(const std::string& column) const {
    return std::find(encoded.begin(), encoded.end(), column) != encoded.end();
  }
  // The table's columns as readers see them: encoded columns decoded to their exact types.
  std::string DecodedColumns() const {
    if (encoded.empty()) return "* EXCLUDE (_bf_seg)";
    std::vector<std::string> cols;
    for (const auto& f : options.schema.fields) {
      cols.push_back(IsEncoded(f.name) ? WideDecodeSql(f, Q(f.name)) + " AS " + Q(f.name) : Q(f.name));
    }
    return Join(cols, ", ");
  }
  // The columns of `alias` (native values in the table's column order) as the storage holds
  // them: encoded columns encoded.
  std::string EncodingColumns(const std::string& alias) const {
    std::vector<std::string> cols;
    for (const auto& f : options.schema.fields) {
      std::string c = Q(alias) + "." + Q(f.name);
      cols.push_back(IsEncoded(f.name) ? WideEncodeSql(f, c) : c);
    }
    return Join(cols, ", ");
  }
  std::string Store() const { return Q(name.project) + "._bf_store." + Q("t" + std::to_string(id)); }
  // The partition of a row, as a DATE expression over the table's columns.
  std::string PartitionExpr() const {
    switch (kind) {
      case PartitionKind::kNone: return "CAST(NULL AS DATE)";
      case PartitionKind::kDate: return Q(options.partition_by);
      case PartitionKind::kTimestamp: return "CAST(" + Q(options.partition_by) + " AS DATE)";
    }
    return "NULL";
  }
  std::string ColumnNames() const {
    std::vector<std::string> cols;
    for (const auto& f : options.schema.fields) cols.push_back(Q(f.name));
    return Join(cols, ", ");
  }
};

Warehouse::~Warehouse() {
  if (!tx_project_.empty()) (void)conn_.Exec("ROLLBACK");
}

Status Warehouse::Init(const fs::path& dir, const WarehouseConfig& config) {
  BF_RETURN_IF_ERROR(ValidateTimeTravelHours(config.time_travel_hours));
  if (fs::exists(dir / kConfigFile)) {
    return AlreadyExists(fmt::format("{} is already a warehouse ({} exists)", dir.string(), kConfigFile));
  }
  std::error_code ec;
  fs::create_directories(dir / "projects", ec);
  if (ec) return IoError(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  // Checked again under the writer lock: of two `init`s started at once, the second must not
  // overwrite the first one's configuration (and the roles granted since).
  BF_ASSIGN_OR_RETURN(WarehouseLock lock, WarehouseLock::Acquire(dir, WarehouseLock::Mode::kExclusive,
                                                                 std::chrono::seconds(config.lock_timeout_seconds), "init"));
  if (fs::exists(dir / kConfigFile)) {
    return AlreadyExists(fmt::format("{} is already a warehouse ({} exists)", dir.string(), kConfigFile));
  }
  return SaveConfig(config, dir / kConfigFile);
}

Result<std::unique_ptr<Warehouse>> Warehouse::Open(const fs::path& dir, const OpenOptions& options) {
  if (!options.clock) return Internal("Warehouse::Open needs a clock");
  if (!fs::exists(dir / kConfigFile)) {
    return NotFound(fmt::format("no warehouse at {} (run `backfill init --warehouse {}`)", dir.string(),
                                dir.string()));
  }
  std::unique_ptr<Warehouse> w(new Warehouse());
  w->dir_ = dir;
  w->principal_ = options.principal;
  w->clock_ = options.clock;
  w->write_ = options.write;
  w->migrating_ = options.migrate;
  BF_ASSIGN_OR_RETURN(w->config_, LoadConfig(dir / kConfigFile));
  auto timeout = options.lock_timeout.value_or(std::chrono::seconds(w->config_.lock_timeout_seconds));
  BF_ASSIGN_OR_RETURN(w->lock_, WarehouseLock::Acquire(dir, options.write ? WarehouseLock::Mode::kExclusive
                                                                        : WarehouseLock::Mode::kShared,
                                                       timeout, options.command));
  // Read again under the lock: a writer that held it meanwhile may have changed the roles, and
  // SetPrincipalRole writes back what was read.
  BF_ASSIGN_OR_RETURN(w->config_, LoadConfig(dir / kConfigFile));
  BF_ASSIGN_OR_RETURN(w->db_, Database::Open(""));
  BF_ASSIGN_OR_RETURN(w->conn_, w->db_.Connect());
  BF_RETURN_IF_ERROR(w->conn_.Exec("SET TimeZone='UTC'"));
  // Past this many live segments DuckDB would pass only a min/max range of segment ids to the
  // scan, so reads of tables with many partitions would also scan their older versions.
  BF_RETURN_IF_ERROR(w->conn_.Exec("SET dynamic_or_filter_threshold = 100000"));
  // The one writer spills inside the warehouse, not into the working directory.
  if (options.write) BF_RETURN_IF_ERROR(w->conn_.Exec(fmt::format("SET temp_directory = {}", S((dir / ".tmp").string()))));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "projects")) {
    if (e.path().extension() == ".duckdb") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) BF_RETURN_IF_ERROR(w->Attach(n, false));
  return w;
}

Status Warehouse::Attach(const std::string& project, bool create) {
  fs::path file = dir_ / "projects" / (project + ".duckdb");
  std::string sql = fmt::format("ATTACH {} AS {}{}", S(file.string()), Q(project), write_ ? "" : " (READ_ONLY)");
  BF_RETURN_IF_ERROR(conn_.Exec(sql).WithContext(
      write_ ? fmt::format("cannot open project {} ({}) for writing, nothing was changed", project, file.string())
             : "opening project " + project));
  if (create) {
    const std::string p = Q(project);
    Status created = conn_.Exec(fmt::format(R"(
      BEGIN TRANSACTION;
      CREATE SCHEMA {p}._bf;
      CREATE SCHEMA {p}._bf_store;
      CREATE TABLE {p}._bf.datasets(name VARCHAR, restricted BOOLEAN, protected BOOLEAN,
        readers VARCHAR, writers VARCHAR, owners VARCHAR, partition_expiration_days INTEGER,
        time_travel_hours INTEGER, created_at BIGINT, created_by VARCHAR);
      CREATE TABLE {p}._bf.tables(id BIGINT, dataset VARCHAR, name VARCHAR, schema_json VARCHAR,
        partition_by VARCHAR, partition_kind VARCHAR, cluster_by VARCHAR, query VARCHAR,
        description VARCHAR, created_at BIGINT, created_by VARCHAR, dropped_at BIGINT, encoded VARCHAR);
      CREATE TABLE {p}._bf.meta(key VARCHAR, value VARCHAR);
      INSERT INTO {p}._bf.meta VALUES ('storage_format', '{format}');
      CREATE TABLE {p}._bf.segments(id BIGINT, table_id BIGINT, partition DATE, row_count BIGINT,
        created_at BIGINT, deleted_at BIGINT, write_id BIGINT);
      CREATE TABLE {p}._bf.audit(seq BIGINT, at_us BIGINT, principal VARCHAR, action VARCHAR,
        target VARCHAR, statement VARCHAR, rows BIGINT, outcome VARCHAR);
      CREATE TABLE {p}._bf.counters(name VARCHAR, value BIGINT);
      CREATE TABLE {p}._bf.properties(table_id BIGINT, key VARCHAR, value VARCHAR);
      COMMIT;)", fmt::arg("p", p), fmt::arg("format", kStorageFormat)));
    if (!created.ok()) {
      (void)conn_.Exec("ROLLBACK");
      return created;
    }
  }
  if (!create) {
    BF_ASSIGN_OR_RETURN(int format, StorageFormat(project));
    if (format != kStorageFormat) {
      if (format > kStorageFormat) {
        return Refused(fmt::format(
            "project {} ({}) has storage format {}, newer than this backfill knows ({}); use a newer backfill",
            project, file.string(), format, kStorageFormat));
      }
      if (!migrating_) {
        return Refused(fmt::format(
            "project {} ({}) has storage format {}; this backfill needs format {}. Run `backfill migrate "
            "--warehouse {}` (it converts every project in place, in one transaction each)",
            project, file.string(), format, kStorageFormat, dir_.string()));
      }
      outdated_.push_back(project);
    }
  }
  projects_.push_back(project);
  std::sort(projects_.begin(), projects_.end());
  return Status::Ok();
}

Result<int> Warehouse::StorageFormat(const std::string& project) {
  BF_ASSIGN_OR_RETURN(int64_t has_meta, conn_.QueryInt(fmt::format(
      "SELECT count(*) FROM duckdb_tables() WHERE database_name = {} AND schema_name = '_bf' AND table_name = 'meta'",
      S(project))));
  if (has_meta == 0) return 1;  // before the format was recorded: no wide tables, no meta table
  BF_ASSIGN_OR_RETURN(QueryResult r, conn_.Query(fmt::format(
      "SELECT value FROM {} WHERE key = 'storage_format'", Bf(project, "meta"))));
  if (r.rows() != 1) return Internal(fmt::format("project {}: no storage_format in _bf.meta", project));
  return std::atoi(r.GetString(0, 0).c_str());
}

Result<std::vector<std::string>> Warehouse::Migrate() {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_RETURN_IF_ERROR(RequireWarehouseRole(Role::kOwner, "migrate the warehouse"));
  std::vector<std::string> done;
  for (const std::string& p : outdated_) {
    BF_RETURN_IF_ERROR(InTransaction(p, [&]() -> Status {
      // 1 -> 2: tables record their encoded columns; the format is recorded.
      BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("ALTER TABLE {} ADD COLUMN encoded VARCHAR", Bf(p, "tables"))));
      BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("CREATE TABLE {}(key VARCHAR, value VARCHAR)", Bf(p, "meta"))));
      BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("INSERT INTO {} VALUES ('storage_format', '{}')", Bf(p, "meta"),
                                                kStorageFormat)));
      done.push_back(fmt::format("project {}: storage format 1 -> {}", p, kStorageFormat));
      // Wide tables (dropped ones too, time travel reads them) move their wide columns into the
      // encoded form; rows keep their segments, so their history is unchanged.
      BF_ASSIGN_OR_RETURN(QueryResult tables, conn_.Query(fmt::format(
          "SELECT id, dataset, name, dropped_at FROM {} ORDER BY id", Bf(p, "tables"))));
      for (size_t i = 0; i < tables.rows(); ++i) {
        TableName name{p, tables.GetString(1, i), tables.GetString(2, i)};
        BF_ASSIGN_OR_RETURN(TableRow t, LoadTable(name, fmt::format("id = {}", tables.GetInt64(0, i))));
        t.encoded = EncodedColumns(t.options.schema, config_.wide);
        if (t.encoded.empty()) continue;
        bool live = tables.IsNull(3, i);
        std::string view = fmt::format("{}.{}.{}", Cat(p), Q(name.dataset), Q(name.table));
        if (live) BF_RETURN_IF_ERROR(conn_.Exec("DROP VIEW " + view));
        std::string fresh = Q(p) + "._bf_store." + Q(fmt::format("t{}_wide", t.id));
        BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("CREATE TABLE {} ({}, _bf_seg BIGINT)", fresh,
                                                  StoredColumnList(t.options.schema, t.encoded))));
        BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("INSERT INTO {} SELECT {}, _bf_src._bf_seg FROM {} AS _bf_src",
                                                  fresh, t.EncodingColumns("_bf_src"), t.Store())));
        BF_RETURN_IF_ERROR(conn_.Exec("DROP TABLE " + t.Store()));
        BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("ALTER TABLE {} RENAME TO {}", fresh, Q(fmt::format("t{}", t.id)))));
        BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET encoded = {} WHERE id = {}", Bf(p, "tables"),
                                                  ListLiteral(t.encoded), t.id)));
        if (live) BF_RETURN_IF_ERROR(CreateView(t));
        done.push_back(fmt::format("table {}{}: columns {} stored encoded", name.ToString(),
                                   live ? "" : " (dropped)", Join(t.encoded, ", ")));
      }
      return AuditChange(p, "migrate", p, fmt::format("storage format 1 -> {}", kStorageFormat), 0);
    }));
  }
  outdated_.clear();
  return done;
}

Status Warehouse::RequireWrite() const {
  if (!write_) return Internal("the warehouse was opened read-only for this command");
  return Status::Ok();
}

Status Warehouse::RequireWarehouseRole(Role role, const std::string& what) const {
  Role have = config_.RoleOf(principal_);
  if (have < role) {
    return PermissionDenied(fmt::format("principal '{}' may not {}: it needs the warehouse role '{}' (has '{}'; "
                                        "see principals in {})",
                                        principal_, what, RoleName(role), RoleName(have), kConfigFile));
  }
  return Status::Ok();
}

Status Warehouse::SetPrincipalRole(const std::string& name, Role role) {
  BF_RETURN_IF_ERROR(RequireWarehouseRole(Role::kOwner, "change principals"));
  WarehouseConfig updated = config_;
  if (role == Role::kNone) updated.principals.erase(name);
  else updated.principals[name] = role;
  BF_RETURN_IF_ERROR(SaveConfig(updated, dir_ / kConfigFile));
  config_ = std::move(updated);
  return Status::Ok();
}

namespace {
// A refusal the audit log lost must not look audited: the user sees both.
Status NoteUnrecorded(const Status& refusal, const std::string& project, const Status& recorded) {
  if (recorded.ok()) return refusal;
  return Status(refusal.code(),
                fmt::format("{} (this refusal could not be recorded in the audit log of project {}: {})",
                            refusal.message(), project, recorded.message()));
}
}  // namespace

Status Warehouse::InTransaction(const std::string& project, const std::function<Status()>& body) {
  BF_RETURN_IF_ERROR(RequireWrite());
  if (!tx_project_.empty()) {
    if (tx_project_ != project) {
      return Internal(fmt::format("one step may write one project only (writing {}, then {})", tx_project_, project));
    }
    return body();
  }
  BF_RETURN_IF_ERROR(conn_.Exec("BEGIN TRANSACTION"));
  tx_project_ = project;
  Status s = body();
  tx_project_.clear();
  if (!s.ok()) {
    (void)conn_.Exec("ROLLBACK");
    if (pending_refusal_) {
      auto [refused_project, why] = *pending_refusal_;
      pending_refusal_.reset();
      s = NoteUnrecorded(s, refused_project, RecordRefusal(refused_project, "refused write", refused_project, why));
    }
    return WrapWriteFailure(s, dir_ / "projects" / (project + ".duckdb"));
  }
  Status c = conn_.Exec("COMMIT");
  if (!c.ok()) {
    (void)conn_.Exec("ROLLBACK");
    return WrapWriteFailure(c, dir_ / "projects" / (project + ".duckdb"));
  }
  CrashPoint("commit " + project);
  return c;
}

Result<int64_t> Warehouse::NextCounter(const std::string& project, const std::string& counter) {
  BF_ASSIGN_OR_RETURN(int64_t cur, conn_.QueryInt(fmt::format("SELECT max(value) FROM {} WHERE name = {}",
                                                             Bf(project, "counters"), S(counter))));
  int64_t next = cur + 1;
  if (cur == 0) {
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("INSERT INTO {} VALUES ({}, {})", Bf(project, "counters"), S(counter), next)));
  } else {
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET value = {} WHERE name = {}", Bf(project, "counters"), next, S(counter))));
  }
  return next;
}

Status Warehouse::AuditChange(const std::string& project, const std::string& action, const std::string& target,
                              const std::string& statement, int64_t rows) {
  BF_ASSIGN_OR_RETURN(int64_t seq, NextCounter(project, "audit"));
  const std::string& text = statement_for_audit_.empty() ? statement : statement_for_audit_;
  return conn_.Exec(fmt::format("INSERT INTO {} VALUES ({}, {}, {}, {}, {}, {}, {}, 'ok')", Bf(project, "audit"), seq,
                                ToMicros(clock_->Now()), S(principal_), S(action), S(target), S(text), rows));
}

Status Warehouse::AuditEvent(const std::string& project, const std::string& action, const std::string& target,
                             const std::string& detail) {
  if (!HasProject(project)) return NotFound(fmt::format("project {} does not exist", project));
  return InTransaction(project, [&] { return AuditChange(project, action, target, detail, 0); });
}

Status Warehouse::RecordRefusal(const std::string& project, const std::string& action,
                                const std::string& target, const Status& why) {
  // Read-only opens and unknown projects have no audit log to write: nothing is lost.
  if (!write_ || !HasProject(project)) return Status::Ok();
  if (!tx_project_.empty()) {
    return Internal("a refusal is recorded after its transaction ends, not inside one");
  }
  return InTransaction(project, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(int64_t seq, NextCounter(project, "audit"));
    return conn_.Exec(fmt::format("INSERT INTO {} VALUES ({}, {}, {}, {}, {}, {}, 0, {})", Bf(project, "audit"), seq,
                                  ToMicros(clock_->Now()), S(principal_), S(action), S(target),
                                  S(statement_for_audit_), S("refused: " + why.message())));
  });
}

Status Warehouse::AuditRefusal(const std::string& project, const std::string& action, const std::string& target,
                               const Status& why) {
  return NoteUnrecorded(why, project, RecordRefusal(project, action, target, why));
}

Result<bool> Warehouse::AuthorizeWrite(const DatasetName& dataset, const std::string& statement) {
  BF_ASSIGN_OR_RETURN(DatasetInfo ds, GetDataset(dataset));
  if (recording_) {
    recorded_.push_back(statement);
    std::string name = dataset.ToString();
    if (ds.options.is_protected && !Contains(recorded_protected_, name)) recorded_protected_.push_back(name);
    if (!Contains(recorded_projects_, dataset.project)) recorded_projects_.push_back(dataset.project);
    return false;
  }
  if (protected_allowed_) {
    std::string name = dataset.ToString();
    if (ds.options.is_protected && !Contains(protected_written_, name)) protected_written_.push_back(name);
    return true;
  }
  if (request_) {
    const auto& expected = request_->statements;
    if (request_next_ >= expected.size() || expected[request_next_] != statement) {
      Status why = Refused(fmt::format(
          "request {} does not cover this write (statement {} of the command differs from what was approved); "
          "nothing was changed. Create and approve a new request.\n  approved: {}\n  now:      {}",
          request_->id, request_next_ + 1,
          request_next_ < expected.size() ? expected[request_next_] : std::string("(no more statements)"), statement));
      pending_refusal_ = {dataset.project, why};
      return why;
    }
    ++request_next_;
    return true;
  }
  if (ds.options.is_protected) {
    Status why = Refused(fmt::format(
        "dataset {} is protected: writes need a request approved by a second principal. Record it with "
        "`backfill request create -- <this command>`, have a reviewer run `backfill request approve ID --as "
        "REVIEWER`, then run the command with `--request ID`",
        dataset.ToString()));
    pending_refusal_ = {dataset.project, why};
    return why;
  }
  return true;
}

Status Warehouse::ActivateRequest(const ReviewRequest& request) {
  BF_RETURN_IF_ERROR(request.CheckRunnable());
  request_ = request;
  request_next_ = 0;
  return Status::Ok();
}

Status Warehouse::FinishRequest() const {
  if (request_ && request_next_ != request_->statements.size()) {
    return Refused(fmt::format("request {}: {} of {} approved statements ran", request_->id, request_next_,
                               request_->statements.size()));
  }
  return Status::Ok();
}

// --- Catalog ---

std::vector<std::string> Warehouse::ListProjects() const { return projects_; }

bool Warehouse::HasProject(const std::string& project) const { return Contains(projects_, project); }

Status Warehouse::CreateProject(const std::string& project) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_RETURN_IF_ERROR(ValidateProjectName(project));
  BF_RETURN_IF_ERROR(RequireWarehouseRole(Role::kWriter, "create projects"));
  if (HasProject(project)) return AlreadyExists(fmt::format("project {} already exists", project));
  BF_RETURN_IF_ERROR(Attach(project, true));
  return InTransaction(project, [&] { return AuditChange(project, "create project", project, "", 0); });
}

int Warehouse::WindowHours(const DatasetInfo& ds) const {
  return ds.options.time_travel_hours.value_or(config_.time_travel_hours);
}

Result<std::vector<DatasetInfo>> Warehouse::ReadDatasets(const std::string& project, const std::string& only) {
  if (!HasProject(project)) return NotFound(fmt::format("project {} does not exist", project));
  BF_ASSIGN_OR_RETURN(QueryResult r, conn_.Query(fmt::format(
      "SELECT name, restricted, protected, readers, writers, owners, partition_expiration_days, "
      "time_travel_hours, created_at, created_by FROM {} {} ORDER BY name",
      Bf(project, "datasets"), only.empty() ? "" : "WHERE name = " + S(only))));
  std::vector<DatasetInfo> out;
  for (size_t i = 0; i < r.rows(); ++i) {
    DatasetInfo d;
    d.name = {project, r.GetString(0, i)};
    d.options.restricted = r.GetBool(1, i);
    d.options.is_protected = r.GetBool(2, i);
    d.options.readers = ParseList(r.GetOptional(3, i));
    d.options.writers = ParseList(r.GetOptional(4, i));
    d.options.owners = ParseList(r.GetOptional(5, i));
    if (!r.IsNull(6, i)) d.options.partition_expiration_days = static_cast<int>(r.GetInt64(6, i));
    d.options.time_travel_hours = static_cast<int>(r.GetInt64(7, i));
    d.created_at = FromMicros(r.GetInt64(8, i));
    d.created_by = r.GetString(9, i);
    out.push_back(std::move(d));
  }
  return out;
}

Result<DatasetInfo> Warehouse::GetDataset(const DatasetName& name) {
  BF_ASSIGN_OR_RETURN(auto list, ReadDatasets(name.project, name.dataset));
  if (list.empty()) return NotFound(fmt::format("dataset {} does not exist", name.ToString()));
  return list[0];
}

Result<std::vector<DatasetInfo>> Warehouse::ListDatasets(const std::string& project) {
  return ReadDatasets(project, "");
}

Status Warehouse::CreateDataset(const DatasetName& name, const DatasetOptions& options) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_RETURN_IF_ERROR(ValidateIdentifier(name.dataset, "dataset"));
  if (!HasProject(name.project)) return NotFound(fmt::format("project {} does not exist", name.project));
  BF_RETURN_IF_ERROR(RequireWarehouseRole(Role::kWriter, "create datasets"));
  int hours = options.time_travel_hours.value_or(config_.time_travel_hours);
  BF_RETURN_IF_ERROR(ValidateTimeTravelHours(hours));
  if (options.partition_expiration_days && *options.partition_expiration_days <= 0) {
    return InvalidArgument("partition expiration must be a positive number of days");
  }
  if (GetDataset(name).ok()) return AlreadyExists(fmt::format("dataset {} already exists", name.ToString()));
  std::vector<std::string> owners = options.owners;
  // The creator owns what it creates, so a restricted dataset is never unreachable.
  if (!Contains(owners, principal_)) owners.push_back(principal_);
  return InTransaction(name.project, [&]() -> Status {
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("CREATE SCHEMA {}.{}", Cat(name.project), Q(name.dataset))));
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format(
        "INSERT INTO {} VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {})", Bf(name.project, "datasets"),
        S(name.dataset), options.restricted, options.is_protected, ListLiteral(options.readers),
        ListLiteral(options.writers), ListLiteral(owners),
        options.partition_expiration_days ? std::to_string(*options.partition_expiration_days) : "NULL", hours,
        ToMicros(clock_->Now()), S(principal_))));
    return AuditChange(name.project, "create dataset", name.ToString(),
                       fmt::format("restricted={} protected={}", options.restricted, options.is_protected), 0);
  });
}

Status Warehouse::UpdateDataset(const DatasetName& name, const DatasetUpdate& u) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(DatasetInfo ds, GetDataset(name));
  BF_RETURN_IF_ERROR(CheckAccess(name, Role::kOwner));
  std::vector<std::string> sets;
  if (u.restricted) sets.push_back(fmt::format("restricted = {}", *u.restricted));
  if (u.is_protected) sets.push_back(fmt::format("protected = {}", *u.is_protected));
  if (u.readers) sets.push_back("readers = " + ListLiteral(*u.readers));
  if (u.writers) sets.push_back("writers = " + ListLiteral(*u.writers));
  if (u.owners) {
    if (u.owners->empty()) return InvalidArgument(fmt::format("dataset {} must keep at least one owner", name.ToString()));
    sets.push_back("owners = " + ListLiteral(*u.owners));
  }
  if (u.partition_expiration_days) {
    sets.push_back(*u.partition_expiration_days > 0
                       ? fmt::format("partition_expiration_days = {}", *u.partition_expiration_days)
                       : std::string("partition_expiration_days = NULL"));
  }
  if (u.time_travel_hours) {
    BF_RETURN_IF_ERROR(ValidateTimeTravelHours(*u.time_travel_hours));
    sets.push_back(fmt::format("time_travel_hours = {}", *u.time_travel_hours));
  }
  if (sets.empty()) return InvalidArgument("nothing to update");
  std::string sql = fmt::format("UPDATE {} SET {} WHERE name = {}", Bf(name.project, "datasets"), Join(sets, ", "), S(name.dataset));
  return InTransaction(name.project, [&]() -> Status {
    BF_RETURN_IF_ERROR(conn_.Exec(sql));
    return AuditChange(name.project, "update dataset", name.ToString(), Join(sets, ", "), 0);
  });
}

Status Warehouse::CheckAccess(const DatasetName& dataset, Role role) {
  BF_ASSIGN_OR_RETURN(DatasetInfo ds, GetDataset(dataset));
  Role have = Role::kNone;
  if (Contains(ds.options.readers, principal_)) have = std::max(have, Role::kReader);
  if (Contains(ds.options.writers, principal_)) have = std::max(have, Role::kWriter);
  if (Contains(ds.options.owners, principal_)) have = std::max(have, Role::kOwner);
  if (!ds.options.restricted) {
    // Unrestricted data is readable by everyone; warehouse-wide roles apply to it.
    have = std::max({have, Role::kReader, config_.RoleOf(principal_)});
  }
  if (have >= role) return Status::Ok();
  const char* verb = role == Role::kReader ? "read" : role == Role::kWriter ? "write to" : "administer";
  Status why = PermissionDenied(fmt::format(
      "principal '{}' may not {} {}dataset {} (needs role '{}'; readers: [{}], writers: [{}], owners: [{}])",
      principal_, verb, ds.options.restricted ? "restricted " : "", dataset.ToString(), RoleName(role),
      Join(ds.options.readers, ", "), Join(ds.options.writers, ", "), Join(ds.options.owners, ", ")));
  if (role == Role::kReader) return why;
  // A refused change is audited: after the rollback when a transaction is open, else now.
  if (!tx_project_.empty()) {
    pending_refusal_ = {dataset.project, why};
    return why;
  }
  return AuditRefusal(dataset.project, "refused write", dataset.ToString(), why);
}

Result<Warehouse::TableRow> Warehouse::FindTable(const TableName& name, std::optional<Timestamp> alive_at) {
  if (!HasProject(name.project)) return NotFound(fmt::format("project {} does not exist", name.project));
  std::string when = alive_at ? fmt::format("created_at <= {0} AND (dropped_at IS NULL OR dropped_at > {0})",
                                            ToMicros(*alive_at))
                              : "dropped_at IS NULL";
  return LoadTable(name, when, alive_at);
}

Result<Warehouse::TableRow> Warehouse::LoadTable(const TableName& name, const std::string& when,
                                                 std::optional<Timestamp> alive_at) {
  BF_ASSIGN_OR_RETURN(QueryResult r, conn_.Query(fmt::format(
      "SELECT id, schema_json, partition_by, partition_kind, cluster_by, query, description, created_at, dropped_at, "
      "encoded "
      "FROM {} WHERE dataset = {} AND name = {} AND {} ORDER BY id DESC LIMIT 1",
      Bf(name.project, "tables"), S(name.dataset), S(name.table), when)));
  if (r.rows() == 0) {
    if (!GetDataset(name.Dataset()).ok()) return NotFound(fmt::format("dataset {} does not exist", name.Dataset().ToString()));
    if (alive_at) {
      return NotFound(fmt::format("table {} did not exist at {}", name.ToString(), FormatTimestamp(*alive_at)));
    }
    return NotFound(fmt::format("table {} does not exist", name.ToString()));
  }
  TableRow t;
  t.name = name;
  t.id = r.GetInt64(0, 0);
  BF_ASSIGN_OR_RETURN(t.options.schema, ParseBqSchema(r.GetString(1, 0), name.ToString()));
  t.options.partition_by = r.GetOptional(2, 0).value_or("");
  t.kind = ParsePartitionKind(r.GetString(3, 0));
  t.options.cluster_by = ParseList(r.GetOptional(4, 0));
  t.options.query = r.GetOptional(5, 0).value_or("");
  t.options.description = r.GetOptional(6, 0).value_or("");
  t.created_at = FromMicros(r.GetInt64(7, 0));
  if (!r.IsNull(8, 0)) t.dropped_at = FromMicros(r.GetInt64(8, 0));
  t.encoded = ParseList(r.GetOptional(9, 0));
  return t;
}

Status Warehouse::CreateView(const TableRow& t) {
  // Unqualified names inside the view bind to the view's own catalog, so the file also works
  // when opened directly by the duckdb shell.
  return conn_.Exec(fmt::format(
      "CREATE VIEW {}.{}.{} AS SELECT {} FROM _bf_store.{} WHERE _bf_seg IN "
      "(SELECT id FROM _bf.segments WHERE table_id = {} AND deleted_at IS NULL)",
      Cat(t.name.project), Q(t.name.dataset), Q(t.name.table), t.DecodedColumns(), Q("t" + std::to_string(t.id)),
      t.id));
}

Status Warehouse::CreateTable(const TableName& name, const TableOptions& options) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_RETURN_IF_ERROR(ValidateIdentifier(name.table, "table"));
  if (!HasProject(name.project)) return NotFound(fmt::format("project {} does not exist", name.project));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  if (TableExists(name)) return AlreadyExists(fmt::format("table {} already exists", name.ToString()));
  if (options.schema.fields.empty()) return InvalidArgument(fmt::format("table {} needs a schema", name.ToString()));
  TableRow t;
  t.name = name;
  t.options = options;
  if (!options.partition_by.empty()) {
    const Field* f = options.schema.Find(options.partition_by);
    if (!f) {
      return InvalidArgument(fmt::format("cannot partition {} by '{}': no such top-level column", name.ToString(),
                                         options.partition_by));
    }
    if (f->mode == FieldMode::kRepeated || (f->type != FieldType::kDate && f->type != FieldType::kTimestamp)) {
      return InvalidArgument(fmt::format("cannot partition {} by '{}': it must be a DATE or TIMESTAMP column",
                                         name.ToString(), options.partition_by));
    }
    t.kind = f->type == FieldType::kDate ? PartitionKind::kDate : PartitionKind::kTimestamp;
  }
  for (const auto& c : options.cluster_by) {
    if (!options.schema.Find(c)) {
      return InvalidArgument(fmt::format("cannot cluster {} by '{}': no such top-level column", name.ToString(), c));
    }
  }
  if (options.schema.Find("_bf_seg")) return InvalidArgument("column name _bf_seg is reserved");
  t.encoded = EncodedColumns(options.schema, config_.wide);
  const std::string& p = name.project;
  std::string statement = fmt::format("CREATE TABLE `{}` ({} columns, schema sha256 {}){}{}", name.ToString(),
                                      options.schema.fields.size(), Sha256HexOfParts({SchemaToBqJson(options.schema)}),
                                      options.partition_by.empty() ? "" : " PARTITION BY DATE(" + options.partition_by + ")",
                                      options.cluster_by.empty() ? "" : " CLUSTER BY " + Join(options.cluster_by, ", "));
  return InTransaction(p, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), statement));
    if (!execute) return Status::Ok();
    BF_ASSIGN_OR_RETURN(t.id, NextCounter(p, "table"));
    t.created_at = clock_->Now();
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("CREATE TABLE {} ({}, _bf_seg BIGINT)", t.Store(),
                                              StoredColumnList(options.schema, t.encoded))));
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format(
        "INSERT INTO {} VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, NULL, {})", Bf(p, "tables"), t.id,
        S(name.dataset), S(name.table), S(SchemaToBqJson(options.schema)),
        options.partition_by.empty() ? "NULL" : S(options.partition_by), S(PartitionKindName(t.kind)),
        ListLiteral(options.cluster_by), options.query.empty() ? "NULL" : S(options.query),
        S(options.description), ToMicros(t.created_at), S(principal_), ListLiteral(t.encoded))));
    BF_RETURN_IF_ERROR(CreateView(t));
    return AuditChange(p, "create table", name.ToString(),
                       fmt::format("partition_by={} cluster_by={}", options.partition_by, Join(options.cluster_by, ",")), 0);
  });
}

Result<std::vector<std::string>> Warehouse::ListTables(const DatasetName& name) {
  BF_RETURN_IF_ERROR(GetDataset(name).status());
  BF_ASSIGN_OR_RETURN(QueryResult r, conn_.Query(fmt::format(
      "SELECT name FROM {} WHERE dataset = {} AND dropped_at IS NULL ORDER BY name", Bf(name.project, "tables"),
      S(name.dataset))));
  std::vector<std::string> out;
  for (size_t i = 0; i < r.rows(); ++i) out.push_back(r.GetString(0, i));
  return out;
}

bool Warehouse::TableExists(const TableName& name) { return FindTable(name, std::nullopt).ok(); }

Result<TableInfo> Warehouse::DescribeTable(const TableName& name, std::optional<Timestamp> as_of) {
  if (as_of) BF_RETURN_IF_ERROR(Relation(name, as_of).status());  // access, window and existence
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(name, as_of));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kReader));
  TableInfo info;
  info.name = name;
  info.id = t.id;
  info.options = t.options;
  info.partition_kind = t.kind;
  info.created_at = t.created_at;
  info.dropped_at = t.dropped_at;
  info.encoded_columns = t.encoded;
  BF_ASSIGN_OR_RETURN(info.dataset, GetDataset(name.Dataset()));
  BF_ASSIGN_OR_RETURN(QueryResult r, conn_.Query(fmt::format(
      "SELECT partition, sum(row_count), max(created_at) FROM {} WHERE table_id = {} AND {} "
      "GROUP BY partition ORDER BY partition NULLS FIRST",
      Bf(name.project, "segments"), t.id,
      as_of ? fmt::format("created_at <= {0} AND (deleted_at IS NULL OR deleted_at > {0})", ToMicros(*as_of))
            : std::string("deleted_at IS NULL"))));
  for (size_t i = 0; i < r.rows(); ++i) {
    PartitionInfo p;
    if (!r.IsNull(0, i)) {
      BF_ASSIGN_OR_RETURN(Date d, ParseDate(r.GetString(0, i)));
      p.date = d;
    }
    p.rows = r.GetInt64(1, i);
    p.last_modified = FromMicros(r.GetInt64(2, i));
    if (p.rows == 0) continue;
    info.total_rows += p.rows;
    info.partitions.push_back(p);
  }
  Timestamp window_start = clock_->Now() - std::chrono::hours(WindowHours(info.dataset));
  info.earliest_time_travel = std::max(window_start, t.created_at);
  BF_ASSIGN_OR_RETURN(QueryResult props, conn_.Query(fmt::format("SELECT key, value FROM {} WHERE table_id = {}",
                                                                Bf(name.project, "properties"), t.id)));
  for (size_t i = 0; i < props.rows(); ++i) info.properties[props.GetString(0, i)] = props.GetString(1, i);
  return info;
}

Status Warehouse::DropTable(const TableName& name) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(name, std::nullopt));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  return InTransaction(name.project, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), "DROP TABLE `" + name.ToString() + "`"));
    if (!execute) return Status::Ok();
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("DROP VIEW {}.{}.{}", Cat(name.project), Q(name.dataset), Q(name.table))));
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET dropped_at = {} WHERE id = {}", Bf(name.project, "tables"),
                                              ToMicros(clock_->Now()), t.id)));
    return AuditChange(name.project, "drop table", name.ToString(), "DROP TABLE " + name.ToString(), 0);
  });
}

Result<std::optional<Warehouse::TableRow>> Warehouse::FindDroppedTable(const TableName& name) {
  BF_ASSIGN_OR_RETURN(QueryResult r, conn_.Query(fmt::format(
      "SELECT id, dropped_at FROM {} WHERE dataset = {} AND name = {} AND dropped_at IS NOT NULL "
      "ORDER BY dropped_at DESC, id DESC LIMIT 1",
      Bf(name.project, "tables"), S(name.dataset), S(name.table))));
  if (r.rows() == 0) return std::optional<TableRow>();
  BF_ASSIGN_OR_RETURN(TableRow t, LoadTable(name, fmt::format("id = {}", r.GetInt64(0, 0))));
  return std::optional<TableRow>(t);
}

Status Warehouse::UndropTable(const TableName& name) {
  BF_RETURN_IF_ERROR(RequireWrite());
  if (!HasProject(name.project)) return NotFound(fmt::format("project {} does not exist", name.project));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  if (TableExists(name)) {
    return AlreadyExists(fmt::format("table {} exists; drop or rename it before undropping an older version", name.ToString()));
  }
  BF_ASSIGN_OR_RETURN(auto dropped, FindDroppedTable(name));
  if (!dropped) return NotFound(fmt::format("table {} was never dropped (or its history was purged)", name.ToString()));
  BF_ASSIGN_OR_RETURN(DatasetInfo ds, GetDataset(name.Dataset()));
  Timestamp window_start = clock_->Now() - std::chrono::hours(WindowHours(ds));
  if (*dropped->dropped_at < window_start) {
    return Refused(fmt::format("table {} was dropped at {}, outside the {}h time-travel window (earliest: {})",
                               name.ToString(), FormatTimestamp(*dropped->dropped_at), WindowHours(ds),
                               FormatTimestamp(window_start)));
  }
  return InTransaction(name.project, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), "UNDROP TABLE `" + name.ToString() + "`"));
    if (!execute) return Status::Ok();
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET dropped_at = NULL WHERE id = {}", Bf(name.project, "tables"), dropped->id)));
    BF_RETURN_IF_ERROR(CreateView(*dropped));
    return AuditChange(name.project, "undrop table", name.ToString(), "UNDROP TABLE " + name.ToString(), 0);
  });
}

Status Warehouse::SetTableProperty(const TableName& name, const std::string& key, const std::string& value) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(name, std::nullopt));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  std::string statement = fmt::format("SET PROPERTY {} = {} ON `{}`", key, S(value), name.ToString());
  return InTransaction(name.project, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), statement));
    if (!execute) return Status::Ok();
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("DELETE FROM {} WHERE table_id = {} AND key = {}", Bf(name.project, "properties"), t.id, S(key))));
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("INSERT INTO {} VALUES ({}, {}, {})", Bf(name.project, "properties"), t.id, S(key), S(value))));
    return AuditChange(name.project, "set property", name.ToString(), statement, 0);
  });
}

// --- Data changes ---

Result<WriteStats> Warehouse::InsertRows(const TableRow& t, const std::string& select_sql, RowForm form,
                                         int64_t* write_id_out) {
  const std::string& p = t.name.project;
  BF_ASSIGN_OR_RETURN(int64_t write_id, NextCounter(p, "write"));
  *write_id_out = write_id;
  int64_t lo = write_id << kDayBits, hi = (write_id + 1) << kDayBits;
  std::string seg = fmt::format("{} + COALESCE(CAST(({}) - {} AS BIGINT), {})", lo, t.PartitionExpr(), kDayZero,
                                kNullPartition);
  std::string columns = form == RowForm::kNative && !t.encoded.empty() ? t.EncodingColumns("_bf_src") : "*";
  BF_ASSIGN_OR_RETURN(QueryResult ins, conn_.Query(fmt::format(
      "INSERT INTO {} SELECT {}, {} FROM ({}) AS _bf_src({})", t.Store(), columns, seg, select_sql, t.ColumnNames())));
  WriteStats stats;
  stats.rows_written = ins.RowsChanged();
  BF_RETURN_IF_ERROR(conn_.Exec(fmt::format(
      "INSERT INTO {} SELECT _bf_seg, {}, CASE WHEN (_bf_seg & {}) = {} THEN NULL ELSE {} + CAST(_bf_seg & {} AS INTEGER) END, "
      "count(*), {}, NULL, {} FROM {} WHERE _bf_seg >= {} AND _bf_seg < {} GROUP BY _bf_seg",
      Bf(p, "segments"), t.id, kNullPartition, kNullPartition, kDayZero, kNullPartition, ToMicros(clock_->Now()),
      write_id, t.Store(), lo, hi)));
  BF_ASSIGN_OR_RETURN(QueryResult parts, conn_.Query(fmt::format(
      "SELECT partition FROM {} WHERE write_id = {} AND table_id = {} ORDER BY partition NULLS FIRST",
      Bf(p, "segments"), write_id, t.id)));
  for (size_t i = 0; i < parts.rows(); ++i) {
    if (parts.IsNull(0, i)) {
      stats.partitions.push_back(std::nullopt);
    } else {
      BF_ASSIGN_OR_RETURN(Date d, ParseDate(parts.GetString(0, i)));
      stats.partitions.push_back(d);
    }
  }
  return stats;
}

Result<WriteStats> Warehouse::Append(const TableName& name, const std::string& select_sql, RowForm form) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(name, std::nullopt));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  WriteStats stats;
  std::string statement = fmt::format("INSERT INTO `{}` {}", name.ToString(), select_sql);
  BF_RETURN_IF_ERROR(InTransaction(name.project, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), statement));
    if (!execute) {
      BF_ASSIGN_OR_RETURN(stats.rows_written, conn_.QueryInt(fmt::format("SELECT count(*) FROM ({})", select_sql)));
      return Status::Ok();
    }
    int64_t write_id = 0;
    BF_ASSIGN_OR_RETURN(stats, InsertRows(t, select_sql, form, &write_id));
    return AuditChange(name.project, "append", name.ToString(), statement, stats.rows_written);
  }));
  return stats;
}

Result<WriteStats> Warehouse::ReplacePartition(const TableName& name, Date day, const std::string& select_sql,
                                               RowForm form) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(name, std::nullopt));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  if (t.kind == PartitionKind::kNone) {
    return InvalidArgument(fmt::format("table {} is not partitioned; it has no day partitions", name.ToString()));
  }
  const std::string& p = name.project;
  WriteStats stats;
  std::string statement = fmt::format("REPLACE PARTITION `{}${}` WITH {}", name.ToString(), FormatDateCompact(day), select_sql);
  BF_RETURN_IF_ERROR(InTransaction(p, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), statement));
    if (!execute) {
      BF_ASSIGN_OR_RETURN(stats.rows_written, conn_.QueryInt(fmt::format("SELECT count(*) FROM ({})", select_sql)));
      BF_ASSIGN_OR_RETURN(stats.rows_deleted, conn_.QueryInt(fmt::format(
          "SELECT sum(row_count) FROM {} WHERE table_id = {} AND partition = DATE {} AND deleted_at IS NULL",
          Bf(p, "segments"), t.id, S(FormatDate(day)))));
      return Status::Ok();
    }
    int64_t write_id = 0;
    BF_ASSIGN_OR_RETURN(stats, InsertRows(t, select_sql, form, &write_id));
    for (const auto& d : stats.partitions) {
      if (d != day) {
        return InvalidArgument(fmt::format("replacing partition {} of {}: the new rows include partition {}; "
                                           "nothing was changed",
                                           FormatDate(day), name.ToString(), d ? FormatDate(*d) : "NULL"));
      }
    }
    std::string old = fmt::format("table_id = {} AND partition = DATE {} AND deleted_at IS NULL AND write_id <> {}",
                                  t.id, S(FormatDate(day)), write_id);
    BF_ASSIGN_OR_RETURN(stats.rows_deleted, conn_.QueryInt(fmt::format("SELECT sum(row_count) FROM {} WHERE {}", Bf(p, "segments"), old)));
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET deleted_at = {} WHERE {}", Bf(p, "segments"),
                                              ToMicros(clock_->Now()), old)));
    return AuditChange(p, "replace partition", fmt::format("{}${}", name.ToString(), FormatDateCompact(day)), statement,
                       stats.rows_written);
  }));
  return stats;
}

Result<WriteStats> Warehouse::DeletePartitions(const TableName& name, const std::vector<Date>& days) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(name, std::nullopt));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  const std::string& p = name.project;
  std::vector<std::string> lits;
  for (Date d : days) lits.push_back("DATE " + S(FormatDate(d)));
  WriteStats stats;
  if (lits.empty()) return stats;
  std::vector<std::string> names;
  for (Date d : days) names.push_back(FormatDate(d));
  std::string statement = fmt::format("DELETE PARTITIONS {} OF `{}`", Join(names, ", "), name.ToString());
  BF_RETURN_IF_ERROR(InTransaction(p, [&]() -> Status {
    std::string where = fmt::format("table_id = {} AND partition IN ({}) AND deleted_at IS NULL", t.id, Join(lits, ", "));
    BF_ASSIGN_OR_RETURN(stats.rows_deleted, conn_.QueryInt(fmt::format("SELECT sum(row_count) FROM {} WHERE {}", Bf(p, "segments"), where)));
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), statement));
    if (!execute) return Status::Ok();
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET deleted_at = {} WHERE {}", Bf(p, "segments"), ToMicros(clock_->Now()), where)));
    return AuditChange(p, "delete partitions", name.ToString(), statement, stats.rows_deleted);
  }));
  return stats;
}

Result<WriteStats> Warehouse::DeleteWhere(const TableName& name, const std::string& condition_sql,
                                          const std::string& alias) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(name, std::nullopt));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  const std::string& p = name.project;
  std::string current = fmt::format("{}.{}.{} AS {}", Cat(p), Q(name.dataset), Q(name.table),
                                    Q(alias.empty() ? name.table : alias));
  WriteStats stats;
  std::string statement = fmt::format("DELETE FROM `{}`{} WHERE {}", name.ToString(),
                                      alias.empty() ? "" : " AS " + alias, condition_sql);
  BF_RETURN_IF_ERROR(InTransaction(p, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), statement));
    if (!execute) {
      BF_ASSIGN_OR_RETURN(stats.rows_deleted, conn_.QueryInt(fmt::format("SELECT count(*) FROM {} WHERE ({})", current, condition_sql)));
      return Status::Ok();
    }
    // Rewrite only the partitions that hold matching rows: keep their other rows in new
    // segments and retire the old ones, so the deleted rows stay readable by time travel.
    // NULL partitions compare through a sentinel day, as IN never matches NULL.
    std::string part = fmt::format("COALESCE({}, {})", t.PartitionExpr(), kDayZero);
    std::string affected = fmt::format("SELECT DISTINCT {} AS p FROM {} WHERE ({})", part, current, condition_sql);
    BF_RETURN_IF_ERROR(conn_.Exec("CREATE OR REPLACE TEMP TABLE _bf_affected AS " + affected));
    BF_ASSIGN_OR_RETURN(int64_t n, conn_.QueryInt("SELECT count(*) FROM _bf_affected"));
    if (n > 0) {
      std::string in_affected = fmt::format("{} IN (SELECT p FROM _bf_affected)", part);
      BF_ASSIGN_OR_RETURN(int64_t before, conn_.QueryInt(fmt::format("SELECT count(*) FROM {} WHERE {}", current, in_affected)));
      int64_t write_id = 0;
      BF_ASSIGN_OR_RETURN(stats, InsertRows(t, fmt::format("SELECT * FROM {} WHERE {} AND ({}) IS NOT TRUE", current,
                                                           in_affected, condition_sql), RowForm::kNative, &write_id));
      stats.rows_deleted = before - stats.rows_written;
      BF_RETURN_IF_ERROR(conn_.Exec(fmt::format(
          "UPDATE {} SET deleted_at = {} WHERE table_id = {} AND deleted_at IS NULL AND write_id <> {} AND "
          "COALESCE(partition, {}) IN (SELECT p FROM _bf_affected)",
          Bf(p, "segments"), ToMicros(clock_->Now()), t.id, write_id, kDayZero)));
    }
    (void)conn_.Exec("DROP TABLE IF EXISTS _bf_affected");
    return AuditChange(p, "delete", name.ToString(), statement, stats.rows_deleted);
  }));
  stats.rows_written = 0;
  return stats;
}

Result<WriteStats> Warehouse::RetractWrites(const TableName& name, int64_t after_write) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(name, std::nullopt));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  const std::string& p = name.project;
  WriteStats stats;
  std::string statement = fmt::format("RETRACT WRITES AFTER {} FROM `{}`", after_write, name.ToString());
  BF_RETURN_IF_ERROR(InTransaction(p, [&]() -> Status {
    std::string where = fmt::format("table_id = {} AND write_id > {} AND deleted_at IS NULL", t.id, after_write);
    BF_ASSIGN_OR_RETURN(stats.rows_deleted, conn_.QueryInt(fmt::format("SELECT sum(row_count) FROM {} WHERE {}", Bf(p, "segments"), where)));
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), statement));
    if (!execute || stats.rows_deleted == 0) return Status::Ok();
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET deleted_at = {} WHERE {}", Bf(p, "segments"), ToMicros(clock_->Now()), where)));
    return AuditChange(p, "retract writes", name.ToString(), statement, stats.rows_deleted);
  }));
  return stats;
}

Result<int64_t> Warehouse::LastCounter(const std::string& project, const std::string& counter) {
  if (!HasProject(project)) return NotFound(fmt::format("project {} does not exist", project));
  return conn_.QueryInt(fmt::format("SELECT COALESCE(max(value), 0) FROM {} WHERE name = {}", Bf(project, "counters"), S(counter)));
}

// --- Load ledger ---

namespace {

constexpr const char* kLoadsColumns =
    "sha256 VARCHAR, size BIGINT, path VARCHAR, run_id VARCHAR, loaded_at BIGINT, write_id BIGINT";

}  // namespace

Result<std::vector<LoadRecord>> Warehouse::ListLoads(const std::string& project) {
  if (!HasProject(project)) return NotFound(fmt::format("project {} does not exist", project));
  // Projects created before the ledger existed have no table until their first load.
  BF_ASSIGN_OR_RETURN(int64_t exists, conn_.QueryInt(fmt::format(
      "SELECT count(*) FROM duckdb_tables() WHERE database_name = {} AND schema_name = '_bf' "
      "AND table_name = 'loads'", S(project))));
  std::vector<LoadRecord> out;
  if (exists == 0) return out;
  BF_ASSIGN_OR_RETURN(QueryResult r, conn_.Query(fmt::format(
      "SELECT sha256, size, path, run_id, loaded_at, write_id FROM {} ORDER BY write_id, path",
      Bf(project, "loads"))));
  for (size_t i = 0; i < r.rows(); ++i) {
    LoadRecord l;
    l.sha256 = r.GetString(0, i);
    l.size = r.GetInt64(1, i);
    l.path = r.GetString(2, i);
    l.run_id = r.GetString(3, i);
    l.loaded_at = FromMicros(r.GetInt64(4, i));
    l.write_id = r.GetInt64(5, i);
    out.push_back(std::move(l));
  }
  return out;
}

Status Warehouse::RecordLoads(const std::string& project, const std::vector<LoadRecord>& loads) {
  BF_RETURN_IF_ERROR(RequireWrite());
  if (!HasProject(project)) return NotFound(fmt::format("project {} does not exist", project));
  if (recording_ || loads.empty()) return Status::Ok();
  return InTransaction(project, [&]() -> Status {
    BF_RETURN_IF_ERROR(conn_.Exec(
        fmt::format("CREATE TABLE IF NOT EXISTS {}({})", Bf(project, "loads"), kLoadsColumns)));
    BF_ASSIGN_OR_RETURN(int64_t write_id, NextCounter(project, "write"));
    for (const auto& l : loads) {
      BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("INSERT INTO {} VALUES ({}, {}, {}, {}, {}, {})",
                                                Bf(project, "loads"), S(l.sha256), l.size, S(l.path),
                                                S(l.run_id), ToMicros(clock_->Now()), write_id)));
    }
    return Status::Ok();
  });
}

Result<int64_t> Warehouse::RetractLoads(const std::string& project, int64_t after_write) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(std::vector<LoadRecord> loads, ListLoads(project));
  int64_t n = 0;
  for (const auto& l : loads) n += l.write_id > after_write;
  if (n == 0 || recording_) return n;
  BF_RETURN_IF_ERROR(InTransaction(project, [&]() -> Status {
    return conn_.Exec(fmt::format("DELETE FROM {} WHERE write_id > {}", Bf(project, "loads"), after_write));
  }));
  return n;
}

// --- Reading ---

std::string Warehouse::TimestampLiteral(Timestamp ts) {
  return "TIMESTAMPTZ " + S(FormatTimestamp(ts));
}

Result<std::string> Warehouse::Relation(const TableName& name, std::optional<Timestamp> as_of) {
  if (!HasProject(name.project)) return NotFound(fmt::format("project {} does not exist", name.project));
  BF_ASSIGN_OR_RETURN(DatasetInfo ds, GetDataset(name.Dataset()));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kReader));
  if (!as_of) {
    BF_RETURN_IF_ERROR(FindTable(name, std::nullopt).status());
    return fmt::format("{}.{}.{}", Cat(name.project), Q(name.dataset), Q(name.table));
  }
  Timestamp now = clock_->Now();
  if (*as_of > now) {
    return InvalidArgument(fmt::format("cannot read {} as of {}: that is in the future (now is {})", name.ToString(),
                                       FormatTimestamp(*as_of), FormatTimestamp(now)));
  }
  Timestamp window_start = now - std::chrono::hours(WindowHours(ds));
  if (*as_of < window_start) {
    return Refused(fmt::format("cannot read {} as of {}: outside the {}h time-travel window of dataset {}; the "
                               "earliest readable time is {}",
                               name.ToString(), FormatTimestamp(*as_of), WindowHours(ds), ds.name.ToString(),
                               FormatTimestamp(window_start)));
  }
  auto t = FindTable(name, *as_of);
  if (!t.ok()) return t.status();
  int64_t at = ToMicros(*as_of);
  return fmt::format(
      "(SELECT {} FROM {} WHERE _bf_seg IN (SELECT id FROM {} WHERE table_id = {} AND created_at <= {} "
      "AND (deleted_at IS NULL OR deleted_at > {})))",
      t->DecodedColumns(), t->Store(), Bf(name.project, "segments"), t->id, at, at);
}

Result<Warehouse::CopySource> Warehouse::CopyRelation(const TableName& source, const TableName& target,
                                                      std::optional<Timestamp> as_of) {
  BF_ASSIGN_OR_RETURN(std::string view, Relation(source, as_of));  // access, window, existence
  BF_ASSIGN_OR_RETURN(TableRow s, FindTable(source, as_of));
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(target, std::nullopt));
  if (s.encoded.empty() || s.encoded != t.encoded || !s.options.schema.SameShape(t.options.schema)) {
    return CopySource{view, RowForm::kNative};
  }
  std::string alive = as_of ? fmt::format("created_at <= {0} AND (deleted_at IS NULL OR deleted_at > {0})",
                                          ToMicros(*as_of))
                            : std::string("deleted_at IS NULL");
  return CopySource{fmt::format("(SELECT * EXCLUDE (_bf_seg) FROM {} WHERE _bf_seg IN (SELECT id FROM {} WHERE "
                                "table_id = {} AND {}))",
                                s.Store(), Bf(source.project, "segments"), s.id, alive),
                    RowForm::kStored};
}

Result<QueryResult> Warehouse::Query(const std::string& duckdb_sql) { return conn_.Query(duckdb_sql); }

// --- Maintenance and audit ---

Result<MaintainReport> Warehouse::Maintain() {
  BF_RETURN_IF_ERROR(RequireWrite());
  // Maintenance stands in for what BigQuery does by itself, so it covers every dataset,
  // restricted ones included, and needs a warehouse-wide role rather than dataset roles.
  BF_RETURN_IF_ERROR(RequireWarehouseRole(Role::kWriter, "run maintenance"));
  MaintainReport report;
  Timestamp now = clock_->Now();
  Date today = DateOf(now);
  for (const auto& p : projects_) {
    BF_ASSIGN_OR_RETURN(auto datasets, ListDatasets(p));
    for (const auto& ds : datasets) {
      int64_t window_start = ToMicros(now - std::chrono::hours(WindowHours(ds)));
      BF_RETURN_IF_ERROR(InTransaction(p, [&]() -> Status {
        BF_ASSIGN_OR_RETURN(QueryResult tables, conn_.Query(fmt::format(
            "SELECT id, name, dropped_at FROM {} WHERE dataset = {} ORDER BY id", Bf(p, "tables"), S(ds.name.dataset))));
        for (size_t i = 0; i < tables.rows(); ++i) {
          int64_t id = tables.GetInt64(0, i);
          std::string target = ds.name.ToString() + "." + tables.GetString(1, i);
          std::string store = Q(p) + "._bf_store." + Q("t" + std::to_string(id));
          // 1. Expire partitions (their data stays readable by time travel until the window closes).
          if (ds.options.partition_expiration_days && tables.IsNull(2, i)) {
            // The newest partition that has expired: PartitionExpiresAt(cutoff) <= now.
            Date cutoff = AddDays(today, -*ds.options.partition_expiration_days);
            BF_ASSIGN_OR_RETURN(QueryResult exp, conn_.Query(fmt::format(
                "SELECT partition, sum(row_count) FROM {} WHERE table_id = {} AND deleted_at IS NULL AND partition "
                "<= DATE {} GROUP BY partition ORDER BY partition", Bf(p, "segments"), id, S(FormatDate(cutoff)))));
            for (size_t j = 0; j < exp.rows(); ++j) {
              BF_ASSIGN_OR_RETURN(Date d, ParseDate(exp.GetString(0, j)));
              report.items.push_back({"expired partition", target, d, exp.GetInt64(1, j)});
              BF_RETURN_IF_ERROR(AuditChange(p, "expire partition", target + "$" + FormatDateCompact(d),
                                             fmt::format("partition expiration {} days", *ds.options.partition_expiration_days),
                                             exp.GetInt64(1, j)));
            }
            BF_RETURN_IF_ERROR(conn_.Exec(fmt::format(
                "UPDATE {} SET deleted_at = {} WHERE table_id = {} AND deleted_at IS NULL AND partition <= DATE {}",
                Bf(p, "segments"), ToMicros(now), id, S(FormatDate(cutoff)))));
          }
          // 2. Purge a dropped table whose window has closed.
          if (!tables.IsNull(2, i) && tables.GetInt64(2, i) <= window_start) {
            BF_ASSIGN_OR_RETURN(int64_t rows, conn_.QueryInt(fmt::format("SELECT count(*) FROM {}", store)));
            BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("DROP TABLE {}", store)));
            BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("DELETE FROM {} WHERE table_id = {}", Bf(p, "segments"), id)));
            BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("DELETE FROM {} WHERE id = {}", Bf(p, "tables"), id)));
            report.items.push_back({"purged dropped table", target, std::nullopt, rows});
            BF_RETURN_IF_ERROR(AuditChange(p, "purge dropped table", target, "", rows));
            continue;
          }
          // 3. Purge history that time travel can no longer reach.
          std::string old = fmt::format("table_id = {} AND deleted_at IS NOT NULL AND deleted_at <= {}", id, window_start);
          BF_ASSIGN_OR_RETURN(int64_t rows, conn_.QueryInt(fmt::format("SELECT sum(row_count) FROM {} WHERE {}", Bf(p, "segments"), old)));
          BF_ASSIGN_OR_RETURN(int64_t segs, conn_.QueryInt(fmt::format("SELECT count(*) FROM {} WHERE {}", Bf(p, "segments"), old)));
          if (segs > 0) {
            BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("DELETE FROM {} WHERE _bf_seg IN (SELECT id FROM {} WHERE {})", store,
                                                      Bf(p, "segments"), old)));
            BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("DELETE FROM {} WHERE {}", Bf(p, "segments"), old)));
            report.items.push_back({"purged history", target, std::nullopt, rows});
            BF_RETURN_IF_ERROR(AuditChange(p, "purge history", target, "", rows));
          }
        }
        return Status::Ok();
      }));
    }
  }
  return report;
}

Result<std::vector<AuditEntry>> Warehouse::Audit(const std::string& project) {
  std::vector<AuditEntry> out;
  for (const auto& p : projects_) {
    if (!project.empty() && p != project) continue;
    BF_ASSIGN_OR_RETURN(QueryResult r, conn_.Query(fmt::format(
        "SELECT seq, at_us, principal, action, target, statement, rows, outcome FROM {} ORDER BY seq", Bf(p, "audit"))));
    for (size_t i = 0; i < r.rows(); ++i) {
      out.push_back({p, r.GetInt64(0, i), FromMicros(r.GetInt64(1, i)), r.GetString(2, i), r.GetString(3, i),
                     r.GetString(4, i), r.GetString(5, i), r.GetInt64(6, i), r.GetString(7, i)});
    }
  }
  if (!project.empty() && !HasProject(project)) return NotFound(fmt::format("project {} does not exist", project));
  std::stable_sort(out.begin(), out.end(), [](const AuditEntry& a, const AuditEntry& b) { return a.at < b.at; });
  return out;
}

}  // namespace backfill
