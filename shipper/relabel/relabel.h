// Prometheus `relabel_configs` for logq-shipper targets (Promtail's scrape_configs[].
// relabel_configs): the same actions, defaults and regex semantics as Prometheus
// (fully anchored RE2, `$1` / `${name}` expansion as Go's regexp.Expand).
//
// Rules are parsed once (regexes compiled once) and are immutable afterwards, so one
// vector of rules may be used from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "query/base/status.h"

namespace re2 {
class RE2;
}

namespace logq::shipper {

enum class RelabelAction {
  kReplace,
  kKeep,
  kDrop,
  kKeepEqual,
  kDropEqual,
  kHashMod,
  kLabelMap,
  kLabelDrop,
  kLabelKeep,
  kLowercase,
  kUppercase,
};

// One Prometheus relabel_config. Defaults are Prometheus's.
struct RelabelConfig {
  std::vector<std::string> source_labels;  // default: none
  std::string separator = ";";
  std::string regex_text = "(.*)";          // as written; matched fully anchored
  std::shared_ptr<const re2::RE2> regex;    // compiled "^(?:regex_text)$"
  uint64_t modulus = 0;                     // hashmod only (required there)
  std::string target_label;                 // required for replace, hashmod, lowercase, ...
  std::string replacement = "$1";
  RelabelAction action = RelabelAction::kReplace;
};

// Parses a YAML sequence of relabel_configs (null = none). Errors name the rule index and key.
Result<std::vector<RelabelConfig>> ParseRelabelConfigs(const YAML::Node& node);

// Applies the rules to target labels (incl. __meta_* and __path__); false = target dropped.
// Labels starting with "__" are removed afterwards by the caller (RemoveInternalLabels).
bool Relabel(const std::vector<RelabelConfig>& rules,
             std::map<std::string, std::string, std::less<>>& labels);

// Removes every label whose name starts with "__".
void RemoveInternalLabels(std::map<std::string, std::string, std::less<>>& labels);

}  // namespace logq::shipper
