// Row: one transformed record, laid out to be copied straight into DuckDB vectors.
//
// A row is a tree of values (null / bool / int64 / double / string / list / record) held in
// flat arrays owned by one `Row`: nodes in a vector, string bytes in one buffer, and the
// children of lists and records as runs of node indices. A record's children are POSITIONAL:
// child i is the value of schema field i (a null node when absent), so writers never look
// names up. `Clear()` keeps the capacity, so a Row reused across records stops allocating
// once it has seen the largest record.
//
// `RowValue` is a cheap view (row pointer + node index) used to read the tree; it is valid
// until the owning Row is cleared or destroyed.
//
// Thread-compatible (one Row per thread); no I/O.
#pragma once

#include <cassert>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.h"

namespace backfill {

enum class RowKind : uint8_t { kNull, kBool, kInt64, kDouble, kString, kList, kRecord };

class Row;

class RowValue {
 public:
  RowValue(const Row* row, uint32_t index) : row_(row), index_(index) {}

  RowKind kind() const;
  bool is_null() const { return kind() == RowKind::kNull; }
  bool bool_value() const;
  int64_t int_value() const;
  double double_value() const;
  std::string_view string_value() const;
  // A string stored as its quoted, escaped JSON literal (Row::AddStringWith): string_value()
  // is then the literal, which only a JSON writer may use as it is.
  bool is_json_literal() const;
  // Number of children of a list or record (0 for scalars).
  size_t size() const;
  // Child i of a list or record; for records, i is the schema field index.
  RowValue child(size_t i) const;
  uint32_t index() const { return index_; }

 private:
  const Row* row_;
  uint32_t index_;
};

class Row {
 public:
  // Node 0 is always the shared null node, so absent fields cost one index each.
  static constexpr uint32_t kNullIndex = 0;

  Row() { Clear(); }

  void Clear();

  uint32_t AddBool(bool v);
  uint32_t AddInt(int64_t v);
  uint32_t AddDouble(double v);
  uint32_t AddString(std::string_view v);
  // A string that `append(std::string*)` writes straight into the row's string memory, which
  // saves copying it through a temporary: JSON texts of histograms are most of a main ping.
  // With `json_literal` it appends the string's JSON literal ("..." with its escapes), for
  // values that only a wide-encoded column (core/wide.h) will hold: the encoding then copies
  // the literal instead of escaping the text again. Telemetry histograms are JSON text, and
  // escaping every quote of them a second time was a tenth of the decoding of a main ping.
  template <typename Append>
  uint32_t AddStringWith(Append append, bool json_literal);
  // Children are node indices returned by earlier Add* calls.
  uint32_t AddList(std::span<const uint32_t> children);
  uint32_t AddRecord(std::span<const uint32_t> children);

  // The root record, set by whoever built the row.
  void set_root(uint32_t index) { root_ = index; }
  RowValue root() const { return RowValue(this, root_); }
  RowValue value(uint32_t index) const { return RowValue(this, index); }

 private:
  friend class RowValue;
  struct Node {
    RowKind kind;
    bool json_literal;  // kString written as its JSON literal (AddStringWith)
    uint32_t size;      // string length, or child count
    union {
      bool b;
      int64_t i;
      double d;
      uint64_t offset;  // into strings_ or children_
    };
  };
  static Node Of(RowKind kind) {
    Node n{};
    n.kind = kind;
    return n;
  }
  uint32_t Push(const Node& n);  // returns its index
  std::vector<Node> nodes_;
  std::string strings_;
  std::vector<uint32_t> children_;
  uint32_t root_ = kNullIndex;
};

// Inline: the transform and the row writer call these once per value of every row.
inline RowKind RowValue::kind() const { return row_->nodes_[index_].kind; }
inline bool RowValue::bool_value() const { return row_->nodes_[index_].b; }
inline int64_t RowValue::int_value() const { return row_->nodes_[index_].i; }
inline double RowValue::double_value() const { return row_->nodes_[index_].d; }

inline std::string_view RowValue::string_value() const {
  const auto& n = row_->nodes_[index_];
  return std::string_view(row_->strings_.data() + n.offset, n.size);
}

inline bool RowValue::is_json_literal() const { return row_->nodes_[index_].json_literal; }

inline size_t RowValue::size() const {
  const auto& n = row_->nodes_[index_];
  return (n.kind == RowKind::kList || n.kind == RowKind::kRecord) ? n.size : 0;
}

inline RowValue RowValue::child(size_t i) const {
  const auto& n = row_->nodes_[index_];
  assert(i < n.size);
  return RowValue(row_, row_->children_[n.offset + i]);
}

inline void Row::Clear() {
  nodes_.clear();
  strings_.clear();
  children_.clear();
  nodes_.push_back(Of(RowKind::kNull));
  root_ = kNullIndex;
}

inline uint32_t Row::Push(const Node& n) {
  nodes_.push_back(n);
  return static_cast<uint32_t>(nodes_.size() - 1);
}

inline uint32_t Row::AddBool(bool v) {
  Node n = Of(RowKind::kBool);
  n.b = v;
  return Push(n);
}

inline uint32_t Row::AddInt(int64_t v) {
  Node n = Of(RowKind::kInt64);
  n.i = v;
  return Push(n);
}

inline uint32_t Row::AddDouble(double v) {
  Node n = Of(RowKind::kDouble);
  n.d = v;
  return Push(n);
}

inline uint32_t Row::AddString(std::string_view v) {
  return AddStringWith([v](std::string* out) { out->append(v); }, false);
}

template <typename Append>
uint32_t Row::AddStringWith(Append append, bool json_literal) {
  Node n = Of(RowKind::kString);
  n.json_literal = json_literal;
  n.offset = strings_.size();
  append(&strings_);
  n.size = static_cast<uint32_t>(strings_.size() - n.offset);
  return Push(n);
}

inline uint32_t Row::AddList(std::span<const uint32_t> children) {
  Node n = Of(RowKind::kList);
  n.size = static_cast<uint32_t>(children.size());
  n.offset = children_.size();
  children_.insert(children_.end(), children.begin(), children.end());
  return Push(n);
}

inline uint32_t Row::AddRecord(std::span<const uint32_t> children) {
  uint32_t index = AddList(children);
  nodes_[index].kind = RowKind::kRecord;
  return index;
}

// The row as a JSON object: keys in schema order, null fields and empty records' nulls
// omitted, doubles in shortest round-trip form. For tests and debugging, not the hot path.
std::string RowToJson(const RowValue& value, const std::vector<Field>& fields);

}  // namespace backfill
