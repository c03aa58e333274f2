#include "plan/journal.h"

#include <fmt/format.h>

#include "core/files.h"

namespace backfill {
namespace fs = std::filesystem;
namespace {

PlanJson TimeJson(const std::optional<Timestamp>& t) {
  return t ? PlanJson(FormatTimestamp(*t)) : PlanJson(nullptr);
}

Result<std::optional<Timestamp>> TimeFrom(const PlanJson& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::optional<Timestamp>();
  BF_ASSIGN_OR_RETURN(Timestamp t, ParseTimestamp(j[key].get<std::string>()));
  return std::optional<Timestamp>(t);
}

template <typename T>
T Get(const PlanJson& j, const char* key, T fallback) {
  return j.contains(key) && !j[key].is_null() ? j[key].get<T>() : fallback;
}

fs::path JournalFile(const fs::path& warehouse_dir, const std::string& plan) {
  return PlanDir(warehouse_dir, plan) / "journal.json";
}

}  // namespace

std::string_view StepStateName(StepState state) {
  switch (state) {
    case StepState::kPending:
      return "pending";
    case StepState::kRunning:
      return "running";
    case StepState::kDone:
      return "done";
    case StepState::kFailed:
      return "failed";
  }
  return "?";
}

std::optional<StepState> ParseStepState(std::string_view name) {
  for (StepState s :
       {StepState::kPending, StepState::kRunning, StepState::kDone, StepState::kFailed}) {
    if (StepStateName(s) == name) return s;
  }
  return std::nullopt;
}

fs::path PlanDir(const fs::path& warehouse_dir, const std::string& plan_name) {
  return warehouse_dir / "plans" / plan_name;
}

Result<std::optional<Journal>> LoadJournal(const fs::path& warehouse_dir,
                                           const std::string& plan_name) {
  fs::path file = JournalFile(warehouse_dir, plan_name);
  auto text = ReadWholeFile(file);
  if (!text.ok() && text.status().code() == StatusCode::kNotFound) return std::optional<Journal>();
  BF_RETURN_IF_ERROR(text.status());
  PlanJson j = PlanJson::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return DataLoss(fmt::format("{}: not a valid journal (JSON)", file.string()));
  try {
    Journal r;
    r.plan = Get<std::string>(j, "plan", "");
    r.sha256 = Get<std::string>(j, "sha256", "");
    r.file = Get<std::string>(j, "file", "");
    r.principal = Get<std::string>(j, "principal", "");
    r.approved_by = Get<std::string>(j, "approved_by", "");
    BF_ASSIGN_OR_RETURN(r.started_at, TimeFrom(j, "started_at"));
    BF_ASSIGN_OR_RETURN(r.finished_at, TimeFrom(j, "finished_at"));
    r.audit_marks = Get<std::map<std::string, int64_t>>(j, "audit_marks", {});
    r.before = Get<RowCounts>(j, "before", {});
    for (const auto& s : j.at("steps")) {
      JournalStep st;
      std::string kind = Get<std::string>(s, "kind", ""),
                  state = Get<std::string>(s, "state", "pending");
      std::optional<StepKind> known_kind = ParseStepKind(kind);
      std::optional<StepState> known_state = ParseStepState(state);
      if (!known_kind || !known_state) {
        return DataLoss(fmt::format(
            "{}: step {} has {} '{}', which this version of backfill does not know; nothing was "
            "run",
            file.string(), r.steps.size() + 1, known_kind ? "state" : "kind",
            known_kind ? state : kind));
      }
      st.kind = *known_kind;
      st.state = *known_state;
      st.attempts = Get<int>(s, "attempts", 0);
      BF_ASSIGN_OR_RETURN(st.started_at, TimeFrom(s, "started_at"));
      BF_ASSIGN_OR_RETURN(st.finished_at, TimeFrom(s, "finished_at"));
      st.write_marks = Get<std::map<std::string, int64_t>>(s, "write_marks", {});
      st.audit_marks = Get<std::map<std::string, int64_t>>(s, "audit_marks", {});
      if (s.contains("result")) st.result = s["result"];
      st.error = Get<std::string>(s, "error", "");
      r.steps.push_back(std::move(st));
    }
    return std::optional<Journal>(std::move(r));
  } catch (const std::exception& e) {
    return DataLoss(fmt::format("{}: not a valid journal: {}", file.string(), e.what()));
  }
}

Status SaveJournal(const fs::path& warehouse_dir, const Journal& r) {
  PlanJson steps = PlanJson::array();
  for (const auto& s : r.steps) {
    steps.push_back({{"kind", StepKindName(s.kind)},
                     {"state", StepStateName(s.state)},
                     {"attempts", s.attempts},
                     {"started_at", TimeJson(s.started_at)},
                     {"finished_at", TimeJson(s.finished_at)},
                     {"write_marks", s.write_marks},
                     {"audit_marks", s.audit_marks},
                     {"result", s.result},
                     {"error", s.error}});
  }
  PlanJson j = {{"plan", r.plan},
                {"sha256", r.sha256},
                {"file", r.file},
                {"principal", r.principal},
                {"approved_by", r.approved_by},
                {"started_at", TimeJson(r.started_at)},
                {"finished_at", TimeJson(r.finished_at)},
                {"audit_marks", r.audit_marks},
                {"before", r.before},
                {"steps", steps}};
  return WriteFileAtomically(JournalFile(warehouse_dir, r.plan), j.dump(2) + "\n");
}

Status ArchiveJournal(const fs::path& warehouse_dir, const Journal& journal) {
  fs::path from = JournalFile(warehouse_dir, journal.plan);
  fs::path to = PlanDir(warehouse_dir, journal.plan) /
                fmt::format("journal-{}.json", journal.sha256.substr(0, 16));
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec)
    return IoError(
        fmt::format("cannot move {} to {}: {}", from.string(), to.string(), ec.message()));
  return Status::Ok();
}

Result<std::vector<PlanApproval>> LoadApprovals(const fs::path& warehouse_dir,
                                                const std::string& plan_name) {
  fs::path file = PlanDir(warehouse_dir, plan_name) / "approvals.json";
  std::vector<PlanApproval> out;
  auto text = ReadWholeFile(file);
  if (!text.ok() && text.status().code() == StatusCode::kNotFound) return out;
  BF_RETURN_IF_ERROR(text.status());
  PlanJson j = PlanJson::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_array())
    return DataLoss(fmt::format("{}: not a valid approvals file (JSON)", file.string()));
  try {
    for (const auto& a : j) {
      PlanApproval p;
      p.sha256 = a.at("sha256").get<std::string>();
      p.reviewer = a.at("reviewer").get<std::string>();
      BF_ASSIGN_OR_RETURN(p.at, ParseTimestamp(a.at("at").get<std::string>()));
      p.protected_datasets = Get<std::vector<std::string>>(a, "protected_datasets", {});
      out.push_back(std::move(p));
    }
  } catch (const std::exception& e) {
    return DataLoss(fmt::format("{}: not a valid approvals file: {}", file.string(), e.what()));
  }
  return out;
}

Status SaveApprovals(const fs::path& warehouse_dir, const std::string& plan_name,
                     const std::vector<PlanApproval>& approvals) {
  PlanJson j = PlanJson::array();
  for (const auto& a : approvals) {
    j.push_back({{"sha256", a.sha256},
                 {"reviewer", a.reviewer},
                 {"at", FormatTimestamp(a.at)},
                 {"protected_datasets", a.protected_datasets}});
  }
  return WriteFileAtomically(PlanDir(warehouse_dir, plan_name) / "approvals.json",
                             j.dump(2) + "\n");
}

}  // namespace backfill
