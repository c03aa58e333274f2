// One algorithm in one file: a Row into the vectors of a DuckDB data chunk (row_writer.h), one
// case per BigQuery type and nesting (STRUCT, LIST, wide-encoded text), which share the vector
// bookkeeping.
#include "ingest/row_writer.h"

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "ingest/bq_values.h"
#include "ingest/json_text.h"
#include "ingest/payload.h"
#include "warehouse/duckdb.h"

namespace backfill::ingest {

// ---------------------------------------------------------------------------------------------
// ColumnTypes, ChunkAppender.

ColumnTypes::~ColumnTypes() {
  for (auto& t : types_) duckdb_destroy_logical_type(&t);
}

namespace {

size_t StorageColumnsOf(duckdb_logical_type type) {
  auto child = [](duckdb_logical_type c) {
    size_t n = StorageColumnsOf(c);
    duckdb_destroy_logical_type(&c);
    return n;
  };
  switch (duckdb_get_type_id(type)) {
    case DUCKDB_TYPE_STRUCT: {  // validity, the fields
      size_t n = 1;
      for (idx_t i = 0; i < duckdb_struct_type_child_count(type); ++i)
        n += child(duckdb_struct_type_child_type(type, i));
      return n;
    }
    case DUCKDB_TYPE_LIST:  // offsets, validity, the elements
      return 2 + child(duckdb_list_type_child_type(type));
    case DUCKDB_TYPE_ARRAY:  // validity, the elements (fixed size: no offsets)
      return 1 + child(duckdb_array_type_child_type(type));
    case DUCKDB_TYPE_MAP:  // a list of key/value records
      return 3 + child(duckdb_map_type_key_type(type)) + child(duckdb_map_type_value_type(type));
    default:  // values, validity
      return 2;
  }
}

}  // namespace

ColumnTypes::ColumnTypes(std::vector<duckdb_logical_type> types) : types_(std::move(types)) {
  for (duckdb_logical_type t : types_) storage_columns_ += StorageColumnsOf(t);
}

Result<std::shared_ptr<const ColumnTypes>> ColumnTypes::OfTable(duckdb_connection conn,
                                                                const std::string& catalog,
                                                                const std::string& schema,
                                                                const std::string& table) {
  duckdb_appender a = nullptr;
  if (duckdb_appender_create_ext(conn, catalog.c_str(), schema.c_str(), table.c_str(), &a) !=
      DuckDBSuccess) {
    std::string message = "unknown error";
    if (duckdb_error_data e = duckdb_appender_error_data(a)) {
      if (const char* m = duckdb_error_data_message(e)) message = m;
      duckdb_destroy_error_data(&e);
    }
    duckdb_appender_destroy(&a);
    return StatusFromDuckDbError(
        message, "reading the column types of " + catalog + "." + schema + "." + table);
  }
  std::vector<duckdb_logical_type> types;
  idx_t n = duckdb_appender_column_count(a);
  for (idx_t i = 0; i < n; ++i) types.push_back(duckdb_appender_column_type(a, i));
  duckdb_appender_destroy(&a);
  return std::shared_ptr<const ColumnTypes>(std::make_shared<ColumnTypes>(std::move(types)));
}

ChunkAppender::~ChunkAppender() {
  if (appender_) duckdb_appender_destroy(&appender_);
}

ChunkAppender& ChunkAppender::operator=(ChunkAppender&& o) noexcept {
  if (this != &o) {
    if (appender_) duckdb_appender_destroy(&appender_);
    appender_ = o.appender_;
    what_ = std::move(o.what_);
    o.appender_ = nullptr;
  }
  return *this;
}

Result<ChunkAppender> ChunkAppender::Open(duckdb_connection conn, const std::string& catalog,
                                          const std::string& schema, const std::string& table) {
  ChunkAppender a;
  a.what_ = catalog + "." + schema + "." + table;
  if (duckdb_appender_create_ext(conn, catalog.c_str(), schema.c_str(), table.c_str(),
                                 &a.appender_) != DuckDBSuccess) {
    return a.Error("opening an appender");
  }
  return a;
}

Status ChunkAppender::Error(const std::string& doing) {
  std::string message = "unknown error";
  if (appender_) {
    duckdb_error_data e = duckdb_appender_error_data(appender_);
    if (e) {
      if (const char* m = duckdb_error_data_message(e)) message = m;
      duckdb_destroy_error_data(&e);
    }
  }
  return StatusFromDuckDbError(message, doing + " " + what_);
}

Status ChunkAppender::Append(duckdb_data_chunk chunk) {
  if (!appender_) return Internal("appender is closed");
  if (duckdb_append_data_chunk(appender_, chunk) != DuckDBSuccess)
    return Error("appending a chunk to");
  return Status::Ok();
}

Status ChunkAppender::Flush() {
  if (!appender_) return Internal("appender is closed");
  if (duckdb_appender_flush(appender_) != DuckDBSuccess) return Error("flushing the appender of");
  return Status::Ok();
}

Chunk::~Chunk() {
  if (data_) duckdb_destroy_data_chunk(&data_);
}

char* Chunk::AllocateString(size_t n) {
  while (block_ < blocks_.size()) {
    if (used_ + n <= blocks_[block_].second) {
      char* p = blocks_[block_].first.get() + used_;
      used_ += n;
      return p;
    }
    ++block_;
    used_ = 0;
  }
  const size_t size = std::max(n, kBlockBytes);
  blocks_.emplace_back(std::make_unique_for_overwrite<char[]>(size), size);
  block_ = blocks_.size() - 1;
  used_ = n;
  return blocks_.back().first.get();
}

// ---------------------------------------------------------------------------------------------
// ChunkBuffer and its table function.

namespace {

std::mutex g_buffers_mu;
std::map<int64_t, ChunkBuffer*> g_buffers;
int64_t g_next_buffer_id = 0;

struct ScanState {
  std::atomic<size_t> next{0};
};

void ScanBind(duckdb_bind_info info) {
  duckdb_value v = duckdb_bind_get_parameter(info, 0);
  int64_t id = duckdb_get_int64(v);
  duckdb_destroy_value(&v);
  ChunkBuffer* buffer = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_buffers_mu);
    if (auto it = g_buffers.find(id); it != g_buffers.end()) buffer = it->second;
  }
  if (!buffer) {
    duckdb_bind_set_error(info, "no chunk buffer with this id");
    return;
  }
  for (size_t i = 0; i < buffer->names().size(); ++i) {
    duckdb_bind_add_result_column(info, buffer->names()[i].c_str(), buffer->types().types()[i]);
  }
  duckdb_bind_set_bind_data(info, buffer, nullptr);
}

void ScanInit(duckdb_init_info info) {
  duckdb_init_set_init_data(info, new ScanState(),
                            [](void* p) { delete static_cast<ScanState*>(p); });
  auto* buffer = static_cast<ChunkBuffer*>(duckdb_init_get_bind_data(info));
  duckdb_init_set_max_threads(info, std::max<size_t>(1, buffer->chunk_count()));
}

void Scan(duckdb_function_info info, duckdb_data_chunk output) {
  auto* buffer = static_cast<ChunkBuffer*>(duckdb_function_get_bind_data(info));
  auto* state = static_cast<ScanState*>(duckdb_function_get_init_data(info));
  const auto& chunks = buffer->chunks();
  size_t next = state->next.fetch_add(1);
  while (next < chunks.size() && duckdb_data_chunk_get_size(chunks[next]->data()) == 0)
    next = state->next.fetch_add(1);
  if (next >= chunks.size()) {
    duckdb_data_chunk_set_size(output, 0);
    return;
  }
  duckdb_data_chunk c = chunks[next]->data();
  idx_t columns = duckdb_data_chunk_get_column_count(output);
  for (idx_t i = 0; i < columns; ++i) {
    duckdb_vector_reference_vector(duckdb_data_chunk_get_vector(output, i),
                                   duckdb_data_chunk_get_vector(c, i));
  }
  duckdb_data_chunk_set_size(output, duckdb_data_chunk_get_size(c));
}

}  // namespace

ChunkBuffer::ChunkBuffer(std::vector<std::string> column_names,
                         std::shared_ptr<const ColumnTypes> types)
    : names_(std::move(column_names)), types_(std::move(types)) {
  std::lock_guard<std::mutex> lock(g_buffers_mu);
  id_ = ++g_next_buffer_id;
  g_buffers[id_] = this;
}

ChunkBuffer::~ChunkBuffer() {
  {
    std::lock_guard<std::mutex> lock(g_buffers_mu);
    g_buffers.erase(id_);
  }
}

void ChunkBuffer::Add(std::unique_ptr<Chunk> chunk) {
  rows_ += duckdb_data_chunk_get_size(chunk->data());
  chunks_.push_back(std::move(chunk));
}

std::vector<std::unique_ptr<Chunk>> ChunkBuffer::Release() {
  rows_ = 0;
  return std::move(chunks_);
}

Status RegisterChunkScan(duckdb_connection conn, const std::string& name) {
  duckdb_table_function f = duckdb_create_table_function();
  duckdb_table_function_set_name(f, name.c_str());
  duckdb_logical_type bigint = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
  duckdb_table_function_add_parameter(f, bigint);
  duckdb_destroy_logical_type(&bigint);
  duckdb_table_function_set_bind(f, ScanBind);
  duckdb_table_function_set_init(f, ScanInit);
  duckdb_table_function_set_function(f, Scan);
  duckdb_state state = duckdb_register_table_function(conn, f);
  duckdb_destroy_table_function(&f);
  if (state != DuckDBSuccess) return Internal("cannot register the table function " + name);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// RowWriter.

struct RowWriter::Node {
  enum class Kind : uint8_t {
    kBool,
    kInt64,
    kDouble,
    kString,
    kBlob,
    kDecimal,
    kTimestamp,
    kDatetime,
    kDate,
    kTime,
    kInterval,
    kStruct,
    kList,
    kEncoded,  // a wide-encoded column (core/wide.h): VARCHAR; its one child describes the value
  };
  Kind kind = Kind::kString;
  const Field* field = nullptr;
  std::string path;
  bool in_list = false;
  duckdb_type decimal_internal = DUCKDB_TYPE_HUGEINT;
  int decimal_scale = 0;
  duckdb_vector vec = nullptr;
  void* data = nullptr;
  uint64_t* validity = nullptr;
  std::vector<Node*> children;
  uint64_t list_size = 0, list_capacity = 0;
  size_t element_bits = 0;  // lists: bits one more element takes in the child vectors
  bool shadow = false;      // under a kEncoded column: no vector, only the conversions
  std::string json_key;     // shadow record fields: `"name":`, as the encoding writes it
};

namespace {

using Node = RowWriter::Node;
using Kind = Node::Kind;

struct TypeHolder {
  duckdb_logical_type t;
  explicit TypeHolder(duckdb_logical_type type) : t(type) {}
  ~TypeHolder() { duckdb_destroy_logical_type(&t); }
};

// `id` DUCKDB_TYPE_INVALID: no DuckDB column to check (the value is wide-encoded).
Result<Kind> ScalarKind(const Field& f, duckdb_type id) {
  Kind k;
  duckdb_type want;
  switch (f.type) {
    case FieldType::kString:
    case FieldType::kGeography:
    case FieldType::kJson:
      k = Kind::kString;
      want = DUCKDB_TYPE_VARCHAR;
      break;
    case FieldType::kBytes:
      k = Kind::kBlob;
      want = DUCKDB_TYPE_BLOB;
      break;
    case FieldType::kInt64:
      k = Kind::kInt64;
      want = DUCKDB_TYPE_BIGINT;
      break;
    case FieldType::kFloat64:
      k = Kind::kDouble;
      want = DUCKDB_TYPE_DOUBLE;
      break;
    case FieldType::kNumeric:
    case FieldType::kBigNumeric:
      k = Kind::kDecimal;
      want = DUCKDB_TYPE_DECIMAL;
      break;
    case FieldType::kBool:
      k = Kind::kBool;
      want = DUCKDB_TYPE_BOOLEAN;
      break;
    case FieldType::kTimestamp:
      k = Kind::kTimestamp;
      want = DUCKDB_TYPE_TIMESTAMP_TZ;
      break;
    case FieldType::kDate:
      k = Kind::kDate;
      want = DUCKDB_TYPE_DATE;
      break;
    case FieldType::kTime:
      k = Kind::kTime;
      want = DUCKDB_TYPE_TIME;
      break;
    case FieldType::kDatetime:
      k = Kind::kDatetime;
      want = DUCKDB_TYPE_TIMESTAMP;
      break;
    case FieldType::kInterval:
      k = Kind::kInterval;
      want = DUCKDB_TYPE_INTERVAL;
      break;
    default:
      return Internal("not a scalar field: " + f.name);
  }
  if (id != want && id != DUCKDB_TYPE_INVALID) {
    return InvalidArgument(
        fmt::format("column {} ({}): the DuckDB column has type id {}, expected {}", f.name,
                    FieldTypeName(f.type), static_cast<int>(id), static_cast<int>(want)));
  }
  return k;
}

}  // namespace

namespace {

// The conversions of a wide-encoded value's fields (no vectors): kinds as the native columns'
// would be, decimals as DuckDbType() makes them (DECIMAL(38,9)).
Status BuildShadow(const Field& f, bool element, const std::string& path,
                   std::vector<std::unique_ptr<Node>>* nodes, Node** out) {
  auto owned = std::make_unique<Node>();
  Node* n = owned.get();
  nodes->push_back(std::move(owned));
  n->field = &f;
  n->path = path;
  n->shadow = true;
  AppendJsonString(&n->json_key, f.name);
  n->json_key.push_back(':');
  if (f.mode == FieldMode::kRepeated && !element) {
    n->kind = Kind::kList;
    Node* c = nullptr;
    BF_RETURN_IF_ERROR(BuildShadow(f, true, path + "[]", nodes, &c));
    n->children.push_back(c);
  } else if (f.type == FieldType::kRecord) {
    n->kind = Kind::kStruct;
    for (const Field& sub : f.fields) {
      Node* c = nullptr;
      BF_RETURN_IF_ERROR(BuildShadow(sub, false, path + "." + sub.name, nodes, &c));
      n->children.push_back(c);
    }
  } else {
    BF_ASSIGN_OR_RETURN(n->kind, ScalarKind(f, DUCKDB_TYPE_INVALID));
    n->decimal_scale = 9;
  }
  *out = n;
  return Status::Ok();
}

// Builds the node tree of one field. `element`: build the element of a REPEATED field.
Status BuildNode(const Field& f, duckdb_logical_type type, bool in_list, bool element,
                 const std::string& path, std::vector<std::unique_ptr<Node>>* nodes, Node** out) {
  auto owned = std::make_unique<Node>();
  Node* n = owned.get();
  nodes->push_back(std::move(owned));
  n->field = &f;
  n->path = path;
  n->in_list = in_list;
  duckdb_type id = duckdb_get_type_id(type);
  if (f.type == FieldType::kRecord && !element && !in_list && id == DUCKDB_TYPE_VARCHAR) {
    n->kind = Kind::kEncoded;  // a top-level RECORD stored as its wide encoding
    Node* c = nullptr;
    BF_RETURN_IF_ERROR(BuildShadow(f, false, path, nodes, &c));
    n->children.push_back(c);
  } else if (f.mode == FieldMode::kRepeated && !element) {
    if (id != DUCKDB_TYPE_LIST)
      return InvalidArgument("column " + path + " is REPEATED but the DuckDB column is not a LIST");
    n->kind = Kind::kList;
    TypeHolder child(duckdb_list_type_child_type(type));
    Node* c = nullptr;
    BF_RETURN_IF_ERROR(
        BuildNode(f, child.t, /*in_list=*/true, /*element=*/true, path + "[]", nodes, &c));
    n->children.push_back(c);
  } else if (f.type == FieldType::kRecord) {
    if (id != DUCKDB_TYPE_STRUCT)
      return InvalidArgument("column " + path +
                             " is a RECORD but the DuckDB column is not a STRUCT");
    if (duckdb_struct_type_child_count(type) != f.fields.size()) {
      return InvalidArgument(
          fmt::format("column {}: {} fields in the schema, {} in the DuckDB STRUCT", path,
                      f.fields.size(), duckdb_struct_type_child_count(type)));
    }
    n->kind = Kind::kStruct;
    for (size_t i = 0; i < f.fields.size(); ++i) {
      TypeHolder child(duckdb_struct_type_child_type(type, i));
      Node* c = nullptr;
      BF_RETURN_IF_ERROR(BuildNode(f.fields[i], child.t, in_list, false,
                                   path + "." + f.fields[i].name, nodes, &c));
      n->children.push_back(c);
    }
  } else {
    BF_ASSIGN_OR_RETURN(n->kind, ScalarKind(f, id));
    if (n->kind == Kind::kDecimal) {
      n->decimal_internal = duckdb_decimal_internal_type(type);
      n->decimal_scale = duckdb_decimal_scale(type);
    }
  }
  *out = n;
  return Status::Ok();
}

// Bits one position of the vector takes: its data (none for a STRUCT) and its validity bit.
size_t PositionBits(const Node* n) {
  size_t bytes = 0;
  switch (n->kind) {
    case Kind::kBool:
      bytes = 1;
      break;
    case Kind::kDate:
      bytes = 4;
      break;
    case Kind::kInt64:
    case Kind::kDouble:
    case Kind::kTimestamp:
    case Kind::kDatetime:
    case Kind::kTime:
      bytes = 8;
      break;
    case Kind::kString:
    case Kind::kBlob:
    case Kind::kInterval:
    case Kind::kEncoded:
    case Kind::kList:
      bytes = 16;
      break;  // string_t, interval_t, list_entry_t
    case Kind::kDecimal:
      bytes = n->decimal_internal == DUCKDB_TYPE_SMALLINT  ? 2
              : n->decimal_internal == DUCKDB_TYPE_INTEGER ? 4
              : n->decimal_internal == DUCKDB_TYPE_BIGINT  ? 8
                                                           : 16;
      break;
    case Kind::kStruct:
      bytes = 0;
      break;
  }
  return bytes * 8 + 1;
}

// Bits one position of `n` takes in its own buffer: n and its STRUCT children, not what a LIST
// holds in its child buffer.
size_t SubtreeBits(const Node* n) {
  size_t bits = PositionBits(n);
  if (n->kind == Kind::kStruct) {
    for (const Node* c : n->children) bits += SubtreeBits(c);
  }
  return bits;
}

void CollectRowIndexed(Node* n, std::vector<Node*>* out) {
  if (n->in_list) return;
  out->push_back(n);
  if (n->kind == Kind::kStruct) {
    for (Node* c : n->children) CollectRowIndexed(c, out);
  }
}

inline void SetBit(uint64_t* v, uint64_t pos) { v[pos >> 6] |= uint64_t(1) << (pos & 63); }
inline void ClearBit(uint64_t* v, uint64_t pos) { v[pos >> 6] &= ~(uint64_t(1) << (pos & 63)); }

// Re-reads the data and validity pointers of a node and of the vectors that share its
// buffers' lifetime (struct children; not a list's child, which has its own buffer).
void RefreshPointers(Node* n) {
  n->data = duckdb_vector_get_data(n->vec);
  duckdb_vector_ensure_validity_writable(n->vec);
  n->validity = duckdb_vector_get_validity(n->vec);
  if (n->kind == Kind::kStruct) {
    for (Node* c : n->children) RefreshPointers(c);
  }
}

void BindVectors(Node* n, duckdb_vector vec) {
  n->vec = vec;
  if (n->kind == Kind::kStruct) {
    for (size_t i = 0; i < n->children.size(); ++i)
      BindVectors(n->children[i], duckdb_struct_vector_get_child(vec, i));
  } else if (n->kind == Kind::kList) {
    BindVectors(n->children[0], duckdb_list_vector_get_child(vec));
  }
}

void AppendNumberText(std::string* out, const RowValue& v) {
  char buf[32];
  switch (v.kind()) {
    case RowKind::kBool:
      out->append(v.bool_value() ? "true" : "false");
      break;
    case RowKind::kInt64: {
      auto r = std::to_chars(buf, buf + sizeof(buf), v.int_value());
      out->append(buf, r.ptr - buf);
      break;
    }
    case RowKind::kDouble:
      AppendJavaDouble(out, v.double_value());
      break;
    default:
      break;
  }
}

const char* RowKindName(RowKind k) {
  switch (k) {
    case RowKind::kNull:
      return "null";
    case RowKind::kBool:
      return "boolean";
    case RowKind::kInt64:
      return "integer";
    case RowKind::kDouble:
      return "number";
    case RowKind::kString:
      return "string";
    case RowKind::kList:
      return "list";
    case RowKind::kRecord:
      return "record";
  }
  return "value";
}

}  // namespace

// The per-row work, kept out of the class so the header stays small.
class RowWriterImpl {
 public:
  RowWriterImpl(std::vector<std::pair<Node*, uint64_t>>* undo, size_t* memory, Chunk* chunk)
      : undo_(undo), memory_(memory), chunk_(chunk) {}

  bool Write(Node* n, uint64_t pos, const RowValue& v) {
    if (v.is_null()) {
      if (n->in_list) SetNull(n, pos);
      return true;  // row-indexed vectors start all-NULL
    }
    switch (n->kind) {
      case Kind::kStruct: {
        if (v.kind() != RowKind::kRecord) return Mismatch(n, v);
        SetBit(n->validity, pos);
        size_t have = v.size();
        for (size_t i = 0; i < n->children.size(); ++i) {
          Node* c = n->children[i];
          if (i < have) {
            if (!Write(c, pos, v.child(i))) return false;
          } else if (c->in_list) {
            SetNull(c, pos);
          }
        }
        return true;
      }
      case Kind::kList: {
        if (v.kind() != RowKind::kList) return Mismatch(n, v);
        uint64_t count = v.size();
        uint64_t offset = n->list_size;
        if (offset + count > n->list_capacity) Grow(n, offset + count);
        undo_->emplace_back(n, offset);
        n->list_size = offset + count;
        auto* entries = static_cast<duckdb_list_entry*>(n->data);
        entries[pos] = {offset, count};
        SetBit(n->validity, pos);
        Node* e = n->children[0];
        for (uint64_t j = 0; j < count; ++j) {
          if (!Write(e, offset + j, v.child(j))) return false;
        }
        return true;
      }
      case Kind::kEncoded:
        if (!WriteEncoded(n, pos, v)) return false;
        SetBit(n->validity, pos);
        return true;
      default:
        if (!WriteScalar(n, pos, v)) return false;
        SetBit(n->validity, pos);
        return true;
    }
  }

  Status error;

 private:
  void SetNull(Node* n, uint64_t pos) {
    ClearBit(n->validity, pos);
    if (n->kind == Kind::kStruct) {
      for (Node* c : n->children) SetNull(c, pos);
    } else if (n->kind == Kind::kList) {
      static_cast<duckdb_list_entry*>(n->data)[pos] = {n->list_size, 0};
    }
  }

  void Grow(Node* n, uint64_t needed) {
    uint64_t cap = std::max<uint64_t>(n->list_capacity * 2, needed);
    duckdb_list_vector_reserve(n->vec, cap);
    *memory_ += (cap - n->list_capacity) * n->element_bits / 8;
    n->list_capacity = cap;
    RefreshPointers(n);  // the entries (our data) did not move, but be safe
    RefreshPointers(n->children[0]);
  }

  bool Mismatch(Node* n, const RowValue& v) {
    error = InvalidArgument(
        fmt::format("column '{}' ({}{}) cannot hold a {}", n->path, FieldTypeName(n->field->type),
                    n->kind == Kind::kList ? " REPEATED" : "", RowKindName(v.kind())));
    return false;
  }

  bool Unparsable(Node* n, std::string_view text, const char* what) {
    std::string shown(text.substr(0, 100));
    if (text.size() > 100) shown += "...";
    error = InvalidArgument(fmt::format("column '{}' ({}): cannot read '{}' as {}", n->path,
                                        FieldTypeName(n->field->type), shown, what));
    return false;
  }

  // The value as text for the text-parsed types (numbers keep their JSON form).
  std::string_view Text(const RowValue& v) {
    if (v.kind() == RowKind::kString) return v.string_value();
    scratch_.clear();
    AppendNumberText(&scratch_, v);
    return scratch_;
  }

  // One scalar converted to its column's value (the field of `Scalar` that the kind uses).
  struct Scalar {
    bool b = false;
    int64_t i = 0;  // INT64; microseconds of TIMESTAMP, DATETIME and TIME; days of DATE
    double d = 0;
    __int128 dec = 0;
    std::string_view s;  // STRING (text), BYTES (the decoded bytes, in scratch_)
  };

  // Converts a scalar as BigQuery reads JSON rows; false (error set) when it does not fit.
  bool Convert(Node* n, const RowValue& v, Scalar* x) {
    const RowKind k = v.kind();
    if (k == RowKind::kList || k == RowKind::kRecord) return Mismatch(n, v);
    if (v.is_json_literal()) {  // made only for a STRING inside a wide-encoded column
      error = Internal(
          fmt::format("column '{}' was given JSON text meant for a wide-encoded column", n->path));
      return false;
    }
    switch (n->kind) {
      case Kind::kBool: {
        if (k == RowKind::kBool) {
          x->b = v.bool_value();
        } else if (k == RowKind::kString &&
                   (v.string_value() == "true" || v.string_value() == "false")) {
          x->b = v.string_value() == "true";
        } else {
          return Mismatch(n, v);
        }
        return true;
      }
      case Kind::kInt64: {
        if (k == RowKind::kInt64) {
          x->i = v.int_value();
        } else if (k == RowKind::kBool) {
          x->i = v.bool_value() ? 1 : 0;
        } else if (k == RowKind::kDouble) {
          double d = v.double_value();
          if (!(std::floor(d) == d && std::fabs(d) < 9.2e18))
            return Unparsable(n, Text(v), "an integer");
          x->i = static_cast<int64_t>(d);
        } else {
          std::string_view s = v.string_value();
          auto r = std::from_chars(s.data(), s.data() + s.size(), x->i);
          if (r.ec != std::errc() || r.ptr != s.data() + s.size())
            return Unparsable(n, s, "an integer");
        }
        return true;
      }
      case Kind::kDouble: {
        if (k == RowKind::kDouble) {
          x->d = v.double_value();
        } else if (k == RowKind::kInt64) {
          x->d = static_cast<double>(v.int_value());
        } else if (k == RowKind::kBool) {
          x->d = v.bool_value() ? 1 : 0;
        } else {
          std::string_view s = v.string_value();
          if (s == "NaN") {
            x->d = std::nan("");
          } else if (s == "Infinity" || s == "-Infinity") {
            x->d = s[0] == '-' ? -HUGE_VAL : HUGE_VAL;
          } else {
            auto r = std::from_chars(s.data(), s.data() + s.size(), x->d);
            if (r.ec != std::errc() || r.ptr != s.data() + s.size())
              return Unparsable(n, s, "a number");
          }
        }
        return true;
      }
      case Kind::kString:
        x->s = Text(v);
        return true;
      case Kind::kBlob:
        if (k != RowKind::kString) return Mismatch(n, v);
        if (!Base64Decode(v.string_value(), &scratch_).ok())
          return Unparsable(n, v.string_value(), "base64 bytes");
        x->s = scratch_;
        return true;
      case Kind::kDecimal: {
        std::string_view s = Text(v);
        if (!ParseDecimal(s, n->decimal_scale, &x->dec))
          return Unparsable(n, s, "a decimal number");
        return true;
      }
      case Kind::kTimestamp:
      case Kind::kDatetime: {
        std::string_view s = Text(v);
        bool ok = n->kind == Kind::kTimestamp ? ParseTimestampMicros(s, &x->i)
                                              : ParseDatetimeMicros(s, &x->i);
        if (!ok)
          return Unparsable(n, s, n->kind == Kind::kTimestamp ? "a timestamp" : "a datetime");
        return true;
      }
      case Kind::kDate: {
        int32_t days;
        std::string_view s = Text(v);
        if (!ParseDateDays(s, &days)) return Unparsable(n, s, "a date");
        x->i = days;
        return true;
      }
      case Kind::kTime: {
        std::string_view s = Text(v);
        if (!ParseTimeMicros(s, &x->i)) return Unparsable(n, s, "a time");
        return true;
      }
      case Kind::kInterval:
        return Unparsable(n, Text(v),
                          "an interval (INTERVAL values are not supported by the sink)");
      default:
        return Mismatch(n, v);
    }
  }

  bool WriteScalar(Node* n, uint64_t pos, const RowValue& v) {
    Scalar x;
    if (!Convert(n, v, &x)) return false;
    switch (n->kind) {
      case Kind::kBool:
        static_cast<bool*>(n->data)[pos] = x.b;
        return true;
      case Kind::kInt64:
      case Kind::kTimestamp:
      case Kind::kDatetime:
      case Kind::kTime:
        static_cast<int64_t*>(n->data)[pos] = x.i;
        return true;
      case Kind::kDouble:
        static_cast<double*>(n->data)[pos] = x.d;
        return true;
      case Kind::kDate:
        static_cast<int32_t*>(n->data)[pos] = static_cast<int32_t>(x.i);
        return true;
      case Kind::kString:
      case Kind::kBlob:
        SetString(n, pos, x.s);
        return true;
      case Kind::kDecimal:
        switch (n->decimal_internal) {
          case DUCKDB_TYPE_SMALLINT:
            static_cast<int16_t*>(n->data)[pos] = static_cast<int16_t>(x.dec);
            break;
          case DUCKDB_TYPE_INTEGER:
            static_cast<int32_t*>(n->data)[pos] = static_cast<int32_t>(x.dec);
            break;
          case DUCKDB_TYPE_BIGINT:
            static_cast<int64_t*>(n->data)[pos] = static_cast<int64_t>(x.dec);
            break;
          default: {
            duckdb_hugeint h;
            h.lower = static_cast<uint64_t>(x.dec);
            h.upper = static_cast<int64_t>(x.dec >> 64);
            static_cast<duckdb_hugeint*>(n->data)[pos] = h;
          }
        }
        return true;
      default:
        return Mismatch(n, v);
    }
  }

  // A wide-encoded column (core/wide.h): the value's encoding, written as the column's text.
  bool WriteEncoded(Node* n, uint64_t pos, const RowValue& v) {
    encoded_.clear();
    if (!Encode(n->children[0], v)) return false;
    SetString(n, pos, encoded_);
    return true;
  }

  // What duckdb_vector_assign_string_element_len does, with the bytes in the chunk's own string
  // memory (Chunk): DuckDB's string_t, inlined up to kInlinedString bytes (zero-padded, as
  // DuckDB compares the whole inlined form), else its length, first four bytes and a pointer.
  void SetString(Node* n, uint64_t pos, std::string_view s) {
    duckdb_string_t& t = static_cast<duckdb_string_t*>(n->data)[pos];
    const auto length = static_cast<uint32_t>(s.size());
    if (s.size() <= kInlinedString) {
      t.value.inlined.length = length;
      std::memset(t.value.inlined.inlined, 0, sizeof(t.value.inlined.inlined));
      if (length) std::memcpy(t.value.inlined.inlined, s.data(), s.size());
      return;
    }
    char* p = chunk_->AllocateString(s.size());
    std::memcpy(p, s.data(), s.size());
    t.value.pointer.length = length;
    std::memcpy(t.value.pointer.prefix, p, sizeof(t.value.pointer.prefix));
    t.value.pointer.ptr = p;
    *memory_ += s.size();
  }

  // Appends the encoding of `v`: the same values WriteScalar stores, as the text DuckDB's
  // VARCHAR -> type casts read back exactly. NULL fields of a record are left out.
  bool Encode(Node* n, const RowValue& v) {
    if (v.is_null()) {
      encoded_ += "null";
      return true;
    }
    if (n->kind == Kind::kStruct) {
      if (v.kind() != RowKind::kRecord) return Mismatch(n, v);
      encoded_.push_back('{');
      bool first = true;
      for (size_t i = 0; i < n->children.size() && i < v.size(); ++i) {
        RowValue c = v.child(i);
        if (c.is_null()) continue;
        if (!first) encoded_.push_back(',');
        first = false;
        encoded_ += n->children[i]->json_key;
        if (!Encode(n->children[i], c)) return false;
      }
      encoded_.push_back('}');
      return true;
    }
    if (n->kind == Kind::kList) {
      if (v.kind() != RowKind::kList) return Mismatch(n, v);
      encoded_.push_back('[');
      for (size_t j = 0; j < v.size(); ++j) {
        if (j) encoded_.push_back(',');
        if (!Encode(n->children[0], v.child(j))) return false;
      }
      encoded_.push_back(']');
      return true;
    }
    if (v.is_json_literal() && n->kind == Kind::kString) {
      encoded_.append(v.string_value());
      return true;
    }
    Scalar x;
    if (!Convert(n, v, &x)) return false;
    if (n->kind == Kind::kString) {  // most leaves of telemetry main: no copy before escaping
      AppendJsonString(&encoded_, x.s);
      return true;
    }
    text_.clear();
    if (!FormatScalar(n, x, &text_)) return false;
    AppendJsonString(&encoded_, text_);
    return true;
  }

  // The text of DuckDB's own type -> VARCHAR cast (what its VARCHAR -> type cast reads back).
  bool FormatScalar(Node* n, const Scalar& x, std::string* out) {
    char buf[64];
    switch (n->kind) {
      case Kind::kBool:
        *out += x.b ? "true" : "false";
        return true;
      case Kind::kInt64: {
        auto r = std::to_chars(buf, buf + sizeof(buf), x.i);
        out->append(buf, r.ptr - buf);
        return true;
      }
      case Kind::kDouble: {
        if (std::isnan(x.d)) {
          *out += "nan";
        } else if (std::isinf(x.d)) {
          *out += x.d < 0 ? "-inf" : "inf";
        } else {
          auto r =
              std::to_chars(buf, buf + sizeof(buf), x.d);  // shortest round-trip, "-0" for -0.0
          out->append(buf, r.ptr - buf);
        }
        return true;
      }
      case Kind::kString:
        out->append(x.s);
        return true;
      case Kind::kBlob:
        for (unsigned char c : x.s) {
          if (c >= 0x20 && c < 0x7f && c != '\\') {
            out->push_back(static_cast<char>(c));
          } else {
            static constexpr char kHex[] = "0123456789ABCDEF";
            *out += "\\x";
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 15]);
          }
        }
        return true;
      case Kind::kDecimal: {
        unsigned __int128 mag = x.dec < 0 ? -static_cast<unsigned __int128>(x.dec) : x.dec;
        std::string digits;
        do {
          digits.push_back(static_cast<char>('0' + static_cast<int>(mag % 10)));
          mag /= 10;
        } while (mag != 0);
        while (digits.size() <= static_cast<size_t>(n->decimal_scale)) digits.push_back('0');
        if (x.dec < 0) out->push_back('-');
        for (size_t k = digits.size(); k-- > 0;) {
          out->push_back(digits[k]);
          if (k == static_cast<size_t>(n->decimal_scale) && k != 0) out->push_back('.');
        }
        return true;
      }
      case Kind::kDate:
        return FormatDays(n, x.i, out);
      case Kind::kTimestamp:
      case Kind::kDatetime: {
        int64_t day = x.i / kMicrosPerDay, tod = x.i % kMicrosPerDay;
        if (tod < 0) {
          tod += kMicrosPerDay;
          --day;
        }
        if (!FormatDays(n, day, out)) return false;
        out->push_back(' ');
        FormatTimeOfDay(tod, out);
        if (n->kind == Kind::kTimestamp) *out += "+00";
        return true;
      }
      case Kind::kTime:
        FormatTimeOfDay(x.i, out);
        return true;
      default:
        return Unparsable(n, "", "a value that can be stored encoded");
    }
  }

  // "YYYY-MM-DD" for years 1..9999 (BigQuery's range; DuckDB writes others in forms it does
  // not read back).
  bool FormatDays(Node* n, int64_t days, std::string* out) {
    // civil_from_days (Howard Hinnant).
    int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = static_cast<int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 1 || y > 9999)
      return Unparsable(n, fmt::format("year {}", y), "a date in years 1..9999");
    fmt::format_to(std::back_inserter(*out), "{:04}-{:02}-{:02}", y, m, d);
    return true;
  }

  static void FormatTimeOfDay(int64_t us, std::string* out) {
    int64_t secs = us / kMicrosPerSecond, frac = us % kMicrosPerSecond;
    fmt::format_to(std::back_inserter(*out), "{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60,
                   secs % 60);
    if (frac) fmt::format_to(std::back_inserter(*out), ".{:06}", frac);
  }

  // DuckDB keeps strings up to this long inside the vector; longer ones go to its string heap.
  static constexpr size_t kInlinedString = 12;

  std::vector<std::pair<Node*, uint64_t>>* undo_;
  size_t* memory_;  // the writer's variable_memory_
  Chunk* chunk_;    // the one being filled
  std::string scratch_;
  // Kept per thread (an impl lives for one row), so encoding stops allocating once warm.
  static thread_local std::string encoded_, text_;
};

thread_local std::string RowWriterImpl::encoded_;
thread_local std::string RowWriterImpl::text_;

Result<std::unique_ptr<RowWriter>> RowWriter::Create(std::vector<Field> fields,
                                                     std::shared_ptr<const ColumnTypes> types,
                                                     const std::string& partition_by) {
  if (!types) return Internal("RowWriter needs column types");
  if (types->types().size() != fields.size()) {
    return InvalidArgument(fmt::format("the schema has {} columns, the DuckDB table {}",
                                       fields.size(), types->types().size()));
  }
  std::unique_ptr<RowWriter> w(new RowWriter());
  w->fields_ = std::move(fields);
  w->types_ = std::move(types);
  for (size_t i = 0; i < w->fields_.size(); ++i) {
    Node* n = nullptr;
    BF_RETURN_IF_ERROR(BuildNode(w->fields_[i], w->types_->types()[i], false, false,
                                 w->fields_[i].name, &w->nodes_, &n));
    w->roots_.push_back(n);
    if (!partition_by.empty() && w->fields_[i].name == partition_by &&
        (n->kind == Kind::kTimestamp || n->kind == Kind::kDate || n->kind == Kind::kDatetime)) {
      w->partition_index_ = static_cast<int>(i);
    }
  }
  for (Node* r : w->roots_) CollectRowIndexed(r, &w->row_indexed_);
  for (auto& n : w->nodes_) {
    if (n->kind == Kind::kList && !n->shadow) w->lists_.push_back(n.get());
  }
  w->capacity_ = duckdb_vector_size();
  size_t bits = 0;
  for (Node* r : w->roots_) bits += SubtreeBits(r);
  for (Node* l : w->lists_) {
    l->element_bits = SubtreeBits(l->children[0]);
    bits += l->element_bits;  // Bind() reserves capacity_ elements in every list
  }
  w->fixed_memory_ = w->capacity_ * bits / 8;
  w->Bind(w->NewChunk());
  return w;
}

RowWriter::~RowWriter() = default;

std::unique_ptr<Chunk> RowWriter::NewChunk() const {
  auto& t = types_->types();
  return std::make_unique<Chunk>(
      duckdb_create_data_chunk(const_cast<duckdb_logical_type*>(t.data()), t.size()));
}

void RowWriter::Bind(std::unique_ptr<Chunk> chunk) {
  chunk_ = std::move(chunk);
  duckdb_data_chunk_reset(chunk_->data());
  chunk_->ResetStrings();
  for (size_t i = 0; i < roots_.size(); ++i)
    BindVectors(roots_[i], duckdb_data_chunk_get_vector(chunk_->data(), i));
  for (Node* l : lists_) {
    l->list_size = 0;
    l->list_capacity = capacity_;
    duckdb_list_vector_reserve(l->vec, l->list_capacity);
  }
  for (auto& n : nodes_) {
    if (n->shadow) continue;
    n->data = duckdb_vector_get_data(n->vec);
    duckdb_vector_ensure_validity_writable(n->vec);
    n->validity = duckdb_vector_get_validity(n->vec);
  }
  // Row-indexed vectors start all-NULL (absent fields then cost nothing) with empty lists.
  for (Node* n : row_indexed_) {
    std::memset(n->validity, 0, (capacity_ + 63) / 64 * sizeof(uint64_t));
    if (n->kind == Kind::kList) std::memset(n->data, 0, capacity_ * sizeof(duckdb_list_entry));
  }
  size_ = 0;
  variable_memory_ = 0;
}

void RowWriter::Rollback(size_t undo_mark) {
  const uint64_t pos = size_;
  for (Node* n : row_indexed_) {
    ClearBit(n->validity, pos);
    if (n->kind == Kind::kList) static_cast<duckdb_list_entry*>(n->data)[pos] = {0, 0};
  }
  while (undo_.size() > undo_mark) {
    undo_.back().first->list_size = undo_.back().second;
    undo_.pop_back();
  }
}

Status RowWriter::Append(const Row& row) {
  if (full()) return Internal("RowWriter::Append on a full chunk");
  RowValue root = row.root();
  if (root.kind() != RowKind::kRecord) return InvalidArgument("the row is not a record");
  undo_.clear();
  RowWriterImpl impl(&undo_, &variable_memory_, chunk_.get());
  const size_t have = root.size();
  for (size_t i = 0; i < roots_.size() && i < have; ++i) {
    if (!impl.Write(roots_[i], size_, root.child(i))) {
      Rollback(0);
      return impl.error;
    }
  }
  last_day_.reset();
  if (partition_index_ >= 0) {
    Node* p = roots_[partition_index_];
    if (p->validity[size_ >> 6] & (uint64_t(1) << (size_ & 63))) {
      if (p->kind == Kind::kDate) {
        last_day_ = static_cast<int32_t*>(p->data)[size_];
      } else {
        int64_t us = static_cast<int64_t*>(p->data)[size_];
        int64_t day = us / kMicrosPerDay;
        if (us % kMicrosPerDay < 0) --day;
        last_day_ = static_cast<int32_t>(day);
      }
    }
  }
  undo_.clear();
  ++size_;
  return Status::Ok();
}

std::unique_ptr<Chunk> RowWriter::TakeChunk(std::unique_ptr<Chunk> replacement) {
  for (Node* l : lists_) duckdb_list_vector_set_size(l->vec, l->list_size);
  duckdb_data_chunk_set_size(chunk_->data(), size_);
  std::unique_ptr<Chunk> full = std::move(chunk_);
  Bind(replacement ? std::move(replacement) : NewChunk());
  return full;
}

}  // namespace backfill::ingest
