// Incident triage over error output: what failed, where, how often, and whether it is worth
// replaying. SummarizeErrors reads the files of either sink's error output (every line shape
// pubsub.h accepts, plain or gzip; input_file.h finds and reads them), groups the records by the
// dimensions asked for (table, day, hour, error_type, exception_class) and classifies each
// record by the first ErrorRule that matches its error attributes: infrastructure (rate limits,
// quota, timeouts, table lookups: the records were good, replay them) or data (parse, schema,
// size, decoding: they stay in error output), or unclassified when no rule matches (the raw
// ingestion-sink writes failed messages without any error attribute, so its error output is
// always unclassified).
//
// Streaming and parallel: each file is read line by line by one of `threads` workers, each
// with its own partial summary, merged at the end; memory is bounded by the number of groups
// and the caps below, not by the input size. Results do not depend on the thread count (the
// examples kept are the first ones in file order), except which distinct messages are kept
// once more than kMaxDistinctMessages occur.
//
// Thread-safety: free functions; SummarizeErrors runs its own threads. I/O: reads the input
// files (and, for LoadErrorRules, one TOML file).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/retry.h"
#include "core/status.h"
#include "core/time.h"
#include "ingest/pubsub.h"

namespace backfill::ingest {

enum class ErrorClass { kInfrastructure, kData, kUnclassified };
const char* ErrorClassName(ErrorClass c);  // "infrastructure", "data", "unclassified"
Result<ErrorClass> ParseErrorClass(std::string_view name);

// One classification rule: `contains` searched (ASCII case-insensitively) in an error
// attribute of the message, or in any of error_type, exception_class and error_message.
struct ErrorRule {
  std::string name;      // shown in the report: "default:rate-limit", "backfill.toml:my-rule"
  std::string field;     // "error_type", "exception_class", "error_message" or "any"
  std::string contains;  // non-empty; a message without error attributes matches no rule
  ErrorClass error_class = ErrorClass::kUnclassified;

  bool Matches(const PubsubMessage& m) const;
  // `name (field contains "text")`, how the report explains a decision.
  std::string Describe() const;
};

// The built-in rules, in the order they are tried (infrastructure first: a rate-limit message
// that mentions a payload is still a rate limit).
const std::vector<ErrorRule>& DefaultErrorRules();

// The rules of a TOML file's `[[triage.rules]]` array (keys name, field, contains, class), each
// named "<file name>:<name>"; empty when the file has no [triage] section. kInvalidArgument, with
// file and line, for a malformed rule. Such rules go before the defaults, so they override them.
Result<std::vector<ErrorRule>> LoadErrorRules(const std::filesystem::path& file);

// The dimensions a summary can group by.
enum class ErrorDimension { kTable, kDay, kHour, kErrorType, kExceptionClass };
const char* ErrorDimensionName(ErrorDimension d);  // "table", "day", "hour", "error_type", ...
// "table,day,error_type" -> dimensions; kInvalidArgument naming an unknown or repeated one.
Result<std::vector<ErrorDimension>> ParseErrorDimensions(std::string_view text);

struct ErrorSummaryOptions {
  std::vector<std::string> inputs;  // files, directories (recursed), glob patterns
  std::optional<DateRange> dates;   // only records whose submission_timestamp falls in these days
  std::vector<ErrorDimension> by = {ErrorDimension::kTable, ErrorDimension::kDay,
                                    ErrorDimension::kErrorType};
  std::vector<ErrorRule> rules;  // tried before DefaultErrorRules()
  int threads = 0;               // 0: std::thread::hardware_concurrency()
  RetryPolicy retry;
};

struct ErrorExample {
  std::string file;
  int64_t line = 0;
};

// One group: the values of the asked dimensions (in ErrorSummaryOptions::by order; "" for a
// dimension not asked), and the class and rule that decided its records. Records of one group
// key but different decisions are separate groups, so every group has one class.
struct ErrorGroup {
  std::vector<std::string>
      key;  // table "" = unrouted (no namespace/type/version), day/hour "" = no timestamp
  ErrorClass error_class = ErrorClass::kUnclassified;
  std::string rule;  // ErrorRule::Describe(), or why none applied
  int64_t records = 0;
  int64_t bytes = 0;  // of the NDJSON lines, newline included, uncompressed
};

struct ErrorMessageCount {
  std::string error_type, exception_class, error_message;  // "" when the attribute is absent
  ErrorClass error_class = ErrorClass::kUnclassified;
  std::string rule;
  int64_t records = 0;
  ErrorExample example;  // the first record with this message, in file order
};

struct UndecodableLine {
  std::string file;
  int64_t line = 0;
  std::string reason;
};

struct ErrorFileReport {
  std::string path;
  int64_t lines = 0;
  int64_t bytes = 0;    // of the file as stored (compressed when gzip)
  std::string problem;  // damage that ended the file early; "" when read to the end
};

struct ErrorSummary {
  static constexpr size_t kMaxDistinctMessages = 1000;
  static constexpr size_t kMaxUndecodable = 100;

  std::vector<ErrorDimension> by;
  std::vector<ErrorGroup> groups;            // sorted by key, then class and rule
  std::vector<ErrorMessageCount> messages;   // most frequent first
  int64_t other_messages = 0;                // records whose message did not fit in the cap
  std::vector<UndecodableLine> undecodable;  // the first kMaxUndecodable in file order
  int64_t undecodable_lines = 0;
  std::vector<ErrorFileReport> files;
  int64_t records = 0;  // decoded and inside --dates
  int64_t bytes = 0;
  int64_t outside_dates = 0;  // decoded, but no submission_timestamp inside `dates`
  int64_t beam_lines = 0, raw_lines = 0;
  int64_t per_class[3] = {0, 0, 0};  // records by ErrorClass
  double seconds = 0;
};

// Reads every file the inputs name. Errors: kNotFound for an input naming nothing, kInvalidArgument
// for bad options, I/O failures after retries. A damaged file is reported, not an error.
Result<ErrorSummary> SummarizeErrors(const ErrorSummaryOptions& options);

}  // namespace backfill::ingest
