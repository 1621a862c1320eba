#include "query/pipeline/logfmt_decoder.h"

#include "query/pipeline/text_util.h"

namespace logq::pipeline {
namespace {

inline bool IsSpaceOrCtl(char c) { return static_cast<unsigned char>(c) <= ' '; }

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// \uXXXX at s[0..6) (s[0] == '\\'); -1 if malformed.
int32_t GetU4(std::string_view s) {
  if (s.size() < 6 || s[0] != '\\' || s[1] != 'u') return -1;
  int32_t r = 0;
  for (size_t k = 2; k < 6; ++k) {
    const int v = HexVal(s[k]);
    if (v < 0) return -1;
    r = r * 16 + v;
  }
  return r;
}

}  // namespace

void LogfmtDecoder::Reset(std::string_view line) {
  line_ = line;
  pos_ = 0;
  key_ = value_ = {};
  error_.clear();
}

void LogfmtDecoder::SyntaxError(std::string_view msg) {
  error_ = "logfmt syntax error at pos " + std::to_string(pos_ + 1) + " : ";
  error_.append(msg);
}

void LogfmtDecoder::UnexpectedByte(char c) {
  error_ = "logfmt syntax error at pos " + std::to_string(pos_ + 1) + " : unexpected '";
  error_ += c;  // only '=' and '"' reach here
  error_ += '\'';
}

bool LogfmtDecoder::SkipValue() {
  while (pos_ < line_.size() && !IsSpaceOrCtl(line_[pos_])) ++pos_;
  return false;
}

bool LogfmtDecoder::Unquote(std::string_view s, std::string* out) {
  out->clear();
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  s = s.substr(1, s.size() - 2);
  for (size_t r = 0; r < s.size();) {
    const char c = s[r];
    if (c == '\\') {
      ++r;
      if (r >= s.size()) return false;
      switch (s[r]) {
        case '"': case '\\': case '/': case '\'': *out += s[r]; ++r; break;
        case 'b': *out += '\b'; ++r; break;
        case 'f': *out += '\f'; ++r; break;
        case 'n': *out += '\n'; ++r; break;
        case 'r': *out += '\r'; ++r; break;
        case 't': *out += '\t'; ++r; break;
        case 'u': {
          --r;
          int32_t rr = GetU4(s.substr(r));
          if (rr < 0) return false;
          r += 6;
          if (rr >= 0xD800 && rr < 0xE000) {
            const int32_t rr1 = GetU4(s.substr(r));
            if (rr < 0xDC00 && rr1 >= 0xDC00 && rr1 < 0xE000) {
              AppendUtf8(static_cast<uint32_t>(((rr - 0xD800) << 10 | (rr1 - 0xDC00)) + 0x10000), out);
              r += 6;
              break;
            }
            rr = 0xFFFD;
          }
          AppendUtf8(static_cast<uint32_t>(rr), out);
          break;
        }
        default:
          return false;
      }
      continue;
    }
    if (c == '"') return false;
    if (static_cast<unsigned char>(c) < 0x80) {
      *out += c;
      ++r;
      continue;
    }
    bool err;
    const size_t w = GoDecodeRune(s, r, &err);
    if (err && w == 1) AppendUtf8(0xFFFD, out);  // coerce to well-formed UTF-8
    else out->append(s.substr(r, w));
    r += w;
  }
  return true;
}

bool LogfmtDecoder::ScanKeyval() {
  key_ = value_ = {};
  const size_t n = line_.size();
  // Skip garbage (whitespace and control bytes).
  while (pos_ < n && IsSpaceOrCtl(line_[pos_])) ++pos_;
  if (pos_ >= n) {
    pos_ = n;
    return false;
  }

  // Key.
  size_t start = pos_;
  bool multibyte = false;
  bool at_equal = false;
  for (; pos_ < n; ++pos_) {
    const char c = line_[pos_];
    if (c == '=') {
      if (pos_ > start) {
        key_ = line_.substr(start, pos_ - start);
        if (multibyte && ContainsRuneError(key_)) {
          SyntaxError("invalid key");
          return SkipValue();
        }
      } else {
        UnexpectedByte(c);
        return SkipValue();
      }
      at_equal = true;
      break;
    }
    if (c == '"') {
      UnexpectedByte(c);
      return SkipValue();
    }
    if (IsSpaceOrCtl(c)) {
      if (pos_ > start) {
        key_ = line_.substr(start, pos_ - start);
        if (multibyte && ContainsRuneError(key_)) {
          SyntaxError("invalid key");
          return false;
        }
      }
      return true;
    }
    if (static_cast<unsigned char>(c) >= 0x80) multibyte = true;
  }
  if (!at_equal) {
    pos_ = n;
    if (pos_ > start) {
      key_ = line_.substr(start, pos_ - start);
      if (multibyte && ContainsRuneError(key_)) {
        SyntaxError("invalid key");
        return false;
      }
    }
    return true;
  }

  // Equal sign, then the value.
  ++pos_;
  if (pos_ >= n) return true;
  const char first = line_[pos_];
  if (IsSpaceOrCtl(first)) return true;
  if (first == '"') {
    bool has_esc = false, esc = false;
    start = pos_;
    for (size_t p = pos_ + 1; p < n; ++p) {
      const char c = line_[p];
      if (esc) {
        esc = false;
      } else if (c == '\\') {
        has_esc = esc = true;
      } else if (c == '"') {
        pos_ = p + 1;
        if (has_esc) {
          if (!Unquote(line_.substr(start, pos_ - start), &unquoted_)) {
            SyntaxError("invalid quoted value");
            return false;
          }
          value_ = unquoted_;
        } else if (pos_ - 1 > start + 1) {
          value_ = line_.substr(start + 1, pos_ - 1 - (start + 1));
        }
        return true;
      }
    }
    pos_ = n;
    SyntaxError("unterminated quoted value");
    return false;
  }
  start = pos_;
  for (; pos_ < n; ++pos_) {
    const char c = line_[pos_];
    if (c == '=' || c == '"') {
      UnexpectedByte(c);
      return SkipValue();
    }
    if (IsSpaceOrCtl(c)) {
      if (pos_ > start) value_ = line_.substr(start, pos_ - start);
      return true;
    }
  }
  pos_ = n;
  if (pos_ > start) value_ = line_.substr(start, pos_ - start);
  return true;
}

}  // namespace logq::pipeline
