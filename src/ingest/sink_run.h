// Internal to the sink (sink.cc, sink_writer.cc): one run's state, its decoding workers and its
// writer. Not a public interface; see sink.h for what a run does and promises.
//
// A run reads the input files (ReadFiles, the calling thread), decodes and transforms records
// into DuckDB chunks (Worker, one per thread; sink.cc), and hands finished chunks to one writer
// thread that stages them per table and appends them into warehouse transactions (RunWriter;
// sink_writer.cc). Thread-safety: the warehouse, its connection and the table cache are used
// under SinkRun::warehouse_mu_ only; a Worker is used by one thread.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/bounded_queue.h"
#include "ingest/error_output.h"
#include "ingest/message_filter.h"
#include "ingest/pubsub.h"
#include "ingest/row_writer.h"
#include "ingest/sink.h"
#include "ingest/transform.h"

namespace backfill::ingest::sink_internal {

// A count key's day when the record has none (days since the epoch otherwise).
inline constexpr int32_t kNoDay = INT32_MIN;

struct TableEntry {
  TableName name;
  std::string name_text;
  std::vector<Field> fields;
  std::string partition_by;
  std::shared_ptr<const CompiledSchema> compiled;
  std::shared_ptr<const ColumnTypes> types;
  // Writer side (under the warehouse lock): the finished chunks waiting to be appended.
  std::unique_ptr<ChunkBuffer> buffer;
  int64_t staged_rows = 0;
  size_t staged_bytes = 0;    // RowWriter::memory() of the staged chunks
  int64_t appended_rows = 0;  // into the run's open transaction
  int64_t committed_rows = 0;
  // Empty chunks handed back by the writer.
  std::mutex pool_mu;
  std::vector<std::unique_ptr<Chunk>> pool;

  std::unique_ptr<Chunk> TakeFromPool() {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (pool.empty()) return nullptr;
    std::unique_ptr<Chunk> c = std::move(pool.back());
    pool.pop_back();
    return c;
  }
  void GiveBack(std::unique_ptr<Chunk> c, size_t keep) {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (pool.size() < keep) pool.push_back(std::move(c));
  }
};

struct ChunkItem {
  TableEntry* table = nullptr;
  std::unique_ptr<Chunk> chunk;
  size_t bytes = 0;        // RowWriter::memory()
  int64_t input_read = 0;  // LineBatch::input_read of the batch that finished the chunk
};

// Lines of one input file, each already parsed into its PubsubMessage by the reading thread,
// and its payload gunzipped when it is gzip: the envelope's JSON and base64 are a fifth of the
// decoding, gunzip a tenth, and with one decoder the reading thread had spare time for them
// (bench/README, `replay`, sessions 11 and 13). Batches go back to the reading thread when
// decoded, so the messages' storage is reused.
struct LineBatch {
  struct Line {
    int64_t number = 0;
    LineShape shape = LineShape::kBeam;
    Status parsed;  // not ok: `message` holds nothing but the line itself as its payload
    PubsubMessage message;
    InflatedPayload inflated;  // a gzip payload, gunzipped by the reading thread
    // Also the reading thread's: whether the line matched a filter (seeing the attributes of an
    // earlier failure), after which those attributes are removed from `message`. Freeing them
    // in the decoder was 2% of its time (the reading thread allocated them).
    bool skip = false;
  };
  size_t file = 0;
  std::vector<Line> lines;  // the first `size` are this batch's; the rest keep their storage
  size_t size = 0;
  size_t bytes = 0;        // of the lines' text
  int64_t input_read = 0;  // bytes of the run's input files (as stored) read up to its end
};

struct CountKey {
  std::string table;
  int32_t day = kNoDay;
  bool operator<(const CountKey& o) const {
    return std::tie(table, day) < std::tie(o.table, o.day);
  }
};

struct ExampleAt {
  size_t file;
  SinkErrorExample example;
};

class SinkRun;

class Worker {
 public:
  explicit Worker(SinkRun& run) : run_(run) {}
  void ProcessLine(size_t file, LineBatch::Line& line);
  // Hands over the partially filled chunks.
  void FlushAll();
  void DestroyWriters() { writers_.clear(); }

  std::map<CountKey, SinkCounts> counts;
  std::vector<ExampleAt> examples;
  int64_t beam_lines = 0, raw_lines = 0;
  int64_t input_read = 0;  // LineBatch::input_read of the batch being decoded

 private:
  void RecordError(size_t file, int64_t line_number, const PubsubMessage& message,
                   const std::string& table, int32_t day, const char* error_type,
                   const Status& why);
  void Emit(TableEntry* table, RowWriter& writer);

  SinkRun& run_;
  Transformer transformer_;
  std::unordered_map<TableEntry*, std::unique_ptr<RowWriter>> writers_;
  // The tables this worker has looked up (found or not found): the run's table map is behind
  // the warehouse lock, which the writer holds while DuckDB appends, and a look-up per record
  // made the decoding wait for every append (a quarter of a run's time on the structured mix).
  std::unordered_map<std::string, Result<TableEntry*>> tables_;
};

class SinkRun {
 public:
  SinkRun(Warehouse& w, const SinkOptions& o, std::vector<std::filesystem::path> files,
          std::string run_id, MessageFilter filter, std::map<std::string, LoadRecord> ledger)
      : warehouse_(w),
        options_(o),
        files_(std::move(files)),
        run_id_(std::move(run_id)),
        default_lookup_(w),
        lookup_(o.lookup ? o.lookup : &default_lookup_),
        filter_(std::move(filter)),
        ledger_(std::move(ledger)) {
    if (!o.error_output.empty())
      error_output_ = std::make_unique<ErrorOutputWriter>(o.error_output, run_id_);
  }

  Result<SinkReport> Execute();
  // At most this many finished chunks (of 2048 rows) wait per table before they are appended
  // (so a narrow table's segments do not stay tiny when wide tables use up the byte budget).
  static constexpr size_t kMaxStagedChunks = 64;
  // A worker hands a chunk over before it holds this much variable memory (see Worker, sink.cc).
  static constexpr size_t kChunkBytes = size_t(16) << 20;

  // --- used by workers ---
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  void Fail(const Status& s) {
    std::lock_guard<std::mutex> lock(fail_mu_);
    if (!failed_) {
      failure_ = s;
      failed_ = true;
    }
    work_queue_.Close();
    chunk_queue_.Close();
  }
  // The table, or kNotFound; other errors are the run's failure.
  Result<TableEntry*> GetTable(const TableName& name);
  // Hands a finished chunk to the writer thread, which appends while the workers decode on.
  void EmitChunk(ChunkItem item) {
    chunk_queue_.Push(std::move(item));  // refused (and freed) once the run failed
  }
  const SinkOptions& options() const { return options_; }
  ErrorOutputWriter* error_output() { return error_output_.get(); }
  const MessageFilter& filter() const { return filter_; }
  const std::string& file_name(size_t i) const { return file_names_[i]; }

 private:
  // The writer's steps, under warehouse_mu_: stage a finished chunk; choose what to append now
  // (nothing while under budget; the table `last` when it holds kMaxStagedChunks; else the
  // largest tables, until at least half of the staged bytes are chosen); append into the open
  // transaction and recycle the chunks.
  void BufferChunk(ChunkItem item);
  std::vector<TableEntry*> ChooseTablesToAppend(TableEntry* last) const;
  Status AppendStaged(const std::vector<TableEntry*>& tables);
  std::vector<TableEntry*> AllTables() const;
  // Whether DuckDB holds more than a quarter of its memory limit (time to commit): a COMMIT
  // into a wide table that already holds rows needs several GB on top of what the transaction
  // holds (see SinkOptions::duckdb_memory_limit). Under warehouse_mu_.
  Result<bool> DuckDbPastQuarterOfMemoryLimit();
  // Whether the open transaction is past options_.reopen_row_group_columns and the input still
  // to come is at least half of what this transaction took in. A shorter rest joins this
  // transaction instead of making a small last one: DuckDB (1.4, LocalStorage::Flush) writes a
  // transaction's rows for a table that holds rows as row groups only when there are at least
  // a row group of them, and otherwise moves them into the table's last row group in memory
  // and its WAL at COMMIT (~2x their size then; bench/README, `replay`, session 15).
  bool TimeToReopen() const;
  // DuckDB's settings for the run (see ConfigureDuckDb), and putting them back; the threads
  // alone, with insertion order let go, for the last append and COMMIT (under warehouse_mu_,
  // when the decoders are done).
  Status ConfigureDuckDb();
  Status ReleaseDuckDbForTheLastAppend();
  void RestoreDuckDbThreads();
  void RestoreDuckDb();
  // Hashes input file `i` and decides with the ledger whether to load it (a file whose content
  // the project loaded before, or that an earlier file of the run holds, is skipped unless
  // options.reload). Done by the reading thread as it comes to the file, so hashing overlaps
  // decoding instead of delaying the run's start.
  Result<bool> Admit(size_t i, std::string* sha256);
  Status ReadFiles(std::vector<SinkFile>* files);
  // A decoded batch's storage, kept for the reading thread to fill again (at most as many as
  // can be in flight), and taken back by it.
  void GiveBackBatch(LineBatch batch);
  // The reading thread's part of a parsed line: the filters, the old error attributes, gunzip.
  void PrepareParsedLine(LineBatch::Line& l);
  LineBatch TakeSpareBatch();
  void RunWorker(Worker* w);
  void RunWriter();
  void Cleanup();

  Warehouse& warehouse_;
  const SinkOptions& options_;
  std::vector<std::filesystem::path> files_;
  std::vector<std::string> file_names_;
  std::string run_id_;
  WarehouseTableLookup default_lookup_;
  TableLookup* lookup_;
  std::unique_ptr<ErrorOutputWriter> error_output_;
  MessageFilter filter_;
  std::vector<int64_t> filter_matches_;       // the reading thread's, per condition of filter_
  std::map<std::string, LoadRecord> ledger_;  // sha256 -> the project's load of it before the run
  // Written by the reading thread (Admit); the writer reads loads_ once the workers are done.
  std::vector<LoadRecord> loads_;              // recorded in the run's last transaction
  std::map<std::string, std::string> in_run_;  // sha256 -> path, of the files loaded
  std::vector<SinkSkippedFile> skipped_;

  std::mutex warehouse_mu_;  // the warehouse, its connection, the table cache, appenders
  std::map<std::string, std::unique_ptr<TableEntry>> tables_;
  std::map<std::string, Status> missing_;
  size_t staged_bytes_ = 0;  // over all tables
  int64_t appends_ = 0;
  std::string restore_threads_;                // a SET statement; empty: unchanged
  std::vector<std::string> restore_settings_;  // SET statements putting the others back
  double duckdb_memory_limit_ = 0;             // bytes during the run (0: unknown)
  int64_t transactions_ = 0;
  // Stored columns of the row groups appended since the project file was attached; past
  // options_.reopen_row_group_columns the writer commits and reopens the project, so a run's
  // memory does not grow with its input (1M records of the bench mix: +230 MB otherwise).
  double row_group_columns_ = 0;
  // Bytes of the input files as stored (sizes taken when the run starts), and the writer's view
  // of how far reading had got: by the newest chunk it took, and when its transaction began.
  std::vector<int64_t> file_bytes_;
  int64_t input_bytes_ = 0;
  int64_t input_taken_ = 0;
  int64_t input_at_transaction_start_ = 0;
  std::string scan_function_;

  std::atomic<bool> failed_{false};
  std::mutex fail_mu_;
  Status failure_;
  BoundedQueue<LineBatch> work_queue_{kQueuedBatches};
  static constexpr size_t kQueuedBatches = 4;
  static constexpr size_t kKeptPayloadBytes = 16 << 10;
  std::mutex spare_mu_;
  std::vector<LineBatch> spare_batches_;
  // Finished chunks waiting for the writer. While the writer appends a full row group of a wide
  // table (~0.3 s), 4 chunks ran out and the decoder stood idle; 8 let it go on (4% less time
  // on the 100k bench mix, ~15 MB more peak). 16 were no faster and raised the 1M-record peak
  // by 100 MB (bench/README, `replay`, session 14).
  BoundedQueue<ChunkItem> chunk_queue_{8};
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace backfill::ingest::sink_internal
