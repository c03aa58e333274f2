// BigQuery functions that DuckDB has under another name or with other edge cases, rewritten
// once their arguments are translated (bq_sql.cc parses the call, this decides what it
// becomes). Each rewrite keeps BigQuery's result for the cases BigQuery documents, NULLs and
// no-match cases included; what cannot keep it (a non-literal format, a format element DuckDB
// lacks) is refused. Internal to the dialect layer. Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace backfill::bq_sql_internal {

// Whether `upper` is one of the functions below.
bool IsDialectFunction(std::string_view upper);

// DuckDB SQL for `upper(args...)`, the arguments already DuckDB SQL (string literals as
// QuoteString writes them). An error's message names what is unsupported, e.g.
// "FORMAT_DATE with format element %Q"; the caller adds the position.
Result<std::string> DialectFunction(std::string_view upper, const std::vector<std::string>& args);

}  // namespace backfill::bq_sql_internal
