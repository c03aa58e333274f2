// The payload -> row transform for a BigQuery schema, as the reference sink does it
// (gcp-ingestion `PubsubMessageToObjectNode`, formats Payload, Raw and Decoded).
//
// Payload format, in short: JSON field names are matched to columns exactly or after
// conversion to BigQuery names (snake_case, "_" before a leading digit); JSON objects for
// REPEATED RECORD<key, value> columns become key/value lists; arrays for RECORD columns are
// tuples (element i -> field "f{i}_"); values are coerced (anything -> STRING as compact
// JSON, bool -> INT64 0/1, ...); whatever fits nowhere goes, under its original name and
// nested like the input, to the `additional_properties` JSON string (unless strict). Nulls
// and empty containers remove the field. The payload's own top-level "metadata" object is
// passed through untransformed; metadata columns (submission_timestamp, document_id,
// sample_id, normalized_*, metadata.geo/isp/user_agent/header/uri) are otherwise filled from
// the message attributes, as the reference decoder merges them into the payload.
//
// The output is a `Row` (see row.h) whose records are positional in schema order.
//
// Where this differs from the reference, knowingly:
// - Values BigQuery would reject (a scalar for a RECORD column, an object for TIMESTAMP,
//   an uncoercible element of a REPEATED column) fail the record here with a reason; the
//   reference throws or fails at insert time. Either way the record goes to error output.
// - Integers beyond 64 bits are a JSON error (simdjson); Jackson would read a BigInteger.
// - Exact duplicate keys in one JSON object are processed in order (the last value wins for
//   the column); Jackson keeps only the last value, at the first key's position.
// - When two keys normalize to the same nested-list column and the renamed one comes first,
//   the reference re-expands the expanded list and moves it to additional_properties; we keep
//   the expanded list.
// - Payload metadata keys and attributes with no metadata column are skipped.
//
// Per-record costs: parsing (simdjson DOM), one hash look-up per JSON key (cached per
// transformer, see `resolved_`), and serializing every value that becomes JSON text (values
// of STRING columns that are not strings, histograms, JSON columns, additional_properties).
// For telemetry "main" pings that text is most of the document, so the transform costs about
// as much again as the parse.
//
// Thread safety: CompiledSchema is immutable and may be shared by threads; a Transformer is
// used by one thread at a time and reuses its parser, row and scratch space across records.
// No I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "core/schema.h"
#include "core/status.h"
#include "ingest/payload.h"
#include "ingest/pubsub.h"
#include "ingest/row.h"

namespace backfill::ingest {

// gcp-ingestion's SnakeCase.format: "activeGMPlugins" -> "active_gm_plugins". The same
// function normalizes namespace and doc type names for schema lookup.
std::string SnakeCase(std::string_view name);
// SnakeCase plus a leading "_" when the name starts with a digit: "64bit" -> "_64bit".
std::string ConvertNameForBq(std::string_view name);

// A table schema prepared for the transform: per record, the name -> position index and the
// shapes the transform asks about (map, nested list, coercion type). Build once per table.
class CompiledSchema {
 public:
  // `encoded`: the top-level columns the table stores wide-encoded (core/wide.h); the JSON
  // text the transform makes for STRING fields inside them goes into the row as JSON literals
  // (Row::AddStringWith), which only the wide encoding reads.
  static std::shared_ptr<const CompiledSchema> Compile(
      std::vector<Field> fields, const std::vector<std::string>& encoded = {});

  const std::vector<Field>& fields() const { return fields_; }

  // Internal layout, used by Transformer.
  enum class ScalarType : uint8_t { kString, kInt64, kFloat64, kBool, kJson, kOther };
  struct Record;
  struct FieldInfo {
    const Field* field = nullptr;
    const Record* record = nullptr;  // sub-fields of a RECORD field
    ScalarType scalar = ScalarType::kOther;
    bool is_record = false;
    bool repeated = false;
    bool is_map = false;  // REPEATED RECORD of (key, value) or (key)
    bool map_has_value = false;
    bool nested_list = false;   // REPEATED RECORD of a single REPEATED field "list"
    bool use_counter2 = false;  // BigQuery name starts with "use_counter2"
    bool in_encoded = false;    // inside a wide-encoded top-level column
  };
  struct Record {
    uint64_t uid = 0;  // unique across all compiled schemas of the process (cache key)
    std::vector<FieldInfo> fields;
    std::unordered_map<std::string_view, uint32_t> by_name;
    // Index of "url2", "text2", "jwe2", "labeled_rate2" in this record, or -1 (bug 1737656).
    int32_t alt_index[4] = {-1, -1, -1, -1};
    int32_t Find(std::string_view name) const {
      auto it = by_name.find(name);
      return it == by_name.end() ? -1 : static_cast<int32_t>(it->second);
    }
  };
  const Record& root() const { return *records_.front(); }

 private:
  CompiledSchema() = default;
  const Record* Build(const std::vector<Field>& fields, const std::vector<std::string>* encoded,
                      bool in_encoded);

  std::vector<Field> fields_;
  std::vector<std::unique_ptr<Record>> records_;
};

struct TransformOptions {
  // No additional_properties: values that fit nowhere are dropped (the reference's
  // strictSchemaDocTypes).
  bool strict_schema = false;
  // Fill metadata columns from the message attributes.
  bool metadata_from_attributes = true;
};

using Attributes = std::span<const std::pair<std::string, std::string>>;

class Transformer {
 public:
  Transformer() = default;
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;

  // Payload format for a whole message: gunzip, parse, transform. A failed Status is a
  // record-level problem (bad payload, value BigQuery could not take) whose message says why.
  // `inflated`: the payload already gunzipped (PayloadDecoder::DecodeObject).
  Status TransformMessage(const CompiledSchema& schema, const PubsubMessage& message,
                          const TransformOptions& options = {},
                          const InflatedPayload* inflated = nullptr);
  // The same from an already parsed payload object.
  Status TransformPayload(const CompiledSchema& schema, Attributes attributes,
                          simdjson::dom::object payload, const TransformOptions& options = {});
  // Only the recursive field transform (the reference's transformForBqSchema): no metadata
  // handling, no additional_properties column; additional_properties() gives the leftovers.
  Status TransformObject(const CompiledSchema& schema, simdjson::dom::object object,
                         bool strict_schema);

  // Results of the last successful call, valid until the next one.
  const Row& row() const { return row_; }
  // The leftover object as compact JSON ("{}" when nothing was left), or nullopt when strict.
  std::optional<std::string_view> additional_properties() const {
    if (!has_additional_properties_) return std::nullopt;
    return std::string_view(ap_out_);
  }
  // The payload's top-level "metadata" as JSON text, when the schema had no metadata column
  // to hold it (the reference passes it through into the row).
  std::optional<std::string_view> passthrough_metadata() const {
    if (!has_passthrough_metadata_) return std::nullopt;
    return std::string_view(passthrough_metadata_);
  }

 private:
  using Record = CompiledSchema::Record;
  using FieldInfo = CompiledSchema::FieldInfo;
  static constexpr uint32_t kAbsent = UINT32_MAX;

  void Reset();
  size_t PushSlots(size_t n);
  void PopSlots(size_t base);
  bool AllNull(size_t base, size_t n) const;
  void VisitObject(const Record& rec, size_t base, simdjson::dom::object obj, bool ap, int* entries,
                   simdjson::dom::element* metadata, bool* has_metadata);
  // `resolved`: Resolve(rec, key).
  bool VisitKey(const Record& rec, size_t base, std::string_view key, simdjson::dom::element value,
                bool ap, std::pair<int32_t, bool> resolved);
  uint32_t ProcessField(const FieldInfo& f, simdjson::dom::element value, bool ap, bool* wrote);
  uint32_t TransformRecord(const Record& rec, simdjson::dom::object obj, bool ap, bool* wrote);
  uint32_t ProcessTuple(const Record& rec, simdjson::dom::array tuple, bool ap, bool* wrote,
                        bool keep_empty);
  uint32_t ExpandMap(const FieldInfo& f, simdjson::dom::object obj, bool ap, bool* wrote);
  uint32_t ExpandNestedList(const FieldInfo& f, simdjson::dom::array arr, bool ap, bool* wrote);
  uint32_t RepeatedRecord(const FieldInfo& f, simdjson::dom::element value, bool ap, bool* wrote);
  template <typename Range>
  uint32_t RepeatedElements(const FieldInfo& f, const Range& elements, bool ap, bool* wrote);
  uint32_t Coerce(const FieldInfo& f, simdjson::dom::element value, bool ap, bool* wrote);
  uint32_t CoerceSingle(const FieldInfo& f, simdjson::dom::element value, bool* no_coercion);
  uint32_t HistogramToString(const FieldInfo& f, simdjson::dom::object histogram);
  // A STRING field's value (an element or an object) as its JSON text (Jackson's form).
  template <typename Value>
  uint32_t AddJsonText(const FieldInfo& f, Value value);
  uint32_t EmptyRecord(const Record& rec);
  // Ends a list whose items were pushed from `items_base`: the list (when it has items, or
  // `keep_empty`), and, with `ap`, the additional_properties text begun at `mark`, closed with
  // `close` when something went into it and rolled back otherwise.
  uint32_t EndList(size_t items_base, bool keep_empty, bool ap, size_t mark, bool wrote_any,
                   char close, bool* wrote);
  uint32_t PassThroughRecord(const Record& rec, simdjson::dom::object obj);
  uint32_t MetadataFromAttributes(const Record& rec, Attributes attributes);
  // Resolves a JSON key to a field of `rec`: {index or -1, whether the name matched exactly}.
  std::pair<int32_t, bool> Resolve(const Record& rec, std::string_view key);
  std::pair<int32_t, bool> ResolveUncached(const Record& rec, std::string_view key);
  const std::string& BqName(std::string_view key);
  void Fail(Status status);
  // Writes `"key":` (after a ',' unless first) to ap_ before it is known whether the key's
  // value is left over, which most are not: unescaped, so a key that goes away costs a copy.
  // Returns where it begins; KeepApKey escapes the key there when it stays.
  size_t BeginApKey(std::string_view key, int* entries);
  void KeepApKey(size_t at, std::string_view key);

  PayloadDecoder decoder_;
  Row row_;
  // Node indices under construction: each record level owns a run of `slots_`, each list a
  // run of `items_`; `done_` marks slots written by a renamed key in the current object.
  std::vector<uint32_t> slots_;
  std::vector<uint8_t> done_;
  std::vector<uint32_t> items_;
  std::string ap_;  // additional_properties text being written
  std::string ap_out_;
  std::string passthrough_metadata_;
  bool has_additional_properties_ = false;
  bool has_passthrough_metadata_ = false;
  Status error_;
  bool failed_ = false;
  // The reference's normalizedNameCache: JSON name -> BigQuery name, bounded.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> name_cache_;
  // (record, JSON key) -> Resolve() result: one hash look-up per key instead of up to three.
  struct ResolvedKey {
    uint64_t record_uid;
    std::string key;
  };
  struct ResolvedKeyView {
    uint64_t record_uid;
    std::string_view key;
  };
  struct ResolvedHash {
    using is_transparent = void;
    size_t operator()(const ResolvedKeyView& k) const {
      return std::hash<std::string_view>{}(k.key) ^ (k.record_uid * 0x9E3779B97F4A7C15ULL);
    }
    size_t operator()(const ResolvedKey& k) const {
      return (*this)(ResolvedKeyView{k.record_uid, k.key});
    }
  };
  struct ResolvedEq {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return a.record_uid == b.record_uid && std::string_view(a.key) == std::string_view(b.key);
    }
  };
  std::unordered_map<ResolvedKey, std::pair<int32_t, bool>, ResolvedHash, ResolvedEq> resolved_;
  // Per record (by uid): the keys of its last object, in order, with their Resolve() results.
  // The objects of one record mostly repeat the same keys in the same order, so the key at the
  // same position is compared first: one comparison instead of a hash look-up per key, which
  // was a tenth of the decoding of a main ping.
  struct KeyMemo {
    std::vector<std::pair<std::string, std::pair<int32_t, bool>>> keys;
  };
  std::unordered_map<uint64_t, KeyMemo> key_memos_;
};

// Raw format: every attribute as a top-level string, the payload bytes as base64 "payload"
// (left out when empty). Compact JSON text.
std::string RawFormatJson(const PubsubMessage& message);
// Decoded format: attributes nested into "metadata" (geo_*, isp_*, user_agent_* prefixes
// stripped; header attributes; uri attributes only for namespace telemetry), the top-level
// metadata fields, sample_id as an integer, base64 "payload" and client_id.
std::string DecodedFormatJson(const PubsubMessage& message);

}  // namespace backfill::ingest
