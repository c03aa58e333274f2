// The fixture the CLI tests share: a temporary directory, the environment every `backfill` run
// gets (the warehouse under that directory, a principal, a clock) and Run/Ok over the real
// binary. Each test's fixture derives from it and sets env_ (and leading_args_) in SetUp.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace backfill::testing {

// Whether `text` contains `needle` (std::string parameters: JSON strings convert to them).
inline bool Has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

class CliFixture : public ::testing::Test {
 protected:
  // Runs the binary with leading_args_ + `args`, in env_ overlaid with `extra`.
  RunResult Run(std::vector<std::string> args,
                const std::map<std::string, std::string>& extra = {}) {
    args.insert(args.begin(), leading_args_.begin(), leading_args_.end());
    auto env = env_;
    for (const auto& [k, v] : extra) env[k] = v;
    return RunBackfill(args, env);
  }
  // Run, expecting exit 0; a failure shows the command, stdout and stderr.
  RunResult Ok(const std::vector<std::string>& args,
               const std::map<std::string, std::string>& extra = {}) {
    RunResult r = Run(args, extra);
    EXPECT_EQ(r.exit_code, 0) << (args.empty() ? "" : args[0]) << "\nstdout:\n"
                              << r.out.substr(0, 4000) << "\nstderr:\n"
                              << r.err.substr(0, 4000);
    return r;
  }
  // The environment of a warehouse under dir_ with `principal` and, when given, the clock `now`.
  void UseWarehouse(const std::string& principal, const std::string& now = "") {
    env_ = {{"BACKFILL_WAREHOUSE", dir_ / "wh"}, {"BACKFILL_PRINCIPAL", principal}};
    if (!now.empty()) env_["BACKFILL_NOW"] = now;
  }
  void At(const std::string& now) { env_["BACKFILL_NOW"] = now; }

  TempDir dir_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> leading_args_;
};

}  // namespace backfill::testing
