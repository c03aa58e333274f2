// Names of projects, datasets and tables, in BigQuery's `project.dataset.table` form.
//
// A project is one DuckDB database file of the embedded warehouse; a dataset is a schema in it.
// Parsing accepts backtick quoting as users paste it from runbooks. Pure values, no I/O.
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "core/status.h"

namespace backfill {

struct DatasetName {
  std::string project;
  std::string dataset;

  std::string ToString() const { return project + "." + dataset; }
  auto operator<=>(const DatasetName&) const = default;
};

struct TableName {
  std::string project;
  std::string dataset;
  std::string table;

  DatasetName Dataset() const { return {project, dataset}; }
  std::string ToString() const { return project + "." + dataset + "." + table; }
  auto operator<=>(const TableName&) const = default;
};

// Project ids: lowercase letters, digits and dashes, starting with a letter (BigQuery's rule).
Status ValidateProjectName(std::string_view name);
// Dataset and table names: letters, digits and underscores, not starting with a digit; names
// starting with "_bf" are reserved for backfill's own bookkeeping.
Status ValidateIdentifier(std::string_view name, std::string_view what);

// "p.d.t", "`p.d.t`", "`p`.d.t", or "d.t" resolved against default_project (may be empty).
Result<TableName> ParseTableName(std::string_view text, std::string_view default_project = "");
// "p.d" or "d" resolved against default_project.
Result<DatasetName> ParseDatasetName(std::string_view text, std::string_view default_project = "");

// BigQuery's naming for doc types: "quicksuggest-click" -> "quicksuggest_click".
std::string DashesToUnderscores(std::string_view name);

}  // namespace backfill
