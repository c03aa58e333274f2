// Dates, date ranges, timestamps and the Clock.
//
// Partitions are days (`Date`); history and deadlines are microsecond `Timestamp`s in UTC.
// Everything that needs "now" takes a Clock so tests can stand "three days after the
// incident". Pure values; FixedClock and SystemClock are thread-safe; no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace backfill {

using Date = std::chrono::year_month_day;
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;
using Micros = std::chrono::microseconds;

// "2020-03-16" <-> Date. Parsing rejects impossible dates such as 2020-02-30.
Result<Date> ParseDate(std::string_view text);
std::string FormatDate(Date date);
// "20200316", the form BigQuery partition decorators use.
std::string FormatDateCompact(Date date);
Date AddDays(Date date, int days);
int DaysBetween(Date from, Date to);  // to - from

// An inclusive range of days, written "A..B" or a single "A".
struct DateRange {
  Date first;
  Date last;

  std::vector<Date> Days() const;
  bool Contains(Date d) const { return d >= first && d <= last; }
  std::string ToString() const;
};
// Parses "A..B" or "A"; refuses a range that ends before it starts.
Result<DateRange> ParseDateRange(std::string_view text);

// ISO-8601 timestamps: "2020-03-19T10:00:00Z", "2020-03-19 10:00:00.123456+00:00",
// "2020-03-19" (midnight UTC). Offsets other than UTC are applied.
Result<Timestamp> ParseTimestamp(std::string_view text);
// "2020-03-19T10:00:00Z" (microseconds shown only when non-zero).
std::string FormatTimestamp(Timestamp ts);
int64_t ToMicros(Timestamp ts);
Timestamp FromMicros(int64_t micros);
Date DateOf(Timestamp ts);
Timestamp StartOf(Date date);
// "3d 4h", "12h 5m", "45m": a duration as a person reads it in a deadline.
std::string FormatDuration(Micros d);
// A duration such as "12h", "7d", "90m", "30s".
Result<Micros> ParseDuration(std::string_view text);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp Now() const override;
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(Timestamp now) : now_(now) {}
  Timestamp Now() const override { return now_; }
  void Set(Timestamp now) { now_ = now; }
  void Advance(Micros d) { now_ += d; }

 private:
  Timestamp now_;
};

// A point in time as users write it on the command line: an ISO timestamp, or relative to the
// clock ("12h ago", "2d ago", "now").
Result<Timestamp> ParseTimePoint(std::string_view text, const Clock& clock);

}  // namespace backfill
