#include "plan/apply.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/fault.h"
#include "core/names.h"
#include "core/text.h"
#include "recover/replay.h"

namespace backfill {
namespace {

void AddUnique(std::vector<std::string>& v, const std::string& x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

// Where a step writes: explicit tables, or (project, filter, dataset suffix) for project-wide
// steps.
struct WriteScope {
  std::vector<TableName> tables;
  std::string project;
  TableFilter filter;
  bool stable = false;  // copy-deduplicate: the *_stable twins of the matching *_live tables
};

WriteScope ScopeOf(const PlanStep& s) {
  const WriteScopeSpec& spec = s.Spec().writes;
  WriteScope scope;
  if (!spec.table.empty()) {
    if (auto t = ParseTableName(s.String(std::string(spec.table))); t.ok())
      scope.tables.push_back(*t);
  }
  if (!spec.project.empty()) scope.project = s.String(std::string(spec.project));
  if (spec.tables == WriteScopeSpec::Tables::kLive) {
    scope.filter.only = {"*_live.*"};
  } else {
    scope.filter.only = s.List("only");
    scope.filter.exclude = s.List("exclude");
  }
  scope.stable = spec.tables == WriteScopeSpec::Tables::kStableTwins;
  return scope;
}

}  // namespace

std::vector<std::string> PlanProjects(const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& s : plan.steps) {
    for (const auto& [key, value] : s.options) {
      const auto* text = std::get_if<std::string>(&value);
      if (!text) continue;
      const StepOptionSpec* option = s.Spec().Option(key);
      if (!option) continue;
      if (option->meaning == StepOptionSpec::Meaning::kProject) AddUnique(out, *text);
      if (option->meaning == StepOptionSpec::Meaning::kTable) {
        if (auto t = ParseTableName(*text); t.ok()) AddUnique(out, t->project);
      }
    }
  }
  return out;
}

Result<std::vector<std::string>> ProtectedTargets(Warehouse& w, const Plan& plan) {
  std::vector<std::string> out;
  for (const auto& s : plan.steps) {
    WriteScope scope = ScopeOf(s);
    for (const auto& t : scope.tables) {
      if (!w.HasProject(t.project)) continue;
      auto ds = w.GetDataset(t.Dataset());
      if (ds.ok() && ds->options.is_protected) AddUnique(out, t.Dataset().ToString());
    }
    if (scope.project.empty() || !w.HasProject(scope.project)) continue;
    BF_ASSIGN_OR_RETURN(std::vector<DatasetInfo> datasets, w.ListDatasets(scope.project));
    for (const auto& ds : datasets) {
      if (!ds.options.is_protected) continue;
      // A table of a protected dataset is written when it matches (for copy-deduplicate: when
      // its live twin matches); an empty protected dataset may receive mirrored tables.
      auto tables = w.ListTables(ds.name);
      bool writes = !tables.ok() || tables->empty();
      for (const auto& t : tables.ok() ? *tables : std::vector<std::string>{}) {
        std::string name = ds.name.dataset + "." + t;
        if (scope.stable && EndsWith(ds.name.dataset, "_stable")) {
          name = ds.name.dataset.substr(0, ds.name.dataset.size() - 7) + "_live." + t;
        } else if (scope.stable) {
          continue;
        }
        if (scope.filter.Matches(name)) writes = true;
      }
      if (writes) AddUnique(out, ds.name.ToString());
    }
  }
  return out;
}

Result<RowCounts> CountRows(Warehouse& w, const std::vector<std::string>& projects,
                            const std::set<std::string>& tables) {
  RowCounts out;
  for (const auto& p : projects) {
    if (!w.HasProject(p)) continue;
    BF_ASSIGN_OR_RETURN(std::vector<DatasetInfo> datasets, w.ListDatasets(p));
    for (const auto& ds : datasets) {
      if (!w.CheckAccess(ds.name, Role::kReader).ok()) continue;
      BF_ASSIGN_OR_RETURN(std::vector<std::string> names, w.ListTables(ds.name));
      for (const auto& t : names) {
        TableName name{p, ds.name.dataset, t};
        if (!tables.empty() && !tables.count(name.ToString())) continue;
        BF_ASSIGN_OR_RETURN(TableInfo info, w.DescribeTable(name));
        auto& days = out[name.ToString()];
        for (const auto& part : info.partitions)
          days[part.date ? FormatDate(*part.date) : ""] = part.rows;
      }
    }
  }
  return out;
}

Result<Marks> TakeMarks(Warehouse& w, const std::vector<std::string>& projects) {
  Marks m;
  for (const auto& p : projects) {
    if (!w.HasProject(p)) continue;
    BF_ASSIGN_OR_RETURN(m.write[p], w.LastCounter(p, "write"));
    BF_ASSIGN_OR_RETURN(m.audit[p], w.LastCounter(p, "audit"));
  }
  return m;
}

Result<std::vector<AuditEntry>> AuditSince(Warehouse& w, const std::vector<std::string>& projects,
                                           const std::map<std::string, int64_t>& audit_marks) {
  std::vector<AuditEntry> out;
  for (const auto& p : projects) {
    if (!w.HasProject(p)) continue;
    BF_ASSIGN_OR_RETURN(std::vector<AuditEntry> entries, w.Audit(p));
    auto mark = audit_marks.find(p);
    for (auto& e : entries) {
      if (mark == audit_marks.end() || e.seq > mark->second) out.push_back(std::move(e));
    }
  }
  return out;
}

std::string AuditedTable(const AuditEntry& e) {
  std::string target = e.target.substr(0, e.target.find('$'));
  auto t = ParseTableName(target);
  return t.ok() && !t->table.empty() ? t->ToString() : "";
}

std::set<std::string> ChangedTables(const std::vector<AuditEntry>& entries) {
  static const std::set<std::string> kChanges = {
      "append",       "replace partition", "delete partitions", "delete",
      "create table", "drop table",        "undrop table",      "retract writes"};
  std::set<std::string> out;
  for (const auto& e : entries) {
    if (e.outcome != "ok" || !kChanges.count(e.action)) continue;
    if (std::string t = AuditedTable(e); !t.empty()) out.insert(t);
  }
  return out;
}

Status ApplyPlan(Warehouse& w, const Plan& plan, Journal& journal, const StepRunner& run,
                 const ApplyEvents& events) {
  std::vector<std::string> projects = PlanProjects(plan);
  auto save = [&](std::string_view what) -> Status {
    BF_RETURN_IF_ERROR(SaveJournal(w.dir(), journal));
    CrashPoint(what);
    return Status::Ok();
  };
  if (!journal.started_at) {
    journal.plan = plan.name;
    journal.sha256 = plan.content_hash;
    journal.started_at = w.clock().Now();
    BF_ASSIGN_OR_RETURN(Marks marks, TakeMarks(w, projects));
    journal.audit_marks = marks.audit;
    BF_ASSIGN_OR_RETURN(journal.before, CountRows(w, projects));
    journal.steps.clear();
    for (const auto& s : plan.steps) {
      JournalStep js;
      js.kind = s.kind;
      journal.steps.push_back(std::move(js));
    }
    BF_RETURN_IF_ERROR(save("journal created"));
  }
  if (journal.steps.size() != plan.steps.size()) {
    return DataLoss(fmt::format("the journal of plan {} has {} steps but the plan {}", plan.name,
                                journal.steps.size(), plan.steps.size()));
  }
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlanStep& step = plan.steps[i];
    JournalStep& js = journal.steps[i];
    if (js.state == StepState::kDone) continue;
    if ((js.state == StepState::kRunning || js.state == StepState::kFailed) &&
        step.Spec().append_only) {
      // Redo from a clean state: take back what the interrupted attempt appended.
      std::string project = step.String("project");
      auto mark = js.write_marks.find(project);
      if (mark != js.write_marks.end() && w.HasProject(project)) {
        BF_ASSIGN_OR_RETURN(std::vector<AuditEntry> entries,
                            AuditSince(w, {project}, js.audit_marks));
        for (const auto& table : ChangedTables(entries)) {
          BF_ASSIGN_OR_RETURN(TableName name, ParseTableName(table));
          if (!w.TableExists(name)) continue;
          BF_ASSIGN_OR_RETURN(WriteStats undone, w.RetractWrites(name, mark->second));
          if (events.step_undone && undone.rows_deleted > 0) {
            events.step_undone(
                i, step,
                fmt::format("retracted {} row(s) of {} appended by the interrupted attempt",
                            undone.rows_deleted, table));
          }
        }
        // Its ledger entries too (they commit with its last rows), so the redo loads the files
        // again instead of skipping them as loaded.
        BF_ASSIGN_OR_RETURN(int64_t forgotten, w.RetractLoads(project, mark->second));
        if (events.step_undone && forgotten > 0) {
          events.step_undone(
              i, step,
              fmt::format("forgot {} input file(s) the interrupted attempt recorded as loaded",
                          forgotten));
        }
      }
    }
    if (js.attempts == 0) {  // later attempts keep them: a redo undoes every earlier attempt
      BF_ASSIGN_OR_RETURN(Marks marks, TakeMarks(w, projects));
      js.write_marks = marks.write;
      js.audit_marks = marks.audit;
    }
    js.state = StepState::kRunning;
    js.attempts += 1;
    js.started_at = w.clock().Now();
    js.finished_at.reset();
    js.error.clear();
    js.result = nullptr;
    BF_RETURN_IF_ERROR(save(fmt::format("step {} started", i + 1)));
    if (events.step_started) events.step_started(i, step, js);
    PlanJson result;
    Status s = run(i, step, js, &result);
    js.result = result;
    js.finished_at = w.clock().Now();
    js.state = s.ok() ? StepState::kDone : StepState::kFailed;
    if (!s.ok()) js.error = s.message();
    BF_RETURN_IF_ERROR(save(fmt::format("step {} {}", i + 1, js.state)));
    if (events.step_finished) events.step_finished(i, step, js);
    if (!s.ok()) return s.WithContext(fmt::format("{} of plan {}", step.Label(i), plan.name));
  }
  journal.finished_at = w.clock().Now();
  return save("plan finished");
}

}  // namespace backfill
