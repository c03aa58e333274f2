#include "ingest/payload.h"

#include <zlib.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ingest/json_text.h"
#include "testing/testing.h"

namespace backfill::ingest {
namespace {
using testing::Gzip;

TEST(Base64Test, DecodesWithAndWithoutPadding) {
  std::string out;
  ASSERT_TRUE(Base64Decode("dGVzdA==", &out).ok());
  EXPECT_EQ(out, "test");
  ASSERT_TRUE(Base64Decode("dGVzdA", &out).ok());  // Java accepts missing padding
  EXPECT_EQ(out, "test");
  ASSERT_TRUE(Base64Decode("dGVzdDE=", &out).ok());
  EXPECT_EQ(out, "test1");
  ASSERT_TRUE(Base64Decode("dGVzdDE", &out).ok());
  EXPECT_EQ(out, "test1");
  ASSERT_TRUE(Base64Decode("", &out).ok());
  EXPECT_EQ(out, "");
  ASSERT_TRUE(Base64Decode("e30=", &out).ok());
  EXPECT_EQ(out, "{}");
}

TEST(Base64Test, RoundTripsAllByteValues) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= bytes.size(); len += 37) {
    std::string in = bytes.substr(0, len), out;
    ASSERT_TRUE(Base64Decode(Base64Encode(in), &out).ok());
    EXPECT_EQ(out, in);
  }
  EXPECT_EQ(Base64Encode("test"), "dGVzdA==");
  EXPECT_EQ(Base64Encode("{}"), "e30=");
}

TEST(Base64Test, RejectsWhatJavaRejects) {
  std::string out;
  Status s = Base64Decode("dGV$dA==", &out);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "invalid base64 at byte 3: unexpected character '$'");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);

  s = Base64Decode("dGVzd", &out);
  EXPECT_EQ(s.message(), "invalid base64 at byte 4: last unit has a single character");
  s = Base64Decode("dGVzdA=", &out);
  EXPECT_EQ(s.message(), "invalid base64 at byte 6: incomplete padding");
  s = Base64Decode("dGVzdA==dGVz", &out);
  EXPECT_EQ(s.message(), "invalid base64 at byte 8: data after padding");
  s = Base64Decode("=GVz", &out);
  EXPECT_EQ(s.message(), "invalid base64 at byte 0: unexpected padding");
  s = Base64Decode("dGVz\ndA==", &out);  // the basic decoder takes no line breaks
  EXPECT_EQ(s.message(), "invalid base64 at byte 4: unexpected character 0x0a");
  s = Base64Decode("dGVz-A==", &out);  // URL-safe alphabet is not accepted
  EXPECT_FALSE(s.ok());
}

TEST(GunzipTest, DecodesAndDetectsGzip) {
  std::string gz = Gzip("{\"a\":1}");
  EXPECT_TRUE(IsGzip(gz));
  EXPECT_FALSE(IsGzip("{\"a\":1}"));
  std::string out;
  ASSERT_TRUE(Gunzip(gz, &out).ok());
  EXPECT_EQ(out, "{\"a\":1}");
}

TEST(GunzipTest, ConcatenatedMembers) {
  std::string gz = Gzip("{\"a\":") + Gzip("1}");
  std::string out;
  ASSERT_TRUE(Gunzip(gz, &out).ok());
  EXPECT_EQ(out, "{\"a\":1}");
}

TEST(GunzipTest, GrowsForHighlyCompressedPayloads) {
  // 4 MB of one character compresses ~1000:1. A trailing empty member makes the size hint in
  // the last trailer 0, so the buffer must grow from a guess based on the input size.
  std::string big(4 * 1024 * 1024, 'x');
  std::string gz = Gzip(big) + Gzip("");
  std::string out;
  ASSERT_TRUE(Gunzip(gz, &out).ok());
  EXPECT_EQ(out, big);
}

TEST(GunzipTest, TruncatedPayload) {
  std::string gz = Gzip(std::string(1000, 'a') + "some text that does not repeat 0123456789");
  std::string out;
  for (size_t cut : {gz.size() - 1, gz.size() - 8, gz.size() / 2, size_t{12}}) {
    Status s = Gunzip(std::string_view(gz).substr(0, cut), &out);
    EXPECT_FALSE(s.ok()) << cut;
    EXPECT_EQ(s.message(), "truncated gzip payload") << cut;
  }
}

TEST(GunzipTest, CorruptPayload) {
  std::string gz = Gzip("{\"some\":\"json document\"}");
  gz[12] = static_cast<char>(gz[12] ^ 0xff);
  gz[13] = static_cast<char>(gz[13] ^ 0xff);
  std::string out;
  Status s = Gunzip(gz, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.message().starts_with("corrupt gzip payload")) << s.message();
}

TEST(GunzipTest, RejectsRecordsOverTheLimit) {
  std::string big = "{\"a\":\"" + std::string(kMaxRecordBytes, 'x') + "\"}";
  std::string out;
  Status s = Gunzip(Gzip(big), &out);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "record larger than 10485760 bytes after gunzip");
  // Exactly at the limit is fine.
  std::string at_limit(kMaxRecordBytes, ' ');
  EXPECT_TRUE(Gunzip(Gzip(at_limit), &out).ok());
}

TEST(PayloadDecoderTest, ObjectsPlainAndGzipped) {
  PayloadDecoder decoder;
  auto obj = decoder.DecodeObject("{\"clientId\":\"abc\"}");
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(std::string_view((*obj)["clientId"]), "abc");
  obj = decoder.DecodeObject(Gzip("{\"x\":[1,2]}"));
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(JacksonJson(*obj), "{\"x\":[1,2]}");
}

TEST(PayloadDecoderTest, RecordLevelErrors) {
  PayloadDecoder decoder;
  EXPECT_EQ(decoder.DecodeObject("[1,2]").status().message(), "payload is not a JSON object");
  EXPECT_EQ(decoder.DecodeObject("\"text\"").status().message(), "payload is not a JSON object");
  EXPECT_TRUE(
      decoder.DecodeObject("{\"a\":").status().message().starts_with("payload is not valid JSON"));
  EXPECT_TRUE(
      decoder.DecodeObject("test").status().message().starts_with("payload is not valid JSON"));
  EXPECT_EQ(decoder.DecodeObject("").status().message(), "payload is empty");
  EXPECT_EQ(decoder.DecodeObject(Gzip("")).status().message(), "payload is empty after gunzip");
  std::string gz = Gzip("{\"a\":\"bcdefghijklmnopqrstuvwxyz\"}");
  EXPECT_EQ(decoder.DecodeObject(std::string_view(gz).substr(0, gz.size() - 6)).status().message(),
            "truncated gzip payload");
  std::string big = "{\"a\":\"" + std::string(kMaxRecordBytes, 'x') + "\"}";
  EXPECT_EQ(decoder.DecodeObject(big).status().message(), "record larger than 10485760 bytes");
  EXPECT_EQ(decoder.DecodeObject(Gzip(big)).status().message(),
            "record larger than 10485760 bytes after gunzip");
  // The decoder is still usable after errors.
  EXPECT_TRUE(decoder.DecodeObject("{}").ok());
}

// The sink's reading thread gunzips payloads ahead (InflateAhead); the decoder then gives the
// same objects and the same record-level errors as when it gunzips them itself.
TEST(PayloadDecoderTest, PayloadsInflatedAheadDecodeAsTheirBytesDo) {
  std::string big = "{\"a\":\"" + std::string(kMaxRecordBytes, 'x') + "\"}";
  std::string gz = Gzip("{\"a\":\"bcdefghijklmnopqrstuvwxyz\"}");
  const std::vector<std::string> payloads = {
      Gzip("{\"x\":[1,2]}"), Gzip(""),        gz.substr(0, gz.size() - 6), Gzip(big),
      Gzip("[1,2]"),         Gzip("{\"a\":"), "{\"plain\":true}"};
  PayloadDecoder itself, ahead;
  for (size_t i = 0; i < payloads.size(); ++i) {
    InflatedPayload inflated;
    InflateAhead(payloads[i], &inflated);
    EXPECT_EQ(inflated.done, i + 1 < payloads.size()) << i;
    auto a = itself.DecodeObject(payloads[i]);
    auto b = ahead.DecodeObject(payloads[i], &inflated);
    ASSERT_EQ(a.ok(), b.ok()) << i;
    if (a.ok()) {
      EXPECT_EQ(JacksonJson(*b), JacksonJson(*a)) << i;
      EXPECT_EQ(ahead.last_json(), itself.last_json()) << i;
    } else {
      EXPECT_EQ(b.status().message(), a.status().message()) << i;
    }
  }
  // What was inflated ahead is what gets parsed: the bytes are not gunzipped a second time.
  InflatedPayload other;
  InflateAhead(Gzip("{\"from\":\"ahead\"}"), &other);
  auto obj = ahead.DecodeObject(Gzip("{\"from\":\"bytes\"}"), &other);
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(JacksonJson(*obj), "{\"from\":\"ahead\"}");
}

// A payload is inflated into a buffer of its size plus simdjson's padding. Into one of exactly
// its size (the gzip trailer's), making room for the padding would copy it into one of twice
// that size: a copy and a second allocation per payload on the sink's reading thread.
TEST(PayloadDecoderTest, PayloadsAreInflatedWithRoomForThePaddingWithoutACopy) {
  const std::string json = "{\"a\":\"" + std::string(100000, 'x') + "\"}";
  InflatedPayload inflated;
  InflateAhead(Gzip(json), &inflated);
  ASSERT_TRUE(inflated.status.ok()) << inflated.status.ToString();
  EXPECT_EQ(inflated.json, json);
  EXPECT_GE(inflated.json.capacity(), json.size() + simdjson::SIMDJSON_PADDING);
  EXPECT_LT(inflated.json.capacity(), json.size() + json.size() / 2);
}

TEST(JsonTextTest, JavaDoubleFormatting) {
  auto fmt = [](double d) {
    std::string s;
    AppendJavaDouble(&s, d);
    return s;
  };
  EXPECT_EQ(fmt(100.0), "100.0");
  EXPECT_EQ(fmt(1.5), "1.5");
  EXPECT_EQ(fmt(0.001), "0.001");
  EXPECT_EQ(fmt(0.0001), "1.0E-4");
  EXPECT_EQ(fmt(1e7), "1.0E7");
  EXPECT_EQ(fmt(9999999.0), "9999999.0");
  EXPECT_EQ(fmt(12345678.9), "1.23456789E7");
  EXPECT_EQ(fmt(-2.5e-10), "-2.5E-10");
  EXPECT_EQ(fmt(0.1), "0.1");
  EXPECT_EQ(fmt(0.0), "0.0");
  EXPECT_EQ(fmt(-0.0), "-0.0");
  EXPECT_EQ(fmt(123.456), "123.456");
  EXPECT_EQ(fmt(-1e7), "-1.0E7");
  EXPECT_EQ(fmt(1e-5), "1.0E-5");
  EXPECT_EQ(fmt(1.7976931348623157e308), "1.7976931348623157E308");
  EXPECT_EQ(fmt(2.2250738585072014e-308), "2.2250738585072014E-308");
  EXPECT_EQ(fmt(1e100), "1.0E100");
  EXPECT_EQ(fmt(std::nan("")), "NaN");
  EXPECT_EQ(fmt(-INFINITY), "-Infinity");
  EXPECT_EQ(fmt(INFINITY), "Infinity");
  // JDK 19+ (JDK-8291475): one-digit values take the closest decimal of one or two digits.
  auto bits = [](uint64_t b) { return std::bit_cast<double>(b); };
  EXPECT_EQ(fmt(bits(1)), "4.9E-324");
  EXPECT_EQ(fmt(-bits(1)), "-4.9E-324");
  EXPECT_EQ(fmt(bits(2)), "9.9E-324");
  EXPECT_EQ(fmt(bits(10)), "4.9E-323");
  EXPECT_EQ(fmt(bits(20)), "9.9E-323");
  EXPECT_EQ(fmt(bits(3)), "1.5E-323");
  EXPECT_EQ(fmt(1e23), "1.0E23");
  EXPECT_EQ(fmt(2e23), "2.0E23");
  EXPECT_EQ(fmt(1e-323), "9.9E-324");
}

// Plain notation (1e-3 <= |d| < 1e7) is written from the shortest fixed form; it must hold the
// same digits as the shortest scientific form, laid out the way Java's Double.toString does.
TEST(JsonTextTest, JavaDoublePlainNotationHasTheShortestDigits) {
  auto reference = [](double d) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
    std::string_view sci(buf, r.ptr - buf);
    std::string out;
    if (sci[0] == '-') {
      out.push_back('-');
      sci.remove_prefix(1);
    }
    size_t e = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e)) {
      if (c != '.') digits.push_back(c);
    }
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    int exponent = std::stoi(std::string(sci.substr(e + 1)));
    if (exponent >= 0) {
      size_t whole = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= whole)
        return out + digits + std::string(whole - digits.size(), '0') + ".0";
      return out + digits.substr(0, whole) + "." + digits.substr(whole);
    }
    return out + "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  };
  std::vector<double> values = {1e-3,
                                std::nextafter(1e7, 0.0),
                                0.1,
                                1.0 / 3,
                                2.0 / 3,
                                1e6,
                                123456.7,
                                9999999.999999998,
                                0.0010000000000000002,
                                5e-3};
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> exponent(-3, 7);
  std::uniform_int_distribution<int> digits(1, 17);
  while (values.size() < 200000) {
    double d = std::pow(10.0, exponent(rng));
    if (values.size() % 2) {  // short decimals too, as payloads mostly hold
      double scale = std::pow(10.0, digits(rng) - 1 - std::floor(std::log10(d)));
      d = std::round(d * scale) / scale;
    }
    if (d < 1e-3 || d >= 1e7) continue;
    values.push_back(values.size() % 3 ? d : -d);
  }
  size_t checked = 0;
  for (double d : values) {
    std::string s;
    AppendJavaDouble(&s, d);
    ASSERT_EQ(s, reference(d)) << "for " << d;
    ++checked;
  }
  EXPECT_EQ(checked, 200000u);
}

TEST(JsonTextTest, JacksonStringEscaping) {
  std::string s;
  AppendJsonString(&s, std::string("a\"b\\c\n\t\x01\x1f/\xc3\xa9\x7f", 13));
  EXPECT_EQ(s, "\"a\\\"b\\\\c\\n\\t\\u0001\\u001F/\xc3\xa9\x7f\"");
}

// A JSON string as Jackson writes it, escaped one byte at a time: what the word-at-a-time
// writer must give.
std::string EscapedByByte(std::string_view in) {
  static const std::map<unsigned char, std::string> kShortForms = {
      {'"', "\\\""}, {'\\', "\\\\"}, {'\n', "\\n"}, {'\t', "\\t"},
      {'\r', "\\r"}, {'\b', "\\b"},  {'\f', "\\f"}};
  std::string out = "\"";
  for (unsigned char c : in) {
    if (auto it = kShortForms.find(c); it != kShortForms.end()) {
      out += it->second;
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04X}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

const std::string kSpecials("\"\\\n\x01\x1f\x00", 6);

// Long strings take the 8-bytes-at-a-time path: every special byte at every offset of a run,
// runs of every length around 8, against escaping one byte at a time.
TEST(JsonTextTest, JacksonStringEscapingOfLongRuns) {
  int checked = 0;
  for (size_t run = 0; run <= 20; ++run) {
    for (char special : kSpecials) {
      std::string in;
      for (int k = 0; k < 3; ++k) {
        in.append(run, static_cast<char>('a' + k));
        in.push_back(special);
      }
      in += "\xc3\xa9{\"bucket_count\":3}";  // non-ASCII stays raw; JSON text as a value
      std::string out;
      AppendJsonString(&out, in);
      EXPECT_EQ(out, EscapedByByte(in)) << "run " << run;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 21 * 6);
}

// Keys and strings of a parsed document end with one word read past them (simdjson pads its
// string buffer): every special byte at every offset of strings of 1 to 17 bytes, and the
// plain ones, as keys and as values, in JSON text and in the literal of a wide-encoded column.
TEST(JsonTextTest, ShortKeysAndStringsOfAParsedDocument) {
  simdjson::dom::parser parser;
  int checked = 0;
  for (size_t length = 1; length <= 17; ++length) {
    std::vector<std::string> strings = {std::string(length, 'k')};
    for (size_t at = 0; at < length; ++at) {
      for (char special : kSpecials) {
        strings.push_back(std::string(length, 'k'));
        strings.back()[at] = special;
      }
    }
    for (const std::string& text : strings) {
      const std::string expected = "{" + EscapedByByte(text) + ":" + EscapedByByte(text) + "}";
      simdjson::dom::element e;
      ASSERT_EQ(parser.parse(expected).get(e), simdjson::SUCCESS) << expected;
      std::string json;
      AppendJacksonJson(&json, e);
      EXPECT_EQ(json, expected);
      std::string literal;
      AppendJacksonJsonLiteral(&literal, e);
      EXPECT_EQ(literal, EscapedByByte(expected));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 17 + 6 * (17 * 18 / 2));
}

// The literal a wide-encoded column stores for JSON text is written in one pass; it must be
// what escaping the JSON text gives: strings with every special byte, keys, numbers of every
// kind, nesting, non-ASCII.
TEST(JsonTextTest, JsonLiteralIsTheEscapedJacksonJson) {
  const std::string docs[] = {
      R"({"bucket_count":3,"histogram_type":4,"sum":7,"range":[1,2],"values":{"0":1,"1":6}})",
      R"({"q\"uote":"a\"b","back\\slash":"c\\d","ctl":"\n\t\r\b\f\u0001\u001f","u":"\u00e9\u2028x"})",
      R"([1,-2,3.5,1e-7,1.5e300,18446744073709551615,true,false,null,[],{},[{"a":[{}]}]])",
      R"("just a \"string\" \\ with escapes")",
      R"({"":"","nested":{"deeper":{"deepest":["\\\"",""]}}})",
  };
  simdjson::dom::parser parser;
  int checked = 0;
  for (const std::string& doc : docs) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(doc).get(e), simdjson::SUCCESS) << doc;
    std::string expected;
    AppendJsonString(&expected, JacksonJson(e));
    std::string literal;
    AppendJacksonJsonLiteral(&literal, e);
    EXPECT_EQ(literal, expected) << doc;
    if (e.type() == simdjson::dom::element_type::OBJECT) {
      std::string from_object;
      AppendJacksonJsonLiteral(&from_object, simdjson::dom::object(e));
      EXPECT_EQ(from_object, expected) << doc;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

}  // namespace
}  // namespace backfill::ingest
