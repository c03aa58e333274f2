// RowWriter: rows copied straight into DuckDB vectors read back, with SQL, as exactly the row
// that went in (RowToJson of the input == the table's row as JSON, both normalized per BigQuery
// type). Every BigQuery type, NULLs at every level, empty lists, lists longer than a vector,
// nested REPEATED RECORDs, rows that fail part-way, and the corpus's widest schemas.
#include "ingest/row_writer.h"

#include <cmath>
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/schema.h"
#include "ingest/payload.h"
#include "ingest/pubsub.h"
#include "ingest/transform.h"
#include "testing/testing.h"
#include "warehouse/duckdb.h"

namespace backfill::ingest {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Values as the transform leaves them, compared type by type.
void Normalize(const Field& f, json& v, bool element = false);

void NormalizeRecord(const std::vector<Field>& fields, json& obj) {
  if (!obj.is_object()) return;
  for (auto it = obj.begin(); it != obj.end();) {
    if (it->is_null()) {
      it = obj.erase(it);
      continue;
    }
    ++it;
  }
  for (const Field& f : fields) {
    if (obj.contains(f.name)) Normalize(f, obj[f.name]);
  }
}

void Normalize(const Field& f, json& v, bool element) {
  if (v.is_null()) return;
  if (f.mode == FieldMode::kRepeated && !element) {
    for (auto& e : v) Normalize(f, e, true);
    return;
  }
  auto text = [&]() { return v.is_string() ? v.get<std::string>() : v.dump(); };
  switch (f.type) {
    case FieldType::kRecord:
      NormalizeRecord(f.fields, v);
      break;
    case FieldType::kTimestamp:
    case FieldType::kDatetime: {
      int64_t us = 0;
      std::string t = text();
      bool ok = ParseTimestampMicros(t, &us);
      EXPECT_TRUE(ok) << f.name << ": " << t;
      v = us;
      break;
    }
    case FieldType::kTime: {
      int64_t us = 0;
      EXPECT_TRUE(ParseTimeMicros(text(), &us)) << text();
      v = us;
      break;
    }
    case FieldType::kNumeric:
    case FieldType::kBigNumeric: {
      __int128 x = 0;
      EXPECT_TRUE(ParseDecimal(text(), 9, &x)) << text();
      v = static_cast<double>(x) / 1e9;
      break;
    }
    case FieldType::kBytes: {
      // The input holds base64; DuckDB prints a BLOB with \xHH escapes. Compare as hex.
      std::string t = text(), bytes;
      if (t.find('\\') != std::string::npos) {
        for (size_t i = 0; i < t.size(); ++i) {
          if (t[i] == '\\' && i + 3 < t.size() + 0 && t[i + 1] == 'x') {
            bytes.push_back(static_cast<char>(std::stoi(t.substr(i + 2, 2), nullptr, 16)));
            i += 3;
          } else {
            bytes.push_back(t[i]);
          }
        }
      } else {
        EXPECT_TRUE(Base64Decode(t, &bytes).ok()) << t;
      }
      std::string hex;
      for (unsigned char c : bytes) hex += fmt::format("{:02x}", c);
      v = hex;
      break;
    }
    case FieldType::kJson:
      // The input holds JSON text; DuckDB's to_json embeds a JSON column's value.
      if (v.is_string()) v = json::parse(v.get<std::string>());
      break;
    default:
      break;
  }
}

// An in-memory DuckDB with one table per schema, written through RowWriter + ChunkAppender.
class Loader {
 public:
  explicit Loader(std::vector<Field> fields, const std::string& partition_by = "")
      : fields_(std::move(fields)) {
    auto db = Database::Open("");
    EXPECT_TRUE(db.ok());
    db_ = std::move(*db);
    auto conn = db_.Connect();
    EXPECT_TRUE(conn.ok());
    conn_ = std::move(*conn);
    EXPECT_TRUE(conn_.Exec("SET TimeZone='UTC'").ok());
    Status s = conn_.Exec("CREATE TEMP TABLE tbl (" + DuckDbColumnList(Schema{fields_}) + ")");
    EXPECT_TRUE(s.ok()) << s.ToString();
    auto types = ColumnTypes::OfTable(conn_.raw(), "temp", "main", "tbl");
    EXPECT_TRUE(types.ok()) << types.status().ToString();
    auto w = RowWriter::Create(fields_, *types, partition_by);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    writer_ = std::move(*w);
    auto a = ChunkAppender::Open(conn_.raw(), "temp", "main", "tbl");
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    appender_ = std::move(*a);
  }

  Status Add(const Row& row) {
    BF_RETURN_IF_ERROR(writer_->Append(row));
    expected_.push_back(RowToJson(row.root(), fields_));
    if (writer_->full()) Flush();
    return Status::Ok();
  }

  void Flush() {
    if (writer_->empty()) return;
    std::unique_ptr<Chunk> c = writer_->TakeChunk(std::move(spare_));
    Status s = appender_.Append(c->data());
    EXPECT_TRUE(s.ok()) << s.ToString();
    spare_ = std::move(c);  // reused: the next TakeChunk binds this one again
    ++chunks_;
  }

  // Every row of t as normalized JSON, in insertion order, against the expected.
  void Check() {
    Flush();
    Status f = appender_.Flush();
    ASSERT_TRUE(f.ok()) << f.ToString();
    auto r = conn_.Query("SELECT CAST(to_json(tbl) AS VARCHAR) FROM tbl");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->rows(), expected_.size());
    for (size_t i = 0; i < expected_.size(); ++i) {
      json want = json::parse(expected_[i]);
      json got = json::parse(r->GetString(0, i));
      NormalizeRecord(fields_, want);
      NormalizeRecord(fields_, got);
      ASSERT_EQ(got, want) << "row " << i << "\nwant: " << want.dump().substr(0, 2000)
                           << "\ngot:  " << got.dump().substr(0, 2000);
    }
  }

  RowWriter& writer() { return *writer_; }
  Connection& conn() { return conn_; }
  int chunks() const { return chunks_; }

 private:
  std::vector<Field> fields_;
  Database db_;
  Connection conn_;
  std::unique_ptr<RowWriter> writer_;
  ChunkAppender appender_;
  std::unique_ptr<Chunk> spare_;
  std::vector<std::string> expected_;
  int chunks_ = 0;
};

constexpr const char* kAllTypes = R"([
  {"name":"submission_timestamp","type":"TIMESTAMP","mode":"NULLABLE"},
  {"name":"s","type":"STRING","mode":"NULLABLE"},
  {"name":"b","type":"BYTES","mode":"NULLABLE"},
  {"name":"i","type":"INT64","mode":"NULLABLE"},
  {"name":"f","type":"FLOAT64","mode":"NULLABLE"},
  {"name":"n","type":"NUMERIC","mode":"NULLABLE"},
  {"name":"ok","type":"BOOLEAN","mode":"NULLABLE"},
  {"name":"d","type":"DATE","mode":"NULLABLE"},
  {"name":"t","type":"TIME","mode":"NULLABLE"},
  {"name":"dt","type":"DATETIME","mode":"NULLABLE"},
  {"name":"g","type":"GEOGRAPHY","mode":"NULLABLE"},
  {"name":"j","type":"JSON","mode":"NULLABLE"},
  {"name":"ints","type":"INT64","mode":"REPEATED"},
  {"name":"strs","type":"STRING","mode":"REPEATED"},
  {"name":"times","type":"TIMESTAMP","mode":"REPEATED"},
  {"name":"rec","type":"RECORD","mode":"NULLABLE","fields":[
    {"name":"x","type":"INT64","mode":"NULLABLE"},
    {"name":"inner","type":"RECORD","mode":"NULLABLE","fields":[
      {"name":"y","type":"STRING","mode":"NULLABLE"},
      {"name":"ys","type":"FLOAT64","mode":"REPEATED"}]},
    {"name":"map","type":"RECORD","mode":"REPEATED","fields":[
      {"name":"key","type":"STRING","mode":"NULLABLE"},
      {"name":"value","type":"RECORD","mode":"REPEATED","fields":[
        {"name":"k2","type":"STRING","mode":"NULLABLE"},
        {"name":"when","type":"DATE","mode":"NULLABLE"},
        {"name":"deep","type":"INT64","mode":"REPEATED"}]}]}]}
])";

std::vector<Field> AllTypes() { return ParseBqSchema(kAllTypes, "all.bq")->fields; }

// Builds rows of kAllTypes. `variant` selects which values are null/empty.
void BuildAllTypesRow(Row* row, int variant) {
  row->Clear();
  auto S = [&](std::string_view s) { return row->AddString(s); };
  const uint32_t null = Row::kNullIndex;
  auto list = [&](std::vector<uint32_t> v) { return row->AddList(v); };
  auto rec = [&](std::vector<uint32_t> v) { return row->AddRecord(v); };
  std::vector<uint32_t> top;
  top.push_back(
      S(variant % 3 == 0 ? "2020-03-17T10:00:00.123456Z" : "2020-03-18 23:59:59.5+00:00"));
  top.push_back(variant == 1 ? null
                             : S("h\u00e9llo, a string longer than twelve bytes #" +
                                 std::to_string(variant)));
  top.push_back(variant == 1 ? null : S("AAEC/w=="));
  top.push_back(row->AddInt(variant * 1000003LL - 5));
  top.push_back(row->AddDouble(variant + 0.25));
  top.push_back(S(variant % 2 ? "-12.345678901" : "99999999999.5"));
  top.push_back(row->AddBool(variant % 2 == 0));
  top.push_back(S("2020-02-29"));
  top.push_back(S("23:59:58.25"));
  top.push_back(S("2020-03-17T01:02:03"));
  top.push_back(S("POINT(1 2)"));
  top.push_back(variant == 1 ? null : S(R"({"a":[1,2,{"b":null}]})"));
  top.push_back(variant == 2 ? list({}) : list({row->AddInt(1), row->AddInt(-2), row->AddInt(3)}));
  top.push_back(variant == 1 ? null : list({S("short"), S("a much longer string value here")}));
  top.push_back(list({S("2020-03-17T00:00:00Z")}));
  if (variant == 1) {
    top.push_back(null);  // a NULL record: all its children NULL
  } else {
    uint32_t inner = variant == 2
                         ? rec({null, null})
                         : rec({S("y"), list({row->AddDouble(1.5), row->AddDouble(-0.0)})});
    std::vector<uint32_t> entries;
    for (int e = 0; e < variant + 1; ++e) {
      std::vector<uint32_t> values;
      for (int k = 0; k < e; ++k) {
        values.push_back(rec({S("k" + std::to_string(k)), k % 2 ? null : S("2019-12-31"),
                              k == 1 ? list({}) : list({row->AddInt(k), row->AddInt(k + 1)})}));
      }
      entries.push_back(rec(
          {e == 2 ? null : S("key" + std::to_string(e)), values.empty() ? null : list(values)}));
    }
    top.push_back(rec({row->AddInt(variant), inner, list(entries)}));
  }
  row->set_root(rec(top));
}

TEST(RowWriterTest, EveryBigQueryTypeNullsAndEmptyListsReadBackExactly) {
  Loader loader(AllTypes(), "submission_timestamp");
  Row row;
  for (int variant = 0; variant < 6; ++variant) {
    BuildAllTypesRow(&row, variant);
    Status s = loader.Add(row);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(loader.writer().last_day().has_value());
    EXPECT_EQ(*loader.writer().last_day(), variant % 3 == 0 ? 18338 : 18339);  // 2020-03-17 / 18
  }
  loader.Check();
  // Spot checks in DuckDB's own terms.
  auto r = loader.conn().Query(
      "SELECT CAST(submission_timestamp AS VARCHAR), base64(b), CAST(n AS VARCHAR), CAST(d AS "
      "VARCHAR), "
      "CAST(t AS VARCHAR), CAST(dt AS VARCHAR), typeof(j), len(rec.map) FROM tbl ORDER BY i");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->GetString(0, 0), "2020-03-17 10:00:00.123456+00");
  EXPECT_EQ(r->GetString(1, 0), "AAEC/w==");
  EXPECT_EQ(r->GetString(2, 0), "99999999999.500000000");
  EXPECT_EQ(r->GetString(3, 0), "2020-02-29");
  EXPECT_EQ(r->GetString(4, 0), "23:59:58.25");
  EXPECT_EQ(r->GetString(5, 0), "2020-03-17 01:02:03");
  EXPECT_EQ(r->GetString(6, 0), "JSON");
  EXPECT_EQ(r->GetInt64(7, 0), 1);
  EXPECT_TRUE(r->IsNull(1, 1));  // variant 1: NULL bytes
  EXPECT_TRUE(r->IsNull(7, 1));  // NULL record
}

TEST(RowWriterTest, AFailingRowLeavesTheChunkAsItWas) {
  Loader loader(AllTypes());
  Row row;
  BuildAllTypesRow(&row, 3);
  ASSERT_TRUE(loader.Add(row).ok());
  // A bad value deep inside a nested list, after lists were already extended for this row.
  Row bad;
  BuildAllTypesRow(&bad, 4);
  std::string json_row = RowToJson(bad.root(), AllTypes());
  {
    Row broken;
    std::vector<uint32_t> top;
    RowValue root = bad.root();
    // Copy the row but make rec.map[3].value[2].when unparsable.
    std::function<uint32_t(RowValue, std::vector<int>)> copy =
        [&](RowValue v, std::vector<int> path) -> uint32_t {
      switch (v.kind()) {
        case RowKind::kNull:
          return Row::kNullIndex;
        case RowKind::kBool:
          return broken.AddBool(v.bool_value());
        case RowKind::kInt64:
          return broken.AddInt(v.int_value());
        case RowKind::kDouble:
          return broken.AddDouble(v.double_value());
        case RowKind::kString:
          if (path == std::vector<int>{15, 2, 3, 1, 2, 1}) return broken.AddString("2020-13-45");
          return broken.AddString(v.string_value());
        case RowKind::kList:
        case RowKind::kRecord: {
          std::vector<uint32_t> kids;
          for (size_t i = 0; i < v.size(); ++i) {
            auto p = path;
            p.push_back(static_cast<int>(i));
            kids.push_back(copy(v.child(i), p));
          }
          return v.kind() == RowKind::kList ? broken.AddList(kids) : broken.AddRecord(kids);
        }
      }
      return Row::kNullIndex;
    };
    broken.set_root(copy(root, {}));
    size_t before = loader.writer().size();
    Status s = loader.writer().Append(broken);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("rec.map[].value[].when"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("2020-13-45"), std::string::npos) << s.message();
    EXPECT_EQ(loader.writer().size(), before);
  }
  // The rows after it land intact, including one with all-NULL fields where the failed row had
  // values.
  BuildAllTypesRow(&row, 1);
  ASSERT_TRUE(loader.Add(row).ok());
  BuildAllTypesRow(&row, 5);
  ASSERT_TRUE(loader.Add(row).ok());
  loader.Check();
}

TEST(RowWriterTest, ManyRowsAndLongListsSpanSeveralChunks) {
  auto fields = ParseBqSchema(R"([
    {"name":"id","type":"INT64","mode":"NULLABLE"},
    {"name":"events","type":"RECORD","mode":"REPEATED","fields":[
      {"name":"name","type":"STRING","mode":"NULLABLE"},
      {"name":"extra","type":"RECORD","mode":"REPEATED","fields":[
        {"name":"key","type":"STRING","mode":"NULLABLE"},{"name":"value","type":"STRING","mode":"NULLABLE"}]}]}
  ])",
                              "t.bq")
                    ->fields;
  Loader loader(fields);
  Row row;
  for (int i = 0; i < 5000; ++i) {
    row.Clear();
    std::vector<uint32_t> events;
    int n = i % 997 == 0 ? 3000 : i % 5;  // some rows longer than a whole vector
    for (int e = 0; e < n; ++e) {
      std::vector<uint32_t> extra;
      for (int k = 0; k < e % 3; ++k) {
        extra.push_back(row.AddRecord(
            std::vector<uint32_t>{row.AddString("k" + std::to_string(k)),
                                  k ? Row::kNullIndex : row.AddString("a value of some length")}));
      }
      events.push_back(row.AddRecord(
          std::vector<uint32_t>{row.AddString("event" + std::to_string(e)), row.AddList(extra)}));
    }
    row.set_root(row.AddRecord(
        std::vector<uint32_t>{row.AddInt(i), i % 7 == 3 ? Row::kNullIndex : row.AddList(events)}));
    Status s = loader.Add(row);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  loader.Check();
  EXPECT_GE(loader.chunks(), 3);
}

// memory() is what the chunk's vectors hold as DuckDB allocates them, not what the rows hold:
// a wide schema costs its full width per chunk even with empty rows; long strings and grown
// lists add to it; a new chunk starts from the fixed part again.
TEST(RowWriterTest, MemoryCountsEveryVectorAtFullCapacity) {
  std::string schema = R"([{"name":"tags","type":"STRING","mode":"REPEATED"})";
  for (int i = 0; i < 300; ++i)
    schema += fmt::format(R"(,{{"name":"c{}","type":"INT64","mode":"NULLABLE"}})", i);
  schema += R"(,{"name":"s","type":"STRING","mode":"NULLABLE"}])";
  auto fields = ParseBqSchema(schema, "t.bq")->fields;
  Loader loader(fields);
  const RowWriter& w = loader.writer();
  const size_t capacity = w.capacity();
  // 300 BIGINT + 1 VARCHAR + the list's entries and its reserved VARCHAR elements.
  EXPECT_GE(w.fixed_memory(), capacity * (300 * 8 + 16 + 16 + 16));
  EXPECT_LE(w.fixed_memory(), capacity * (300 * 9 + 3 * 17));
  EXPECT_EQ(w.memory(), w.fixed_memory());

  Row row;
  std::vector<uint32_t> root(fields.size(), Row::kNullIndex);
  root.back() = row.AddString(std::string(1000, 'x'));
  row.set_root(row.AddRecord(root));
  ASSERT_TRUE(loader.Add(row).ok());
  EXPECT_EQ(w.memory(), w.fixed_memory() + 1000);
  row.Clear();
  root.assign(fields.size(), Row::kNullIndex);
  std::vector<uint32_t> tags;
  for (size_t i = 0; i < capacity + 1; ++i) tags.push_back(row.AddString("short"));
  root.front() = row.AddList(tags);
  row.set_root(row.AddRecord(root));
  ASSERT_TRUE(loader.Add(row).ok());
  EXPECT_GT(w.memory(), w.fixed_memory() + 1000 + capacity * 16);  // the list's elements grew
  loader.Flush();
  EXPECT_EQ(w.memory(), w.fixed_memory());
  loader.Check();
}

TEST(RowWriterTest, ShapesThatDoNotMatchAreRefused) {
  auto fields = ParseBqSchema(R"([{"name":"a","type":"INT64","mode":"REPEATED"}])", "t.bq")->fields;
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = db->Connect();
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn->Exec("CREATE TEMP TABLE t (a BIGINT)").ok());
  auto types = ColumnTypes::OfTable(conn->raw(), "temp", "main", "t");
  ASSERT_TRUE(types.ok());
  auto w = RowWriter::Create(fields, *types);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("REPEATED"), std::string::npos) << w.status().message();
}

// The chunk scan: rows in insertion order while DuckDB keeps it; with several threads and the
// order let go (the sink's last append) every chunk is read exactly once, by whichever thread.
// The sink estimates what DuckDB keeps per row group from the columns it stores for a table:
// exactly the column paths DuckDB's pragma_storage_info lists for one row group.
TEST(RowWriterTest, StorageColumnsAreTheColumnPathsDuckDbStores) {
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = db->Connect();
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn->Exec("CREATE TABLE t (a BIGINT, s VARCHAR, r STRUCT(x INT, y STRUCT(z "
                         "VARCHAR, w DOUBLE[])), l STRUCT(k VARCHAR, v INT)[], m MAP(VARCHAR, "
                         "INT), f INT[3]); INSERT INTO t VALUES (1, 's', {'x': 1, 'y': {'z': "
                         "'z', 'w': [1.5]}}, [{'k': 'k', 'v': 2}], MAP {'a': 1}, [1, 2, 3])")
                  .ok());
  auto types = ColumnTypes::OfTable(conn->raw(), "memory", "main", "t");
  ASSERT_TRUE(types.ok()) << types.status().ToString();
  auto paths = conn->QueryInt("SELECT count(DISTINCT column_path) FROM pragma_storage_info('t')");
  ASSERT_TRUE(paths.ok()) << paths.status().ToString();
  EXPECT_EQ(*paths, 31);
  EXPECT_EQ((*types)->storage_columns(), size_t(*paths));
}

TEST(RowWriterTest, ChunkScanReadsEveryRowOnceInOrderOrInParallel) {
  auto fields =
      ParseBqSchema(R"([{"name":"id","type":"INT64","mode":"NULLABLE"}])", "t.bq")->fields;
  auto db = Database::Open("");
  ASSERT_TRUE(db.ok());
  auto conn = db->Connect();
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(RegisterChunkScan(conn->raw(), "scan_test").ok());
  ASSERT_TRUE(conn->Exec("CREATE TEMP TABLE t (id BIGINT)").ok());
  auto types = ColumnTypes::OfTable(conn->raw(), "temp", "main", "t");
  ASSERT_TRUE(types.ok());
  auto w = RowWriter::Create(fields, *types);
  ASSERT_TRUE(w.ok());
  ChunkBuffer buffer({"id"}, *types);
  const int64_t rows = 40 * 2048 + 17;
  Row row;
  for (int64_t i = 0; i < rows; ++i) {
    row.Clear();
    row.set_root(row.AddRecord(std::vector<uint32_t>{row.AddInt(i)}));
    ASSERT_TRUE((*w)->Append(row).ok());
    if ((*w)->full()) buffer.Add((*w)->TakeChunk());
  }
  buffer.Add((*w)->TakeChunk());
  ASSERT_EQ(buffer.chunk_count(), 41u);
  const std::string scan = fmt::format("scan_test({})", buffer.id());
  auto in_order = conn->QueryInt(fmt::format(
      "SELECT count(*) FILTER (WHERE id = n - 1) FROM (SELECT id, row_number() OVER () AS n "
      "FROM {})",
      scan));
  ASSERT_TRUE(in_order.ok()) << in_order.status().ToString();
  EXPECT_EQ(*in_order, rows);
  ASSERT_TRUE(conn->Exec("SET threads = 4; SET preserve_insertion_order = false").ok());
  ASSERT_TRUE(conn->Exec("INSERT INTO t SELECT * FROM " + scan).ok());
  auto all = conn->Query("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM t");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->GetInt64(0, 0), rows);
  EXPECT_EQ(all->GetInt64(1, 0), rows);
  EXPECT_EQ(all->GetInt64(2, 0), 0);
  EXPECT_EQ(all->GetInt64(3, 0), rows - 1);
}

// Corpus schemas: transformed sample documents written and read back unchanged.
void CorpusRoundTrip(const fs::path& bq, const std::vector<fs::path>& documents,
                     const std::string& ns, const std::string& type, const std::string& version) {
  auto schema = ParseBqSchema(testing::ReadFile(bq), bq.filename().string());
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  auto compiled = CompiledSchema::Compile(schema->fields);
  Loader loader(schema->fields, "submission_timestamp");
  Transformer transformer;
  int n = 0;
  for (int copy = 0; copy < 3; ++copy) {  // a few copies so chunks hold more than one row
    for (const auto& doc : documents) {
      PubsubMessage m;
      m.attributes = {{"document_namespace", ns},
                      {"document_type", type},
                      {"document_version", version},
                      {"document_id", "doc-" + std::to_string(n++)},
                      {"submission_timestamp", "2020-03-17T10:00:00.123456Z"},
                      {"sample_id", "7"},
                      {"geo_country", "DE"}};
      m.payload = testing::ReadFile(doc);
      Status t = transformer.TransformMessage(*compiled, m);
      ASSERT_TRUE(t.ok()) << doc << ": " << t.ToString();
      Status s = loader.Add(transformer.row());
      ASSERT_TRUE(s.ok()) << doc << ": " << s.ToString();
    }
  }
  ASSERT_GT(n, 0);
  loader.Check();
}

std::vector<fs::path> Samples(const std::string& folder, const std::string& prefix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(testing::CorpusDir() / "samples" / folder)) {
    std::string name = e.path().filename().string();
    if (name.starts_with(prefix) && name.ends_with(".pass.json")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(RowWriterCorpusTest, TelemetryMainPingsRoundTrip) {
  BF_REQUIRE_CORPUS();
  CorpusRoundTrip(testing::CorpusDir() / "schemas/telemetry/main/main.5.bq",
                  Samples("telemetry", "main.4."), "telemetry", "main", "5");
}

TEST(RowWriterCorpusTest, GleanMetricsPingsRoundTrip) {
  BF_REQUIRE_CORPUS();
  std::vector<fs::path> docs;
  for (const auto& d : Samples("glean", "glean.1.")) {
    std::string n = d.filename().string();
    if (n.find("baseline") == std::string::npos && n.find("events") == std::string::npos)
      docs.push_back(d);
  }
  CorpusRoundTrip(testing::CorpusDir() / "schemas/firefox-desktop/metrics/metrics.1.bq", docs,
                  "firefox-desktop", "metrics", "1");
}

TEST(RowWriterCorpusTest, CrashAndEventPingsRoundTrip) {
  BF_REQUIRE_CORPUS();
  CorpusRoundTrip(testing::CorpusDir() / "schemas/telemetry/crash/crash.4.bq",
                  Samples("telemetry", "crash.4."), "telemetry", "crash", "4");
  CorpusRoundTrip(testing::CorpusDir() / "schemas/telemetry/event/event.4.bq",
                  Samples("telemetry", "event.4."), "telemetry", "event", "4");
}

}  // namespace
}  // namespace backfill::ingest
