// Previewing a plan: every step is rehearsed on a scratch copy of the warehouse, journal
// included, so an interrupted plan previews exactly what resuming it would do (the interrupted
// step undone, then redone). The preview is data: per step its outcome, what it wrote and which
// protected datasets; per changed table and day the rows now and after; the deadlines the plan
// races against; whether it needs (and has) an approval. The CLI formats it.
//
// I/O: reads the warehouse (its writer lock held while it is copied) and writes only under a
// scratch folder it removes. Not thread-safe.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "plan/apply.h"
#include "plan/journal.h"
#include "plan/paths.h"
#include "plan/plan.h"
#include "warehouse/warehouse.h"

namespace backfill {

struct Deadline {
  Timestamp at;
  std::string what;
  bool passed = false;  // at or before the preview's clock
};

// Time-travel windows the plan relies on and the source partitions that will expire, soonest
// first (`passed` left false).
Result<std::vector<Deadline>> Deadlines(Warehouse& w, const Plan& plan);

// Copies a warehouse's configuration and project files (the caller holds its writer lock).
Status CopyWarehouse(const std::filesystem::path& from, const std::filesystem::path& to);

struct StepPreview {
  std::string outcome =
      "not reached";  // "ok", "would refuse: ...", "would fail: ...", "done", "not reached"
  PlanJson result;    // the step's JSON result in the rehearsal
  std::vector<AuditEntry> writes;  // what it wrote, as audited
  std::vector<std::string> protected_written;
};

struct TablePreview {
  std::string table;
  bool dropped_after = false;
  std::map<std::string, std::pair<int64_t, int64_t>>
      days;  // day ("" = unpartitioned) -> rows now, after
};

struct PlanPreview {
  std::vector<std::string>
      protected_targets;             // the protected datasets it may write (approval needed)
  std::string approved_by;           // who approved this exact content; empty when nobody
  bool resumes = false;              // a journal of this version: steps done are not run again
  std::vector<StepPreview> steps;    // one per plan step
  std::vector<TablePreview> tables;  // the tables the rehearsal changed, sorted
  std::vector<Deadline> deadlines;
  Status rehearsal;  // ok when every step ran; else why the plan would stop
};

// How the preview runs a step on the rehearsal's warehouse; `paths` redirects its outputs.
using StepRunnerFactory = std::function<StepRunner(Warehouse& rehearsal, PathMap& paths)>;

struct PreviewOptions {
  std::filesystem::path plan_dir;  // the plan file's folder: relative paths start there
  std::string principal;           // who rehearses (the warehouse's access rules apply)
  const Clock* clock = nullptr;    // required
  std::string command;             // recorded with the rehearsal's lock
  StepRunnerFactory runner;        // required
  // Called once the copy is taken: `live` is not used afterwards, so its lock may be released.
  std::function<void()> release_live;
  std::function<void(size_t index, const PlanStep& step)> step_started;
};

// Rehearses `plan` on a copy of `live` (opened for writing by the caller). Fails only when the
// preview itself cannot be made; a step that would fail is in PlanPreview::rehearsal.
Result<PlanPreview> PreviewPlan(Warehouse& live, const Plan& plan, const PreviewOptions& options);

}  // namespace backfill
