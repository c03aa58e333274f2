#include "cli/cli.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include <fmt/format.h>

#include "core/sha256.h"

namespace backfill::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kRefused:
    case StatusCode::kPermissionDenied:
      return kExitRefused;
    default:
      return kExitFailure;
  }
}

Format Context::format() const {
  if (format_name == "json") return Format::kJson;
  if (format_name == "csv") return Format::kCsv;
  return Format::kTable;
}

const Clock& Context::clock() {
  if (!clock_) {
    const char* now = std::getenv("BACKFILL_NOW");
    if (now && *now) {
      auto ts = ParseTimestamp(now);
      if (ts.ok()) {
        clock_ = std::make_unique<FixedClock>(*ts);
      } else {
        std::cerr << "backfill: warning: ignoring BACKFILL_NOW: " << ts.status().message() << "\n";
      }
    }
    if (!clock_) clock_ = std::make_unique<SystemClock>();
  }
  return *clock_;
}

Result<Warehouse*> Context::Open(bool write, bool migrate) {
  if (borrowed) return borrowed;
  warehouse_.reset();  // releases the lock before taking it again
  OpenOptions o;
  o.principal = principal;
  o.clock = &clock();
  o.write = write;
  o.command = command_line;
  o.migrate = migrate;
  if (lock_timeout_seconds >= 0) {
    o.lock_timeout = std::chrono::milliseconds(static_cast<int64_t>(lock_timeout_seconds * 1000));
  }
  BF_ASSIGN_OR_RETURN(warehouse_, Warehouse::Open(warehouse_dir, o));
  if (write && recording) warehouse_->StartRecording();
  if (write && !recording && !request_id.empty()) {
    BF_ASSIGN_OR_RETURN(ReviewRequest r, RequestStore(warehouse_dir).Load(request_id));
    BF_RETURN_IF_ERROR(warehouse_->ActivateRequest(r));
  }
  return warehouse_.get();
}

// Runs the command twice: first recording what it would write, compared with the approved
// request (a difference refuses before anything changes), then for real, each write checked
// again against the request as it happens.
Status Context::RunUnderRequest(const std::function<Status()>& body) {
  BF_ASSIGN_OR_RETURN(ReviewRequest request, RequestStore(warehouse_dir).Load(request_id));
  BF_RETURN_IF_ERROR(request.CheckRunnable());
  recording = true;
  quiet = true;
  Status rehearsal = body();
  std::vector<std::string> would_run =
      warehouse_ ? warehouse_->recorded() : std::vector<std::string>{};
  recording = false;
  quiet = false;
  BF_RETURN_IF_ERROR(rehearsal);
  if (Sha256HexOfParts(would_run) != request.hash) {
    size_t i = 0;
    while (i < would_run.size() && i < request.statements.size() &&
           would_run[i] == request.statements[i])
      ++i;
    return Refused(fmt::format(
        "this command no longer runs what request {} approved (the data or the command changed "
        "since); nothing was "
        "changed. First difference at statement {}:\n  approved: {}\n  now:      {}\nRecord a new "
        "request.",
        request.id, i + 1, i < request.statements.size() ? request.statements[i] : "(none)",
        i < would_run.size() ? would_run[i] : "(none)"));
  }
  // The real run keeps the rehearsal's warehouse, so no other writer gets in between.
  if (!warehouse_) return Internal("the command did not open the warehouse");
  std::unique_ptr<Warehouse> held = std::move(warehouse_);
  held->StopRecording();
  BF_RETURN_IF_ERROR(held->ActivateRequest(request));
  borrowed = held.get();
  Status ran = body();
  borrowed = nullptr;
  warehouse_ = std::move(held);
  BF_RETURN_IF_ERROR(ran);
  BF_RETURN_IF_ERROR(warehouse_->FinishRequest());
  request.executed_at = clock().Now();
  BF_RETURN_IF_ERROR(RequestStore(warehouse_dir).Save(request));
  for (const auto& project : request.projects) {
    BF_RETURN_IF_ERROR(warehouse_->AuditEvent(
        project, "execute request", request.id,
        fmt::format("{} statement(s), sha256 {}", request.statements.size(), request.hash)));
  }
  return Status::Ok();
}

void Context::Emit(const std::string& text, const Json& json) {
  if (captured) {
    *captured = json;
    return;
  }
  if (quiet) return;
  if (format() == Format::kJson) {
    std::cout << json.dump(2) << "\n";
  } else if (!text.empty()) {
    std::cout << text;
    if (text.back() != '\n') std::cout << "\n";
  }
}

void Context::Note(const std::string& text) {
  if (step_progress) return step_progress(text);
  if (format() != Format::kJson && !quiet) std::cerr << text << "\n";
}

void Context::Run(const std::function<Status()>& body) {
  Status s;
  try {
    s = request_id.empty() || recording ? body() : RunUnderRequest(body);
  } catch (const std::exception& e) {
    s = Internal(e.what());
  }
  if (!recording) CloseWarehouse();  // a recording is read by `request create` afterwards
  if (s.ok()) return;
  if (quiet || captured) {  // a recording pass or a plan step reports through its caller
    exit_code = usage_error_ ? kExitUsage : ExitCodeFor(s);
    error_ = s;
    return;
  }
  exit_code = usage_error_ ? kExitUsage : ExitCodeFor(s);
  const char* kind = exit_code == kExitRefused ? "refused" : "error";
  if (format() == Format::kJson) {
    // stdout keeps at most the command's one result document (a refused plan's preview).
    std::cerr << Json{{"error",
                       {{"code", StatusCodeName(s.code())},
                        {"message", s.message()},
                        {"exit_code", exit_code}}}}
                     .dump(2)
              << "\n";
  } else {
    std::cerr << "backfill: " << kind << ": " << s.message() << "\n";
  }
}

std::function<void(std::string_view)> Context::Progress() {
  if (step_progress) return step_progress;
  if (!force_progress && !isatty(STDERR_FILENO)) return nullptr;
  return [this](std::string_view line) { Note(std::string(line)); };
}

Status Context::Usage(Status status) {
  if (!status.ok()) usage_error_ = true;
  return status;
}

void AddTableFilterFlags(CLI::App* cmd, TableFilter& filter) {
  cmd->add_option("-o,--only", filter.only,
                  "Only tables whose dataset.table matches this glob (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("-x,--exclude", filter.exclude,
                  "Leave out tables whose dataset.table matches this glob (repeatable)")
      ->allow_extra_args(false);
}

std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < headers.size(); ++i) {
      std::string c = i < cells.size() ? cells[i] : "";
      l += c;
      if (i + 1 < headers.size()) l += std::string(width[i] - c.size() + 2, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(headers);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& r : rows) line(r);
  return out;
}

std::string CsvCell(const std::optional<std::string>& v) {
  if (!v) return "";
  if (v->find_first_of(",\"\r\n") == std::string::npos) return *v;
  std::string out = "\"";
  for (char c : *v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

namespace {

std::string DefaultPrincipal() {
  if (const char* p = std::getenv("BACKFILL_PRINCIPAL"); p && *p) return p;
  if (struct passwd* pw = getpwuid(geteuid()); pw && pw->pw_name) return pw->pw_name;
  if (const char* u = std::getenv("USER"); u && *u) return u;
  return "unknown";
}

}  // namespace

std::unique_ptr<CLI::App> BuildApp(Context& ctx) {
  auto owned = std::make_unique<CLI::App>(
      "backfill: repair date-partitioned telemetry warehouses after incidents, safely.\n"
      "Every write is previewable, access-checked, audited and atomic.",
      "backfill");
  CLI::App& app = *owned;
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.require_subcommand(1);
  app.fallthrough();
  app.option_defaults()->always_capture_default();
  app.add_option("--warehouse,-w", ctx.warehouse_dir,
                 "Warehouse directory (env BACKFILL_WAREHOUSE)");
  app.add_option("--as", ctx.principal,
                 "Act as this principal (env BACKFILL_PRINCIPAL; default: OS user)");
  app.add_option("--format", ctx.format_name, "Output format")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  app.add_option(
      "--lock-timeout", ctx.lock_timeout_seconds,
      "Seconds to wait for another process to release the warehouse (default: from backfill.toml)");
  app.add_flag("--progress", ctx.force_progress,
               "Print per-day progress on stderr even when it is not a terminal");
  app.add_option("--request", ctx.request_id,
                 "Run a write into protected datasets under this approved request");
  AddWarehouseCommands(app, ctx);
  AddSqlCommands(app, ctx);
  AddReplayCommands(app, ctx);
  AddRescueCommands(app, ctx);
  AddPlanCommands(app, ctx);
  AddRenderCommands(app, ctx);
  AddSinkCommands(app, ctx);
  AddErrorsCommands(app, ctx);
  AddGapsCommands(app, ctx);
  return owned;
}

int RunApp(CLI::App& app, Context& ctx, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (ctx.format_name == "json") {
      std::cerr << Json{{"error",
                         {{"code", "usage"}, {"message", e.what()}, {"exit_code", kExitUsage}}}}
                       .dump(2)
                << "\n";
      return kExitUsage;
    }
    std::cerr << "backfill: usage: " << e.what() << "\n";
    std::cerr << "Run 'backfill --help' (or 'backfill COMMAND --help') for usage.\n";
    return kExitUsage;
  }
  return ctx.exit_code;
}

int Main(int argc, char** argv) {
  Context ctx;
  for (int i = 0; i < argc; ++i) ctx.command_line += (i ? " " : "") + std::string(argv[i]);
  const char* wh = std::getenv("BACKFILL_WAREHOUSE");
  ctx.warehouse_dir = wh && *wh ? wh : "./warehouse";
  ctx.principal = DefaultPrincipal();
  auto app = BuildApp(ctx);
  return RunApp(*app, ctx, argc, argv);
}

}  // namespace backfill::cli
