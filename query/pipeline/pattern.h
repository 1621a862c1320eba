// Loki's pattern language, used by `| pattern "<ip> - <_> [<ts>] ..."` and by the `|>`/`!>`
// line filters. A pattern is a sequence of literals and captures: `<name>` (name matches
// [A-Za-z_][A-Za-z0-9_]*) captures a label, `<_>` matches without capturing; anything else,
// including `<` that does not start a capture, is literal text.
// Immutable after Parse; thread-safe (Matches writes only to the caller's vector).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"

namespace logq::pipeline {

class Pattern {
 public:
  // For the parser stage: at least one named capture, no two consecutive captures, unique
  // names. Errors use Loki's texts ("at least one capture is required", "found consecutive
  // capture '<a><b>': invalid expression", "duplicate capture name (a): invalid expression").
  static Result<Pattern> ParseForParser(std::string_view text);
  // For `|>`/`!>`: only `<_>` captures allowed, no consecutive captures; an empty pattern
  // matches only empty lines.
  static Result<Pattern> ParseForLineFilter(std::string_view text);

  // Named capture names in order.
  const std::vector<std::string>& names() const { return names_; }

  // Loki's Matcher.Matches: the captured values of named captures, in order; fewer than
  // names().size() when the line ends early (a capture whose following literal is missing
  // takes the rest of the line). Empty result if the leading literal is not a prefix.
  // The views point into `line`.
  void Matches(std::string_view line, std::vector<std::string_view>* captures) const;

  // Loki's Matcher.Test, the line-filter semantics.
  bool Test(std::string_view line) const;

 private:
  struct Node {
    bool capture = false;
    bool named = false;  // capture other than <_>
    std::string text;    // literal bytes or capture name
  };
  static Result<Pattern> Parse(std::string_view text);
  std::vector<Node> nodes_;
  std::vector<std::string> names_;
};

}  // namespace logq::pipeline
