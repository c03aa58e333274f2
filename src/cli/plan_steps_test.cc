#include "cli/plan_steps.h"

#include <cstdint>

#include <gtest/gtest.h>

namespace backfill::cli {
namespace {

// A value of each option type, and a different one.
StepValue First(StepOptionSpec::Type t) {
  using T = StepOptionSpec::Type;
  switch (t) {
    case T::kString:
      return std::string("a1");
    case T::kInt:
      return int64_t{2};
    case T::kBool:
      return false;
    case T::kList:
      return std::vector<std::string>{"a1"};
  }
  return false;
}

StepValue Second(StepOptionSpec::Type t) {
  using T = StepOptionSpec::Type;
  switch (t) {
    case T::kString:
      return std::string("b2");
    case T::kInt:
      return int64_t{7};  // no command defaults to 7
    case T::kBool:
      return true;
    case T::kList:
      return std::vector<std::string>{"a1", "b2"};
  }
  return true;
}

// A one-step plan of `kind` with every required option set.
Plan OneStep(StepKind kind) {
  Plan plan;
  plan.content_hash = "0123456789abcdef0123";
  PlanStep step;
  step.kind = kind;
  step.line = 5;
  for (const auto& o : SpecOf(kind).options) {
    if (o.required) step.options[std::string(o.name)] = First(o.type);
  }
  plan.steps.push_back(step);
  return plan;
}

PathMap PlanFolder() {
  PathMap paths;
  paths.base = "/plans";
  return paths;
}

StepCommand CommandOf(const Plan& plan, size_t index = 0) {
  auto command = StepCommandOf(plan, index, PlanFolder());
  EXPECT_TRUE(command.ok()) << command.status().message();
  return command.ok() ? *command : StepCommand();
}

TEST(PlanStepsTest, EachKindRunsItsOwnCommand) {
  ASSERT_EQ(std::variant_size_v<StepCommand>, StepKinds().size());
  for (const auto& k : StepKinds()) {
    EXPECT_EQ(CommandOf(OneStep(k.kind)).index(), static_cast<size_t>(k.kind)) << k.name;
  }
}

// Every option a plan accepts reaches the command: a plan option whose name changed in
// step_kind.cc but not here, or one read into the wrong field, leaves the command unchanged.
TEST(PlanStepsTest, EveryOptionOfEveryKindChangesTheCommand) {
  int checked = 0;
  for (const auto& k : StepKinds()) {
    const Plan base = OneStep(k.kind);
    const StepCommand before = CommandOf(base);
    for (const auto& o : k.options) {
      Plan changed = base;
      changed.steps[0].options[std::string(o.name)] = Second(o.type);
      EXPECT_TRUE(CommandOf(changed) != before) << k.name << "." << o.name;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 49);  // the options of the 11 kinds
}

TEST(PlanStepsTest, PathsAreRelativeToThePlanFolder) {
  Plan plan = OneStep(StepKind::kSink);
  plan.steps[0].options["input"] = std::vector<std::string>{"staged/2020-03-16", "/abs/x.gz"};
  plan.steps[0].options["error_output"] = std::string("replay-errors");
  const SinkArgs sink = std::get<SinkArgs>(CommandOf(plan));
  EXPECT_EQ(sink.inputs, (std::vector<std::string>{"/plans/staged/2020-03-16", "/abs/x.gz"}));
  EXPECT_EQ(sink.error_output, "/plans/replay-errors");
  EXPECT_EQ(sink.run_id, "plan-0123456789ab-step1");

  const CleanupArgs cleanup = std::get<CleanupArgs>(CommandOf(OneStep(StepKind::kCleanup)));
  EXPECT_EQ(cleanup.staged, "");  // no folder given: none, not the plan's folder
}

TEST(PlanStepsTest, ValidateAfterRestoreComparesTheRestoredDays) {
  Plan plan = OneStep(StepKind::kRestore);
  plan.steps[0].options = {{"snapshot", std::string("p.d.snap")}, {"to", std::string("p.d.t")}};
  PlanStep validate;
  validate.kind = StepKind::kValidate;
  validate.options = {{"expected", std::string("p.d.snap")}, {"actual", std::string("p.d.t")}};
  plan.steps.push_back(validate);
  EXPECT_EQ(std::get<ValidateArgs>(CommandOf(plan, 1)),
            (ValidateArgs{"p.d.snap", "p.d.t", "", /*expected_days=*/true}));

  plan.steps[0].options["dates"] = std::string("2020-03-01..2020-03-05");
  EXPECT_EQ(std::get<ValidateArgs>(CommandOf(plan, 1)),
            (ValidateArgs{"p.d.snap", "p.d.t", "2020-03-01..2020-03-05", false}));
}

TEST(PlanStepsTest, AnIntegerOutOfRangeIsRefusedNamingTheStep) {
  Plan plan = OneStep(StepKind::kStage);
  plan.steps[0].options["threads"] = int64_t{1} << 40;
  auto command = StepCommandOf(plan, 0, PlanFolder());
  ASSERT_FALSE(command.ok());
  EXPECT_EQ(command.status().message(),
            "step 1 (stage, line 5): `threads = 1099511627776` is out of range");
}

}  // namespace
}  // namespace backfill::cli
