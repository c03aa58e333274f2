// Fuzzes one PubsubMessage NDJSON line (ingest/pubsub.h), in both parse modes and both line
// shapes (beam, raw). Properties: parsing never crashes; a parsed message serializes to a line
// that parses back to the same message (attributes in sorted order), and a raw line written
// back in the raw shape to the same message; the error-output folder of any message stays inside
// the error tree; Pub/Sub's attribute limits leave valid UTF-8 within the limits.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "fuzz/fuzz_check.h"
#include "ingest/pubsub.h"

using namespace backfill::ingest;

namespace {

bool Utf8(std::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

void CheckFolder(const PubsubMessage& m) {
  std::string folder = ErrorOutputFolder("p", m);
  FUZZ_CHECK(folder.starts_with("p/error/") && folder.ends_with("/"), folder);
  std::string_view rest = std::string_view(folder).substr(8);
  // "<date>/<hour>/" with only digits and '-' or the NULL placeholder.
  for (char c : rest) {
    FUZZ_CHECK((c >= '0' && c <= '9') || c == '-' || c == '/' || c == 'N' || c == 'U' || c == 'L',
               folder);
  }
  FUZZ_CHECK(std::count(rest.begin(), rest.end(), '/') == 2, folder);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  static PubsubLineParser parser;
  for (LineFormat format : {LineFormat::kWrapped, LineFormat::kAuto}) {
    PubsubMessage m;
    if (!parser.Parse(line, &m, format).ok()) continue;
    const LineShape shape = parser.shape();
    std::string out = SerializePubsubLine(m);
    PubsubMessage back;
    auto s = parser.Parse(out, &back);
    FUZZ_CHECK(s.ok(), "serialized line does not parse back: " + s.ToString());
    auto sorted = m.attributes;
    std::sort(sorted.begin(), sorted.end());
    FUZZ_CHECK(back.attributes == sorted, "attributes changed in a round trip");
    FUZZ_CHECK(back.payload == m.payload, "payload changed in a round trip");
    if (shape == LineShape::kRaw) {
      // A raw line written back in the raw shape reads as the same message.
      PubsubMessage raw_back;
      auto r = parser.Parse(SerializeRawPubsubLine(m), &raw_back);
      FUZZ_CHECK(r.ok(), "raw line does not parse back: " + r.ToString());
      FUZZ_CHECK(raw_back == m, "message changed in a raw round trip");
    }
    CheckFolder(m);
    PubsubMessage limited =
        WithErrorAttributes(m, {"Fuzz", std::string(line), "kInvalidArgument", ""});
    ApplyPubsubConstraints(&limited);
    for (const auto& [k, v] : limited.attributes) {
      FUZZ_CHECK(k.size() <= kMaxAttributeKeyBytes && v.size() <= kMaxAttributeValueBytes, k);
      FUZZ_CHECK(Utf8(k) || !Utf8(line), "attribute key is not UTF-8 after truncation");
      FUZZ_CHECK(Utf8(v) || !Utf8(line), "attribute value is not UTF-8 after truncation");
    }
  }
  return 0;
}
