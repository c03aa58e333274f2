// bench/warehouse: what partition overwrites and time-travel reads cost in the embedded
// warehouse as a table grows.
//
// For a stable-like table holding 1, 10 and 30 days (200k rows a day, one Append per day so each
// day is its own segment, as a daily load writes it), it times
//   - ReplacePartition of one (middle) day with a full day of new rows staged beforehand in a
//     temp table (so row generation is not timed), median of 3;
//   - reading that day current vs as of a time before the first replace, median of 5 each
//     (in pairs whose order alternates, after one untimed read of each);
// and prints a table plus the two targets from the issue: replace@30d within 1.5x of replace@1d,
// and an as-of read within 1.5x of a current read. The figures are reported, never asserted:
// the exit code is 0 unless something fails (setup, a write, a read, or a wrong row count).
//
// Usage: warehouse [--rows N] [--days 1,10,30] [--quick] [--dir PATH] [--keep] [--explain]
//
// All sizes are loaded first and stay open; the repetitions are then interleaved across sizes
// (replace 1d, 10d, 30d, replace 1d, ...), so load drifting on a shared machine hits every size
// alike. Every sample and the replace's process CPU time are printed to stderr.
//
// I/O: a temporary warehouse directory per table size (under --dir or the system temp
// directory), removed at the end unless --keep. Single-threaded; DuckDB keeps its default
// thread count.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench/bench_util.h"
#include "core/schema.h"
#include "core/status.h"
#include "core/time.h"
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
constexpr int kReplaceReps = 3;
constexpr int kReadReps = 5;
constexpr double kTarget = 1.5;

struct Flags {
  int64_t rows = 200000;
  std::vector<int> days = {1, 10, 30};
  fs::path dir;
  bool keep = false;
  bool explain = false;
};

const Date kFirstDay = std::chrono::year{2024} / std::chrono::March / 1;

std::string DayLiteral(Date day) { return Warehouse::TimestampLiteral(StartOf(day)); }

// DuckDB SQL producing `rows` rows of `day`, in the table's column order. `seed` varies the
// document ids and payloads so a replacement is new data, not a copy of the old rows.
std::string DaySql(Date day, int64_t rows, int seed) {
  const int64_t step_us = int64_t{86400} * 1000000 / rows;
  return fmt::format(
      "SELECT {day} + to_microseconds(i * {step}) AS submission_timestamp, "
      "md5('{seed}/{d}/' || i) AS document_id, "
      "md5('client/' || (hash(i * 7 + {seed}) % 50000)) AS client_id, "
      "(['release', 'release', 'release', 'beta', 'nightly', 'esr'])[1 + (i % 6)] AS "
      "normalized_channel, "
      "CAST(hash(i, {seed}) % 100 AS BIGINT) AS sample_id, "
      "(['US', 'DE', 'FR', 'GB', 'IN', 'BR', 'CA', 'JP', 'PL', 'ID'])[1 + (i * 7 % 10)] AS "
      "normalized_country_code, "
      "[{{'key': 'startup.ms', 'value': i % 5000}}, {{'key': 'tabs', 'value': i % 40}}, "
      "{{'key': 'gfx.adapter', 'value': i % 13}}] AS metrics, "
      "'{{\"v\":' || i || ',\"h\":\"' || md5('p/{seed}/' || i) || md5('q/' || i) || "
      "md5('r/{seed}/' || i) || "
      "md5('s/' || i) || md5('t/{seed}/' || i) || md5('u/' || i) || '\"}}' AS payload "
      "FROM range({rows}) AS _gen(i)",
      fmt::arg("day", DayLiteral(day)), fmt::arg("step", step_us), fmt::arg("seed", seed),
      fmt::arg("d", FormatDate(day)), fmt::arg("rows", rows));
}

// The read of one day: it touches the data (a sum and a distinct count), not only metadata.
std::string ReadSql(const std::string& relation, Date day) {
  return fmt::format(
      "SELECT count(*), sum(sample_id), count(DISTINCT document_id) FROM {} "
      "WHERE submission_timestamp >= {} AND submission_timestamp < {}",
      relation, DayLiteral(day), DayLiteral(AddDays(day, 1)));
}

struct ReadFigures {
  int64_t rows = 0;
  int64_t sum = 0;
  int64_t distinct = 0;
};

Result<ReadFigures> TimedRead(Warehouse& w, const std::string& sql, double* ms) {
  auto start = SteadyClock::now();
  BF_ASSIGN_OR_RETURN(QueryResult r, w.Query(sql));
  *ms = 1e3 * Seconds(SteadyClock::now() - start);
  if (r.rows() != 1) return Internal(fmt::format("read returned {} rows, expected 1", r.rows()));
  return ReadFigures{r.GetInt64(0, 0), r.IsNull(1, 0) ? 0 : r.GetInt64(1, 0), r.GetInt64(2, 0)};
}

Status PrintExplain(Warehouse& w, const std::string& what, const std::string& sql) {
  BF_ASSIGN_OR_RETURN(QueryResult r, w.Query("EXPLAIN ANALYZE " + sql));
  std::fprintf(stderr, "\n=== EXPLAIN ANALYZE, %s ===\n", what.c_str());
  for (size_t i = 0; i < r.rows(); ++i) {
    for (size_t c = 0; c < r.columns(); ++c) {
      if (!r.IsNull(c, i)) std::fprintf(stderr, "%s\n", r.GetString(c, i).c_str());
    }
  }
  return Status::Ok();
}

// One table size: its own fresh warehouse, clock and samples.
struct Size {
  int days = 0;
  fs::path dir;
  std::unique_ptr<FixedClock> clock;  // declared before `w`, so it outlives it
  std::unique_ptr<Warehouse> w;
  TableName table{"bench-project", "telemetry_stable", "main_v5"};
  Date day;  // the day replaced and read: the middle one
  Timestamp before_replace;
  double load_s = 0;
  std::string current_sql, as_of_sql;
  std::vector<double> replace_ms, replace_cpu_ms, current_ms, as_of_ms;
};

// Creates the warehouse and loads `days` days, one Append (one segment) per day.
Status Load(const Flags& flags, Size& z) {
  WarehouseConfig config;
  config.principals[kPrincipal] = Role::kOwner;
  BF_RETURN_IF_ERROR(Warehouse::Init(z.dir, config));
  // Loads start the day after the last data day; each write moves the clock a minute on, so
  // every segment has its own creation time and the whole run stays inside the 7-day window.
  z.clock = std::make_unique<FixedClock>(StartOf(AddDays(kFirstDay, z.days + 1)));
  OpenOptions open;
  open.principal = kPrincipal;
  open.clock = z.clock.get();
  open.write = true;
  open.command = "bench/warehouse";
  BF_ASSIGN_OR_RETURN(z.w, Warehouse::Open(z.dir, open));
  BF_RETURN_IF_ERROR(z.w->CreateProject(z.table.project));
  BF_RETURN_IF_ERROR(z.w->CreateDataset(z.table.Dataset(), DatasetOptions{}));
  TableOptions options;
  BF_ASSIGN_OR_RETURN(options.schema, ParseBqSchema(kStableLikeSchemaJson, "bench schema"));
  options.partition_by = "submission_timestamp";
  options.cluster_by = {"normalized_channel", "sample_id"};
  BF_RETURN_IF_ERROR(z.w->CreateTable(z.table, options));

  auto start = SteadyClock::now();
  for (int d = 0; d < z.days; ++d) {
    z.clock->Advance(std::chrono::minutes(1));
    BF_ASSIGN_OR_RETURN(WriteStats s,
                        z.w->Append(z.table, DaySql(AddDays(kFirstDay, d), flags.rows, 0)));
    if (s.rows_written != flags.rows) {
      return Internal(fmt::format("append of day {} wrote {} rows, expected {}", d, s.rows_written,
                                  flags.rows));
    }
  }
  z.load_s = Seconds(SteadyClock::now() - start);
  std::fprintf(stderr, "  %d day(s) loaded (%lld rows) in %.1f s\n", z.days,
               static_cast<long long>(flags.rows) * z.days, z.load_s);
  // The as-of point: after the loads, before any replace.
  z.clock->Advance(std::chrono::minutes(1));
  z.before_replace = z.clock->Now();
  z.day = AddDays(kFirstDay, z.days / 2);
  return Status::Ok();
}

// One timed ReplacePartition of the day.
Status Replace(const Flags& flags, Size& z, int rep) {
  // The new rows are staged first (untimed), as a copy-deduplicate stages them, so the
  // figure is the warehouse's cost and not that of generating the rows.
  BF_RETURN_IF_ERROR(z.w->Query("CREATE OR REPLACE TEMP TABLE bench_stage AS " +
                                DaySql(z.day, flags.rows, 100 + rep))
                         .status());
  z.clock->Advance(std::chrono::minutes(1));
  auto start = SteadyClock::now();
  double cpu_start = CpuSeconds();
  BF_ASSIGN_OR_RETURN(WriteStats s,
                      z.w->ReplacePartition(z.table, z.day, "SELECT * FROM temp.main.bench_stage"));
  z.replace_ms.push_back(1e3 * Seconds(SteadyClock::now() - start));
  z.replace_cpu_ms.push_back(1e3 * (CpuSeconds() - cpu_start));
  if (s.rows_written != flags.rows || s.rows_deleted != flags.rows) {
    return Internal(fmt::format("replace #{} wrote {} and deleted {} rows, expected {} each",
                                rep + 1, s.rows_written, s.rows_deleted, flags.rows));
  }
  return z.w->Query("DROP TABLE temp.main.bench_stage").status();
}

// Builds both reads and checks them once (untimed): the right row count, and each one its
// own version of the day (the loaded rows, seed 0, only as of before the replaces).
Status PrepareReads(const Flags& flags, Size& z) {
  z.clock->Advance(std::chrono::minutes(1));
  // Relation() does the catalog and access checks; the timing covers the query itself.
  BF_ASSIGN_OR_RETURN(std::string current_rel, z.w->Relation(z.table));
  BF_ASSIGN_OR_RETURN(std::string as_of_rel, z.w->Relation(z.table, z.before_replace));
  z.current_sql = ReadSql(current_rel, z.day);
  z.as_of_sql = ReadSql(as_of_rel, z.day);
  const std::string first_doc = fmt::format("md5('0/{}/' || 0)", FormatDate(z.day));
  for (bool as_of : {false, true}) {
    double ignored = 0;
    BF_ASSIGN_OR_RETURN(ReadFigures f,
                        TimedRead(*z.w, as_of ? z.as_of_sql : z.current_sql, &ignored));
    const char* what = as_of ? "as-of" : "current";
    if (f.rows != flags.rows || f.distinct != flags.rows) {
      return Internal(
          fmt::format("{} read of {} found {} rows ({} distinct document ids), expected {}", what,
                      FormatDate(z.day), f.rows, f.distinct, flags.rows));
    }
    BF_ASSIGN_OR_RETURN(QueryResult r,
                        z.w->Query(fmt::format("SELECT count(*) FROM {} WHERE document_id = {}",
                                               as_of ? as_of_rel : current_rel, first_doc)));
    if (r.rows() != 1 || r.GetInt64(0, 0) != (as_of ? 1 : 0)) {
      return Internal(fmt::format("the {} read does not see the {} rows of {}", what,
                                  as_of ? "loaded" : "replacing", FormatDate(z.day)));
    }
  }
  return Status::Ok();
}

// One timed current read and one timed as-of read; which one goes first alternates with
// `rep`, so neither always pays for switching from the previous size's warehouse.
Status Read(Size& z, int rep) {
  for (bool as_of : {rep % 2 == 1, rep % 2 == 0}) {
    double ms = 0;
    BF_RETURN_IF_ERROR(TimedRead(*z.w, as_of ? z.as_of_sql : z.current_sql, &ms).status());
    (as_of ? z.as_of_ms : z.current_ms).push_back(ms);
  }
  return Status::Ok();
}

// Loads every size first, then interleaves the repetitions across sizes, so that load on a
// shared machine drifting during the run hits every size alike instead of the last one.
Status Run(const Flags& flags, std::vector<Size>& sizes) {
  auto at = [](const Size& z) { return fmt::format("at {} day(s)", z.days); };
  for (Size& z : sizes) BF_RETURN_IF_ERROR(Load(flags, z).WithContext(at(z)));
  for (int rep = 0; rep < kReplaceReps; ++rep) {
    for (Size& z : sizes) BF_RETURN_IF_ERROR(Replace(flags, z, rep).WithContext(at(z)));
  }
  for (Size& z : sizes) BF_RETURN_IF_ERROR(PrepareReads(flags, z).WithContext(at(z)));
  for (int rep = 0; rep < kReadReps; ++rep) {
    for (Size& z : sizes) BF_RETURN_IF_ERROR(Read(z, rep).WithContext(at(z)));
  }
  for (const Size& z : sizes) {
    std::fprintf(stderr,
                 "  %d day(s): replace %s ms (cpu %s ms); read current %s ms; read as-of %s ms\n",
                 z.days, fmt::format("{:.0f}", fmt::join(z.replace_ms, "/")).c_str(),
                 fmt::format("{:.0f}", fmt::join(z.replace_cpu_ms, "/")).c_str(),
                 fmt::format("{:.1f}", fmt::join(z.current_ms, "/")).c_str(),
                 fmt::format("{:.1f}", fmt::join(z.as_of_ms, "/")).c_str());
  }
  if (flags.explain) {
    auto largest = std::max_element(sizes.begin(), sizes.end(),
                                    [](const Size& a, const Size& b) { return a.days < b.days; });
    BF_RETURN_IF_ERROR(PrintExplain(
        *largest->w, fmt::format("current read, {} days", largest->days), largest->current_sql));
    BF_RETURN_IF_ERROR(PrintExplain(*largest->w, fmt::format("as-of read, {} days", largest->days),
                                    largest->as_of_sql));
  }
  return Status::Ok();
}

// Returns the exit code for a usage error or --help, or -1 to go on.
int ParseFlags(int argc, char** argv, Flags* flags) {
  CLI::App app(
      "bench/warehouse: replace one day, and read it current vs as of before the replace, in a "
      "stable-like "
      "table of 1, 10 and 30 days",
      "warehouse");
  app.option_defaults()->always_capture_default();
  auto* rows = app.add_option("--rows", flags->rows, "Rows per day")
                   ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--days", flags->days, "Table sizes in days, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 1000));
  bool quick = false;
  app.add_flag("--quick", quick, "20000 rows per day (unless --rows is given)");
  app.add_option("--dir", flags->dir,
                 "Where to create the temporary warehouses (default: the system temp dir)");
  app.add_flag("--keep", flags->keep, "Keep the warehouses afterwards");
  app.add_flag("--explain", flags->explain,
               "Print EXPLAIN ANALYZE of both reads at the largest size (stderr)");
  if (int code = bench::ParseCommandLine(app, argc, argv); code >= 0) return code;
  if (quick && rows->count() == 0) flags->rows = 20000;
  return -1;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (int code = ParseFlags(argc, argv, &flags); code >= 0) return code;

  Result<fs::path> made = bench::MakeWorkDir("warehouse", flags.dir);
  if (!made.ok()) {
    std::fprintf(stderr, "error: %s\n", made.status().message().c_str());
    return 1;
  }
  const fs::path root = *made;
  std::fprintf(stderr, "bench/warehouse: %lld rows/day, days {%s}, warehouses under %s\n",
               static_cast<long long>(flags.rows),
               fmt::format("{}", fmt::join(flags.days, ",")).c_str(), root.string().c_str());

  auto total_start = SteadyClock::now();
  std::vector<Size> sizes(flags.days.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    sizes[i].days = flags.days[i];
    sizes[i].dir = root / fmt::format("{}-{}d", i + 1, flags.days[i]);
  }
  Status status = Run(flags, sizes);
  for (Size& z : sizes) z.w.reset();  // closes the files before they are removed
  std::error_code ec;
  if (!flags.keep) fs::remove_all(root, ec);
  if (!status.ok()) return ExitCode(status);

  std::printf(
      "\nbench/warehouse: stable-like table, %lld rows/day; replace = median of %d, reads = median "
      "of %d\n\n",
      static_cast<long long>(flags.rows), kReplaceReps, kReadReps);
  std::printf("%6s | %23s | %17s | %17s | %14s\n", "days", "replace one day (ms)",
              "read current (ms)", "read as-of (ms)", "as-of/current");
  std::printf("%s\n", std::string(6 + 23 + 17 + 17 + 14 + 4 * 3, '-').c_str());
  for (const Size& z : sizes) {
    double current = Median(z.current_ms), as_of = Median(z.as_of_ms);
    std::printf("%6d | %23.1f | %17.1f | %17.1f | %14.2f\n", z.days, Median(z.replace_ms), current,
                as_of, as_of / current);
  }
  std::printf("\n");
  // Sizes are listed in the order given; the targets compare the smallest and the largest.
  auto by_days = [](const Size& a, const Size& b) { return a.days < b.days; };
  const Size& small = *std::min_element(sizes.begin(), sizes.end(), by_days);
  const Size& large = *std::max_element(sizes.begin(), sizes.end(), by_days);
  if (small.days != large.days) {
    double x = Median(large.replace_ms) / Median(small.replace_ms);
    std::printf("replace@%dd / replace@%dd = %.2f (target <= %.1f) %s\n", large.days, small.days, x,
                kTarget, x <= kTarget ? "PASS" : "MISS");
    std::fprintf(stderr, "  (process CPU time of the replace: @%dd / @%dd = %.2f)\n", large.days,
                 small.days, Median(large.replace_cpu_ms) / Median(small.replace_cpu_ms));
  } else {
    std::printf("replace@%dd / replace@%dd: needs two table sizes\n", large.days, large.days);
  }
  double y = Median(large.as_of_ms) / Median(large.current_ms);
  std::printf("as-of / current @%dd = %.2f (target <= %.1f) %s\n", large.days, y, kTarget,
              y <= kTarget ? "PASS" : "MISS");
  std::printf("wall time %.1f s\n", Seconds(SteadyClock::now() - total_start));
  return 0;
}

}  // namespace
}  // namespace backfill

int main(int argc, char** argv) { return backfill::Main(argc, argv); }
