// DuckDB values in BigQuery's two JSON encodings, read from DuckDB's vectors by one walker:
// query results as JSON, so that every command printing rows (`sql`, `show`, previews,
// reports) hands scripts values they can parse back exactly; and the text of BigQuery's
// TO_JSON_STRING, as a DuckDB function the dialect translates TO_JSON_STRING to.
//
// In results, one cell becomes:
//   STRUCT -> object (field names as in the schema), ARRAY -> array (a NULL array is [], as
//   BigQuery has no NULL arrays), NULL -> null,
//   BOOL -> true/false, INT64 -> number when |v| <= 2^53 (exact in every JSON reader), else a
//   string of its digits, FLOAT64 -> number (NaN, Infinity, -Infinity as those strings, as
//   BigQuery's JSON does), NUMERIC/BIGNUMERIC -> string of the exact decimal, STRING -> string,
//   BYTES -> base64 string, DATE -> "YYYY-MM-DD", TIMESTAMP -> RFC 3339 UTC with microseconds
//   ("2020-03-17T01:02:03.000004Z"), DATETIME -> "YYYY-MM-DDTHH:MM:SS.ffffff",
//   TIME -> "HH:MM:SS.ffffff", JSON -> the JSON value itself, INTERVAL -> BigQuery's canonical
//   "Y-M D H:M:S.ffffff".
// TO_JSON_STRING writes what GoogleSQL's JSON encodings table documents
// (json_functions#json_encodings) and its reference implementation does (ZetaSQL's
// JsonFromValue), where that differs from the above: FLOAT64 as C's "%.15g", or "%.17g" when
// 15 digits do not read back the same double (1, -0, 1e+20, 0.1); NUMERIC/BIGNUMERIC as a
// number when integral and within +/-2^53, else a string; TIMESTAMP/DATETIME/TIME with no,
// 3 or 6 fractional digits, the fewest that keep the value ("2017-03-06T12:34:56Z",
// "...56.120Z"); INTERVAL as ISO 8601 ("P1Y2M3DT4H5M6.5S"); JSON with its keys sorted, as
// BigQuery stores it; strings escaping only '"', '\', U+0000..U+001F, U+2028 and U+2029.
// A NULL value is null (and a NULL ARRAY [], as in results: a table cannot hold one).
//
// Values are read from DuckDB's vectors directly, never through DuckDB's text form (which is
// ambiguous for nested values and loses nothing only by accident).
//
// Thread-safety: pure functions over a result the caller owns; the registered function keeps
// no state, so DuckDB may run it on any thread. No I/O.
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

// Registers `kToJsonStringFunction(ANY) -> VARCHAR` on the connection's database: BigQuery's
// TO_JSON_STRING of the value. A type with no BigQuery counterpart fails the query.
inline constexpr const char* kToJsonStringFunction = "bf_to_json_string";
Status RegisterToJsonString(duckdb_connection conn);

// A cell as one line of text for tables and CSV: strings as they are, NULL as `null_text`,
// everything else (numbers, nested values) as its compact JSON text.
std::string JsonCellText(const JsonValue& cell, const std::string& null_text);

}  // namespace backfill
