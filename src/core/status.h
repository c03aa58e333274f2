// Status and Result<T>: how every library function in backfill reports failure.
//
// Library code never prints or exits; it returns a Status (or a Result carrying a value) whose
// code tells the CLI which exit code to use and whose message names the file, line, table or
// partition involved. Pure values, thread-compatible, no I/O.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace backfill {

enum class StatusCode {
  kOk,
  kInvalidArgument,  // bad input from the user (usage errors, malformed files): exit 2 or 1
  kNotFound,         // a project, dataset, table, file or partition that does not exist
  kAlreadyExists,
  kRefused,           // a safety check said no (empty source, expired source, window, approval)
  kPermissionDenied,  // the principal lacks the role; refused like a safety check
  kBusy,              // another process holds the warehouse
  kUnavailable,       // transient infrastructure failure: retried, never written to error output
  kIoError,
  kDataLoss,  // corrupt input or storage
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Prefixes the message with context ("loading a.bq: ..."), keeping the code.
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status Refused(std::string m) { return {StatusCode::kRefused, std::move(m)}; }
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status Busy(std::string m) { return {StatusCode::kBusy, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Prints `what` to stderr and aborts: a misuse of Result, never an expected failure.
[[noreturn]] void DieOnBadResult(const std::string& what);

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) DieOnBadResult("a Result was built from an ok Status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  // Reading the value of an error is a bug in the caller: stop, in every build type, with the
  // error that was ignored rather than run on with an empty value.
  T& value() & {
    Check();
    return *value_;
  }
  const T& value() const& {
    Check();
    return *value_;
  }
  T&& value() && {
    Check();
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void Check() const {
    if (!ok()) DieOnBadResult("value() of a failed Result: " + status_.ToString());
  }
  std::optional<T> value_;
  Status status_;
};

}  // namespace backfill

#define BF_CONCAT_INNER(a, b) a##b
#define BF_CONCAT(a, b) BF_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` failed.
#define BF_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::backfill::Status bf_status_ = (expr);  \
    if (!bf_status_.ok()) return bf_status_; \
  } while (0)

// `BF_ASSIGN_OR_RETURN(auto x, MakeX());` binds the value or returns the error.
#define BF_ASSIGN_OR_RETURN(lhs, expr) \
  BF_ASSIGN_OR_RETURN_IMPL(BF_CONCAT(bf_result_, __LINE__), lhs, expr)
#define BF_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
