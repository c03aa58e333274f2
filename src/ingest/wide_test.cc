// Wide tables (core/wide.h): rows written in the wide-encoded form and read through the table's
// view equal the same rows written natively, leaf by leaf, whichever way they were written:
// native chunks encoded by SQL (append, copy), rows encoded by the RowWriter (the sink), and
// rows copied from another wide table. Run over every corpus schema with random rows, and over
// hand-picked edge values (NUMERIC/BIGNUMERIC extremes, arbitrary BYTES, INT64 extremes, -0.0,
// NaN, +-Inf, TIMESTAMP microseconds, DATE, NULL vs missing vs empty, nested REPEATED RECORDs).
#include <algorithm>
#include <climits>
#include <cmath>
#include <filesystem>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/schema.h"
#include "core/text.h"
#include "core/wide.h"
#include "ingest/payload.h"
#include "ingest/row.h"
#include "ingest/row_writer.h"
#include "ingest/transform.h"
#include "testing/testing.h"
#include "testing/warehouse_testing.h"
#include "warehouse/warehouse.h"

namespace backfill::ingest {
namespace {

namespace fs = std::filesystem;

Timestamp Now() {
  auto t = ParseTimestamp("2020-03-19T10:00:00Z");
  return t.value();
}

// A warehouse whose new tables are wide when `wide` (every top-level RECORD encoded), or never.
std::unique_ptr<Warehouse> MakeWarehouse(const fs::path& dir, const Clock& clock, bool wide) {
  WarehouseConfig config;
  config.principals["alice"] = Role::kOwner;
  config.lock_timeout_seconds = 0;
  config.wide = wide ? WideThresholds{1, 1} : WideThresholds{INT_MAX, INT_MAX};
  EXPECT_TRUE(Warehouse::Init(dir, config).ok());
  auto w = Warehouse::Open(dir, {"alice", &clock, true, std::nullopt, "test"});
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  auto& wh = **w;
  EXPECT_TRUE(wh.CreateProject("p").ok());
  EXPECT_TRUE(wh.CreateDataset({"p", "d"}, {}).ok());
  EXPECT_TRUE(RegisterChunkScan(wh.connection().raw(), "wide_test_scan").ok());
  return std::move(*w);
}

// Rows through a RowWriter whose chunk types are `column_list` (native or stored), then into
// `table` by one Append reading the chunks.
Status WriteRows(Warehouse& w, const TableName& table, const Schema& schema,
                 const std::string& column_list, RowForm form, const std::vector<Row>& rows) {
  static int counter = 0;
  std::string temp = fmt::format("wide_test_types_{}", ++counter);
  BF_RETURN_IF_ERROR(
      w.connection().Exec(fmt::format("CREATE TEMP TABLE {} ({})", temp, column_list)));
  BF_ASSIGN_OR_RETURN(auto types, ColumnTypes::OfTable(w.connection().raw(), "temp", "main", temp));
  BF_ASSIGN_OR_RETURN(auto writer, RowWriter::Create(schema.fields, types));
  std::vector<std::string> names;
  for (const auto& f : schema.fields) names.push_back(f.name);
  ChunkBuffer buffer(names, types);
  for (const Row& r : rows) {
    BF_RETURN_IF_ERROR(writer->Append(r));
    if (writer->full()) buffer.Add(writer->TakeChunk());
  }
  if (!writer->empty()) buffer.Add(writer->TakeChunk());
  BF_ASSIGN_OR_RETURN(
      WriteStats stats,
      w.Append(table, fmt::format("SELECT * FROM wide_test_scan({})", buffer.id()), form));
  if (stats.rows_written != static_cast<int64_t>(rows.size())) return Internal("rows lost");
  return Status::Ok();
}

// Every row of a relation as DuckDB's text of each column (every leaf printed exactly: -0.0,
// nan, decimals with all digits, blobs byte by byte), sorted.
std::vector<std::string> RowTexts(Warehouse& w, const std::string& relation) {
  // One result column per table column: each column's text as a JSON string (or null).
  auto r = w.Query(fmt::format(
      "SELECT CAST(to_json(CAST(COLUMNS(*) AS VARCHAR)) AS VARCHAR) FROM {}", relation));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> out;
  if (!r.ok()) return out;
  for (size_t i = 0; i < r->rows(); ++i) {
    std::string row;
    for (size_t c = 0; c < r->columns(); ++c)
      row += (c ? "," : "") + r->GetOptional(c, i).value_or("NULL");
    out.push_back(row);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ColumnTypesOf(Warehouse& w, const TableName& t) {
  auto r = w.Query(fmt::format(
      "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM "
      "information_schema.columns WHERE table_catalog = {} AND table_schema = {} AND table_name = "
      "{}",
      QuoteString(t.project), QuoteString(t.dataset), QuoteString(t.table)));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() && r->rows() == 1 ? r->GetString(0, 0) : "";
}

// Random rows for a schema, in the forms the transform leaves values in.
class RowGenerator {
 public:
  explicit RowGenerator(uint32_t seed) : rng_(seed) {}

  void Fill(const Schema& schema, Row* row) {
    row->Clear();
    std::vector<uint32_t> kids;
    for (const auto& f : schema.fields) kids.push_back(Value(f, false, 0, row));
    row->set_root(row->AddRecord(kids));
  }

 private:
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  uint32_t Value(const Field& f, bool element, int depth, Row* row) {
    if (f.mode == FieldMode::kRepeated && !element) {
      if (Chance(0.15)) return Row::kNullIndex;
      std::vector<uint32_t> items;
      int n = Chance(0.3) ? 0 : Int(1, depth > 1 ? 2 : 3);
      for (int i = 0; i < n; ++i) items.push_back(Value(f, true, depth + 1, row));
      return row->AddList(items);
    }
    if (f.mode != FieldMode::kRequired && !element && Chance(depth == 0 ? 0.1 : 0.35))
      return Row::kNullIndex;
    if (f.type == FieldType::kRecord) {
      if (element && Chance(0.1)) return Row::kNullIndex;
      std::vector<uint32_t> kids;
      // Sometimes a record ends early (its last fields missing), sometimes all its fields are NULL.
      size_t n = Chance(0.15) ? static_cast<size_t>(Int(0, static_cast<int>(f.fields.size())))
                              : f.fields.size();
      bool all_null = Chance(0.1);
      for (size_t i = 0; i < n; ++i) {
        kids.push_back(all_null ? Row::kNullIndex : Value(f.fields[i], false, depth + 1, row));
      }
      return row->AddRecord(kids);
    }
    return Scalar(f, row);
  }

  std::string Digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + Int(0, 9)));
    return s;
  }

  std::string DateText() {
    return fmt::format("{:04}-{:02}-{:02}", Int(1, 9999), Int(1, 12), Int(1, 28));
  }
  std::string TimeText() {
    return fmt::format("{:02}:{:02}:{:02}.{:06}", Int(0, 23), Int(0, 59), Int(0, 59),
                       Int(0, 999999));
  }

  uint32_t Scalar(const Field& f, Row* row) {
    switch (f.type) {
      case FieldType::kString:
      case FieldType::kGeography: {
        static const char* kPieces[] = {"a", "\"",  "\\", "\n",   "\x01", "é",
                                        "😀", "x y", "{}", "null", "\\x41"};
        std::string s;
        for (int i = Int(0, 5); i > 0; --i) s += kPieces[Int(0, 10)];
        return row->AddString(s);
      }
      case FieldType::kJson: {
        static const char* kJson[] = {"{\"a\":[1,2.50,\"x\"]}", "null", "\"s\"", "[]",
                                      "{\"k\":{\"n\":-0.0}}"};
        return row->AddString(kJson[Int(0, 4)]);
      }
      case FieldType::kBytes: {
        std::string bytes;
        for (int i = Int(0, 12); i > 0; --i) bytes.push_back(static_cast<char>(Int(0, 255)));
        if (Chance(0.3)) bytes += std::string("\x00\xff\\\"\x80", 5);
        return row->AddString(Base64Encode(bytes));
      }
      case FieldType::kInt64: {
        switch (Int(0, 4)) {
          case 0:
            return row->AddInt(INT64_MIN);
          case 1:
            return row->AddInt(INT64_MAX);
          case 2:
            return row->AddString(std::to_string(Int(-1000000, 1000000)));
          default:
            return row->AddInt(std::uniform_int_distribution<int64_t>(INT64_MIN, INT64_MAX)(rng_));
        }
      }
      case FieldType::kFloat64: {
        switch (Int(0, 8)) {
          case 0:
            return row->AddDouble(-0.0);
          case 1:
            return row->AddDouble(std::nan(""));
          case 2:
            return row->AddDouble(HUGE_VAL);
          case 3:
            return row->AddDouble(-HUGE_VAL);
          case 4:
            return row->AddDouble(5e-324);
          case 5:
            return row->AddString(Chance(0.5) ? "NaN" : "-Infinity");
          case 6:
            return row->AddInt(Int(-5, 5));
          default: {
            uint64_t bits = std::uniform_int_distribution<uint64_t>()(rng_);
            double d;
            std::memcpy(&d, &bits, sizeof d);
            return row->AddDouble(std::isnan(d) ? 0.1 : d);
          }
        }
      }
      case FieldType::kNumeric:
      case FieldType::kBigNumeric: {
        switch (Int(0, 4)) {
          case 0:
            return row->AddString("99999999999999999999999999999.999999999");
          case 1:
            return row->AddString("-99999999999999999999999999999.999999999");
          case 2:
            return row->AddString("0.000000001");
          case 3:
            return row->AddInt(Int(-100, 100));
          default:
            return row->AddString((Chance(0.5) ? "-" : "") + Digits(Int(1, 29)) + "." +
                                  Digits(Int(0, 9)));
        }
      }
      case FieldType::kBool:
        return row->AddBool(Chance(0.5));
      case FieldType::kTimestamp: {
        switch (Int(0, 3)) {
          case 0:
            return row->AddString("0001-01-01T00:00:00Z");
          case 1:
            return row->AddString("9999-12-31T23:59:59.999999Z");
          default:
            return row->AddString(DateText() + "T" + TimeText() + "Z");
        }
      }
      case FieldType::kDate:
        return row->AddString(DateText());
      case FieldType::kTime:
        return row->AddString(TimeText());
      case FieldType::kDatetime:
        return row->AddString(DateText() + "T" + TimeText());
      default:
        return Row::kNullIndex;  // INTERVAL: the sink does not write it
    }
  }

  std::mt19937 rng_;
};

class WideTest : public ::testing::Test {
 protected:
  void SetUp() override {
    native_ = MakeWarehouse(dir_.path() / "native", clock_, false);
    wide_ = MakeWarehouse(dir_.path() / "wide", clock_, true);
  }

  // Writes `rows` natively, then into three wide tables (SQL-encoded native chunks, chunks the
  // RowWriter encoded, a copy of the first wide table) and checks the views agree leaf by leaf.
  // `copy_too` false: skip the copied table (DuckDB takes seconds per statement on the huge
  // schemas).
  void CheckRoundTrip(const std::string& table, const Schema& schema, const std::vector<Row>& rows,
                      bool copy_too = true) {
    TableName n{"p", "d", table}, sql{"p", "d", table + "_sql"},
        direct{"p", "d", table + "_direct"}, copy{"p", "d", table + "_copy"};
    TableOptions options;
    options.schema = schema;
    ASSERT_TRUE(native_->CreateTable(n, options).ok());
    for (const auto& t : {sql, direct, copy}) ASSERT_TRUE(wide_->CreateTable(t, options).ok());
    auto info = wide_->DescribeTable(sql);
    ASSERT_TRUE(info.ok());
    ASSERT_EQ(info->encoded_columns, EncodedColumns(schema, {1, 1}));
    ASSERT_FALSE(info->encoded_columns.empty()) << table << " has no RECORD column to encode";

    Status s = WriteRows(*native_, n, schema, DuckDbColumnList(schema), RowForm::kNative, rows);
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = WriteRows(*wide_, sql, schema, DuckDbColumnList(schema), RowForm::kNative, rows);
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = WriteRows(*wide_, direct, schema, StoredColumnList(schema, info->encoded_columns),
                  RowForm::kStored, rows);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::vector<TableName> wide_tables = {sql, direct};
    if (copy_too) {
      auto copied = wide_->Append(copy, "SELECT * FROM p.d." + QuoteIdent(sql.table));
      ASSERT_TRUE(copied.ok()) << copied.status().ToString();
      wide_tables.push_back(copy);
    }

    std::vector<std::string> expected = RowTexts(*native_, "p.d." + QuoteIdent(table));
    ASSERT_EQ(expected.size(), rows.size());
    for (const auto& t : wide_tables) {
      EXPECT_EQ(ColumnTypesOf(*wide_, t), ColumnTypesOf(*native_, n)) << t.ToString();
      std::vector<std::string> got = RowTexts(*wide_, "p.d." + QuoteIdent(t.table));
      ASSERT_EQ(got.size(), expected.size()) << t.ToString();
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_EQ(got[i], expected[i]) << t.ToString() << " row " << i;
    }
  }

  testing::TempDir dir_;
  FixedClock clock_{Now()};
  std::unique_ptr<Warehouse> native_, wide_;
};

TEST_F(WideTest, EveryCorpusSchemaRoundTripsLeafByLeaf) {
  BF_REQUIRE_CORPUS();
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(testing::CorpusDir() / "schemas")) {
    if (e.path().extension() == ".bq") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 20u);
  uint32_t seed = 11;
  std::vector<Schema> done;
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    auto schema = ParseBqSchema(testing::ReadFile(file), file.filename().string());
    ASSERT_TRUE(schema.ok()) << schema.status().ToString();
    if (std::any_of(done.begin(), done.end(),
                    [&](const Schema& s) { return s.SameShape(*schema); })) {
      std::fprintf(stderr, "%s: same shape as a schema already checked, skipped\n",
                   file.string().c_str());
      continue;
    }
    done.push_back(*schema);
    // The huge schemas cost DuckDB seconds per statement: fewer rows, no copied table (the
    // copy path is checked on every other schema).
    const bool huge = schema->LeafCount() > 1000;
    RowGenerator gen(++seed);
    std::vector<Row> rows(huge ? 4 : 24);
    for (auto& r : rows) gen.Fill(*schema, &r);
    std::string table = "t" + std::to_string(seed);
    CheckRoundTrip(table, *schema, rows, /*copy_too=*/!huge);
    if (HasFatalFailure()) return;
  }
}

// How many strings of the row are JSON literals (Row::AddStringWith).
int JsonLiterals(const RowValue& v) {
  if (v.kind() == RowKind::kString) return v.is_json_literal() ? 1 : 0;
  int n = 0;
  for (size_t i = 0; i < v.size(); ++i) n += JsonLiterals(v.child(i));
  return n;
}

// The sink's own rows: a transform told the table's encoded columns leaves the JSON text it
// makes (telemetry histograms, objects in STRING columns) as JSON literals, which the wide
// encoding copies as they are. Every main ping sample read back through the wide table's view
// equals the same ping transformed for, and written to, a native table.
TEST_F(WideTest, TransformedMainPingsWithHistogramsMatchNative) {
  BF_REQUIRE_CORPUS();
  const fs::path schema_file = testing::CorpusDir() / "schemas/telemetry/main/main.5.bq";
  auto schema = ParseBqSchema(testing::ReadFile(schema_file), "main.5.bq");
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  TableName n{"p", "d", "main_v5"};
  TableOptions options;
  options.schema = *schema;
  ASSERT_TRUE(native_->CreateTable(n, options).ok());
  ASSERT_TRUE(wide_->CreateTable(n, options).ok());
  auto info = wide_->DescribeTable(n);
  ASSERT_TRUE(info.ok());
  auto native_schema = CompiledSchema::Compile(schema->fields);
  auto wide_schema = CompiledSchema::Compile(schema->fields, info->encoded_columns);

  std::vector<fs::path> samples;
  for (const auto& e : fs::directory_iterator(testing::CorpusDir() / "samples/telemetry")) {
    std::string name = e.path().filename().string();
    if (name.starts_with("main.4.") && name.ends_with(".pass.json")) samples.push_back(e.path());
  }
  std::sort(samples.begin(), samples.end());
  ASSERT_GE(samples.size(), 3u);
  Transformer transformer;
  std::vector<Row> native_rows, wide_rows;
  int literals = 0;
  for (const auto& sample : samples) {
    SCOPED_TRACE(sample.string());
    PubsubMessage message;
    message.attributes = {{"document_namespace", "telemetry"},
                          {"document_type", "main"},
                          {"document_version", "4"},
                          {"document_id", fmt::format("id-{}", native_rows.size())},
                          {"submission_timestamp", "2020-03-19T10:00:00.123456Z"}};
    message.payload = testing::ReadFile(sample);
    ASSERT_TRUE(transformer.TransformMessage(*native_schema, message).ok());
    native_rows.push_back(transformer.row());
    EXPECT_EQ(JsonLiterals(native_rows.back().root()), 0);
    ASSERT_TRUE(transformer.TransformMessage(*wide_schema, message).ok());
    wide_rows.push_back(transformer.row());
    literals += JsonLiterals(wide_rows.back().root());
  }
  // Every main ping holds histograms: the literal path is taken.
  EXPECT_GE(literals, static_cast<int>(samples.size()));

  Status s =
      WriteRows(*native_, n, *schema, DuckDbColumnList(*schema), RowForm::kNative, native_rows);
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = WriteRows(*wide_, n, *schema, StoredColumnList(*schema, info->encoded_columns),
                RowForm::kStored, wide_rows);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string> expected = RowTexts(*native_, "p.d.main_v5");
  std::vector<std::string> got = RowTexts(*wide_, "p.d.main_v5");
  ASSERT_EQ(expected.size(), samples.size());
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "row " << i;
}

// The real wide schemas qualify with the default thresholds; the corpus' structured ones do not.
TEST(WideThresholdsTest, CorpusWideSchemasQualifyStructuredOnesDoNot) {
  BF_REQUIRE_CORPUS();
  fs::path schemas = testing::CorpusDir() / "schemas";
  auto encoded = [&](const std::string& rel) {
    auto s = ParseBqSchema(testing::ReadFile(schemas / rel), rel);
    EXPECT_TRUE(s.ok());
    return s.ok() ? EncodedColumns(*s, WideThresholds{}) : std::vector<std::string>{};
  };
  EXPECT_EQ(encoded("telemetry/main/main.5.bq"),
            (std::vector<std::string>{"environment", "payload"}));
  EXPECT_EQ(encoded("org-mozilla-fenix/metrics/metrics.1.bq"),
            (std::vector<std::string>{"metrics"}));
  EXPECT_EQ(encoded("firefox-desktop/metrics/metrics.1.bq"), (std::vector<std::string>{"metrics"}));
  for (const char* structured :
       {"telemetry/event/event.4.bq", "telemetry/crash/crash.4.bq",
        "org-mozilla-fenix/events/events.1.bq", "firefox-desktop/baseline/baseline.1.bq"}) {
    EXPECT_EQ(encoded(structured), std::vector<std::string>{}) << structured;
  }
}

Schema EdgeSchema() {
  auto s = ParseBqSchema(R"([
    {"name": "id", "type": "INT64"},
    {"name": "r", "type": "RECORD", "fields": [
      {"name": "num", "type": "NUMERIC"}, {"name": "big", "type": "BIGNUMERIC"},
      {"name": "b", "type": "BYTES"}, {"name": "i", "type": "INT64"}, {"name": "f", "type": "FLOAT64"},
      {"name": "ts", "type": "TIMESTAMP"}, {"name": "d", "type": "DATE"}, {"name": "t", "type": "TIME"},
      {"name": "dt", "type": "DATETIME"}, {"name": "s", "type": "STRING"}, {"name": "j", "type": "JSON"},
      {"name": "ok", "type": "BOOL"}, {"name": "l", "type": "INT64", "mode": "REPEATED"},
      {"name": "inner", "type": "RECORD", "fields": [{"name": "x", "type": "STRING"}]},
      {"name": "recs", "type": "RECORD", "mode": "REPEATED", "fields": [
        {"name": "k", "type": "STRING"},
        {"name": "vals", "type": "RECORD", "mode": "REPEATED", "fields": [{"name": "v", "type": "FLOAT64"}]}]}]},
    {"name": "rs", "type": "RECORD", "mode": "REPEATED", "fields": [{"name": "a", "type": "BYTES"}]}
  ])",
                         "edge");
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return *s;
}

TEST_F(WideTest, EdgeValuesRoundTripExactly) {
  Schema schema = EdgeSchema();
  std::vector<Row> rows(7);
  auto record = [](Row& row, std::vector<uint32_t> fields) { row.set_root(row.AddRecord(fields)); };
  std::string bytes("\x00\xff\x80\\\"\x01z\xc3", 8);
  {  // 1: extremes
    Row& w = rows[0];
    uint32_t inner = w.AddRecord(std::vector<uint32_t>{w.AddString("é\"\\\n")});
    uint32_t vals = w.AddList(std::vector<uint32_t>{
        w.AddRecord(std::vector<uint32_t>{w.AddDouble(-0.0)}), Row::kNullIndex,
        w.AddRecord(std::vector<uint32_t>{w.AddDouble(std::nan(""))})});
    uint32_t recs = w.AddList(std::vector<uint32_t>{
        w.AddRecord(std::vector<uint32_t>{w.AddString("k1"), vals}),
        w.AddRecord(std::vector<uint32_t>{w.AddString("k2"), w.AddList({})})});
    uint32_t r = w.AddRecord(std::vector<uint32_t>{
        w.AddString("99999999999999999999999999999.999999999"),
        w.AddString("-99999999999999999999999999999.999999999"), w.AddString(Base64Encode(bytes)),
        w.AddInt(INT64_MIN), w.AddDouble(-0.0), w.AddString("2020-03-19T10:00:00.000001Z"),
        w.AddString("0001-01-01"), w.AddString("23:59:59.999999"),
        w.AddString("9999-12-31T23:59:59.999999"), w.AddString(""), w.AddString("{\"a\":[1,2.50]}"),
        w.AddBool(false), w.AddList(std::vector<uint32_t>{w.AddInt(INT64_MAX), Row::kNullIndex}),
        inner, recs});
    uint32_t rs = w.AddList(std::vector<uint32_t>{
        w.AddRecord(std::vector<uint32_t>{w.AddString(Base64Encode(std::string(1, '\0')))})});
    record(w, {w.AddInt(1), r, rs});
  }
  for (int k = 0; k < 3; ++k) {  // 2..4: NaN, +Inf, -Inf (as numbers and as text), smallest values
    Row& w = rows[1 + k];
    double f = k == 0 ? std::nan("") : k == 1 ? HUGE_VAL : -HUGE_VAL;
    uint32_t r = w.AddRecord(std::vector<uint32_t>{
        w.AddString("0.000000001"), w.AddString("-0.000000001"), w.AddString(""),
        w.AddInt(INT64_MAX), k == 0 ? w.AddString("NaN") : w.AddDouble(f),
        w.AddString("1970-01-01T00:00:00Z"), w.AddString("9999-12-31"), w.AddString("00:00:00"),
        w.AddString("2020-02-29T00:00:00.5"), w.AddString("x"), w.AddString("null"),
        w.AddBool(true), w.AddList({}), w.AddRecord(std::vector<uint32_t>{Row::kNullIndex}),
        w.AddList({})});
    record(w, {w.AddInt(2 + k), r, w.AddList({})});
  }
  {  // 5: the record NULL, rs NULL
    Row& w = rows[4];
    record(w, {w.AddInt(5), Row::kNullIndex, Row::kNullIndex});
  }
  {  // 6: the record present with every field NULL (vs NULL itself)
    Row& w = rows[5];
    std::vector<uint32_t> nulls(15, Row::kNullIndex);
    record(w, {w.AddInt(6), w.AddRecord(nulls), w.AddList(std::vector<uint32_t>{Row::kNullIndex})});
  }
  {  // 7: fields missing (the record ends after two), shortest doubles
    Row& w = rows[6];
    record(w, {w.AddInt(7), w.AddRecord(std::vector<uint32_t>{w.AddString("1e3"), w.AddInt(-7)})});
  }
  CheckRoundTrip("edge", schema, rows);
  if (HasFatalFailure()) return;

  // The values themselves, read through the wide view.
  auto q = [&](const std::string& sql) {
    auto r = wide_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r->rows() == 1 && !r->IsNull(0, 0) ? r->GetString(0, 0)
                                                        : std::string("<none>");
  };
  for (const char* t : {"edge_sql", "edge_direct", "edge_copy"}) {
    std::string v = fmt::format("p.d.{}", t);
    SCOPED_TRACE(t);
    EXPECT_EQ(q("SELECT CAST(r.num AS VARCHAR) || ' ' || CAST(r.big AS VARCHAR) FROM " + v +
                " WHERE id = 1"),
              "99999999999999999999999999999.999999999 -99999999999999999999999999999.999999999");
    EXPECT_EQ(q("SELECT hex(r.b) FROM " + v + " WHERE id = 1"), "00FF805C22017AC3");
    EXPECT_EQ(q("SELECT CAST(r.i AS VARCHAR) || ' ' || CAST(r.l[1] AS VARCHAR) FROM " + v +
                " WHERE id = 1"),
              "-9223372036854775808 9223372036854775807");
    EXPECT_EQ(q("SELECT CAST(1 / r.f AS VARCHAR) FROM " + v + " WHERE id = 1"),
              "-inf");  // -0.0 kept
    EXPECT_EQ(q("SELECT CAST(epoch_us(r.ts) AS VARCHAR) FROM " + v + " WHERE id = 1"),
              "1584612000000001");
    EXPECT_EQ(q("SELECT string_agg(CAST(r.f AS VARCHAR), ',' ORDER BY id) FROM " + v +
                " WHERE id IN (2, 3, 4)"),
              "nan,inf,-inf");
    EXPECT_EQ(q("SELECT CAST(r.recs[1].vals[2] IS NULL AS VARCHAR) || CAST(len(r.recs[2].vals) AS "
                "VARCHAR) FROM " +
                v + " WHERE id = 1"),
              "true0");
    EXPECT_EQ(q("SELECT CAST(r IS NULL AS VARCHAR) || CAST(rs IS NULL AS VARCHAR) FROM " + v +
                " WHERE id = 5"),
              "truetrue");
    EXPECT_EQ(q("SELECT CAST(r IS NULL AS VARCHAR) || CAST(r.num IS NULL AS VARCHAR) || CAST(r.l "
                "IS NULL AS VARCHAR) || "
                "CAST(len(rs) AS VARCHAR) FROM " +
                v + " WHERE id = 6"),
              "falsetruetrue1");
    EXPECT_EQ(q("SELECT CAST(r.num AS VARCHAR) || ' ' || CAST(r.big AS VARCHAR) || ' ' || CAST(r.b "
                "IS NULL AS VARCHAR) "
                "FROM " +
                v + " WHERE id = 7"),
              "1000.000000000 -7.000000000 true");
    EXPECT_EQ(q("SELECT CAST(len(r.l) AS VARCHAR) || CAST(len(rs) AS VARCHAR) FROM " + v +
                " WHERE id = 2"),
              "00");
  }
  // Stored as one VARCHAR per wide column.
  EXPECT_EQ(q("SELECT string_agg(data_type, ',' ORDER BY ordinal_position) FROM "
              "information_schema.columns "
              "WHERE table_schema = '_bf_store' AND table_name = 't2'"),
            "BIGINT,VARCHAR,VARCHAR,BIGINT");
}

}  // namespace
}  // namespace backfill::ingest
