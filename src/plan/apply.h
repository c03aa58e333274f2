// Applying a plan: its steps in order, each recorded in the journal (plan/journal.h) before it
// starts and after it ends, so `apply` after a kill continues where the last run stopped.
//
// Resume rules. A finished step is never run again. The interrupted (or failed) step is redone
// from a clean state: a `sink` step only appends, so first every row it appended is retracted
// (Warehouse::RetractWrites after the journal's write marks) and its error-output files
// removed (by the step runner, which knows them); every other step kind is idempotent by
// construction (stage skips verified copies, mirror and snapshot skip what exists, append and
// restore insert only what is missing, copy-deduplicate and rerun replace whole days, validate
// only reads, drop and cleanup accept what is already gone), so redoing it converges on the
// uninterrupted result.
//
// How a step runs is the caller's (the CLI runs the step's own command in-process), so plans
// and commands cannot drift apart. Not thread-safe; I/O through the Warehouse and the journal.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "plan/journal.h"
#include "plan/plan.h"
#include "recover/step.h"
#include "warehouse/warehouse.h"

namespace backfill {

// Every project a plan names (project options and the projects of table names).
std::vector<std::string> PlanProjects(const Plan& plan);

// The protected datasets the plan may write, read from the catalog without running anything:
// the target tables' datasets, and for project-wide steps the datasets whose tables match.
Result<std::vector<std::string>> ProtectedTargets(Warehouse& w, const Plan& plan);

// Rows per day of the readable tables of `projects` (datasets the principal cannot read are
// left out); only `tables` when it is not empty.
Result<RowCounts> CountRows(Warehouse& w, const std::vector<std::string>& projects,
                            const std::set<std::string>& tables = {});

// Last write and audit numbers of each existing project.
struct Marks {
  std::map<std::string, int64_t> write, audit;
};
Result<Marks> TakeMarks(Warehouse& w, const std::vector<std::string>& projects);
// The audit entries of `projects` after the audit marks (a project without a mark: all).
Result<std::vector<AuditEntry>> AuditSince(Warehouse& w, const std::vector<std::string>& projects,
                                           const std::map<std::string, int64_t>& audit_marks);
// "p.d.t" of an audit entry's target ("p.d.t" or "p.d.t$YYYYMMDD"); empty when not a table.
std::string AuditedTable(const AuditEntry& entry);
// The tables changed by these entries (data changes, creations and drops), sorted.
std::set<std::string> ChangedTables(const std::vector<AuditEntry>& entries);

// Runs one step; fills `result` with the command's JSON output. Returns its status. `state`
// tells a redo (attempts > 1) and holds the marks taken before the first attempt.
using StepRunner = std::function<Status(size_t index, const PlanStep& step,
                                        const JournalStep& state, PlanJson* result)>;

struct ApplyEvents {
  std::function<void(size_t index, const PlanStep&step, const JournalStep&state)> step_started,
      step_finished;
  std::function<void(size_t index, const PlanStep& step, const std::string& what)> step_undone;
};

// Applies the steps of `plan` not yet done in `journal` (creating it on first use), saving
// the journal after every change. Stops at the first failing step (journaled "failed") and
// returns its status.
Status ApplyPlan(Warehouse& w, const Plan& plan, Journal& journal, const StepRunner& run,
                 const ApplyEvents& events = {});

}  // namespace backfill
