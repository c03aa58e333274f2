// `RenderBigQuery` on a real warehouse (Mozilla's schemas deployed, a derived table with its
// query) and real plans (both templates filled in, a rerun + restore plan). Every rendered SQL
// file is analyzed by ZetaSQL, BigQuery's GoogleSQL analyzer, against the catalog the rendering
// gives (RenderedPlan::tables): names resolved and types checked (warehouse/zetasql.h).
#include "plan/render.h"

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/text.h"
#include "testing/testing.h"
#include "testing/warehouse_testing.h"
#include "warehouse/schema_deploy.h"
#include "warehouse/zetasql.h"

namespace backfill {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kProd = "moz-fx-data-shared-prod";
constexpr const char* kBackfill = "moz-fx-data-backfill-1";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size())
    s.replace(at, from.size(), to);
  return s;
}

class RenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = testing::CreateTestWarehouse(dir_.path() / "wh", clock_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    w_ = std::move(w).value();
    ASSERT_TRUE(w_->CreateProject(kProd).ok());
    ASSERT_TRUE(w_->CreateProject(kBackfill).ok());
    auto deployed = DeploySchemas(*w_, fs::path(BACKFILL_SOURCE_DIR) / "testdata/schemas", kProd);
    ASSERT_TRUE(deployed.ok()) << deployed.status().ToString();
    // A derived table computed per day by a query over a live table.
    ASSERT_TRUE(w_->CreateDataset({kProd, "contextual_services_derived"}, {}).ok());
    TableOptions o;
    auto schema = ParseBqSchema(
        testing::ReadFile(fs::path(BACKFILL_SOURCE_DIR) / "testdata/demo/topsites_clicks_v1.bq"),
        "bq");
    ASSERT_TRUE(schema.ok()) << schema.status().ToString();
    o.schema = *schema;
    o.partition_by = "submission_date";
    o.cluster_by = {"normalized_channel"};
    o.query =
        testing::ReadFile(fs::path(BACKFILL_SOURCE_DIR) / "testdata/demo/topsites_clicks_v1.sql");
    ASSERT_TRUE(w_->CreateTable(derived_, o).ok());
  }

  Plan ParseTemplate(const std::string& name,
                     const std::vector<std::pair<std::string, std::string>>& fill) {
    auto text = PlanTemplate(name);
    EXPECT_TRUE(text.ok());
    std::string t = *text;
    for (const auto& [from, to] : fill) t = Replace(t, from, to);
    auto plan = ParsePlan(t, name + ".toml");
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    return *plan;
  }

  // Writes the rendering into a fresh directory and analyzes every SQL file with ZetaSQL.
  fs::path WriteAndCheck(const RenderedPlan& r) {
    fs::path out = dir_.path() / fmt::format("out{}", ++outputs_);
    fs::create_directories(out);
    std::vector<ZetaSqlFile> sql;
    for (const auto& f : r.files) {
      testing::WriteFile(out / f.name, f.content);
      if (f.is_sql()) sql.push_back({f.name, f.default_project, f.parameters});
    }
    EXPECT_FALSE(sql.empty());
    testing::WriteFile(out / "catalog.json", ZetaSqlCatalogJson(r.tables, sql));
    if (auto why = ZetaSqlUnavailable()) {
      ADD_FAILURE() << "ZetaSQL is not installed (run scripts/bootstrap.sh): " << *why;
    } else {
      auto report = CheckWithZetaSql(out / "catalog.json");
      EXPECT_TRUE(report.ok()) << report.status().ToString();
      if (report.ok()) {
        std::string errors;
        for (const auto& e : report->errors)
          errors += fmt::format("{}:{}:{}: {}\n", e.file, e.line, e.column, e.message);
        EXPECT_EQ(errors, "") << "ZetaSQL rejected rendered SQL";
        EXPECT_EQ(report->files, static_cast<int>(sql.size()));
        EXPECT_GE(report->statements, report->files);
      }
    }
    EXPECT_EQ(std::system(("bash -n '" + (out / "run.sh").string() + "'").c_str()), 0)
        << "run.sh is not valid bash";
    // run.sh.in's sections came out whole: no placeholder or marker left, every command called
    // defined.
    const std::string& sh = Find(r, "run.sh")->content;
    EXPECT_FALSE(std::regex_search(sh, std::regex("@[A-Z_]+@")))
        << "a placeholder of run.sh.in is left in run.sh";
    EXPECT_EQ(sh.find("\n#@ "), std::string::npos)
        << "a section marker of run.sh.in is left in run.sh";
    std::istringstream lines(sh);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string run, id, command;
      if (!(words >> run >> id >> command) || run != "run") continue;
      EXPECT_THAT(sh, HasSubstr("\n" + command + "() {\n"))
          << "run.sh calls " << command << " without defining it";
    }
    return out;
  }

  static const RenderedFile* Find(const RenderedPlan& r, const std::string& name) {
    for (const auto& f : r.files) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }
  static std::vector<std::string> Names(const RenderedPlan& r) {
    std::vector<std::string> names;
    for (const auto& f : r.files) names.push_back(f.name);
    return names;
  }

  testing::TempDir dir_;
  FixedClock clock_{*ParseTimestamp("2020-03-19T10:00:00Z")};
  std::unique_ptr<Warehouse> w_;
  TableName derived_{kProd, "contextual_services_derived", "topsites_clicks_v1"};
  int outputs_ = 0;
};

TEST_F(RenderTest, SinkFiltersBecomeOneJqSelection) {
  Plan plan = ParseTemplate(
      "error-replay",
      {{"TODO/error-output", "incident/error-output"},
       {"where = [\"document_namespace=TODO\"]",
        "error_type = [\"KeyByBigQueryTableDestination\"]\nexclude_error_message = \"400\"\n"
        "where = [\"document_namespace=telemetry\", \"document_namespace~^contextual\", "
        "\"document_type=main\"]\n"
        "where_not = [\"uri~it's\"]"}});
  RenderOptions options;
  options.plan_file = "error-replay.toml";
  options.bucket_map = {{"incident", "gs://moz-fx-data-prod-data/incident"}};
  auto r = RenderBigQuery(plan, *w_, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const RenderedFile* script = Find(*r, "run.sh");
  ASSERT_NE(script, nullptr);
  const std::string& sh = script->content;
  EXPECT_THAT(sh,
              HasSubstr("sink_replay \"${GCS_STAGED}/**\" 'moz-fx-data-backfill-1' "
                        "'(.attributeMap[\"error_type\"] == \"KeyByBigQueryTableDestination\") and "
                        "((.attributeMap[\"document_namespace\"] == \"telemetry\") or "
                        "((.attributeMap[\"document_namespace\"] // null) as $v | $v != null and "
                        "($v | test(\"^contextual\")))) and "
                        "(.attributeMap[\"document_type\"] == \"main\") and "
                        "(((.attributeMap[\"error_message\"] // null) as $v | $v != null and ($v | "
                        "test(\"400\"))) | not) and "
                        "(((.attributeMap[\"uri\"] // null) as $v | $v != null and ($v | "
                        "test(\"it'\\''s\"))) | not)' "));
}

TEST_F(RenderTest, ErrorReplayTemplateRendersEveryStepAndParses) {
  Plan plan =
      ParseTemplate("error-replay", {{"TODO/error-output", "incident/error-output"},
                                     {"only = [\"*_live.*\"]\ndates",
                                      "only = [\"contextual_services_live.topsites_*\"]\ndates"}});
  RenderOptions options;
  options.plan_file = "error-replay.toml";
  options.bucket_map = {{"incident", "gs://moz-fx-data-prod-data/incident"}};
  auto r = RenderBigQuery(plan, *w_, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  WriteAndCheck(*r);

  // Appends (step 4): only the two topsites tables the glob matches, each one anti-joined file.
  std::vector<std::string> names = Names(*r);
  EXPECT_THAT(names,
              ::testing::Contains("01-append-contextual_services_live.topsites_click_v1.sql"));
  EXPECT_THAT(names,
              ::testing::Contains("02-append-contextual_services_live.topsites_impression_v1.sql"));
  const RenderedFile* append = Find(*r, "01-append-contextual_services_live.topsites_click_v1.sql");
  ASSERT_NE(append, nullptr);
  EXPECT_THAT(
      append->content,
      HasSubstr(
          "INSERT INTO `moz-fx-data-shared-prod.contextual_services_live.topsites_click_v1`"));
  EXPECT_THAT(
      append->content,
      HasSubstr("FROM `moz-fx-data-backfill-1.contextual_services_live.topsites_click_v1` AS s"));
  EXPECT_THAT(append->content, HasSubstr("NOT EXISTS"));
  EXPECT_THAT(append->content, HasSubstr("p.document_id = s.document_id"));
  EXPECT_THAT(append->content,
              HasSubstr("DATE(p.`submission_timestamp`) = DATE(s.`submission_timestamp`)"));
  EXPECT_THAT(append->content, HasSubstr("BETWEEN DATE '2020-03-16' AND DATE '2020-03-18'"));

  // Copy-deduplicate (step 5, `*_live.*`: every live table with a stable counterpart): a guard,
  // then one file per table and day, written with a partition decorator and --replace.
  EXPECT_THAT(names, ::testing::Contains("03-copy-deduplicate-check.sql"));
  const RenderedFile* dedup =
      Find(*r, "04-copy-deduplicate-contextual_services_stable.topsites_click_v1-2020-03-16.sql");
  ASSERT_NE(dedup, nullptr) << Join(names, "\n");
  EXPECT_THAT(dedup->content,
              HasSubstr("QUALIFY ROW_NUMBER() OVER (PARTITION BY b.document_id ORDER BY "
                        "TO_JSON_STRING(b)) = 1"));
  EXPECT_THAT(
      dedup->content,
      HasSubstr("DATE(submission_timestamp) >= DATE_SUB(DATE '2020-03-16', INTERVAL 0 DAY)"));
  EXPECT_THAT(dedup->content,
              HasSubstr("WHERE l.submission_timestamp >= TIMESTAMP '2020-03-16 00:00:00+00'\n"
                        "      AND l.submission_timestamp < TIMESTAMP '2020-03-17 00:00:00+00'"));
  int dedup_files = 0;
  for (const auto& n : names)
    dedup_files += n.find("-copy-deduplicate-") != std::string::npos ? 1 : 0;
  EXPECT_EQ(dedup_files, 1 + 2 * 3);  // the guard + 2 topsites tables x 3 days

  const RenderedFile* run = Find(*r, "run.sh");
  ASSERT_NE(run, nullptr);
  const std::string& sh = run->content;
  EXPECT_THAT(sh, HasSubstr("set -euo pipefail"));
  EXPECT_THAT(sh, HasSubstr("# --- step 1 (stage, line 9)"));
  EXPECT_THAT(sh, HasSubstr("GCS_INCIDENT_ERROR_OUTPUT=\"${GCS_INCIDENT_ERROR_OUTPUT:-gs://"
                            "moz-fx-data-prod-data/incident/error-output}\""));
  EXPECT_THAT(sh, HasSubstr("GCS_STAGED=\"${GCS_STAGED:?set GCS_STAGED"));  // unmapped: must be set
  EXPECT_THAT(sh, HasSubstr("stage_days \"${GCS_INCIDENT_ERROR_OUTPUT}\" \"${GCS_STAGED}\" "
                            "2020-03-16 2020-03-17 2020-03-18"));
  EXPECT_THAT(sh, HasSubstr("gcloud storage rsync"));
  EXPECT_THAT(
      sh,
      HasSubstr("mirror_table moz-fx-data-shared-prod:contextual_services_live.topsites_click_v1 "
                "moz-fx-data-backfill-1:contextual_services_live.topsites_click_v1 "
                "--time_partitioning_type=DAY "
                "--time_partitioning_field=submission_timestamp"));
  EXPECT_THAT(sh, HasSubstr("com.mozilla.telemetry.Sink"));
  EXPECT_THAT(sh, HasSubstr("sink_replay \"${GCS_STAGED}/**\" 'moz-fx-data-backfill-1' "
                            "'(.attributeMap[\"document_namespace\"] == \"TODO\")' "));
  // Raw lines (ingestion-sink, bq extract) are wrapped into the beam shape the Beam Sink reads.
  EXPECT_THAT(sh, HasSubstr("if has(\"attributeMap\") then . else"));
  EXPECT_THAT(
      sh, HasSubstr(
              "run 04-copy-deduplicate-contextual_services_stable.topsites_click_v1-2020-03-16.sql "
              "query "
              "04-copy-deduplicate-contextual_services_stable.topsites_click_v1-2020-03-16.sql "
              "--project_id=moz-fx-data-shared-prod "
              "--destination_table='moz-fx-data-shared-prod:contextual_services_stable.topsites_"
              "click_v1$20200316' "
              "--replace"));
  EXPECT_THAT(sh, HasSubstr("remove_staged \"${GCS_STAGED}\""));
  // Steps in plan order: the guard runs before the first replacement, cleanup last.
  EXPECT_LT(sh.find("run 03-copy-deduplicate-check.sql check"), sh.find("run 04-copy-deduplicate"));
  EXPECT_LT(sh.find("run 01-append"), sh.find("run 03-copy-deduplicate-check.sql"));
  // Cleanup drops what mirror created in the backfill project (known before the plan has run).
  std::string cleanup_name = names[names.size() - 3];
  EXPECT_EQ(cleanup_name, "10-cleanup-moz-fx-data-backfill-1.sql");
  const RenderedFile* cleanup = Find(*r, cleanup_name);
  EXPECT_THAT(
      cleanup->content,
      HasSubstr("DROP TABLE `moz-fx-data-backfill-1.contextual_services_live.topsites_click_v1`;"));
  EXPECT_THAT(cleanup->content, Not(HasSubstr("_stable")));  // mirror copied only *_live.*
  const RenderedFile* readme = Find(*r, "README.md");
  ASSERT_NE(readme, nullptr);
  EXPECT_THAT(readme->content,
              HasSubstr("| `01-append-contextual_services_live.topsites_click_v1.sql` | step 4 "
                        "(append, line 28) |"));
}

TEST_F(RenderTest, TimeTravelRescueTemplateRendersSnapshotRestoreValidateDrop) {
  Plan plan =
      ParseTemplate("time-travel-rescue",
                    {{"TODO_derived.TODO_v1", "contextual_services_derived.topsites_clicks_v1"},
                     {"rescue_restricted.TODO_v1", "rescue_restricted.topsites_clicks_v1"}});
  auto r = RenderBigQuery(plan, *w_, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  WriteAndCheck(*r);
  EXPECT_THAT(Names(*r),
              ::testing::ElementsAre(
                  "01-snapshot-rescue_restricted.topsites_clicks_v1.sql",
                  "02-restore-contextual_services_derived.topsites_clicks_v1.sql",
                  "03-validate-contextual_services_derived.topsites_clicks_v1.sql",
                  "04-drop-rescue_restricted.topsites_clicks_v1.sql", "run.sh", "README.md"));
  const std::string& snap = r->files[0].content;
  EXPECT_THAT(
      snap,
      HasSubstr("CREATE TABLE `moz-fx-data-backfill-1.rescue_restricted.topsites_clicks_v1`\n"
                "PARTITION BY `submission_date`\nCLUSTER BY `normalized_channel`\nAS\nSELECT *\n"
                "FROM `moz-fx-data-shared-prod.contextual_services_derived.topsites_clicks_v1` "
                "FOR SYSTEM_TIME AS OF TIMESTAMP '2020-04-01 02:30:00+00';"));
  const std::string& restore = r->files[1].content;
  EXPECT_THAT(
      restore,
      HasSubstr(
          "INSERT INTO `moz-fx-data-shared-prod.contextual_services_derived.topsites_clicks_v1`"));
  EXPECT_THAT(restore,
              HasSubstr("s.`submission_date` NOT IN (\n    SELECT DISTINCT t.`submission_date`"));
  EXPECT_THAT(restore, Not(HasSubstr("DELETE")));  // partial days are left alone unless asked
  const std::string& validate = r->files[2].content;
  EXPECT_THAT(validate, HasSubstr("FARM_FINGERPRINT(TO_JSON_STRING(e))"));
  // After the restore from the snapshot: only the snapshot's days (the daily job adds others).
  EXPECT_THAT(validate, HasSubstr("LEFT JOIN actual"));
  EXPECT_THAT(validate, Not(HasSubstr("FULL OUTER JOIN")));
  EXPECT_THAT(validate, HasSubstr("only the days the snapshot holds"));
  EXPECT_THAT(validate, HasSubstr("ERROR(CONCAT('validation of"));
  EXPECT_EQ(r->files[3].content.substr(r->files[3].content.find("DROP")),
            "DROP TABLE `moz-fx-data-backfill-1.rescue_restricted.topsites_clicks_v1`;\n");
  const std::string& sh = r->files[4].content;
  EXPECT_THAT(sh, HasSubstr("ensure_dataset moz-fx-data-backfill-1:rescue_restricted "
                            "moz-fx-data-shared-prod:contextual_services_derived"));
  EXPECT_THAT(
      sh, HasSubstr("run 03-validate-contextual_services_derived.topsites_clicks_v1.sql check"));
  EXPECT_THAT(sh, Not(HasSubstr("GCS_")));           // no Cloud Storage in a rescue
  EXPECT_THAT(sh, Not(HasSubstr("sink_replay()")));  // only the helpers it uses
}

TEST_F(RenderTest, RerunAndRestorePlanRendersParametersDecoratorsAndGuards) {
  auto plan = ParsePlan(R"(name = "rerun-topsites"
reason = "bug 1: clicks double counted"
author = "alice"

[[step]]
kind = "rerun"
table = "moz-fx-data-shared-prod.contextual_services_derived.topsites_clicks_v1"
dates = "2020-03-16..2020-03-17"

[[step]]
kind = "snapshot"
table = "moz-fx-data-shared-prod.contextual_services_live.topsites_click_v1"
as_of = "2020-03-18T00:00:00Z"
to = "moz-fx-data-backfill-1.rescue_restricted.topsites_click_v1"

[[step]]
kind = "restore"
snapshot = "moz-fx-data-backfill-1.rescue_restricted.topsites_click_v1"
to = "moz-fx-data-shared-prod.contextual_services_live.topsites_click_v1"
dates = "2020-03-10..2020-03-17"
replace_partial = true

[[step]]
kind = "validate"
expected = "moz-fx-data-backfill-1.rescue_restricted.topsites_click_v1"
actual = "moz-fx-data-shared-prod.contextual_services_live.topsites_click_v1"
dates = "2020-03-10..2020-03-17"

[[step]]
kind = "drop"
table = "moz-fx-data-backfill-1.rescue_restricted.topsites_click_v1"
)",
                        "rerun.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  auto r = RenderBigQuery(*plan, *w_, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  WriteAndCheck(*r);
  std::vector<std::string> names = Names(*r);
  ASSERT_GE(names.size(), 7u);
  EXPECT_EQ(names[0], "01-rerun-contextual_services_derived.topsites_clicks_v1-check.sql");
  EXPECT_EQ(names[1], "02-rerun-contextual_services_derived.topsites_clicks_v1.sql");
  // The guard counts the query's source (found by translating the query) and the target per day.
  EXPECT_THAT(
      r->files[0].content,
      HasSubstr("FROM `moz-fx-data-shared-prod.contextual_services_live.topsites_click_v1` AS x "
                "WHERE DATE(x.`submission_timestamp`) = DATE '2020-03-17'"));
  EXPECT_THAT(r->files[0].content, HasSubstr("source_rows = 0 AND target_rows > 0"));
  EXPECT_THAT(r->files[1].content,
              HasSubstr("WHERE DATE(submission_timestamp) = @submission_date"));
  const std::string& sh = r->files[names.size() - 2].content;
  EXPECT_THAT(
      sh,
      HasSubstr("query 02-rerun-contextual_services_derived.topsites_clicks_v1.sql "
                "--project_id=moz-fx-data-shared-prod --parameter=submission_date:DATE:2020-03-17 "
                "--destination_table='moz-fx-data-shared-prod:contextual_services_derived.topsites_"
                "clicks_v1$20200317' "
                "--replace"));
  EXPECT_THAT(sh, HasSubstr("--parameter=submission_date:DATE:2020-03-16"));
  const std::string& restore = r->files[3].content;
  EXPECT_EQ(names[3], "04-restore-contextual_services_live.topsites_click_v1.sql");
  EXPECT_THAT(
      restore,
      HasSubstr("DELETE FROM `moz-fx-data-shared-prod.contextual_services_live.topsites_click_v1`\n"
                "WHERE DATE(`submission_timestamp`) IN ("));
  EXPECT_LT(restore.find("DELETE FROM"), restore.find("INSERT INTO"));
  EXPECT_THAT(
      restore,
      HasSubstr(
          "AND DATE(s.`submission_timestamp`) BETWEEN DATE '2020-03-10' AND DATE '2020-03-17'"));
  // The drop is allowed: a validate step compares the snapshot before it.
  EXPECT_EQ(names[5], "06-drop-rescue_restricted.topsites_click_v1.sql");
}

TEST_F(RenderTest, AMissingProjectFailsNamingItAndTheStep) {
  auto plan = ParsePlan(R"(name = "n"
reason = "r"
author = "a"
[[step]]
kind = "append"
from_project = "moz-fx-data-backfill-9"
to_project = "moz-fx-data-shared-prod"
dates = "2020-03-16"
)",
                        "p.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  RenderOptions options;
  options.plan_file = "p.toml";
  auto r = RenderBigQuery(*plan, *w_, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(),
              HasSubstr("p.toml: step 1 (append, line 4): project moz-fx-data-backfill-9 "
                        "(from_project) does not exist in the warehouse"));
}

// A cut-down Glean ping table (client_info.client_id, metadata.geo, metadata.header).
constexpr const char* kGleanSchema = R"([
  {"name":"submission_timestamp","type":"TIMESTAMP"},
  {"name":"document_id","type":"STRING"},
  {"name":"client_info","type":"RECORD","fields":[{"name":"client_id","type":"STRING"}]},
  {"name":"metadata","type":"RECORD","fields":[
    {"name":"geo","type":"RECORD","fields":[
      {"name":"city","type":"STRING"},{"name":"country","type":"STRING"},
      {"name":"subdivision1","type":"STRING"},{"name":"subdivision2","type":"STRING"}]},
    {"name":"header","type":"RECORD","fields":[{"name":"x_source_tags","type":"STRING"}]}]}
])";

TEST_F(RenderTest, CopyDeduplicateRendersTheReferenceRuleWithSlicesAndABillingProject) {
  for (const char* ds : {"org_mozilla_fenix_live", "org_mozilla_fenix_stable"}) {
    ASSERT_TRUE(w_->CreateDataset({kProd, ds}, {}).ok());
    TableOptions o;
    o.schema = *ParseBqSchema(kGleanSchema, "glean.bq");
    o.partition_by = "submission_timestamp";
    ASSERT_TRUE(w_->CreateTable({kProd, ds, "metrics_v1"}, o).ok());
    ASSERT_TRUE(w_->CreateTable({kProd, ds, "beam_load_sink_v1"}, o).ok());
  }
  ASSERT_TRUE(
      w_->SetTableProperty({kProd, "org_mozilla_fenix_live", "metrics_v1"}, kGleanProperty, "true")
          .ok());
  auto plan = ParsePlan(R"(name = "dedupe-fidelity"
reason = "bug 2: stable days rebuilt as bigquery-etl does"
author = "alice"
billing_project = "moz-fx-data-backfill-2"

[[step]]
kind = "copy-deduplicate"
project = "moz-fx-data-shared-prod"
only = ["org_mozilla_fenix_live.*", "contextual_services_live.topsites_click_v1"]
dates = "2020-03-16"
preceding_days = 1

[[step]]
kind = "copy-deduplicate"
project = "moz-fx-data-shared-prod"
only = ["org_mozilla_fenix_live.metrics_v1"]
dates = "2020-03-16"
slices = 3
allow_empty = true
)",
                        "dedupe.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->billing_project, "moz-fx-data-backfill-2");
  auto r = RenderBigQuery(*plan, *w_, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  WriteAndCheck(*r);
  EXPECT_THAT(Names(*r), ::testing::ElementsAre("01-copy-deduplicate-check.sql",
                                                "02-copy-deduplicate-contextual_services_stable."
                                                "topsites_click_v1-2020-03-16.sql",
                                                "03-copy-deduplicate-org_mozilla_fenix_stable."
                                                "metrics_v1-2020-03-16.sql",  // beam_load_sink_v1
                                                                              // skipped
                                                "04-copy-deduplicate-org_mozilla_fenix_stable."
                                                "metrics_v1-2020-03-16-slice1.sql",
                                                "05-copy-deduplicate-org_mozilla_fenix_stable."
                                                "metrics_v1-2020-03-16-slice2.sql",
                                                "06-copy-deduplicate-org_mozilla_fenix_stable."
                                                "metrics_v1-2020-03-16-slice3.sql",
                                                "run.sh", "README.md"));
  // The same rule as bigquery-etl's query, piece by piece.
  for (int i : {1, 2}) {
    const std::string& sql = r->files[i].content;
    EXPECT_THAT(sql, HasSubstr("AND 'automation' NOT IN (SELECT TRIM(t) FROM "
                               "UNNEST(SPLIT(metadata.header.x_source_tags, "
                               "',')) AS t)\n    GROUP BY document_id"));
    EXPECT_THAT(sql, HasSubstr("AND 'automation' NOT IN (SELECT TRIM(t) FROM "
                               "UNNEST(SPLIT(l.metadata.header.x_source_tags"));
    EXPECT_THAT(
        sql, HasSubstr("DATE(submission_timestamp) >= DATE_SUB(DATE '2020-03-16', INTERVAL 1 DAY)\n"
                       "      AND submission_timestamp < TIMESTAMP '2020-03-17 00:00:00+00'"));
    EXPECT_THAT(
        sql, HasSubstr("HAVING MIN(submission_timestamp) >= TIMESTAMP '2020-03-16 00:00:00+00'"));
    EXPECT_THAT(
        sql,
        HasSubstr("ON l.document_id = d.document_id AND l.submission_timestamp = d.first_seen"));
    EXPECT_THAT(sql, HasSubstr("QUALIFY ROW_NUMBER() OVER (PARTITION BY b.document_id ORDER BY "
                               "TO_JSON_STRING(b)) = 1;"));
  }
  // Geo deprecation only for the Glean table: city and subdivisions NULL, country kept.
  EXPECT_THAT(r->files[1].content, Not(HasSubstr("CAST(NULL AS STRING)")));
  EXPECT_THAT(r->files[2].content,
              HasSubstr("SELECT b.* REPLACE (\n  STRUCT(\n    STRUCT(\n"
                        "      CAST(NULL AS STRING) AS `city`,\n"
                        "      b.`metadata`.`geo`.`country` AS `country`,\n"
                        "      CAST(NULL AS STRING) AS `subdivision1`,\n"
                        "      CAST(NULL AS STRING) AS `subdivision2`\n"
                        "    ) AS `geo`,\n"
                        "    b.`metadata`.`header` AS `header`\n  ) AS `metadata`\n)"));
  // Slices: [00:00, 08:00), [08:00, 16:00), [16:00, 24:00) into tables expiring in a day.
  const std::string& slice2 = r->files[4].content;
  EXPECT_THAT(
      slice2,
      HasSubstr(
          "CREATE OR REPLACE TABLE "
          "`moz-fx-data-shared-prod.org_mozilla_fenix_stable._bf_slice_metrics_v1_20200316_2`\n"
          "PARTITION BY DATE(`submission_timestamp`)\nOPTIONS (\n"
          "  partition_expiration_days = CAST('inf' AS FLOAT64),\n"
          "  expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)\n)\nAS\n"));
  EXPECT_THAT(slice2, HasSubstr("AND submission_timestamp < TIMESTAMP '2020-03-16 16:00:00+00'"));
  EXPECT_THAT(slice2,
              HasSubstr("HAVING MIN(submission_timestamp) >= TIMESTAMP '2020-03-16 08:00:00+00'"));
  EXPECT_THAT(slice2, HasSubstr("INTERVAL 0 DAY"));
  EXPECT_THAT(slice2, HasSubstr("CAST(NULL AS STRING) AS `city`"));
  const std::string& sh = r->files[6].content;
  // Every bq job runs in the billing project; the data stays in its project.
  EXPECT_THAT(sh, HasSubstr("run 01-copy-deduplicate-check.sql check 01-copy-deduplicate-check.sql "
                            "--project_id=moz-fx-data-backfill-2\n"));
  EXPECT_THAT(sh, HasSubstr("--project_id=moz-fx-data-backfill-2 "
                            "--destination_table='moz-fx-data-shared-prod:org_mozilla_fenix_stable."
                            "metrics_v1$20200316' "
                            "--replace"));
  EXPECT_THAT(sh, Not(HasSubstr("--project_id=moz-fx-data-shared-prod")));
  EXPECT_THAT(
      sh,
      HasSubstr(
          "run 06-copy-deduplicate-org_mozilla_fenix_stable.metrics_v1-2020-03-16-slice3.sql query "
          "06-copy-deduplicate-org_mozilla_fenix_stable.metrics_v1-2020-03-16-slice3.sql "
          "--project_id=moz-fx-data-backfill-2\n"));
  EXPECT_THAT(sh,
              HasSubstr("copy_slices moz-fx-data-backfill-2 "
                        "'moz-fx-data-shared-prod:org_mozilla_fenix_stable.metrics_v1$20200316' "
                        "'moz-fx-data-shared-prod:org_mozilla_fenix_stable._bf_slice_metrics_v1_"
                        "20200316_1$20200316,"
                        "moz-fx-data-shared-prod:org_mozilla_fenix_stable._bf_slice_metrics_v1_"
                        "20200316_2$20200316,"
                        "moz-fx-data-shared-prod:org_mozilla_fenix_stable._bf_slice_metrics_v1_"
                        "20200316_3$20200316'"));
  EXPECT_THAT(sh, HasSubstr("bq --project_id=\"$project\" cp -f \"$sources\" \"$dest\""));
  EXPECT_LT(sh.find("slice3.sql query"), sh.find("run 'step2-copy-"));

  // --billing-project overrides the plan's; --hourly is 24 slices.
  RenderOptions options;
  options.billing_project = "moz-fx-data-backfill-3";
  auto hourly = ParsePlan(R"(name = "h"
reason = "r"
author = "alice"

[[step]]
kind = "copy-deduplicate"
project = "moz-fx-data-shared-prod"
only = ["org_mozilla_fenix_live.metrics_v1"]
dates = "2020-03-16"
hourly = true
)",
                          "h.toml");
  ASSERT_TRUE(hourly.ok()) << hourly.status().ToString();
  auto h = RenderBigQuery(*hourly, *w_, options);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  int slices = 0;
  for (const auto& f : h->files) slices += f.name.find("-slice") != std::string::npos ? 1 : 0;
  EXPECT_EQ(slices, 24);
  const RenderedFile* last =
      Find(*h, "25-copy-deduplicate-org_mozilla_fenix_stable.metrics_v1-2020-03-16-slice24.sql");
  ASSERT_NE(last, nullptr) << Join(Names(*h), "\n");
  EXPECT_THAT(last->content,
              HasSubstr("HAVING MIN(submission_timestamp) >= TIMESTAMP '2020-03-16 23:00:00+00'"));
  EXPECT_THAT(last->content,
              HasSubstr("AND submission_timestamp < TIMESTAMP '2020-03-17 00:00:00+00'"));
  EXPECT_THAT(Find(*h, "run.sh")->content, HasSubstr("--project_id=moz-fx-data-backfill-3"));
  EXPECT_THAT(Find(*h, "run.sh")->content, Not(HasSubstr("--project_id=moz-fx-data-shared-prod")));
}

TEST_F(RenderTest, BillingProjectRunsRerunsAndTheSinkThereWithQualifiedNames) {
  auto plan = ParsePlan(R"(name = "billed"
reason = "r"
author = "alice"
billing_project = "moz-fx-data-backfill-2"

[[step]]
kind = "sink"
input = ["staged"]
project = "moz-fx-data-backfill-1"

[[step]]
kind = "rerun"
table = "moz-fx-data-shared-prod.contextual_services_derived.topsites_clicks_v1"
dates = "2020-03-16"
allow_data_loss = true
)",
                        "billed.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  RenderOptions options;
  options.bucket_map["staged"] = "gs://bucket/staged";
  auto r = RenderBigQuery(*plan, *w_, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  WriteAndCheck(*r);
  const std::string& rerun = r->files[0].content;
  EXPECT_THAT(
      rerun,
      HasSubstr("FROM `moz-fx-data-shared-prod.contextual_services_live.topsites_click_v1`\n"));
  EXPECT_THAT(rerun, HasSubstr("It runs in the billing project moz-fx-data-backfill-2"));
  const std::string& sh = Find(*r, "run.sh")->content;
  EXPECT_THAT(
      sh,
      HasSubstr("--project_id=moz-fx-data-backfill-2 --parameter=submission_date:DATE:2020-03-16 "
                "--destination_table='moz-fx-data-shared-prod:contextual_services_derived.topsites_"
                "clicks_v1$20200316'"));
  // The Beam Sink: its Dataflow job in the billing project, writing the backfill project's tables,
  // with the temporary locations BigQuery file loads need.
  EXPECT_THAT(
      sh,
      HasSubstr(
          "sink_replay \"${GCS_STAGED}/**\" 'moz-fx-data-backfill-1' 'true' '' 'billed-step1-1' "
          "'moz-fx-data-backfill-2'"));
  EXPECT_THAT(sh, HasSubstr("--project=$job_project"));
  EXPECT_THAT(sh, HasSubstr("--output=$project:\\${document_namespace}_live"));
  EXPECT_THAT(sh, HasSubstr("--outputType=bigquery --bqWriteMethod=file_loads "
                            "--tempLocation=${TEMP_LOCATION%/}/bq-loads"));
  EXPECT_THAT(sh, HasSubstr("--gcpTempLocation=${TEMP_LOCATION%/}/tmp"));
  EXPECT_THAT(sh, HasSubstr("TEMP_LOCATION=\"${TEMP_LOCATION:?set TEMP_LOCATION"));
}

TEST_F(RenderTest, ValidateAfterARestoreComparesOnlyTheRestoredDays) {
  auto plan = ParsePlan(R"(name = "rescue"
reason = "r"
author = "alice"

[[step]]
kind = "snapshot"
table = "moz-fx-data-shared-prod.contextual_services_derived.topsites_clicks_v1"
as_of = "2020-03-18T00:00:00Z"
to = "moz-fx-data-backfill-1.rescue_restricted.topsites_clicks_v1"

[[step]]
kind = "restore"
snapshot = "moz-fx-data-backfill-1.rescue_restricted.topsites_clicks_v1"
to = "moz-fx-data-shared-prod.contextual_services_derived.topsites_clicks_v1"
dates = "2020-03-10..2020-03-12"

[[step]]
kind = "validate"
expected = "moz-fx-data-backfill-1.rescue_restricted.topsites_clicks_v1"
actual = "moz-fx-data-shared-prod.contextual_services_derived.topsites_clicks_v1"

[[step]]
kind = "validate"
expected = "moz-fx-data-shared-prod.contextual_services_derived.topsites_clicks_v1"
actual = "moz-fx-data-backfill-1.rescue_restricted.topsites_clicks_v1"
)",
                        "rescue.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  auto r = RenderBigQuery(*plan, *w_, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  WriteAndCheck(*r);
  const std::string& restored = r->files[2].content;
  EXPECT_THAT(
      restored,
      HasSubstr("WHERE e.`submission_date` BETWEEN DATE '2020-03-10' AND DATE '2020-03-12'"));
  EXPECT_THAT(
      restored,
      HasSubstr("WHERE a.`submission_date` BETWEEN DATE '2020-03-10' AND DATE '2020-03-12'"));
  EXPECT_THAT(restored, HasSubstr("(the days an earlier restore step restored)"));
  // Not the pair a restore wrote: the whole tables, as before.
  const std::string& other = r->files[3].content;
  EXPECT_THAT(other, Not(HasSubstr("BETWEEN")));
  EXPECT_THAT(other, HasSubstr("FULL OUTER JOIN actual"));
}

TEST_F(RenderTest, DroppingAnUnvalidatedSnapshotIsRefused) {
  auto plan = ParsePlan(R"(name = "n"
reason = "r"
author = "a"
[[step]]
kind = "snapshot"
table = "moz-fx-data-shared-prod.contextual_services_derived.topsites_clicks_v1"
as_of = "2020-03-18T00:00:00Z"
to = "moz-fx-data-backfill-1.rescue_restricted.t"
[[step]]
kind = "drop"
table = "moz-fx-data-backfill-1.rescue_restricted.t"
)",
                        "p.toml");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  auto r = RenderBigQuery(*plan, *w_, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kRefused);
  EXPECT_THAT(r.status().message(), HasSubstr("is a rescue snapshot of"));
}

TEST(RenderCheckerTest, BucketMappingsNeedACloudStorageUrl) {
  auto ok = ParseBucketMapping("staged=gs://bucket/staged");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->first, "staged");
  EXPECT_EQ(ok->second, "gs://bucket/staged");
  EXPECT_FALSE(ParseBucketMapping("staged=/tmp/x").ok());
  EXPECT_FALSE(ParseBucketMapping("gs://bucket").ok());
}

}  // namespace
}  // namespace backfill
