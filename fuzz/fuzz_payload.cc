// Fuzzes payload decoding (ingest/payload.h): base64 as Java decodes it, gzip (one or more
// members, bounded output), and the whole bytes -> JSON object step. Properties: nothing
// crashes; decoded base64 re-encodes to text that decodes to the same bytes; raw bytes survive
// encode -> decode; gunzip output never exceeds its bound; failures are InvalidArgument.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "ingest/payload.h"

using namespace backfill;
using namespace backfill::ingest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  std::string decoded;
  if (Base64Decode(in, &decoded).ok()) {
    std::string again;
    FUZZ_CHECK(Base64Decode(Base64Encode(decoded), &again).ok() && again == decoded,
               "decode(encode(decode(x))) differs");
  }
  std::string raw;
  FUZZ_CHECK(Base64Decode(Base64Encode(in), &raw).ok() && raw == in, "decode(encode(x)) != x");

  // A small bound so that gzip bombs in the corpus stay cheap.
  constexpr size_t kMax = 1 << 20;
  std::string out;
  Status g = Gunzip(in, &out, kMax);
  FUZZ_CHECK(g.ok() ? out.size() <= kMax : g.code() == StatusCode::kInvalidArgument, g.ToString());

  static PayloadDecoder decoder(kMax);
  auto object = decoder.DecodeObject(in);
  if (!object.ok()) {
    FUZZ_CHECK(object.status().code() == StatusCode::kInvalidArgument, object.status().ToString());
  } else {
    size_t keys = 0;
    for (auto field : *object) keys += field.key.size() > 0 ? 1 : 0;
    (void)keys;
  }
  return 0;
}
