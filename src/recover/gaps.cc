// Gaps: rows per slot of live and stable tables against the same slot on the surrounding days,
// and stable days against the documents of their live day (see gaps.h for the rules).
#include "recover/gaps.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "core/text.h"
#include "recover/replay_internal.h"

namespace backfill {
using namespace replay_internal;

const char* GapsGranularityName(GapsGranularity g) {
  return g == GapsGranularity::kHour ? "hour" : "day";
}

Result<GapsGranularity> ParseGapsGranularity(const std::string& text) {
  if (text == "hour") return GapsGranularity::kHour;
  if (text == "day") return GapsGranularity::kDay;
  return InvalidArgument(fmt::format("--by must be hour or day, not '{}'", text));
}

const char* GapsKindName(GapsKind k) { return k == GapsKind::kLive ? "live" : "stable"; }

bool GapsReport::HasHole() const {
  return !disagreements.empty() ||
         std::any_of(slots.begin(), slots.end(), [](const GapsSlot& s) { return s.hole; });
}

std::vector<GapsSlot> GapsReport::Holes() const {
  std::vector<GapsSlot> out;
  std::copy_if(slots.begin(), slots.end(), std::back_inserter(out),
               [](const GapsSlot& s) { return s.hole; });
  return out;
}

int64_t GapsReport::CheckedSlots() const {
  return std::count_if(slots.begin(), slots.end(),
                       [](const GapsSlot& s) { return s.baseline.has_value(); });
}

std::vector<TableName> GapsReport::TablesWithoutBaseline() const {
  std::vector<TableName> out;
  for (const auto& t : tables)
    if (t.baseline_days.empty()) out.push_back(t.name);
  return out;
}

namespace {

constexpr char kTs[] = "submission_timestamp";

// A live table and, when it exists, its stable twin.
struct TablePair {
  TableInfo live;
  std::optional<TableInfo> stable;
};

Status Validate(const GapsOptions& o) {
  if (o.baseline_days < 1) return InvalidArgument("--baseline-days must be at least 1");
  if (!(o.threshold > 0 && o.threshold <= 1))
    return InvalidArgument(fmt::format("--threshold must be in (0, 1], not {}", o.threshold));
  if (o.dates.last < o.dates.first) return InvalidArgument("--dates: the range is empty");
  return Status::Ok();
}

// The days the slot query reads: the range and the candidate baseline days on both sides.
DateRange Scanned(const GapsOptions& o) {
  return {AddDays(o.dates.first, -o.baseline_days), AddDays(o.dates.last, o.baseline_days)};
}

std::vector<Date> CandidateDays(const GapsOptions& o) {
  std::vector<Date> out;
  for (int i = o.baseline_days; i >= 1; --i) out.push_back(AddDays(o.dates.first, -i));
  for (int i = 1; i <= o.baseline_days; ++i) out.push_back(AddDays(o.dates.last, i));
  return out;
}

bool HasTimestamp(const TableInfo& t) {
  const Field* f = t.options.schema.Find(kTs);
  return f && f->type == FieldType::kTimestamp;
}

// The live tables matching the filter (by their own or their stable twin's name) with their
// twins, in dataset then table order; tables that cannot be counted go to `skipped`.
Result<std::vector<TablePair>> FindTables(Warehouse& w, const GapsOptions& o,
                                          std::vector<std::string>& skipped) {
  BF_RETURN_IF_ERROR(RequireProject(w, o.project));
  BF_ASSIGN_OR_RETURN(auto candidates, LiveTables(w, o.project, o.filter));
  std::vector<TablePair> out;
  for (const auto& [live, stable] : candidates) {
    TablePair pair;
    BF_ASSIGN_OR_RETURN(pair.live, w.DescribeTable(live));
    if (!HasTimestamp(pair.live)) {
      skipped.push_back(fmt::format("{}: no TIMESTAMP column {}", pair.live.name.ToString(), kTs));
      continue;
    }
    if (w.TableExists(stable)) {
      BF_ASSIGN_OR_RETURN(TableInfo si, w.DescribeTable(stable));
      if (HasTimestamp(si)) {
        pair.stable = std::move(si);
      } else {
        skipped.push_back(fmt::format("{}: no TIMESTAMP column {}", stable.ToString(), kTs));
      }
    }
    out.push_back(std::move(pair));
  }
  if (out.empty()) {
    return NotFound(fmt::format("gaps: project {} has no <namespace>_live table{}", o.project,
                                FilterText(o.filter)));
  }
  return out;
}

std::string InRange(const std::string& alias, DateRange r) {
  return fmt::format("{0}.{1} >= {2} AND {0}.{1} < {3}", alias, kTs,
                     Warehouse::TimestampLiteral(StartOf(r.first)),
                     Warehouse::TimestampLiteral(StartOf(AddDays(r.last, 1))));
}

using SlotKey = std::pair<Date, int>;  // day, hour (-1 with kDay)

// Rows per slot of `t` over the scanned days, in one query reading submission_timestamp only.
Result<std::map<SlotKey, int64_t>> CountSlots(Warehouse& w, const TableInfo& t,
                                              const GapsOptions& o) {
  BF_ASSIGN_OR_RETURN(std::string rel, w.Relation(t.name));
  // The connection runs in UTC (Warehouse::Open): the cast and hour() give UTC days and hours.
  std::string hour =
      o.by == GapsGranularity::kHour ? fmt::format("hour(_bf_t.{})", kTs) : std::string("-1");
  BF_ASSIGN_OR_RETURN(
      QueryResult r,
      w.Query(fmt::format("SELECT CAST(CAST(_bf_t.{0} AS DATE) AS VARCHAR), {1}, count(*) "
                          "FROM {2} AS _bf_t WHERE {3} GROUP BY 1, 2",
                          kTs, hour, rel, InRange("_bf_t", Scanned(o)))));
  std::map<SlotKey, int64_t> out;
  for (size_t i = 0; i < r.rows(); ++i) {
    BF_ASSIGN_OR_RETURN(Date d, ParseDate(r.GetString(0, i)));
    out[{d, static_cast<int>(r.GetInt64(1, i))}] = r.GetInt64(2, i);
  }
  return out;
}

// Documents copy-deduplicate keeps per day of the range (see gaps.h).
Result<std::map<Date, int64_t>> CountDocuments(Warehouse& w, const TableInfo& live,
                                               DateRange dates) {
  BF_ASSIGN_OR_RETURN(std::string rel, w.Relation(live.name));
  BF_ASSIGN_OR_RETURN(QueryResult r,
                      w.Query(fmt::format("SELECT CAST(CAST(_bf_l.{0} AS DATE) AS VARCHAR), "
                                          "count(DISTINCT _bf_l.document_id) FROM {1} AS _bf_l "
                                          "WHERE {2} AND {3} GROUP BY 1",
                                          kTs, rel, InRange("_bf_l", dates),
                                          DedupCandidate("_bf_l", HasSourceTags(live)))));
  std::map<Date, int64_t> out;
  for (size_t i = 0; i < r.rows(); ++i) {
    BF_ASSIGN_OR_RETURN(Date d, ParseDate(r.GetString(0, i)));
    out[d] = r.GetInt64(1, i);
  }
  return out;
}

double Median(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? static_cast<double>(v[n / 2]) : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

// The table's slots over the range, each judged against the median of the same slot on the
// baseline days that hold rows. Slots that have not ended by `now` are left out (counted in
// `not_ended`), and so are baseline days: their rows are still arriving, and would look like
// holes, or drag the baseline down.
GapsTable JudgeSlots(const TableInfo& t, GapsKind kind, const std::map<SlotKey, int64_t>& counts,
                     const GapsOptions& o, const std::vector<Date>& candidates, Timestamp now,
                     std::vector<GapsSlot>& slots, int64_t& not_ended) {
  GapsTable table{t.name, kind, {}, {}};
  std::map<Date, int64_t> per_day;
  for (const auto& [key, n] : counts) per_day[key.first] += n;
  for (Date d : candidates)
    if (per_day[d] > 0 && StartOf(AddDays(d, 1)) <= now) table.baseline_days.push_back(d);
  for (const auto& [d, n] : per_day)
    if (n > 0) table.rows_per_day[d] = n;
  auto count = [&](Date d, int h) {
    auto it = counts.find({d, h});
    return it == counts.end() ? int64_t{0} : it->second;
  };
  std::vector<int> hours;
  if (o.by == GapsGranularity::kHour) {
    for (int h = 0; h < 24; ++h) hours.push_back(h);
  } else {
    hours.push_back(-1);
  }
  for (Date d : o.dates.Days()) {
    for (int h : hours) {
      Timestamp end = h < 0 ? StartOf(AddDays(d, 1)) : StartOf(d) + std::chrono::hours(h + 1);
      if (end > now) {
        ++not_ended;
        continue;
      }
      GapsSlot s{t.name, kind, d, h, count(d, h), std::nullopt, std::nullopt, false};
      if (!table.baseline_days.empty()) {
        std::vector<int64_t> base;
        for (Date b : table.baseline_days) base.push_back(count(b, h));
        s.baseline = Median(std::move(base));
        if (*s.baseline > 0) {
          s.ratio = static_cast<double>(s.rows) / *s.baseline;
          s.hole = static_cast<double>(s.rows) < o.threshold * *s.baseline;
        }
      }
      slots.push_back(std::move(s));
    }
  }
  return table;
}

std::string BqTable(const TableName& t) {
  return fmt::format("`{}.{}.{}`", t.project, t.dataset, t.table);
}

std::string BqTimestamp(Date d) { return fmt::format("TIMESTAMP '{} 00:00:00+00'", FormatDate(d)); }

std::string BqInRange(DateRange r) {
  return fmt::format("{0} >= {1} AND {0} < {2}", kTs, BqTimestamp(r.first),
                     BqTimestamp(AddDays(r.last, 1)));
}

std::string BqSlots(const TableInfo& t, GapsKind kind, const GapsOptions& o) {
  bool hourly = o.by == GapsGranularity::kHour;
  DateRange scanned = Scanned(o);
  return fmt::format(
      "-- Rows per {by} of {table} ({kind}) on {dates}\n"
      "-- and on the candidate baseline days {before}..{last_before} and {first_after}..{after}.\n"
      "-- Baseline: the median of the same {by} over those of them that hold rows;\n"
      "-- {by}s below {threshold} x baseline are holes.\n"
      "SELECT\n"
      "  DATE({ts}) AS submission_date,\n"
      "{hour}"
      "  COUNT(*) AS row_count\n"
      "FROM {table}\n"
      "WHERE {range}\n"
      "GROUP BY submission_date{group}\n"
      "ORDER BY submission_date{group};\n",
      fmt::arg("by", GapsGranularityName(o.by)), fmt::arg("table", BqTable(t.name)),
      fmt::arg("kind", GapsKindName(kind)), fmt::arg("dates", o.dates.ToString()),
      fmt::arg("before", FormatDate(scanned.first)),
      fmt::arg("last_before", FormatDate(AddDays(o.dates.first, -1))),
      fmt::arg("first_after", FormatDate(AddDays(o.dates.last, 1))),
      fmt::arg("after", FormatDate(scanned.last)), fmt::arg("threshold", o.threshold),
      fmt::arg("ts", kTs),
      fmt::arg("hour",
               hourly ? fmt::format("  TIMESTAMP_TRUNC({}, HOUR) AS submission_hour,\n", kTs) : ""),
      fmt::arg("range", BqInRange(scanned)), fmt::arg("group", hourly ? ", submission_hour" : ""));
}

// The automation filter as plan/render_copy_deduplicate.cc renders it (NotAutomation): the
// plan layer sits above this one, so the GoogleSQL text is repeated here, with the same meaning
// as DedupCandidate's DuckDB text.
std::string BqDocuments(const TableInfo& live, const TableName& stable, DateRange dates) {
  std::string tags = HasSourceTags(live) ? "\n  AND 'automation' NOT IN (SELECT TRIM(t) FROM "
                                           "UNNEST(SPLIT(metadata.header.x_source_tags, ',')) AS t)"
                                         : "";
  return fmt::format(
      "-- Documents per day of {live} that copy-deduplicate keeps (non-NULL document_id, not\n"
      "-- tagged automation): {stable} should hold as many rows on each day of {dates}.\n"
      "SELECT\n"
      "  DATE({ts}) AS submission_date,\n"
      "  COUNT(DISTINCT document_id) AS documents\n"
      "FROM {live}\n"
      "WHERE {range}\n"
      "  AND document_id IS NOT NULL{tags}\n"
      "GROUP BY submission_date\n"
      "ORDER BY submission_date;\n",
      fmt::arg("live", BqTable(live.name)), fmt::arg("stable", BqTable(stable)),
      fmt::arg("dates", dates.ToString()), fmt::arg("ts", kTs), fmt::arg("range", BqInRange(dates)),
      fmt::arg("tags", tags));
}

bool ComparesStable(const TableInfo& live) {
  // copy-deduplicate never builds these (as the reference lists tables).
  return live.name.table.find("beam_load_sink") == std::string::npos &&
         live.options.schema.Find("document_id") != nullptr;
}

}  // namespace

Result<GapsReport> Gaps(Warehouse& w, const GapsOptions& o) {
  BF_RETURN_IF_ERROR(Validate(o));
  GapsReport report;
  report.options = o;
  report.candidate_baseline_days = CandidateDays(o);
  BF_ASSIGN_OR_RETURN(auto pairs, FindTables(w, o, report.skipped));
  const Timestamp now = w.clock().Now();
  for (const auto& pair : pairs) {
    BF_ASSIGN_OR_RETURN(auto live_counts, CountSlots(w, pair.live, o));
    report.tables.push_back(JudgeSlots(pair.live, GapsKind::kLive, live_counts, o,
                                       report.candidate_baseline_days, now, report.slots,
                                       report.not_ended));
    if (!pair.stable) continue;
    BF_ASSIGN_OR_RETURN(auto stable_counts, CountSlots(w, *pair.stable, o));
    report.tables.push_back(JudgeSlots(*pair.stable, GapsKind::kStable, stable_counts, o,
                                       report.candidate_baseline_days, now, report.slots,
                                       report.not_ended));
    if (!ComparesStable(pair.live)) continue;
    BF_ASSIGN_OR_RETURN(auto documents, CountDocuments(w, pair.live, o.dates));
    for (Date d : o.dates.Days()) {
      if (StartOf(AddDays(d, 1)) > now) continue;  // copy-deduplicate runs after the day
      GapsDisagreement g{pair.live.name, pair.stable->name, d, 0, documents[d], 0};
      for (const auto& [key, n] : live_counts)
        if (key.first == d) g.live_rows += n;
      for (const auto& [key, n] : stable_counts)
        if (key.first == d) g.stable_rows += n;
      if (g.stable_rows != g.live_documents) report.disagreements.push_back(g);
    }
  }
  return report;
}

Result<std::vector<GapsQuery>> RenderGapsBigQuery(Warehouse& w, const GapsOptions& o) {
  BF_RETURN_IF_ERROR(Validate(o));
  std::vector<std::string> skipped;
  BF_ASSIGN_OR_RETURN(auto pairs, FindTables(w, o, skipped));
  std::vector<GapsQuery> out;
  for (const auto& pair : pairs) {
    out.push_back(
        {pair.live.name, GapsKind::kLive, "slots", BqSlots(pair.live, GapsKind::kLive, o)});
    if (!pair.stable) continue;
    out.push_back({pair.stable->name, GapsKind::kStable, "slots",
                   BqSlots(*pair.stable, GapsKind::kStable, o)});
    if (ComparesStable(pair.live)) {
      out.push_back({pair.live.name, GapsKind::kLive, "documents",
                     BqDocuments(pair.live, pair.stable->name, o.dates)});
    }
  }
  return out;
}

}  // namespace backfill
