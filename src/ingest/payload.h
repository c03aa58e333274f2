// Payload bytes: base64 (as PubsubMessage NDJSON carries them), gzip, and the JSON document.
//
// Every failure here is a record-level problem: the Status message says what is wrong with
// this record ("invalid base64 at byte 12: '%'", "truncated gzip payload", "payload is not a
// JSON object") and is meant for the error_message attribute of an error-output line.
// Statuses use StatusCode::kInvalidArgument, never kUnavailable.
//
// Thread safety: the free functions are thread-safe; a PayloadDecoder is used by one thread
// at a time (it owns its simdjson parser and buffers, reused across records). No I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "core/status.h"

namespace backfill::ingest {

// The largest record (after gunzip) accepted; BigQuery rejects larger rows anyway.
inline constexpr size_t kMaxRecordBytes = 10 * 1024 * 1024;

// Decodes standard-alphabet base64 as java.util.Base64.getDecoder() does: '=' padding is
// optional, but if present it must be complete and end the input; no whitespace; a final
// unit of a single character is an error. Appends to `out` (cleared first).
Status Base64Decode(std::string_view in, std::string* out);
// Standard base64 with padding.
std::string Base64Encode(std::string_view in);
void Base64EncodeTo(std::string_view in, std::string* out);

// True when `bytes` starts with the gzip magic (1f 8b).
bool IsGzip(std::string_view bytes);
// Decompresses a gzip stream (one or more members) into `out`, growing the buffer as needed.
// Fails with "record larger than 10485760 bytes" when the result would exceed `max_bytes`.
Status Gunzip(std::string_view in, std::string* out, size_t max_bytes = kMaxRecordBytes);

// A gzip payload gunzipped ahead of its decoding, by another thread (the sink's reading thread,
// which has spare time while one decoder is the bottleneck). `status` is what Gunzip said;
// `json` keeps simdjson's padding as spare capacity, so the decoder parses it in place.
struct InflatedPayload {
  bool done = false;  // false: the payload was not gzip, or was not inflated ahead
  Status status;
  std::string json;
};
// Gunzips `bytes` into `out` when they are gzip (out->done says whether it did).
void InflateAhead(std::string_view bytes, InflatedPayload* out, size_t max_bytes = kMaxRecordBytes);

// Turns raw message bytes into a parsed JSON object: gunzip when the bytes are gzip, size
// check, parse with simdjson, object check. The returned object points into the decoder's
// buffers and is valid until the next call.
class PayloadDecoder {
 public:
  explicit PayloadDecoder(size_t max_bytes = kMaxRecordBytes) : max_bytes_(max_bytes) {}
  PayloadDecoder(const PayloadDecoder&) = delete;
  PayloadDecoder& operator=(const PayloadDecoder&) = delete;

  // `bytes` are the message payload bytes (already base64-decoded); `inflated`, when done, is
  // what InflateAhead made of them, so they are not gunzipped again (the result is the same).
  Result<simdjson::dom::object> DecodeObject(std::string_view bytes,
                                             const InflatedPayload* inflated = nullptr);
  // The uncompressed JSON text of the last DecodeObject call.
  std::string_view last_json() const { return json_view_; }

 private:
  size_t max_bytes_;
  simdjson::dom::parser parser_;
  InflatedPayload gunzipped_;
  std::string_view json_view_;
};

}  // namespace backfill::ingest
