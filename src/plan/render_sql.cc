// The steps rendered as GoogleSQL files on their own: append (anti-joined INSERT), rerun (a guard,
// then the table's query per day), snapshot, restore, validate (per-day digests), drop, cleanup.
#include <cctype>
#include <optional>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "core/schema.h"
#include "core/text.h"
#include "plan/render_internal.h"
#include "recover/rescue.h"
#include "warehouse/bq_sql.h"

namespace backfill::render_internal {
namespace {

// The embedded checksum's BigQuery counterpart: per day, the row count and the sum of 64-bit
// fingerprints of each row's JSON (as NUMERIC, which cannot overflow below 10^10 rows a day):
// order-independent, and a duplicated row changes it.
std::string DigestCte(const std::string& name, const TableName& table, const TableInfo& layout,
                      const std::optional<DateRange>& dates, const std::string& alias) {
  std::string day = DayExpr(layout, alias);
  std::string where = dates ? fmt::format("\n  WHERE {} BETWEEN {} AND {}", day,
                                          DateSql(dates->first), DateSql(dates->last))
                            : "";
  return fmt::format(
      "{name} AS (\n"
      "  SELECT {day} AS day, COUNT(*) AS row_count,\n"
      "    SUM(CAST(FARM_FINGERPRINT(TO_JSON_STRING({a})) AS NUMERIC)) AS checksum\n"
      "  FROM {table} AS {a}{where}\n"
      "  GROUP BY day\n"
      ")",
      fmt::arg("name", name), fmt::arg("day", day), fmt::arg("a", alias),
      fmt::arg("table", Bq(table)), fmt::arg("where", where));
}

}  // namespace

Status Renderer::Append(const PlanStep& s) {
  std::string from = s.String("from_project"), to = s.String("to_project");
  BF_RETURN_IF_ERROR(RequireProject(from, "from_project"));
  BF_RETURN_IF_ERROR(RequireProject(to, "to_project"));
  BF_ASSIGN_OR_RETURN(DateRange dates, ParseDateRange(s.String("dates")));
  BF_ASSIGN_OR_RETURN(auto tables, Matching(s, from));
  if (tables.empty()) return Error(fmt::format("no table of {}{} to append", from, FilterText(s)));
  std::vector<std::string> problems;
  std::vector<std::pair<TableInfo, TableInfo>> pairs;
  for (auto& q : tables) {
    TableName pn{to, q.name.dataset, q.name.table};
    auto p = catalog_.Describe(pn);
    if (!p.ok()) {
      problems.push_back(fmt::format("{} does not exist", pn.ToString()));
    } else if (auto diff = DiffSchemas(p->options.schema, q.options.schema); !diff.empty()) {
      problems.push_back(fmt::format("the schema of {} differs from {} ({})", q.name.ToString(),
                                     pn.ToString(), diff.front()));
    } else if (!q.options.schema.Find("document_id")) {
      problems.push_back(fmt::format("{} has no document_id column", q.name.ToString()));
    } else if (q.partition_kind == PartitionKind::kNone ||
               p->partition_kind == PartitionKind::kNone) {
      problems.push_back(fmt::format("{} and {} must both be partitioned by day", q.name.ToString(),
                                     pn.ToString()));
    } else {
      pairs.emplace_back(std::move(q), std::move(*p));
    }
  }
  if (!problems.empty()) return Error("append refused: " + Join(problems, "; "));
  for (const auto& [q, p] : pairs) {
    NoteProtected(p);
    catalog_.Use(q);
    std::string sday = DayExpr(q, "s"), pday = DayExpr(p, "p");
    std::string sql = Header(fmt::format(
        "Appends the rows of {} from {} to {} whose document_id {} does not hold on the same day.\n"
        "Rows without a document_id cannot be deduplicated and are not appended. Running it twice "
        "appends nothing.",
        q.name.ToString(), FormatDate(dates.first), FormatDate(dates.last), p.name.ToString()));
    sql += fmt::format(
        "INSERT INTO {p}\n"
        "SELECT s.*\n"
        "FROM {q} AS s\n"
        "WHERE {sday} BETWEEN {a} AND {b}\n"
        "  AND s.document_id IS NOT NULL\n"
        "  AND NOT EXISTS (\n"
        "    SELECT 1\n"
        "    FROM {p} AS p\n"
        "    WHERE {pday} BETWEEN {a} AND {b}\n"
        "      AND {pday} = {sday}\n"
        "      AND p.document_id = s.document_id\n"
        "  );\n",
        fmt::arg("p", Bq(p.name)), fmt::arg("q", Bq(q.name)), fmt::arg("sday", sday),
        fmt::arg("pday", pday), fmt::arg("a", DateSql(dates.first)),
        fmt::arg("b", DateSql(dates.last)));
    std::string file = AddSql("append", q.name.dataset + "." + q.name.table, "", std::move(sql));
    Sh(fmt::format("run {f} query {f} --project_id={proj}", fmt::arg("f", file),
                   fmt::arg("proj", JobProject(to))));
  }
  return Status::Ok();
}

Status Renderer::Rerun(const PlanStep& s) {
  BF_ASSIGN_OR_RETURN(TableInfo t, Table(s.String("table"), "table"));
  BF_ASSIGN_OR_RETURN(DateRange dates, ParseDateRange(s.String("dates")));
  if (t.options.query.empty())
    return Error(fmt::format("{} has no query to re-run", t.name.ToString()));
  if (t.partition_kind == PartitionKind::kNone) {
    return Error(fmt::format("{} is not partitioned by day; rerun replaces one day at a time",
                             t.name.ToString()));
  }
  NoteProtected(t);
  std::string table_token = t.name.dataset + "." + t.name.table;
  if (s.Flag("allow_data_loss")) {
    review_notes_.push_back(fmt::format(
        "{}: allow_data_loss = true: no guard; days whose sources are gone are replaced "
        "by what the query returns (possibly nothing)",
        s.Label(index_)));
  } else {
    // The sources the query reads (as the embedded rerun finds them), checked per day.
    auto translated =
        w_.Translate(t.options.query, t.name.project, {{"submission_date", DateSql(dates.first)}});
    if (!translated.ok())
      return Error(
          fmt::format("the query of {}: {}", t.name.ToString(), translated.status().message()));
    std::vector<std::string> rows;
    std::set<TableName> seen;
    for (const auto& read : translated->reads) {
      if (!read.as_of_expr.empty() || !seen.insert(read.table).second) continue;
      auto src = catalog_.Describe(read.table);
      std::string src_day = src.ok() ? DayExpr(*src, "x") : "";
      for (Date d : dates.Days()) {
        std::string src_rows = !src.ok() ? "0"
                               : src->partition_kind == PartitionKind::kNone
                                   ? fmt::format("(SELECT COUNT(*) FROM {} AS x)", Bq(read.table))
                                   : fmt::format("(SELECT COUNT(*) FROM {} AS x WHERE {} = {})",
                                                 Bq(read.table), src_day, DateSql(d));
        rows.push_back(fmt::format(
            "  SELECT {day} AS day, {src} AS source_table, {src_rows} AS source_rows,\n"
            "    (SELECT COUNT(*) FROM {t} AS t WHERE {tday} = {day}) AS target_rows",
            fmt::arg("day", DateSql(d)), fmt::arg("src", SqlString(read.table.ToString())),
            fmt::arg("src_rows", src_rows), fmt::arg("t", Bq(t.name)),
            fmt::arg("tday", DayExpr(t, "t"))));
      }
    }
    if (!rows.empty()) {
      std::string sql =
          Header(fmt::format("Guard, run before any day of {} is replaced: fails (ERROR) when a "
                             "source of its query has no rows for a\n"
                             "day (expired, deleted or not loaded) while the table still holds "
                             "rows for it: re-running would destroy\n"
                             "them. Rescue them by time travel (snapshot + restore) instead, or "
                             "set allow_data_loss = true.",
                             t.name.ToString()));
      sql += "WITH days AS (\n" + Join(rows, "\n  UNION ALL\n") + "\n)\n";
      sql += fmt::format(
          "SELECT IF(\n"
          "  COUNTIF(source_rows = 0 AND target_rows > 0) > 0,\n"
          "  ERROR(CONCAT('rerun of {} refused, nothing was changed: sources gone while the table "
          "holds rows: ',\n"
          "    STRING_AGG(IF(source_rows = 0 AND target_rows > 0,\n"
          "      FORMAT('%t: %s empty, %d rows would be lost', day, source_table, target_rows), "
          "NULL), '; '))),\n"
          "  FORMAT('ok: %d source day(s) checked', COUNT(*))) AS verdict\n"
          "FROM days;\n",
          t.name.ToString());
      std::string file = AddSql("rerun", table_token + "-check", "", std::move(sql));
      Sh(fmt::format("run {f} check {f} --project_id={p}", fmt::arg("f", file),
                     fmt::arg("p", JobProject(t.name.project))));
    }
  }
  std::string query = t.options.query;
  while (!query.empty() &&
         (std::isspace(static_cast<unsigned char>(query.back())) || query.back() == ';'))
    query.pop_back();
  std::string names =
      fmt::format("Unqualified names resolve in project {} (--project_id).", t.name.project);
  if (JobProject(t.name.project) != t.name.project) {
    // The job runs in the billing project, where two-part names would resolve: qualify them.
    auto translated =
        w_.Translate(t.options.query, t.name.project, {{"submission_date", DateSql(dates.first)}});
    if (!translated.ok())
      return Error(
          fmt::format("the query of {}: {}", t.name.ToString(), translated.status().message()));
    for (const auto& read : translated->reads) {
      if (read.table.project != t.name.project) continue;
      std::regex two_part("(^|[^A-Za-z0-9_.`-])`?" + read.table.dataset + "`?\\.`?" +
                          read.table.table + "`?(?=[^A-Za-z0-9_`]|$)");
      query = std::regex_replace(query, two_part, "$1" + Bq(read.table));
    }
    names = fmt::format(
        "It runs in the billing project {}, so the names of project {} it reads are qualified.",
        billing_, t.name.project);
  }
  std::string sql = Header(fmt::format(
      "The query of {} (as stored in the catalog), run once per day from {} to {} with\n"
      "--parameter=submission_date:DATE:<day> into the day's partition ('{}$YYYYMMDD', --replace:\n"
      "WRITE_TRUNCATE of that day only). {}",
      t.name.ToString(), FormatDate(dates.first), FormatDate(dates.last), BqCli(t.name), names));
  sql += query + ";\n";
  std::string file = AddSql("rerun", table_token, "", std::move(sql));
  files_.back().default_project = t.name.project;
  files_.back().parameters = {{"submission_date", "DATE"}};
  // The tables the query reads, into the analyzer's catalog (the guard above may be skipped).
  auto reads =
      w_.Translate(t.options.query, t.name.project, {{"submission_date", DateSql(dates.first)}});
  if (reads.ok()) {
    for (const auto& read : reads->reads) (void)catalog_.Describe(read.table);
  }
  for (Date d : dates.Days()) {
    Sh(fmt::format(
        "run {id} query {f} --project_id={p} --parameter=submission_date:DATE:{day} "
        "--destination_table={dest} --replace",
        fmt::arg("id", ShQuote(fmt::format("step{}-rerun-{}", index_ + 1, FormatDate(d)))),
        fmt::arg("f", file), fmt::arg("p", JobProject(t.name.project)),
        fmt::arg("day", FormatDate(d)),
        fmt::arg("dest", ShQuote(BqCli(t.name) + "$" + FormatDateCompact(d)))));
  }
  if (s.options.count("parallelism")) {
    review_notes_.push_back(
        fmt::format("{}: parallelism = {}: run.sh replaces the days one after another",
                    s.Label(index_), s.Int("parallelism", 0)));
  }
  return Status::Ok();
}

Status Renderer::Snapshot(const PlanStep& s) {
  BF_ASSIGN_OR_RETURN(TableName source, ParseTableName(s.String("table")));
  BF_ASSIGN_OR_RETURN(TableName target, ParseTableName(s.String("to")));
  BF_ASSIGN_OR_RETURN(Timestamp as_of, ParseTimestamp(s.String("as_of")));
  BF_ASSIGN_OR_RETURN(TableInfo src, Table(s.String("table"), "table"));
  BF_RETURN_IF_ERROR(RequireProject(target.project, "to"));
  if (catalog_.Describe(target).ok()) {
    return Error(fmt::format("{} already exists; a snapshot is written into a new table",
                             target.ToString()));
  }
  std::string sql = Header(fmt::format(
      "Copies {} as it was at {} (time travel: readable only within the window, 7 days by "
      "default)\n"
      "into {}, with the same partitioning and clustering. run.sh creates the dataset {} first "
      "when it does not\n"
      "exist, with the access list of {} (a rescue copy is at least as restricted as its source).",
      source.ToString(), FormatTimestamp(as_of), target.ToString(), target.Dataset().ToString(),
      src.dataset.name.ToString()));
  sql += fmt::format("CREATE TABLE {}{}\nAS\nSELECT *\nFROM {} FOR SYSTEM_TIME AS OF {};\n",
                     Bq(target), LayoutClauses(src), Bq(source), TimestampSql(as_of));
  std::string file = AddSql("snapshot", target.dataset + "." + target.table, "", std::move(sql));
  Sh(fmt::format("run {} ensure_dataset {} {}",
                 ShQuote(fmt::format("step{}-snapshot-dataset", index_ + 1)),
                 BqCli(target.Dataset()), BqCli(src.dataset.name)));
  Sh(fmt::format("run {f} query {f} --project_id={p}", fmt::arg("f", file),
                 fmt::arg("p", JobProject(target.project))));
  TableInfo copy = src;
  copy.name = target;
  copy.options.query.clear();
  copy.dataset.name = target.Dataset();
  copy.properties = {{kSnapshotOf, source.ToString()}, {kSnapshotAsOf, FormatTimestamp(as_of)}};
  catalog_.Create(std::move(copy));
  return Status::Ok();
}

Status Renderer::Restore(const PlanStep& s) {
  BF_ASSIGN_OR_RETURN(TableInfo snap, Table(s.String("snapshot"), "snapshot"));
  BF_ASSIGN_OR_RETURN(TableInfo dest, Table(s.String("to"), "to"));
  if (auto diff = DiffSchemas(dest.options.schema, snap.options.schema); !diff.empty()) {
    return Error(fmt::format("cannot restore {} into {}: the schemas differ ({})",
                             snap.name.ToString(), dest.name.ToString(), diff.front()));
  }
  if (dest.partition_kind == PartitionKind::kNone) {
    return Error(fmt::format("cannot restore partitions into {}: it is not partitioned by day",
                             dest.name.ToString()));
  }
  NoteProtected(dest);
  std::optional<DateRange> dates;
  if (s.options.count("dates")) {
    BF_ASSIGN_OR_RETURN(DateRange r, ParseDateRange(s.String("dates")));
    dates = r;
  }
  // Both sides are split into days the way the target is partitioned, as the embedded step does.
  std::string sday = DayExpr(dest, "s"), tday = DayExpr(dest, "t");
  std::string range_s = dates ? fmt::format("\n  AND {} BETWEEN {} AND {}", sday,
                                            DateSql(dates->first), DateSql(dates->last))
                              : "";
  std::string range_t = dates ? fmt::format("\n      AND {} BETWEEN {} AND {}", tday,
                                            DateSql(dates->first), DateSql(dates->last))
                              : "";
  bool replace = s.Flag("replace_partial");
  std::string sql = Header(fmt::format(
      "Inserts the days of {} that {} does not hold at all (anti-join on the partition day){}.\n"
      "{}Running it twice inserts nothing.",
      snap.name.ToString(), dest.name.ToString(), dates ? " from " + dates->ToString() : "",
      replace ? "replace_partial = true: days present in both with other rows or content are "
                "deleted first, so the\n"
                "INSERT below puts the snapshot's rows back for them too (a crash in between "
                "leaves them missing, and\n"
                "a re-run restores them). "
              : "Days present in both but different are left alone (partial), as with the embedded "
                "restore.\n"));
  if (replace) {
    sql += fmt::format(
        "DELETE FROM {t}\n"
        "WHERE {day} IN (\n"
        "  WITH\n"
        "  {e},\n"
        "  {a}\n"
        "  SELECT expected.day\n"
        "  FROM expected\n"
        "  JOIN actual ON expected.day = actual.day\n"
        "  WHERE expected.row_count != actual.row_count OR expected.checksum != actual.checksum\n"
        ");\n\n",
        fmt::arg("t", Bq(dest.name)), fmt::arg("day", DayExpr(dest, "")),
        fmt::arg("e", DigestCte("expected", snap.name, dest, dates, "e")),
        fmt::arg("a", DigestCte("actual", dest.name, dest, dates, "a")));
  }
  sql += fmt::format(
      "INSERT INTO {t}\n"
      "SELECT s.*\n"
      "FROM {snap} AS s\n"
      "WHERE {sday} IS NOT NULL{range_s}\n"
      "  AND {sday} NOT IN (\n"
      "    SELECT DISTINCT {tday}\n"
      "    FROM {t} AS t\n"
      "    WHERE {tday} IS NOT NULL{range_t}\n"
      "  );\n",
      fmt::arg("t", Bq(dest.name)), fmt::arg("snap", Bq(snap.name)), fmt::arg("sday", sday),
      fmt::arg("tday", tday), fmt::arg("range_s", range_s), fmt::arg("range_t", range_t));
  std::string file =
      AddSql("restore", dest.name.dataset + "." + dest.name.table, "", std::move(sql));
  Sh(fmt::format("run {f} query {f} --project_id={p}", fmt::arg("f", file),
                 fmt::arg("p", JobProject(dest.name.project))));
  return Status::Ok();
}

Status Renderer::Validate(const PlanStep& s) {
  BF_ASSIGN_OR_RETURN(TableInfo exp, Table(s.String("expected"), "expected"));
  BF_ASSIGN_OR_RETURN(TableInfo act, Table(s.String("actual"), "actual"));
  if (auto diff = DiffSchemas(exp.options.schema, act.options.schema); !diff.empty()) {
    return Error(fmt::format("{} and {} have different schemas ({}): the validation cannot pass",
                             exp.name.ToString(), act.name.ToString(), diff.front()));
  }
  std::optional<DateRange> dates;
  std::string scope = s.String("dates");
  auto restored = RestoredDaysOf(plan_, index_);
  if (restored) scope = restored->dates;
  if (!scope.empty()) {
    BF_ASSIGN_OR_RETURN(DateRange r, ParseDateRange(scope));
    dates = r;
  }
  // After a restore from the snapshot, only its days: the daily job adds days after the snapshot.
  bool expected_days_only = restored && !dates;
  const TableInfo& layout = act.partition_kind != PartitionKind::kNone ? act : exp;
  std::string what = dates ? " from " + dates->ToString() : "";
  if (restored) {
    what += expected_days_only
                ? ", only the days the snapshot holds (an earlier step restored from it; days\n"
                  "the table gained since are not compared)"
                : " (the days an earlier restore step restored)";
  }
  std::string sql = Header(fmt::format(
      "Compares {} (expected) with {} (actual) day by day{}: row counts and an order-independent\n"
      "checksum (the sum of FARM_FINGERPRINT(TO_JSON_STRING(row)) as NUMERIC, so a duplicated row "
      "changes it).\n"
      "Fails with ERROR() naming every differing day; run.sh stops there, before anything is "
      "dropped.",
      exp.name.ToString(), act.name.ToString(), what));
  sql += fmt::format(
      "WITH\n"
      "{e},\n"
      "{a},\n"
      "compared AS (\n"
      "  SELECT COALESCE(expected.day, actual.day) AS day,\n"
      "    IFNULL(expected.row_count, 0) AS expected_rows, IFNULL(actual.row_count, 0) AS "
      "actual_rows,\n"
      "    IFNULL(expected.checksum, 0) AS expected_checksum, IFNULL(actual.checksum, 0) AS "
      "actual_checksum\n"
      "  FROM expected\n"
      "  {join} actual\n"
      "    ON IFNULL(expected.day, DATE '0001-01-01') = IFNULL(actual.day, DATE '0001-01-01')\n"
      ")\n"
      "SELECT IF(\n"
      "  COUNTIF(expected_rows != actual_rows OR expected_checksum != actual_checksum) > 0,\n"
      "  ERROR(CONCAT('validation of {actual} against {expected} failed: ',\n"
      "    STRING_AGG(IF(expected_rows != actual_rows OR expected_checksum != actual_checksum,\n"
      "      FORMAT('%t: %d expected vs %d actual rows%s', day, expected_rows, actual_rows,\n"
      "        IF(expected_rows = actual_rows, ' (same count, other content)', '')), NULL), '; "
      "'))),\n"
      "  FORMAT('validation passed: %d partition(s) identical', COUNT(*))) AS verdict\n"
      "FROM compared;\n",
      fmt::arg("e", DigestCte("expected", exp.name, layout, dates, "e")),
      fmt::arg("a", DigestCte("actual", act.name, layout, dates, "a")),
      fmt::arg("actual", act.name.ToString()), fmt::arg("expected", exp.name.ToString()),
      fmt::arg("join", expected_days_only ? "LEFT JOIN" : "FULL OUTER JOIN"));
  std::string file =
      AddSql("validate", act.name.dataset + "." + act.name.table, "", std::move(sql));
  Sh(fmt::format("run {f} check {f} --project_id={p}", fmt::arg("f", file),
                 fmt::arg("p", JobProject(act.name.project))));
  validated_.insert(exp.name);
  return Status::Ok();
}

Status Renderer::Drop(const PlanStep& s) {
  BF_ASSIGN_OR_RETURN(TableInfo t, Table(s.String("table"), "table"));
  // As DropTableGuarded: a rescue snapshot may be the only copy of the data.
  if (t.properties.count(kSnapshotOf) && !s.Flag("force") && !validated_.count(t.name)) {
    auto v = t.properties.find(kValidation);
    if (v == t.properties.end() || v->second.rfind("passed", 0) != 0) {
      return Refused(fmt::format(
          "{}: {}: {} is a rescue snapshot of {} and no earlier validate step of the plan compares "
          "it (expected = \"{}\"): dropping it could lose the only copy. Add a validate step "
          "before the drop, or set force = true",
          options_.plan_file.empty() ? "plan" : options_.plan_file, s.Label(index_),
          t.name.ToString(), t.properties[kSnapshotOf], t.name.ToString()));
    }
  }
  std::string sql = Header(fmt::format(
      "Drops {}{}. BigQuery keeps a dropped table restorable for the time-travel window\n"
      "(bq cp '{}@<milliseconds since epoch>' ...).",
      t.name.ToString(),
      validated_.count(t.name) ? ", compared by the validate step before it" : "", BqCli(t.name)));
  sql += "DROP TABLE " + Bq(t.name) + ";\n";
  std::string file = AddSql("drop", t.name.dataset + "." + t.name.table, "", std::move(sql));
  Sh(fmt::format("run {f} query {f} --project_id={p}", fmt::arg("f", file),
                 fmt::arg("p", JobProject(t.name.project))));
  catalog_.Drop(t.name);
  return Status::Ok();
}

Status Renderer::Cleanup(const PlanStep& s) {
  std::string project = s.String("project");
  BF_RETURN_IF_ERROR(RequireProject(project, "project"));
  BF_ASSIGN_OR_RETURN(auto protected_datasets, catalog_.ProtectedDatasets(project));
  if (!protected_datasets.empty()) {
    return Refused(fmt::format(
        "{}: {}: project {} holds protected dataset(s) {}: it is not a backfill project",
        options_.plan_file.empty() ? "plan" : options_.plan_file, s.Label(index_), project,
        Join(protected_datasets, ", ")));
  }
  BF_ASSIGN_OR_RETURN(auto tables, catalog_.Tables(project));
  if (!tables.empty()) {
    std::vector<std::string> names;
    for (const auto& t : tables) names.push_back(t.name.ToString());
    std::string sql =
        Header(fmt::format("Drops every table of the backfill project {} ({}). Each stays "
                           "restorable for the time-travel\n"
                           "window (bq cp 'p:d.t@<milliseconds since epoch>' ...). Datasets stay.",
                           project, tables.size()));
    for (const auto& t : tables) sql += "DROP TABLE " + Bq(t.name) + ";\n";
    std::string file = AddSql("cleanup", project, "", std::move(sql));
    Sh(fmt::format("run {f} query {f} --project_id={p}", fmt::arg("f", file),
                   fmt::arg("p", JobProject(project))));
    for (const auto& t : tables) catalog_.Drop(t.name);
  }
  if (s.options.count("staged")) {
    Sh(fmt::format("run {} remove_staged \"{}\"",
                   ShQuote(fmt::format("step{}-cleanup-staged", index_ + 1)),
                   Gcs(s.String("staged"))));
  }
  return Status::Ok();
}

}  // namespace backfill::render_internal
