#include "warehouse/warehouse.h"

#include "core/fault.h"
#include "core/text.h"
#include "core/wide.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "warehouse/warehouse_internal.h"

namespace backfill {
namespace fs = std::filesystem;
using namespace warehouse_internal;

const char* PartitionKindName(PartitionKind kind) {
  switch (kind) {
    case PartitionKind::kNone:
      return "none";
    case PartitionKind::kDate:
      return "date";
    case PartitionKind::kTimestamp:
      return "timestamp";
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

Warehouse::~Warehouse() {
  if (!tx_project_.empty()) (void)conn_.Exec("ROLLBACK");
}

Status Warehouse::Init(const fs::path& dir, const WarehouseConfig& config) {
  BF_RETURN_IF_ERROR(ValidateTimeTravelHours(config.time_travel_hours));
  if (fs::exists(dir / kConfigFile)) {
    return AlreadyExists(
        fmt::format("{} is already a warehouse ({} exists)", dir.string(), kConfigFile));
  }
  std::error_code ec;
  fs::create_directories(dir / "projects", ec);
  if (ec) return IoError(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  // Checked again under the writer lock: of two `init`s started at once, the second must not
  // overwrite the first one's configuration (and the roles granted since).
  BF_ASSIGN_OR_RETURN(
      WarehouseLock lock,
      WarehouseLock::Acquire(dir, WarehouseLock::Mode::kExclusive,
                             std::chrono::seconds(config.lock_timeout_seconds), "init"));
  if (fs::exists(dir / kConfigFile)) {
    return AlreadyExists(
        fmt::format("{} is already a warehouse ({} exists)", dir.string(), kConfigFile));
  }
  return SaveConfig(config, dir / kConfigFile);
}

Result<std::unique_ptr<Warehouse>> Warehouse::Open(const fs::path& dir,
                                                   const OpenOptions& options) {
  if (!options.clock) return Internal("Warehouse::Open needs a clock");
  if (!fs::exists(dir / kConfigFile)) {
    return NotFound(fmt::format("no warehouse at {} (run `backfill init --warehouse {}`)",
                                dir.string(), dir.string()));
  }
  std::unique_ptr<Warehouse> w(new Warehouse());
  w->dir_ = dir;
  w->principal_ = options.principal;
  w->clock_ = options.clock;
  w->write_ = options.write;
  w->migrating_ = options.migrate;
  BF_ASSIGN_OR_RETURN(w->config_, LoadConfig(dir / kConfigFile));
  auto timeout =
      options.lock_timeout.value_or(std::chrono::seconds(w->config_.lock_timeout_seconds));
  BF_ASSIGN_OR_RETURN(
      w->lock_,
      WarehouseLock::Acquire(
          dir, options.write ? WarehouseLock::Mode::kExclusive : WarehouseLock::Mode::kShared,
          timeout, options.command));
  // Read again under the lock: a writer that held it meanwhile may have changed the roles, and
  // SetPrincipalRole writes back what was read.
  BF_ASSIGN_OR_RETURN(w->config_, LoadConfig(dir / kConfigFile));
  BF_ASSIGN_OR_RETURN(w->db_, Database::Open(""));
  BF_ASSIGN_OR_RETURN(w->conn_, w->db_.Connect());
  BF_RETURN_IF_ERROR(w->conn_.Exec("SET TimeZone='UTC'"));
  // Every statement `sql` translates from BigQuery runs here; TO_JSON_STRING needs this.
  BF_RETURN_IF_ERROR(RegisterToJsonString(w->conn_.raw()));
  // Past this many live segments DuckDB would pass only a min/max range of segment ids to the
  // scan, so reads of tables with many partitions would also scan their older versions.
  BF_RETURN_IF_ERROR(w->conn_.Exec("SET dynamic_or_filter_threshold = 100000"));
  // No checkpoint merges partly filled row groups: each transaction that appends to a table
  // leaves one, and DuckDB's vacuum rewrites up to three row groups' rows whenever neighbours
  // fit into fewer. For a wide table that held 1.7 GB for the 5,400 rows of telemetry main it
  // merged, at whatever checkpoint came next: a sink's last COMMIT or a one-row write of any
  // other command (bench/README, `replay`, session 17). Row groups whose rows were all deleted
  // are still dropped; a partly deleted one keeps its space until the rest goes too.
  BF_RETURN_IF_ERROR(w->conn_.Exec("SET max_vacuum_tasks = 0"));
  // The one writer spills inside the warehouse, not into the working directory.
  if (options.write)
    BF_RETURN_IF_ERROR(
        w->conn_.Exec(fmt::format("SET temp_directory = {}", S((dir / ".tmp").string()))));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "projects")) {
    if (e.path().extension() == ".duckdb") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) BF_RETURN_IF_ERROR(w->Attach(n, false));
  return w;
}

Status Warehouse::Attach(const std::string& project, bool create) {
  schemas_.clear();
  fs::path file = ProjectFile(project);
  // Row groups of 2048 rows (DuckDB's default is 122,880) for the writer: DuckDB keeps a
  // transaction's rows in memory until a row group is full, and rewrites the last, partly
  // filled row group of a table at every checkpoint. A row of a wide table holds ~140 kB of
  // encoded text (telemetry main), so with the default a sink run held every row it wrote
  // until COMMIT and each commit into a grown table rewrote up to 122,880 of them (bench/README,
  // `--wide`: 4.1 GB peak and 0.17x the parse limit on 20k records, 1.8 GB and 0.41x with 2048).
  // A new project file gets 64 kB blocks instead of 256 kB: DuckDB gives every column of every
  // row group being written a whole block (and fills a validity block), which with 2048-row row
  // groups was mostly empty memory touched once (the 100k structured sink: 1,309 -> 929 MB peak,
  // 5% faster; bench/README, `replay`, session 12). DuckDB reads a file's block size from the
  // file, so older project files open as they are.
  std::string sql = fmt::format("ATTACH {} AS {}{}", S(file.string()), Q(project),
                                !write_ ? " (READ_ONLY)"
                                        : fmt::format(" (ROW_GROUP_SIZE {}{})", kRowGroupRows,
                                                      create ? ", BLOCK_SIZE 65536" : ""));
  BF_RETURN_IF_ERROR(conn_.Exec(sql).WithContext(
      write_ ? fmt::format("cannot open project {} ({}) for writing, nothing was changed", project,
                           file.string())
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
      COMMIT;)",
                                            fmt::arg("p", p), fmt::arg("format", kStorageFormat)));
    if (!created.ok()) {
      (void)conn_.Exec("ROLLBACK");
      return created;
    }
  }
  if (!create) {
    BF_ASSIGN_OR_RETURN(int format, StorageFormat(project));
    if (format != kStorageFormat) {
      if (format > kStorageFormat) {
        return Refused(
            fmt::format("project {} ({}) has storage format {}, newer than this backfill knows "
                        "({}); use a newer backfill",
                        project, file.string(), format, kStorageFormat));
      }
      if (!migrating_) {
        return Refused(fmt::format(
            "project {} ({}) has storage format {}; this backfill needs format {}. Run `backfill "
            "migrate "
            "--warehouse {}` (it converts every project in place, in one transaction each)",
            project, file.string(), format, kStorageFormat, dir_.string()));
      }
      outdated_.push_back(project);
    }
  }
  if (!Contains(projects_, project)) {
    projects_.push_back(project);
    std::sort(projects_.begin(), projects_.end());
  }
  return Status::Ok();
}

Result<int> Warehouse::StorageFormat(const std::string& project) {
  BF_ASSIGN_OR_RETURN(
      int64_t has_meta,
      conn_.QueryInt(fmt::format("SELECT count(*) FROM duckdb_tables() WHERE database_name = {} "
                                 "AND schema_name = '_bf' AND table_name = 'meta'",
                                 S(project))));
  if (has_meta == 0) return 1;  // before the format was recorded: no wide tables, no meta table
  BF_ASSIGN_OR_RETURN(QueryResult r,
                      conn_.Query(fmt::format("SELECT value FROM {} WHERE key = 'storage_format'",
                                              Bf(project, "meta"))));
  if (r.rows() != 1)
    return Internal(fmt::format("project {}: no storage_format in _bf.meta", project));
  return std::atoi(r.GetString(0, 0).c_str());
}

Result<std::vector<std::string>> Warehouse::Migrate() {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_RETURN_IF_ERROR(RequireWarehouseRole(Role::kOwner, "migrate the warehouse"));
  std::vector<std::string> done;
  for (const std::string& p : outdated_) {
    BF_RETURN_IF_ERROR(InTransaction(p, [&]() -> Status {
      // 1 -> 2: tables record their encoded columns; the format is recorded.
      BF_RETURN_IF_ERROR(
          conn_.Exec(fmt::format("ALTER TABLE {} ADD COLUMN encoded VARCHAR", Bf(p, "tables"))));
      BF_RETURN_IF_ERROR(
          conn_.Exec(fmt::format("CREATE TABLE {}(key VARCHAR, value VARCHAR)", Bf(p, "meta"))));
      BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("INSERT INTO {} VALUES ('storage_format', '{}')",
                                                Bf(p, "meta"), kStorageFormat)));
      done.push_back(fmt::format("project {}: storage format 1 -> {}", p, kStorageFormat));
      // Wide tables (dropped ones too, time travel reads them) move their wide columns into the
      // encoded form; rows keep their segments, so their history is unchanged.
      BF_ASSIGN_OR_RETURN(
          QueryResult tables,
          conn_.Query(fmt::format("SELECT id, dataset, name, dropped_at FROM {} ORDER BY id",
                                  Bf(p, "tables"))));
      for (size_t i = 0; i < tables.rows(); ++i) {
        TableName name{p, tables.GetString(1, i), tables.GetString(2, i)};
        BF_ASSIGN_OR_RETURN(TableRow t,
                            LoadTable(name, fmt::format("id = {}", tables.GetInt64(0, i))));
        t.encoded = EncodedColumns(t.options.schema, config_.wide);
        if (t.encoded.empty()) continue;
        bool live = tables.IsNull(3, i);
        std::string view = fmt::format("{}.{}.{}", Cat(p), Q(name.dataset), Q(name.table));
        if (live) BF_RETURN_IF_ERROR(conn_.Exec("DROP VIEW " + view));
        std::string fresh = Q(p) + "._bf_store." + Q(fmt::format("t{}_wide", t.id));
        BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("CREATE TABLE {} ({}, _bf_seg BIGINT)", fresh,
                                                  StoredColumnList(t.options.schema, t.encoded))));
        BF_RETURN_IF_ERROR(
            conn_.Exec(fmt::format("INSERT INTO {} SELECT {}, _bf_src._bf_seg FROM {} AS _bf_src",
                                   fresh, t.EncodingColumns("_bf_src"), t.Store())));
        BF_RETURN_IF_ERROR(conn_.Exec("DROP TABLE " + t.Store()));
        BF_RETURN_IF_ERROR(conn_.Exec(
            fmt::format("ALTER TABLE {} RENAME TO {}", fresh, Q(fmt::format("t{}", t.id)))));
        BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET encoded = {} WHERE id = {}",
                                                  Bf(p, "tables"), ListLiteral(t.encoded), t.id)));
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
    return PermissionDenied(
        fmt::format("principal '{}' may not {}: it needs the warehouse role '{}' (has '{}'; "
                    "see principals in {})",
                    principal_, what, RoleName(role), RoleName(have), kConfigFile));
  }
  return Status::Ok();
}

Status Warehouse::SetPrincipalRole(const std::string& name, Role role) {
  BF_RETURN_IF_ERROR(RequireWarehouseRole(Role::kOwner, "change principals"));
  WarehouseConfig updated = config_;
  if (role == Role::kNone)
    updated.principals.erase(name);
  else
    updated.principals[name] = role;
  BF_RETURN_IF_ERROR(SaveConfig(updated, dir_ / kConfigFile));
  config_ = std::move(updated);
  return Status::Ok();
}

namespace {
// A refusal the audit log lost must not look audited: the user sees both.
Status NoteUnrecorded(const Status& refusal, const std::string& project, const Status& recorded) {
  if (recorded.ok()) return refusal;
  return Status(
      refusal.code(),
      fmt::format("{} (this refusal could not be recorded in the audit log of project {}: {})",
                  refusal.message(), project, recorded.message()));
}
}  // namespace

Status Warehouse::InTransaction(const std::string& project, const std::function<Status()>& body) {
  BF_RETURN_IF_ERROR(RequireWrite());
  if (!tx_project_.empty()) {
    if (tx_project_ != project) {
      return Internal(fmt::format("one step may write one project only (writing {}, then {})",
                                  tx_project_, project));
    }
    return body();
  }
  BF_RETURN_IF_ERROR(conn_.Exec("BEGIN TRANSACTION"));
  tx_project_ = project;
  Status s = body();
  tx_project_.clear();
  if (!s.ok()) {
    (void)conn_.Exec("ROLLBACK");
    schemas_.clear();
    if (pending_refusal_) {
      auto [refused_project, why] = *pending_refusal_;
      pending_refusal_.reset();
      s = NoteUnrecorded(s, refused_project,
                         RecordRefusal(refused_project, "refused write", refused_project, why));
    }
    return WrapWriteFailure(s, ProjectFile(project));
  }
  Status c = conn_.Exec("COMMIT");
  if (!c.ok()) {
    (void)conn_.Exec("ROLLBACK");
    schemas_.clear();
    return WrapWriteFailure(c, ProjectFile(project));
  }
  CrashPoint("commit " + project);
  return c;
}

Status Warehouse::ReopenProject(const std::string& project) {
  if (!tx_project_.empty()) {
    return Internal(fmt::format("cannot reopen project {} inside a transaction", project));
  }
  if (!HasProject(project)) return NotFound(fmt::format("project {} does not exist", project));
  BF_RETURN_IF_ERROR(conn_.Exec("DETACH " + Q(project)));
  return Attach(project, false);
}

void Warehouse::WriteBackProjectFile(const std::string& project) const {
  const int fd = ::open(ProjectFile(project).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fdatasync(fd);
  ::close(fd);
}

Result<int64_t> Warehouse::NextCounter(const std::string& project, const std::string& counter) {
  BF_ASSIGN_OR_RETURN(int64_t cur,
                      conn_.QueryInt(fmt::format("SELECT max(value) FROM {} WHERE name = {}",
                                                 Bf(project, "counters"), S(counter))));
  int64_t next = cur + 1;
  if (cur == 0) {
    BF_RETURN_IF_ERROR(conn_.Exec(
        fmt::format("INSERT INTO {} VALUES ({}, {})", Bf(project, "counters"), S(counter), next)));
  } else {
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET value = {} WHERE name = {}",
                                              Bf(project, "counters"), next, S(counter))));
  }
  return next;
}

Status Warehouse::AuditChange(const std::string& project, const std::string& action,
                              const std::string& target, const std::string& statement,
                              int64_t rows) {
  BF_ASSIGN_OR_RETURN(int64_t seq, NextCounter(project, "audit"));
  const std::string& text = statement_for_audit_.empty() ? statement : statement_for_audit_;
  return conn_.Exec(fmt::format("INSERT INTO {} VALUES ({}, {}, {}, {}, {}, {}, {}, 'ok')",
                                Bf(project, "audit"), seq, ToMicros(clock_->Now()), S(principal_),
                                S(action), S(target), S(text), rows));
}

Status Warehouse::AuditEvent(const std::string& project, const std::string& action,
                             const std::string& target, const std::string& detail) {
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
    return conn_.Exec(fmt::format("INSERT INTO {} VALUES ({}, {}, {}, {}, {}, {}, 0, {})",
                                  Bf(project, "audit"), seq, ToMicros(clock_->Now()), S(principal_),
                                  S(action), S(target), S(statement_for_audit_),
                                  S("refused: " + why.message())));
  });
}

Status Warehouse::AuditRefusal(const std::string& project, const std::string& action,
                               const std::string& target, const Status& why) {
  return NoteUnrecorded(why, project, RecordRefusal(project, action, target, why));
}

Result<bool> Warehouse::AuthorizeWrite(const DatasetName& dataset, const std::string& statement) {
  BF_ASSIGN_OR_RETURN(DatasetInfo ds, GetDataset(dataset));
  if (recording_) {
    recorded_.push_back(statement);
    std::string name = dataset.ToString();
    if (ds.options.is_protected && !Contains(recorded_protected_, name))
      recorded_protected_.push_back(name);
    if (!Contains(recorded_projects_, dataset.project))
      recorded_projects_.push_back(dataset.project);
    return false;
  }
  if (protected_allowed_) {
    std::string name = dataset.ToString();
    if (ds.options.is_protected && !Contains(protected_written_, name))
      protected_written_.push_back(name);
    return true;
  }
  if (request_) {
    const auto& expected = request_->statements;
    if (request_next_ >= expected.size() || expected[request_next_] != statement) {
      Status why = Refused(fmt::format(
          "request {} does not cover this write (statement {} of the command differs from what was "
          "approved); "
          "nothing was changed. Create and approve a new request.\n  approved: {}\n  now:      {}",
          request_->id, request_next_ + 1,
          request_next_ < expected.size() ? expected[request_next_]
                                          : std::string("(no more statements)"),
          statement));
      pending_refusal_ = {dataset.project, why};
      return why;
    }
    ++request_next_;
    return true;
  }
  if (ds.options.is_protected) {
    Status why =
        Refused(fmt::format("dataset {} is protected: writes need a request approved by a second "
                            "principal. Record it with "
                            "`backfill request create -- <this command>`, have a reviewer run "
                            "`backfill request approve ID --as "
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
    return Refused(fmt::format("request {}: {} of {} approved statements ran", request_->id,
                               request_next_, request_->statements.size()));
  }
  return Status::Ok();
}

// --- Catalog ---

std::vector<std::string> Warehouse::ListProjects() const { return projects_; }

bool Warehouse::HasProject(const std::string& project) const {
  return Contains(projects_, project);
}

Status Warehouse::CreateProject(const std::string& project) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_RETURN_IF_ERROR(ValidateProjectName(project));
  BF_RETURN_IF_ERROR(RequireWarehouseRole(Role::kWriter, "create projects"));
  if (HasProject(project)) return AlreadyExists(fmt::format("project {} already exists", project));
  BF_RETURN_IF_ERROR(Attach(project, true));
  return InTransaction(project,
                       [&] { return AuditChange(project, "create project", project, "", 0); });
}

int Warehouse::WindowHours(const DatasetInfo& ds) const {
  return ds.options.time_travel_hours.value_or(config_.time_travel_hours);
}

Result<std::vector<DatasetInfo>> Warehouse::ReadDatasets(const std::string& project,
                                                         const std::string& only) {
  if (!HasProject(project)) return NotFound(fmt::format("project {} does not exist", project));
  BF_ASSIGN_OR_RETURN(QueryResult r,
                      conn_.Query(fmt::format(
                          "SELECT name, restricted, protected, readers, writers, owners, "
                          "partition_expiration_days, "
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
  if (!HasProject(name.project))
    return NotFound(fmt::format("project {} does not exist", name.project));
  BF_RETURN_IF_ERROR(RequireWarehouseRole(Role::kWriter, "create datasets"));
  int hours = options.time_travel_hours.value_or(config_.time_travel_hours);
  BF_RETURN_IF_ERROR(ValidateTimeTravelHours(hours));
  if (options.partition_expiration_days && *options.partition_expiration_days <= 0) {
    return InvalidArgument("partition expiration must be a positive number of days");
  }
  if (GetDataset(name).ok())
    return AlreadyExists(fmt::format("dataset {} already exists", name.ToString()));
  std::vector<std::string> owners = options.owners;
  // The creator owns what it creates, so a restricted dataset is never unreachable.
  if (!Contains(owners, principal_)) owners.push_back(principal_);
  return InTransaction(name.project, [&]() -> Status {
    BF_RETURN_IF_ERROR(
        conn_.Exec(fmt::format("CREATE SCHEMA {}.{}", Cat(name.project), Q(name.dataset))));
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format(
        "INSERT INTO {} VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
        Bf(name.project, "datasets"), S(name.dataset), options.restricted, options.is_protected,
        ListLiteral(options.readers), ListLiteral(options.writers), ListLiteral(owners),
        options.partition_expiration_days ? std::to_string(*options.partition_expiration_days)
                                          : "NULL",
        hours, ToMicros(clock_->Now()), S(principal_))));
    return AuditChange(
        name.project, "create dataset", name.ToString(),
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
    if (u.owners->empty())
      return InvalidArgument(
          fmt::format("dataset {} must keep at least one owner", name.ToString()));
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
  std::string sql = fmt::format("UPDATE {} SET {} WHERE name = {}", Bf(name.project, "datasets"),
                                Join(sets, ", "), S(name.dataset));
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
  const char* verb = role == Role::kReader   ? "read"
                     : role == Role::kWriter ? "write to"
                                             : "administer";
  Status why = PermissionDenied(
      fmt::format("principal '{}' may not {} {}dataset {} (needs role '{}'; readers: [{}], "
                  "writers: [{}], owners: [{}])",
                  principal_, verb, ds.options.restricted ? "restricted " : "", dataset.ToString(),
                  RoleName(role), Join(ds.options.readers, ", "), Join(ds.options.writers, ", "),
                  Join(ds.options.owners, ", ")));
  if (role == Role::kReader) return why;
  // A refused change is audited: after the rollback when a transaction is open, else now.
  if (!tx_project_.empty()) {
    pending_refusal_ = {dataset.project, why};
    return why;
  }
  return AuditRefusal(dataset.project, "refused write", dataset.ToString(), why);
}

Result<QueryResult> Warehouse::Query(const std::string& duckdb_sql) {
  return conn_.Query(duckdb_sql);
}

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
        BF_ASSIGN_OR_RETURN(
            QueryResult tables,
            conn_.Query(
                fmt::format("SELECT id, name, dropped_at FROM {} WHERE dataset = {} ORDER BY id",
                            Bf(p, "tables"), S(ds.name.dataset))));
        for (size_t i = 0; i < tables.rows(); ++i) {
          int64_t id = tables.GetInt64(0, i);
          std::string target = ds.name.ToString() + "." + tables.GetString(1, i);
          std::string store = Q(p) + "._bf_store." + Q("t" + std::to_string(id));
          // 1. Expire partitions (their data stays readable by time travel until the window
          // closes).
          if (ds.options.partition_expiration_days && tables.IsNull(2, i)) {
            // The newest partition that has expired: PartitionExpiresAt(cutoff) <= now.
            Date cutoff = AddDays(today, -*ds.options.partition_expiration_days);
            BF_ASSIGN_OR_RETURN(
                QueryResult exp,
                conn_.Query(fmt::format("SELECT partition, sum(row_count) FROM {} WHERE table_id = "
                                        "{} AND deleted_at IS NULL AND partition "
                                        "<= DATE {} GROUP BY partition ORDER BY partition",
                                        Bf(p, "segments"), id, S(FormatDate(cutoff)))));
            for (size_t j = 0; j < exp.rows(); ++j) {
              BF_ASSIGN_OR_RETURN(Date d, ParseDate(exp.GetString(0, j)));
              report.items.push_back({"expired partition", target, d, exp.GetInt64(1, j)});
              BF_RETURN_IF_ERROR(AuditChange(p, "expire partition",
                                             target + "$" + FormatDateCompact(d),
                                             fmt::format("partition expiration {} days",
                                                         *ds.options.partition_expiration_days),
                                             exp.GetInt64(1, j)));
            }
            BF_RETURN_IF_ERROR(conn_.Exec(
                fmt::format("UPDATE {} SET deleted_at = {} WHERE table_id = {} AND deleted_at IS "
                            "NULL AND partition <= DATE {}",
                            Bf(p, "segments"), ToMicros(now), id, S(FormatDate(cutoff)))));
          }
          // 2. Purge a dropped table whose window has closed.
          if (!tables.IsNull(2, i) && tables.GetInt64(2, i) <= window_start) {
            BF_ASSIGN_OR_RETURN(int64_t rows,
                                conn_.QueryInt(fmt::format("SELECT count(*) FROM {}", store)));
            BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("DROP TABLE {}", store)));
            BF_RETURN_IF_ERROR(conn_.Exec(
                fmt::format("DELETE FROM {} WHERE table_id = {}", Bf(p, "segments"), id)));
            BF_RETURN_IF_ERROR(
                conn_.Exec(fmt::format("DELETE FROM {} WHERE id = {}", Bf(p, "tables"), id)));
            report.items.push_back({"purged dropped table", target, std::nullopt, rows});
            BF_RETURN_IF_ERROR(AuditChange(p, "purge dropped table", target, "", rows));
            continue;
          }
          // 3. Purge history that time travel can no longer reach.
          std::string old = fmt::format(
              "table_id = {} AND deleted_at IS NOT NULL AND deleted_at <= {}", id, window_start);
          BF_ASSIGN_OR_RETURN(int64_t rows,
                              conn_.QueryInt(fmt::format("SELECT sum(row_count) FROM {} WHERE {}",
                                                         Bf(p, "segments"), old)));
          BF_ASSIGN_OR_RETURN(int64_t segs,
                              conn_.QueryInt(fmt::format("SELECT count(*) FROM {} WHERE {}",
                                                         Bf(p, "segments"), old)));
          if (segs > 0) {
            BF_RETURN_IF_ERROR(conn_.Exec(
                fmt::format("DELETE FROM {} WHERE _bf_seg IN (SELECT id FROM {} WHERE {})", store,
                            Bf(p, "segments"), old)));
            BF_RETURN_IF_ERROR(
                conn_.Exec(fmt::format("DELETE FROM {} WHERE {}", Bf(p, "segments"), old)));
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
    BF_ASSIGN_OR_RETURN(QueryResult r,
                        conn_.Query(fmt::format("SELECT seq, at_us, principal, action, target, "
                                                "statement, rows, outcome FROM {} ORDER BY seq",
                                                Bf(p, "audit"))));
    for (size_t i = 0; i < r.rows(); ++i) {
      out.push_back({p, r.GetInt64(0, i), FromMicros(r.GetInt64(1, i)), r.GetString(2, i),
                     r.GetString(3, i), r.GetString(4, i), r.GetString(5, i), r.GetInt64(6, i),
                     r.GetString(7, i)});
    }
  }
  if (!project.empty() && !HasProject(project))
    return NotFound(fmt::format("project {} does not exist", project));
  std::stable_sort(out.begin(), out.end(),
                   [](const AuditEntry& a, const AuditEntry& b) { return a.at < b.at; });
  return out;
}

}  // namespace backfill
