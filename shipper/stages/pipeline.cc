// StagePipeline: parses pipeline_stages into a Chain and drives it.
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "shipper/stages/stage.h"
#include "shipper/stages/stages.h"

namespace logq::shipper {
namespace stages {

// ---- Extracted -----------------------------------------------------------------------

const ExtractedValue* Extracted::Find(std::string_view key) const {
  for (size_t i = 0; i < size_; ++i) {
    if (slots_[i].first == key) return &slots_[i].second;
  }
  return nullptr;
}

ExtractedValue& Extracted::Slot(std::string_view key) {
  for (size_t i = 0; i < size_; ++i) {
    if (slots_[i].first == key) return slots_[i].second;
  }
  if (size_ == slots_.size()) slots_.emplace_back();
  auto& slot = slots_[size_++];
  slot.first.assign(key);
  return slot.second;
}

void Extracted::SetString(std::string_view key, std::string_view value) {
  ExtractedValue& v = Slot(key);
  v.kind = ExtractedValue::Kind::kString;
  v.text.assign(value);
}

void Extracted::Erase(std::string_view key) {
  for (size_t i = 0; i < size_; ++i) {
    if (slots_[i].first == key) {
      std::swap(slots_[i], slots_[size_ - 1]);
      --size_;
      return;
    }
  }
}

// ---- Chain ---------------------------------------------------------------------------

class Chain::Next final : public Downstream {
 public:
  Next(Chain* chain, size_t index, Downstream* out) : chain_(chain), index_(index), out_(out) {}
  void Push(Item&& item) override { chain_->Run(index_, item, *out_); }
  void Drop(Item&& item, std::string_view reason) override { out_->Drop(std::move(item), reason); }

 private:
  Chain* chain_;
  size_t index_;
  Downstream* out_;
};

void Chain::Run(size_t from, Item& item, Downstream& out) {
  for (size_t i = from; i < stages_.size(); ++i) {
    Next next(this, i + 1, &out);
    if (stages_[i]->Process(item, next) == Stage::Outcome::kDone) return;
  }
  out.Push(std::move(item));
}

void Chain::Flush(bool force, Downstream& out) {
  for (size_t i = 0; i < stages_.size(); ++i) {
    Next next(this, i + 1, &out);
    stages_[i]->Flush(force, next);
  }
}

void Chain::FlushFile(uint64_t file_id, Downstream& out) {
  for (size_t i = 0; i < stages_.size(); ++i) {
    Next next(this, i + 1, &out);
    stages_[i]->FlushFile(file_id, next);
  }
}

size_t Chain::Held() const {
  size_t n = 0;
  for (const auto& s : stages_) n += s->Held();
  return n;
}

// ---- YAML helpers --------------------------------------------------------------------

Status CheckKeys(const YAML::Node& node, std::initializer_list<std::string_view> allowed) {
  if (!node || node.IsNull()) return Status::OK();
  if (!node.IsMap()) return InvalidArgument("expected a mapping");
  for (const auto& kv : node) {
    const std::string& k = kv.first.Scalar();
    bool ok = false;
    for (std::string_view a : allowed) ok |= (k == a);
    if (!ok) return InvalidArgument(fmt::format("unknown key {:?}", k));
  }
  return Status::OK();
}

Result<std::optional<std::string>> OptString(const YAML::Node& node, std::string_view key) {
  if (!node || !node.IsMap()) return std::optional<std::string>();
  YAML::Node v = node[std::string(key)];
  if (!v || v.IsNull()) return std::optional<std::string>();
  if (!v.IsScalar()) return InvalidArgument(fmt::format("{}: expected a string", key));
  return std::optional<std::string>(v.Scalar());
}

bool ValidLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

Result<std::vector<std::pair<std::string, std::string>>> NameSourceMap(const YAML::Node& node) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!node || node.IsNull() || !node.IsMap()) return InvalidArgument("expected a mapping of names");
  for (const auto& kv : node) {
    std::string name = kv.first.Scalar();
    std::string src = name;
    if (kv.second && !kv.second.IsNull()) {
      if (!kv.second.IsScalar()) return InvalidArgument(fmt::format("{}: expected a string", name));
      if (!kv.second.Scalar().empty()) src = kv.second.Scalar();
    }
    out.emplace_back(std::move(name), std::move(src));
  }
  return out;
}

void FormatFloatF(double v, std::string* out) {
  out->clear();
  if (std::isnan(v)) {
    *out = "NaN";
    return;
  }
  if (std::isinf(v)) {
    *out = v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  out->assign(buf, r.ptr);
}

// ---- no-op stages and the dispatcher -------------------------------------------------

namespace {

// cri / docker: the tailer decodes both formats before the pipeline, so these are no-ops.
class NoopStage final : public Stage {
 public:
  Outcome Process(Item&, Downstream&) override { return Outcome::kPass; }
};

Result<std::unique_ptr<Stage>> MakeCriStage(const YAML::Node& node, const std::string&,
                                            BuildContext*) {
  // Promtail's cri options; the tailer applies its own partial-line limits.
  RETURN_IF_ERROR(CheckKeys(node, {"max_partial_lines", "max_partial_line_size",
                                   "max_partial_line_size_truncate"}));
  return std::unique_ptr<Stage>(new NoopStage());
}

Result<std::unique_ptr<Stage>> MakeDockerStage(const YAML::Node& node, const std::string&,
                                               BuildContext*) {
  RETURN_IF_ERROR(CheckKeys(node, {}));
  return std::unique_ptr<Stage>(new NoopStage());
}

struct StageType {
  std::string_view name;
  Factory make;
};

constexpr StageType kStageTypes[] = {
    {"cri", MakeCriStage},
    {"docker", MakeDockerStage},
    {"json", MakeJsonStage},
    {"logfmt", MakeLogfmtStage},
    {"regex", MakeRegexStage},
    {"labels", MakeLabelsStage},
    {"static_labels", MakeStaticLabelsStage},
    {"structured_metadata", MakeStructuredMetadataStage},
    {"output", MakeOutputStage},
    {"labeldrop", MakeLabelDropStage},
    {"labelallow", MakeLabelAllowStage},
    {"tenant", MakeTenantStage},
    {"template", MakeTemplateStage},
    {"timestamp", MakeTimestampStage},
    {"drop", MakeDropStage},
    {"match", MakeMatchStage},
    {"multiline", MakeMultilineStage},
    {"limit", MakeLimitStage},
};

}  // namespace

Result<std::unique_ptr<Chain>> BuildChain(const YAML::Node& stages, const std::string& path,
                                          BuildContext* ctx) {
  std::vector<std::unique_ptr<Stage>> out;
  if (stages && !stages.IsNull()) {
    if (!stages.IsSequence()) return InvalidArgument(fmt::format("{}: expected a list of stages", path));
    for (size_t i = 0; i < stages.size(); ++i) {
      const YAML::Node& s = stages[i];
      std::string at = fmt::format("{}[{}]", path, i);
      if (!s.IsMap() || s.size() != 1) {
        return InvalidArgument(
            fmt::format("{}: a pipeline stage must be a mapping with exactly one key (the stage name)", at));
      }
      auto kv = *s.begin();
      const std::string name = kv.first.Scalar();
      const StageType* type = nullptr;
      for (const StageType& t : kStageTypes) {
        if (t.name == name) type = &t;
      }
      if (type == nullptr) {
        std::string known;
        for (const StageType& t : kStageTypes) {
          if (!known.empty()) known += ", ";
          known += t.name;
        }
        return InvalidArgument(fmt::format("{}: unknown stage {:?} (supported: {})", at, name, known));
      }
      std::string stage_path = at + "." + name;
      auto made = type->make(kv.second, stage_path, ctx);
      if (!made.ok()) {
        // Nested errors (match) already carry their full path.
        const std::string& msg = made.status().message();
        if (msg.rfind(path, 0) == 0) return made.status();
        return made.status().WithPrefix(stage_path);
      }
      out.push_back(std::move(made).value());
    }
  }
  return std::make_unique<Chain>(std::move(out));
}

}  // namespace stages

namespace {

using stages::Item;

class PipelineImpl final : public StagePipeline {
 public:
  PipelineImpl(std::unique_ptr<stages::Chain> chain, bool reads_extracted)
      : chain_(std::move(chain)), reads_extracted_(reads_extracted) {}

  void Process(LogEntry entry, EntrySink& sink) override {
    Item item{std::move(entry), std::move(spare_)};
    item.extracted.Clear();
    if (reads_extracted_) {
      // Promtail seeds the extracted map with the entry's labels (grafana/loki#1122).
      for (const auto& [k, v] : item.entry.labels) item.extracted.SetString(k, v);
    }
    Final out(&sink, &spare_);
    chain_->Run(0, item, out);
  }

  void Flush(bool force, EntrySink& sink) override {
    Final out(&sink, &spare_);
    chain_->Flush(force, out);
  }

  void FlushFile(uint64_t file_id, EntrySink& sink) override {
    Final out(&sink, &spare_);
    chain_->FlushFile(file_id, out);
  }

  size_t Held() const override { return chain_->Held(); }

 private:
  class Final final : public stages::Downstream {
   public:
    Final(EntrySink* sink, stages::Extracted* spare) : sink_(sink), spare_(spare) {}
    void Push(Item&& item) override {
      // Promtail's client takes the tenant from the reserved __tenant_id__ label.
      auto& labels = item.entry.labels;
      if (auto it = labels.find(kTenantLabel); it != labels.end()) {
        if (!it->second.empty()) item.entry.tenant = std::move(it->second);
        labels.erase(it);
      }
      sink_->Emit(std::move(item.entry));
      *spare_ = std::move(item.extracted);
    }
    void Drop(Item&& item, std::string_view reason) override {
      sink_->Dropped(item.entry, reason);
      *spare_ = std::move(item.extracted);
    }

   private:
    static constexpr std::string_view kTenantLabel = "__tenant_id__";
    EntrySink* sink_;
    stages::Extracted* spare_;
  };

  std::unique_ptr<stages::Chain> chain_;
  bool reads_extracted_;
  stages::Extracted spare_;  // the extracted map of the last finished item, reused
};

}  // namespace

Result<std::unique_ptr<StagePipeline>> StagePipeline::Make(const YAML::Node& stage_list,
                                                           const Clock& clock) {
  stages::BuildContext ctx;
  ctx.clock = &clock;
  ASSIGN_OR_RETURN(auto chain, stages::BuildChain(stage_list, "pipeline_stages", &ctx));
  return std::unique_ptr<StagePipeline>(new PipelineImpl(std::move(chain), ctx.reads_extracted));
}

}  // namespace logq::shipper
