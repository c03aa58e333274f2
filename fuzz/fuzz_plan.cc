// Fuzzes plan files (plan/plan.h, TOML). Properties: nothing crashes and nothing throws; an
// error names the file; a plan that parses has a name, a reason, an author and at least one
// step, each of a known kind with every required option.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "plan/plan.h"

using namespace backfill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto plan = ParsePlan(text, "fuzz.toml");
  if (!plan.ok()) {
    FUZZ_CHECK(plan.status().code() == StatusCode::kInvalidArgument, plan.status().ToString());
    FUZZ_CHECK(plan.status().message().starts_with("fuzz.toml"), plan.status().message());
    return 0;
  }
  FUZZ_CHECK(!plan->name.empty() && !plan->reason.empty() && !plan->author.empty(), "header");
  FUZZ_CHECK(!plan->steps.empty(), "a plan without steps parsed");
  FUZZ_CHECK(!plan->content_hash.empty(), "no content hash");
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    const PlanStep& step = plan->steps[i];
    FUZZ_CHECK(ParseStepKind(StepKindName(step.kind)) == step.kind, step.Label(i));
    for (const auto& o : step.Spec().options) {
      FUZZ_CHECK(!o.required || step.options.count(std::string(o.name)), step.Label(i));
    }
  }
  return 0;
}
