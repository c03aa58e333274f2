#include "ingest/bq_values.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace backfill::ingest {

namespace {

// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads between min and max digits.
bool Digits(std::string_view s, size_t* i, size_t min, size_t max, int64_t* out) {
  size_t start = *i;
  int64_t v = 0;
  while (*i < s.size() && *i - start < max && IsDigit(s[*i])) v = v * 10 + (s[(*i)++] - '0');
  if (*i - start < min) return false;
  *out = v;
  return true;
}

// "YYYY-[M]M-[D]D" at *i.
bool DatePart(std::string_view s, size_t* i, int64_t* days) {
  int64_t y, m, d;
  if (!Digits(s, i, 4, 4, &y) || *i >= s.size() || s[*i] != '-') return false;
  ++*i;
  if (!Digits(s, i, 1, 2, &m) || *i >= s.size() || s[*i] != '-') return false;
  ++*i;
  if (!Digits(s, i, 1, 2, &d)) return false;
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, static_cast<unsigned>(m)))
    return false;
  *days = DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  return true;
}

// "[H]H:[M]M[:[S]S[.F]]" at *i, as microseconds since midnight.
bool TimePart(std::string_view s, size_t* i, int64_t* micros) {
  int64_t h, m, sec = 0, frac = 0;
  if (!Digits(s, i, 1, 2, &h) || *i >= s.size() || s[*i] != ':') return false;
  ++*i;
  if (!Digits(s, i, 1, 2, &m)) return false;
  if (*i < s.size() && s[*i] == ':') {
    ++*i;
    if (!Digits(s, i, 1, 2, &sec)) return false;
    if (*i < s.size() && s[*i] == '.') {
      ++*i;
      size_t start = *i;
      while (*i < s.size() && IsDigit(s[*i])) {
        if (*i - start < 6) frac = frac * 10 + (s[*i] - '0');
        ++*i;
      }
      size_t n = *i - start;
      if (n == 0) return false;
      for (size_t k = n; k < 6; ++k) frac *= 10;
    }
  }
  if (h > 23 || m > 59 || sec > 60) return false;  // BigQuery accepts a leap second :60
  *micros = ((h * 60 + m) * 60 + sec) * kMicrosPerSecond + frac;
  return true;
}

// Optional zone at *i: "Z", "UTC", "+HH", "+HH:MM", "+HHMM" (spaces allowed before it).
bool ZonePart(std::string_view s, size_t* i, int64_t* offset_micros, bool* has_zone) {
  *offset_micros = 0;
  *has_zone = false;
  while (*i < s.size() && s[*i] == ' ') ++*i;
  if (*i == s.size()) return true;
  *has_zone = true;
  char c = s[*i];
  if (c == 'Z' || c == 'z') {
    ++*i;
    return true;
  }
  if (s.substr(*i) == "UTC") {
    *i += 3;
    return true;
  }
  if (c != '+' && c != '-') return false;
  ++*i;
  int64_t hh, mm = 0;
  if (!Digits(s, i, 1, 2, &hh)) return false;
  if (*i < s.size() && s[*i] == ':') ++*i;
  if (*i < s.size() && !Digits(s, i, 2, 2, &mm)) return false;
  if (hh > 18 || mm > 59) return false;
  *offset_micros = (hh * 60 + mm) * 60 * kMicrosPerSecond * (c == '-' ? -1 : 1);
  return true;
}

bool DateTimeText(std::string_view s, bool allow_zone, int64_t* micros) {
  size_t i = 0;
  int64_t days;
  if (!DatePart(s, &i, &days)) return false;
  int64_t tod = 0;
  if (i < s.size() && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
    size_t save = i++;
    if (!TimePart(s, &i, &tod)) {
      // "2020-03-19 UTC": a date followed by a zone.
      i = save;
      tod = 0;
    }
  }
  int64_t offset;
  bool has_zone;
  if (!ZonePart(s, &i, &offset, &has_zone) || i != s.size()) return false;
  if (has_zone && !allow_zone) return false;
  *micros = days * kMicrosPerDay + tod - offset;
  return true;
}

// Seconds since the epoch as a JSON number's text.
bool EpochSeconds(std::string_view s, int64_t* micros) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(IsDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) return false;
  }
  double d;
  auto r = std::from_chars(s.data(), s.data() + s.size(), d);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(d)) return false;
  double us = d * 1e6;
  if (std::fabs(us) > 9.2e18) return false;
  *micros = std::llround(us);
  return true;
}

}  // namespace

bool ParseTimestampMicros(std::string_view text, int64_t* micros) {
  if (DateTimeText(text, /*allow_zone=*/true, micros)) return true;
  return EpochSeconds(text, micros);
}

bool ParseDatetimeMicros(std::string_view text, int64_t* micros) {
  return DateTimeText(text, /*allow_zone=*/false, micros);
}

bool ParseDateDays(std::string_view text, int32_t* days) {
  size_t i = 0;
  int64_t d;
  if (!DatePart(text, &i, &d) || i != text.size()) return false;
  *days = static_cast<int32_t>(d);
  return true;
}

bool ParseTimeMicros(std::string_view text, int64_t* micros) {
  size_t i = 0;
  return TimePart(text, &i, micros) && i == text.size();
}

bool ParseDecimal(std::string_view s, int scale, __int128* out) {
  static const __int128 kLimit = [] {
    __int128 v = 1;
    for (int k = 0; k < 38; ++k) v *= 10;
    return v;
  }();
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  __int128 mantissa = 0;
  int exponent = 0;  // value = mantissa * 10^exponent
  int digits = 0;
  bool any = false, round_up = false, dropped = false;
  auto add_digit = [&](int dgt, bool after_point) {
    any = true;
    if (digits >= 38) {  // more precision than we can hold: remember rounding, drop the rest
      if (!after_point) ++exponent;
      if (!dropped) round_up = dgt >= 5;
      dropped = true;
      return;
    }
    if (mantissa != 0 || dgt != 0) ++digits;
    mantissa = mantissa * 10 + dgt;
    if (after_point) --exponent;
  };
  while (i < s.size() && IsDigit(s[i])) add_digit(s[i++] - '0', false);
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) add_digit(s[i++] - '0', true);
  }
  if (!any) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) eneg = s[i++] == '-';
    int64_t e;
    if (!Digits(s, &i, 1, 4, &e)) return false;
    exponent += static_cast<int>(eneg ? -e : e);
  }
  if (i != s.size()) return false;
  if (round_up) mantissa += 1;
  int shift = exponent + scale;
  if (shift >= 0) {
    for (int k = 0; k < shift; ++k) {
      if (mantissa >= kLimit / 10 + 1) return false;
      mantissa *= 10;
    }
  } else {
    int last = 0;
    for (int k = 0; k < -shift && mantissa != 0; ++k) {
      last = static_cast<int>(mantissa % 10);
      mantissa /= 10;
    }
    if (last >= 5) mantissa += 1;  // half away from zero (on the magnitude)
  }
  if (mantissa >= kLimit) return false;
  *out = negative ? -mantissa : mantissa;
  return true;
}

}  // namespace backfill::ingest
