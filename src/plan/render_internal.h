// Internal to the BigQuery rendering of plan/render.h, shared by its source files: the catalog as
// the plan goes, the quoting and GoogleSQL text helpers, and the Renderer, whose steps are
// rendered in the file of their idea:
//   render.cc                   the walk over the plan, the numbering of the SQL files, run.sh
//                               (its fixed bash is run.sh.in) and README.md; the text helpers
//   render_commands.cc          stage, mirror, sink: gcloud storage, bq mk and Dataflow commands
//   render_copy_deduplicate.cc  copy-deduplicate: bigquery-etl's query per day or per time slice
//   render_sql.cc               append, rerun, snapshot, restore, validate, drop, cleanup
// Not an API of the plan layer: callers include plan/render.h. Not thread-safe (as render.h).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/names.h"
#include "core/status.h"
#include "core/time.h"
#include "plan/plan.h"
#include "plan/render.h"
#include "warehouse/warehouse.h"

namespace backfill::render_internal {

// src/plan/run.sh.in, compiled in at build time (CMakeLists.txt, cmake/embed_text.cmake).
extern const std::string_view kRunShTemplate;

// ---------------------------------------------------------------------------------------------
// The catalog as the plan goes: the warehouse, plus what earlier steps create or drop.
class Catalog {
 public:
  explicit Catalog(Warehouse& w) : w_(w) {}

  bool HasProject(const std::string& project) const {
    return w_.HasProject(project) || projects_.count(project);
  }
  void AddProject(const std::string& project) { projects_.insert(project); }

  // The project's current tables, by dataset then table.
  Result<std::vector<TableInfo>> Tables(const std::string& project) {
    std::map<TableName, TableInfo> out;
    if (w_.HasProject(project)) {
      BF_ASSIGN_OR_RETURN(auto datasets, w_.ListDatasets(project));
      for (const auto& ds : datasets) {
        BF_ASSIGN_OR_RETURN(auto tables, w_.ListTables(ds.name));
        for (const auto& t : tables) {
          TableName name{project, ds.name.dataset, t};
          if (dropped_.count(name)) continue;
          BF_ASSIGN_OR_RETURN(TableInfo info, w_.DescribeTable(name));
          out[name] = std::move(info);
        }
      }
    }
    for (const auto& [name, info] : created_) {
      if (name.project == project) out[name] = info;
    }
    std::vector<TableInfo> list;
    for (auto& [_, info] : out) list.push_back(std::move(info));
    return list;
  }

  Result<TableInfo> Describe(const TableName& name) {
    if (auto it = created_.find(name); it != created_.end()) return it->second;
    if (dropped_.count(name))
      return NotFound(fmt::format("table {} is dropped by an earlier step", name.ToString()));
    auto info = w_.DescribeTable(name);
    if (info.ok()) Use(*info);
    return info;
  }
  // Records a table the SQL reads or writes, for RenderedPlan::tables (the analyzer's catalog).
  void Use(const TableInfo& info) { used_.emplace(info.name, info); }
  std::vector<TableInfo> Used() const {
    std::vector<TableInfo> out;
    for (const auto& [_, info] : used_) out.push_back(info);
    return out;
  }

  // Whether any dataset of the project is protected (in the warehouse; steps never create one).
  Result<std::vector<std::string>> ProtectedDatasets(const std::string& project) {
    std::vector<std::string> out;
    if (!w_.HasProject(project)) return out;
    BF_ASSIGN_OR_RETURN(auto datasets, w_.ListDatasets(project));
    for (const auto& ds : datasets) {
      if (ds.options.is_protected) out.push_back(ds.name.ToString());
    }
    return out;
  }

  void Create(TableInfo info) {
    dropped_.erase(info.name);
    created_[info.name] = std::move(info);
  }
  void Drop(const TableName& name) {
    created_.erase(name);
    dropped_.insert(name);
  }

 private:
  Warehouse& w_;
  std::map<TableName, TableInfo> created_;
  std::set<TableName> dropped_;
  std::set<std::string> projects_;
  std::map<TableName, TableInfo> used_;
};

// ---------------------------------------------------------------------------------------------
// Text helpers (render.cc).

std::string Bq(const TableName& t);          // `p.d.t`, for GoogleSQL
std::string BqCli(const TableName& t);       // p:d.t, for the bq command line
std::string BqCli(const DatasetName& d);     // p:d
std::string Ident(const std::string& name);  // `name`
std::string ShQuote(std::string_view s);     // a single-quoted shell word
std::string SqlString(std::string_view s);   // a GoogleSQL string literal
std::string DateSql(Date d);                 // DATE '2020-04-01'
std::string TimestampSql(Timestamp ts);      // TIMESTAMP '2020-04-01 02:30:00+00'
// The day a row belongs to in `layout`'s partitioning, over `alias` ("" for unqualified).
std::string DayExpr(const TableInfo& layout, const std::string& alias);
// PARTITION BY / CLUSTER BY / OPTIONS clauses of a CREATE TABLE with `info`'s layout.
std::string LayoutClauses(const TableInfo& info);
std::string Comment(const std::string& text);    // "-- " before every line
std::string ShComment(const std::string& text);  // "# " before every line
// " matching A, B except C": a step's only/exclude globs, for messages.
std::string FilterText(const PlanStep& s);

// ---------------------------------------------------------------------------------------------
// The renderer: SQL files (numbered at the end) and run.sh, step by step. Render() and the
// helpers the steps share are in render.cc, the steps in the files named below.
class Renderer {
 public:
  Renderer(const Plan& plan, Warehouse& w, const RenderOptions& options)
      : plan_(plan),
        w_(w),
        catalog_(w),
        options_(options),
        billing_(options.billing_project.empty() ? plan.billing_project : options.billing_project) {
  }

  Result<RenderedPlan> Render();

 private:
  struct SqlFile {
    std::string base;  // without the number: "append-telemetry_live.main_v4.sql"
    std::string content;
    int step;
    std::string default_project = {};
    std::map<std::string, std::string> parameters = {};
  };
  struct GcsPath {
    std::string var;
    std::string local;
    std::string url;  // empty: must be set by whoever runs run.sh
    std::set<int> steps;
  };

  Status Step(size_t i);  // renders plan_.steps[i] by its kind
  // render_commands.cc
  Status Stage(const PlanStep& s);
  Status Mirror(const PlanStep& s);
  Status Sink(const PlanStep& s);
  // render_copy_deduplicate.cc
  Status CopyDeduplicate(const PlanStep& s);
  // render_sql.cc
  Status Append(const PlanStep& s);
  Status Rerun(const PlanStep& s);
  Status Snapshot(const PlanStep& s);
  Status Restore(const PlanStep& s);
  Status Validate(const PlanStep& s);
  Status Drop(const PlanStep& s);
  Status Cleanup(const PlanStep& s);

  Status RequireProject(const std::string& project, const std::string& option);
  Result<TableInfo> Table(const std::string& text, const std::string& option);
  Result<std::vector<TableInfo>> Matching(const PlanStep& s, const std::string& project);
  // Adds a SQL file; returns the token run.sh uses for its name.
  std::string AddSql(const std::string& kind, const std::string& table, const std::string& day,
                     std::string body);
  // "${GCS_STAGED}" for a local path of the plan.
  std::string Gcs(const std::string& local);
  // Appends a line to the steps' part of run.sh.
  void Sh(const std::string& line) { script_ += line + "\n"; }
  // The project a job runs and is billed in: the billing project when there is one.
  std::string JobProject(const std::string& data_project) const {
    return billing_.empty() ? data_project : billing_;
  }
  Status Error(const std::string& message) const {
    return InvalidArgument(fmt::format("{}: {}: {}",
                                       options_.plan_file.empty() ? "plan" : options_.plan_file,
                                       plan_.steps[index_].Label(index_), message));
  }
  std::string Header(const std::string& what) const {
    const PlanStep& s = plan_.steps[index_];
    return Comment(
        fmt::format("Plan {}, {}: {}\n{}", plan_.name, s.Label(index_), s.Spec().summary, what));
  }
  void NoteProtected(const TableInfo& target) {
    if (target.dataset.options.is_protected) {
      protected_writes_.push_back(
          fmt::format("{} writes {} (protected dataset {})", plan_.steps[index_].Label(index_),
                      target.name.ToString(), target.dataset.name.ToString()));
    }
  }

  const Plan& plan_;
  Warehouse& w_;  // for translating derived tables' queries (the sources they read)
  Catalog catalog_;
  const RenderOptions& options_;
  std::string billing_;  // empty: each job runs in the project of the data it writes
  size_t index_ = 0;
  std::vector<SqlFile> files_;
  std::string script_;
  std::vector<GcsPath> gcs_;
  bool needs_sink_ = false;
  std::vector<std::string> protected_writes_;
  std::vector<std::string> review_notes_;
  std::set<TableName> validated_;  // tables an earlier validate step compared as `expected`
};

}  // namespace backfill::render_internal
