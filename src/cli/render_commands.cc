// `render FILE --target bigquery --out DIR`: the plan as numbered GoogleSQL files, run.sh and
// README.md, expanded against the warehouse's catalog (read-only).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "cli/cli.h"
#include "core/names.h"
#include "core/text.h"
#include "plan/plan.h"
#include "plan/render.h"
#include "warehouse/zetasql.h"

namespace backfill::cli {
namespace {

namespace fs = std::filesystem;

// The analyzer's catalog, written with the SQL files: what ZetaSQL resolves their names against.
constexpr const char* kCatalogFile = "catalog.json";

// What an earlier rendering left in DIR (and --force may replace): numbered SQL files, run.sh,
// README.md and catalog.json. Anything else (notes, a run's .run-state-* file) is never touched.
bool IsRenderedFile(const fs::path& p) {
  static const std::regex numbered(R"(\d{2,}-.+\.sql)");
  std::string name = p.filename().string();
  return name == "run.sh" || name == "README.md" || name == kCatalogFile ||
         std::regex_match(name, numbered);
}

Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) return IoError(fmt::format("cannot write {}", path.string()));
  return Status::Ok();
}

}  // namespace

void AddRenderCommands(CLI::App& app, Context& ctx) {
  struct Args {
    std::string file, target, out, billing_project;
    std::vector<std::string> bucket_map;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "render", "Render a plan as a reviewable BigQuery script (GoogleSQL + bq/gcloud storage)");
  cmd->add_option("FILE", a->file, "Plan file (TOML)")->required();
  cmd->add_option("--target", a->target, "What to render for: bigquery")->required();
  cmd->add_option("--out", a->out, "Directory to write (created; must be empty unless --force)")
      ->required();
  cmd->add_option(
      "--bucket-map", a->bucket_map,
      "LOCAL=gs://bucket/prefix: where a local path of the plan (stage, sink, cleanup) is in Cloud "
      "Storage (repeatable); unmapped paths become variables to set at the top of run.sh");
  cmd->add_option(
      "--billing-project", a->billing_project,
      "Project every bq job and the Dataflow job run and are billed in (bq --project_id), as "
      "bigquery-etl's --billing-project; the data stays in its projects (overrides the plan's "
      "billing_project)");
  cmd->add_flag("--force", a->force,
                "Replace an earlier rendering in --out (its numbered .sql files, run.sh, "
                "README.md); other files "
                "are kept");
  cmd->callback([&ctx, a] {
    ctx.Run([&]() -> Status {
      if (a->target != "bigquery") {
        return ctx.Usage(
            InvalidArgument(fmt::format("--target '{}': the only target is bigquery", a->target)));
      }
      RenderOptions options;
      options.plan_file = a->file;
      if (!a->billing_project.empty()) {
        BF_RETURN_IF_ERROR(ctx.Usage(ValidateProjectName(a->billing_project)));
        options.billing_project = a->billing_project;
      }
      for (const auto& m : a->bucket_map) {
        BF_ASSIGN_OR_RETURN(auto pair, ctx.Usage(ParseBucketMapping(m)));
        options.bucket_map[pair.first] = pair.second;
      }
      std::ifstream in(a->file, std::ios::binary);
      if (!in) return NotFound(fmt::format("cannot read plan file {}", a->file));
      std::stringstream ss;
      ss << in.rdbuf();
      BF_ASSIGN_OR_RETURN(Plan plan, ParsePlan(ss.str(), a->file));

      // Never clobber: a non-empty DIR is refused before anything is read or written, unless
      // --force, which replaces only what a rendering writes.
      fs::path out(a->out);
      std::error_code ec;
      std::vector<fs::path> previous, others;
      if (fs::exists(out, ec)) {
        if (!fs::is_directory(out, ec))
          return AlreadyExists(fmt::format("--out {} exists and is not a directory", a->out));
        for (const auto& e : fs::directory_iterator(out, ec))
          (IsRenderedFile(e.path()) ? previous : others).push_back(e.path());
        if (!a->force && (!previous.empty() || !others.empty())) {
          return Refused(fmt::format(
              "--out {} is not empty ({} entries); choose an empty directory, or pass --force "
              "to replace an earlier rendering there",
              a->out, previous.size() + others.size()));
        }
      }

      BF_ASSIGN_OR_RETURN(Warehouse * w, ctx.Open(false));
      BF_ASSIGN_OR_RETURN(RenderedPlan rendered, RenderBigQuery(plan, *w, options));

      fs::create_directories(out, ec);
      if (ec) return IoError(fmt::format("cannot create {}: {}", a->out, ec.message()));
      for (const auto& p : previous)
        fs::remove(p, ec);  // stale numbered files of an earlier rendering
      Json files = Json::array();
      std::string text = fmt::format("Rendered plan {} for BigQuery into {}:\n", plan.name, a->out);
      for (const auto& f : rendered.files) {
        fs::path path = out / f.name;
        BF_RETURN_IF_ERROR(WriteText(path, f.content));
        if (f.name == "run.sh") {
          fs::permissions(path,
                          fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                          fs::perm_options::add, ec);
        }
        std::string step = f.step ? plan.steps[f.step - 1].Label(f.step - 1) : "";
        text += fmt::format("  {:<48} {}\n", f.name, step);
        Json j{{"file", path.string()}, {"name", f.name}};
        j["step"] = f.step ? Json(f.step) : Json(nullptr);
        j["kind"] = f.step ? Json(StepKindName(plan.steps[f.step - 1].kind))
                           : Json(f.name == "run.sh" ? "script" : "readme");
        files.push_back(j);
      }
      std::vector<ZetaSqlFile> sql_files;
      for (const auto& f : rendered.files) {
        if (f.is_sql()) sql_files.push_back({f.name, f.default_project, f.parameters});
      }
      BF_RETURN_IF_ERROR(
          WriteText(out / kCatalogFile, ZetaSqlCatalogJson(rendered.tables, sql_files)));

      // Every statement analyzed by ZetaSQL (BigQuery's front end) when it is installed; a
      // rendering BigQuery would reject fails the command, its files kept for a look.
      Json check;
      if (sql_files.empty()) {
        check = Json{{"status", "not checked"}, {"reason", "no SQL files"}};
      } else if (auto why = ZetaSqlUnavailable()) {
        check = Json{{"status", "not checked"}, {"reason", *why}};
        text += fmt::format("ZetaSQL: not checked: {}\n", *why);
      } else {
        BF_ASSIGN_OR_RETURN(ZetaSqlReport report, CheckWithZetaSql(out / kCatalogFile));
        Json errors = Json::array();
        for (const auto& e : report.errors) {
          errors.push_back(Json{{"file", fs::path(e.file).filename().string()},
                                {"line", e.line},
                                {"column", e.column},
                                {"message", e.message}});
        }
        check = Json{{"status", report.ok() ? "checked" : "failed"},
                     {"files", report.files},
                     {"statements", report.statements},
                     {"seconds", report.seconds},
                     {"errors", errors}};
        if (report.ok()) {
          text += fmt::format(
              "ZetaSQL: {} file(s), {} statement(s) analyzed against {}/{}: all valid GoogleSQL\n",
              report.files, report.statements, a->out, kCatalogFile);
        } else {
          text +=
              fmt::format("ZetaSQL: {} error(s) in the rendered SQL (BigQuery would reject it):\n",
                          report.errors.size());
          for (const auto& e : report.errors) {
            text += fmt::format("  {}:{}:{}: {}\n", fs::path(e.file).filename().string(), e.line,
                                e.column, e.message);
          }
          ctx.exit_code = kExitFailure;
        }
      }
      text += fmt::format("Review {}/README.md and the .sql files, then run {}/run.sh.", a->out,
                          a->out);
      ctx.Emit(text, Json{{"plan", plan.name},
                          {"sha256", plan.content_hash},
                          {"target", "bigquery"},
                          {"out", a->out},
                          {"replaced", previous.size()},
                          {"files", files},
                          {"catalog", (out / kCatalogFile).string()},
                          {"zetasql", check}});
      if (ctx.exit_code == kExitFailure)
        std::cerr << "backfill: error: the rendered SQL fails ZetaSQL analysis\n";
      return Status::Ok();
    });
  });
}

}  // namespace backfill::cli
