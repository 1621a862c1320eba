#include "query/logql/selector.h"

#include <fmt/format.h>

namespace logq::logql {
namespace {

class SelectorParser {
 public:
  explicit SelectorParser(std::string_view in) : in_(in) {}

  Result<std::vector<Matcher>> Parse() {
    SkipSpace();
    if (!Consume('{')) return Error("syntax error: unexpected " + Describe() + ", expecting {");
    std::vector<Matcher> out;
    SkipSpace();
    if (Consume('}')) return Finish(std::move(out));
    while (true) {
      SkipSpace();
      size_t name_pos = pos_;
      std::string name;
      while (pos_ < in_.size() && (std::isalnum(static_cast<unsigned char>(in_[pos_])) || in_[pos_] == '_')) {
        name += in_[pos_++];
      }
      if (name.empty() || !IsValidLabelName(name)) {
        pos_ = name_pos;
        return Error("syntax error: unexpected " + Describe() + ", expecting IDENTIFIER");
      }
      SkipSpace();
      MatchType type;
      if (Consume("=~")) type = MatchType::kRegexMatch;
      else if (Consume("!~")) type = MatchType::kRegexNoMatch;
      else if (Consume("!=")) type = MatchType::kNotEqual;
      else if (Consume('=')) type = MatchType::kEqual;
      else return Error("syntax error: unexpected " + Describe() + ", expecting = or != or =~ or !~");
      SkipSpace();
      size_t value_pos = pos_;
      auto value = ParseString();
      if (!value.ok()) return value.status();
      auto m = Matcher::Make(type, name, std::move(value).value());
      if (!m.ok()) {
        pos_ = value_pos;
        return Error(m.status().message());
      }
      out.push_back(std::move(m).value());
      SkipSpace();
      if (Consume(',')) {
        SkipSpace();
        if (Consume('}')) break;
        continue;
      }
      if (Consume('}')) break;
      return Error("syntax error: unexpected " + Describe() + ", expecting , or }");
    }
    return Finish(std::move(out));
  }

 private:
  Result<std::vector<Matcher>> Finish(std::vector<Matcher> out) {
    SkipSpace();
    if (pos_ != in_.size()) return Error("syntax error: unexpected " + Describe());
    return out;
  }

  Result<std::string> ParseString() {
    if (pos_ >= in_.size()) return Error("syntax error: unexpected end of input, expecting STRING");
    char q = in_[pos_];
    if (q == '`') {
      size_t end = in_.find('`', pos_ + 1);
      if (end == std::string_view::npos) return Error("literal not terminated");
      std::string s(in_.substr(pos_ + 1, end - pos_ - 1));
      pos_ = end + 1;
      return s;
    }
    if (q != '"') return Error("syntax error: unexpected " + Describe() + ", expecting STRING");
    size_t i = pos_ + 1;
    while (i < in_.size() && in_[i] != '"') {
      if (in_[i] == '\\') ++i;
      ++i;
    }
    if (i >= in_.size()) return Error("literal not terminated");
    auto s = UnquoteGoString(in_.substr(pos_ + 1, i - pos_ - 1));
    if (!s.ok()) return Error(s.status().message());
    pos_ = i + 1;
    return s;
  }

  std::string Describe() const {
    if (pos_ >= in_.size()) return "end of input";
    char c = in_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') return "IDENTIFIER";
    if (c == '"' || c == '`') return "STRING";
    return std::string(1, c);
  }

  Status Error(const std::string& what) const {
    int line = 1, col = 1;
    for (size_t i = 0; i < pos_ && i < in_.size(); ++i) {
      if (in_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return InvalidArgument(fmt::format("parse error at line {}, col {}: {}", line, col, what));
  }

  void SkipSpace() {
    while (pos_ < in_.size() && std::isspace(static_cast<unsigned char>(in_[pos_]))) ++pos_;
  }
  bool Consume(char c) {
    if (pos_ < in_.size() && in_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Consume(std::string_view s) {
    if (in_.substr(pos_, s.size()) == s) {
      pos_ += s.size();
      return true;
    }
    return false;
  }

  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::vector<Matcher>> ParseSelector(std::string_view input, SelectorOptions opts) {
  SelectorParser p(input);
  ASSIGN_OR_RETURN(std::vector<Matcher> matchers, p.Parse());
  if (opts.require_non_empty_matcher) {
    bool any = false;
    for (const Matcher& m : matchers) any |= !m.MatchesEmpty();
    if (!any) return InvalidArgument(std::string(kEmptyMatchersMessage));
  }
  return matchers;
}

}  // namespace logq::logql
