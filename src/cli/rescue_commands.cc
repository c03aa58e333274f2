// Commands of the time-travel rescue and of reviewed writes: snapshot, restore, validate,
// rerun, request create/approve/show/list.
#include <fmt/format.h>

#include "cli/cli.h"
#include "cli/step_commands.h"
#include "recover/rerun.h"
#include "recover/rescue.h"

namespace backfill::cli {
namespace {

std::string Label(const std::optional<Date>& d) { return d ? FormatDate(*d) : "(unpartitioned)"; }
Json DateJson(const std::optional<Date>& d) { return d ? Json(FormatDate(*d)) : Json(); }

Result<std::optional<DateRange>> OptionalRange(Context& ctx, const std::string& text) {
  if (text.empty()) return std::optional<DateRange>();
  BF_ASSIGN_OR_RETURN(DateRange r, ctx.Usage(ParseDateRange(text)));
  return std::optional<DateRange>(r);
}

}  // namespace

Status RunCommand(Context& ctx, const SnapshotArgs& a) {
  BF_ASSIGN_OR_RETURN(TableName source, ctx.Usage(ParseTableName(a.source)));
  BF_ASSIGN_OR_RETURN(TableName target, ctx.Usage(ParseTableName(a.target)));
  BF_ASSIGN_OR_RETURN(Timestamp as_of, ctx.Usage(ParseTimePoint(a.as_of, ctx.clock())));
  BF_ASSIGN_OR_RETURN(auto w, ctx.Open(!a.preview));
  BF_ASSIGN_OR_RETURN(SnapshotReport r, Snapshot(*w, source, as_of, target, a.preview));
  Timestamp now = ctx.clock().Now();
  std::string verb = a.preview ? "Would copy" : r.already_taken ? "Already taken:" : "Copied";
  std::string text =
      fmt::format("{} {} as of {} -> {}: {} rows in {} partition(s){}\n", verb, source.ToString(),
                  FormatTimestamp(as_of), target.ToString(), r.rows, r.partitions.size(),
                  r.created_dataset ? fmt::format(" (dataset {} created restricted, owned by {})",
                                                  target.Dataset().ToString(), w->principal())
                                    : "");
  text += fmt::format(
      "Deadline: {} as of {} stays readable until {} ({} from now); the snapshot keeps it "
      "after that.\n",
      source.ToString(), FormatTimestamp(as_of), FormatTimestamp(r.window_closes),
      FormatDuration(r.window_closes - now));
  Json parts = Json::array();
  for (const auto& p : r.partitions)
    parts.push_back({{"partition", DateJson(p.date)}, {"rows", p.rows}});
  ctx.Emit(text, Json{{"source", source.ToString()},
                      {"as_of", FormatTimestamp(as_of)},
                      {"target", target.ToString()},
                      {"rows", r.rows},
                      {"partitions", parts},
                      {"window_closes", FormatTimestamp(r.window_closes)},
                      {"created_dataset", r.created_dataset},
                      {"already_taken", r.already_taken},
                      {"dry_run", a.preview}});
  return Status::Ok();
}

Status RunCommand(Context& ctx, const RestoreArgs& a) {
  BF_ASSIGN_OR_RETURN(TableName snapshot, ctx.Usage(ParseTableName(a.snapshot)));
  BF_ASSIGN_OR_RETURN(TableName target, ctx.Usage(ParseTableName(a.target)));
  BF_ASSIGN_OR_RETURN(auto dates, OptionalRange(ctx, a.dates));
  BF_ASSIGN_OR_RETURN(auto w, ctx.Open(!a.preview));
  BF_ASSIGN_OR_RETURN(RestoreReport r,
                      RestoreMissingPartitions(*w, snapshot, target, dates, a.replace_partial,
                                               a.preview, ctx.Progress()));
  std::vector<std::vector<std::string>> rows;
  Json parts = Json::array();
  for (const auto& p : r.partitions) {
    rows.push_back({Label(p.date), RestoreStateName(p.state), std::to_string(p.snapshot_rows),
                    std::to_string(p.target_rows), p.action});
    parts.push_back({{"partition", DateJson(p.date)},
                     {"state", RestoreStateName(p.state)},
                     {"snapshot_rows", p.snapshot_rows},
                     {"target_rows_before", p.target_rows},
                     {"action", p.action},
                     {"target_rows_after", p.rows_after}});
  }
  using S = RestorePartition::State;
  std::string text =
      RenderTable({"partition", "state", "snapshot rows", "target rows", "action"}, rows);
  text += fmt::format("{} missing ({}), {} identical, {} partial{}\n", r.Count(S::kMissing),
                      a.preview ? "would insert" : fmt::format("inserted {} rows", r.rows_inserted),
                      r.Count(S::kPresent), r.Count(S::kPartial),
                      r.Count(S::kPartial) && !a.replace_partial
                          ? " (left alone: re-run with --replace-partial to replace them whole)"
                          : "");
  ctx.Emit(text, Json{{"snapshot", snapshot.ToString()},
                      {"target", target.ToString()},
                      {"partitions", parts},
                      {"rows_inserted", r.rows_inserted},
                      {"dry_run", a.preview}});
  return Status::Ok();
}

Status RunCommand(Context& ctx, const ValidateArgs& a) {
  BF_ASSIGN_OR_RETURN(TableName expected, ctx.Usage(ParseTableName(a.expected)));
  BF_ASSIGN_OR_RETURN(TableName actual, ctx.Usage(ParseTableName(a.actual)));
  BF_ASSIGN_OR_RETURN(auto dates, OptionalRange(ctx, a.dates));
  // Writable when possible, so the verdict can be stored on a snapshot.
  auto opened = ctx.Open(true);
  if (!opened.ok()) {
    BF_ASSIGN_OR_RETURN(opened, ctx.Open(false));
  }
  Warehouse* w = *opened;
  BF_ASSIGN_OR_RETURN(ValidationReport r, Validate(*w, expected, actual, dates, a.expected_days));
  std::vector<std::vector<std::string>> rows;
  Json parts = Json::array();
  for (const auto& p : r.partitions) {
    rows.push_back({Label(p.date), std::to_string(p.expected.rows), std::to_string(p.actual.rows),
                    p.match ? "ok" : "DIFFERS"});
    parts.push_back({{"partition", DateJson(p.date)},
                     {"expected_rows", p.expected.rows},
                     {"actual_rows", p.actual.rows},
                     {"expected_checksum", p.expected.checksum},
                     {"actual_checksum", p.actual.checksum},
                     {"match", p.match}});
  }
  std::string text;
  for (const auto& d : r.schema_differences) text += "schema: " + d + "\n";
  text += RenderTable({"partition", "expected rows", "actual rows", "content"}, rows);
  auto failed = r.FailedPartitions();
  text += r.passed ? fmt::format("PASSED: {} partition(s) identical\n", r.partitions.size())
                   : fmt::format("FAILED: {} partition(s) differ\n", failed.size());
  ctx.Emit(text, Json{{"expected", expected.ToString()},
                      {"actual", actual.ToString()},
                      {"passed", r.passed},
                      {"expected_days_only", a.expected_days},
                      {"schema_differences", r.schema_differences},
                      {"failed_partitions", failed},
                      {"partitions", parts},
                      {"verdict_recorded", r.recorded}});
  if (!r.passed) {
    std::string names;
    for (const auto& f : failed) names += (names.empty() ? "" : ", ") + f;
    return Status(StatusCode::kDataLoss,
                  fmt::format("validation of {} against {} failed{}{}", actual.ToString(),
                              expected.ToString(), names.empty() ? "" : ": partitions ",
                              names.empty() ? ": schemas differ" : names));
  }
  return Status::Ok();
}

Status RunCommand(Context& ctx, const RerunArgs& a) {
  BF_ASSIGN_OR_RETURN(TableName table, ctx.Usage(ParseTableName(a.table)));
  BF_ASSIGN_OR_RETURN(DateRange dates, ctx.Usage(ParseDateRange(a.dates)));
  BF_ASSIGN_OR_RETURN(auto w, ctx.Open(!a.preview));
  RerunOptions o{dates, a.preview, a.allow_data_loss, a.parallelism, ctx.Progress()};
  BF_ASSIGN_OR_RETURN(RerunReport r, Rerun(*w, table, o));
  std::vector<std::vector<std::string>> rows;
  Json days = Json::array();
  for (const auto& d : r.days) {
    std::string sources;
    Json src = Json::array();
    for (const auto& s : d.sources) {
      sources += (sources.empty() ? "" : "; ") + s.table.ToString() + " " + s.Describe();
      src.push_back({{"table", s.table.ToString()}, {"state", s.Describe()}, {"rows", s.rows}});
    }
    rows.push_back({FormatDate(d.date), std::to_string(d.rows_now), sources, d.action,
                    d.rows_after >= 0 ? std::to_string(d.rows_after) : "-"});
    days.push_back({{"date", FormatDate(d.date)},
                    {"rows_now", d.rows_now},
                    {"sources", src},
                    {"action", d.action},
                    {"refused", d.refused},
                    {"rows_after", d.rows_after >= 0 ? Json(d.rows_after) : Json()}});
  }
  std::string text = RenderTable({"date", "rows now", "sources", "action", "rows after"}, rows);
  if (a.preview && r.RefusedDays() > 0) {
    text += fmt::format(
        "{} date(s) would be refused: their sources are gone while the table holds rows.\n",
        r.RefusedDays());
  }
  ctx.Emit(text, Json{{"table", table.ToString()},
                      {"dry_run", a.preview},
                      {"days", days},
                      {"refused_days", r.RefusedDays()}});
  return Status::Ok();
}

namespace {

void AddSnapshot(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<SnapshotArgs>();
  auto* cmd = app.add_subcommand(
      "snapshot",
      "Copy a table as it was at a time into a restricted dataset (before the window closes)");
  cmd->add_option("TABLE", a->source, "project.dataset.table (dropped tables too)")->required();
  cmd->add_option("--as-of", a->as_of, "ISO timestamp, or relative: '12h ago', '2d ago'")
      ->required();
  cmd->add_option("--to", a->target, "project.dataset.table to create")->required();
  cmd->add_flag("--dry-run", a->preview, "Show what would be copied");
  cmd->callback([&ctx, a] { ctx.Run([&] { return RunCommand(ctx, *a); }); });
}

void AddRestore(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<RestoreArgs>();
  auto* cmd = app.add_subcommand("restore",
                                 "Insert back the partitions a table is missing, from a snapshot");
  cmd->add_option("SNAPSHOT", a->snapshot, "project.dataset.table holding the old data")
      ->required();
  cmd->add_option("--to", a->target, "project.dataset.table to repair")->required();
  cmd->add_flag("--missing-partitions")
      ->description("Insert only partitions absent from the target (required)")
      ->required();
  cmd->add_option("--dates", a->dates, "Only these days, A..B");
  cmd->add_flag("--replace-partial", a->replace_partial,
                "Also replace partitions that are present but differ");
  cmd->add_flag("--dry-run", a->preview, "Show what would be restored");
  cmd->callback([&ctx, a] { ctx.Run([&] { return RunCommand(ctx, *a); }); });
}

void AddValidate(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<ValidateArgs>();
  auto* cmd = app.add_subcommand(
      "validate", "Compare two tables partition by partition (rows and content checksums)");
  cmd->add_option("--expected", a->expected, "project.dataset.table (e.g. the snapshot)")
      ->required();
  cmd->add_option("--actual", a->actual, "project.dataset.table (e.g. the repaired table)")
      ->required();
  cmd->add_option("--dates", a->dates, "Only these days, A..B");
  cmd->add_flag(
      "--expected-days", a->expected_days,
      "Only the days --expected holds (a snapshot's partitions, after a restore from it): days the "
      "actual table gained since are not compared");
  cmd->callback([&ctx, a] { ctx.Run([&] { return RunCommand(ctx, *a); }); });
}

void AddRerun(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<RerunArgs>();
  auto* cmd = app.add_subcommand(
      "rerun", "Re-run a derived table's query for a date range, refusing to destroy data");
  cmd->add_option("TABLE", a->table, "project.dataset.table created with --query")->required();
  cmd->add_option("--dates", a->dates, "A..B")->required();
  cmd->add_option("--parallelism", a->parallelism, "DuckDB threads for the queries");
  cmd->add_flag("--dry-run", a->preview, "Per date: rows now, source availability, action");
  cmd->add_flag("--allow-data-loss", a->allow_data_loss,
                "Replace days even when their sources are gone");
  cmd->callback([&ctx, a] { ctx.Run([&] { return RunCommand(ctx, *a); }); });
}

std::string RequestText(const ReviewRequest& r) {
  std::string text = fmt::format(
      "Request {} by {} ({}), {}\n  command: {}\n  writes protected: {}\n  sha256: {}\n", r.id,
      r.author, FormatTimestamp(r.created_at), r.Status(), r.command,
      r.protected_datasets.empty() ? "(none)"
                                   : fmt::format("{}", fmt::join(r.protected_datasets, ", ")),
      r.hash);
  for (size_t i = 0; i < r.statements.size(); ++i)
    text += fmt::format("  [{}] {}\n", i + 1, r.statements[i]);
  if (r.approved_by)
    text +=
        fmt::format("  approved by {} at {}\n", *r.approved_by, FormatTimestamp(*r.approved_at));
  return text;
}

void AddRequest(CLI::App& app, Context& ctx) {
  auto* request = app.add_subcommand("request", "Reviewed writes into protected datasets");
  request->require_subcommand(1);

  auto args = std::make_shared<std::vector<std::string>>();
  auto* create = request->add_subcommand(
      "create", "Record the statements a command would run, for a second person to approve");
  create->add_option("COMMAND", *args, "the backfill command, after --")->required();
  create->callback([&ctx, args] {
    ctx.Run([&]() -> Status {
      Context inner;
      inner.warehouse_dir = ctx.warehouse_dir;
      inner.principal = ctx.principal;
      inner.lock_timeout_seconds = ctx.lock_timeout_seconds;
      inner.recording = true;
      inner.quiet = true;
      // The lock names this process's own command: a waiting writer must read "request create",
      // not a write that is only being recorded.
      inner.command_line = ctx.command_line;
      std::string recorded = "backfill";
      for (const auto& x : *args) recorded += " " + x;
      auto inner_app = BuildApp(inner);
      std::vector<std::string> argv_storage = {"backfill"};
      argv_storage.insert(argv_storage.end(), args->begin(), args->end());
      std::vector<char*> argv;
      for (auto& s : argv_storage) argv.push_back(s.data());
      int code = RunApp(*inner_app, inner, static_cast<int>(argv.size()), argv.data());
      if (code != kExitOk) {
        if (code == kExitUsage)
          return ctx.Usage(
              InvalidArgument("the command to record is not valid: " + inner.error().message()));
        return inner.error().WithContext("recording the command");
      }
      Warehouse* w = inner.warehouse();
      if (!w || w->recorded().empty()) {
        return InvalidArgument("the command would change nothing, so there is nothing to review");
      }
      ReviewRequest r;
      r.author = ctx.principal;
      r.created_at = ctx.clock().Now();
      r.command = recorded;
      r.statements = w->recorded();
      r.protected_datasets = w->recorded_protected();
      r.projects = w->recorded_projects();
      BF_ASSIGN_OR_RETURN(r, RequestStore(ctx.warehouse_dir).Create(r));
      for (const auto& p : r.projects) {
        BF_RETURN_IF_ERROR(w->AuditEvent(
            p, "request create", r.id,
            fmt::format("{} ({} statements, sha256 {})", r.command, r.statements.size(), r.hash)));
      }
      ctx.Emit(
          RequestText(r) +
              fmt::format(
                  "Next: a second principal reviews and runs `backfill request approve {} --as "
                  "REVIEWER`; then run the command again with `--request {}`.",
                  r.id, r.id),
          r.ToJson());
      return Status::Ok();
    });
  });

  auto id = std::make_shared<std::string>();
  auto* approve =
      request->add_subcommand("approve", "Approve a request (a principal other than its author)");
  approve->add_option("ID", *id)->required();
  approve->callback([&ctx, id] {
    ctx.Run([&]() -> Status {
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
      RequestStore store(ctx.warehouse_dir);
      BF_ASSIGN_OR_RETURN(ReviewRequest r, store.Load(*id));
      auto refuse = [&](Status why) {
        for (const auto& p : r.projects) why = w->AuditRefusal(p, "request approve", r.id, why);
        return why;
      };
      if (r.approved_by)
        return Refused(fmt::format("request {} was already approved by {}", r.id, *r.approved_by));
      if (ctx.principal == r.author) {
        return refuse(Refused(fmt::format(
            "{} wrote request {} and cannot approve it: a second principal must review it",
            r.author, r.id)));
      }
      for (const auto& ds : r.protected_datasets) {
        BF_ASSIGN_OR_RETURN(DatasetName name, ParseDatasetName(ds));
        if (Status s = w->CheckAccess(name, Role::kWriter); !s.ok()) {
          return refuse(PermissionDenied(fmt::format("{} may not approve writes into {}: {}",
                                                     ctx.principal, ds, s.message())));
        }
      }
      r.approved_by = ctx.principal;
      r.approved_at = ctx.clock().Now();
      BF_RETURN_IF_ERROR(store.Save(r));
      for (const auto& p : r.projects) {
        BF_RETURN_IF_ERROR(
            w->AuditEvent(p, "request approve", r.id, fmt::format("sha256 {}", r.hash)));
      }
      ctx.Emit(RequestText(r) + fmt::format("Approved. Run the command with `--request {}`.", r.id),
               r.ToJson());
      return Status::Ok();
    });
  });

  auto show_id = std::make_shared<std::string>();
  auto* show = request->add_subcommand("show", "Show a request's statements and state");
  show->add_option("ID", *show_id)->required();
  show->callback([&ctx, show_id] {
    ctx.Run([&]() -> Status {
      BF_ASSIGN_OR_RETURN(ReviewRequest r, RequestStore(ctx.warehouse_dir).Load(*show_id));
      ctx.Emit(RequestText(r), r.ToJson());
      return Status::Ok();
    });
  });
  auto* list = request->add_subcommand("list", "List requests");
  list->callback([&ctx] {
    ctx.Run([&]() -> Status {
      BF_ASSIGN_OR_RETURN(auto all, RequestStore(ctx.warehouse_dir).List());
      std::vector<std::vector<std::string>> rows;
      Json out = Json::array();
      for (const auto& r : all) {
        rows.push_back(
            {r.id, r.author, r.Status(), std::to_string(r.statements.size()), r.command});
        out.push_back(r.ToJson());
      }
      ctx.Emit(RenderTable({"id", "author", "status", "statements", "command"}, rows), out);
      return Status::Ok();
    });
  });
}

}  // namespace

void AddRescueCommands(CLI::App& app, Context& ctx) {
  AddSnapshot(app, ctx);
  AddRestore(app, ctx);
  AddValidate(app, ctx);
  AddRerun(app, ctx);
  AddRequest(app, ctx);
}

}  // namespace backfill::cli
