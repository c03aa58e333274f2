#include "core/schema.h"

#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace backfill {
namespace {

using Json = nlohmann::ordered_json;

struct TypeName {
  std::string_view name;
  FieldType type;
};
constexpr TypeName kTypeNames[] = {
    {"STRING", FieldType::kString},       {"BYTES", FieldType::kBytes},
    {"INT64", FieldType::kInt64},         {"INTEGER", FieldType::kInt64},
    {"FLOAT64", FieldType::kFloat64},     {"FLOAT", FieldType::kFloat64},
    {"NUMERIC", FieldType::kNumeric},     {"BIGNUMERIC", FieldType::kBigNumeric},
    {"BOOL", FieldType::kBool},           {"BOOLEAN", FieldType::kBool},
    {"TIMESTAMP", FieldType::kTimestamp}, {"DATE", FieldType::kDate},
    {"TIME", FieldType::kTime},           {"DATETIME", FieldType::kDatetime},
    {"GEOGRAPHY", FieldType::kGeography}, {"JSON", FieldType::kJson},
    {"INTERVAL", FieldType::kInterval},   {"RECORD", FieldType::kRecord},
    {"STRUCT", FieldType::kRecord},
};

// BigQuery compares field names without regard to case, and so does DuckDB: "a" and "A" in
// one record are the same column.
std::string FoldCase(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The 1-based line of each element of a `fields` array (the top-level array, or the "fields"
// of the top-level object or of a field), in document order. That is the order ParseField
// visits fields in (a field before its sub-fields), so the n-th field visited starts on line
// FieldLines(doc)[n]. `json` has already parsed, so the scan only follows strings, nesting and
// keys. Only runs when a schema has an error.
std::vector<int> FieldLines(std::string_view json) {
  struct Level {
    bool object = false;
    bool fields_array = false;   // an array whose elements are fields
    bool field = false;          // an object that is a field (or the top-level wrapper)
    bool key_is_fields = false;  // the object's current key is "fields"
  };
  std::vector<int> lines;
  std::vector<Level> stack;
  int line = 1;
  bool expect_element = false;
  std::string_view last_string;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '\n') ++line;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (expect_element && c != ']') lines.push_back(line);
    expect_element = false;
    switch (c) {
      case '"': {
        size_t start = i + 1;
        for (++i; i < json.size() && json[i] != '"'; ++i) {
          if (json[i] == '\\') ++i;
        }
        last_string = json.substr(start, std::min(i, json.size()) - start);
        break;
      }
      case ':':
        if (!stack.empty()) stack.back().key_is_fields = last_string == "fields";
        break;
      case '{': {
        Level l;
        l.object = true;
        l.field = stack.empty() || stack.back().fields_array;
        stack.push_back(l);
        break;
      }
      case '[': {
        Level l;
        l.fields_array = stack.empty() ||
                         (stack.back().object && stack.back().field && stack.back().key_is_fields);
        stack.push_back(l);
        expect_element = l.fields_array;
        break;
      }
      case ']':
      case '}':
        if (!stack.empty()) stack.pop_back();
        break;
      case ',':
        expect_element = !stack.empty() && stack.back().fields_array;
        break;
      default:
        break;
    }
  }
  return lines;
}

// Says where the n-th field visited starts: ":<line>" (computed on first use), or "".
class FieldLocator {
 public:
  explicit FieldLocator(std::string_view json) : json_(json) {}
  size_t Next() { return next_++; }
  size_t Peek() const { return next_; }
  std::string Where(size_t index) {
    if (!computed_) {
      lines_ = FieldLines(json_);
      computed_ = true;
    }
    return index < lines_.size() ? fmt::format(":{}", lines_[index]) : "";
  }

 private:
  std::string_view json_;
  size_t next_ = 0;
  bool computed_ = false;
  std::vector<int> lines_;
};

Result<Field> ParseField(const Json& j, const std::string& parent, std::string_view origin,
                         FieldLocator& locator) {
  const size_t index = locator.Next();
  auto fail = [&](const std::string& path, const std::string& what) {
    return InvalidArgument(fmt::format("{}{}: {}{}", origin, locator.Where(index),
                                       path.empty() ? "" : path + ": ", what));
  };
  if (!j.is_object()) return fail(parent, "a field must be a JSON object");
  Field f;
  auto name = j.find("name");
  if (name == j.end() || !name->is_string()) return fail(parent, "field without a \"name\"");
  f.name = name->get<std::string>();
  std::string path = parent.empty() ? f.name : parent + "." + f.name;
  auto type = j.find("type");
  if (type == j.end() || !type->is_string()) return fail(path, "field without a \"type\"");
  auto parsed = ParseFieldType(type->get<std::string>());
  if (!parsed.ok()) return fail(path, parsed.status().message());
  f.type = *parsed;
  if (auto mode = j.find("mode"); mode != j.end() && !mode->is_null()) {
    std::string m = mode->is_string() ? mode->get<std::string>() : "";
    if (m == "NULLABLE")
      f.mode = FieldMode::kNullable;
    else if (m == "REQUIRED")
      f.mode = FieldMode::kRequired;
    else if (m == "REPEATED")
      f.mode = FieldMode::kRepeated;
    else
      return fail(path, fmt::format("unknown mode '{}'", mode->dump()));
  }
  if (auto d = j.find("description"); d != j.end() && d->is_string())
    f.description = d->get<std::string>();
  auto sub = j.find("fields");
  if (f.type == FieldType::kRecord) {
    if (sub == j.end() || !sub->is_array() || sub->empty())
      return fail(path, "RECORD without fields");
    std::unordered_set<std::string> seen;
    for (const auto& child : *sub) {
      const size_t child_index = locator.Peek();
      BF_ASSIGN_OR_RETURN(Field cf, ParseField(child, path, origin, locator));
      if (!seen.insert(FoldCase(cf.name)).second) {
        return InvalidArgument(fmt::format("{}{}: {}: duplicate field '{}'", origin,
                                           locator.Where(child_index), path, cf.name));
      }
      f.fields.push_back(std::move(cf));
    }
  } else if (sub != j.end() && !(sub->is_array() && sub->empty())) {
    return fail(path, fmt::format("{} field has sub-fields", FieldTypeName(f.type)));
  }
  return f;
}

Json FieldToJson(const Field& f) {
  Json j;
  if (!f.description.empty()) j["description"] = f.description;
  if (f.type == FieldType::kRecord) {
    Json fields = Json::array();
    for (const auto& c : f.fields) fields.push_back(FieldToJson(c));
    j["fields"] = std::move(fields);
  }
  j["mode"] = f.mode == FieldMode::kRepeated   ? "REPEATED"
              : f.mode == FieldMode::kRequired ? "REQUIRED"
                                               : "NULLABLE";
  j["name"] = f.name;
  j["type"] = FieldTypeName(f.type);
  return j;
}

std::string BaseDuckDbType(const Field& f) {
  switch (f.type) {
    case FieldType::kString:
      return "VARCHAR";
    case FieldType::kBytes:
      return "BLOB";
    case FieldType::kInt64:
      return "BIGINT";
    case FieldType::kFloat64:
      return "DOUBLE";
    case FieldType::kNumeric:
      return "DECIMAL(38,9)";
    case FieldType::kBigNumeric:
      return "DECIMAL(38,9)";  // DuckDB's widest decimal
    case FieldType::kBool:
      return "BOOLEAN";
    case FieldType::kTimestamp:
      return "TIMESTAMPTZ";
    case FieldType::kDate:
      return "DATE";
    case FieldType::kTime:
      return "TIME";
    case FieldType::kDatetime:
      return "TIMESTAMP";
    case FieldType::kGeography:
      return "VARCHAR";  // WKT text
    case FieldType::kJson:
      return "JSON";
    case FieldType::kInterval:
      return "INTERVAL";
    case FieldType::kRecord: {
      std::string out = "STRUCT(";
      for (size_t i = 0; i < f.fields.size(); ++i) {
        if (i) out += ", ";
        out += QuoteIdent(f.fields[i].name) + " " + DuckDbType(f.fields[i]);
      }
      return out + ")";
    }
  }
  return "VARCHAR";
}

std::string ModeName(FieldMode m) {
  return m == FieldMode::kRepeated   ? "REPEATED"
         : m == FieldMode::kRequired ? "REQUIRED"
                                     : "NULLABLE";
}

std::string ShapeName(const Field& f) {
  return fmt::format("{} {}", ModeName(f.mode), FieldTypeName(f.type));
}

void DiffFields(const std::vector<Field>& a, const std::vector<Field>& b, const std::string& prefix,
                std::vector<std::string>& out) {
  for (size_t i = 0; i < a.size(); ++i) {
    const Field& fa = a[i];
    std::string path = prefix + fa.name;
    const Field* fb = nullptr;
    for (const auto& x : b) {
      if (x.name == fa.name) fb = &x;
    }
    if (!fb) {
      out.push_back(fmt::format("removed column {}", path));
      continue;
    }
    if (fa.type != fb->type || fa.mode != fb->mode) {
      out.push_back(fmt::format("column {}: {} -> {}", path, ShapeName(fa), ShapeName(*fb)));
    } else if (fa.type == FieldType::kRecord) {
      DiffFields(fa.fields, fb->fields, path + ".", out);
    }
  }
  for (size_t i = 0; i < b.size(); ++i) {
    bool found = false;
    for (const auto& x : a) found = found || x.name == b[i].name;
    if (!found) out.push_back(fmt::format("added column {}{}", prefix, b[i].name));
  }
  // Same names and shapes but another order still matters: column order is part of a table.
  if (out.empty() && a.size() == b.size()) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].name != b[i].name) {
        out.push_back(fmt::format("column order differs at {}{} / {}{}", prefix, a[i].name, prefix,
                                  b[i].name));
        break;
      }
    }
  }
}

}  // namespace

bool Field::SameShape(const Field& o) const {
  if (name != o.name || type != o.type || mode != o.mode || fields.size() != o.fields.size())
    return false;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!fields[i].SameShape(o.fields[i])) return false;
  }
  return true;
}

const Field* Schema::Find(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const Field* Schema::FindPath(std::string_view path) const {
  const std::vector<Field>* level = &fields;
  const Field* found = nullptr;
  while (true) {
    size_t dot = path.find('.');
    std::string_view name = path.substr(0, dot);
    found = nullptr;
    for (const auto& f : *level) {
      if (f.name == name) found = &f;
    }
    if (!found || dot == std::string_view::npos) return found;
    if (found->type != FieldType::kRecord || found->mode == FieldMode::kRepeated) return nullptr;
    level = &found->fields;
    path.remove_prefix(dot + 1);
  }
}

bool Schema::SameShape(const Schema& o) const {
  if (fields.size() != o.fields.size()) return false;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!fields[i].SameShape(o.fields[i])) return false;
  }
  return true;
}

size_t Schema::LeafCount() const {
  size_t n = 0;
  auto walk = [&](auto&& self, const std::vector<Field>& fs) -> void {
    for (const auto& f : fs) {
      if (f.type == FieldType::kRecord)
        self(self, f.fields);
      else
        ++n;
    }
  };
  walk(walk, fields);
  return n;
}

Result<Schema> ParseBqSchema(std::string_view json, std::string_view origin) {
  Json doc;
  try {
    doc = Json::parse(json.begin(), json.end());
  } catch (const Json::exception& e) {
    // parse_error, and out_of_range for a number too large for a double ("1e400").
    return InvalidArgument(fmt::format("{}: not valid JSON: {}", origin, e.what()));
  }
  // Both a bare array and {"fields": [...]} (the form `bq show --schema` and the API use).
  const Json* fields = &doc;
  if (doc.is_object() && doc.contains("fields")) fields = &doc["fields"];
  if (!fields->is_array())
    return InvalidArgument(fmt::format("{}: a schema must be a JSON array of fields", origin));
  if (fields->empty()) return InvalidArgument(fmt::format("{}: the schema has no fields", origin));
  Schema schema;
  FieldLocator locator(json);
  std::unordered_set<std::string> seen;
  for (const auto& f : *fields) {
    const size_t index = locator.Peek();  // the field ParseField is about to visit
    BF_ASSIGN_OR_RETURN(Field field, ParseField(f, "", origin, locator));
    if (!seen.insert(FoldCase(field.name)).second) {
      return InvalidArgument(
          fmt::format("{}{}: duplicate column '{}'", origin, locator.Where(index), field.name));
    }
    schema.fields.push_back(std::move(field));
  }
  return schema;
}

std::string SchemaToBqJson(const Schema& schema) {
  Json j = Json::array();
  for (const auto& f : schema.fields) j.push_back(FieldToJson(f));
  return j.dump(2);
}

Result<FieldType> ParseFieldType(std::string_view name) {
  for (const auto& t : kTypeNames) {
    if (t.name == name) return t.type;
  }
  return InvalidArgument(fmt::format("unknown type '{}'", name));
}

const char* FieldTypeName(FieldType type) {
  for (const auto& t : kTypeNames) {
    if (t.type == type) return t.name.data();
  }
  return "STRING";
}

std::string DuckDbType(const Field& field) {
  std::string base = BaseDuckDbType(field);
  return field.mode == FieldMode::kRepeated ? base + "[]" : base;
}

std::string DuckDbColumnList(const Schema& schema) {
  std::string out;
  for (size_t i = 0; i < schema.fields.size(); ++i) {
    if (i) out += ", ";
    out += QuoteIdent(schema.fields[i].name) + " " + DuckDbType(schema.fields[i]);
  }
  return out;
}

std::string GoogleSqlType(const Field& field) {
  std::string base;
  if (field.type == FieldType::kRecord) {
    base = "STRUCT<";
    for (size_t i = 0; i < field.fields.size(); ++i) {
      if (i) base += ", ";
      base += "`" + field.fields[i].name + "` " + GoogleSqlType(field.fields[i]);
    }
    base += ">";
  } else {
    base = FieldTypeName(field.type);
  }
  return field.mode == FieldMode::kRepeated ? "ARRAY<" + base + ">" : base;
}

std::vector<std::string> DiffSchemas(const Schema& before, const Schema& after) {
  std::vector<std::string> out;
  DiffFields(before.fields, after.fields, "", out);
  return out;
}

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteString(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace backfill
