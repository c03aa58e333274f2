#include "ingest/row.h"

#include <charconv>

#include "ingest/json_text.h"

namespace backfill {

namespace {

void AppendValue(std::string* out, const RowValue& v, const Field& field, bool in_list);

void AppendRecord(std::string* out, const RowValue& v, const std::vector<Field>& fields) {
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < fields.size() && i < v.size(); ++i) {
    RowValue c = v.child(i);
    if (c.is_null()) continue;
    if (!first) out->push_back(',');
    first = false;
    ingest::AppendJsonString(out, fields[i].name);
    out->push_back(':');
    AppendValue(out, c, fields[i], /*in_list=*/false);
  }
  out->push_back('}');
}

void AppendValue(std::string* out, const RowValue& v, const Field& field, bool in_list) {
  switch (v.kind()) {
    case RowKind::kNull:
      out->append("null");
      break;
    case RowKind::kBool:
      out->append(v.bool_value() ? "true" : "false");
      break;
    case RowKind::kInt64: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof(buf), v.int_value());
      out->append(buf, r.ptr - buf);
      break;
    }
    case RowKind::kDouble:
      ingest::AppendJavaDouble(out, v.double_value());
      break;
    case RowKind::kString:
      if (v.is_json_literal()) {
        out->append(v.string_value());
      } else {
        ingest::AppendJsonString(out, v.string_value());
      }
      break;
    case RowKind::kRecord:
      AppendRecord(out, v, field.fields);
      break;
    case RowKind::kList: {
      out->push_back('[');
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out->push_back(',');
        AppendValue(out, v.child(i), field, /*in_list=*/true);
      }
      out->push_back(']');
      break;
    }
  }
  (void)in_list;
}

}  // namespace

std::string RowToJson(const RowValue& value, const std::vector<Field>& fields) {
  std::string out;
  if (value.kind() != RowKind::kRecord) {
    out = "null";
    return out;
  }
  AppendRecord(&out, value, fields);
  return out;
}

}  // namespace backfill
