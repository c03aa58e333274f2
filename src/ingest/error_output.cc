#include "ingest/error_output.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace backfill::ingest {

namespace fs = std::filesystem;

bool IsErrorAttribute(std::string_view k) {
  if (k == "error_type" || k == "error_message" || k == "exception_class" || k == "stack_trace") {
    return true;
  }
  return k.size() == 19 && k.starts_with("stack_trace_cause_") && k[18] >= '1' && k[18] <= '5';
}

ErrorOutputWriter::ErrorOutputWriter(std::string prefix, std::string run_id)
    : prefix_(std::move(prefix)), run_id_(std::move(run_id)) {
  while (prefix_.size() > 1 && prefix_.back() == '/') prefix_.pop_back();
}

Status ErrorOutputWriter::Write(const PubsubMessage& message, const std::string& line) {
  std::string folder = ErrorOutputFolder(prefix_, message);
  std::lock_guard<std::mutex> lock(mu_);
  File& f = files_[folder];
  if (!f.handle) {
    if (open_ >= kMaxOpen) {  // close the others; they are reopened for appending (a new member)
      for (auto& [_, other] : files_) {
        if (other.handle) {
          BF_RETURN_IF_ERROR(CloseFile(other));
        }
      }
    }
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec)
      return IoError(fmt::format("creating error-output folder {}: {}", folder, ec.message()));
    f.partial = folder + "." + FileName() + ".partial";
    f.handle = gzopen(f.partial.c_str(), f.opened ? "ab6" : "wb6");
    if (!f.handle)
      return IoError(
          fmt::format("cannot write error output {}: {}", f.partial, std::strerror(errno)));
    f.opened = true;
    ++open_;
  }
  if (gzwrite(f.handle, line.data(), static_cast<unsigned>(line.size())) !=
          static_cast<int>(line.size()) ||
      gzputc(f.handle, '\n') != '\n') {
    int errnum = 0;
    const char* msg = gzerror(f.handle, &errnum);
    return IoError(
        fmt::format("writing error output {}: {}", f.partial, msg ? msg : "gzwrite failed"));
  }
  ++lines_;
  return Status::Ok();
}

Status ErrorOutputWriter::Finish(std::vector<std::string>* written) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [folder, f] : files_) {
    if (f.handle) BF_RETURN_IF_ERROR(CloseFile(f));
    std::string final_path = folder + FileName();
    std::error_code ec;
    for (int k = 2; fs::exists(final_path, ec); ++k)
      final_path = folder + fmt::format("sink-{}-{}.ndjson.gz", run_id_, k);
    fs::rename(f.partial, final_path, ec);
    if (ec)
      return IoError(fmt::format("renaming {} to {}: {}", f.partial, final_path, ec.message()));
    f.partial.clear();
    written->push_back(final_path);
  }
  files_.clear();
  return Status::Ok();
}

void ErrorOutputWriter::Abort() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [_, f] : files_) {
    if (f.handle) (void)CloseFile(f);
    std::error_code ec;
    if (!f.partial.empty()) fs::remove(f.partial, ec);
  }
  files_.clear();
}

std::string ErrorOutputWriter::FileName() const {
  return fmt::format("sink-{}.ndjson.gz", run_id_);
}

Status ErrorOutputWriter::CloseFile(File& f) {
  int rc = gzclose(f.handle);
  f.handle = nullptr;
  --open_;
  if (rc != Z_OK) return IoError(fmt::format("closing error output {} failed ({})", f.partial, rc));
  return Status::Ok();
}

}  // namespace backfill::ingest
