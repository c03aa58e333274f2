// bench/wide: whether readers that need only native columns pay for the encoded ones of a wide
// table (issue 11): copy-deduplicate and append of telemetry main_v5 should stay within 1.5x of
// their cost on a native table holding the same rows.
//
// It generates error output of telemetry main pings (the corpus' main.4 pass samples sent as
// version 5, as bench/replay does) over three days, the last 10% of each day resending an
// earlier document_id (nine in ten later, one in ten at the same timestamp with another
// payload), and loads it into two warehouses, each in its own child process:
//   encoded  the default thresholds: main_v5 is wide, its big RECORD columns stored as text;
//   native   `wide.table_leaves` out of reach, so main_v5 keeps BigQuery's columns natively.
// In each: the corpus schema deployed into the production project P (live and stable), the
// backfill project Q mirrored from it, ingest::Sink of the whole input into Q, and AppendMissing
// of every day but the last into P (the flow of an error replay, untimed). Then one child opens
// both and times, after one untimed run of each, median of --reps runs interleaved across the
// two warehouses (alternating which goes first):
//   counts    per-day row counts of P's live table (a reader of one native column);
//   copy-dedup CopyDeduplicate (the library call behind `backfill copy-deduplicate`) of the middle
//              day: preview counts, the deduplicating query, ReplacePartition and commit;
//   append    AppendMissing (the library call behind `backfill append`) of the last day from Q's
//              live table into P's, undone (RetractWrites, untimed) after every run.
// It prints encoded vs native ms and the ratio, PASS/MISS against 1.5x, and checks that both
// warehouses end with the same, expected row counts per day (live, stable, staged) and the same
// stable rows: a difference is a failure (exit 1). Timings are reported, never asserted.
//
// Usage: wide [--rows N] [--reps R] [--quick] [--explain] [--dir PATH] [--keep] [--corpus PATH]
//
// I/O: a work directory (under --dir or the system temp directory) with the schema tree, the
// generated input and the two warehouses; removed at the end unless --keep. The corpus is
// ../shared/corpus of the source tree, BACKFILL_CORPUS or --corpus; without it the program says
// so and exits 0.
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>
#include <CLI/CLI.hpp>

#include "bench/bench_util.h"
#include "core/files.h"
#include "core/names.h"
#include "core/status.h"
#include "core/time.h"
#include "ingest/payload.h"
#include "ingest/sink.h"
#include "recover/replay.h"
#include "warehouse/config.h"
#include "warehouse/schema_deploy.h"
#include "warehouse/warehouse.h"

namespace backfill {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
using bench::CpuSeconds;
using bench::ExitCode;
using bench::GetDouble;
using bench::Median;
using bench::PeakRssKb;
using bench::RunChild;
using bench::Seconds;
using bench::SplitMix;

constexpr const char* kPrincipal = "bench@example.com";
constexpr const char* kProject = "bench-project";    // P: production
constexpr const char* kBackfill = "bench-backfill";  // Q: where the sink decodes error output
constexpr const char* kSchema = "telemetry/main/main.5.bq";
constexpr double kTarget = 1.5;  // encoded / native <= 1.5
const Date kFirstDay = std::chrono::year{2020} / std::chrono::March / 16;
constexpr int kDays = 3;
constexpr int kFilesPerDay = 4;
const Date kDedupDay = AddDays(kFirstDay, 1);
const Date kAppendDay = AddDays(kFirstDay, kDays - 1);

// The main pings of bench/replay (every main.4 pass sample over 100 kB).
constexpr const char* kSamples[] = {
    "telemetry/main.4.gc_sample.pass.json", "telemetry/main.4.gc_sample_2.pass.json",
    "telemetry/main.4.profile.pass.json", "telemetry/main.4.sample.pass.json",
    "telemetry/main.4.latewrites.pass.json"};
constexpr size_t kNumSamples = std::size(kSamples);

TableName Live(const char* project) { return {project, "telemetry_live", "main_v5"}; }
TableName Stable(const char* project) { return {project, "telemetry_stable", "main_v5"}; }

// ---------------------------------------------------------------------------------------------
// Input: error output as a rate-limited live sink writes it (see bench/replay).

// Rows a day of n records holds after deduplication: the first n - n/10 documents are distinct.
int64_t Distinct(int64_t n) { return n - n / 10; }

struct Record {
  int64_t key;     // which document of the day
  int64_t micros;  // after midnight
  size_t sample;   // payload
};

// Record j of a day of n: the first Distinct(n) are documents 0.., spread over the first 23
// hours (so a resend up to 10 minutes later stays in the day); the rest resend document
// (j - distinct) * 9 % distinct, nine in ten later, one in ten at the same time with another
// payload (a tie for copy-deduplicate's tie-break).
Record RecordOf(int64_t j, int64_t n) {
  const int64_t distinct = Distinct(n);
  const int64_t step = int64_t{23} * 3600 * 1000000 / distinct;
  Record r;
  r.key = j < distinct ? j : (j - distinct) * 9 % distinct;
  r.micros = r.key * step;
  r.sample = SplitMix(static_cast<uint64_t>(r.key)) % kNumSamples;
  if (j >= distinct) {
    if (j % 10 == 0) {
      r.sample = (r.sample + 1) % kNumSamples;
    } else {
      r.micros += int64_t{1000000} * (1 + j % 600);
    }
  }
  return r;
}

std::string DocumentId(int day, int64_t key) {
  uint64_t a = SplitMix(static_cast<uint64_t>(day) << 40 | static_cast<uint64_t>(key)),
           b = SplitMix(a);
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", uint32_t(a >> 32),
                     uint32_t((a >> 16) & 0xffff), uint32_t(a & 0xfff),
                     uint32_t(0x8000 | (b >> 50)), b & 0xffffffffffffULL);
}

// Writes <input>/error/<day>/<HH>/output-*.ndjson.gz, kFilesPerDay files a day.
Status GenerateInput(const fs::path& corpus, const fs::path& input, int64_t n) {
  std::vector<std::string> payloads;  // base64 of each sample's compact JSON
  simdjson::dom::parser parser;
  for (const char* rel : kSamples) {
    BF_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(corpus / "samples" / rel));
    simdjson::dom::element doc;
    if (auto err = parser.parse(text).get(doc); err)
      return InvalidArgument(fmt::format("{}: {}", rel, simdjson::error_message(err)));
    payloads.push_back(ingest::Base64Encode(simdjson::minify(doc)));
  }
  static constexpr const char* kChannels[] = {"release", "release", "release",
                                              "beta",    "nightly", "esr"};
  static constexpr const char* kCountries[] = {"US", "DE", "FR", "GB", "IN"};
  std::string line;
  for (int d = 0; d < kDays; ++d) {
    const Date day = AddDays(kFirstDay, d);
    for (int f = 0; f < kFilesPerDay; ++f) {
      const int hour = f * 24 / kFilesPerDay;
      fs::path path = input / "error" / FormatDate(day) / fmt::format("{:02d}", hour) /
                      fmt::format("output-{}-{:02d}.ndjson.gz", FormatDateCompact(day), hour);
      std::error_code ec;
      fs::create_directories(path.parent_path(), ec);
      if (ec) return IoError(fmt::format("cannot create {}: {}", path.string(), ec.message()));
      gzFile out = gzopen(path.c_str(), "wb1");
      if (!out) return IoError(fmt::format("cannot write {}", path.string()));
      Status status;
      for (int64_t j = n * f / kFilesPerDay; j < n * (f + 1) / kFilesPerDay && status.ok(); ++j) {
        const Record r = RecordOf(j, n);
        const uint64_t h = SplitMix(static_cast<uint64_t>(r.key) * 3 + 1);
        const std::string id = DocumentId(d, r.key);
        line.clear();
        fmt::format_to(
            std::back_inserter(line),
            R"({{"attributeMap":{{"document_id":"{id}","document_namespace":"telemetry",)"
            R"("document_type":"main","document_version":"5","error_message":"com.google.cloud.)"
            R"(bigquery.BigQueryException: Exceeded rate limits","error_type":"SinkError",)"
            R"("exception_class":"com.google.cloud.bigquery.BigQueryException",)"
            R"("geo_country":"{country}","normalized_channel":"{channel}",)"
            R"("normalized_country_code":"{country}","sample_id":"{sample_id}",)"
            R"("submission_timestamp":"{ts}","uri":"/submit/telemetry/{id}/main/Firefox/)"
            R"(74.0/release/20200309095159"}},"payload":"{payload}"}})"
            "\n",
            fmt::arg("id", id), fmt::arg("country", kCountries[h % 5]),
            fmt::arg("channel", kChannels[(h >> 8) % 6]), fmt::arg("sample_id", (h >> 16) % 100),
            fmt::arg("ts", FormatTimestamp(StartOf(day) + std::chrono::microseconds(r.micros))),
            fmt::arg("payload", payloads[r.sample]));
        if (gzwrite(out, line.data(), static_cast<unsigned>(line.size())) != int(line.size()))
          status = IoError(fmt::format("write to {} failed", path.string()));
      }
      if (gzclose(out) != Z_OK && status.ok())
        status = IoError(fmt::format("closing {} failed", path.string()));
      BF_RETURN_IF_ERROR(status);
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Children

// After the input's last day, so every day is inside retention and the time-travel window.
Timestamp BenchNow() { return StartOf(AddDays(kFirstDay, kDays)); }

Result<std::unique_ptr<Warehouse>> OpenWarehouse(const fs::path& dir, const Clock* clock) {
  OpenOptions open;
  open.principal = kPrincipal;
  open.clock = clock;
  open.write = true;
  open.command = "bench/wide";
  return Warehouse::Open(dir, open);
}

// --child load: a fresh warehouse (native: thresholds that keep main_v5 native), the schema
// deployed into P, Q mirrored from it, the sink into Q, and every day but the last appended into
// P. Prints the sink's time and the warehouse's size.
Status RunChildLoad(const fs::path& input, const fs::path& tree, const fs::path& dir, bool native,
                    int64_t n) {
  WarehouseConfig config;
  config.principals[kPrincipal] = Role::kOwner;
  if (native) config.wide.table_leaves = 1 << 30;
  BF_RETURN_IF_ERROR(Warehouse::Init(dir, config));
  FixedClock clock(BenchNow());
  BF_ASSIGN_OR_RETURN(std::unique_ptr<Warehouse> w, OpenWarehouse(dir, &clock));
  BF_RETURN_IF_ERROR(w->CreateProject(kProject));
  BF_ASSIGN_OR_RETURN(DeployReport deployed, DeploySchemas(*w, tree, kProject));
  for (const DeployItem& item : deployed.items) {
    if (item.outcome == DeployItem::Outcome::kFailed) {
      return Internal(fmt::format("deploying {} failed: {}", item.table.ToString(),
                                  item.details.empty() ? "" : item.details.front()));
    }
  }
  BF_ASSIGN_OR_RETURN(TableInfo live, w->DescribeTable(Live(kProject)));
  MirrorOptions mirror;
  mirror.from_project = kProject;
  mirror.to_project = kBackfill;
  BF_RETURN_IF_ERROR(Mirror(*w, mirror).status());
  clock.Advance(std::chrono::minutes(1));

  ingest::SinkOptions sink;
  sink.inputs = {(input / "error").string()};
  sink.project = kBackfill;
  sink.threads = 2;
  sink.error_output = (dir / "sink-errors").string();
  sink.run_id = "bench";
  auto start = SteadyClock::now();
  double cpu = CpuSeconds();
  BF_ASSIGN_OR_RETURN(ingest::SinkReport report, ingest::Sink(*w, sink));
  double sink_s = Seconds(SteadyClock::now() - start), sink_cpu = CpuSeconds() - cpu;
  for (const auto& e : report.examples) {
    std::fprintf(stderr, "  sink error: %s:%lld %s [%s] %s\n", e.file.c_str(), (long long)e.line,
                 e.table.c_str(), e.error_type.c_str(), e.message.c_str());
  }
  if (report.totals.written != n * kDays) {
    return Internal(fmt::format("the sink wrote {} of {} records ({} errored)",
                                report.totals.written, n * kDays, report.totals.errored));
  }
  clock.Advance(std::chrono::minutes(1));
  AppendOptions append;
  append.from_project = kBackfill;
  append.to_project = kProject;
  append.filter.only = {"telemetry_live.main_v5"};
  append.dates = {kFirstDay, AddDays(kAppendDay, -1)};
  start = SteadyClock::now();
  BF_RETURN_IF_ERROR(AppendMissing(*w, append).status());
  double append_s = Seconds(SteadyClock::now() - start);
  std::printf("sink_s=%.3f sink_cpu=%.3f append_s=%.3f encoded_columns=%zu hwm_kb=%lld\n", sink_s,
              sink_cpu, append_s, live.encoded_columns.size(), (long long)PeakRssKb());
  return Status::Ok();
}

struct Side {
  const char* name = "";
  fs::path dir;
  std::unique_ptr<FixedClock> clock;  // declared before `w`, so it outlives it
  std::unique_ptr<Warehouse> w;
  std::vector<double> counts_ms, dedup_ms, dedup_cpu, append_ms, append_cpu;
  int64_t appended = 0;
};

using Op = Status (*)(Side&, bool timed);

std::string CountsSql(const std::string& rel) {
  return "SELECT CAST(submission_timestamp AS DATE) AS d, count(*) FROM " + rel +
         " GROUP BY d ORDER BY d";
}

Status TimedCounts(Side& s, bool timed) {
  BF_ASSIGN_OR_RETURN(std::string rel, s.w->Relation(Live(kProject)));
  auto start = SteadyClock::now();
  BF_ASSIGN_OR_RETURN(QueryResult r, s.w->Query(CountsSql(rel)));
  if (timed) s.counts_ms.push_back(1e3 * Seconds(SteadyClock::now() - start));
  if (r.rows() == 0) return Internal("no rows in " + Live(kProject).ToString());
  return Status::Ok();
}

Status TimedDedup(Side& s, bool timed) {
  CopyDeduplicateOptions o;
  o.project = kProject;
  o.filter.only = {"telemetry_live.main_v5"};
  o.dates = {kDedupDay};
  s.clock->Advance(std::chrono::minutes(1));
  auto start = SteadyClock::now();
  double cpu = CpuSeconds();
  BF_ASSIGN_OR_RETURN(CopyDeduplicateReport r, CopyDeduplicate(*s.w, o));
  if (timed) {
    s.dedup_ms.push_back(1e3 * Seconds(SteadyClock::now() - start));
    s.dedup_cpu.push_back(1e3 * (CpuSeconds() - cpu));
  }
  if (r.items.size() != 1) return Internal("copy-deduplicate did not report one table and day");
  return Status::Ok();
}

// Appends the last day from Q into P, then retracts what it wrote (untimed), so every run
// appends the same rows into the same table.
Status TimedAppend(Side& s, bool timed) {
  const TableName live = Live(kProject);
  BF_ASSIGN_OR_RETURN(int64_t before, s.w->LastCounter(kProject, "write"));
  AppendOptions o;
  o.from_project = kBackfill;
  o.to_project = kProject;
  o.filter.only = {"telemetry_live.main_v5"};
  o.dates = {kAppendDay, kAppendDay};
  s.clock->Advance(std::chrono::minutes(1));
  auto start = SteadyClock::now();
  double cpu = CpuSeconds();
  BF_ASSIGN_OR_RETURN(AppendReport r, AppendMissing(*s.w, o));
  if (timed) {
    s.append_ms.push_back(1e3 * Seconds(SteadyClock::now() - start));
    s.append_cpu.push_back(1e3 * (CpuSeconds() - cpu));
  }
  s.appended = r.Appended();
  s.clock->Advance(std::chrono::minutes(1));
  BF_RETURN_IF_ERROR(s.w->RetractWrites(live, before).status());
  return Status::Ok();
}

// Row counts per table and day, "table day rows" lines, and a digest of the stable rows (every
// column: both warehouses must keep the same row of each document, tie-break included).
Result<std::string> Contents(Warehouse& w) {
  std::string out;
  for (const TableName& t : {Live(kProject), Stable(kProject), Live(kBackfill)}) {
    BF_ASSIGN_OR_RETURN(std::string rel, w.Relation(t));
    BF_ASSIGN_OR_RETURN(QueryResult r,
                        w.Query("SELECT CAST(CAST(submission_timestamp AS DATE) AS VARCHAR) AS d, "
                                "count(*) FROM " +
                                rel + " GROUP BY d ORDER BY d"));
    for (size_t i = 0; i < r.rows(); ++i)
      out += fmt::format("{} {} {}\n", t.ToString(), r.GetString(0, i), r.GetInt64(1, i));
  }
  BF_ASSIGN_OR_RETURN(std::string rel, w.Relation(Stable(kProject)));
  BF_ASSIGN_OR_RETURN(
      QueryResult d, w.Query("SELECT CAST(sum(hash(_bf_s)) AS VARCHAR) FROM " + rel + " AS _bf_s"));
  out += "stable digest " + d.GetString(0, 0) + "\n";
  return out;
}

// What both warehouses must hold: P live every day but the last, the stable middle day, Q every
// day; and after the append runs (retracted) no row of the last day in P.
std::string ExpectedContents(int64_t n) {
  std::string out;
  for (int d = 0; d < kDays - 1; ++d)
    out +=
        fmt::format("{} {} {}\n", Live(kProject).ToString(), FormatDate(AddDays(kFirstDay, d)), n);
  out += fmt::format("{} {} {}\n", Stable(kProject).ToString(), FormatDate(kDedupDay), Distinct(n));
  for (int d = 0; d < kDays; ++d)
    out +=
        fmt::format("{} {} {}\n", Live(kBackfill).ToString(), FormatDate(AddDays(kFirstDay, d)), n);
  return out;
}

// --explain: EXPLAIN ANALYZE of the counts per day and of copy-deduplicate's query (from the
// audit log of the last run) in one warehouse, to stderr.
Status Explain(Side& s) {
  BF_ASSIGN_OR_RETURN(std::string rel, s.w->Relation(Live(kProject)));
  BF_ASSIGN_OR_RETURN(QueryResult counts, s.w->Query("EXPLAIN ANALYZE " + CountsSql(rel)));
  std::fprintf(stderr, "--- %s: EXPLAIN ANALYZE of the counts per day\n%s\n", s.name,
               counts.GetString(1, 0).c_str());
  BF_ASSIGN_OR_RETURN(std::vector<AuditEntry> audit, s.w->Audit(kProject));
  const std::string replace = fmt::format(
      "REPLACE PARTITION `{}${}` WITH ", Stable(kProject).ToString(), FormatDateCompact(kDedupDay));
  for (auto e = audit.rbegin(); e != audit.rend(); ++e) {
    if (e->statement.rfind(replace, 0) != 0) continue;
    BF_ASSIGN_OR_RETURN(QueryResult r,
                        s.w->Query("EXPLAIN ANALYZE " + e->statement.substr(replace.size())));
    std::fprintf(stderr, "--- %s: EXPLAIN ANALYZE of copy-deduplicate's query\n%s\n", s.name,
                 r.GetString(1, 0).c_str());
    return Status::Ok();
  }
  return Internal("--explain: no copy-deduplicate in the audit log");
}

// --child time: opens both warehouses, one untimed run of each operation, then `reps` runs
// interleaved; checks the contents and prints the medians.
Status RunChildTime(const fs::path& encoded, const fs::path& native, int64_t n, int reps,
                    bool explain) {
  Side sides[2];
  sides[0].name = "encoded";
  sides[0].dir = encoded;
  sides[1].name = "native";
  sides[1].dir = native;
  for (Side& s : sides) {
    s.clock = std::make_unique<FixedClock>(BenchNow() + std::chrono::hours(1));
    BF_ASSIGN_OR_RETURN(s.w, OpenWarehouse(s.dir, s.clock.get()));
  }
  const Op ops[] = {TimedCounts, TimedDedup, TimedAppend};
  for (Op op : ops)
    for (Side& s : sides) BF_RETURN_IF_ERROR(op(s, false).WithContext(s.name));
  for (int rep = 0; rep < reps; ++rep) {
    for (Op op : ops) {
      for (int i = 0; i < 2; ++i) {
        Side& s = sides[(i + rep) % 2];
        BF_RETURN_IF_ERROR(op(s, true).WithContext(s.name));
      }
    }
  }
  if (explain)
    for (Side& s : sides) BF_RETURN_IF_ERROR(Explain(s));
  const std::string want = ExpectedContents(n);
  std::string got[2];
  for (int i = 0; i < 2; ++i) {
    Side& s = sides[i];
    BF_ASSIGN_OR_RETURN(got[i], Contents(*s.w));
    std::fprintf(stderr, "  %s: counts %s ms; copy-dedup %s ms (cpu %s); append %s ms (cpu %s)\n",
                 s.name, fmt::format("{:.0f}", fmt::join(s.counts_ms, "/")).c_str(),
                 fmt::format("{:.0f}", fmt::join(s.dedup_ms, "/")).c_str(),
                 fmt::format("{:.0f}", fmt::join(s.dedup_cpu, "/")).c_str(),
                 fmt::format("{:.0f}", fmt::join(s.append_ms, "/")).c_str(),
                 fmt::format("{:.0f}", fmt::join(s.append_cpu, "/")).c_str());
    if (s.appended != n)
      return Internal(fmt::format("{}: append wrote {} rows, expected {}", s.name, s.appended, n));
  }
  // Every line but the digest against the expected counts; the digests against each other.
  for (int i = 0; i < 2; ++i) {
    if (got[i].substr(0, want.size()) != want || got[i].find("stable digest") != want.size()) {
      return Internal(fmt::format("{} holds other rows than expected:\n{}expected:\n{}",
                                  sides[i].name, got[i], want));
    }
  }
  if (got[0] != got[1]) {
    return Internal(fmt::format("the warehouses hold different rows:\nencoded:\n{}native:\n{}",
                                got[0], got[1]));
  }
  for (const Side& s : sides) {
    std::printf(
        "%s_counts_ms=%.3f %s_dedup_ms=%.3f %s_dedup_cpu=%.3f %s_append_ms=%.3f "
        "%s_append_cpu=%.3f\n",
        s.name, Median(s.counts_ms), s.name, Median(s.dedup_ms), s.name, Median(s.dedup_cpu),
        s.name, Median(s.append_ms), s.name, Median(s.append_cpu));
  }
  return Status::Ok();
}

int ChildMain(int argc, char** argv) {
  // --child load <input> <tree> <warehouse> <native 0|1> <rows>
  //       | time <encoded warehouse> <native warehouse> <rows> <reps> <explain 0|1>
  std::vector<std::string> a(argv + 2, argv + argc);
  Status s;
  if (a.size() == 6 && a[0] == "load") {
    s = RunChildLoad(a[1], a[2], a[3], a[4] == "1", std::atoll(a[5].c_str()));
  } else if (a.size() == 6 && a[0] == "time") {
    s = RunChildTime(a[1], a[2], std::atoll(a[3].c_str()), std::atoi(a[4].c_str()), a[5] == "1");
  } else {
    std::fprintf(stderr, "bad --child arguments\n");
    return 2;
  }
  return ExitCode(s);
}

// ---------------------------------------------------------------------------------------------
// Parent

struct Flags {
  int64_t rows = 2000;  // main pings a day
  int reps = 3;
  bool explain = false;
  fs::path dir;
  bool keep = false;
  fs::path corpus;
};

int ParseFlags(int argc, char** argv, Flags* flags) {
  CLI::App app(
      "bench/wide: copy-deduplicate and append of telemetry main_v5, wide-encoded vs native",
      "wide");
  app.option_defaults()->always_capture_default();
  auto* rows = app.add_option("--rows", flags->rows, "Main pings a day (10% resends)")
                   ->check(CLI::Range(int64_t{20}, int64_t{1} << 30));
  auto* reps = app.add_option("--reps", flags->reps, "Timed runs of each, interleaved")
                   ->check(CLI::Range(1, 1000));
  bool quick = false;
  app.add_flag("--quick", quick, "--rows 300 --reps 1 (unless given)");
  app.add_flag("--explain", flags->explain,
               "EXPLAIN ANALYZE copy-deduplicate's query in both warehouses (stderr)");
  app.add_option("--dir", flags->dir, "Where to create the work directory (default: temp dir)");
  app.add_flag("--keep", flags->keep, "Keep the work directory afterwards");
  app.add_option("--corpus", flags->corpus,
                 "The reference corpus (default: BACKFILL_CORPUS or ../shared/corpus)");
  if (int code = bench::ParseCommandLine(app, argc, argv); code >= 0) return code;
  if (quick && rows->count() == 0) flags->rows = 300;
  if (quick && reps->count() == 0) flags->reps = 1;
  return -1;
}

Status Run(const Flags& flags, const fs::path& root) {
  const fs::path tree = root / "schemas", input = root / "input";
  BF_RETURN_IF_ERROR(bench::CreateDir((tree / kSchema).parent_path()).status());
  std::error_code ec;
  fs::copy_file(flags.corpus / "schemas" / kSchema, tree / kSchema, ec);
  if (ec) return IoError(fmt::format("cannot copy {}: {}", kSchema, ec.message()));
  std::fprintf(stderr, "bench/wide: generating %lld main pings a day over %d days in %s ...\n",
               (long long)flags.rows, kDays, input.string().c_str());
  auto start = SteadyClock::now();
  BF_RETURN_IF_ERROR(GenerateInput(flags.corpus, input, flags.rows));
  std::fprintf(stderr, "  generated in %.1f s\n", Seconds(SteadyClock::now() - start));
  const std::string rows = std::to_string(flags.rows);
  bench::ChildResult loads[2];
  const char* names[2] = {"encoded", "native"};
  for (int i = 0; i < 2; ++i) {
    std::fprintf(stderr, "bench/wide: loading the %s warehouse ...\n", names[i]);
    BF_ASSIGN_OR_RETURN(loads[i], RunChild({"load", input.string(), tree.string(),
                                            (root / names[i]).string(), i == 1 ? "1" : "0", rows}));
    std::fprintf(stderr, "  sink %.1f s (cpu %.1f), append of %d days %.1f s, peak RSS %.0f MB\n",
                 GetDouble(loads[i].kv, "sink_s"), GetDouble(loads[i].kv, "sink_cpu"), kDays - 1,
                 GetDouble(loads[i].kv, "append_s"), GetDouble(loads[i].kv, "hwm_kb") / 1024);
  }
  // Otherwise the comparison would be of two native tables.
  if (GetDouble(loads[0].kv, "encoded_columns") == 0 ||
      GetDouble(loads[1].kv, "encoded_columns") != 0) {
    return Internal(fmt::format(
        "main_v5 has {} encoded column(s) in the encoded warehouse and {} "
        "in the native one",
        GetDouble(loads[0].kv, "encoded_columns"), GetDouble(loads[1].kv, "encoded_columns")));
  }
  std::fprintf(stderr, "bench/wide: timing (%d runs of each, after one untimed) ...\n", flags.reps);
  BF_ASSIGN_OR_RETURN(bench::ChildResult t,
                      RunChild({"time", (root / "encoded").string(), (root / "native").string(),
                                rows, std::to_string(flags.reps), flags.explain ? "1" : "0"}));

  std::printf(
      "\nbench/wide: telemetry main_v5, %lld main pings a day (10%% resends), %d days; median of "
      "%d\n\n",
      (long long)flags.rows, kDays, flags.reps);
  std::printf("%-34s | %12s | %12s | %7s | %9s\n", "operation", "encoded ms", "native ms", "ratio",
              "cpu ratio");
  std::printf("%s\n", std::string(34 + 12 + 12 + 7 + 9 + 4 * 3, '-').c_str());
  struct Line {
    const char* what;
    const char* key;
    bool cpu;
  };
  const Line lines[] = {{"counts per day (live, 2 days)", "counts", false},
                        {"copy-deduplicate (1 day)", "dedup", true},
                        {"append (1 day, Q -> P)", "append", true}};
  for (const Line& l : lines) {
    double e = GetDouble(t.kv, fmt::format("encoded_{}_ms", l.key)),
           nat = GetDouble(t.kv, fmt::format("native_{}_ms", l.key));
    std::string cpu =
        l.cpu ? fmt::format("{:9.2f}", GetDouble(t.kv, fmt::format("encoded_{}_cpu", l.key)) /
                                           GetDouble(t.kv, fmt::format("native_{}_cpu", l.key)))
              : fmt::format("{:>9}", "");
    std::printf("%-34s | %12.1f | %12.1f | %7.2f | %s\n", l.what, e, nat, e / nat, cpu.c_str());
  }
  std::printf(
      "\nload (untimed setup): sink into Q %.1f s encoded / %.1f s native; peak RSS %.0f / "
      "%.0f MB\n\n",
      GetDouble(loads[0].kv, "sink_s"), GetDouble(loads[1].kv, "sink_s"),
      GetDouble(loads[0].kv, "hwm_kb") / 1024, GetDouble(loads[1].kv, "hwm_kb") / 1024);
  for (const Line& l : lines) {
    if (!l.cpu) continue;
    double x = GetDouble(t.kv, fmt::format("encoded_{}_ms", l.key)) /
               GetDouble(t.kv, fmt::format("native_{}_ms", l.key));
    std::printf("%s encoded / native = %.2f (target <= %.1f) %s\n",
                l.key[0] == 'd' ? "copy-deduplicate" : "append", x, kTarget,
                x <= kTarget ? "PASS" : "MISS");
  }
  std::printf(
      "rows per day: %lld in both warehouses (live, stable %lld after deduplication, staged)\n",
      (long long)flags.rows, (long long)Distinct(flags.rows));
  return Status::Ok();
}

int Main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "--child") return ChildMain(argc, argv);
  Flags flags;
  if (int code = ParseFlags(argc, argv, &flags); code >= 0) return code;
  if (flags.corpus.empty()) {
    const char* env = std::getenv("BACKFILL_CORPUS");
    flags.corpus = env ? fs::path(env) : fs::path(BACKFILL_CORPUS_DIR);
  }
  if (!fs::exists(flags.corpus / "samples") || !fs::exists(flags.corpus / "schemas" / kSchema)) {
    std::printf(
        "bench/wide: skipped: no reference corpus at %s (set --corpus or BACKFILL_CORPUS)\n",
        flags.corpus.string().c_str());
    return 0;
  }
  Result<fs::path> made = bench::MakeWorkDir("wide", flags.dir);
  if (!made.ok()) {
    std::fprintf(stderr, "error: %s\n", made.status().message().c_str());
    return 1;
  }
  auto start = SteadyClock::now();
  Status status = Run(flags, *made);
  std::error_code ec;
  if (!flags.keep) fs::remove_all(*made, ec);
  if (!status.ok()) return ExitCode(status);
  std::printf("wall time %.1f s\n", Seconds(SteadyClock::now() - start));
  return 0;
}

}  // namespace
}  // namespace backfill

int main(int argc, char** argv) { return backfill::Main(argc, argv); }
