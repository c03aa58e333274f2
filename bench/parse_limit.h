// bench/parse_limit.h: the parse limit the replay and triage benchmarks compare against, measured
// one way for both: every line of a tree's error/**/*.ndjson.gz -> PubsubMessage (JSON parse +
// base64) -> gunzip -> simdjson parse of the payload, on N threads over files, writing nothing.
#pragma once

#include <zlib.h>

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
#include "core/status.h"
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

// Streams the lines of a gzip file to `fn` (without the newline).
template <typename Fn>
Status ForEachLine(const std::string& path, std::string* buffer, Fn&& fn) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return IoError(fmt::format("cannot open {}", path));
  gzbuffer(f, 1 << 18);
  constexpr size_t kBlock = size_t(1) << 20;
  buffer->clear();
  size_t start = 0;
  Status status;
  while (status.ok()) {
    if (start > 0) {
      buffer->erase(0, start);
      start = 0;
    }
    size_t old = buffer->size();
    buffer->resize(old + kBlock);
    int got = gzread(f, buffer->data() + old, kBlock);
    if (got < 0) {
      status = IoError(fmt::format("{}: gzip read error", path));
      break;
    }
    buffer->resize(old + static_cast<size_t>(got));
    size_t pos = old;
    while (true) {
      size_t nl = buffer->find('\n', pos);
      if (nl == std::string::npos) break;
      fn(std::string_view(buffer->data() + start, nl - start));
      start = pos = nl + 1;
    }
    if (got == 0) {
      if (start < buffer->size())
        fn(std::string_view(buffer->data() + start, buffer->size() - start));
      break;
    }
  }
  gzclose(f);
  return status;
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
    std::string buffer;
    int64_t n = 0, bytes = 0, errors = 0, gz = 0;
    for (size_t i; (i = next.fetch_add(1)) < files.size();) {
      Status s = ForEachLine(files[i], &buffer, [&](std::string_view line) {
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
