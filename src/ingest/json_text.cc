#include "ingest/json_text.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>

namespace backfill::ingest {

char* WriteJavaDouble(char* out, double d) {
  auto put = [&out](std::string_view text) {
    std::memcpy(out, text.data(), text.size());
    out += text.size();
  };
  if (std::isnan(d)) {
    put("NaN");
    return out;
  }
  if (std::isinf(d)) {
    put(d > 0 ? "Infinity" : "-Infinity");
    return out;
  }
  if (d == 0) {
    put(std::signbit(d) ? "-0.0" : "0.0");
    return out;
  }
  const double magnitude = std::fabs(d);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    // Java writes these in plain notation with at least one fractional digit. The shortest
    // round-trip plain text has the fewest significant digits, so it holds the same digits as
    // the scientific form below.
    char* end = std::to_chars(out, out + kJavaDoubleChars, d, std::chars_format::fixed).ptr;
    if (std::memchr(out, '.', end - out) == nullptr) {
      std::memcpy(end, ".0", 2);
      end += 2;
    }
    return end;
  }
  // Shortest round-trip digits in scientific form ("1.2345e+07"), written as Java's
  // Double.toString (JDK 19+) does: "1.2345E7", at least one fractional digit, the exponent
  // without '+' or leading zeros. When one digit is enough, Java picks the decimal of one or
  // two digits closest to the value, which differs only for the smallest subnormals
  // (Double.MIN_VALUE is "4.9E-324", not "5.0E-324"): the correctly rounded two-digit form,
  // when it reads back as the same double.
  char sci[kJavaDoubleChars];
  const char* sci_end = std::to_chars(sci, sci + sizeof(sci), d, std::chars_format::scientific).ptr;
  if (std::memchr(sci, '.', sci_end - sci) == nullptr) {
    char two[kJavaDoubleChars];
    const char* two_end =
        std::to_chars(two, two + sizeof(two), d, std::chars_format::scientific, 1).ptr;
    double back = 0;
    if (std::from_chars(two, two_end, back).ptr == two_end && back == d) {
      std::memcpy(sci, two, two_end - two);
      sci_end = sci + (two_end - two);
    }
  }
  const char* e = static_cast<const char*>(std::memchr(sci, 'e', sci_end - sci));
  const char* mantissa_end = e;
  if (std::memchr(sci, '.', e - sci) == nullptr) {
    put(std::string_view(sci, e - sci));
    put(".0");
  } else {
    while (mantissa_end[-1] == '0') --mantissa_end;
    if (mantissa_end[-1] == '.') ++mantissa_end;  // keep one fractional digit
    put(std::string_view(sci, mantissa_end - sci));
    if (mantissa_end[-1] == '.') put("0");
  }
  *out++ = 'E';
  const char* exponent = e + 1;
  if (*exponent == '-') *out++ = *exponent;
  if (*exponent == '+' || *exponent == '-') ++exponent;
  while (exponent + 1 < sci_end && *exponent == '0') ++exponent;
  put(std::string_view(exponent, sci_end - exponent));
  return out;
}

void AppendJavaDouble(std::string* out, double d) {
  char buf[kJavaDoubleChars];
  out->append(buf, WriteJavaDouble(buf, d) - buf);
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
// A kLiteral writer writes the same text as the body of a JSON string: every '"' and '\\' it
// writes is escaped once more, so the text never has to be escaped again
// (AppendJacksonJsonLiteral).
template <bool kLiteral>
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

  // Eight plain bytes are copied at once; otherwise bytes go one by one up to the first that
  // needs escaping (HasSpecial is exact, so that takes at most eight steps). The cursor is a
  // local so the compiler keeps it in a register. Strings that hold JSON text (telemetry
  // histograms coerced to STRING, and each such leaf again inside a wide-encoded column) need
  // an escape every few bytes, so this loop is most of what they cost.
  // kPadded: `s` lies in simdjson's string buffer, which stays readable for SIMDJSON_PADDING
  // bytes past any string in it, so the last 1-7 bytes are tested and copied as one word too:
  // most keys of a histogram ("0", "sum", "values") are that short.
  template <bool kPadded = false>
  void String(std::string_view s) {
    // Every byte escaped as \u00XX (\\u00XX in a literal) at worst, the quotes, and the 8 bytes
    // the last word stores.
    Ensure(s.size() * 7 + 12);
    char* d = Cursor();
    if constexpr (kLiteral) *d++ = '\\';
    *d++ = '"';
    const char* p = s.data();
    const char* const end = p + s.size();
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if (!HasSpecial(w)) {
        std::memcpy(d, &w, 8);
        d += 8;
        p += 8;
        continue;
      }
      for (;;) {
        const unsigned char c = static_cast<unsigned char>(*p++);
        if (!kPlain[c]) {
          d = Escape(d, c);
          break;
        }
        *d++ = static_cast<char>(c);
      }
    }
    if constexpr (kPadded) {
      if (p < end) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        const uint64_t in_string = (uint64_t(1) << (8 * (end - p))) - 1;
        if ((SpecialBytes(w) & in_string) == 0) {
          std::memcpy(d, &w, 8);
          d += end - p;
          p = end;
        }
      }
    }
    while (p < end) {
      const unsigned char c = static_cast<unsigned char>(*p++);
      if (kPlain[c]) {
        *d++ = static_cast<char>(c);
      } else {
        d = Escape(d, c);
      }
    }
    if constexpr (kLiteral) *d++ = '\\';
    *d++ = '"';
    Advance(d);
  }

  // The high bit of each of the 8 bytes of `w` (first byte lowest) that is a control
  // character, '"' or '\\', from the has-less-than and has-zero-byte bit tricks. A borrow can
  // also flag a byte above a flagged one, never below: so the test is exact for the whole word
  // and for its lowest bytes alone.
  static uint64_t SpecialBytes(uint64_t w) {
    constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
    uint64_t quote = w ^ (kOnes * '"'), slash = w ^ (kOnes * '\\');
    uint64_t special =
        ((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) | ((slash - kOnes) & ~slash);
    return special & kHigh;
  }
  static bool HasSpecial(uint64_t w) { return SpecialBytes(w) != 0; }

  static char* Escape(char* d, unsigned char c) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    char short_form = 0;
    switch (c) {
      case '"':
        short_form = '"';
        break;
      case '\\':
        short_form = '\\';
        break;
      case '\b':
        short_form = 'b';
        break;
      case '\t':
        short_form = 't';
        break;
      case '\n':
        short_form = 'n';
        break;
      case '\f':
        short_form = 'f';
        break;
      case '\r':
        short_form = 'r';
        break;
    }
    if constexpr (kLiteral) {
      *d++ = '\\';  // the escape's own backslash, escaped
      *d++ = '\\';
      if (short_form == '"' || short_form == '\\') *d++ = '\\';
    } else {
      *d++ = '\\';
    }
    if (short_form) {
      *d++ = short_form;
      return d;
    }
    const char esc[5] = {'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
    std::memcpy(d, esc, 5);
    return d + 5;
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
      String<true>(field.key);
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
        String<true>(element.get_string().value_unsafe());
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
      case element_type::DOUBLE:
        Ensure(kJavaDoubleChars);
        Advance(WriteJavaDouble(Cursor(), element.get_double().value_unsafe()));
        break;
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

void AppendJsonString(std::string* out, std::string_view s) { Writer<false>(out).String(s); }

bool JsonStringNeedsEscaping(std::string_view s) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (Writer<false>::HasSpecial(w)) return true;
  }
  for (; i < s.size(); ++i) {
    if (!kPlain[static_cast<unsigned char>(s[i])]) return true;
  }
  return false;
}

void AppendJacksonJson(std::string* out, simdjson::dom::object object) {
  Writer<false>(out).Object(object);
}

void AppendJacksonJson(std::string* out, simdjson::dom::element element) {
  Writer<false>(out).Value(element);
}

namespace {

template <typename Value>
void WriteLiteral(std::string* out, Value value) {
  Writer<true> w(out);
  w.Ensure(1);
  w.Put('"');
  if constexpr (std::is_same_v<Value, simdjson::dom::object>) {
    w.Object(value);
  } else {
    w.Value(value);
  }
  w.Ensure(1);
  w.Put('"');
}

}  // namespace

void AppendJacksonJsonLiteral(std::string* out, simdjson::dom::element element) {
  WriteLiteral(out, element);
}

void AppendJacksonJsonLiteral(std::string* out, simdjson::dom::object object) {
  WriteLiteral(out, object);
}

}  // namespace backfill::ingest
