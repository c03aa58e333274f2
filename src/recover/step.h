// What every recovery step shares. Steps never print: long ones report one human-readable line
// per table and day through a ProgressFn, which the CLI shows on a terminal (stderr) and
// plans record. Pure declarations.
#pragma once

#include <functional>
#include <string_view>

namespace backfill {

// Called with one progress line, e.g. "2020-03-17 prod.x_live.y: 120 appended".
using ProgressFn = std::function<void(std::string_view line)>;

}  // namespace backfill
