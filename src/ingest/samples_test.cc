// Every passing sample document of the corpus, wrapped as a PubsubMessage for its table,
// transforms without error and loses nothing: each leaf value of the input is found in a
// column or in additional_properties.
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/schema.h"
#include "ingest/pubsub.h"
#include "ingest/row.h"
#include "ingest/transform.h"
#include "testing/testing.h"

namespace backfill::ingest {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Leaves are compared as tokens: "s:text", "n:number", "b:true".
std::string NumberToken(double d) {
  if (std::floor(d) == d && std::fabs(d) < 1e15) return "n:" + std::to_string(int64_t(d));
  char buf[40];
  std::snprintf(buf, sizeof(buf), "n:%.17g", d);
  return buf;
}

void InputLeaves(const json& j, std::vector<std::string>* out) {
  switch (j.type()) {
    case json::value_t::object:
    case json::value_t::array:
      for (const auto& child : j) InputLeaves(child, out);
      break;
    case json::value_t::string:
      out->push_back("s:" + j.get<std::string>());
      break;
    case json::value_t::boolean:
      out->push_back(j.get<bool>() ? "b:true" : "b:false");
      break;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      out->push_back("n:" + j.dump());
      break;
    case json::value_t::number_float:
      out->push_back(NumberToken(j.get<double>()));
      break;
    default:
      break;  // null carries no value; the reference drops nulls of known columns
  }
}

// Output leaves. A STRING column may hold JSON text (values coerced to STRING), so its
// string is also read as JSON and its leaves counted.
void OutputLeaves(const json& j, std::map<std::string, int>* pool);
void AddString(const std::string& s, std::map<std::string, int>* pool) {
  ++(*pool)["s:" + s];
  json parsed = json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_discarded() && !parsed.is_string()) OutputLeaves(parsed, pool);
}
void OutputLeaves(const json& j, std::map<std::string, int>* pool) {
  std::vector<std::string> tokens;
  if (j.is_string()) {
    AddString(j.get<std::string>(), pool);
    return;
  }
  if (j.is_structured()) {
    for (const auto& child : j) OutputLeaves(child, pool);
    return;
  }
  InputLeaves(j, &tokens);
  for (auto& t : tokens) ++(*pool)[t];
}
void RowLeaves(const RowValue& v, std::map<std::string, int>* pool) {
  switch (v.kind()) {
    case RowKind::kNull:
      break;
    case RowKind::kBool:
      ++(*pool)[v.bool_value() ? "b:true" : "b:false"];
      break;
    case RowKind::kInt64:
      ++(*pool)["n:" + std::to_string(v.int_value())];
      break;
    case RowKind::kDouble:
      ++(*pool)[NumberToken(v.double_value())];
      break;
    case RowKind::kString:
      AddString(std::string(v.string_value()), pool);
      break;
    case RowKind::kList:
    case RowKind::kRecord:
      for (size_t i = 0; i < v.size(); ++i) RowLeaves(v.child(i), pool);
      break;
  }
}

// Returns the input leaves not found in the output.
std::vector<std::string> Lost(const json& input, const Row& row,
                              std::optional<std::string_view> additional_properties) {
  std::vector<std::string> in;
  InputLeaves(input, &in);
  std::map<std::string, int> pool;
  RowLeaves(row.root(), &pool);
  if (additional_properties) OutputLeaves(json::parse(*additional_properties), &pool);
  std::vector<std::string> lost;
  for (const std::string& token : in) {
    auto take = [&](const std::string& t) {
      auto it = pool.find(t);
      if (it == pool.end() || it->second == 0) return false;
      --it->second;
      return true;
    };
    if (take(token)) continue;
    // bool -> INT64/FLOAT64 columns hold 1/0.
    if (token == "b:true" && take("n:1")) continue;
    if (token == "b:false" && take("n:0")) continue;
    lost.push_back(token);
  }
  return lost;
}

struct Sample {
  fs::path document;
  fs::path schema;
  std::string namespace_name;
  std::string doc_type;
  std::string version;
};

// <doctype>.<version>.<label>.pass.json -> schemas/<ns>/<doctype>/<doctype>.<version>.bq, or
// the only .bq of the doc type (telemetry main.4 samples go to main.5). Glean samples go to
// the firefox-desktop and org-mozilla-fenix tables named by their label.
std::vector<Sample> FindSamples() {
  fs::path corpus = testing::CorpusDir();
  std::vector<Sample> samples;
  for (const auto& ns_dir : fs::directory_iterator(corpus / "samples")) {
    std::string ns = ns_dir.path().filename().string();
    for (const auto& doc : fs::directory_iterator(ns_dir.path())) {
      std::string name = doc.path().filename().string();
      if (!name.ends_with(".pass.json")) continue;
      std::string doc_type = name.substr(0, name.find('.'));
      std::string rest = name.substr(doc_type.size() + 1);
      std::string version = rest.substr(0, rest.find('.'));
      std::string label = rest.substr(version.size() + 1);
      label = label.substr(0, label.size() - std::string(".pass.json").size());
      std::vector<std::pair<std::string, std::string>> targets;  // namespace, doc type
      if (ns == "glean") {
        std::string table = label == "baseline"           ? "baseline"
                            : label.starts_with("events") ? "events"
                                                          : "metrics";
        targets = {{"firefox-desktop", table}, {"org-mozilla-fenix", table}};
      } else {
        targets = {{ns, doc_type}};
      }
      for (const auto& [target_ns, target_type] : targets) {
        fs::path dir = corpus / "schemas" / target_ns / target_type;
        fs::path bq = dir / (target_type + "." + version + ".bq");
        if (!fs::exists(bq)) {
          for (const auto& f : fs::directory_iterator(dir)) {
            if (f.path().extension() == ".bq") bq = f.path();
          }
        }
        samples.push_back({doc.path(), bq, target_ns, target_type, version});
      }
    }
  }
  return samples;
}

TEST(SamplesTest, EveryPassingSampleTransformsAndLosesNothing) {
  BF_REQUIRE_CORPUS();
  std::vector<Sample> samples = FindSamples();
  ASSERT_GE(samples.size(), 50u);
  std::map<fs::path, std::shared_ptr<const CompiledSchema>> schemas;
  Transformer transformer;
  int checked = 0;
  for (const Sample& s : samples) {
    SCOPED_TRACE(s.document.filename().string() + " -> " + s.schema.string());
    auto& schema = schemas[s.schema];
    if (!schema) {
      auto parsed = ParseBqSchema(testing::ReadFile(s.schema), s.schema.filename().string());
      ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
      schema = CompiledSchema::Compile(parsed->fields);
    }
    PubsubMessage message;
    message.attributes = {{"document_namespace", s.namespace_name},
                          {"document_type", s.doc_type},
                          {"document_version", s.version},
                          {"document_id", "6c49ec73-4350-45a0-9c8a-6c8f5aded0cf"},
                          {"submission_timestamp", "2020-03-19T10:00:00.123456Z"},
                          {"sample_id", "42"},
                          {"geo_country", "US"},
                          {"normalized_channel", "release"}};
    message.payload = testing::ReadFile(s.document);
    Status status = transformer.TransformMessage(*schema, message);
    ASSERT_TRUE(status.ok()) << status.ToString();
    json input = json::parse(message.payload);
    std::vector<std::string> lost =
        Lost(input, transformer.row(), transformer.additional_properties());
    EXPECT_TRUE(lost.empty()) << lost.size() << " leaves lost, first: " << lost.front();
    // The metadata columns come from the attributes, unless the payload has its own value
    // (the reference merges attributes first and the payload's duplicate key wins).
    json row = json::parse(RowToJson(transformer.row().root(), schema->fields()));
    if (!input.contains("submission_timestamp")) {
      EXPECT_EQ(row["submission_timestamp"], "2020-03-19T10:00:00.123456Z");
    }
    if (!input.contains("sample_id")) {
      EXPECT_EQ(row["sample_id"], 42);
    }
    EXPECT_EQ(row["metadata"]["geo"]["country"], "US");
    EXPECT_TRUE(row.contains("additional_properties"));
    ++checked;
  }
  std::printf("[ samples ] %d sample documents checked\n", checked);
}

}  // namespace
}  // namespace backfill::ingest

namespace backfill::ingest {
namespace {

// The loss check must notice a dropped value: with strict schema, leftovers are dropped, so
// every sample that has leftovers must then be reported as losing something.
TEST(SamplesTest, LossCheckNoticesDroppedValues) {
  BF_REQUIRE_CORPUS();
  Transformer transformer;
  int with_leftovers = 0;
  for (const Sample& s : FindSamples()) {
    auto parsed = ParseBqSchema(testing::ReadFile(s.schema), s.schema.filename().string());
    ASSERT_TRUE(parsed.ok());
    auto schema = CompiledSchema::Compile(parsed->fields);
    PubsubMessage message;
    message.payload = testing::ReadFile(s.document);
    ASSERT_TRUE(transformer.TransformMessage(*schema, message).ok());
    std::string leftovers(*transformer.additional_properties());
    json input = json::parse(message.payload);
    std::vector<std::string> tokens;
    InputLeaves(json::parse(leftovers), &tokens);
    if (tokens.empty()) continue;
    ++with_leftovers;
    TransformOptions strict;
    strict.strict_schema = true;
    ASSERT_TRUE(transformer.TransformMessage(*schema, message, strict).ok());
    EXPECT_FALSE(Lost(input, transformer.row(), std::nullopt).empty()) << s.document;
  }
  EXPECT_GT(with_leftovers, 5);
}

}  // namespace
}  // namespace backfill::ingest
