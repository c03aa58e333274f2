// BigQuery's JSON text forms of TIMESTAMP, DATETIME, DATE, TIME and NUMERIC/BIGNUMERIC values,
// parsed as BigQuery reads them, into the numbers DuckDB stores (microseconds since the epoch,
// days since the epoch, scaled decimals). Pure functions, no I/O, thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace backfill::ingest {

inline constexpr int64_t kMicrosPerSecond = 1000000;
inline constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

// All return false on bad input.
// TIMESTAMP: "2020-03-19T10:00:00.123456Z", "2020-03-19 10:00:00+01:00", "... UTC", "2020-03-19",
// or seconds since the epoch ("1584612000.5"); fractions beyond microseconds are truncated.
bool ParseTimestampMicros(std::string_view text, int64_t* micros);
// DATETIME: the same without a zone (a zone is refused).
bool ParseDatetimeMicros(std::string_view text, int64_t* micros);
bool ParseDateDays(std::string_view text, int32_t* days);
bool ParseTimeMicros(std::string_view text, int64_t* micros);
// A decimal number scaled by 10^scale, rounded half away from zero; false on overflow of 38 digits.
bool ParseDecimal(std::string_view text, int scale, __int128* out);

}  // namespace backfill::ingest
