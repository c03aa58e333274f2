#include "core/bounded_queue.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace backfill {
namespace {

TEST(BoundedQueueTest, DeliversInOrderAcrossThreadsAndStopsWhenClosed) {
  BoundedQueue<int> q(2);
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(q.Push(i));
    q.Close();
  });
  std::vector<int> got;
  int item;
  while (q.Pop(&item)) got.push_back(item);
  producer.join();
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i], i);
}

TEST(BoundedQueueTest, AClosedQueueRefusesPushesAndHandsBackWhatIsLeft) {
  BoundedQueue<int> q(4);
  ASSERT_TRUE(q.Push(1));
  ASSERT_TRUE(q.Push(2));
  q.Close();
  EXPECT_FALSE(q.Push(3));
  auto left = q.Drain();
  EXPECT_EQ(left.size(), 2u);
  int item;
  EXPECT_FALSE(q.Pop(&item));
}

}  // namespace
}  // namespace backfill
