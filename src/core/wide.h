// Wide tables: which columns of a very wide schema are stored as one text column each, and
// the SQL that encodes native values into that text and decodes it back.
//
// DuckDB 1.4 commits native STRUCT columns with thousands of leaves slowly and with much memory
// (telemetry main_v5 has ~6,700 leaf columns). A table whose schema has at least
// `table_leaves` leaves is *wide*: each of its top-level RECORD columns with at least
// `column_leaves` leaves is stored as VARCHAR holding the *wide encoding* of the value, and the
// table's view decodes it back to the exact DuckDB type, so readers see the same rows.
//
// The wide encoding of a value is JSON whose structure follows the field (objects for RECORDs,
// arrays for REPEATED) and whose leaves are JSON strings (or null) holding the text that
// DuckDB's VARCHAR -> type cast reads back exactly: the text of DuckDB's own type -> VARCHAR
// cast (INT64 digits, FLOAT64 shortest round-trip incl. "nan", "inf", "-inf", "-0.0",
// NUMERIC/BIGNUMERIC decimal digits, BYTES as DuckDB blob text with \xNN escapes, TIMESTAMP
// "YYYY-MM-DD HH:MM:SS[.ffffff]+00", DATE "YYYY-MM-DD", JSON as its text, ...). A NULL RECORD
// or list is null or absent; a RECORD whose fields are all NULL is an object; an empty list is
// []. Decoding is `CAST(json_transform(text, <structure with VARCHAR leaves>) AS <type>)`, and
// encoding `CAST(to_json(CAST(value AS <type with VARCHAR leaves>)) AS VARCHAR)`: both are
// plain DuckDB SQL, so the views work in the stock duckdb shell. Writers that build rows
// themselves (the sink, ingest/row_writer.h) write the same text directly.
//
// Pure functions, no I/O; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/schema.h"

namespace backfill {

struct WideThresholds {
  // Measured, see README ("The warehouse"): the corpus' structured tables have <= 350 leaves,
  // main_v5 6,716 and Glean metrics_v1 9,220..10,203.
  static constexpr int kDefaultTableLeaves = 1000;
  static constexpr int kDefaultColumnLeaves = 100;
  int table_leaves = kDefaultTableLeaves;
  int column_leaves = kDefaultColumnLeaves;
};

// Number of leaf (non-RECORD) fields under a field; 1 for a leaf itself.
size_t FieldLeafCount(const Field& field);

// The top-level columns of `schema` stored wide-encoded, in schema order (empty for a table
// that is not wide).
std::vector<std::string> EncodedColumns(const Schema& schema, const WideThresholds& thresholds);

// The storage column list of a CREATE TABLE: DuckDbColumnList() with VARCHAR for the encoded
// columns.
std::string StoredColumnList(const Schema& schema, const std::vector<std::string>& encoded);

// SQL decoding the stored text `text_sql` of `field` to its DuckDB type (DuckDbType(field)).
std::string WideDecodeSql(const Field& field, std::string_view text_sql);
// SQL encoding the native value `value_sql` of `field` into its wide-encoded text.
std::string WideEncodeSql(const Field& field, std::string_view value_sql);

}  // namespace backfill
