// The warehouse lock: DuckDB allows one writing process per database file, so every backfill
// process takes an advisory lock on `<warehouse>/.lock` first (exclusive to write, shared to
// read). A process that cannot get it waits up to a timeout and then fails with
// "warehouse busy (held by pid N: <command>)" instead of touching any file.
//
// Thread-compatible; I/O: the lock file and its `.owner` companion.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "core/status.h"

namespace backfill {

class WarehouseLock {
 public:
  enum class Mode { kShared, kExclusive };

  WarehouseLock() = default;
  ~WarehouseLock();
  WarehouseLock(WarehouseLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  WarehouseLock& operator=(WarehouseLock&& o) noexcept;
  WarehouseLock(const WarehouseLock&) = delete;
  WarehouseLock& operator=(const WarehouseLock&) = delete;

  // `what` (the command line) is recorded so a waiting process can say who holds the lock.
  static Result<WarehouseLock> Acquire(const std::filesystem::path& dir, Mode mode,
                                       std::chrono::milliseconds timeout, const std::string& what);

 private:
  int fd_ = -1;
};

}  // namespace backfill
