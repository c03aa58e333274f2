#include "testing/testing.h"

#include <zlib.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace backfill::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  for (;;) {
    path_ = fs::temp_directory_path() / ("backfill-test-" + std::to_string(rd()));
    if (fs::create_directory(path_)) break;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path CorpusDir() {
  if (const char* env = std::getenv("BACKFILL_CORPUS"); env && fs::exists(env)) return env;
  fs::path p = BACKFILL_CORPUS_DIR;
  return fs::exists(p / "schemas") ? p : fs::path();
}

std::string Gzip(std::string_view data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string GunzipFile(const std::filesystem::path& path) {
  std::string text;
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return text;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& path, const std::string& content) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
}

std::string BackfillBinary() { return BACKFILL_BINARY; }

RunResult RunBackfill(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env, const std::string& stdin_text,
                      const std::function<void()>& before_exec) {
  TempDir io;
  fs::path out_path = io.path() / "out", err_path = io.path() / "err", in_path = io.path() / "in";
  WriteFile(in_path, stdin_text);
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(in_path.c_str(), O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    if (before_exec) before_exec();
    std::vector<char*> argv;
    std::string bin = BackfillBinary();
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  return r;
}

void SetWideThresholds(const std::filesystem::path& warehouse, int table_leaves,
                       int column_leaves) {
  std::filesystem::path file = warehouse / "backfill.toml";
  std::string text = ReadFile(file);
  size_t at = text.find("[warehouse]\n");
  ASSERT_NE(at, std::string::npos) << file;
  text.insert(at + 12, "wide_table_leaves = " + std::to_string(table_leaves) +
                           "\nwide_column_leaves = " + std::to_string(column_leaves) + "\n");
  WriteFile(file, text);
}

}  // namespace backfill::testing
