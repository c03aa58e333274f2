// Scripts (DECLARE / SET of scalar variables) and MERGE run on a real warehouse through
// ExecuteSql. Expected values follow BigQuery's documentation: the scripting reference
// (https://cloud.google.com/bigquery/docs/reference/standard-sql/scripting, DECLARE and SET: a
// DECLARE without DEFAULT is NULL, one DEFAULT initializes every name, declarations only at the
// start, no name twice, names case-insensitive) and the MERGE statement of dml-syntax (clauses
// in order, the first whose condition holds applies; a target row matching several source rows
// is an error). The tables are small ones made here; each test says what it derives from.
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "testing/testing.h"
#include "testing/warehouse_testing.h"
#include "warehouse/warehouse.h"

namespace backfill {
namespace {

class SqlScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = testing::CreateTestWarehouse(dir_.path(), clock_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    w_ = std::move(w).value();
    ASSERT_TRUE(w_->CreateProject("p").ok());
    ASSERT_TRUE(w_->CreateDataset({"p", "ds"}, {}).ok());
    // The shape of the documentation's dataset.Inventory and dataset.NewArrivals.
    Run("CREATE TABLE ds.Inventory AS SELECT r.product, r.quantity FROM "
        "UNNEST([STRUCT('dishwasher' AS product, 30 "
        "AS quantity), STRUCT('dryer' AS product, 30 AS quantity), STRUCT('oven' AS product, 5 AS "
        "quantity), STRUCT('top load washer' AS product, 10 AS quantity)]) AS r");
    Run("CREATE TABLE ds.NewArrivals AS SELECT r.product, r.quantity, r.warehouse FROM "
        "UNNEST([STRUCT('dryer' AS product, 200 AS quantity, 'warehouse #2' AS warehouse), "
        "STRUCT('oven' AS product, 300 AS quantity, 'warehouse #3' AS warehouse), "
        "STRUCT('refrigerator' AS product, 25 AS quantity, 'warehouse #2' AS warehouse)]) AS r");
  }

  std::vector<StatementResult> Run(const std::string& sql) {
    auto r = w_->ExecuteSql(sql, "p");
    EXPECT_TRUE(r.ok()) << sql << "\n-> " << r.status().ToString();
    return r.ok() ? *r : std::vector<StatementResult>{};
  }
  // The last statement's rows, each row's cells joined by ",", rows by " | ".
  std::string Rows(const std::string& sql) {
    auto r = Run(sql);
    if (r.empty()) return "<failed>";
    std::string out;
    for (const auto& row : r.back().rows) {
      std::string line;
      for (const auto& cell : row) line += (line.empty() ? "" : ",") + JsonCellText(cell, "NULL");
      out += (out.empty() ? "" : " | ") + line;
    }
    return out;
  }
  std::string Error(const std::string& sql) {
    auto r = w_->ExecuteSql(sql, "p");
    EXPECT_FALSE(r.ok()) << sql;
    return r.ok() ? "" : r.status().message();
  }
  static std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }
  std::string Inventory() {
    return Rows("SELECT product, quantity FROM ds.Inventory ORDER BY product");
  }

  testing::TempDir dir_;
  FixedClock clock_{*ParseTimestamp("2020-03-19T10:00:00Z")};
  std::unique_ptr<Warehouse> w_;
};

// --- DECLARE and SET ------------------------------------------------------------------------

TEST_F(SqlScriptTest, DeclareGivesTheDocumentedInitialValues) {
  // scripting#declare: "DECLARE x INT64;" is NULL; "DECLARE x, y, z INT64 DEFAULT 0;" sets all
  // three; "DECLARE d DATE DEFAULT CURRENT_DATE();" is today (the clock's).
  EXPECT_EQ(Rows("DECLARE x INT64; SELECT x IS NULL"), "true");
  EXPECT_EQ(Rows("DECLARE x, y, z INT64 DEFAULT 0; SELECT x, y, z"), "0,0,0");
  EXPECT_EQ(Rows("DECLARE d DATE DEFAULT CURRENT_DATE(); SELECT CAST(d AS STRING)"), "2020-03-19");
  // Without a type, the DEFAULT's: 1.5 is FLOAT64, an untyped NULL is INT64.
  EXPECT_EQ(Rows("DECLARE f DEFAULT 1.5; SELECT f * 2"), "3.0");
  EXPECT_EQ(Rows("DECLARE n DEFAULT NULL; SET n = 4; SELECT n"), "4");
  // Names are case-insensitive.
  EXPECT_EQ(Rows("DECLARE Total INT64 DEFAULT 7; SELECT TOTAL + total"), "14");
  // A variable alone in the select list names its column, as a column would.
  auto named = Run("DECLARE n INT64 DEFAULT 5; SELECT n, n + 1 AS m, (SELECT n) AS s");
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[1].columns, (std::vector<std::string>{"n", "m", "s"}));
  auto r = Run("DECLARE a, b INT64 DEFAULT 3; SET a = 4");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].message, "Declared a = 3, b = 3");
  EXPECT_EQ(r[1].message, "a = 4");
}

TEST_F(SqlScriptTest, SetTakesAQueryAndTuplesAssignAfterComputingEveryValue) {
  EXPECT_EQ(Rows("DECLARE n INT64; SET n = (SELECT COUNT(*) FROM ds.Inventory); SELECT n"), "4");
  EXPECT_EQ(Rows("DECLARE a, b INT64; SET (a, b) = (1, 2); SET (a, b) = (b, a); SELECT a, b"),
            "2,1");
  // A string literal coerces to DATE, in SET as in DEFAULT.
  EXPECT_EQ(Rows("DECLARE d DATE DEFAULT '2020-03-01'; SET d = '2020-03-17'; "
                 "SELECT CAST(DATE_ADD(d, INTERVAL 1 DAY) AS STRING)"),
            "2020-03-18");
  // INT64 coerces to FLOAT64.
  EXPECT_EQ(Rows("DECLARE f FLOAT64 DEFAULT 1; SELECT f"), "1.0");
}

TEST_F(SqlScriptTest, AColumnOfTheSameNameTakesPrecedenceOverTheVariable) {
  // Inventory has a column `quantity`; the variable is read only where no column answers.
  const std::string declare = "DECLARE quantity INT64 DEFAULT 100; ";
  EXPECT_EQ(Rows(declare + "SELECT quantity FROM ds.Inventory ORDER BY quantity"),
            "5 | 10 | 30 | 30");
  EXPECT_EQ(Rows(declare + "SELECT quantity"), "100");
  // Both in one query: the column in the outer query and, correlated, in its subquery; the
  // variable in a subquery of its own whose FROM has no such column.
  EXPECT_EQ(
      Rows(declare + "SELECT product FROM ds.Inventory WHERE quantity < 20 AND "
                     "(SELECT MAX(e) FROM UNNEST([quantity]) AS e) = quantity AND "
                     "EXISTS (SELECT 1 FROM UNNEST([1]) AS e WHERE quantity = 5) ORDER BY product"),
      "oven");
  EXPECT_EQ(Rows(declare + "SELECT e FROM UNNEST([quantity]) AS e"), "100");
  // DELETE's condition is over the target's columns.
  EXPECT_EQ(Rows("DECLARE low INT64 DEFAULT 10; DELETE FROM ds.Inventory WHERE quantity <= low; "
                 "SELECT COUNT(*) FROM ds.Inventory"),
            "2");
}

TEST_F(SqlScriptTest, AVariableNamedLikeADatePartStaysAVariable) {
  // The scripting guide's own example declares `day`.
  EXPECT_EQ(Rows("DECLARE day INT64 DEFAULT 3; "
                 "SELECT DATE_DIFF(DATE '2020-03-19', DATE '2020-03-01', DAY) + day"),
            "21");
}

TEST_F(SqlScriptTest, TheScriptIsCheckedBeforeAnythingRuns) {
  const std::string insert = "INSERT INTO ds.Inventory (product, quantity) VALUES ('x', 1); ";
  EXPECT_EQ(Error(insert + "DECLARE x INT64"),
            "statement 2: variable declarations are allowed only at the start of a script "
            "(at 1:1)");
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM ds.Inventory"), "4");  // the INSERT did not run
  EXPECT_EQ(Error("DECLARE x INT64; DECLARE X STRING"),
            "statement 2: variable x is already declared in statement 1 (at 1:9)");
  EXPECT_EQ(Error("DECLARE a, a INT64"), "statement 1: variable a is declared twice (at 1:12)");
  EXPECT_EQ(Error("DECLARE a INT64; " + insert + "SET b = 1"),
            "statement 3: SET of undeclared variable b (DECLARE it at the start of the script) "
            "(at 1:5)");
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM ds.Inventory"), "4");
  EXPECT_EQ(Error("DECLARE a INT64 DEFAULT b; DECLARE b INT64 DEFAULT 1"),
            "statement 1: variable b is read before its DECLARE (at 1:25)");
  EXPECT_EQ(Error("DECLARE a, b INT64 DEFAULT a"),
            "statement 1: variable a is read before its DECLARE (at 1:28)");
}

TEST_F(SqlScriptTest, AssignmentsFollowBigQuerysCoercionRules) {
  EXPECT_EQ(Error("DECLARE i INT64; SET i = 1.5"),
            "statement 2: variable i is INT64; a value of type FLOAT64 cannot be assigned to it "
            "(at 1:5)");
  EXPECT_EQ(Error("DECLARE s STRING DEFAULT 5"),
            "statement 1: variable s is STRING; a value of type INT64 cannot be assigned to it "
            "(at 1:9)");
  // Only a literal string coerces to DATE.
  EXPECT_EQ(Error("DECLARE d DATE; SET d = CONCAT('2020-', '03-01')"),
            "statement 2: variable d is DATE; a value of type STRING cannot be assigned to it "
            "(at 1:5)");
  EXPECT_EQ(Error("DECLARE a DEFAULT [1, 2]"),
            "statement 1: unsupported in backfill's BigQuery subset: DECLARE a with a value of "
            "DuckDB type INTEGER[] (variables of scalar types only) (at 1:9)");
  EXPECT_EQ(Error("DECLARE a ARRAY<INT64>"),
            "statement 1: unsupported in backfill's BigQuery subset: DECLARE of type ARRAY<...> "
            "(variables of scalar types only) (at 1:11)");
}

TEST_F(SqlScriptTest, AnAliasNamedLikeAVariableIsRefused) {
  // BigQuery's WHERE cannot see SELECT aliases and its ORDER BY can; DuckDB's can in both.
  EXPECT_EQ(Error("DECLARE n INT64 DEFAULT 1; SELECT COUNT(*) AS n FROM ds.Inventory"),
            "statement 2: unsupported in backfill's BigQuery subset: alias n named like a script "
            "variable (rename the alias or the variable) (at 1:20)");
}

TEST_F(SqlScriptTest, OtherErrorsAreDuckDbsOrSayWhatCouldNotBeDecided) {
  // An unknown name that is no variable fails as it would without variables.
  EXPECT_EQ(FirstLine(Error("DECLARE n INT64 DEFAULT 1; SELECT nope + n FROM ds.Inventory")),
            "Binder Error: Referenced column \"nope\" not found in FROM clause!");
  // The column `product` is a STRING: BigQuery would read it and fail to add 1; read as the
  // variable it would run. Neither is proven, so the statement is refused.
  EXPECT_EQ(
      FirstLine(Error("DECLARE product INT64 DEFAULT 1; SELECT product + 1 FROM ds.Inventory")),
      "statement 2: cannot tell whether product (at 1:8) reads a column or the script "
      "variable: read as a column, DuckDB says: Binder Error: No function matches the given "
      "name and argument types '+(VARCHAR, INTEGER_LITERAL)'. You might need to add explicit "
      "type casts.");
}

TEST_F(SqlScriptTest, VariablesEndWithTheScript) {
  Run("DECLARE x INT64 DEFAULT 5; SELECT x");
  auto v = w_->Query("SELECT getvariable('_bf_var_x') IS NULL");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->GetString(0, 0), "true");
  // Also after a refused assignment, which had computed its value already.
  Error("DECLARE i INT64; SET i = 1.5");
  v = w_->Query("SELECT getvariable('_bf_value_0') IS NULL AND getvariable('_bf_var_i') IS NULL");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->GetString(0, 0), "true");
  // In a later script the name is a plain (unknown) column again.
  EXPECT_NE(Error("SELECT x").find("Referenced column \"x\" was not found"), std::string::npos);
}

// --- MERGE ----------------------------------------------------------------------------------

TEST_F(SqlScriptTest, MergeUpsertsAsTheDocumentedExample) {
  // dml-syntax#merge_examples: matched rows add the arrivals, new products are inserted.
  auto r =
      Run("MERGE ds.Inventory T USING ds.NewArrivals S ON T.product = S.product "
          "WHEN MATCHED THEN UPDATE SET quantity = T.quantity + S.quantity "
          "WHEN NOT MATCHED THEN INSERT (product, quantity) VALUES(product, quantity)");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].rows_affected, 3);
  EXPECT_EQ(r[0].message, "Merged into p.ds.Inventory: 1 row(s) inserted, 2 updated, 0 deleted");
  EXPECT_EQ(Inventory(),
            "dishwasher,30 | dryer,230 | oven,305 | refrigerator,25 | top load washer,10");
}

TEST_F(SqlScriptTest, MergeAppliesTheFirstClauseWhoseConditionHolds) {
  auto r =
      Run("MERGE INTO ds.Inventory AS T USING ds.NewArrivals AS S ON T.product = S.product "
          "WHEN MATCHED AND S.quantity > 250 THEN DELETE "
          "WHEN MATCHED THEN UPDATE SET quantity = S.quantity "
          "WHEN NOT MATCHED BY SOURCE AND T.quantity < 20 THEN DELETE "
          "WHEN NOT MATCHED BY SOURCE THEN UPDATE SET quantity = quantity * 2 "
          "WHEN NOT MATCHED BY TARGET AND S.warehouse = 'warehouse #2' THEN "
          "INSERT (quantity, product) VALUES (S.quantity, UPPER(S.product))");
  ASSERT_EQ(r.size(), 1u);
  // oven (300 > 250) and top load washer (10 < 20, not in the source) deleted; dryer updated
  // from the source, dishwasher (not in the source, 30) doubled.
  EXPECT_EQ(r[0].message, "Merged into p.ds.Inventory: 1 row(s) inserted, 2 updated, 2 deleted");
  EXPECT_EQ(r[0].rows_affected, 5);
  EXPECT_EQ(Inventory(), "REFRIGERATOR,25 | dishwasher,60 | dryer,200");
}

TEST_F(SqlScriptTest, MergeFromASubqueryWithInsertRowAndVariables) {
  EXPECT_EQ(Rows("DECLARE bonus INT64 DEFAULT 1000; "
                 "MERGE ds.Inventory USING (SELECT product, quantity FROM ds.NewArrivals WHERE "
                 "quantity < 250) AS n ON Inventory.product = n.product "
                 "WHEN MATCHED THEN UPDATE SET quantity = bonus + n.quantity "
                 "WHEN NOT MATCHED THEN INSERT ROW; "
                 "SELECT product, quantity FROM ds.Inventory ORDER BY product"),
            "dishwasher,30 | dryer,1200 | oven,5 | refrigerator,25 | top load washer,10");
}

TEST_F(SqlScriptTest, UpdateAsTheDocumentedExamples) {
  // dml-syntax#update_examples: "UPDATE dataset.Inventory SET quantity = quantity - 10 WHERE
  // product like '%washer%'".
  auto r = Run("UPDATE ds.Inventory SET quantity = quantity - 10 WHERE product like '%washer%'");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].message, "Updated 2 row(s) of p.ds.Inventory");
  EXPECT_EQ(r[0].rows_affected, 2);
  EXPECT_EQ(Inventory(), "dishwasher,20 | dryer,30 | oven,5 | top load washer,0");
  // ... and with a join: "UPDATE dataset.Inventory i SET quantity = i.quantity + n.quantity
  // FROM dataset.NewArrivals n WHERE i.product = n.product".
  r =
      Run("UPDATE ds.Inventory i SET i.quantity = i.quantity + n.quantity "
          "FROM ds.NewArrivals n WHERE i.product = n.product");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].message, "Updated 2 row(s) of p.ds.Inventory");
  EXPECT_EQ(Inventory(), "dishwasher,20 | dryer,230 | oven,305 | top load washer,0");
  // A row joining two source rows is BigQuery's error, and nothing changes.
  Run("INSERT INTO ds.NewArrivals VALUES ('dryer', 1, 'warehouse #9')");
  EXPECT_EQ(Error("UPDATE ds.Inventory i SET quantity = n.quantity FROM ds.NewArrivals n "
                  "WHERE i.product = n.product"),
            "statement 1: UPDATE of p.ds.Inventory: UPDATE/MERGE must match at most one source "
            "row for each target row (1 target row(s) match several source rows); nothing was "
            "changed");
  EXPECT_EQ(Inventory(), "dishwasher,20 | dryer,230 | oven,305 | top load washer,0");
  // Variables and columns as in any statement.
  EXPECT_EQ(Rows("DECLARE quantity, extra INT64 DEFAULT 1; "
                 "UPDATE ds.Inventory SET quantity = quantity + extra WHERE product = 'oven'; "
                 "SELECT quantity FROM ds.Inventory WHERE product = 'oven'"),
            "306");
}

TEST_F(SqlScriptTest, MergeMovesRowsBetweenPartitions) {
  TableOptions o;
  o.schema = *ParseBqSchema(
      R"([{"name":"d","type":"DATE"},{"name":"id","type":"INT64"},{"name":"v","type":"STRING"}])",
      "t.bq");
  o.partition_by = "d";
  ASSERT_TRUE(w_->CreateTable({"p", "ds", "events"}, o).ok());
  Run("INSERT INTO ds.events VALUES (DATE '2020-03-01', 1, 'a'), (DATE '2020-03-01', 2, 'b'), "
      "(DATE '2020-03-02', 3, 'c')");
  Run("MERGE ds.events e USING (SELECT 2 AS id UNION ALL SELECT 4) s ON e.id = s.id "
      "WHEN MATCHED THEN UPDATE SET d = DATE '2020-03-03' "
      "WHEN NOT MATCHED THEN INSERT (d, id, v) VALUES (DATE '2020-03-02', s.id, 'new')");
  EXPECT_EQ(Rows("SELECT CAST(d AS STRING), id, v FROM ds.events ORDER BY id"),
            "2020-03-01,1,a | 2020-03-03,2,b | 2020-03-02,3,c | 2020-03-02,4,new");
  auto info = w_->DescribeTable({"p", "ds", "events"});
  ASSERT_TRUE(info.ok());
  std::string parts;
  for (const auto& part : info->partitions) {
    parts += fmt::format("{}:{} ", FormatDate(*part.date), part.rows);
  }
  EXPECT_EQ(parts, "2020-03-01:1 2020-03-02:2 2020-03-03:1 ");
}

TEST_F(SqlScriptTest, MergeRefusesATargetRowMatchingSeveralSourceRowsAndChangesNothing) {
  Run("INSERT INTO ds.NewArrivals VALUES ('dryer', 1, 'warehouse #9')");
  auto before = w_->Audit("p");
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(Error("MERGE ds.Inventory T USING ds.NewArrivals S ON T.product = S.product "
                  "WHEN MATCHED THEN UPDATE SET quantity = S.quantity "
                  "WHEN NOT MATCHED THEN INSERT (product, quantity) VALUES (product, quantity)"),
            "statement 1: MERGE into p.ds.Inventory: UPDATE/MERGE must match at most one source "
            "row for each target row (1 target row(s) match several source rows); nothing was "
            "changed");
  EXPECT_EQ(Inventory(), "dishwasher,30 | dryer,30 | oven,5 | top load washer,10");
  EXPECT_EQ(w_->Audit("p")->size(), before->size());
  // Without WHEN MATCHED, several matches only mean "matched": nothing to insert for dryer.
  EXPECT_EQ(Rows("MERGE ds.Inventory T USING ds.NewArrivals S ON T.product = S.product "
                 "WHEN NOT MATCHED THEN INSERT (product, quantity) VALUES (product, quantity); "
                 "SELECT COUNT(*) FROM ds.Inventory"),
            "5");
}

TEST_F(SqlScriptTest, MergeWritesThroughTheWarehousesAuditedTimeTravelledPath) {
  const std::string merge =
      "MERGE ds.Inventory T USING ds.NewArrivals S ON T.product = S.product "
      "WHEN MATCHED THEN DELETE";
  clock_.Advance(std::chrono::minutes(5));
  Run(merge);
  auto audit = w_->Audit("p");
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->back().action, "delete");
  EXPECT_EQ(audit->back().statement, merge);
  EXPECT_EQ(audit->back().rows, 2);
  // The deleted rows stay readable as of a time before the MERGE (10:05).
  EXPECT_EQ(Inventory(), "dishwasher,30 | top load washer,10");
  EXPECT_EQ(Rows("SELECT COUNT(*) FROM ds.Inventory FOR SYSTEM_TIME AS OF "
                 "TIMESTAMP '2020-03-19 10:01:00+00'"),
            "4");
}

TEST_F(SqlScriptTest, MergeIntoAProtectedDatasetIsRefused) {
  ASSERT_TRUE(w_->UpdateDataset({"p", "ds"}, {.is_protected = true}).ok());
  std::string e = Error(
      "MERGE ds.Inventory T USING ds.NewArrivals S ON T.product = S.product "
      "WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT (product) VALUES (product)");
  EXPECT_NE(e.find("dataset p.ds is protected"), std::string::npos) << e;
  ASSERT_TRUE(w_->UpdateDataset({"p", "ds"}, {.is_protected = false}).ok());
  EXPECT_EQ(Inventory(), "dishwasher,30 | dryer,30 | oven,5 | top load washer,10");
}

TEST_F(SqlScriptTest, MergeClauseErrorsNameTheirPlace) {
  EXPECT_EQ(Error("MERGE ds.Inventory T USING ds.NewArrivals S ON T.product = S.product "
                  "WHEN NOT MATCHED THEN UPDATE SET quantity = 1"),
            "statement 1: BigQuery SQL syntax error near 'UPDATE' (at 1:92): expected INSERT "
            "(WHEN NOT MATCHED [BY TARGET])");
  EXPECT_EQ(Error("MERGE ds.Inventory T USING ds.NewArrivals S ON T.product = S.product "
                  "WHEN MATCHED THEN UPDATE SET nope = 1"),
            "statement 1: MERGE into p.ds.Inventory: no column named nope");
  EXPECT_EQ(Error("MERGE ds.Inventory T USING ds.NewArrivals S ON T.product = S.product "
                  "WHEN NOT MATCHED THEN INSERT VALUES (1)"),
            "statement 1: MERGE into p.ds.Inventory: INSERT VALUES gives 1 value(s) for the "
            "table's 2 column(s) (name the columns: INSERT (a, b) VALUES (...))");
}

}  // namespace
}  // namespace backfill
