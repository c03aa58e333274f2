// The `backfill` command line: global options, the commands, output formats and exit codes.
// This is the only layer that prints or exits.
//
// Exit codes: 0 ok, 1 failure, 2 usage, 3 refused by a safety check (including permissions
// and time-travel windows), 130 interrupted.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/status.h"
#include "core/time.h"
#include "recover/replay.h"
#include "warehouse/warehouse.h"

namespace backfill::cli {

using Json = nlohmann::ordered_json;

enum class Format { kTable, kJson, kCsv };

constexpr int kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitRefused = 3;
int ExitCodeFor(const Status& status);

// What every command shares: the global options, the clock, and how to print.
class Context {
 public:
  std::string warehouse_dir;
  std::string principal;
  std::string format_name = "table";
  double lock_timeout_seconds = -1;  // < 0: the warehouse config's
  std::string command_line;
  std::string request_id;       // --request: run under this approved request
  bool recording = false;       // `request create`: record the writes instead of running them
  bool quiet = false;           // print nothing (a recording pass)
  bool force_progress = false;  // --progress: progress lines even when stderr is not a terminal
  int exit_code = kExitOk;
  // Set when a plan runs this command as one of its steps: the command uses the plan's
  // warehouse (opened once, its lock held for the whole plan), its JSON result goes to
  // `*captured`, its notes and progress lines to `step_progress`, and a failure is kept in
  // error() instead of printed.
  Warehouse* borrowed = nullptr;
  Json* captured = nullptr;
  std::function<void(std::string_view)> step_progress;

  Format format() const;
  const Clock& clock();
  // Opens the warehouse for reading or writing, as the current principal. The Context owns it
  // until the command ends (a second Open replaces it).
  // `migrate`: opens projects of an older storage format (for `backfill migrate`).
  Result<Warehouse*> Open(bool write, bool migrate = false);
  Warehouse* warehouse() { return borrowed ? borrowed : warehouse_.get(); }
  const Status& error() const { return error_; }  // the failure of a quiet (recording) run
  void CloseWarehouse() { warehouse_.reset(); }
  // Prints `text` for people, or `json` with --format json.
  void Emit(const std::string& text, const Json& json);
  // Prints a progress/status line on stderr for people (never in JSON mode).
  void Note(const std::string& text);
  // A step's progress callback: lines on a terminal's stderr, nothing when stderr is a file
  // or pipe (scripts and CI stay quiet) unless --progress asks for them.
  std::function<void(std::string_view)> Progress();
  // Runs a command body and turns its Status into output and an exit code.
  void Run(const std::function<Status()>& body);
  // Marks a failed argument parse as a usage error (exit 2) and passes the status on.
  Status Usage(Status status);
  template <typename T>
  Result<T> Usage(Result<T> result) {
    if (!result.ok()) usage_error_ = true;
    return result;
  }

 private:
  Status RunUnderRequest(const std::function<Status()>& body);

  std::unique_ptr<Clock> clock_;
  std::unique_ptr<Warehouse> warehouse_;
  bool usage_error_ = false;
  Status error_;
};

// Aligned columns for people.
std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);
// -o/--only and -x/--exclude: repeatable dataset.table globs.
void AddTableFilterFlags(CLI::App* cmd, TableFilter& filter);
// One CSV cell (RFC 4180 quoting when needed); a missing value is empty.
std::string CsvCell(const std::optional<std::string>& v);

// Registers the commands of each area. Each callback runs through Context::Run.
void AddWarehouseCommands(CLI::App& app, Context& ctx);  // warehouse_commands.cc
void AddSqlCommands(CLI::App& app, Context& ctx);        // sql_commands.cc: sql
void AddReplayCommands(CLI::App& app,
                       Context& ctx);  // replay_commands.cc: stage, mirror, append, ...
void AddRescueCommands(CLI::App& app, Context& ctx);  // rescue_commands.cc: snapshot, restore, ...
void AddPlanCommands(CLI::App& app, Context& ctx);    // plan_commands.cc: plan new, plan FILE
void AddRenderCommands(CLI::App& app,
                       Context& ctx);  // render_commands.cc: render FILE --target bigquery
void AddSinkCommands(CLI::App& app, Context& ctx);    // sink_commands.cc: sink
void AddErrorsCommands(CLI::App& app, Context& ctx);  // errors_commands.cc: errors summarize
void AddGapsCommands(CLI::App& app, Context& ctx);    // gaps_commands.cc: gaps

// Builds the whole command tree over `ctx` (also used to record a command inside
// `request create`).
std::unique_ptr<CLI::App> BuildApp(Context& ctx);
// Parses and runs; returns the exit code.
int RunApp(CLI::App& app, Context& ctx, int argc, char** argv);
int Main(int argc, char** argv);

}  // namespace backfill::cli
