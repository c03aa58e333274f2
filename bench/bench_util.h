// bench/bench_util.h: what the benchmark programs in bench/ share, so that each one times,
// measures memory, takes medians, makes its work directory and parses its flags the same way,
// and a fix to one of these reaches all of them.
//
// For the bench programs only: unlike library code, ParseCommandLine prints (--help, usage
// errors). Free functions, thread-safe. I/O: PeakRssKb and CurrentRssKb read
// /proc/self/status; CreateDir and MakeWorkDir create directories.
#pragma once

#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include "core/status.h"

extern char** environ;

namespace backfill::bench {

inline double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// CPU time of the whole process (all threads, DuckDB's included), in seconds: less sensitive
// than wall time to other work on a shared machine.
inline double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return double(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// A "<key> <n> kB" line of /proc/self/status, in kB (0 when unknown).
inline int64_t ProcStatusKb(std::string_view key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(key)) return std::atoll(line.c_str() + key.size());
  }
  return 0;
}
// Peak resident set (VmHWM) of this process, in kB: per process, which is why a measurement
// whose memory matters runs in a process of its own.
inline int64_t PeakRssKb() { return ProcStatusKb("VmHWM:"); }
inline int64_t CurrentRssKb() { return ProcStatusKb("VmRSS:"); }

// 0 for no samples, rather than undefined behaviour.
inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Creates `path` (and its parents); returns it.
inline Result<std::filesystem::path> CreateDir(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return IoError(fmt::format("cannot create {}: {}", path.string(), ec.message()));
  return path;
}

// Creates <dir, or the system temp directory>/backfill-bench-<name>-<pid>: the pid keeps two
// runs at once (or one left behind by a crash) apart.
inline Result<std::filesystem::path> MakeWorkDir(std::string_view name,
                                                 const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::path base = dir.empty() ? std::filesystem::temp_directory_path(ec) : dir;
  if (ec) return IoError(fmt::format("no temp directory: {}", ec.message()));
  return CreateDir(base / fmt::format("backfill-bench-{}-{}", name, ::getpid()));
}

// Parses the command line into the options of `app`. Returns -1 to go on, or the exit code:
// 0 after printing --help, 2 after printing a usage error (the exit codes of cli/).
inline int ParseCommandLine(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: usage: %s\nRun '%s --help' for usage.\n", app.get_name().c_str(),
                 e.what(), app.get_name().c_str());
    return 2;
  }
  return -1;
}

// The stable-like table bench/warehouse and bench/dedupe load: the top-level shape of telemetry
// stable tables (partition timestamp, ids, clustering columns, a repeated key/value record and
// a payload), one schema so their figures describe the same table.
constexpr const char* kStableLikeSchemaJson = R"([
  {"name": "submission_timestamp", "type": "TIMESTAMP", "mode": "NULLABLE"},
  {"name": "document_id", "type": "STRING", "mode": "NULLABLE"},
  {"name": "client_id", "type": "STRING", "mode": "NULLABLE"},
  {"name": "normalized_channel", "type": "STRING", "mode": "NULLABLE"},
  {"name": "sample_id", "type": "INT64", "mode": "NULLABLE"},
  {"name": "normalized_country_code", "type": "STRING", "mode": "NULLABLE"},
  {"name": "metrics", "type": "RECORD", "mode": "REPEATED", "fields": [
    {"name": "key", "type": "STRING", "mode": "NULLABLE"},
    {"name": "value", "type": "INT64", "mode": "NULLABLE"}]},
  {"name": "payload", "type": "STRING", "mode": "NULLABLE"}
])";

// A child's stdout "k=v k=v ..." (lines and spaces separate the pairs).
inline std::map<std::string, std::string> ParseKeyValues(std::string_view line) {
  std::map<std::string, std::string> kv;
  std::istringstream in{std::string(line)};
  std::string token;
  while (in >> token) {
    size_t eq = token.find('=');
    if (eq != std::string::npos) kv[token.substr(0, eq)] = token.substr(eq + 1);
  }
  return kv;
}

// A benchmark measures in a child process (`--child ARGS...` of the same program), so that each
// measurement has its own peak RSS and no state left from the one before.
struct ChildResult {
  std::map<std::string, std::string> kv;
  double wall = 0;        // of the whole child, setup included
  int64_t maxrss_kb = 0;  // ru_maxrss from wait4
};

// A child's `key=value` result as a number; 0 when the child did not print it.
inline int64_t GetInt(const std::map<std::string, std::string>& kv, const std::string& key) {
  auto it = kv.find(key);
  return it == kv.end() ? 0 : std::atoll(it->second.c_str());
}
inline double GetDouble(const std::map<std::string, std::string>& kv, const std::string& key) {
  auto it = kv.find(key);
  return it == kv.end() ? 0 : std::atof(it->second.c_str());
}

// A status as a process exit code (a child measurement, or a benchmark as a whole): 0, or 1 with
// the error on stderr.
inline int ExitCode(const Status& s) {
  if (s.ok()) return 0;
  std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
  return 1;
}

// A fixed hash of an index (splitmix64's finalizer): the generators' deterministic "random"
// choices, the same on every run and machine.
inline uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

inline Result<ChildResult> RunChild(const std::vector<std::string>& args) {
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len <= 0) return Internal("cannot find /proc/self/exe");
  exe[len] = '\0';
  std::vector<std::string> all = {exe, "--child"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : all) argv.push_back(s.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) return Internal("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  pid_t pid = 0;
  auto start = std::chrono::steady_clock::now();
  int rc = posix_spawn(&pid, exe, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return Internal(fmt::format("posix_spawn: {}", std::strerror(rc)));
  }
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int wstatus = 0;
  rusage ru{};
  if (wait4(pid, &wstatus, 0, &ru) != pid) return Internal("wait4 failed");
  ChildResult r;
  r.wall = Seconds(std::chrono::steady_clock::now() - start);
  r.maxrss_kb = ru.ru_maxrss;
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return Internal(fmt::format("child '{}' failed (status {})", fmt::join(args, " "), wstatus));
  }
  r.kv = ParseKeyValues(out);
  return r;
}

}  // namespace backfill::bench
