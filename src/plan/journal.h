// What a plan leaves in the warehouse: its journal (which steps ran, with what result) and its
// approvals, both JSON files under <warehouse>/plans/<plan name>/, written atomically (temp file,
// fsync, rename) while the writer lock is held, so a kill at any instant leaves the previous or
// the next version, and any tool can read them.
//
// A step is "pending", "running" (started; if the process died, interrupted), "done" or
// "failed". Before a step starts, the journal records each project's last write and audit
// numbers: what the step wrote is exactly what came after them, which lets an interrupted step
// be undone (append-only steps) and the report list the plan's audit entries.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "core/time.h"
#include "plan/step_kind.h"

namespace backfill {

using PlanJson = nlohmann::ordered_json;

// Rows per day of the tables a plan may touch: table -> day ("" = unpartitioned/NULL) -> rows.
using RowCounts = std::map<std::string, std::map<std::string, int64_t>>;

// Written as "pending", "running", "done" and "failed".
enum class StepState { kPending, kRunning, kDone, kFailed };
std::string_view StepStateName(StepState state);
std::optional<StepState> ParseStepState(std::string_view name);

struct JournalStep {
  StepKind kind = StepKind::kStage;
  StepState state = StepState::kPending;
  int attempts = 0;
  std::optional<Timestamp> started_at, finished_at;
  std::map<std::string, int64_t> write_marks,
      audit_marks;    // per project, when the step last started
  PlanJson result;    // the step command's JSON output
  std::string error;  // why it failed
};

struct Journal {
  std::string plan, sha256, file, principal;
  std::string approved_by;  // empty: applied without an approval (nothing protected)
  std::optional<Timestamp> started_at, finished_at;
  std::map<std::string, int64_t> audit_marks;  // per project, when the apply started
  RowCounts before;                            // at the start of the first apply
  std::vector<JournalStep> steps;

  bool finished() const { return finished_at.has_value(); }
};

// Where a plan's files live: <warehouse>/plans/<plan name>/.
std::filesystem::path PlanDir(const std::filesystem::path& warehouse_dir,
                              const std::string& plan_name);

// nullopt when the plan has never been applied. A journal naming a step kind or state this
// version does not know is refused, naming the file and the step.
Result<std::optional<Journal>> LoadJournal(const std::filesystem::path& warehouse_dir,
                                           const std::string& plan_name);
Status SaveJournal(const std::filesystem::path& warehouse_dir, const Journal& journal);
// Moves a finished journal aside (journal-<sha>.json) so an edited plan starts a new one.
Status ArchiveJournal(const std::filesystem::path& warehouse_dir, const Journal& journal);

struct PlanApproval {
  std::string sha256;  // the plan file's content hash: an edited plan needs a new approval
  std::string reviewer;
  Timestamp at;
  std::vector<std::string> protected_datasets;  // what the reviewer was shown it writes
};
Result<std::vector<PlanApproval>> LoadApprovals(const std::filesystem::path& warehouse_dir,
                                                const std::string& plan_name);
Status SaveApprovals(const std::filesystem::path& warehouse_dir, const std::string& plan_name,
                     const std::vector<PlanApproval>& approvals);

}  // namespace backfill

template <>
struct fmt::formatter<backfill::StepState> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(backfill::StepState state, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(backfill::StepStateName(state), ctx);
  }
};
