#include "query/pipeline/json_scan.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "query/pipeline/text_util.h"

namespace logq::pipeline::json {
namespace {

constexpr size_t npos = std::string_view::npos;

bool IsWs(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// jsonparser's tokenEnd: the value ends at whitespace, ',', '}' or ']' (or the data's end).
size_t TokenEnd(std::string_view data) {
  for (size_t i = 0; i < data.size(); ++i) {
    switch (data[i]) {
      case ' ': case '\n': case '\r': case '\t': case ',': case '}': case ']':
        return i;
      default:
        break;
    }
  }
  return data.size();
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// \uXXXX at in[0..6); -1 when malformed.
int32_t DecodeU4(std::string_view in) {
  if (in.size() < 6 || in[0] != '\\' || in[1] != 'u') return -1;
  int32_t r = 0;
  for (size_t k = 2; k < 6; ++k) {
    const int v = HexVal(in[k]);
    if (v < 0) return -1;
    r = r * 16 + v;
  }
  return r;
}

}  // namespace

std::string_view ErrorText(Error e) {
  switch (e) {
    case Error::kNone: return "";
    case Error::kMalformedJson: return "Malformed JSON error";
    case Error::kMalformedString: return "Value is string, but can't find closing '\"' symbol";
    case Error::kMalformedArray: return "Value is array, but can't find closing ']' symbol";
    case Error::kMalformedObject: return "Value looks like object, but can't find closing '}' symbol";
    case Error::kUnknownValueType: return "Unknown value type";
    case Error::kMalformedStringEscape: return "Encountered an invalid escape sequence in a string";
    case Error::kStop: return "";
    case Error::kTooDeep: return "Value is nested too deeply";
  }
  return "";
}

size_t NextToken(std::string_view data) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (!IsWs(data[i])) return i;
  }
  return npos;
}

// Offset of the first '"' or '\\' at or after `from`, or npos.
inline size_t FindQuoteOrBackslash(std::string_view data, size_t from) {
  const char* p = data.data();
  const size_t n = data.size();
  size_t i = from;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  for (; i + 16 <= n; i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(b, quote), _mm_cmpeq_epi8(b, backslash)));
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; i < n; ++i) {
    if (p[i] == '"' || p[i] == '\\') return i;
  }
  return npos;
}

size_t StringEnd(std::string_view data, bool* escaped) {
  // The closing quote is the first one not escaped by a backslash; any backslash before it
  // marks the string as escaped.
  *escaped = false;
  size_t i = 0;
  while (true) {
    const size_t j = FindQuoteOrBackslash(data, i);
    if (j == npos) return npos;
    if (data[j] == '"') return j + 1;
    *escaped = true;
    i = j + 2;
    if (i > data.size()) return npos;
  }
}

size_t BlockEnd(std::string_view data, char open, char close) {
  int level = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (c == '"') {
      bool esc;
      const size_t se = StringEnd(Tail(data, i + 1), &esc);
      if (se == npos) return npos;
      i += se;
    } else if (c == open) {
      ++level;
    } else if (c == close) {
      --level;
      if (level == 0) return i + 1;
    }
  }
  return npos;
}

Error GetValue(std::string_view data, std::string_view* value, Type* type, size_t* end) {
  const size_t offset = NextToken(data);
  if (offset == npos) {
    *type = Type::kNotExist;
    return Error::kMalformedJson;
  }
  const char c = data[offset];
  size_t end_offset;
  if (c == '"') {
    *type = Type::kString;
    bool esc;
    const size_t idx = StringEnd(Tail(data, offset + 1), &esc);
    if (idx == npos) return Error::kMalformedString;
    end_offset = offset + idx + 1;
    *value = std::string_view(data.data() + offset + 1, end_offset - offset - 2);
    *end = end_offset;
    return Error::kNone;
  }
  if (c == '[' || c == '{') {
    *type = c == '[' ? Type::kArray : Type::kObject;
    const size_t be = BlockEnd(Tail(data, offset), c, c == '[' ? ']' : '}');
    if (be == npos) return c == '[' ? Error::kMalformedArray : Error::kMalformedObject;
    end_offset = offset + be;
  } else {
    end_offset = offset + TokenEnd(Tail(data, offset));
    const std::string_view tok(data.data() + offset, end_offset - offset);
    switch (c) {
      case 't': case 'f':
        if (tok != "true" && tok != "false") {
          *type = Type::kUnknown;
          return Error::kUnknownValueType;
        }
        *type = Type::kBoolean;
        break;
      case 'u': case 'n':
        if (tok != "null") {
          *type = Type::kUnknown;
          return Error::kUnknownValueType;
        }
        *type = Type::kNull;
        break;
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9': case '-':
        *type = Type::kNumber;
        break;
      default:
        *type = Type::kUnknown;
        return Error::kUnknownValueType;
    }
  }
  *value = std::string_view(data.data() + offset, end_offset - offset);
  *end = end_offset;
  return Error::kNone;
}

bool Unescape(std::string_view in, std::string* out) {
  out->clear();
  size_t bs = in.find('\\');
  if (bs == npos) {
    out->assign(in);
    return true;
  }
  out->append(in.substr(0, bs));
  in.remove_prefix(bs);
  while (!in.empty()) {
    // in[0] == '\\'
    if (in.size() < 2) return false;
    const char e = in[1];
    size_t consumed = 2;
    switch (e) {
      case '"': *out += '"'; break;
      case '\\': *out += '\\'; break;
      case '/': *out += '/'; break;
      case 'b': *out += '\b'; break;
      case 'f': *out += '\f'; break;
      case 'n': *out += '\n'; break;
      case 'r': *out += '\r'; break;
      case 't': *out += '\t'; break;
      case 'u': {
        const int32_t r = DecodeU4(in);
        if (r < 0) return false;
        if (r <= 0xFFFF && !(r >= 0xD800 && r <= 0xDFFF)) {
          AppendUtf8(static_cast<uint32_t>(r), out);
          consumed = 6;
          break;
        }
        const int32_t r2 = DecodeU4(in.substr(6));
        if (r2 < 0 || r2 < 0xDC00) return false;
        AppendUtf8(static_cast<uint32_t>(0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00)), out);
        consumed = 12;
        break;
      }
      default:
        return false;
    }
    in.remove_prefix(consumed);
    bs = in.find('\\');
    if (bs == npos) {
      out->append(in);
      break;
    }
    out->append(in.substr(0, bs));
    in.remove_prefix(bs);
  }
  return true;
}

std::string_view UnescapeForLabel(std::string_view in, std::string* scratch) {
  if (std::memchr(in.data(), '\\', in.size()) == nullptr) {
    if (!ContainsRuneError(in)) return in;
    ReplaceRuneErrors(in, ' ', scratch);
    return *scratch;
  }
  if (!Unescape(in, scratch)) {
    scratch->clear();
    return *scratch;
  }
  if (ContainsRuneError(*scratch)) {
    ReplaceRuneErrors(std::string(*scratch), ' ', scratch);
  }
  return *scratch;
}

// ---- JSON expression paths -----------------------------------------------------------

namespace {

enum class Tok { kEnd, kDot, kLsb, kRsb, kString, kField, kIndex };

std::string_view TokName(Tok t) {
  switch (t) {
    case Tok::kEnd: return "$end";
    case Tok::kDot: return "DOT";
    case Tok::kLsb: return "LSB";
    case Tok::kRsb: return "RSB";
    case Tok::kString: return "STRING";
    case Tok::kField: return "FIELD";
    case Tok::kIndex: return "INDEX";
  }
  return "";
}

// The expression scanner; a lexical error is remembered and reported as end of input.
class PathLexer {
 public:
  explicit PathLexer(std::string_view s) : s_(s) {}
  Tok Next(std::string* text, int* index) {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\n') {
        ++pos_;
        continue;
      }
      if (c >= '0' && c <= '9') {
        std::string digits;
        while (true) {
          const char r = pos_ < s_.size() ? s_[pos_] : '\0';
          if (r == '.' && !digits.empty()) {
            err_ = "cannot use float as array index";
            return Tok::kEnd;
          }
          if (r == ' ' || r == '\t' || r == '\n' || r == '.' || r == ']') break;
          if (r < '0' || r > '9') {
            err_ = std::string("non-integer value: ") + r;
            return Tok::kEnd;
          }
          digits += r;
          ++pos_;
        }
        if (digits.size() > 9) {
          err_ = "strconv.Atoi: parsing \"" + digits + "\": value out of range";
          return Tok::kEnd;
        }
        *index = std::stoi(digits);
        return Tok::kIndex;
      }
      ++pos_;
      if (c == '[') return Tok::kLsb;
      if (c == ']') return Tok::kRsb;
      if (c == '.') return Tok::kDot;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
        size_t start = pos_ - 1;
        while (pos_ < s_.size() && ((s_[pos_] >= 'a' && s_[pos_] <= 'z') || (s_[pos_] >= 'A' && s_[pos_] <= 'Z') ||
                                    s_[pos_] == '_' || (s_[pos_] >= '0' && s_[pos_] <= '9'))) {
          ++pos_;
        }
        *text = std::string(s_.substr(start, pos_ - start));
        return Tok::kField;
      }
      if (c == '"') {
        text->clear();
        while (pos_ < s_.size()) {
          const char r = s_[pos_++];
          if (r == '"' || r == ']' || r == '\0') break;
          *text += r;
        }
        return Tok::kString;
      }
      err_ = std::string("unexpected char ") + c;
      return Tok::kEnd;
    }
    return Tok::kEnd;
  }
  const std::string& err() const { return err_; }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  std::string err_;
};

}  // namespace

bool ParsePath(std::string_view expr, std::vector<PathElement>* out, std::string* err) {
  out->clear();
  PathLexer lex(expr);
  enum class State { kStart, kValues, kLsb, kKey, kIndex, kDot } st = State::kStart;
  std::string text;
  int index = 0;
  PathElement pending;
  auto fail = [&](Tok t, std::string_view expecting) {
    *err = "syntax error: unexpected ";
    *err += TokName(t);
    if (!expecting.empty()) {
      *err += ", expecting ";
      *err += expecting;
    }
    return false;
  };
  while (true) {
    const Tok t = lex.Next(&text, &index);
    switch (st) {
      case State::kStart:
        if (t == Tok::kField) {
          out->push_back({false, text, 0});
          st = State::kValues;
        } else if (t == Tok::kLsb) {
          st = State::kLsb;
        } else {
          return fail(t, "LSB or FIELD");
        }
        break;
      case State::kValues:
        if (t == Tok::kEnd) {
          if (!lex.err().empty()) {
            *err = lex.err();
            return false;
          }
          return true;
        }
        if (t == Tok::kLsb) st = State::kLsb;
        else if (t == Tok::kDot) st = State::kDot;
        else return fail(t, "");
        break;
      case State::kLsb:
        if (t == Tok::kString) {
          pending = {false, text, 0};
          st = State::kKey;
        } else if (t == Tok::kIndex) {
          pending = {true, "", index};
          st = State::kIndex;
        } else {
          return fail(t, "STRING or INDEX");
        }
        break;
      case State::kKey:
      case State::kIndex:
        if (t != Tok::kRsb) return fail(t, "RSB");
        out->push_back(pending);
        st = State::kValues;
        break;
      case State::kDot:
        if (t != Tok::kField) return fail(t, "FIELD");
        out->push_back({false, text, 0});
        st = State::kValues;
        break;
    }
  }
}

namespace {

// The n-th element of the array text `data` (jsonparser.ArrayEach order).
bool ArrayElement(std::string_view data, int n, std::string_view* value, Type* type, Error* error) {
  size_t offset = NextToken(data);
  if (offset == npos || data[offset] != '[') return false;
  ++offset;
  size_t off = NextToken(data.substr(offset));
  if (off == npos) return false;
  offset += off;
  if (data[offset] == ']') return false;
  for (int idx = 0;; ++idx) {
    size_t end = 0;
    Error e = GetValue(data.substr(offset), value, type, &end);
    if (e != Error::kNone) return false;
    if (idx == n) {
      *error = Error::kNone;
      return true;
    }
    offset += end;
    off = NextToken(data.substr(offset));
    if (off == npos) return false;
    offset += off;
    if (data[offset] != ',') return false;
    ++offset;
  }
}

// Follows `rest` from the value (first match at each step), as jsonparser.searchKeys.
bool Resolve(std::string_view value, Type type, const std::vector<PathElement>& path, size_t from,
             std::string_view* out, Type* out_type, std::string* scratch) {
  for (size_t k = from; k < path.size(); ++k) {
    const PathElement& el = path[k];
    if (el.is_index) {
      if (type != Type::kArray) return false;
      Error e;
      if (!ArrayElement(value, el.index, &value, &type, &e)) return false;
    } else {
      if (type != Type::kObject) return false;
      bool found = false;
      std::string_view v;
      Type t = Type::kNotExist;
      ForEachMember(
          value,
          [&](std::string_view key, std::string_view mv, Type mt) {
            if (key != el.key) return Error::kNone;
            v = mv;
            t = mt;
            found = true;
            return Error::kStop;
          },
          scratch);
      if (!found) return false;
      value = v;
      type = t;
    }
  }
  *out = value;
  *out_type = type;
  return true;
}

}  // namespace

PathLookup::PathLookup(std::vector<std::vector<PathElement>> paths)
    : paths_(std::move(paths)), done_(paths_.size(), 0) {}

bool PathLookup::PrefixMatches(const std::vector<PathElement>& p, size_t level) const {
  for (size_t k = 0; k < level; ++k) {
    if (p[k].is_index || p[k].key != stack_[k]) return false;
  }
  return true;
}

void PathLookup::Run(std::string_view data, PathSink* sink) {
  std::fill(done_.begin(), done_.end(), 0);
  remaining_ = paths_.size();
  // Paths that start with an index address a top-level array.
  for (size_t pi = 0; pi < paths_.size(); ++pi) {
    if (!paths_[pi].empty() && paths_[pi][0].is_index) {
      done_[pi] = 1;
      --remaining_;
      std::string_view v;
      Type t;
      if (Resolve(data, Type::kArray, paths_[pi], 0, &v, &t, &scratch_)) sink->OnPath(pi, v, t, Error::kNone);
    }
  }
  Walk(data, 0, sink);
}

void PathLookup::Walk(std::string_view obj, size_t level, PathSink* sink) {
  if (remaining_ == 0) return;
  if (stack_.size() <= level) stack_.resize(level + 1);
  if (key_scratch_.size() <= level) key_scratch_.resize(level + 1);
  size_t offset = NextToken(obj);
  if (offset == npos || obj[offset] != '{') return;
  ++offset;
  while (remaining_ > 0) {
    size_t off = NextToken(Tail(obj, offset));
    if (off == npos) return;
    offset += off;
    if (obj[offset] == ',') {
      ++offset;
      continue;
    }
    if (obj[offset] != '"') return;
    ++offset;
    bool escaped = false;
    off = StringEnd(Tail(obj, offset), &escaped);
    if (off == npos) return;
    std::string_view key(obj.data() + offset, off - 1);
    offset += off;
    if (escaped) {
      if (!Unescape(key, &key_scratch_[level])) return;
      key = key_scratch_[level];
    }
    off = NextToken(Tail(obj, offset));
    if (off == npos || obj[offset + off] != ':') return;
    offset += off + 1;
    stack_[level].assign(key);
    std::string_view value;
    Type type = Type::kNotExist;
    size_t end = 0;
    const Error e = GetValue(Tail(obj, offset), &value, &type, &end);
    bool descend = false;
    for (size_t pi = 0; pi < paths_.size(); ++pi) {
      const auto& p = paths_[pi];
      if (done_[pi] || p.size() <= level || !PrefixMatches(p, level + 1)) continue;
      if (p.size() == level + 1) {
        done_[pi] = 1;
        --remaining_;
        sink->OnPath(pi, value, type, e);
      } else if (e == Error::kNone && type == Type::kObject && !p[level + 1].is_index) {
        descend = true;
      } else if (e == Error::kNone && type == Type::kArray && p[level + 1].is_index) {
        done_[pi] = 1;
        --remaining_;
        std::string_view v;
        Type t;
        if (Resolve(value, type, p, level + 1, &v, &t, &scratch_)) sink->OnPath(pi, v, t, Error::kNone);
      }
    }
    if (e != Error::kNone) return;
    if (descend) Walk(value, level + 1, sink);
    offset += end;
  }
}

}  // namespace logq::pipeline::json
