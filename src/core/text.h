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

}  // namespace backfill
