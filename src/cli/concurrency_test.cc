// Two `backfill` processes started on the same warehouse at the same instant, for pairs of
// write commands, as real processes. The promise (DESIGN.md, "One writer"): one proceeds, the
// other waits (default --lock-timeout) or fails with "warehouse busy (held by pid N: ...)"
// naming the process that holds the lock (--lock-timeout 0); nothing is corrupted; and the
// result is what running the two one after the other gives.
//
// The oracle, per pair (A, B): from copies of one prepared warehouse, run A then B and B then A
// sequentially (exit codes and a digest of the whole warehouse state), and A alone and B alone.
// The concurrent run must match one of the two orders exactly - both exit codes and the final
// state (catalog, datasets, rows and a content checksum per table and partition, table
// properties, the audit logs, requests, backfill.toml) - or, when one process was turned away
// busy, the other command run alone. When the two orders differ (the commands do not commute),
// the concurrent run is checked against the order it actually took.
//
// Pairs: every pair of a core set of writers on the same tables, and every other write command
// against itself and against one or two commands it interferes with.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/time.h"
#include "testing/testing.h"
#include "warehouse/warehouse.h"

namespace backfill {
namespace {

namespace fs = std::filesystem;
using testing::RunBackfill;
using testing::RunResult;

constexpr const char* kNow = "2020-03-19T10:00:00Z";

// A started `backfill` process; Wait() collects its exit code and output.
class Child {
 public:
  // Forks a child that waits until `gate` is closed, then execs the binary: two children on
  // the same gate start as close together as the kernel allows.
  Child(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
        const int gate[2])
      : out_(io_.path() / "out"), err_(io_.path() / "err") {
    pid_ = fork();
    if (pid_ == 0) {
      int out = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int in = open("/dev/null", O_RDONLY);
      dup2(in, 0);
      dup2(out, 1);
      dup2(err, 2);
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      close(gate[1]);
      char c;
      while (read(gate[0], &c, 1) > 0) {
      }
      close(gate[0]);
      std::vector<std::string> copy = args;
      std::string bin = testing::BackfillBinary();
      std::vector<char*> argv = {bin.data()};
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
  }
  pid_t pid() const { return pid_; }
  RunResult Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = testing::ReadFile(out_);
    r.err = testing::ReadFile(err_);
    return r;
  }

 private:
  testing::TempDir io_;
  fs::path out_, err_;
  pid_t pid_ = -1;
};

struct PairRun {
  RunResult a, b;
  pid_t pid_a = 0, pid_b = 0;
};

// Starts both commands at once and waits for both.
PairRun RunAtOnce(const std::vector<std::string>& a, const std::vector<std::string>& b,
                  const std::map<std::string, std::string>& env) {
  int gate[2];
  if (pipe(gate) != 0) return {};
  Child ca(a, env, gate);
  Child cb(b, env, gate);
  close(gate[0]);
  close(gate[1]);  // opens the gate
  PairRun r;
  r.pid_a = ca.pid();
  r.pid_b = cb.pid();
  r.a = ca.Wait();
  r.b = cb.Wait();
  return r;
}

// Everything a write can change, as text: two warehouses with equal digests hold the same data.
std::string Digest(const fs::path& wh) {
  std::string out = "config:\n" + testing::ReadFile(wh / "backfill.toml");
  if (fs::exists(wh / "requests")) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(wh / "requests")) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      out += "request " + f.filename().string() + ":\n" + testing::ReadFile(f) + "\n";
  }
  FixedClock clock(*ParseTimestamp(kNow));
  auto opened = Warehouse::Open(wh, {"alice", &clock, false, std::chrono::seconds(10), "digest"});
  if (!opened.ok()) return out + "cannot open: " + opened.status().ToString();
  Warehouse& w = **opened;
  for (const auto& p : w.ListProjects()) {
    out += "project " + p + "\n";
    auto datasets = w.ListDatasets(p);
    if (!datasets.ok()) return out + datasets.status().ToString();
    for (const auto& d : *datasets) {
      const auto& o = d.options;
      out += fmt::format(
          " dataset {} restricted={} protected={} readers={} writers={} owners={} expiration={} "
          "tt={}\n",
          d.name.ToString(), o.restricted, o.is_protected, fmt::join(o.readers, ","),
          fmt::join(o.writers, ","), fmt::join(o.owners, ","),
          o.partition_expiration_days.value_or(-1), o.time_travel_hours.value_or(-1));
      auto tables = w.ListTables(d.name);
      if (!tables.ok()) return out + tables.status().ToString();
      for (const auto& t : *tables) {
        TableName name{p, d.name.dataset, t};
        auto info = w.DescribeTable(name);
        if (!info.ok()) return out + info.status().ToString();
        std::vector<std::string> cols;
        for (const auto& f : info->options.schema.fields) cols.push_back(f.name);
        out +=
            fmt::format("  table {} columns={} partition_by={} query={}\n", t, fmt::join(cols, ","),
                        info->options.partition_by, info->options.query.size());
        for (const auto& [k, v] : info->properties) out += fmt::format("   property {}={}\n", k, v);
        auto rel = w.Relation(name);
        if (!rel.ok()) return out + rel.status().ToString();
        std::string part = info->options.partition_by.empty()
                               ? "NULL"
                               : fmt::format("CAST(_r.\"{}\" AS DATE)", info->options.partition_by);
        auto r = w.Query(
            fmt::format("SELECT CAST({0} AS VARCHAR), count(*), CAST(sum(hash(CAST(to_json(_r) AS "
                        "VARCHAR))) AS VARCHAR) FROM {1} AS _r GROUP BY 1 ORDER BY 1",
                        part, *rel));
        if (!r.ok()) return out + r.status().ToString();
        for (size_t i = 0; i < r->rows(); ++i) {
          out += fmt::format("   partition {} rows={} checksum={}\n",
                             r->GetOptional(0, i).value_or("NULL"), r->GetString(1, i),
                             r->GetString(2, i));
        }
      }
    }
    auto audit = w.Audit(p);
    if (!audit.ok()) return out + audit.status().ToString();
    for (const auto& e : *audit) {
      out += fmt::format(" audit {} {} {} {} rows={} {}\n", e.seq, e.principal, e.action, e.target,
                         e.rows, e.outcome);
    }
  }
  return out;
}

void CopyWarehouse(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  for (const auto& e : fs::recursive_directory_iterator(from)) {
    fs::path rel = fs::relative(e.path(), from);
    std::string name = rel.filename().string();
    if (name == ".lock" || name == ".lock.owner") continue;
    if (e.is_directory()) {
      fs::create_directories(to / rel);
    } else {
      fs::copy_file(e.path(), to / rel, fs::copy_options::overwrite_existing);
    }
  }
}

struct Command {
  std::string name;
  std::vector<std::string> args;
};

// The outcome of a sequential run: exit codes in the order run, and the final state.
struct Outcome {
  std::vector<int> codes;
  std::string digest;
  std::string errors;  // stderr of the runs, for failure messages
};

class ConcurrencyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fixture_ = new testing::TempDir();
    const fs::path& f = fixture_->path();
    base_ = f / "base";
    testing::WriteFile(f / "schemas/telemetry/main/main.1.bq", R"([
      {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
      {"name":"document_id","type":"STRING","mode":"NULLABLE"},
      {"name":"payload","type":"STRING","mode":"NULLABLE"}])");
    testing::WriteFile(f / "schemas2/telemetry/event/event.1.bq", R"([
      {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
      {"name":"document_id","type":"STRING","mode":"NULLABLE"}])");
    testing::WriteFile(f / "events.bq", R"([{"name":"submission_timestamp","type":"TIMESTAMP"},
      {"name":"document_id","type":"STRING"},{"name":"event","type":"STRING"}])");
    testing::WriteFile(f / "agg.bq", R"([{"name":"submission_date","type":"DATE"},
      {"name":"event","type":"STRING"},{"name":"event_count","type":"INT64"}])");
    testing::WriteFile(
        f / "agg.sql",
        "SELECT DATE(submission_timestamp) AS submission_date, event, COUNT(*) AS event_count\n"
        "FROM scratch.t WHERE DATE(submission_timestamp) = @submission_date GROUP BY 1, 2");
    // Two replayed records for the sink (base64 of {"payload":"s1"} and {"payload":"s2"}).
    testing::WriteFile(
        f / "in/part-0.ndjson",
        R"({"attributeMap":{"document_namespace":"telemetry","document_type":"main","document_version":"1","document_id":"s1","submission_timestamp":"2020-03-17T11:00:00Z"},"payload":"eyJwYXlsb2FkIjoiczEifQ=="})"
        "\n"
        R"({"attributeMap":{"document_namespace":"telemetry","document_type":"main","document_version":"1","document_id":"s2","submission_timestamp":"2020-03-17T12:00:00Z"},"payload":"eyJwYXlsb2FkIjoiczIifQ=="})"
        "\n");

    std::map<std::string, std::string> env = {{"BACKFILL_WAREHOUSE", base_.string()},
                                              {"BACKFILL_PRINCIPAL", "alice"},
                                              {"BACKFILL_NOW", "2020-03-18T00:00:00Z"}};
    auto ok = [&](std::vector<std::string> args) {
      RunResult r = RunBackfill(args, env);
      if (r.exit_code != 0)
        setup_errors_ += fmt::format("{}: exit {}\n{}{}\n", args[0], r.exit_code, r.out, r.err);
    };
    auto sql = [&](const std::string& project, const std::string& text) {
      ok({"sql", "--project", project, text});
    };
    ok({"init"});
    ok({"principal", "set", "bob", "writer"});
    ok({"project", "create", "prod"});
    ok({"project", "create", "sandbox"});
    ok({"schemas", "deploy", (f / "schemas").string(), "--project", "prod"});
    sql("prod",
        "INSERT INTO telemetry_live.main_v1 SELECT TIMESTAMP '2020-03-17 01:00:00+00', 'a', 'p' "
        "UNION ALL "
        "SELECT TIMESTAMP '2020-03-17 02:00:00+00', 'b', 'p' UNION ALL "
        "SELECT TIMESTAMP '2020-03-17 03:00:00+00', 'b', 'p-dup'");
    sql("prod",
        "INSERT INTO telemetry_stable.main_v1 SELECT TIMESTAMP '2020-03-17 00:30:00+00', 'old', "
        "'stale'");
    ok({"mirror", "--from-project", "prod", "--to-project", "backfill-q"});
    sql("backfill-q",
        "INSERT INTO telemetry_live.main_v1 SELECT TIMESTAMP '2020-03-17 01:00:00+00', 'a', 'p' "
        "UNION ALL "
        "SELECT TIMESTAMP '2020-03-17 04:00:00+00', 'c', 'q' UNION ALL "
        "SELECT TIMESTAMP '2020-03-17 05:00:00+00', 'd', 'q'");
    ok({"dataset", "create", "prod.scratch"});
    for (const char* t : {"prod.scratch.t", "prod.scratch.gone"}) {
      ok({"table", "create", t, "--schema", (f / "events.bq").string(), "--partition-by",
          "submission_timestamp"});
    }
    sql("prod",
        "INSERT INTO scratch.t SELECT TIMESTAMP '2020-03-16 01:00:00+00', 'e1', 'click' UNION ALL "
        "SELECT TIMESTAMP '2020-03-16 02:00:00+00', 'e2', 'view' UNION ALL "
        "SELECT TIMESTAMP '2020-03-17 01:00:00+00', 'e3', 'click'");
    sql("prod",
        "INSERT INTO scratch.gone SELECT TIMESTAMP '2020-03-16 01:00:00+00', 'g1', 'click'");
    ok({"table", "drop", "prod.scratch.gone"});
    ok({"dataset", "create", "prod.derived"});
    ok({"table", "create", "prod.derived.agg", "--schema", (f / "agg.bq").string(),
        "--partition-by", "submission_date", "--query", (f / "agg.sql").string()});
    ok({"rerun", "prod.derived.agg", "--dates", "2020-03-16..2020-03-17"});
    env["BACKFILL_NOW"] = "2020-03-18T06:00:00Z";
    ok({"snapshot", "prod.derived.agg", "--as-of", "2020-03-18T05:00:00Z", "--to",
        "sandbox.rescue_restricted.agg"});
    sql("prod", "DELETE FROM derived.agg WHERE submission_date = DATE '2020-03-16'");
    ok({"dataset", "create", "prod.protected_ds"});
    ok({"table", "create", "prod.protected_ds.p", "--schema", (f / "events.bq").string(),
        "--partition-by", "submission_timestamp"});
    ok({"dataset", "update", "prod.protected_ds", "--protected"});
    ok({"request", "create", "--", "sql", "--project", "prod",
        "INSERT INTO protected_ds.p SELECT TIMESTAMP '2020-03-17 05:00:00+00', 'p1', 'x'"});
    ok({"dataset", "create", "prod.old", "--partition-expiration-days", "4"});
    ok({"table", "create", "prod.old.t", "--schema", (f / "events.bq").string(), "--partition-by",
        "submission_timestamp"});
    sql("prod",
        "INSERT INTO old.t SELECT TIMESTAMP '2020-03-15 01:00:00+00', 'o1', 'click' UNION ALL "
        "SELECT TIMESTAMP '2020-03-17 01:00:00+00', 'o2', 'click'");
  }

  static void TearDownTestSuite() {
    delete fixture_;
    fixture_ = nullptr;
  }

  static std::vector<Command> Commands() {
    const fs::path& f = fixture_->path();
    return {
        {"principal-set", {"principal", "set", "carol", "reader"}},
        {"principal-set-dave", {"principal", "set", "dave", "writer"}},
        {"project-create", {"project", "create", "extra"}},
        {"dataset-create", {"dataset", "create", "prod.newds"}},
        {"dataset-update", {"dataset", "update", "prod.scratch", "--readers", "carol"}},
        {"table-create",
         {"table", "create", "prod.scratch.new", "--schema", (f / "events.bq").string()}},
        {"table-drop", {"table", "drop", "prod.scratch.t"}},
        {"table-undrop", {"table", "undrop", "prod.scratch.gone"}},
        {"schemas-deploy", {"schemas", "deploy", (f / "schemas2").string(), "--project", "prod"}},
        {"sql-insert",
         {"sql", "--project", "prod",
          "INSERT INTO scratch.t SELECT TIMESTAMP '2020-03-17 09:00:00+00', 'i1', 'click'"}},
        {"sql-replace",
         {"sql", "--project", "prod", "--destination-table", "scratch.t$20200317", "--replace",
          "SELECT TIMESTAMP '2020-03-17 10:00:00+00' AS submission_timestamp, 'r1' AS document_id, "
          "'view' AS event"}},
        {"sql-delete", {"sql", "--project", "prod", "DELETE FROM scratch.t WHERE event = 'click'"}},
        {"maintain", {"maintain"}},
        {"mirror", {"mirror", "--from-project", "prod", "--to-project", "mirror-q"}},
        {"append",
         {"append", "--from-project", "backfill-q", "--to-project", "prod", "--dates",
          "2020-03-17"}},
        {"copy-deduplicate", {"copy-deduplicate", "--project", "prod", "--dates", "2020-03-17"}},
        {"cleanup", {"cleanup", "--project", "backfill-q"}},
        {"snapshot",
         {"snapshot", "prod.scratch.t", "--as-of", "2020-03-19T09:00:00Z", "--to",
          "sandbox.rescue_restricted.t"}},
        {"restore",
         {"restore", "sandbox.rescue_restricted.agg", "--to", "prod.derived.agg",
          "--missing-partitions"}},
        {"validate",
         {"validate", "--expected", "sandbox.rescue_restricted.agg", "--actual",
          "prod.derived.agg"}},
        {"rerun", {"rerun", "prod.derived.agg", "--dates", "2020-03-16..2020-03-17"}},
        {"request-create",
         {"request", "create", "--", "sql", "--project", "prod",
          "INSERT INTO protected_ds.p SELECT TIMESTAMP '2020-03-17 06:00:00+00', 'p2', 'y'"}},
        {"request-approve", {"--as", "bob", "request", "approve", "R1"}},
        {"sink", {"sink", "--input", (f / "in").string(), "--project", "backfill-q"}},
    };
  }

  static const Command& Find(const std::string& name) {
    static const std::vector<Command> all = Commands();
    for (const auto& c : all) {
      if (c.name == name) return c;
    }
    ADD_FAILURE() << "no command " << name;
    return all[0];
  }

  std::map<std::string, std::string> Env(const fs::path& wh) const {
    return {{"BACKFILL_WAREHOUSE", wh.string()},
            {"BACKFILL_PRINCIPAL", "alice"},
            {"BACKFILL_NOW", kNow}};
  }

  // Runs the commands one after the other on a fresh copy of the prepared warehouse.
  Outcome Sequential(const std::vector<const Command*>& commands) {
    std::string key;
    for (const auto* c : commands) key += c->name + "|";
    if (auto it = sequential_.find(key); it != sequential_.end()) return it->second;
    fs::path wh = work_.path() / fmt::format("seq-{}", ++runs_);
    CopyWarehouse(base_, wh);
    Outcome o;
    for (const auto* c : commands) {
      RunResult r = RunBackfill(c->args, Env(wh));
      o.codes.push_back(r.exit_code);
      o.errors += fmt::format("[{} -> {}] {}", c->name, r.exit_code, r.err);
    }
    o.digest = Digest(wh);
    fs::remove_all(wh);
    return sequential_[key] = o;
  }

  static bool IsBusy(const RunResult& r) {
    return r.err.find("warehouse busy (held by ") != std::string::npos;
  }

  // Starts A and B at once with `timeout` ("" = the default) and checks the outcome.
  void CheckPair(const std::string& name_a, const std::string& name_b, const std::string& timeout) {
    const Command& a = Find(name_a);
    const Command& b = Find(name_b);
    SCOPED_TRACE(fmt::format("{} + {} (lock timeout {})", a.name, b.name,
                             timeout.empty() ? "default" : timeout));
    auto with_timeout = [&](std::vector<std::string> args) {
      if (!timeout.empty()) args.insert(args.begin(), {"--lock-timeout", timeout});
      return args;
    };
    fs::path wh = work_.path() / fmt::format("pair-{}", ++runs_);
    CopyWarehouse(base_, wh);
    PairRun run = RunAtOnce(with_timeout(a.args), with_timeout(b.args), Env(wh));
    std::string digest = Digest(wh);
    fs::remove_all(wh);
    std::string report =
        fmt::format("concurrent: {} -> {}\n{}{}\n{} -> {}\n{}{}", a.name, run.a.exit_code,
                    run.a.out, run.a.err, b.name, run.b.exit_code, run.b.out, run.b.err);
    for (const RunResult* r : {&run.a, &run.b}) {
      EXPECT_TRUE(r->exit_code == 0 || r->exit_code == 1 || r->exit_code == 3) << report;
      EXPECT_EQ(r->err.find("Could not set lock"), std::string::npos) << report;
      EXPECT_EQ(r->err.find("onflicting lock"), std::string::npos) << report;
    }
    bool busy_a = IsBusy(run.a), busy_b = IsBusy(run.b);
    if (busy_a || busy_b) {
      ASSERT_FALSE(timeout.empty())
          << "with the default timeout (30s) the second process must wait\n"
          << report;
      ASSERT_FALSE(busy_a && busy_b) << "both turned away\n" << report;
      const RunResult& loser = busy_a ? run.a : run.b;
      const Command& winner = busy_a ? b : a;
      pid_t winner_pid = busy_a ? run.pid_b : run.pid_a;
      EXPECT_EQ(loser.exit_code, 1) << report;
      // The busy error names the process that holds the lock, and its command.
      EXPECT_NE(loser.err.find(fmt::format("warehouse busy (held by pid {}", winner_pid)),
                std::string::npos)
          << report;
      EXPECT_NE(loser.err.find(winner.args.back()), std::string::npos) << report;
      // ... as it was typed: `request create -- sql ...` holds the lock as itself, not as the
      // write it only records.
      if (winner.args.size() >= 2) {
        EXPECT_NE(loser.err.find(winner.args[0] + " " + winner.args[1]), std::string::npos)
            << report;
      }
      Outcome alone = Sequential({&winner});
      EXPECT_EQ((busy_a ? run.b : run.a).exit_code, alone.codes[0]) << report << "\nalone:\n"
                                                                    << alone.errors;
      EXPECT_EQ(digest, alone.digest) << report;
      ++busy_;
      return;
    }
    Outcome ab = Sequential({&a, &b});
    Outcome ba = Sequential({&b, &a});
    bool matches_ab =
        ab.codes == std::vector<int>{run.a.exit_code, run.b.exit_code} && ab.digest == digest;
    bool matches_ba =
        ba.codes == std::vector<int>{run.b.exit_code, run.a.exit_code} && ba.digest == digest;
    // `validate` opens the warehouse for writing when it can (to record its verdict) and else
    // read-only: turned away with --lock-timeout 0, it may validate after the other command
    // without recording its verdict (`verdict_recorded: false` in its JSON output).
    for (bool validate_is_a : {true, false}) {
      const Command& v = validate_is_a ? a : b;
      const Command& other = validate_is_a ? b : a;
      const RunResult& rv = validate_is_a ? run.a : run.b;
      const RunResult& ro = validate_is_a ? run.b : run.a;
      if (v.name != "validate" || timeout.empty()) continue;
      Outcome then = Sequential({&other, &v});
      Outcome alone = Sequential({&other});
      if (ro.exit_code == then.codes[0] && rv.exit_code == then.codes[1] && digest == alone.digest)
        matches_ab = true;
    }
    EXPECT_TRUE(matches_ab || matches_ba)
        << report << "\n--- A then B: codes " << ab.codes[0] << "," << ab.codes[1] << "\n"
        << ab.errors << "\n--- B then A: codes " << ba.codes[1] << "," << ba.codes[0] << "\n"
        << ba.errors << "\n--- concurrent state:\n"
        << digest << "\n--- A then B state:\n"
        << ab.digest << "\n--- B then A state:\n"
        << ba.digest;
    if (ab.digest != ba.digest) noncommutative_.insert(a.name + " + " + b.name);
  }

  void CheckPairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
    ASSERT_EQ(setup_errors_, "") << "setting up the warehouse failed";
    for (const auto& [a, b] : pairs) {
      for (const char* timeout : {"0", ""}) {
        CheckPair(a, b, timeout);
        if (HasFatalFailure()) return;
      }
    }
    std::fprintf(stderr,
                 "[ concurrency ] %zu pair(s) x 2 lock timeouts: %d run(s) had one process turned "
                 "away busy; "
                 "%zu pair(s) do not commute\n",
                 pairs.size(), busy_, noncommutative_.size());
  }

  static testing::TempDir* fixture_;
  static fs::path base_;
  static std::string setup_errors_;
  testing::TempDir work_;
  std::map<std::string, Outcome> sequential_;
  int runs_ = 0;
  int busy_ = 0;
  std::set<std::string> noncommutative_;
};

testing::TempDir* ConcurrencyTest::fixture_ = nullptr;
fs::path ConcurrencyTest::base_;
std::string ConcurrencyTest::setup_errors_;

TEST_F(ConcurrencyTest, TheSetupGivesEveryCommandSomethingToDo) {
  // Each command alone changes the warehouse (or, for validate, exits 1 on the difference it
  // finds): otherwise a pair involving it would test nothing.
  ASSERT_EQ(setup_errors_, "");
  Outcome none = Sequential({});
  for (const auto& c : Commands()) {
    Outcome alone = Sequential({&c});
    if (c.name == "validate") {
      EXPECT_EQ(alone.codes[0], 1) << alone.errors;
      continue;
    }
    EXPECT_EQ(alone.codes[0], 0) << c.name << ": " << alone.errors;
    EXPECT_NE(alone.digest, none.digest) << c.name << " changed nothing";
  }
}

// Every pair (and every command with itself) of writers of the same tables and days.
TEST_F(ConcurrencyTest, EveryPairOfTheCoreWritersSerializes) {
  std::vector<std::string> core = {"sql-insert", "sql-replace",      "table-drop",
                                   "append",     "copy-deduplicate", "restore"};
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i < core.size(); ++i) {
    for (size_t j = i; j < core.size(); ++j) pairs.emplace_back(core[i], core[j]);
  }
  CheckPairs(pairs);
}

// Every other write command against itself and the commands it interferes with.
TEST_F(ConcurrencyTest, EveryWriteCommandSerializesWithItselfAndWithWhatItInterferesWith) {
  CheckPairs({
      {"principal-set", "principal-set"},
      {"principal-set", "dataset-create"},
      {"project-create", "project-create"},
      {"project-create", "mirror"},
      {"dataset-create", "dataset-create"},
      {"dataset-create", "schemas-deploy"},
      {"dataset-update", "dataset-update"},
      {"dataset-update", "sql-delete"},
      {"table-create", "table-create"},
      {"table-create", "table-drop"},
      {"table-undrop", "table-undrop"},
      {"table-undrop", "maintain"},
      {"schemas-deploy", "schemas-deploy"},
      {"schemas-deploy", "mirror"},
      {"sql-delete", "sql-delete"},
      {"sql-delete", "rerun"},
      {"maintain", "maintain"},
      {"maintain", "sql-insert"},
      {"mirror", "mirror"},
      {"mirror", "table-drop"},
      {"cleanup", "cleanup"},
      {"cleanup", "sink"},
      {"cleanup", "append"},
      {"snapshot", "snapshot"},
      {"snapshot", "sql-replace"},
      {"validate", "validate"},
      {"validate", "restore"},
      {"rerun", "rerun"},
      {"rerun", "restore"},
      {"request-create", "request-create"},
      {"request-create", "request-approve"},
      {"request-approve", "request-approve"},
      {"sink", "sink"},
      {"sink", "append"},
  });
}

// backfill.toml is read-modify-written by `principal set`: two changes at once must both land
// (Warehouse::Open reads it again once it holds the lock; before, the waiting process wrote back
// a stale copy and one change was lost).
TEST_F(ConcurrencyTest, TwoRoleChangesAtOnceBothLand) {
  CheckPairs({{"principal-set", "principal-set-dave"}});
}

// `init` has no warehouse to lock until it has made one: of two started at once on a new
// directory, one creates the warehouse and the other is refused, never both (the second used
// to overwrite the first one's backfill.toml).
TEST(ConcurrentInitTest, TwoInitsAtOnceCreateOneWarehouseAndRefuseTheOther) {
  testing::TempDir dir;
  for (int i = 0; i < 12; ++i) {
    fs::path wh = dir.path() / fmt::format("wh{}", i);
    std::map<std::string, std::string> env = {{"BACKFILL_WAREHOUSE", wh.string()}};
    std::map<std::string, std::string> alice = env, bob = env;
    alice["BACKFILL_PRINCIPAL"] = "alice";
    bob["BACKFILL_PRINCIPAL"] = "bob";
    int gate[2];
    ASSERT_EQ(pipe(gate), 0);
    Child a({"init"}, alice, gate);
    Child b({"init", "--time-travel-hours", "72"}, bob, gate);
    close(gate[0]);
    close(gate[1]);
    RunResult ra = a.Wait(), rb = b.Wait();
    ASSERT_NE(ra.exit_code == 0, rb.exit_code == 0)
        << "round " << i << ": exactly one init must succeed\nalice: " << ra.exit_code << " "
        << ra.err << "\nbob: " << rb.exit_code << " " << rb.err;
    const RunResult& refused = ra.exit_code == 0 ? rb : ra;
    EXPECT_NE(refused.err.find("is already a warehouse"), std::string::npos) << refused.err;
    std::string config = testing::ReadFile(wh / "backfill.toml");
    const bool alice_won = ra.exit_code == 0;
    EXPECT_NE(config.find(alice_won ? "alice" : "bob"), std::string::npos) << config;
    EXPECT_EQ(config.find(alice_won ? "bob" : "alice"), std::string::npos) << config;
  }
}

}  // namespace
}  // namespace backfill
