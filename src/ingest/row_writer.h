// Bulk loading of transformed rows into DuckDB: `RowWriter` copies positional `Row`s (row.h)
// straight into the vectors of a DuckDB data chunk (STRUCT children, LIST children with
// reserve/size, VARCHAR/BLOB elements, validity masks, TIMESTAMPTZ/TIMESTAMP as microseconds,
// DATE as days, DECIMAL as scaled integers, JSON as VARCHAR), and `ChunkAppender` appends full
// chunks to a table with DuckDB's appender. No SQL text is built per row.
//
// A top-level RECORD column whose DuckDB type is VARCHAR is a wide-encoded column (core/wide.h):
// the writer converts its leaves exactly as it would for native vectors and writes the value's
// encoding text straight into the VARCHAR vector (no JSON re-parse, no STRUCT in between).
//
// Values the transform leaves as text for the warehouse to interpret (TIMESTAMP, DATE, TIME,
// DATETIME, NUMERIC, BYTES as base64) are parsed here as BigQuery reads JSON rows; a value that
// does not parse fails that row only (kInvalidArgument naming the column and the value), and the
// chunk is left exactly as it was before the row.
//
// Thread-safety: a RowWriter is used by one thread at a time; several RowWriters may fill their
// own chunks in parallel (they share nothing). `ColumnTypes` is immutable once built and may be
// shared. A ChunkAppender is used by the thread that owns its connection. No I/O besides the
// appender's writes into its table.
#pragma once

#include <duckdb.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.h"
#include "core/status.h"
#include "ingest/bq_values.h"
#include "ingest/row.h"

namespace backfill::ingest {

// The DuckDB column types of a table (owned logical types), e.g. those its appender reports.
// Building chunks from the very types of the target table means the appender never casts.
class ColumnTypes {
 public:
  ColumnTypes() = default;
  ~ColumnTypes();
  ColumnTypes(const ColumnTypes&) = delete;
  ColumnTypes& operator=(const ColumnTypes&) = delete;
  // Takes ownership of the types.
  explicit ColumnTypes(std::vector<duckdb_logical_type> types);
  // The types of a table as DuckDB reports them: catalog "temp", schema "main" for temp tables.
  static Result<std::shared_ptr<const ColumnTypes>> OfTable(duckdb_connection conn,
                                                            const std::string& catalog,
                                                            const std::string& schema,
                                                            const std::string& table);
  const std::vector<duckdb_logical_type>& types() const { return types_; }
  // How many columns DuckDB stores for each row group of the table (the column paths
  // pragma_storage_info lists): values and validity per leaf, validity per record, offsets and
  // validity per list.
  size_t storage_columns() const { return storage_columns_; }

 private:
  std::vector<duckdb_logical_type> types_;
  size_t storage_columns_ = 0;
};

// A DuckDB data chunk and the memory its long strings point into. RowWriter writes strings
// here instead of into DuckDB's string heap: that heap is freed whenever the chunk is reset, so
// each reuse allocated and page-faulted its strings afresh (a tenth of the decoding of telemetry
// main); this memory stays with the chunk while it is reused. Move-only; the strings are valid
// until ResetStrings() or the chunk's end, so a chunk must outlive every query that reads it.
class Chunk {
 public:
  explicit Chunk(duckdb_data_chunk data) : data_(data) {}
  ~Chunk();
  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;

  duckdb_data_chunk data() const { return data_; }
  // `n` bytes for a string, valid until ResetStrings().
  char* AllocateString(size_t n);
  // Makes all string memory free for reuse (keeping it).
  void ResetStrings() {
    block_ = 0;
    used_ = 0;
  }

 private:
  static constexpr size_t kBlockBytes = size_t(1) << 20;
  duckdb_data_chunk data_;
  std::vector<std::pair<std::unique_ptr<char[]>, size_t>> blocks_;  // memory, size
  size_t block_ = 0;                                                // the block being filled
  size_t used_ = 0;                                                 // of blocks_[block_]
};

class RowWriter {
 public:
  // `fields` is the table schema (the row's positional layout); `types` the DuckDB types of the
  // same columns, in order (their shapes must match the fields: STRUCT for RECORD, LIST for
  // REPEATED, ...). `partition_by` optionally names a top-level TIMESTAMP or DATE column whose
  // day last_day() reports.
  static Result<std::unique_ptr<RowWriter>> Create(std::vector<Field> fields,
                                                   std::shared_ptr<const ColumnTypes> types,
                                                   const std::string& partition_by = "");
  ~RowWriter();
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;

  // Copies the row (its root record) into the next position of the chunk. On failure the
  // chunk is unchanged and the Status (kInvalidArgument) says which column and value failed.
  Status Append(const Row& row);
  // The day (days since 1970-01-01) of the partition column of the last appended row, or
  // nullopt when it was NULL or no partition column was given.
  std::optional<int32_t> last_day() const { return last_day_; }

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool full() const { return size_ >= capacity_; }
  bool empty() const { return size_ == 0; }
  // Memory the chunk holds, as DuckDB allocates it: every vector's full capacity (its data and
  // validity, whether the rows use them or not: a 2048-row chunk of a table with 5,000 leaf
  // columns is ~150 MB even when its rows are small), list children as reserved, and string
  // bytes too long to be inlined. What a memory budget for staged chunks must count; Row sizes
  // do not tell it (absent fields cost nothing in a Row).
  size_t memory() const { return fixed_memory_ + variable_memory_; }
  // The part of memory() that every chunk of these types holds, empty or not.
  size_t fixed_memory() const { return fixed_memory_; }

  // Finishes the chunk (sets its size and its lists' sizes) and hands it over; the writer goes
  // on with `replacement` (an empty chunk of the same types, e.g. one handed back after it was
  // appended) or, when null, a new chunk. The caller owns the returned chunk.
  std::unique_ptr<Chunk> TakeChunk(std::unique_ptr<Chunk> replacement = nullptr);
  // Makes a new empty chunk of these column types (for a pool of chunks).
  std::unique_ptr<Chunk> NewChunk() const;
  const std::vector<Field>& fields() const { return fields_; }

  struct Node;  // one vector of the chunk's type tree (row_writer.cc)

 private:
  RowWriter() = default;
  void Bind(std::unique_ptr<Chunk> chunk);
  void Rollback(size_t undo_mark);

  std::vector<Field> fields_;
  std::shared_ptr<const ColumnTypes> types_;
  std::vector<std::unique_ptr<Node>> nodes_;  // all nodes; roots_ are the top-level columns
  std::vector<Node*> roots_;
  std::vector<Node*> row_indexed_;  // nodes whose positions are rows (not under a LIST)
  std::vector<Node*> lists_;
  std::vector<std::pair<Node*, uint64_t>> undo_;  // list sizes before the current row
  std::unique_ptr<Chunk> chunk_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  size_t fixed_memory_ = 0;     // all vectors at capacity_, lists reserved to capacity_
  size_t variable_memory_ = 0;  // list growth and long strings of the current chunk
  int partition_index_ = -1;
  std::optional<int32_t> last_day_;
};

// A DuckDB appender on one table. Move-only RAII.
class ChunkAppender {
 public:
  ChunkAppender() = default;
  ~ChunkAppender();
  ChunkAppender(ChunkAppender&& o) noexcept : appender_(o.appender_), what_(std::move(o.what_)) {
    o.appender_ = nullptr;
  }
  ChunkAppender& operator=(ChunkAppender&& o) noexcept;
  ChunkAppender(const ChunkAppender&) = delete;
  ChunkAppender& operator=(const ChunkAppender&) = delete;

  static Result<ChunkAppender> Open(duckdb_connection conn, const std::string& catalog,
                                    const std::string& schema, const std::string& table);
  // Appends the chunk's rows (the chunk stays the caller's; it may be reset and reused).
  Status Append(duckdb_data_chunk chunk);
  // Writes what the appender buffered into the table.
  Status Flush();

 private:
  Status Error(const std::string& doing);
  duckdb_appender appender_ = nullptr;
  std::string what_;
};

// Finished chunks of one table, readable by SQL through the table function that
// RegisterChunkScan() installs on a connection: `SELECT * FROM <function>(<id()>)` returns their
// rows (in order unless DuckDB is told it need not keep it: then a chunk per thread), referencing
// the chunks' vectors instead of copying them (no staging table, so a wide schema costs what its
// data costs). The buffer must outlive the queries that read it and must not change while one runs.
// Thread-compatible; ids are unique in the process.
class ChunkBuffer {
 public:
  ChunkBuffer(std::vector<std::string> column_names, std::shared_ptr<const ColumnTypes> types);
  ~ChunkBuffer();
  ChunkBuffer(const ChunkBuffer&) = delete;
  ChunkBuffer& operator=(const ChunkBuffer&) = delete;

  int64_t id() const { return id_; }
  // Takes ownership of a finished chunk (see RowWriter::TakeChunk).
  void Add(std::unique_ptr<Chunk> chunk);
  size_t rows() const { return rows_; }
  size_t chunk_count() const { return chunks_.size(); }
  // Hands the chunks back (to reuse or free) and empties the buffer.
  std::vector<std::unique_ptr<Chunk>> Release();

  // For the table function.
  const std::vector<std::string>& names() const { return names_; }
  const ColumnTypes& types() const { return *types_; }
  const std::vector<std::unique_ptr<Chunk>>& chunks() const { return chunks_; }

 private:
  int64_t id_;
  std::vector<std::string> names_;
  std::shared_ptr<const ColumnTypes> types_;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  size_t rows_ = 0;
};

// Registers the table function `name(id BIGINT)` reading ChunkBuffers on this connection.
Status RegisterChunkScan(duckdb_connection conn, const std::string& name);

}  // namespace backfill::ingest
