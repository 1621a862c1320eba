// Go standard-library parsing that LogQL's pipeline depends on for its results and its
// error texts: strconv.ParseFloat, time.ParseDuration and go-humanize's ParseBytes. Loki
// puts these functions' error strings verbatim into `__error_details__`, so each function
// here reproduces both the accepted syntax and the message of its Go counterpart.
// Internal to the pipeline module. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace logq::pipeline::gocompat {

// strconv.ParseFloat(s, 64): decimal and hex floats, "inf"/"infinity"/"nan" (any case).
// On failure returns false and sets `*err` to Go's text, e.g.
// `strconv.ParseFloat: parsing "abc": invalid syntax`. Out-of-range values set *out to
// ±Inf and fail with "value out of range" like Go.
bool ParseFloat(std::string_view s, double* out, std::string* err);

// time.ParseDuration: "1h30m", "1.5s", "250ms", "-2us", "0". Units ns us µs μs ms s m h.
// Errors are Go's (`time: invalid duration "x"`, `time: missing unit in duration "1"`,
// `time: unknown unit "d" in duration "1d"`).
bool ParseDuration(std::string_view s, int64_t* nanos, std::string* err);

// time.Duration.Seconds(): the value an unwrapped duration becomes.
double DurationSeconds(int64_t nanos);

// humanize.ParseBytes: "42", "1.5 KB", "20KiB", "1,000 MB" (SI for kB/MB..., IEC for
// KiB/MiB...). Errors are the library's: a ParseFloat error for the number part,
// `unhandled size name: x`, `too large: s`.
bool ParseBytes(std::string_view s, uint64_t* out, std::string* err);

// time's private quote(): how time.ParseDuration quotes its input in errors.
std::string TimeQuote(std::string_view s);

}  // namespace logq::pipeline::gocompat
