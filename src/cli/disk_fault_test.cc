// A write that cannot complete - the disk is full, or the warehouse is read-only - fails with a
// message that says why and names the path, and leaves the previous state intact: afterwards
// (space freed, write access back) the warehouse opens and holds exactly what it held before,
// and takes writes again. Run as the real binary.
//
// Mechanisms, as this machine allows (a mechanism that is not available is reported with a
// visible "[ disk fault ]" line on stderr, and the fallback runs instead):
//   disk full   a small tmpfs mounted for the test, filled up with a ballast file (needs
//               CAP_SYS_ADMIN); otherwise RLIMIT_FSIZE in the child with SIGXFSZ ignored, so
//               every write past the limit fails with EFBIG at the file layer.
//   read-only   a read-only bind mount of the warehouse (CAP_SYS_ADMIN); the immutable flag on
//               the project file (chattr +i, CAP_LINUX_IMMUTABLE, ext4 and friends); otherwise
//               the child runs as an unprivileged user (nobody) that may read but not write.
// BF_DISK_FAULT_FALLBACK=1 uses the fallbacks even where the privileged mechanisms work.
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/time.h"
#include "ingest/payload.h"
#include "testing/cli_fixture.h"
#include "testing/testing.h"
#include "warehouse/warehouse.h"

namespace backfill {
namespace {

namespace fs = std::filesystem;
using testing::Has;
using testing::RunResult;

constexpr const char* kNow = "2020-03-19T10:00:00Z";

// Runs the binary with `before_exec` run in the child first.
RunResult RunChild(const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env,
                   const std::function<void()>& before_exec = {}) {
  return testing::RunBackfill(args, env, "", before_exec);
}

// Row counts and a content checksum per table and partition, and the audit log: equal digests
// mean the same data.
std::string Digest(const fs::path& wh) {
  FixedClock clock(*ParseTimestamp(kNow));
  auto opened = Warehouse::Open(wh, {"alice", &clock, false, std::chrono::seconds(10), "digest"});
  if (!opened.ok()) return "cannot open: " + opened.status().ToString();
  Warehouse& w = **opened;
  std::string out;
  for (const auto& p : w.ListProjects()) {
    auto datasets = w.ListDatasets(p);
    if (!datasets.ok()) return out + datasets.status().ToString();
    for (const auto& d : *datasets) {
      auto tables = w.ListTables(d.name);
      if (!tables.ok()) return out + tables.status().ToString();
      for (const auto& t : *tables) {
        TableName name{p, d.name.dataset, t};
        auto rel = w.Relation(name);
        if (!rel.ok()) return out + rel.status().ToString();
        auto r = w.Query(
            fmt::format("SELECT CAST(CAST(submission_timestamp AS DATE) AS VARCHAR), count(*), "
                        "CAST(sum(hash(CAST(to_json(_r) AS VARCHAR))) AS VARCHAR) FROM {} AS _r "
                        "GROUP BY 1 ORDER BY 1",
                        *rel));
        if (!r.ok()) return out + r.status().ToString();
        out += name.ToString() + "\n";
        for (size_t i = 0; i < r->rows(); ++i) {
          out += fmt::format("  {} rows={} checksum={}\n", r->GetOptional(0, i).value_or("NULL"),
                             r->GetString(1, i), r->GetString(2, i));
        }
      }
    }
    auto audit = w.Audit(p);
    if (!audit.ok()) return out + audit.status().ToString();
    out += fmt::format("audit of {}: {} entries\n", p, audit->size());
  }
  return out;
}

std::string Message(const std::string& id, const std::string& payload) {
  return fmt::format(
      R"({{"attributeMap":{{"document_namespace":"telemetry","document_type":"main","document_version":"1",)"
      R"("document_id":"{}","submission_timestamp":"2020-03-17T10:00:00Z"}},"payload":"{}"}})",
      id, ingest::Base64Encode(fmt::format(R"({{"payload":"{}"}})", payload)));
}

// BF_DISK_FAULT_FALLBACK=1 skips the privileged mechanisms, to run the fallbacks here too.
bool ForceFallback() { return std::getenv("BF_DISK_FAULT_FALLBACK") != nullptr; }

class DiskFaultTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) umount2(it->c_str(), MNT_DETACH);
  }

  std::map<std::string, std::string> Env(const fs::path& wh) const {
    return {{"BACKFILL_WAREHOUSE", wh.string()},
            {"BACKFILL_PRINCIPAL", "alice"},
            {"BACKFILL_NOW", kNow}};
  }

  RunResult Ok(const fs::path& wh, const std::vector<std::string>& args) {
    RunResult r = RunChild(args, Env(wh));
    EXPECT_EQ(r.exit_code, 0) << args[0] << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
    return r;
  }

  // A warehouse with a project, live/stable tables and a few rows in each.
  void Prepare(const fs::path& wh) {
    testing::WriteFile(dir_.path() / "schemas/telemetry/main/main.1.bq", R"([
      {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
      {"name":"document_id","type":"STRING","mode":"NULLABLE"},
      {"name":"payload","type":"STRING","mode":"NULLABLE"}])");
    Ok(wh, {"init"});
    Ok(wh, {"project", "create", "prod"});
    Ok(wh, {"schemas", "deploy", (dir_.path() / "schemas").string(), "--project", "prod"});
    Ok(wh, {"sql", "--project", "prod",
            "INSERT INTO telemetry_live.main_v1 SELECT TIMESTAMP '2020-03-17 01:00:00+00', 'a', "
            "'x' UNION ALL "
            "SELECT TIMESTAMP '2020-03-17 02:00:00+00', 'a', 'y' UNION ALL "
            "SELECT TIMESTAMP '2020-03-18 02:00:00+00', 'b', 'z'"});
    Ok(wh, {"copy-deduplicate", "--project", "prod", "--dates", "2020-03-17..2020-03-18"});
  }

  // `n` records with incompressible payloads, about `n` kB of NDJSON.
  fs::path BigInput(int n) {
    fs::path in = dir_.path() / fmt::format("big-{}", n);
    std::mt19937_64 rng(42);
    std::string text;
    for (int i = 0; i < n; ++i) {
      std::string payload;
      for (int j = 0; j < 40; ++j) payload += fmt::format("{:016x}", rng());
      text += Message(fmt::format("big-{}", i), payload) + "\n";
    }
    testing::WriteFile(in / "part-0.ndjson", text);
    return in;
  }

  // The write that cannot complete: exit code, and what it says.
  void ExpectFailedWrite(const RunResult& r, const std::vector<std::string>& says) {
    std::fprintf(stderr, "[ disk fault ] exit %d: %s", r.exit_code, r.err.c_str());
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.exit_code, 128 + SIGXFSZ) << "killed by the file size limit instead of failing";
    for (const auto& s : says)
      EXPECT_TRUE(Has(r.err, s)) << "expected '" << s << "' in:\n" << r.err;
  }

  bool Mount(const char* source, const fs::path& target, const char* type, unsigned long flags,
             const char* data) {
    if (mount(source, target.c_str(), type, flags, data) != 0) return false;
    mounts_.push_back(target.string());
    return true;
  }

  testing::TempDir dir_;
  std::vector<std::string> mounts_;
};

TEST_F(DiskFaultTest, AWriteThatRunsOutOfSpaceLeavesThePreviousStateAndSaysWhy) {
  fs::path mnt = dir_.path() / "mnt";
  fs::create_directories(mnt);
  bool tmpfs = !ForceFallback() && Mount("tmpfs", mnt, "tmpfs", 0, "size=24m");
  if (!tmpfs) {
    std::fprintf(stderr,
                 "[ disk fault ] cannot mount a tmpfs here (%s): using RLIMIT_FSIZE instead\n",
                 ForceFallback() ? "BF_DISK_FAULT_FALLBACK is set" : std::strerror(errno));
  }
  fs::path wh = mnt / "wh";
  Prepare(wh);
  std::string before = Digest(wh);
  ASSERT_TRUE(Has(before, "prod.telemetry_stable.main_v1\n  2020-03-17 rows=1")) << before;
  fs::path big = BigInput(30000);  // ~30 MB of NDJSON, outside the small file system

  std::function<void()> limit;
  fs::path ballast = mnt / "ballast";
  std::string why = "File too large";
  if (tmpfs) {
    // Leaves about 200 kB free.
    struct statvfs st {};
    ASSERT_EQ(statvfs(mnt.c_str(), &st), 0);
    int64_t free_bytes = static_cast<int64_t>(st.f_bavail) * st.f_frsize - 200 * 1024;
    ASSERT_GT(free_bytes, 0);
    testing::WriteFile(ballast, std::string(static_cast<size_t>(free_bytes), 'x'));
    why = "No space left on device";
  } else {
    uintmax_t size = fs::file_size(wh / "projects/prod.duckdb");
    limit = [size] {
      signal(SIGXFSZ, SIG_IGN);
      rlimit rl{static_cast<rlim_t>(size + 128 * 1024), static_cast<rlim_t>(size + 128 * 1024)};
      setrlimit(RLIMIT_FSIZE, &rl);
    };
  }

  // A big sink into the live table, and a copy-deduplicate of both days.
  RunResult sink = RunChild({"sink", "--input", big.string(), "--project", "prod"}, Env(wh), limit);
  ExpectFailedWrite(sink, {why, (wh / "projects/prod.duckdb").string(), "nothing"});
  if (tmpfs) {
    // Nothing left at all: even a one-row insert cannot be written.
    testing::WriteFile(mnt / "ballast2", std::string(200 * 1024, 'x'));
    RunResult small = RunChild(
        {"sql", "--project", "prod",
         "INSERT INTO telemetry_live.main_v1 SELECT TIMESTAMP '2020-03-17 05:00:00+00', 'c', 'w'"},
        Env(wh));
    ExpectFailedWrite(small, {why, "nothing"});
    fs::remove(mnt / "ballast2");
  }

  // Space back: exactly the previous state, and writes work again.
  fs::remove(ballast);
  EXPECT_EQ(Digest(wh), before);
  RunResult after = Ok(wh, {"sink", "--input", big.string(), "--project", "prod"});
  EXPECT_TRUE(Has(after.out, "30000 written")) << after.out;
  EXPECT_NE(Digest(wh), before);
}

TEST_F(DiskFaultTest, AReadOnlyWarehouseRefusesWritesSaysWhyAndStaysReadable) {
  fs::path src = dir_.path() / "src";
  Prepare(src);
  std::string before = Digest(src);
  std::vector<std::string> write = {
      "sql", "--project", "prod",
      "INSERT INTO telemetry_live.main_v1 SELECT TIMESTAMP '2020-03-17 05:00:00+00', "
      "'c', 'w'"};
  std::vector<std::string> read = {"--format", "csv",
                                   "sql",      "--project",
                                   "prod",     "SELECT count(*) AS n FROM telemetry_live.main_v1"};
  int mechanisms = 0;

  // 1. The whole warehouse on a read-only mount.
  fs::path ro = dir_.path() / "ro";
  fs::create_directories(ro);
  if (!ForceFallback() && Mount(src.c_str(), ro, nullptr, MS_BIND, nullptr) &&
      mount(nullptr, ro.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0) {
    ++mechanisms;
    SCOPED_TRACE("read-only bind mount");
    ExpectFailedWrite(RunChild(write, Env(ro)),
                      {"Read-only file system", (ro / ".lock").string(), "nothing was changed"});
    RunResult r = RunChild(read, Env(ro));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "n\n3\n");
    umount2(ro.c_str(), MNT_DETACH);
    mounts_.clear();
  } else {
    std::fprintf(stderr, "[ disk fault ] no read-only bind mount here (%s)\n",
                 ForceFallback() ? "BF_DISK_FAULT_FALLBACK is set" : std::strerror(errno));
  }

  // 2. The project file immutable (chattr +i): the lock works, DuckDB cannot open it to write.
  fs::path file = src / "projects/prod.duckdb";
  int fd = open(file.c_str(), O_RDONLY);
  int flags = 0;
  if (!ForceFallback() && fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
    int immutable = flags | FS_IMMUTABLE_FL;
    if (ioctl(fd, FS_IOC_SETFLAGS, &immutable) == 0) {
      ++mechanisms;
      SCOPED_TRACE("immutable project file");
      ExpectFailedWrite(RunChild(write, Env(src)), {file.string(), "nothing was changed"});
      RunResult r = RunChild(read, Env(src));
      EXPECT_EQ(r.exit_code, 0) << r.err;
      EXPECT_EQ(r.out, "n\n3\n");
      ioctl(fd, FS_IOC_SETFLAGS, &flags);
    } else {
      std::fprintf(stderr, "[ disk fault ] cannot set the immutable flag here (%s)\n",
                   std::strerror(errno));
    }
  }
  if (fd >= 0) close(fd);

  // 3. A process that may read the warehouse but not write it.
  if (geteuid() != 0 || mechanisms == 0) {
    ++mechanisms;
    SCOPED_TRACE("no write permission");
    std::function<void()> as_nobody;
    if (geteuid() == 0) {
      as_nobody = [] {
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(126);
      };
    } else {
      for (const auto& e : fs::recursive_directory_iterator(src)) {
        fs::permissions(e.path(),
                        fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                        fs::perm_options::remove);
      }
      fs::permissions(src, fs::perms::owner_write, fs::perm_options::remove);
    }
    // The lock file exists (written by Prepare), so readers can lock it read-only.
    ExpectFailedWrite(RunChild(write, Env(src), as_nobody),
                      {(src / ".lock").string(), "nothing was changed"});
    RunResult r = RunChild(read, Env(src), as_nobody);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "n\n3\n");
    if (geteuid() != 0) {
      fs::permissions(src, fs::perms::owner_write, fs::perm_options::add);
      for (const auto& e : fs::recursive_directory_iterator(src)) {
        fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
      }
    }
  }
  std::fprintf(stderr, "[ disk fault ] read-only warehouse tested with %d mechanism(s)\n",
               mechanisms);

  // Writable again: exactly the previous state, and writes work.
  EXPECT_EQ(Digest(src), before);
  Ok(src, write);
  EXPECT_NE(Digest(src), before);
}

}  // namespace
}  // namespace backfill
