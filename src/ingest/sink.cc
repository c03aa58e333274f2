#include "ingest/sink.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "core/wide.h"
#include "ingest/pubsub.h"
#include "ingest/row_writer.h"
#include "ingest/transform.h"

namespace backfill::ingest {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Retries.

bool IsTransient(const Status& status) {
  return status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kBusy ||
         status.code() == StatusCode::kIoError;
}

Status Retry(const RetryPolicy& policy, const std::function<Status()>& attempt) {
  auto delay = policy.initial;
  const int attempts = std::max(1, policy.attempts);
  for (int i = 1;; ++i) {
    Status s = attempt();
    if (s.ok() || !IsTransient(s)) return s;
    if (i >= attempts) {
      return Status(s.code(), fmt::format("{} (gave up after {} attempt(s))", s.message(), attempts));
    }
    if (policy.sleep) {
      policy.sleep(delay);
    } else {
      std::this_thread::sleep_for(delay);
    }
    delay = std::min(policy.max, delay * 2);
  }
}

// ---------------------------------------------------------------------------------------------
// Tables.

Result<SinkTable> WarehouseTableLookup::Lookup(const TableName& name) {
  BF_ASSIGN_OR_RETURN(TableInfo info, warehouse_.DescribeTable(name));
  return SinkTable{info.options.schema, info.options.partition_by, info.encoded_columns};
}

Result<TableName> RouteMessage(const std::string& project, std::string_view ns, std::string_view type,
                               std::string_view version) {
  TableName name{project, SnakeCase(ns) + "_live", SnakeCase(type) + "_v" + SnakeCase(version)};
  BF_RETURN_IF_ERROR(ValidateIdentifier(name.dataset, "dataset"));
  BF_RETURN_IF_ERROR(ValidateIdentifier(name.table, "table"));
  return name;
}

namespace {

constexpr int32_t kNoDay = INT32_MIN;

std::optional<Date> DayToDate(int32_t day) {
  if (day == kNoDay) return std::nullopt;
  return Date(std::chrono::sys_days(std::chrono::days(day)));
}

int32_t DayOfAttribute(const PubsubMessage& m) {
  const std::string* ts = m.FindAttribute("submission_timestamp");
  int64_t us;
  if (!ts || !ParseTimestampMicros(*ts, &us)) return kNoDay;
  int64_t day = us / 86400000000LL;
  if (us % 86400000000LL < 0) --day;
  return static_cast<int32_t>(day);
}

// ---------------------------------------------------------------------------------------------
// Filters.

// One condition on an attribute (SinkOptions::where / where_not, and the error filters).
struct Condition {
  std::string text;  // as the user gave it, for the report
  std::string attribute;
  std::string value;              // for equality
  std::optional<std::regex> re;   // for "~"
  bool exclude = false;

  bool Holds(const PubsubMessage& m) const {
    const std::string* v = m.FindAttribute(attribute);
    if (!v) return false;
    return re ? std::regex_search(*v, *re) : *v == value;
  }
};

Result<Condition> ParseCondition(const std::string& flag, const std::string& text, bool exclude) {
  size_t at = text.find_first_of("=~");
  if (at == std::string::npos || at == 0) {
    return InvalidArgument(fmt::format("{} '{}': expected ATTR=VALUE or ATTR~REGEX", flag, text));
  }
  Condition c;
  c.text = fmt::format("{} {}", flag, text);
  c.attribute = text.substr(0, at);
  c.exclude = exclude;
  if (text[at] == '=') {
    c.value = text.substr(at + 1);
    return c;
  }
  try {
    c.re = std::regex(text.substr(at + 1));
  } catch (const std::regex_error& e) {
    return InvalidArgument(
        fmt::format("{} '{}': invalid regular expression: {}", flag, text, e.what()));
  }
  return c;
}

// Every filter of the options as conditions, in the order given.
Result<std::vector<Condition>> CompileFilters(const SinkOptions& o) {
  std::vector<Condition> out;
  for (const auto& t : o.error_types) {
    Condition c;
    c.text = "--error-type " + t;
    c.attribute = "error_type";
    c.value = t;
    out.push_back(std::move(c));
  }
  if (o.exclude_error_message) {
    Condition c;
    c.text = "--exclude-error-message " + *o.exclude_error_message;
    c.attribute = "error_message";
    c.exclude = true;
    try {
      c.re = std::regex(*o.exclude_error_message);
    } catch (const std::regex_error& e) {
      return InvalidArgument(fmt::format("invalid regular expression '{}': {}",
                                         *o.exclude_error_message, e.what()));
    }
    out.push_back(std::move(c));
  }
  for (const auto& t : o.where) {
    BF_ASSIGN_OR_RETURN(Condition c, ParseCondition("--where", t, false));
    out.push_back(std::move(c));
  }
  for (const auto& t : o.where_not) {
    BF_ASSIGN_OR_RETURN(Condition c, ParseCondition("--where-not", t, true));
    out.push_back(std::move(c));
  }
  return out;
}

// The error attributes the reference sinks add to a failed message (FailureMessage in
// ingestion-beam), removed before the message is decoded again.
bool IsErrorAttribute(std::string_view k) {
  if (k == "error_type" || k == "error_message" || k == "exception_class" || k == "stack_trace") {
    return true;
  }
  return k.size() == 19 && k.starts_with("stack_trace_cause_") && k[18] >= '1' && k[18] <= '5';
}

// ---------------------------------------------------------------------------------------------
// Inputs.

// sha256 (hex) and size of a file's bytes; I/O errors are kIoError (transient).
Status HashFile(const fs::path& path, std::string* hex, int64_t* size) {
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) return IoError(fmt::format("cannot read {}: {}", path.string(), strerror(errno)));
  std::unique_ptr<FILE, int (*)(FILE*)> closer(f, fclose);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  *size = 0;
  for (;;) {
    size_t n = fread(buf.data(), 1, buf.size(), f);
    if (n > 0) {
      EVP_DigestUpdate(ctx.get(), buf.data(), n);
      *size += static_cast<int64_t>(n);
    }
    if (n < buf.size()) {
      if (ferror(f)) return IoError(fmt::format("cannot read {}: {}", path.string(), strerror(errno)));
      break;
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  hex->clear();
  for (unsigned int i = 0; i < len; ++i) *hex += fmt::format("{:02x}", digest[i]);
  return Status::Ok();
}

bool HasGlobChars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

void AddPath(const fs::path& p, std::vector<fs::path>* out) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    std::vector<fs::path> found;
    for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      // Hidden files and folders (e.g. our own unfinished error-output files) are not input.
      if (it->path().filename().string().starts_with(".")) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) found.push_back(it->path());
    }
    std::sort(found.begin(), found.end());
    out->insert(out->end(), found.begin(), found.end());
  } else {
    out->push_back(p);
  }
}

Result<std::vector<fs::path>> ExpandInputs(const std::vector<std::string>& inputs) {
  std::vector<fs::path> all;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (fs::exists(in, ec)) {
      AddPath(in, &all);
      continue;
    }
    if (!HasGlobChars(in)) return NotFound(fmt::format("input {} does not exist", in));
    glob_t g{};
    int rc = glob(in.c_str(), GLOB_ERR, nullptr, &g);
    if (rc == GLOB_NOMATCH) {
      globfree(&g);
      return NotFound(fmt::format("no file matches {}", in));
    }
    if (rc != 0) {
      globfree(&g);
      return IoError(fmt::format("expanding {}: glob failed ({})", in, rc));
    }
    for (size_t i = 0; i < g.gl_pathc; ++i) AddPath(g.gl_pathv[i], &all);
    globfree(&g);
  }
  // The same file given twice is read once.
  std::vector<fs::path> unique;
  std::set<fs::path> seen;
  for (const auto& p : all) {
    std::error_code ec;
    fs::path key = fs::weakly_canonical(p, ec);
    if (ec) key = p;
    if (seen.insert(key).second) unique.push_back(p);
  }
  return unique;
}

// Reads one input file line by line: plain or gzip (any number of members), detected by the
// gzip magic. Raw reads are retried (transient I/O errors); damage to the gzip stream ends the
// file with a problem() that says where.
class InputFile {
 public:
  InputFile(fs::path path, const RetryPolicy& retry) : path_(std::move(path)), retry_(retry) {}
  ~InputFile() {
    if (inflating_) inflateEnd(&zs_);
    if (fd_ >= 0) close(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  Status Open() {
    return Retry(retry_, [&]() -> Status {
      fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) return IoError(fmt::format("cannot open {}: {}", path_.string(), std::strerror(errno)));
      return Status::Ok();
    });
  }

  // The next line (without its newline and a trailing CR); false at the end of the file or at
  // damage (see problem()). The view is valid until the next call. Errors are I/O failures.
  Result<bool> Next(std::string_view* line) {
    for (;;) {
      const char* base = text_.data();
      const void* nl = scan_ < text_.size() ? std::memchr(base + scan_, '\n', text_.size() - scan_) : nullptr;
      if (nl) {
        size_t end = static_cast<const char*>(nl) - base;
        size_t len = end - start_;
        if (len > 0 && base[start_ + len - 1] == '\r') --len;
        *line = std::string_view(base + start_, len);
        start_ = scan_ = end + 1;
        return true;
      }
      scan_ = text_.size();
      if (done_) {
        if (start_ < text_.size() && problem_.empty()) {  // a last line without a newline
          *line = std::string_view(base + start_, text_.size() - start_);
          start_ = scan_ = text_.size();
          return true;
        }
        if (start_ < text_.size() && !problem_.empty()) {
          tail_bytes_ = text_.size() - start_;
          start_ = scan_ = text_.size();
        }
        return false;
      }
      if (start_ > 0) {
        text_.erase(0, start_);
        scan_ -= start_;
        start_ = 0;
      }
      BF_RETURN_IF_ERROR(Fill());
    }
  }

  const std::string& problem() const { return problem_; }
  // Decompressed bytes after the last complete line when the file was damaged.
  size_t tail_bytes() const { return tail_bytes_; }
  int64_t bytes_read() const { return file_offset_; }

 private:
  static constexpr size_t kRawChunk = 1 << 20;
  static constexpr size_t kTextChunk = 1 << 20;

  Status ReadRaw() {
    raw_.resize(kRawChunk);
    ssize_t n = -1;
    BF_RETURN_IF_ERROR(Retry(retry_, [&]() -> Status {
      do {
        n = pread(fd_, raw_.data(), raw_.size(), file_offset_);
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        return IoError(fmt::format("reading {} at byte {}: {}", path_.string(), file_offset_, std::strerror(errno)));
      }
      return Status::Ok();
    }));
    raw_pos_ = 0;
    raw_len_ = static_cast<size_t>(n);
    file_offset_ += n;
    if (n == 0) eof_ = true;
    if (!kind_known_ && raw_len_ > 0) {
      kind_known_ = true;
      gzip_ = raw_len_ >= 2 && static_cast<unsigned char>(raw_[0]) == 0x1f &&
              static_cast<unsigned char>(raw_[1]) == 0x8b;
      if (gzip_) {
        std::memset(&zs_, 0, sizeof(zs_));
        if (inflateInit2(&zs_, 15 + 16) != Z_OK) return Internal("inflateInit2 failed");
        inflating_ = true;
      }
    }
    return Status::Ok();
  }

  Status Fill() {
    if (raw_pos_ == raw_len_ && !eof_) BF_RETURN_IF_ERROR(ReadRaw());
    if (!gzip_) {
      text_.append(raw_.data() + raw_pos_, raw_len_ - raw_pos_);
      raw_pos_ = raw_len_;
      if (eof_) done_ = true;
      return Status::Ok();
    }
    if (raw_pos_ == raw_len_) {  // eof_
      if (in_member_) {
        problem_ = fmt::format("truncated gzip file: it ends inside a gzip member (after {} compressed bytes)",
                               file_offset_);
      }
      done_ = true;
      return Status::Ok();
    }
    size_t old = text_.size();
    text_.resize(old + kTextChunk);
    zs_.next_in = reinterpret_cast<Bytef*>(raw_.data() + raw_pos_);
    zs_.avail_in = static_cast<uInt>(raw_len_ - raw_pos_);
    zs_.next_out = reinterpret_cast<Bytef*>(text_.data() + old);
    zs_.avail_out = static_cast<uInt>(kTextChunk);
    in_member_ = true;
    int rc = inflate(&zs_, Z_NO_FLUSH);
    size_t consumed = (raw_len_ - raw_pos_) - zs_.avail_in;
    raw_pos_ += consumed;
    text_.resize(old + (kTextChunk - zs_.avail_out));
    if (rc == Z_STREAM_END) {
      in_member_ = false;
      inflateReset(&zs_);  // another member may follow (multi-member gzip)
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      int64_t at = file_offset_ - static_cast<int64_t>(raw_len_ - raw_pos_);
      problem_ = fmt::format("corrupt gzip data at compressed byte {}: {}", at, zs_.msg ? zs_.msg : "inflate failed");
      done_ = true;
    }
    return Status::Ok();
  }

  fs::path path_;
  const RetryPolicy& retry_;
  int fd_ = -1;
  int64_t file_offset_ = 0;
  std::string raw_;
  size_t raw_pos_ = 0, raw_len_ = 0;
  bool eof_ = false, done_ = false, kind_known_ = false, gzip_ = false;
  z_stream zs_{};
  bool inflating_ = false, in_member_ = false;
  std::string text_;
  size_t start_ = 0, scan_ = 0;
  std::string problem_;
  size_t tail_bytes_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Error output: one gzip file per submission hour, written as `.<name>.partial` and renamed
// when the run succeeds (removed when it fails).

class ErrorOutputWriter {
 public:
  ErrorOutputWriter(std::string prefix, std::string run_id) : prefix_(std::move(prefix)), run_id_(std::move(run_id)) {
    while (prefix_.size() > 1 && prefix_.back() == '/') prefix_.pop_back();
  }
  ~ErrorOutputWriter() { Abort(); }

  Status Write(const PubsubMessage& message, const std::string& line) {
    std::string folder = ErrorOutputFolder(prefix_, message);
    std::lock_guard<std::mutex> lock(mu_);
    File& f = files_[folder];
    if (!f.handle) {
      if (open_ >= kMaxOpen) {  // close the others; they are reopened for appending (a new member)
        for (auto& [_, other] : files_) {
          if (other.handle) {
            BF_RETURN_IF_ERROR(CloseFile(other));
          }
        }
      }
      std::error_code ec;
      fs::create_directories(folder, ec);
      if (ec) return IoError(fmt::format("creating error-output folder {}: {}", folder, ec.message()));
      f.partial = folder + "." + FileName() + ".partial";
      f.handle = gzopen(f.partial.c_str(), f.opened ? "ab6" : "wb6");
      if (!f.handle) return IoError(fmt::format("cannot write error output {}: {}", f.partial, std::strerror(errno)));
      f.opened = true;
      ++open_;
    }
    if (gzwrite(f.handle, line.data(), static_cast<unsigned>(line.size())) != static_cast<int>(line.size()) ||
        gzputc(f.handle, '\n') != '\n') {
      int errnum = 0;
      const char* msg = gzerror(f.handle, &errnum);
      return IoError(fmt::format("writing error output {}: {}", f.partial, msg ? msg : "gzwrite failed"));
    }
    ++lines_;
    return Status::Ok();
  }

  // Closes every file and gives it its final name.
  Status Finish(std::vector<std::string>* written) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [folder, f] : files_) {
      if (f.handle) BF_RETURN_IF_ERROR(CloseFile(f));
      std::string final_path = folder + FileName();
      std::error_code ec;
      for (int k = 2; fs::exists(final_path, ec); ++k) final_path = folder + fmt::format("sink-{}-{}.ndjson.gz", run_id_, k);
      fs::rename(f.partial, final_path, ec);
      if (ec) return IoError(fmt::format("renaming {} to {}: {}", f.partial, final_path, ec.message()));
      f.partial.clear();
      written->push_back(final_path);
    }
    files_.clear();
    return Status::Ok();
  }

  void Abort() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [_, f] : files_) {
      if (f.handle) (void)CloseFile(f);
      std::error_code ec;
      if (!f.partial.empty()) fs::remove(f.partial, ec);
    }
    files_.clear();
  }

  int64_t lines() const { return lines_; }

 private:
  static constexpr int kMaxOpen = 32;
  struct File {
    gzFile handle = nullptr;
    bool opened = false;
    std::string partial;
  };
  std::string FileName() const { return fmt::format("sink-{}.ndjson.gz", run_id_); }
  Status CloseFile(File& f) {
    int rc = gzclose(f.handle);
    f.handle = nullptr;
    --open_;
    if (rc != Z_OK) return IoError(fmt::format("closing error output {} failed ({})", f.partial, rc));
    return Status::Ok();
  }

  std::string prefix_, run_id_;
  std::mutex mu_;
  std::map<std::string, File> files_;
  int open_ = 0;
  int64_t lines_ = 0;
};

// ---------------------------------------------------------------------------------------------
// A bounded blocking queue.

template <typename T>
class Queue {
 public:
  explicit Queue(size_t capacity) : capacity_(capacity) {}
  // False when the queue was closed.
  bool Push(T item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }
  // False when closed and drained.
  bool Pop(T* item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    *item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }
  // Items left after Close (to free them).
  std::deque<T> Drain() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(items_);
  }

 private:
  size_t capacity_;
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<T> items_;
  bool closed_ = false;
};

// ---------------------------------------------------------------------------------------------
// The run.

std::atomic<int64_t> g_temp_counter{0};

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
  std::vector<duckdb_data_chunk> pool;

  ~TableEntry() {
    for (auto c : pool) DestroyChunk(c);
  }
  duckdb_data_chunk TakeFromPool() {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (pool.empty()) return nullptr;
    duckdb_data_chunk c = pool.back();
    pool.pop_back();
    return c;
  }
  void GiveBack(duckdb_data_chunk c, size_t keep) {
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      if (pool.size() < keep) {
        duckdb_data_chunk_reset(c);
        pool.push_back(c);
        return;
      }
    }
    DestroyChunk(c);
  }
};

struct ChunkItem {
  TableEntry* table = nullptr;
  duckdb_data_chunk chunk = nullptr;
  size_t bytes = 0;  // RowWriter::memory()
};

struct LineBatch {
  size_t file = 0;
  std::string text;
  std::vector<std::pair<uint32_t, uint32_t>> spans;  // offset, length
  std::vector<int64_t> line_numbers;
};

struct CountKey {
  std::string table;
  int32_t day = kNoDay;
  bool operator<(const CountKey& o) const { return std::tie(table, day) < std::tie(o.table, o.day); }
};

struct ExampleAt {
  size_t file;
  SinkErrorExample example;
};

class SinkRun;

class Worker {
 public:
  explicit Worker(SinkRun& run) : run_(run) {}
  void ProcessLine(size_t file, int64_t line_number, std::string_view line);
  // Hands over the partially filled chunks.
  void FlushAll();
  void DestroyWriters() { writers_.clear(); }

  std::map<CountKey, SinkCounts> counts;
  std::vector<ExampleAt> examples;
  std::vector<int64_t> filter_matches;  // per SinkRun::filters() condition
  int64_t beam_lines = 0, raw_lines = 0;

 private:
  void RecordError(size_t file, int64_t line_number, const PubsubMessage& message, const std::string& table,
                   int32_t day, const char* error_type, const Status& why);
  void Emit(TableEntry* table, RowWriter& writer);

  SinkRun& run_;
  PubsubLineParser parser_;
  Transformer transformer_;
  PubsubMessage message_;
  std::unordered_map<TableEntry*, std::unique_ptr<RowWriter>> writers_;
};

class SinkRun {
 public:
  SinkRun(Warehouse& w, const SinkOptions& o, std::vector<fs::path> files, std::string run_id,
          std::vector<Condition> filters, std::vector<LoadRecord> loads)
      : warehouse_(w), options_(o), files_(std::move(files)), run_id_(std::move(run_id)),
        default_lookup_(w), lookup_(o.lookup ? o.lookup : &default_lookup_),
        filters_(std::move(filters)), loads_(std::move(loads)) {
    if (!o.error_output.empty()) error_output_ = std::make_unique<ErrorOutputWriter>(o.error_output, run_id_);
  }

  Result<SinkReport> Execute();
  // At most this many finished chunks (of 2048 rows) wait per table before they are appended
  // (so a narrow table's segments do not stay tiny when wide tables use up the byte budget).
  static constexpr size_t kMaxStagedChunks = 64;

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
    if (!chunk_queue_.Push(item)) DestroyChunk(item.chunk);  // failed run: nothing more is written
  }
  const SinkOptions& options() const { return options_; }
  ErrorOutputWriter* error_output() { return error_output_.get(); }
  const std::vector<Condition>& filters() const { return filters_; }
  // Whether the filters skip `m` (all attributes, error attributes included); counts in
  // `matches` which conditions held.
  bool Filtered(const PubsubMessage& m, std::vector<int64_t>* matches) const {
    if (filters_.empty()) return false;
    matches->resize(filters_.size());
    // Kept conditions grouped by attribute: each group needs one that holds.
    std::map<std::string_view, bool> groups;
    bool excluded = false;
    for (size_t i = 0; i < filters_.size(); ++i) {
      const Condition& c = filters_[i];
      bool holds = c.Holds(m);
      (*matches)[i] += holds;
      if (c.exclude) {
        excluded = excluded || holds;
      } else {
        bool& g = groups[c.attribute];
        g = g || holds;
      }
    }
    if (excluded) return true;
    for (const auto& [_, any] : groups) {
      if (!any) return true;
    }
    return false;
  }
  const std::string& file_name(size_t i) const { return file_names_[i]; }

 private:
  // The writer's steps, under warehouse_mu_: stage a finished chunk; choose what to append now
  // (nothing while under budget; the table `last` when it holds kMaxStagedChunks; else the
  // largest tables, until at least half of the staged bytes are chosen); append into the open
  // transaction and recycle the chunks.
  void BufferChunk(const ChunkItem& item);
  std::vector<TableEntry*> ChooseTablesToAppend(TableEntry* last) const;
  Status AppendStaged(const std::vector<TableEntry*>& tables);
  // Whether DuckDB holds more than a quarter of its memory limit (time to commit): a COMMIT
  // into a wide table that already holds rows needs several GB on top of what the transaction
  // holds (see SinkOptions::duckdb_memory_limit). Under warehouse_mu_.
  Result<bool> DuckDbPastQuarterOfMemoryLimit();
  // DuckDB's settings for the run (see ConfigureDuckDb), and putting them back; the threads
  // alone (under warehouse_mu_) before the final COMMIT, when the decoders are done.
  Status ConfigureDuckDb();
  void RestoreDuckDbThreads();
  void RestoreDuckDb();
  Status ReadFiles(std::vector<SinkFile>* files);
  void RunWorker(Worker* w);
  void RunWriter();
  void Cleanup();

  Warehouse& warehouse_;
  const SinkOptions& options_;
  std::vector<fs::path> files_;
  std::vector<std::string> file_names_;
  std::string run_id_;
  WarehouseTableLookup default_lookup_;
  TableLookup* lookup_;
  std::unique_ptr<ErrorOutputWriter> error_output_;
  std::vector<Condition> filters_;
  std::vector<LoadRecord> loads_;  // recorded in the run's last transaction

  std::mutex warehouse_mu_;  // the warehouse, its connection, the table cache, appenders
  std::map<std::string, std::unique_ptr<TableEntry>> tables_;
  std::map<std::string, Status> missing_;
  size_t staged_bytes_ = 0;  // over all tables
  int64_t appends_ = 0;
  std::string restore_threads_, restore_memory_limit_;  // SET statements; empty: unchanged
  double duckdb_memory_limit_ = 0;  // bytes during the run (0: unknown)
  int64_t transactions_ = 0;
  std::string scan_function_;

  std::atomic<bool> failed_{false};
  std::mutex fail_mu_;
  Status failure_;
  Queue<LineBatch> work_queue_{4};
  Queue<ChunkItem> chunk_queue_{4};
  std::vector<std::unique_ptr<Worker>> workers_;
};

// --- Worker ---

void Worker::RecordError(size_t file, int64_t line_number, const PubsubMessage& message, const std::string& table,
                         int32_t day, const char* error_type, const Status& why) {
  SinkCounts& c = counts[{table, day}];
  ++c.read;
  ++c.errored;
  if (examples.size() < run_.options().max_examples) {
    examples.push_back({file, {run_.file_name(file), line_number, table, error_type, why.message()}});
  }
  if (ErrorOutputWriter* out = run_.error_output()) {
    ErrorInfo info{error_type, why.message(), StatusCodeName(why.code()),
                   fmt::format("backfill sink: {}:{}", run_.file_name(file), line_number)};
    Status s = out->Write(message, ErrorOutputLine(message, info));
    if (!s.ok()) run_.Fail(s);
  }
}

void Worker::ProcessLine(size_t file, int64_t line_number, std::string_view line) {
  Status parsed = parser_.Parse(line, &message_, LineFormat::kWrapped);
  if (!parsed.ok()) {
    // The line itself becomes the payload: nothing of it is lost.
    PubsubMessage raw;
    raw.payload = std::string(line);
    RecordError(file, line_number, raw, "", kNoDay, "ParsePubsubMessage", parsed);
    return;
  }
  PubsubMessage& m = message_;
  if (parser_.shape() == LineShape::kRaw) {
    ++raw_lines;
  } else {
    ++beam_lines;
  }
  // Error-output records may carry the reason they failed before: the filters see it, then the
  // message is transformed as it was originally.
  const bool skip = run_.Filtered(m, &filter_matches);
  auto& attrs = m.attributes;
  attrs.erase(std::remove_if(attrs.begin(), attrs.end(), [](const auto& kv) { return IsErrorAttribute(kv.first); }),
              attrs.end());
  const int32_t attribute_day = DayOfAttribute(m);
  const std::string* ns = m.FindAttribute("document_namespace");
  const std::string* type = m.FindAttribute("document_type");
  const std::string* version = m.FindAttribute("document_version");
  const std::string* id = m.FindAttribute("document_id");
  std::optional<TableName> name;
  Status route;
  if (!ns || ns->empty()) {
    route = InvalidArgument("missing attribute document_namespace");
  } else if (!type || type->empty()) {
    route = InvalidArgument("missing attribute document_type");
  } else if (!version || version->empty()) {
    route = InvalidArgument("missing attribute document_version");
  } else {
    auto r = RouteMessage(run_.options().project, *ns, *type, *version);
    if (r.ok()) {
      name = *r;
    } else {
      route = r.status();
    }
  }
  if (route.ok() && (!id || id->empty())) route = InvalidArgument("missing attribute document_id");
  const std::string table_text = name ? name->ToString() : "";
  if (skip) {
    SinkCounts& c = counts[{table_text, attribute_day}];
    ++c.read;
    ++c.skipped;
    return;
  }
  if (!route.ok()) {
    RecordError(file, line_number, m, table_text, attribute_day, "Route", route);
    return;
  }
  Result<TableEntry*> table = run_.GetTable(*name);
  if (!table.ok()) {
    if (table.status().code() == StatusCode::kNotFound) {
      RecordError(file, line_number, m, table_text, attribute_day, "Route",
                  NotFound("table not found: " + table_text));
    } else {
      run_.Fail(table.status());
    }
    return;
  }
  TableEntry* t = *table;
  Status transformed = transformer_.TransformMessage(*t->compiled, m);
  if (!transformed.ok()) {
    RecordError(file, line_number, m, table_text, attribute_day, "Transform", transformed);
    return;
  }
  auto& writer = writers_[t];
  if (!writer) {
    auto w = RowWriter::Create(t->fields, t->types, t->partition_by);
    if (!w.ok()) {
      run_.Fail(w.status().WithContext("preparing to write " + table_text));
      return;
    }
    writer = std::move(*w);
  }
  Status written = writer->Append(transformer_.row());
  if (!written.ok()) {
    RecordError(file, line_number, m, table_text, attribute_day, "Write", written);
    return;
  }
  auto day = writer->last_day();
  SinkCounts& c = counts[{table_text, day ? *day : kNoDay}];
  ++c.read;
  ++c.written;  // staged; the run fails unless every staged row is appended
  if (writer->full()) Emit(t, *writer);
}

void Worker::Emit(TableEntry* table, RowWriter& writer) {
  ChunkItem item;
  item.table = table;
  item.bytes = writer.memory();
  item.chunk = writer.TakeChunk(table->TakeFromPool());
  run_.EmitChunk(item);
}

void Worker::FlushAll() {
  for (auto& [table, writer] : writers_) {
    if (!writer->empty() && !run_.failed()) Emit(table, *writer);
  }
}

// --- SinkRun ---

Result<TableEntry*> SinkRun::GetTable(const TableName& name) {
  const std::string key = name.ToString();
  TableEntry* found = nullptr;
  Status s = Retry(options_.retry, [&]() -> Status {
    std::lock_guard<std::mutex> lock(warehouse_mu_);
    if (auto it = tables_.find(key); it != tables_.end()) {
      found = it->second.get();
      return Status::Ok();
    }
    if (auto it = missing_.find(key); it != missing_.end()) return it->second;
    Result<SinkTable> r = lookup_->Lookup(name);
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kNotFound) missing_[key] = r.status();
      return r.status();
    }
    auto e = std::make_unique<TableEntry>();
    e->name = name;
    e->name_text = key;
    e->fields = r->schema.fields;
    e->partition_by = r->partition_by;
    e->compiled = CompiledSchema::Compile(e->fields);
    // DuckDB's own column types for the schema, read from an empty temp table (so chunks are
    // built with exactly the types an INSERT into the table expects).
    std::string temp = fmt::format("bf_sink_types_{}_{}", getpid(), ++g_temp_counter);
    Connection& conn = warehouse_.connection();
    // Wide-encoded columns are VARCHAR: the writer encodes them straight from the row.
    BF_RETURN_IF_ERROR(conn.Exec(fmt::format("CREATE OR REPLACE TEMP TABLE {} ({})", QuoteIdent(temp),
                                             StoredColumnList(r->schema, r->encoded)))
                           .WithContext("preparing to write " + key));
    auto types = ColumnTypes::OfTable(conn.raw(), "temp", "main", temp);
    (void)conn.Exec(fmt::format("DROP TABLE IF EXISTS temp.main.{}", QuoteIdent(temp)));
    if (!types.ok()) return types.status();
    e->types = *types;
    std::vector<std::string> names;
    for (const auto& f : e->fields) names.push_back(f.name);
    e->buffer = std::make_unique<ChunkBuffer>(std::move(names), e->types);
    found = e.get();
    tables_[key] = std::move(e);
    return Status::Ok();
  });
  if (!s.ok()) {
    if (s.code() == StatusCode::kNotFound) return s;
    return s.WithContext("looking up table " + key);
  }
  return found;
}

void SinkRun::BufferChunk(const ChunkItem& item) {
  TableEntry* t = item.table;
  t->staged_rows += static_cast<int64_t>(duckdb_data_chunk_get_size(item.chunk));
  t->staged_bytes += item.bytes;
  staged_bytes_ += item.bytes;
  t->buffer->Add(item.chunk);
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
  std::sort(staged.begin(), staged.end(),
            [](const TableEntry* a, const TableEntry* b) { return a->staged_bytes > b->staged_bytes; });
  // An append costs a few statements whatever its size, and each makes a segment per day: the
  // few tables that hold most of the bytes go, the small ones keep collecting rows.
  size_t chosen = 0;
  size_t n = 0;
  while (n < staged.size() && chosen * 2 < staged_bytes_) chosen += staged[n++]->staged_bytes;
  staged.resize(n);
  return staged;
}

Status SinkRun::AppendStaged(const std::vector<TableEntry*>& tables) {
  for (TableEntry* t : tables) {
    if (t->staged_rows == 0) continue;
    BF_ASSIGN_OR_RETURN(WriteStats stats,
                        warehouse_.Append(t->name, fmt::format("SELECT * FROM {}({})", scan_function_, t->buffer->id()),
                                          RowForm::kStored));
    ++appends_;
    if (stats.rows_written != t->staged_rows) {
      return Internal(fmt::format("{}: {} row(s) staged but {} appended", t->name_text, t->staged_rows,
                                  stats.rows_written));
    }
    // DuckDB has copied the rows into the transaction: the chunks can be filled again.
    t->appended_rows += t->staged_rows;
    t->staged_rows = 0;
    staged_bytes_ -= t->staged_bytes;
    t->staged_bytes = 0;
    for (duckdb_data_chunk c : t->buffer->Release()) t->GiveBack(c, static_cast<size_t>(options_.threads) + 1);
  }
  return Status::Ok();
}

// The writer. Chunks are staged as they come and appended into an open transaction whenever
// the staged chunks pass the budget, while the workers decode on. DuckDB keeps what a
// transaction appended until its COMMIT, and not all of it can be spilled: when DuckDB holds
// more than a quarter of its memory limit, the transaction is committed (staged chunks first)
// and the next one begins. A small run is one transaction; a large one lands in several. The warehouse
// lock is held except while waiting for chunks, so workers can look tables up in between.
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
          DestroyChunk(item.chunk);
          continue;
        }
        BufferChunk(item);
        std::vector<TableEntry*> append = ChooseTablesToAppend(item.table);
        if (append.empty()) continue;
        BF_RETURN_IF_ERROR(AppendStaged(append));
        BF_ASSIGN_OR_RETURN(bool commit, DuckDbPastQuarterOfMemoryLimit());
        if (commit) {
          std::vector<TableEntry*> all;
          for (auto& [_, t] : tables_) all.push_back(t.get());
          return AppendStaged(all);
        }
      }
      if (failed()) return Internal("the run failed");  // rolls back (the run reports its own failure)
      done = true;
      std::vector<TableEntry*> all;
      for (auto& [_, t] : tables_) all.push_back(t.get());
      BF_RETURN_IF_ERROR(AppendStaged(all));
      // The ledger commits with the last rows: after a crash both are there or neither.
      BF_RETURN_IF_ERROR(warehouse_.RecordLoads(options_.project, loads_));
      // Decoding is over: the checkpoint at COMMIT may use every core.
      RestoreDuckDbThreads();
      return Status::Ok();
    });
    if (!s.ok()) {
      for (auto& [_, t] : tables_) t->appended_rows = t->committed_rows;
      if (!failed()) Fail(s.WithContext("appending the decoded rows"));
      return;
    }
    for (auto& [_, t] : tables_) t->committed_rows = t->appended_rows;
    ++transactions_;
  }
}

Result<bool> SinkRun::DuckDbPastQuarterOfMemoryLimit() {
  if (duckdb_memory_limit_ <= 0) return false;
  BF_ASSIGN_OR_RETURN(int64_t used, warehouse_.connection().QueryInt(
                                        "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()"));
  return double(used) > duckdb_memory_limit_ / 4;
}

void SinkRun::RunWorker(Worker* w) {
  LineBatch batch;
  while (work_queue_.Pop(&batch)) {
    if (failed()) continue;
    for (size_t i = 0; i < batch.spans.size() && !failed(); ++i) {
      w->ProcessLine(batch.file, batch.line_numbers[i],
                     std::string_view(batch.text.data() + batch.spans[i].first, batch.spans[i].second));
    }
  }
  if (!failed()) w->FlushAll();
}

Status SinkRun::ReadFiles(std::vector<SinkFile>* report_files) {
  const bool threaded = options_.threads > 1;
  LineBatch batch;
  auto flush_batch = [&]() {
    if (batch.spans.empty()) return;
    work_queue_.Push(std::move(batch));
    batch = LineBatch();
  };
  for (size_t fi = 0; fi < files_.size() && !failed(); ++fi) {
    SinkFile sf;
    sf.path = files_[fi].string();
    InputFile in(files_[fi], options_.retry);
    BF_RETURN_IF_ERROR(in.Open());
    std::string_view line;
    int64_t line_number = 0;
    for (;;) {
      BF_ASSIGN_OR_RETURN(bool more, in.Next(&line));
      if (!more || failed()) break;
      ++line_number;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank: not a record
      ++sf.records;
      if (!threaded) {
        workers_[0]->ProcessLine(fi, line_number, line);
        continue;
      }
      if (batch.spans.empty()) batch.file = fi;
      batch.spans.emplace_back(static_cast<uint32_t>(batch.text.size()), static_cast<uint32_t>(line.size()));
      batch.line_numbers.push_back(line_number);
      batch.text.append(line);
      if (batch.spans.size() >= 1024 || batch.text.size() >= (4u << 20)) flush_batch();
    }
    if (threaded) flush_batch();
    sf.bytes = in.bytes_read();
    if (!in.problem().empty()) {
      sf.problem = fmt::format("{}; {} record(s) before the damage were read{}", in.problem(), sf.records,
                               in.tail_bytes() ? fmt::format(", an incomplete last line ({} bytes) and anything after it "
                                                             "could not be read",
                                                             in.tail_bytes())
                                               : ", anything after it could not be read");
    }
    if (options_.progress) {
      options_.progress(fmt::format("{}: {} record(s), {} bytes{}", sf.path, sf.records, sf.bytes,
                                    sf.problem.empty() ? "" : " - " + sf.problem));
    }
    report_files->push_back(std::move(sf));
  }
  return Status::Ok();
}

void SinkRun::Cleanup() {
  std::lock_guard<std::mutex> lock(warehouse_mu_);
  tables_.clear();  // frees the staged chunks
  staged_bytes_ = 0;
}

// A size as DuckDB prints its settings ("18.8 GiB", "512.0 MiB", "1000 bytes"), in bytes.
std::optional<double> ParseMemorySize(std::string_view text) {
  double value = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (r.ec != std::errc()) return std::nullopt;
  std::string_view unit(r.ptr, text.data() + text.size() - r.ptr);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  static const std::pair<std::string_view, double> kUnits[] = {
      {"bytes", 1}, {"KiB", 1024.0}, {"MiB", 1024.0 * 1024}, {"GiB", 1024.0 * 1024 * 1024},
      {"TiB", 1024.0 * 1024 * 1024 * 1024}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) return value * factor;
  }
  return std::nullopt;
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
Status SinkRun::ConfigureDuckDb() {
  std::lock_guard<std::mutex> lock(warehouse_mu_);
  Connection& conn = warehouse_.connection();
  BF_ASSIGN_OR_RETURN(QueryResult r, conn.Query("SELECT current_setting('threads')::BIGINT, "
                                                "current_setting('memory_limit')::VARCHAR"));
  int64_t threads = r.GetInt64(0, 0);
  if (threads > 1) {
    BF_RETURN_IF_ERROR(conn.Exec("SET threads = 1"));
    restore_threads_ = fmt::format("SET threads = {}", threads);
  }
  const std::string limit = r.GetString(1, 0);
  std::optional<double> current = ParseMemorySize(limit);
  duckdb_memory_limit_ = current.value_or(0);
  if (options_.duckdb_memory_limit > 0 && (!current || *current > double(options_.duckdb_memory_limit))) {
    duckdb_memory_limit_ = double(std::max<size_t>(1, options_.duckdb_memory_limit >> 20) << 20);
    BF_RETURN_IF_ERROR(conn.Exec(
        fmt::format("SET memory_limit = '{}MiB'", std::max<size_t>(1, options_.duckdb_memory_limit >> 20))));
    restore_memory_limit_ = fmt::format("SET memory_limit = {}", QuoteString(limit));
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
  if (!restore_memory_limit_.empty()) (void)warehouse_.connection().Exec(restore_memory_limit_);
  restore_memory_limit_.clear();
}

Result<SinkReport> SinkRun::Execute() {
  auto started = std::chrono::steady_clock::now();
  for (const auto& f : files_) file_names_.push_back(f.string());
  scan_function_ = fmt::format("bf_sink_scan_{}_{}", getpid(), ++g_temp_counter);
  BF_RETURN_IF_ERROR(RegisterChunkScan(warehouse_.connection().raw(), scan_function_));
  const int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>(*this));

  SinkReport report;
  report.run_id = run_id_;
  BF_RETURN_IF_ERROR(ConfigureDuckDb());
  // One writer thread appends finished chunks while the workers (with one thread: the reading
  // thread itself) decode on, so DuckDB's work overlaps with decoding.
  Status read_status;
  {
    std::thread writer([this] { RunWriter(); });
    if (threads == 1) {
      read_status = ReadFiles(&report.files);
      if (read_status.ok() && !failed()) workers_[0]->FlushAll();
    } else {
      std::vector<std::thread> pool;
      for (auto& w : workers_) pool.emplace_back([this, wp = w.get()] { RunWorker(wp); });
      read_status = ReadFiles(&report.files);
      if (!read_status.ok()) Fail(read_status);
      work_queue_.Close();
      for (auto& t : pool) t.join();
    }
    chunk_queue_.Close();
    writer.join();
    for (auto& item : chunk_queue_.Drain()) DestroyChunk(item.chunk);
  }
  if (!read_status.ok()) Fail(read_status);
  for (auto& w : workers_) w->DestroyWriters();

  RestoreDuckDb();
  if (failed()) {
    if (error_output_) error_output_->Abort();
    int64_t early = 0;
    std::string where;
    for (auto& [key, t] : tables_) {
      if (t->committed_rows > 0) {
        early += t->committed_rows;
        where += (where.empty() ? "" : ", ") + key;
      }
    }
    Cleanup();
    std::string msg = failure_.message() + "; the sink failed and wrote no error output";
    if (early > 0) {
      msg += fmt::format(" ({} row(s) of earlier batches had already been appended to {}; "
                         "the appended rows are removed as duplicates when the run is repeated and appended)",
                         early, where);
    } else {
      msg += " and no rows";
    }
    return Status(failure_.code(), msg);
  }
  if (error_output_) {
    report.error_lines_written = error_output_->lines();
    BF_RETURN_IF_ERROR(error_output_->Finish(&report.error_files));
  }

  // The report, and its balance.
  std::map<CountKey, SinkCounts> merged;
  std::vector<ExampleAt> examples;
  report.filters.resize(filters_.size());
  for (size_t i = 0; i < filters_.size(); ++i) report.filters[i].filter = filters_[i].text;
  for (auto& w : workers_) {
    report.beam_lines += w->beam_lines;
    report.raw_lines += w->raw_lines;
    for (size_t i = 0; i < w->filter_matches.size(); ++i) report.filters[i].matched += w->filter_matches[i];
    for (auto& [k, c] : w->counts) {
      SinkCounts& m = merged[k];
      m.read += c.read;
      m.written += c.written;
      m.errored += c.errored;
      m.skipped += c.skipped;
    }
    for (auto& e : w->examples) examples.push_back(std::move(e));
  }
  std::sort(examples.begin(), examples.end(), [](const ExampleAt& a, const ExampleAt& b) {
    return std::tie(a.file, a.example.line) < std::tie(b.file, b.example.line);
  });
  for (size_t i = 0; i < examples.size() && i < options_.max_examples; ++i) report.examples.push_back(examples[i].example);
  std::map<std::string, int64_t> written_per_table;
  for (auto& [k, c] : merged) {
    report.items.push_back({k.table, DayToDate(k.day), c});
    report.totals.read += c.read;
    report.totals.written += c.written;
    report.totals.errored += c.errored;
    report.totals.skipped += c.skipped;
    written_per_table[k.table] += c.written;
    if (!c.Balanced()) {
      return Internal(fmt::format("sink counts do not balance for {} {}: read {} != written {} + errored {} + skipped {}",
                                  k.table, k.day == kNoDay ? "NULL" : FormatDate(*DayToDate(k.day)), c.read,
                                  c.written, c.errored, c.skipped));
    }
  }
  int64_t records = 0;
  for (const auto& f : report.files) {
    records += f.records;
    report.input_bytes += f.bytes;
  }
  if (records != report.totals.read || !report.totals.Balanced()) {
    return Internal(fmt::format("sink counts do not balance: {} record(s) in the input files, read {} = written {} + "
                                "errored {} + skipped {}",
                                records, report.totals.read, report.totals.written, report.totals.errored,
                                report.totals.skipped));
  }
  for (auto& [key, t] : tables_) {
    if (written_per_table[key] != t->committed_rows) {
      return Internal(fmt::format("{}: {} row(s) decoded but {} appended", key, written_per_table[key], t->committed_rows));
    }
  }
  if (error_output_ && report.error_lines_written != report.totals.errored) {
    return Internal(fmt::format("{} record error(s) but {} error-output line(s) written", report.totals.errored,
                                report.error_lines_written));
  }
  for (const auto& f : report.filters) {
    if (f.matched > 0 || report.totals.read == 0) continue;
    report.warnings.push_back(fmt::format(
        "filter `{}` matched none of the {} record(s) read{}", f.filter, report.totals.read,
        f.filter.starts_with("--error-type") && report.raw_lines > 0
            ? fmt::format(" ({} of them are raw lines, which ingestion-sink writes without error "
                          "attributes: filter with --where instead)",
                          report.raw_lines)
            : ""));
  }
  report.appends = appends_;
  report.commits = transactions_;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

std::string DefaultRunId(const Clock& clock) {
  std::string ts = FormatTimestamp(clock.Now());  // 2020-03-19T10:00:00Z
  std::string compact;
  for (char c : ts) {
    if (c != '-' && c != ':') compact.push_back(c);
  }
  return fmt::format("{}-{}", compact, getpid());
}

}  // namespace

int SinkReport::FileProblems() const {
  int n = 0;
  for (const auto& f : files) n += !f.problem.empty();
  return n;
}

Result<SinkReport> Sink(Warehouse& warehouse, const SinkOptions& options) {
  if (options.inputs.empty()) return InvalidArgument("no input given");
  if (options.threads < 1) return InvalidArgument("threads must be at least 1");
  BF_RETURN_IF_ERROR(ValidateProjectName(options.project));
  if (!warehouse.HasProject(options.project)) return NotFound(fmt::format("project {} does not exist", options.project));
  BF_ASSIGN_OR_RETURN(std::vector<Condition> filters, CompileFilters(options));
  BF_ASSIGN_OR_RETURN(std::vector<fs::path> files, ExpandInputs(options.inputs));
  std::string run_id = options.run_id.empty() ? DefaultRunId(warehouse.clock()) : options.run_id;

  // The ledger: files whose content this project already loaded are not loaded again.
  BF_ASSIGN_OR_RETURN(std::vector<LoadRecord> loaded, warehouse.ListLoads(options.project));
  std::map<std::string, const LoadRecord*> by_hash;
  for (const auto& l : loaded) by_hash.emplace(l.sha256, &l);
  std::map<std::string, std::string> in_run;  // sha256 -> path
  std::vector<fs::path> to_load;
  std::vector<LoadRecord> loads;
  std::vector<SinkSkippedFile> skipped;
  for (const auto& f : files) {
    LoadRecord l;
    BF_RETURN_IF_ERROR(Retry(options.retry, [&] { return HashFile(f, &l.sha256, &l.size); }));
    l.path = f.string();
    l.run_id = run_id;
    std::string reason;
    // An empty file holds no record: there is nothing to load twice (and many are alike).
    const bool empty = l.size == 0;
    if (!options.reload && !empty) {
      if (auto it = by_hash.find(l.sha256); it != by_hash.end()) {
        reason = fmt::format("already loaded by run {} at {} (as {})", it->second->run_id,
                             FormatTimestamp(it->second->loaded_at), it->second->path);
      } else if (auto r = in_run.find(l.sha256); r != in_run.end()) {
        reason = fmt::format("same content as {} in this run", r->second);
      }
    }
    if (!reason.empty()) {
      skipped.push_back({l.path, l.sha256, l.size, reason});
      if (options.progress) options.progress(fmt::format("{}: skipped, {}", l.path, reason));
      continue;
    }
    to_load.push_back(f);
    if (empty) continue;
    in_run.emplace(l.sha256, l.path);
    loads.push_back(std::move(l));
  }
  SinkRun run(warehouse, options, std::move(to_load), run_id, std::move(filters), loads);
  BF_ASSIGN_OR_RETURN(SinkReport report, run.Execute());
  report.skipped_files = std::move(skipped);
  for (auto& f : report.files) {
    for (const auto& l : loads) {
      if (l.path == f.path) f.sha256 = l.sha256;
    }
  }
  return report;
}

}  // namespace backfill::ingest
