#include "core/fault.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace backfill {
namespace {

struct CrashConfig {
  long crash_at = 0;  // 0: never
  std::string trace;
  CrashConfig() {
    if (const char* v = std::getenv("BACKFILL_CRASH_AT"); v && *v)
      crash_at = std::strtol(v, nullptr, 10);
    if (const char* t = std::getenv("BACKFILL_CRASH_TRACE"); t && *t) trace = t;
  }
};

}  // namespace

void CrashPoint(std::string_view label) {
  static const CrashConfig config;
  static std::atomic<long> passed{0};
  static std::mutex trace_mu;
  if (config.crash_at == 0 && config.trace.empty()) return;
  long n = ++passed;
  if (!config.trace.empty()) {
    std::lock_guard<std::mutex> lock(trace_mu);
    if (FILE* f = std::fopen(config.trace.c_str(), "a")) {
      std::fprintf(f, "%ld %.*s\n", n, static_cast<int>(label.size()), label.data());
      std::fclose(f);
    }
  }
  if (n == config.crash_at) _exit(137);  // what SIGKILL leaves behind: nothing flushed
}

}  // namespace backfill
