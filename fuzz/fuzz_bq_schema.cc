// Fuzzes `.bq` schema files (core/schema.h). Properties: nothing crashes and nothing throws; a
// schema that parses writes back as `.bq` JSON that parses to the same shape, differs from
// itself in nothing, and maps onto DuckDB and GoogleSQL column types.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/schema.h"
#include "fuzz/fuzz_check.h"

using namespace backfill;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto schema = ParseBqSchema(text, "fuzz.bq");
  if (!schema.ok()) {
    FUZZ_CHECK(schema.status().code() == StatusCode::kInvalidArgument, schema.status().ToString());
    FUZZ_CHECK(schema.status().message().starts_with("fuzz.bq:"), schema.status().message());
    return 0;
  }
  std::string written = SchemaToBqJson(*schema);
  auto again = ParseBqSchema(written, "written.bq");
  FUZZ_CHECK(again.ok(), "written schema does not parse: " + again.status().ToString());
  FUZZ_CHECK(again->SameShape(*schema), "schema changed shape in a round trip");
  FUZZ_CHECK(DiffSchemas(*schema, *again).empty(), "a schema differs from its round trip");
  FUZZ_CHECK(again->LeafCount() == schema->LeafCount(), "leaf count changed");
  FUZZ_CHECK(!DuckDbColumnList(*schema).empty(), "empty DuckDB column list");
  for (const Field& f : schema->fields) FUZZ_CHECK(!GoogleSqlType(f).empty(), f.name);
  return 0;
}
