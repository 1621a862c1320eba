#include "shipper/relabel/relabel.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <re2/re2.h>

namespace logq::shipper {
namespace {

using LabelMap = std::map<std::string, std::string, std::less<>>;

// Prometheus (legacy) label name rule: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// --- MD5 (RFC 1321), for hashmod: Prometheus uses the last 8 bytes of md5(value) as a
// big-endian uint64.
class Md5 {
 public:
  static std::array<uint8_t, 16> Sum(std::string_view data) {
    uint32_t s[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    size_t n = data.size();
    size_t full = n / 64;
    for (size_t b = 0; b < full; ++b) Block(s, reinterpret_cast<const uint8_t*>(data.data()) + b * 64);
    uint8_t tail[128] = {};
    size_t rem = n - full * 64;
    if (rem) std::memcpy(tail, data.data() + full * 64, rem);
    tail[rem] = 0x80;
    size_t tail_len = rem + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = static_cast<uint64_t>(n) * 8;
    for (int i = 0; i < 8; ++i) tail[tail_len - 8 + i] = static_cast<uint8_t>(bits >> (8 * i));
    Block(s, tail);
    if (tail_len == 128) Block(s, tail + 64);
    std::array<uint8_t, 16> out;
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) out[i * 4 + j] = static_cast<uint8_t>(s[i] >> (8 * j));
    return out;
  }

 private:
  static uint32_t Rotl(uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }
  static void Block(uint32_t st[4], const uint8_t* p) {
    static constexpr uint32_t kK[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391};
    static constexpr int kS[64] = {7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22,
                                   5,  9,  14, 20, 5,  9,  14, 20, 5,  9,  14, 20, 5,  9,  14, 20,
                                   4,  11, 16, 23, 4,  11, 16, 23, 4,  11, 16, 23, 4,  11, 16, 23,
                                   6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21};
    uint32_t m[16];
    for (int i = 0; i < 16; ++i) {
      m[i] = static_cast<uint32_t>(p[i * 4]) | static_cast<uint32_t>(p[i * 4 + 1]) << 8 |
             static_cast<uint32_t>(p[i * 4 + 2]) << 16 | static_cast<uint32_t>(p[i * 4 + 3]) << 24;
    }
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    for (int i = 0; i < 64; ++i) {
      uint32_t f;
      int g;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) % 16;
      }
      uint32_t tmp = d;
      d = c;
      c = b;
      b = b + Rotl(a + f + kK[i] + m[g], kS[i]);
      a = tmp;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
  }
};

// Go's regexp extract(): the name after '$' ("1", "name", "{name}"). Name characters are
// ASCII letters, digits, '_' and any non-ASCII byte (Go accepts Unicode letters/digits).
bool ExtractName(std::string_view s, std::string_view* name, int* num, size_t* consumed) {
  if (s.empty()) return false;
  bool brace = s[0] == '{';
  size_t start = brace ? 1 : 0;
  size_t i = start;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!(std::isalnum(c) || c == '_' || c >= 0x80)) break;
    ++i;
  }
  if (i == start) return false;
  *name = s.substr(start, i - start);
  if (brace) {
    if (i >= s.size() || s[i] != '}') return false;
    ++i;
  }
  int n = 0;
  for (char c : *name) {
    if (c < '0' || c > '9' || n >= 100000000) {
      n = -1;
      break;
    }
    n = n * 10 + (c - '0');
  }
  if ((*name)[0] == '0' && name->size() > 1) n = -1;
  *num = n;
  *consumed = i;
  return true;
}

// Go's regexp.Expand: `$1`, `${1}`, `$name`, `${name}`; `$$` is '$'; a malformed reference is
// kept as text; an unknown or unmatched group expands to "". `groups[i]` is group i
// (data() == nullptr: did not participate).
void Expand(std::string_view tmpl, const RE2& re, const re2::StringPiece* groups, int ngroups,
            std::string* out) {
  out->clear();
  while (!tmpl.empty()) {
    size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    out->append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out->push_back('$');
      tmpl.remove_prefix(1);
      continue;
    }
    std::string_view name;
    int num = -1;
    size_t consumed = 0;
    if (!ExtractName(tmpl, &name, &num, &consumed)) {
      out->push_back('$');
      continue;
    }
    tmpl.remove_prefix(consumed);
    int idx = num;
    if (idx < 0) {
      const auto& names = re.NamedCapturingGroups();
      auto it = names.find(std::string(name));
      if (it != names.end()) idx = it->second;
    }
    if (idx >= 0 && idx < ngroups && groups[idx].data() != nullptr) {
      out->append(groups[idx].data(), groups[idx].size());
    }
  }
  out->append(tmpl);
}

bool FullMatch(const RE2& re, std::string_view s) {
  return re.Match(s, 0, s.size(), RE2::ANCHOR_BOTH, nullptr, 0);
}

std::string ToLowerAscii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// labels.Builder.Set semantics: an empty value deletes the label.
void SetLabel(LabelMap& labels, std::string_view name, std::string value) {
  if (value.empty()) {
    if (auto it = labels.find(name); it != labels.end()) labels.erase(it);
    return;
  }
  auto it = labels.find(name);
  if (it != labels.end()) {
    it->second = std::move(value);
  } else {
    labels.emplace(std::string(name), std::move(value));
  }
}

std::string_view ActionName(RelabelAction a) {
  switch (a) {
    case RelabelAction::kReplace: return "replace";
    case RelabelAction::kKeep: return "keep";
    case RelabelAction::kDrop: return "drop";
    case RelabelAction::kKeepEqual: return "keepequal";
    case RelabelAction::kDropEqual: return "dropequal";
    case RelabelAction::kHashMod: return "hashmod";
    case RelabelAction::kLabelMap: return "labelmap";
    case RelabelAction::kLabelDrop: return "labeldrop";
    case RelabelAction::kLabelKeep: return "labelkeep";
    case RelabelAction::kLowercase: return "lowercase";
    case RelabelAction::kUppercase: return "uppercase";
  }
  return "?";
}

bool ParseAction(std::string_view s, RelabelAction* out) {
  std::string lower = ToLowerAscii(std::string(s));
  static constexpr RelabelAction kAll[] = {
      RelabelAction::kReplace,   RelabelAction::kKeep,      RelabelAction::kDrop,
      RelabelAction::kKeepEqual, RelabelAction::kDropEqual, RelabelAction::kHashMod,
      RelabelAction::kLabelMap,  RelabelAction::kLabelDrop, RelabelAction::kLabelKeep,
      RelabelAction::kLowercase, RelabelAction::kUppercase};
  for (RelabelAction a : kAll) {
    if (lower == ActionName(a)) {
      *out = a;
      return true;
    }
  }
  return false;
}

// Prometheus' relabelTarget: a target_label of a replace may contain $1 / ${name} references.
bool IsValidReplaceTarget(std::string_view s) {
  static const RE2* re = new RE2(R"(^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$)");
  return FullMatch(*re, s);
}

Result<std::string> ScalarString(const YAML::Node& n, std::string_view key) {
  if (!n.IsScalar()) return InvalidArgument(fmt::format("{}: expected a string", key));
  return n.Scalar();
}

Status ParseOne(const YAML::Node& node, RelabelConfig* cfg) {
  if (!node.IsMap()) return InvalidArgument("expected a mapping");
  bool has_regex = false, has_separator = false, has_replacement = false, has_modulus = false;
  for (const auto& kv : node) {
    std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "source_labels") {
      if (v.IsNull()) continue;
      if (!v.IsSequence()) return InvalidArgument("source_labels: expected a list of label names");
      for (const auto& item : v) {
        if (!item.IsScalar() || !IsValidLabelName(item.Scalar())) {
          return InvalidArgument(fmt::format("source_labels: {:?} is not a valid label name",
                                             item.IsScalar() ? item.Scalar() : std::string()));
        }
        cfg->source_labels.push_back(item.Scalar());
      }
    } else if (key == "separator") {
      ASSIGN_OR_RETURN(cfg->separator, ScalarString(v, key));
      has_separator = true;
    } else if (key == "regex") {
      ASSIGN_OR_RETURN(cfg->regex_text, ScalarString(v, key));
      has_regex = true;
    } else if (key == "modulus") {
      std::string s;
      ASSIGN_OR_RETURN(s, ScalarString(v, key));
      char* end = nullptr;
      errno = 0;
      unsigned long long m = std::strtoull(s.c_str(), &end, 10);
      if (s.empty() || *end != '\0' || errno != 0 || s[0] == '-') {
        return InvalidArgument(fmt::format("modulus: {:?} is not an unsigned integer", s));
      }
      cfg->modulus = m;
      has_modulus = true;
    } else if (key == "target_label") {
      ASSIGN_OR_RETURN(cfg->target_label, ScalarString(v, key));
    } else if (key == "replacement") {
      ASSIGN_OR_RETURN(cfg->replacement, ScalarString(v, key));
      has_replacement = true;
    } else if (key == "action") {
      std::string s;
      ASSIGN_OR_RETURN(s, ScalarString(v, key));
      if (!ParseAction(s, &cfg->action)) {
        return InvalidArgument(fmt::format("action: unknown relabel action {:?}", s));
      }
    } else {
      return InvalidArgument(fmt::format("unknown key {:?}", key));
    }
  }
  // Prometheus treats an explicit default as "not set"; compare by value as it does.
  has_regex = has_regex && cfg->regex_text != "(.*)";
  has_separator = has_separator && cfg->separator != ";";
  has_replacement = has_replacement && cfg->replacement != "$1";
  has_modulus = has_modulus && cfg->modulus != 0;

  RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_shared<RE2>("^(?:" + cfg->regex_text + ")$", opts);
  if (!re->ok()) {
    return InvalidArgument(fmt::format("regex: invalid regular expression {:?}: {}",
                                       cfg->regex_text, re->error()));
  }
  cfg->regex = std::move(re);

  const RelabelAction a = cfg->action;
  const std::string_view an = ActionName(a);
  if (a == RelabelAction::kHashMod && cfg->modulus == 0) {
    return InvalidArgument("modulus: relabel configuration for hashmod requires non-zero modulus");
  }
  if ((a == RelabelAction::kReplace || a == RelabelAction::kHashMod ||
       a == RelabelAction::kLowercase || a == RelabelAction::kUppercase ||
       a == RelabelAction::kKeepEqual || a == RelabelAction::kDropEqual) &&
      cfg->target_label.empty()) {
    return InvalidArgument(
        fmt::format("target_label: relabel configuration for {} action requires 'target_label' value", an));
  }
  if (a == RelabelAction::kReplace && !IsValidReplaceTarget(cfg->target_label)) {
    return InvalidArgument(
        fmt::format("target_label: {:?} is invalid 'target_label' for {} action", cfg->target_label, an));
  }
  if ((a == RelabelAction::kLowercase || a == RelabelAction::kUppercase ||
       a == RelabelAction::kHashMod || a == RelabelAction::kKeepEqual ||
       a == RelabelAction::kDropEqual) &&
      !IsValidLabelName(cfg->target_label)) {
    return InvalidArgument(
        fmt::format("target_label: {:?} is invalid 'target_label' for {} action", cfg->target_label, an));
  }
  if ((a == RelabelAction::kKeepEqual || a == RelabelAction::kDropEqual) &&
      (has_regex || has_modulus || has_separator || has_replacement)) {
    return InvalidArgument(fmt::format(
        "{} action requires only 'source_labels' and 'target_label', and no other fields", an));
  }
  if ((a == RelabelAction::kLabelDrop || a == RelabelAction::kLabelKeep) &&
      (!cfg->source_labels.empty() || !cfg->target_label.empty() || has_modulus ||
       has_separator || has_replacement)) {
    return InvalidArgument(fmt::format("{} action requires only 'regex', and no other fields", an));
  }
  return Status::OK();
}

}  // namespace

Result<std::vector<RelabelConfig>> ParseRelabelConfigs(const YAML::Node& node) {
  std::vector<RelabelConfig> out;
  if (!node || node.IsNull()) return out;
  if (!node.IsSequence()) return InvalidArgument("relabel_configs: expected a list");
  out.reserve(node.size());
  for (size_t i = 0; i < node.size(); ++i) {
    RelabelConfig cfg;
    Status st = ParseOne(node[i], &cfg);
    if (!st.ok()) return st.WithPrefix(fmt::format("relabel_configs[{}]", i));
    out.push_back(std::move(cfg));
  }
  return out;
}

bool Relabel(const std::vector<RelabelConfig>& rules, LabelMap& labels) {
  std::string val;
  std::string target;
  std::string res;
  constexpr int kMaxGroups = 32;
  re2::StringPiece groups[kMaxGroups];
  for (const RelabelConfig& cfg : rules) {
    const RE2& re = *cfg.regex;
    val.clear();
    for (size_t i = 0; i < cfg.source_labels.size(); ++i) {
      if (i > 0) val += cfg.separator;
      if (auto it = labels.find(cfg.source_labels[i]); it != labels.end()) val += it->second;
    }
    auto get = [&](std::string_view name) -> std::string_view {
      auto it = labels.find(name);
      return it == labels.end() ? std::string_view() : std::string_view(it->second);
    };
    switch (cfg.action) {
      case RelabelAction::kDrop:
        if (FullMatch(re, val)) return false;
        break;
      case RelabelAction::kKeep:
        if (!FullMatch(re, val)) return false;
        break;
      case RelabelAction::kDropEqual:
        if (get(cfg.target_label) == val) return false;
        break;
      case RelabelAction::kKeepEqual:
        if (get(cfg.target_label) != val) return false;
        break;
      case RelabelAction::kReplace: {
        int n = std::min(re.NumberOfCapturingGroups() + 1, kMaxGroups);
        if (!re.Match(val, 0, val.size(), RE2::ANCHOR_BOTH, groups, n)) break;
        Expand(cfg.target_label, re, groups, n, &target);
        if (!IsValidLabelName(target)) break;
        Expand(cfg.replacement, re, groups, n, &res);
        SetLabel(labels, target, std::move(res));
        res = std::string();
        break;
      }
      case RelabelAction::kLowercase:
        for (char& c : val) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        SetLabel(labels, cfg.target_label, val);
        break;
      case RelabelAction::kUppercase:
        for (char& c : val) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        SetLabel(labels, cfg.target_label, val);
        break;
      case RelabelAction::kHashMod: {
        auto sum = Md5::Sum(val);
        uint64_t h = 0;
        for (int i = 8; i < 16; ++i) h = (h << 8) | sum[i];
        SetLabel(labels, cfg.target_label, std::to_string(h % cfg.modulus));
        break;
      }
      case RelabelAction::kLabelMap: {
        // Matches read the labels as they were before this rule (Prometheus iterates the old
        // set and writes into a builder), so collect first and apply afterwards.
        std::vector<std::pair<std::string, std::string>> sets;
        int n = std::min(re.NumberOfCapturingGroups() + 1, kMaxGroups);
        for (const auto& [name, value] : labels) {
          if (!re.Match(name, 0, name.size(), RE2::ANCHOR_BOTH, groups, n)) continue;
          Expand(cfg.replacement, re, groups, n, &res);
          sets.emplace_back(res, value);
        }
        for (auto& [name, value] : sets) SetLabel(labels, name, std::move(value));
        break;
      }
      case RelabelAction::kLabelDrop:
        for (auto it = labels.begin(); it != labels.end();) {
          it = FullMatch(re, it->first) ? labels.erase(it) : std::next(it);
        }
        break;
      case RelabelAction::kLabelKeep:
        for (auto it = labels.begin(); it != labels.end();) {
          it = FullMatch(re, it->first) ? std::next(it) : labels.erase(it);
        }
        break;
    }
  }
  return true;
}

void RemoveInternalLabels(LabelMap& labels) {
  for (auto it = labels.begin(); it != labels.end();) {
    it = it->first.size() >= 2 && it->first[0] == '_' && it->first[1] == '_' ? labels.erase(it)
                                                                                : std::next(it);
  }
}

}  // namespace logq::shipper
