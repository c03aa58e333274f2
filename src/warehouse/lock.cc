#include "warehouse/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

namespace backfill {

WarehouseLock::~WarehouseLock() {
  if (fd_ >= 0) {
    flock(fd_, LOCK_UN);
    close(fd_);
  }
}

WarehouseLock& WarehouseLock::operator=(WarehouseLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Result<WarehouseLock> WarehouseLock::Acquire(const std::filesystem::path& dir, Mode mode,
                                             std::chrono::milliseconds timeout, const std::string& what) {
  std::filesystem::path path = dir / ".lock";
  std::filesystem::path owner = dir / ".lock.owner";
  WarehouseLock lock;
  lock.fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock.fd_ < 0) {
    return IoError(fmt::format("cannot open lock file {}: {}", path.string(), std::strerror(errno)));
  }
  int op = (mode == Mode::kExclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (flock(lock.fd_, op) == 0) break;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      return IoError(fmt::format("cannot lock {}: {}", path.string(), std::strerror(errno)));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::ifstream in(owner);
      std::stringstream ss;
      ss << in.rdbuf();
      std::string holder = ss.str();
      while (!holder.empty() && holder.back() == '\n') holder.pop_back();
      return Busy(fmt::format("warehouse busy (held by {}); waited {}s — retry when it finishes, or raise "
                              "--lock-timeout",
                              holder.empty() ? "another process" : holder, timeout.count() / 1000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (mode == Mode::kExclusive) {
    std::ofstream out(owner, std::ios::trunc);
    out << "pid " << getpid() << ": " << what << "\n";
  }
  return lock;
}

}  // namespace backfill
