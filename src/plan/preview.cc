#include "plan/preview.h"

#include <stdlib.h>

#include <algorithm>
#include <optional>
#include <set>

#include <fmt/format.h>

namespace backfill {
namespace fs = std::filesystem;
namespace {

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "backfill-preview-XXXXXX").string();
    if (mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

Result<std::vector<Deadline>> Deadlines(Warehouse& w, const Plan& plan) {
  std::vector<Deadline> out;
  std::set<std::string> seen;
  for (const auto& s : plan.steps) {
    if (s.kind == StepKind::kSnapshot) {
      BF_ASSIGN_OR_RETURN(TableName t, ParseTableName(s.String("table")));
      BF_ASSIGN_OR_RETURN(Timestamp as_of, ParseTimestamp(s.String("as_of")));
      auto ds = w.GetDataset(t.Dataset());
      if (ds.ok() && ds->options.time_travel_hours) {
        out.push_back(
            {as_of + std::chrono::hours(*ds->options.time_travel_hours),
             fmt::format("{} as of {} can no longer be read (time-travel window of {} h closes)",
                         t.ToString(), FormatTimestamp(as_of), *ds->options.time_travel_hours)});
      }
    }
    std::string dates = s.String("dates");
    if (dates.empty()) continue;
    BF_ASSIGN_OR_RETURN(DateRange range, ParseDateRange(dates));
    // The sources a step reads by day (see StepKindSpec::dated_source_project).
    std::string_view source = s.Spec().dated_source_project;
    if (source.empty()) continue;
    std::string project = s.String(std::string(source));
    if (!w.HasProject(project)) continue;
    BF_ASSIGN_OR_RETURN(std::vector<DatasetInfo> datasets, w.ListDatasets(project));
    for (const auto& ds : datasets) {
      if (!ds.options.partition_expiration_days || seen.count(ds.name.ToString())) continue;
      seen.insert(ds.name.ToString());
      out.push_back({PartitionExpiresAt(range.first, *ds.options.partition_expiration_days),
                     fmt::format("partition {} of the tables of {} expires ({} day(s) kept)",
                                 FormatDate(range.first), ds.name.ToString(),
                                 *ds.options.partition_expiration_days)});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Deadline& a, const Deadline& b) { return a.at < b.at; });
  return out;
}

Status CopyWarehouse(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to / "projects", ec);
  if (ec) return IoError(fmt::format("cannot create {}: {}", to.string(), ec.message()));
  fs::copy_file(from / Warehouse::kConfigFile, to / Warehouse::kConfigFile, ec);
  if (ec)
    return IoError(
        fmt::format("cannot copy {}: {}", (from / Warehouse::kConfigFile).string(), ec.message()));
  for (const auto& e : fs::directory_iterator(from / "projects", ec)) {
    fs::copy_file(e.path(), to / "projects" / e.path().filename(), ec);
    if (ec) return IoError(fmt::format("cannot copy {}: {}", e.path().string(), ec.message()));
  }
  return Status::Ok();
}

Result<PlanPreview> PreviewPlan(Warehouse& live, const Plan& plan, const PreviewOptions& options) {
  std::vector<std::string> projects = PlanProjects(plan);
  ScratchDir scratch;
  if (scratch.path().empty()) return IoError("cannot create a scratch folder for the rehearsal");
  PlanPreview preview;
  RowCounts now;
  std::optional<Journal> journal;
  BF_ASSIGN_OR_RETURN(now, CountRows(live, projects));
  BF_ASSIGN_OR_RETURN(preview.protected_targets, ProtectedTargets(live, plan));
  BF_ASSIGN_OR_RETURN(std::vector<PlanApproval> approvals, LoadApprovals(live.dir(), plan.name));
  BF_ASSIGN_OR_RETURN(preview.deadlines, Deadlines(live, plan));
  BF_ASSIGN_OR_RETURN(journal, LoadJournal(live.dir(), plan.name));
  if (journal && journal->sha256 != plan.content_hash)
    journal.reset();  // another version of the plan
  BF_RETURN_IF_ERROR(CopyWarehouse(live.dir(), scratch.path() / "warehouse"));
  if (options.release_live) options.release_live();

  OpenOptions o;
  o.principal = options.principal;
  o.clock = options.clock;
  o.write = true;
  o.lock_timeout = std::chrono::milliseconds(0);
  o.command = options.command;
  BF_ASSIGN_OR_RETURN(auto rehearsal, Warehouse::Open(scratch.path() / "warehouse", o));
  rehearsal->AllowProtectedWrites();
  PathMap paths{options.plan_dir, {}, scratch.path()};
  StepRunner runner = options.runner(*rehearsal, paths);
  std::vector<StepPreview>& steps = preview.steps;
  steps.resize(plan.steps.size());
  std::set<std::string> changed;
  Journal rehearsal_journal = journal ? *journal : Journal{};
  preview.resumes = journal.has_value();
  for (size_t i = 0; journal && i < journal->steps.size() && i < steps.size(); ++i) {
    if (journal->steps[i].state == StepState::kDone) steps[i].outcome = "done";
  }
  Marks marks;
  size_t protected_before = 0;
  Status marks_taken;
  ApplyEvents events;
  events.step_started = [&](size_t i, const PlanStep& s, const JournalStep&) {
    if (options.step_started) options.step_started(i, s);
    auto m = TakeMarks(*rehearsal, projects);
    if (!m.ok()) marks_taken = m.status();
    if (m.ok()) marks = *m;
    protected_before = rehearsal->protected_written().size();
  };
  Status collected;
  events.step_finished = [&](size_t i, const PlanStep&, const JournalStep& js) {
    StepPreview& sp = steps[i];
    sp.result = js.result;
    auto writes = AuditSince(*rehearsal, projects, marks.audit);
    if (!writes.ok()) collected = writes.status();
    if (writes.ok()) sp.writes = *writes;
    for (auto t : ChangedTables(sp.writes)) changed.insert(t);
    sp.protected_written.assign(rehearsal->protected_written().begin() + protected_before,
                                rehearsal->protected_written().end());
    sp.outcome = js.state == StepState::kDone ? "ok" : js.error;
  };
  Status outcome = ApplyPlan(*rehearsal, plan, rehearsal_journal, runner, events);
  BF_RETURN_IF_ERROR(marks_taken);
  BF_RETURN_IF_ERROR(collected);
  bool reached_failure = false;
  for (size_t i = 0; i < steps.size(); ++i) {
    StepPreview& sp = steps[i];
    const JournalStep* js =
        i < rehearsal_journal.steps.size() ? &rehearsal_journal.steps[i] : nullptr;
    if (js && js->state == StepState::kFailed) {
      bool refused =
          outcome.code() == StatusCode::kRefused || outcome.code() == StatusCode::kPermissionDenied;
      sp.outcome = (refused ? "would refuse: " : "would fail: ") + js->error;
      reached_failure = true;
    } else if (reached_failure || !js) {
      sp.outcome = "not reached";
    }
  }
  if (!outcome.ok()) outcome = outcome.WithContext("the rehearsal");
  preview.rehearsal = outcome;
  BF_ASSIGN_OR_RETURN(RowCounts after, CountRows(*rehearsal, projects, changed));

  // Which approval applies: one for this exact file content.
  for (const auto& a : approvals) {
    if (a.sha256 == plan.content_hash) preview.approved_by = a.reviewer;
  }
  for (const auto& table : changed) {
    TablePreview tp{table, !after.count(table), {}};
    if (auto b = now.find(table); b != now.end()) {
      for (const auto& [d, n] : b->second) tp.days[d].first = n;
    }
    if (!tp.dropped_after) {
      for (const auto& [d, n] : after[table]) tp.days[d].second = n;
    }
    preview.tables.push_back(std::move(tp));
  }
  for (auto& d : preview.deadlines) d.passed = d.at <= options.clock->Now();
  return preview;
}

}  // namespace backfill
