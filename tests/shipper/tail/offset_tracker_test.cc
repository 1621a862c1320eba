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

}  // namespace
}  // namespace logq::shipper
