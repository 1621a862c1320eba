// The log pipeline: runs a LogQL pipeline (line filters, parsers, label filters, formats,
// drop/keep, decolorize) over one stream's lines, and extracts samples for metric queries.
//
//   Pipeline        immutable plan built once per query from the AST; shareable across
//                   threads.
//   StreamPipeline  per-stream state made by Pipeline::ForStream; single-threaded. It owns
//                   the buffers that returned views point into.
//
// Label semantics follow Loki 3: parsed labels are added to the stream's labels; a parsed
// label whose name clashes with a stream label (or with the entry's structured metadata) is
// stored as `<name>_extracted`; parser failures set `__error__` (JSONParserErr,
// LogfmtParserErr, ...) and `__error_details__` instead of dropping the line, and later
// stages still run; a numeric/duration/bytes filter on a value that does not convert sets
// `__error__=LabelFilterErr` (unless an error is already set) and lets the line pass.
// Structured metadata of an entry is visible to the pipeline as labels (names normalized as
// Prometheus' NormalizeLabel does).
//
// Line filters are moved in front of the parsers that precede them, as Loki's
// reorderStages does, and consecutive filters are merged (substring searches first).
// Stream objects keep their Pipeline / SampleExtractor plan alive; they may outlive it.
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
// The categorized view is that of the first line that produced the label set (Loki caches
// results by label set the same way). Results are never evicted: a stream whose lines all
// carry distinct labels (e.g. a parsed request id) grows the cache by one entry per line.
struct ResultLabels {
  Labels labels;             // sorted: stream labels + structured metadata + parsed labels
  uint64_t hash = 0;         // Labels::Hash() of `labels`
  std::string text;          // labels.ToString()
  // Categorized view (Loki 3 `categorize-labels`): which labels came from where.
  Labels stream;             // indexed stream labels (after drop/keep/label_format)
  Labels structured_metadata;
  Labels parsed;
};

// Resource limits of every pipeline in the process (logq-store sets them from
// `limits_config` at startup, before serving). Read when a stage is built: a Pipeline or
// SampleExtractor keeps the values it was built with.
struct PipelineLimits {
  // `| json` (and detected fields): objects nested deeper than this are not descended; the
  // line gets __error__=JSONParserErr. Bounds recursion and the rescans of nested objects
  // (work per line <= depth x line length).
  int max_json_depth = 128;
  // line_format / label_format: one execution producing more than this many bytes fails
  // with __error__=TemplateFormatErr and the line/label stays unchanged.
  size_t max_template_output_bytes = 1 << 20;
};
void SetPipelineLimits(const PipelineLimits& limits);
PipelineLimits GetPipelineLimits();

class StreamPipeline {
 public:
  virtual ~StreamPipeline() = default;
  // Runs the pipeline over one line. Returns false if the line is filtered out. On true,
  // `*out_line` is the (possibly rewritten) line, valid until the next Process call and while
  // `line` is (it may point into it), and `*out_labels` the line's labels (stable, see
  // ResultLabels). After warm-up, lines that repeat known label sets cause no allocation.
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
  // Returns false if the line produces no sample: filtered out, or (unwrap) the label is
  // absent or empty. `*out_labels` as in StreamPipeline.
  // An unwrap conversion failure sets `__error__=SampleExtractionErr` and its details; the
  // post-unwrap filters then run (`| __error__=""` drops the line). If the line survives,
  // the sample is returned with value 0 (±Inf for a float out of range) and, as for any line
  // with `__error__`, the full label set instead of the grouped one, so that the engine
  // reports Loki's pipeline error.
  virtual bool Process(int64_t ts, std::string_view line, const std::vector<Label>& structured_metadata,
                       double* out_value, const ResultLabels** out_labels) = 0;
};

class SampleExtractor {
 public:
  // `range` is the range aggregation (op, log pipeline, unwrap, grouping). Series labels are
  // reduced by its `by`/`without` grouping as Loki does; `by ()` and absent_over_time give
  // no labels. With unwrap and no `by`, the unwrapped label is removed from the series
  // labels. InvalidArgument for an operation that needs unwrap (sum_over_time, ...) given
  // without one, or for an invalid pipeline.
  static Result<std::shared_ptr<const SampleExtractor>> Make(const logql::RangeAggregationExpr& range);
  virtual ~SampleExtractor() = default;
  virtual std::unique_ptr<StreamSampleExtractor> ForStream(const Labels& stream_labels) const = 0;
  virtual std::vector<std::string> RequiredLiterals() const = 0;
};

}  // namespace logq::pipeline
