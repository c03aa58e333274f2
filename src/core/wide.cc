#include "core/wide.h"

#include <algorithm>

namespace backfill {

namespace {

// json_transform's structure: objects for RECORDs, [x] for REPEATED, "VARCHAR" for leaves.
void AppendStructure(const Field& f, bool element, std::string* out) {
  if (f.mode == FieldMode::kRepeated && !element) {
    out->push_back('[');
    AppendStructure(f, true, out);
    out->push_back(']');
    return;
  }
  if (f.type != FieldType::kRecord) {
    *out += "\"VARCHAR\"";
    return;
  }
  out->push_back('{');
  for (size_t i = 0; i < f.fields.size(); ++i) {
    if (i) out->push_back(',');
    out->push_back('"');
    for (char c : f.fields[i].name) {  // BigQuery names are [A-Za-z0-9_]; escape anyway
      if (c == '"' || c == '\\') out->push_back('\\');
      out->push_back(c);
    }
    *out += "\":";
    AppendStructure(f.fields[i], false, out);
  }
  out->push_back('}');
}

// The field's DuckDB type with every leaf VARCHAR.
std::string VarcharType(const Field& f) {
  std::string base = "VARCHAR";
  if (f.type == FieldType::kRecord) {
    base = "STRUCT(";
    for (size_t i = 0; i < f.fields.size(); ++i) {
      if (i) base += ", ";
      base += QuoteIdent(f.fields[i].name) + " " + VarcharType(f.fields[i]);
    }
    base += ")";
  }
  return f.mode == FieldMode::kRepeated ? base + "[]" : base;
}

}  // namespace

size_t FieldLeafCount(const Field& field) {
  if (field.type != FieldType::kRecord) return 1;
  size_t n = 0;
  for (const auto& c : field.fields) n += FieldLeafCount(c);
  return n;
}

std::vector<std::string> EncodedColumns(const Schema& schema, const WideThresholds& thresholds) {
  std::vector<std::string> out;
  if (schema.LeafCount() < static_cast<size_t>(std::max(thresholds.table_leaves, 0))) return out;
  for (const auto& f : schema.fields) {
    if (f.type == FieldType::kRecord &&
        FieldLeafCount(f) >= static_cast<size_t>(std::max(thresholds.column_leaves, 1))) {
      out.push_back(f.name);
    }
  }
  return out;
}

std::string StoredColumnList(const Schema& schema, const std::vector<std::string>& encoded) {
  std::string out;
  for (size_t i = 0; i < schema.fields.size(); ++i) {
    const Field& f = schema.fields[i];
    bool wide = std::find(encoded.begin(), encoded.end(), f.name) != encoded.end();
    if (i) out += ", ";
    out += QuoteIdent(f.name) + " " + (wide ? std::string("VARCHAR") : DuckDbType(f));
  }
  return out;
}

std::string WideDecodeSql(const Field& field, std::string_view text_sql) {
  std::string structure;
  AppendStructure(field, false, &structure);
  return "CAST(json_transform(" + std::string(text_sql) + ", " + QuoteString(structure) + ") AS " +
         DuckDbType(field) + ")";
}

std::string WideEncodeSql(const Field& field, std::string_view value_sql) {
  return "CAST(to_json(CAST(" + std::string(value_sql) + " AS " + VarcharType(field) +
         ")) AS VARCHAR)";
}

}  // namespace backfill
