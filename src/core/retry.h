// Retrying infrastructure failures (promise 6: transient is not permanent): an operation that
// fails with a transient code is tried again with exponential backoff, then fails for good.
// Thread-safety: Retry keeps no state; the policy is read only. No I/O except the sleeps.
#pragma once

#include <chrono>
#include <functional>

#include "core/status.h"

namespace backfill {

// How infrastructure failures are retried: `attempts` tries in all, sleeping `initial`,
// 2*initial, ... (at most `max`) between them.
struct RetryPolicy {
  int attempts = 5;
  std::chrono::milliseconds initial{50};
  std::chrono::milliseconds max{1000};
  // Sleeps between attempts; tests inject a recorder. Unset: std::this_thread::sleep_for.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// kUnavailable, kBusy and kIoError: worth retrying.
bool IsTransient(const Status& status);
// Runs `attempt` until it succeeds, fails permanently, or the attempts are used up; the final
// error says how many attempts were made ("... (gave up after 5 attempts)").
Status Retry(const RetryPolicy& policy, const std::function<Status()>& attempt);

}  // namespace backfill
