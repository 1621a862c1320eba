// Label matchers (= != =~ !~) as in Prometheus and LogQL stream selectors. Regexes are RE2,
// fully anchored like Loki's (`^(?:re)$`). A Matcher is immutable after construction and
// safe to share between threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/model/labels.h"

namespace re2 {
class RE2;
}

namespace logq {

enum class MatchType { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

std::string_view MatchTypeString(MatchType t);  // "=", "!=", "=~", "!~"

// Go's regexp.Compile error text for a pattern RE2 rejects
// ("error parsing regexp: missing closing ): `(a`"), as Loki reports it.
std::string GoRegexpError(std::string_view pattern);

class Matcher {
 public:
  // Compiles the regex for =~ and !~; InvalidArgument names the bad pattern.
  static Result<Matcher> Make(MatchType type, std::string name, std::string value);

  MatchType type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }

  bool Matches(std::string_view v) const;
  // True if the matcher accepts the empty string (a label that is absent).
  bool MatchesEmpty() const { return Matches(""); }
  // `name="value"` with Go quoting.
  std::string ToString() const;

 private:
  MatchType type_ = MatchType::kEqual;
  std::string name_;
  std::string value_;
  std::shared_ptr<const re2::RE2> re_;
};

// True if every matcher accepts the stream's labels (absent label = "").
bool MatchesAll(const std::vector<Matcher>& matchers, const Labels& labels);

}  // namespace logq
