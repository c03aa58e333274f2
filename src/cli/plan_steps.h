// A plan step as the command it runs: the step's options (plan/step_kind.h) become the typed
// options of its command (step_commands.h), with paths resolved against the plan file's folder
// (and redirected into the scratch folder in a preview), and the command runs in-process on the
// warehouse the plan holds open.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "cli/step_commands.h"
#include "plan/apply.h"
#include "plan/paths.h"
#include "plan/plan.h"

namespace backfill::cli {

// The run id of a sink step: its error-output files are named after it, so a redone step
// rewrites the same files instead of adding copies.
std::string SinkRunId(const Plan& plan, size_t index);

// Step `index` of `plan` as its command. Refuses only an integer option out of range.
Result<StepCommand> StepCommandOf(const Plan& plan, size_t index, const PathMap& paths);

// Runs `command` on `w` (borrowed: the plan keeps its lock), as `ctx`'s principal, its JSON
// result into `*result`, its progress lines to `progress`.
Status RunStepCommand(Context& ctx, Warehouse& w, std::string_view label,
                      const StepCommand& command, PlanJson* result,
                      const std::function<void(std::string_view)>& progress);

}  // namespace backfill::cli
