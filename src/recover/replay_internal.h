// What the replay steps share (replay.cc, stage.cc, copy_deduplicate.cc): SQL quoting, the
// rows-of-a-day predicate, table matching and the messages' wording. Not an API.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "recover/replay.h"
#include "warehouse/warehouse.h"

namespace backfill::replay_internal {

// A copy in progress is written beside its final name with this suffix, then renamed.
inline constexpr const char* kPartialSuffix = ".bf-partial";

std::string Q(std::string_view s);  // a quoted identifier
std::string S(std::string_view s);  // a quoted string literal
std::string DayLiteral(Date d);
// The first few differences, for messages that must stay readable.
std::string FirstDifferences(const std::vector<std::string>& diffs, size_t n = 3);
Result<int64_t> QueryCount(Warehouse& w, const std::string& sql);
// "alias"."col" within the day `d` (UTC), for DATE and TIMESTAMP partition columns.
std::string InDay(const std::string& alias, const TableInfo& t, Date d);
// Tables of `project` (dataset order, then table order) whose "dataset.table" passes `filter`.
Result<std::vector<TableName>> MatchingTables(Warehouse& w, const std::string& project,
                                              const TableFilter& filter);
// The <ns>_live.<t> tables of `project` whose "dataset.table", or their <ns>_stable twin's,
// passes `filter` (so `-o '*_stable.*'` selects them too), in dataset then table order, each
// with its twin's name (the twin may not exist).
struct LiveTable {
  TableName live, stable;
};
Result<std::vector<LiveTable>> LiveTables(Warehouse& w, const std::string& project,
                                          const TableFilter& filter);
std::string FilterText(const TableFilter& f);
// The live rows of a day that copy-deduplicate keeps before choosing one per document, over
// "alias"'s row: a document_id, and (when `source_tags`: HasSourceTags) not tagged `automation`.
// Shared with gaps.cc, which counts the documents a stable day should hold.
std::string DedupCandidate(const std::string& alias, bool source_tags);
Status RequireProject(Warehouse& w, const std::string& project);

}  // namespace backfill::replay_internal
