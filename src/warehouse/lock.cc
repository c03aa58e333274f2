#include "warehouse/lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace backfill {
namespace {

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
  return text;
}

// A POSIX record lock over the whole file, mirroring the flock: only for F_GETLK by waiters.
int SetRecordLock(int fd, short type) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  return fcntl(fd, F_SETLK, &fl);
}

bool Alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

// "pid N: command" of a process holding the lock in a mode that conflicts with `mode`, as well
// as it can be told.
std::string DescribeHolder(int fd, WarehouseLock::Mode mode,
                           const std::filesystem::path& owner_file) {
  // A holder sets its record lock and records itself just after it takes the lock: a waiter
  // that looks before either is done waits a moment for both (up to 0.5 s, only on the way to
  // a busy error).
  constexpr int kWaits = 50;  // of 10 ms
  for (int attempt = 0;; ++attempt) {
    const bool may_wait = attempt < kWaits;
    std::string owner = ReadText(owner_file);  // "pid N: command" of the last exclusive holder
    pid_t owner_pid = 0;
    if (owner.rfind("pid ", 0) == 0) owner_pid = static_cast<pid_t>(std::atol(owner.c_str() + 4));
    struct flock fl {};
    fl.l_type = mode == WarehouseLock::Mode::kExclusive ? F_WRLCK : F_RDLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_pid > 0) {
      if (fl.l_pid == owner_pid && fl.l_type == F_WRLCK) return owner;
      // An exclusive holder sets its record lock before it records itself: wait for the record.
      if (fl.l_type != F_WRLCK || !may_wait) {
        std::string cmd = ReadText(fmt::format("/proc/{}/cmdline", fl.l_pid));
        for (char& c : cmd) c = c == '\0' ? ' ' : c;
        std::string reading = fl.l_type == F_RDLCK ? ", reading" : "";
        return cmd.empty() ? fmt::format("pid {}{}", fl.l_pid, reading)
                           : fmt::format("pid {}{}: {}", fl.l_pid, reading, cmd);
      }
    } else {
      // No record lock seen: the holder is this process, or it has just taken the lock, or it
      // is releasing it right now.
      if (Alive(owner_pid)) return owner;
      if (!may_wait) return "another process";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Records the exclusive holder whole (a waiter never reads a half-written record).
void RecordOwner(const std::filesystem::path& owner_file, const std::string& what) {
  std::filesystem::path tmp = owner_file;
  tmp += fmt::format(".{}", getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "pid " << getpid() << ": " << what << "\n";
    if (!out.flush()) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, owner_file, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

}  // namespace

void WarehouseLock::Release() {
  if (fd_ < 0) return;
  (void)SetRecordLock(fd_, F_UNLCK);  // before the flock, so the next holder can set its own
  flock(fd_, LOCK_UN);
  close(fd_);
  fd_ = -1;
}

WarehouseLock::~WarehouseLock() { Release(); }

WarehouseLock& WarehouseLock::operator=(WarehouseLock&& o) noexcept {
  if (this != &o) {
    Release();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Result<WarehouseLock> WarehouseLock::Acquire(const std::filesystem::path& dir, Mode mode,
                                             std::chrono::milliseconds timeout,
                                             const std::string& what) {
  std::filesystem::path path = dir / ".lock";
  std::filesystem::path owner = dir / ".lock.owner";
  WarehouseLock lock;
  lock.fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock.fd_ < 0) {
    int err = errno;
    if (mode == Mode::kShared && (err == EROFS || err == EACCES || err == EPERM)) {
      // A reader of a warehouse it cannot write: lock through a read-only descriptor.
      lock.fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (lock.fd_ < 0 && errno == ENOENT && err == EROFS)
        return WarehouseLock();  // nobody can write here
    }
    if (lock.fd_ < 0) {
      if (err == EROFS || err == EACCES || err == EPERM) {
        return IoError(fmt::format(
            "cannot write to warehouse {}: its lock file {} cannot be opened for writing ({}); "
            "nothing was changed",
            dir.string(), path.string(), std::strerror(err)));
      }
      return IoError(
          fmt::format("cannot open the lock file {} of warehouse {}: {}; nothing was changed",
                      path.string(), dir.string(), std::strerror(err)));
    }
  }
  int op = (mode == Mode::kExclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (flock(lock.fd_, op) == 0) break;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return IoError(fmt::format("cannot lock {}: {}", path.string(), std::strerror(errno)));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Busy(
          fmt::format("warehouse busy (held by {}); waited {}s — retry when it finishes, or raise "
                      "--lock-timeout",
                      DescribeHolder(lock.fd_, mode, owner), timeout.count() / 1000.0));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Best effort: a lock through a read-only descriptor cannot carry a write record lock, and
  // another descriptor of this process may hold one already.
  (void)SetRecordLock(lock.fd_, mode == Mode::kExclusive ? F_WRLCK : F_RDLCK);
  if (mode == Mode::kExclusive) RecordOwner(owner, what);
  return lock;
}

}  // namespace backfill
