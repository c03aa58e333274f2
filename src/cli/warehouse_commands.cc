// Commands over the warehouse itself: init, projects, datasets, tables, schemas, ls/show,
// maintain, audit and principals.
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "cli/cli.h"
#include "cli/step_commands.h"
#include "core/files.h"
#include "core/text.h"
#include "recover/rescue.h"
#include "warehouse/schema_deploy.h"

namespace backfill::cli {

Status RunCommand(Context& ctx, const DropArgs& a) {
  BF_ASSIGN_OR_RETURN(TableName name, ctx.Usage(ParseTableName(a.table)));
  BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
  BF_ASSIGN_OR_RETURN(TableInfo info, w->DescribeTable(name));
  BF_RETURN_IF_ERROR(DropTableGuarded(*w, name, a.force));
  int hours = *info.dataset.options.time_travel_hours;
  Timestamp until = ctx.clock().Now() + std::chrono::hours(hours);
  ctx.Emit(fmt::format(
               "Dropped {} ({} rows). Undo with `backfill table undrop {}` until {} ({}h window).",
               name.ToString(), info.total_rows, name.ToString(), FormatTimestamp(until), hours),
           Json{{"table", name.ToString()},
                {"dropped", true},
                {"rows", info.total_rows},
                {"undrop_until", FormatTimestamp(until)}});
  return Status::Ok();
}

namespace {

Json DatasetJson(const DatasetInfo& d) {
  return Json{
      {"dataset", d.name.ToString()},
      {"restricted", d.options.restricted},
      {"protected", d.options.is_protected},
      {"readers", d.options.readers},
      {"writers", d.options.writers},
      {"owners", d.options.owners},
      {"partition_expiration_days",
       d.options.partition_expiration_days ? Json(*d.options.partition_expiration_days) : Json()},
      {"time_travel_hours", *d.options.time_travel_hours}};
}

std::string PartitionName(const std::optional<Date>& d) {
  return d ? FormatDate(*d) : "(unpartitioned)";
}

void AddInit(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("init", "Create a warehouse directory with its backfill.toml");
  auto hours = std::make_shared<int>(WarehouseConfig::kDefaultTimeTravelHours);
  cmd->add_option("--time-travel-hours", *hours,
                  "Default time-travel window for new datasets (48..168, multiple of 24)");
  cmd->callback([&ctx, hours] {
    ctx.Run([&]() -> Status {
      WarehouseConfig config;
      config.time_travel_hours = *hours;
      config.principals[ctx.principal] = Role::kOwner;
      BF_RETURN_IF_ERROR(ctx.Usage(ValidateTimeTravelHours(*hours)));
      BF_RETURN_IF_ERROR(Warehouse::Init(ctx.warehouse_dir, config));
      ctx.Emit(fmt::format("Created warehouse {} (time-travel window {}h; {} is its owner).\n"
                           "Next: backfill project create PROJECT",
                           ctx.warehouse_dir, *hours, ctx.principal),
               Json{{"warehouse", ctx.warehouse_dir},
                    {"time_travel_hours", *hours},
                    {"owner", ctx.principal}});
      return Status::Ok();
    });
  });
}

void AddProject(CLI::App& app, Context& ctx) {
  auto* project = app.add_subcommand("project", "Manage projects (one DuckDB file each)");
  project->require_subcommand(1);
  auto* create = project->add_subcommand("create", "Create a project");
  auto name = std::make_shared<std::string>();
  create->add_option("PROJECT", *name, "Project id, e.g. moz-fx-data-shared-prod")->required();
  create->callback([&ctx, name] {
    ctx.Run([&]() -> Status {
      BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(*name)));
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
      BF_RETURN_IF_ERROR(w->CreateProject(*name));
      ctx.Emit("Created project " + *name, Json{{"project", *name}, {"created", true}});
      return Status::Ok();
    });
  });
}

struct DatasetArgs {
  std::string name;
  bool restricted = false, unrestricted = false, is_protected = false, unprotected = false;
  std::string readers, writers, owners;
  std::optional<int> expiration_days, time_travel_hours;
};

void AddDatasetFlags(CLI::App* cmd, DatasetArgs& a, bool update) {
  cmd->add_option("DATASET", a.name, "project.dataset")->required();
  cmd->add_flag("--restricted", a.restricted, "Only its readers, writers and owners may read it");
  cmd->add_option("--readers", a.readers, "Comma-separated principals who may read");
  cmd->add_option("--writers", a.writers, "Comma-separated principals who may write");
  cmd->add_option("--owners", a.owners, "Comma-separated principals who administer it");
  cmd->add_option("--partition-expiration-days", a.expiration_days,
                  "Drop partitions older than N days (maintain)");
  cmd->add_option("--time-travel-hours", a.time_travel_hours,
                  "Time-travel window (48..168, multiple of 24)");
  if (update) {
    cmd->add_flag("--unrestricted", a.unrestricted, "Make it readable by everyone");
    cmd->add_flag("--protected", a.is_protected, "Writes need an approved request");
    cmd->add_flag("--unprotected", a.unprotected, "Writes no longer need a request");
  } else {
    cmd->add_flag("--protected", a.is_protected, "Writes need an approved request");
  }
}

void AddDataset(CLI::App& app, Context& ctx) {
  auto* dataset = app.add_subcommand("dataset", "Manage datasets");
  dataset->require_subcommand(1);
  auto create_args = std::make_shared<DatasetArgs>();
  auto* create = dataset->add_subcommand("create", "Create a dataset");
  AddDatasetFlags(create, *create_args, false);
  create->callback([&ctx, create_args] {
    ctx.Run([&]() -> Status {
      const DatasetArgs& a = *create_args;
      BF_ASSIGN_OR_RETURN(DatasetName name, ctx.Usage(ParseDatasetName(a.name)));
      DatasetOptions o;
      o.restricted = a.restricted;
      o.is_protected = a.is_protected;
      o.readers = SplitList(a.readers);
      o.writers = SplitList(a.writers);
      o.owners = SplitList(a.owners);
      o.partition_expiration_days = a.expiration_days;
      o.time_travel_hours = a.time_travel_hours;
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
      BF_RETURN_IF_ERROR(w->CreateDataset(name, o));
      BF_ASSIGN_OR_RETURN(DatasetInfo info, w->GetDataset(name));
      ctx.Emit(
          fmt::format("Created dataset {}{}", name.ToString(), a.restricted ? " (restricted)" : ""),
          DatasetJson(info));
      return Status::Ok();
    });
  });
  auto update_args = std::make_shared<DatasetArgs>();
  auto* update =
      dataset->add_subcommand("update", "Change a dataset's access, protection or retention");
  AddDatasetFlags(update, *update_args, true);
  update->callback([&ctx, update_args] {
    ctx.Run([&]() -> Status {
      const DatasetArgs& a = *update_args;
      BF_ASSIGN_OR_RETURN(DatasetName name, ctx.Usage(ParseDatasetName(a.name)));
      Warehouse::DatasetUpdate u;
      if (a.restricted && a.unrestricted)
        return ctx.Usage(InvalidArgument("--restricted and --unrestricted contradict"));
      if (a.is_protected && a.unprotected)
        return ctx.Usage(InvalidArgument("--protected and --unprotected contradict"));
      if (a.restricted || a.unrestricted) u.restricted = a.restricted;
      if (a.is_protected || a.unprotected) u.is_protected = a.is_protected;
      if (!a.readers.empty()) u.readers = SplitList(a.readers);
      if (!a.writers.empty()) u.writers = SplitList(a.writers);
      if (!a.owners.empty()) u.owners = SplitList(a.owners);
      u.partition_expiration_days = a.expiration_days;
      u.time_travel_hours = a.time_travel_hours;
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
      BF_RETURN_IF_ERROR(w->UpdateDataset(name, u));
      BF_ASSIGN_OR_RETURN(DatasetInfo info, w->GetDataset(name));
      ctx.Emit("Updated dataset " + name.ToString(), DatasetJson(info));
      return Status::Ok();
    });
  });
}

struct TableArgs {
  std::string name, schema_file, partition_by, cluster_by, query_file;
  bool force = false;
};

void AddTable(CLI::App& app, Context& ctx) {
  auto* table = app.add_subcommand("table", "Manage tables");
  table->require_subcommand(1);
  auto args = std::make_shared<TableArgs>();
  auto* create =
      table->add_subcommand("create", "Create a table from a BigQuery JSON schema (.bq)");
  create->add_option("TABLE", args->name, "project.dataset.table")->required();
  create->add_option("--schema", args->schema_file, "BigQuery JSON schema file (.bq)")->required();
  create->add_option("--partition-by", args->partition_by,
                     "DATE or TIMESTAMP column to partition by day");
  create->add_option("--cluster-by", args->cluster_by, "Comma-separated clustering columns");
  create->add_option("--query", args->query_file,
                     "SQL file that rebuilds one partition (uses @submission_date)");
  create->callback([&ctx, args] {
    ctx.Run([&]() -> Status {
      BF_ASSIGN_OR_RETURN(TableName name, ctx.Usage(ParseTableName(args->name)));
      BF_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(args->schema_file));
      TableOptions o;
      BF_ASSIGN_OR_RETURN(o.schema, ParseBqSchema(text, args->schema_file));
      o.partition_by = args->partition_by;
      o.cluster_by = SplitList(args->cluster_by);
      if (!args->query_file.empty()) {
        BF_ASSIGN_OR_RETURN(o.query, ReadWholeFile(args->query_file));
      }
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
      BF_RETURN_IF_ERROR(w->CreateTable(name, o));
      ctx.Emit(fmt::format("Created table {} ({} columns, {} leaf fields{})", name.ToString(),
                           o.schema.fields.size(), o.schema.LeafCount(),
                           o.partition_by.empty() ? "" : ", partitioned by " + o.partition_by),
               Json{{"table", name.ToString()},
                    {"columns", o.schema.fields.size()},
                    {"leaf_fields", o.schema.LeafCount()},
                    {"partition_by", o.partition_by},
                    {"cluster_by", o.cluster_by}});
      return Status::Ok();
    });
  });
  auto update_name = std::make_shared<std::string>();
  auto glean = std::make_shared<std::optional<bool>>();
  auto* update = table->add_subcommand("update", "Change a table's properties");
  update->add_option("TABLE", *update_name, "project.dataset.table")->required();
  auto* yes = update->add_flag_callback(
      "--glean", [glean] { *glean = true; },
      "A Glean ping table: copy-deduplicate NULLs metadata.geo city and subdivisions "
      "(schemas deploy sets this from the schema)");
  auto* no = update->add_flag_callback(
      "--no-glean", [glean] { *glean = false; }, "Not a Glean ping table: geo kept");
  yes->excludes(no);
  update->callback([&ctx, update_name, glean] {
    ctx.Run([&]() -> Status {
      BF_ASSIGN_OR_RETURN(TableName name, ctx.Usage(ParseTableName(*update_name)));
      if (!glean->has_value())
        return ctx.Usage(
            InvalidArgument("table update: nothing to change (--glean or --no-glean)"));
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
      std::string value = **glean ? "true" : "false";
      BF_RETURN_IF_ERROR(w->SetTableProperty(name, kGleanProperty, value));
      ctx.Emit(fmt::format("Updated {}: {} = {}", name.ToString(), kGleanProperty, value),
               Json{{"table", name.ToString()}, {"properties", {{kGleanProperty, **glean}}}});
      return Status::Ok();
    });
  });
  auto drop = std::make_shared<DropArgs>();
  auto* drop_cmd = table->add_subcommand(
      "drop", "Drop a table (it stays readable by time travel until the window closes)");
  drop_cmd->add_option("TABLE", drop->table, "project.dataset.table")->required();
  drop_cmd->add_flag("--force", drop->force,
                     "Drop a rescue snapshot even though no validation of it has passed");
  drop_cmd->callback([&ctx, drop] { ctx.Run([&] { return RunCommand(ctx, *drop); }); });
  auto undrop_name = std::make_shared<std::string>();
  auto* undrop =
      table->add_subcommand("undrop", "Restore the most recently dropped version of a table");
  undrop->add_option("TABLE", *undrop_name, "project.dataset.table")->required();
  undrop->callback([&ctx, undrop_name] {
    ctx.Run([&]() -> Status {
      BF_ASSIGN_OR_RETURN(TableName name, ctx.Usage(ParseTableName(*undrop_name)));
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
      BF_RETURN_IF_ERROR(w->UndropTable(name));
      BF_ASSIGN_OR_RETURN(TableInfo info, w->DescribeTable(name));
      ctx.Emit(fmt::format("Restored {} ({} rows)", name.ToString(), info.total_rows),
               Json{{"table", name.ToString()}, {"undropped", true}, {"rows", info.total_rows}});
      return Status::Ok();
    });
  });
}

void AddSchemas(CLI::App& app, Context& ctx) {
  auto* schemas =
      app.add_subcommand("schemas", "Deploy BigQuery schemas as live and stable tables");
  schemas->require_subcommand(1);
  auto dir = std::make_shared<std::string>();
  auto project = std::make_shared<std::string>();
  auto* deploy = schemas->add_subcommand(
      "deploy",
      "Create <ns>_live and <ns>_stable tables for every <ns>/<doctype>/<doctype>.<v>.bq");
  deploy->add_option("SCHEMAS_DIR", *dir, "Directory of schemas")->required();
  deploy->add_option("--project", *project, "Target project")->required();
  deploy->callback([&ctx, dir, project] {
    ctx.Run([&]() -> Status {
      BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(*project)));
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
      BF_ASSIGN_OR_RETURN(DeployReport report, DeploySchemas(*w, *dir, *project));
      std::vector<std::vector<std::string>> rows;
      Json items = Json::array();
      for (const auto& i : report.items) {
        rows.push_back({i.table.ToString(), DeployOutcomeName(i.outcome), Join(i.details, "; ")});
        items.push_back({{"table", i.table.ToString()},
                         {"source", i.source},
                         {"outcome", DeployOutcomeName(i.outcome)},
                         {"details", i.details}});
      }
      using O = DeployItem::Outcome;
      std::string summary = fmt::format(
          "{} created, {} unchanged, {} differ (not altered), {} failed", report.Count(O::kCreated),
          report.Count(O::kUnchanged), report.Count(O::kDiffers), report.Count(O::kFailed));
      ctx.Emit(RenderTable({"table", "outcome", "details"}, rows) + summary,
               Json{{"project", *project},
                    {"tables", items},
                    {"summary",
                     {{"created", report.Count(O::kCreated)},
                      {"unchanged", report.Count(O::kUnchanged)},
                      {"differs", report.Count(O::kDiffers)},
                      {"failed", report.Count(O::kFailed)}}}});
      if (report.Count(O::kDiffers) + report.Count(O::kFailed) > 0) {
        return InvalidArgument(
            fmt::format("schemas deploy: {} table(s) differ or failed; see the report above",
                        report.Count(O::kDiffers) + report.Count(O::kFailed)));
      }
      return Status::Ok();
    });
  });
}

Status ListCommand(Context& ctx, const std::string& what) {
  BF_ASSIGN_OR_RETURN(auto w, ctx.Open(false));
  if (what.empty()) {
    std::vector<std::vector<std::string>> rows;
    Json out = Json::array();
    for (const auto& p : w->ListProjects()) {
      BF_ASSIGN_OR_RETURN(auto ds, w->ListDatasets(p));
      rows.push_back({p, std::to_string(ds.size())});
      out.push_back({{"project", p}, {"datasets", ds.size()}});
    }
    ctx.Emit(RenderTable({"project", "datasets"}, rows), out);
    return Status::Ok();
  }
  if (what.find('.') == std::string::npos) {
    BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(what)));
    BF_ASSIGN_OR_RETURN(auto datasets, w->ListDatasets(what));
    std::vector<std::vector<std::string>> rows;
    Json out = Json::array();
    for (const auto& d : datasets) {
      auto tables = w->ListTables(d.name);
      std::string access = d.options.restricted ? "restricted" : "open";
      if (d.options.is_protected) access += ",protected";
      rows.push_back({d.name.dataset, tables.ok() ? std::to_string(tables->size()) : "?", access,
                      d.options.partition_expiration_days
                          ? std::to_string(*d.options.partition_expiration_days) + "d"
                          : "-",
                      std::to_string(*d.options.time_travel_hours) + "h"});
      out.push_back(DatasetJson(d));
    }
    ctx.Emit(RenderTable({"dataset", "tables", "access", "expiration", "time travel"}, rows), out);
    return Status::Ok();
  }
  BF_ASSIGN_OR_RETURN(DatasetName ds, ctx.Usage(ParseDatasetName(what)));
  BF_ASSIGN_OR_RETURN(auto tables, w->ListTables(ds));
  std::vector<std::vector<std::string>> rows;
  Json out = Json::array();
  for (const auto& t : tables) {
    auto info = w->DescribeTable({ds.project, ds.dataset, t});
    if (!info.ok()) {
      rows.push_back({t, "-", "-", "(no access)"});
      out.push_back({{"table", t}, {"error", info.status().message()}});
      continue;
    }
    rows.push_back({t, std::to_string(info->total_rows), std::to_string(info->partitions.size()),
                    info->options.partition_by.empty() ? "-" : info->options.partition_by});
    out.push_back({{"table", info->name.ToString()},
                   {"rows", info->total_rows},
                   {"partitions", info->partitions.size()},
                   {"partition_by", info->options.partition_by}});
  }
  ctx.Emit(RenderTable({"table", "rows", "partitions", "partitioned by"}, rows), out);
  return Status::Ok();
}

void AddLsShow(CLI::App& app, Context& ctx) {
  auto what = std::make_shared<std::string>();
  auto* ls = app.add_subcommand("ls", "List projects, a project's datasets, or a dataset's tables");
  ls->add_option("WHAT", *what, "PROJECT or PROJECT.DATASET");
  ls->callback([&ctx, what] { ctx.Run([&] { return ListCommand(ctx, *what); }); });

  auto name = std::make_shared<std::string>();
  auto* show = app.add_subcommand(
      "show", "Show a table: schema, partitions with row counts, time travel, expiration");
  show->add_option("TABLE", *name, "project.dataset.table")->required();
  show->callback([&ctx, name] {
    ctx.Run([&]() -> Status {
      BF_ASSIGN_OR_RETURN(TableName tn, ctx.Usage(ParseTableName(*name)));
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(false));
      BF_ASSIGN_OR_RETURN(TableInfo info, w->DescribeTable(tn));
      const auto& ds = info.dataset.options;
      Timestamp now = ctx.clock().Now();
      std::string text = fmt::format("Table {}\n", tn.ToString());
      text += fmt::format("  partitioned by: {}\n",
                          info.options.partition_by.empty() ? "(none)" : info.options.partition_by);
      text += fmt::format("  clustered by:   {}\n", info.options.cluster_by.empty()
                                                        ? "(none)"
                                                        : Join(info.options.cluster_by, ", "));
      text +=
          fmt::format("  dataset:        {}{}{}\n", info.dataset.name.ToString(),
                      ds.restricted ? ", restricted" : "", ds.is_protected ? ", protected" : "");
      text += fmt::format("  rows:           {} in {} partition(s)\n", info.total_rows,
                          info.partitions.size());
      text += fmt::format("  time travel:    readable as of {} or later ({}h window)\n",
                          FormatTimestamp(info.earliest_time_travel), *ds.time_travel_hours);
      if (ds.partition_expiration_days) {
        text += fmt::format("  expiration:     partitions expire {} days after their date\n",
                            *ds.partition_expiration_days);
      }
      if (!info.options.query.empty())
        text += "  derived by a query (backfill rerun rebuilds its partitions)\n";
      if (!info.encoded_columns.empty()) {
        text += fmt::format(
            "  stored encoded: {} (wide table: each is one text column; the view shows their "
            "types)\n",
            Join(info.encoded_columns, ", "));
      }
      text += fmt::format("\nSchema ({} columns, {} leaf fields):\n",
                          info.options.schema.fields.size(), info.options.schema.LeafCount());
      std::vector<std::vector<std::string>> cols;
      Json schema = Json::array();
      for (const auto& f : info.options.schema.fields) {
        std::string type = GoogleSqlType(f);
        if (type.size() > 60) type = type.substr(0, 57) + "...";
        cols.push_back({f.name, type,
                        f.mode == FieldMode::kRequired   ? "REQUIRED"
                        : f.mode == FieldMode::kRepeated ? "REPEATED"
                                                         : "NULLABLE"});
        schema.push_back({{"name", f.name}, {"type", GoogleSqlType(f)}});
      }
      text += RenderTable({"column", "type", "mode"}, cols);
      std::vector<std::vector<std::string>> parts;
      Json partitions = Json::array();
      for (const auto& p : info.partitions) {
        std::string expires = "-";
        Json expires_json;
        if (ds.partition_expiration_days && p.date) {
          Timestamp at = PartitionExpiresAt(*p.date, *ds.partition_expiration_days);
          expires = at <= now ? "expired (run maintain)" : "in " + FormatDuration(at - now);
          expires_json = FormatTimestamp(at);
        }
        parts.push_back({PartitionName(p.date), std::to_string(p.rows),
                         FormatTimestamp(p.last_modified), expires});
        partitions.push_back({{"partition", p.date ? Json(FormatDate(*p.date)) : Json()},
                              {"rows", p.rows},
                              {"last_modified", FormatTimestamp(p.last_modified)},
                              {"expires_at", expires_json}});
      }
      text +=
          "\nPartitions:\n" +
          (parts.empty() ? std::string("  (no rows)\n")
                         : RenderTable({"partition", "rows", "last modified", "expires"}, parts));
      ctx.Emit(text,
               Json{{"table", tn.ToString()},
                    {"partition_by", info.options.partition_by},
                    {"cluster_by", info.options.cluster_by},
                    {"restricted", ds.restricted},
                    {"protected", ds.is_protected},
                    {"rows", info.total_rows},
                    {"earliest_time_travel", FormatTimestamp(info.earliest_time_travel)},
                    {"time_travel_hours", *ds.time_travel_hours},
                    {"partition_expiration_days",
                     ds.partition_expiration_days ? Json(*ds.partition_expiration_days) : Json()},
                    {"encoded_columns", info.encoded_columns},
                    {"schema", schema},
                    {"partitions", partitions}});
      return Status::Ok();
    });
  });
}

void AddMaintainAudit(CLI::App& app, Context& ctx) {
  auto* maintain = app.add_subcommand(
      "maintain", "Expire old partitions and purge history older than the time-travel window");
  maintain->callback([&ctx] {
    ctx.Run([&]() -> Status {
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
      BF_ASSIGN_OR_RETURN(MaintainReport r, w->Maintain());
      std::vector<std::vector<std::string>> rows;
      Json out = Json::array();
      for (const auto& i : r.items) {
        rows.push_back({i.action, i.target, i.partition ? FormatDate(*i.partition) : "-",
                        std::to_string(i.rows)});
        out.push_back({{"action", i.action},
                       {"target", i.target},
                       {"partition", i.partition ? Json(FormatDate(*i.partition)) : Json()},
                       {"rows", i.rows}});
      }
      ctx.Emit(r.items.empty() ? "Nothing to maintain."
                               : RenderTable({"action", "table", "partition", "rows"}, rows),
               out);
      return Status::Ok();
    });
  });
  auto* migrate = app.add_subcommand(
      "migrate", "Convert a warehouse of an older storage format to this version's");
  migrate->callback([&ctx] {
    ctx.Run([&]() -> Status {
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true, /*migrate=*/true));
      BF_ASSIGN_OR_RETURN(std::vector<std::string> done, w->Migrate());
      Json out = Json::array();
      std::string text =
          done.empty() ? "Nothing to migrate: every project has the current storage format.\n" : "";
      for (const auto& line : done) {
        text += line + "\n";
        out.push_back(line);
      }
      ctx.Emit(text, Json{{"migrated", out}});
      return Status::Ok();
    });
  });
  auto project = std::make_shared<std::string>();
  auto* audit = app.add_subcommand(
      "audit", "Show the audit log: who changed what, when, with which statement");
  audit->add_option("--project", *project, "Only this project");
  audit->callback([&ctx, project] {
    ctx.Run([&]() -> Status {
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(false));
      BF_ASSIGN_OR_RETURN(auto entries, w->Audit(*project));
      std::vector<std::vector<std::string>> rows;
      Json out = Json::array();
      for (const auto& e : entries) {
        std::string stmt =
            e.statement.size() > 80 ? e.statement.substr(0, 77) + "..." : e.statement;
        for (char& c : stmt) c = c == '\n' ? ' ' : c;
        rows.push_back({FormatTimestamp(e.at), e.principal, e.action, e.target,
                        std::to_string(e.rows), e.outcome, stmt});
        out.push_back({{"project", e.project},
                       {"seq", e.seq},
                       {"at", FormatTimestamp(e.at)},
                       {"principal", e.principal},
                       {"action", e.action},
                       {"target", e.target},
                       {"rows", e.rows},
                       {"outcome", e.outcome},
                       {"statement", e.statement}});
      }
      ctx.Emit(RenderTable({"at", "principal", "action", "target", "rows", "outcome", "statement"},
                           rows),
               out);
      return Status::Ok();
    });
  });
  auto pname = std::make_shared<std::string>();
  auto prole = std::make_shared<std::string>();
  auto* principal = app.add_subcommand("principal", "Manage warehouse-wide roles");
  principal->require_subcommand(1);
  auto* set = principal->add_subcommand(
      "set", "Give a principal a warehouse-wide role (reader, writer, owner, none)");
  set->add_option("NAME", *pname)->required();
  set->add_option("ROLE", *prole)
      ->required()
      ->check(CLI::IsMember({"reader", "writer", "owner", "none"}));
  set->callback([&ctx, pname, prole] {
    ctx.Run([&]() -> Status {
      Role role = Role::kNone;
      if (*prole != "none") {
        BF_ASSIGN_OR_RETURN(role, ParseRole(*prole));
      }
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
      BF_RETURN_IF_ERROR(w->SetPrincipalRole(*pname, role));
      ctx.Emit(fmt::format("{} is now a warehouse {}", *pname, *prole),
               Json{{"principal", *pname}, {"role", *prole}});
      return Status::Ok();
    });
  });
}

}  // namespace

void AddWarehouseCommands(CLI::App& app, Context& ctx) {
  AddInit(app, ctx);
  AddProject(app, ctx);
  AddDataset(app, ctx);
  AddTable(app, ctx);
  AddSchemas(app, ctx);
  AddLsShow(app, ctx);
  AddMaintainAudit(app, ctx);
}

}  // namespace backfill::cli
