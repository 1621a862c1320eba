// A lenient JSON scanner with the exact acceptance rules and error texts of the Go library
// Loki's `json` and `unpack` parsers use (github.com/buger/jsonparser, Grafana's fork):
// values are delimited, not validated (`{"a":12abc}` is the number "12abc"), text after
// the closing brace is ignored, and the first problem found is reported with the library's
// message ("Value looks like object, but can't find closing '}' symbol", ...). Loki copies
// that message into `__error_details__`, hence the fidelity.
// Also: the JSON expression language of `| json a="b.c[0]"` and a path lookup with the
// library's EachKey semantics (first occurrence wins). Internal; stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace logq::pipeline::json {

enum class Type { kNotExist, kString, kNumber, kObject, kArray, kBoolean, kNull, kUnknown };

enum class Error {
  kNone,
  kMalformedJson,          // "Malformed JSON error"
  kMalformedString,        // "Value is string, but can't find closing '\"' symbol"
  kMalformedArray,         // "Value is array, but can't find closing ']' symbol"
  kMalformedObject,        // "Value looks like object, but can't find closing '}' symbol"
  kUnknownValueType,       // "Unknown value type"
  kMalformedStringEscape,  // "Encountered an invalid escape sequence in a string"
  kStop,                   // not an error: a callback asked to stop
  kTooDeep,                // logq's nesting cap (callers say which limit)
};

std::string_view ErrorText(Error e);

// The value starting at the first non-whitespace byte of `data` (jsonparser.Get without
// keys). For strings `*value` excludes the quotes and stays escaped; for null it is empty.
Error GetValue(std::string_view data, std::string_view* value, Type* type, size_t* end);

// Calls `cb(key, value, type)` for each member of the object `data` (jsonparser.ObjectEach)
// and returns the first error. `key` is unescaped; it points into `data` or into
// `key_scratch`, valid during the call. A callback returning other than kNone stops the walk
// and that value is returned.
template <typename F>
Error ForEachMember(std::string_view data, F&& cb, std::string* key_scratch);

// jsonparser.Unescape: JSON string escapes, \uXXXX with surrogate pairs. Appends to `out`
// (cleared first). Returns false on an invalid escape.
bool Unescape(std::string_view in, std::string* out);

// Loki's unescapeJSONString: Unescape, "" on an invalid escape, and every invalid UTF-8
// byte or U+FFFD replaced by a space. Returns `in` itself when nothing changes, otherwise a
// view of `*scratch` (valid until scratch changes).
std::string_view UnescapeForLabel(std::string_view in, std::string* scratch);

// A parsed JSON expression path: field names and array indices.
struct PathElement {
  bool is_index = false;
  std::string key;  // field name (is_index false)
  int index = 0;
};

// Parses Loki's JSON expression language (`a.b`, `a["b c"]`, `a[0]`, `["a"].b`). Errors are
// the goyacc parser's ("syntax error: unexpected DOT, expecting FIELD").
bool ParsePath(std::string_view expr, std::vector<PathElement>* out, std::string* err);

// Receives the values PathLookup finds.
class PathSink {
 public:
  virtual ~PathSink() = default;
  // value/type as GetValue; `error` set when the value at the path is malformed.
  virtual void OnPath(size_t path, std::string_view value, Type type, Error error) = 0;
};

// Looks up several paths in one JSON document with jsonparser.EachKey's semantics: the first
// occurrence of each path in document order wins; keys inside arrays are only visited
// through index elements. Reusable (no allocation per document after warm-up); one per
// stream stage, not thread-safe.
class PathLookup {
 public:
  explicit PathLookup(std::vector<std::vector<PathElement>> paths);
  // Calls sink->OnPath at most once per path; not at all for paths not found.
  void Run(std::string_view data, PathSink* sink);

 private:
  bool PrefixMatches(const std::vector<PathElement>& p, size_t level) const;
  void Walk(std::string_view obj, size_t level, PathSink* sink);

  std::vector<std::vector<PathElement>> paths_;
  std::vector<char> done_;
  size_t remaining_ = 0;
  std::vector<std::string> stack_;        // key at each nesting level
  std::vector<std::string> key_scratch_;  // unescaped keys, per level
  std::string scratch_;
};

// ---- implementation details exposed for the template ----------------------------------

size_t NextToken(std::string_view data);                     // npos when only whitespace
// data.substr(off) without the bounds check (off <= data.size() is a precondition).
inline std::string_view Tail(std::string_view data, size_t off) {
  return std::string_view(data.data() + off, data.size() - off);
}
size_t StringEnd(std::string_view data, bool* escaped);      // offset after the closing quote
size_t BlockEnd(std::string_view data, char open, char close);  // offset after the close

template <typename F>
Error ForEachMember(std::string_view data, F&& cb, std::string* key_scratch) {
  constexpr size_t npos = std::string_view::npos;
  size_t offset = NextToken(data);
  if (offset == npos || data[offset] != '{') return Error::kMalformedObject;
  ++offset;
  size_t off = NextToken(Tail(data, offset));
  if (off == npos) return Error::kMalformedJson;
  offset += off;
  if (data[offset] == '}') return Error::kNone;
  size_t last_comma = npos;
  while (offset < data.size()) {
    switch (data[offset]) {
      case '"':
        ++offset;
        break;
      case '}':
        if (last_comma != npos && last_comma + 1 == offset) return Error::kMalformedObject;
        return Error::kNone;
      default:
        return Error::kMalformedObject;
    }
    bool escaped = false;
    off = StringEnd(Tail(data, offset), &escaped);
    if (off == npos) return Error::kMalformedJson;
    std::string_view key(data.data() + offset, off - 1);
    offset += off;
    if (escaped) {
      if (!Unescape(key, key_scratch)) return Error::kMalformedStringEscape;
      key = *key_scratch;
    }
    off = NextToken(Tail(data, offset));
    if (off == npos) return Error::kMalformedJson;
    offset += off;
    if (data[offset] != ':') return Error::kMalformedJson;
    ++offset;
    std::string_view value;
    Type type;
    size_t end = 0;
    Error e = GetValue(Tail(data, offset), &value, &type, &end);
    if (e != Error::kNone) return e;
    e = cb(key, value, type);
    if (e != Error::kNone) return e;
    offset += end;
    off = NextToken(Tail(data, offset));
    if (off == npos) return Error::kMalformedArray;
    offset += off;
    if (data[offset] == '}') return Error::kNone;
    if (data[offset] != ',') return Error::kMalformedObject;
    last_comma = offset;
    ++offset;
    off = NextToken(Tail(data, offset));
    if (off == npos) return Error::kMalformedArray;
    if (off > 0) last_comma += off - 1;
    offset += off;
  }
  return Error::kMalformedObject;
}

}  // namespace logq::pipeline::json
