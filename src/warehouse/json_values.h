// Query results as JSON in BigQuery's JSON encoding, so that every command printing rows
// (`sql`, `show`, previews, reports) hands scripts values they can parse back exactly.
//
// One cell becomes:
//   STRUCT -> object (field names as in the schema), ARRAY -> array (a NULL array is [], as
//   BigQuery has no NULL arrays), NULL -> null,
//   BOOL -> true/false, INT64 -> number when |v| <= 2^53 (exact in every JSON reader), else a
//   string of its digits, FLOAT64 -> number (NaN, Infinity, -Infinity as those strings, as
//   BigQuery's JSON does), NUMERIC/BIGNUMERIC -> string of the exact decimal, STRING -> string,
//   BYTES -> base64 string, DATE -> "YYYY-MM-DD", TIMESTAMP -> RFC 3339 UTC with microseconds
//   ("2020-03-17T01:02:03.000004Z"), DATETIME -> "YYYY-MM-DDTHH:MM:SS.ffffff",
//   TIME -> "HH:MM:SS.ffffff", JSON -> the JSON value itself, INTERVAL -> BigQuery's canonical
//   "Y-M D H:M:S.ffffff".
// Values are read from DuckDB's vectors directly, never through DuckDB's text form (which is
// ambiguous for nested values and loses nothing only by accident).
//
// Thread-safety: pure functions over a result the caller owns. No I/O.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/status.h"
#include "warehouse/duckdb.h"

namespace backfill {

using JsonValue = nlohmann::ordered_json;

// Every row of `result` as a JSON array of cells, in column order. Fails naming the column
// when a column has a DuckDB type BigQuery has no counterpart for (MAP, UNION, ...).
Result<std::vector<std::vector<JsonValue>>> ResultRowsAsJson(QueryResult& result);

// A cell as one line of text for tables and CSV: strings as they are, NULL as `null_text`,
// everything else (numbers, nested values) as its compact JSON text.
std::string JsonCellText(const JsonValue& cell, const std::string& null_text);

}  // namespace backfill
