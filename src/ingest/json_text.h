// Writing JSON text exactly as the reference pipeline (Java, Jackson) writes it.
//
// The reference compares `additional_properties` and values coerced to STRING byte for byte,
// so escaping and number formatting follow Jackson's defaults: `"` and `\` escaped, the
// control characters \b \t \n \f \r in short form and the others as \u00XX (upper-case
// hex), everything else (including non-ASCII UTF-8) written raw; integers as is; doubles
// as Java's Double.toString writes them ("100.0", "1.0E-5", "1.2345678E7").
//
// Pure functions, thread-safe, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace backfill::ingest {

// Appends `s` as a quoted JSON string.
void AppendJsonString(std::string* out, std::string_view s);
// Whether AppendJsonString escapes anything in `s` (else it appends `s` between quotes).
bool JsonStringNeedsEscaping(std::string_view s);
// Appends `d` as Java's Double.toString does (shortest round-trip digits).
void AppendJavaDouble(std::string* out, double d);
// The same text written at `out`, which has room for kJavaDoubleChars; returns its end.
inline constexpr size_t kJavaDoubleChars = 32;
char* WriteJavaDouble(char* out, double d);
// Appends the compact JSON of a parsed element, keys in input order.
void AppendJacksonJson(std::string* out, simdjson::dom::element element);
void AppendJacksonJson(std::string* out, simdjson::dom::object object);
// Appends, in one pass, what AppendJsonString of the element's AppendJacksonJson text appends:
// the JSON text as a quoted JSON string.
void AppendJacksonJsonLiteral(std::string* out, simdjson::dom::element element);
void AppendJacksonJsonLiteral(std::string* out, simdjson::dom::object object);
inline std::string JacksonJson(simdjson::dom::object object) {
  std::string s;
  AppendJacksonJson(&s, object);
  return s;
}
inline std::string JacksonJson(simdjson::dom::element element) {
  std::string s;
  AppendJacksonJson(&s, element);
  return s;
}

}  // namespace backfill::ingest
