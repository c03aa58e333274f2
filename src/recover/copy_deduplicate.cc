// The copy-deduplicate step: bigquery-etl's copy_deduplicate rule, one stable day rebuilt from
// its live day (one row per document_id, the earliest submission), with the refusals that keep
// an empty or expired live day from destroying a stable day.
#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "core/text.h"
#include "core/wide.h"
#include "recover/replay.h"
#include "recover/replay_internal.h"
#include "warehouse/schema_deploy.h"

namespace backfill {
namespace fs = std::filesystem;
using namespace replay_internal;

// =============================================================================================
// CopyDeduplicate

const char* DedupActionName(DedupAction a) {
  switch (a) {
    case DedupAction::kReplace:
      return "replace";
    case DedupAction::kReplaceWithEmpty:
      return "replace with empty (allowed)";
    case DedupAction::kSkipBothEmpty:
      return "skip (live and stable empty)";
    case DedupAction::kRefuse:
      return "refuse (live empty)";
  }
  return "refuse (live empty)";
}

int CopyDeduplicateReport::Count(DedupAction a) const {
  return static_cast<int>(
      std::count_if(items.begin(), items.end(), [&](const auto& i) { return i.action == a; }));
}

Result<std::vector<Date>> ParseDateList(const std::vector<std::string>& values) {
  std::set<Date> days;
  for (const auto& v : values) {
    BF_ASSIGN_OR_RETURN(DateRange r, ParseDateRange(v));
    for (Date d : r.Days()) days.insert(d);
  }
  if (days.empty())
    return InvalidArgument("no dates given (use --dates YYYY-MM-DD [...] or --dates A..B)");
  return std::vector<Date>(days.begin(), days.end());
}

namespace {

// Sets DuckDB's worker threads for the lifetime of the guard and restores the old value.
class ThreadsGuard {
 public:
  static Result<std::unique_ptr<ThreadsGuard>> Set(Warehouse& w, int threads) {
    BF_ASSIGN_OR_RETURN(QueryResult r, w.Query("SELECT current_setting('threads')"));
    auto g = std::unique_ptr<ThreadsGuard>(new ThreadsGuard(w, r.GetString(0, 0)));
    BF_RETURN_IF_ERROR(w.Query(fmt::format("SET threads = {}", threads)).status());
    return g;
  }
  ~ThreadsGuard() { (void)w_.Query("SET threads = " + old_); }

 private:
  ThreadsGuard(Warehouse& w, std::string old) : w_(w), old_(std::move(old)) {}
  Warehouse& w_;
  std::string old_;
};

std::string RefusalMessage(const CopyDeduplicateItem& i, const std::string& expiry) {
  return fmt::format(
      "live partition {} of {} is empty (0 rows){}; replacing the stable partition would destroy "
      "the {} row(s) "
      "that {} holds for {} now",
      FormatDate(i.date), i.live.ToString(), expiry, i.stable_rows_before, i.stable.ToString(),
      FormatDate(i.date));
}

// The column copy-deduplicate's days and first-seen times are on (the reference's).
constexpr char kDedupDay[] = "submission_timestamp";

// The query writing one stable day: see CopyDeduplicateOptions for the rule. A window sorts and
// materializes every column of its input, and most documents occur once: only the rows whose
// hash(document_id) occurs more than once in the day go through one (a collision merely sends
// a few more), the others pass straight through. In the window, count(*) over the default frame
// counts a document's rows at its earliest timestamp, so the JSON is built only where several
// tie. Documents seen in the preceding days are anti-joined by id. bench/dedupe --parts times
// the alternatives.
// `encoded`: the wide-encoded columns (core/wide.h) when `rel` is the live table as stored
// (their text, not their values); the tie-break decodes them, for the tied rows only, so it
// orders rows exactly as it does on the view.
std::string DedupSelect(const TableInfo& live, const std::string& rel, Date day, int preceding_days,
                        bool source_tags, bool geo, const std::vector<std::string>& encoded) {
  std::vector<std::string> cols, json, pack;
  for (const auto& f : live.options.schema.fields) {
    json.push_back(Q(f.name));
    pack.push_back(std::find(encoded.begin(), encoded.end(), f.name) == encoded.end()
                       ? Q(f.name)
                       : fmt::format("{} := {}", Q(f.name), WideDecodeSql(f, Q(f.name))));
    cols.push_back(
        geo && f.name == "metadata"
            ? "struct_update(metadata, geo := struct_update(metadata.geo, city := NULL::VARCHAR, "
              "subdivision1 := NULL::VARCHAR, subdivision2 := NULL::VARCHAR)) AS metadata"
            : Q(f.name));
  }
  auto keep = [&](Date from) {
    return fmt::format(
        "_bf_l.submission_timestamp >= {} AND _bf_l.submission_timestamp < {} AND {}",
        Warehouse::TimestampLiteral(StartOf(from)),
        Warehouse::TimestampLiteral(StartOf(from == day ? AddDays(day, 1) : day)),
        DedupCandidate("_bf_l", source_tags));
  };
  std::string prev_cte, prev_join;
  if (preceding_days > 0) {
    prev_cte = fmt::format(
        ", _bf_prev AS MATERIALIZED (SELECT DISTINCT _bf_l.document_id AS _bf_id FROM {} AS _bf_l "
        "WHERE {})",
        rel, keep(AddDays(day, -preceding_days)));
    prev_join = " ANTI JOIN _bf_prev ON _bf_l.document_id = _bf_prev._bf_id";
  }
  std::string select = fmt::format(
      "WITH _bf_dup AS MATERIALIZED (SELECT hash(_bf_l.document_id) AS _bf_h FROM {rel} AS _bf_l "
      "WHERE {day} "
      "GROUP BY _bf_h HAVING count(*) > 1){prev_cte} "
      "SELECT {lcols} FROM {rel} AS _bf_l ANTI JOIN _bf_dup ON hash(_bf_l.document_id) = "
      "_bf_dup._bf_h{prev} "
      "WHERE {day} "
      "UNION ALL "
      "SELECT {json} FROM (SELECT _bf_l.*, count(*) OVER _bf_w AS _bf_c FROM {rel} AS _bf_l "
      "SEMI JOIN _bf_dup ON hash(_bf_l.document_id) = _bf_dup._bf_h{prev} WHERE {day} "
      "WINDOW _bf_w AS (PARTITION BY _bf_l.document_id ORDER BY _bf_l.submission_timestamp) "
      "QUALIFY rank() OVER _bf_w = 1) "
      "QUALIFY row_number() OVER (PARTITION BY document_id ORDER BY CASE WHEN _bf_c > 1 THEN "
      "CAST(to_json(struct_pack({pack})) AS VARCHAR) END) = 1",
      fmt::arg("rel", rel), fmt::arg("day", keep(day)), fmt::arg("prev_cte", prev_cte),
      fmt::arg("prev", prev_join), fmt::arg("json", Join(json, ", ")),
      fmt::arg("pack", Join(pack, ", ")), fmt::arg("lcols", "_bf_l." + Join(json, ", _bf_l.")));
  if (!geo) return select;
  return fmt::format("SELECT {} FROM ({}) AS _bf_r", Join(cols, ", "), select);
}

}  // namespace

namespace replay_internal {

// metadata.header.x_source_tags holds the tag `automation` (each comma-separated tag trimmed of
// whitespace, as TRIM does in the reference).
std::string DedupCandidate(const std::string& alias, bool source_tags) {
  std::string out = alias + ".document_id IS NOT NULL";
  if (source_tags) {
    out += fmt::format(
        " AND NOT coalesce(regexp_matches({}.metadata.header.x_source_tags, "
        "'(^|,)[[:space:]]*automation[[:space:]]*(,|$)'), false)",
        alias);
  }
  return out;
}

}  // namespace replay_internal

bool HasSourceTags(const TableInfo& live) {
  return live.options.schema.FindPath("metadata.header.x_source_tags") != nullptr;
}

bool GeoDeprecationApplies(const TableInfo& live, const WarehouseConfig& config) {
  auto contains = [](const std::vector<std::string>& list, const std::string& v) {
    return std::find(list.begin(), list.end(), v) != list.end();
  };
  const std::string& ds = live.name.dataset;
  std::string app = EndsWith(ds, "_live") ? ds.substr(0, ds.size() - 5) : ds;
  static const std::regex kVersion(R"(_v[0-9]+$)");
  std::string table = std::regex_replace(live.name.table, kVersion, "");
  auto glean = live.properties.find(kGleanProperty);
  if (contains(config.geo_skip_apps, app) || contains(config.geo_skip_tables, table)) return false;
  if (glean == live.properties.end() || glean->second != "true") return false;
  const Schema& s = live.options.schema;
  return s.FindPath("client_info.client_id") && s.FindPath("metadata.geo.city") &&
         s.FindPath("metadata.geo.subdivision1") && s.FindPath("metadata.geo.subdivision2");
}

Result<CopyDeduplicateReport> CopyDeduplicate(Warehouse& w, const CopyDeduplicateOptions& o) {
  BF_RETURN_IF_ERROR(RequireProject(w, o.project));
  if (o.dates.empty()) return InvalidArgument("copy-deduplicate: no dates given");
  if (o.parallelism < 0) return InvalidArgument("--parallelism must be positive");
  if (o.preceding_days < 0) return InvalidArgument("--preceding-days must be 0 or more");
  if (o.slices < 1) return InvalidArgument("--slices must be 1 or more");
  std::vector<Date> dates = o.dates;
  std::sort(dates.begin(), dates.end());
  dates.erase(std::unique(dates.begin(), dates.end()), dates.end());

  // <ns>_live.<t> with a <ns>_stable.<t> counterpart; the filter may name either.
  BF_ASSIGN_OR_RETURN(auto candidates, LiveTables(w, o.project, o.filter));
  std::vector<std::pair<TableInfo, TableInfo>> pairs;
  std::vector<std::string> problems;
  for (const auto& [live, stable] : candidates) {
    if (live.table.find("beam_load_sink") != std::string::npos) continue;  // as the reference
    if (!w.TableExists(stable)) continue;
    BF_ASSIGN_OR_RETURN(TableInfo li, w.DescribeTable(live));
    BF_ASSIGN_OR_RETURN(TableInfo si, w.DescribeTable(stable));
    if (auto diff = DiffSchemas(si.options.schema, li.options.schema); !diff.empty()) {
      problems.push_back(fmt::format("the schema of {} differs from {}: {}", stable.ToString(),
                                     live.ToString(), FirstDifferences(diff)));
    } else if (!li.options.schema.Find("document_id") ||
               !li.options.schema.Find("submission_timestamp")) {
      problems.push_back(
          fmt::format("{} needs document_id and submission_timestamp columns to be deduplicated",
                      live.ToString()));
    } else if (li.partition_kind != PartitionKind::kTimestamp ||
               li.options.partition_by != kDedupDay || si.options.partition_by != kDedupDay) {
      problems.push_back(fmt::format(
          "{} and {} must both be partitioned by day on submission_timestamp, as "
          "the reference copy_deduplicate expects (partitioned by '{}' and '{}')",
          live.ToString(), stable.ToString(), li.options.partition_by, si.options.partition_by));
    } else {
      pairs.emplace_back(std::move(li), std::move(si));
    }
  }
  if (!problems.empty())
    return Refused("copy-deduplicate refused, nothing was changed: " + Join(problems, "; "));
  if (pairs.empty()) {
    return NotFound(
        fmt::format("copy-deduplicate: no <namespace>_live table of project {}{} has a "
                    "<namespace>_stable counterpart",
                    o.project, FilterText(o.filter)));
  }

  CopyDeduplicateReport report;
  report.preview = o.preview;
  report.parallelism = o.parallelism;
  std::unique_ptr<ThreadsGuard> threads;
  if (o.parallelism > 0) {
    BF_ASSIGN_OR_RETURN(threads, ThreadsGuard::Set(w, o.parallelism));
  }

  // Preview every table and day first: a refusal anywhere changes nothing anywhere.
  std::vector<std::string> selects;  // parallel to report.items
  std::vector<RowForm> forms;        // of `selects`' rows
  std::vector<std::string> refusals;
  Timestamp now = w.clock().Now();
  for (const auto& [live, stable] : pairs) {
    BF_ASSIGN_OR_RETURN(std::string live_rel, w.Relation(live.name));
    BF_ASSIGN_OR_RETURN(std::string stable_rel, w.Relation(stable.name));
    bool geo = GeoDeprecationApplies(live, w.config());
    // A wide live table whose stable counterpart stores rows alike is copied as stored, the
    // encoded text as it is, unless the rule reads inside an encoded column (metadata, for the
    // automation tag or the geo fields). Through the view, the windows would sort and
    // materialize every decoded leaf (thousands for telemetry main: ~7 s per window whatever
    // the row count) and the written rows would be encoded again (bench/wide).
    BF_ASSIGN_OR_RETURN(Warehouse::CopySource copy, w.CopyRelation(live.name, stable.name));
    const auto& encoded = live.encoded_columns;
    if ((HasSourceTags(live) || geo) &&
        std::find(encoded.begin(), encoded.end(), "metadata") != encoded.end()) {
      copy = {live_rel, RowForm::kNative};
    }
    for (Date day : dates) {
      CopyDeduplicateItem item;
      item.live = live.name;
      item.stable = stable.name;
      item.date = day;
      item.geo_deprecation = geo;
      std::string live_day =
          fmt::format("{} AS _bf_l WHERE {}", live_rel, InDay("_bf_l", live, day));
      std::string select =
          DedupSelect(live, copy.relation, day, o.preceding_days, HasSourceTags(live), geo,
                      copy.form == RowForm::kStored ? encoded : std::vector<std::string>{});
      BF_ASSIGN_OR_RETURN(item.live_rows, QueryCount(w, "SELECT count(*) FROM " + live_day));
      if (o.preview && item.live_rows > 0) {
        BF_ASSIGN_OR_RETURN(item.distinct_documents,
                            QueryCount(w, "SELECT count(*) FROM (" + select + ")"));
      } else {
        // A real run learns the rows it copies from what it writes, so it does not pay for the
        // query twice.
        item.distinct_documents = item.live_rows > 0 ? -1 : 0;
      }
      item.duplicates_removed = item.live_rows - item.distinct_documents;
      BF_ASSIGN_OR_RETURN(item.stable_rows_before,
                          QueryCount(w, fmt::format("SELECT count(*) FROM {} AS _bf_s WHERE {}",
                                                    stable_rel, InDay("_bf_s", stable, day))));
      item.stable_rows_after = item.distinct_documents;
      if (item.live_rows > 0) {
        item.action = DedupAction::kReplace;
      } else if (item.stable_rows_before == 0) {
        item.action = DedupAction::kSkipBothEmpty;
        item.note = "nothing to replace";
        item.stable_rows_after = 0;
      } else {
        std::string expiry;
        if (auto days = live.dataset.options.partition_expiration_days) {
          Timestamp at = PartitionExpiresAt(day, *days);
          if (at <= now)
            expiry = fmt::format(", past its retention (expired at {})", FormatTimestamp(at));
        }
        if (o.allow_empty) {
          item.action = DedupAction::kReplaceWithEmpty;
          item.note = fmt::format("live day empty{}; {} stable row(s) removed as allowed", expiry,
                                  item.stable_rows_before);
        } else {
          item.action = DedupAction::kRefuse;
          item.note = RefusalMessage(item, expiry);
          item.stable_rows_after = item.stable_rows_before;
          refusals.push_back(item.note);
        }
      }
      selects.push_back(std::move(select));
      forms.push_back(copy.form);
      report.items.push_back(item);
    }
  }
  if (o.preview) return report;
  if (!refusals.empty()) {
    std::string more = refusals.size() > 1 ? fmt::format(" (and {} more empty live partition(s))",
                                                         refusals.size() - 1)
                                           : "";
    Status refusal = Refused(fmt::format(
        "copy-deduplicate refused, nothing was changed: {}{}. Check the live table (expired? "
        "not loaded yet?), or allow emptying the stable day explicitly (--allow-empty)",
        refusals[0], more));
    for (const auto& i : report.items) {
      if (i.action != DedupAction::kRefuse) continue;
      Status audited = w.AuditRefusal(
          o.project, "copy-deduplicate",
          fmt::format("{}${}", i.stable.ToString(), FormatDateCompact(i.date)), Refused(i.note));
      if (audited.message() != i.note)
        refusal = Refused(refusal.message() + "\n" + audited.message());
    }
    return refusal;
  }

  for (size_t i = 0; i < report.items.size(); ++i) {
    CopyDeduplicateItem& item = report.items[i];
    if (item.action == DedupAction::kSkipBothEmpty) {
      if (o.progress)
        o.progress(fmt::format("{} {}: skipped (live and stable empty)", FormatDate(item.date),
                               item.stable.ToString()));
      continue;
    }
    BF_ASSIGN_OR_RETURN(WriteStats st,
                        w.ReplacePartition(item.stable, item.date, selects[i], forms[i]));
    item.distinct_documents = st.rows_written;
    item.stable_rows_after = st.rows_written;
    item.duplicates_removed = item.live_rows - st.rows_written;
    if (o.progress) {
      o.progress(fmt::format("{} {}: {} live row(s), {} not copied, stable {} -> {} row(s)",
                             FormatDate(item.date), item.stable.ToString(), item.live_rows,
                             item.duplicates_removed, item.stable_rows_before,
                             item.stable_rows_after));
    }
  }
  return report;
}

}  // namespace backfill
