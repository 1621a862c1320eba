// Go text/template, the subset Loki's line_format and label_format use, with Loki's function
// library. Parsed once per query (Template is immutable and thread-safe to Execute from
// many threads with separate outputs).
//
// Supported: {{ . }} field access `.label`, `.label.sub` is not used by Loki (labels are
// flat), pipelines `{{ .a | ToUpper }}`, function calls `{{ printf "%s-%d" .a 3 }}`,
// parenthesized calls, variables `$x := ...`, `{{ if }}/{{ else if }}/{{ else }}/{{ end }}`,
// `{{ range }}` over fromJson/regexFind results, `{{ with }}`, comparison functions eq ne lt
// le gt ge, and/or/not, whitespace trim markers `{{-` `-}}`, comments `{{/* */}}`, string,
// raw string, number, bool and nil literals. Special fields: `__line__` (the current line),
// `__timestamp__` (the entry time).
// Functions (Loki's list): ToLower ToUpper Replace Trim TrimLeft TrimRight TrimPrefix
// TrimSuffix TrimSpace lower upper title trunc substr replace repeat contains hasPrefix
// hasSuffix indent nindent regexReplaceAll regexReplaceAllLiteral regexMatch regexFind
// count default int float64 add addf sub subf mul mulf div divf mod max maxf min minf ceil
// floor round printf urlencode urldecode b64enc b64dec fromJson date toDate toDateInZone now
// unixEpoch unixEpochMillis unixEpochNanos unixToTime duration duration_seconds bytes
// alignLeft alignRight sha256 len.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "query/base/clock.h"
#include "query/base/status.h"

namespace logq::pipeline {

// What a template can read while executing. Everything it points to must stay valid for the
// duration of one Execute call.
struct TemplateContext {
  // Looks up a label; returns nullptr when absent (renders as "" / <no value> like Loki).
  std::function<const std::string*(std::string_view name)> label;
  std::string_view line;  // __line__
  int64_t timestamp_ns = 0;  // __timestamp__
  // Execute fails ("template output exceeds N bytes") once the output grows past this.
  size_t max_output_bytes = 1 << 20;
  // Optional: what `now` reads; nullptr means SystemClock::Default().
  const Clock* clock = nullptr;
  // Optional: calls `visit` for every label, sorted by name. Only needed when a template
  // prints or ranges over the whole label map (`{{ . }}`, `{{ range $k, $v := . }}`);
  // without it the map looks empty there (field access `.name` uses `label`).
  std::function<void(const std::function<void(std::string_view name, std::string_view value)>&
                         visit)>
      for_each_label;
};

class Template {
 public:
  // Parses; InvalidArgument with the Go-like error text for bad templates. `name` is the
  // template's name in parse and execution errors (`template: NAME:1:2: executing "NAME"
  // ...`): Loki names line_format's template "line" and label_format's "label".
  static Result<std::unique_ptr<Template>> Parse(std::string_view source, std::string_view name = "line");
  virtual ~Template() = default;
  // Renders into `out` (cleared first). Execution errors (bad function arguments) return
  // a non-OK status; callers set `__error__=TemplateFormatErr` and keep the line.
  virtual Status Execute(const TemplateContext& ctx, std::string* out) const = 0;
};

}  // namespace logq::pipeline
