// PubsubMessage and its NDJSON forms, as gcp-ingestion writes files and error output. One JSON
// object per line, in one of two shapes (told apart per line, so files may mix them):
//   beam  `{"attributeMap":{"k":"v",...},"payload":"<base64>"}`: the Beam pipelines' files and
//         error output (the Beam Sink's failed messages carry error_type, error_message,
//         exception_class, stack_trace[_cause_N] attributes), and ingestion-sink with
//         OUTPUT_FORMAT=beam. `attributeMap` may be null, `{}` or missing; `payload` null, ""
//         or missing.
//   raw   `{"k":"v",...,"payload":"<base64>"}`: ingestion-sink's default OUTPUT_FORMAT (its
//         error output is the failed message unchanged, without error attributes), and what
//         `bq extract` writes from the payload_bytes_* tables. Every top-level key but
//         `payload` is an attribute; `payload` is always the payload (the reference writes it
//         after the attributes, so an attribute named "payload" cannot survive), and is absent
//         when empty. A line without `attributeMap` is raw.
// In raw lines an attribute in BigQuery's JSON-export form of a TIMESTAMP ("2020-03-17
// 10:00:00.123456 UTC", as `bq extract` writes submission_timestamp) is read as the pipeline's
// form ("2020-03-17T10:00:00.123456Z"); nothing else is rewritten.
//
// Also the error-output conventions of the reference sink: the four error attributes added
// to a failed message, Pub/Sub's size limits on attribute keys (256 bytes) and values (1024
// bytes, cut on a UTF-8 boundary and ended with "..."), and the error-output folder layout
// `<prefix>/error/<YYYY-MM-DD>/<HH>/` keyed by the submission_timestamp attribute.
//
// Thread safety: free functions are thread-safe; a PubsubLineParser is used by one thread at a
// time (it owns a simdjson parser reused across lines). No I/O.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "core/status.h"

namespace backfill::ingest {

struct PubsubMessage {
  // In input order, keys unique. A handful per message, so a vector beats a map.
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string payload;  // the decoded bytes (possibly gzip)

  // nullptr when absent.
  const std::string* FindAttribute(std::string_view key) const;
  // Replaces the value of an existing key or appends a new one.
  void SetAttribute(std::string_view key, std::string_view value);
  bool operator==(const PubsubMessage&) const = default;
};

enum class LineFormat {
  kWrapped,  // every line is a PubsubMessage, beam or raw
  kAuto,     // a JSON object without attributeMap/payload keys is a bare payload document
};

// The shape of the last line parsed.
enum class LineShape { kBeam, kRaw, kBare };
const char* LineShapeName(LineShape shape);  // "beam", "raw", "bare"

class PubsubLineParser {
 public:
  PubsubLineParser() = default;
  PubsubLineParser(const PubsubLineParser&) = delete;
  PubsubLineParser& operator=(const PubsubLineParser&) = delete;

  // Parses one line (without its newline) into `out`, reusing its storage. The error says
  // what is wrong: "not valid JSON: ...", "attributeMap must be an object or null", "invalid
  // base64 at byte 3: ...". Numeric or boolean attribute values become their JSON text.
  Status Parse(std::string_view line, PubsubMessage* out, LineFormat format = LineFormat::kWrapped);
  // The shape of the line last parsed successfully.
  LineShape shape() const { return shape_; }

 private:
  simdjson::dom::parser parser_;
  std::string buffer_;  // the line plus simdjson's padding
  LineShape shape_ = LineShape::kBeam;
};

// Convenience wrapper with a thread-local parser; `shape`, when given, gets the line's shape.
Result<PubsubMessage> ParsePubsubLine(std::string_view line,
                                      LineFormat format = LineFormat::kWrapped,
                                      LineShape* shape = nullptr);

// One line in the raw shape, as ingestion-sink writes it: the attributes as top-level fields
// in their order, then "payload" (left out when empty; an attribute named "payload" is lost,
// as in the reference).
std::string SerializeRawPubsubLine(const PubsubMessage& message);

// One NDJSON line (no newline), as the reference writes error output: attributes sorted by
// key, both keys always present (`{"attributeMap":{},"payload":""}` for an empty message).
std::string SerializePubsubLine(const PubsubMessage& message);

// `s` when it fits in `max_bytes`, else its longest prefix that ends on a UTF-8 character
// boundary and leaves room for "...", followed by "...".
std::string TruncateUtf8(std::string_view s, size_t max_bytes);

inline constexpr size_t kMaxAttributeKeyBytes = 256;
inline constexpr size_t kMaxAttributeValueBytes = 1024;
// Applies Pub/Sub's attribute limits to every key and value, as the reference does before
// publishing.
void ApplyPubsubConstraints(PubsubMessage* message);

struct ErrorInfo {
  std::string error_type;       // the step that failed, e.g. "Transform"
  std::string error_message;    // why, e.g. "payload is not a JSON object"
  std::string exception_class;  // the reference puts a Java class here; we name the Status code
  std::string stack_trace;      // free text; may be empty
};

// The message with error_type, error_message, exception_class and stack_trace attributes
// added (replacing earlier ones), each cut to kMaxAttributeValueBytes.
PubsubMessage WithErrorAttributes(PubsubMessage message, const ErrorInfo& error);
inline std::string ErrorOutputLine(const PubsubMessage& message, const ErrorInfo& error) {
  return SerializePubsubLine(WithErrorAttributes(message, error));
}

// The placeholder folder used for the date and the hour when submission_timestamp is missing
// or malformed (gcp-ingestion's path templates write `${submission_date:-NULL}`).
inline constexpr std::string_view kMissingPathPlaceholder = "NULL";
// "<prefix>/error/2018-03-12/21/" from submission_timestamp "2018-03-12T21:02:18.123456Z";
// "<prefix>/error/NULL/NULL/" without one. `prefix` has no trailing slash.
std::string ErrorOutputFolder(std::string_view prefix, const PubsubMessage& message);

}  // namespace backfill::ingest
