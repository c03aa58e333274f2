// `--format json` and `--format csv` hand scripts values they can parse back: a golden test on
// nested rows written by the real sink, and a property test over every corpus schema (rows the
// sink wrote, read back through `sql --format json`, equal the rows the transform produced,
// leaf by leaf).
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/schema.h"
#include "core/time.h"
#include "ingest/payload.h"
#include "ingest/pubsub.h"
#include "ingest/row.h"
#include "ingest/transform.h"
#include "testing/cli_fixture.h"
#include "testing/testing.h"

namespace backfill {
namespace {

using testing::RunBackfill;
using testing::RunResult;
using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

std::string MessageLine(const std::vector<std::pair<std::string, std::string>>& attributes,
                        const std::string& payload) {
  Json attrs = Json::object();
  for (const auto& [k, v] : attributes) attrs[k] = v;
  return Json{{"attributeMap", attrs}, {"payload", ingest::Base64Encode(payload)}}.dump();
}

class JsonOutputTest : public testing::CliFixture {
 protected:
  void SetUp() override {
    UseWarehouse("alice", "2020-03-19T10:00:00Z");
    Ok({"init"});
    Ok({"project", "create", "p"});
  }
};

constexpr const char* kNestedSchema = R"([
  {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
  {"name":"document_id","type":"STRING","mode":"NULLABLE"},
  {"name":"big","type":"INT64","mode":"NULLABLE"},
  {"name":"small","type":"INT64","mode":"NULLABLE"},
  {"name":"ratio","type":"FLOAT64","mode":"NULLABLE"},
  {"name":"amount","type":"NUMERIC","mode":"NULLABLE"},
  {"name":"blob","type":"BYTES","mode":"NULLABLE"},
  {"name":"day","type":"DATE","mode":"NULLABLE"},
  {"name":"tags","type":"STRING","mode":"REPEATED"},
  {"name":"clicks","type":"RECORD","mode":"REPEATED","fields":[
    {"name":"id","type":"INT64","mode":"NULLABLE"},
    {"name":"label","type":"STRING","mode":"NULLABLE"}]},
  {"name":"context","type":"RECORD","mode":"NULLABLE","fields":[
    {"name":"action","type":"STRING","mode":"NULLABLE"},
    {"name":"positions","type":"INT64","mode":"REPEATED"}]}
])";

TEST_F(JsonOutputTest, NestedRowsWrittenByTheSinkPrintAsJsonAndCsv) {
  testing::WriteFile(dir_ / "schemas/demo/nested/nested.1.bq", kNestedSchema);
  Ok({"schemas", "deploy", dir_ / "schemas", "--project", "p"});
  auto attrs = [](const std::string& id) {
    return std::vector<std::pair<std::string, std::string>>{
        {"document_namespace", "demo"},
        {"document_type", "nested"},
        {"document_version", "1"},
        {"document_id", id},
        {"submission_timestamp", "2020-03-17T01:02:03.000004Z"}};
  };
  std::string in =
      MessageLine(attrs("a"),
                  R"({"big":9007199254740993,"small":-3,"ratio":0.1,)"
                  R"("amount":"12345678901234567890123456789.123456789","blob":"AP+AYQ==",)"
                  R"("day":"2020-02-29","tags":["x","y,z"],)"
                  R"("clicks":[{"id":1,"label":"{'q': \"r\"}"},{"id":2}],)"
                  R"("context":{"action":"click","positions":[]}})") +
      "\n" + MessageLine(attrs("b"), R"({"tags":[],"context":{"positions":[4,5]}})") + "\n";
  testing::WriteFile(dir_ / "in/part-0.ndjson", in);
  Ok({"sink", "--input", dir_ / "in/part-0.ndjson", "--project", "p"});

  RunResult json = Ok({"--format", "json", "sql", "--project", "p",
                       "SELECT * EXCEPT (submission_timestamp), submission_timestamp "
                       "FROM demo_live.nested_v1 ORDER BY document_id"});
  EXPECT_EQ(json.err, "");
  Json doc = Json::parse(json.out);  // one document; it must parse
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(
      doc[0]["rows"].dump(),
      R"([{"document_id":"a","big":"9007199254740993","small":-3,"ratio":0.1,)"
      R"("amount":"12345678901234567890123456789.123456789","blob":"AP+AYQ==","day":"2020-02-29",)"
      R"("tags":["x","y,z"],"clicks":[{"id":1,"label":"{'q': \"r\"}"},{"id":2,"label":null}],)"
      R"("context":{"action":"click","positions":[]},"submission_timestamp":"2020-03-17T01:02:03.000004Z"},)"
      R"({"document_id":"b","big":null,"small":null,"ratio":null,"amount":null,"blob":null,"day":null,)"
      R"("tags":[],"clicks":[],"context":{"action":null,"positions":[4,5]},)"
      R"("submission_timestamp":"2020-03-17T01:02:03.000004Z"}])");
  // The result's schema is BigQuery's, as a .bq file writes it.
  const Json& schema = doc[0]["schema"];
  ASSERT_EQ(schema.size(), 11u);
  EXPECT_EQ(schema[7]["name"], "tags");
  EXPECT_EQ(schema[7]["mode"], "REPEATED");
  EXPECT_EQ(schema[8]["type"], "RECORD");
  EXPECT_EQ(schema[8]["fields"][0]["type"], "INT64");
  EXPECT_EQ(schema[10]["type"], "TIMESTAMP");

  RunResult csv = Ok({"--format", "csv", "sql", "--project", "p",
                      "SELECT document_id, tags, clicks, amount, blob FROM demo_live.nested_v1 "
                      "ORDER BY document_id"});
  EXPECT_EQ(
      csv.out,
      "document_id,tags,clicks,amount,blob\n"
      R"(a,"[""x"",""y,z""]","[{""id"":1,""label"":""{'q': \""r\""}""},{""id"":2,""label"":null}]",)"
      "12345678901234567890123456789.123456789,AP+AYQ==\n"
      "b,[],[],,\n");
}

TEST_F(JsonOutputTest, ErrorsAreOneJsonDocumentOnStderr) {
  RunResult r =
      RunBackfill({"--format", "json", "sql", "--project", "p", "SELECT * FROM nowhere.t"}, env_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  Json err = Json::parse(r.err);
  EXPECT_EQ(err["error"]["exit_code"], 1);
  EXPECT_NE(err["error"]["message"].get<std::string>().find("nowhere"), std::string::npos) << r.err;

  RunResult usage = RunBackfill({"--format", "json", "sql", "--no-such-flag", "SELECT 1"}, env_);
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_EQ(usage.out, "");
  EXPECT_EQ(Json::parse(usage.err)["error"]["code"], "usage");
}

// ---- the property test over every corpus schema -----------------------------------------

// Compares one value the transform produced (`want`, RowToJson) with what `sql --format json`
// printed (`got`), by the field's BigQuery type. A missing or NULL array is an empty one, as in
// BigQuery; otherwise NULL must meet NULL.
class LeafComparer {
 public:
  void Compare(const Field& f, const Json& want, const Json& got, const std::string& path) {
    if (f.mode == FieldMode::kRepeated) {
      Json w = want.is_null() ? Json::array() : want;
      Json g = got.is_null() ? Json::array() : got;
      if (!w.is_array() || !g.is_array() || w.size() != g.size()) return Differ(path, want, got);
      Field item = f;
      item.mode = FieldMode::kNullable;
      for (size_t i = 0; i < w.size(); ++i)
        Compare(item, w[i], g[i], fmt::format("{}[{}]", path, i));
      return;
    }
    if (want.is_null() || got.is_null()) {
      if (want.is_null() && got.is_null()) return Leaf();
      return Differ(path, want, got);
    }
    switch (f.type) {
      case FieldType::kRecord: {
        if (!want.is_object() || !got.is_object()) return Differ(path, want, got);
        for (const Field& c : f.fields) {
          if (!got.contains(c.name)) return Differ(path + "." + c.name, want, "(column missing)");
          Compare(c, want.contains(c.name) ? want[c.name] : Json(), got[c.name],
                  path + "." + c.name);
        }
        return;
      }
      case FieldType::kInt64:
        return Check(path, IntText(want) == IntText(got), want, got);
      case FieldType::kFloat64: {
        double a = DoubleOf(want), b = DoubleOf(got);
        return Check(path, a == b || (std::isnan(a) && std::isnan(b)), want, got);
      }
      case FieldType::kNumeric:
      case FieldType::kBigNumeric:
        return Check(path, Decimal(want) == Decimal(got), want, got);
      case FieldType::kBytes: {
        std::string a, b;
        bool ok = ingest::Base64Decode(want.get<std::string>(), &a).ok() &&
                  ingest::Base64Decode(got.get<std::string>(), &b).ok();
        return Check(path, ok && a == b, want, got);
      }
      case FieldType::kTimestamp: {
        auto a = ParseTimestamp(want.get<std::string>());
        auto b = ParseTimestamp(got.get<std::string>());
        return Check(path, a.ok() && b.ok() && ToMicros(*a) == ToMicros(*b), want, got);
      }
      case FieldType::kJson: {
        Json a = want.is_string() ? Json::parse(want.get<std::string>(), nullptr, false) : want;
        return Check(path, a == got, want, got);
      }
      default:
        return Check(path, want == got, want, got);
    }
  }

  int leaves() const { return leaves_; }
  const std::vector<std::string>& differences() const { return differences_; }

 private:
  static std::string IntText(const Json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_number_float()) return std::to_string(static_cast<int64_t>(j.get<double>()));
    return j.dump();
  }
  // Numbers, or BigQuery's "NaN" / "Infinity" / "-Infinity" strings.
  static double DoubleOf(const Json& j) {
    if (j.is_number()) return j.get<double>();
    return std::strtod(j.get<std::string>().c_str(), nullptr);
  }
  // "1.50" and "1.5" are the same NUMERIC.
  static std::string Decimal(const Json& j) {
    std::string s = j.is_string() ? j.get<std::string>() : j.dump();
    if (s.find('.') != std::string::npos) {
      while (!s.empty() && s.back() == '0') s.pop_back();
      if (!s.empty() && s.back() == '.') s.pop_back();
    }
    return s;
  }
  void Leaf() { ++leaves_; }
  void Check(const std::string& path, bool equal, const Json& want, const Json& got) {
    ++leaves_;
    if (!equal) Differ(path, want, got);
  }
  void Differ(const std::string& path, const Json& want, const Json& got) {
    differences_.push_back(
        fmt::format("{}: transform {} but sql --format json {}", path, want.dump(), got.dump()));
  }

  int leaves_ = 0;
  std::vector<std::string> differences_;
};

struct SampleTarget {
  fs::path document;
  std::string ns, type, version;
};

// Every corpus table with the passing sample documents written to it. Documents are routed as
// the sink routes them (namespace, type, version attributes); telemetry main.4 documents go to
// main.5 and to first-shutdown.5 (the same ping shape), Glean ones to both Glean applications.
std::map<fs::path, std::vector<SampleTarget>> SamplesBySchema() {
  fs::path corpus = testing::CorpusDir();
  std::map<fs::path, std::vector<SampleTarget>> out;
  for (const auto& bq : fs::recursive_directory_iterator(corpus / "schemas")) {
    if (bq.path().extension() == ".bq") out[bq.path()];
  }
  auto schema_of = [&](const std::string& ns, const std::string& type) -> fs::path {
    for (const auto& [path, _] : out) {
      if (path.parent_path().filename() == type &&
          path.parent_path().parent_path().filename() == ns)
        return path;
    }
    return {};
  };
  for (const auto& ns_dir : fs::directory_iterator(corpus / "samples")) {
    std::string ns = ns_dir.path().filename().string();
    for (const auto& doc : fs::directory_iterator(ns_dir.path())) {
      std::string name = doc.path().filename().string();
      if (!name.ends_with(".pass.json")) continue;
      std::string type = name.substr(0, name.find('.'));
      std::vector<std::pair<std::string, std::string>> targets{{ns, type}};
      if (ns == "glean") {
        std::string table = name.find(".baseline.") != std::string::npos ? "baseline"
                            : name.find(".events") != std::string::npos  ? "events"
                                                                         : "metrics";
        targets = {{"firefox-desktop", table}, {"org-mozilla-fenix", table}};
      } else if (ns == "telemetry" && type == "main") {
        targets.push_back({"telemetry", "first-shutdown"});
      }
      for (const auto& [target_ns, target_type] : targets) {
        fs::path schema = schema_of(target_ns, target_type);
        if (schema.empty()) continue;
        std::string stem = schema.stem().string();  // <type>.<version>
        out[schema].push_back(
            {doc.path(), target_ns, target_type, stem.substr(stem.rfind('.') + 1)});
      }
    }
  }
  return out;
}

std::string TableOf(const SampleTarget& t) {
  std::string ns = t.ns, type = t.type;
  std::replace(ns.begin(), ns.end(), '-', '_');
  std::replace(type.begin(), type.end(), '-', '_');
  return fmt::format("{}_live.{}_v{}", ns, type, t.version);
}

TEST_F(JsonOutputTest, EveryCorpusTableReadsBackAsTheTransformWroteIt) {
  BF_REQUIRE_CORPUS();
  auto by_schema = SamplesBySchema();
  ASSERT_EQ(by_schema.size(), 20u);
  Ok({"schemas", "deploy", (testing::CorpusDir() / "schemas").string(), "--project", "p"});

  // The expected rows come from the transform in this process; the sink writes the same
  // messages through the real binary.
  std::string input;
  // table:document_id -> the transform's row (a payload's own document_id wins over the
  // attribute's, as in the reference).
  std::map<std::string, Json> expected;
  std::map<std::string, std::vector<Field>> fields_of_table;
  ingest::Transformer transformer;
  int n = 0;
  for (const auto& [schema_path, samples] : by_schema) {
    SCOPED_TRACE(schema_path.string());
    ASSERT_FALSE(samples.empty()) << "no sample document reaches " << schema_path;
    auto parsed = ParseBqSchema(testing::ReadFile(schema_path), schema_path.filename().string());
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    auto compiled = ingest::CompiledSchema::Compile(parsed->fields);
    for (const SampleTarget& s : samples) {
      std::string id = fmt::format("doc-{:04d}", n++);
      std::vector<std::pair<std::string, std::string>> attrs{
          {"document_namespace", s.ns},
          {"document_type", s.type},
          {"document_version", s.version},
          {"document_id", id},
          {"submission_timestamp", "2020-03-17T10:00:00.123456Z"},
          {"sample_id", "42"},
          {"geo_country", "US"},
          {"normalized_channel", "release"}};
      ingest::PubsubMessage message;
      message.attributes = attrs;
      message.payload = testing::ReadFile(s.document);
      ASSERT_TRUE(transformer.TransformMessage(*compiled, message).ok()) << s.document;
      Json row = Json::parse(RowToJson(transformer.row().root(), compiled->fields()));
      fields_of_table[TableOf(s)] = compiled->fields();
      std::string key = TableOf(s) + ":" +
                        (row.contains("document_id") ? row["document_id"].get<std::string>() : id);
      EXPECT_EQ(expected.count(key), 0u) << key << " twice";
      expected[key] = std::move(row);
      input += MessageLine(attrs, message.payload) + "\n";
    }
  }
  testing::WriteFile(dir_ / "in/part-0.ndjson", input);
  Ok({"sink", "--input", dir_ / "in/part-0.ndjson", "--project", "p"});

  LeafComparer comparer;
  size_t rows_read = 0;
  for (const auto& [table, fields] : fields_of_table) {
    SCOPED_TRACE(table);
    RunResult r = Ok({"--format", "json", "sql", "--project", "p",
                      "SELECT * FROM " + table + " ORDER BY document_id"});
    Json doc = Json::parse(r.out);
    ASSERT_EQ(doc.size(), 1u);
    for (const Json& got : doc[0]["rows"]) {
      ++rows_read;
      const std::string id = got["document_id"];
      ASSERT_TRUE(expected.count(table + ":" + id)) << id;
      const Json& want = expected[table + ":" + id];
      for (const Field& f : fields) {
        comparer.Compare(f, want.contains(f.name) ? want[f.name] : Json(),
                         got.contains(f.name) ? got[f.name] : Json(),
                         table + ":" + id + "." + f.name);
      }
    }
  }
  EXPECT_EQ(rows_read, expected.size());
  EXPECT_GT(comparer.leaves(), 10000);
  std::printf("[ json ] %zu rows of %zu tables, %d leaves compared\n", rows_read,
              fields_of_table.size(), comparer.leaves());
  for (size_t i = 0; i < comparer.differences().size() && i < 20; ++i)
    ADD_FAILURE() << comparer.differences()[i];
  EXPECT_EQ(comparer.differences().size(), 0u);
}

}  // namespace
}  // namespace backfill
