// Reading input files line by line, plain and gzip, up to any damage; finding the files the
// inputs name. The sink's own tests (sink_test.cc) check how damaged files are reported.
#include "ingest/input_file.h"

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace backfill::ingest {
namespace {

namespace fs = std::filesystem;

struct ReadAll {
  std::vector<std::string> lines;
  std::string problem;
  size_t tail_bytes = 0;
};

ReadAll Read(const fs::path& path) {
  ReadAll out;
  RetryPolicy retry;
  InputFile in(path, retry);
  Status opened = in.Open();
  EXPECT_TRUE(opened.ok()) << opened.ToString();
  if (!opened.ok()) return out;
  std::string_view line;
  for (;;) {
    auto more = in.Next(&line);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    out.lines.emplace_back(line);
  }
  out.problem = in.problem();
  out.tail_bytes = in.tail_bytes();
  return out;
}

TEST(InputFileTest, PlainLinesLoseTheirNewlineAndCarriageReturn) {
  testing::TempDir dir;
  testing::WriteFile(dir / "in.ndjson", "a\r\nb\n\nlast without newline");
  ReadAll r = Read(dir / "in.ndjson");
  EXPECT_EQ(r.lines, (std::vector<std::string>{"a", "b", "", "last without newline"}));
  EXPECT_EQ(r.problem, "");
}

TEST(InputFileTest, GzipFilesOfSeveralMembersAreReadWhole) {
  testing::TempDir dir;
  testing::WriteFile(dir / "in.ndjson.gz", testing::Gzip("a\nb\n") + testing::Gzip("c\n"));
  ReadAll r = Read(dir / "in.ndjson.gz");
  EXPECT_EQ(r.lines, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(r.problem, "");
}

TEST(InputFileTest, ATruncatedGzipFileEndsWithAProblemAndKeepsTheCompleteLines) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + "\n";
  std::string gz = testing::Gzip(text);
  testing::WriteFile(dir / "in.ndjson.gz", gz.substr(0, gz.size() / 2));
  ReadAll r = Read(dir / "in.ndjson.gz");
  EXPECT_NE(r.problem.find("truncated gzip file"), std::string::npos) << r.problem;
  ASSERT_GT(r.lines.size(), 100u);
  ASSERT_LT(r.lines.size(), 20000u);
  for (size_t i = 0; i < r.lines.size(); ++i) ASSERT_EQ(r.lines[i], "line " + std::to_string(i));
}

TEST(InputFileTest, GarbageAfterAGzipMemberIsCorruptData) {
  testing::TempDir dir;
  testing::WriteFile(dir / "in.ndjson.gz", testing::Gzip("a\n") + "garbage after the member");
  ReadAll r = Read(dir / "in.ndjson.gz");
  EXPECT_EQ(r.lines, (std::vector<std::string>{"a"}));
  EXPECT_NE(r.problem.find("corrupt gzip data"), std::string::npos) << r.problem;
}

TEST(InputFileTest, AMissingFileIsAnIoErrorAfterTheRetries) {
  testing::TempDir dir;
  RetryPolicy retry;
  retry.attempts = 2;
  retry.sleep = [](std::chrono::milliseconds) {};
  InputFile in(dir.path() / "absent", retry);
  Status s = in.Open();
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("gave up after 2 attempt(s)"), std::string::npos) << s.message();
}

TEST(ExpandInputsTest, DirectoriesGlobsAndFilesEachOnceWithoutHiddenFiles) {
  testing::TempDir dir;
  testing::WriteFile(dir / "d/b.ndjson", "");
  testing::WriteFile(dir / "d/sub/a.ndjson", "");
  testing::WriteFile(dir / "d/.partial/x.ndjson", "");
  testing::WriteFile(dir / "d/.hidden.ndjson", "");
  testing::WriteFile(dir / "g1.gz", "");
  testing::WriteFile(dir / "g2.gz", "");
  auto r = ExpandInputs({dir / "d", dir / "g*.gz", dir / "d/b.ndjson"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (std::vector<fs::path>{dir / "d/b.ndjson", dir / "d/sub/a.ndjson", dir / "g1.gz",
                                       dir / "g2.gz"}));
  EXPECT_EQ(ExpandInputs({dir / "nothing-*.gz"}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ExpandInputs({dir / "absent"}).status().code(), StatusCode::kNotFound);
}

TEST(HashFileTest, Sha256AndSize) {
  testing::TempDir dir;
  testing::WriteFile(dir / "abc", "abc");
  std::string hex;
  int64_t size = -1;
  ASSERT_TRUE(HashFile(dir / "abc", &hex, &size).ok());
  EXPECT_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(size, 3);
}

}  // namespace
}  // namespace backfill::ingest
