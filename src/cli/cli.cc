#include "cli/cli.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include <fmt/format.h>

namespace backfill::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kRefused:
    case StatusCode::kPermissionDenied: return kExitRefused;
    default: return kExitFailure;
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

Result<std::unique_ptr<Warehouse>> Context::Open(bool write) {
  OpenOptions o;
  o.principal = principal;
  o.clock = &clock();
  o.write = write;
  o.command = command_line;
  if (lock_timeout_seconds >= 0) {
    o.lock_timeout = std::chrono::milliseconds(static_cast<int64_t>(lock_timeout_seconds * 1000));
  }
  return Warehouse::Open(warehouse_dir, o);
}

void Context::Emit(const std::string& text, const Json& json) {
  if (format() == Format::kJson) {
    std::cout << json.dump(2) << "\n";
  } else if (!text.empty()) {
    std::cout << text;
    if (text.back() != '\n') std::cout << "\n";
  }
}

void Context::Note(const std::string& text) {
  if (format() != Format::kJson) std::cerr << text << "\n";
}

void Context::Run(const std::function<Status()>& body) {
  Status s;
  try {
    s = body();
  } catch (const std::exception& e) {
    s = Internal(e.what());
  }
  if (s.ok()) return;
  exit_code = usage_error_ ? kExitUsage : ExitCodeFor(s);
  const char* kind = exit_code == kExitRefused ? "refused" : "error";
  std::cerr << "backfill: " << kind << ": " << s.message() << "\n";
  if (format() == Format::kJson) {
    std::cout << Json{{"error", {{"code", StatusCodeName(s.code())}, {"message", s.message()}, {"exit_code", exit_code}}}}.dump(2)
              << "\n";
  }
}

Status Context::Usage(Status status) {
  if (!status.ok()) usage_error_ = true;
  return status;
}

std::string RenderTable(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
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

namespace {

std::string DefaultPrincipal() {
  if (const char* p = std::getenv("BACKFILL_PRINCIPAL"); p && *p) return p;
  if (struct passwd* pw = getpwuid(geteuid()); pw && pw->pw_name) return pw->pw_name;
  if (const char* u = std::getenv("USER"); u && *u) return u;
  return "unknown";
}

}  // namespace

int Main(int argc, char** argv) {
  Context ctx;
  for (int i = 0; i < argc; ++i) ctx.command_line += (i ? " " : "") + std::string(argv[i]);
  const char* wh = std::getenv("BACKFILL_WAREHOUSE");
  ctx.warehouse_dir = wh && *wh ? wh : "./warehouse";
  ctx.principal = DefaultPrincipal();

  CLI::App app{"backfill: repair date-partitioned telemetry warehouses after incidents, safely.\n"
               "Every write is previewable, access-checked, audited and atomic.",
               "backfill"};
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.require_subcommand(1);
  app.fallthrough();
  app.option_defaults()->always_capture_default();
  app.add_option("--warehouse,-w", ctx.warehouse_dir, "Warehouse directory (env BACKFILL_WAREHOUSE)");
  app.add_option("--as", ctx.principal, "Act as this principal (env BACKFILL_PRINCIPAL; default: OS user)");
  app.add_option("--format", ctx.format_name, "Output format")->check(CLI::IsMember({"table", "json", "csv"}));
  app.add_option("--lock-timeout", ctx.lock_timeout_seconds,
                 "Seconds to wait for another process to release the warehouse (default: from backfill.toml)");
  AddWarehouseCommands(app, ctx);
  AddReplayCommands(app, ctx);
  AddRescueCommands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "backfill: usage: " << e.what() << "\n";
    std::cerr << "Run 'backfill --help' (or 'backfill COMMAND --help') for usage.\n";
    return kExitUsage;
  }
  return ctx.exit_code;
}

}  // namespace backfill::cli
