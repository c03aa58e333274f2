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

// Gzip files are read whole up to a size and as a stream above it: tests read each gzip file
// both ways, which must agree line for line and problem for problem.
constexpr size_t kWhole = InputFile::kWholeGzipLimit;
constexpr size_t kStream = 0;

ReadAll Read(const fs::path& path, size_t whole_gzip_limit = kWhole) {
  ReadAll out;
  RetryPolicy retry;
  InputFile in(path, retry);
  in.set_whole_gzip_limit(whole_gzip_limit);
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
  for (size_t limit : {kWhole, kStream}) {
    ReadAll r = Read(dir / "in.ndjson.gz", limit);
    EXPECT_EQ(r.lines, (std::vector<std::string>{"a", "b", "c"})) << limit;
    EXPECT_EQ(r.problem, "") << limit;
  }
}

TEST(InputFileTest, AMemberLargerThanItsSizeGuessIsReadWhole) {
  // The guess for the first member is the last member's size (4 bytes here).
  testing::TempDir dir;
  std::string big;
  for (int i = 0; i < 50000; ++i) big += "record " + std::to_string(i) + "\n";
  testing::WriteFile(dir / "in.ndjson.gz", testing::Gzip(big) + testing::Gzip("end\n"));
  ReadAll r = Read(dir / "in.ndjson.gz");
  ASSERT_EQ(r.lines.size(), 50001u);
  EXPECT_EQ(r.lines[49999], "record 49999");
  EXPECT_EQ(r.lines[50000], "end");
  EXPECT_EQ(r.problem, "");
}

TEST(InputFileTest, ATruncatedGzipFileEndsWithAProblemAndKeepsTheCompleteLines) {
  testing::TempDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + "\n";
  std::string gz = testing::Gzip(text);
  testing::WriteFile(dir / "in.ndjson.gz",
                     testing::Gzip("line -1\n") + gz.substr(0, gz.size() / 2));
  ReadAll whole = Read(dir / "in.ndjson.gz", kWhole);
  ReadAll stream = Read(dir / "in.ndjson.gz", kStream);
  for (const ReadAll* r : {&whole, &stream}) {
    EXPECT_EQ(r->problem, "truncated gzip file: it ends inside a gzip member (after " +
                              std::to_string(fs::file_size(dir / "in.ndjson.gz")) +
                              " compressed bytes)");
    ASSERT_GT(r->lines.size(), 100u);
    ASSERT_LT(r->lines.size(), 20001u);
    for (size_t i = 0; i < r->lines.size(); ++i)
      ASSERT_EQ(r->lines[i], "line " + std::to_string(int(i) - 1));
  }
  EXPECT_EQ(whole.lines, stream.lines);
  EXPECT_EQ(whole.tail_bytes, stream.tail_bytes);
}

TEST(InputFileTest, GarbageAfterAGzipMemberIsCorruptData) {
  testing::TempDir dir;
  testing::WriteFile(dir / "in.ndjson.gz", testing::Gzip("a\n") + "garbage after the member");
  for (size_t limit : {kWhole, kStream}) {
    ReadAll r = Read(dir / "in.ndjson.gz", limit);
    EXPECT_EQ(r.lines, (std::vector<std::string>{"a"})) << limit;
    // zlib reads the two bytes a gzip header would start with before it refuses them.
    EXPECT_EQ(r.problem, "corrupt gzip data at compressed byte " +
                             std::to_string(testing::Gzip("a\n").size() + 2) +
                             ": incorrect header check")
        << limit;
  }
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
