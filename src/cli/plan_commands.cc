// Plan files: `plan new --template NAME` writes one to fill in; `plan FILE` checks it.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "cli/cli.h"
#include "core/text.h"
#include "plan/plan.h"

namespace backfill::cli {
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

}  // namespace

void AddPlanCommands(CLI::App& app, Context& ctx) {
  auto file = std::make_shared<std::string>();
  auto* plan = app.add_subcommand("plan", "Plan files: a whole recovery as one reviewable object");
  plan->add_option("FILE", *file, "Plan file (TOML) to check");
  auto tmpl = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto* create = plan->add_subcommand("new", "Write a template plan to fill in");
  create->add_option("--template", *tmpl, "error-replay or time-travel-rescue")->required();
  create->add_option("--out", *out, "File to write (default: <template>.toml); never overwritten");
  create->callback([&ctx, tmpl, out] {
    ctx.Run([&]() -> Status {
      BF_ASSIGN_OR_RETURN(std::string text, ctx.Usage(PlanTemplate(*tmpl)));
      std::string path = out->empty() ? *tmpl + ".toml" : *out;
      if (std::filesystem::exists(path)) return AlreadyExists(fmt::format("{} exists; choose another --out", path));
      std::ofstream f(path);
      f << text;
      if (!f) return IoError(fmt::format("cannot write {}", path));
      ctx.Emit(fmt::format("Wrote {}: fill in the TODOs, then `backfill plan {}`.", path, path),
               Json{{"file", path}, {"template", *tmpl}});
      return Status::Ok();
    });
  });
  plan->callback([&ctx, file, plan] {
    if (plan->got_subcommand("new")) return;
    ctx.Run([&]() -> Status {
      if (file->empty()) return ctx.Usage(InvalidArgument("plan needs a FILE (or `plan new --template NAME`)"));
      std::ifstream in(*file);
      if (!in) return NotFound(fmt::format("cannot read plan file {}", *file));
      std::stringstream ss;
      ss << in.rdbuf();
      BF_ASSIGN_OR_RETURN(Plan p, ParsePlan(ss.str(), *file));
      std::string text = fmt::format("Plan {} by {}: {}\n{} step(s), checked (sha256 {})\n", p.name, p.author, p.reason,
                                     p.steps.size(), p.content_hash.substr(0, 16));
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
        steps.push_back({{"kind", s.kind}, {"line", s.line}, {"options", options}});
      }
      ctx.Emit(text, Json{{"name", p.name}, {"author", p.author}, {"reason", p.reason}, {"sha256", p.content_hash}, {"steps", steps}});
      return Status::Ok();
    });
  });
}

}  // namespace backfill::cli
