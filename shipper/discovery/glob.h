// Path globs as Promtail's __path__ / __path_exclude__ understand them (bmatcuk/doublestar v1,
// which Promtail's file target uses):
//
//   *       any run of characters except '/'
//   ?       one character except '/'
//   [...]   a character class ([a-z], [^...] or [!...] negated); '\' escapes
//   {a,b}   alternatives (may contain '/', may nest)
//   **      as a whole path component: zero or more directories; elsewhere the same as '*'
//
// A pattern is matched against a whole absolute path, component by component. Patterns are
// expanded into their brace alternatives once (at most kMaxGlobAlternatives); every query
// after that walks the components with no backtracking blow-up (a set of positions).
//
// Pure value type; thread-compatible.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "query/base/status.h"

namespace logq::shipper {

inline constexpr size_t kMaxGlobAlternatives = 256;

class PathGlob {
 public:
  // `pattern` must be absolute (start with '/'). InvalidArgument names the pattern when it
  // is not, when a '[' or '{' is unclosed, or when it expands to more than
  // kMaxGlobAlternatives alternatives.
  static Result<PathGlob> Parse(std::string_view pattern);

  const std::string& pattern() const { return pattern_; }
  // True when `path` (absolute, no trailing '/') matches.
  bool Matches(std::string_view path) const;
  // True when files directly in directory `dir` may match (a listing of `dir` is needed).
  bool MayHaveFilesIn(std::string_view dir) const;
  // True when files in subdirectories of `dir` (at any depth) may match.
  bool MayDescend(std::string_view dir) const;
  // The directories to watch: for each alternative, its longest leading run of literal
  // components (the directory the glob's first wildcard is in; "/" at worst). Deduplicated,
  // sorted; a root below another root of the same glob is dropped.
  std::vector<std::string> Roots() const;

 private:
  struct Alt {
    std::vector<std::string> comps;  // "**" as its own component means any depth
  };
  // Positions of `a` reachable after matching every component of `dir` (with "**" closure).
  std::vector<size_t> Reach(const Alt& a, std::string_view dir) const;

  std::string pattern_;
  std::vector<Alt> alts_;
};

// One path component against one pattern component (no '/'): *, ?, [...], '\' escapes.
bool MatchComponent(std::string_view pattern, std::string_view name);

}  // namespace logq::shipper
