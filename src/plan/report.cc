#include "plan/report.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace backfill {
namespace {

std::string Html(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Markdown table cells must not break the table.
std::string Cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

// The start of a self-contained page, up to <body>, in the style of every report.
std::string PageHead(const std::string& title) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n"
      "<style>"
      "body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}"
      "table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:2px "
      "8px;font-size:13px}}"
      "td.n{{text-align:right}}.ok{{color:#167a2b}}.bad{{color:#b00020;font-weight:bold}}</style></"
      "head><body>\n",
      Html(title));
}

std::string DayLabel(const std::string& day) { return day.empty() ? "(unpartitioned)" : day; }
std::string Time(const std::optional<Timestamp>& t) { return t ? FormatTimestamp(*t) : "-"; }

std::string Delta(int64_t before, int64_t after) {
  if (after == before) return "=";
  return after > before ? fmt::format("+{}", after - before) : fmt::format("{}", after - before);
}

int64_t Total(const PlanReport::TableRows& t, bool after) {
  int64_t n = 0;
  for (const auto& [_, v] : t.days) n += after ? v.second : v.first;
  return n;
}

std::string Verdict(const PlanReport& r) {
  int failed_steps = 0;
  for (const auto& s : r.steps) failed_steps += s.state != StepState::kDone;
  int failed_validations = 0;
  for (const auto& v : r.validations) failed_validations += !v.passed;
  if (failed_steps == 0 && failed_validations == 0) {
    return fmt::format("All {} step(s) done{}.", r.steps.size(),
                       r.validations.empty()
                           ? ""
                           : fmt::format("; {} validation(s) passed", r.validations.size()));
  }
  return fmt::format("{} step(s) not done, {} validation(s) failed.", failed_steps,
                     failed_validations);
}

}  // namespace

std::string SummarizeStepResult(const PlanJson& result) {
  // The figures (counts, verdicts), not the echo of the options.
  static const std::set<std::string> kEcho = {"dry_run", "parallelism", "threads", "allow_empty",
                                              "replace_partial"};
  std::vector<std::string> parts;
  auto add = [&](const PlanJson& obj) {
    for (const auto& [key, value] : obj.items()) {
      if (kEcho.count(key)) continue;
      if (value.is_number_integer() || (value.is_boolean() && value.get<bool>())) {
        parts.push_back(fmt::format("{}={}", key, value.dump()));
      }
    }
  };
  if (result.is_object()) {
    add(result);
    for (const auto& [key, value] : result.items()) {
      if (value.is_object() && (key == "totals" || key == "total")) add(value);
    }
    // Per table-and-day items (append, copy-deduplicate, ...): their figures summed.
    if (result.contains("items") && result["items"].is_array() && !result.contains("totals")) {
      std::map<std::string, int64_t> sums;
      std::vector<std::string> order;
      for (const auto& item : result["items"]) {
        if (!item.is_object()) continue;
        for (const auto& [key, value] : item.items()) {
          if (!value.is_number_integer() || kEcho.count(key)) continue;
          if (!sums.count(key)) order.push_back(key);
          sums[key] += value.get<int64_t>();
        }
      }
      parts.push_back(fmt::format("items={}", result["items"].size()));
      for (const auto& key : order) parts.push_back(fmt::format("{}={}", key, sums[key]));
    }
    // The sink's files skipped by its ledger, and warnings (a filter that matched nothing).
    if (result.contains("skipped_files") && result["skipped_files"].is_array() &&
        !result["skipped_files"].empty()) {
      parts.push_back(fmt::format("files_already_loaded={}", result["skipped_files"].size()));
    }
    if (result.contains("warnings") && result["warnings"].is_array()) {
      for (const auto& w : result["warnings"]) {
        if (w.is_string()) parts.push_back("WARNING: " + w.get<std::string>());
      }
    }
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

PlanReport MakeReport(const Plan& plan, const Journal& journal, const RowCounts& after,
                      const std::set<std::string>& changed_tables,
                      const std::vector<AuditEntry>& audit) {
  PlanReport r;
  r.plan = plan.name;
  r.reason = plan.reason;
  r.author = plan.author;
  r.principal = journal.principal;
  r.approved_by = journal.approved_by;
  r.sha256 = journal.sha256;
  r.started_at = journal.started_at;
  r.finished_at = journal.finished_at;
  for (size_t i = 0; i < plan.steps.size() && i < journal.steps.size(); ++i) {
    const JournalStep& js = journal.steps[i];
    r.steps.push_back({plan.steps[i].Label(i), js.kind, js.state,
                       js.state == StepState::kFailed ? js.error : SummarizeStepResult(js.result),
                       js.attempts});
    if (js.kind == StepKind::kValidate && js.result.is_object() && js.result.contains("passed")) {
      PlanReport::Validation v;
      v.expected = js.result.value("expected", "");
      v.actual = js.result.value("actual", "");
      v.passed = js.result.value("passed", false);
      if (js.result.contains("partitions"))
        v.partitions = static_cast<int>(js.result["partitions"].size());
      v.failed_partitions = js.result.value("failed_partitions", std::vector<std::string>{});
      r.validations.push_back(std::move(v));
    }
  }
  for (const auto& table : changed_tables) {
    PlanReport::TableRows t;
    t.table = table;
    auto b = journal.before.find(table);
    auto a = after.find(table);
    t.dropped = a == after.end();
    if (b != journal.before.end()) {
      for (const auto& [day, rows] : b->second) t.days[day].first = rows;
    }
    if (a != after.end()) {
      for (const auto& [day, rows] : a->second) t.days[day].second = rows;
    }
    r.tables.push_back(std::move(t));
  }
  r.audit = audit;
  return r;
}

std::string RowsChartSvg(const PlanReport::TableRows& t) {
  const int bar = 7, gap = 4, left = 60, top = 10, height = 120, bottom = 46;
  int n = static_cast<int>(t.days.size());
  int width = std::max(320, left + n * (2 * bar + gap) + 20);
  int64_t max_rows = 1;
  for (const auto& [_, v] : t.days) max_rows = std::max({max_rows, v.first, v.second});
  auto h = [&](int64_t rows) {
    return static_cast<int>(static_cast<double>(rows) * height / static_cast<double>(max_rows));
  };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" "
      "aria-label=\"rows per day of {} before and after\" font-family=\"sans-serif\" "
      "font-size=\"10\">\n",
      width, top + height + bottom, Html(t.table));
  svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", left,
                     top + height, width - 10, top + height);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 4, top + 8,
                     max_rows);
  svg +=
      fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>\n", left - 4, top + height);
  int x = left + gap;
  int i = 0;
  for (const auto& [day, v] : t.days) {
    auto [before, after] = v;
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#bbb\"><title>{} before: "
        "{}</title></rect>\n",
        x, top + height - h(before), bar, h(before), DayLabel(day), before);
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{} after: "
        "{}</title></rect>\n",
        x + bar, top + height - h(after), bar, h(after), after != before ? "#1f6fd1" : "#7fa7d9",
        DayLabel(day), after);
    // Label every day when few, else every seventh, so labels never overlap.
    if (n <= 10 || i % 7 == 0) {
      int lx = x + bar, ly = top + height + 8;
      // MM-DD: full dates would overlap (the bar's title holds the whole date).
      std::string label = day.size() == 10 ? day.substr(5) : DayLabel(day);
      svg += fmt::format("<text x=\"{}\" y=\"{}\" transform=\"rotate(60 {} {})\">{}</text>\n", lx,
                         ly, lx, ly, Html(label));
    }
    x += 2 * bar + gap;
    ++i;
  }
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"#bbb\"/><text x=\"{}\" "
      "y=\"{}\">before</text>\n",
      width - 120, 2, width - 108, 10);
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"#1f6fd1\"/><text x=\"{}\" "
      "y=\"{}\">after</text>\n",
      width - 60, 2, width - 48, 10);
  svg += "</svg>\n";
  return svg;
}

std::string ReportMarkdown(const PlanReport& r) {
  std::string md = fmt::format("# Plan {}\n\n{}\n\n", r.plan, r.reason);
  md += fmt::format("- Author: {}; applied by {}; {}\n", r.author,
                    r.principal.empty() ? "-" : r.principal,
                    r.approved_by.empty() ? "no approval needed" : "approved by " + r.approved_by);
  md += fmt::format("- Plan sha256: `{}`\n- Started {}, finished {}\n\n**{}**\n\n", r.sha256,
                    Time(r.started_at), Time(r.finished_at), Verdict(r));
  md += "## Steps\n\n| step | state | attempts | result |\n|---|---|---|---|\n";
  for (const auto& s : r.steps)
    md +=
        fmt::format("| {} | {} | {} | {} |\n", Cell(s.label), s.state, s.attempts, Cell(s.summary));
  md += "\n## Rows per table and day\n\n";
  if (r.tables.empty()) md += "No table changed.\n";
  std::vector<std::string> transient;
  for (const auto& t : r.tables) {
    if (t.days.empty()) {
      transient.push_back(t.table);
      continue;
    }
    md += fmt::format(
        "### `{}`{}\n\nTotal: {} before, {} after ({}).\n\n| day | before | after | change "
        "|\n|---|---:|---:|---:|\n",
        t.table, t.dropped ? " (dropped)" : "", Total(t, false), Total(t, true),
        Delta(Total(t, false), Total(t, true)));
    for (const auto& [day, v] : t.days) {
      md += fmt::format("| {} | {} | {} | {} |\n", DayLabel(day), v.first, v.second,
                        Delta(v.first, v.second));
    }
    md += "\n";
  }
  if (!transient.empty()) {
    md += fmt::format("Created or dropped without rows left before or after: {}.\n\n",
                      fmt::join(transient, ", "));
  }
  md += "## Validations\n\n";
  if (r.validations.empty()) md += "The plan has no validate step.\n";
  for (const auto& v : r.validations) {
    md += fmt::format(
        "- `{}` against `{}`: **{}** ({} partition(s){})\n", v.actual, v.expected,
        v.passed ? "PASSED" : "FAILED", v.partitions,
        v.failed_partitions.empty()
            ? ""
            : "; differing: " + fmt::format("{}", fmt::join(v.failed_partitions, ", ")));
  }
  md +=
      "\n## Audit entries\n\n| project | seq | time | principal | action | target | rows | outcome "
      "|\n|---|---:|---|---|---|---|---:|---|\n";
  for (const auto& e : r.audit) {
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", e.project, e.seq,
                      FormatTimestamp(e.at), Cell(e.principal), Cell(e.action), Cell(e.target),
                      e.rows, Cell(e.outcome));
  }
  return md;
}

std::string ReportHtml(const PlanReport& r) {
  std::string h = PageHead("Plan " + r.plan);
  bool good = Verdict(r).rfind("All ", 0) == 0;
  h += fmt::format(
      "<h1>Plan {}</h1>\n<p>{}</p>\n<ul><li>Author: {}; applied by {}; {}</li><li>Plan sha256: "
      "<code>{}</code></li>"
      "<li>Started {}, finished {}</li></ul>\n<p class=\"{}\">{}</p>\n",
      Html(r.plan), Html(r.reason), Html(r.author), Html(r.principal.empty() ? "-" : r.principal),
      r.approved_by.empty() ? "no approval needed" : "approved by " + Html(r.approved_by), r.sha256,
      Time(r.started_at), Time(r.finished_at), good ? "ok" : "bad", Html(Verdict(r)));
  h += "<h2>Steps</h2>\n<table><tr><th>step</th><th>state</th><th>attempts</th><th>result</th></"
       "tr>\n";
  for (const auto& s : r.steps) {
    h += fmt::format(
        "<tr><td>{}</td><td class=\"{}\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
        Html(s.label), s.state == StepState::kDone ? "ok" : "bad", s.state, s.attempts,
        Html(s.summary));
  }
  h += "</table>\n<h2>Rows per table and day</h2>\n";
  if (r.tables.empty()) h += "<p>No table changed.</p>\n";
  for (const auto& t : r.tables) {
    if (t.days.empty()) continue;  // listed in the Markdown; no chart to draw
    h += fmt::format("<h3><code>{}</code>{}</h3>\n<p>Total: {} before, {} after ({}).</p>\n",
                     Html(t.table), t.dropped ? " (dropped)" : "", Total(t, false), Total(t, true),
                     Delta(Total(t, false), Total(t, true)));
    h += RowsChartSvg(t);
    h += "<details><summary>per "
         "day</summary><table><tr><th>day</th><th>before</th><th>after</th><th>change</th></tr>\n";
    for (const auto& [day, v] : t.days) {
      h += fmt::format(
          "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td "
          "class=\"n\">{}</td></tr>\n",
          DayLabel(day), v.first, v.second, Delta(v.first, v.second));
    }
    h += "</table></details>\n";
  }
  h += "<h2>Validations</h2>\n";
  if (r.validations.empty()) h += "<p>The plan has no validate step.</p>\n";
  for (const auto& v : r.validations) {
    h += fmt::format(
        "<p><code>{}</code> against <code>{}</code>: <span class=\"{}\">{}</span> ({} "
        "partition(s){})</p>\n",
        Html(v.actual), Html(v.expected), v.passed ? "ok" : "bad", v.passed ? "PASSED" : "FAILED",
        v.partitions,
        v.failed_partitions.empty()
            ? ""
            : "; differing: " + Html(fmt::format("{}", fmt::join(v.failed_partitions, ", "))));
  }
  h += "<h2>Audit "
       "entries</h2>\n<table><tr><th>project</th><th>seq</th><th>time</th><th>principal</"
       "th><th>action</th>"
       "<th>target</th><th>rows</th><th>outcome</th></tr>\n";
  for (const auto& e : r.audit) {
    h += fmt::format(
        "<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td "
        "class=\"n\">{}</td>"
        "<td>{}</td></tr>\n",
        Html(e.project), e.seq, FormatTimestamp(e.at), Html(e.principal), Html(e.action),
        Html(e.target), e.rows, Html(e.outcome));
  }
  h += "</table>\n</body></html>\n";
  return h;
}

std::string GapsChartSvg(const GapsReport& r, const GapsTable& t) {
  const int bar = 14, gap = 4, left = 60, top = 16, height = 120, bottom = 56;
  std::vector<Date> days;
  const Date first = r.candidate_baseline_days.empty()
                         ? r.options.dates.first
                         : std::min(r.candidate_baseline_days.front(), r.options.dates.first);
  const Date last = r.candidate_baseline_days.empty()
                        ? r.options.dates.last
                        : std::max(r.candidate_baseline_days.back(), r.options.dates.last);
  for (Date d : DateRange{first, last}.Days()) days.push_back(d);
  // Per day of the range: its holes, and the rows the baseline expects (the sum over its slots).
  std::map<Date, bool> hole;
  std::map<Date, double> expected;
  for (const auto& s : r.slots) {
    if (s.table != t.name) continue;
    hole[s.day] = hole[s.day] || s.hole;
    if (s.baseline) expected[s.day] += *s.baseline;
  }
  auto rows = [&](Date d) {
    auto it = t.rows_per_day.find(d);
    return it == t.rows_per_day.end() ? int64_t{0} : it->second;
  };
  double max_rows = 1;
  for (Date d : days) max_rows = std::max(max_rows, static_cast<double>(rows(d)));
  for (const auto& [d, e] : expected) max_rows = std::max(max_rows, e);
  auto y = [&](double v) { return top + height - static_cast<int>(v * height / max_rows); };
  const int width = left + static_cast<int>(days.size()) * (bar + gap) + 140;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" "
      "aria-label=\"rows per day of {} around {}\" font-family=\"sans-serif\" "
      "font-size=\"10\">\n",
      width, top + height + bottom, Html(t.name.ToString()), r.options.dates.ToString());
  svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", left,
                     top + height, width - 130, top + height);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 4, top + 8,
                     static_cast<int64_t>(max_rows));
  svg +=
      fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>\n", left - 4, top + height);
  const std::set<Date> baseline(t.baseline_days.begin(), t.baseline_days.end());
  int x = left + gap;
  for (Date d : days) {
    const bool in_range = r.options.dates.Contains(d);
    const char* fill = !in_range ? (baseline.count(d) ? "#bbb" : "#eee")
                       : hole[d] ? "#b00020"
                                 : "#1f6fd1";
    const int64_t n = rows(d);
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}: {} "
        "row(s)</title></rect>\n",
        x, y(static_cast<double>(n)), bar, top + height - y(static_cast<double>(n)), fill,
        FormatDate(d), n);
    if (in_range && expected.count(d)) {
      // What the baseline expects, and the threshold below which the day holds a hole.
      svg += fmt::format(
          "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\" "
          "stroke-width=\"2\"/>\n",
          x - 2, y(expected[d]), x + bar + 2, y(expected[d]));
      svg += fmt::format(
          "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#b00020\" "
          "stroke-dasharray=\"3,2\"/>\n",
          x - 2, y(expected[d] * r.options.threshold), x + bar + 2,
          y(expected[d] * r.options.threshold));
    }
    int lx = x + bar / 2, ly = top + height + 8;
    svg += fmt::format("<text x=\"{}\" y=\"{}\" transform=\"rotate(60 {} {})\">{}</text>\n", lx, ly,
                       lx, ly, FormatDate(d).substr(5));
    x += bar + gap;
  }
  const std::vector<std::pair<const char*, const char*>> legend = {
      {"#bbb", "baseline day"}, {"#1f6fd1", "incident day"}, {"#b00020", "hole"}};
  int ly = top;
  for (const auto& [color, label] : legend) {
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"{}\"/><text x=\"{}\" "
        "y=\"{}\">{}</text>\n",
        width - 120, ly, color, width - 108, ly + 8, label);
    ly += 14;
  }
  svg += fmt::format(
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\" stroke-width=\"2\"/><text "
      "x=\"{}\" y=\"{}\">baseline</text>\n",
      width - 122, ly + 4, width - 110, ly + 4, width - 108, ly + 8);
  svg += "</svg>\n";
  return svg;
}

std::string GapsReportHtml(const GapsReport& r) {
  const std::string title =
      fmt::format("Gaps in {}, {}", r.options.project, r.options.dates.ToString());
  std::string h = PageHead(title);
  const auto holes = r.Holes();
  h += fmt::format(
      "<h1>{}</h1>\n<p>Rows per {} of the live and stable tables against the median of the same "
      "{} on the baseline days around the range; below {} x that median is a hole.</p>\n<p "
      "class=\"{}\">{} slot(s) checked: {} hole(s), {} stable day(s) disagreeing with their live "
      "day.</p>\n",
      Html(title), GapsGranularityName(r.options.by), GapsGranularityName(r.options.by),
      r.options.threshold, r.HasHole() ? "bad" : "ok", r.CheckedSlots(), holes.size(),
      r.disagreements.size());
  if (!holes.empty()) {
    h += "<h2>Holes</h2>\n<table><tr><th>table</th><th>day</th><th>hour</th><th>rows</"
         "th><th>baseline</th></tr>\n";
    for (const auto& s : holes) {
      h += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td "
          "class=\"n\">{:g}</td></tr>\n",
          Html(s.table.ToString()), FormatDate(s.day), s.hour < 0 ? "-" : std::to_string(s.hour),
          s.rows, s.baseline.value_or(0));
    }
    h += "</table>\n";
  }
  if (!r.disagreements.empty()) {
    h += "<h2>Stable days that disagree with their live day</h2>\n<table><tr><th>stable</"
         "th><th>day</th><th>stable rows</th><th>live documents</th></tr>\n";
    for (const auto& d : r.disagreements) {
      h += fmt::format(
          "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
          Html(d.stable.ToString()), FormatDate(d.day), d.stable_rows, d.live_documents);
    }
    h += "</table>\n";
  }
  h += "<h2>Rows per table and day</h2>\n";
  for (const auto& t : r.tables) {
    h += fmt::format("<h3><code>{}</code> ({})</h3>\n", Html(t.name.ToString()),
                     GapsKindName(t.kind));
    h += t.baseline_days.empty() ? "<p>No baseline day holds rows: not judged.</p>\n"
                                 : GapsChartSvg(r, t);
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace backfill
