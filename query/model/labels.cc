#include "query/model/labels.h"

#include <algorithm>
#include <xxhash.h>

namespace logq {

void Labels::Sort() {
  std::stable_sort(v_.begin(), v_.end(), [](const Label& a, const Label& b) { return a.name < b.name; });
}

std::string_view Labels::FirstDuplicate() const {
  for (size_t i = 1; i < v_.size(); ++i) {
    if (v_[i].name == v_[i - 1].name) return v_[i].name;
  }
  return {};
}

const std::string* Labels::Get(std::string_view name) const {
  for (const Label& l : v_) {
    if (l.name == name) return &l.value;
  }
  return nullptr;
}

std::string Labels::ToString() const {
  std::string out = "{";
  bool first = true;
  for (const Label& l : v_) {
    if (!first) out += ", ";
    first = false;
    out += l.name;
    out += '=';
    AppendGoQuoted(l.value, &out);
  }
  out += '}';
  return out;
}

uint64_t Labels::Hash() const {
  std::string s = ToString();
  return XXH3_64bits(s.data(), s.size());
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

namespace {

// Decodes one UTF-8 sequence at s[i]; returns its length or 0 if invalid.
size_t Utf8Len(std::string_view s, size_t i, uint32_t* cp) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n;
  uint32_t v;
  if ((c & 0xE0) == 0xC0) { n = 2; v = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { n = 3; v = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { n = 4; v = c & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    v = (v << 6) | (cc & 0x3F);
  }
  if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
      (v >= 0xD800 && v <= 0xDFFF)) {
    return 0;
  }
  *cp = v;
  return n;
}

void AppendUtf8(uint32_t cp, std::string* out) {
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

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    size_t n = Utf8Len(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void AppendGoQuoted(std::string_view s, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  *out += '"';
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    size_t n = Utf8Len(s, i, &cp);
    if (n == 0) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      *out += "\\x";
      *out += kHex[c >> 4];
      *out += kHex[c & 15];
      ++i;
      continue;
    }
    switch (cp) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\a': *out += "\\a"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\v': *out += "\\v"; break;
      default:
        if (cp < 0x20 || cp == 0x7F) {
          *out += "\\x";
          *out += kHex[cp >> 4];
          *out += kHex[cp & 15];
        } else {
          out->append(s.substr(i, n));
        }
    }
    i += n;
  }
  *out += '"';
}

Result<std::string> UnquoteGoString(std::string_view b) {
  std::string out;
  out.reserve(b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    char c = b[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= b.size()) return InvalidArgument("invalid escape at end of string");
    char e = b[i];
    switch (e) {
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case '\'': out += '\''; break;
      case 'x': {
        if (i + 2 >= b.size()) return InvalidArgument("invalid \\x escape");
        int h = HexVal(b[i + 1]), l = HexVal(b[i + 2]);
        if (h < 0 || l < 0) return InvalidArgument("invalid \\x escape");
        out += static_cast<char>(h * 16 + l);
        i += 2;
        break;
      }
      case 'u':
      case 'U': {
        size_t n = e == 'u' ? 4 : 8;
        if (i + n >= b.size()) return InvalidArgument(std::string("invalid \\") + e + " escape");
        uint32_t cp = 0;
        for (size_t k = 1; k <= n; ++k) {
          int v = HexVal(b[i + k]);
          if (v < 0) return InvalidArgument(std::string("invalid \\") + e + " escape");
          cp = cp * 16 + static_cast<uint32_t>(v);
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          return InvalidArgument(std::string("invalid \\") + e + " escape");
        }
        AppendUtf8(cp, &out);
        i += n;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          if (i + 2 >= b.size()) return InvalidArgument("invalid octal escape");
          int v = 0;
          for (size_t k = 0; k < 3; ++k) {
            char o = b[i + k];
            if (o < '0' || o > '7') return InvalidArgument("invalid octal escape");
            v = v * 8 + (o - '0');
          }
          if (v > 255) return InvalidArgument("invalid octal escape");
          out += static_cast<char>(v);
          i += 2;
          break;
        }
        return InvalidArgument(std::string("unknown escape sequence \\") + e);
    }
  }
  return out;
}

Result<Labels> ParseLabels(std::string_view text) {
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  };
  auto err = [&](std::string what) {
    return InvalidArgument(what + " at position " + std::to_string(i));
  };
  skip_ws();
  if (i >= text.size() || text[i] != '{') return err("expected '{'");
  ++i;
  Labels out;
  skip_ws();
  if (i < text.size() && text[i] == '}') {
    ++i;
    skip_ws();
    if (i != text.size()) return err("unexpected text after '}'");
    return out;
  }
  while (true) {
    skip_ws();
    size_t start = i;
    while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) ++i;
    std::string_view name = text.substr(start, i - start);
    if (name.empty()) return err("expected label name");
    if (!IsValidLabelName(name)) return err("invalid label name \"" + std::string(name) + "\"");
    skip_ws();
    if (i >= text.size() || text[i] != '=') return err("expected '=' after label name");
    ++i;
    skip_ws();
    if (i >= text.size() || text[i] != '"') return err("expected '\"' to start the value of label \"" + std::string(name) + "\"");
    ++i;
    size_t vstart = i;
    while (i < text.size() && text[i] != '"') {
      if (text[i] == '\\') ++i;
      ++i;
    }
    if (i >= text.size()) return err("unterminated value of label \"" + std::string(name) + "\"");
    auto value = UnquoteGoString(text.substr(vstart, i - vstart));
    if (!value.ok()) return err(value.status().message() + " in value of label \"" + std::string(name) + "\"");
    ++i;
    out.Add(std::string(name), std::move(value).value());
    skip_ws();
    if (i < text.size() && text[i] == ',') {
      ++i;
      skip_ws();
      if (i < text.size() && text[i] == '}') {
        ++i;
        break;
      }
      continue;
    }
    if (i < text.size() && text[i] == '}') {
      ++i;
      break;
    }
    return err("expected ',' or '}'");
  }
  skip_ws();
  if (i != text.size()) return err("unexpected text after '}'");
  return out;
}

}  // namespace logq
