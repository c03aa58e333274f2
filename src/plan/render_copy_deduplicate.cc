// Copy-deduplicate: bigquery-etl's copy_deduplicate query (recover/replay.h has the rule) per
// stable table and day, behind one guard query; with slices (or hourly) one table per time slice,
// then one `bq cp` of the day.
#include <chrono>
#include <vector>

#include <fmt/format.h>

#include "core/schema.h"
#include "core/text.h"
#include "plan/render_internal.h"
#include "recover/replay.h"

namespace backfill::render_internal {
namespace {

// TIMESTAMP literal with microseconds when there are any (slice boundaries).
std::string TimestampMicrosSql(Timestamp ts) {
  auto secs = std::chrono::floor<std::chrono::seconds>(ts);
  std::string out = TimestampSql(secs);
  if (auto us = (ts - secs).count(); us != 0)
    out.insert(out.size() - 4, fmt::format(".{:06d}", us));
  return out;
}

// The reference's automation filter (Bug 1657360) over `alias`'s row ("" for unqualified).
std::string NotAutomation(const std::string& alias) {
  std::string col = (alias.empty() ? "" : alias + ".") + "metadata.header.x_source_tags";
  return "'automation' NOT IN (SELECT TRIM(t) FROM UNNEST(SPLIT(" + col + ", ',')) AS t)";
}

// `b`.metadata with geo.city, geo.subdivision1 and geo.subdivision2 NULL, as an explicit STRUCT
// of the schema's fields (the reference writes `(SELECT AS STRUCT metadata.* REPLACE (...))`,
// which gives the same value; the explicit form is what our GoogleSQL checker parses).
std::string GeoDeprecatedMetadata(const Field& metadata, const std::string& alias) {
  std::vector<std::string> fields;
  for (const auto& f : metadata.fields) {
    std::string path = alias + "." + Ident(metadata.name) + "." + Ident(f.name);
    if (f.name != "geo") {
      fields.push_back(path + " AS " + Ident(f.name));
      continue;
    }
    std::vector<std::string> geo;
    for (const auto& g : f.fields) {
      bool drop = g.name == "city" || g.name == "subdivision1" || g.name == "subdivision2";
      geo.push_back((drop ? std::string("CAST(NULL AS STRING)") : path + "." + Ident(g.name)) +
                    " AS " + Ident(g.name));
    }
    fields.push_back("STRUCT(\n      " + Join(geo, ",\n      ") + "\n    ) AS `geo`");
  }
  return "STRUCT(\n    " + Join(fields, ",\n    ") + "\n  ) AS " + Ident(metadata.name);
}

// bigquery-etl's copy_deduplicate query for one time slice [start, end) of `day`, with our
// deterministic tie-break (see CopyDeduplicateOptions in recover/replay.h).
std::string DedupQuery(const TableInfo& live, Date day, Timestamp start, Timestamp end,
                       int preceding_days, bool geo) {
  bool tags = HasSourceTags(live);
  std::string select = "b.*";
  if (geo)
    select += " REPLACE (\n  " + GeoDeprecatedMetadata(*live.options.schema.Find("metadata"), "b") +
              "\n)";
  return fmt::format(
      "WITH\n"
      "  -- The document_ids first seen{untagged} in this slice, with their first "
      "submission_timestamp\n"
      "  -- (one seen in the {n} preceding day(s) or earlier in the day is not copied again).\n"
      "  distinct_document_ids AS (\n"
      "    SELECT\n"
      "      document_id,\n"
      "      MIN(submission_timestamp) AS first_seen\n"
      "    FROM {live}\n"
      "    WHERE\n"
      "      DATE(submission_timestamp) >= DATE_SUB({day}, INTERVAL {n} DAY)\n"
      "      AND submission_timestamp < {end}{tag_filter}\n"
      "    GROUP BY document_id\n"
      "    HAVING MIN(submission_timestamp) >= {start}\n"
      "  ),\n"
      "  -- The slice's rows at their document's first submission_timestamp (a NULL document_id "
      "never\n"
      "  -- joins, so such rows are not copied).\n"
      "  base AS (\n"
      "    SELECT l.*\n"
      "    FROM {live} AS l\n"
      "    JOIN distinct_document_ids AS d\n"
      "      ON l.document_id = d.document_id AND l.submission_timestamp = d.first_seen\n"
      "    WHERE l.submission_timestamp >= {start}\n"
      "      AND l.submission_timestamp < {end}{l_tag_filter}\n"
      "  )\n"
      "-- One row per document_id: the least row as JSON text among its first ones, so that "
      "re-runs give\n"
      "-- identical days (the reference keeps an arbitrary one).{geo_note}\n"
      "SELECT {select}\n"
      "FROM base AS b\n"
      "WHERE TRUE\n"
      "QUALIFY ROW_NUMBER() OVER (PARTITION BY b.document_id ORDER BY TO_JSON_STRING(b)) = 1",
      fmt::arg("untagged", tags ? " (not tagged automation)" : ""), fmt::arg("n", preceding_days),
      fmt::arg("live", Bq(live.name)), fmt::arg("day", DateSql(day)),
      fmt::arg("start", TimestampMicrosSql(start)), fmt::arg("end", TimestampMicrosSql(end)),
      fmt::arg("tag_filter", tags ? "\n      -- Bug 1657360\n      AND " + NotAutomation("") : ""),
      fmt::arg("l_tag_filter", tags ? "\n      AND " + NotAutomation("l") : ""),
      fmt::arg("geo_note", geo ? "\n-- Glean geo deprecation: metadata.geo city, subdivision1 and "
                                 "subdivision2 are NULL."
                               : ""),
      fmt::arg("select", select));
}

}  // namespace

Status Renderer::CopyDeduplicate(const PlanStep& s) {
  std::string project = s.String("project");
  BF_RETURN_IF_ERROR(RequireProject(project, "project"));
  BF_ASSIGN_OR_RETURN(DateRange dates, ParseDateRange(s.String("dates")));
  int64_t preceding = s.Int("preceding_days", 0),
          slices = s.Flag("hourly") ? 24 : s.Int("slices", 1);
  if (preceding < 0) return Error("preceding_days must be 0 or more");
  if (slices < 1) return Error("slices must be 1 or more");
  if (s.Flag("hourly") && s.Int("slices", 24) != 24)
    return Error("hourly means slices = 24; give one or the other");
  TableFilter filter{s.List("only"), s.List("exclude")};
  BF_ASSIGN_OR_RETURN(auto tables, catalog_.Tables(project));
  std::vector<std::pair<TableInfo, TableInfo>> pairs;
  std::vector<std::string> problems;
  for (const auto& live : tables) {
    const std::string& ds = live.name.dataset;
    if (!EndsWith(ds, "_live")) continue;
    std::string stable_ds = ds.substr(0, ds.size() - 5) + "_stable";
    if (!filter.Matches(ds + "." + live.name.table) &&
        !filter.Matches(stable_ds + "." + live.name.table))
      continue;
    if (live.name.table.find("beam_load_sink") != std::string::npos) continue;  // as the reference
    auto stable = catalog_.Describe({project, stable_ds, live.name.table});
    if (!stable.ok()) continue;
    if (auto diff = DiffSchemas(stable->options.schema, live.options.schema); !diff.empty()) {
      problems.push_back(fmt::format("the schema of {} differs from {} ({})",
                                     stable->name.ToString(), live.name.ToString(), diff.front()));
    } else if (!live.options.schema.Find("document_id") ||
               !live.options.schema.Find("submission_timestamp")) {
      problems.push_back(fmt::format("{} needs document_id and submission_timestamp columns",
                                     live.name.ToString()));
    } else if (live.partition_kind != PartitionKind::kTimestamp ||
               live.options.partition_by != "submission_timestamp" ||
               stable->options.partition_by != "submission_timestamp") {
      problems.push_back(
          fmt::format("{} and {} must both be partitioned by day on submission_timestamp",
                      live.name.ToString(), stable->name.ToString()));
    } else {
      pairs.emplace_back(live, std::move(*stable));
    }
  }
  if (!problems.empty()) return Error("copy-deduplicate refused: " + Join(problems, "; "));
  if (pairs.empty()) {
    return Error(
        fmt::format("no <namespace>_live table of {}{} has a <namespace>_stable counterpart",
                    project, FilterText(s)));
  }
  std::string extra =
      s.options.count("parallelism")
          ? fmt::format(" (parallelism = {}: BigQuery parallelises each query itself)",
                        s.Int("parallelism", 0))
          : "";
  if (s.Flag("allow_empty")) {
    review_notes_.push_back(
        fmt::format("{}: allow_empty = true: no guard; an empty live day empties its stable day",
                    s.Label(index_)));
  } else {
    // Promise 3, as the embedded step: every table and day is checked before any is replaced.
    std::vector<std::string> rows;
    for (const auto& [live, stable] : pairs) {
      for (Date d : dates.Days()) {
        rows.push_back(fmt::format(
            "  SELECT {name} AS stable_table, {day} AS day,\n"
            "    (SELECT COUNT(*) FROM {live} AS l WHERE {lday} = {day}) AS live_rows,\n"
            "    (SELECT COUNT(*) FROM {stable} AS s WHERE {sday} = {day}) AS stable_rows",
            fmt::arg("name", SqlString(stable.name.ToString())), fmt::arg("day", DateSql(d)),
            fmt::arg("live", Bq(live.name)), fmt::arg("lday", DayExpr(live, "l")),
            fmt::arg("stable", Bq(stable.name)), fmt::arg("sday", DayExpr(stable, "s"))));
      }
    }
    std::string sql = Header(
        "Guard, run before any stable day is replaced: fails (ERROR) when a live day is empty "
        "while its stable day\n"
        "holds rows, since replacing it would destroy them (past the live table's retention, or "
        "not loaded yet).\n"
        "Nothing has been written when it fails. Set allow_empty = true in the plan to empty such "
        "days on purpose.");
    sql += "WITH days AS (\n" + Join(rows, "\n  UNION ALL\n") + "\n)\n";
    sql +=
        "SELECT IF(\n"
        "  COUNTIF(live_rows = 0 AND stable_rows > 0) > 0,\n"
        "  ERROR(CONCAT('copy-deduplicate refused, nothing was changed: empty live day(s) would "
        "destroy stable rows: ',\n"
        "    STRING_AGG(IF(live_rows = 0 AND stable_rows > 0,\n"
        "      FORMAT('%s %t (%d stable rows)', stable_table, day, stable_rows), NULL), '; '))),\n"
        "  FORMAT('ok: %d table day(s) checked', COUNT(*))) AS verdict\n"
        "FROM days;\n";
    std::string file = AddSql("copy-deduplicate", "check", "", std::move(sql));
    Sh(fmt::format("run {f} check {f} --project_id={p}", fmt::arg("f", file),
                   fmt::arg("p", JobProject(project))));
  }
  std::string rule = fmt::format(
      "bigquery-etl's copy_deduplicate rule: rows tagged automation "
      "(metadata.header.x_source_tags) and rows\n"
      "without a document_id are not copied, nor documents first seen in the {} preceding day(s); "
      "one row per\n"
      "document_id at its first submission_timestamp, equal ones broken by the row's JSON text "
      "(TO_JSON_STRING)\n"
      "so that re-runs give identical days",
      preceding);
  for (const auto& [live, stable] : pairs) {
    NoteProtected(stable);
    catalog_.Use(live);
    bool geo = GeoDeprecationApplies(live, w_.config());
    std::string table_token = stable.name.dataset + "." + stable.name.table;
    for (Date d : dates.Days()) {
      Timestamp start = StartOf(d), end = StartOf(AddDays(d, 1));
      std::string dest = ShQuote(BqCli(stable.name) + "$" + FormatDateCompact(d));
      if (slices == 1) {
        std::string sql = Header(
            fmt::format("The {} partition of {} rebuilt from {}{} by\n{}{}.\n"
                        "run.sh: bq query --destination_table='{}${}' --replace (WRITE_TRUNCATE of "
                        "that day only).",
                        FormatDate(d), stable.name.ToString(), live.name.ToString(), extra, rule,
                        geo ? "; a Glean table: metadata.geo city and subdivisions NULL" : "",
                        BqCli(stable.name), FormatDateCompact(d)));
        sql += DedupQuery(live, d, start, end, static_cast<int>(preceding), geo) + ";\n";
        std::string file = AddSql("copy-deduplicate", table_token, FormatDate(d), std::move(sql));
        // The stable table exists with its partitioning and clustering: the decorator and --replace
        // truncate that one day (WRITE_TRUNCATE), as the reference copy_deduplicate does.
        Sh(fmt::format("run {f} query {f} --project_id={p} --destination_table={dest} --replace",
                       fmt::arg("f", file), fmt::arg("p", JobProject(project)),
                       fmt::arg("dest", dest)));
        continue;
      }
      // As the reference's --slices: each time slice into its own table (1-day expiration), then
      // one copy job writes the day from all of them (WRITE_TRUNCATE) and the slices are removed.
      // The slice tables live in the stable dataset, so they are as restricted as the data.
      int64_t step_us =
          (std::chrono::microseconds(std::chrono::hours(24)).count() * 2 + slices) / (2 * slices);
      std::vector<std::string> sources;
      for (int64_t i = 0; i < slices; ++i) {
        Timestamp a = start + std::chrono::microseconds(step_us * i);
        Timestamp b = i + 1 == slices ? end : start + std::chrono::microseconds(step_us * (i + 1));
        TableName slice{
            stable.name.project, stable.name.dataset,
            fmt::format("_bf_slice_{}_{}_{}", stable.name.table, FormatDateCompact(d), i + 1)};
        std::string sql = Header(
            fmt::format("Slice {} of {} of the {} partition of {} ({} to {}), from {}{} by\n{}{}.\n"
                        "Written into {} (expires in a day); run.sh then copies all slices into "
                        "the day at once.",
                        i + 1, slices, FormatDate(d), stable.name.ToString(), FormatTimestamp(a),
                        FormatTimestamp(b), live.name.ToString(), extra, rule,
                        geo ? "; a Glean table: metadata.geo city and subdivisions NULL" : "",
                        slice.ToString()));
        TableInfo layout = stable;
        layout.options.description.clear();  // the one OPTIONS clause is the expiration's
        sql += fmt::format(
            "CREATE OR REPLACE TABLE {}{}\nOPTIONS (\n  partition_expiration_days = CAST('inf' AS "
            "FLOAT64),\n"
            "  expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)\n)\nAS\n",
            Bq(slice), LayoutClauses(layout));
        sql += DedupQuery(live, d, a, b, static_cast<int>(preceding), geo) + ";\n";
        std::string file = AddSql("copy-deduplicate", table_token,
                                  fmt::format("{}-slice{}", FormatDate(d), i + 1), std::move(sql));
        Sh(fmt::format("run {f} query {f} --project_id={p}", fmt::arg("f", file),
                       fmt::arg("p", JobProject(project))));
        sources.push_back(BqCli(slice) + "$" + FormatDateCompact(d));
      }
      Sh(fmt::format("run {id} copy_slices {p} {dest} {src}",
                     fmt::arg("id", ShQuote(fmt::format("step{}-copy-{}-{}", index_ + 1,
                                                        table_token, FormatDate(d)))),
                     fmt::arg("p", JobProject(project)), fmt::arg("dest", dest),
                     fmt::arg("src", ShQuote(Join(sources, ",")))));
    }
  }
  return Status::Ok();
}

}  // namespace backfill::render_internal
