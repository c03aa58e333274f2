#include "core/status.h"

#include <gtest/gtest.h>

namespace backfill {
namespace {

Result<int> Parse(bool good) {
  if (!good) return InvalidArgument("not a number: \"x\"");
  return 7;
}

TEST(ResultTest, ValueOfASuccessIsTheValue) {
  auto r = Parse(true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 7);
}

// The check must hold in RelWithDebInfo and Release builds too (NDEBUG): an assert would be
// compiled out there and the caller would read an empty optional.
TEST(ResultDeathTest, ValueOfAnErrorStopsWithTheIgnoredStatusInEveryBuild) {
  auto r = Parse(false);
  ASSERT_FALSE(r.ok());
  EXPECT_DEATH((void)r.value(),
               "internal error: value\\(\\) of a failed Result: invalid argument: not a number");
  EXPECT_DEATH((void)*Parse(false), "value\\(\\) of a failed Result");
}

TEST(ResultDeathTest, AResultBuiltFromAnOkStatusStops) {
  EXPECT_DEATH(
      {
        Result<int> r{Status::Ok()};
        (void)r;
      },
      "built from an ok Status");
}

}  // namespace
}  // namespace backfill
