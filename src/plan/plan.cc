#include "plan/plan.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "core/names.h"
#include "core/sha256.h"
#include "core/time.h"

namespace backfill {
namespace {

using T = StepOptionSpec::Type;
using M = StepOptionSpec::Meaning;

// Edit distance, to suggest the option a typo meant.
size_t Distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

const char* TypeName(T t) {
  switch (t) {
    case T::kString:
      return "a string";
    case T::kInt:
      return "an integer";
    case T::kBool:
      return "true or false";
    case T::kList:
      return "a list of strings";
  }
  return "?";
}

// Checks values that have a syntax of their own, so a plan fails at parse time, not mid-apply.
Status CheckValue(const StepOptionSpec& option, const StepValue& v) {
  auto str = [&]() -> const std::string& { return std::get<std::string>(v); };
  switch (option.meaning) {
    case M::kDates:
      return ParseDateRange(str()).status();
    case M::kTimestamp:
      return ParseTimestamp(str()).status().WithContext("as_of must be an absolute time in a plan");
    case M::kTable:
      return ParseTableName(str()).status();
    case M::kProject:
      return ValidateProjectName(str());
    case M::kText:
    case M::kPath:
    case M::kOutput:
      return Status::Ok();
  }
  return Status::Ok();
}

}  // namespace

std::string PlanStep::String(const std::string& key, const std::string& fallback) const {
  auto it = options.find(key);
  return it != options.end() && std::holds_alternative<std::string>(it->second)
             ? std::get<std::string>(it->second)
             : fallback;
}

std::vector<std::string> PlanStep::List(const std::string& key) const {
  auto it = options.find(key);
  return it != options.end() && std::holds_alternative<std::vector<std::string>>(it->second)
             ? std::get<std::vector<std::string>>(it->second)
             : std::vector<std::string>{};
}

bool PlanStep::Flag(const std::string& key) const {
  auto it = options.find(key);
  return it != options.end() && std::holds_alternative<bool>(it->second) &&
         std::get<bool>(it->second);
}

int64_t PlanStep::Int(const std::string& key, int64_t fallback) const {
  auto it = options.find(key);
  return it != options.end() && std::holds_alternative<int64_t>(it->second)
             ? std::get<int64_t>(it->second)
             : fallback;
}

std::string PlanStep::Label(size_t index) const {
  return fmt::format("step {} ({}, line {})", index + 1, kind, line);
}

std::optional<RestoredDays> RestoredDaysOf(const Plan& plan, size_t validate_index) {
  const PlanStep& v = plan.steps[validate_index];
  if (v.kind != StepKind::kValidate || v.options.count("dates")) return std::nullopt;
  for (size_t i = validate_index; i-- > 0;) {
    const PlanStep& r = plan.steps[i];
    if (r.kind == StepKind::kRestore && r.String("snapshot") == v.String("expected") &&
        r.String("to") == v.String("actual")) {
      return RestoredDays{r.String("dates")};
    }
  }
  return std::nullopt;
}

Result<Plan> ParsePlan(std::string_view text, std::string_view origin) {
  toml::table doc;
  try {
    doc = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return InvalidArgument(fmt::format("{}:{}:{}: {}", origin, e.source().begin.line,
                                       e.source().begin.column, e.description()));
  }
  auto at = [&](const toml::node* n) { return n ? static_cast<int>(n->source().begin.line) : 0; };
  Plan plan;
  for (auto [key, field] :
       {std::pair{"name", &plan.name}, {"reason", &plan.reason}, {"author", &plan.author}}) {
    auto v = doc[key].value<std::string>();
    if (!v || v->empty()) {
      return InvalidArgument(
          fmt::format("{}: the plan needs a non-empty `{} = \"...\"` at the top", origin, key));
    }
    *field = *v;
  }
  // The name names the plan's folder in the warehouse (journal, approvals).
  bool name_ok =
      plan.name.front() != '.' && std::all_of(plan.name.begin(), plan.name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
  if (!name_ok) {
    return InvalidArgument(
        fmt::format("{}:{}: name '{}' may hold only letters, digits, '-', '_' and '.'", origin,
                    at(doc.get("name")), plan.name));
  }
  for (const auto& [key, node] : doc) {
    if (key != "name" && key != "reason" && key != "author" && key != "billing_project" &&
        key != "step") {
      return InvalidArgument(
          fmt::format("{}:{}: unknown top-level key '{}' (expected name, reason, author, "
                      "billing_project and [[step]] tables)",
                      origin, at(&node), key.str()));
    }
  }
  if (const toml::node* b = doc.get("billing_project")) {
    auto v = b->value<std::string>();
    if (!v || !ValidateProjectName(*v).ok()) {
      return InvalidArgument(
          fmt::format("{}:{}: billing_project must be a project id string", origin, at(b)));
    }
    plan.billing_project = *v;
  }
  const toml::array* steps = doc["step"].as_array();
  if (!steps || steps->empty())
    return InvalidArgument(fmt::format("{}: the plan has no [[step]]", origin));
  for (size_t i = 0; i < steps->size(); ++i) {
    const toml::table* t = (*steps)[i].as_table();
    if (!t)
      return InvalidArgument(fmt::format("{}: step {} must be a [[step]] table", origin, i + 1));
    PlanStep step;
    step.line = at(t);
    auto kind = (*t)["kind"].value<std::string>();
    if (!kind)
      return InvalidArgument(fmt::format("{}:{}: step {} has no `kind`", origin, step.line, i + 1));
    std::optional<StepKind> known = ParseStepKind(*kind);
    if (!known) {
      std::vector<std::string_view> names;
      for (const auto& k : StepKinds()) names.push_back(k.name);
      return InvalidArgument(
          fmt::format("{}:{}: step {} has kind '{}', which does not exist (step kinds: {})", origin,
                      step.line, i + 1, *kind, fmt::join(names, ", ")));
    }
    step.kind = *known;
    const StepKindSpec* spec = &step.Spec();
    for (const auto& [key, node] : *t) {
      if (key == "kind") continue;
      std::string name(key.str());
      const StepOptionSpec* opt = spec->Option(name);
      if (!opt) {
        std::string_view best;
        size_t best_d = 99;
        for (const auto& o : spec->options) {
          if (size_t d = Distance(name, o.name); d < best_d) best_d = d, best = o.name;
        }
        return InvalidArgument(
            fmt::format("{}:{}: {} has no option '{}'{}", origin, at(&node), step.Label(i), name,
                        best_d <= 3 ? fmt::format(" (did you mean '{}'?)", best) : ""));
      }
      StepValue value;
      bool ok = true;
      switch (opt->type) {
        case T::kString:
          ok = node.is_string();
          if (ok) value = *node.value<std::string>();
          break;
        case T::kInt:
          ok = node.is_integer();
          if (ok) value = *node.value<int64_t>();
          break;
        case T::kBool:
          ok = node.is_boolean();
          if (ok) value = *node.value<bool>();
          break;
        case T::kList: {
          std::vector<std::string> list;
          if (const toml::array* a = node.as_array()) {
            for (const auto& item : *a) {
              if (!item.is_string()) {
                ok = false;
                break;
              }
              list.push_back(*item.value<std::string>());
            }
          } else if (node.is_string()) {
            list.push_back(*node.value<std::string>());  // one value may stand alone
          } else {
            ok = false;
          }
          value = list;
          break;
        }
      }
      if (!ok) {
        return InvalidArgument(fmt::format("{}:{}: {}: option '{}' must be {}", origin, at(&node),
                                           step.Label(i), name, TypeName(opt->type)));
      }
      if (Status s = CheckValue(*opt, value); !s.ok()) {
        return InvalidArgument(fmt::format("{}:{}: {}: option '{}': {}", origin, at(&node),
                                           step.Label(i), name, s.message()));
      }
      step.options[name] = std::move(value);
    }
    for (const auto& o : spec->options) {
      if (o.required && !step.options.count(std::string(o.name))) {
        return InvalidArgument(
            fmt::format("{}:{}: {} needs option '{}'", origin, step.line, step.Label(i), o.name));
      }
    }
    plan.steps.push_back(std::move(step));
  }
  plan.content_hash = Sha256HexOfParts({std::string(text)});
  return plan;
}

std::vector<std::string> PlanTemplateNames() { return {"error-replay", "time-travel-rescue"}; }

Result<std::string> PlanTemplate(std::string_view name) {
  if (name == "error-replay") {
    return std::string(
        R"(# Error replay: records a sink sent to error output for an infrastructure reason (API rate
# limit, table lookup failure) are staged, decoded again into a separate backfill project,
# appended to production without duplicates, and the stable days rebuilt.
# Fill in the TODOs, then: backfill plan THIS_FILE (preview), backfill approve, backfill apply.
name = "error-replay-TODO"
reason = "TODO: what happened, and the bug or incident link"
author = "TODO"

[[step]]
kind = "stage"                        # verified copies of the day folders
from = "TODO/error-output"
to = "staged"
dates = "2020-03-16..2020-03-18"

[[step]]
kind = "mirror"                       # the same live tables in the backfill project
from_project = "moz-fx-data-shared-prod"
to_project = "moz-fx-data-backfill-1"
only = ["*_live.*"]

[[step]]
kind = "sink"                         # select by attributes: ingestion-sink's error output has no error_type
input = ["staged"]
project = "moz-fx-data-backfill-1"
error_output = "replay-errors"
where = ["document_namespace=TODO"]

[[step]]
kind = "append"                       # only (document_id, day) not yet in production
from_project = "moz-fx-data-backfill-1"
to_project = "moz-fx-data-shared-prod"
only = ["*_live.*"]
dates = "2020-03-16..2020-03-18"

[[step]]
kind = "copy-deduplicate"             # rebuild the affected stable days
project = "moz-fx-data-shared-prod"
only = ["*_live.*"]
dates = "2020-03-16..2020-03-18"

[[step]]
kind = "cleanup"
project = "moz-fx-data-backfill-1"
staged = "staged"
)");
  }
  if (name == "time-travel-rescue") {
    return std::string(
        R"(# Time-travel rescue: partitions deleted or overwritten less than the time-travel window ago
# are copied as they were into a restricted dataset, the missing ones inserted back (a protected
# dataset needs the plan approved by a second person), validated, and the snapshot dropped.
# Use an absolute as_of: the rescue must read the same instant when previewed and applied.
name = "time-travel-rescue-TODO"
reason = "TODO: what deleted the data, and the bug or incident link"
author = "TODO"

[[step]]
kind = "snapshot"
table = "moz-fx-data-shared-prod.TODO_derived.TODO_v1"
as_of = "2020-04-01T02:30:00Z"        # before the incident, inside the window
to = "moz-fx-data-backfill-1.rescue_restricted.TODO_v1"

[[step]]
kind = "restore"
snapshot = "moz-fx-data-backfill-1.rescue_restricted.TODO_v1"
to = "moz-fx-data-shared-prod.TODO_derived.TODO_v1"

[[step]]
kind = "validate"
expected = "moz-fx-data-backfill-1.rescue_restricted.TODO_v1"
actual = "moz-fx-data-shared-prod.TODO_derived.TODO_v1"

[[step]]
kind = "drop"                         # refused unless the validation above passed
table = "moz-fx-data-backfill-1.rescue_restricted.TODO_v1"
)");
  }
  return InvalidArgument(
      fmt::format("no plan template '{}' (templates: error-replay, time-travel-rescue)", name));
}

}  // namespace backfill
