// bench/dedupe: what copy-deduplicate of one day costs, against the hand-written DuckDB SQL a
// runbook would run on the same data, and whether that cost stays flat as the tables grow.
//
// For live and stable tables holding 1 and 30 days (1M live rows a day of which 10% are
// duplicates of another row's document_id, stable-like schema, one Append per day), it times
//   - CopyDeduplicate (the library call behind `backfill copy-deduplicate`) of the middle day:
//     the preview counts, the deduplicating query with its deterministic tie-break, the
//     ReplacePartition with its segments and audit entry, and the commit;
//   - the reference query of the runbooks (ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY
//     submission_timestamp) = 1), as DELETE + INSERT of the day in one transaction, on plain
//     DuckDB tables holding the same rows, in a database attached to the same DuckDB instance;
// medians of --reps runs, interleaved across sizes and alternating which of the two goes first.
// It prints a table and the targets: copy-deduplicate within 1.1x of the hand-written SQL, and
// its per-day cost flat (30 days / 1 day within 1.2x). The figures are reported, never
// asserted: the exit code is 0 unless something fails (setup, a write, or a wrong result).
//
// Usage: dedupe [--rows N] [--fill-rows N] [--days 1,30] [--reps R] [--quick] [--dir PATH] [--keep]
// [--parts]
//
// I/O: a temporary warehouse directory per size (under --dir or the system temp directory),
// removed at the end unless --keep. Single-threaded; DuckDB keeps its default thread count.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench/bench_util.h"
#include "core/schema.h"
#include "core/status.h"
#include "core/time.h"
#include "recover/replay.h"
#include "warehouse/config.h"
#include "warehouse/warehouse.h"

namespace backfill {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
using bench::CpuSeconds;
using bench::ExitCode;
using bench::kStableLikeSchemaJson;
using bench::Median;
using bench::Seconds;

constexpr const char* kPrincipal = "bench@example.com";
constexpr double kTargetVsSql = 1.1;
constexpr double kTargetFlat = 1.2;

struct Flags {
  int64_t rows = 1000000;  // live rows of the measured day
  int64_t fill_rows = -1;  // live rows of every other day (-1: as --rows)
  std::vector<int> days = {1, 30};
  int reps = 3;
  bool parts = false;
  fs::path dir;
  bool keep = false;
};

// The plain tables of the hand-written baseline: the same columns as DuckDB types.
constexpr const char* kPlainColumns =
    "submission_timestamp TIMESTAMPTZ, document_id VARCHAR, client_id VARCHAR, normalized_channel "
    "VARCHAR, "
    "sample_id BIGINT, normalized_country_code VARCHAR, metrics STRUCT(\"key\" VARCHAR, \"value\" "
    "BIGINT)[], "
    "payload VARCHAR";

const Date kFirstDay = std::chrono::year{2024} / std::chrono::March / 1;

std::string DayLiteral(Date day) { return Warehouse::TimestampLiteral(StartOf(day)); }

// One day of live rows, in the table's column order: `rows` rows, of which the last 10% repeat
// the document_id of an earlier row, most with a later submission_timestamp (a resend) and one
// in ten with the very same timestamp (so the tie-break is exercised); duplicates differ in
// their payload.
std::string LiveDaySql(Date day, int64_t rows) {
  const int64_t distinct = rows - rows / 10;
  const int64_t step_us = int64_t{86400} * 1000000 / rows;
  return fmt::format(
      "SELECT {day} + to_microseconds(k * {step} + CASE WHEN i < {n} OR i % 10 = 0 THEN 0 "
      "ELSE 1000000 * (1 + i % 600) END) AS submission_timestamp, "
      "md5('{d}/' || k) AS document_id, "
      "md5('client/' || (hash(k * 7) % 50000)) AS client_id, "
      "(['release', 'release', 'release', 'beta', 'nightly', 'esr'])[1 + (k % 6)] AS "
      "normalized_channel, "
      "CAST(hash(k) % 100 AS BIGINT) AS sample_id, "
      "(['US', 'DE', 'FR', 'GB', 'IN', 'BR', 'CA', 'JP', 'PL', 'ID'])[1 + (k * 7 % 10)] AS "
      "normalized_country_code, "
      "[{{'key': 'startup.ms', 'value': k % 5000}}, {{'key': 'tabs', 'value': k % 40}}, "
      "{{'key': 'gfx.adapter', 'value': i % 13}}] AS metrics, "
      "'{{\"v\":' || i || ',\"h\":\"' || md5('p/' || i) || md5('q/' || k) || md5('r/' || i) || "
      "'\"}}' AS payload "
      "FROM (SELECT i, CASE WHEN i < {n} THEN i ELSE (i - {n}) * 9 % {n} END AS k FROM "
      "range({rows}) AS _gen(i))",
      fmt::arg("day", DayLiteral(day)), fmt::arg("step", step_us), fmt::arg("n", distinct),
      fmt::arg("d", FormatDate(day)), fmt::arg("rows", rows));
}

// The runbooks' deduplicating query (bigquery-etl's copy_deduplicate), over a relation.
std::string ReferenceDedupSql(const std::string& relation, Date day) {
  return fmt::format(
      "SELECT * EXCLUDE (_n) FROM (SELECT *, row_number() OVER (PARTITION BY document_id ORDER BY "
      "submission_timestamp) AS _n FROM {} WHERE CAST(submission_timestamp AS DATE) = DATE '{}') "
      "WHERE _n = 1",
      relation, FormatDate(day));
}

Result<int64_t> Count(Warehouse& w, const std::string& sql) {
  BF_ASSIGN_OR_RETURN(QueryResult r, w.Query(sql));
  if (r.rows() != 1) return Internal("expected one row from: " + sql);
  return r.IsNull(0, 0) ? 0 : r.GetInt64(0, 0);
}

struct Size {
  int days = 0;
  fs::path dir;
  std::unique_ptr<FixedClock> clock;  // declared before `w`, so it outlives it
  std::unique_ptr<Warehouse> w;
  TableName live{"bench-project", "telemetry_live", "main_v5"};
  TableName stable{"bench-project", "telemetry_stable", "main_v5"};
  Date day;
  int64_t expected = 0;  // distinct documents of the measured day
  std::vector<double> dedup_ms, dedup_cpu_ms, sql_ms, sql_cpu_ms;
};

// Creates the warehouse, loads `days` live days (one Append each) and the stable days (the
// live days deduplicated, one Append each), and the plain copies for the baseline.
Status Load(const Flags& flags, Size& z) {
  WarehouseConfig config;
  config.principals[kPrincipal] = Role::kOwner;
  BF_RETURN_IF_ERROR(Warehouse::Init(z.dir, config));
  z.clock = std::make_unique<FixedClock>(StartOf(AddDays(kFirstDay, z.days + 1)));
  OpenOptions open;
  open.principal = kPrincipal;
  open.clock = z.clock.get();
  open.write = true;
  open.command = "bench/dedupe";
  BF_ASSIGN_OR_RETURN(z.w, Warehouse::Open(z.dir, open));
  Warehouse& w = *z.w;
  BF_RETURN_IF_ERROR(w.CreateProject(z.live.project));
  TableOptions options;
  BF_ASSIGN_OR_RETURN(options.schema, ParseBqSchema(kStableLikeSchemaJson, "bench schema"));
  options.partition_by = "submission_timestamp";
  options.cluster_by = {"normalized_channel", "sample_id"};
  for (const TableName& t : {z.live, z.stable}) {
    BF_RETURN_IF_ERROR(w.CreateDataset(t.Dataset(), DatasetOptions{}));
    BF_RETURN_IF_ERROR(w.CreateTable(t, options));
  }
  BF_RETURN_IF_ERROR(
      w.Query(fmt::format("ATTACH '{}' AS plain", (z.dir / "plain.duckdb").string())).status());
  BF_RETURN_IF_ERROR(
      w.Query(fmt::format("CREATE TABLE plain.live ({0}); CREATE TABLE plain.stable ({0})",
                          kPlainColumns))
          .status());
  z.day = AddDays(kFirstDay, z.days / 2);
  auto start = SteadyClock::now();
  for (int d = 0; d < z.days; ++d) {
    Date day = AddDays(kFirstDay, d);
    int64_t rows = day == z.day || flags.fill_rows < 0 ? flags.rows : flags.fill_rows;
    BF_RETURN_IF_ERROR(
        w.Query("CREATE OR REPLACE TEMP TABLE bench_day AS " + LiveDaySql(day, rows)).status());
    z.clock->Advance(std::chrono::minutes(1));
    BF_ASSIGN_OR_RETURN(WriteStats s, w.Append(z.live, "SELECT * FROM temp.main.bench_day"));
    if (s.rows_written != rows)
      return Internal(fmt::format("live day {}: {} rows written", d, s.rows_written));
    z.clock->Advance(std::chrono::minutes(1));
    BF_RETURN_IF_ERROR(w.Append(z.stable, ReferenceDedupSql("temp.main.bench_day", day)).status());
    BF_RETURN_IF_ERROR(
        w.Query("INSERT INTO plain.live SELECT * FROM temp.main.bench_day").status());
    BF_RETURN_IF_ERROR(
        w.Query("INSERT INTO plain.stable " + ReferenceDedupSql("temp.main.bench_day", day))
            .status());
  }
  BF_RETURN_IF_ERROR(w.Query("DROP TABLE temp.main.bench_day").status());
  z.expected = flags.rows - flags.rows / 10;
  std::fprintf(stderr, "  %d day(s) loaded in %.1f s\n", z.days,
               Seconds(SteadyClock::now() - start));
  return Status::Ok();
}

Status TimedDedup(Size& z) {
  CopyDeduplicateOptions o;
  o.project = z.live.project;
  o.filter.only = {z.live.dataset + "." + z.live.table};
  o.dates = {z.day};
  z.clock->Advance(std::chrono::minutes(1));
  auto start = SteadyClock::now();
  double cpu = CpuSeconds();
  BF_ASSIGN_OR_RETURN(CopyDeduplicateReport r, CopyDeduplicate(*z.w, o));
  z.dedup_ms.push_back(1e3 * Seconds(SteadyClock::now() - start));
  z.dedup_cpu_ms.push_back(1e3 * (CpuSeconds() - cpu));
  if (r.items.size() != 1 || r.items[0].stable_rows_after != z.expected) {
    return Internal(fmt::format("copy-deduplicate wrote {} rows, expected {}",
                                r.items.empty() ? -1 : r.items[0].stable_rows_after, z.expected));
  }
  return Status::Ok();
}

Status TimedSql(Size& z) {
  std::string sql = fmt::format(
      "BEGIN TRANSACTION; DELETE FROM plain.stable WHERE CAST(submission_timestamp AS DATE) = DATE "
      "'{0}'; "
      "INSERT INTO plain.stable {1}; COMMIT",
      FormatDate(z.day), ReferenceDedupSql("plain.live", z.day));
  auto start = SteadyClock::now();
  double cpu = CpuSeconds();
  BF_RETURN_IF_ERROR(z.w->Query(sql).status());
  z.sql_ms.push_back(1e3 * Seconds(SteadyClock::now() - start));
  z.sql_cpu_ms.push_back(1e3 * (CpuSeconds() - cpu));
  return Status::Ok();
}

// Both results hold the same documents with the same timestamps (which row of a tie each one
// keeps may differ: the reference query has no tie-break).
Status Check(Size& z) {
  BF_ASSIGN_OR_RETURN(std::string stable_rel, z.w->Relation(z.stable));
  std::string where =
      fmt::format("WHERE CAST(submission_timestamp AS DATE) = DATE '{}'", FormatDate(z.day));
  auto digest = [&](const std::string& rel) {
    return fmt::format("SELECT count(*), sum(hash(document_id, submission_timestamp)) FROM {} {}",
                       rel, where);
  };
  BF_ASSIGN_OR_RETURN(QueryResult a, z.w->Query(digest(stable_rel)));
  BF_ASSIGN_OR_RETURN(QueryResult b, z.w->Query(digest("plain.stable")));
  if (a.GetInt64(0, 0) != z.expected || a.GetString(0, 0) != b.GetString(0, 0) ||
      a.GetString(1, 0) != b.GetString(1, 0)) {
    return Internal(
        fmt::format("results differ: copy-deduplicate {} rows ({}), hand-written SQL {} rows ({})",
                    a.GetString(0, 0), a.GetString(1, 0), b.GetString(0, 0), b.GetString(1, 0)));
  }
  BF_ASSIGN_OR_RETURN(int64_t all_days, Count(*z.w, "SELECT count(*) FROM " + stable_rel));
  BF_ASSIGN_OR_RETURN(int64_t plain_days, Count(*z.w, "SELECT count(*) FROM plain.stable"));
  if (all_days != plain_days)
    return Internal(fmt::format("stable holds {} rows, the plain copy {}", all_days, plain_days));
  return Status::Ok();
}

// --parts: times the queries copy-deduplicate is made of, and the alternatives its deduplicating
// query was chosen from, alone (reads only), at the smallest size. Each query's rows are consumed
// whole, by a digest of every column (under a bare count(*) DuckDB would prune the columns it
// does not need, the wide ones that make a window costly). The alternatives marked exact must
// give the very rows of copy-deduplicate's query, which is taken from the audit log of the run
// before; they are checked first. Printed to stderr.
Status TimeParts(Size& z) {
  BF_ASSIGN_OR_RETURN(std::string rel, z.w->Relation(z.live));
  BF_ASSIGN_OR_RETURN(std::vector<AuditEntry> audit, z.w->Audit(z.live.project));
  const std::string replace =
      fmt::format("REPLACE PARTITION `{}${}` WITH ", z.stable.ToString(), FormatDateCompact(z.day));
  auto ours = std::find_if(audit.rbegin(), audit.rend(),
                           [&](const AuditEntry& e) { return e.statement.rfind(replace, 0) == 0; });
  if (ours == audit.rend())
    return Internal("--parts: no copy-deduplicate of the day in the audit log");
  // The day as the runbooks select it (a cast of every row), and as a range the scan can use.
  const std::string cast =
      fmt::format("CAST(_bf_l.submission_timestamp AS DATE) = DATE '{}'", FormatDate(z.day));
  const std::string range =
      fmt::format("_bf_l.submission_timestamp >= {} AND _bf_l.submission_timestamp < {}",
                  DayLiteral(z.day), DayLiteral(AddDays(z.day, 1)));
  auto q = [&](std::string_view sql, const std::string& pred) {
    return fmt::format(fmt::runtime(sql),
                       fmt::arg("cols",
                                "submission_timestamp, document_id, client_id, normalized_channel, "
                                "sample_id, normalized_country_code, metrics, payload"),
                       fmt::arg("rel", rel), fmt::arg("pred", pred));
  };
  // Pieces of the split queries: the keys occurring more than once (hash(document_id), or
  // document_id itself with NULL as one key), the rows of the other documents, and a window over
  // the rows of the duplicated ones.
  const std::string dup_hashes =
      "WITH _bf_dup AS MATERIALIZED (SELECT hash(_bf_l.document_id) AS _bf_k FROM {rel} AS _bf_l "
      "WHERE {pred} "
      "GROUP BY _bf_k HAVING count(*) > 1) ";
  const std::string dup_ids =
      "WITH _bf_dup AS MATERIALIZED (SELECT _bf_l.document_id AS _bf_k FROM {rel} AS _bf_l WHERE "
      "{pred} "
      "GROUP BY _bf_k HAVING count(*) > 1) ";
  const std::string by_hash = "hash(_bf_l.document_id) = _bf_dup._bf_k";
  const std::string by_id = "_bf_l.document_id IS NOT DISTINCT FROM _bf_dup._bf_k";
  auto unique = [](const std::string& on) {
    return "SELECT {cols} FROM {rel} AS _bf_l ANTI JOIN _bf_dup ON " + on +
           " WHERE {pred} UNION ALL ";
  };
  // Each document's earliest rows (rank 1), counted; to_json only where several tie.
  auto rank_window = [](const std::string& from) {
    return "SELECT {cols} FROM (SELECT _bf_l.*, count(*) OVER _bf_w AS _bf_c FROM " + from +
           " WINDOW _bf_w AS (PARTITION BY _bf_l.document_id ORDER BY _bf_l.submission_timestamp "
           "ASC NULLS LAST) "
           "QUALIFY rank() OVER _bf_w = 1) QUALIFY row_number() OVER (PARTITION BY document_id "
           "ORDER BY CASE WHEN "
           "_bf_c > 1 THEN CAST(to_json(struct_pack({cols})) AS VARCHAR) END) = 1";
  };
  // The rows of each (document, timestamp) counted first; to_json where that count is > 1.
  auto tie_window = [](const std::string& from) {
    return "SELECT {cols} FROM (SELECT *, row_number() OVER (PARTITION BY document_id ORDER BY "
           "submission_timestamp ASC NULLS LAST, _bf_tie ASC) AS _bf_n FROM (SELECT _bf_l.*, CASE "
           "WHEN count(*) "
           "OVER (PARTITION BY _bf_l.document_id, _bf_l.submission_timestamp) > 1 THEN "
           "CAST(to_json(_bf_l) AS "
           "VARCHAR) END AS _bf_tie FROM " +
           from + ")) WHERE _bf_n = 1";
  };
  const std::string semi_hash = "{rel} AS _bf_l SEMI JOIN _bf_dup ON " + by_hash + " WHERE {pred}";
  const std::string semi_id = "{rel} AS _bf_l SEMI JOIN _bf_dup ON " + by_id + " WHERE {pred}";
  const std::string whole_day = "{rel} AS _bf_l WHERE {pred}";
  struct Part {
    std::string what, sql;
    bool exact = false;
  };
  std::vector<Part> parts = {
      {"copy-deduplicate's query", ours->statement.substr(replace.size()), true},
      {"reference query, plain table", ReferenceDedupSql("plain.live", z.day)},
      {"reference query, warehouse view", ReferenceDedupSql(rel, z.day)},
      {"the live day, cast", q("SELECT {cols} FROM {rel} AS _bf_l WHERE {pred}", cast)},
      {"the live day, range", q("SELECT {cols} FROM {rel} AS _bf_l WHERE {pred}", range)},
      {"hash(document_id) occurring more than once, range",
       q(dup_hashes + "SELECT * FROM _bf_dup", range)},
      {"split by hash, rank window, range",
       q(dup_hashes + unique(by_hash) + rank_window(semi_hash), range), true},
      {"split by hash, rank window, cast",
       q(dup_hashes + unique(by_hash) + rank_window(semi_hash), cast), true},
      {"split by hash, tie window, range",
       q(dup_hashes + unique(by_hash) + tie_window(semi_hash), range), true},
      {"split by id, rank window, range", q(dup_ids + unique(by_id) + rank_window(semi_id), range),
       true},
      {"whole day, tie window, cast (the old query)", q(tie_window(whole_day), cast), true},
      {"whole day, tie window, range", q(tie_window(whole_day), range), true},
      {"whole day, rank window, range", q(rank_window(whole_day), range), true},
      {"whole day, no tie-break, range", q("SELECT {cols} FROM (SELECT _bf_l.*, row_number() OVER "
                                           "(PARTITION BY _bf_l.document_id ORDER BY "
                                           "_bf_l.submission_timestamp ASC NULLS LAST) AS _bf_n "
                                           "FROM {rel} AS _bf_l WHERE {pred}) WHERE _bf_n = 1",
                                           range)},
  };
  auto digest = [](const std::string& sql) {
    return "SELECT count(*), sum(hash(_bf_r)) FROM (" + sql + ") AS _bf_r";
  };
  std::string expected;
  for (const Part& p : parts) {
    if (!p.exact) continue;
    BF_ASSIGN_OR_RETURN(QueryResult r, z.w->Query(digest(p.sql)));
    std::string d = r.GetString(0, 0) + " rows, digest " + r.GetString(1, 0);
    if (expected.empty()) expected = d;
    if (d != expected) {
      return Internal(fmt::format("--parts: '{}' gives other rows than copy-deduplicate ({}; {})",
                                  p.what, d, expected));
    }
  }
  for (int rep = 0; rep < 3; ++rep) {
    for (const Part& p : parts) {
      auto start = SteadyClock::now();
      double cpu = CpuSeconds();
      BF_ASSIGN_OR_RETURN(QueryResult r, z.w->Query(digest(p.sql)));
      std::fprintf(stderr, "  part %-50s %8.1f ms (cpu %8.1f) -> %s rows\n", p.what.c_str(),
                   1e3 * Seconds(SteadyClock::now() - start), 1e3 * (CpuSeconds() - cpu),
                   r.GetString(0, 0).c_str());
    }
  }
  return Status::Ok();
}

Status Run(const Flags& flags, std::vector<Size>& sizes) {
  auto at = [](const Size& z) { return fmt::format("at {} day(s)", z.days); };
  for (Size& z : sizes) BF_RETURN_IF_ERROR(Load(flags, z).WithContext(at(z)));
  // One untimed run of each first: caches warm, the stable day written once by each.
  for (Size& z : sizes) {
    BF_RETURN_IF_ERROR(TimedDedup(z).WithContext(at(z)));
    BF_RETURN_IF_ERROR(TimedSql(z).WithContext(at(z)));
    BF_RETURN_IF_ERROR(Check(z).WithContext(at(z)));
    z.dedup_ms.clear();
    z.dedup_cpu_ms.clear();
    z.sql_ms.clear();
    z.sql_cpu_ms.clear();
  }
  if (flags.parts) BF_RETURN_IF_ERROR(TimeParts(sizes[0]));
  for (int rep = 0; rep < flags.reps; ++rep) {
    for (Size& z : sizes) {
      if (rep % 2 == 0) {
        BF_RETURN_IF_ERROR(TimedDedup(z).WithContext(at(z)));
        BF_RETURN_IF_ERROR(TimedSql(z).WithContext(at(z)));
      } else {
        BF_RETURN_IF_ERROR(TimedSql(z).WithContext(at(z)));
        BF_RETURN_IF_ERROR(TimedDedup(z).WithContext(at(z)));
      }
    }
  }
  for (Size& z : sizes) BF_RETURN_IF_ERROR(Check(z).WithContext(at(z)));
  for (const Size& z : sizes) {
    std::fprintf(stderr,
                 "  %d day(s): copy-deduplicate %s ms (cpu %s); hand-written SQL %s ms (cpu %s)\n",
                 z.days, fmt::format("{:.0f}", fmt::join(z.dedup_ms, "/")).c_str(),
                 fmt::format("{:.0f}", fmt::join(z.dedup_cpu_ms, "/")).c_str(),
                 fmt::format("{:.0f}", fmt::join(z.sql_ms, "/")).c_str(),
                 fmt::format("{:.0f}", fmt::join(z.sql_cpu_ms, "/")).c_str());
  }
  return Status::Ok();
}

// Returns the exit code for a usage error or --help, or -1 to go on.
int ParseFlags(int argc, char** argv, Flags* flags) {
  CLI::App app(
      "bench/dedupe: copy-deduplicate of one day against the hand-written DuckDB SQL, at 1 and 30 "
      "days",
      "dedupe");
  app.option_defaults()->always_capture_default();
  auto* rows =
      app.add_option("--rows", flags->rows, "Live rows of the deduplicated day, 10% duplicates")
          ->check(CLI::Range(int64_t{10}, int64_t{1} << 40));
  auto* fill = app.add_option("--fill-rows", flags->fill_rows,
                              "Live rows of every other day (default: as --rows)")
                   ->check(CLI::Range(int64_t{10}, int64_t{1} << 40))
                   ->default_str("");
  app.add_option("--days", flags->days, "Table sizes in days, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 1000));
  app.add_option("--reps", flags->reps, "Timed runs of each, interleaved")
      ->check(CLI::Range(1, 1000));
  bool quick = false;
  app.add_flag("--quick", quick, "--rows 100000 --fill-rows 20000 (unless given)");
  app.add_option("--dir", flags->dir,
                 "Where to create the temporary warehouses (default: the system temp dir)");
  app.add_flag("--keep", flags->keep, "Keep the warehouses afterwards");
  app.add_flag("--parts", flags->parts,
               "Also time the queries copy-deduplicate is made of, and alternatives (stderr)");
  if (int code = bench::ParseCommandLine(app, argc, argv); code >= 0) return code;
  if (quick && rows->count() == 0) flags->rows = 100000;
  if (quick && fill->count() == 0) flags->fill_rows = 20000;
  return -1;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (int code = ParseFlags(argc, argv, &flags); code >= 0) return code;
  Result<fs::path> made = bench::MakeWorkDir("dedupe", flags.dir);
  if (!made.ok()) {
    std::fprintf(stderr, "error: %s\n", made.status().message().c_str());
    return 1;
  }
  const fs::path root = *made;
  const int64_t fill = flags.fill_rows < 0 ? flags.rows : flags.fill_rows;
  std::fprintf(
      stderr,
      "bench/dedupe: %lld live rows on the deduplicated day (10%% duplicates), %lld on the others, "
      "days {%s}, warehouses under %s\n",
      static_cast<long long>(flags.rows), static_cast<long long>(fill),
      fmt::format("{}", fmt::join(flags.days, ",")).c_str(), root.string().c_str());

  auto total_start = SteadyClock::now();
  std::vector<Size> sizes(flags.days.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    sizes[i].days = flags.days[i];
    sizes[i].dir = root / fmt::format("{}-{}d", i + 1, flags.days[i]);
  }
  Status status = Run(flags, sizes);
  for (Size& z : sizes) z.w.reset();
  std::error_code ec;
  if (!flags.keep) fs::remove_all(root, ec);
  if (!status.ok()) return ExitCode(status);

  std::printf(
      "\nbench/dedupe: one day of %lld live rows (10%% duplicates; other days %lld rows); median "
      "of %d\n\n",
      static_cast<long long>(flags.rows), static_cast<long long>(fill), flags.reps);
  std::printf("%6s | %22s | %22s | %11s | %11s\n", "days", "copy-deduplicate (ms)",
              "hand-written SQL (ms)", "ratio", "cpu ratio");
  std::printf("%s\n", std::string(6 + 22 + 22 + 11 + 11 + 4 * 3, '-').c_str());
  for (const Size& z : sizes) {
    std::printf("%6d | %22.1f | %22.1f | %11.2f | %11.2f\n", z.days, Median(z.dedup_ms),
                Median(z.sql_ms), Median(z.dedup_ms) / Median(z.sql_ms),
                Median(z.dedup_cpu_ms) / Median(z.sql_cpu_ms));
  }
  std::printf("\n");
  auto by_days = [](const Size& a, const Size& b) { return a.days < b.days; };
  const Size& small = *std::min_element(sizes.begin(), sizes.end(), by_days);
  const Size& large = *std::max_element(sizes.begin(), sizes.end(), by_days);
  for (const Size* z : {&small, &large}) {
    double x = Median(z->dedup_ms) / Median(z->sql_ms);
    std::printf("copy-deduplicate / hand-written SQL @%dd = %.2f (target <= %.1f) %s\n", z->days, x,
                kTargetVsSql, x <= kTargetVsSql ? "PASS" : "MISS");
    if (small.days == large.days) break;
  }
  if (small.days != large.days) {
    double y = Median(large.dedup_ms) / Median(small.dedup_ms);
    std::printf("copy-deduplicate@%dd / copy-deduplicate@%dd = %.2f (target <= %.1f) %s\n",
                large.days, small.days, y, kTargetFlat, y <= kTargetFlat ? "PASS" : "MISS");
  }
  std::printf("wall time %.1f s\n", Seconds(SteadyClock::now() - total_start));
  return 0;
}

}  // namespace
}  // namespace backfill

int main(int argc, char** argv) { return backfill::Main(argc, argv); }
