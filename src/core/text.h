// Small text helpers shared by every layer. Pure functions, no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace backfill {

// "a, b, c" for Join({"a","b","c"}, ", ").
std::string Join(const std::vector<std::string>& parts, std::string_view separator);
// "a,b,,c" -> {"a","b","c"}: splits on commas, trims spaces, drops empty items.
std::vector<std::string> SplitList(std::string_view text);

inline bool EndsWith(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }
inline bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.starts_with(prefix);
}

}  // namespace backfill
