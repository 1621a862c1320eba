// The log pipeline: runs a LogQL pipeline (line filters, parsers, label filters, formats,
// drop/keep, decolorize) over one stream's lines, and extracts samples for metric queries.
//
//   Pipeline        immutable plan built once per query from the AST; shareable across
//                   threads.
//   StreamPipeline  per-stream state made by Pipeline::ForStream; single-threaded. It owns
//                   the buffers that returned views point into.
//
// Label semantics follow Loki: parsed labels are added to the stream's labels; a parsed
// label whose name clashes with a stream label is stored as `<name>_extracted`; parser
// failures set `__error__` (JSONParserErr, LogfmtParserErr, ...) and `__error_details__`
// instead of dropping the line; label filters on a line with `__error__` behave as in Loki
// (a numeric filter on a non-numeric value sets `__error__=LabelFilterErr`).
// Structured metadata of an entry is visible to the pipeline as labels.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/logql/ast.h"
#include "query/model/labels.h"

namespace logq::pipeline {

// The label set of a processed line. Stable for the StreamPipeline's lifetime; equal label
// sets from one StreamPipeline return the same pointer, so callers group by pointer or hash.
struct ResultLabels {
  Labels labels;             // sorted: stream labels + structured metadata + parsed labels
  uint64_t hash = 0;         // Labels::Hash() of `labels`
  std::string text;          // labels.ToString()
  // Categorized view (Loki 3 `categorize-labels`): which labels came from where.
  Labels stream;             // indexed stream labels (after drop/keep/label_format)
  Labels structured_metadata;
  Labels parsed;
};

class StreamPipeline {
 public:
  virtual ~StreamPipeline() = default;
  // Runs the pipeline over one line. Returns false if the line is filtered out. On true,
  // `*out_line` is the (possibly rewritten) line, valid until the next Process call, and
  // `*out_labels` the line's labels (stable, see ResultLabels).
  virtual bool Process(int64_t ts, std::string_view line, const std::vector<Label>& structured_metadata,
                       std::string_view* out_line, const ResultLabels** out_labels) = 0;
};

class Pipeline {
 public:
  // Builds the plan; InvalidArgument for invalid templates, regexes or patterns (message
  // suitable for a 400).
  static Result<std::shared_ptr<const Pipeline>> Make(const std::vector<logql::Stage>& stages);
  virtual ~Pipeline() = default;

  virtual std::unique_ptr<StreamPipeline> ForStream(const Labels& stream_labels) const = 0;
  // True if the pipeline has no stages (lines and labels pass through unchanged).
  virtual bool IsNoop() const = 0;
  // Substrings every line that can pass must contain (from leading positive line filters);
  // the storage layer may use them to skip work. May be empty.
  virtual std::vector<std::string> RequiredLiterals() const = 0;
};

// Sample extraction for metric queries: turns each line that passes the pipeline into a
// value (1 for count/rate, the line's byte length for bytes_*, the unwrapped label's value
// otherwise) and the labels of the series it belongs to.
class StreamSampleExtractor {
 public:
  virtual ~StreamSampleExtractor() = default;
  // Returns false if the line produces no sample. `*out_labels` as in StreamPipeline.
  // Unwrap conversion failures produce a sample-less line with `__error__=SampleExtractionErr`
  // only visible to a post-unwrap label filter; without such a filter the engine reports
  // Loki's pipeline error (see SampleExtractor::Make).
  virtual bool Process(int64_t ts, std::string_view line, const std::vector<Label>& structured_metadata,
                       double* out_value, const ResultLabels** out_labels) = 0;
};

class SampleExtractor {
 public:
  // `range` is the range aggregation (op, log pipeline, unwrap, grouping). For unwrapped
  // aggregations with `by`/`without` grouping, result labels are reduced accordingly, as
  // Loki does; the unwrapped label itself is removed from the series labels.
  static Result<std::shared_ptr<const SampleExtractor>> Make(const logql::RangeAggregationExpr& range);
  virtual ~SampleExtractor() = default;
  virtual std::unique_ptr<StreamSampleExtractor> ForStream(const Labels& stream_labels) const = 0;
  virtual std::vector<std::string> RequiredLiterals() const = 0;
};

}  // namespace logq::pipeline
