// Decoding of one physical line of a container log file: CRI (containerd, CRI-O) and
// docker json-file, plus a raw fallback for anything else.
//
//   CRI:    <RFC3339Nano> <stdout|stderr> <P|F>[:tags] <message>
//   docker: {"log":"<message, \n-terminated unless partial>","stream":"stdout","time":"<RFC3339Nano>"}
//
// The line is passed WITHOUT its terminating '\n'. Content bytes are passed through as they
// are (invalid UTF-8, NUL and '\r' included): the shipper never rewrites what a container
// wrote. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace logq::shipper {

enum class LogFormat : uint8_t { kUnknown = 0, kCri, kDocker, kRaw };

enum StreamIndex : uint8_t { kStdout = 0, kStderr = 1, kStreamCount = 2 };
std::string_view StreamName(StreamIndex s);

struct DecodedLine {
  int64_t timestamp_ns = 0;
  StreamIndex stream = kStdout;
  bool partial = false;  // CRI `P` / docker `log` without trailing newline
  // The message. CRI: a view into the input line. Docker: a view into the caller's
  // `scratch` string (valid until the next call that uses it).
  std::string_view content;
};

// Fast RFC3339(Nano) parser for the forms runtimes write ("2024-05-01T10:00:00.123456789Z",
// "...+02:00"); false when `s` is not such a timestamp or lies outside the int64 nanosecond
// range (1677-09-21 .. 2262-04-11 UTC).
bool ParseLogTimestamp(std::string_view s, int64_t* ns);

// CRI line; false when the line is not in CRI format (including a bad timestamp).
bool DecodeCri(std::string_view line, DecodedLine* out);

// Docker json-file line; `scratch` receives the unescaped message. False when the line is
// not a docker json-file object with a string "log" field and a parseable "time".
bool DecodeDocker(std::string_view line, std::string* scratch, DecodedLine* out);

// Decodes with the file's known format; on kUnknown detects it from this line and updates
// `*format`. A line that matches neither format is raw: content = the line minus a trailing
// '\r', timestamp_ns = 0 (the caller supplies one), stream stdout, not partial.
// Returns the format the line was decoded with.
LogFormat DecodeLine(std::string_view line, LogFormat* format, std::string* scratch,
                     DecodedLine* out);

}  // namespace logq::shipper
