// Compiled pipeline stages. A Stage is the immutable, shareable plan of one step; ForStream
// makes the per-stream object that owns the step's buffers and caches (output lines, label
// name interning) and runs it. Internal to the pipeline module.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/logql/ast.h"
#include "query/pipeline/labels_builder.h"
#include "query/pipeline/label_filter.h"

namespace logq::pipeline {

class StreamStage {
 public:
  virtual ~StreamStage() = default;
  // Runs the step on one line. May replace *line with a view into this object's buffers
  // (valid until its next Process). Returns false to drop the line.
  virtual bool Process(int64_t ts, std::string_view* line, LabelsBuilder* lbs) = 0;
};

class Stage {
 public:
  virtual ~Stage() = default;
  // `lbs` is the stream's builder (stream labels known, no line state yet).
  virtual std::unique_ptr<StreamStage> ForStream(const LabelsBuilder& lbs) const = 0;
};

// Compiles a LogQL pipeline: reorders line filters the way Loki does (each run of line
// filters moves before the parsers/formatters that precede it, up to the previous label
// filter, line_format or unpack), merges each run into one filter stage (substring filters
// first, regexes last), and drops stages that do nothing (`|= ""`, `| x=~".*"`).
// `literals` receives the substrings of the leading positive `|=` filters.
Result<std::vector<std::unique_ptr<Stage>>> BuildStages(const std::vector<logql::Stage>& stages,
                                                         std::vector<std::string>* literals);

// The AND of unwrap post-filters, as a stage that evaluates label predicates.
Result<std::unique_ptr<Stage>> BuildPostFilterStage(
    const std::vector<std::shared_ptr<const logql::LabelFilterExpr>>& filters);

}  // namespace logq::pipeline
