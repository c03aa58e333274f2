// Shared test helpers: temporary directories, the reference corpus, and running the real
// `backfill` binary as a child process. Test-only; not thread-safe.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace backfill::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return (path_ / rel).string(); }

 private:
  std::filesystem::path path_;
};

// ../shared/corpus, or empty when it is absent.
std::filesystem::path CorpusDir();
std::string ReadFile(const std::filesystem::path& path);
// One gzip member of `data`, as gzip and the sinks write it (level 6).
std::string Gzip(std::string_view data);
// The whole decompressed text of a gzip file (members concatenated); empty if unreadable.
std::string GunzipFile(const std::filesystem::path& path);
void WriteFile(const std::filesystem::path& path, const std::string& content);
// Lowers the wide-table thresholds (core/wide.h) in a warehouse's backfill.toml, so tables
// created afterwards from small schemas are stored wide (e.g. 300: telemetry event_v4, 314
// leaves, stores its `environment` encoded).
void SetWideThresholds(const std::filesystem::path& warehouse, int table_leaves, int column_leaves);

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the built `backfill` binary with `args`, the given extra environment and stdin text.
// `before_exec`, when given, runs in the child just before the exec (e.g. to lower a resource
// limit or drop privileges for that process only).
RunResult RunBackfill(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {},
                      const std::string& stdin_text = "",
                      const std::function<void()>& before_exec = {});
std::string BackfillBinary();

}  // namespace backfill::testing

// Skips the current test, visibly, when the reference corpus is not checked out beside us.
#define BF_REQUIRE_CORPUS()                                                                \
  do {                                                                                     \
    if (::backfill::testing::CorpusDir().empty())                                          \
      GTEST_SKIP() << "reference corpus ../shared/corpus not found; skipping corpus test"; \
  } while (0)
