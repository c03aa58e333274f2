#include "ingest/message_filter.h"

#include <gtest/gtest.h>

namespace backfill::ingest {
namespace {

PubsubMessage Message(std::vector<std::pair<std::string, std::string>> attributes) {
  PubsubMessage m;
  m.attributes = std::move(attributes);
  return m;
}

TEST(MessageFilterTest, NoConditionsSkipNothing) {
  auto f = MessageFilter::Compile({}, std::nullopt, {}, {});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  std::vector<int64_t> matches;
  EXPECT_FALSE(f->Skips(Message({}), &matches));
  EXPECT_EQ(f->size(), 0u);
}

TEST(MessageFilterTest, ValuesOfOneAttributeAreAlternativesAndEveryAttributeMustMatch) {
  auto f = MessageFilter::Compile({"SinkError", "Transform"}, std::nullopt,
                                  {"document_namespace~^tele"}, {});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->size(), 3u);
  EXPECT_EQ(f->text(0), "--error-type SinkError");
  EXPECT_EQ(f->text(2), "--where document_namespace~^tele");
  std::vector<int64_t> matches;
  EXPECT_FALSE(f->Skips(Message({{"error_type", "Transform"}, {"document_namespace", "telemetry"}}),
                        &matches));
  EXPECT_TRUE(
      f->Skips(Message({{"error_type", "Transform"}, {"document_namespace", "glean"}}), &matches));
  EXPECT_TRUE(
      f->Skips(Message({{"document_namespace", "telemetry"}}), &matches));  // missing: no match
  EXPECT_EQ(matches, (std::vector<int64_t>{0, 2, 2}));
}

TEST(MessageFilterTest, ExcludingConditionsSkipWhenAnyHolds) {
  auto f =
      MessageFilter::Compile({}, std::string("rate limit"), {}, {"document_type=deletion-request"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  std::vector<int64_t> matches;
  EXPECT_TRUE(f->Skips(Message({{"error_message", "hit the rate limit"}}), &matches));
  EXPECT_TRUE(f->Skips(Message({{"document_type", "deletion-request"}}), &matches));
  EXPECT_FALSE(
      f->Skips(Message({{"document_type", "main"}, {"error_message", "bad json"}}), &matches));
  EXPECT_EQ(matches, (std::vector<int64_t>{1, 1}));
}

TEST(MessageFilterTest, MalformedConditionsAreUsageErrors) {
  auto no_op = MessageFilter::Compile({}, std::nullopt, {"document_type"}, {});
  EXPECT_EQ(no_op.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(no_op.status().message(), "--where 'document_type': expected ATTR=VALUE or ATTR~REGEX");
  auto bad_re = MessageFilter::Compile({}, std::nullopt, {}, {"a~("});
  EXPECT_EQ(bad_re.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_re.status().message().find("--where-not 'a~(': invalid regular expression"),
            std::string::npos);
  EXPECT_EQ(MessageFilter::Compile({}, std::string("("), {}, {}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace backfill::ingest
