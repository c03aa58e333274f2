// The stage step: verified copies of error-output day folders (size and CRC32 of every file),
// in parallel, resumable (a copy is written as *.bf-partial and renamed once verified).
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "core/text.h"
#include "recover/replay.h"
#include "recover/replay_internal.h"

namespace backfill {
namespace fs = std::filesystem;
using namespace replay_internal;

// =============================================================================================
// Stage

int64_t StageReport::Copied() const {
  int64_t n = 0;
  for (const auto& d : days) n += d.copied;
  return n;
}
int64_t StageReport::Skipped() const {
  int64_t n = 0;
  for (const auto& d : days) n += d.skipped_identical;
  return n;
}
int64_t StageReport::BytesCopied() const {
  int64_t n = 0;
  for (const auto& d : days) n += d.bytes_copied;
  return n;
}
int StageReport::MissingDays() const {
  return static_cast<int>(
      std::count_if(days.begin(), days.end(), [](const StageDay& d) { return d.missing; }));
}

namespace {

// std::FILE with fclose on scope exit.
struct File {
  std::FILE* f = nullptr;
  explicit File(std::FILE* file) : f(file) {}
  ~File() {
    if (f) std::fclose(f);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
};

std::string Errno() { return std::strerror(errno); }

// Copies src to dst through dst.bf-partial, fsyncs, reads the copy back and compares its size
// and CRC32 with what was read from src, then renames it into place.
Status CopyVerified(const fs::path& src, const fs::path& dst, FileDigest* copied) {
  std::error_code ec;
  fs::create_directories(dst.parent_path(), ec);
  if (ec)
    return IoError(fmt::format("cannot create {}: {}", dst.parent_path().string(), ec.message()));
  fs::path tmp = dst;
  tmp += kPartialSuffix;
  FileDigest read;
  {
    File in(std::fopen(src.c_str(), "rb"));
    if (!in.f) return IoError(fmt::format("cannot read {}: {}", src.string(), Errno()));
    File out(std::fopen(tmp.c_str(), "wb"));
    if (!out.f) return IoError(fmt::format("cannot write {}: {}", tmp.string(), Errno()));
    std::vector<unsigned char> buf(1 << 16);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (;;) {
      size_t n = std::fread(buf.data(), 1, buf.size(), in.f);
      if (n > 0) {
        crc = crc32(crc, buf.data(), static_cast<uInt>(n));
        read.size += n;
        if (std::fwrite(buf.data(), 1, n, out.f) != n) {
          return IoError(fmt::format("cannot write {}: {}", tmp.string(), Errno()));
        }
      }
      if (n < buf.size()) break;
    }
    if (std::ferror(in.f)) return IoError(fmt::format("cannot read {}: {}", src.string(), Errno()));
    read.crc32 = static_cast<uint32_t>(crc);
    if (std::fflush(out.f) != 0 || ::fsync(fileno(out.f)) != 0) {
      return IoError(fmt::format("cannot write {}: {}", tmp.string(), Errno()));
    }
    std::FILE* f = out.f;
    out.f = nullptr;
    if (std::fclose(f) != 0)
      return IoError(fmt::format("cannot write {}: {}", tmp.string(), Errno()));
  }
  BF_ASSIGN_OR_RETURN(FileDigest written, DigestFile(tmp));
  if (!(written == read)) {
    fs::remove(tmp, ec);
    return DataLoss(
        fmt::format("copy of {} does not verify: {} bytes crc32 {:08x} read, {} bytes crc32 {:08x} "
                    "written; removed the partial copy",
                    src.string(), read.size, read.crc32, written.size, written.crc32));
  }
  fs::rename(tmp, dst, ec);
  if (ec)
    return IoError(
        fmt::format("cannot rename {} to {}: {}", tmp.string(), dst.string(), ec.message()));
  *copied = read;
  return Status::Ok();
}

struct StageTask {
  size_t day = 0;  // index into report.days
  fs::path src, dst;
};

struct StageOutcome {
  Status status;
  bool copied = false, replaced = false, skipped = false;
  int64_t bytes = 0;
};

StageOutcome RunStageTask(const StageTask& t, bool preview) {
  StageOutcome o;
  std::error_code ec;
  bool exists = fs::exists(t.dst, ec);
  if (exists) {
    auto src = DigestFile(t.src);
    if (!src.ok()) return {src.status()};
    uint64_t dst_size = fs::file_size(t.dst, ec);
    if (!ec && dst_size == src->size) {
      auto dst = DigestFile(t.dst);
      if (!dst.ok()) return {dst.status()};
      if (*dst == *src) {
        o.skipped = true;
        return o;
      }
    }
    o.replaced = true;
  }
  o.copied = true;
  if (preview) {
    o.bytes = static_cast<int64_t>(fs::file_size(t.src, ec));
    return o;
  }
  FileDigest d;
  o.status = CopyVerified(t.src, t.dst, &d);
  o.bytes = static_cast<int64_t>(d.size);
  return o;
}

}  // namespace

Result<FileDigest> DigestFile(const fs::path& path) {
  File in(std::fopen(path.c_str(), "rb"));
  if (!in.f) return IoError(fmt::format("cannot read {}: {}", path.string(), Errno()));
  std::vector<unsigned char> buf(1 << 16);
  FileDigest d;
  uLong crc = crc32(0L, Z_NULL, 0);
  for (;;) {
    size_t n = std::fread(buf.data(), 1, buf.size(), in.f);
    crc = crc32(crc, buf.data(), static_cast<uInt>(n));
    d.size += n;
    if (n < buf.size()) break;
  }
  if (std::ferror(in.f)) return IoError(fmt::format("cannot read {}: {}", path.string(), Errno()));
  d.crc32 = static_cast<uint32_t>(crc);
  return d;
}

Result<StageReport> Stage(const StageOptions& o) {
  if (o.threads < 1)
    return InvalidArgument(fmt::format("--threads must be at least 1 (got {})", o.threads));
  if (o.from.empty() || o.to.empty())
    return InvalidArgument("stage needs a source and a destination directory");
  std::error_code ec;
  if (!fs::is_directory(o.from, ec))
    return NotFound(fmt::format("error output directory {} does not exist", o.from.string()));
  StageReport report;
  report.preview = o.preview;
  report.destination = o.to;
  report.source_root = fs::is_directory(o.from / "error", ec) ? o.from / "error" : o.from;
  if (fs::weakly_canonical(report.source_root, ec) == fs::weakly_canonical(o.to, ec)) {
    return InvalidArgument(
        fmt::format("stage: source and destination are the same directory ({})", o.to.string()));
  }

  std::vector<StageTask> tasks;
  for (Date day : o.dates.Days()) {
    StageDay sd;
    sd.date = day;
    fs::path dir = report.source_root / FormatDate(day);
    if (!fs::is_directory(dir, ec)) {
      sd.missing = true;
      report.days.push_back(sd);
      continue;
    }
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file() && !EndsWith(it->path().filename().string(), kPartialSuffix)) {
        files.push_back(it->path());
      }
    }
    if (ec) return IoError(fmt::format("cannot list {}: {}", dir.string(), ec.message()));
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      sd.files++;
      sd.bytes_total += static_cast<int64_t>(fs::file_size(f, ec));
      tasks.push_back({report.days.size(), f, o.to / FormatDate(day) / fs::relative(f, dir)});
    }
    report.days.push_back(sd);
  }
  if (report.MissingDays() == static_cast<int>(report.days.size())) {
    return NotFound(fmt::format("no day folder of {} under {} (expected {}/YYYY-MM-DD/HH/...)",
                                o.dates.ToString(), report.source_root.string(),
                                report.source_root.string()));
  }

  std::vector<StageOutcome> outcomes(tasks.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < tasks.size();) {
      if (failed.load()) break;
      outcomes[i] = RunStageTask(tasks[i], o.preview);
      if (!outcomes[i].status.ok()) failed.store(true);
    }
  };
  size_t n_threads =
      std::min<size_t>(static_cast<size_t>(o.threads), std::max<size_t>(tasks.size(), 1));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n_threads; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();

  for (size_t i = 0; i < tasks.size(); ++i) {
    const StageOutcome& r = outcomes[i];
    BF_RETURN_IF_ERROR(r.status);
    StageDay& d = report.days[tasks[i].day];
    if (r.skipped) d.skipped_identical++;
    if (r.copied) {
      d.copied++;
      d.bytes_copied += r.bytes;
    }
    if (r.replaced) d.replaced++;
  }
  if (o.progress) {
    for (const auto& d : report.days) {
      if (d.missing) {
        o.progress(fmt::format("{}: no day folder in {}", FormatDate(d.date),
                               report.source_root.string()));
      } else {
        o.progress(fmt::format("{}: {} {}, {} identical skipped ({} bytes)", FormatDate(d.date),
                               d.copied, o.preview ? "to copy" : "copied", d.skipped_identical,
                               d.bytes_copied));
      }
    }
  }
  return report;
}

}  // namespace backfill
