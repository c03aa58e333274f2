// The fixture the sink tests share (sink_test.cc, sink_replay_test.cc): a real warehouse with
// the telemetry main schema deployed, messages built like production's, and readers of error
// output. Test-only.
#pragma once

#include <zlib.h>

#include <filesystem>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ingest/payload.h"
#include "ingest/pubsub.h"
#include "testing/testing.h"
#include "testing/warehouse_testing.h"
#include "warehouse/schema_deploy.h"

namespace backfill::ingest::sink_testing {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;
using testing::Gzip;

constexpr const char* kMainSchema = R"([
  {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
  {"name":"document_id","type":"STRING","mode":"NULLABLE"},
  {"name":"client_id","type":"STRING","mode":"NULLABLE"},
  {"name":"day","type":"DATE","mode":"NULLABLE"},
  {"name":"n","type":"INT64","mode":"NULLABLE"},
  {"name":"tags","type":"STRING","mode":"REPEATED"},
  {"name":"additional_properties","type":"STRING","mode":"NULLABLE"}
])";

inline std::string Line(const std::vector<std::pair<std::string, std::string>>& attrs,
                        const std::string& payload) {
  PubsubMessage m;
  m.attributes = attrs;
  m.payload = payload;
  return SerializePubsubLine(m);
}

// A good telemetry/main/v1 message.
inline std::string Good(const std::string& id, int hour = 10, const std::string& day = "2020-03-17",
                        int n = 1, const std::string& type = "main") {
  return Line(
      {{"document_namespace", "telemetry"},
       {"document_type", type},
       {"document_version", "1"},
       {"document_id", id},
       {"submission_timestamp", fmt::format("{}T{:02d}:00:00.000001Z", day, hour)}},
      fmt::format(R"({{"clientId":"c-{}","n":{},"tags":["a","b"],"extra":{{"x":1}}}})", id, n));
}

inline std::vector<json> ReadErrorOutput(const fs::path& dir) {
  std::vector<json> lines;
  if (!fs::exists(dir)) return lines;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string text;
    Status s = Gunzip(testing::ReadFile(e.path()), &text, size_t(1) << 30);
    EXPECT_TRUE(s.ok()) << e.path() << ": " << s.ToString();
    size_t start = 0;
    while (start < text.size()) {
      size_t nl = text.find('\n', start);
      lines.push_back(json::parse(text.substr(start, nl - start)));
      start = nl + 1;
    }
  }
  return lines;
}

inline std::vector<fs::path> FilesUnder(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  return out;
}

// Fails lookups as told, then asks the warehouse.
class FlakyLookup : public TableLookup {
 public:
  FlakyLookup(Warehouse& w, std::function<bool(int call)> fail)
      : real_(w), fail_(std::move(fail)) {}
  Result<SinkTable> Lookup(const TableName& name) override {
    int call = ++calls;
    if (fail_(call)) return Unavailable("table metadata unavailable for " + name.ToString());
    return real_.Lookup(name);
  }
  int calls = 0;

 private:
  WarehouseTableLookup real_;
  std::function<bool(int)> fail_;
};

class SinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = testing::CreateTestWarehouse(dir_ / "wh", clock_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    w_ = std::move(w).value();
    Deploy("q");
  }

  void Deploy(const std::string& project) {
    ASSERT_TRUE(w_->CreateProject(project).ok());
    testing::WriteFile(dir_ / "schemas/telemetry/main/main.1.bq", kMainSchema);
    testing::WriteFile(dir_ / "schemas/telemetry/event/event.1.bq", kMainSchema);
    auto r = DeploySchemas(*w_, dir_ / "schemas", project);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  SinkOptions Options(std::vector<std::string> inputs, const std::string& project = "q") {
    SinkOptions o;
    o.inputs = std::move(inputs);
    o.project = project;
    o.error_output = dir_ / "errors";
    o.run_id = "test";
    o.retry.sleep = [this](std::chrono::milliseconds d) {
      std::lock_guard<std::mutex> lock(sleeps_mu_);  // workers retry in parallel
      sleeps_.push_back(d);
    };
    return o;
  }

  int64_t Count(const std::string& sql) {
    auto r = w_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->GetInt64(0, 0) : -1;
  }

  static void ExpectBalanced(const SinkReport& r) {
    EXPECT_TRUE(r.totals.Balanced());
    for (const auto& i : r.items) EXPECT_TRUE(i.counts.Balanced()) << i.table;
  }

  testing::TempDir dir_;
  FixedClock clock_{*ParseTimestamp("2020-03-19T10:00:00Z")};
  std::unique_ptr<Warehouse> w_;
  std::mutex sleeps_mu_;
  std::vector<std::chrono::milliseconds> sleeps_;
};

}  // namespace backfill::ingest::sink_testing
