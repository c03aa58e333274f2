// Runs the reference vectors in ../shared/corpus/conformance against the transform.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/schema.h"
#include "ingest/payload.h"
#include "ingest/pubsub.h"
#include "ingest/row.h"
#include "ingest/transform.h"
#include "testing/testing.h"

namespace backfill::ingest {
namespace {

using nlohmann::json;
// Inputs keep their key order (the transform depends on it); rows and leftovers are compared
// as unordered objects, as the Java tests compare maps.
using ordered = nlohmann::ordered_json;

ordered Load(const std::string& rel) {
  return ordered::parse(testing::ReadFile(testing::CorpusDir() / "conformance" / rel));
}

json Unordered(const ordered& j) { return json::parse(j.dump()); }

PubsubMessage MessageFrom(const ordered& input) {
  PubsubMessage m;
  if (input.contains("attributeMap") && input["attributeMap"].is_object()) {
    for (auto& [k, v] : input["attributeMap"].items()) {
      m.attributes.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
    }
  }
  if (input.contains("payload") && input["payload"].is_string()) {
    EXPECT_TRUE(Base64Decode(input["payload"].get<std::string>(), &m.payload).ok());
  }
  return m;
}

// Runs one vector; returns an empty string when it passes, else what differs.
std::string RunVector(const ordered& v, Transformer* transformer) {
  const std::string entry = v["entry_point"];
  const json expected = Unordered(v["expected_row"]);
  if (entry == "Raw.apply" || entry == "Decoded.apply") {
    PubsubMessage m = MessageFrom(v["input"]);
    json actual = json::parse(entry == "Raw.apply" ? RawFormatJson(m) : DecodedFormatJson(m));
    if (actual != expected) return "row: got " + actual.dump() + " want " + expected.dump();
    return "";
  }

  auto schema_result = ParseBqSchema(v["bq_fields"].dump(), v["name"].get<std::string>());
  if (!schema_result.ok()) return "schema: " + schema_result.status().ToString();
  auto schema = CompiledSchema::Compile(schema_result->fields);
  const bool strict = v["strict_schema"].get<bool>();

  if (entry == "transformForBqSchema") {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::string text = v["input"].dump();
    if (parser.parse(text).get(root)) return "cannot parse input";
    Status s = transformer->TransformObject(*schema, simdjson::dom::object(root), strict);
    if (!s.ok()) return "transform failed: " + s.ToString();
    json actual = json::parse(RowToJson(transformer->row().root(), schema->fields()));
    if (!expected.is_null() && actual != expected) {
      return "row: got " + actual.dump() + " want " + expected.dump();
    }
    const json want_ap = Unordered(v["expected_additional_properties"]);
    auto ap = transformer->additional_properties();
    if (strict && ap.has_value()) return "strict transform produced additional_properties";
    if (!want_ap.is_null()) {
      if (!ap.has_value()) return "no additional_properties";
      json got_ap = json::parse(*ap);
      if (got_ap != want_ap) return "additional_properties: got " + std::string(*ap);
    }
    return "";
  }

  if (entry == "Payload.apply") {
    PubsubMessage m = MessageFrom(v["input"]);
    TransformOptions options;
    options.strict_schema = strict;
    Status s = transformer->TransformMessage(*schema, m, options);
    if (!s.ok()) return "transform failed: " + s.ToString();
    json actual = json::parse(RowToJson(transformer->row().root(), schema->fields()));
    auto ap = transformer->additional_properties();
    // These test schemas have no additional_properties or metadata column; the reference row
    // carries both anyway.
    if (ap && schema->fields().end() ==
                  std::find_if(schema->fields().begin(), schema->fields().end(),
                               [](const Field& f) { return f.name == "additional_properties"; })) {
      actual["additional_properties"] = std::string(*ap);
    }
    if (auto md = transformer->passthrough_metadata()) actual["metadata"] = json::parse(*md);
    if (actual != expected) return "row: got " + actual.dump() + " want " + expected.dump();
    // The reference compares the additional_properties text exactly.
    if (expected.contains("additional_properties") &&
        std::string(*ap) != expected["additional_properties"].get<std::string>()) {
      return "additional_properties text: got " + std::string(*ap);
    }
    if (strict && ap) return "strict transform produced additional_properties";
    return "";
  }
  return "unknown entry point " + entry;
}

TEST(ConformanceTest, PayloadTransformVectors) {
  BF_REQUIRE_CORPUS();
  ordered vectors = Load("payload-transform.json");
  ASSERT_EQ(vectors.size(), 77u);
  Transformer transformer;  // one transformer for all, as a worker thread would use it
  int passed = 0;
  for (const ordered& v : vectors) {
    std::string diff = RunVector(v, &transformer);
    if (diff.empty()) {
      ++passed;
    } else {
      ADD_FAILURE() << v["name"].get<std::string>() << ": " << diff
                    << "\n  notes: " << v["notes"].get<std::string>();
    }
  }
  EXPECT_EQ(passed, 77);
  std::printf("[ conformance ] %d of %zu payload-transform vectors pass\n", passed, vectors.size());
}

TEST(ConformanceTest, FieldNames) {
  BF_REQUIRE_CORPUS();
  ordered pairs = Load("field-names.json");
  ASSERT_FALSE(pairs.empty());
  for (const ordered& p : pairs) {
    EXPECT_EQ(ConvertNameForBq(p["input"].get<std::string>()), p["expected"].get<std::string>())
        << p["input"];
  }
}

TEST(ConformanceTest, SnakeCase) {
  BF_REQUIRE_CORPUS();
  ordered pairs = Load("snake-case.json");
  ASSERT_GT(pairs.size(), 100u);
  for (const ordered& p : pairs) {
    EXPECT_EQ(SnakeCase(p["input"].get<std::string>()), p["expected"].get<std::string>())
        << p["input"] << " (" << p["source"] << ")";
  }
}

}  // namespace
}  // namespace backfill::ingest
