// Tenant IDs (X-Scope-OrgID), validated with dskit's rules so that an ID is always a plain
// token: at most 150 bytes of [a-zA-Z0-9!-_.*'()], never "." or "..". A tenant ID is only
// ever used as a length-prefixed key component, never as a file path.
#pragma once

#include <string>
#include <string_view>

#include "query/base/status.h"

namespace logq::server {

inline constexpr std::string_view kDefaultTenant = "fake";
inline constexpr size_t kMaxTenantIdLength = 150;

// Validates one tenant ID (no '|').
Status ValidateTenantId(std::string_view id);

// Resolves the tenant of a request: with auth disabled always "fake"; with auth enabled the
// header is required (Unauthenticated "no org id"), must be a single valid ID
// (InvalidArgument otherwise; `allow_multi` accepts "a|b" for queries and returns it as is).
Result<std::string> ResolveTenant(bool auth_enabled, std::string_view header, bool allow_multi);

}  // namespace logq::server
