// The warehouse lock: DuckDB allows one writing process per database file, so every backfill
// process takes an advisory lock on `<warehouse>/.lock` first (exclusive to write, shared to
// read). A process that cannot get it waits up to a timeout and then fails with
// "warehouse busy (held by pid N: <command>)" instead of touching any file.
//
// The lock is flock(2) on `.lock`; the holder also sets a POSIX record lock of the same mode on
// it, which lets a waiting process ask the kernel (F_GETLK) for the pid of a process that holds
// it, readers included, so the busy error never names a process that has already gone. The
// command is the one the exclusive holder recorded in `.lock.owner` (written whole, by rename),
// else the holder's /proc/<pid>/cmdline. A warehouse on a read-only file system can still be
// read: readers then lock `.lock` through a read-only descriptor, or, when the file system is
// read-only and has no `.lock`, not at all (no process can write there); writers get an error
// that says the warehouse is read-only.
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
  void Release();

  int fd_ = -1;
};

}  // namespace backfill
