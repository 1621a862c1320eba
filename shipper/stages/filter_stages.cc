// Filtering stages: drop, match, limit.
#include <deque>
#include <unordered_map>

#include <fmt/format.h>
#include <re2/re2.h>

#include "query/logql/parser.h"
#include "query/model/labels.h"
#include "query/pipeline/go_compat.h"
#include "query/pipeline/line_filter.h"
#include "query/pipeline/pipeline.h"
#include "shipper/stages/stage.h"

namespace logq::shipper::stages {
namespace {

// ---- drop ----------------------------------------------------------------------------

struct DropConfig {
  std::vector<std::string> sources;  // empty: no source condition
  std::string separator = ";";
  std::optional<std::string> value;
  std::unique_ptr<RE2> expression;
  std::optional<int64_t> older_than_ns;
  std::optional<uint64_t> longer_than;
  std::string reason = "drop_stage";
};

class DropStage final : public Stage {
 public:
  DropStage(DropConfig cfg, const Clock* clock) : cfg_(std::move(cfg)), clock_(clock) {}

  Outcome Process(Item& item, Downstream& next) override {
    if (!ShouldDrop(item)) return Outcome::kPass;
    next.Drop(std::move(item), cfg_.reason);
    return Outcome::kDone;
  }

 private:
  // The source value: one extracted value, or several joined by `separator`. `string_typed`
  // tells whether Promtail's `value ==` comparison can succeed (only for strings).
  bool Source(const Item& item, std::string_view* out, bool* convertible, bool* string_typed) {
    if (cfg_.sources.size() == 1) {
      const ExtractedValue* v = item.extracted.Find(cfg_.sources[0]);
      if (v == nullptr) return false;
      *out = v->text;
      *convertible = v->kind != ExtractedValue::Kind::kNil;
      *string_typed = v->kind == ExtractedValue::Kind::kString;
      return true;
    }
    joined_.clear();
    for (size_t i = 0; i < cfg_.sources.size(); ++i) {
      const ExtractedValue* v = item.extracted.Find(cfg_.sources[i]);
      if (v == nullptr || v->kind == ExtractedValue::Kind::kNil) return false;
      if (i > 0) joined_ += cfg_.separator;
      joined_ += v->text;
    }
    *out = joined_;
    *convertible = true;
    *string_typed = true;
    return true;
  }

  // All configured conditions must hold (Promtail: an AND of the conditions).
  bool ShouldDrop(const Item& item) {
    const LogEntry& e = item.entry;
    if (cfg_.longer_than && e.line.size() <= *cfg_.longer_than) return false;
    if (cfg_.older_than_ns && e.timestamp_ns >= clock_->NowNanos() - *cfg_.older_than_ns) return false;
    std::string_view v;
    bool convertible = false, string_typed = false;
    if (!cfg_.sources.empty() && !cfg_.expression) {
      if (!Source(item, &v, &convertible, &string_typed)) return false;
      if (cfg_.value && !(string_typed && v == *cfg_.value)) return false;
    }
    if (cfg_.expression) {
      std::string_view input = e.line;
      if (!cfg_.sources.empty()) {
        if (!Source(item, &v, &convertible, &string_typed) || !convertible) return false;
        input = v;
      }
      if (!cfg_.expression->Match(input, 0, input.size(), RE2::UNANCHORED, nullptr, 0)) return false;
    }
    return true;
  }

  DropConfig cfg_;
  const Clock* clock_;
  std::string joined_;
};

// ---- match ---------------------------------------------------------------------------

class MatchStage final : public Stage {
 public:
  MatchStage(std::shared_ptr<const logql::LogExpr> expr,
             std::vector<std::unique_ptr<pipeline::LineFilter>> filters,
             std::shared_ptr<const pipeline::Pipeline> full, bool drop, std::string reason,
             std::unique_ptr<Chain> nested)
      : expr_(std::move(expr)),
        filters_(std::move(filters)),
        full_(std::move(full)),
        drop_(drop),
        reason_(std::move(reason)),
        nested_(std::move(nested)) {}

  Outcome Process(Item& item, Downstream& next) override {
    if (!Matches(item)) return Outcome::kPass;
    if (drop_) {
      next.Drop(std::move(item), reason_);
      return Outcome::kDone;
    }
    nested_->Run(0, item, next);
    return Outcome::kDone;
  }

  void Flush(bool force, Downstream& next) override {
    if (nested_) nested_->Flush(force, next);
  }
  void FlushFile(uint64_t file_id, Downstream& next) override {
    if (nested_) nested_->FlushFile(file_id, next);
  }
  size_t Held() const override { return nested_ ? nested_->Held() : 0; }

 private:
  bool Matches(Item& item) {
    auto& labels = item.entry.labels;
    for (const Matcher& m : expr_->matchers) {
      auto it = labels.find(m.name());
      if (!m.Matches(it == labels.end() ? std::string_view() : std::string_view(it->second))) return false;
    }
    if (!full_) {
      for (const auto& f : filters_) {
        if (!f->Matches(item.entry.line)) return false;
      }
      return true;
    }
    // A selector with parsers/formatters: run the LogQL pipeline; its output line and labels
    // replace the entry's (as Promtail does).
    Labels stream;
    for (const auto& [k, v] : labels) stream.Add(k, v);
    std::string key = stream.ToString();
    auto it = streams_.find(key);
    if (it == streams_.end()) {
      if (streams_.size() >= 1024) streams_.clear();
      it = streams_.emplace(key, full_->ForStream(stream)).first;
    }
    sm_.clear();
    for (const auto& [k, v] : item.entry.structured_metadata) sm_.push_back({k, v});
    std::string_view out_line;
    const pipeline::ResultLabels* out_labels = nullptr;
    if (!it->second->Process(item.entry.timestamp_ns, item.entry.line, sm_, &out_line, &out_labels)) {
      return false;
    }
    if (out_line.data() != item.entry.line.data() || out_line.size() != item.entry.line.size()) {
      item.entry.line = std::string(out_line);
    }
    labels.clear();
    for (const Label& l : out_labels->stream) labels.emplace(l.name, l.value);
    for (const Label& l : out_labels->parsed) labels.emplace(l.name, l.value);
    return true;
  }

  std::shared_ptr<const logql::LogExpr> expr_;
  std::vector<std::unique_ptr<pipeline::LineFilter>> filters_;
  std::shared_ptr<const pipeline::Pipeline> full_;  // null when the selector has only line filters
  bool drop_;
  std::string reason_;
  std::unique_ptr<Chain> nested_;
  std::unordered_map<std::string, std::unique_ptr<pipeline::StreamPipeline>> streams_;
  std::vector<Label> sm_;
};

// ---- limit ---------------------------------------------------------------------------

// golang.org/x/time/rate's token bucket: starts full, refills at `rate` per second up to
// `burst`.
struct Bucket {
  double tokens = -1;  // < 0: not started (full on first use)
  int64_t last = 0;
};

class LimitStage final : public Stage {
 public:
  LimitStage(double rate, int burst, bool drop, std::string by_label, size_t max_distinct,
             const Clock* clock)
      : rate_(rate),
        burst_(burst),
        drop_(drop),
        by_label_(std::move(by_label)),
        max_distinct_(max_distinct),
        clock_(clock) {}

  Outcome Process(Item& item, Downstream& next) override {
    if (!by_label_.empty()) {
      auto it = item.entry.labels.find(by_label_);
      if (it == item.entry.labels.end()) return Outcome::kPass;  // no label: not limited
      auto b = buckets_.find(it->second);
      if (b == buckets_.end()) {
        // Promtail keeps at most max_distinct_labels limiters (a generational map).
        if (buckets_.size() >= max_distinct_) buckets_.clear();
        b = buckets_.emplace(it->second, Bucket{}).first;
      }
      if (Allow(b->second)) return Outcome::kPass;
      next.Drop(std::move(item), kReason);
      return Outcome::kDone;
    }
    if (drop_) {
      if (Allow(global_)) return Outcome::kPass;
      next.Drop(std::move(item), kReason);
      return Outcome::kDone;
    }
    // Without drop, Promtail blocks until a token is available. Here the entry waits in a
    // FIFO (keeping file order) and Flush releases it once a token is available.
    if (held_.empty() && Allow(global_)) return Outcome::kPass;
    held_.push_back(std::move(item));
    return Outcome::kDone;
  }

  void Flush(bool force, Downstream& next) override {
    while (!held_.empty() && (force || Allow(global_))) {
      Item it = std::move(held_.front());
      held_.pop_front();
      next.Push(std::move(it));
    }
  }
  size_t Held() const override { return held_.size(); }

 private:
  static constexpr std::string_view kReason = "ratelimit_drop_stage";

  bool Allow(Bucket& b) {
    int64_t now = clock_->MonotonicNanos();
    if (b.tokens < 0) {
      b.tokens = burst_;
    } else {
      b.tokens = std::min<double>(burst_, b.tokens + static_cast<double>(now - b.last) / 1e9 * rate_);
    }
    b.last = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    return false;
  }

  double rate_;
  int burst_;
  bool drop_;
  std::string by_label_;
  size_t max_distinct_;
  const Clock* clock_;
  Bucket global_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::deque<Item> held_;
};

Result<bool> OptBool(const YAML::Node& node, std::string_view key, bool def) {
  YAML::Node v = node[std::string(key)];
  if (!v || v.IsNull()) return def;
  bool b = def;
  if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b)) {
    return InvalidArgument(fmt::format("{}: expected true or false", key));
  }
  return b;
}

}  // namespace

Result<std::unique_ptr<Stage>> MakeDropStage(const YAML::Node& node, const std::string&,
                                             BuildContext* ctx) {
  RETURN_IF_ERROR(CheckKeys(node, {"source", "separator", "value", "expression", "older_than",
                                   "longer_than", "drop_counter_reason"}));
  DropConfig cfg;
  bool any = false;
  if (node && node.IsMap()) {
    if (YAML::Node s = node["source"]; s && !s.IsNull()) {
      if (s.IsSequence()) {
        for (const auto& x : s) {
          if (!x.IsScalar()) return InvalidArgument("source: expected a name or a list of names");
          cfg.sources.push_back(x.Scalar());
        }
      } else if (s.IsScalar()) {
        cfg.sources.push_back(s.Scalar());
      } else {
        return InvalidArgument("source: expected a name or a list of names");
      }
      any = !cfg.sources.empty();
    }
    ASSIGN_OR_RETURN(auto sep, OptString(node, "separator"));
    if (sep) cfg.separator = *sep;
    ASSIGN_OR_RETURN(cfg.value, OptString(node, "value"));
    ASSIGN_OR_RETURN(auto expr, OptString(node, "expression"));
    ASSIGN_OR_RETURN(auto older, OptString(node, "older_than"));
    ASSIGN_OR_RETURN(auto longer, OptString(node, "longer_than"));
    ASSIGN_OR_RETURN(auto reason, OptString(node, "drop_counter_reason"));
    if (reason && !reason->empty()) cfg.reason = *reason;
    if (cfg.value && expr) {
      return InvalidArgument(
          "drop stage config error, `value` and `expression` cannot both be defined at the same time.");
    }
    if (expr) {
      ASSIGN_OR_RETURN(cfg.expression, CompileGoRegex(*expr, "expression"));
      any = true;
    }
    if (older) {
      int64_t ns = 0;
      std::string err;
      if (!pipeline::gocompat::ParseDuration(*older, &ns, &err)) {
        return InvalidArgument(fmt::format("older_than: {:?} cannot be converted to a duration: {}", *older, err));
      }
      cfg.older_than_ns = ns;
      any = true;
    }
    if (longer) {
      uint64_t n = 0;
      std::string err;
      if (!pipeline::gocompat::ParseBytes(*longer, &n, &err)) {
        return InvalidArgument(fmt::format("longer_than: failed to parse {:?} to bytes: {}", *longer, err));
      }
      cfg.longer_than = n;
      any = true;
    }
  }
  if (!any) {
    return InvalidArgument(
        "drop stage config must contain at least one of `source`, `expression`, `older_than` or `longer_than`");
  }
  if (!cfg.sources.empty()) ctx->reads_extracted = true;
  return std::unique_ptr<Stage>(new DropStage(std::move(cfg), ctx->clock));
}

Result<std::unique_ptr<Stage>> MakeMatchStage(const YAML::Node& node, const std::string& path,
                                              BuildContext* ctx) {
  RETURN_IF_ERROR(CheckKeys(node, {"selector", "stages", "action", "pipeline_name", "drop_counter_reason"}));
  ASSIGN_OR_RETURN(auto selector, OptString(node, "selector"));
  if (!selector || selector->empty()) return InvalidArgument("selector: selector statement required for match stage");
  logql::ParseOptions popts;
  popts.require_non_empty_matcher = false;
  auto parsed = logql::ParseLogExpr(*selector, popts);
  if (!parsed.ok()) return parsed.status().WithPrefix(fmt::format("selector {:?}", *selector));
  std::shared_ptr<const logql::LogExpr> expr = std::move(parsed).value();
  ASSIGN_OR_RETURN(auto action, OptString(node, "action"));
  bool drop = false;
  if (action && !action->empty()) {
    if (*action == "drop") drop = true;
    else if (*action != "keep") return InvalidArgument("action: match stage action should be 'keep' or 'drop'");
  }
  ASSIGN_OR_RETURN(auto reason, OptString(node, "drop_counter_reason"));
  YAML::Node stages = node["stages"];
  bool has_stages = stages && !stages.IsNull() && stages.size() > 0;
  if (!drop && !has_stages) {
    return InvalidArgument("stages: match stage requires at least one additional stage to be defined in '- stages'");
  }
  if (drop && has_stages) {
    return InvalidArgument("stages: match stage configured to drop entries cannot contains stages");
  }
  std::unique_ptr<Chain> nested;
  if (has_stages) {
    ASSIGN_OR_RETURN(nested, BuildChain(stages, path + ".stages", ctx));
  }
  std::vector<std::unique_ptr<pipeline::LineFilter>> filters;
  std::shared_ptr<const pipeline::Pipeline> full;
  bool only_filters = true;
  for (const auto& st : expr->pipeline) only_filters &= st.kind == logql::Stage::Kind::kLineFilter;
  if (only_filters) {
    for (const auto& st : expr->pipeline) {
      auto f = pipeline::BuildLineFilter(st.line_filter);
      if (!f.ok()) return f.status().WithPrefix("selector");
      filters.push_back(std::move(f).value());
    }
  } else {
    auto p = pipeline::Pipeline::Make(expr->pipeline);
    if (!p.ok()) return p.status().WithPrefix("selector");
    full = std::move(p).value();
  }
  return std::unique_ptr<Stage>(new MatchStage(std::move(expr), std::move(filters), std::move(full), drop,
                                               reason && !reason->empty() ? *reason : "match_stage",
                                               std::move(nested)));
}

Result<std::unique_ptr<Stage>> MakeLimitStage(const YAML::Node& node, const std::string&,
                                              BuildContext* ctx) {
  RETURN_IF_ERROR(CheckKeys(node, {"rate", "burst", "drop", "by_label_name", "max_distinct_labels"}));
  if (!node || !node.IsMap()) return InvalidArgument("limit stage failed to parse rate or burst");
  double rate = 0;
  int burst = 0;
  int max_distinct = 10000;
  if (YAML::Node r = node["rate"]; !r || !r.IsScalar() || !YAML::convert<double>::decode(r, rate) || rate <= 0) {
    return InvalidArgument("rate: limit stage failed to parse rate or burst (rate must be > 0)");
  }
  if (YAML::Node b = node["burst"]; !b || !b.IsScalar() || !YAML::convert<int>::decode(b, burst) || burst <= 0) {
    return InvalidArgument("burst: limit stage failed to parse rate or burst (burst must be an integer > 0)");
  }
  if (YAML::Node m = node["max_distinct_labels"]; m && !m.IsNull()) {
    if (!m.IsScalar() || !YAML::convert<int>::decode(m, max_distinct)) {
      return InvalidArgument("max_distinct_labels: expected an integer");
    }
  }
  max_distinct = std::max(max_distinct, 10000);  // Promtail raises it to this minimum
  ASSIGN_OR_RETURN(bool drop, OptBool(node, "drop", false));
  ASSIGN_OR_RETURN(auto by_label, OptString(node, "by_label_name"));
  if (by_label && !by_label->empty() && !drop) {
    return InvalidArgument("by_label_name: When ratelimiting by label, drop must be true");
  }
  return std::unique_ptr<Stage>(new LimitStage(rate, burst, drop, by_label.value_or(""),
                                               static_cast<size_t>(max_distinct), ctx->clock));
}

}  // namespace logq::shipper::stages
