// The stage step: verified copies of error-output day folders, resumable, on real files.
#include <gtest/gtest.h>

#include "recover/replay.h"
#include "recover/replay_testing.h"

namespace backfill {
namespace {

using namespace replay_testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// --- stage ----------------------------------------------------------------------------------

class StageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(src_ / "error/2020-03-16/01/output-0.ndjson.gz", "day 16 hour 1");
    testing::WriteFile(src_ / "error/2020-03-16/02/output-0.ndjson.gz", std::string(200000, 'x'));
    testing::WriteFile(src_ / "error/2020-03-17/00/output-1.ndjson.gz", "day 17");
    testing::WriteFile(src_ / "error/2020-03-19/00/output-1.ndjson.gz", "not selected");
  }
  StageOptions Options(const fs::path& from) {
    StageOptions o;
    o.from = from;
    o.to = dir_.path() / "staged";
    o.dates = {D("2020-03-16"), D("2020-03-18")};
    o.threads = 3;
    return o;
  }
  testing::TempDir dir_;
  fs::path src_ = dir_.path() / "sink";
};

TEST_F(StageTest, CopiesVerifiedSkipsIdenticalOnTheSecondRunAndReportsAMissingDay) {
  StageOptions o = Options(src_);
  o.preview = true;
  auto preview = Stage(o);
  ASSERT_TRUE(preview.ok()) << preview.status().ToString();
  EXPECT_EQ(preview->Copied(), 3);
  EXPECT_FALSE(fs::exists(o.to));

  o.preview = false;
  auto first = Stage(o);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->source_root, src_ / "error");
  ASSERT_EQ(first->days.size(), 3u);
  EXPECT_EQ(first->days[0].copied, 2);
  EXPECT_EQ(first->days[0].bytes_copied, 200000 + 13);
  EXPECT_EQ(first->days[1].copied, 1);
  EXPECT_TRUE(first->days[2].missing);
  EXPECT_EQ(first->MissingDays(), 1);
  EXPECT_EQ(testing::ReadFile(o.to / "2020-03-16/02/output-0.ndjson.gz"), std::string(200000, 'x'));
  EXPECT_EQ(*DigestFile(o.to / "2020-03-17/00/output-1.ndjson.gz"),
            *DigestFile(src_ / "error/2020-03-17/00/output-1.ndjson.gz"));
  EXPECT_FALSE(fs::exists(o.to / "2020-03-19"));
  for (const auto& e : fs::recursive_directory_iterator(o.to)) {
    EXPECT_EQ(e.path().string().find(".bf-partial"), std::string::npos) << e.path();
  }

  // Second run (from the error/ folder itself this time): everything identical, nothing copied.
  auto second = Stage(Options(src_ / "error"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->Copied(), 0);
  EXPECT_EQ(second->Skipped(), 3);

  // A damaged copy (same size, other bytes) is detected by its checksum and replaced.
  testing::WriteFile(o.to / "2020-03-17/00/output-1.ndjson.gz", "day 1X");
  auto third = Stage(o);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->days[1].copied, 1);
  EXPECT_EQ(third->days[1].replaced, 1);
  EXPECT_EQ(testing::ReadFile(o.to / "2020-03-17/00/output-1.ndjson.gz"), "day 17");
}

TEST_F(StageTest, NoDayAtAllIsAnError) {
  StageOptions o = Options(src_);
  o.dates = {D("2020-04-01"), D("2020-04-02")};
  auto r = Stage(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("no day folder of 2020-04-01..2020-04-02"), std::string::npos)
      << r.status().message();
  o.threads = 0;
  EXPECT_EQ(Stage(o).status().code(), StatusCode::kInvalidArgument);
}

// --- cleanup --------------------------------------------------------------------------------

}  // namespace
}  // namespace backfill
