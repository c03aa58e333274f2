#include "ingest/row.h"

#include <cassert>
#include <charconv>

#include "ingest/json_text.h"

namespace backfill {

RowKind RowValue::kind() const { return row_->nodes_[index_].kind; }
bool RowValue::bool_value() const { return row_->nodes_[index_].b; }
int64_t RowValue::int_value() const { return row_->nodes_[index_].i; }
double RowValue::double_value() const { return row_->nodes_[index_].d; }

std::string_view RowValue::string_value() const {
  const auto& n = row_->nodes_[index_];
  return std::string_view(row_->strings_.data() + n.offset, n.size);
}

bool RowValue::is_json_literal() const { return row_->nodes_[index_].json_literal; }

size_t RowValue::size() const {
  const auto& n = row_->nodes_[index_];
  return (n.kind == RowKind::kList || n.kind == RowKind::kRecord) ? n.size : 0;
}

RowValue RowValue::child(size_t i) const {
  const auto& n = row_->nodes_[index_];
  assert(i < n.size);
  return RowValue(row_, row_->children_[n.offset + i]);
}

void Row::Clear() {
  nodes_.clear();
  strings_.clear();
  children_.clear();
  Node null_node{};
  null_node.kind = RowKind::kNull;
  nodes_.push_back(null_node);
  root_ = kNullIndex;
}

uint32_t Row::AddBool(bool v) {
  Node n{};
  n.kind = RowKind::kBool;
  n.b = v;
  nodes_.push_back(n);
  return static_cast<uint32_t>(nodes_.size() - 1);
}

uint32_t Row::AddInt(int64_t v) {
  Node n{};
  n.kind = RowKind::kInt64;
  n.i = v;
  nodes_.push_back(n);
  return static_cast<uint32_t>(nodes_.size() - 1);
}

uint32_t Row::AddDouble(double v) {
  Node n{};
  n.kind = RowKind::kDouble;
  n.d = v;
  nodes_.push_back(n);
  return static_cast<uint32_t>(nodes_.size() - 1);
}

uint32_t Row::AddString(std::string_view v) {
  Node n{};
  n.kind = RowKind::kString;
  n.size = static_cast<uint32_t>(v.size());
  n.offset = strings_.size();
  strings_.append(v);
  nodes_.push_back(n);
  return static_cast<uint32_t>(nodes_.size() - 1);
}

uint32_t Row::AddJsonLiteral(std::string_view literal) {
  uint32_t index = AddString(literal);
  nodes_[index].json_literal = true;
  return index;
}

uint32_t Row::AddList(std::span<const uint32_t> children) {
  Node n{};
  n.kind = RowKind::kList;
  n.size = static_cast<uint32_t>(children.size());
  n.offset = children_.size();
  children_.insert(children_.end(), children.begin(), children.end());
  nodes_.push_back(n);
  return static_cast<uint32_t>(nodes_.size() - 1);
}

uint32_t Row::AddRecord(std::span<const uint32_t> children) {
  uint32_t index = AddList(children);
  nodes_[index].kind = RowKind::kRecord;
  return index;
}

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
