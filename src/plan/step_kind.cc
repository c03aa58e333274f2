#include "plan/step_kind.h"

#include <algorithm>
#include <cstdlib>

namespace backfill {
namespace {

using T = StepOptionSpec::Type;
using M = StepOptionSpec::Meaning;
using W = WriteScopeSpec::Tables;

std::vector<StepKindSpec> MakeKinds() {
  return {
      {StepKind::kStage,
       "stage",
       "copy error-output day folders, verified",
       {{"from", T::kString, true, "error-output folder", M::kPath},
        {"to", T::kString, true, "staging folder", M::kOutput},
        {"dates", T::kString, true, "A..B", M::kDates},
        {"threads", T::kInt, false, "copy threads"}},
       "every copy verified (size, CRC32)",
       {}},
      {StepKind::kMirror,
       "mirror",
       "create the same tables in a backfill project",
       {{"from_project", T::kString, true, "", M::kProject},
        {"to_project", T::kString, true, "", M::kProject},
        {"only", T::kList, false, "dataset.table globs"},
        {"exclude", T::kList, false, "dataset.table globs"}},
       "existing tables left alone",
       {"", "to_project", W::kOnlyExclude}},
      {StepKind::kSink,
       "sink",
       "decode PubsubMessage files into a project's live tables",
       {{"input", T::kList, true, "files, folders or globs", M::kPath},
        {"project", T::kString, true, "", M::kProject},
        {"error_output", T::kString, false, "where record errors go", M::kOutput},
        {"error_type", T::kList, false, "only these"},
        {"exclude_error_message", T::kString, false, "regex"},
        {"where", T::kList, false, "ATTR=VALUE or ATTR~REGEX"},
        {"where_not", T::kList, false, "ATTR=VALUE or ATTR~REGEX"},
        {"reload", T::kBool, false, ""},
        {"threads", T::kInt, false, ""}},
       "read = written + errored + skipped",
       {"", "project", W::kLive},
       "",
       /*append_only=*/true},
      {StepKind::kAppend,
       "append",
       "append rows not yet present, by (document_id, day)",
       {{"from_project", T::kString, true, "", M::kProject},
        {"to_project", T::kString, true, "", M::kProject},
        {"dates", T::kString, true, "A..B", M::kDates},
        {"only", T::kList, false, ""},
        {"exclude", T::kList, false, ""}},
       "schemas match; (document_id, day) not already present",
       {"", "to_project", W::kOnlyExclude},
       "to_project"},
      {StepKind::kCopyDeduplicate,
       "copy-deduplicate",
       "rebuild stable days from live days, one row per document_id",
       {{"project", T::kString, true, "", M::kProject},
        {"dates", T::kString, true, "A..B", M::kDates},
        {"only", T::kList, false, ""},
        {"exclude", T::kList, false, ""},
        {"parallelism", T::kInt, false, ""},
        {"allow_empty", T::kBool, false, ""},
        {"preceding_days", T::kInt, false,
         "documents first seen in the N days before are not copied"},
        {"slices", T::kInt, false, "BigQuery: build each day in N time slices"},
        {"hourly", T::kBool, false, "BigQuery: slices = 24"}},
       "live partition not empty",
       {"", "project", W::kStableTwins},
       "project"},
      {StepKind::kRerun,
       "rerun",
       "re-run a derived table's query for a date range",
       {{"table", T::kString, true, "", M::kTable},
        {"dates", T::kString, true, "A..B", M::kDates},
        {"parallelism", T::kInt, false, ""},
        {"allow_data_loss", T::kBool, false, ""}},
       "sources present and unexpired, or nothing to lose",
       {"table", "", W::kOnlyExclude}},
      {StepKind::kSnapshot,
       "snapshot",
       "copy a table as of a time into a restricted dataset",
       {{"table", T::kString, true, "", M::kTable},
        {"as_of", T::kString, true, "absolute timestamp", M::kTimestamp},
        {"to", T::kString, true, "", M::kTable}},
       "inside the time-travel window; target at least as restricted",
       {"to", "", W::kOnlyExclude}},
      {StepKind::kRestore,
       "restore",
       "insert the partitions missing from a table, from a snapshot",
       {{"snapshot", T::kString, true, "", M::kTable},
        {"to", T::kString, true, "", M::kTable},
        {"dates", T::kString, false, "A..B", M::kDates},
        {"replace_partial", T::kBool, false, ""}},
       "missing partitions only; protected target needs approval",
       {"to", "", W::kOnlyExclude}},
      // The verdict is stored on the snapshot (`expected`), which is what it writes.
      {StepKind::kValidate,
       "validate",
       "compare two tables partition by partition",
       {{"expected", T::kString, true, "", M::kTable},
        {"actual", T::kString, true, "", M::kTable},
        {"dates", T::kString, false, "A..B", M::kDates}},
       "rows and checksums per partition",
       {"expected", "", W::kOnlyExclude}},
      {StepKind::kDrop,
       "drop",
       "drop a table (a snapshot only once validated)",
       {{"table", T::kString, true, "", M::kTable}, {"force", T::kBool, false, ""}},
       "a snapshot only once validated",
       {"table", "", W::kOnlyExclude}},
      {StepKind::kCleanup,
       "cleanup",
       "remove what a replay left behind",
       {{"project", T::kString, true, "", M::kProject},
        {"staged", T::kString, false, "staging folder", M::kOutput}},
       "no protected dataset in the project",
       {"", "project", W::kOnlyExclude}},
  };
}

}  // namespace

const StepOptionSpec* StepKindSpec::Option(std::string_view option) const {
  auto it = std::find_if(options.begin(), options.end(),
                         [&](const StepOptionSpec& o) { return o.name == option; });
  return it == options.end() ? nullptr : &*it;
}

const std::vector<StepKindSpec>& StepKinds() {
  static const std::vector<StepKindSpec> kinds = [] {
    std::vector<StepKindSpec> k = MakeKinds();
    // SpecOf indexes by the enum: the table must list every kind once, in enum order.
    for (size_t i = 0; i < k.size(); ++i) {
      if (static_cast<size_t>(k[i].kind) != i) std::abort();
    }
    if (k.size() != static_cast<size_t>(StepKind::kCleanup) + 1) std::abort();
    return k;
  }();
  return kinds;
}

const StepKindSpec& SpecOf(StepKind kind) { return StepKinds()[static_cast<size_t>(kind)]; }

std::string_view StepKindName(StepKind kind) { return SpecOf(kind).name; }

std::optional<StepKind> ParseStepKind(std::string_view name) {
  for (const auto& k : StepKinds()) {
    if (k.name == name) return k.kind;
  }
  return std::nullopt;
}

}  // namespace backfill
