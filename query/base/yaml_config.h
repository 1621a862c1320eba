// Strict YAML configuration walking shared by logq-store and logq-shipper: a ConfigSection
// visits one mapping, hands each known key to a setter, and reports the first problem as
// `config error at <file>:<line>:<col>: key "a.b": <what>` — including unknown keys, so a
// typo is an error naming the key, never silently ignored. Setters (Str, Bool, Int, Double,
// Duration, Bytes, StrMap) parse scalars with Loki/Promtail's notations.
//
// Header-only; includers link yaml-cpp themselves.
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "query/base/status.h"
#include "query/base/units.h"

namespace logq::yamlcfg {

inline std::string Scalar(const YAML::Node& n) { return n.IsScalar() ? n.Scalar() : std::string(); }

class ConfigSection {
 public:
  // `path` is the dotted path of this mapping ("" at the top); `source` names the file.
  ConfigSection(const YAML::Node& node, std::string path, std::string_view source, Status* err)
      : node_(node), path_(std::move(path)), source_(source), err_(err) {
    if (node_ && !node_.IsNull() && !node_.IsMap()) {
      Fail(node_, path_.empty() ? std::string("the configuration must be a mapping") : "\"" + path_ + "\" must be a mapping");
    }
  }

  // Applies `set` to the key's value when present and not null.
  void Field(const std::string& key, const std::function<Status(const YAML::Node&)>& set) {
    known_.insert(key);
    if (!err_->ok() || !IsMap()) return;
    YAML::Node v = node_[key];
    if (!v || v.IsNull()) return;
    Status s = set(v);
    if (!s.ok()) Fail(v, fmt::format("key \"{}\": {}", Join(key), s.message()));
  }

  // A known key whose value the caller walks itself (a nested mapping or a list).
  YAML::Node Child(const std::string& key) {
    known_.insert(key);
    return IsMap() ? node_[key] : YAML::Node();
  }

  // Reports the first key that no Field/Child call named.
  void Finish() {
    if (!err_->ok() || !IsMap()) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      std::string k = it->first.as<std::string>("");
      if (!known_.count(k)) {
        Fail(it->first, "unknown key \"" + Join(k) + "\"");
        return;
      }
    }
  }

  std::string Join(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  // Records `what` at the node's position unless an error is already recorded.
  void Fail(const YAML::Node& n, const std::string& what) {
    if (!err_->ok()) return;
    auto m = n.Mark();
    std::string where = m.is_null() ? std::string(source_) : fmt::format("{}:{}:{}", source_, m.line + 1, m.column + 1);
    *err_ = InvalidArgument(fmt::format("config error at {}: {}", where, what));
  }
  bool ok() const { return err_->ok(); }

 private:
  bool IsMap() const { return node_ && node_.IsMap(); }

  YAML::Node node_;
  std::string path_;
  std::string_view source_;
  Status* err_;
  std::set<std::string> known_;
};

inline auto Str(std::string* out) {
  return [out](const YAML::Node& n) -> Status {
    if (!n.IsScalar()) return InvalidArgument("must be a string");
    *out = n.Scalar();
    return Status::OK();
  };
}

inline auto Bool(bool* out) {
  return [out](const YAML::Node& n) -> Status {
    std::string s = Scalar(n);
    if (s == "true" || s == "True" || s == "TRUE") {
      *out = true;
    } else if (s == "false" || s == "False" || s == "FALSE") {
      *out = false;
    } else {
      return InvalidArgument("must be true or false, got \"" + s + "\"");
    }
    return Status::OK();
  };
}

template <typename T>
auto Int(T* out, int64_t min, int64_t max) {
  return [out, min, max](const YAML::Node& n) -> Status {
    std::string s = Scalar(n);
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end) return InvalidArgument("must be an integer, got \"" + s + "\"");
    if (v < min || v > max) return InvalidArgument(fmt::format("must be between {} and {}, got {}", min, max, v));
    *out = static_cast<T>(v);
    return Status::OK();
  };
}

// A non-negative number.
inline auto Double(double* out) {
  return [out](const YAML::Node& n) -> Status {
    std::string s = Scalar(n);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end || v < 0) return InvalidArgument("must be a non-negative number, got \"" + s + "\"");
    *out = v;
    return Status::OK();
  };
}

// A non-negative Go/Prometheus duration ("1h30m", "500ms").
inline auto Duration(int64_t* out) {
  return [out](const YAML::Node& n) -> Status {
    auto d = ParseDuration(Scalar(n));
    if (!d.ok()) return d.status();
    if (*d < 0) return InvalidArgument("must not be negative");
    *out = *d;
    return Status::OK();
  };
}

// A non-negative byte size ("1MiB", "512KB", "1048576").
template <typename T>
auto Bytes(T* out) {
  return [out](const YAML::Node& n) -> Status {
    auto b = ParseBytes(Scalar(n));
    if (!b.ok()) return b.status();
    if (*b < 0) return InvalidArgument("must not be negative");
    *out = static_cast<T>(*b);
    return Status::OK();
  };
}

// A mapping of string to string.
inline auto StrMap(std::map<std::string, std::string>* out) {
  return [out](const YAML::Node& n) -> Status {
    if (!n.IsMap()) return InvalidArgument("must be a mapping of name to value");
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->second.IsScalar()) return InvalidArgument("value of \"" + it->first.Scalar() + "\" must be a string");
      (*out)[it->first.Scalar()] = it->second.Scalar();
    }
    return Status::OK();
  };
}

}  // namespace logq::yamlcfg
