// bench/parse_limit.h: the parse limit the replay and triage benchmarks compare against, measured
// one way for both: every line of a tree's error/**/*.ndjson.gz -> PubsubMessage (JSON parse +
// base64) -> gunzip -> simdjson parse of the payload, on N threads over files, writing nothing.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench/bench_util.h"
#include "core/retry.h"
#include "core/status.h"
#include "ingest/input_file.h"
#include "ingest/payload.h"
#include "ingest/pubsub.h"

namespace backfill::bench {

namespace fs = std::filesystem;

// The error-output files below `dir`/error, sorted.
inline std::vector<std::string> InputFiles(const fs::path& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir / "error")) {
    if (e.is_regular_file() && e.path().string().ends_with(".ndjson.gz"))
      files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Reads the lines of an input file to `fn` the way the sink reads them (ingest::InputFile:
// plain or gzip, inflated the same way), so the parse limit pays what the sink pays to read.
template <typename Fn>
Status ForEachLine(const std::string& path, Fn&& fn) {
  RetryPolicy retry;
  ingest::InputFile in(path, retry);
  BF_RETURN_IF_ERROR(in.Open());
  std::string_view line;
  for (;;) {
    BF_ASSIGN_OR_RETURN(bool more, in.Next(&line));
    if (!more) break;
    fn(line);
  }
  if (!in.problem().empty()) return IoError(fmt::format("{}: {}", path, in.problem()));
  return Status::Ok();
}

// The parse limit: lines -> PubsubMessage (JSON parse + base64) -> gunzip -> simdjson parse.
inline int ChildParse(const fs::path& input, int threads) {
  std::vector<std::string> files = InputFiles(input);
  std::atomic<size_t> next{0};
  std::atomic<int64_t> records{0}, line_bytes{0}, file_bytes{0}, bad{0}, gzipped{0};
  std::atomic<bool> failed{false};
  double cpu0 = CpuSeconds();
  auto start = std::chrono::steady_clock::now();
  auto work = [&] {
    ingest::PubsubLineParser line_parser;
    ingest::PubsubMessage message;
    ingest::PayloadDecoder decoder;
    int64_t n = 0, bytes = 0, errors = 0, gz = 0;
    for (size_t i; (i = next.fetch_add(1)) < files.size();) {
      Status s = ForEachLine(files[i], [&](std::string_view line) {
        ++n;
        bytes += static_cast<int64_t>(line.size()) + 1;
        if (!line_parser.Parse(line, &message).ok()) {
          ++errors;
          return;
        }
        gz += ingest::IsGzip(message.payload);
        if (!decoder.DecodeObject(message.payload).ok()) ++errors;
      });
      if (!s.ok()) {
        std::fprintf(stderr, "parse: %s\n", s.ToString().c_str());
        failed = true;
      }
      file_bytes += static_cast<int64_t>(fs::file_size(files[i]));
    }
    records += n;
    line_bytes += bytes;
    bad += errors;
    gzipped += gz;
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  for (auto& th : pool) th.join();
  double seconds = Seconds(std::chrono::steady_clock::now() - start);
  double cpu = CpuSeconds() - cpu0;
  std::printf(
      "seconds=%.6f cpu=%.3f records=%lld line_bytes=%lld file_bytes=%lld errors=%lld gzipped=%lld "
      "hwm_kb=%lld\n",
      seconds, cpu, (long long)records, (long long)line_bytes, (long long)file_bytes,
      (long long)bad, (long long)gzipped, (long long)PeakRssKb());
  return failed ? 1 : 0;
}

}  // namespace backfill::bench
