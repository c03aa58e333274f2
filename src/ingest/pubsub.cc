#include "ingest/pubsub.h"

#include <algorithm>

#include <fmt/format.h>

#include "ingest/json_text.h"
#include "ingest/payload.h"

namespace backfill::ingest {

const std::string* PubsubMessage::FindAttribute(std::string_view key) const {
  for (const auto& [k, v] : attributes) {
    if (k == key) return &v;
  }
  return nullptr;
}

void PubsubMessage::SetAttribute(std::string_view key, std::string_view value) {
  for (auto& [k, v] : attributes) {
    if (k == key) {
      v.assign(value);
      return;
    }
  }
  attributes.emplace_back(std::string(key), std::string(value));
}

namespace {

std::string_view TrimJsonSpace(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// One attribute value: strings as they are, numbers and booleans as their text (Jackson keeps
// a number's text for a String map value; a fraction is written in Java's shortest form, "1.50"
// becomes "1.5"), null as no attribute.
Status SetAttributeValue(std::string_view key, simdjson::dom::element v, PubsubMessage* out) {
  using simdjson::dom::element_type;
  switch (v.type()) {
    case element_type::STRING:
      out->SetAttribute(key, std::string_view(v));
      return Status::Ok();
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: {
      std::string text;
      AppendJacksonJson(&text, v);
      out->SetAttribute(key, text);
      return Status::Ok();
    }
    case element_type::BOOL:
      out->SetAttribute(key, bool(v) ? "true" : "false");
      return Status::Ok();
    case element_type::NULL_VALUE:
      return Status::Ok();  // a null value is no attribute
    default:
      return InvalidArgument(
          fmt::format("attribute '{}' must be a string, not an object or array", key));
  }
}

Status ParseAttributeMap(simdjson::dom::element value, PubsubMessage* out) {
  using simdjson::dom::element_type;
  if (value.type() == element_type::NULL_VALUE) return Status::Ok();
  if (value.type() != element_type::OBJECT) {
    return InvalidArgument("attributeMap must be an object or null");
  }
  for (auto field : simdjson::dom::object(value)) {
    BF_RETURN_IF_ERROR(SetAttributeValue(field.key, field.value, out));
  }
  return Status::Ok();
}

bool Digits(std::string_view s, size_t from, size_t n) {
  if (from + n > s.size()) return false;
  for (size_t i = from; i < from + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// "2020-03-17 10:00:00[.ffffff] UTC" (BigQuery's JSON export of a TIMESTAMP) as
// "2020-03-17T10:00:00[.ffffff]Z"; anything else unchanged.
void NormalizeExportedTimestamp(std::string* value) {
  std::string_view v(*value);
  if (v.size() < 23 || !v.ends_with(" UTC")) return;
  if (!Digits(v, 0, 4) || v[4] != '-' || !Digits(v, 5, 2) || v[7] != '-' || !Digits(v, 8, 2) ||
      v[10] != ' ' || !Digits(v, 11, 2) || v[13] != ':' || !Digits(v, 14, 2) || v[16] != ':' ||
      !Digits(v, 17, 2)) {
    return;
  }
  std::string_view fraction = v.substr(19, v.size() - 4 - 19);
  if (!fraction.empty() &&
      (fraction[0] != '.' || !Digits(fraction, 1, fraction.size() - 1) || fraction.size() == 1)) {
    return;
  }
  std::string out(v.substr(0, 10));
  out.push_back('T');
  out.append(v.substr(11, 8));
  out.append(fraction);
  out.push_back('Z');
  *value = std::move(out);
}

Status ParsePayloadField(simdjson::dom::element value, PubsubMessage* out) {
  using simdjson::dom::element_type;
  if (value.type() == element_type::NULL_VALUE) {
    out->payload.clear();
    return Status::Ok();
  }
  if (value.type() != element_type::STRING) {
    return InvalidArgument("payload must be a base64 string or null");
  }
  Status s = Base64Decode(std::string_view(value), &out->payload);
  if (!s.ok()) return s.WithContext("payload");
  return Status::Ok();
}

}  // namespace

Status PubsubLineParser::Parse(std::string_view line, PubsubMessage* out, LineFormat format) {
  out->attributes.clear();
  out->payload.clear();
  // Per-line cost: one copy of the line into a buffer with simdjson's padding.
  buffer_.assign(line);
  buffer_.reserve(line.size() + simdjson::SIMDJSON_PADDING);
  simdjson::dom::element root;
  if (auto e = parser_.parse(buffer_.data(), buffer_.size(), false).get(root); e) {
    return InvalidArgument(fmt::format("not valid JSON: {}", simdjson::error_message(e)));
  }
  if (root.type() != simdjson::dom::element_type::OBJECT) {
    return InvalidArgument("line is not a JSON object");
  }
  simdjson::dom::object obj(root);
  bool has_map = false, has_payload = false;
  for (auto field : obj) {
    if (field.key == "attributeMap") has_map = true;
    if (field.key == "payload") has_payload = true;
  }
  if (!has_map && !has_payload && obj.size() > 0 && format == LineFormat::kAuto) {
    // A bare JSON document: the whole line is the payload.
    out->payload.assign(TrimJsonSpace(line));
    shape_ = LineShape::kBare;
    return Status::Ok();
  }
  if (has_map) {
    for (auto field : obj) {
      if (field.key == "attributeMap") {
        BF_RETURN_IF_ERROR(ParseAttributeMap(field.value, out));
      } else if (field.key == "payload") {
        BF_RETURN_IF_ERROR(ParsePayloadField(field.value, out));
      } else {
        return InvalidArgument(fmt::format(
            "unexpected key '{}' beside attributeMap in a PubsubMessage line", field.key));
      }
    }
    shape_ = LineShape::kBeam;
    return Status::Ok();
  }
  // Raw: every other key is an attribute.
  for (auto field : obj) {
    if (field.key == "payload") {
      BF_RETURN_IF_ERROR(ParsePayloadField(field.value, out));
    } else {
      BF_RETURN_IF_ERROR(SetAttributeValue(field.key, field.value, out));
    }
  }
  for (auto& [k, v] : out->attributes) NormalizeExportedTimestamp(&v);
  shape_ = LineShape::kRaw;
  return Status::Ok();
}

const char* LineShapeName(LineShape shape) {
  switch (shape) {
    case LineShape::kBeam:
      return "beam";
    case LineShape::kRaw:
      return "raw";
    case LineShape::kBare:
      return "bare";
  }
  return "?";
}

Result<PubsubMessage> ParsePubsubLine(std::string_view line, LineFormat format, LineShape* shape) {
  thread_local PubsubLineParser parser;
  PubsubMessage message;
  BF_RETURN_IF_ERROR(parser.Parse(line, &message, format));
  if (shape) *shape = parser.shape();
  return message;
}

std::string SerializeRawPubsubLine(const PubsubMessage& message) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : message.attributes) {
    if (k == "payload") continue;  // the payload field replaces it, as in the reference
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(&out, k);
    out.push_back(':');
    AppendJsonString(&out, v);
  }
  if (!message.payload.empty()) {
    if (!first) out.push_back(',');
    out.append("\"payload\":\"");
    Base64EncodeTo(message.payload, &out);
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

std::string SerializePubsubLine(const PubsubMessage& message) {
  std::vector<const std::pair<std::string, std::string>*> sorted;
  sorted.reserve(message.attributes.size());
  for (const auto& kv : message.attributes) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::string out = "{\"attributeMap\":{";
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonString(&out, sorted[i]->first);
    out.push_back(':');
    AppendJsonString(&out, sorted[i]->second);
  }
  out.append("},\"payload\":\"");
  Base64EncodeTo(message.payload, &out);
  out.append("\"}");
  return out;
}

std::string TruncateUtf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  static constexpr std::string_view kEllipsis = "...";
  size_t cut = max_bytes >= kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  // Back up over continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  std::string out(s.substr(0, cut));
  out.append(kEllipsis.substr(0, std::min(kEllipsis.size(), max_bytes)));
  return out;
}

void ApplyPubsubConstraints(PubsubMessage* message) {
  for (auto& [k, v] : message->attributes) {
    if (k.size() > kMaxAttributeKeyBytes) k = TruncateUtf8(k, kMaxAttributeKeyBytes);
    if (v.size() > kMaxAttributeValueBytes) v = TruncateUtf8(v, kMaxAttributeValueBytes);
  }
}

PubsubMessage WithErrorAttributes(PubsubMessage message, const ErrorInfo& error) {
  message.SetAttribute("error_type", TruncateUtf8(error.error_type, kMaxAttributeValueBytes));
  message.SetAttribute("error_message", TruncateUtf8(error.error_message, kMaxAttributeValueBytes));
  message.SetAttribute("exception_class",
                       TruncateUtf8(error.exception_class, kMaxAttributeValueBytes));
  message.SetAttribute("stack_trace", TruncateUtf8(error.stack_trace, kMaxAttributeValueBytes));
  return message;
}

namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string ErrorOutputFolder(std::string_view prefix, const PubsubMessage& message) {
  // The reference takes substrings [0,10) and [11,13) of the timestamp. We also check their
  // shape, so that a malformed attribute can never name a folder outside the error tree.
  std::string date(kMissingPathPlaceholder), hour(kMissingPathPlaceholder);
  if (const std::string* ts = message.FindAttribute("submission_timestamp")) {
    if (ts->size() >= 10) {
      std::string_view d = std::string_view(*ts).substr(0, 10);
      if (AllDigits(d.substr(0, 4)) && d[4] == '-' && AllDigits(d.substr(5, 2)) && d[7] == '-' &&
          AllDigits(d.substr(8, 2))) {
        date.assign(d);
      }
    }
    if (ts->size() >= 13) {
      std::string_view h = std::string_view(*ts).substr(11, 2);
      if (AllDigits(h)) hour.assign(h);
    }
  }
  return fmt::format("{}/error/{}/{}/", prefix, date, hour);
}

}  // namespace backfill::ingest
