#include "plan/step_kind.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace backfill {
namespace {

TEST(StepKindTest, EveryKindIsListedOnceInEnumOrderAndItsNameRoundTrips) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < StepKinds().size(); ++i) {
    const StepKindSpec& k = StepKinds()[i];
    EXPECT_EQ(static_cast<size_t>(k.kind), i);
    EXPECT_TRUE(names.insert(k.name).second) << k.name;
    EXPECT_EQ(ParseStepKind(k.name), k.kind);
    EXPECT_EQ(fmt::format("{}", k.kind), k.name);
    EXPECT_FALSE(k.checks.empty()) << k.name;
    if (!k.writes.table.empty()) {
      EXPECT_NE(k.Option(k.writes.table), nullptr) << k.name;
    }
    if (!k.writes.project.empty()) {
      EXPECT_NE(k.Option(k.writes.project), nullptr) << k.name;
    }
  }
  EXPECT_EQ(ParseStepKind("frobnicate"), std::nullopt);
}

TEST(StepKindTest, PathsAreTheFoldersAndFilesAStepReadsOrWrites) {
  std::set<std::string> paths, outputs;
  for (const auto& k : StepKinds()) {
    for (const auto& o : k.options) {
      if (o.IsPath()) paths.insert(fmt::format("{}.{}", k.name, o.name));
      if (o.meaning == StepOptionSpec::Meaning::kOutput)
        outputs.insert(fmt::format("{}.{}", k.name, o.name));
    }
  }
  EXPECT_EQ(paths, (std::set<std::string>{"cleanup.staged", "sink.error_output", "sink.input",
                                          "stage.from", "stage.to"}));
  EXPECT_EQ(outputs, (std::set<std::string>{"cleanup.staged", "sink.error_output", "stage.to"}));
}

}  // namespace
}  // namespace backfill
