// `backfill errors summarize`: incident triage over error output, before any replay
// (ingest/error_summary.h). Reads error-output files of either sink (no warehouse needed) and
// prints per group (--by) the records and bytes with their class (infrastructure: replayable;
// data: stays in error output; unclassified) and the rule that decided it, the distinct error
// messages with counts and one example each, the lines it could not decode, and damaged files.
// --format csv prints the groups only; json everything. Rules: --rules FILE, then the
// warehouse's backfill.toml when it exists (its [[triage.rules]]), then the defaults.
// Exit codes: 0 when every file was read to the end (undecodable lines are part of the report,
// not a failure); 1 when a file was damaged (the report is still printed) or unreadable;
// 2 for usage errors (a bad --by, --dates or rules file).
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli/cli.h"
#include "core/text.h"
#include "ingest/error_summary.h"
#include "warehouse/warehouse.h"

namespace backfill::cli {
namespace {

namespace fs = std::filesystem;
using ingest::ErrorClass;
using ingest::ErrorDimension;

std::string N(int64_t n) { return std::to_string(n); }

struct SummarizeArgs {
  std::vector<std::string> inputs;
  std::string dates, by = "table,day,error_type", rules;
  int threads = 0;
};

// How a group's key value reads for people; JSON keeps null instead.
std::string Shown(ErrorDimension d, const std::string& v) {
  if (!v.empty()) return v;
  switch (d) {
    case ErrorDimension::kTable:
      return "(unrouted)";
    case ErrorDimension::kDay:
    case ErrorDimension::kHour:
      return "NULL";
    default:
      return "(none)";
  }
}

Json OrNull(const std::string& v) { return v.empty() ? Json(nullptr) : Json(v); }

void AddSummarize(CLI::App& errors, Context& ctx) {
  auto a = std::make_shared<SummarizeArgs>();
  auto* cmd = errors.add_subcommand("summarize",
                                    "Count error-output records per table, day, hour, error type "
                                    "or exception class, with bytes, the distinct "
                                    "error messages and a classification: infrastructure "
                                    "(replayable) or data (stays in error output)");
  cmd->add_option("ERROR_OUTPUT", a->inputs,
                  "Error-output files, directories (recursed) or glob patterns")
      ->required()
      ->expected(1, -1);
  cmd->add_option(
      "--dates", a->dates,
      "Only records whose submission_timestamp falls on these days: YYYY-MM-DD or A..B");
  cmd->add_option("--by", a->by,
                  "Group by these, comma-separated: table, day, hour, error_type, exception_class");
  cmd->add_option("--rules", a->rules,
                  "TOML file of classification rules ([[triage.rules]] name, field, contains, "
                  "class), tried first");
  cmd->add_option("--threads", a->threads,
                  "Reading threads (default: one per core; results do not depend on it)");
  cmd->callback([&ctx, a] {
    ctx.Run([&]() -> Status {
      ingest::ErrorSummaryOptions o;
      o.inputs = a->inputs;
      if (a->threads < 0) return ctx.Usage(InvalidArgument("--threads must be at least 1"));
      o.threads = a->threads;
      BF_ASSIGN_OR_RETURN(o.by, ctx.Usage(ingest::ParseErrorDimensions(a->by)));
      if (!a->dates.empty()) {
        BF_ASSIGN_OR_RETURN(o.dates, ctx.Usage(ParseDateRange(a->dates)));
      }
      std::vector<std::string> rule_files;
      if (!a->rules.empty()) {
        BF_ASSIGN_OR_RETURN(auto rules, ctx.Usage(ingest::LoadErrorRules(a->rules)));
        o.rules = std::move(rules);
        rule_files.push_back(a->rules);
      }
      const fs::path config = fs::path(ctx.warehouse_dir) / Warehouse::kConfigFile;
      if (std::error_code ec; fs::is_regular_file(config, ec)) {
        BF_ASSIGN_OR_RETURN(auto rules, ctx.Usage(ingest::LoadErrorRules(config)));
        o.rules.insert(o.rules.end(), rules.begin(), rules.end());
        if (!rules.empty()) rule_files.push_back(config.string());
      }
      BF_ASSIGN_OR_RETURN(ingest::ErrorSummary s, ingest::SummarizeErrors(o));

      std::vector<std::string> headers;
      for (auto d : s.by) headers.push_back(ingest::ErrorDimensionName(d));
      for (const char* h : {"class", "records", "bytes", "rule"}) headers.push_back(h);
      std::vector<std::vector<std::string>> rows;
      Json groups = Json::array();
      for (const auto& g : s.groups) {
        std::vector<std::string> row;
        Json item = Json::object();
        for (size_t i = 0; i < s.by.size(); ++i) {
          row.push_back(Shown(s.by[i], g.key[i]));
          item[ingest::ErrorDimensionName(s.by[i])] = OrNull(g.key[i]);
        }
        for (const std::string& c : {std::string(ingest::ErrorClassName(g.error_class)),
                                     N(g.records), N(g.bytes), g.rule}) {
          row.push_back(c);
        }
        item["class"] = ingest::ErrorClassName(g.error_class);
        item["records"] = g.records;
        item["bytes"] = g.bytes;
        item["rule"] = g.rule;
        groups.push_back(std::move(item));
        rows.push_back(std::move(row));
      }

      std::string text;
      if (ctx.format() == Format::kCsv) {
        rows.insert(rows.begin(), headers);
        for (const auto& r : rows) {
          std::vector<std::string> cells;
          for (const auto& c : r) cells.push_back(CsvCell(c));
          text += Join(cells, ",") + "\n";
        }
      } else {
        text += RenderTable(headers, rows);
        text += fmt::format(
            "{} record(s), {:.1f} MB of lines, in {} file(s) ({:.2f}s; {} beam, {} raw lines): {} "
            "infrastructure "
            "(replayable), {} data (stays in error output), {} unclassified.\n",
            s.records, s.bytes / 1e6, s.files.size(), s.seconds, s.beam_lines, s.raw_lines,
            s.per_class[static_cast<int>(ErrorClass::kInfrastructure)],
            s.per_class[static_cast<int>(ErrorClass::kData)],
            s.per_class[static_cast<int>(ErrorClass::kUnclassified)]);
        if (o.dates)
          text += fmt::format("{} record(s) outside {} not counted.\n", s.outside_dates,
                              o.dates->ToString());
        if (!s.messages.empty()) {
          text +=
              fmt::format("Error messages ({} distinct{}):\n", s.messages.size(),
                          s.other_messages ? fmt::format(", {} more record(s) beyond the first {}",
                                                         s.other_messages,
                                                         ingest::ErrorSummary::kMaxDistinctMessages)
                                           : "");
          for (const auto& m : s.messages) {
            text += fmt::format("  {} x [{}] {}: {}\n    e.g. {}:{}\n", m.records,
                                ingest::ErrorClassName(m.error_class),
                                m.error_type.empty() ? "(none)" : m.error_type, m.error_message,
                                m.example.file, m.example.line);
          }
        }
      }
      Json messages = Json::array();
      for (const auto& m : s.messages) {
        messages.push_back({{"error_type", OrNull(m.error_type)},
                            {"exception_class", OrNull(m.exception_class)},
                            {"error_message", OrNull(m.error_message)},
                            {"class", ingest::ErrorClassName(m.error_class)},
                            {"rule", m.rule},
                            {"records", m.records},
                            {"example", {{"file", m.example.file}, {"line", m.example.line}}}});
      }
      Json undecodable = Json::array();
      if (!s.undecodable.empty() && ctx.format() != Format::kCsv) {
        text += fmt::format("Undecodable lines ({}{}):\n", s.undecodable_lines,
                            s.undecodable_lines > static_cast<int64_t>(s.undecodable.size())
                                ? fmt::format(", the first {}", s.undecodable.size())
                                : "");
      }
      for (const auto& u : s.undecodable) {
        undecodable.push_back({{"file", u.file}, {"line", u.line}, {"reason", u.reason}});
        if (ctx.format() != Format::kCsv)
          text += fmt::format("  {}:{}: {}\n", u.file, u.line, u.reason);
      }
      Json files = Json::array();
      std::vector<std::string> problems;
      for (const auto& f : s.files) {
        files.push_back({{"path", f.path},
                         {"lines", f.lines},
                         {"bytes", f.bytes},
                         {"problem", OrNull(f.problem)}});
        if (!f.problem.empty()) problems.push_back(fmt::format("{}: {}", f.path, f.problem));
      }
      if (!problems.empty() && ctx.format() != Format::kCsv) {
        text += fmt::format("Damaged input ({} file(s)):\n", problems.size());
        for (const auto& p : problems) text += "  " + p + "\n";
      }
      Json by = Json::array();
      for (auto d : s.by) by.push_back(ingest::ErrorDimensionName(d));
      ctx.Emit(
          text,
          Json{{"inputs", a->inputs},
               {"dates", o.dates ? Json(o.dates->ToString()) : Json(nullptr)},
               {"by", by},
               {"rule_files", rule_files},
               {"groups", groups},
               {"totals",
                {{"records", s.records},
                 {"bytes", s.bytes},
                 {"infrastructure", s.per_class[static_cast<int>(ErrorClass::kInfrastructure)]},
                 {"data", s.per_class[static_cast<int>(ErrorClass::kData)]},
                 {"unclassified", s.per_class[static_cast<int>(ErrorClass::kUnclassified)]},
                 {"outside_dates", s.outside_dates},
                 {"undecodable_lines", s.undecodable_lines}}},
               {"line_shapes", {{"beam", s.beam_lines}, {"raw", s.raw_lines}}},
               {"messages", messages},
               {"other_messages", s.other_messages},
               {"undecodable", undecodable},
               {"files", files},
               {"seconds", s.seconds},
               {"ok", problems.empty()}});
      if (!problems.empty()) {
        std::cerr << "backfill: error: " << problems.size()
                  << " input file(s) could not be read to the end\n";
        ctx.exit_code = kExitFailure;
      }
      return Status::Ok();
    });
  });
}

}  // namespace

void AddErrorsCommands(CLI::App& app, Context& ctx) {
  auto* errors = app.add_subcommand("errors", "Triage error output before replaying it");
  errors->require_subcommand(1);
  AddSummarize(*errors, ctx);
}

}  // namespace backfill::cli
