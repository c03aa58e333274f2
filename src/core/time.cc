#include "core/time.h"

#include <cctype>
#include <charconv>
#include <cstdio>

#include <fmt/format.h>

namespace backfill {
namespace {

using namespace std::chrono;

bool ParseInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<Date> ParseDate(std::string_view text) {
  text = Trim(text);
  int y, m, d;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !ParseInt(text.substr(0, 4), y) ||
      !ParseInt(text.substr(5, 2), m) || !ParseInt(text.substr(8, 2), d)) {
    return InvalidArgument(fmt::format("'{}' is not a date (expected YYYY-MM-DD)", text));
  }
  Date date{year(y), month(static_cast<unsigned>(m)), day(static_cast<unsigned>(d))};
  if (!date.ok()) return InvalidArgument(fmt::format("'{}' is not a valid calendar date", text));
  return date;
}

std::string FormatDate(Date date) {
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
}

std::string FormatDateCompact(Date date) {
  return fmt::format("{:04}{:02}{:02}", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
}

Date AddDays(Date date, int days) { return Date{sys_days(date) + std::chrono::days(days)}; }

int DaysBetween(Date from, Date to) {
  return static_cast<int>((sys_days(to) - sys_days(from)).count());
}

std::vector<Date> DateRange::Days() const {
  std::vector<Date> out;
  for (Date d = first; d <= last; d = AddDays(d, 1)) out.push_back(d);
  return out;
}

std::string DateRange::ToString() const {
  if (first == last) return FormatDate(first);
  return FormatDate(first) + ".." + FormatDate(last);
}

Result<DateRange> ParseDateRange(std::string_view text) {
  text = Trim(text);
  size_t dots = text.find("..");
  if (dots == std::string_view::npos) {
    BF_ASSIGN_OR_RETURN(Date d, ParseDate(text));
    return DateRange{d, d};
  }
  BF_ASSIGN_OR_RETURN(Date a, ParseDate(text.substr(0, dots)));
  BF_ASSIGN_OR_RETURN(Date b, ParseDate(text.substr(dots + 2)));
  if (b < a) {
    return InvalidArgument(fmt::format("date range '{}' ends before it starts", text));
  }
  return DateRange{a, b};
}

Result<Timestamp> ParseTimestamp(std::string_view text) {
  std::string_view s = Trim(text);
  auto bad = [&] {
    return InvalidArgument(
        fmt::format("'{}' is not a timestamp (expected e.g. 2020-03-19T10:00:00Z)", text));
  };
  if (s.size() < 10) return bad();
  auto date = ParseDate(s.substr(0, 10));
  if (!date.ok()) return bad();
  Timestamp ts = StartOf(*date);
  s.remove_prefix(10);
  if (s.empty()) return ts;
  if (s[0] != 'T' && s[0] != ' ' && s[0] != 't') return bad();
  s.remove_prefix(1);
  int h, mi, se = 0;
  if (s.size() < 5 || s[2] != ':' || !ParseInt(s.substr(0, 2), h) || !ParseInt(s.substr(3, 2), mi))
    return bad();
  s.remove_prefix(5);
  if (!s.empty() && s[0] == ':') {
    if (s.size() < 3 || !ParseInt(s.substr(1, 2), se)) return bad();
    s.remove_prefix(3);
  }
  if (h > 23 || mi > 59 || se > 60) return bad();
  int64_t micros = 0;
  if (!s.empty() && s[0] == '.') {
    s.remove_prefix(1);
    int digits = 0;
    while (!s.empty() && std::isdigit(static_cast<unsigned char>(s[0]))) {
      if (digits < 6) micros = micros * 10 + (s[0] - '0');
      ++digits;
      s.remove_prefix(1);
    }
    if (digits == 0) return bad();
    for (int i = digits; i < 6; ++i) micros *= 10;
  }
  ts += hours(h) + minutes(mi) + seconds(se) + Micros(micros);
  if (s.empty() || s == "Z" || s == "z" || s == " UTC" || s == "UTC") return ts;
  if ((s[0] == '+' || s[0] == '-') && s.size() == 6 && s[3] == ':') {
    int oh, om;
    if (!ParseInt(s.substr(1, 2), oh) || !ParseInt(s.substr(4, 2), om)) return bad();
    auto offset = hours(oh) + minutes(om);
    return s[0] == '+' ? ts - offset : ts + offset;
  }
  return bad();
}

std::string FormatTimestamp(Timestamp ts) {
  auto day = floor<days>(ts);
  Date date{day};
  hh_mm_ss<Micros> tod{ts - day};
  std::string out = fmt::format("{}T{:02}:{:02}:{:02}", FormatDate(date), tod.hours().count(),
                                tod.minutes().count(), tod.seconds().count());
  if (tod.subseconds().count() != 0) out += fmt::format(".{:06}", tod.subseconds().count());
  return out + "Z";
}

int64_t ToMicros(Timestamp ts) { return ts.time_since_epoch().count(); }
Timestamp FromMicros(int64_t micros) { return Timestamp(Micros(micros)); }
Date DateOf(Timestamp ts) { return Date{floor<days>(ts)}; }
Timestamp StartOf(Date date) { return Timestamp(sys_days(date)); }

std::string FormatDuration(Micros d) {
  bool negative = d.count() < 0;
  if (negative) d = -d;
  auto total_min = duration_cast<minutes>(d).count();
  int64_t days_ = total_min / (24 * 60), hours_ = (total_min / 60) % 24, mins = total_min % 60;
  std::string out;
  if (days_ > 0)
    out = fmt::format("{}d {}h", days_, hours_);
  else if (hours_ > 0)
    out = fmt::format("{}h {}m", hours_, mins);
  else
    out = fmt::format("{}m", mins);
  return negative ? "-" + out : out;
}

Result<Micros> ParseDuration(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.size() < 2)
    return InvalidArgument(fmt::format("'{}' is not a duration (e.g. 12h, 7d)", text));
  int n;
  if (!ParseInt(s.substr(0, s.size() - 1), n) || n < 0)
    return InvalidArgument(fmt::format("'{}' is not a duration (e.g. 12h, 7d)", text));
  switch (s.back()) {
    case 's':
      return Micros(seconds(n));
    case 'm':
      return Micros(minutes(n));
    case 'h':
      return Micros(hours(n));
    case 'd':
      return Micros(days(n));
    default:
      return InvalidArgument(fmt::format("'{}' is not a duration (e.g. 12h, 7d)", text));
  }
}

Timestamp SystemClock::Now() const { return floor<Micros>(system_clock::now()); }

Result<Timestamp> ParseTimePoint(std::string_view text, const Clock& clock) {
  std::string_view s = Trim(text);
  if (s == "now") return clock.Now();
  constexpr std::string_view kAgo = " ago";
  if (s.size() > kAgo.size() && s.substr(s.size() - kAgo.size()) == kAgo) {
    BF_ASSIGN_OR_RETURN(Micros d, ParseDuration(s.substr(0, s.size() - kAgo.size())));
    return clock.Now() - d;
  }
  return ParseTimestamp(s);
}

}  // namespace backfill
