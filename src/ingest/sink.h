// The sink: decodes files of PubsubMessages (NDJSON, plain or gzip, error-output files
// included) into a project's live tables, as the telemetry pipeline's BigQuery sink does, and
// sends every record it cannot write to error output with the reason.
//
// Routing: attributes document_namespace, document_type, document_version name the table
// `<namespace>_live.<doctype>_v<version>` of the project (each name normalized with SnakeCase,
// so "-" becomes "_" and "myTest" "my_test"). document_id is required too.
//
// Where each input record ends (promise 1: nothing lost silently):
//   written   a row of its live table;
//   errored   a record-level problem: unparsable line, bad base64, truncated gzip payload,
//             payload not a JSON object, record over 10 MB, missing routing attributes, table
//             not found, a value its column cannot take. Written, when an error-output prefix
//             is given, as the original message plus error_type/error_message/exception_class/
//             stack_trace attributes (pubsub.h) to
//             `<prefix>/error/<YYYY-MM-DD>/<HH>/sink-<run-id>.ndjson.gz` (by submission time);
//   skipped   left out by the filters (--error-type, --exclude-error-message, --where,
//             --where-not). Filters see every attribute, error attributes included.
// Input lines are PubsubMessages in either shape the reference sinks write (pubsub.h: beam,
// as the Beam Sink's error output with its error attributes; raw, as ingestion-sink's error
// output and `bq extract` of payload_bytes_* tables), told apart per line. Error attributes
// (error_type, error_message, exception_class, stack_trace, stack_trace_cause_1..5) are
// removed before a message is decoded again.
// A filter condition that matches no record of a non-empty input is a warning in the report
// (e.g. `--error-type SinkError` on ingestion-sink output, whose lines have no error_type).
//
// Ledger: every input file loaded is recorded in the project (Warehouse::RecordLoads: path,
// size, sha256, run id) in the run's last transaction, together with its last rows. A file
// whose content the project has already loaded (same sha256), or that repeats an earlier file
// of the same run, is skipped and reported ("already loaded by run ...") unless `reload`.
// The report checks read = written + errored + skipped (per table and day, and in total) and
// fails with kInternal when it does not hold. A corrupt or truncated input file is named in the
// report with how far it was read; the records before the damage count normally.
//
// Infrastructure failures (promise 6) - warehouse busy, table metadata unavailable, I/O errors
// reading input (kUnavailable, kBusy, kIoError) - are retried with exponential backoff
// (RetryPolicy) and then fail the run; they never go to error output. A failure while writing
// the warehouse fails the run at once (the transaction cannot be resumed part-way). When the
// run fails, nothing is written (its transaction rolls back) and no error-output file is left
// behind.
//
// Writing: decoded rows are copied by RowWriter straight into DuckDB data chunks built with
// the target's column types; a chunk is finished at 2048 rows or once its long strings and lists
// hold 16 MiB (a row of telemetry main carries ~140 kB of encoded text); finished chunks go to
// one writer thread, wait there (staged) in a
// ChunkBuffer per table and move into the live table with Warehouse::Append(table, "SELECT *
// FROM <chunk scan>(id)") (the scan references the chunks, no staging table is written, which
// matters for schemas with thousands of mostly-NULL columns). Staged chunks are appended into
// an open warehouse transaction whenever they hold more than `commit_bytes` of memory over all
// tables (counted as DuckDB allocates vectors and long strings: a 2048-row chunk of a table of
// 5,000 native columns holds ~150 MB however small its rows) or a table holds 64 chunks, and are
// then reused; the workers decode on meanwhile. DuckDB keeps what a transaction appended until its
// COMMIT (spilling part of it to the warehouse's temp directory past `duckdb_memory_limit`); when
// it holds more than a quarter of that limit, the transaction commits and the next one begins; so
// it does after `reopen_row_group_columns` (but a short rest of the input joins the transaction),
// and then the project is reopened so that DuckDB lets go of what it keeps per row group.
// So a run lands in one transaction unless it is large, and
// then in several, each whole or not at all (a failed run says how many rows its earlier
// transactions appended; repeating it appends them again and the replay's de-duplication
// removes them). Each append is its own audited segment per table
// and day. Input is streamed; memory does not grow with its size.
// Note: a corrupt gzip stream can inflate to garbage before zlib detects it (at the latest at
// the member's CRC); such lines are processed like any other (normally they fail to parse and
// go to error output) and the file is reported as damaged.
// The sink appends whatever it decodes: duplicates are removed later (recover/replay.h).
//
// Threads: the calling thread hashes each input file (checking it against the ledger), reads and
// inflates it, parses each line's PubsubMessage (JSON + base64) and hands batches of messages to
// `threads` workers, which decode the payloads and transform them (one Transformer each, schemas
// shared) and fill chunks; one more thread appends them, so reading, decoding and DuckDB's work
// overlap (with threads = 1, three threads). DuckDB itself runs with one thread while the workers
// decode (its checkpoint would otherwise busy-wait on a core the decoders need) and without trying
// FSST compression; the last append and the COMMIT get every core back, the last append without
// keeping insertion order (settings put back afterwards). Table contents do not depend on the
// thread count (only the order of rows within a table may differ).
//
// Thread-safety: Sink() uses the Warehouse from its own threads under one lock; the caller must
// not use the Warehouse meanwhile. I/O: reads the input files, writes the warehouse and the
// error-output files.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/names.h"
#include "core/retry.h"
#include "core/schema.h"
#include "core/status.h"
#include "core/time.h"
#include "warehouse/warehouse.h"

namespace backfill::ingest {

// What the sink needs to know about a live table.
struct SinkTable {
  Schema schema;
  std::string partition_by;          // the partition column (empty: unpartitioned)
  std::vector<std::string> encoded;  // columns stored wide-encoded (core/wide.h)
};

// Where the sink looks tables up. kNotFound: the table does not exist (the record goes to error
// output). Transient codes are retried; anything else fails the run. Called under the sink's
// warehouse lock, at most once per table and run once it succeeds.
class TableLookup {
 public:
  virtual ~TableLookup() = default;
  virtual Result<SinkTable> Lookup(const TableName& name) = 0;
};

// The default: Warehouse::DescribeTable.
class WarehouseTableLookup : public TableLookup {
 public:
  explicit WarehouseTableLookup(Warehouse& warehouse) : warehouse_(warehouse) {}
  Result<SinkTable> Lookup(const TableName& name) override;

 private:
  Warehouse& warehouse_;
};

struct SinkOptions {
  std::vector<std::string> inputs;  // files, directories (recursed) and glob(3) patterns
  std::string project;
  std::string error_output;  // error-output prefix; empty: record errors are only reported
  std::vector<std::string> error_types;  // when set, only messages with one of these error_type
  std::optional<std::string> exclude_error_message;  // std::regex searched in error_message
  // Conditions on any attribute, "ATTR=VALUE" (equal) or "ATTR~REGEX" (std::regex searched); a
  // missing attribute satisfies neither. `where`: a message is kept only when, for every
  // attribute named, one of its conditions holds (so two values of one attribute are
  // alternatives, as with error_types). `where_not`: a message is skipped when any holds.
  std::vector<std::string> where, where_not;
  bool reload = false;  // load files the project's ledger says were loaded already
  int threads = 1;
  RetryPolicy retry;
  TableLookup* lookup = nullptr;  // null: WarehouseTableLookup
  std::string run_id;             // names error-output files; empty: time and process id
  // Finished chunks wait (staged) until they hold this much memory over all tables, counted as
  // DuckDB allocates it (RowWriter::memory()); then the largest tables are appended into the
  // run's transaction and their chunks reused. Past kMaxStagedChunks (64) chunks a table is
  // appended too.
  size_t commit_bytes = size_t(128) << 20;
  // DuckDB's memory_limit during the run, when lower than the one set (0: leave it, DuckDB's
  // default is 80% of RAM). A transaction commits when DuckDB holds a quarter of the limit.
  // Tables of thousands of native columns (wide tables kept native by raised thresholds) need
  // much: appending a chunk pins one 256 kB segment per column and validity mask (~2.5 GB for
  // telemetry main stored natively), and a COMMIT into such a table that already has rows needs
  // several GB more. Encoded wide tables do not (bench/README, `--wide`).
  size_t duckdb_memory_limit = 0;
  // DuckDB keeps ~2.3 kB in memory for each stored column (ColumnTypes::storage_columns) of
  // each row group appended, until the project file is attached again, and what else a
  // transaction holds grows with it. After this many, the run commits and reopens the project
  // (Warehouse::ReopenProject), unless the input still to come is less than half of what the
  // transaction took in (that rest joins it). 10,000 is a commit every ~100k records of the
  // bench mix; 25,000 left the 1M-record peak ~60 MB higher (bench/README, `replay`, session 16).
  double reopen_row_group_columns = 10000;
  size_t max_examples = 10;                        // record errors listed in the report
  std::function<void(std::string_view)> progress;  // one line per input file
};

struct SinkCounts {
  int64_t read = 0, written = 0, errored = 0, skipped = 0;
  bool Balanced() const { return read == written + errored + skipped; }
};

struct SinkTableDay {
  std::string table;         // "project.dataset.table"; empty when the record could not be routed
  std::optional<Date> date;  // the row's partition day (or the submission date of the message)
  SinkCounts counts;
};

struct SinkFile {
  std::string path;
  std::string sha256;
  int64_t records = 0;  // lines read as records
  int64_t bytes = 0;    // bytes read from the file (compressed size for gzip)
  std::string problem;  // empty, or why the file could not be read to its end
};

// An input file not loaded because its content was loaded before.
struct SinkSkippedFile {
  std::string path;
  std::string sha256;
  int64_t size = 0;
  std::string reason;  // "already loaded by run R at T (as PATH)" or "same content as PATH"
};

// One filter condition and how many records it matched.
struct SinkFilterMatch {
  std::string filter;  // as given: "--where document_namespace=telemetry"
  int64_t matched = 0;
};

struct SinkErrorExample {
  std::string file;
  int64_t line = 0;
  std::string table;  // when routed
  std::string error_type;
  std::string message;
};

struct SinkReport {
  std::string run_id;
  std::vector<SinkTableDay> items;  // by table, then day
  SinkCounts totals;
  std::vector<SinkFile> files;
  std::vector<SinkSkippedFile> skipped_files;  // by the ledger
  int64_t beam_lines = 0, raw_lines = 0;       // parsed lines by shape
  std::vector<SinkFilterMatch> filters;
  std::vector<std::string> warnings;       // e.g. a filter that matched none of the records read
  std::vector<SinkErrorExample> examples;  // the first few record errors, in input order per file
  std::vector<std::string> error_files;    // error-output files written
  int64_t error_lines_written = 0;
  int64_t appends = 0;  // Warehouse::Append calls made
  int64_t commits = 0;  // transactions committed
  int64_t input_bytes = 0;
  double seconds = 0;

  int FileProblems() const;
};

// Runs the sink into `options.project` (which must exist). Fails on usage errors (no input,
// bad regex, missing project), on infrastructure failures after retries, and with kInternal
// when the counts do not balance.
Result<SinkReport> Sink(Warehouse& warehouse, const SinkOptions& options);

// The live table a message routes to: `<project>.<ns>_live.<type>_v<version>`; a record-level
// error (kInvalidArgument) naming the missing attribute otherwise.
Result<TableName> RouteMessage(const std::string& project, std::string_view document_namespace,
                               std::string_view document_type, std::string_view document_version);

}  // namespace backfill::ingest
