// MetricsRegistry::RemoveSeries, which the shipper uses to forget per-file series of
// deleted files.
#include <gtest/gtest.h>

#include "query/base/metrics.h"

namespace logq {
namespace {

TEST(MetricsRegistryRemoveTest, RemovesOnlyTheNamedSeries) {
  MetricsRegistry m;
  m.GetCounter("x_total", "X.", {{"path", "/a"}})->Inc(3);
  m.GetCounter("x_total", "X.", {{"path", "/b"}})->Inc(4);
  m.GetGauge("y", "Y.", {{"path", "/a"}})->Set(1);
  EXPECT_TRUE(m.RemoveSeries("x_total", {{"path", "/a"}}));
  EXPECT_FALSE(m.RemoveSeries("x_total", {{"path", "/a"}}));
  EXPECT_FALSE(m.RemoveSeries("nope", {{"path", "/a"}}));
  std::string text = m.Render();
  EXPECT_EQ(text.find("x_total{path=\"/a\"}"), std::string::npos) << text;
  EXPECT_NE(text.find("x_total{path=\"/b\"} 4"), std::string::npos) << text;
  EXPECT_NE(text.find("y{path=\"/a\"} 1"), std::string::npos) << text;
  // A removed series starts again from zero when asked for again.
  EXPECT_EQ(m.GetCounter("x_total", "X.", {{"path", "/a"}})->Value(), 0);
}

}  // namespace
}  // namespace logq
