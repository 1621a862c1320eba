#include "query/model/matcher.h"

#include <re2/re2.h>

namespace logq {

std::string_view MatchTypeString(MatchType t) {
  switch (t) {
    case MatchType::kEqual: return "=";
    case MatchType::kNotEqual: return "!=";
    case MatchType::kRegexMatch: return "=~";
    case MatchType::kRegexNoMatch: return "!~";
  }
  return "?";
}

Result<Matcher> Matcher::Make(MatchType type, std::string name, std::string value) {
  Matcher m;
  m.type_ = type;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (type == MatchType::kRegexMatch || type == MatchType::kRegexNoMatch) {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_dot_nl(true);
    auto re = std::make_shared<RE2>("^(?:" + m.value_ + ")$", opts);
    if (!re->ok()) {
      return InvalidArgument("error parsing regexp: " + re->error() + ": `" + m.value_ + "`");
    }
    m.re_ = std::move(re);
  }
  return m;
}

bool Matcher::Matches(std::string_view v) const {
  switch (type_) {
    case MatchType::kEqual: return v == value_;
    case MatchType::kNotEqual: return v != value_;
    case MatchType::kRegexMatch: return RE2::FullMatch(v, *re_);
    case MatchType::kRegexNoMatch: return !RE2::FullMatch(v, *re_);
  }
  return false;
}

std::string Matcher::ToString() const {
  std::string out = name_;
  out += MatchTypeString(type_);
  AppendGoQuoted(value_, &out);
  return out;
}

bool MatchesAll(const std::vector<Matcher>& matchers, const Labels& labels) {
  for (const Matcher& m : matchers) {
    const std::string* v = labels.Get(m.name());
    if (!m.Matches(v ? std::string_view(*v) : std::string_view())) return false;
  }
  return true;
}

}  // namespace logq
