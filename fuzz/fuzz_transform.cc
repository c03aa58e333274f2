// Fuzzes the payload -> row transform (ingest/transform.h) against real schemas: telemetry
// "main" (about 6,700 leaf fields) and a Glean "metrics" table from the reference corpus, or
// the smaller schemas of testdata/ when the corpus is not checked out. The input is the
// message payload (JSON, or gzip of it). Properties: nothing crashes; a record either fails
// with InvalidArgument (it goes to error output with that reason) or yields a row that reads
// back as JSON; additional_properties is a JSON object.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <simdjson.h>

#include "core/schema.h"
#include "fuzz/fuzz_check.h"
#include "ingest/row.h"
#include "ingest/transform.h"

using namespace backfill;
using namespace backfill::ingest;
namespace fs = std::filesystem;

namespace {

struct Target {
  std::string name;
  std::shared_ptr<const CompiledSchema> schema;
  std::vector<std::pair<std::string, std::string>> attributes;
};
std::vector<Target>* targets;

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void Load(const fs::path& path, const std::string& ns, const std::string& type) {
  if (!fs::exists(path)) return;
  auto parsed = ParseBqSchema(Slurp(path), path.filename().string());
  if (!parsed.ok()) {
    std::fprintf(stderr, "fuzz_transform: %s\n", parsed.status().ToString().c_str());
    std::abort();
  }
  targets->push_back({path.filename().string(),
                      CompiledSchema::Compile(parsed->fields),
                      {{"document_namespace", ns},
                       {"document_type", type},
                       {"document_version", "1"},
                       {"document_id", "6c49ec73-4350-45a0-9c8a-6c8f5aff0346"},
                       {"submission_timestamp", "2020-03-17T10:00:00.123456Z"},
                       {"sample_id", "42"},
                       {"normalized_channel", "release"},
                       {"geo_country", "DE"},
                       {"user_agent_browser", "Firefox"},
                       {"x_debug_id", "fuzz"},
                       {"app_name", "Firefox"}}});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  targets = new std::vector<Target>;
  fs::path corpus = BACKFILL_CORPUS_DIR;
  Load(corpus / "schemas/telemetry/main/main.5.bq", "telemetry", "main");
  Load(corpus / "schemas/firefox-desktop/metrics/metrics.1.bq", "firefox-desktop", "metrics");
  if (targets->empty()) {
    fs::path testdata = fs::path(BACKFILL_SOURCE_DIR) / "testdata/schemas";
    Load(testdata / "telemetry/event/event.4.bq", "telemetry", "event");
    Load(testdata / "contextual-services/topsites-click/topsites-click.1.bq", "contextual-services",
         "topsites-click");
  }
  if (targets->empty()) {
    std::fprintf(stderr, "fuzz_transform: no schema found under %s or testdata/\n", corpus.c_str());
    std::abort();
  }
  std::fprintf(stderr, "fuzz_transform: %zu schema(s), first %s\n", targets->size(),
               targets->front().name.c_str());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Transformer transformer;
  static simdjson::dom::parser check;
  PubsubMessage message;
  message.payload.assign(reinterpret_cast<const char*>(data), size);
  for (const Target& t : *targets) {
    message.attributes = t.attributes;
    for (bool strict : {false, true}) {
      TransformOptions options;
      options.strict_schema = strict;
      Status s = transformer.TransformMessage(*t.schema, message, options);
      if (!s.ok()) {
        FUZZ_CHECK(s.code() == StatusCode::kInvalidArgument, s.ToString());
        FUZZ_CHECK(!s.message().empty(), "a failed record needs a reason");
        continue;
      }
      std::string json = RowToJson(transformer.row().root(), t.schema->fields());
      simdjson::dom::element e;
      FUZZ_CHECK(!check.parse(json).get(e), "RowToJson wrote invalid JSON: " + json.substr(0, 200));
      if (auto ap = transformer.additional_properties()) {
        simdjson::dom::object o;
        FUZZ_CHECK(
            !check.parse(std::string(*ap)).get(o),
            "additional_properties is not a JSON object: " + std::string(ap->substr(0, 200)));
      }
      FUZZ_CHECK(strict == !transformer.additional_properties().has_value(), t.name);
    }
  }
  (void)RawFormatJson(message);
  (void)DecodedFormatJson(message);
  return 0;
}
