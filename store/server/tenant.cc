#include "store/server/tenant.h"

#include <fmt/format.h>

namespace logq::server {

Status ValidateTenantId(std::string_view id) {
  if (id.empty()) return InvalidArgument("tenant ID is empty");
  if (id.size() > kMaxTenantIdLength) {
    return InvalidArgument(fmt::format("tenant ID is too long: max {} characters", kMaxTenantIdLength));
  }
  if (id == "." || id == "..") return InvalidArgument("tenant ID is '.' or '..'");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
              c == '-' || c == '_' || c == '.' || c == '*' || c == '\'' || c == '(' || c == ')';
    if (!ok) {
      unsigned char u = static_cast<unsigned char>(c);
      std::string shown = (u >= 0x20 && u < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", u);
      return InvalidArgument(fmt::format("tenant ID contains unsupported character '{}'", shown));
    }
  }
  return Status::OK();
}

Result<std::string> ResolveTenant(bool auth_enabled, std::string_view header, bool allow_multi) {
  if (!auth_enabled) return std::string(kDefaultTenant);
  if (header.empty()) return Unauthenticated("no org id");
  size_t start = 0;
  int parts = 0;
  while (true) {
    size_t bar = header.find('|', start);
    std::string_view part = header.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
    RETURN_IF_ERROR(ValidateTenantId(part));
    ++parts;
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  if (parts > 1 && !allow_multi) return InvalidArgument("multiple org IDs present");
  return std::string(header);
}

}  // namespace logq::server
