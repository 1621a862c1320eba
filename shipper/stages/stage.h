// Internal to shipper/stages: the extracted-data map, the item that flows through the stage
// chain, the Stage interface and the per-stage factories. Single-threaded like the pipeline.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "query/base/clock.h"
#include "query/base/status.h"
#include "shipper/stages/stages.h"

namespace re2 {
class RE2;
}

namespace logq::shipper::stages {

// One value of Promtail's extracted map (map[string]interface{}): strings, JSON numbers
// (float64), booleans and nil. `text` is what Promtail's getString returns (numbers as
// strconv.FormatFloat(v, 'f', -1, 64), booleans "true"/"false", nil "").
struct ExtractedValue {
  enum class Kind : uint8_t { kString, kNumber, kBool, kNil };
  Kind kind = Kind::kString;
  std::string text;
  double number = 0;
};

// The extracted map of one entry. A flat vector reused across entries: Clear() keeps the
// slots' string capacity, so steady-state entries cause no allocation. Lookups are linear
// (maps hold a handful of keys).
class Extracted {
 public:
  const ExtractedValue* Find(std::string_view key) const;
  // The slot for `key` (created if absent); the caller fills it.
  ExtractedValue& Slot(std::string_view key);
  void SetString(std::string_view key, std::string_view value);
  void Erase(std::string_view key);
  void Clear() { size_ = 0; }
  size_t size() const { return size_; }
  std::string_view key(size_t i) const { return slots_[i].first; }
  const ExtractedValue& value(size_t i) const { return slots_[i].second; }

 private:
  std::vector<std::pair<std::string, ExtractedValue>> slots_;
  size_t size_ = 0;
};

// What flows through the chain: the entry and its extracted map.
struct Item {
  LogEntry entry;
  Extracted extracted;
};

// Where a stage sends items it releases (held entries) or drops.
class Downstream {
 public:
  virtual ~Downstream() = default;
  virtual void Push(Item&& item) = 0;
  virtual void Drop(Item&& item, std::string_view reason) = 0;
};

class Stage {
 public:
  enum class Outcome {
    kPass,  // continue with the next stage
    kDone,  // the stage consumed the item (sent it to `next`, dropped it or holds it)
  };
  virtual ~Stage() = default;
  virtual Outcome Process(Item& item, Downstream& next) = 0;
  // Releases held items: those due now, or all when `force`.
  virtual void Flush(bool /*force*/, Downstream& /*next*/) {}
  // Releases everything held for one file (it reached its end: unlinked or rotated away).
  virtual void FlushFile(uint64_t /*file_id*/, Downstream& /*next*/) {}
  // Number of items held.
  virtual size_t Held() const { return 0; }
};

// Runs a sequence of stages; used for the top level and for match's nested stages.
class Chain {
 public:
  explicit Chain(std::vector<std::unique_ptr<Stage>> stages) : stages_(std::move(stages)) {}
  // Runs `item` from stage `from`; whatever passes the last stage goes to `out`.
  void Run(size_t from, Item& item, Downstream& out);
  void Flush(bool force, Downstream& out);
  void FlushFile(uint64_t file_id, Downstream& out);
  size_t Held() const;
  bool empty() const { return stages_.empty(); }

 private:
  class Next;
  std::vector<std::unique_ptr<Stage>> stages_;
};

struct BuildContext {
  const Clock* clock = nullptr;
  // Set by stages that read the extracted map (so the pipeline seeds it with the labels).
  bool reads_extracted = false;
};

// Builds a chain from a YAML sequence of stages; `path` prefixes errors
// ("pipeline_stages[2].match.stages[0].regex").
Result<std::unique_ptr<Chain>> BuildChain(const YAML::Node& stages, const std::string& path,
                                          BuildContext* ctx);

// ---- per-stage factories (`node` is the stage's value; errors without the path prefix) ----
using Factory = Result<std::unique_ptr<Stage>> (*)(const YAML::Node& node, const std::string& path,
                                                   BuildContext* ctx);
Result<std::unique_ptr<Stage>> MakeJsonStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeLogfmtStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeRegexStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeLabelsStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeStaticLabelsStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeStructuredMetadataStage(const YAML::Node&, const std::string&,
                                                           BuildContext*);
Result<std::unique_ptr<Stage>> MakeOutputStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeLabelDropStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeLabelAllowStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeTenantStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeTemplateStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeTimestampStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeDropStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeMatchStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeMultilineStage(const YAML::Node&, const std::string&, BuildContext*);
Result<std::unique_ptr<Stage>> MakeLimitStage(const YAML::Node&, const std::string&, BuildContext*);

// ---- YAML helpers shared by the factories ----

// Fails with "unknown key \"x\"" for a key of map `node` not in `allowed`. A null node is an
// empty map. InvalidArgument "expected a mapping" otherwise.
Status CheckKeys(const YAML::Node& node, std::initializer_list<std::string_view> allowed);
// A scalar string at `node[key]`; nullopt when absent or null.
Result<std::optional<std::string>> OptString(const YAML::Node& node, std::string_view key);
// Go's label name rule.
bool ValidLabelName(std::string_view name);
// "name: value" map of a `labels`-like stage: value null/empty means the name itself.
Result<std::vector<std::pair<std::string, std::string>>> NameSourceMap(const YAML::Node& node);
// Whether Promtail's getString succeeds: present and not nil (a JSON null or a missing
// JMESPath path). Stages skip values that do not convert, as Promtail does.
inline bool Convertible(const ExtractedValue* v) {
  return v != nullptr && v->kind != ExtractedValue::Kind::kNil;
}
// Compiles a Go (RE2-syntax) regex, accepting Go's `(?<name>` groups; errors name `key`.
Result<std::unique_ptr<re2::RE2>> CompileGoRegex(const std::string& pattern, std::string_view key);
// strconv.FormatFloat(v, 'f', -1, 64).
void FormatFloatF(double v, std::string* out);

}  // namespace logq::shipper::stages
