#include "recover/rerun.h"

#include <fmt/format.h>

#include "warehouse/bq_sql.h"

namespace backfill {

std::string SourceCheck::Describe() const {
  switch (state) {
    case State::kOk:
      return fmt::format("ok ({} rows)", rows);
    case State::kExpired:
      return fmt::format("expired{}",
                         expired_at ? " at " + FormatTimestamp(*expired_at) : std::string());
    case State::kEmpty:
      return "empty";
    case State::kMissing:
      return "missing";
  }
  return "?";
}

int RerunReport::RefusedDays() const {
  int n = 0;
  for (const auto& d : days) n += d.refused ? 1 : 0;
  return n;
}

namespace {

SourceCheck CheckSource(Warehouse& w, const TableName& source, Date day) {
  SourceCheck c{source};
  auto info = w.DescribeTable(source);
  if (!info.ok()) {
    c.state = SourceCheck::State::kMissing;
    return c;
  }
  const auto& expiration = info->dataset.options.partition_expiration_days;
  if (info->partition_kind != PartitionKind::kNone && expiration) {
    Timestamp at = PartitionExpiresAt(day, *expiration);
    if (at <= w.clock().Now()) {
      // Expired: gone already, or about to be removed by maintenance. Either way it cannot be
      // trusted to rebuild the day.
      c.state = SourceCheck::State::kExpired;
      c.expired_at = at;
    }
  }
  for (const auto& p : info->partitions) {
    if (info->partition_kind == PartitionKind::kNone || p.date == day) c.rows += p.rows;
  }
  if (c.state == SourceCheck::State::kOk && c.rows == 0) c.state = SourceCheck::State::kEmpty;
  return c;
}

std::string DateLiteral(Date d) { return "DATE " + QuoteString(FormatDate(d)); }

}  // namespace

Result<RerunReport> Rerun(Warehouse& w, const TableName& table, const RerunOptions& options) {
  BF_ASSIGN_OR_RETURN(TableInfo info, w.DescribeTable(table));
  if (info.options.query.empty()) {
    return InvalidArgument(
        fmt::format("{} has no query to re-run (create it with `backfill table create ... --query "
                    "FILE`)",
                    table.ToString()));
  }
  if (info.partition_kind != PartitionKind::kDate &&
      info.partition_kind != PartitionKind::kTimestamp) {
    return InvalidArgument(fmt::format(
        "{} is not partitioned by day; rerun replaces one day at a time", table.ToString()));
  }
  RerunReport report{table, {}, options.preview};
  for (Date day : options.dates.Days()) {
    RerunDay d{day};
    for (const auto& p : info.partitions) {
      if (p.date == day) d.rows_now = p.rows;
    }
    BF_ASSIGN_OR_RETURN(
        TranslatedStatement q,
        w.Translate(info.options.query, table.project, {{"submission_date", DateLiteral(day)}}));
    if (q.kind != SqlStatementKind::kSelect) {
      return InvalidArgument(fmt::format("the query of {} must be a SELECT", table.ToString()));
    }
    bool source_gone = false;
    for (const auto& read : q.reads) {
      if (!read.as_of_expr.empty()) continue;  // reads of the past are what they are
      d.sources.push_back(CheckSource(w, read.table, day));
      source_gone = source_gone || d.sources.back().state != SourceCheck::State::kOk;
    }
    if (source_gone && d.rows_now > 0) {
      d.at_risk = true;
      d.refused = !options.allow_data_loss;
      d.action = d.refused ? "refuse: sources gone" : "replace (data loss allowed)";
    } else {
      d.action = d.rows_now == 0 ? "replace (target empty)" : "replace";
    }
    report.days.push_back(std::move(d));
  }
  if (report.RefusedDays() > 0 && !options.preview) {
    std::string lines;
    int64_t lost = 0;
    for (const auto& d : report.days) {
      if (!d.refused) continue;
      lost += d.rows_now;
      std::string why;
      for (const auto& s : d.sources) {
        if (s.state != SourceCheck::State::kOk)
          why += fmt::format("{}{} {}", why.empty() ? "" : "; ", s.table.ToString(), s.Describe());
      }
      lines += fmt::format("\n  {} {}: {} rows would be lost ({})", table.ToString(),
                           FormatDate(d.date), d.rows_now, why);
    }
    return Refused(fmt::format(
        "rerun of {} refused for {} of {} dates: their sources are gone while the table still "
        "holds their rows; "
        "re-running would destroy {} rows:{}\nThe old rows stay readable by time travel within the "
        "window: rescue them "
        "with `backfill snapshot {} --as-of TIME --to SANDBOX_PROJECT.DATASET.TABLE` and `backfill "
        "restore`, or pass "
        "--allow-data-loss to run anyway. Nothing was changed.",
        table.ToString(), report.RefusedDays(), report.days.size(), lost, lines, table.ToString()));
  }
  if (options.preview) return report;
  if (options.parallelism > 0)
    BF_RETURN_IF_ERROR(w.Query(fmt::format("SET threads = {}", options.parallelism)).status());
  for (auto& d : report.days) {
    BF_ASSIGN_OR_RETURN(
        TranslatedStatement q,
        w.Translate(info.options.query, table.project, {{"submission_date", DateLiteral(d.date)}}));
    BF_ASSIGN_OR_RETURN(WriteStats st, w.ReplacePartition(table, d.date, q.query));
    d.rows_after = st.rows_written;
    d.action = "replaced";
    if (options.progress) {
      options.progress(fmt::format("{} {}: replaced, {} rows (was {})", FormatDate(d.date),
                                   table.ToString(), d.rows_after, d.rows_now));
    }
  }
  return report;
}

}  // namespace backfill
