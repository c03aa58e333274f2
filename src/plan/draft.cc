#include "plan/draft.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/text.h"
#include "plan/plan.h"

namespace backfill {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

std::string Quote(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);
  return out.str();
}

std::string QuoteList(const std::vector<std::string>& values) {
  std::vector<std::string> quoted;
  for (const auto& v : values) quoted.push_back(Quote(v));
  return "[" + Join(quoted, ", ") + "]";
}

// "contextual_services_live" -> "contextual-services"; empty when not a live dataset. The sink
// routes a namespace to SnakeCase(namespace) + "_live" (ingest/sink.cc, as gcp-ingestion does),
// which for Mozilla's lowercase, hyphenated namespaces is undone by reading '_' as '-'.
std::string NamespaceOf(const std::string& table) {
  std::string dataset = table.substr(0, table.find('.'));
  if (!EndsWith(dataset, "_live") || dataset.size() == 5) return "";
  std::string ns = dataset.substr(0, dataset.size() - 5);
  std::replace(ns.begin(), ns.end(), '_', '-');
  return ns;
}

std::vector<DateRange> Runs(const std::set<std::string>& days) {
  std::vector<DateRange> runs;
  for (const auto& text : days) {
    Date d = *ParseDate(text);  // checked by the caller
    if (!runs.empty() && std::chrono::sys_days(runs.back().last) + std::chrono::days(1) ==
                             std::chrono::sys_days(d)) {
      runs.back().last = d;
    } else {
      runs.push_back({d, d});
    }
  }
  return runs;
}

std::string PathFrom(const fs::path& plan_dir, const std::string& input) {
  fs::path abs = fs::absolute(input).lexically_normal();
  fs::path rel = abs.lexically_relative(fs::absolute(plan_dir).lexically_normal());
  return rel.empty() ? abs.string() : rel.string();
}

}  // namespace

Result<Draft> DraftErrorReplay(const Json& summary, const DraftOptions& o) {
  const std::string& file = o.summary_file;
  auto bad = [&](const std::string& why) {
    return InvalidArgument(fmt::format("{}: {}", file, why));
  };
  if (!summary.is_object() || !summary.contains("groups") || !summary.contains("by") ||
      !summary.contains("inputs")) {
    return bad("not a summary of `backfill errors summarize --format json` (no groups/by/inputs)");
  }
  std::set<std::string> by;
  for (const auto& d : summary["by"]) by.insert(d.get<std::string>());
  if (!by.count("table") || !by.count("day")) {
    return bad(fmt::format(
        "grouped by {}; a draft needs the table and the day of each group: run `backfill errors "
        "summarize ... --by table,day --format json` (error_type may be added)",
        Join(std::vector<std::string>(by.begin(), by.end()), ",")));
  }
  const bool by_error_type = by.count("error_type") > 0;

  std::map<std::string, int64_t> per_class;  // every record of the summary, by class
  std::map<std::string, int64_t> filtered;   // table -> records left out by the filter
  int64_t without_table = 0;
  std::set<std::string> tables, days, error_types, namespaces;
  bool every_group_has_error_type = true;
  Draft draft;
  for (const auto& g : summary["groups"]) {
    const std::string cls = g.value("class", "unclassified");
    const int64_t records = g.value("records", int64_t{0});
    per_class[cls] += records;
    if (cls == "data" || (cls == "unclassified" && !o.include_unclassified)) continue;
    if (!g["table"].is_string() || !g["day"].is_string()) {
      without_table += records;
      continue;
    }
    const std::string table = g["table"].get<std::string>();
    const std::string ns = NamespaceOf(table);
    if (ns.empty()) {
      without_table += records;
      continue;
    }
    if (!o.filter.Matches(table)) {
      filtered[table] += records;
      continue;
    }
    const std::string day = g["day"].get<std::string>();
    if (!ParseDate(day).ok()) return bad(fmt::format("group of {}: bad day '{}'", table, day));
    tables.insert(table);
    days.insert(day);
    namespaces.insert(ns);
    if (by_error_type && g["error_type"].is_string()) {
      error_types.insert(g["error_type"].get<std::string>());
    } else {
      every_group_has_error_type = false;
    }
    draft.records += records;
  }
  if (tables.empty()) {
    return bad(fmt::format(
        "nothing to replay: {} infrastructure, {} data, {} unclassified record(s){}{}",
        per_class["infrastructure"], per_class["data"], per_class["unclassified"],
        filtered.empty() ? "" : ", the rest left out by -o/-x",
        per_class["unclassified"] > 0 && !o.include_unclassified
            ? ". ingestion-sink's raw error output keeps no reason: if those records were good, "
              "draft with --include-unclassified and narrow the tables with -o/-x"
            : ""));
  }
  draft.tables.assign(tables.begin(), tables.end());
  draft.ranges = Runs(days);

  std::vector<std::string> inputs;
  for (const auto& i : summary["inputs"]) inputs.push_back(i.get<std::string>());
  std::error_code ec;
  const bool stage = inputs.size() == 1 && fs::is_directory(inputs[0], ec);
  if (!stage) {
    for (const auto& i : inputs) {
      if (!fs::exists(i, ec)) {
        return bad(fmt::format(
            "input {} is not here: draft from the folder `errors summarize` ran in", i));
      }
    }
  }

  const std::string first = FormatDate(draft.ranges.front().first),
                    last = FormatDate(draft.ranges.back().last);
  std::string inputs_text = Join(inputs, ", ");
  std::string command =
      o.command.empty()
          ? fmt::format("backfill plan new --template error-replay --from-triage {}", file)
          : o.command;
  std::replace(command.begin(), command.end(), '\n', ' ');  // it goes in a comment line
  std::string t = fmt::format(
      "# Drafted by `{}`\n# from the triage of {}: {} record(s) of {} table(s) on {} day(s) to "
      "replay.\n# Each value says where it came from. Read it, then: backfill plan THIS_FILE "
      "(preview),\n# backfill apply THIS_FILE.\n",
      command, inputs_text, draft.records, tables.size(), days.size());
  std::vector<std::string> left_out;
  if (per_class["data"] > 0) {
    left_out.push_back(
        fmt::format("{} record(s) of class data: they failed for a reason a replay does not fix",
                    per_class["data"]));
  }
  if (per_class["unclassified"] > 0 && !o.include_unclassified) {
    left_out.push_back(fmt::format(
        "{} unclassified record(s) (no reason kept): --include-unclassified replays them",
        per_class["unclassified"]));
  }
  for (const auto& [table, n] : filtered)
    left_out.push_back(fmt::format("{} record(s) of {}: left out by -o/-x", n, table));
  if (without_table > 0) {
    left_out.push_back(fmt::format(
        "{} record(s) not routed to a live table: nothing to replay them into", without_table));
  }
  for (const auto& l : left_out) t += "# Left out: " + l + "\n";
  t += fmt::format("name = {}\n", Quote(fmt::format("error-replay-{}-{}", first, last)));
  t += fmt::format(
      "reason = {}\n",
      Quote(fmt::format("Replay of {} record(s) that went to error output {}..{} (triage: {})",
                        draft.records, first, last, file)));
  t += fmt::format("author = {}\n", Quote(o.author));

  const std::string only = QuoteList(draft.tables);
  const std::string only_note = "# the tables that lost records";
  auto per_range = [&](auto&& emit) {
    for (const auto& r : draft.ranges) emit(r.ToString());
  };
  if (stage) {
    per_range([&](const std::string& range) {
      t += fmt::format(
          "\n[[step]]\nkind = \"stage\"\nfrom = {}  # the folder the summary read\nto = "
          "\"staged\"\ndates = {}  # days with records to replay\n",
          Quote(PathFrom(o.plan_dir, inputs[0])), Quote(range));
    });
  }
  t += fmt::format(
      "\n[[step]]\nkind = \"mirror\"\nfrom_project = {}  # --project\nto_project = {}  # "
      "--backfill-project\nonly = {}  {}\n",
      Quote(o.project), Quote(o.backfill_project), only, only_note);
  std::vector<std::string> sink_inputs;
  if (stage) {
    sink_inputs = {"staged"};
  } else {
    for (const auto& i : inputs) sink_inputs.push_back(PathFrom(o.plan_dir, i));
  }
  std::vector<std::string> where;
  for (const auto& ns : namespaces) where.push_back("document_namespace=" + ns);
  t += fmt::format(
      "\n[[step]]\nkind = \"sink\"\ninput = {}  # {}\nproject = {}\nerror_output = "
      "\"replay-errors\"  # records that fail again stay in error output\nwhere = {}  # the "
      "namespaces of those tables\n",
      QuoteList(sink_inputs), stage ? "what the stage steps copied" : "the summary's inputs",
      Quote(o.backfill_project), QuoteList(where));
  if (by_error_type && every_group_has_error_type) {
    t += fmt::format("error_type = {}  # the replayable error types of the summary\n",
                     QuoteList(std::vector<std::string>(error_types.begin(), error_types.end())));
  }
  per_range([&](const std::string& range) {
    t += fmt::format(
        "\n[[step]]\nkind = \"append\"  # only (document_id, day) production does not hold "
        "yet\nfrom_project = {}\nto_project = {}\nonly = {}  {}\ndates = {}\n",
        Quote(o.backfill_project), Quote(o.project), only, only_note, Quote(range));
  });
  per_range([&](const std::string& range) {
    t += fmt::format(
        "\n[[step]]\nkind = \"copy-deduplicate\"  # rebuild their stable days\nproject = {}\nonly "
        "= {}  {}\ndates = {}\n",
        Quote(o.project), only, only_note, Quote(range));
  });
  t += fmt::format("\n[[step]]\nkind = \"cleanup\"\nproject = {}\n{}", Quote(o.backfill_project),
                   stage ? "staged = \"staged\"\n" : "");
  draft.text = t;
  auto parsed = ParsePlan(draft.text, "the draft");
  if (!parsed.ok()) return Internal("drafted an invalid plan: " + parsed.status().message());
  return draft;
}

}  // namespace backfill
