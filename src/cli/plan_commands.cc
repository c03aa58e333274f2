// Plan files (plan/plan.h): `plan new` writes a template, `plan FILE` previews by rehearsing the
// plan on a scratch copy of the warehouse, `approve` binds a second principal's approval to the
// file's hash, `apply` runs the steps with a journal (resuming after a kill), `status` shows the
// journal. Each step runs its command's own code in-process with typed options (plan_steps.h),
// sharing the one warehouse the plan opened, so the writer lock is held for the whole plan.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>

#include <fmt/format.h>

#include "cli/cli.h"
#include "cli/plan_steps.h"
#include "core/files.h"
#include "core/text.h"
#include "plan/apply.h"
#include "plan/draft.h"
#include "plan/journal.h"
#include "plan/plan.h"
#include "plan/preview.h"
#include "plan/report.h"

namespace backfill::cli {
namespace fs = std::filesystem;
namespace {

std::string ValueText(const StepValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return "[" + Join(std::get<std::vector<std::string>>(v), ", ") + "]";
}

Json ValueJson(const StepValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  return std::get<std::vector<std::string>>(v);
}

Result<Plan> LoadPlan(Context& ctx, const std::string& file) {
  if (file.empty()) return ctx.Usage(InvalidArgument("a plan FILE is needed"));
  auto text = ReadWholeFile(file);
  if (!text.ok()) return NotFound(fmt::format("cannot read plan file {}", file));
  return ParsePlan(*text, file);
}

// What a redo must clear besides the warehouse: error output of the step's earlier attempts
// (the sink names its files after the run id, which a plan keeps per step).
void RemoveSinkErrorOutput(const fs::path& prefix, const std::string& run_id) {
  std::error_code ec;
  if (!fs::exists(prefix, ec)) return;
  std::string a = "sink-" + run_id + ".", b = "sink-" + run_id + "-", c = ".sink-" + run_id;
  std::vector<fs::path> doomed;
  for (auto it = fs::recursive_directory_iterator(prefix, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind(a, 0) == 0 || name.rfind(b, 0) == 0 || name.rfind(c, 0) == 0)
      doomed.push_back(it->path());
  }
  for (const auto& p : doomed) fs::remove(p, ec);
}

// The step runner shared by apply and the rehearsal.
StepRunner MakeRunner(Context& ctx, Warehouse& w, const Plan& plan, PathMap& paths,
                      const std::function<void(std::string_view)>& progress) {
  return [&ctx, &w, &plan, &paths, progress](size_t i, const PlanStep& s, const JournalStep& state,
                                             PlanJson* result) -> Status {
    paths.RedirectOutputs(i, s);
    if (s.kind == StepKind::kSink && !s.String("error_output").empty()) {
      RemoveSinkErrorOutput(paths.Resolve(s.String("error_output")), SinkRunId(plan, i));
    }
    if (s.kind == StepKind::kDrop &&
        state.attempts > 1) {  // a redo: the first attempt may have dropped it
      BF_ASSIGN_OR_RETURN(TableName t, ParseTableName(s.String("table")));
      if (!w.TableExists(t)) {
        BF_ASSIGN_OR_RETURN(std::vector<AuditEntry> since,
                            AuditSince(w, {t.project}, state.audit_marks));
        for (const auto& e : since) {
          if (e.action == "drop table" && e.outcome == "ok" && AuditedTable(e) == t.ToString()) {
            *result =
                PlanJson{{"table", t.ToString()}, {"dropped", true}, {"by_earlier_attempt", true}};
            return Status::Ok();
          }
        }
      }
    }
    BF_ASSIGN_OR_RETURN(StepCommand command, StepCommandOf(plan, i, paths));
    return RunStepCommand(ctx, w, s.Label(i), command, result, progress);
  };
}

// A progress bar on a terminal: steps done out of all, and the step's latest line.
class ProgressBar {
 public:
  ProgressBar(bool enabled, size_t steps) : enabled_(enabled), steps_(steps) {}
  void Step(size_t index, const std::string& label) {
    index_ = index;
    label_ = label;
    line_.clear();
    Draw();
  }
  void Line(std::string_view line) {
    line_ = std::string(line);
    Draw();
  }
  void Finish(const std::string& text) {
    if (!enabled_) return;
    std::cerr << "\r\033[K" << text << "\n";
  }

 private:
  void Draw() {
    if (!enabled_) return;
    const int width = 24;
    int filled = static_cast<int>(width * index_ / std::max<size_t>(steps_, 1));
    std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
    std::string text = fmt::format("[{}] {}/{} {}{}{}", bar, index_ + 1, steps_, label_,
                                   line_.empty() ? "" : ": ", line_);
    if (text.size() > 150) text = text.substr(0, 147) + "...";
    std::cerr << "\r\033[K" << text << std::flush;
  }
  bool enabled_;
  size_t steps_, index_ = 0;
  std::string label_, line_;
};

bool ProgressWanted(Context& ctx) {
  return ctx.format() != Format::kJson && (ctx.force_progress || isatty(STDERR_FILENO));
}

// --- Preview ---------------------------------------------------------------------------------

Status Preview(Context& ctx, const std::string& file) {
  BF_ASSIGN_OR_RETURN(Plan plan, LoadPlan(ctx, file));
  BF_ASSIGN_OR_RETURN(Warehouse * w, ctx.Open(true));  // the lock keeps the copy consistent
  ProgressBar bar(ProgressWanted(ctx), plan.steps.size());
  PreviewOptions rehearse;
  rehearse.plan_dir = fs::absolute(file).parent_path();
  rehearse.principal = ctx.principal;
  rehearse.clock = &ctx.clock();
  rehearse.command = "rehearsal of " + file;
  rehearse.runner = [&](Warehouse& rehearsal, PathMap& paths) {
    return MakeRunner(ctx, rehearsal, plan, paths, [&bar](std::string_view l) { bar.Line(l); });
  };
  rehearse.release_live = [&ctx] { ctx.CloseWarehouse(); };
  rehearse.step_started = [&bar](size_t i, const PlanStep& s) { bar.Step(i, s.Label(i)); };
  BF_ASSIGN_OR_RETURN(PlanPreview preview, PreviewPlan(*w, plan, rehearse));
  bar.Finish("");
  const Status& outcome = preview.rehearsal;
  const std::vector<std::string>& protected_targets = preview.protected_targets;
  const std::string& approved_by = preview.approved_by;
  std::string text = fmt::format("Plan {} by {}: {}\nsha256 {}\n", plan.name, plan.author,
                                 plan.reason, plan.content_hash);
  if (protected_targets.empty()) {
    text += "Approval: not needed (no protected dataset is written)\n";
  } else {
    text += fmt::format(
        "Approval: needed for {} — {}\n", Join(protected_targets, ", "),
        approved_by.empty()
            ? fmt::format(
                  "not approved yet: a second principal runs `backfill approve {} --as REVIEWER`",
                  file)
            : "approved by " + approved_by);
  }
  if (preview.resumes)
    text += fmt::format("Journal: applied before; steps marked done are not run again\n");
  text += "Rehearsed on a scratch copy of the warehouse; nothing was written.\n\n";
  Json steps_json = Json::array();
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const PlanStep& s = plan.steps[i];
    const StepPreview& sp = preview.steps[i];
    std::vector<std::string> opts;
    Json options = Json::object();
    for (const auto& [k, v] : s.options) {
      opts.push_back(k + "=" + ValueText(v));
      options[k] = ValueJson(v);
    }
    text += fmt::format("{}. {} — {}\n   {}\n   checks: {}\n", i + 1, s.kind, sp.outcome,
                        Join(opts, " "), s.Spec().checks);
    Json writes = Json::array();
    // Per table: each action once, with its days and rows; tables only created or dropped
    // are listed together.
    std::map<std::string, std::map<std::string, std::pair<std::vector<std::string>, int64_t>>>
        by_table;
    std::map<std::string, std::vector<std::string>> bare;  // action -> tables
    for (const auto& e : sp.writes) {
      std::string table = AuditedTable(e);
      if (e.outcome != "ok" || table.empty()) continue;
      writes.push_back({{"action", e.action}, {"target", e.target}, {"rows", e.rows}});
      auto dollar = e.target.find('$');
      auto& [days, rows] = by_table[table][e.action];
      if (dollar != std::string::npos) {
        std::string day = e.target.substr(dollar + 1);  // YYYYMMDD, shown as a date
        days.push_back(day.size() == 8
                           ? day.substr(0, 4) + "-" + day.substr(4, 2) + "-" + day.substr(6)
                           : day);
      }
      rows += e.rows;
    }
    for (auto it = by_table.begin(); it != by_table.end();) {
      const auto& actions = it->second;
      bool only_bare = actions.size() == 1 && (actions.begin()->first == "create table" ||
                                               actions.begin()->first == "drop table");
      if (only_bare) {
        bare[actions.begin()->first].push_back(it->first);
        it = by_table.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [action, tables] : bare) {
      std::string list = tables.size() <= 3 ? Join(tables, ", ")
                                            : fmt::format("{}, {} and {} more", tables[0],
                                                          tables[1], tables.size() - 2);
      text += fmt::format("   {}: {} table(s): {}\n", action, tables.size(), list);
    }
    for (const auto& [table, actions] : by_table) {
      std::vector<std::string> whats;
      for (const auto& [action, v] : actions) {
        const auto& [days, rows] = v;
        std::string what = action;
        if (!days.empty())
          what += " " + (days.size() <= 4 ? Join(days, ", ")
                                          : fmt::format("{}..{} ({} days)", days.front(),
                                                        days.back(), days.size()));
        if (rows) what += fmt::format(" ({} rows)", rows);
        whats.push_back(what);
      }
      text += fmt::format("   {}: {}\n", table, Join(whats, "; "));
    }
    if (!sp.protected_written.empty())
      text +=
          fmt::format("   needs approval: writes protected {}\n", Join(sp.protected_written, ", "));
    if (!sp.result.is_null()) {
      if (std::string summary = SummarizeStepResult(sp.result); !summary.empty())
        text += "   result: " + summary + "\n";
    }
    steps_json.push_back({{"step", i + 1},
                          {"kind", StepKindName(s.kind)},
                          {"line", s.line},
                          {"options", options},
                          {"outcome", sp.outcome},
                          {"checks", s.Spec().checks},
                          {"writes", writes},
                          {"needs_approval", sp.protected_written},
                          {"result", sp.result}});
  }
  std::vector<std::vector<std::string>> rows;
  Json tables_json = Json::array();
  for (const auto& t : preview.tables) {
    Json days_json = Json::array();
    for (const auto& [d, v] : t.days) {
      days_json.push_back(
          {{"day", d.empty() ? Json() : Json(d)}, {"now", v.first}, {"after", v.second}});
      if (v.first != v.second) {
        rows.push_back({t.table, d.empty() ? "(unpartitioned)" : d, std::to_string(v.first),
                        std::to_string(v.second), fmt::format("{:+}", v.second - v.first)});
      }
    }
    tables_json.push_back(
        {{"table", t.table}, {"dropped_after", t.dropped_after}, {"days", days_json}});
  }
  text += "\nRows that change (now -> expected after the plan):\n";
  text += rows.empty() ? "  none\n" : RenderTable({"table", "day", "now", "after", "change"}, rows);
  Json deadlines_json = Json::array();
  if (!preview.deadlines.empty()) text += "\nDeadlines:\n";
  for (const auto& d : preview.deadlines) {
    text +=
        fmt::format("  {}  {}{}\n", FormatTimestamp(d.at), d.what, d.passed ? "  (PASSED)" : "");
    deadlines_json.push_back(
        {{"at", FormatTimestamp(d.at)}, {"what", d.what}, {"passed", d.passed}});
  }
  text +=
      outcome.ok()
          ? fmt::format("\nThe rehearsal ran every step. Next: {}backfill apply {}\n",
                        protected_targets.empty() || !approved_by.empty() ? "" : "approval, then ",
                        file)
          : fmt::format("\nThe plan would stop at a step: {}\n", outcome.message());
  ctx.Emit(text, Json{{"plan", plan.name},
                      {"author", plan.author},
                      {"reason", plan.reason},
                      {"sha256", plan.content_hash},
                      {"needs_approval", protected_targets},
                      {"approved_by", approved_by.empty() ? Json() : Json(approved_by)},
                      {"steps", steps_json},
                      {"tables", tables_json},
                      {"deadlines", deadlines_json},
                      {"rehearsal", outcome.ok() ? "ok" : outcome.message()}});
  return outcome;
}

Status CheckOnly(Context& ctx, const std::string& file) {
  BF_ASSIGN_OR_RETURN(Plan p, LoadPlan(ctx, file));
  std::string text = fmt::format(
      "Plan {} by {}: {}\n{} step(s), checked (sha256 {}); `backfill plan {}` previews it on the "
      "warehouse\n",
      p.name, p.author, p.reason, p.steps.size(), p.content_hash.substr(0, 16), file);
  Json steps = Json::array();
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const PlanStep& s = p.steps[i];
    std::vector<std::string> opts;
    Json options = Json::object();
    for (const auto& [k, v] : s.options) {
      opts.push_back(k + "=" + ValueText(v));
      options[k] = ValueJson(v);
    }
    text += fmt::format("  {}. {:<17} {}\n", i + 1, s.kind, Join(opts, " "));
    steps.push_back({{"kind", StepKindName(s.kind)}, {"line", s.line}, {"options", options}});
  }
  ctx.Emit(text, Json{{"name", p.name},
                      {"author", p.author},
                      {"reason", p.reason},
                      {"sha256", p.content_hash},
                      {"steps", steps}});
  return Status::Ok();
}

// --- Approve, apply, status --------------------------------------------------------------------

Status Approve(Context& ctx, const std::string& file) {
  BF_ASSIGN_OR_RETURN(Plan plan, LoadPlan(ctx, file));
  BF_ASSIGN_OR_RETURN(Warehouse * w, ctx.Open(true));
  const std::string& reviewer = ctx.principal;
  auto refuse = [&](const std::string& why) -> Status {
    Status s = Refused(why + "; nothing was recorded");
    for (const auto& p : PlanProjects(plan)) s = w->AuditRefusal(p, "approve plan", plan.name, s);
    return s;
  };
  if (reviewer == plan.author) {
    return refuse(
        fmt::format("{} wrote plan {}: a plan is approved by a second principal, not its author",
                    reviewer, plan.name));
  }
  auto role = w->config().principals.find(reviewer);
  Role have = role == w->config().principals.end() ? Role::kNone : role->second;
  if (have != Role::kWriter && have != Role::kOwner) {
    return refuse(
        fmt::format("{} has role {} in this warehouse; approving a plan needs writer or owner",
                    reviewer, RoleName(have)));
  }
  BF_ASSIGN_OR_RETURN(std::vector<std::string> protected_targets, ProtectedTargets(*w, plan));
  for (const auto& ds : protected_targets) {
    BF_ASSIGN_OR_RETURN(DatasetName name, ParseDatasetName(ds));
    if (Status s = w->CheckAccess(name, Role::kWriter); !s.ok()) {
      return refuse(fmt::format("{} may not write protected dataset {}, which the plan writes: {}",
                                reviewer, ds, s.message()));
    }
  }
  BF_ASSIGN_OR_RETURN(std::vector<PlanApproval> approvals, LoadApprovals(w->dir(), plan.name));
  bool already = false;
  for (const auto& a : approvals)
    already |= a.sha256 == plan.content_hash && a.reviewer == reviewer;
  if (!already) {
    approvals.push_back({plan.content_hash, reviewer, ctx.clock().Now(), protected_targets});
    BF_RETURN_IF_ERROR(SaveApprovals(w->dir(), plan.name, approvals));
    for (const auto& p : PlanProjects(plan)) {
      if (w->HasProject(p)) {
        BF_RETURN_IF_ERROR(
            w->AuditEvent(p, "approve plan", plan.name,
                          fmt::format("sha256 {} by {}", plan.content_hash, reviewer)));
      }
    }
  }
  ctx.Emit(fmt::format("Plan {} (sha256 {}) {} by {}{}.\nAn edited plan needs a new approval.",
                       plan.name, plan.content_hash.substr(0, 16),
                       already ? "was already approved" : "approved", reviewer,
                       protected_targets.empty()
                           ? ""
                           : "; it may write protected " + Join(protected_targets, ", ")),
           Json{{"plan", plan.name},
                {"sha256", plan.content_hash},
                {"approved_by", reviewer},
                {"protected_datasets", protected_targets},
                {"already_approved", already}});
  return Status::Ok();
}

fs::path ReportBase(const std::string& file, const std::string& report_dir) {
  fs::path f(file);
  fs::path dir = report_dir.empty() ? fs::absolute(f).parent_path() : fs::path(report_dir);
  return dir / (f.stem().string() + ".report");
}

Result<std::pair<fs::path, fs::path>> WriteReport(Warehouse& w, const Plan& plan,
                                                  const Journal& journal, const fs::path& base) {
  std::vector<std::string> projects = PlanProjects(plan);
  BF_ASSIGN_OR_RETURN(std::vector<AuditEntry> audit, AuditSince(w, projects, journal.audit_marks));
  std::set<std::string> changed = ChangedTables(audit);
  BF_ASSIGN_OR_RETURN(RowCounts after, CountRows(w, projects, changed));
  PlanReport report = MakeReport(plan, journal, after, changed, audit);
  fs::path md = base, html = base;
  md += ".md";
  html += ".html";
  BF_RETURN_IF_ERROR(WriteFileAtomically(md, ReportMarkdown(report)));
  BF_RETURN_IF_ERROR(WriteFileAtomically(html, ReportHtml(report)));
  return std::pair{md, html};
}

Json StepsJson(const Plan& plan, const Journal& j) {
  Json steps = Json::array();
  for (size_t i = 0; i < j.steps.size() && i < plan.steps.size(); ++i) {
    const JournalStep& s = j.steps[i];
    steps.push_back(
        {{"step", i + 1},
         {"kind", StepKindName(s.kind)},
         {"state", StepStateName(s.state)},
         {"attempts", s.attempts},
         {"started_at", s.started_at ? Json(FormatTimestamp(*s.started_at)) : Json()},
         {"finished_at", s.finished_at ? Json(FormatTimestamp(*s.finished_at)) : Json()},
         {"error", s.error.empty() ? Json() : Json(s.error)},
         {"result", s.result}});
  }
  return steps;
}

std::string StepsText(const Plan& plan, const Journal& j) {
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < j.steps.size() && i < plan.steps.size(); ++i) {
    const JournalStep& s = j.steps[i];
    std::string detail = s.state == StepState::kFailed ? s.error : SummarizeStepResult(s.result);
    if (detail.size() > 90) detail = detail.substr(0, 87) + "...";
    rows.push_back(
        {std::to_string(i + 1), std::string(StepKindName(s.kind)),
         s.state == StepState::kRunning ? "interrupted" : std::string(StepStateName(s.state)),
         std::to_string(s.attempts), s.finished_at ? FormatTimestamp(*s.finished_at) : "", detail});
  }
  return RenderTable({"step", "kind", "state", "attempts", "finished", "result"}, rows);
}

Status Apply(Context& ctx, const std::string& file, const std::string& report_dir) {
  BF_ASSIGN_OR_RETURN(Plan plan, LoadPlan(ctx, file));
  BF_ASSIGN_OR_RETURN(Warehouse * w, ctx.Open(true));
  BF_ASSIGN_OR_RETURN(std::optional<Journal> loaded, LoadJournal(w->dir(), plan.name));
  if (loaded && loaded->sha256 != plan.content_hash) {
    if (!loaded->finished()) {
      size_t done = 0;
      for (const auto& s : loaded->steps) done += s.state == StepState::kDone;
      return Refused(
          fmt::format("plan {} was changed after it started to apply ({} of {} step(s) done with "
                      "sha256 {}, the file now has {}); "
                      "nothing was run. Put the applied version back to finish it, or give the new "
                      "plan another name",
                      plan.name, done, loaded->steps.size(), loaded->sha256.substr(0, 16),
                      plan.content_hash.substr(0, 16)));
    }
    BF_RETURN_IF_ERROR(ArchiveJournal(w->dir(), *loaded));
    loaded.reset();
  }
  fs::path base = ReportBase(file, report_dir);
  if (loaded && loaded->finished()) {
    BF_ASSIGN_OR_RETURN(auto paths, WriteReport(*w, plan, *loaded, base));
    ctx.Emit(
        fmt::format("Plan {} was already applied (finished {}); nothing was run.\nReport: {}\n",
                    plan.name, FormatTimestamp(*loaded->finished_at), paths.first.string()),
        Json{{"plan", plan.name},
             {"sha256", plan.content_hash},
             {"already_applied", true},
             {"steps", StepsJson(plan, *loaded)},
             {"report", {{"markdown", paths.first.string()}, {"html", paths.second.string()}}}});
    return Status::Ok();
  }
  BF_ASSIGN_OR_RETURN(std::vector<std::string> protected_targets, ProtectedTargets(*w, plan));
  std::string approved_by;
  if (!protected_targets.empty()) {
    BF_ASSIGN_OR_RETURN(std::vector<PlanApproval> approvals, LoadApprovals(w->dir(), plan.name));
    for (const auto& a : approvals) {
      if (a.sha256 == plan.content_hash) approved_by = a.reviewer;
    }
    if (approved_by.empty()) {
      Status s = Refused(fmt::format(
          "plan {} writes protected {}: it needs an approval of this exact file (sha256 {}) by a "
          "second principal: "
          "`backfill approve {} --as REVIEWER`; nothing was run",
          plan.name, Join(protected_targets, ", "), plan.content_hash.substr(0, 16), file));
      for (const auto& p : PlanProjects(plan)) s = w->AuditRefusal(p, "apply plan", plan.name, s);
      return s;
    }
    w->AllowProtectedWrites();
  }
  Journal journal = loaded ? *loaded : Journal{};
  bool resuming = loaded.has_value();
  journal.principal = ctx.principal;
  journal.file = fs::absolute(file).string();
  journal.approved_by = approved_by;
  if (!resuming) {
    for (const auto& p : PlanProjects(plan)) {
      if (w->HasProject(p)) {
        BF_RETURN_IF_ERROR(
            w->AuditEvent(p, "apply plan", plan.name,
                          fmt::format("sha256 {}{}", plan.content_hash,
                                      approved_by.empty() ? "" : ", approved by " + approved_by)));
      }
    }
  }
  PathMap paths{fs::absolute(file).parent_path(), {}, {}};
  bool show = ProgressWanted(ctx);
  ProgressBar bar(show, plan.steps.size());
  StepRunner runner = MakeRunner(ctx, *w, plan, paths, [&bar](std::string_view l) { bar.Line(l); });
  ApplyEvents events;
  events.step_started = [&](size_t i, const PlanStep& s, const JournalStep& js) {
    bar.Step(i, s.Label(i) + (js.attempts > 1 ? fmt::format(" (attempt {})", js.attempts) : ""));
  };
  events.step_finished = [&](size_t i, const PlanStep& s, const JournalStep& js) {
    bar.Finish(
        fmt::format("{} {}: {}", js.state == StepState::kDone ? "done  " : "FAILED", s.Label(i),
                    js.state == StepState::kDone ? SummarizeStepResult(js.result) : js.error));
  };
  events.step_undone = [&](size_t i, const PlanStep& s, const std::string& what) {
    ctx.Note(fmt::format("{}: {}", s.Label(i), what));
  };
  if (resuming) {
    size_t done = 0;
    for (const auto& s : journal.steps) done += s.state == StepState::kDone;
    ctx.Note(fmt::format("Resuming plan {}: {} of {} step(s) already done.", plan.name, done,
                         journal.steps.size()));
  }
  Status applied = ApplyPlan(*w, plan, journal, runner, events);
  if (!journal.started_at) return applied;  // failed before the journal existed
  BF_ASSIGN_OR_RETURN(auto report, WriteReport(*w, plan, journal, base));
  std::string text = StepsText(plan, journal);
  text += applied.ok() ? fmt::format("Plan {} applied.\n", plan.name)
                       : fmt::format("Plan {} stopped: {}\n", plan.name, applied.message());
  if (!applied.ok())
    text += fmt::format(
        "Fix the cause, then run `backfill apply {}` again: it continues with this step.\n", file);
  text += fmt::format("Report: {} and {}\n", report.first.string(), report.second.string());
  ctx.Emit(text, Json{{"plan", plan.name},
                      {"sha256", plan.content_hash},
                      {"applied", applied.ok()},
                      {"resumed", resuming},
                      {"approved_by", approved_by.empty() ? Json() : Json(approved_by)},
                      {"steps", StepsJson(plan, journal)},
                      {"report",
                       {{"markdown", report.first.string()}, {"html", report.second.string()}}}});
  return applied;
}

Status ShowStatus(Context& ctx, const std::string& file) {
  BF_ASSIGN_OR_RETURN(Plan plan, LoadPlan(ctx, file));
  BF_ASSIGN_OR_RETURN(Warehouse * w, ctx.Open(false));
  BF_ASSIGN_OR_RETURN(std::optional<Journal> journal, LoadJournal(w->dir(), plan.name));
  BF_ASSIGN_OR_RETURN(std::vector<PlanApproval> approvals, LoadApprovals(w->dir(), plan.name));
  std::string approved_by;
  for (const auto& a : approvals) {
    if (a.sha256 == plan.content_hash) approved_by = a.reviewer;
  }
  std::string text = fmt::format(
      "Plan {} (sha256 {}): {}\n", plan.name, plan.content_hash.substr(0, 16),
      approved_by.empty() ? "no approval of this version" : "approved by " + approved_by);
  Json j{{"plan", plan.name},
         {"sha256", plan.content_hash},
         {"approved_by", approved_by.empty() ? Json() : Json(approved_by)}};
  if (!journal) {
    text += "Not applied yet.\n";
    j["state"] = "not applied";
  } else if (journal->sha256 != plan.content_hash) {
    text += fmt::format("The journal is of another version of this plan (sha256 {}):\n",
                        journal->sha256.substr(0, 16));
    j["state"] = "journal of another version";
    j["journal_sha256"] = journal->sha256;
  } else {
    j["state"] = journal->finished() ? "applied" : "in progress or interrupted";
  }
  if (journal) {
    text += StepsText(plan, *journal);
    if (journal->finished())
      text += fmt::format("Applied {} (started {}).\n", FormatTimestamp(*journal->finished_at),
                          FormatTimestamp(*journal->started_at));
    j["steps"] = StepsJson(plan, *journal);
  }
  ctx.Emit(text, j);
  return Status::Ok();
}

struct NewPlanArgs {
  std::string template_name, out, summary;
  DraftOptions draft;
};

// `plan new`: a template to fill in, or (--from-triage) a plan drafted from a triage summary.
Status NewPlan(Context& ctx, NewPlanArgs a) {
  std::string path = a.out.empty() ? a.template_name + ".toml" : a.out;
  if (fs::exists(path)) return AlreadyExists(fmt::format("{} exists; choose another --out", path));
  if (a.summary.empty()) {
    const DraftOptions defaults;
    if (a.draft.include_unclassified || !a.draft.filter.only.empty() ||
        !a.draft.filter.exclude.empty() || a.draft.project != defaults.project ||
        a.draft.backfill_project != defaults.backfill_project) {
      return ctx.Usage(InvalidArgument(
          "--project, --backfill-project, -o, -x and --include-unclassified need --from-triage "
          "(a template is filled in by hand)"));
    }
    BF_ASSIGN_OR_RETURN(std::string text, ctx.Usage(PlanTemplate(a.template_name)));
    BF_RETURN_IF_ERROR(WriteFileAtomically(path, text));
    ctx.Emit(fmt::format("Wrote {}: fill in the TODOs, then `backfill plan {}`.", path, path),
             Json{{"file", path}, {"template", a.template_name}});
    return Status::Ok();
  }
  if (a.template_name != "error-replay") {
    return ctx.Usage(InvalidArgument("--from-triage drafts an error-replay plan only"));
  }
  BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(a.draft.project)));
  BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(a.draft.backfill_project)));
  BF_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(a.summary));
  Json summary = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (summary.is_discarded()) {
    return InvalidArgument(
        fmt::format("{}: not JSON (save `errors summarize --format json`)", a.summary));
  }
  a.draft.summary_file = a.summary;
  a.draft.plan_dir = fs::absolute(path).parent_path();
  a.draft.author = ctx.principal;
  // As typed, but with `backfill` for the path of the binary.
  const size_t args_start = ctx.command_line.find(' ');
  if (args_start != std::string::npos)
    a.draft.command = "backfill" + ctx.command_line.substr(args_start);
  BF_ASSIGN_OR_RETURN(Draft d, DraftErrorReplay(summary, a.draft));
  BF_RETURN_IF_ERROR(WriteFileAtomically(path, d.text));
  std::vector<std::string> ranges;
  for (const auto& r : d.ranges) ranges.push_back(r.ToString());
  ctx.Emit(fmt::format("Wrote {}: {} record(s) of {} table(s) over {} to replay, drafted from {}. "
                       "Read it, then `backfill plan {}`.",
                       path, d.records, d.tables.size(), Join(ranges, ", "), a.summary, path),
           Json{{"file", path},
                {"template", a.template_name},
                {"from_triage", a.summary},
                {"tables", d.tables},
                {"dates", ranges},
                {"records", d.records}});
  return Status::Ok();
}

}  // namespace

void AddPlanCommands(CLI::App& app, Context& ctx) {
  auto file = std::make_shared<std::string>();
  auto* plan = app.add_subcommand(
      "plan", "Preview a plan file: rehearse every step on a scratch copy of the warehouse");
  plan->add_option("FILE", *file, "Plan file (TOML)");
  auto check_only = std::make_shared<bool>(false);
  plan->add_flag("--check", *check_only,
                 "Only check the file (syntax, step kinds, options); no warehouse needed");
  auto a = std::make_shared<NewPlanArgs>();
  auto* create = plan->add_subcommand("new", "Write a template plan to fill in, or a drafted one");
  create->add_option("--template", a->template_name, "error-replay or time-travel-rescue")
      ->required();
  create->add_option("--out", a->out,
                     "File to write (default: <template>.toml); never overwritten");
  create->add_option("--from-triage", a->summary,
                     "error-replay: draft the plan from `backfill errors summarize --by "
                     "table,day[,error_type] --format json` output saved in this file");
  create->add_option(
      "--project", a->draft.project,
      "With --from-triage: the production project (default: " + a->draft.project + ")");
  create->add_option("--backfill-project", a->draft.backfill_project,
                     "With --from-triage: the project the replay decodes into (default: " +
                         a->draft.backfill_project + ")");
  AddTableFilterFlags(create, a->draft.filter);
  create->add_flag("--include-unclassified", a->draft.include_unclassified,
                   "With --from-triage: replay unclassified records too (ingestion-sink's raw "
                   "error output keeps no reason; narrow with -o/-x)");
  create->callback([&ctx, a] { ctx.Run([&] { return NewPlan(ctx, *a); }); });
  plan->callback([&ctx, file, plan, check_only] {
    if (plan->got_subcommand("new")) return;
    ctx.Run([&]() -> Status {
      if (file->empty())
        return ctx.Usage(InvalidArgument("plan needs a FILE (or `plan new --template NAME`)"));
      if (*check_only) return CheckOnly(ctx, *file);
      return Preview(ctx, *file);
    });
  });

  auto approve_file = std::make_shared<std::string>();
  auto* approve = app.add_subcommand(
      "approve", "Approve a plan file as a second principal (--as REVIEWER); bound to its content");
  approve->add_option("FILE", *approve_file, "Plan file (TOML)")->required();
  approve->callback([&ctx, approve_file] { ctx.Run([&] { return Approve(ctx, *approve_file); }); });

  auto apply_file = std::make_shared<std::string>();
  auto report_dir = std::make_shared<std::string>();
  auto* apply = app.add_subcommand(
      "apply", "Apply a plan: its steps in order, journaled; run again after a crash to resume");
  apply->add_option("FILE", *apply_file, "Plan file (TOML)")->required();
  apply->add_option("--report-dir", *report_dir,
                    "Where the report goes (default: beside the plan file)");
  apply->callback([&ctx, apply_file, report_dir] {
    ctx.Run([&] { return Apply(ctx, *apply_file, *report_dir); });
  });

  auto status_file = std::make_shared<std::string>();
  auto* status = app.add_subcommand("status", "Show each step's state in a plan's journal");
  status->add_option("FILE", *status_file, "Plan file (TOML)")->required();
  status->callback([&ctx, status_file] { ctx.Run([&] { return ShowStatus(ctx, *status_file); }); });
}

}  // namespace backfill::cli
