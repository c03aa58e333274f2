#include "core/time.h"

#include <gtest/gtest.h>

namespace backfill {
namespace {

TEST(DateTest, ParsesAndFormats) {
  auto d = ParseDate("2020-03-16");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(FormatDate(*d), "2020-03-16");
  EXPECT_EQ(FormatDateCompact(*d), "20200316");
  EXPECT_EQ(FormatDate(AddDays(*d, 16)), "2020-04-01");
  EXPECT_EQ(DaysBetween(*d, AddDays(*d, -3)), -3);
}

TEST(DateTest, RejectsImpossibleDates) {
  EXPECT_FALSE(ParseDate("2020-02-30").ok());
  EXPECT_FALSE(ParseDate("2020-3-16").ok());
  EXPECT_FALSE(ParseDate("yesterday").ok());
  EXPECT_TRUE(ParseDate("2020-02-29").ok());
}

TEST(DateRangeTest, ParsesRangesAndSingleDays) {
  auto r = ParseDateRange("2020-03-16..2020-03-18");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->Days().size(), 3u);
  EXPECT_EQ(FormatDate(r->Days()[2]), "2020-03-18");
  EXPECT_EQ(r->ToString(), "2020-03-16..2020-03-18");
  auto one = ParseDateRange("2020-03-16");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->Days().size(), 1u);
}

TEST(DateRangeTest, RefusesRangeEndingBeforeItStarts) {
  auto r = ParseDateRange("2020-03-18..2020-03-16");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("ends before it starts"), std::string::npos);
}

TEST(TimestampTest, ParsesIsoForms) {
  auto a = ParseTimestamp("2020-03-19T10:00:00Z");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(FormatTimestamp(*a), "2020-03-19T10:00:00Z");
  auto b = ParseTimestamp("2020-03-19 12:00:00+02:00");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  auto c = ParseTimestamp("2020-03-19T10:00:00.5Z");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(FormatTimestamp(*c), "2020-03-19T10:00:00.500000Z");
  EXPECT_EQ(ToMicros(*c) - ToMicros(*a), 500000);
  EXPECT_FALSE(ParseTimestamp("2020-03-19T25:00:00Z").ok());
  EXPECT_FALSE(ParseTimestamp("2020-03-19T10:00:00 PST").ok());
}

TEST(TimePointTest, RelativeToClock) {
  FixedClock clock(*ParseTimestamp("2020-03-19T10:00:00Z"));
  auto t = ParseTimePoint("12h ago", clock);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatTimestamp(*t), "2020-03-18T22:00:00Z");
  EXPECT_EQ(*ParseTimePoint("now", clock), clock.Now());
  EXPECT_FALSE(ParseTimePoint("12 parsecs ago", clock).ok());
}

TEST(DurationTest, FormatsForPeople) {
  using namespace std::chrono;
  EXPECT_EQ(FormatDuration(duration_cast<Micros>(hours(76))), "3d 4h");
  EXPECT_EQ(FormatDuration(duration_cast<Micros>(minutes(125))), "2h 5m");
  EXPECT_EQ(FormatDuration(duration_cast<Micros>(minutes(-5))), "-5m");
}

}  // namespace
}  // namespace backfill
