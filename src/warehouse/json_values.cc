#include "warehouse/json_values.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string_view>

namespace backfill {
namespace {

struct TypeDeleter {
  void operator()(duckdb_logical_type t) const { duckdb_destroy_logical_type(&t); }
};
using OwnedType = std::unique_ptr<std::remove_pointer_t<duckdb_logical_type>, TypeDeleter>;

std::string TakeString(char* s) {
  std::string out = s ? s : "";
  if (s) duckdb_free(s);
  return out;
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

constexpr int64_t kExactInJson = int64_t{1} << 53;

std::string HugeDigits(duckdb_hugeint h) {
  // Two's complement 128-bit value -> decimal digits, without going through a double.
  bool negative = h.upper < 0;
  unsigned __int128 u =
      (static_cast<unsigned __int128>(static_cast<uint64_t>(h.upper)) << 64) | h.lower;
  if (negative) u = ~u + 1;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  } while (u != 0);
  return negative ? "-" + digits : digits;
}

// "-12345" with scale 3 -> "-12.345"; scale 0 -> as is.
std::string ScaleDigits(std::string_view digits, uint8_t scale) {
  if (scale == 0) return std::string(digits);
  std::string_view sign = digits.substr(0, digits.starts_with('-') ? 1 : 0);
  digits.remove_prefix(sign.size());
  std::string padded(digits.size() <= scale ? scale + 1 - digits.size() : 0, '0');
  padded += digits;
  return std::string(sign) + padded.substr(0, padded.size() - scale) + "." +
         padded.substr(padded.size() - scale);
}

// The fractional seconds of a time value: always six digits in results; for TO_JSON_STRING
// none, three or six, the fewest that keep the value (ZetaSQL narrows its scale the same way).
std::string Fraction(int64_t micros_of_second, bool narrow) {
  if (!narrow) return fmt::format(".{:06d}", micros_of_second);
  if (micros_of_second == 0) return "";
  if (micros_of_second % 1000 == 0) return fmt::format(".{:03d}", micros_of_second / 1000);
  return fmt::format(".{:06d}", micros_of_second);
}

// Days since 1970-01-01 -> YYYY-MM-DD (proleptic Gregorian, as DuckDB stores DATE).
std::string DateText(int32_t days) {
  std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  int y = static_cast<int>(ymd.year());
  return fmt::format("{}{:04d}-{:02d}-{:02d}", y < 0 ? "-" : "", std::abs(y),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

std::string TimeOfDayText(int64_t micros, bool narrow) {
  int64_t s = micros / 1'000'000;
  return fmt::format("{:02d}:{:02d}:{:02d}{}", s / 3600, s / 60 % 60, s % 60,
                     Fraction(micros % 1'000'000, narrow));
}

// Microseconds since the epoch -> "YYYY-MM-DDTHH:MM:SS.ffffff" (floor division, so times
// before 1970 land on the right day).
std::string DateTimeText(int64_t micros, bool narrow) {
  int64_t day = micros / 86'400'000'000;
  int64_t rest = micros % 86'400'000'000;
  if (rest < 0) {
    rest += 86'400'000'000;
    --day;
  }
  return DateText(static_cast<int32_t>(day)) + "T" + TimeOfDayText(rest, narrow);
}

// BigQuery's canonical interval text, "Y-M D H:M:S.ffffff".
std::string IntervalText(duckdb_interval v) {
  int32_t years = v.months / 12, months = v.months % 12;
  int64_t micros = v.micros;
  bool negative = micros < 0;
  if (negative) micros = -micros;
  int64_t s = micros / 1'000'000;
  return fmt::format("{}-{} {} {}{}:{}:{}{}", years, std::abs(months), v.days, negative ? "-" : "",
                     s / 3600, s / 60 % 60, s % 60, Fraction(micros % 1'000'000, false));
}

// ZetaSQL's IntervalValue::ToISO8601: only the parts that are not zero ("P0Y" when none is),
// each with its own sign, and the seconds' fraction without trailing zeros.
std::string IntervalIso8601(duckdb_interval v) {
  std::string out = "P";
  int64_t years = v.months / 12, months = v.months % 12;
  if (years != 0) out += fmt::format("{}Y", years);
  if (months != 0) out += fmt::format("{}M", months);
  if (v.days != 0) out += fmt::format("{}D", v.days);
  int64_t micros = v.micros;
  if (micros != 0) out += "T";
  int64_t hours = micros / 3'600'000'000, minutes = micros % 3'600'000'000 / 60'000'000;
  int64_t seconds = micros % 60'000'000 / 1'000'000, fraction = micros % 1'000'000;
  if (hours != 0) out += fmt::format("{}H", hours);
  if (minutes != 0) out += fmt::format("{}M", minutes);
  if (seconds != 0 || fraction != 0) {
    if (fraction == 0) {
      out += fmt::format("{}S", seconds);
    } else {
      out += seconds != 0 ? fmt::format("{}.", seconds) : micros < 0 ? "-0." : "0.";
      std::string digits = fmt::format("{:06d}", std::abs(fraction));
      digits.erase(digits.find_last_not_of('0') + 1);
      out += digits + "S";
    }
  }
  if (out.size() == 1) out += "0Y";
  return out;
}

// ZetaSQL's RoundTripDoubleToString: 15 significant digits when they read back as the same
// double, else 17.
std::string RoundTripDouble(double v) {
  char buffer[32];
  if (std::abs(v) <= std::numeric_limits<double>::max() / 1.000000000000001) {
    std::snprintf(buffer, sizeof buffer, "%.15g", v);
    if (std::strtod(buffer, nullptr) == v) return buffer;
  }
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

// GoogleSQL's JSON string escaping (ZetaSQL's JsonEscapeString): '"', '\', the control
// characters and U+2028/U+2029; every other byte, non-ASCII included, as it is.
void AppendJsonString(std::string_view s, std::string& out) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else if (c == 0xe2 && i + 2 < s.size() && s[i + 1] == '\x80' &&
                   (s[i + 2] == '\xa8' || s[i + 2] == '\xa9')) {
          out += s[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
          i += 2;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// What a DuckDB type is, worked out once per column (or per chunk of a function's input)
// rather than once per value.
struct TypeNode {
  duckdb_type id = DUCKDB_TYPE_INVALID;
  bool json = false;  // VARCHAR with the JSON alias
  uint8_t decimal_scale = 0;
  duckdb_type decimal_internal = DUCKDB_TYPE_INVALID;
  idx_t array_size = 0;
  std::vector<std::string> names;  // STRUCT fields
  std::vector<TypeNode> children;  // STRUCT fields, or the one LIST/ARRAY element
};

// The type of a value `what` names in errors ("column m").
Result<TypeNode> Describe(duckdb_logical_type type, const std::string& what) {
  TypeNode n;
  n.id = duckdb_get_type_id(type);
  switch (n.id) {
    case DUCKDB_TYPE_SQLNULL:
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_DATE:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_INTERVAL:
      return n;
    case DUCKDB_TYPE_VARCHAR:
      n.json = TakeString(duckdb_logical_type_get_alias(type)) == "JSON";
      return n;
    case DUCKDB_TYPE_DECIMAL:
      n.decimal_scale = duckdb_decimal_scale(type);
      n.decimal_internal = duckdb_decimal_internal_type(type);
      return n;
    case DUCKDB_TYPE_STRUCT: {
      idx_t count = duckdb_struct_type_child_count(type);
      for (idx_t i = 0; i < count; ++i) {
        n.names.push_back(TakeString(duckdb_struct_type_child_name(type, i)));
        OwnedType child(duckdb_struct_type_child_type(type, i));
        BF_ASSIGN_OR_RETURN(TypeNode c, Describe(child.get(), what));
        n.children.push_back(std::move(c));
      }
      return n;
    }
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_ARRAY: {
      bool list = n.id == DUCKDB_TYPE_LIST;
      OwnedType child(list ? duckdb_list_type_child_type(type)
                           : duckdb_array_type_child_type(type));
      if (!list) n.array_size = duckdb_array_type_array_size(type);
      BF_ASSIGN_OR_RETURN(TypeNode c, Describe(child.get(), what));
      n.children.push_back(std::move(c));
      return n;
    }
    default:
      return InvalidArgument(fmt::format(
          "{}: its DuckDB type (id {}) has no BigQuery equivalent to write as JSON; CAST it", what,
          static_cast<int>(n.id)));
  }
}

// Receives one value from Walk, part by part; each JSON encoding is one of these. Integers
// and the non-finite FLOAT64 values are encoded alike, so Walk decides them: an integer
// beyond +/-2^53 and NaN/Infinity arrive as String.
class JsonSink {
 public:
  virtual ~JsonSink() = default;
  virtual void Null() = 0;
  virtual void Bool(bool v) = 0;
  virtual void Integer(int64_t v) = 0;  // within +/-2^53
  virtual void Float(double v) = 0;     // finite
  // The exact decimal without trailing fractional zeros ("-12.5", "3").
  virtual void Numeric(std::string text) = 0;
  virtual void String(std::string_view v) = 0;
  virtual void Json(std::string_view text) = 0;
  virtual void Date(int32_t days) = 0;
  virtual void Time(int64_t micros) = 0;
  virtual void DateTime(int64_t micros) = 0;
  virtual void Timestamp(int64_t micros) = 0;
  virtual void Interval(duckdb_interval v) = 0;
  virtual void BeginObject() = 0;
  virtual void Key(std::string_view name) = 0;
  virtual void EndObject() = 0;
  virtual void BeginArray() = 0;
  virtual void EndArray() = 0;
};

std::string_view Text(void* data, idx_t row) {
  duckdb_string_t* s = static_cast<duckdb_string_t*>(data) + row;
  return std::string_view(duckdb_string_t_data(s), duckdb_string_t_length(*s));
}

std::string DecimalText(const TypeNode& t, void* data, idx_t row) {
  std::string digits;
  switch (t.decimal_internal) {
    case DUCKDB_TYPE_SMALLINT:
      digits = std::to_string(static_cast<int16_t*>(data)[row]);
      break;
    case DUCKDB_TYPE_INTEGER:
      digits = std::to_string(static_cast<int32_t*>(data)[row]);
      break;
    case DUCKDB_TYPE_BIGINT:
      digits = std::to_string(static_cast<int64_t*>(data)[row]);
      break;
    default:
      digits = HugeDigits(static_cast<duckdb_hugeint*>(data)[row]);
      break;
  }
  // BigQuery writes a NUMERIC without trailing fractional zeros ("1.5", not the
  // "1.500000000" of its fixed scale 9).
  std::string text = ScaleDigits(digits, t.decimal_scale);
  if (text.find('.') != std::string::npos) {
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.pop_back();
  }
  return text;
}

void WalkInteger(int64_t v, JsonSink& sink) {
  if (v >= -kExactInJson && v <= kExactInJson) {
    sink.Integer(v);
  } else {
    sink.String(std::to_string(v));
  }
}

// The one walk over DuckDB's vectors both encodings share.
void Walk(const TypeNode& t, duckdb_vector vec, idx_t row, JsonSink& sink) {
  uint64_t* validity = duckdb_vector_get_validity(vec);
  if (t.id == DUCKDB_TYPE_SQLNULL || (validity && !duckdb_validity_row_is_valid(validity, row))) {
    // BigQuery has no NULL arrays: a NULL ARRAY reads as an empty one.
    if (t.id == DUCKDB_TYPE_LIST || t.id == DUCKDB_TYPE_ARRAY) {
      sink.BeginArray();
      sink.EndArray();
    } else {
      sink.Null();
    }
    return;
  }
  void* data = duckdb_vector_get_data(vec);
  switch (t.id) {
    case DUCKDB_TYPE_BOOLEAN:
      return sink.Bool(static_cast<bool*>(data)[row]);
    case DUCKDB_TYPE_TINYINT:
      return WalkInteger(static_cast<int8_t*>(data)[row], sink);
    case DUCKDB_TYPE_SMALLINT:
      return WalkInteger(static_cast<int16_t*>(data)[row], sink);
    case DUCKDB_TYPE_INTEGER:
      return WalkInteger(static_cast<int32_t*>(data)[row], sink);
    case DUCKDB_TYPE_BIGINT:
      return WalkInteger(static_cast<int64_t*>(data)[row], sink);
    case DUCKDB_TYPE_UTINYINT:
      return WalkInteger(static_cast<uint8_t*>(data)[row], sink);
    case DUCKDB_TYPE_USMALLINT:
      return WalkInteger(static_cast<uint16_t*>(data)[row], sink);
    case DUCKDB_TYPE_UINTEGER:
      return WalkInteger(static_cast<uint32_t*>(data)[row], sink);
    case DUCKDB_TYPE_UBIGINT: {
      uint64_t v = static_cast<uint64_t*>(data)[row];
      if (v <= static_cast<uint64_t>(kExactInJson)) return sink.Integer(static_cast<int64_t>(v));
      return sink.String(std::to_string(v));
    }
    case DUCKDB_TYPE_HUGEINT: {
      duckdb_hugeint h = static_cast<duckdb_hugeint*>(data)[row];
      bool small = (h.upper == 0 && h.lower <= static_cast<uint64_t>(kExactInJson)) ||
                   (h.upper == -1 && h.lower >= static_cast<uint64_t>(-kExactInJson));
      if (small) return sink.Integer(static_cast<int64_t>(h.lower));
      return sink.String(HugeDigits(h));
    }
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE: {
      double v = t.id == DUCKDB_TYPE_FLOAT ? static_cast<float*>(data)[row]
                                           : static_cast<double*>(data)[row];
      if (std::isnan(v)) return sink.String("NaN");
      if (std::isinf(v)) return sink.String(v > 0 ? "Infinity" : "-Infinity");
      return sink.Float(v);
    }
    case DUCKDB_TYPE_DECIMAL:
      return sink.Numeric(DecimalText(t, data, row));
    case DUCKDB_TYPE_VARCHAR:
      return t.json ? sink.Json(Text(data, row)) : sink.String(Text(data, row));
    case DUCKDB_TYPE_BLOB:
      return sink.String(Base64(Text(data, row)));
    case DUCKDB_TYPE_DATE:
      return sink.Date(static_cast<duckdb_date*>(data)[row].days);
    case DUCKDB_TYPE_TIME:
      return sink.Time(static_cast<duckdb_time*>(data)[row].micros);
    case DUCKDB_TYPE_TIMESTAMP:
      return sink.DateTime(static_cast<duckdb_timestamp*>(data)[row].micros);
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return sink.Timestamp(static_cast<duckdb_timestamp*>(data)[row].micros);
    case DUCKDB_TYPE_INTERVAL:
      return sink.Interval(static_cast<duckdb_interval*>(data)[row]);
    case DUCKDB_TYPE_STRUCT:
      sink.BeginObject();
      for (idx_t i = 0; i < t.children.size(); ++i) {
        sink.Key(t.names[i]);
        Walk(t.children[i], duckdb_struct_vector_get_child(vec, i), row, sink);
      }
      return sink.EndObject();
    case DUCKDB_TYPE_LIST: {
      duckdb_list_entry entry = static_cast<duckdb_list_entry*>(data)[row];
      duckdb_vector items = duckdb_list_vector_get_child(vec);
      sink.BeginArray();
      for (idx_t i = 0; i < entry.length; ++i) Walk(t.children[0], items, entry.offset + i, sink);
      return sink.EndArray();
    }
    case DUCKDB_TYPE_ARRAY: {
      duckdb_vector items = duckdb_array_vector_get_child(vec);
      sink.BeginArray();
      for (idx_t i = 0; i < t.array_size; ++i)
        Walk(t.children[0], items, row * t.array_size + i, sink);
      return sink.EndArray();
    }
    default:
      return sink.Null();  // Describe admits no other type
  }
}

// Results: the value as a JSON document (json_values.h has the encoding).
class ResultSink : public JsonSink {
 public:
  JsonValue Take() { return std::move(root_); }

  void Null() override { Put(JsonValue()); }
  void Bool(bool v) override { Put(JsonValue(v)); }
  void Integer(int64_t v) override { Put(JsonValue(v)); }
  void Float(double v) override { Put(JsonValue(v)); }
  void Numeric(std::string text) override { Put(JsonValue(std::move(text))); }
  void String(std::string_view v) override { Put(JsonValue(std::string(v))); }
  void Json(std::string_view text) override {
    JsonValue parsed = JsonValue::parse(text, nullptr, /*allow_exceptions=*/false);
    Put(parsed.is_discarded() ? JsonValue(std::string(text)) : std::move(parsed));
  }
  void Date(int32_t days) override { Put(JsonValue(DateText(days))); }
  void Time(int64_t micros) override { Put(JsonValue(TimeOfDayText(micros, false))); }
  void DateTime(int64_t micros) override { Put(JsonValue(DateTimeText(micros, false))); }
  void Timestamp(int64_t micros) override { Put(JsonValue(DateTimeText(micros, false) + "Z")); }
  void Interval(duckdb_interval v) override { Put(JsonValue(IntervalText(v))); }
  void BeginObject() override { Open(JsonValue::object()); }
  void Key(std::string_view name) override { key_ = name; }
  void EndObject() override { open_.pop_back(); }
  void BeginArray() override { Open(JsonValue::array()); }
  void EndArray() override { open_.pop_back(); }

 private:
  // Where the next value goes: the root, the key just named, or the end of the open array.
  JsonValue& Slot() {
    if (open_.empty()) return root_;
    JsonValue& parent = *open_.back();
    if (parent.is_object()) return parent[key_];
    parent.push_back(JsonValue());
    return parent.back();
  }
  void Put(JsonValue v) { Slot() = std::move(v); }
  // A container's address stays valid while it is open: only its own children are added.
  void Open(JsonValue container) {
    JsonValue& slot = Slot();
    slot = std::move(container);
    open_.push_back(&slot);
  }

  JsonValue root_;
  std::vector<JsonValue*> open_;
  std::string key_;
};

// TO_JSON_STRING: the value's text, appended to `out`.
class ToJsonStringSink : public JsonSink {
 public:
  explicit ToJsonStringSink(std::string& out) : out_(out) {}

  void Null() override { Value("null"); }
  void Bool(bool v) override { Value(v ? "true" : "false"); }
  void Integer(int64_t v) override { Value(std::to_string(v)); }
  void Float(double v) override { Value(RoundTripDouble(v)); }
  void Numeric(std::string text) override {
    // A number only when integral and exact as a double; the sign does not count as a digit.
    size_t digits = text.size() - (text.starts_with('-') ? 1 : 0);
    bool number = text.find('.') == std::string::npos && digits <= 16 &&
                  std::abs(std::stoll(text)) <= kExactInJson;
    if (number) return Value(text);
    String(text);
  }
  void String(std::string_view v) override {
    Separate();
    AppendJsonString(v, out_);
  }
  void Json(std::string_view text) override {
    // BigQuery's JSON keeps an object's keys sorted; nlohmann::json's objects are sorted maps.
    nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return String(text);
    Value(parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  void Date(int32_t days) override { String(DateText(days)); }
  void Time(int64_t micros) override { String(TimeOfDayText(micros, true)); }
  void DateTime(int64_t micros) override { String(DateTimeText(micros, true)); }
  void Timestamp(int64_t micros) override { String(DateTimeText(micros, true) + "Z"); }
  void Interval(duckdb_interval v) override { String(IntervalIso8601(v)); }
  void BeginObject() override { Open('{'); }
  void Key(std::string_view name) override {
    Separate();
    AppendJsonString(name, out_);
    out_ += ':';
    after_key_ = true;
  }
  void EndObject() override { Close('}'); }
  void BeginArray() override { Open('['); }
  void EndArray() override { Close(']'); }

 private:
  // A comma before every element of an array or field of an object but the first; none
  // between a key and its value.
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }
  void Value(std::string_view text) {
    Separate();
    out_ += text;
  }
  void Open(char bracket) {
    Separate();
    out_ += bracket;
    first_.push_back(true);
  }
  void Close(char bracket) {
    first_.pop_back();
    out_ += bracket;
  }

  std::string& out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
};

struct ChunkDeleter {
  void operator()(duckdb_data_chunk c) const { duckdb_destroy_data_chunk(&c); }
};

void ToJsonString(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  // No exception may cross DuckDB's C boundary.
  try {
    duckdb_vector in = duckdb_data_chunk_get_vector(input, 0);
    OwnedType type(duckdb_vector_get_column_type(in));
    auto node = Describe(type.get(), "TO_JSON_STRING's argument");
    if (!node.ok()) return duckdb_scalar_function_set_error(info, node.status().message().c_str());
    std::string text;
    idx_t rows = duckdb_data_chunk_get_size(input);
    for (idx_t r = 0; r < rows; ++r) {
      text.clear();
      ToJsonStringSink sink(text);
      Walk(*node, in, r, sink);
      duckdb_vector_assign_string_element_len(output, r, text.data(), text.size());
    }
  } catch (const std::exception& e) {
    duckdb_scalar_function_set_error(info, fmt::format("TO_JSON_STRING: {}", e.what()).c_str());
  }
}

}  // namespace

Result<std::vector<std::vector<JsonValue>>> ResultRowsAsJson(QueryResult& result) {
  std::vector<std::vector<JsonValue>> rows;
  size_t columns = result.columns();
  std::vector<TypeNode> types;
  for (size_t c = 0; c < columns; ++c) {
    OwnedType type(duckdb_column_logical_type(result.raw(), c));
    BF_ASSIGN_OR_RETURN(TypeNode node, Describe(type.get(), "column " + result.ColumnName(c)));
    types.push_back(std::move(node));
  }
  idx_t chunks = duckdb_result_chunk_count(*result.raw());
  for (idx_t k = 0; k < chunks; ++k) {
    std::unique_ptr<std::remove_pointer_t<duckdb_data_chunk>, ChunkDeleter> chunk(
        duckdb_result_get_chunk(*result.raw(), k));
    if (!chunk) return Internal(fmt::format("DuckDB returned no chunk {} of {}", k, chunks));
    idx_t size = duckdb_data_chunk_get_size(chunk.get());
    for (idx_t r = 0; r < size; ++r) {
      std::vector<JsonValue> row;
      row.reserve(columns);
      for (size_t c = 0; c < columns; ++c) {
        ResultSink sink;
        Walk(types[c], duckdb_data_chunk_get_vector(chunk.get(), c), r, sink);
        row.push_back(sink.Take());
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

Status RegisterToJsonString(duckdb_connection conn) {
  duckdb_scalar_function f = duckdb_create_scalar_function();
  duckdb_scalar_function_set_name(f, kToJsonStringFunction);
  OwnedType any(duckdb_create_logical_type(DUCKDB_TYPE_ANY));
  OwnedType varchar(duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR));
  duckdb_scalar_function_add_parameter(f, any.get());
  duckdb_scalar_function_set_return_type(f, varchar.get());
  // NULL rows reach the function: TO_JSON_STRING(NULL) is the text null, not NULL.
  duckdb_scalar_function_set_special_handling(f);
  duckdb_scalar_function_set_function(f, ToJsonString);
  duckdb_state state = duckdb_register_scalar_function(conn, f);
  duckdb_destroy_scalar_function(&f);
  if (state != DuckDBSuccess) {
    return Internal(fmt::format("cannot register the function {}", kToJsonStringFunction));
  }
  return Status::Ok();
}

std::string JsonCellText(const JsonValue& cell, const std::string& null_text) {
  if (cell.is_null()) return null_text;
  if (cell.is_string()) return cell.get<std::string>();
  return cell.dump();
}

}  // namespace backfill
