// `backfill sink`: decode PubsubMessage files (error output included) into a project's live
// tables (ingest/sink.h). Prints per table and day what was read, written, errored and skipped,
// the files it could not read to the end, and the first record errors; --format json gives the
// same as one document. Exit codes: 0 when every record is accounted for; 1 when a record
// errored without --error-output (it is listed, not kept), when an input file was damaged, or
// when the run failed (infrastructure failures after retries: nothing of the failed batch is
// written, no error output is left); 2 for usage errors. Files the project's ledger says were
// loaded already are skipped and listed (--reload loads them again); filters that matched no
// record are warnings.
#include <iostream>

#include <fmt/format.h>

#include "cli/cli.h"
#include "cli/step_commands.h"
#include "ingest/sink.h"

namespace backfill::cli {
namespace {

std::string N(int64_t n) { return std::to_string(n); }

Json CountsJson(const ingest::SinkCounts& c) {
  return Json{
      {"read", c.read}, {"written", c.written}, {"errored", c.errored}, {"skipped", c.skipped}};
}

}  // namespace

Status RunCommand(Context& ctx, const SinkArgs& a) {
  BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(a.project)));
  if (a.threads < 1) return ctx.Usage(InvalidArgument("--threads must be at least 1"));
  ingest::SinkOptions o;
  o.inputs = a.inputs;
  o.project = a.project;
  o.error_output = a.error_output;
  o.error_types = a.error_types;
  if (!a.exclude.empty()) o.exclude_error_message = a.exclude;
  o.where = a.where;
  o.where_not = a.where_not;
  o.reload = a.reload;
  o.threads = a.threads;
  o.run_id = a.run_id;
  o.progress = ctx.Progress();
  BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
  auto result = ingest::Sink(*w, o);
  if (!result.ok() && result.status().code() == StatusCode::kInvalidArgument) {
    return ctx.Usage(result.status());
  }
  BF_ASSIGN_OR_RETURN(ingest::SinkReport r, std::move(result));

  std::vector<std::vector<std::string>> rows;
  Json items = Json::array();
  for (const auto& i : r.items) {
    std::string table = i.table.empty() ? "(unrouted)" : i.table;
    std::string date = i.date ? FormatDate(*i.date) : "NULL";
    rows.push_back({table, date, N(i.counts.read), N(i.counts.written), N(i.counts.errored),
                    N(i.counts.skipped)});
    Json item = CountsJson(i.counts);
    item["table"] = i.table.empty() ? Json(nullptr) : Json(i.table);
    item["date"] = i.date ? Json(FormatDate(*i.date)) : Json(nullptr);
    items.push_back(item);
  }
  rows.push_back({"total", "", N(r.totals.read), N(r.totals.written), N(r.totals.errored),
                  N(r.totals.skipped)});
  std::string text =
      RenderTable({"table", "date", "read", "written", "errored", "skipped (filter)"}, rows);
  double mb = static_cast<double>(r.input_bytes) / 1e6;
  text += fmt::format(
      "Read {} record(s) from {} file(s) ({:.1f} MB) in {:.2f}s: {} written ({} append(s)), {} "
      "errored, {} "
      "skipped by filters. read = written + errored + skipped holds.\n",
      r.totals.read, r.files.size(), mb, r.seconds, r.totals.written, r.appends, r.totals.errored,
      r.totals.skipped);
  if (r.beam_lines + r.raw_lines > 0) {
    text += fmt::format("Line shapes: {} beam, {} raw.\n", r.beam_lines, r.raw_lines);
  }
  Json skipped_files = Json::array();
  if (!r.skipped_files.empty()) {
    text += fmt::format(
        "Skipped {} input file(s) already loaded into {} (--reload loads them again):\n",
        r.skipped_files.size(), a.project);
    for (const auto& f : r.skipped_files) {
      text += fmt::format("  {}: {}\n", f.path, f.reason);
      skipped_files.push_back(
          {{"path", f.path}, {"sha256", f.sha256}, {"size", f.size}, {"reason", f.reason}});
    }
  }
  Json filters = Json::array();
  for (const auto& f : r.filters) filters.push_back({{"filter", f.filter}, {"matched", f.matched}});
  for (const auto& w : r.warnings) text += "Warning: " + w + "\n";
  if (!r.error_files.empty()) {
    text += fmt::format("Error output: {} record(s) in {} file(s):\n", r.error_lines_written,
                        r.error_files.size());
    for (const auto& f : r.error_files) text += "  " + f + "\n";
  }
  Json examples = Json::array();
  if (!r.examples.empty()) {
    text += fmt::format("Record errors (first {} of {}):\n", r.examples.size(), r.totals.errored);
    for (const auto& e : r.examples) {
      text += fmt::format("  {}:{}: [{}] {}\n", e.file, e.line, e.error_type, e.message);
      examples.push_back({{"file", e.file},
                          {"line", e.line},
                          {"table", e.table},
                          {"error_type", e.error_type},
                          {"message", e.message}});
    }
  }
  Json files = Json::array();
  std::vector<std::string> problems;
  for (const auto& f : r.files) {
    files.push_back({{"path", f.path},
                     {"records", f.records},
                     {"bytes", f.bytes},
                     {"problem", f.problem.empty() ? Json(nullptr) : Json(f.problem)}});
    if (!f.problem.empty()) problems.push_back(fmt::format("{}: {}", f.path, f.problem));
  }
  if (!problems.empty()) {
    text += fmt::format("Damaged input ({} file(s)):\n", problems.size());
    for (const auto& p : problems) text += "  " + p + "\n";
  }
  std::string failure;
  if (r.totals.errored > 0 && o.error_output.empty()) {
    failure = fmt::format(
        "{} record(s) could not be written and no --error-output was given to keep them",
        r.totals.errored);
  }
  if (!problems.empty()) {
    failure += (failure.empty() ? "" : "; ") +
               fmt::format("{} input file(s) could not be read to the end", problems.size());
  }
  ctx.Emit(text,
           Json{{"project", a.project},
                {"run_id", r.run_id},
                {"inputs", a.inputs},
                {"error_output", a.error_output.empty() ? Json(nullptr) : Json(a.error_output)},
                {"filters",
                 {{"error_types", a.error_types},
                  {"exclude_error_message", a.exclude.empty() ? Json(nullptr) : Json(a.exclude)},
                  {"where", a.where},
                  {"where_not", a.where_not},
                  {"matches", filters}}},
                {"reload", a.reload},
                {"skipped_files", skipped_files},
                {"line_shapes", {{"beam", r.beam_lines}, {"raw", r.raw_lines}}},
                {"warnings", r.warnings},
                {"threads", a.threads},
                {"items", items},
                {"totals", CountsJson(r.totals)},
                {"balanced", r.totals.Balanced()},
                {"appends", r.appends},
                {"files", files},
                {"error_files", r.error_files},
                {"error_lines_written", r.error_lines_written},
                {"examples", examples},
                {"input_bytes", r.input_bytes},
                {"seconds", r.seconds},
                {"ok", failure.empty()},
                {"failure", failure.empty() ? Json(nullptr) : Json(failure)}});
  if (!failure.empty()) {
    std::cerr << "backfill: error: " << failure << "\n";
    ctx.exit_code = kExitFailure;
  }
  return Status::Ok();
}

namespace {

void AddSink(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<SinkArgs>();
  auto* cmd = app.add_subcommand("sink",
                                 "Decode files of PubsubMessages (NDJSON, plain or gzip; error "
                                 "output included) into the live tables "
                                 "<namespace>_live.<doctype>_v<version> of a project; records that "
                                 "cannot be written go to error output");
  cmd->add_option("--input,-i", a->inputs,
                  "Files, directories (recursed) or glob patterns (repeatable)")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--project", a->project,
                  "Project holding the live tables (e.g. the backfill project)")
      ->required();
  cmd->add_option(
      "--error-output", a->error_output,
      "Error-output prefix: failed records go to DIR/error/<YYYY-MM-DD>/<HH>/sink-<run>.ndjson.gz");
  cmd->add_option(
         "--error-type", a->error_types,
         "Replay only messages whose error_type attribute is this (repeatable); others are skipped")
      ->allow_extra_args(false);
  cmd->add_option("--exclude-error-message", a->exclude,
                  "Skip messages whose error_message attribute matches this regular expression");
  cmd->add_option(
         "--where", a->where,
         "Replay only messages whose attribute matches: ATTR=VALUE or ATTR~REGEX, e.g. "
         "document_namespace=telemetry (repeatable; values of one attribute are alternatives)")
      ->allow_extra_args(false);
  cmd->add_option("--where-not", a->where_not,
                  "Skip messages whose attribute matches ATTR=VALUE or ATTR~REGEX (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag(
      "--reload", a->reload,
      "Load input files again even when the project's ledger says their content was loaded");
  cmd->add_option("--threads", a->threads, "Decoding threads (results do not depend on it)");
  cmd->add_option("--run-id", a->run_id,
                  "Names this run's error-output files (default: time and process id); a plan "
                  "passes its own, so a "
                  "redone step rewrites the same files instead of adding copies");
  cmd->callback([&ctx, a] { ctx.Run([&] { return RunCommand(ctx, *a); }); });
}

}  // namespace

void AddSinkCommands(CLI::App& app, Context& ctx) { AddSink(app, ctx); }

}  // namespace backfill::cli
