// Plan files: a whole recovery as one reviewable object. A TOML file names the recovery, its
// reason and author, and its steps in order; each step is one of the recovery commands with the
// same options as the command (`from-project` on the command line is `from_project` here).
//
//   name = "error-replay-2020-03"
//   reason = "The live sink hit the API rate limit; 3 days of good records went to error output"
//   author = "alice"
//
//   [[step]]
//   kind = "append"
//   from_project = "moz-fx-data-backfill-1"
//   to_project = "moz-fx-data-shared-prod"
//   only = ["*_live.*"]
//   dates = "2020-03-16..2020-03-18"
//
// The step kinds and their options are in plan/step_kind.h. Parsing checks everything that can
// be checked without a warehouse (step kinds, option names and types, required options, date
// ranges) and names the file, line and step in each error. Pure: callers read the file and pass its
// text.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"
#include "plan/step_kind.h"

namespace backfill {

using StepValue = std::variant<std::string, int64_t, bool, std::vector<std::string>>;

struct PlanStep {
  StepKind kind = StepKind::kStage;
  int line = 0;  // where the step starts in the plan file
  std::map<std::string, StepValue> options;

  std::string String(const std::string& key, const std::string& fallback = "") const;
  std::vector<std::string> List(const std::string& key) const;
  bool Flag(const std::string& key) const;
  int64_t Int(const std::string& key, int64_t fallback) const;
  // "step 3 (append, line 21)": how errors and reports name a step.
  std::string Label(size_t index) const;
  const StepKindSpec& Spec() const { return SpecOf(kind); }
};

struct Plan {
  std::string name, reason, author;
  // Optional `billing_project`: where a BigQuery rendering runs (and bills) every job, as
  // bigquery-etl's --billing-project; the data stays in the projects the steps name.
  std::string billing_project;
  std::vector<PlanStep> steps;
  std::string content_hash;  // Sha256HexOfParts({file bytes}): approvals and journals bind to it
};

Result<Plan> ParsePlan(std::string_view toml_text, std::string_view origin);

// A validate step with no `dates` of its own that compares what an earlier restore step restored
// (expected = that step's snapshot, actual = its `to`) compares only the restored days, since the
// daily job keeps adding days to the table after the snapshot time: that restore's `dates`, or,
// when it names none (`dates` empty here), the days the snapshot holds. nullopt: no such restore.
struct RestoredDays {
  std::string dates;  // "A..B", or empty for the snapshot's partitions
};
std::optional<RestoredDays> RestoredDaysOf(const Plan& plan, size_t validate_index);

// Template plan files to fill in: "error-replay" and "time-travel-rescue".
std::vector<std::string> PlanTemplateNames();
Result<std::string> PlanTemplate(std::string_view name);

}  // namespace backfill
