// Commands of the error-replay recovery: stage, mirror, append, copy-deduplicate, cleanup
// (recover/replay.h). Each prints a table for people or a JSON document with --format json;
// per-day progress goes to stderr (never in JSON mode). Safety refusals exit 3.
#include <filesystem>

#include <fmt/format.h>

#include "cli/cli.h"
#include "cli/step_commands.h"
#include "core/text.h"
#include "recover/replay.h"

namespace backfill::cli {
namespace {

std::string N(int64_t n) { return std::to_string(n); }

Json FilterJson(const TableFilter& f) { return Json{{"only", f.only}, {"exclude", f.exclude}}; }

}  // namespace

Status RunCommand(Context& ctx, const StageArgs& a) {
  StageOptions o;
  o.from = a.from;
  o.to = a.to;
  BF_ASSIGN_OR_RETURN(o.dates, ctx.Usage(ParseDateRange(a.dates)));
  if (a.threads < 1) return ctx.Usage(InvalidArgument("--threads must be at least 1"));
  o.threads = a.threads;
  o.progress = ctx.Progress();
  BF_ASSIGN_OR_RETURN(StageReport r, Stage(o));
  std::vector<std::vector<std::string>> rows;
  Json days = Json::array();
  for (const auto& d : r.days) {
    if (d.missing) {
      rows.push_back({FormatDate(d.date), "-", "-", "-", "-", "missing (no day folder)"});
    } else {
      rows.push_back(
          {FormatDate(d.date), N(d.files), N(d.copied), N(d.skipped_identical), N(d.bytes_copied),
           d.replaced ? fmt::format("{} differing copy(ies) replaced", d.replaced) : ""});
    }
    days.push_back({{"date", FormatDate(d.date)},
                    {"missing", d.missing},
                    {"files", d.files},
                    {"copied", d.copied},
                    {"replaced", d.replaced},
                    {"skipped_identical", d.skipped_identical},
                    {"bytes_copied", d.bytes_copied},
                    {"bytes_total", d.bytes_total}});
  }
  std::string summary = fmt::format(
      "Staged {} file(s) ({} bytes, size and CRC32 verified) from {} to {}; {} identical "
      "file(s) skipped; {} day(s) "
      "missing.",
      r.Copied(), r.BytesCopied(), r.source_root.string(), r.destination.string(), r.Skipped(),
      r.MissingDays());
  ctx.Emit(
      RenderTable({"date", "files", "copied", "skipped identical", "bytes copied", "note"}, rows) +
          summary,
      Json{{"source", r.source_root.string()},
           {"destination", r.destination.string()},
           {"days", days},
           {"summary",
            {{"copied", r.Copied()},
             {"skipped_identical", r.Skipped()},
             {"bytes_copied", r.BytesCopied()},
             {"missing_days", r.MissingDays()}}}});
  return Status::Ok();
}

Status RunCommand(Context& ctx, const MirrorArgs& a) {
  BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(a.from)));
  BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(a.to)));
  BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
  MirrorOptions o{a.from, a.to, a.filter, false};
  BF_ASSIGN_OR_RETURN(MirrorReport r, Mirror(*w, o));
  std::vector<std::vector<std::string>> rows;
  Json datasets = Json::array(), tables = Json::array();
  for (const auto& d : r.datasets) {
    datasets.push_back({{"dataset", d.target.ToString()},
                        {"source", d.source.ToString()},
                        {"restricted", d.restricted},
                        {"outcome", MirrorOutcomeName(d.outcome)}});
  }
  for (const auto& t : r.tables) {
    rows.push_back({t.target.ToString(), MirrorOutcomeName(t.outcome), Join(t.details, "; ")});
    tables.push_back({{"table", t.target.ToString()},
                      {"source", t.source.ToString()},
                      {"outcome", MirrorOutcomeName(t.outcome)},
                      {"details", t.details}});
  }
  int restricted = 0;
  for (const auto& d : r.datasets) restricted += d.restricted;
  std::string summary = fmt::format(
      "{}{} table(s) created, {} unchanged; {} dataset(s), {} restricted like their source.",
      r.project_created ? "Created project " + a.to + ". " : "", r.Count(MirrorOutcome::kCreated),
      r.Count(MirrorOutcome::kUnchanged), r.datasets.size(), restricted);
  ctx.Emit(RenderTable({"table", "outcome", "details"}, rows) + summary,
           Json{{"from_project", a.from},
                {"to_project", a.to},
                {"filter", FilterJson(a.filter)},
                {"project_created", r.project_created},
                {"datasets", datasets},
                {"tables", tables},
                {"summary",
                 {{"created", r.Count(MirrorOutcome::kCreated)},
                  {"unchanged", r.Count(MirrorOutcome::kUnchanged)}}}});
  return Status::Ok();
}

Status RunCommand(Context& ctx, const AppendArgs& a) {
  BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(a.from)));
  BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(a.to)));
  AppendOptions o;
  o.from_project = a.from;
  o.to_project = a.to;
  o.filter = a.filter;
  BF_ASSIGN_OR_RETURN(o.dates, ctx.Usage(ParseDateRange(a.dates)));
  o.progress = ctx.Progress();
  BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
  BF_ASSIGN_OR_RETURN(AppendReport r, AppendMissing(*w, o));
  std::vector<std::vector<std::string>> rows;
  Json items = Json::array();
  for (const auto& i : r.items) {
    rows.push_back({i.target.ToString(), FormatDate(i.date), N(i.candidates), N(i.already_present),
                    N(i.without_document_id), N(i.appended)});
    items.push_back({{"table", i.target.ToString()},
                     {"source", i.source.ToString()},
                     {"date", FormatDate(i.date)},
                     {"candidates", i.candidates},
                     {"already_present", i.already_present},
                     {"without_document_id", i.without_document_id},
                     {"appended", i.appended}});
  }
  std::string summary =
      fmt::format("Appended {} row(s) to {} ({} already present, not appended again).",
                  r.Appended(), a.to, r.AlreadyPresent());
  ctx.Emit(
      RenderTable(
          {"table", "date", "candidates", "already present", "without document_id", "appended"},
          rows) +
          summary,
      Json{{"from_project", a.from},
           {"to_project", a.to},
           {"filter", FilterJson(a.filter)},
           {"items", items},
           {"summary", {{"appended", r.Appended()}, {"already_present", r.AlreadyPresent()}}}});
  return Status::Ok();
}

Status RunCommand(Context& ctx, const CopyDedupArgs& a) {
  BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(a.project)));
  CopyDeduplicateOptions o;
  o.project = a.project;
  o.filter = a.filter;
  BF_ASSIGN_OR_RETURN(o.dates, ctx.Usage(ParseDateList(a.dates)));
  if (a.parallelism < 0) return ctx.Usage(InvalidArgument("--parallelism must be positive"));
  o.parallelism = a.parallelism;
  if (a.preceding_days < 0) return ctx.Usage(InvalidArgument("--preceding-days must be 0 or more"));
  if (a.slices < 1) return ctx.Usage(InvalidArgument("--slices must be 1 or more"));
  if (a.hourly && a.slices != 1 && a.slices != 24) {
    return ctx.Usage(InvalidArgument("--hourly means --slices 24; give one or the other"));
  }
  o.preceding_days = a.preceding_days;
  o.slices = a.hourly ? 24 : a.slices;
  o.allow_empty = a.allow_empty;
  o.preview = a.preview;
  o.progress = ctx.Progress();
  BF_ASSIGN_OR_RETURN(auto w, ctx.Open(!a.preview));
  BF_ASSIGN_OR_RETURN(CopyDeduplicateReport r, CopyDeduplicate(*w, o));
  std::vector<std::vector<std::string>> rows;
  Json items = Json::array();
  for (const auto& i : r.items) {
    if (a.preview) {
      rows.push_back({i.stable.ToString(), FormatDate(i.date), N(i.live_rows),
                      N(i.distinct_documents), N(i.stable_rows_before), DedupActionName(i.action)});
    } else {
      rows.push_back({i.stable.ToString(), FormatDate(i.date), N(i.live_rows),
                      N(i.duplicates_removed), N(i.stable_rows_before), N(i.stable_rows_after),
                      DedupActionName(i.action)});
    }
    items.push_back({{"table", i.stable.ToString()},
                     {"live_table", i.live.ToString()},
                     {"date", FormatDate(i.date)},
                     {"live_rows", i.live_rows},
                     {"distinct_documents", i.distinct_documents},
                     {"duplicates_removed", i.duplicates_removed},
                     {"stable_rows_before", i.stable_rows_before},
                     {"stable_rows_after", i.stable_rows_after},
                     {"action", DedupActionName(i.action)},
                     {"geo_deprecation", i.geo_deprecation},
                     {"note", i.note}});
  }
  std::string text;
  if (a.preview) {
    text = RenderTable(
        {"table", "date", "live rows", "distinct documents", "stable rows now", "action"}, rows);
    text += fmt::format(
        "Dry run: nothing was changed. {} partition(s) would be replaced, {} skipped, {} "
        "refused.",
        r.Count(DedupAction::kReplace) + r.Count(DedupAction::kReplaceWithEmpty),
        r.Count(DedupAction::kSkipBothEmpty), r.Count(DedupAction::kRefuse));
    for (const auto& i : r.items) {
      if (i.action == DedupAction::kRefuse)
        text += "\nwould refuse: " + i.note + " (override: --allow-empty)";
    }
  } else {
    text = RenderTable(
        {"table", "date", "live rows", "not copied", "stable before", "stable after", "action"},
        rows);
    text += fmt::format("Replaced {} partition(s); {} skipped (live and stable empty).",
                        r.Count(DedupAction::kReplace) + r.Count(DedupAction::kReplaceWithEmpty),
                        r.Count(DedupAction::kSkipBothEmpty));
  }
  ctx.Emit(text, Json{{"project", a.project},
                      {"dry_run", a.preview},
                      {"allow_empty", a.allow_empty},
                      {"preceding_days", o.preceding_days},
                      {"slices", o.slices},
                      {"parallelism", a.parallelism},
                      {"filter", FilterJson(a.filter)},
                      {"items", items}});
  return Status::Ok();
}

Status RunCommand(Context& ctx, const CleanupArgs& a) {
  BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(a.project)));
  BF_ASSIGN_OR_RETURN(auto w, ctx.Open(!a.preview));
  BF_ASSIGN_OR_RETURN(CleanupReport r, Cleanup(*w, {a.project, a.staged, a.preview}));
  std::vector<std::vector<std::string>> rows;
  Json tables = Json::array(), staged = Json::array(), left = Json::array();
  for (const auto& t : r.tables) {
    rows.push_back({t.name.ToString(), N(t.rows), FormatTimestamp(t.undrop_until)});
    tables.push_back({{"table", t.name.ToString()},
                      {"rows", t.rows},
                      {"undrop_until", FormatTimestamp(t.undrop_until)}});
  }
  for (const auto& p : r.staged_removed) staged.push_back(p.string());
  for (const auto& p : r.left_alone) left.push_back(p.string());
  const char* verb = a.preview ? "Would drop" : "Dropped";
  std::string text;
  if (r.tables.empty()) {
    text = fmt::format("No tables in project {}.\n", a.project);
  } else {
    text = fmt::format("{} {} table(s) of {}:\n", verb, r.tables.size(), a.project);
    text += RenderTable({"table", "rows", "undrop until"}, rows);
    text +=
        "Dropped tables stay readable by time travel and can be restored with `backfill table "
        "undrop "
        "TABLE` until the time shown.\n";
  }
  std::error_code ec;
  if (a.staged.empty()) {
    text += "No staging directory given (--staged).";
  } else if (!std::filesystem::exists(a.staged, ec) && r.staged_removed.empty()) {
    text +=
        fmt::format("Staging directory {} does not exist: no staged files to remove.", a.staged);
  } else {
    text += fmt::format("{} {} staged item(s) under {} ({} file(s), {} bytes)",
                        a.preview ? "Would remove" : "Removed", r.staged_removed.size(), a.staged,
                        r.staged_files, r.staged_bytes);
    text += r.staged_removed.empty() ? "." : ":";
    for (const auto& p : r.staged_removed) text += "\n  " + p.string();
    for (const auto& p : r.left_alone)
      text += "\n  left alone (not staged by backfill): " + p.string();
  }
  if (a.preview) text += "\nDry run: nothing was removed.";
  ctx.Emit(text, Json{{"project", a.project},
                      {"dry_run", a.preview},
                      {"tables", tables},
                      {"staged", a.staged},
                      {"staged_removed", staged},
                      {"staged_files", r.staged_files},
                      {"staged_bytes", r.staged_bytes},
                      {"left_alone", left}});
  return Status::Ok();
}

namespace {

void AddStage(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<StageArgs>();
  auto* cmd =
      app.add_subcommand("stage",
                         "Copy error-output day folders (<prefix>/error/<YYYY-MM-DD>/<HH>/*) to a "
                         "staging directory, verified");
  cmd->add_option("--from", a->from, "Error output: the error/ folder or its parent <prefix>")
      ->required();
  cmd->add_option("--to", a->to, "Staging directory; day folders are written directly under it")
      ->required();
  cmd->add_option("--dates", a->dates, "Days to stage: YYYY-MM-DD or A..B")->required();
  cmd->add_option("--threads", a->threads, "Files copied in parallel");
  cmd->callback([&ctx, a] { ctx.Run([&] { return RunCommand(ctx, *a); }); });
}

void AddMirror(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<MirrorArgs>();
  auto* cmd = app.add_subcommand("mirror",
                                 "Create in a backfill project the datasets and tables of a "
                                 "project: same schema, partitioning, "
                                 "clustering and access");
  cmd->add_option("--from-project", a->from, "Project to copy the layout of (production)")
      ->required();
  cmd->add_option("--to-project", a->to, "Backfill project (created if absent)")->required();
  AddTableFilterFlags(cmd, a->filter);
  cmd->callback([&ctx, a] { ctx.Run([&] { return RunCommand(ctx, *a); }); });
}

void AddAppend(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<AppendArgs>();
  auto* cmd = app.add_subcommand("append",
                                 "Append the rows of a backfill project whose (document_id, day) "
                                 "production does not hold yet");
  cmd->add_option("--from-project", a->from, "Backfill project holding the replayed rows")
      ->required();
  cmd->add_option("--to-project", a->to, "Production project to append to")->required();
  AddTableFilterFlags(cmd, a->filter);
  cmd->add_option("--dates", a->dates, "Days to append: YYYY-MM-DD or A..B")->required();
  cmd->callback([&ctx, a] { ctx.Run([&] { return RunCommand(ctx, *a); }); });
}

void AddCopyDeduplicate(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<CopyDedupArgs>();
  auto* cmd = app.add_subcommand("copy-deduplicate",
                                 "Rebuild days of <ns>_stable tables from <ns>_live by "
                                 "bigquery-etl's rule: one row per document_id "
                                 "at its earliest submission_timestamp (ties: the smallest row as "
                                 "JSON text), without automation-tagged "
                                 "pings, NULL document_ids or documents seen in the preceding "
                                 "days; Glean tables lose city and "
                                 "subdivisions");
  cmd->add_option("--project", a->project, "Project holding the live and stable tables")
      ->required();
  AddTableFilterFlags(cmd, a->filter);
  cmd->add_option("--dates", a->dates, "Days: YYYY-MM-DD [YYYY-MM-DD ...] or A..B")->required();
  cmd->add_option("--parallelism", a->parallelism,
                  "DuckDB worker threads for the run (each day's query runs in parallel; days run "
                  "one after another)");
  cmd->add_option("--preceding-days", a->preceding_days,
                  "Do not copy a document first seen in the N days before the day (default 0)");
  cmd->add_option(
      "--slices", a->slices,
      "Build each day in N time slices (BigQuery rendering; the rows are the same either way)");
  cmd->add_flag("--hourly", a->hourly, "Same as --slices 24");
  cmd->add_flag("--dry-run", a->preview,
                "Show per table and day what would change; change nothing");
  cmd->add_flag(
      "--allow-empty", a->allow_empty,
      "Replace a stable day even when its live day is empty (this empties the stable day)");
  cmd->callback([&ctx, a] { ctx.Run([&] { return RunCommand(ctx, *a); }); });
}

void AddCleanup(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<CleanupArgs>();
  auto* cmd = app.add_subcommand(
      "cleanup",
      "Remove what a replay left behind: the backfill project's tables (undroppable within the "
      "time-travel window) and the staged files");
  cmd->add_option("--project", a->project,
                  "The backfill project (refused if it holds a protected dataset)")
      ->required();
  cmd->add_option("--staged", a->staged, "Staging directory written by `backfill stage`");
  cmd->add_flag("--dry-run", a->preview, "Show everything that would be removed; remove nothing");
  cmd->callback([&ctx, a] { ctx.Run([&] { return RunCommand(ctx, *a); }); });
}

}  // namespace

void AddReplayCommands(CLI::App& app, Context& ctx) {
  AddStage(app, ctx);
  AddMirror(app, ctx);
  AddAppend(app, ctx);
  AddCopyDeduplicate(app, ctx);
  AddCleanup(app, ctx);
}

}  // namespace backfill::cli
