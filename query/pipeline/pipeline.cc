#include "query/pipeline/pipeline.h"

#include <algorithm>
#include <atomic>
#include <memory>

#include "query/pipeline/go_compat.h"
#include "query/pipeline/labels_builder.h"
#include "query/pipeline/stages.h"

namespace logq::pipeline {
namespace {

constexpr std::string_view kSampleExtractionErr = "SampleExtractionErr";

// Runs the compiled stages for one stream.
class StageRunner {
 public:
  StageRunner(const std::vector<std::unique_ptr<Stage>>& stages, const Labels& stream_labels)
      : lbs_(stream_labels), cache_(stream_labels) {
    runs_.reserve(stages.size());
    for (const auto& s : stages) runs_.push_back(s->ForStream(lbs_));
  }

  // Resets the builder, adds the structured metadata and runs every stage.
  bool Run(int64_t ts, std::string_view* line, const std::vector<Label>& structured_metadata) {
    lbs_.Reset();
    if (!structured_metadata.empty()) lbs_.AddStructuredMetadata(structured_metadata);
    for (const auto& r : runs_) {
      if (!r->Process(ts, line, &lbs_)) return false;
    }
    return true;
  }

  LabelsBuilder& lbs() { return lbs_; }
  ResultCache& cache() { return cache_; }

 private:
  LabelsBuilder lbs_;
  ResultCache cache_;
  std::vector<std::unique_ptr<StreamStage>> runs_;
};

class StreamPipelineImpl final : public StreamPipeline {
 public:
  StreamPipelineImpl(std::shared_ptr<const void> plan, const std::vector<std::unique_ptr<Stage>>& stages,
                     const Labels& labels)
      : plan_(std::move(plan)), runner_(stages, labels) {}

  bool Process(int64_t ts, std::string_view line, const std::vector<Label>& structured_metadata,
               std::string_view* out_line, const ResultLabels** out_labels) override {
    if (!runner_.Run(ts, &line, structured_metadata)) return false;
    *out_line = line;
    *out_labels = runner_.cache().LabelsResult(runner_.lbs());
    return true;
  }

 private:
  std::shared_ptr<const void> plan_;  // keeps the stages alive
  StageRunner runner_;
};

class PipelineImpl final : public Pipeline, public std::enable_shared_from_this<PipelineImpl> {
 public:
  PipelineImpl(std::vector<std::unique_ptr<Stage>> stages, std::vector<std::string> literals)
      : stages_(std::move(stages)), literals_(std::move(literals)) {}

  std::unique_ptr<StreamPipeline> ForStream(const Labels& stream_labels) const override {
    return std::make_unique<StreamPipelineImpl>(shared_from_this(), stages_, stream_labels);
  }
  bool IsNoop() const override { return stages_.empty(); }
  std::vector<std::string> RequiredLiterals() const override { return literals_; }

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
  std::vector<std::string> literals_;
};

// ---- sample extraction --------------------------------------------------------------------

enum class ValueKind { kCount, kBytes, kUnwrap };

struct ExtractorPlan {
  std::vector<std::unique_ptr<Stage>> stages;
  std::vector<std::string> literals;
  ValueKind kind = ValueKind::kCount;
  std::string unwrap_label;
  logql::ConvOp conv = logql::ConvOp::kNone;
  std::unique_ptr<Stage> post_filter;  // unwrap only
  GroupingSpec grouping;
};

bool Convert(logql::ConvOp conv, std::string_view v, double* out, std::string* err) {
  switch (conv) {
    case logql::ConvOp::kNone:
      return gocompat::ParseFloat(v, out, err);
    case logql::ConvOp::kDuration:
    case logql::ConvOp::kDurationSeconds: {
      int64_t ns;
      const bool ok = gocompat::ParseDuration(v, &ns, err);
      *out = ok ? gocompat::DurationSeconds(ns) : 0;
      return ok;
    }
    case logql::ConvOp::kBytes: {
      uint64_t b;
      const bool ok = gocompat::ParseBytes(v, &b, err);
      *out = ok ? static_cast<double>(b) : 0;
      return ok;
    }
  }
  return false;
}

class StreamSampleExtractorImpl final : public StreamSampleExtractor {
 public:
  StreamSampleExtractorImpl(std::shared_ptr<const void> owner, const ExtractorPlan* plan, const Labels& labels)
      : owner_(std::move(owner)), plan_(plan), runner_(plan->stages, labels) {
    if (plan_->post_filter) post_ = plan_->post_filter->ForStream(runner_.lbs());
  }

  bool Process(int64_t ts, std::string_view line, const std::vector<Label>& structured_metadata, double* out_value,
               const ResultLabels** out_labels) override {
    if (!runner_.Run(ts, &line, structured_metadata)) return false;
    LabelsBuilder& lbs = runner_.lbs();
    double v = 0;
    switch (plan_->kind) {
      case ValueKind::kCount:
        v = 1;
        break;
      case ValueKind::kBytes:
        v = static_cast<double>(line.size());
        break;
      case ValueKind::kUnwrap: {
        const std::string* s = lbs.Get(plan_->unwrap_label);
        // A line without the label (or with an empty value) yields no sample.
        if (s == nullptr || s->empty()) return false;
        if (!Convert(plan_->conv, *s, &v, &err_)) {
          lbs.SetErr(kSampleExtractionErr);
          lbs.SetErrDetails(err_);
        }
        if (post_ && !post_->Process(ts, &line, &lbs)) return false;
        break;
      }
    }
    *out_value = v;
    *out_labels = runner_.cache().GroupedLabels(lbs, plan_->grouping);
    return true;
  }

 private:
  std::shared_ptr<const void> owner_;  // keeps *plan_ alive
  const ExtractorPlan* plan_;
  StageRunner runner_;
  std::unique_ptr<StreamStage> post_;
  std::string err_;
};

class SampleExtractorImpl final : public SampleExtractor,
                                  public std::enable_shared_from_this<SampleExtractorImpl> {
 public:
  explicit SampleExtractorImpl(ExtractorPlan plan) : plan_(std::move(plan)) {}
  std::unique_ptr<StreamSampleExtractor> ForStream(const Labels& stream_labels) const override {
    return std::make_unique<StreamSampleExtractorImpl>(shared_from_this(), &plan_, stream_labels);
  }
  std::vector<std::string> RequiredLiterals() const override { return plan_.literals; }

 private:
  ExtractorPlan plan_;
};

}  // namespace

namespace {
std::atomic<int> g_max_json_depth{PipelineLimits{}.max_json_depth};
std::atomic<size_t> g_max_template_output_bytes{PipelineLimits{}.max_template_output_bytes};
}  // namespace

void SetPipelineLimits(const PipelineLimits& limits) {
  g_max_json_depth.store(limits.max_json_depth, std::memory_order_relaxed);
  g_max_template_output_bytes.store(limits.max_template_output_bytes, std::memory_order_relaxed);
}

PipelineLimits GetPipelineLimits() {
  PipelineLimits l;
  l.max_json_depth = g_max_json_depth.load(std::memory_order_relaxed);
  l.max_template_output_bytes = g_max_template_output_bytes.load(std::memory_order_relaxed);
  return l;
}

Result<std::shared_ptr<const Pipeline>> Pipeline::Make(const std::vector<logql::Stage>& stages) {
  std::vector<std::string> literals;
  ASSIGN_OR_RETURN(auto built, BuildStages(stages, &literals));
  return std::shared_ptr<const Pipeline>(std::make_shared<PipelineImpl>(std::move(built), std::move(literals)));
}

Result<std::shared_ptr<const SampleExtractor>> SampleExtractor::Make(const logql::RangeAggregationExpr& range) {
  using Op = logql::RangeOp;
  ExtractorPlan plan;
  if (range.log) {
    ASSIGN_OR_RETURN(plan.stages, BuildStages(range.log->pipeline, &plan.literals));
  }
  bool no_labels = false;
  if (range.grouping) {
    plan.grouping.groups = range.grouping->labels;
    plan.grouping.without = range.grouping->without;
    no_labels = range.grouping->labels.empty() && !range.grouping->without;
  }
  if (range.op == Op::kAbsentOverTime) no_labels = true;
  plan.grouping.no_labels = no_labels;
  if (range.unwrap) {
    plan.kind = ValueKind::kUnwrap;
    plan.unwrap_label = range.unwrap->label;
    plan.conv = range.unwrap->conv;
    // Without `by` grouping the unwrapped label is dropped from the series labels.
    if (plan.grouping.groups.empty() || plan.grouping.without) {
      plan.grouping.without = true;
      plan.grouping.groups.push_back(plan.unwrap_label);
    }
    ASSIGN_OR_RETURN(plan.post_filter, BuildPostFilterStage(range.unwrap->post_filters));
  } else {
    switch (range.op) {
      case Op::kCountOverTime:
      case Op::kRate:
      case Op::kAbsentOverTime:
        plan.kind = ValueKind::kCount;
        break;
      case Op::kBytesOverTime:
      case Op::kBytesRate:
        plan.kind = ValueKind::kBytes;
        break;
      default:
        return InvalidArgument("unsupported range vector aggregation operation: " +
                               std::string(logql::RangeOpName(range.op)));
    }
  }
  std::sort(plan.grouping.groups.begin(), plan.grouping.groups.end());
  return std::shared_ptr<const SampleExtractor>(std::make_shared<SampleExtractorImpl>(std::move(plan)));
}

}  // namespace logq::pipeline
