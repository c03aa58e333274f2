#include "warehouse/zetasql.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/schema.h"

extern char** environ;

namespace backfill {
namespace fs = std::filesystem;

namespace {

#ifndef BACKFILL_SOURCE_DIR
#define BACKFILL_SOURCE_DIR "."
#endif

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

fs::path Checker() {
  std::string env = Env("BACKFILL_ZETASQL_CHECKER");
  return env.empty() ? fs::path(BACKFILL_SOURCE_DIR) / "scripts" / "check-zetasql.mjs"
                     : fs::path(env);
}

// The same default as the script's: .deps/zetasql/node_modules of the source tree.
fs::path Modules() {
  std::string env = Env("BACKFILL_ZETASQL_MODULES");
  return env.empty() ? fs::path(BACKFILL_SOURCE_DIR) / ".deps" / "zetasql" / "node_modules"
                     : fs::path(env);
}

std::optional<fs::path> FindOnPath(const std::string& program) {
  std::string path = Env("PATH");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    fs::path candidate = fs::path(path.substr(start, end - start)) / program;
    if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

struct ProcessOutput {
  int exit_code = -1;
  std::string out, err;
};

// Runs argv[0] (found on PATH) and collects both streams; stdin is /dev/null.
Result<ProcessOutput> RunProcess(const std::vector<std::string>& args) {
  std::array<int, 2> out{-1, -1}, err{-1, -1};
  if (pipe(out.data()) != 0 || pipe(err.data()) != 0)
    return IoError("cannot create a pipe for the ZetaSQL checker");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  for (int fd : {out[0], out[1], err[0], err[1]}) posix_spawn_file_actions_addclose(&actions, fd);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(err[1]);
  ProcessOutput result;
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    return IoError(fmt::format("cannot start {}: {}", args[0], std::strerror(rc)));
  }
  std::array<pollfd, 2> fds{pollfd{out[0], POLLIN, 0}, pollfd{err[0], POLLIN, 0}};
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  int open = 2;
  char buf[65536];
  while (open > 0) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace

std::string ZetaSqlCatalogJson(const std::vector<TableInfo>& tables,
                               const std::vector<ZetaSqlFile>& files) {
  nlohmann::ordered_json doc;
  doc["tables"] = nlohmann::ordered_json::array();
  for (const auto& t : tables) {
    nlohmann::ordered_json j;
    j["name"] = t.name.ToString();
    j["schema"] = nlohmann::ordered_json::parse(SchemaToBqJson(t.options.schema));
    if (t.partition_kind != PartitionKind::kNone) {
      j["time_partitioning"] = {{"type", "DAY"}, {"field", t.options.partition_by}};
    }
    if (!t.options.cluster_by.empty()) j["clustering"] = {{"fields", t.options.cluster_by}};
    doc["tables"].push_back(std::move(j));
  }
  doc["files"] = nlohmann::ordered_json::array();
  for (const auto& f : files) {
    nlohmann::ordered_json j{{"name", f.name}};
    if (!f.default_project.empty()) j["default_project"] = f.default_project;
    if (!f.parameters.empty()) j["parameters"] = f.parameters;
    doc["files"].push_back(std::move(j));
  }
  return doc.dump() + "\n";  // compact: Mozilla schemas make it megabytes
}

std::optional<std::string> ZetaSqlUnavailable() {
  if (!FindOnPath("node")) return "node is not on PATH";
  fs::path checker = Checker();
  if (!fs::exists(checker)) return fmt::format("no checker script {}", checker.string());
  fs::path server =
      Modules() / "@fivetrandevelopers" / "zetasql" / "lib" / "zetasql" / "remote_server.so";
  if (!fs::exists(server))
    return fmt::format("ZetaSQL is not installed ({} is missing; run scripts/bootstrap.sh)",
                       server.string());
  return std::nullopt;
}

Result<ZetaSqlReport> CheckWithZetaSql(const fs::path& catalog) {
  if (auto why = ZetaSqlUnavailable()) return Unavailable(*why);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> args{"node", Checker().string(), "--json", catalog.string()};
  BF_ASSIGN_OR_RETURN(ProcessOutput run, RunProcess(args));
  auto fail = [&](const std::string& what) {
    std::string err = run.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return Internal(fmt::format("the ZetaSQL check of {} {} (exit {}){}", catalog.string(), what,
                                run.exit_code, err.empty() ? "" : ": " + err));
  };
  if (run.exit_code != 0 && run.exit_code != 1) return fail("could not run");
  nlohmann::json doc = nlohmann::json::parse(run.out, nullptr, false);
  if (doc.is_discarded() || !doc.contains("files")) return fail("printed no report");
  ZetaSqlReport report;
  for (const auto& f : doc["files"]) {
    ++report.files;
    report.statements += f.value("statements", 0);
    for (const auto& e : f["errors"]) {
      report.errors.push_back(
          {f.value("file", ""), e.value("line", 0), e.value("column", 0), e.value("message", "")});
    }
  }
  if (run.exit_code == 1 && report.errors.empty()) return fail("failed without naming an error");
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

Result<ZetaSqlReport> CheckSqlWithZetaSql(const std::string& sql,
                                          const std::vector<TableInfo>& tables,
                                          const ZetaSqlFile& file) {
  if (auto why = ZetaSqlUnavailable()) return Unavailable(*why);
  std::string pattern = (fs::temp_directory_path() / "backfill-zetasql-XXXXXX").string();
  if (!mkdtemp(pattern.data()))
    return IoError(
        fmt::format("cannot create a folder for the ZetaSQL check: {}", std::strerror(errno)));
  fs::path dir = pattern;
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{dir};
  ZetaSqlFile f = file;
  if (f.name.empty()) f.name = "statement.sql";
  auto write = [](const fs::path& path, const std::string& text) -> Status {
    FILE* out = std::fopen(path.c_str(), "wb");
    if (!out) return IoError(fmt::format("cannot write {}", path.string()));
    bool ok = std::fwrite(text.data(), 1, text.size(), out) == text.size();
    ok = std::fclose(out) == 0 && ok;
    return ok ? Status::Ok() : IoError(fmt::format("cannot write {}", path.string()));
  };
  BF_RETURN_IF_ERROR(write(dir / f.name, sql));
  BF_RETURN_IF_ERROR(write(dir / "catalog.json", ZetaSqlCatalogJson(tables, {f})));
  BF_ASSIGN_OR_RETURN(ZetaSqlReport report, CheckWithZetaSql(dir / "catalog.json"));
  for (auto& e : report.errors) e.file = f.name;
  return report;
}

}  // namespace backfill
