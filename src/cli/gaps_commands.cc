// `backfill gaps`: which hours (or days) of the live and stable tables lost records, judged
// against the same hour on the surrounding days, and which stable days disagree with their live
// day (recover/gaps.h). Meant to gate a plan, so the exit code says it:
//   0  nothing flagged;
//   1  a hole or a disagreement (printed: table, day, hour, rows vs baseline), or no slot could
//      be judged because no baseline day holds rows (an error saying so, never "all clear");
//   2  usage errors.
// People see only the flagged slots and a summary; --format csv prints every slot, json
// everything; --html FILE also writes a page with a chart per table. `--render bigquery` prints
// the same counting queries as GoogleSQL instead of running them.
#include <algorithm>

#include <fmt/format.h>

#include "cli/cli.h"
#include "core/files.h"
#include "core/text.h"
#include "plan/report.h"
#include "recover/gaps.h"

namespace backfill::cli {
namespace {

struct GapsArgs {
  std::string project, dates, by = "hour", render, html;
  TableFilter filter;
  int baseline_days = 7;
  double threshold = 0.8;
};

std::string Hour(int h) { return h < 0 ? "-" : fmt::format("{:02d}:00", h); }
std::string Number(const std::optional<double>& v, const char* spec = "{:g}") {
  return v ? fmt::format(fmt::runtime(spec), *v) : "-";
}
Json OrNull(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

// "2020-03-02..2020-03-04, 2020-03-07" for a sorted list of days: runs of consecutive days
// shortened, so a summary line stays one line.
std::string Days(const std::vector<Date>& days) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < days.size();) {
    size_t j = i;
    while (j + 1 < days.size() && AddDays(days[j], 1) == days[j + 1]) ++j;
    parts.push_back(i == j ? FormatDate(days[i]) : DateRange{days[i], days[j]}.ToString());
    i = j + 1;
  }
  return parts.empty() ? "none" : Join(parts, ", ");
}

Json SlotJson(const GapsSlot& s) {
  return {{"table", s.table.ToString()},
          {"kind", GapsKindName(s.kind)},
          {"day", FormatDate(s.day)},
          {"hour", s.hour < 0 ? Json(nullptr) : Json(s.hour)},
          {"rows", s.rows},
          {"baseline", OrNull(s.baseline)},
          {"ratio", OrNull(s.ratio)},
          {"hole", s.hole}};
}

std::string Csv(const GapsReport& r) {
  std::string out = "table,kind,day,hour,rows,baseline,ratio,hole\n";
  for (const auto& s : r.slots) {
    out +=
        fmt::format("{},{},{},{},{},{},{},{}\n", CsvCell(s.table.ToString()), GapsKindName(s.kind),
                    FormatDate(s.day), s.hour < 0 ? "" : std::to_string(s.hour), s.rows,
                    s.baseline ? fmt::format("{:g}", *s.baseline) : "",
                    s.ratio ? fmt::format("{:g}", *s.ratio) : "", s.hole ? "true" : "false");
  }
  return out;
}

std::string Text(const GapsReport& r, Timestamp now) {
  const GapsOptions& o = r.options;
  const char* by = GapsGranularityName(o.by);
  std::string text;
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : r.Holes()) {
    rows.push_back({s.table.ToString(), GapsKindName(s.kind), FormatDate(s.day), Hour(s.hour),
                    std::to_string(s.rows), Number(s.baseline), Number(s.ratio, "{:.2f}")});
  }
  if (!rows.empty()) {
    text += fmt::format(
        "Holes: {}s with fewer rows than {:g} x the median of the same {} on the "
        "baseline days\n",
        by, o.threshold, by);
    text += RenderTable({"table", "kind", "day", "hour", "rows", "baseline", "ratio"}, rows);
  }
  rows.clear();
  for (const auto& d : r.disagreements) {
    rows.push_back({d.stable.ToString(), FormatDate(d.day), std::to_string(d.stable_rows),
                    std::to_string(d.live_documents), std::to_string(d.live_rows),
                    d.stable_rows < d.live_documents ? "stable is missing documents"
                                                     : "stable holds more than live"});
  }
  if (!rows.empty()) {
    text +=
        "Stable days that disagree with their live day (rows vs the documents "
        "copy-deduplicate keeps):\n";
    text += RenderTable(
        {"stable table", "day", "stable rows", "live documents", "live rows", "note"}, rows);
  }
  std::vector<std::string> without;
  for (const auto& t : r.TablesWithoutBaseline()) without.push_back(t.ToString());
  if (!without.empty() && r.CheckedSlots() > 0) {
    text +=
        fmt::format("Not judged (no baseline day holds rows of them): {}\n", Join(without, ", "));
  }
  for (const auto& s : r.skipped) text += "Skipped: " + s + "\n";
  if (r.not_ended > 0) {
    text += fmt::format("Left out: {} {} slot(s) not over yet (the clock says {}).\n", r.not_ended,
                        by, FormatTimestamp(now));
  }
  // How many candidate days each table's baseline had: one number when all agree.
  size_t least = r.candidate_baseline_days.size(), most = 0;
  for (const auto& t : r.tables) {
    least = std::min(least, t.baseline_days.size());
    most = std::max(most, t.baseline_days.size());
  }
  std::string used = least == most ? std::to_string(most) : fmt::format("{} to {}", least, most);
  text += fmt::format(
      "Checked {} of {} {} slot(s) of {} table(s) on {}; baseline: the median of the same {} on "
      "the candidate days {} that hold rows ({} of {} per table): {} hole(s), {} disagreeing "
      "stable day(s).\n",
      r.CheckedSlots(), r.slots.size(), by, r.tables.size(), o.dates.ToString(), by,
      Days(r.candidate_baseline_days), used, r.candidate_baseline_days.size(), r.Holes().size(),
      r.disagreements.size());
  return text;
}

Json ReportJson(const GapsReport& r) {
  Json tables = Json::array(), slots = Json::array(), disagreements = Json::array();
  for (const auto& t : r.tables) {
    Json days = Json::array();
    for (Date d : t.baseline_days) days.push_back(FormatDate(d));
    tables.push_back(
        {{"table", t.name.ToString()}, {"kind", GapsKindName(t.kind)}, {"baseline_days", days}});
  }
  for (const auto& s : r.slots) slots.push_back(SlotJson(s));
  for (const auto& d : r.disagreements) {
    disagreements.push_back({{"live", d.live.ToString()},
                             {"stable", d.stable.ToString()},
                             {"day", FormatDate(d.day)},
                             {"live_rows", d.live_rows},
                             {"live_documents", d.live_documents},
                             {"stable_rows", d.stable_rows}});
  }
  Json holes = Json::array();
  for (const auto& s : r.Holes()) holes.push_back(SlotJson(s));
  Json candidates = Json::array();
  for (Date d : r.candidate_baseline_days) candidates.push_back(FormatDate(d));
  return {{"project", r.options.project},
          {"dates", r.options.dates.ToString()},
          {"by", GapsGranularityName(r.options.by)},
          {"threshold", r.options.threshold},
          {"baseline", "median"},
          {"candidate_baseline_days", candidates},
          {"tables", tables},
          {"holes", holes},
          {"disagreements", disagreements},
          {"slots", slots},
          {"skipped", r.skipped},
          {"not_ended", r.not_ended},
          {"checked_slots", r.CheckedSlots()},
          {"has_hole", r.HasHole()}};
}

Status Render(Context& ctx, Warehouse& w, const GapsOptions& o) {
  BF_ASSIGN_OR_RETURN(auto queries, RenderGapsBigQuery(w, o));
  std::string text;
  Json json = Json::array();
  for (const auto& q : queries) {
    text += fmt::format("-- {} ({}): {}\n{}\n", q.table.ToString(), GapsKindName(q.kind), q.what,
                        q.sql);
    json.push_back({{"table", q.table.ToString()},
                    {"kind", GapsKindName(q.kind)},
                    {"what", q.what},
                    {"sql", q.sql}});
  }
  ctx.Emit(text, json);
  return Status::Ok();
}

}  // namespace

void AddGapsCommands(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<GapsArgs>();
  auto* cmd = app.add_subcommand(
      "gaps",
      "Find the hours (or days) of live and stable tables that lost records, against the same "
      "hour on the surrounding days, and stable days that disagree with their live day; exit 1 "
      "when one is found");
  cmd->add_option("PROJECT", a->project, "Project whose <ns>_live tables are checked")->required();
  // A live table is checked when it or its stable twin matches.
  AddTableFilterFlags(cmd, a->filter);
  cmd->add_option("--dates", a->dates, "Days to check: YYYY-MM-DD or A..B")->required();
  cmd->add_option("--baseline-days", a->baseline_days,
                  "Days before and after the range compared with (those holding rows)");
  cmd->add_option("--by", a->by, "Slot size: hour or day");
  cmd->add_option("--threshold", a->threshold,
                  "A slot below this fraction of its baseline is a hole");
  cmd->add_option("--render", a->render,
                  "Print the counting queries for this engine instead of running them: bigquery");
  cmd->add_option("--html", a->html,
                  "Also write the report as an HTML page: per table, a chart of rows per day over "
                  "the range and its baseline days");
  cmd->callback([&ctx, a] {
    ctx.Run([&]() -> Status {
      GapsOptions o;
      BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(a->project)));
      o.project = a->project;
      o.filter = a->filter;
      BF_ASSIGN_OR_RETURN(o.dates, ctx.Usage(ParseDateRange(a->dates)));
      BF_ASSIGN_OR_RETURN(o.by, ctx.Usage(ParseGapsGranularity(a->by)));
      if (a->baseline_days < 1)
        return ctx.Usage(InvalidArgument("--baseline-days must be at least 1"));
      if (!(a->threshold > 0 && a->threshold <= 1))
        return ctx.Usage(InvalidArgument("--threshold must be more than 0 and at most 1"));
      if (!a->render.empty() && a->render != "bigquery")
        return ctx.Usage(InvalidArgument("--render must be bigquery"));
      o.baseline_days = a->baseline_days;
      o.threshold = a->threshold;
      BF_ASSIGN_OR_RETURN(auto w, ctx.Open(false));
      if (!a->render.empty()) return Render(ctx, *w, o);

      BF_ASSIGN_OR_RETURN(GapsReport r, Gaps(*w, o));
      Json json = ReportJson(r);
      std::string text = ctx.format() == Format::kCsv ? Csv(r) : Text(r, ctx.clock().Now());
      if (!a->html.empty()) {
        BF_RETURN_IF_ERROR(WriteFileAtomically(a->html, GapsReportHtml(r)));
        json["html"] = a->html;
        if (ctx.format() == Format::kTable) text += fmt::format("\nReport: {}", a->html);
      }
      ctx.Emit(text, json);
      if (r.slots.empty()) {
        return NotFound(fmt::format("no {} of {} is over yet (the clock says {})",
                                    GapsGranularityName(o.by), o.dates.ToString(),
                                    FormatTimestamp(ctx.clock().Now())));
      }
      if (r.CheckedSlots() == 0) {
        // Every slot would look normal (or missing) for want of a comparison: fail closed.
        return NotFound(fmt::format(
            "no baseline: none of the candidate baseline days {} holds rows of the {} table(s), "
            "so no {} could be judged; choose --dates with loaded days around them or a larger "
            "--baseline-days",
            Days(r.candidate_baseline_days), r.tables.size(), GapsGranularityName(o.by)));
      }
      if (r.HasHole()) ctx.exit_code = kExitFailure;
      return Status::Ok();
    });
  });
}

}  // namespace backfill::cli
