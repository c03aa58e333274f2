#include "ingest/sink.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "core/wide.h"
#include "ingest/input_file.h"
#include "ingest/sink_run.h"

namespace backfill::ingest {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Tables.

Result<SinkTable> WarehouseTableLookup::Lookup(const TableName& name) {
  BF_ASSIGN_OR_RETURN(TableInfo info, warehouse_.DescribeTable(name));
  return SinkTable{info.options.schema, info.options.partition_by, info.encoded_columns};
}

Result<TableName> RouteMessage(const std::string& project, std::string_view ns,
                               std::string_view type, std::string_view version) {
  TableName name{project, SnakeCase(ns) + "_live", SnakeCase(type) + "_v" + SnakeCase(version)};
  BF_RETURN_IF_ERROR(ValidateIdentifier(name.dataset, "dataset"));
  BF_RETURN_IF_ERROR(ValidateIdentifier(name.table, "table"));
  return name;
}

namespace sink_internal {
namespace {

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

std::atomic<int64_t> g_temp_counter{0};

std::string DefaultRunId(const Clock& clock) {
  std::string ts = FormatTimestamp(clock.Now());  // 2020-03-19T10:00:00Z
  std::string compact;
  for (char c : ts) {
    if (c != '-' && c != ':') compact.push_back(c);
  }
  return fmt::format("{}-{}", compact, getpid());
}

}  // namespace

// --- Worker ---

void Worker::RecordError(size_t file, int64_t line_number, const PubsubMessage& message,
                         const std::string& table, int32_t day, const char* error_type,
                         const Status& why) {
  SinkCounts& c = counts[{table, day}];
  ++c.read;
  ++c.errored;
  if (examples.size() < run_.options().max_examples) {
    examples.push_back(
        {file, {run_.file_name(file), line_number, table, error_type, why.message()}});
  }
  if (ErrorOutputWriter* out = run_.error_output()) {
    ErrorInfo info{error_type, why.message(), StatusCodeName(why.code()),
                   fmt::format("backfill sink: {}:{}", run_.file_name(file), line_number)};
    Status s = out->Write(message, ErrorOutputLine(message, info));
    if (!s.ok()) run_.Fail(s);
  }
}

void Worker::ProcessLine(size_t file, LineBatch::Line& line) {
  const int64_t line_number = line.number;
  PubsubMessage& m = line.message;
  if (!line.parsed.ok()) {
    RecordError(file, line_number, m, "", kNoDay, "ParsePubsubMessage", line.parsed);
    return;
  }
  if (line.shape == LineShape::kRaw) {
    ++raw_lines;
  } else {
    ++beam_lines;
  }
  const bool skip = line.skip;
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
  auto cached = tables_.find(table_text);
  if (cached == tables_.end()) {
    Result<TableEntry*> found = run_.GetTable(*name);
    if (!found.ok() && found.status().code() != StatusCode::kNotFound) {
      run_.Fail(found.status());
      return;
    }
    cached = tables_.emplace(table_text, std::move(found)).first;
  }
  const Result<TableEntry*>& table = cached->second;
  if (!table.ok()) {  // kNotFound
    RecordError(file, line_number, m, table_text, attribute_day, "Route",
                NotFound("table not found: " + table_text));
    return;
  }
  TableEntry* t = *table;
  Status transformed = transformer_.TransformMessage(*t->compiled, m, {}, &line.inflated);
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
  // A chunk goes when it has 2048 rows or its long strings and lists pass kChunkBytes: 2048
  // rows of telemetry main hold ~290 MB of encoded text, which DuckDB copies again when it
  // appends them, and a memory budget cannot be kept in steps that large.
  if (writer->full() || writer->memory() - writer->fixed_memory() >= SinkRun::kChunkBytes)
    Emit(t, *writer);
}

void Worker::Emit(TableEntry* table, RowWriter& writer) {
  ChunkItem item;
  item.table = table;
  item.bytes = writer.memory();
  item.input_read = input_read;
  item.chunk = writer.TakeChunk(table->TakeFromPool());
  run_.EmitChunk(std::move(item));
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
    e->compiled = CompiledSchema::Compile(e->fields, r->encoded);
    // DuckDB's own column types for the schema, read from an empty temp table (so chunks are
    // built with exactly the types an INSERT into the table expects).
    std::string temp = fmt::format("bf_sink_types_{}_{}", getpid(), ++g_temp_counter);
    Connection& conn = warehouse_.connection();
    // Wide-encoded columns are VARCHAR: the writer encodes them straight from the row.
    BF_RETURN_IF_ERROR(
        conn.Exec(fmt::format("CREATE OR REPLACE TEMP TABLE {} ({})", QuoteIdent(temp),
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

void SinkRun::RunWorker(Worker* w) {
  LineBatch batch;
  while (work_queue_.Pop(&batch)) {
    if (failed()) continue;
    w->input_read = batch.input_read;
    for (size_t i = 0; i < batch.size && !failed(); ++i) w->ProcessLine(batch.file, batch.lines[i]);
    GiveBackBatch(std::move(batch));
  }
  w->input_read = input_bytes_;  // all of it has been read
  if (!failed()) w->FlushAll();
}

void SinkRun::GiveBackBatch(LineBatch batch) {
  // A line keeps its storage for the next batch unless it is large: kept, every line's would
  // grow to the largest payload it ever held (a gigabyte over a run of telemetry main pings).
  for (LineBatch::Line& l : batch.lines) {
    if (l.message.payload.capacity() > kKeptPayloadBytes) std::string().swap(l.message.payload);
    if (l.inflated.json.capacity() > kKeptPayloadBytes) std::string().swap(l.inflated.json);
  }
  std::lock_guard<std::mutex> lock(spare_mu_);
  if (spare_batches_.size() < kQueuedBatches + 1) spare_batches_.push_back(std::move(batch));
}

LineBatch SinkRun::TakeSpareBatch() {
  std::lock_guard<std::mutex> lock(spare_mu_);
  if (spare_batches_.empty()) return LineBatch();
  LineBatch batch = std::move(spare_batches_.back());
  spare_batches_.pop_back();
  return batch;
}

Result<bool> SinkRun::Admit(size_t i, std::string* sha256) {
  LoadRecord l;
  BF_RETURN_IF_ERROR(
      Retry(options_.retry, [&] { return HashFile(files_[i], &l.sha256, &l.size); }));
  l.path = files_[i].string();
  l.run_id = run_id_;
  *sha256 = l.sha256;
  // An empty file holds no record: there is nothing to load twice (and many are alike).
  if (l.size == 0) return true;
  std::string reason;
  if (!options_.reload) {
    if (auto before = ledger_.find(l.sha256); before != ledger_.end()) {
      reason = fmt::format("already loaded by run {} at {} (as {})", before->second.run_id,
                           FormatTimestamp(before->second.loaded_at), before->second.path);
    } else if (auto r = in_run_.find(l.sha256); r != in_run_.end()) {
      reason = fmt::format("same content as {} in this run", r->second);
    }
  }
  if (!reason.empty()) {
    skipped_.push_back({l.path, l.sha256, l.size, reason});
    if (options_.progress) options_.progress(fmt::format("{}: skipped, {}", l.path, reason));
    return false;
  }
  in_run_.emplace(l.sha256, l.path);
  loads_.push_back(std::move(l));
  return true;
}

void SinkRun::PrepareParsedLine(LineBatch::Line& l) {
  // Error-output records may carry the reason they failed before: the filters see it, then the
  // message is transformed as it was originally.
  l.skip = filter_.Skips(l.message, &filter_matches_);
  auto& attrs = l.message.attributes;
  attrs.erase(std::remove_if(attrs.begin(), attrs.end(),
                             [](const auto& kv) { return IsErrorAttribute(kv.first); }),
              attrs.end());
  if (l.skip) {
    l.inflated.done = false;  // a skipped record is counted, never decoded
  } else {
    InflateAhead(l.message.payload, &l.inflated);
  }
}

Status SinkRun::ReadFiles(std::vector<SinkFile>* report_files) {
  PubsubLineParser parser;
  LineBatch batch;
  int64_t before_file = 0;  // input bytes of the files before this one
  auto flush_batch = [&](int64_t read) {
    if (batch.size == 0) return;
    batch.input_read = before_file + read;
    work_queue_.Push(std::move(batch));
    batch = TakeSpareBatch();
    batch.size = 0;
    batch.bytes = 0;
  };
  for (size_t fi = 0; fi < files_.size() && !failed(); before_file += file_bytes_[fi++]) {
    SinkFile sf;
    sf.path = files_[fi].string();
    BF_ASSIGN_OR_RETURN(bool load, Admit(fi, &sf.sha256));
    if (!load) continue;
    InputFile in(files_[fi], options_.retry);
    BF_RETURN_IF_ERROR(in.Open());
    std::string_view line;
    int64_t line_number = 0;
    for (;;) {
      BF_ASSIGN_OR_RETURN(bool more, in.Next(&line));
      if (!more || failed()) break;
      ++line_number;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos)
        continue;  // blank: not a record
      ++sf.records;
      if (batch.size == 0) batch.file = fi;
      if (batch.size == batch.lines.size()) batch.lines.emplace_back();
      LineBatch::Line& l = batch.lines[batch.size++];
      l.number = line_number;
      l.parsed = parser.Parse(line, &l.message, LineFormat::kWrapped);
      if (l.parsed.ok()) {
        l.shape = parser.shape();
        PrepareParsedLine(l);
      } else {  // the line itself becomes the payload: nothing of it is lost
        l.message.attributes.clear();
        l.message.payload.assign(line);
        l.inflated.done = false;
        l.skip = false;
      }
      batch.bytes += line.size() + (l.inflated.done ? l.inflated.json.size() : 0);
      if (batch.size >= 1024 || batch.bytes >= (4u << 20)) flush_batch(in.bytes_read());
    }
    flush_batch(file_bytes_[fi]);
    sf.bytes = in.bytes_read();
    if (!in.problem().empty()) {
      sf.problem = fmt::format(
          "{}; {} record(s) before the damage were read{}", in.problem(), sf.records,
          in.tail_bytes()
              ? fmt::format(", an incomplete last line ({} bytes) and anything after it "
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

Result<SinkReport> SinkRun::Execute() {
  auto started = std::chrono::steady_clock::now();
  for (const auto& f : files_) {
    file_names_.push_back(f.string());
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(f, ec);
    file_bytes_.push_back(ec ? 0 : static_cast<int64_t>(size));
    input_bytes_ += file_bytes_.back();
  }
  scan_function_ = fmt::format("bf_sink_scan_{}_{}", getpid(), ++g_temp_counter);
  BF_RETURN_IF_ERROR(RegisterChunkScan(warehouse_.connection().raw(), scan_function_));
  const int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>(*this));

  SinkReport report;
  report.run_id = run_id_;
  if (Status s = ConfigureDuckDb(); !s.ok()) {
    RestoreDuckDb();  // what was set before the failure
    return s;
  }
  // This thread reads; the workers decode what it hands them; one writer thread appends their
  // finished chunks meanwhile, so reading, decoding and DuckDB's work overlap.
  Status read_status;
  {
    std::thread writer([this] { RunWriter(); });
    std::vector<std::thread> pool;
    for (auto& w : workers_) pool.emplace_back([this, wp = w.get()] { RunWorker(wp); });
    read_status = ReadFiles(&report.files);
    if (!read_status.ok()) Fail(read_status);
    work_queue_.Close();
    // Reading is over: while the last rows are decoded and appended, this thread waits for the
    // pages DuckDB has written so far to reach the disk, so the COMMIT's sync waits only for
    // the rest (-0.17 s of a 1.2 s tail on the 100k bench mix; bench/README, `replay`,
    // session 13).
    warehouse_.WriteBackProjectFile(options_.project);
    for (auto& t : pool) t.join();
    chunk_queue_.Close();
    writer.join();
    chunk_queue_.Drain();  // frees what a failed run left
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
      msg += fmt::format(
          " ({} row(s) of earlier batches had already been appended to {}; "
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
  report.filters.resize(filter_.size());
  for (size_t i = 0; i < filter_.size(); ++i) report.filters[i].filter = filter_.text(i);
  for (size_t i = 0; i < filter_matches_.size(); ++i)
    report.filters[i].matched += filter_matches_[i];
  for (auto& w : workers_) {
    report.beam_lines += w->beam_lines;
    report.raw_lines += w->raw_lines;
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
  for (size_t i = 0; i < examples.size() && i < options_.max_examples; ++i)
    report.examples.push_back(examples[i].example);
  std::map<std::string, int64_t> written_per_table;
  for (auto& [k, c] : merged) {
    report.items.push_back({k.table, DayToDate(k.day), c});
    report.totals.read += c.read;
    report.totals.written += c.written;
    report.totals.errored += c.errored;
    report.totals.skipped += c.skipped;
    written_per_table[k.table] += c.written;
    if (!c.Balanced()) {
      return Internal(fmt::format(
          "sink counts do not balance for {} {}: read {} != written {} + errored {} + skipped {}",
          k.table, k.day == kNoDay ? "NULL" : FormatDate(*DayToDate(k.day)), c.read, c.written,
          c.errored, c.skipped));
    }
  }
  int64_t records = 0;
  for (const auto& f : report.files) {
    records += f.records;
    report.input_bytes += f.bytes;
  }
  if (records != report.totals.read || !report.totals.Balanced()) {
    return Internal(fmt::format(
        "sink counts do not balance: {} record(s) in the input files, read {} = written {} + "
        "errored {} + skipped {}",
        records, report.totals.read, report.totals.written, report.totals.errored,
        report.totals.skipped));
  }
  for (auto& [key, t] : tables_) {
    if (written_per_table[key] != t->committed_rows) {
      return Internal(fmt::format("{}: {} row(s) decoded but {} appended", key,
                                  written_per_table[key], t->committed_rows));
    }
  }
  if (error_output_ && report.error_lines_written != report.totals.errored) {
    return Internal(fmt::format("{} record error(s) but {} error-output line(s) written",
                                report.totals.errored, report.error_lines_written));
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
  report.skipped_files = std::move(skipped_);
  report.appends = appends_;
  report.commits = transactions_;
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace sink_internal

int SinkReport::FileProblems() const {
  int n = 0;
  for (const auto& f : files) n += !f.problem.empty();
  return n;
}

Result<SinkReport> Sink(Warehouse& warehouse, const SinkOptions& options) {
  if (options.inputs.empty()) return InvalidArgument("no input given");
  if (options.threads < 1) return InvalidArgument("threads must be at least 1");
  BF_RETURN_IF_ERROR(ValidateProjectName(options.project));
  if (!warehouse.HasProject(options.project))
    return NotFound(fmt::format("project {} does not exist", options.project));
  BF_ASSIGN_OR_RETURN(MessageFilter filter,
                      MessageFilter::Compile(options.error_types, options.exclude_error_message,
                                             options.where, options.where_not));
  BF_ASSIGN_OR_RETURN(std::vector<fs::path> files, ExpandInputs(options.inputs));
  std::string run_id =
      options.run_id.empty() ? sink_internal::DefaultRunId(warehouse.clock()) : options.run_id;

  // The ledger: files whose content this project already loaded are not loaded again.
  BF_ASSIGN_OR_RETURN(std::vector<LoadRecord> loaded, warehouse.ListLoads(options.project));
  std::map<std::string, LoadRecord> ledger;
  for (auto& l : loaded) ledger.emplace(l.sha256, std::move(l));
  sink_internal::SinkRun run(warehouse, options, std::move(files), run_id, std::move(filter),
                             std::move(ledger));
  BF_ASSIGN_OR_RETURN(SinkReport report, run.Execute());
  return report;
}

}  // namespace backfill::ingest
