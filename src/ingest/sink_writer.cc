// The sink's writer side: staging finished chunks per table, choosing when to append them into
// the run's open transaction, committing when DuckDB holds too much, and DuckDB's settings for
// the run (see sink.h, "Writing").
#include <malloc.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "ingest/sink_run.h"

namespace backfill::ingest::sink_internal {

namespace {

// A size as DuckDB prints its settings ("18.8 GiB", "512.0 MiB", "1000 bytes"), in bytes.
std::optional<double> ParseMemorySize(std::string_view text) {
  double value = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (r.ec != std::errc()) return std::nullopt;
  std::string_view unit(r.ptr, text.data() + text.size() - r.ptr);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  static const std::pair<std::string_view, double> kUnits[] = {{"bytes", 1},
                                                               {"KiB", 1024.0},
                                                               {"MiB", 1024.0 * 1024},
                                                               {"GiB", 1024.0 * 1024 * 1024},
                                                               {"TiB", 1024.0 * 1024 * 1024 * 1024},
                                                               {"KB", 1e3},
                                                               {"MB", 1e6},
                                                               {"GB", 1e9},
                                                               {"TB", 1e12}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) return value * factor;
  }
  return std::nullopt;
}

}  // namespace

void SinkRun::BufferChunk(ChunkItem item) {
  TableEntry* t = item.table;
  t->staged_rows += static_cast<int64_t>(duckdb_data_chunk_get_size(item.chunk->data()));
  t->staged_bytes += item.bytes;
  staged_bytes_ += item.bytes;
  t->buffer->Add(std::move(item.chunk));
}

std::vector<TableEntry*> SinkRun::ChooseTablesToAppend(TableEntry* last) const {
  if (staged_bytes_ < options_.commit_bytes) {
    if (last->buffer->chunk_count() >= kMaxStagedChunks) return {last};
    return {};
  }
  std::vector<TableEntry*> staged;
  for (const auto& [_, t] : tables_) {
    if (t->staged_rows > 0) staged.push_back(t.get());
  }
  std::sort(staged.begin(), staged.end(), [](const TableEntry* a, const TableEntry* b) {
    return a->staged_bytes > b->staged_bytes;
  });
  // An append costs a few statements whatever its size, and each makes a segment per day: the
  // few tables that hold most of the bytes go, the small ones keep collecting rows.
  size_t chosen = 0;
  size_t n = 0;
  while (n < staged.size() && chosen * 2 < staged_bytes_) chosen += staged[n++]->staged_bytes;
  staged.resize(n);
  return staged;
}

std::vector<TableEntry*> SinkRun::AllTables() const {
  std::vector<TableEntry*> all;
  for (const auto& [_, t] : tables_) all.push_back(t.get());
  return all;
}

Status SinkRun::AppendStaged(const std::vector<TableEntry*>& tables) {
  for (TableEntry* t : tables) {
    if (t->staged_rows == 0) continue;
    BF_ASSIGN_OR_RETURN(
        WriteStats stats,
        warehouse_.Append(t->name,
                          fmt::format("SELECT * FROM {}({})", scan_function_, t->buffer->id()),
                          RowForm::kStored));
    ++appends_;
    if (stats.rows_written != t->staged_rows) {
      return Internal(fmt::format("{}: {} row(s) staged but {} appended", t->name_text,
                                  t->staged_rows, stats.rows_written));
    }
    // DuckDB has copied the rows into the transaction: the chunks can be filled again.
    row_group_columns_ +=
        double(t->staged_rows) / Warehouse::kRowGroupRows * t->types->storage_columns();
    t->appended_rows += t->staged_rows;
    t->staged_rows = 0;
    staged_bytes_ -= t->staged_bytes;
    t->staged_bytes = 0;
    for (std::unique_ptr<Chunk>& c : t->buffer->Release())
      t->GiveBack(std::move(c), static_cast<size_t>(options_.threads) + 1);
  }
  return Status::Ok();
}

// The writer. Chunks are staged as they come and appended into an open transaction whenever
// the staged chunks pass the budget, while the workers decode on. DuckDB keeps what a
// transaction appended until its COMMIT, and not all of it can be spilled: when DuckDB holds
// more than a quarter of its memory limit, the transaction is committed (staged chunks first)
// and the next one begins. A small run is one transaction; a large one lands in several. The
// warehouse lock is held except while waiting for chunks, so workers can look tables up in between.
void SinkRun::RunWriter() {
  std::unique_lock<std::mutex> lock(warehouse_mu_);
  bool done = false;
  while (!done) {
    Status s = warehouse_.InTransaction(options_.project, [&]() -> Status {
      ChunkItem item;
      for (;;) {
        lock.unlock();
        bool more = chunk_queue_.Pop(&item);
        lock.lock();
        if (!more) break;
        if (failed()) {
          item.chunk.reset();
          continue;
        }
        TableEntry* table = item.table;
        input_taken_ = std::max(input_taken_, item.input_read);
        BufferChunk(std::move(item));
        std::vector<TableEntry*> append = ChooseTablesToAppend(table);
        if (append.empty()) continue;
        BF_RETURN_IF_ERROR(AppendStaged(append));
        BF_ASSIGN_OR_RETURN(bool commit, DuckDbPastQuarterOfMemoryLimit());
        if (commit || TimeToReopen()) return AppendStaged(AllTables());
      }
      if (failed())
        return Internal("the run failed");  // rolls back (the run reports its own failure)
      done = true;
      // Decoding is over: the last append and the checkpoint at COMMIT may use every core.
      BF_RETURN_IF_ERROR(ReleaseDuckDbForTheLastAppend());
      BF_RETURN_IF_ERROR(AppendStaged(AllTables()));
      // The ledger commits with the last rows: after a crash both are there or neither.
      return warehouse_.RecordLoads(options_.project, loads_);
    });
    if (!s.ok()) {
      for (auto& [_, t] : tables_) t->appended_rows = t->committed_rows;
      if (!failed()) Fail(s.WithContext("appending the decoded rows"));
      return;
    }
    for (auto& [_, t] : tables_) t->committed_rows = t->appended_rows;
    ++transactions_;
    input_at_transaction_start_ = input_taken_;
    if (!done && row_group_columns_ > options_.reopen_row_group_columns) {
      if (Status r = warehouse_.ReopenProject(options_.project); !r.ok()) {
        Fail(r.WithContext("reopening the project between transactions"));
        return;
      }
      row_group_columns_ = 0;
      malloc_trim(0);  // what the transaction and its row groups held goes back to the system
    }
  }
}

bool SinkRun::TimeToReopen() const {
  if (row_group_columns_ <= options_.reopen_row_group_columns) return false;
  return 2 * (input_bytes_ - input_taken_) >= input_taken_ - input_at_transaction_start_;
}

Result<bool> SinkRun::DuckDbPastQuarterOfMemoryLimit() {
  if (duckdb_memory_limit_ <= 0) return false;
  BF_ASSIGN_OR_RETURN(
      int64_t used,
      warehouse_.connection().QueryInt(
          "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()"));
  return double(used) > duckdb_memory_limit_ / 4;
}

// DuckDB settings for the run, put back afterwards:
// - threads = 1 while the workers decode: with more, DuckDB hands a statement's tasks to its
//   worker threads and the calling thread busy-waits for them (e.g. TaskExecutor::WorkOnTasks,
//   20% of a profile), taking a core from the decoders for nothing. The final COMMIT (the
//   checkpoint) gets DuckDB's threads back, as nothing else runs then.
// - memory_limit lowered to options.duckdb_memory_limit (never raised): the run's open
//   transaction holds everything appended until the COMMIT, and DuckDB would otherwise keep it
//   in memory up to its default limit (80% of RAM); past the limit it spills to its temp
//   directory, so the sink's memory does not grow with its input.
// - FSST left out of the compression methods DuckDB tries: on the row groups the sink writes it
//   was hardly ever chosen (the warehouse file of the 100k bench mix is 0.06% larger without it)
//   but trying it cost 7% of the run (bench/README, `replay`, session 11). Later rewrites of
//   the rows (copy-deduplicate, checkpoints of changed tables) try it again.
Status SinkRun::ConfigureDuckDb() {
  std::lock_guard<std::mutex> lock(warehouse_mu_);
  Connection& conn = warehouse_.connection();
  BF_ASSIGN_OR_RETURN(QueryResult r,
                      conn.Query("SELECT current_setting('threads')::BIGINT, "
                                 "current_setting('memory_limit')::VARCHAR, "
                                 "current_setting('disabled_compression_methods')::VARCHAR"));
  int64_t threads = r.GetInt64(0, 0);
  if (threads > 1) {
    BF_RETURN_IF_ERROR(conn.Exec("SET threads = 1"));
    restore_threads_ = fmt::format("SET threads = {}", threads);
  }
  const std::string limit = r.GetString(1, 0);
  std::optional<double> current = ParseMemorySize(limit);
  duckdb_memory_limit_ = current.value_or(0);
  if (options_.duckdb_memory_limit > 0 &&
      (!current || *current > double(options_.duckdb_memory_limit))) {
    duckdb_memory_limit_ = double(std::max<size_t>(1, options_.duckdb_memory_limit >> 20) << 20);
    BF_RETURN_IF_ERROR(conn.Exec(fmt::format(
        "SET memory_limit = '{}MiB'", std::max<size_t>(1, options_.duckdb_memory_limit >> 20))));
    restore_settings_.push_back(fmt::format("SET memory_limit = {}", QuoteString(limit)));
  }
  const std::string disabled = r.GetString(2, 0);
  if (disabled.find("fsst") == std::string::npos) {
    BF_RETURN_IF_ERROR(
        conn.Exec(fmt::format("SET disabled_compression_methods = {}",
                              QuoteString(disabled.empty() ? "fsst" : disabled + ",fsst"))));
    restore_settings_.push_back(
        fmt::format("SET disabled_compression_methods = {}", QuoteString(disabled)));
  }
  return Status::Ok();
}

// With DuckDB's threads back and insertion order not kept, the staged chunks of the last append
// are scanned and compressed on every core (ChunkBuffer's scan hands them out in parallel):
// 0.1 s less per 100k-record run and 120 MB lower peak (bench/README, `replay`, session 12).
// The rows' order within a table is the only thing that may change, as with several decoders.
Status SinkRun::ReleaseDuckDbForTheLastAppend() {
  Connection& conn = warehouse_.connection();
  RestoreDuckDbThreads();
  BF_ASSIGN_OR_RETURN(QueryResult r,
                      conn.Query("SELECT current_setting('preserve_insertion_order')::BOOLEAN"));
  if (r.GetBool(0, 0)) {
    BF_RETURN_IF_ERROR(conn.Exec("SET preserve_insertion_order = false"));
    restore_settings_.push_back("SET preserve_insertion_order = true");
  }
  return Status::Ok();
}

void SinkRun::RestoreDuckDbThreads() {
  if (!restore_threads_.empty()) (void)warehouse_.connection().Exec(restore_threads_);
  restore_threads_.clear();
}

void SinkRun::RestoreDuckDb() {
  std::lock_guard<std::mutex> lock(warehouse_mu_);
  RestoreDuckDbThreads();
  for (const std::string& set : restore_settings_) (void)warehouse_.connection().Exec(set);
  restore_settings_.clear();
}

}  // namespace backfill::ingest::sink_internal
