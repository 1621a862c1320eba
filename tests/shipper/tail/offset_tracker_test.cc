#include "shipper/tail/offset_tracker.h"

#include <gtest/gtest.h>

namespace logq::shipper {
namespace {

TEST(OffsetTrackerTest, CommitsOnlyAcknowledgedPrefix) {
  OffsetTracker t(100);
  t.Add(100, 150, 0);
  t.Emitted(150, 1);
  t.Add(150, 200, 0);
  t.Emitted(200, 1);
  t.SetConsumed(200);
  EXPECT_EQ(t.Committed(), 100u);
  t.Done(200);  // acked out of order: still blocked by the first
  EXPECT_EQ(t.Committed(), 100u);
  t.Done(150);
  EXPECT_EQ(t.Committed(), 200u);
  EXPECT_EQ(t.pending_slots(), 0u);
}

TEST(OffsetTrackerTest, NeedsEveryClient) {
  OffsetTracker t;
  t.Add(0, 10, 0);
  t.Emitted(10, 2);
  t.SetConsumed(10);
  t.Done(10);
  EXPECT_EQ(t.Committed(), 0u);
  t.Done(10);
  EXPECT_EQ(t.Committed(), 10u);
}

TEST(OffsetTrackerTest, NeverPassesAnUnfinishedPartialRecord) {
  // stdout P at [0,10), stderr F at [10,20) delivered, stdout F at [20,30) later.
  OffsetTracker t;
  t.SetPendingStart(0);
  t.Add(10, 20, 1);
  t.Emitted(20, 1);
  t.Done(20);
  t.SetConsumed(20);
  EXPECT_EQ(t.Committed(), 0u);
  t.SetPendingStart(std::nullopt);
  t.Add(0, 30, 0);  // the joined stdout record starts before the stderr one ended
  t.Emitted(30, 1);
  t.SetConsumed(30);
  EXPECT_EQ(t.Committed(), 0u);
  t.Done(30);
  EXPECT_EQ(t.Committed(), 30u);
}

TEST(OffsetTrackerTest, DroppedByPipelineCountsAsDone) {
  OffsetTracker t;
  t.Add(0, 10, 0);
  t.Emitted(10, 0);
  t.SetConsumed(10);
  EXPECT_EQ(t.Committed(), 10u);
}

TEST(OffsetTrackerTest, MultilineMergeCoversHeldRecordsOfTheSameStream) {
  OffsetTracker t;
  t.Add(0, 10, 0);   // held by multiline
  t.Add(10, 20, 1);  // stderr passes through
  t.Emitted(20, 1);
  t.Add(20, 30, 0);  // held
  t.Add(30, 40, 0);  // new block start: the previous block (0..30) is emitted with cursor 30
  t.Emitted(30, 1);
  t.SetConsumed(40);
  t.Done(20);
  EXPECT_EQ(t.Committed(), 0u);
  t.Done(30);
  EXPECT_EQ(t.Committed(), 30u);  // [30,40) is still held
}

TEST(OffsetTrackerTest, OutOfOrderReleaseIsSortedByEnd) {
  OffsetTracker t;
  t.Add(20, 30, 0);
  t.Emitted(30, 1);
  t.Add(0, 15, 1);  // a partial flushed by timeout after a later record
  t.Emitted(15, 1);
  t.SetConsumed(30);
  t.Done(30);
  EXPECT_EQ(t.Committed(), 0u);
  t.Done(15);
  EXPECT_EQ(t.Committed(), 30u);
}

TEST(OffsetTrackerTest, SkippedBytesAdvanceWhenNothingIsPending) {
  OffsetTracker t(5);
  t.SetConsumed(50);  // e.g. empty lines only
  EXPECT_EQ(t.Committed(), 50u);
  EXPECT_TRUE(t.idle());
}

// Acks in read order hit the lookup hint; acks out of order, and Committed() calls that free
// slots between acks, must still find the right slot.
TEST(OffsetTrackerTest, AcksInAnyOrderWithCommitsInBetween) {
  OffsetTracker t(0);
  for (uint64_t i = 0; i < 100; ++i) {
    t.Add(i * 10, i * 10 + 10, 0);
    ASSERT_TRUE(t.Emitted(i * 10 + 10, 1));
  }
  t.SetConsumed(1000);
  for (uint64_t i = 0; i < 40; ++i) t.Done(i * 10 + 10);  // in order
  EXPECT_EQ(t.Committed(), 400u);
  EXPECT_EQ(t.pending_slots(), 60u);
  for (uint64_t i = 99; i >= 60; --i) t.Done(i * 10 + 10);  // reverse order
  EXPECT_EQ(t.Committed(), 400u);
  t.Done(50 * 10 + 10);  // a slot in the middle
  EXPECT_EQ(t.Committed(), 400u);
  for (uint64_t i = 40; i < 60; ++i) {
    if (i != 50) t.Done(i * 10 + 10);
    t.Committed();  // frees slots while acks are still coming
  }
  EXPECT_EQ(t.Committed(), 1000u);
  EXPECT_EQ(t.pending_slots(), 0u);
  t.Done(123);  // unknown: ignored
  EXPECT_FALSE(t.Emitted(5, 1));
}

}  // namespace
}  // namespace logq::shipper
