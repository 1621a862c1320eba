// Helpers for the pipeline tests: build a pipeline from LogQL text and run one line through
// it, reporting the kept flag, the output line and the result labels as Loki prints them.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/logql/parser.h"
#include "query/model/labels.h"
#include "query/pipeline/pipeline.h"

namespace logq::pipeline::testing {

inline Labels L(std::string_view text) {
  auto r = ParseLabels(text);
  EXPECT_TRUE(r.ok()) << r.status().ToString() << " for " << text;
  if (!r.ok()) return {};
  Labels l = std::move(r).value();
  l.Sort();
  return l;
}

// Parses `{app="test"} <pipeline>` and compiles its pipeline.
inline Result<std::shared_ptr<const Pipeline>> MakePipeline(std::string_view pipeline) {
  std::string q = "{app=\"test\"} ";
  q.append(pipeline);
  auto e = logql::ParseLogExpr(q);
  if (!e.ok()) return e.status();
  return Pipeline::Make((*e)->pipeline);
}

struct Out {
  bool kept = false;
  std::string line;
  std::string labels;  // ResultLabels::text
  const ResultLabels* result = nullptr;
};

inline Out Feed(StreamPipeline* sp, std::string_view line, const std::vector<Label>& md = {}, int64_t ts = 0) {
  Out o;
  std::string_view out_line;
  const ResultLabels* rl = nullptr;
  o.kept = sp->Process(ts, line, md, &out_line, &rl);
  if (o.kept) {
    o.line = std::string(out_line);
    o.labels = rl->text;
    o.result = rl;
  }
  return o;
}

// One-shot: compile `pipeline`, run `line` of a stream with `stream` labels.
inline Out RunOnce(std::string_view pipeline, std::string_view stream, std::string_view line,
                   const std::vector<Label>& md = {}, int64_t ts = 0) {
  auto p = MakePipeline(pipeline);
  EXPECT_TRUE(p.ok()) << p.status().ToString() << " for " << pipeline;
  if (!p.ok()) return {};
  auto sp = (*p)->ForStream(L(stream));
  return Feed(sp.get(), line, md, ts);
}

}  // namespace logq::pipeline::testing
