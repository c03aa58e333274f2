#include "core/retry.h"

#include <vector>

#include <gtest/gtest.h>

namespace backfill {
namespace {

using namespace std::chrono_literals;

RetryPolicy Recording(std::vector<std::chrono::milliseconds>* sleeps, int attempts = 5) {
  RetryPolicy p;
  p.attempts = attempts;
  p.initial = 10ms;
  p.max = 25ms;
  p.sleep = [sleeps](std::chrono::milliseconds d) { sleeps->push_back(d); };
  return p;
}

TEST(RetryTest, TransientFailuresAreRetriedWithBackoffUntilTheySucceed) {
  std::vector<std::chrono::milliseconds> sleeps;
  int calls = 0;
  Status s = Retry(Recording(&sleeps), [&]() -> Status {
    return ++calls < 4 ? Unavailable("table metadata unavailable") : Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(sleeps, (std::vector<std::chrono::milliseconds>{10ms, 20ms, 25ms}));
}

TEST(RetryTest, GivesUpAfterTheAttemptsAndSaysSo) {
  std::vector<std::chrono::milliseconds> sleeps;
  int calls = 0;
  Status s = Retry(Recording(&sleeps, 3), [&]() -> Status {
    ++calls;
    return IoError("disk hiccup");
  });
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(s.message(), "disk hiccup (gave up after 3 attempt(s))");
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(sleeps.size(), 2u);
}

TEST(RetryTest, PermanentFailuresAreNotRetried) {
  std::vector<std::chrono::milliseconds> sleeps;
  int calls = 0;
  Status s = Retry(Recording(&sleeps), [&]() -> Status {
    ++calls;
    return InvalidArgument("bad");
  });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "bad");
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(sleeps.empty());
  EXPECT_TRUE(IsTransient(Busy("warehouse busy")));
  EXPECT_FALSE(IsTransient(NotFound("no table")));
}

}  // namespace
}  // namespace backfill
