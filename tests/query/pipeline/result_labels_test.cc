// ResultLabels: pointer identity per label set, hash/text consistency, the categorized view
// (stream / structured metadata / parsed) and structured metadata handling.
#include <gtest/gtest.h>

#include "tests/query/pipeline/pipeline_test_util.h"

namespace logq::pipeline {
namespace {

using testing::L;
using testing::MakePipeline;
using testing::Feed;

std::unique_ptr<StreamPipeline> Stream(std::string_view pipeline, std::string_view labels) {
  auto p = MakePipeline(pipeline);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return (*p)->ForStream(L(labels));
}

TEST(ResultLabelsTest, EqualLabelSetsShareAPointer) {
  auto sp = Stream("| logfmt", R"({app="a"})");
  auto a = Feed(sp.get(), "level=info id=1");
  auto b = Feed(sp.get(), "id=1 level=info");
  auto c = Feed(sp.get(), "level=warn id=1");
  ASSERT_TRUE(a.kept && b.kept && c.kept);
  EXPECT_EQ(a.result, b.result);
  EXPECT_NE(a.result, c.result);
}

TEST(ResultLabelsTest, UnchangedLinesReturnTheStreamLabels) {
  auto sp = Stream(R"(|= "x")", R"({b="2", a="1"})");
  auto a = Feed(sp.get(), "x1");
  auto b = Feed(sp.get(), "x2");
  EXPECT_EQ(a.result, b.result);
  EXPECT_EQ(a.labels, R"({a="1", b="2"})");
  EXPECT_EQ(a.result->stream.ToString(), R"({a="1", b="2"})");
  EXPECT_TRUE(a.result->parsed.empty());
}

TEST(ResultLabelsTest, ALineThatRestoresTheStreamLabelsGetsTheSamePointer) {
  auto sp = Stream("| logfmt | drop x", R"({app="a"})");
  auto plain = Feed(sp.get(), "");
  auto dropped = Feed(sp.get(), "x=1");
  EXPECT_EQ(plain.result, dropped.result);
}

TEST(ResultLabelsTest, HashAndTextMatchTheLabels) {
  auto sp = Stream("| logfmt", R"({app="a"})");
  auto o = Feed(sp.get(), "msg=\"a \\\"quoted\\\" value\" n=1");
  ASSERT_TRUE(o.kept);
  EXPECT_EQ(o.result->text, o.result->labels.ToString());
  EXPECT_EQ(o.result->hash, o.result->labels.Hash());
  EXPECT_EQ(o.result->text, R"({app="a", msg="a \"quoted\" value", n="1"})");
  for (const char* line : {"u=\xC3\xA9t\xC3\xA9", "t=\"a\\tb\"", "b=a\\b", "x=\x7f", "bad=\xff"}) {
    auto r = Feed(sp.get(), line);
    ASSERT_TRUE(r.kept);
    EXPECT_EQ(r.result->text, r.result->labels.ToString()) << line;
    EXPECT_EQ(r.result->hash, r.result->labels.Hash()) << line;
  }
}

TEST(ResultLabelsTest, CategorizedView) {
  auto sp = Stream("| logfmt", R"({app="a"})");
  auto o = Feed(sp.get(), "level=info", {{"trace_id", "abc"}});
  ASSERT_TRUE(o.kept);
  EXPECT_EQ(o.labels, R"({app="a", level="info", trace_id="abc"})");
  EXPECT_EQ(o.result->stream.ToString(), R"({app="a"})");
  EXPECT_EQ(o.result->structured_metadata.ToString(), R"({trace_id="abc"})");
  EXPECT_EQ(o.result->parsed.ToString(), R"({level="info"})");
}

TEST(ResultLabelsTest, ErrorsAreCategorizedAsParsed) {
  auto sp = Stream("| json", R"({app="a"})");
  auto o = Feed(sp.get(), "nope");
  ASSERT_TRUE(o.kept);
  EXPECT_EQ(o.result->stream.ToString(), R"({app="a"})");
  EXPECT_EQ(o.result->parsed.ToString(),
            R"({__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol"})");
}

TEST(ResultLabelsTest, ParsedValueOverridesStructuredMetadataOfTheSameName) {
  // label_format writes parsed labels; a parsed label of the same name wins.
  auto sp = Stream(R"(| label_format tenant="{{.tenant}}-x")", R"({app="a"})");
  auto o = Feed(sp.get(), "x", {{"tenant", "t1"}});
  ASSERT_TRUE(o.kept);
  EXPECT_EQ(o.labels, R"({app="a", tenant="t1-x"})");
  EXPECT_EQ(o.result->parsed.ToString(), R"({tenant="t1-x"})");
  EXPECT_TRUE(o.result->structured_metadata.empty());
}

TEST(ResultLabelsTest, DroppedStreamLabelLeavesTheStreamCategory) {
  auto sp = Stream("| drop env", R"({app="a", env="p"})");
  auto o = Feed(sp.get(), "x");
  EXPECT_EQ(o.result->stream.ToString(), R"({app="a"})");
}

TEST(StructuredMetadataTest, NoopPipelineStillAddsMetadata) {
  auto sp = Stream("", R"({app="a"})");
  auto with = Feed(sp.get(), "x", {{"trace_id", "t"}});
  auto without = Feed(sp.get(), "x");
  EXPECT_EQ(with.labels, R"({app="a", trace_id="t"})");
  EXPECT_EQ(without.labels, R"({app="a"})");
  EXPECT_EQ(with.result->structured_metadata.ToString(), R"({trace_id="t"})");
}

TEST(StructuredMetadataTest, NamesAreNormalizedLikePrometheus) {
  auto sp = Stream("", "{}");
  auto o = Feed(sp.get(), "x", {{"trace.id", "1"}, {"1abc", "2"}, {"_x", "3"}, {"__y", "4"}});
  EXPECT_EQ(o.labels, R"({__y="4", key_1abc="2", key_x="3", trace_id="1"})");
}

TEST(StructuredMetadataTest, ClashWithStreamLabelGetsSuffix) {
  auto sp = Stream("", R"({app="a"})");
  auto o = Feed(sp.get(), "x", {{"app", "b"}});
  EXPECT_EQ(o.labels, R"({app="a", app_extracted="b"})");
  EXPECT_EQ(o.result->structured_metadata.ToString(), R"({app_extracted="b"})");
}

TEST(StructuredMetadataTest, ErrorEntriesBecomeTheErrorPair) {
  auto sp = Stream(R"(| __error__="")", R"({app="a"})");
  EXPECT_FALSE(Feed(sp.get(), "x", {{"__error__", "E"}}).kept);
  EXPECT_TRUE(Feed(sp.get(), "x").kept);
}

TEST(StructuredMetadataTest, FiltersSeeMetadata) {
  auto sp = Stream(R"(| trace_id="t1")", R"({app="a"})");
  EXPECT_TRUE(Feed(sp.get(), "x", {{"trace_id", "t1"}}).kept);
  EXPECT_FALSE(Feed(sp.get(), "x", {{"trace_id", "t2"}}).kept);
  EXPECT_FALSE(Feed(sp.get(), "x").kept);
}

TEST(PipelineLifetimeTest, StreamPipelineOutlivesThePipeline) {
  std::unique_ptr<StreamPipeline> sp;
  {
    auto p = MakePipeline(R"(|= "x" | logfmt)");
    ASSERT_TRUE(p.ok());
    sp = (*p)->ForStream(L("{}"));
  }
  EXPECT_EQ(Feed(sp.get(), "x=1").labels, R"({x="1"})");
}

}  // namespace
}  // namespace logq::pipeline
