#include "ingest/payload.h"

#include <libdeflate.h>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace backfill::ingest {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

std::string Printable(unsigned char c) {
  if (c >= 0x20 && c < 0x7f) return fmt::format("'{}'", static_cast<char>(c));
  return fmt::format("0x{:02x}", c);
}

}  // namespace

Status Base64Decode(std::string_view in, std::string* out) {
  // Written through a raw cursor into room for the longest result, trimmed at the end: an
  // append per three bytes cost twice the decoding itself (the reading thread decodes every
  // payload of a run).
  out->resize(in.size() / 4 * 3 + 3);
  char* d = out->data();
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  size_t i = 0;
  // Whole quads without padding: the common case, four table look-ups per three bytes.
  while (i + 4 <= n) {
    int a = kDecode[s[i]], b = kDecode[s[i + 1]], c = kDecode[s[i + 2]], e = kDecode[s[i + 3]];
    if ((a | b | c | e) < 0) break;
    uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(e);
    d[0] = char(v >> 16);
    d[1] = char(v >> 8);
    d[2] = char(v);
    d += 3;
    i += 4;
  }
  auto finish = [&](char* end) { out->resize(static_cast<size_t>(end - out->data())); };
  // The final unit, or the place where something is wrong.
  uint32_t bits = 0;
  int count = 0;
  for (; i < n; ++i) {
    unsigned char ch = s[i];
    if (ch == '=') {
      // Padding must complete the unit ("xx==" or "xxx=") and end the input.
      if (count < 2) {
        finish(d);
        return InvalidArgument(fmt::format("invalid base64 at byte {}: unexpected padding", i));
      }
      if (count == 2) {
        if (i + 1 >= n || s[i + 1] != '=') {
          finish(d);
          return InvalidArgument(fmt::format("invalid base64 at byte {}: incomplete padding", i));
        }
        ++i;
      }
      if (i + 1 < n) {
        finish(d);
        return InvalidArgument(fmt::format("invalid base64 at byte {}: data after padding", i + 1));
      }
      break;
    }
    int v = kDecode[ch];
    if (v < 0) {
      finish(d);
      return InvalidArgument(
          fmt::format("invalid base64 at byte {}: unexpected character {}", i, Printable(ch)));
    }
    bits = (bits << 6) | uint32_t(v);
    if (++count == 4) {
      d[0] = char(bits >> 16);
      d[1] = char(bits >> 8);
      d[2] = char(bits);
      d += 3;
      bits = 0;
      count = 0;
    }
  }
  if (count == 1) {
    finish(d);
    return InvalidArgument(
        fmt::format("invalid base64 at byte {}: last unit has a single character", n - 1));
  }
  // Java's decoder does not require the unused low bits to be zero; neither do we.
  if (count == 2) {
    *d++ = char(bits >> 4);
  } else if (count == 3) {
    d[0] = char(bits >> 10);
    d[1] = char(bits >> 2);
    d += 2;
  }
  finish(d);
  return Status::Ok();
}

void Base64EncodeTo(std::string_view in, std::string* out) {
  out->reserve(out->size() + (in.size() + 2) / 3 * 4);
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint32_t(s[i]) << 16) | (uint32_t(s[i + 1]) << 8) | s[i + 2];
    char q[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63],
                 kAlphabet[v & 63]};
    out->append(q, 4);
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t(s[i]) << 16;
    char q[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], '=', '='};
    out->append(q, 4);
  } else if (rest == 2) {
    uint32_t v = (uint32_t(s[i]) << 16) | (uint32_t(s[i + 1]) << 8);
    char q[4] = {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
    out->append(q, 4);
  }
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  Base64EncodeTo(in, &out);
  return out;
}

bool IsGzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

namespace {

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

libdeflate_decompressor* ThreadDecompressor() {
  // One per thread: allocating one costs a few tens of KB, too much per record.
  thread_local std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> d(
      libdeflate_alloc_decompressor());
  return d.get();
}

// libdeflate reports truncation and corruption alike as BAD_DATA; zlib tells them apart.
// Only runs on the error path.
Status DiagnoseGzip(std::string_view in) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return InvalidArgument("corrupt gzip payload");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  unsigned char scratch[16384];
  int rc = Z_OK;
  while (true) {
    zs.next_out = scratch;
    zs.avail_out = sizeof(scratch);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      // Another member follows.
      inflateReset(&zs);
      continue;
    }
    if (rc != Z_OK) break;
    if (zs.avail_in == 0 && zs.avail_out != 0) {
      rc = Z_BUF_ERROR;
      break;
    }
  }
  std::string msg = zs.msg ? zs.msg : "";
  inflateEnd(&zs);
  if (rc == Z_BUF_ERROR) return InvalidArgument("truncated gzip payload");
  if (rc == Z_STREAM_END) return InvalidArgument("corrupt gzip payload");
  return InvalidArgument("corrupt gzip payload" + (msg.empty() ? "" : ": " + msg));
}

}  // namespace

Status Gunzip(std::string_view in, std::string* out, size_t max_bytes) {
  out->clear();
  libdeflate_decompressor* d = ThreadDecompressor();
  if (d == nullptr) return Internal("cannot allocate a gzip decompressor");
  size_t produced = 0;
  size_t pos = 0;
  // The gzip trailer holds the uncompressed size mod 2^32: a good first guess for one member.
  size_t guess = in.size() * 4;
  if (in.size() >= 18) {
    uint32_t isize;
    std::memcpy(&isize, in.data() + in.size() - 4, 4);  // little-endian on our targets
    guess = std::max<size_t>(guess, isize);
  }
  guess = std::max<size_t>(std::min(guess, max_bytes + 1), 64);
  // Capacity beyond size() keeps simdjson's padding requirement satisfied without a copy: a
  // buffer of exactly the trailer's size would be copied into one of twice that size (the
  // string doubles on reserve) when InflateAhead makes room for the padding.
  out->reserve(guess + simdjson::SIMDJSON_PADDING);
  out->resize(guess);
  while (pos < in.size()) {
    if (!IsGzip(in.substr(pos))) {
      if (pos == 0) return InvalidArgument("payload is not gzip");
      break;  // Like java.util.zip.GZIPInputStream, ignore trailing non-gzip bytes.
    }
    while (true) {
      size_t in_used = 0, out_used = 0;
      libdeflate_result r =
          libdeflate_gzip_decompress_ex(d, in.data() + pos, in.size() - pos, out->data() + produced,
                                        out->size() - produced, &in_used, &out_used);
      if (r == LIBDEFLATE_SUCCESS) {
        pos += in_used;
        produced += out_used;
        break;
      }
      if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
        if (out->size() > max_bytes) {
          out->clear();
          return InvalidArgument(
              fmt::format("record larger than {} bytes after gunzip", max_bytes));
        }
        out->resize(std::min(out->size() * 2, max_bytes + 1));
        continue;
      }
      out->clear();
      return DiagnoseGzip(in);
    }
    if (produced > max_bytes) {
      out->clear();
      return InvalidArgument(fmt::format("record larger than {} bytes after gunzip", max_bytes));
    }
  }
  out->resize(produced);
  return Status::Ok();
}

void InflateAhead(std::string_view bytes, InflatedPayload* out, size_t max_bytes) {
  out->done = IsGzip(bytes);
  if (!out->done) return;
  out->status = Gunzip(bytes, &out->json, max_bytes);
  // Parse in place: the buffer keeps simdjson's padding as spare capacity.
  if (out->status.ok()) out->json.reserve(out->json.size() + simdjson::SIMDJSON_PADDING);
}

Result<simdjson::dom::object> PayloadDecoder::DecodeObject(std::string_view bytes,
                                                           const InflatedPayload* inflated) {
  simdjson::dom::element root;
  simdjson::error_code err;
  json_view_ = {};
  if (bytes.empty()) return InvalidArgument("payload is empty");
  if (IsGzip(bytes)) {
    if (inflated == nullptr || !inflated->done) {
      InflateAhead(bytes, &gunzipped_, max_bytes_);
      inflated = &gunzipped_;
    }
    BF_RETURN_IF_ERROR(inflated->status);
    const std::string& json = inflated->json;
    json_view_ = json;
    if (json.empty()) return InvalidArgument("payload is empty after gunzip");
    err = parser_.parse(json.data(), json.size(), /*realloc_if_needed=*/false).get(root);
  } else {
    if (bytes.size() > max_bytes_) {
      return InvalidArgument(fmt::format("record larger than {} bytes", max_bytes_));
    }
    json_view_ = bytes;
    // Per-record cost: simdjson copies the bytes into a padded buffer (one memcpy).
    err = parser_.parse(bytes.data(), bytes.size(), /*realloc_if_needed=*/true).get(root);
  }
  if (err) {
    return InvalidArgument(
        fmt::format("payload is not valid JSON: {}", simdjson::error_message(err)));
  }
  if (root.type() != simdjson::dom::element_type::OBJECT) {
    return InvalidArgument("payload is not a JSON object");
  }
  return simdjson::dom::object(root);
}

}  // namespace backfill::ingest
