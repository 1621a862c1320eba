#include "shipper/client/backoff.h"

#include <gtest/gtest.h>

namespace logq::shipper {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(BackoffTest, ExponentialWithEqualJitterAndCap) {
  BackoffConfig c;
  c.min_period_ns = 500 * kMs;
  c.max_period_ns = 4000 * kMs;
  EXPECT_EQ(BackoffDelay(c, 0, -1, 0.0), 250 * kMs);
  EXPECT_LT(BackoffDelay(c, 0, -1, 0.999999), 500 * kMs);
  EXPECT_GT(BackoffDelay(c, 0, -1, 0.999999), 499 * kMs);
  EXPECT_EQ(BackoffDelay(c, 1, -1, 0.0), 500 * kMs);
  EXPECT_EQ(BackoffDelay(c, 3, -1, 0.0), 2000 * kMs);
  EXPECT_EQ(BackoffDelay(c, 10, -1, 0.0), 2000 * kMs);  // capped at 4s, half of it fixed
  EXPECT_LE(BackoffDelay(c, 60, -1, 1.0), 4000 * kMs);
  for (int a = 0; a < 100; ++a) {
    int64_t d = BackoffDelay(c, a, -1, 0.5);
    EXPECT_GT(d, 0);
    EXPECT_LE(d, c.max_period_ns);
  }
}

TEST(BackoffTest, HonoursRetryAfterUpToTheCap) {
  BackoffConfig c;
  c.min_period_ns = 500 * kMs;
  c.max_period_ns = 10'000 * kMs;
  EXPECT_EQ(BackoffDelay(c, 0, 3000 * kMs, 0.0), 3000 * kMs);
  EXPECT_EQ(BackoffDelay(c, 0, 60'000 * kMs, 0.0), 10'000 * kMs);
  EXPECT_EQ(BackoffDelay(c, 0, 0, 0.0), 250 * kMs);  // a smaller Retry-After does not shorten it
}

TEST(BackoffTest, ClassifiesStatuses) {
  EXPECT_EQ(ClassifyStatus(204), PushOutcome::kAck);
  EXPECT_EQ(ClassifyStatus(200), PushOutcome::kAck);
  EXPECT_EQ(ClassifyStatus(0), PushOutcome::kRetry);
  EXPECT_EQ(ClassifyStatus(429), PushOutcome::kRetry);
  EXPECT_EQ(ClassifyStatus(500), PushOutcome::kRetry);
  EXPECT_EQ(ClassifyStatus(503), PushOutcome::kRetry);
  EXPECT_EQ(ClassifyStatus(400), PushOutcome::kDrop);
  EXPECT_EQ(ClassifyStatus(401), PushOutcome::kDrop);
  EXPECT_EQ(ClassifyStatus(413), PushOutcome::kDrop);
}

TEST(BackoffTest, DropReasonsFromLokiMessages) {
  EXPECT_EQ(DropReason(400, "entry for stream '{a=\"b\"}' has timestamp too old: 2020-01-01"), "too_old");
  EXPECT_EQ(DropReason(400, "entry with timestamp ... ignored, reason: 'entry too far behind'"), "out_of_order");
  EXPECT_EQ(DropReason(400, "Max entry size '262144' bytes exceeded for stream"), "line_too_long");
  EXPECT_EQ(DropReason(400, "error parsing labels: parse error"), "invalid_labels");
  EXPECT_EQ(DropReason(413, ""), "too_large");
  EXPECT_EQ(DropReason(401, "no org id"), "unauthorized");
  EXPECT_EQ(DropReason(418, "teapot"), "http_418");
}

TEST(BackoffTest, ParsesRetryAfter) {
  EXPECT_EQ(ParseRetryAfter("3", 0), 3'000'000'000LL);
  EXPECT_EQ(ParseRetryAfter(" 10 \r\n", 0), 10'000'000'000LL);
  EXPECT_EQ(ParseRetryAfter("", 0), -1);
  EXPECT_EQ(ParseRetryAfter("soon", 0), -1);
  // HTTP-date, 5 s after "now".
  int64_t now = 1445412480LL * 1'000'000'000;  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:05 GMT", now), 5'000'000'000LL);
}

}  // namespace
}  // namespace logq::shipper
