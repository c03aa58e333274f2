#include "plan/paths.h"

#include <fmt/format.h>

namespace backfill {
namespace fs = std::filesystem;

fs::path PathMap::Resolve(const std::string& p) const {
  fs::path path = fs::path(p).is_absolute() ? fs::path(p) : base / p;
  path = path.lexically_normal();
  for (const auto& [from, to] : redirects) {
    auto rel = path.lexically_relative(from);
    if (!rel.empty() && *rel.begin() != "..") return (to / rel).lexically_normal();
  }
  return path;
}

void PathMap::RedirectOutputs(size_t index, const PlanStep& s) {
  if (scratch.empty()) return;
  for (const auto& option : s.Spec().options) {
    if (option.meaning != StepOptionSpec::Meaning::kOutput) continue;
    std::string v = s.String(std::string(option.name));
    if (v.empty()) continue;
    fs::path real = Resolve(v);
    auto inside = real.lexically_relative(scratch);
    if (!inside.empty() && *inside.begin() != "..")
      continue;  // already redirected by an earlier step
    redirects.emplace_back(
        real, scratch / "files" / fmt::format("step{}-{}", index + 1, real.filename().string()));
  }
}

}  // namespace backfill
