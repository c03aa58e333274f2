#include "plan/plan.h"

#include <gtest/gtest.h>

namespace backfill {
namespace {

std::string Error(const std::string& text) {
  auto p = ParsePlan(text, "plan.toml");
  EXPECT_FALSE(p.ok());
  return p.ok() ? "" : p.status().message();
}

const char* kHead = "name = \"n\"\nreason = \"r\"\nauthor = \"a\"\n";

TEST(PlanTest, TemplatesParseAndTheirHashFollowsTheContent) {
  for (const auto& name : PlanTemplateNames()) {
    auto text = PlanTemplate(name);
    ASSERT_TRUE(text.ok());
    auto plan = ParsePlan(*text, name + ".toml");
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    EXPECT_GE(plan->steps.size(), 4u);
    auto edited = ParsePlan(*text + "\n# reviewed\n", name + ".toml");
    ASSERT_TRUE(edited.ok());
    EXPECT_NE(plan->content_hash, edited->content_hash);
  }
  auto replay = ParsePlan(*PlanTemplate("error-replay"), "t");
  EXPECT_EQ(replay->steps[3].kind, StepKind::kAppend);
  EXPECT_EQ(replay->steps[3].List("only"), std::vector<std::string>{"*_live.*"});
  EXPECT_EQ(replay->steps[3].String("dates"), "2020-03-16..2020-03-18");
  EXPECT_FALSE(PlanTemplate("nope").ok());
}

TEST(PlanTest, AStepThatDoesNotExistIsNamedWithItsLine) {
  std::string m =
      Error(std::string(kHead) +
            "\n[[step]]\nkind = \"stage\"\nfrom = \"a\"\nto = \"b\"\ndates = \"2020-01-01\"\n"
            "\n[[step]]\nkind = \"frobnicate\"\n");
  EXPECT_NE(m.find("plan.toml:11: step 2 has kind 'frobnicate', which does not exist"),
            std::string::npos)
      << m;
}

TEST(PlanTest, OptionErrorsNameStepLineAndSuggest) {
  std::string base = std::string(kHead) + "[[step]]\nkind = \"append\"\n";
  EXPECT_NE(Error(base + "form_project = \"q\"\n")
                .find("has no option 'form_project' (did you mean 'from_project'?)"),
            std::string::npos);
  EXPECT_NE(Error(base + "from_project = \"q\"\nto_project = \"p\"\n")
                .find("step 1 (append, line 4) needs option 'dates'"),
            std::string::npos);
  EXPECT_NE(Error(base + "from_project = 3\n").find("option 'from_project' must be a string"),
            std::string::npos);
  EXPECT_NE(
      Error(base + "from_project = \"q\"\nto_project = \"p\"\ndates = \"2020-03-18..2020-03-16\"\n")
          .find("ends before it starts"),
      std::string::npos);
  EXPECT_NE(Error(base + "from_project = \"Q!\"\n").find("not a valid project name"),
            std::string::npos);
}

TEST(PlanTest, RelativeTimesAndMissingHeaderAreRefused) {
  EXPECT_NE(
      Error(
          std::string(kHead) +
          "[[step]]\nkind = \"snapshot\"\ntable = \"p.d.t\"\nas_of = \"12h ago\"\nto = \"q.e.u\"\n")
          .find("as_of must be an absolute time"),
      std::string::npos);
  EXPECT_NE(Error("name = \"n\"\n[[step]]\nkind = \"drop\"\ntable = \"p.d.t\"\n")
                .find("needs a non-empty `reason"),
            std::string::npos);
  EXPECT_NE(Error(kHead).find("has no [[step]]"), std::string::npos);
  EXPECT_NE(Error(std::string(kHead) + "steps = 1\n").find("unknown top-level key 'steps'"),
            std::string::npos);
  EXPECT_NE(Error("name = \"unterminated\n").find("plan.toml:1:"), std::string::npos);
}

}  // namespace
}  // namespace backfill
