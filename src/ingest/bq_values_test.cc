#include "ingest/bq_values.h"

#include <gtest/gtest.h>

namespace backfill::ingest {
namespace {

TEST(BqValuesTest, TextFormsParseAsBigQueryReadsThem) {
  int64_t us = 0;
  EXPECT_TRUE(ParseTimestampMicros("1970-01-01T00:00:01Z", &us));
  EXPECT_EQ(us, 1000000);
  EXPECT_TRUE(ParseTimestampMicros("1970-01-01 01:00:00+01:00", &us));
  EXPECT_EQ(us, 0);
  EXPECT_TRUE(ParseTimestampMicros("1970-01-01 00:00:00.1234567 UTC", &us));
  EXPECT_EQ(us, 123456);
  EXPECT_TRUE(ParseTimestampMicros("1969-12-31T23:59:59.999999-00:00", &us));
  EXPECT_EQ(us, -1);
  EXPECT_TRUE(ParseTimestampMicros("2019-07-01T12:13:14.123456", &us));  // no zone: UTC
  EXPECT_TRUE(ParseTimestampMicros("1584612000.5", &us));
  EXPECT_EQ(us, 1584612000500000);
  EXPECT_TRUE(ParseTimestampMicros("2020-03-19", &us));
  EXPECT_FALSE(ParseTimestampMicros("2020-02-30T00:00:00Z", &us));
  EXPECT_FALSE(ParseTimestampMicros("yesterday", &us));
  EXPECT_FALSE(ParseTimestampMicros("2020-03-19T25:00:00Z", &us));
  EXPECT_FALSE(ParseDatetimeMicros("2020-03-19T10:00:00Z", &us));
  int32_t days = 0;
  EXPECT_TRUE(ParseDateDays("1970-01-02", &days));
  EXPECT_EQ(days, 1);
  EXPECT_TRUE(ParseDateDays("1969-12-31", &days));
  EXPECT_EQ(days, -1);
  EXPECT_FALSE(ParseDateDays("2020-03-19T00:00:00", &days));
  __int128 x = 0;
  EXPECT_TRUE(ParseDecimal("1.5", 9, &x));
  EXPECT_TRUE(x == 1500000000);
  EXPECT_TRUE(ParseDecimal("-0.0000000015", 9, &x));
  EXPECT_TRUE(x == -2);  // half away from zero
  EXPECT_TRUE(ParseDecimal("1e3", 9, &x));
  EXPECT_TRUE(x == static_cast<__int128>(1000000000000LL));
  EXPECT_FALSE(ParseDecimal("1e40", 9, &x));
  EXPECT_FALSE(ParseDecimal("abc", 9, &x));
}

}  // namespace
}  // namespace backfill::ingest
