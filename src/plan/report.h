// The report an applied plan leaves for people: per table and day the rows before and after
// (with an SVG chart of rows per day, so a filled hole is visible at a glance), each step's
// outcome, the validation results and the audit entries the plan wrote. Markdown for tickets,
// HTML (self-contained, the charts inline) for browsers. Pure: data in, text out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/time.h"
#include "plan/journal.h"
#include "plan/plan.h"
#include "recover/gaps.h"
#include "warehouse/warehouse.h"

namespace backfill {

struct PlanReport {
  std::string plan, reason, author, principal, approved_by, sha256;
  std::optional<Timestamp> started_at, finished_at;
  struct Step {
    std::string label;
    StepKind kind = StepKind::kStage;
    StepState state = StepState::kPending;
    std::string summary;
    int attempts = 0;
  };
  std::vector<Step> steps;
  struct TableRows {
    std::string table;
    bool dropped = false;  // gone after the plan (e.g. a backfill project cleaned up)
    std::map<std::string, std::pair<int64_t, int64_t>>
        days;  // day ("" = unpartitioned) -> before, after
  };
  std::vector<TableRows> tables;
  struct Validation {
    std::string expected, actual;
    bool passed = false;
    int partitions = 0;
    std::vector<std::string> failed_partitions;
  };
  std::vector<Validation> validations;
  std::vector<AuditEntry> audit;
};

// Builds the report from a plan's journal, the rows now (`after`, of the changed tables) and
// the audit entries written since the plan started.
PlanReport MakeReport(const Plan& plan, const Journal& journal, const RowCounts& after,
                      const std::set<std::string>& changed_tables,
                      const std::vector<AuditEntry>& audit);

// One line per step from its command's JSON result: its scalar figures ("rows_inserted=12").
std::string SummarizeStepResult(const PlanJson& result);

std::string ReportMarkdown(const PlanReport& report);
std::string ReportHtml(const PlanReport& report);
// Rows per day before (grey) and after (blue), as a standalone <svg> element.
std::string RowsChartSvg(const PlanReport::TableRows& table);

// `backfill gaps --html`: the holes and disagreements, and per table a chart of rows per day
// over the range and its baseline days (holes red, the baseline and the threshold marked on
// each day of the range), so a person sees the hole and, run again after a recovery, the fill.
std::string GapsReportHtml(const GapsReport& report);
std::string GapsChartSvg(const GapsReport& report, const GapsTable& table);

}  // namespace backfill
