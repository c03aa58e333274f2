#include "core/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace backfill {
namespace fs = std::filesystem;

Status WriteFileAtomically(const fs::path& path, const std::string& content) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  fs::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return IoError(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      fs::remove(tmp, ec);
      return IoError(fmt::format("cannot write {}: {}", tmp.string(), why));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string why = std::strerror(errno);
    fs::remove(tmp, ec);
    return IoError(fmt::format("cannot write {}: {}", tmp.string(), why));
  }
  fs::rename(tmp, path, ec);
  if (ec) return IoError(fmt::format("cannot write {}: {}", path.string(), ec.message()));
  // The rename is durable only once the folder is.
  int dir = ::open(path.has_parent_path() ? path.parent_path().c_str() : ".",
                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
  return Status::Ok();
}

Result<std::string> ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!fs::exists(path)) return NotFound(fmt::format("{} does not exist", path.string()));
    return IoError(fmt::format("cannot read {}", path.string()));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace backfill
