// BigQuery table schemas, as read from `.bq` files (a JSON array of fields with
// name/type/mode/fields/description), and their mapping onto DuckDB column types.
//
// RECORD -> STRUCT, REPEATED -> LIST, TIMESTAMP -> TIMESTAMPTZ, ...; column order is kept.
// Pure values, no I/O: callers read the file and pass its text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace backfill {

enum class FieldType {
  kString,
  kBytes,
  kInt64,
  kFloat64,
  kNumeric,
  kBigNumeric,
  kBool,
  kTimestamp,
  kDate,
  kTime,
  kDatetime,
  kGeography,
  kJson,
  kInterval,
  kRecord,
};
enum class FieldMode { kNullable, kRequired, kRepeated };

struct Field {
  std::string name;
  FieldType type = FieldType::kString;
  FieldMode mode = FieldMode::kNullable;
  std::vector<Field> fields;  // for kRecord
  std::string description;

  // Equal in name, type, mode and sub-fields; descriptions do not matter.
  bool SameShape(const Field& other) const;
};

struct Schema {
  std::vector<Field> fields;

  const Field* Find(std::string_view name) const;
  // A nested field by its dotted path ("metadata.geo.city"), through non-repeated records only.
  const Field* FindPath(std::string_view path) const;
  bool SameShape(const Schema& other) const;
  size_t LeafCount() const;
};

// Parses a `.bq` document. `origin` (usually the file name) prefixes error messages, which
// also name the field path, e.g. "main.5.bq: payload.histograms.x: unknown type 'INTEGR'".
Result<Schema> ParseBqSchema(std::string_view json, std::string_view origin);
// Writes the schema back as `.bq` JSON (two-space indented, fields in order).
std::string SchemaToBqJson(const Schema& schema);

// BigQuery type names ("INT64" and legacy "INTEGER" alike) <-> FieldType.
Result<FieldType> ParseFieldType(std::string_view name);
const char* FieldTypeName(FieldType type);  // the standard SQL name, e.g. "INT64"

// The DuckDB type of one field, with its mode applied: REPEATED INT64 -> "BIGINT[]".
std::string DuckDbType(const Field& field);
// "\"a\" BIGINT, \"b\" STRUCT(\"c\" VARCHAR)[]" - the column list of a CREATE TABLE.
std::string DuckDbColumnList(const Schema& schema);
// The GoogleSQL type of one field, for rendering DDL for BigQuery: "ARRAY<STRUCT<a INT64>>".
std::string GoogleSqlType(const Field& field);

// Describes how two schemas differ, one line per difference ("added column x",
// "column y: INT64 -> STRING"); empty when they have the same shape.
std::vector<std::string> DiffSchemas(const Schema& before, const Schema& after);

// A double-quoted SQL identifier (quotes inside doubled).
std::string QuoteIdent(std::string_view name);
// A single-quoted SQL string literal.
std::string QuoteString(std::string_view value);

}  // namespace backfill
