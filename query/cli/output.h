// Output of the `logq` CLI: log entries in the default (time, labels, line), raw (line only)
// and jsonl forms, label selection (--include-label/--exclude-label/--no-labels, common
// labels), colored label prefixes, and timestamps in local time or UTC.
//
// Thread-safety: a Printer is used by one thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "query/cli/flags.h"
#include "query/model/labels.h"

namespace logq::cli {

// Whether to color: --color=always/never, else only on a terminal and without NO_COLOR.
bool UseColor(const Options& options, bool stdout_is_tty, const char* no_color_env);

// RFC3339 in the chosen zone: seconds (`2024-05-01T10:00:00Z`, `...+02:00`) or with Go's
// RFC3339Nano fraction (trailing zeros trimmed).
std::string FormatTime(int64_t ts, bool utc, bool nanos);

class Printer {
 public:
  Printer(const Options& options, std::FILE* out, bool color);

  // Labels that every printed stream shares; they are left out of each line (and printed
  // once to stderr by the caller, as logcli does).
  void SetCommonLabels(Labels common) { common_ = std::move(common); }
  // Widens the label column so that entries of these label sets line up.
  void ReserveWidth(const Labels& labels);

  void Print(const Labels& labels, int64_t ts, std::string_view line);
  // False once writing failed (e.g. the reader of a pipe went away).
  bool ok() const { return !std::ferror(out_); }

  // The labels as shown (after include/exclude/common), `{a="b", c="d"}`.
  std::string ShownLabels(const Labels& labels) const;

 private:
  const Options& options_;
  std::FILE* out_;
  bool color_;
  Labels common_;
  size_t width_ = 0;
};

}  // namespace logq::cli
