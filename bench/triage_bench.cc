// bench/triage: `backfill errors summarize` (ingest::SummarizeErrors) on a generated error-output
// tree, against the sink's parse limit, and its peak memory on a third of the tree against the
// whole tree.
//
//   parse limit @T  T threads take the files in turn; each reads its file as the sink does, parses
//                   every line with PubsubLineParser (JSON + base64) and decodes the payload with
//                   PayloadDecoder::DecodeObject (gunzip when gzip, simdjson, object check): the
//                   same measurement as bench/replay's "parse limit".
//   summarize @T    SummarizeErrors with threads = T over the whole tree (--by
//   table,day,error_type). summarize 1 day SummarizeErrors over the first day's folder only (a
//   third of the input), to
//                   compare its peak RSS with the whole tree's: memory must not grow with the
//                   input.
//
// The input needs no corpus: one gzip NDJSON file per submission hour over 2020-03-16..18 (72
// files), records in both sinks' shapes: 55% the Beam Sink's (`attributeMap` with error_type,
// error_message, exception_class: rate limit, table lookup, parse and size failures), 45%
// ingestion-sink's raw shape without error attributes, 0.1% undecodable lines; payloads are JSON
// documents of 0.5-6 kB, a third gzip-compressed inside the base64, over 12 tables.
//
// Each measurement runs in a child process (this program re-executed with posix_spawn) so its
// peak RSS (VmHWM) is its own. Prints a table and the targets (summarize@T / parse@T time <= 2,
// peak RSS whole tree / one day <= 1.2) with PASS/MISS; no assertion fails on a figure.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstring>
#include <map>
#include <random>
#include <thread>

#include "bench/bench_util.h"
#include "bench/parse_limit.h"
#include "ingest/error_summary.h"
#include "ingest/payload.h"
#include "ingest/pubsub.h"

namespace backfill::bench {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

constexpr double kTimeTarget = 2.0;    // summarize time / parse limit time
constexpr double kMemoryTarget = 1.2;  // peak RSS whole tree / one day

std::string GzipBytes(std::string_view in) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Writes the tree under dir/error; returns records and line bytes.
Status Generate(const fs::path& dir, int64_t records, int64_t* line_bytes) {
  std::mt19937_64 rng(20200316);
  const char* days[] = {"2020-03-16", "2020-03-17", "2020-03-18"};
  const char* namespaces[] = {"telemetry", "contextual-services", "org-mozilla-fenix",
                              "firefox-desktop"};
  const char* types[] = {"event", "main", "baseline"};
  struct Failure {
    const char* type;
    const char* message;
    const char* exception;
  };
  const Failure failures[] = {
      {"SinkError", "com.google.cloud.bigquery.BigQueryException: 403 Forbidden rateLimitExceeded",
       "com.google.cloud.bigquery.BigQueryException"},
      {"KeyByBigQueryTableDestination",
       "java.lang.IllegalArgumentException: Resolved destination table does not exist",
       "java.lang.IllegalArgumentException"},
      {"ParsePayload", "com.fasterxml.jackson.core.JsonParseException: Unexpected character",
       "com.fasterxml.jackson.core.JsonParseException"},
      {"SinkError", "Row too large: exceeds the maximum allowed row size",
       "com.mozilla.telemetry.PayloadTooLarge"},
  };
  *line_bytes = 0;
  int64_t written = 0;
  const int64_t per_file = (records + 71) / 72;
  for (int d = 0; d < 3; ++d) {
    for (int h = 0; h < 24; ++h) {
      fs::path file = dir / "error" / days[d] / fmt::format("{:02d}", h) /
                      fmt::format("output-{:02d}.ndjson.gz", h);
      BF_RETURN_IF_ERROR(CreateDir(file.parent_path()).status());
      gzFile f = gzopen(file.c_str(), "wb6");
      if (!f) return IoError("cannot write " + file.string());
      for (int64_t i = 0; i < per_file && written < records; ++i, ++written) {
        std::string line;
        if (rng() % 1000 == 0) {
          line = "{\"attributeMap\":{\"document_id\":\"truncated";
        } else {
          std::string doc =
              fmt::format(R"({{"client_id":"{:016x}","n":{},"values":[)", rng(), rng() % 1000);
          const int n = 20 + static_cast<int>(rng() % 300);
          for (int k = 0; k < n; ++k)
            doc += fmt::format("{}{{\"k\":\"key{}\",\"v\":{}}}", k ? "," : "", k, rng() % 100000);
          doc += "]}";
          std::string payload = ingest::Base64Encode(rng() % 3 == 0 ? GzipBytes(doc) : doc);
          const int64_t secs = h * 3600 + static_cast<int64_t>(rng() % 3600);
          const std::string ts =
              fmt::format("{}T{:02d}:{:02d}:{:02d}.{:06d}Z", days[d], secs / 3600, secs / 60 % 60,
                          secs % 60, rng() % 1000000);
          const char* ns = namespaces[rng() % 4];
          const char* type = types[rng() % 3];
          const std::string common = fmt::format(
              R"("document_id":"{:016x}","document_namespace":"{}","document_type":"{}","document_version":"{}",)"
              R"("normalized_channel":"release","sample_id":"{}","submission_timestamp":"{}")",
              rng(), ns, type, 1 + rng() % 2, rng() % 100, ts);
          if (rng() % 100 < 55) {
            const Failure& e = failures[rng() % 4];
            line = fmt::format(
                R"({{"attributeMap":{{{},"error_message":"{}","error_type":"{}","exception_class":"{}",)"
                R"x("stack_trace":"at com.mozilla.telemetry.Sink.write(Sink.java:42)"}},"payload":"{}"}})x",
                common, e.message, e.type, e.exception, payload);
          } else {
            line = fmt::format(R"({{{},"payload":"{}"}})", common, payload);
          }
        }
        line += '\n';
        *line_bytes += static_cast<int64_t>(line.size());
        if (gzwrite(f, line.data(), static_cast<unsigned>(line.size())) !=
            static_cast<int>(line.size())) {
          gzclose(f);
          return IoError("cannot write " + file.string());
        }
      }
      if (gzclose(f) != Z_OK) return IoError("cannot close " + file.string());
    }
  }
  return Status::Ok();
}

// `folder`: the tree below input/error to read ("." for all of it).
int ChildSummarize(const fs::path& input, int threads, const std::string& folder) {
  ingest::ErrorSummaryOptions o;
  o.inputs = {(input / "error" / folder).lexically_normal().string()};
  o.threads = threads;
  double cpu0 = CpuSeconds();
  auto start = SteadyClock::now();
  auto r = ingest::SummarizeErrors(o);
  double seconds = Seconds(SteadyClock::now() - start);
  if (!r.ok()) {
    std::fprintf(stderr, "summarize: %s\n", r.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "seconds=%.6f cpu=%.3f records=%lld line_bytes=%lld outside=%lld undecodable=%lld groups=%zu "
      "messages=%zu hwm_kb=%lld\n",
      seconds, CpuSeconds() - cpu0, (long long)r->records, (long long)r->bytes,
      (long long)r->outside_dates, (long long)r->undecodable_lines, r->groups.size(),
      r->messages.size(), (long long)PeakRssKb());
  return 0;
}

int Main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "--child") {
    std::vector<std::string> a(argv + 2, argv + argc);
    if (a.size() == 3 && a[0] == "parse") return ChildParse(a[1], std::atoi(a[2].c_str()));
    if (a.size() == 4 && a[0] == "summarize")
      return ChildSummarize(a[1], std::atoi(a[2].c_str()), a[3]);
    std::fprintf(stderr, "bad --child arguments\n");
    return 2;
  }
  CLI::App app("bench/triage: errors summarize vs the parse limit, and its peak RSS", "triage");
  int64_t records = 300000;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int reps = 1;
  std::string dir_flag;
  bool keep = false, quick = false;
  app.add_option("--records", records, "Records in the generated tree");
  app.add_flag("--quick", quick, "30k records (unless --records is given)");
  app.add_option("--threads", threads, "Threads for both the parse limit and summarize");
  app.add_option("--reps", reps, "Runs of each timed method (medians are printed)");
  app.add_option("--dir", dir_flag, "Work directory (kept; an input of the same size is reused)");
  app.add_flag("--keep", keep, "Keep the temporary work directory");
  if (int rc = ParseCommandLine(app, argc, argv); rc >= 0) return rc;
  if (quick && app.count("--records") == 0) records = 30000;

  auto work = dir_flag.empty() ? MakeWorkDir("triage", "") : CreateDir(dir_flag);
  if (!work.ok()) {
    std::fprintf(stderr, "error: %s\n", work.status().ToString().c_str());
    return 1;
  }
  const fs::path input = *work / fmt::format("input-{}", records);
  if (!fs::exists(input / "done")) {
    std::fprintf(stderr, "generating %lld records in %s ...\n", (long long)records, input.c_str());
    auto t0 = SteadyClock::now();
    int64_t line_bytes = 0;
    Status s = Generate(input, records, &line_bytes);
    if (!s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
      return 1;
    }
    std::ofstream(input / "done") << line_bytes << "\n";
    std::fprintf(stderr, "  generated in %.1f s\n", Seconds(SteadyClock::now() - t0));
  } else {
    std::fprintf(stderr, "reusing the input in %s\n", input.c_str());
  }
  int64_t gz_bytes = 0;
  for (const auto& f : InputFiles(input)) gz_bytes += static_cast<int64_t>(fs::file_size(f));

  struct Method {
    std::string name;
    std::vector<std::string> args;
    std::vector<double> seconds, cpu;
    std::map<std::string, std::string> last;
  };
  const std::string t = std::to_string(threads);
  std::vector<Method> methods = {
      {"parse limit @" + t, {"parse", input.string(), t}, {}, {}, {}},
      {"summarize @" + t, {"summarize", input.string(), t, "."}, {}, {}, {}},
      {"summarize @1", {"summarize", input.string(), "1", "."}, {}, {}, {}},
      {"parse limit @1", {"parse", input.string(), "1"}, {}, {}, {}},
      {"summarize 1 day @" + t, {"summarize", input.string(), t, "2020-03-16"}, {}, {}, {}},
  };
  for (int rep = 0; rep < reps; ++rep) {
    for (auto& m : methods) {
      std::fprintf(stderr, "%s (run %d of %d) ...\n", m.name.c_str(), rep + 1, reps);
      auto r = RunChild(m.args);
      if (!r.ok()) {
        std::fprintf(stderr, "error: %s\n", r.status().ToString().c_str());
        return 1;
      }
      m.seconds.push_back(std::atof(r->kv["seconds"].c_str()));
      m.cpu.push_back(std::atof(r->kv["cpu"].c_str()));
      std::fprintf(stderr, "  %.3f s wall, %.3f s CPU, peak RSS %lld MB\n", m.seconds.back(),
                   m.cpu.back(), std::atoll(r->kv["hwm_kb"].c_str()) / 1024);
      m.last = r->kv;
    }
  }
  const int64_t line_bytes = std::atoll(methods[0].last["line_bytes"].c_str());
  std::printf("input: %lld records in %zu files, %.1f MB gzip, %.1f MB NDJSON lines\n",
              (long long)records, InputFiles(input).size(), gz_bytes / 1e6, line_bytes / 1e6);
  std::printf("%-22s | %9s | %9s | %10s | %9s | %9s | %8s\n", "method", "wall s", "CPU s",
              "records/s", "MB/s gz", "MB/s lines", "peak MB");
  for (auto& m : methods) {
    double s = Median(m.seconds);
    std::printf("%-22s | %9.3f | %9.3f | %10.0f | %9.1f | %10.1f | %8lld\n", m.name.c_str(), s,
                Median(m.cpu), records / s, gz_bytes / 1e6 / s, line_bytes / 1e6 / s,
                std::atoll(m.last["hwm_kb"].c_str()) / 1024);
  }
  std::printf(
      "summarize: %s records counted, %s undecodable, %s groups, %s distinct messages; 1 day: %s "
      "counted\n",
      methods[1].last["records"].c_str(), methods[1].last["undecodable"].c_str(),
      methods[1].last["groups"].c_str(), methods[1].last["messages"].c_str(),
      methods[4].last["records"].c_str());
  auto verdict = [](bool ok) { return ok ? "PASS" : "MISS"; };
  const double ratio_t = Median(methods[1].seconds) / Median(methods[0].seconds);
  const double ratio_1 = Median(methods[2].seconds) / Median(methods[3].seconds);
  const double cpu_ratio = Median(methods[1].cpu) / Median(methods[0].cpu);
  std::printf("summarize@%s / parse limit@%s time = %.2f (target <= %.1f) %s\n", t.c_str(),
              t.c_str(), ratio_t, kTimeTarget, verdict(ratio_t <= kTimeTarget));
  std::printf("summarize@1 / parse limit@1 time = %.2f (target <= %.1f) %s\n", ratio_1, kTimeTarget,
              verdict(ratio_1 <= kTimeTarget));
  std::printf("  (in CPU time @%s: %.2f)\n", t.c_str(), cpu_ratio);
  const double mem =
      std::atof(methods[1].last["hwm_kb"].c_str()) / std::atof(methods[4].last["hwm_kb"].c_str());
  std::printf("summarize peak RSS 3 days / 1 day = %.2f (target <= %.1f) %s\n", mem, kMemoryTarget,
              verdict(mem <= kMemoryTarget));
  if (dir_flag.empty() && !keep) {
    std::error_code ec;
    fs::remove_all(*work, ec);
  }
  return 0;
}

}  // namespace
}  // namespace backfill::bench

int main(int argc, char** argv) { return backfill::bench::Main(argc, argv); }
