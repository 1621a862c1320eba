// Action stages: labels, static_labels, structured_metadata, output, labeldrop, labelallow,
// tenant, template. They move extracted data into the entry.
#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "query/model/labels.h"
#include "query/pipeline/template.h"
#include "shipper/stages/stage.h"

namespace logq::shipper::stages {
namespace {

using LabelMap = std::map<std::string, std::string, std::less<>>;

// Sets a stream label; an empty value removes it (Loki treats empty and absent alike).
void SetLabel(LabelMap& labels, std::string_view name, std::string_view value) {
  auto it = labels.find(name);
  if (value.empty()) {
    if (it != labels.end()) labels.erase(it);
    return;
  }
  if (it != labels.end()) {
    it->second.assign(value);
  } else {
    labels.emplace(std::string(name), std::string(value));
  }
}

void SetMetadata(std::vector<std::pair<std::string, std::string>>& md, std::string_view name,
                 std::string_view value) {
  for (auto& [k, v] : md) {
    if (k == name) {
      v.assign(value);
      return;
    }
  }
  md.emplace_back(std::string(name), std::string(value));
}

Status ValidateNames(const std::vector<std::pair<std::string, std::string>>& pairs) {
  for (const auto& p : pairs) {
    if (!ValidLabelName(p.first)) return InvalidArgument(fmt::format("invalid label name: {}", p.first));
  }
  return Status::OK();
}

// labels: name ← extracted[source].
class LabelsStage final : public Stage {
 public:
  explicit LabelsStage(std::vector<std::pair<std::string, std::string>> cfg) : cfg_(std::move(cfg)) {}
  Outcome Process(Item& item, Downstream&) override {
    for (const auto& [name, src] : cfg_) {
      const ExtractedValue* v = item.extracted.Find(src);
      if (!Convertible(v) || !IsValidUtf8(v->text)) continue;
      SetLabel(item.entry.labels, name, v->text);
    }
    return Outcome::kPass;
  }

 private:
  std::vector<std::pair<std::string, std::string>> cfg_;
};

class StaticLabelsStage final : public Stage {
 public:
  explicit StaticLabelsStage(std::vector<std::pair<std::string, std::string>> cfg)
      : cfg_(std::move(cfg)) {}
  Outcome Process(Item& item, Downstream&) override {
    for (const auto& [name, value] : cfg_) SetLabel(item.entry.labels, name, value);
    return Outcome::kPass;
  }

 private:
  std::vector<std::pair<std::string, std::string>> cfg_;  // empty values already removed
};

// structured_metadata: name ← extracted[source]; and a stream label named by a source moves
// from the stream labels into structured metadata (Promtail 3).
class StructuredMetadataStage final : public Stage {
 public:
  explicit StructuredMetadataStage(std::vector<std::pair<std::string, std::string>> cfg)
      : cfg_(std::move(cfg)) {}
  Outcome Process(Item& item, Downstream&) override {
    auto& md = item.entry.structured_metadata;
    for (const auto& [name, src] : cfg_) {
      const ExtractedValue* v = item.extracted.Find(src);
      if (!Convertible(v) || !IsValidUtf8(v->text) || v->text.empty()) continue;
      SetMetadata(md, name, v->text);
    }
    for (const auto& [name, src] : cfg_) {
      auto it = item.entry.labels.find(src);
      if (it == item.entry.labels.end()) continue;
      SetMetadata(md, name, it->second);
      item.entry.labels.erase(it);
    }
    return Outcome::kPass;
  }

 private:
  std::vector<std::pair<std::string, std::string>> cfg_;
};

class OutputStage final : public Stage {
 public:
  explicit OutputStage(std::string source) : source_(std::move(source)) {}
  Outcome Process(Item& item, Downstream&) override {
    const ExtractedValue* v = item.extracted.Find(source_);
    if (Convertible(v)) item.entry.line.assign(v->text);
    return Outcome::kPass;
  }

 private:
  std::string source_;
};

class LabelDropStage final : public Stage {
 public:
  LabelDropStage(std::vector<std::string> names, bool allow) : names_(std::move(names)), allow_(allow) {}
  Outcome Process(Item& item, Downstream&) override {
    auto& labels = item.entry.labels;
    if (!allow_) {
      for (const auto& n : names_) {
        if (auto it = labels.find(n); it != labels.end()) labels.erase(it);
      }
      return Outcome::kPass;
    }
    for (auto it = labels.begin(); it != labels.end();) {
      bool keep = false;
      for (const auto& n : names_) keep |= (n == it->first);
      it = keep ? std::next(it) : labels.erase(it);
    }
    return Outcome::kPass;
  }

 private:
  std::vector<std::string> names_;
  bool allow_;
};

class TenantStage final : public Stage {
 public:
  enum class From { kSource, kValue, kLabel };
  TenantStage(From from, std::string arg) : from_(from), arg_(std::move(arg)) {}
  Outcome Process(Item& item, Downstream&) override {
    std::string_view tenant;
    switch (from_) {
      case From::kValue:
        tenant = arg_;
        break;
      case From::kSource:
        if (const ExtractedValue* v = item.extracted.Find(arg_); Convertible(v)) tenant = v->text;
        break;
      case From::kLabel:
        if (auto it = item.entry.labels.find(arg_); it != item.entry.labels.end()) tenant = it->second;
        break;
    }
    if (!tenant.empty()) item.entry.tenant.assign(tenant);
    return Outcome::kPass;
  }

 private:
  From from_;
  std::string arg_;
};

// template: extracted[source] = template over the extracted map (`.Value` is the source's
// current value, `.Entry` the line). An empty result removes the key.
class TemplateStage final : public Stage {
 public:
  TemplateStage(std::string source, std::unique_ptr<pipeline::Template> tmpl, const Clock* clock)
      : source_(std::move(source)), tmpl_(std::move(tmpl)), clock_(clock) {}

  Outcome Process(Item& item, Downstream&) override {
    const Extracted& ex = item.extracted;
    const std::string* line = &item.entry.line;
    pipeline::TemplateContext ctx;
    ctx.line = item.entry.line;
    ctx.timestamp_ns = item.entry.timestamp_ns;
    ctx.clock = clock_;
    const std::string& source = source_;
    ctx.label = [&ex, line, &source](std::string_view name) -> const std::string* {
      if (name == "Value") {
        const ExtractedValue* v = ex.Find(source);
        return Convertible(v) ? &v->text : nullptr;
      }
      if (name == "Entry") return line;
      const ExtractedValue* v = ex.Find(name);
      return Convertible(v) ? &v->text : nullptr;
    };
    ctx.for_each_label = [&ex](const std::function<void(std::string_view, std::string_view)>& visit) {
      std::vector<std::pair<std::string_view, std::string_view>> all;
      for (size_t i = 0; i < ex.size(); ++i) {
        if (Convertible(&ex.value(i))) all.emplace_back(ex.key(i), ex.value(i).text);
      }
      std::sort(all.begin(), all.end());
      for (const auto& [k, v] : all) visit(k, v);
    };
    Status st = tmpl_->Execute(ctx, &out_);
    if (!st.ok()) return Outcome::kPass;  // Promtail logs and leaves the value unchanged
    if (out_.empty()) {
      item.extracted.Erase(source_);
    } else {
      item.extracted.SetString(source_, out_);
    }
    return Outcome::kPass;
  }

 private:
  std::string source_;
  std::unique_ptr<pipeline::Template> tmpl_;
  const Clock* clock_;
  std::string out_;
};

Result<std::vector<std::string>> NameList(const YAML::Node& node, std::string_view stage) {
  if (!node || node.IsNull() || !node.IsSequence() || node.size() == 0) {
    return InvalidArgument(fmt::format("{} stage config cannot be empty (expected a list of label names)", stage));
  }
  std::vector<std::string> out;
  for (const auto& n : node) {
    if (!n.IsScalar()) return InvalidArgument("expected a list of label names");
    out.push_back(n.Scalar());
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Stage>> MakeLabelsStage(const YAML::Node& node, const std::string&,
                                               BuildContext* ctx) {
  if (!node || node.IsNull() || (node.IsMap() && node.size() == 0)) {
    return InvalidArgument("label stage config cannot be empty");
  }
  ASSIGN_OR_RETURN(auto pairs, NameSourceMap(node));
  RETURN_IF_ERROR(ValidateNames(pairs));
  ctx->reads_extracted = true;
  return std::unique_ptr<Stage>(new LabelsStage(std::move(pairs)));
}

Result<std::unique_ptr<Stage>> MakeStaticLabelsStage(const YAML::Node& node, const std::string&,
                                                     BuildContext*) {
  if (!node || node.IsNull() || !node.IsMap() || node.size() == 0) {
    return InvalidArgument("static_labels stage config cannot be empty");
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& kv : node) {
    std::string name = kv.first.Scalar();
    if (!ValidLabelName(name)) return InvalidArgument(fmt::format("invalid label name: {}", name));
    if (!kv.second || kv.second.IsNull()) continue;  // Promtail skips empty values
    if (!kv.second.IsScalar()) return InvalidArgument(fmt::format("{}: expected a string", name));
    if (kv.second.Scalar().empty()) continue;
    pairs.emplace_back(std::move(name), kv.second.Scalar());
  }
  return std::unique_ptr<Stage>(new StaticLabelsStage(std::move(pairs)));
}

Result<std::unique_ptr<Stage>> MakeStructuredMetadataStage(const YAML::Node& node,
                                                           const std::string&, BuildContext* ctx) {
  if (!node || node.IsNull() || (node.IsMap() && node.size() == 0)) {
    return InvalidArgument("structured_metadata stage config cannot be empty");
  }
  ASSIGN_OR_RETURN(auto pairs, NameSourceMap(node));
  RETURN_IF_ERROR(ValidateNames(pairs));
  ctx->reads_extracted = true;
  return std::unique_ptr<Stage>(new StructuredMetadataStage(std::move(pairs)));
}

Result<std::unique_ptr<Stage>> MakeOutputStage(const YAML::Node& node, const std::string&,
                                               BuildContext* ctx) {
  RETURN_IF_ERROR(CheckKeys(node, {"source"}));
  ASSIGN_OR_RETURN(auto source, OptString(node, "source"));
  if (!source || source->empty()) return InvalidArgument("source: output source value is required");
  ctx->reads_extracted = true;
  return std::unique_ptr<Stage>(new OutputStage(std::move(*source)));
}

Result<std::unique_ptr<Stage>> MakeLabelDropStage(const YAML::Node& node, const std::string&,
                                                  BuildContext*) {
  ASSIGN_OR_RETURN(auto names, NameList(node, "labeldrop"));
  return std::unique_ptr<Stage>(new LabelDropStage(std::move(names), false));
}

Result<std::unique_ptr<Stage>> MakeLabelAllowStage(const YAML::Node& node, const std::string&,
                                                   BuildContext*) {
  ASSIGN_OR_RETURN(auto names, NameList(node, "labelallow"));
  return std::unique_ptr<Stage>(new LabelDropStage(std::move(names), true));
}

Result<std::unique_ptr<Stage>> MakeTenantStage(const YAML::Node& node, const std::string&,
                                               BuildContext* ctx) {
  RETURN_IF_ERROR(CheckKeys(node, {"source", "value", "label"}));
  ASSIGN_OR_RETURN(auto source, OptString(node, "source"));
  ASSIGN_OR_RETURN(auto value, OptString(node, "value"));
  ASSIGN_OR_RETURN(auto label, OptString(node, "label"));
  int set = (source && !source->empty()) + (value && !value->empty()) + (label && !label->empty());
  if (set == 0) return InvalidArgument("label, source or value config are required");
  if (set > 1) {
    return InvalidArgument(
        "label, source and value are mutually exclusive: you should set source, value or label but not all");
  }
  if (source && !source->empty()) {
    ctx->reads_extracted = true;
    return std::unique_ptr<Stage>(new TenantStage(TenantStage::From::kSource, *source));
  }
  if (label && !label->empty()) {
    return std::unique_ptr<Stage>(new TenantStage(TenantStage::From::kLabel, *label));
  }
  return std::unique_ptr<Stage>(new TenantStage(TenantStage::From::kValue, *value));
}

Result<std::unique_ptr<Stage>> MakeTemplateStage(const YAML::Node& node, const std::string&,
                                                 BuildContext* ctx) {
  RETURN_IF_ERROR(CheckKeys(node, {"source", "template"}));
  ASSIGN_OR_RETURN(auto source, OptString(node, "source"));
  ASSIGN_OR_RETURN(auto text, OptString(node, "template"));
  if (!source || source->empty()) return InvalidArgument("source: template source value is required");
  if (!text) return InvalidArgument("template: template is required");
  auto tmpl = pipeline::Template::Parse(*text);
  if (!tmpl.ok()) return tmpl.status().WithPrefix("template");
  ctx->reads_extracted = true;
  return std::unique_ptr<Stage>(new TemplateStage(std::move(*source), std::move(tmpl).value(), ctx->clock));
}

}  // namespace logq::shipper::stages
