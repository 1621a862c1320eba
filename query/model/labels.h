// Labels: the identity of a log stream. A Labels value is a list of (name, value) pairs;
// once Sort()ed (as every stored or indexed label set is) names are unique and ascending
// and ToString() is the canonical form `{a="1", b="2"}` that Loki prints.
// Value type; no internal synchronisation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"

namespace logq {

struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label& o) const { return name == o.name && value == o.value; }
  bool operator<(const Label& o) const { return name < o.name || (name == o.name && value < o.value); }
};

class Labels {
 public:
  Labels() = default;
  explicit Labels(std::vector<Label> v) : v_(std::move(v)) {}

  void Add(std::string name, std::string value) { v_.push_back({std::move(name), std::move(value)}); }
  // Sorts by name (stable), keeping duplicates; see FirstDuplicate().
  void Sort();
  // After Sort(): the first name that occurs twice, or "" if none.
  std::string_view FirstDuplicate() const;

  // The value of `name`, or nullptr. Linear scan (label sets are small).
  const std::string* Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name) != nullptr; }

  // Canonical text `{a="1", b="2"}` (Prometheus labels.String(); values Go-quoted).
  std::string ToString() const;

  // 64-bit hash of the canonical text: the stream fingerprint before collision handling.
  uint64_t Hash() const;

  size_t size() const { return v_.size(); }
  bool empty() const { return v_.empty(); }
  const std::vector<Label>& items() const { return v_; }
  std::vector<Label>::const_iterator begin() const { return v_.begin(); }
  std::vector<Label>::const_iterator end() const { return v_.end(); }
  bool operator==(const Labels& o) const { return v_ == o.v_; }

 private:
  std::vector<Label> v_;
};

// Parses Prometheus label-set text as sent in Loki's protobuf push (`{a="b", c="d"}`),
// values in Go string syntax. Order is kept and duplicates are not rejected here (the
// caller validates). Errors name the offending position.
Result<Labels> ParseLabels(std::string_view text);

// Appends `s` quoted like Go's strconv.Quote (escapes ", \, control chars, invalid UTF-8).
void AppendGoQuoted(std::string_view s, std::string* out);

// Decodes the body of a Go/LogQL double-quoted string literal (without the quotes):
// \a \b \f \n \r \t \v \\ \" \' \xHH \ooo \uHHHH \UHHHHHHHH. Errors describe the bad escape.
Result<std::string> UnquoteGoString(std::string_view body);

// True if `name` matches [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidLabelName(std::string_view name);

// True if `s` is valid UTF-8.
bool IsValidUtf8(std::string_view s);

}  // namespace logq
