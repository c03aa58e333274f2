// The warehouse-side steps of an error replay: a sink wrote good records to error output, they
// are staged, decoded again into the live-shaped tables of a separate *backfill project* Q
// (ingest/ does the decoding), appended into production P without duplicates, the stable
// tables rebuilt, and what the replay left behind is removed:
//
//   Stage             copy error-output day folders to a staging directory, verified
//   Mirror            create in Q the datasets and tables of P (same schema, partitioning,
//                     clustering, access)
//   AppendMissing     append the rows of Q whose (document_id, day) P does not hold yet
//   CopyDeduplicate   rebuild <ns>_stable.<t> days from <ns>_live.<t>: one row per document_id
//   Cleanup           drop Q's tables (undroppable within the window) and remove staged files
//
// Every step has a preview mode (`preview = true`): it computes exactly what the step would
// change and writes nothing; plans preview every step with it. Steps never print: they return
// a report, and long loops call `progress` (if set) with one line per table and day.
// Running a step twice changes nothing the second time.
//
// Thread-safety: the warehouse steps use the Warehouse they are given from one thread. Stage
// copies with its own worker threads and touches no warehouse. I/O: the warehouse (through
// Warehouse only) and, for Stage and Cleanup, the staging directories.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/names.h"
#include "core/status.h"
#include "core/time.h"
#include "recover/step.h"
#include "warehouse/warehouse.h"

namespace backfill {

// Which tables a step touches: `dataset.table` names matched with fnmatch(3) globs.
struct TableFilter {
  std::vector<std::string> only;     // -o: when non-empty, a table must match one of these
  std::vector<std::string> exclude;  // -x: a table matching one of these is left out

  bool Matches(std::string_view dataset_table) const;
  bool operator==(const TableFilter&) const = default;
};

// ---------------------------------------------------------------------------------------------
// Stage: copy the error output of some days to a staging directory.
//
// Source layout (ingest/pubsub.h): <prefix>/error/<YYYY-MM-DD>/<HH>/<file>. `from` may be the
// `error/` folder itself or its parent `<prefix>` (used when it has an `error/` folder). Every
// file under a selected day folder is copied to `<to>/<YYYY-MM-DD>/<same relative path>`, so
// the staged tree is itself a valid `from` (day folders directly under it).
// A copy is written to "<file>.bf-partial", checked (size and CRC32 read back from disk against
// the source's), and renamed into place, so a crash never leaves a half file under a real name.
// A destination file with the same size and CRC32 as its source is skipped; one that differs is
// replaced. A missing day folder is reported; it is an error (kNotFound) only when none of the
// days exists.
struct StageOptions {
  std::filesystem::path from;
  std::filesystem::path to;
  DateRange dates;
  int threads = 4;  // copying threads (>= 1)
  bool preview = false;
  ProgressFn progress;
};

struct StageDay {
  Date date;
  bool missing = false;  // no day folder in the source
  int64_t files = 0;     // files in the source day folder
  int64_t copied = 0;    // written (new or replacing a differing copy)
  int64_t replaced = 0;  // of `copied`: a differing file was already there
  int64_t skipped_identical = 0;
  int64_t bytes_copied = 0;
  int64_t bytes_total = 0;  // size of the day's source files
};

struct StageReport {
  std::filesystem::path source_root;  // the resolved error/ folder
  std::filesystem::path destination;
  bool preview = false;
  std::vector<StageDay> days;

  int64_t Copied() const;
  int64_t Skipped() const;
  int64_t BytesCopied() const;
  int MissingDays() const;
};

Result<StageReport> Stage(const StageOptions& options);

// CRC32 (zlib) and size of a file; exposed for tests and validation.
struct FileDigest {
  uint64_t size = 0;
  uint32_t crc32 = 0;
  bool operator==(const FileDigest&) const = default;
};
Result<FileDigest> DigestFile(const std::filesystem::path& path);

// ---------------------------------------------------------------------------------------------
// Mirror: create in project `to` the datasets and tables of project `from`.
//
// Tables keep schema (column order), partitioning, clustering, description and query.
// Datasets keep restricted, readers, writers, owners and the time-travel window, so a staging
// copy is as restricted as its source (the principal running the mirror also becomes an owner,
// as with every CreateDataset). They deliberately do not copy `protected` (the backfill project
// is scratch space the sink writes to) nor partition expiration (maintain must not expire
// replayed days before they are appended). The project `to` is created when absent.
// Idempotent: an identical existing table or dataset is reported unchanged. A table whose
// schema, partitioning or clustering differs, or an existing dataset whose access differs, is
// refused (kRefused, naming each and its first differences) and nothing is created.
// All creations commit in one transaction on `to`.
struct MirrorOptions {
  std::string from_project;
  std::string to_project;
  TableFilter filter;
  bool preview = false;
};

enum class MirrorOutcome { kCreated, kUnchanged, kDiffers };
const char* MirrorOutcomeName(MirrorOutcome o);

struct MirrorDataset {
  DatasetName source, target;
  bool restricted = false;
  MirrorOutcome outcome = MirrorOutcome::kCreated;
  std::vector<std::string> details;  // access differences
};

struct MirrorTable {
  TableName source, target;
  MirrorOutcome outcome = MirrorOutcome::kCreated;
  std::vector<std::string> details;  // schema/partitioning/clustering differences
};

struct MirrorReport {
  bool preview = false;
  bool project_created = false;
  std::vector<MirrorDataset> datasets;
  std::vector<MirrorTable> tables;

  int Count(MirrorOutcome o) const;  // tables with this outcome
};

Result<MirrorReport> Mirror(Warehouse& warehouse, const MirrorOptions& options);

// ---------------------------------------------------------------------------------------------
// AppendMissing: append the replayed rows of the backfill project into production.
//
// For each table of `from_project` matching the filter (the same dataset.table must exist in
// `to_project` with the same schema), and each day of `dates`: the rows of Q's day whose
// document_id is not already in P's same day (DATE of the partition column) are appended,
// anti-joined with NOT EXISTS. Rows of Q sharing a new document_id are all appended (live
// tables keep duplicates; copy-deduplicate removes them). Rows without a document_id cannot be
// deduplicated and are never appended; they are counted in `without_document_id`.
// Each table+day is one transaction (counts, insert and audit entry together). Refused before
// anything is written (kRefused) when a table is missing in P, its schema differs (naming the
// first differences), it has no document_id column, or it is not partitioned by day.
struct AppendOptions {
  std::string from_project;  // Q
  std::string to_project;    // P
  TableFilter filter;
  DateRange dates;
  bool preview = false;
  ProgressFn progress;
};

struct AppendItem {
  TableName source, target;
  Date date;
  int64_t candidates = 0;           // rows of Q's day
  int64_t already_present = 0;      // of those, document_id already in P's day
  int64_t without_document_id = 0;  // of those, NULL document_id (never appended)
  int64_t appended = 0;             // written (preview: would be written)
};

struct AppendReport {
  bool preview = false;
  std::vector<AppendItem> items;  // by table, then day

  int64_t Appended() const;
  int64_t AlreadyPresent() const;
};

Result<AppendReport> AppendMissing(Warehouse& warehouse, const AppendOptions& options);

// ---------------------------------------------------------------------------------------------
// CopyDeduplicate: rebuild days of stable tables from live tables.
//
// bigquery-etl's copy_deduplicate rule (bigquery_etl/copy_deduplicate.py), applied to each
// `<ns>_live.<t>` of `project` that has a `<ns>_stable.<t>` counterpart (the filter matches
// either name; tables whose name contains `beam_load_sink` are skipped, as the reference
// does), both partitioned by day on submission_timestamp. For each date D the stable day is
// replaced whole (ReplacePartition, one transaction per table and day) by the live rows of D:
//   - without the ones tagged `automation` (metadata.header.x_source_tags is a comma-separated
//     list; a tag counts when it equals `automation` once trimmed of whitespace: Bug 1657360);
//   - without the ones with a NULL document_id (the reference joins on document_id, and NULL
//     never joins); a NULL submission_timestamp belongs to no day;
//   - without the documents first seen, untagged, in the `preceding_days` days before D;
//   - one row per document_id: a row at the document's earliest submission_timestamp. The
//     reference keeps an arbitrary one of several such rows (ROW_NUMBER() without ORDER BY); we
//     keep the one with the least JSON text (to_json), so reruns write identical days.
//   - for Glean tables (GeoDeprecationApplies) metadata.geo.{city,subdivision1,subdivision2}
//     are NULL in the stable rows; country and the rest stay.
// `slices` (bigquery-etl --slices; --hourly is 24) only matters for BigQuery, where a day too
// large for one query is built in time slices (plan/render_copy_deduplicate.cc): the rule gives
// the same rows either way, so the embedded engine builds the day in one query.
// Safety (promise 3): when a live day has zero rows while the stable day has rows, the whole
// run is refused (kRefused) before anything is written, naming the table, the date and the
// stable rows that would be destroyed, unless `allow_empty`. When both are empty the day is
// skipped (nothing would change). Preview reports the refusal as the action instead of failing.
// `parallelism` > 0 sets DuckDB's worker threads for the run (DuckDB parallelises each
// query); tables and days are processed one after another.
struct CopyDeduplicateOptions {
  std::string project;
  TableFilter filter;
  std::vector<Date> dates;  // sorted and deduplicated by the step
  int preceding_days = 0;   // >= 0
  int slices = 1;           // >= 1; see above
  int parallelism = 0;      // 0: leave DuckDB's setting
  bool allow_empty = false;
  bool preview = false;
  ProgressFn progress;
};

// Whether copy-deduplicate NULLs the city and subdivisions of `live`'s stable rows (the
// reference's _select_geo): its table property `glean` is "true" (schemas deploy sets it, as
// the pipeline sets the label include_client_id), its namespace (dataset without `_live`) is
// not in the config's geo_deprecation.skip_apps, its name without `_vN` is not in skip_tables,
// and its schema has client_info.client_id and metadata.geo.{city,subdivision1,subdivision2}.
bool GeoDeprecationApplies(const TableInfo& live, const WarehouseConfig& config);

// Whether the reference's automation filter applies: the schema has metadata.header.x_source_tags.
bool HasSourceTags(const TableInfo& live);

enum class DedupAction {
  kReplace,           // replace the stable day with the deduplicated live day
  kReplaceWithEmpty,  // live day empty, allowed by allow_empty: the stable day is emptied
  kSkipBothEmpty,     // live and stable day both empty: nothing to do
  kRefuse,            // live day empty, stable has rows (preview only; a real run fails)
};
const char* DedupActionName(DedupAction a);

struct CopyDeduplicateItem {
  TableName live, stable;
  Date date;
  int64_t live_rows = 0;
  int64_t distinct_documents = 0;  // rows the stable day will hold
  int64_t duplicates_removed = 0;  // live_rows - distinct_documents: every row not copied
  int64_t stable_rows_before = 0;
  int64_t stable_rows_after = 0;  // preview: what it would hold
  bool geo_deprecation = false;   // city and subdivisions NULLed
  DedupAction action = DedupAction::kReplace;
  std::string note;  // why refused/skipped
};

struct CopyDeduplicateReport {
  bool preview = false;
  int parallelism = 0;
  std::vector<CopyDeduplicateItem> items;  // by table, then date

  int Count(DedupAction a) const;
};

Result<CopyDeduplicateReport> CopyDeduplicate(Warehouse& warehouse,
                                              const CopyDeduplicateOptions& options);

// Parses "--dates" values: each a day "A" or a range "A..B"; returns the days sorted, unique.
Result<std::vector<Date>> ParseDateList(const std::vector<std::string>& values);

// ---------------------------------------------------------------------------------------------
// Cleanup: remove what a replay left behind.
//
// Drops every table of the backfill project (Warehouse::DropTable: each stays readable by time
// travel and can be undropped until its dataset's window closes; the report gives the time)
// and removes the staged day folders (<YYYY-MM-DD>/, also under an error/ folder) and stray
// *.bf-partial files under `staged`; anything else there is left alone and reported. Datasets
// and the project itself stay (the warehouse has no dataset/project drop). Refused (kRefused)
// when the project holds a protected dataset: mirror never creates one, so such a project is
// not a backfill project. Missing staging directory: nothing to remove there.
struct CleanupOptions {
  std::string project;
  std::filesystem::path staged;  // empty: no staged files to remove
  bool preview = false;
};

struct CleanupReport {
  struct Table {
    TableName name;
    int64_t rows = 0;
    Timestamp undrop_until;
  };
  bool preview = false;
  std::vector<Table> tables;
  std::vector<std::filesystem::path> staged_removed;  // day folders and partial files
  int64_t staged_files = 0;
  int64_t staged_bytes = 0;
  std::vector<std::filesystem::path> left_alone;  // entries of `staged` that are not staged days
};

Result<CleanupReport> Cleanup(Warehouse& warehouse, const CleanupOptions& options);

}  // namespace backfill
