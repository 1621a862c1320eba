#include "query/pipeline/text_util.h"

#include <cstring>

namespace logq::pipeline {
namespace {

bool IsAlnumUnderscore(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Width of a Unicode whitespace rune at s[i] (Go's unicode.IsSpace), 0 if none.
size_t SpaceWidth(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
  if (c == 0xC2 && i + 1 < s.size()) {
    const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 == 0x85 || c1 == 0xA0) return 2;  // U+0085, U+00A0
  }
  return 0;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty()) {
    const size_t w = SpaceWidth(s, 0);
    if (w == 0) break;
    s.remove_prefix(w);
  }
  while (!s.empty()) {
    const unsigned char last = static_cast<unsigned char>(s.back());
    if (last == ' ' || (last >= '\t' && last <= '\r')) {
      s.remove_suffix(1);
    } else if (s.size() >= 2 && static_cast<unsigned char>(s[s.size() - 2]) == 0xC2 && (last == 0x85 || last == 0xA0)) {
      s.remove_suffix(2);
    } else {
      break;
    }
  }
  return s;
}

void AppendMapped(std::string_view key, std::string* out) {
  for (size_t i = 0; i < key.size();) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    if (c < 0x80) {
      *out += IsAlnumUnderscore(c) ? static_cast<char>(c) : '_';
      ++i;
      continue;
    }
    bool err;
    i += GoDecodeRune(key, i, &err);
    *out += '_';
  }
}

}  // namespace

size_t GoDecodeRune(std::string_view s, size_t i, bool* rune_error) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  *rune_error = false;
  if (c < 0x80) return 1;
  unsigned char lo = 0x80, hi = 0xBF;
  size_t n;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c == 0xE0) {
    n = 3;
    lo = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    n = 3;
  } else if (c == 0xED) {
    n = 3;
    hi = 0x9F;
  } else if (c == 0xF0) {
    n = 4;
    lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    n = 4;
  } else if (c == 0xF4) {
    n = 4;
    hi = 0x8F;
  } else {
    *rune_error = true;
    return 1;
  }
  if (i + n > s.size()) {
    *rune_error = true;
    return 1;
  }
  const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
  if (c1 < lo || c1 > hi) {
    *rune_error = true;
    return 1;
  }
  for (size_t k = 2; k < n; ++k) {
    const unsigned char ck = static_cast<unsigned char>(s[i + k]);
    if (ck < 0x80 || ck > 0xBF) {
      *rune_error = true;
      return 1;
    }
  }
  if (n == 3 && c == 0xEF && c1 == 0xBF && static_cast<unsigned char>(s[i + 2]) == 0xBD) *rune_error = true;
  return n;
}

bool ContainsRuneError(std::string_view s) {
  // Fast path: pure ASCII has no RuneError.
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if ((w & 0x8080808080808080ULL) != 0) break;
  }
  for (; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    bool err;
    i += GoDecodeRune(s, i, &err);
    if (err) return true;
  }
  return false;
}

void ReplaceRuneErrors(std::string_view s, char repl, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    bool err;
    const size_t w = GoDecodeRune(s, i, &err);
    if (err) *out += repl;
    else out->append(s.substr(i, w));
    i += w;
  }
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

void SanitizeLabelKey(std::string_view key, bool is_prefix, std::string* out) {
  out->clear();
  key = TrimSpace(key);
  if (key.empty()) return;
  if (is_prefix && key[0] >= '0' && key[0] <= '9') *out += '_';
  AppendMapped(key, out);
}

void AppendSanitized(std::string_view key, std::string* to) {
  key = TrimSpace(key);
  if (key.empty()) return;
  if (key[0] >= '0' && key[0] <= '9') *to += '_';
  AppendMapped(key, to);
}

bool NormalizeLabelName(std::string_view name, std::string* out) {
  if (name.empty()) return false;
  bool normal = !(name[0] >= '0' && name[0] <= '9') && !(name[0] == '_' && (name.size() < 2 || name[1] != '_'));
  for (size_t i = 0; normal && i < name.size(); ++i) {
    normal = IsAlnumUnderscore(static_cast<unsigned char>(name[i]));
  }
  if (normal) return false;
  std::string mapped;
  AppendMapped(name, &mapped);
  if (mapped[0] >= '0' && mapped[0] <= '9') {
    *out = "key_" + mapped;
  } else if (mapped[0] == '_' && (mapped.size() < 2 || mapped[1] != '_')) {
    *out = "key" + mapped;
  } else {
    *out = std::move(mapped);
  }
  return true;
}

}  // namespace logq::pipeline
