#include "core/retry.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

namespace backfill {

bool IsTransient(const Status& status) {
  return status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kBusy ||
         status.code() == StatusCode::kIoError;
}

Status Retry(const RetryPolicy& policy, const std::function<Status()>& attempt) {
  auto delay = policy.initial;
  const int attempts = std::max(1, policy.attempts);
  for (int i = 1;; ++i) {
    Status s = attempt();
    if (s.ok() || !IsTransient(s)) return s;
    if (i >= attempts) {
      return Status(s.code(),
                    fmt::format("{} (gave up after {} attempt(s))", s.message(), attempts));
    }
    if (policy.sleep) {
      policy.sleep(delay);
    } else {
      std::this_thread::sleep_for(delay);
    }
    delay = std::min(policy.max, delay * 2);
  }
}

}  // namespace backfill
