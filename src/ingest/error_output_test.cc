#include "ingest/error_output.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace backfill::ingest {
namespace {

namespace fs = std::filesystem;

PubsubMessage At(const std::string& timestamp) {
  PubsubMessage m;
  m.attributes = {{"submission_timestamp", timestamp}};
  m.payload = "{}";
  return m;
}

TEST(ErrorOutputWriterTest, OneFilePerHourNamedByRunAndRenamedOnFinish) {
  testing::TempDir dir;
  ErrorOutputWriter out(dir / "errors/", "r1");
  ASSERT_TRUE(out.Write(At("2020-03-16T01:02:03Z"), "one").ok());
  ASSERT_TRUE(out.Write(At("2020-03-16T01:59:59Z"), "two").ok());
  ASSERT_TRUE(out.Write(At("2020-03-16T02:00:00Z"), "three").ok());
  EXPECT_EQ(out.lines(), 3);
  const fs::path hour1 = dir.path() / "errors/error/2020-03-16/01";
  EXPECT_TRUE(fs::exists(hour1 / ".sink-r1.ndjson.gz.partial"));
  std::vector<std::string> written;
  ASSERT_TRUE(out.Finish(&written).ok());
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0], (hour1 / "sink-r1.ndjson.gz").string());
  EXPECT_EQ(testing::GunzipFile(hour1 / "sink-r1.ndjson.gz"), "one\ntwo\n");
  EXPECT_FALSE(fs::exists(hour1 / ".sink-r1.ndjson.gz.partial"));
  // A second run with the same id does not overwrite the first one's file.
  ErrorOutputWriter again(dir / "errors", "r1");
  ASSERT_TRUE(again.Write(At("2020-03-16T01:00:00Z"), "four").ok());
  written.clear();
  ASSERT_TRUE(again.Finish(&written).ok());
  EXPECT_EQ(written, std::vector<std::string>{(hour1 / "sink-r1-2.ndjson.gz").string()});
}

TEST(ErrorOutputWriterTest, AnAbortedRunLeavesNoFiles) {
  testing::TempDir dir;
  {
    ErrorOutputWriter out(dir / "errors", "r1");
    ASSERT_TRUE(out.Write(At("2020-03-16T01:02:03Z"), "one").ok());
    ASSERT_TRUE(out.Write(PubsubMessage{}, "no timestamp").ok());
  }  // destroyed without Finish
  for (const auto& e : fs::recursive_directory_iterator(dir.path())) {
    EXPECT_FALSE(e.is_regular_file()) << e.path();
  }
}

TEST(ErrorOutputWriterTest, ErrorAttributesAreTheReferenceOnes) {
  for (const char* k : {"error_type", "error_message", "exception_class", "stack_trace",
                        "stack_trace_cause_1", "stack_trace_cause_5"}) {
    EXPECT_TRUE(IsErrorAttribute(k)) << k;
  }
  for (const char* k : {"stack_trace_cause_6", "stack_trace_cause_", "document_id", "error"}) {
    EXPECT_FALSE(IsErrorAttribute(k)) << k;
  }
}

}  // namespace
}  // namespace backfill::ingest
