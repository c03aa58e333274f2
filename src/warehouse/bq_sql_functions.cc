#include "warehouse/bq_sql_functions.h"

#include <fmt/format.h>

#include <optional>
#include <set>

#include "core/schema.h"
#include "core/text.h"
#include "warehouse/json_values.h"

namespace backfill::bq_sql_internal {
namespace {

// The value of a string literal as QuoteString writes it ('it''s'), or nullopt for any other
// expression: formats and patterns must be literals to be checked here.
std::optional<std::string> LiteralValue(const std::string& sql) {
  if (sql.size() < 2 || sql.front() != '\'' || sql.back() != '\'') return std::nullopt;
  std::string value;
  for (size_t i = 1; i + 1 < sql.size(); ++i) {
    if (sql[i] == '\'') {
      if (i + 2 >= sql.size() || sql[i + 1] != '\'') return std::nullopt;
      ++i;
    }
    value += sql[i];
  }
  return value;
}

Status Refuse(std::string what) { return InvalidArgument(std::move(what)); }

Status ArgCount(std::string_view fn, size_t n, size_t min, size_t max) {
  if (n < min || n > max) return Refuse(fmt::format("{} with {} argument(s)", fn, n));
  return Status::Ok();
}

// A BigQuery date format (FORMAT_DATE / PARSE_DATE) as a DuckDB strftime/strptime format.
// Only elements whose output both engines agree on pass; the shorthands BigQuery documents
// are expanded (%F = %Y-%m-%d, %D and %x = %m/%d/%y).
Result<std::string> DateFormat(std::string_view fn, const std::string& format_sql, bool parse) {
  auto format = LiteralValue(format_sql);
  if (!format) return Refuse(fmt::format("{} with a format that is not a string literal", fn));
  static const std::set<char> kSame = {'Y', 'm', 'd', 'b', 'B', 'a', 'A',
                                       'y', 'j', 'H', 'M', 'S', '%'};
  std::string out;
  for (size_t i = 0; i < format->size(); ++i) {
    char c = (*format)[i];
    if (c != '%') {
      out += c;
      continue;
    }
    if (i + 1 >= format->size()) return Refuse(fmt::format("{} with a format ending in %", fn));
    char e = (*format)[++i];
    if (kSame.count(e)) {
      out += '%';
      out += e;
    } else if (e == 'F') {
      out += "%Y-%m-%d";
    } else if (e == 'D' || e == 'x') {
      out += "%m/%d/%y";
    } else if (e == 'e' && parse) {
      out += "%d";  // strptime reads one or two digits, as %e does; formatting pads with ' '
    } else if (e == 'h') {
      out += "%b";
    } else {
      return Refuse(fmt::format("{} with format element %{}", fn, e));
    }
  }
  return QuoteString(out);
}

// The number of capturing groups in an RE2 pattern: '(' not escaped, not in a class, not '(?'.
int CaptureGroups(const std::string& re) {
  int groups = 0;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\') {
      ++i;
    } else if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(' && (i + 1 >= re.size() || re[i + 1] != '?')) {
      ++groups;
    }
  }
  return groups;
}

}  // namespace

bool IsDialectFunction(std::string_view upper) {
  static const std::set<std::string, std::less<>> kNames = {
      "SAFE_DIVIDE", "FORMAT_DATE", "PARSE_DATE", "SPLIT", "REGEXP_EXTRACT", "TO_JSON_STRING"};
  return kNames.count(upper) > 0;
}

Result<std::string> DialectFunction(std::string_view u, const std::vector<std::string>& a) {
  if (u == "SAFE_DIVIDE") {
    BF_RETURN_IF_ERROR(ArgCount(u, a.size(), 2, 2));
    // NULL instead of an error for x / 0; DuckDB's '/' divides integers as FLOAT64, as
    // BigQuery's SAFE_DIVIDE does.
    return fmt::format("CASE WHEN ({1}) = 0 THEN NULL ELSE ({0}) / ({1}) END", a[0], a[1]);
  }
  if (u == "FORMAT_DATE") {
    BF_RETURN_IF_ERROR(ArgCount(u, a.size(), 2, 2));
    BF_ASSIGN_OR_RETURN(std::string format, DateFormat(u, a[0], false));
    return fmt::format("strftime(CAST({} AS DATE), {})", a[1], format);
  }
  if (u == "PARSE_DATE") {
    BF_RETURN_IF_ERROR(ArgCount(u, a.size(), 2, 2));
    BF_ASSIGN_OR_RETURN(std::string format, DateFormat(u, a[0], true));
    return fmt::format("CAST(strptime({}, {}) AS DATE)", a[1], format);
  }
  if (u == "SPLIT") {
    // The delimiter defaults to ','; SPLIT('') is [''] in both engines.
    BF_RETURN_IF_ERROR(ArgCount(u, a.size(), 1, 2));
    return fmt::format("string_split({}, {})", a[0], a.size() == 2 ? a[1] : "','");
  }
  if (u == "REGEXP_EXTRACT") {
    if (a.size() != 2) return Refuse("REGEXP_EXTRACT with a position or occurrence argument");
    auto re = LiteralValue(a[1]);
    if (!re) return Refuse("REGEXP_EXTRACT with a pattern that is not a string literal");
    int groups = CaptureGroups(*re);
    if (groups > 1) return Refuse("REGEXP_EXTRACT with more than one capturing group");
    // BigQuery returns NULL when nothing matches, DuckDB ''.
    return fmt::format("CASE WHEN regexp_matches({0}, {1}) THEN regexp_extract({0}, {1}, {2}) END",
                       a[0], a[1], groups);
  }
  if (u == "TO_JSON_STRING") {
    BF_RETURN_IF_ERROR(ArgCount(u, a.size(), 1, 1));
    // DuckDB's to_json differs in FLOAT64, NUMERIC, time values, INT64 beyond 2^53 and
    // NULL; the warehouse registers BigQuery's encoding under this name (json_values.h).
    return fmt::format("{}({})", kToJsonStringFunction, a[0]);
  }
  return Refuse(std::string(u));
}

}  // namespace backfill::bq_sql_internal
