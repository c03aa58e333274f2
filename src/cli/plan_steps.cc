#include "cli/plan_steps.h"

#include <limits>

#include <fmt/format.h>

namespace backfill::cli {
namespace {

// Reads one step's options by their names in the plan file (step_kind.cc), each read once.
class StepOptions {
 public:
  StepOptions(const Plan& plan, size_t index, const PathMap& paths)
      : step_(plan.steps[index]), index_(index), paths_(paths) {}

  std::string Text(const char* key) const { return step_.String(key); }
  std::vector<std::string> List(const char* key) const { return step_.List(key); }
  bool Flag(const char* key) const { return step_.Flag(key); }
  // A file or folder: relative to the plan file's folder; empty when the step has none.
  std::string Path(const char* key) const {
    std::string v = step_.String(key);
    return v.empty() ? v : paths_.Resolve(v).string();
  }
  std::vector<std::string> Paths(const char* key) const {
    std::vector<std::string> out;
    for (const auto& v : step_.List(key)) out.push_back(paths_.Resolve(v).string());
    return out;
  }
  TableFilter Filter() const { return TableFilter{List("only"), List("exclude")}; }
  // `fallback` when absent: the command's own default.
  Result<int> Int(const char* key, int fallback) const {
    int64_t v = step_.Int(key, fallback);
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
      return InvalidArgument(
          fmt::format("{}: `{} = {}` is out of range", step_.Label(index_), key, v));
    }
    return static_cast<int>(v);
  }

 private:
  const PlanStep& step_;
  size_t index_;
  const PathMap& paths_;
};

}  // namespace

std::string SinkRunId(const Plan& plan, size_t index) {
  return fmt::format("plan-{}-step{}", plan.content_hash.substr(0, 12), index + 1);
}

Result<StepCommand> StepCommandOf(const Plan& plan, size_t index, const PathMap& paths) {
  const StepOptions o(plan, index, paths);
  switch (plan.steps[index].kind) {
    case StepKind::kStage: {
      StageArgs a{o.Path("from"), o.Path("to"), o.Text("dates")};
      BF_ASSIGN_OR_RETURN(a.threads, o.Int("threads", a.threads));
      return StepCommand(a);
    }
    case StepKind::kMirror:
      return StepCommand(MirrorArgs{o.Text("from_project"), o.Text("to_project"), o.Filter()});
    case StepKind::kSink: {
      SinkArgs a;
      a.inputs = o.Paths("input");
      a.project = o.Text("project");
      a.error_output = o.Path("error_output");
      a.exclude = o.Text("exclude_error_message");
      a.run_id = SinkRunId(plan, index);
      a.error_types = o.List("error_type");
      a.where = o.List("where");
      a.where_not = o.List("where_not");
      a.reload = o.Flag("reload");
      BF_ASSIGN_OR_RETURN(a.threads, o.Int("threads", a.threads));
      return StepCommand(a);
    }
    case StepKind::kAppend:
      return StepCommand(
          AppendArgs{o.Text("from_project"), o.Text("to_project"), o.Text("dates"), o.Filter()});
    case StepKind::kCopyDeduplicate: {
      CopyDedupArgs a;
      a.project = o.Text("project");
      a.dates = {o.Text("dates")};
      a.filter = o.Filter();
      BF_ASSIGN_OR_RETURN(a.parallelism, o.Int("parallelism", a.parallelism));
      BF_ASSIGN_OR_RETURN(a.preceding_days, o.Int("preceding_days", a.preceding_days));
      BF_ASSIGN_OR_RETURN(a.slices, o.Int("slices", a.slices));
      a.allow_empty = o.Flag("allow_empty");
      a.hourly = o.Flag("hourly");
      return StepCommand(a);
    }
    case StepKind::kRerun: {
      RerunArgs a;
      a.table = o.Text("table");
      a.dates = o.Text("dates");
      a.allow_data_loss = o.Flag("allow_data_loss");
      BF_ASSIGN_OR_RETURN(a.parallelism, o.Int("parallelism", a.parallelism));
      return StepCommand(a);
    }
    case StepKind::kSnapshot:
      return StepCommand(SnapshotArgs{o.Text("table"), o.Text("as_of"), o.Text("to")});
    case StepKind::kRestore: {
      RestoreArgs a{o.Text("snapshot"), o.Text("to"), o.Text("dates")};
      a.replace_partial = o.Flag("replace_partial");
      return StepCommand(a);
    }
    case StepKind::kValidate: {
      ValidateArgs a{o.Text("expected"), o.Text("actual"), o.Text("dates")};
      if (auto restored = RestoredDaysOf(plan, index)) {
        a.dates = restored->dates;
        a.expected_days = restored->dates.empty();
      }
      return StepCommand(a);
    }
    case StepKind::kDrop:
      return StepCommand(DropArgs{o.Text("table"), o.Flag("force")});
    case StepKind::kCleanup:
      return StepCommand(CleanupArgs{o.Text("project"), o.Path("staged")});
  }
  return Internal(fmt::format("step {}: unknown kind", index + 1));
}

Status RunStepCommand(Context& ctx, Warehouse& w, std::string_view label,
                      const StepCommand& command, PlanJson* result,
                      const std::function<void(std::string_view)>& progress) {
  Context sub;
  sub.warehouse_dir = ctx.warehouse_dir;
  sub.principal = ctx.principal;
  sub.format_name = "json";
  sub.command_line = std::string(label);
  sub.borrowed = &w;
  sub.captured = result;
  sub.step_progress = progress ? progress : [](std::string_view) {};
  sub.Run([&] { return std::visit([&](const auto& a) { return RunCommand(sub, a); }, command); });
  if (sub.exit_code == kExitOk) return Status::Ok();
  if (!sub.error().ok()) return sub.error();
  return InvalidArgument(fmt::format("{} was rejected (exit {})", label, sub.exit_code));
}

}  // namespace backfill::cli
