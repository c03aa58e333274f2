#include "warehouse/schema_deploy.h"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>

namespace backfill {
namespace fs = std::filesystem;

int DeployReport::Count(DeployItem::Outcome o) const {
  return static_cast<int>(std::count_if(items.begin(), items.end(),
                                        [&](const DeployItem& i) { return i.outcome == o; }));
}

const char* DeployOutcomeName(DeployItem::Outcome o) {
  switch (o) {
    case DeployItem::Outcome::kCreated:
      return "created";
    case DeployItem::Outcome::kUnchanged:
      return "unchanged";
    case DeployItem::Outcome::kDiffers:
      return "differs";
    case DeployItem::Outcome::kFailed:
      return "failed";
  }
  return "failed";
}

bool IsGleanSchema(const Schema& schema) {
  return schema.FindPath("client_info.client_id") != nullptr;
}

namespace {

void DeployOne(Warehouse& w, const TableName& name, const std::string& source,
               const TableOptions& options, bool glean, DeployReport& report) {
  DeployItem item{name, source, DeployItem::Outcome::kCreated, {}};
  auto existing = w.DescribeTable(name);
  if (existing.ok()) {
    auto diff = DiffSchemas(existing->options.schema, options.schema);
    item.outcome = diff.empty() ? DeployItem::Outcome::kUnchanged : DeployItem::Outcome::kDiffers;
    item.details = diff;
  } else if (Status s = w.CreateTable(name, options); !s.ok()) {
    item.outcome = DeployItem::Outcome::kFailed;
    item.details.push_back(s.message());
  }
  bool unset = !existing.ok() || !existing->properties.count(kGleanProperty);
  if (glean && unset && item.outcome != DeployItem::Outcome::kFailed) {
    if (Status s = w.SetTableProperty(name, kGleanProperty, "true"); !s.ok()) {
      item.outcome = DeployItem::Outcome::kFailed;
      item.details.push_back(s.message());
    }
  }
  report.items.push_back(std::move(item));
}

Status EnsureDataset(Warehouse& w, const DatasetName& name) {
  if (w.GetDataset(name).ok()) return Status::Ok();
  return w.CreateDataset(name, {});
}

}  // namespace

Result<DeployReport> DeploySchemas(Warehouse& w, const fs::path& dir, const std::string& project) {
  if (!fs::is_directory(dir))
    return NotFound(fmt::format("schema directory {} does not exist", dir.string()));
  if (!w.HasProject(project)) return NotFound(fmt::format("project {} does not exist", project));
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".bq") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  static const std::regex kName(R"((.+)\.(\d+)\.bq)");
  DeployReport report;
  for (const auto& file : files) {
    fs::path rel = fs::relative(file, dir);
    std::vector<std::string> parts;
    for (const auto& p : rel) parts.push_back(p.string());
    std::smatch m;
    std::string filename = file.filename().string();
    if (parts.size() != 3 || !std::regex_match(filename, m, kName) || m[1].str() != parts[1]) {
      report.items.push_back({{project, "?", "?"},
                              rel.string(),
                              DeployItem::Outcome::kFailed,
                              {"not laid out as <namespace>/<doctype>/<doctype>.<version>.bq"}});
      continue;
    }
    std::string ns = DashesToUnderscores(parts[0]), doctype = DashesToUnderscores(parts[1]);
    std::string table = doctype + "_v" + m[2].str();
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto schema = ParseBqSchema(text.str(), rel.string());
    if (!schema.ok()) {
      report.items.push_back({{project, ns + "_live", table},
                              rel.string(),
                              DeployItem::Outcome::kFailed,
                              {schema.status().message()}});
      continue;
    }
    TableOptions live;
    live.schema = *schema;
    if (schema->Find("submission_timestamp")) {
      live.partition_by = "submission_timestamp";
      live.cluster_by = {"submission_timestamp"};
    }
    TableOptions stable = live;
    stable.cluster_by.clear();
    for (const char* c : {"normalized_channel", "sample_id"}) {
      if (schema->Find(c)) stable.cluster_by.push_back(c);
    }
    for (const auto& [suffix, options] : {std::pair{"_live", live}, std::pair{"_stable", stable}}) {
      DatasetName ds{project, ns + suffix};
      if (Status s = EnsureDataset(w, ds); !s.ok()) {
        report.items.push_back({{project, ds.dataset, table},
                                rel.string(),
                                DeployItem::Outcome::kFailed,
                                {s.message()}});
        continue;
      }
      bool glean = std::string_view(suffix) == "_live" && IsGleanSchema(options.schema);
      DeployOne(w, {project, ds.dataset, table}, rel.string(), options, glean, report);
    }
  }
  return report;
}

}  // namespace backfill
