// Small text helpers shared by the pipeline's parsers, each mirroring a Go/Loki function so
// that label names and values come out byte-identical to Loki's. Internal; pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace logq::pipeline {

// Go's utf8.DecodeRune on s[i]: returns the width; *rune_error is set when it decodes to
// utf8.RuneError (an invalid byte, width 1, or a literal U+FFFD, width 3).
size_t GoDecodeRune(std::string_view s, size_t i, bool* rune_error);

// bytes.ContainsRune(s, utf8.RuneError).
bool ContainsRuneError(std::string_view s);

// strings.Map(f, s) with f mapping utf8.RuneError to `repl` (every invalid byte and every
// U+FFFD becomes one `repl`). Writes to *out.
void ReplaceRuneErrors(std::string_view s, char repl, std::string* out);

// Appends the UTF-8 encoding of cp (U+FFFD for invalid code points, as utf8.EncodeRune).
void AppendUtf8(uint32_t cp, std::string* out);

// Loki's sanitizeLabelKey(key, isPrefix): trim whitespace, prefix "_" to a leading digit
// when is_prefix, and map each rune other than [A-Za-z0-9_] to "_". Writes to *out.
void SanitizeLabelKey(std::string_view key, bool is_prefix, std::string* out);

// Loki's appendSanitized (JSON key flattening): trim whitespace; nothing if empty; "_"
// before a leading digit; each other rune not in [A-Za-z0-9_] becomes "_".
void AppendSanitized(std::string_view key, std::string* to);

// Prometheus' otlptranslator NormalizeLabel, which Loki applies to structured metadata
// names: runes other than letters/digits become "_", a leading digit gets "key_", a single
// leading "_" gets "key". Returns false (and leaves *out untouched) when `name` is already
// normal, so the common case costs no copy.
bool NormalizeLabelName(std::string_view name, std::string* out);

}  // namespace logq::pipeline
