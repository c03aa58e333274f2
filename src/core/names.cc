#include "core/names.h"

#include <cctype>
#include <vector>

#include <fmt/format.h>

namespace backfill {
namespace {

std::vector<std::string> SplitQualified(std::string_view text) {
  std::vector<std::string> parts;
  std::string cur;
  // Backticks only quote; names never contain dots, so `a.b.c` and `a`.b.c mean a.b.c.
  for (char c : text) {
    if (c == '`') continue;
    if (c == '.') {
      parts.push_back(cur);
      cur.clear();
      continue;
    }
    cur.push_back(c);
  }
  parts.push_back(cur);
  return parts;
}

}  // namespace

Status ValidateProjectName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 63 && std::islower(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
      ok = false;
  }
  if (!ok) {
    return InvalidArgument(
        fmt::format("'{}' is not a valid project name (lowercase letters, digits and '-', starting "
                    "with a letter)",
                    name));
  }
  return Status::Ok();
}

Status ValidateIdentifier(std::string_view name, std::string_view what) {
  bool ok =
      !name.empty() && name.size() <= 1024 && !std::isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) ok = false;
  }
  if (!ok) {
    return InvalidArgument(fmt::format(
        "'{}' is not a valid {} name (letters, digits and '_', not starting with a digit)", name,
        what));
  }
  if (name.substr(0, 3) == "_bf") {
    return InvalidArgument(
        fmt::format("'{}': {} names starting with _bf are reserved", name, what));
  }
  return Status::Ok();
}

Result<TableName> ParseTableName(std::string_view text, std::string_view default_project) {
  auto parts = SplitQualified(text);
  TableName name;
  if (parts.size() == 3) {
    name = {parts[0], parts[1], parts[2]};
  } else if (parts.size() == 2 && !default_project.empty()) {
    name = {std::string(default_project), parts[0], parts[1]};
  } else {
    return InvalidArgument(
        fmt::format("'{}' is not a table name (expected project.dataset.table{})", text,
                    default_project.empty() ? "" : " or dataset.table"));
  }
  BF_RETURN_IF_ERROR(ValidateProjectName(name.project));
  BF_RETURN_IF_ERROR(ValidateIdentifier(name.dataset, "dataset"));
  BF_RETURN_IF_ERROR(ValidateIdentifier(name.table, "table"));
  return name;
}

Result<DatasetName> ParseDatasetName(std::string_view text, std::string_view default_project) {
  auto parts = SplitQualified(text);
  DatasetName name;
  if (parts.size() == 2) {
    name = {parts[0], parts[1]};
  } else if (parts.size() == 1 && !default_project.empty()) {
    name = {std::string(default_project), parts[0]};
  } else {
    return InvalidArgument(
        fmt::format("'{}' is not a dataset name (expected project.dataset)", text));
  }
  BF_RETURN_IF_ERROR(ValidateProjectName(name.project));
  BF_RETURN_IF_ERROR(ValidateIdentifier(name.dataset, "dataset"));
  return name;
}

std::string DashesToUnderscores(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '-') c = '_';
  }
  return out;
}

}  // namespace backfill
