// `backfill sql`: GoogleSQL statements run on the local warehouse (warehouse/bq_sql.h translates
// them), printed as a table, JSON or CSV; `--destination-table` writes a query's rows into one
// partition or appends them, as `bq query --destination_table` does in runbooks.
#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <set>

#include "cli/cli.h"
#include "core/files.h"
#include "core/schema.h"
#include "core/text.h"
#include "warehouse/bq_sql.h"
#include "warehouse/zetasql.h"

namespace backfill::cli {
namespace {

// A query parameter as `bq query --parameter` takes it: NAME:TYPE:VALUE, or NAME::VALUE for a
// STRING.
struct QueryParameter {
  std::string name;
  std::string type;     // GoogleSQL type, for the analyzer
  std::string literal;  // GoogleSQL literal of the value, bound into the statements
};

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Result<QueryParameter> ParseQueryParameter(const std::string& spec) {
  size_t a = spec.find(':');
  size_t b = a == std::string::npos ? a : spec.find(':', a + 1);
  if (b == std::string::npos || a == 0) {
    return InvalidArgument(
        fmt::format("--parameter '{}' must be NAME:TYPE:VALUE (e.g. submission_date:DATE:"
                    "2020-03-01) or NAME::VALUE for a STRING",
                    spec));
  }
  QueryParameter p{spec.substr(0, a), Upper(spec.substr(a + 1, b - a - 1)), ""};
  std::string value = spec.substr(b + 1);
  if (p.type.empty()) p.type = "STRING";
  auto quoted = [&] {
    std::string q = "'";
    for (char c : value) {
      if (c == '\\' || c == '\'') q += '\\';
      q += c;
    }
    return q + "'";
  };
  static const std::set<std::string, std::less<>> kTyped = {"DATE", "TIMESTAMP", "DATETIME",
                                                            "NUMERIC"};
  if (p.type == "STRING") {
    p.literal = quoted();
  } else if (kTyped.count(p.type)) {
    p.literal = p.type + " " + quoted();
  } else if (p.type == "INT64") {
    if (value.empty() || value.find_first_not_of("-0123456789") != std::string::npos)
      return InvalidArgument(fmt::format("--parameter {}: '{}' is not an INT64", p.name, value));
    p.literal = value;
  } else if (p.type == "FLOAT64") {
    p.literal = "CAST(" + quoted() + " AS FLOAT64)";
  } else if (p.type == "BOOL") {
    std::string v = Upper(value);
    if (v != "TRUE" && v != "FALSE")
      return InvalidArgument(fmt::format("--parameter {}: '{}' is not a BOOL", p.name, value));
    p.literal = v;
  } else {
    return InvalidArgument(fmt::format(
        "--parameter {}: type {} is not supported (STRING, INT64, FLOAT64, NUMERIC, BOOL, DATE, "
        "DATETIME, TIMESTAMP)",
        p.name, p.type));
  }
  return p;
}

// The tables a script names (read, written or replaced) that exist, with their schemas: the
// analyzer's catalog. When the local dialect cannot read a statement, every table the
// principal can see is listed instead, so that the analyzer still judges it as BigQuery would.
std::vector<TableInfo> CatalogFor(Warehouse& w, const std::string& bound_script,
                                  const std::string& project, const Clock& clock) {
  std::vector<TableName> names;
  bool complete = true;
  auto statements = SplitSqlStatements(bound_script);
  if (!statements.ok()) complete = false;
  SqlDialectOptions options;
  options.default_project = project;
  options.now_literal = Warehouse::TimestampLiteral(clock.Now());
  options.resolve_table = [&](const TableName& t, const std::string&) -> Result<std::string> {
    names.push_back(t);
    return QuoteIdent(t.table);
  };
  for (const auto& text : complete ? *statements : std::vector<std::string>{}) {
    auto ts = TranslateStatement(text, options);
    if (!ts.ok()) {
      complete = false;
      break;
    }
    if (ts->target) names.push_back(*ts->target);
  }
  if (!complete) {
    names.clear();
    for (const auto& p : w.ListProjects()) {
      auto datasets = w.ListDatasets(p);
      if (!datasets.ok()) continue;
      for (const auto& d : *datasets) {
        auto tables = w.ListTables(d.name);
        if (!tables.ok()) continue;
        for (const auto& t : *tables) names.push_back({p, d.name.dataset, t});
      }
    }
  }
  std::vector<TableInfo> out;
  std::set<std::string> seen;
  for (const auto& n : names) {
    if (!seen.insert(n.ToString()).second || !w.TableExists(n)) continue;
    if (auto info = w.DescribeTable(n); info.ok()) out.push_back(std::move(info).value());
  }
  return out;
}

// `sql --check`: refuses what BigQuery's analyzer rejects, with its message and the position in
// the user's text.
Status CheckWithAnalyzer(Context& ctx, const std::string& text, const std::string& bound,
                         const std::string& project,
                         const std::map<std::string, std::string>& types) {
  BF_ASSIGN_OR_RETURN(Warehouse * w, ctx.Open(false));
  std::vector<TableInfo> tables = CatalogFor(*w, bound, project, ctx.clock());
  ZetaSqlFile file{"statement.sql", project, types};
  BF_ASSIGN_OR_RETURN(ZetaSqlReport report, CheckSqlWithZetaSql(text, tables, file));
  if (report.ok()) return Status::Ok();
  std::vector<std::string> lines;
  for (const auto& e : report.errors) {
    lines.push_back(fmt::format("{} (at {}:{})", e.message, e.line, e.column));
  }
  return Refused(fmt::format(
      "BigQuery would reject this SQL; ZetaSQL (its analyzer) says: {} (--no-check skips the "
      "check)",
      Join(lines, "; ")));
}

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
  auto check = std::make_shared<bool>(false);
  auto no_check = std::make_shared<bool>(false);
  auto parameters = std::make_shared<std::vector<std::string>>();
  auto* sql = app.add_subcommand(
      "sql", "Run statements in BigQuery's dialect (a documented subset) on the warehouse");
  sql->add_option("--project", *project,
                  "Project that two-part names (dataset.table) resolve against");
  sql->add_option("--destination-table", *destination,
                  "Write the query's rows into TABLE or TABLE$YYYYMMDD (as bq does)");
  sql->add_flag("--replace", *replace,
                "With --destination-table TABLE$YYYYMMDD: replace that partition atomically");
  sql->add_option("--parameter", *parameters,
                  "Query parameter NAME:TYPE:VALUE for @NAME (as bq), e.g. "
                  "submission_date:DATE:2020-03-01; repeatable");
  sql->add_flag("--check", *check,
                "First analyze the SQL with ZetaSQL (BigQuery's analyzer) against the warehouse's "
                "schemas and refuse what BigQuery would reject (default on a terminal)");
  sql->add_flag("--no-check", *no_check, "Skip the ZetaSQL analysis");
  sql->add_option("STATEMENTS", *script,
                  "SQL; several statements separated by ';' ('-' reads stdin)")
      ->required();
  sql->callback([&ctx, project, script, destination, replace, check, no_check, parameters] {
    ctx.Run([&]() -> Status {
      std::string text = *script;
      if (text == "-") {
        std::stringstream ss;
        ss << std::cin.rdbuf();
        text = ss.str();
      }
      if (*check && *no_check)
        return ctx.Usage(InvalidArgument("--check and --no-check exclude each other"));
      std::map<std::string, std::string> types, literals;
      for (const auto& spec : *parameters) {
        BF_ASSIGN_OR_RETURN(QueryParameter p, ctx.Usage(ParseQueryParameter(spec)));
        types[p.name] = p.type;
        literals[p.name] = p.literal;
      }
      std::string original = text;
      if (!literals.empty()) {
        BF_ASSIGN_OR_RETURN(text, ctx.Usage(BindSqlParameters(text, literals)));
      }
      // The analyzer costs a node process and a server start (about 1-2 s): by default it
      // runs for people at a terminal, and scripts ask for it with --check.
      bool by_default = !*no_check && !*check && !ctx.borrowed && isatty(STDERR_FILENO);
      if (*check || by_default) {
        if (auto why = ZetaSqlUnavailable()) {
          if (*check) {
            return Unavailable(fmt::format(
                "--check needs the ZetaSQL analyzer, which cannot run here: {}; install it with "
                "`bash scripts/bootstrap.sh`",
                *why));
          }
          bool says_how = why->find("bootstrap") != std::string::npos;
          ctx.Note(fmt::format("ZetaSQL check skipped: {}{}", *why,
                               says_how ? "" : " (`bash scripts/bootstrap.sh` installs it)"));
        } else {
          BF_RETURN_IF_ERROR(CheckWithAnalyzer(ctx, original, text, *project, types));
        }
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
