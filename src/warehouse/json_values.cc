#include "warehouse/json_values.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <chrono>
#include <cmath>
#include <memory>

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

JsonValue Integer(int64_t v) {
  if (v >= -kExactInJson && v <= kExactInJson) return v;
  return std::to_string(v);
}

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

std::string Fraction(int64_t micros_of_second) { return fmt::format("{:06d}", micros_of_second); }

// Days since 1970-01-01 -> YYYY-MM-DD (proleptic Gregorian, as DuckDB stores DATE).
std::string DateText(int32_t days) {
  std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  int y = static_cast<int>(ymd.year());
  return fmt::format("{}{:04d}-{:02d}-{:02d}", y < 0 ? "-" : "", std::abs(y),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

std::string TimeOfDayText(int64_t micros) {
  int64_t s = micros / 1'000'000;
  return fmt::format("{:02d}:{:02d}:{:02d}.{}", s / 3600, s / 60 % 60, s % 60,
                     Fraction(micros % 1'000'000));
}

// Microseconds since the epoch -> "YYYY-MM-DDTHH:MM:SS.ffffff" (floor division, so times
// before 1970 land on the right day).
std::string DateTimeText(int64_t micros) {
  int64_t day = micros / 86'400'000'000;
  int64_t rest = micros % 86'400'000'000;
  if (rest < 0) {
    rest += 86'400'000'000;
    --day;
  }
  return DateText(static_cast<int32_t>(day)) + "T" + TimeOfDayText(rest);
}

std::string IntervalText(duckdb_interval v) {
  int32_t years = v.months / 12, months = v.months % 12;
  int64_t micros = v.micros;
  bool negative = micros < 0;
  if (negative) micros = -micros;
  int64_t s = micros / 1'000'000;
  return fmt::format("{}-{} {} {}{}:{}:{}.{}", years, std::abs(months), v.days, negative ? "-" : "",
                     s / 3600, s / 60 % 60, s % 60, Fraction(micros % 1'000'000));
}

JsonValue Float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

class CellReader {
 public:
  explicit CellReader(std::string column) : column_(std::move(column)) {}

  Result<JsonValue> Read(duckdb_vector vec, duckdb_logical_type type, idx_t row) {
    duckdb_type id = duckdb_get_type_id(type);
    uint64_t* validity = duckdb_vector_get_validity(vec);
    if (validity && !duckdb_validity_row_is_valid(validity, row)) {
      // BigQuery has no NULL arrays: a NULL ARRAY reads as an empty one.
      return id == DUCKDB_TYPE_LIST || id == DUCKDB_TYPE_ARRAY ? JsonValue::array() : JsonValue();
    }
    void* data = duckdb_vector_get_data(vec);
    std::string alias = TakeString(duckdb_logical_type_get_alias(type));
    switch (id) {
      case DUCKDB_TYPE_BOOLEAN:
        return JsonValue(static_cast<bool*>(data)[row]);
      case DUCKDB_TYPE_TINYINT:
        return Integer(static_cast<int8_t*>(data)[row]);
      case DUCKDB_TYPE_SMALLINT:
        return Integer(static_cast<int16_t*>(data)[row]);
      case DUCKDB_TYPE_INTEGER:
        return Integer(static_cast<int32_t*>(data)[row]);
      case DUCKDB_TYPE_BIGINT:
        return Integer(static_cast<int64_t*>(data)[row]);
      case DUCKDB_TYPE_UTINYINT:
        return Integer(static_cast<uint8_t*>(data)[row]);
      case DUCKDB_TYPE_USMALLINT:
        return Integer(static_cast<uint16_t*>(data)[row]);
      case DUCKDB_TYPE_UINTEGER:
        return Integer(static_cast<uint32_t*>(data)[row]);
      case DUCKDB_TYPE_UBIGINT: {
        uint64_t v = static_cast<uint64_t*>(data)[row];
        if (v <= static_cast<uint64_t>(kExactInJson)) return JsonValue(static_cast<int64_t>(v));
        return JsonValue(std::to_string(v));
      }
      case DUCKDB_TYPE_HUGEINT: {
        duckdb_hugeint h = static_cast<duckdb_hugeint*>(data)[row];
        bool small = (h.upper == 0 && h.lower <= static_cast<uint64_t>(kExactInJson)) ||
                     (h.upper == -1 && h.lower >= static_cast<uint64_t>(-kExactInJson));
        if (small) return Integer(static_cast<int64_t>(h.lower));
        return JsonValue(HugeDigits(h));
      }
      case DUCKDB_TYPE_FLOAT:
        return Float(static_cast<float*>(data)[row]);
      case DUCKDB_TYPE_DOUBLE:
        return Float(static_cast<double*>(data)[row]);
      case DUCKDB_TYPE_DECIMAL:
        return JsonValue(Decimal(type, data, row));
      case DUCKDB_TYPE_VARCHAR: {
        std::string s = Text(data, row);
        if (alias == "JSON") {
          JsonValue parsed = JsonValue::parse(s, nullptr, /*allow_exceptions=*/false);
          if (!parsed.is_discarded()) return parsed;
        }
        return JsonValue(std::move(s));
      }
      case DUCKDB_TYPE_BLOB:
        return JsonValue(Base64(Text(data, row)));
      case DUCKDB_TYPE_DATE:
        return JsonValue(DateText(static_cast<duckdb_date*>(data)[row].days));
      case DUCKDB_TYPE_TIME:
        return JsonValue(TimeOfDayText(static_cast<duckdb_time*>(data)[row].micros));
      case DUCKDB_TYPE_TIMESTAMP:
        return JsonValue(DateTimeText(static_cast<duckdb_timestamp*>(data)[row].micros));
      case DUCKDB_TYPE_TIMESTAMP_TZ:
        return JsonValue(DateTimeText(static_cast<duckdb_timestamp*>(data)[row].micros) + "Z");
      case DUCKDB_TYPE_INTERVAL:
        return JsonValue(IntervalText(static_cast<duckdb_interval*>(data)[row]));
      case DUCKDB_TYPE_STRUCT: {
        JsonValue out = JsonValue::object();
        idx_t n = duckdb_struct_type_child_count(type);
        for (idx_t i = 0; i < n; ++i) {
          std::string name = TakeString(duckdb_struct_type_child_name(type, i));
          OwnedType child(duckdb_struct_type_child_type(type, i));
          BF_ASSIGN_OR_RETURN(out[name],
                              Read(duckdb_struct_vector_get_child(vec, i), child.get(), row));
        }
        return out;
      }
      case DUCKDB_TYPE_LIST: {
        duckdb_list_entry entry = static_cast<duckdb_list_entry*>(data)[row];
        OwnedType child(duckdb_list_type_child_type(type));
        duckdb_vector items = duckdb_list_vector_get_child(vec);
        JsonValue out = JsonValue::array();
        for (idx_t i = 0; i < entry.length; ++i) {
          BF_ASSIGN_OR_RETURN(JsonValue item, Read(items, child.get(), entry.offset + i));
          out.push_back(std::move(item));
        }
        return out;
      }
      case DUCKDB_TYPE_ARRAY: {
        idx_t size = duckdb_array_type_array_size(type);
        OwnedType child(duckdb_array_type_child_type(type));
        duckdb_vector items = duckdb_array_vector_get_child(vec);
        JsonValue out = JsonValue::array();
        for (idx_t i = 0; i < size; ++i) {
          BF_ASSIGN_OR_RETURN(JsonValue item, Read(items, child.get(), row * size + i));
          out.push_back(std::move(item));
        }
        return out;
      }
      default:
        return InvalidArgument(
            fmt::format("column {}: its DuckDB type (id {}) has no BigQuery equivalent to print as "
                        "JSON; CAST it",
                        column_, static_cast<int>(id)));
    }
  }

 private:
  static std::string Text(void* data, idx_t row) {
    duckdb_string_t* s = static_cast<duckdb_string_t*>(data) + row;
    return std::string(duckdb_string_t_data(s), duckdb_string_t_length(*s));
  }

  static std::string Decimal(duckdb_logical_type type, void* data, idx_t row) {
    uint8_t scale = duckdb_decimal_scale(type);
    std::string digits;
    switch (duckdb_decimal_internal_type(type)) {
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
    // BigQuery's API writes a NUMERIC without trailing fractional zeros ("1.5", not the
    // "1.500000000" of its fixed scale 9).
    std::string text = ScaleDigits(digits, scale);
    if (text.find('.') != std::string::npos) {
      text.erase(text.find_last_not_of('0') + 1);
      if (text.back() == '.') text.pop_back();
    }
    return text;
  }

  std::string column_;
};

struct ChunkDeleter {
  void operator()(duckdb_data_chunk c) const { duckdb_destroy_data_chunk(&c); }
};

}  // namespace

Result<std::vector<std::vector<JsonValue>>> ResultRowsAsJson(QueryResult& result) {
  std::vector<std::vector<JsonValue>> rows;
  size_t columns = result.columns();
  std::vector<OwnedType> types;
  std::vector<CellReader> readers;
  for (size_t c = 0; c < columns; ++c) {
    types.emplace_back(duckdb_column_logical_type(result.raw(), c));
    readers.emplace_back(result.ColumnName(c));
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
        BF_ASSIGN_OR_RETURN(
            JsonValue v,
            readers[c].Read(duckdb_data_chunk_get_vector(chunk.get(), c), types[c].get(), r));
        row.push_back(std::move(v));
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

std::string JsonCellText(const JsonValue& cell, const std::string& null_text) {
  if (cell.is_null()) return null_text;
  if (cell.is_string()) return cell.get<std::string>();
  return cell.dump();
}

}  // namespace backfill
