// Warehouse::ExecuteMerge: BigQuery's MERGE on the embedded warehouse.
//
// The warehouse's tables are views over time-travel storage, so DuckDB's own MERGE cannot write
// them; and writes must go where every other write goes (access, protected datasets, requests,
// audit, segments that time travel reads). So a MERGE is the warehouse's DELETE and INSERT in
// one transaction: the source is read once into a temporary table, every row the MERGE
// writes (updated rows as they become, inserted rows) is computed from the state before it,
// then DeleteWhere removes the target rows that WHEN MATCHED / NOT MATCHED BY SOURCE clauses
// update or delete, and Append writes the computed rows. An error anywhere rolls all back.
//
// BigQuery's rules kept: the WHEN clauses of one kind apply in order, the first whose AND
// condition is TRUE wins; a target row that matches several source rows when a WHEN MATCHED
// clause exists fails the statement (checked before anything is written); INSERT without a
// column list, or INSERT ROW, fills the columns in order.
#include <cctype>

#include <fmt/format.h>

#include "core/text.h"
#include "warehouse/bq_sql.h"
#include "warehouse/warehouse.h"

namespace backfill {
namespace {

using Clause = SqlMergeClause;

std::string Paren(const std::string& s) { return "(" + s + ")"; }

bool SameName(std::string a, std::string b) {
  auto lower = [](std::string& s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  lower(a);
  lower(b);
  return a == b;
}

// CASE WHEN c1 THEN 1 WHEN c2 THEN 2 ... END over the clauses of one kind: the index (in the
// statement) of the clause that applies to a row, NULL when none does.
std::string ClauseChoice(const std::vector<Clause>& clauses, Clause::Match match) {
  std::string sql;
  for (size_t i = 0; i < clauses.size(); ++i) {
    if (clauses[i].match != match) continue;
    sql += fmt::format(" WHEN {} THEN {}",
                       clauses[i].condition.empty() ? "TRUE" : Paren(clauses[i].condition), i);
  }
  return sql.empty() ? "" : "CASE" + sql + " END";
}

std::vector<size_t> ClausesOf(const std::vector<Clause>& clauses, Clause::Match match,
                              Clause::Action action) {
  std::vector<size_t> out;
  for (size_t i = 0; i < clauses.size(); ++i) {
    if (clauses[i].match == match && clauses[i].action == action) out.push_back(i);
  }
  return out;
}

std::string InList(const std::vector<size_t>& ks) {
  std::vector<std::string> s;
  for (size_t k : ks) s.push_back(std::to_string(k));
  return Join(s, ", ");
}

}  // namespace

Result<StatementResult> Warehouse::ExecuteMerge(const TranslatedStatement& ts) {
  const TableName& target = *ts.target;
  const auto& clauses = ts.merge_clauses;
  BF_RETURN_IF_ERROR(RequireWrite());
  BF_ASSIGN_OR_RETURN(TableInfo info, DescribeTable(target));
  const auto& fields = info.options.schema.fields;
  BF_ASSIGN_OR_RETURN(std::string relation, Relation(target));
  const std::string t_alias = QuoteIdent(ts.target_alias);
  const std::string tgt = relation + " AS " + t_alias;
  const std::string src = "temp.main._bf_merge_src AS " + QuoteIdent(ts.merge_source_alias);
  const std::string on = Paren(ts.merge_condition);
  const std::string name = target.ToString();
  const std::string what = (ts.update_statement ? "UPDATE of " : "MERGE into ") + name;

  for (const Clause& c : clauses) {
    for (const auto& col : c.columns) {
      if (!info.options.schema.Find(col)) {
        return InvalidArgument(fmt::format("{}: no column named {}", what, col));
      }
    }
    if (c.action == Clause::Action::kInsert && !c.insert_row && c.columns.empty() &&
        c.values.size() != fields.size()) {
      return InvalidArgument(
          fmt::format("{}: INSERT VALUES gives {} value(s) for the table's {} "
                      "column(s) (name the columns: INSERT (a, b) VALUES (...))",
                      what, c.values.size(), fields.size()));
    }
  }

  StatementResult out;
  int64_t updated = 0, inserted = 0, deleted = 0;
  BF_RETURN_IF_ERROR(InTransaction(target.project, [&]() -> Status {
    BF_RETURN_IF_ERROR(conn_.Exec("CREATE OR REPLACE TEMP TABLE _bf_merge_src AS SELECT * FROM " +
                                  ts.merge_source));
    std::vector<std::string> source_columns;
    {
      BF_ASSIGN_OR_RETURN(QueryResult r, conn_.Query("SELECT * FROM _bf_merge_src LIMIT 0"));
      for (size_t c = 0; c < r.columns(); ++c) source_columns.push_back(r.ColumnName(c));
    }
    std::string matched = ClauseChoice(clauses, Clause::Match::kMatched);
    std::string by_source = ClauseChoice(clauses, Clause::Match::kNotMatchedBySource);
    std::string by_target = ClauseChoice(clauses, Clause::Match::kNotMatchedByTarget);

    if (!matched.empty()) {
      BF_ASSIGN_OR_RETURN(
          int64_t several,
          conn_.QueryInt(fmt::format(
              "SELECT count(*) FROM (SELECT 1 FROM (SELECT row_number() OVER () AS _bf_tid, * "
              "FROM {}) AS {} JOIN {} ON {} GROUP BY _bf_tid HAVING count(*) > 1)",
              relation, t_alias, src, on)));
      if (several > 0) {
        return InvalidArgument(
            fmt::format("{}: UPDATE/MERGE must match at most one source row for each target row "
                        "({} target row(s) match several source rows); nothing was changed",
                        what, several));
      }
    }

    // The rows the MERGE writes, computed before anything changes.
    std::vector<std::string> parts;
    auto updates = [&](const std::string& choice, Clause::Match match, const std::string& from,
                       const std::string& where) {
      auto ks = ClausesOf(clauses, match, Clause::Action::kUpdate);
      if (ks.empty()) return;
      std::vector<std::string> cols;
      for (const auto& f : fields) {
        std::string cases;
        for (size_t k : ks) {
          const Clause& c = clauses[k];
          for (size_t j = 0; j < c.columns.size(); ++j) {
            if (SameName(c.columns[j], f.name))
              cases += fmt::format(" WHEN {} THEN {}", k, Paren(c.values[j]));
          }
        }
        std::string current = t_alias + "." + QuoteIdent(f.name);
        cols.push_back((cases.empty()
                            ? current
                            : fmt::format("CASE {}{} ELSE {} END", Paren(choice), cases, current)) +
                       " AS " + QuoteIdent(f.name));
      }
      parts.push_back(fmt::format("SELECT {}, 'update' AS _bf_kind FROM {} WHERE {}{} IN ({})",
                                  Join(cols, ", "), from, where, Paren(choice), InList(ks)));
    };
    updates(matched, Clause::Match::kMatched, tgt + " JOIN " + src + " ON " + on, "");
    updates(by_source, Clause::Match::kNotMatchedBySource, tgt,
            fmt::format("NOT EXISTS (SELECT 1 FROM {} WHERE {}) AND ", src, on));
    auto ins = ClausesOf(clauses, Clause::Match::kNotMatchedByTarget, Clause::Action::kInsert);
    if (!ins.empty()) {
      std::vector<std::string> cols;
      for (size_t i = 0; i < fields.size(); ++i) {
        std::string cases;
        for (size_t k : ins) {
          const Clause& c = clauses[k];
          std::string value;
          if (c.insert_row) {
            if (source_columns.size() != fields.size()) {
              return InvalidArgument(
                  fmt::format("{}: INSERT ROW needs the source's {} column(s) to match the "
                              "table's {}",
                              what, source_columns.size(), fields.size()));
            }
            value = QuoteIdent(ts.merge_source_alias) + "." + QuoteIdent(source_columns[i]);
          } else if (c.columns.empty()) {
            value = Paren(c.values[i]);
          } else {
            for (size_t j = 0; j < c.columns.size(); ++j) {
              if (SameName(c.columns[j], fields[i].name)) value = Paren(c.values[j]);
            }
          }
          if (!value.empty()) cases += fmt::format(" WHEN {} THEN {}", k, value);
        }
        cols.push_back(
            (cases.empty() ? "NULL" : fmt::format("CASE {}{} END", Paren(by_target), cases)) +
            " AS " + QuoteIdent(fields[i].name));
      }
      parts.push_back(fmt::format(
          "SELECT {}, 'insert' AS _bf_kind FROM {} WHERE NOT EXISTS (SELECT 1 FROM {} WHERE {}) "
          "AND {} IN ({})",
          Join(cols, ", "), src, tgt, on, Paren(by_target), InList(ins)));
    }
    if (!parts.empty()) {
      BF_RETURN_IF_ERROR(conn_.Exec("CREATE OR REPLACE TEMP TABLE _bf_merge_new AS " +
                                    Join(parts, " UNION ALL ")));
      BF_ASSIGN_OR_RETURN(
          updated, conn_.QueryInt("SELECT count(*) FROM _bf_merge_new WHERE _bf_kind = 'update'"));
      BF_ASSIGN_OR_RETURN(
          inserted, conn_.QueryInt("SELECT count(*) FROM _bf_merge_new WHERE _bf_kind = 'insert'"));
    }

    // The target rows updated or deleted: a WHEN MATCHED clause applies with their one source
    // row, or a NOT MATCHED BY SOURCE clause applies to them.
    std::vector<std::string> gone;
    if (!matched.empty()) {
      gone.push_back(fmt::format("EXISTS (SELECT 1 FROM {} WHERE {} AND {} IS NOT NULL)", src, on,
                                 Paren(matched)));
    }
    if (!by_source.empty()) {
      gone.push_back(fmt::format("(NOT EXISTS (SELECT 1 FROM {} WHERE {}) AND {} IS NOT NULL)", src,
                                 on, Paren(by_source)));
    }
    if (!gone.empty()) {
      BF_ASSIGN_OR_RETURN(WriteStats st, DeleteWhere(target, Join(gone, " OR "), ts.target_alias));
      deleted = st.rows_deleted - updated;
    }
    if (updated + inserted > 0) {
      std::vector<std::string> cols;
      for (const auto& f : fields) cols.push_back(QuoteIdent(f.name));
      BF_RETURN_IF_ERROR(
          Append(target, "SELECT " + Join(cols, ", ") + " FROM temp.main._bf_merge_new").status());
    }
    BF_RETURN_IF_ERROR(conn_.Exec("DROP TABLE IF EXISTS temp.main._bf_merge_new"));
    return conn_.Exec("DROP TABLE IF EXISTS temp.main._bf_merge_src");
  }));
  out.rows_affected = updated + inserted + deleted;
  if (ts.update_statement) {
    out.message = fmt::format("Updated {} row(s) of {}", updated, name);
    return out;
  }
  out.message = fmt::format("Merged into {}: {} row(s) inserted, {} updated, {} deleted", name,
                            inserted, updated, deleted);
  return out;
}

}  // namespace backfill
