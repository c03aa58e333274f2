// The commands a plan step runs (plan/step_kind.h), with typed options. The command line fills
// these from its flags; a plan step fills them from its options (plan_steps.cc). Both call the
// same RunCommand, so a plan never goes through flag parsing again and renaming a flag cannot
// change what a plan does. Strings hold what the user wrote (dates, table names): RunCommand
// checks them the same way for both callers.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "cli/cli.h"
#include "recover/replay.h"

namespace backfill::cli {

struct StageArgs {
  std::string from, to, dates;
  int threads = 4;
  bool operator==(const StageArgs&) const = default;
};

struct MirrorArgs {
  std::string from, to;
  TableFilter filter;
  bool operator==(const MirrorArgs&) const = default;
};

struct SinkArgs {
  std::vector<std::string> inputs;
  std::string project, error_output, exclude, run_id;
  std::vector<std::string> error_types, where, where_not;
  bool reload = false;
  int threads = 1;
  bool operator==(const SinkArgs&) const = default;
};

struct AppendArgs {
  std::string from, to, dates;
  TableFilter filter;
  bool operator==(const AppendArgs&) const = default;
};

struct CopyDedupArgs {
  std::string project;
  std::vector<std::string> dates;
  TableFilter filter;
  int parallelism = 0, preceding_days = 0, slices = 1;
  bool preview = false, allow_empty = false, hourly = false;
  bool operator==(const CopyDedupArgs&) const = default;
};

struct RerunArgs {
  std::string table, dates;
  bool preview = false, allow_data_loss = false;
  int parallelism = 0;
  bool operator==(const RerunArgs&) const = default;
};

struct SnapshotArgs {
  std::string source, as_of, target;
  bool preview = false;
  bool operator==(const SnapshotArgs&) const = default;
};

struct RestoreArgs {
  std::string snapshot, target, dates;
  bool replace_partial = false, preview = false;
  bool operator==(const RestoreArgs&) const = default;
};

struct ValidateArgs {
  std::string expected, actual, dates;
  bool expected_days = false;
  bool operator==(const ValidateArgs&) const = default;
};

struct DropArgs {
  std::string table;
  bool force = false;
  bool operator==(const DropArgs&) const = default;
};

struct CleanupArgs {
  std::string project, staged;
  bool preview = false;
  bool operator==(const CleanupArgs&) const = default;
};

// One alternative per StepKind, in StepKind order (plan_steps_test checks it).
using StepCommand =
    std::variant<StageArgs, MirrorArgs, SinkArgs, AppendArgs, CopyDedupArgs, RerunArgs,
                 SnapshotArgs, RestoreArgs, ValidateArgs, DropArgs, CleanupArgs>;

// The body of each command: checks the options, runs it on ctx's warehouse and prints (or, for
// a plan step, captures) its result. replay_commands.cc, sink_commands.cc, rescue_commands.cc,
// warehouse_commands.cc.
Status RunCommand(Context& ctx, const StageArgs& a);
Status RunCommand(Context& ctx, const MirrorArgs& a);
Status RunCommand(Context& ctx, const SinkArgs& a);
Status RunCommand(Context& ctx, const AppendArgs& a);
Status RunCommand(Context& ctx, const CopyDedupArgs& a);
Status RunCommand(Context& ctx, const RerunArgs& a);
Status RunCommand(Context& ctx, const SnapshotArgs& a);
Status RunCommand(Context& ctx, const RestoreArgs& a);
Status RunCommand(Context& ctx, const ValidateArgs& a);
Status RunCommand(Context& ctx, const DropArgs& a);
Status RunCommand(Context& ctx, const CleanupArgs& a);

}  // namespace backfill::cli
