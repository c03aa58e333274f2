// The sink's error output: the records it cannot write, one gzip NDJSON file per submission
// hour (`<prefix>/error/<YYYY-MM-DD>/<HH>/sink-<run-id>.ndjson.gz`, pubsub.h), each file
// written as `.<name>.partial` and renamed when the run succeeds (removed when it fails), so a
// failed run leaves no error output behind.
// Thread-safety: ErrorOutputWriter is safe to use from several threads. I/O: writes the files.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ingest/pubsub.h"

namespace backfill::ingest {

// The error attributes the reference sinks add to a failed message (FailureMessage in
// ingestion-beam): error_type, error_message, exception_class, stack_trace and
// stack_trace_cause_1..5. The sink removes them before a message is decoded again.
bool IsErrorAttribute(std::string_view key);

class ErrorOutputWriter {
 public:
  ErrorOutputWriter(std::string prefix, std::string run_id);
  ~ErrorOutputWriter() { Abort(); }
  ErrorOutputWriter(const ErrorOutputWriter&) = delete;
  ErrorOutputWriter& operator=(const ErrorOutputWriter&) = delete;

  // Appends `line` (the message as an error-output line) to the file of the message's hour.
  Status Write(const PubsubMessage& message, const std::string& line);
  // Closes every file and gives it its final name (listed in `written`).
  Status Finish(std::vector<std::string>* written);
  // Closes and removes every file written so far.
  void Abort();

  int64_t lines() const { return lines_; }

 private:
  // Open files at most; past it the others are closed and reopened for appending (a new
  // gzip member) when needed.
  static constexpr int kMaxOpen = 32;
  struct File {
    gzFile handle = nullptr;
    bool opened = false;
    std::string partial;
  };
  std::string FileName() const;
  Status CloseFile(File& f);

  std::string prefix_, run_id_;
  std::mutex mu_;
  std::map<std::string, File> files_;
  int open_ = 0;
  int64_t lines_ = 0;
};

}  // namespace backfill::ingest
