// What the parts of the Warehouse share (warehouse.cc: projects, datasets, access, audit;
// warehouse_tables.cc: tables and their writes): the storage layout's constants, quoting, and
// TableRow, a table as its catalog row describes it. Not an API.
#pragma once

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/text.h"
#include "core/wide.h"
#include "warehouse/warehouse.h"

namespace backfill {
namespace warehouse_internal {

// Segment ids are (write_id << kDayBits) | day index, so one INSERT assigns every row its
// segment without a second pass; the day index counts days since 0001-01-01.
inline constexpr int kDayBits = 20;
inline constexpr int64_t kNullPartition = (int64_t{1} << kDayBits) - 1;
inline constexpr const char* kDayZero = "DATE '0001-01-01'";
// The layout of a project file. 1: before it was recorded. 2: `_bf.meta` holds it and tables
// record their wide-encoded columns (`_bf.tables.encoded`).
inline constexpr int kStorageFormat = 2;

inline std::string Q(std::string_view s) { return QuoteIdent(s); }
inline std::string S(std::string_view s) { return QuoteString(s); }

// Principal and column lists are stored as comma-separated text: names never contain commas.
inline std::string ListLiteral(const std::vector<std::string>& v) {
  std::string joined;
  for (size_t i = 0; i < v.size(); ++i) joined += (i ? "," : "") + v[i];
  return S(joined);
}

inline std::vector<std::string> ParseList(const std::optional<std::string>& text) {
  return text ? SplitList(*text) : std::vector<std::string>{};
}

inline bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

inline std::string Cat(const std::string& project) { return Q(project); }

// A write that failed at the file layer (disk full, read-only or immutable file, ...): names the
// project file and says that the rolled-back transaction changed nothing.
inline Status WrapWriteFailure(const Status& s, const std::filesystem::path& file) {
  if (s.code() != StatusCode::kIoError) return s;
  return Status(
      s.code(),
      fmt::format("writing {} failed; the transaction was rolled back and nothing was changed "
                  "by it: {}",
                  file.string(), s.message()));
}
inline std::string Bf(const std::string& project, const char* table) {
  return Q(project) + "._bf." + table;
}

}  // namespace warehouse_internal

struct Warehouse::TableRow {
  TableName name;
  int64_t id = 0;
  TableOptions options;
  PartitionKind kind = PartitionKind::kNone;
  Timestamp created_at;
  std::optional<Timestamp> dropped_at;
  std::vector<std::string> encoded;  // columns stored wide-encoded (core/wide.h)

  bool IsEncoded(const std::string& column) const {
    return std::find(encoded.begin(), encoded.end(), column) != encoded.end();
  }
  // The table's columns as readers see them: encoded columns decoded to their exact types.
  std::string DecodedColumns() const {
    if (encoded.empty()) return "* EXCLUDE (_bf_seg)";
    std::vector<std::string> cols;
    for (const auto& f : options.schema.fields) {
      cols.push_back(IsEncoded(f.name) ? WideDecodeSql(f, warehouse_internal::Q(f.name)) + " AS " +
                                             warehouse_internal::Q(f.name)
                                       : warehouse_internal::Q(f.name));
    }
    return Join(cols, ", ");
  }
  // The columns of `alias` (native values in the table's column order) as the storage holds
  // them: encoded columns encoded.
  std::string EncodingColumns(const std::string& alias) const {
    std::vector<std::string> cols;
    for (const auto& f : options.schema.fields) {
      std::string c = warehouse_internal::Q(alias) + "." + warehouse_internal::Q(f.name);
      cols.push_back(IsEncoded(f.name) ? WideEncodeSql(f, c) : c);
    }
    return Join(cols, ", ");
  }
  std::string Store() const {
    return warehouse_internal::Q(name.project) + "._bf_store." +
           warehouse_internal::Q("t" + std::to_string(id));
  }
  // The partition of a row, as a DATE expression over the table's columns.
  std::string PartitionExpr() const {
    switch (kind) {
      case PartitionKind::kNone:
        return "CAST(NULL AS DATE)";
      case PartitionKind::kDate:
        return warehouse_internal::Q(options.partition_by);
      case PartitionKind::kTimestamp:
        return "CAST(" + warehouse_internal::Q(options.partition_by) + " AS DATE)";
    }
    return "NULL";
  }
  std::string ColumnNames() const {
    std::vector<std::string> cols;
    for (const auto& f : options.schema.fields) cols.push_back(warehouse_internal::Q(f.name));
    return Join(cols, ", ");
  }
};

}  // namespace backfill
