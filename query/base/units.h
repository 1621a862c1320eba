// Parsing and printing of durations, byte sizes and timestamps in the forms Loki's users
// type: Go/Prometheus durations ("1h30m", "500ms", "7d"), humanized byte sizes ("256KB",
// "1MiB"), and the timestamp forms of Loki's HTTP API (ns, float seconds, RFC3339).
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "query/base/status.h"

namespace logq {

// Parses "1h30m", "1.5s", "500ms", "7d", "2w", "1y", "0". Units: ns us µs ms s m h d w y.
// A bare number is rejected unless it is 0 (Go semantics). Returns nanoseconds.
Result<int64_t> ParseDuration(std::string_view s);

// Prints nanoseconds compactly in units that parse back: "2h", "1h30m", "500ms", "0s".
std::string FormatDuration(int64_t nanos);

// Parses a byte size: "1024", "256KB" (1000-based), "256KiB" (1024-based), "1.5MB",
// "20 kB". Case-insensitive units B, KB, KIB, MB, MIB, GB, GIB, TB, TIB.
Result<int64_t> ParseBytes(std::string_view s);

// Prints bytes for humans and config files, e.g. "256KiB", "1.5MB", "100MiB".
std::string FormatBytes(int64_t bytes);

// Parses an RFC3339 / RFC3339Nano timestamp ("2024-05-01T10:00:00.123Z",
// "2024-05-01T10:00:00+02:00") into ns since the epoch.
Result<int64_t> ParseRFC3339(std::string_view s);

// Formats ns since the epoch as RFC3339 in UTC, without fractional seconds
// ("2024-05-01T10:00:00Z"), as Go's time.RFC3339 does.
std::string FormatRFC3339(int64_t nanos);

// Formats with nanosecond precision, trailing zeros trimmed (Go's RFC3339Nano).
std::string FormatRFC3339Nano(int64_t nanos);

// Loki's timestamp query parameter (loghttp parseTimestamp): empty → def; contains '.'
// and parses as float → seconds with ms precision; integer with ≤10 chars → seconds;
// longer integer → ns; else RFC3339. `param` names the parameter in errors.
Result<int64_t> ParseTimestampParam(std::string_view value, int64_t def, std::string_view param);

}  // namespace logq
