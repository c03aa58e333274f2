// The step kinds of a plan, in one table (like ninja's table of subtools): for each kind, its
// name in plan files and journals, its options (types, which are tables, projects, dates, paths
// relative to the plan file, folders the step writes), what it checks before it writes (the
// preview shows it), what it may write (approvals) and what it reads by day (deadlines). What is
// code rather than data (running it as its command with typed options, cli/plan_steps.cc;
// rendering for BigQuery; redoing an interrupted step) switches on StepKind, so the compiler
// names every place a new kind must be handled.
//
// Pure and immutable; thread-safe.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace backfill {

enum class StepKind {
  kStage,
  kMirror,
  kSink,
  kAppend,
  kCopyDeduplicate,
  kRerun,
  kSnapshot,
  kRestore,
  kValidate,
  kDrop,
  kCleanup,
};

struct StepOptionSpec {
  std::string_view name;  // as written in plan files: `from_project` (the flag is --from-project)
  enum class Type { kString, kInt, kBool, kList } type;
  bool required;
  std::string_view help;
  // What the value means beyond its type: checked when the plan is parsed, and paths are
  // resolved against the plan file's folder (a plan moves with its staging folders).
  enum class Meaning {
    kText,
    kDates,      // "A..B"
    kTimestamp,  // absolute, so a preview and an apply read the same instant
    kTable,      // project.dataset.table
    kProject,
    kPath,    // a file or folder the step reads
    kOutput,  // a folder the step writes or removes: a preview redirects it into its scratch folder
  } meaning = Meaning::kText;

  bool IsPath() const { return meaning == Meaning::kPath || meaning == Meaning::kOutput; }
};

// What a step may write, read from its options without running it (for approvals).
struct WriteScopeSpec {
  std::string_view table;    // option naming the one table it writes; empty when none
  std::string_view project;  // option naming the project whose matching tables it writes
  enum class Tables {
    kOnlyExclude,  // those matching its `only` and `exclude`
    kLive,         // every *_live.* table (the sink routes by document type)
    kStableTwins,  // the *_stable twins of the *_live tables matching `only` and `exclude`
  } tables = Tables::kOnlyExclude;
};

struct StepKindSpec {
  StepKind kind;
  std::string_view name;  // in plan files, journals and JSON output
  std::string_view summary;
  std::vector<StepOptionSpec> options;
  std::string_view checks;  // what it checks before it writes, as the preview shows it
  WriteScopeSpec writes;
  // The project whose dated partitions it reads (their expiry is a deadline); empty when none.
  std::string_view dated_source_project = {};
  // Redone from a clean state by retracting what an interrupted attempt appended (every other
  // kind is idempotent by construction; see plan/apply.h).
  bool append_only = false;

  const StepOptionSpec* Option(std::string_view option) const;
};

// Every kind, in StepKind order.
const std::vector<StepKindSpec>& StepKinds();
const StepKindSpec& SpecOf(StepKind kind);
std::string_view StepKindName(StepKind kind);
std::optional<StepKind> ParseStepKind(std::string_view name);

}  // namespace backfill

// fmt::format("{}", kind) writes the kind's name.
template <>
struct fmt::formatter<backfill::StepKind> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(backfill::StepKind kind, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(backfill::StepKindName(kind), ctx);
  }
};
