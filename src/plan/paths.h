// Where a plan's relative paths point: the plan file's folder (a plan is moved around with its
// staging folders, not with the shell's working directory). In a preview, the folders a step
// writes (options of meaning kOutput in plan/step_kind.h) are swapped for folders under the
// scratch folder, so a preview writes nothing outside it and never removes real files. Pure
// (path arithmetic, no I/O); not thread-safe.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "plan/plan.h"

namespace backfill {

struct PathMap {
  std::filesystem::path base;  // the plan file's folder
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>>
      redirects;                  // real folder -> scratch folder
  std::filesystem::path scratch;  // set in a preview

  std::filesystem::path Resolve(const std::string& path) const;
  // In a preview, points the step's output folders into scratch (stage.to, sink.error_output;
  // a cleanup of a folder staged by an earlier apply gets an empty scratch folder instead).
  void RedirectOutputs(size_t index, const PlanStep& step);
};

}  // namespace backfill
