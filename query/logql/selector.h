// Stream selector parsing: `{app="api", env=~"prod|stage"}` → matchers.
//
// This is the first slice of the LogQL front end (the full lexer/parser builds on it).
// Errors follow Loki: "parse error at line L, col C: <what>". Pure functions.
#pragma once

#include <string_view>
#include <vector>

#include "query/base/status.h"
#include "query/model/matcher.h"

namespace logq::logql {

struct SelectorOptions {
  // Reject selectors whose matchers all accept the empty string, as Loki does for queries
  // (`{app=~".*"}`). Default: true. Series/labels endpoints pass false for `{}`.
  bool require_non_empty_matcher = true;
};

Result<std::vector<Matcher>> ParseSelector(std::string_view input, SelectorOptions opts = {});

// Loki's message for selectors that only contain empty-compatible matchers.
inline constexpr std::string_view kEmptyMatchersMessage =
    "parse error : queries require at least one regexp or equality matcher that does not have an "
    "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but "
    "app=~\".+\" will";

}  // namespace logq::logql
