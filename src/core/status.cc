#include "core/status.h"

#include <cstdio>
#include <cstdlib>

namespace backfill {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kAlreadyExists:
      return "already exists";
    case StatusCode::kRefused:
      return "refused";
    case StatusCode::kPermissionDenied:
      return "permission denied";
    case StatusCode::kBusy:
      return "busy";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kIoError:
      return "I/O error";
    case StatusCode::kDataLoss:
      return "data loss";
    case StatusCode::kInternal:
      return "internal error";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

void DieOnBadResult(const std::string& what) {
  std::fprintf(stderr, "backfill: internal error: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace backfill
