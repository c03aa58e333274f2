// `backfill sql`: GoogleSQL statements run on the local warehouse (warehouse/bq_sql.h translates
// them), printed as a table, JSON or CSV; `--destination-table` writes a query's rows into one
// partition or appends them, as `bq query --destination_table` does in runbooks.
#include <fmt/format.h>

#include "cli/cli.h"
#include "core/files.h"
#include "core/text.h"

namespace backfill::cli {
namespace {

// `bq query --destination_table 'p:d.t$20200317' --replace` as runbooks use it: the query's
// rows replace one partition, or are appended to the table.
Result<std::vector<StatementResult>> RunIntoDestination(Context& ctx, const std::string& text,
                                                        const std::string& project,
                                                        const std::string& destination,
                                                        bool replace) {
  std::string name = destination;
  std::optional<Date> day;
  if (size_t dollar = destination.find('$'); dollar != std::string::npos) {
    std::string d = destination.substr(dollar + 1);
    name = destination.substr(0, dollar);
    if (d.size() != 8)
      return ctx.Usage(
          InvalidArgument(fmt::format("partition decorator '${}' must be $YYYYMMDD", d)));
    BF_ASSIGN_OR_RETURN(Date parsed, ctx.Usage(ParseDate(d.substr(0, 4) + "-" + d.substr(4, 2) +
                                                         "-" + d.substr(6, 2))));
    day = parsed;
  }
  BF_ASSIGN_OR_RETURN(TableName table, ctx.Usage(ParseTableName(name, project)));
  if (replace != day.has_value()) {
    return ctx.Usage(InvalidArgument(
        "use TABLE$YYYYMMDD with --replace to replace one day's partition, or a plain "
        "TABLE without --replace to append"));
  }
  BF_ASSIGN_OR_RETURN(auto w, ctx.Open(true));
  BF_ASSIGN_OR_RETURN(std::string select, w->TranslateQuery(text, project));
  StatementResult out;
  out.statement = text;
  if (day) {
    BF_ASSIGN_OR_RETURN(WriteStats st, w->ReplacePartition(table, *day, select));
    out.rows_affected = st.rows_written;
    out.message = fmt::format("Replaced partition {} of {}: {} row(s) now, {} before",
                              FormatDate(*day), table.ToString(), st.rows_written, st.rows_deleted);
  } else {
    BF_ASSIGN_OR_RETURN(WriteStats st, w->Append(table, select));
    out.rows_affected = st.rows_written;
    out.message = fmt::format("Appended {} row(s) to {}", st.rows_written, table.ToString());
  }
  return std::vector<StatementResult>{out};
}

void AddSql(CLI::App& app, Context& ctx) {
  auto project = std::make_shared<std::string>();
  auto script = std::make_shared<std::string>();
  auto destination = std::make_shared<std::string>();
  auto replace = std::make_shared<bool>(false);
  auto* sql = app.add_subcommand(
      "sql", "Run statements in BigQuery's dialect (a documented subset) on the warehouse");
  sql->add_option("--project", *project,
                  "Project that two-part names (dataset.table) resolve against");
  sql->add_option("--destination-table", *destination,
                  "Write the query's rows into TABLE or TABLE$YYYYMMDD (as bq does)");
  sql->add_flag("--replace", *replace,
                "With --destination-table TABLE$YYYYMMDD: replace that partition atomically");
  sql->add_option("STATEMENTS", *script,
                  "SQL; several statements separated by ';' ('-' reads stdin)")
      ->required();
  sql->callback([&ctx, project, script, destination, replace] {
    ctx.Run([&]() -> Status {
      std::string text = *script;
      if (text == "-") {
        std::stringstream ss;
        ss << std::cin.rdbuf();
        text = ss.str();
      }
      std::vector<StatementResult> results;
      if (!destination->empty()) {
        BF_ASSIGN_OR_RETURN(results,
                            RunIntoDestination(ctx, text, *project, *destination, *replace));
      } else {
        if (*replace) return ctx.Usage(InvalidArgument("--replace goes with --destination-table"));
        // Only statements that change data need the writer lock.
        BF_ASSIGN_OR_RETURN(bool write, Warehouse::SqlScriptWrites(text, *project));
        BF_ASSIGN_OR_RETURN(auto w, ctx.Open(write));
        BF_ASSIGN_OR_RETURN(results, w->ExecuteSql(text, *project));
      }
      std::string out;
      Json json = Json::array();
      for (const auto& r : results) {
        Json j{{"statement", r.statement}};
        if (r.rows_affected >= 0) {
          out += r.message + "\n";
          j["rows_affected"] = r.rows_affected;
          j["message"] = r.message;
        } else {
          Json rows = Json::array();
          std::vector<std::vector<std::string>> cells;
          for (const auto& row : r.rows) {
            Json o = Json::object();
            std::vector<std::string> line;
            for (size_t c = 0; c < r.columns.size(); ++c) {
              o[r.columns[c]] = row[c];
              line.push_back(ctx.format() == Format::kCsv ? CsvCell(JsonCellText(row[c], ""))
                                                          : JsonCellText(row[c], "NULL"));
            }
            rows.push_back(std::move(o));
            cells.push_back(std::move(line));
          }
          if (ctx.format() == Format::kCsv) {
            std::vector<std::string> header;
            for (const auto& c : r.columns) header.push_back(CsvCell(c));
            out += Join(header, ",") + "\n";
            for (const auto& line : cells) out += Join(line, ",") + "\n";
          } else {
            out += RenderTable(r.columns, cells) +
                   fmt::format("({} row{})\n", r.rows.size(), r.rows.size() == 1 ? "" : "s");
          }
          Json schema = Json::parse(SchemaToBqJson(Schema{r.schema}));
          j["columns"] = r.columns;
          j["schema"] = std::move(schema);
          j["rows"] = std::move(rows);
        }
        json.push_back(j);
      }
      ctx.Emit(out, json);
      return Status::Ok();
    });
  });
}

}  // namespace

void AddSqlCommands(CLI::App& app, Context& ctx) { AddSql(app, ctx); }

}  // namespace backfill::cli
