// Runs a log line through a LogQL pipeline (query/pipeline) built from `query`, for the
// json/logfmt fuzz targets: the parser stages as queries use them, on top of the scanners.
#pragma once

#include <cstdio>
#include <memory>
#include <string_view>
#include <vector>

#include "query/logql/parser.h"
#include "query/model/labels.h"
#include "query/pipeline/pipeline.h"
#include "tests/fuzz/fuzz_check.h"

namespace logq::fuzz {

inline std::shared_ptr<const pipeline::Pipeline> MakePipeline(std::string_view query) {
  auto e = logql::ParseLogExpr(query);
  if (!e.ok()) std::fprintf(stderr, "%s\n", e.status().message().c_str());
  LOGQ_FUZZ_CHECK(e.ok());
  auto p = pipeline::Pipeline::Make((*e)->pipeline);
  if (!p.ok()) std::fprintf(stderr, "%s\n", p.status().message().c_str());
  LOGQ_FUZZ_CHECK(p.ok());
  return *p;
}

// Processes `line` once with a fresh per-stream state (no label cache growth across inputs).
inline void RunLine(const pipeline::Pipeline& p, std::string_view line) {
  auto labels = ParseLabels(R"({app="fuzz", level="info"})");
  LOGQ_FUZZ_CHECK(labels.ok());
  auto sp = p.ForStream(*labels);
  std::string_view out;
  const pipeline::ResultLabels* out_labels = nullptr;
  if (sp->Process(1, line, {}, &out, &out_labels)) {
    LOGQ_FUZZ_CHECK(out_labels != nullptr);
  }
}

}  // namespace logq::fuzz
