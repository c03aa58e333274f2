// Rescue steps on a real warehouse: partial partitions, content checksums, guarded drops.
#include "recover/rescue.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "testing/testing.h"
#include "testing/warehouse_testing.h"

namespace backfill {
namespace {

using namespace std::chrono_literals;

class RescueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = testing::CreateTestWarehouse(dir_.path(), clock_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    w_ = std::move(w).value();
    Status created = testing::CreateThreeDayTable(*w_, table_);
    ASSERT_TRUE(created.ok()) << created.ToString();
    clock_.Advance(1h);
  }

  testing::TempDir dir_;
  FixedClock clock_{*ParseTimestamp("2020-01-10T00:00:00Z")};
  std::unique_ptr<Warehouse> w_;
  TableName table_{"prod", "derived", "agg"};
  TableName snap_{"prod", "rescue", "agg"};
};

TEST_F(RescueTest, RestoreInsertsMissingLeavesPartialUnlessAskedAndIsIdempotent) {
  Timestamp before = clock_.Now();
  clock_.Advance(1h);
  ASSERT_TRUE(w_->DeletePartitions(table_, {*ParseDate("2020-01-01")}).ok());
  ASSERT_TRUE(w_->DeleteWhere(table_, "submission_date = DATE '2020-01-02' AND n < 4").ok());
  auto snap = Snapshot(*w_, table_, before, snap_);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ(snap->rows, 30);

  auto dry = RestoreMissingPartitions(*w_, snap_, table_, std::nullopt, false, true);
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_EQ(dry->Count(RestorePartition::State::kMissing), 1);
  EXPECT_EQ(dry->Count(RestorePartition::State::kPartial), 1);
  EXPECT_EQ(dry->Count(RestorePartition::State::kPresent), 1);
  EXPECT_EQ(w_->DescribeTable(table_)->total_rows, 16);  // the dry run wrote nothing

  auto r = RestoreMissingPartitions(*w_, snap_, table_, std::nullopt, false, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows_inserted, 10);
  EXPECT_EQ(w_->DescribeTable(table_)->total_rows, 26);  // the partial day left alone
  auto again = RestoreMissingPartitions(*w_, snap_, table_, std::nullopt, false, false);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->rows_inserted, 0);

  auto replace = RestoreMissingPartitions(*w_, snap_, table_, std::nullopt, true, false);
  ASSERT_TRUE(replace.ok());
  EXPECT_EQ(replace->rows_inserted, 10);
  auto v = Validate(*w_, snap_, table_, std::nullopt);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->passed);
  EXPECT_TRUE(v->recorded);
}

TEST_F(RescueTest, ValidateCatchesSameRowCountWithOtherContent) {
  auto snap = Snapshot(*w_, table_, clock_.Now(), snap_);
  ASSERT_TRUE(snap.ok());
  clock_.Advance(1h);
  ASSERT_TRUE(w_->ReplacePartition(table_, *ParseDate("2020-01-02"),
                                   "SELECT DATE '2020-01-02', i + 1 FROM range(10) t(i)")
                  .ok());
  auto v = Validate(*w_, snap_, table_, std::nullopt);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->passed);
  ASSERT_EQ(v->FailedPartitions(), std::vector<std::string>{"2020-01-02"});
  EXPECT_EQ(v->partitions[1].expected.rows, v->partitions[1].actual.rows);
  // Limited to the untouched days it passes.
  auto only = Validate(*w_, snap_, table_, *ParseDateRange("2020-01-03..2020-01-03"));
  ASSERT_TRUE(only.ok());
  EXPECT_TRUE(only->passed);
}

TEST_F(RescueTest, DropGuardRefusesUntilAValidationPassedAndForceOverrides) {
  ASSERT_TRUE(Snapshot(*w_, table_, clock_.Now(), snap_).ok());
  EXPECT_EQ(DropTableGuarded(*w_, snap_, false).code(), StatusCode::kRefused);
  clock_.Advance(1h);
  ASSERT_TRUE(w_->DeletePartitions(table_, {*ParseDate("2020-01-03")}).ok());
  ASSERT_FALSE(Validate(*w_, snap_, table_, std::nullopt)->passed);
  EXPECT_EQ(DropTableGuarded(*w_, snap_, false).code(),
            StatusCode::kRefused);  // a failed validation
  ASSERT_TRUE(RestoreMissingPartitions(*w_, snap_, table_, std::nullopt, false, false).ok());
  ASSERT_TRUE(Validate(*w_, snap_, table_, std::nullopt)->passed);
  EXPECT_TRUE(DropTableGuarded(*w_, snap_, false).ok());
  // --force drops an unvalidated one.
  TableName other{"prod", "rescue", "other"};
  ASSERT_TRUE(Snapshot(*w_, table_, clock_.Now(), other).ok());
  EXPECT_TRUE(DropTableGuarded(*w_, other, true).ok());
}

TEST_F(RescueTest, SnapshotIsIdempotentAndWorksOnDroppedTables) {
  Timestamp t = clock_.Now();
  clock_.Advance(1h);
  ASSERT_TRUE(w_->DropTable(table_).ok());
  auto first = Snapshot(*w_, table_, t, snap_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->rows, 30);
  auto second = Snapshot(*w_, table_, t, snap_);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->already_taken);
  EXPECT_EQ(w_->DescribeTable(snap_)->total_rows, 30);
  EXPECT_EQ(Snapshot(*w_, table_, t - 30min, snap_).status().code(), StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace backfill
