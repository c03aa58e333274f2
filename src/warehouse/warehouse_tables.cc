// The Warehouse's tables: their catalog rows, views and time travel, and every write to them
// (append, replace a partition, delete, retract), each as segments stamped with its write id.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/fault.h"
#include "core/sha256.h"
#include "core/text.h"
#include "core/wide.h"
#include "warehouse/warehouse.h"
#include "warehouse/warehouse_internal.h"

namespace backfill {
namespace fs = std::filesystem;
using namespace warehouse_internal;

Result<Warehouse::TableRow> Warehouse::FindTable(const TableName& name,
                                                 std::optional<Timestamp> alive_at) {
  if (!HasProject(name.project))
    return NotFound(fmt::format("project {} does not exist", name.project));
  std::string when =
      alive_at ? fmt::format("created_at <= {0} AND (dropped_at IS NULL OR dropped_at > {0})",
                             ToMicros(*alive_at))
               : "dropped_at IS NULL";
  return LoadTable(name, when, alive_at);
}

Result<Schema> Warehouse::TableSchema(const std::string& project, int64_t id,
                                      const std::string& origin) {
  auto key = std::make_pair(project, id);
  if (auto it = schemas_.find(key); it != schemas_.end()) return it->second;
  BF_ASSIGN_OR_RETURN(std::optional<std::string> json,
                      conn_.QueryScalar(fmt::format("SELECT schema_json FROM {} WHERE id = {}",
                                                    Bf(project, "tables"), id)));
  if (!json) return Internal(fmt::format("{}: no catalog row {}", origin, id));
  BF_ASSIGN_OR_RETURN(Schema schema, ParseBqSchema(*json, origin));
  if (schemas_.size() >= 64) schemas_.clear();  // a bound, rarely reached
  schemas_.emplace(std::move(key), schema);
  return schema;
}

Result<Warehouse::TableRow> Warehouse::LoadTable(const TableName& name, const std::string& when,
                                                 std::optional<Timestamp> alive_at) {
  BF_ASSIGN_OR_RETURN(
      QueryResult r, conn_.Query(fmt::format(
                         "SELECT id, partition_by, partition_kind, cluster_by, query, "
                         "description, created_at, dropped_at, "
                         "encoded "
                         "FROM {} WHERE dataset = {} AND name = {} AND {} ORDER BY id DESC LIMIT 1",
                         Bf(name.project, "tables"), S(name.dataset), S(name.table), when)));
  if (r.rows() == 0) {
    if (!GetDataset(name.Dataset()).ok())
      return NotFound(fmt::format("dataset {} does not exist", name.Dataset().ToString()));
    if (alive_at) {
      return NotFound(
          fmt::format("table {} did not exist at {}", name.ToString(), FormatTimestamp(*alive_at)));
    }
    return NotFound(fmt::format("table {} does not exist", name.ToString()));
  }
  TableRow t;
  t.name = name;
  t.id = r.GetInt64(0, 0);
  BF_ASSIGN_OR_RETURN(t.options.schema, TableSchema(name.project, t.id, name.ToString()));
  t.options.partition_by = r.GetOptional(1, 0).value_or("");
  t.kind = ParsePartitionKind(r.GetString(2, 0));
  t.options.cluster_by = ParseList(r.GetOptional(3, 0));
  t.options.query = r.GetOptional(4, 0).value_or("");
  t.options.description = r.GetOptional(5, 0).value_or("");
  t.created_at = FromMicros(r.GetInt64(6, 0));
  if (!r.IsNull(7, 0)) t.dropped_at = FromMicros(r.GetInt64(7, 0));
  t.encoded = ParseList(r.GetOptional(8, 0));
  return t;
}

Status Warehouse::CreateView(const TableRow& t) {
  // Unqualified names inside the view bind to the view's own catalog, so the file also works
  // when opened directly by the duckdb shell.
  return conn_.Exec(
      fmt::format("CREATE VIEW {}.{}.{} AS SELECT {} FROM _bf_store.{} WHERE _bf_seg IN "
                  "(SELECT id FROM _bf.segments WHERE table_id = {} AND deleted_at IS NULL)",
                  Cat(t.name.project), Q(t.name.dataset), Q(t.name.table), t.DecodedColumns(),
                  Q("t" + std::to_string(t.id)), t.id));
}

Status Warehouse::CreateTable(const TableName& name, const TableOptions& options) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_RETURN_IF_ERROR(ValidateIdentifier(name.table, "table"));
  if (!HasProject(name.project))
    return NotFound(fmt::format("project {} does not exist", name.project));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  if (TableExists(name))
    return AlreadyExists(fmt::format("table {} already exists", name.ToString()));
  if (options.schema.fields.empty())
    return InvalidArgument(fmt::format("table {} needs a schema", name.ToString()));
  TableRow t;
  t.name = name;
  t.options = options;
  if (!options.partition_by.empty()) {
    const Field* f = options.schema.Find(options.partition_by);
    if (!f) {
      return InvalidArgument(fmt::format("cannot partition {} by '{}': no such top-level column",
                                         name.ToString(), options.partition_by));
    }
    if (f->mode == FieldMode::kRepeated ||
        (f->type != FieldType::kDate && f->type != FieldType::kTimestamp)) {
      return InvalidArgument(
          fmt::format("cannot partition {} by '{}': it must be a DATE or TIMESTAMP column",
                      name.ToString(), options.partition_by));
    }
    t.kind = f->type == FieldType::kDate ? PartitionKind::kDate : PartitionKind::kTimestamp;
  }
  for (const auto& c : options.cluster_by) {
    if (!options.schema.Find(c)) {
      return InvalidArgument(
          fmt::format("cannot cluster {} by '{}': no such top-level column", name.ToString(), c));
    }
  }
  if (options.schema.Find("_bf_seg")) return InvalidArgument("column name _bf_seg is reserved");
  t.encoded = EncodedColumns(options.schema, config_.wide);
  const std::string& p = name.project;
  std::string statement = fmt::format(
      "CREATE TABLE `{}` ({} columns, schema sha256 {}){}{}", name.ToString(),
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
        "INSERT INTO {} VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, NULL, {})",
        Bf(p, "tables"), t.id, S(name.dataset), S(name.table), S(SchemaToBqJson(options.schema)),
        options.partition_by.empty() ? "NULL" : S(options.partition_by),
        S(PartitionKindName(t.kind)), ListLiteral(options.cluster_by),
        options.query.empty() ? "NULL" : S(options.query), S(options.description),
        ToMicros(t.created_at), S(principal_), ListLiteral(t.encoded))));
    BF_RETURN_IF_ERROR(CreateView(t));
    return AuditChange(p, "create table", name.ToString(),
                       fmt::format("partition_by={} cluster_by={}", options.partition_by,
                                   Join(options.cluster_by, ",")),
                       0);
  });
}

Result<std::vector<std::string>> Warehouse::ListTables(const DatasetName& name) {
  BF_RETURN_IF_ERROR(GetDataset(name).status());
  BF_ASSIGN_OR_RETURN(
      QueryResult r,
      conn_.Query(
          fmt::format("SELECT name FROM {} WHERE dataset = {} AND dropped_at IS NULL ORDER BY name",
                      Bf(name.project, "tables"), S(name.dataset))));
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
  BF_ASSIGN_OR_RETURN(
      QueryResult r,
      conn_.Query(fmt::format(
          "SELECT partition, sum(row_count), max(created_at) FROM {} WHERE table_id = {} AND {} "
          "GROUP BY partition ORDER BY partition NULLS FIRST",
          Bf(name.project, "segments"), t.id,
          as_of ? fmt::format("created_at <= {0} AND (deleted_at IS NULL OR deleted_at > {0})",
                              ToMicros(*as_of))
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
  BF_ASSIGN_OR_RETURN(QueryResult props,
                      conn_.Query(fmt::format("SELECT key, value FROM {} WHERE table_id = {}",
                                              Bf(name.project, "properties"), t.id)));
  for (size_t i = 0; i < props.rows(); ++i)
    info.properties[props.GetString(0, i)] = props.GetString(1, i);
  return info;
}

Status Warehouse::DropTable(const TableName& name) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(name, std::nullopt));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  return InTransaction(name.project, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(bool execute,
                        AuthorizeWrite(name.Dataset(), "DROP TABLE `" + name.ToString() + "`"));
    if (!execute) return Status::Ok();
    BF_RETURN_IF_ERROR(conn_.Exec(
        fmt::format("DROP VIEW {}.{}.{}", Cat(name.project), Q(name.dataset), Q(name.table))));
    BF_RETURN_IF_ERROR(
        conn_.Exec(fmt::format("UPDATE {} SET dropped_at = {} WHERE id = {}",
                               Bf(name.project, "tables"), ToMicros(clock_->Now()), t.id)));
    return AuditChange(name.project, "drop table", name.ToString(), "DROP TABLE " + name.ToString(),
                       0);
  });
}

Result<std::optional<Warehouse::TableRow>> Warehouse::FindDroppedTable(const TableName& name) {
  BF_ASSIGN_OR_RETURN(
      QueryResult r,
      conn_.Query(fmt::format("SELECT id, dropped_at FROM {} WHERE dataset = {} AND name = {} AND "
                              "dropped_at IS NOT NULL "
                              "ORDER BY dropped_at DESC, id DESC LIMIT 1",
                              Bf(name.project, "tables"), S(name.dataset), S(name.table))));
  if (r.rows() == 0) return std::optional<TableRow>();
  BF_ASSIGN_OR_RETURN(TableRow t, LoadTable(name, fmt::format("id = {}", r.GetInt64(0, 0))));
  return std::optional<TableRow>(t);
}

Status Warehouse::UndropTable(const TableName& name) {
  BF_RETURN_IF_ERROR(RequireWrite());
  if (!HasProject(name.project))
    return NotFound(fmt::format("project {} does not exist", name.project));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  if (TableExists(name)) {
    return AlreadyExists(fmt::format(
        "table {} exists; drop or rename it before undropping an older version", name.ToString()));
  }
  BF_ASSIGN_OR_RETURN(auto dropped, FindDroppedTable(name));
  if (!dropped)
    return NotFound(
        fmt::format("table {} was never dropped (or its history was purged)", name.ToString()));
  BF_ASSIGN_OR_RETURN(DatasetInfo ds, GetDataset(name.Dataset()));
  Timestamp window_start = clock_->Now() - std::chrono::hours(WindowHours(ds));
  if (*dropped->dropped_at < window_start) {
    return Refused(
        fmt::format("table {} was dropped at {}, outside the {}h time-travel window (earliest: {})",
                    name.ToString(), FormatTimestamp(*dropped->dropped_at), WindowHours(ds),
                    FormatTimestamp(window_start)));
  }
  return InTransaction(name.project, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(bool execute,
                        AuthorizeWrite(name.Dataset(), "UNDROP TABLE `" + name.ToString() + "`"));
    if (!execute) return Status::Ok();
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET dropped_at = NULL WHERE id = {}",
                                              Bf(name.project, "tables"), dropped->id)));
    BF_RETURN_IF_ERROR(CreateView(*dropped));
    return AuditChange(name.project, "undrop table", name.ToString(),
                       "UNDROP TABLE " + name.ToString(), 0);
  });
}

Status Warehouse::SetTableProperty(const TableName& name, const std::string& key,
                                   const std::string& value) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(name, std::nullopt));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  std::string statement =
      fmt::format("SET PROPERTY {} = {} ON `{}`", key, S(value), name.ToString());
  return InTransaction(name.project, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), statement));
    if (!execute) return Status::Ok();
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("DELETE FROM {} WHERE table_id = {} AND key = {}",
                                              Bf(name.project, "properties"), t.id, S(key))));
    BF_RETURN_IF_ERROR(
        conn_.Exec(fmt::format("INSERT INTO {} VALUES ({}, {}, {})", Bf(name.project, "properties"),
                               t.id, S(key), S(value))));
    return AuditChange(name.project, "set property", name.ToString(), statement, 0);
  });
}

// --- Data changes ---

Result<WriteStats> Warehouse::InsertRows(const TableRow& t, const std::string& select_sql,
                                         RowForm form, int64_t* write_id_out) {
  const std::string& p = t.name.project;
  BF_ASSIGN_OR_RETURN(int64_t write_id, NextCounter(p, "write"));
  *write_id_out = write_id;
  int64_t lo = write_id << kDayBits, hi = (write_id + 1) << kDayBits;
  std::string seg = fmt::format("{} + COALESCE(CAST(({}) - {} AS BIGINT), {})", lo,
                                t.PartitionExpr(), kDayZero, kNullPartition);
  std::string columns =
      form == RowForm::kNative && !t.encoded.empty() ? t.EncodingColumns("_bf_src") : "*";
  BF_ASSIGN_OR_RETURN(QueryResult ins, conn_.Query(fmt::format(
                                           "INSERT INTO {} SELECT {}, {} FROM ({}) AS _bf_src({})",
                                           t.Store(), columns, seg, select_sql, t.ColumnNames())));
  WriteStats stats;
  stats.rows_written = ins.RowsChanged();
  BF_RETURN_IF_ERROR(conn_.Exec(fmt::format(
      "INSERT INTO {} SELECT _bf_seg, {}, CASE WHEN (_bf_seg & {}) = {} THEN NULL ELSE {} + "
      "CAST(_bf_seg & {} AS INTEGER) END, "
      "count(*), {}, NULL, {} FROM {} WHERE _bf_seg >= {} AND _bf_seg < {} GROUP BY _bf_seg",
      Bf(p, "segments"), t.id, kNullPartition, kNullPartition, kDayZero, kNullPartition,
      ToMicros(clock_->Now()), write_id, t.Store(), lo, hi)));
  BF_ASSIGN_OR_RETURN(QueryResult parts,
                      conn_.Query(fmt::format("SELECT partition FROM {} WHERE write_id = {} AND "
                                              "table_id = {} ORDER BY partition NULLS FIRST",
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

Result<WriteStats> Warehouse::Append(const TableName& name, const std::string& select_sql,
                                     RowForm form) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(name, std::nullopt));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  WriteStats stats;
  std::string statement = fmt::format("INSERT INTO `{}` {}", name.ToString(), select_sql);
  BF_RETURN_IF_ERROR(InTransaction(name.project, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), statement));
    if (!execute) {
      BF_ASSIGN_OR_RETURN(stats.rows_written,
                          conn_.QueryInt(fmt::format("SELECT count(*) FROM ({})", select_sql)));
      return Status::Ok();
    }
    int64_t write_id = 0;
    BF_ASSIGN_OR_RETURN(stats, InsertRows(t, select_sql, form, &write_id));
    return AuditChange(name.project, "append", name.ToString(), statement, stats.rows_written);
  }));
  return stats;
}

Result<WriteStats> Warehouse::ReplacePartition(const TableName& name, Date day,
                                               const std::string& select_sql, RowForm form) {
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(name, std::nullopt));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kWriter));
  if (t.kind == PartitionKind::kNone) {
    return InvalidArgument(
        fmt::format("table {} is not partitioned; it has no day partitions", name.ToString()));
  }
  const std::string& p = name.project;
  WriteStats stats;
  std::string statement = fmt::format("REPLACE PARTITION `{}${}` WITH {}", name.ToString(),
                                      FormatDateCompact(day), select_sql);
  BF_RETURN_IF_ERROR(InTransaction(p, [&]() -> Status {
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), statement));
    if (!execute) {
      BF_ASSIGN_OR_RETURN(stats.rows_written,
                          conn_.QueryInt(fmt::format("SELECT count(*) FROM ({})", select_sql)));
      BF_ASSIGN_OR_RETURN(
          stats.rows_deleted,
          conn_.QueryInt(fmt::format("SELECT sum(row_count) FROM {} WHERE table_id = {} AND "
                                     "partition = DATE {} AND deleted_at IS NULL",
                                     Bf(p, "segments"), t.id, S(FormatDate(day)))));
      return Status::Ok();
    }
    int64_t write_id = 0;
    BF_ASSIGN_OR_RETURN(stats, InsertRows(t, select_sql, form, &write_id));
    for (const auto& d : stats.partitions) {
      if (d != day) {
        return InvalidArgument(
            fmt::format("replacing partition {} of {}: the new rows include partition {}; "
                        "nothing was changed",
                        FormatDate(day), name.ToString(), d ? FormatDate(*d) : "NULL"));
      }
    }
    std::string old = fmt::format(
        "table_id = {} AND partition = DATE {} AND deleted_at IS NULL AND write_id <> {}", t.id,
        S(FormatDate(day)), write_id);
    BF_ASSIGN_OR_RETURN(stats.rows_deleted,
                        conn_.QueryInt(fmt::format("SELECT sum(row_count) FROM {} WHERE {}",
                                                   Bf(p, "segments"), old)));
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET deleted_at = {} WHERE {}",
                                              Bf(p, "segments"), ToMicros(clock_->Now()), old)));
    return AuditChange(p, "replace partition",
                       fmt::format("{}${}", name.ToString(), FormatDateCompact(day)), statement,
                       stats.rows_written);
  }));
  return stats;
}

Result<WriteStats> Warehouse::DeletePartitions(const TableName& name,
                                               const std::vector<Date>& days) {
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
  std::string statement =
      fmt::format("DELETE PARTITIONS {} OF `{}`", Join(names, ", "), name.ToString());
  BF_RETURN_IF_ERROR(InTransaction(p, [&]() -> Status {
    std::string where = fmt::format("table_id = {} AND partition IN ({}) AND deleted_at IS NULL",
                                    t.id, Join(lits, ", "));
    BF_ASSIGN_OR_RETURN(stats.rows_deleted,
                        conn_.QueryInt(fmt::format("SELECT sum(row_count) FROM {} WHERE {}",
                                                   Bf(p, "segments"), where)));
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), statement));
    if (!execute) return Status::Ok();
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET deleted_at = {} WHERE {}",
                                              Bf(p, "segments"), ToMicros(clock_->Now()), where)));
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
      BF_ASSIGN_OR_RETURN(stats.rows_deleted,
                          conn_.QueryInt(fmt::format("SELECT count(*) FROM {} WHERE ({})", current,
                                                     condition_sql)));
      return Status::Ok();
    }
    // Rewrite only the partitions that hold matching rows: keep their other rows in new
    // segments and retire the old ones, so the deleted rows stay readable by time travel.
    // NULL partitions compare through a sentinel day, as IN never matches NULL.
    std::string part = fmt::format("COALESCE({}, {})", t.PartitionExpr(), kDayZero);
    std::string affected =
        fmt::format("SELECT DISTINCT {} AS p FROM {} WHERE ({})", part, current, condition_sql);
    BF_RETURN_IF_ERROR(conn_.Exec("CREATE OR REPLACE TEMP TABLE _bf_affected AS " + affected));
    BF_ASSIGN_OR_RETURN(int64_t n, conn_.QueryInt("SELECT count(*) FROM _bf_affected"));
    if (n > 0) {
      std::string in_affected = fmt::format("{} IN (SELECT p FROM _bf_affected)", part);
      BF_ASSIGN_OR_RETURN(
          int64_t before,
          conn_.QueryInt(fmt::format("SELECT count(*) FROM {} WHERE {}", current, in_affected)));
      int64_t write_id = 0;
      BF_ASSIGN_OR_RETURN(
          stats, InsertRows(t,
                            fmt::format("SELECT * FROM {} WHERE {} AND ({}) IS NOT TRUE", current,
                                        in_affected, condition_sql),
                            RowForm::kNative, &write_id));
      stats.rows_deleted = before - stats.rows_written;
      BF_RETURN_IF_ERROR(conn_.Exec(
          fmt::format("UPDATE {} SET deleted_at = {} WHERE table_id = {} AND deleted_at IS NULL "
                      "AND write_id <> {} AND "
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
  std::string statement =
      fmt::format("RETRACT WRITES AFTER {} FROM `{}`", after_write, name.ToString());
  BF_RETURN_IF_ERROR(InTransaction(p, [&]() -> Status {
    std::string where =
        fmt::format("table_id = {} AND write_id > {} AND deleted_at IS NULL", t.id, after_write);
    BF_ASSIGN_OR_RETURN(stats.rows_deleted,
                        conn_.QueryInt(fmt::format("SELECT sum(row_count) FROM {} WHERE {}",
                                                   Bf(p, "segments"), where)));
    BF_ASSIGN_OR_RETURN(bool execute, AuthorizeWrite(name.Dataset(), statement));
    if (!execute || stats.rows_deleted == 0) return Status::Ok();
    BF_RETURN_IF_ERROR(conn_.Exec(fmt::format("UPDATE {} SET deleted_at = {} WHERE {}",
                                              Bf(p, "segments"), ToMicros(clock_->Now()), where)));
    return AuditChange(p, "retract writes", name.ToString(), statement, stats.rows_deleted);
  }));
  return stats;
}

Result<int64_t> Warehouse::LastCounter(const std::string& project, const std::string& counter) {
  if (!HasProject(project)) return NotFound(fmt::format("project {} does not exist", project));
  return conn_.QueryInt(fmt::format("SELECT COALESCE(max(value), 0) FROM {} WHERE name = {}",
                                    Bf(project, "counters"), S(counter)));
}

// --- Load ledger ---

namespace {

constexpr const char* kLoadsColumns =
    "sha256 VARCHAR, size BIGINT, path VARCHAR, run_id VARCHAR, loaded_at BIGINT, write_id BIGINT";

}  // namespace

Result<std::vector<LoadRecord>> Warehouse::ListLoads(const std::string& project) {
  if (!HasProject(project)) return NotFound(fmt::format("project {} does not exist", project));
  // Projects created before the ledger existed have no table until their first load.
  BF_ASSIGN_OR_RETURN(
      int64_t exists,
      conn_.QueryInt(fmt::format(
          "SELECT count(*) FROM duckdb_tables() WHERE database_name = {} AND schema_name = '_bf' "
          "AND table_name = 'loads'",
          S(project))));
  std::vector<LoadRecord> out;
  if (exists == 0) return out;
  BF_ASSIGN_OR_RETURN(
      QueryResult r,
      conn_.Query(fmt::format(
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
      BF_RETURN_IF_ERROR(conn_.Exec(fmt::format(
          "INSERT INTO {} VALUES ({}, {}, {}, {}, {}, {})", Bf(project, "loads"), S(l.sha256),
          l.size, S(l.path), S(l.run_id), ToMicros(clock_->Now()), write_id)));
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
    return conn_.Exec(
        fmt::format("DELETE FROM {} WHERE write_id > {}", Bf(project, "loads"), after_write));
  }));
  return n;
}

// --- Reading ---

std::string Warehouse::TimestampLiteral(Timestamp ts) {
  return "TIMESTAMPTZ " + S(FormatTimestamp(ts));
}

Result<std::string> Warehouse::Relation(const TableName& name, std::optional<Timestamp> as_of) {
  if (!HasProject(name.project))
    return NotFound(fmt::format("project {} does not exist", name.project));
  BF_ASSIGN_OR_RETURN(DatasetInfo ds, GetDataset(name.Dataset()));
  BF_RETURN_IF_ERROR(CheckAccess(name.Dataset(), Role::kReader));
  if (!as_of) {
    BF_RETURN_IF_ERROR(FindTable(name, std::nullopt).status());
    return fmt::format("{}.{}.{}", Cat(name.project), Q(name.dataset), Q(name.table));
  }
  Timestamp now = clock_->Now();
  if (*as_of > now) {
    return InvalidArgument(fmt::format("cannot read {} as of {}: that is in the future (now is {})",
                                       name.ToString(), FormatTimestamp(*as_of),
                                       FormatTimestamp(now)));
  }
  Timestamp window_start = now - std::chrono::hours(WindowHours(ds));
  if (*as_of < window_start) {
    return Refused(fmt::format(
        "cannot read {} as of {}: outside the {}h time-travel window of dataset {}; the "
        "earliest readable time is {}",
        name.ToString(), FormatTimestamp(*as_of), WindowHours(ds), ds.name.ToString(),
        FormatTimestamp(window_start)));
  }
  auto t = FindTable(name, *as_of);
  if (!t.ok()) return t.status();
  int64_t at = ToMicros(*as_of);
  return fmt::format(
      "(SELECT {} FROM {} WHERE _bf_seg IN (SELECT id FROM {} WHERE table_id = {} AND created_at "
      "<= {} "
      "AND (deleted_at IS NULL OR deleted_at > {})))",
      t->DecodedColumns(), t->Store(), Bf(name.project, "segments"), t->id, at, at);
}

Result<Warehouse::CopySource> Warehouse::CopyRelation(const TableName& source,
                                                      const TableName& target,
                                                      std::optional<Timestamp> as_of) {
  BF_ASSIGN_OR_RETURN(std::string view, Relation(source, as_of));  // access, window, existence
  BF_ASSIGN_OR_RETURN(TableRow s, FindTable(source, as_of));
  BF_ASSIGN_OR_RETURN(TableRow t, FindTable(target, std::nullopt));
  if (s.encoded.empty() || s.encoded != t.encoded ||
      !s.options.schema.SameShape(t.options.schema)) {
    return CopySource{view, RowForm::kNative};
  }
  std::string alive =
      as_of ? fmt::format("created_at <= {0} AND (deleted_at IS NULL OR deleted_at > {0})",
                          ToMicros(*as_of))
            : std::string("deleted_at IS NULL");
  return CopySource{
      fmt::format("(SELECT * EXCLUDE (_bf_seg) FROM {} WHERE _bf_seg IN (SELECT id FROM {} WHERE "
                  "table_id = {} AND {}))",
                  s.Store(), Bf(source.project, "segments"), s.id, alive),
      RowForm::kStored};
}

}  // namespace backfill
