#include "ingest/json_text.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>

namespace backfill::ingest {

void AppendJavaDouble(std::string* out, double d) {
  if (std::isnan(d)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(d)) {
    out->append(d > 0 ? "Infinity" : "-Infinity");
    return;
  }
  if (d == 0) {
    out->append(std::signbit(d) ? "-0.0" : "0.0");
    return;
  }
  // Shortest round-trip digits in scientific form, e.g. "1.2345e+07"; Java's Double.toString
  // (JDK 19+) picks the same digits, only the layout differs.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, res.ptr - buf);
  bool negative = sci[0] == '-';
  if (negative) sci.remove_prefix(1);
  size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::string_view exp_text = sci.substr(e_pos + 1);
  if (!exp_text.empty() && exp_text[0] == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();

  if (negative) out->push_back('-');
  double magnitude = std::fabs(d);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    if (exponent >= 0) {
      size_t int_digits = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_digits) {
        out->append(digits);
        out->append(int_digits - digits.size(), '0');
        out->append(".0");
      } else {
        out->append(digits, 0, int_digits);
        out->push_back('.');
        out->append(digits, int_digits, std::string::npos);
      }
    } else {
      out->append("0.");
      out->append(static_cast<size_t>(-exponent - 1), '0');
      out->append(digits);
    }
  } else {
    out->push_back(digits[0]);
    out->push_back('.');
    if (digits.size() > 1) {
      out->append(digits, 1, std::string::npos);
    } else {
      out->push_back('0');
    }
    out->push_back('E');
    char ebuf[16];
    auto er = std::to_chars(ebuf, ebuf + sizeof(ebuf), exponent);
    out->append(ebuf, er.ptr - ebuf);
  }
}

namespace {

constexpr std::array<bool, 256> MakePlainTable() {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c >= 0x20 && c != '"' && c != '\\';
  return t;
}
// Bytes written as they are inside a JSON string.
constexpr std::array<bool, 256> kPlain = MakePlainTable();

// Serializes into a raw, uninitialized per-thread buffer with a write cursor, then appends to
// the output in one copy: capacity is checked once per value instead of once per character,
// which matters when telemetry histograms are turned into JSON text for STRING columns (the
// hottest part of the transform after parsing).
class Writer {
 public:
  explicit Writer(std::string* out)
      : out_(out), buffer_(Buffer()), data_(buffer_.data.get()), capacity_(buffer_.capacity) {}
  ~Writer() { out_->append(data_, pos_); }

  void Ensure(size_t n) {
    if (pos_ + n <= capacity_) return;
    size_t capacity = std::max(capacity_ * 2, pos_ + n + 4096);
    std::unique_ptr<char[]> bigger(new char[capacity]);
    if (pos_ > 0) std::memcpy(bigger.get(), data_, pos_);
    buffer_.data = std::move(bigger);
    buffer_.capacity = capacity_ = capacity;
    data_ = buffer_.data.get();
  }
  void Put(char c) { data_[pos_++] = c; }
  void Put(const char* p, size_t n) {
    std::memcpy(data_ + pos_, p, n);
    pos_ += n;
  }
  char* Cursor() { return data_ + pos_; }
  void Advance(char* to) { pos_ = to - data_; }

  void String(std::string_view s) {
    const char* p = s.data();
    const size_t n = s.size();
    size_t i = 0;
    // Most strings need no escaping: find the first byte that does, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
      uint64_t quote = w ^ (kOnes * '"'), slash = w ^ (kOnes * '\\');
      uint64_t special =
          ((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) | ((slash - kOnes) & ~slash);
      if (special & kHigh) break;
      i += 8;
    }
    while (i < n && kPlain[static_cast<unsigned char>(p[i])]) ++i;
    if (i == n) {
      Ensure(n + 2);
      Put('"');
      Put(p, n);
      Put('"');
      return;
    }
    StringSlow(s);
  }

  void StringSlow(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    Ensure(s.size() * 6 + 2);
    Put('"');
    for (char ch : s) {
      unsigned char c = static_cast<unsigned char>(ch);
      if (kPlain[c]) {
        Put(ch);
        continue;
      }
      switch (c) {
        case '"':
          Put("\\\"", 2);
          break;
        case '\\':
          Put("\\\\", 2);
          break;
        case '\b':
          Put("\\b", 2);
          break;
        case '\t':
          Put("\\t", 2);
          break;
        case '\n':
          Put("\\n", 2);
          break;
        case '\f':
          Put("\\f", 2);
          break;
        case '\r':
          Put("\\r", 2);
          break;
        default: {
          char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          Put(esc, 6);
        }
      }
    }
    Put('"');
  }

  void Object(simdjson::dom::object object) {
    Ensure(1);
    Put('{');
    bool first = true;
    for (auto field : object) {
      if (!first) {
        Ensure(1);
        Put(',');
      }
      first = false;
      String(field.key);
      Ensure(1);
      Put(':');
      Value(field.value);
    }
    Ensure(1);
    Put('}');
  }

  void Value(simdjson::dom::element element) {
    using simdjson::dom::element_type;
    switch (element.type()) {
      case element_type::OBJECT:
        Object(simdjson::dom::object(element));
        break;
      case element_type::ARRAY: {
        Ensure(1);
        Put('[');
        bool first = true;
        for (auto item : simdjson::dom::array(element)) {
          if (!first) {
            Ensure(1);
            Put(',');
          }
          first = false;
          Value(item);
        }
        Ensure(1);
        Put(']');
        break;
      }
      // The type is known here, so the unchecked accessors are safe.
      case element_type::STRING:
        String(element.get_string().value_unsafe());
        break;
      case element_type::INT64: {
        Ensure(24);
        Advance(std::to_chars(Cursor(), Cursor() + 24, element.get_int64().value_unsafe()).ptr);
        break;
      }
      case element_type::UINT64: {
        Ensure(24);
        Advance(std::to_chars(Cursor(), Cursor() + 24, element.get_uint64().value_unsafe()).ptr);
        break;
      }
      case element_type::DOUBLE: {
        // Rare enough to go through a temporary string.
        std::string d;
        AppendJavaDouble(&d, element.get_double().value_unsafe());
        Ensure(d.size());
        Put(d.data(), d.size());
        break;
      }
      case element_type::BOOL:
        Ensure(5);
        if (element.get_bool().value_unsafe())
          Put("true", 4);
        else
          Put("false", 5);
        break;
      case element_type::NULL_VALUE:
        Ensure(4);
        Put("null", 4);
        break;
    }
  }

 private:
  struct RawBuffer {
    std::unique_ptr<char[]> data;
    size_t capacity = 0;
  };
  // Writers do not nest, so one buffer per thread serves all of them.
  static RawBuffer& Buffer() {
    thread_local RawBuffer buffer;
    return buffer;
  }

  std::string* out_;
  RawBuffer& buffer_;
  char* data_;
  size_t capacity_;
  size_t pos_ = 0;
};

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) { Writer(out).String(s); }

void AppendJacksonJson(std::string* out, simdjson::dom::object object) {
  Writer(out).Object(object);
}

void AppendJacksonJson(std::string* out, simdjson::dom::element element) {
  Writer(out).Value(element);
}

}  // namespace backfill::ingest
