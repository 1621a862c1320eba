// The logfmt tokenizer Loki's `| logfmt` uses (its fork of go-logfmt's decoder): scans
// `key=value key2="quoted \"value\"" flag` pairs, recovers after a syntax error by skipping
// to the next whitespace, and reports the last error as
// "logfmt syntax error at pos N : unexpected '='" (Loki copies it to __error_details__).
// One decoder per stream stage; not thread-safe. Views returned by key()/value() are valid
// until the next ScanKeyval or Reset.
#pragma once

#include <string>
#include <string_view>

namespace logq::pipeline {

class LogfmtDecoder {
 public:
  void Reset(std::string_view line);
  bool EOL() const { return pos_ >= line_.size(); }
  // Advances to the next pair. False at the end of the line or on a syntax error (then
  // error() is set and the position is past the bad token).
  bool ScanKeyval();
  std::string_view key() const { return key_; }
  // The value, unquoted and unescaped; empty for `key` and `key=`.
  std::string_view value() const { return value_; }
  bool has_error() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  void SyntaxError(std::string_view msg);
  void UnexpectedByte(char c);
  bool SkipValue();
  static bool Unquote(std::string_view quoted, std::string* out);

  std::string_view line_;
  size_t pos_ = 0;
  std::string_view key_, value_;
  std::string unquoted_;
  std::string error_;
};

}  // namespace logq::pipeline
