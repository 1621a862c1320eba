// Internal to the template engine (query/pipeline/template*.cc): the dynamic value a Go
// template works with, and the Go-library behaviours the engine reproduces (fmt printing,
// strconv parsing, time layouts, encoding/json decoding).
//
// A Value models the subset of Go's reflect.Value that Loki's templates can produce:
// strings (label values, literals, function results), int / int64 / uint8, float64, bool,
// time.Time, JSON maps and arrays from fromJson, []string from regexFindAll, the label map
// that is the template's data, an invalid value (Go's zero reflect.Value: "<no value>") and
// a nil interface{} (a missing key of a JSON map).
//
// Strings are views: into the label storage of the TemplateContext, the parsed template, or
// `hold`, which keeps computed data alive. A Value is valid as long as the TemplateContext it
// was made from. Values are immutable once built; sharing them across threads is not done.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace logq::pipeline::tmpl {

enum class Kind : uint8_t {
  kInvalid,  // Go's zero reflect.Value (prints "<no value>", "<nil>" inside fmt)
  kNil,      // a nil interface{} (missing JSON key, JSON null)
  kBool,
  kInt,
  kFloat,
  kString,
  kTime,
  kMap,     // map[string]interface{} (fromJson)
  kList,    // []interface{} (fromJson) or []string (flag `strings`)
  kLabels,  // the template data: map[string]string of the line's labels
};

// The Go integer type a kInt value has; it matters for type checks and %T.
enum class IntType : uint8_t { kInt, kInt64, kUint8 };

struct Value;
using ValueMap = std::vector<std::pair<std::string, Value>>;  // sorted by key, unique
using ValueList = std::vector<Value>;

struct Value {
  Kind kind = Kind::kInvalid;
  IntType itype = IntType::kInt;
  bool b = false;        // kBool; for kList: a []string
  int32_t nsec = 0;      // kTime: nanoseconds within the second
  int32_t offset = 0;    // kTime: zone offset east of UTC in seconds
  int64_t i = 0;         // kInt; kTime: Unix seconds
  double f = 0;          // kFloat
  std::string_view s;    // kString; kTime: zone abbreviation
  const void* ptr = nullptr;  // kMap: const ValueMap*, kList: const ValueList*
  std::shared_ptr<const void> hold;  // keeps `s` / `ptr` alive when they are owned

  static Value Invalid() { return Value(); }
  static Value Nil() {
    Value v;
    v.kind = Kind::kNil;
    return v;
  }
  static Value Bool(bool x) {
    Value v;
    v.kind = Kind::kBool;
    v.b = x;
    return v;
  }
  static Value Int(int64_t x, IntType t = IntType::kInt) {
    Value v;
    v.kind = Kind::kInt;
    v.i = x;
    v.itype = t;
    return v;
  }
  static Value Float(double x) {
    Value v;
    v.kind = Kind::kFloat;
    v.f = x;
    return v;
  }
  // A view that must outlive the value (labels, template text, static strings).
  static Value StringView(std::string_view x) {
    Value v;
    v.kind = Kind::kString;
    v.s = x;
    return v;
  }
  static Value OwnedString(std::string x) {
    auto p = std::make_shared<const std::string>(std::move(x));
    Value v;
    v.kind = Kind::kString;
    v.s = *p;
    v.hold = std::move(p);
    return v;
  }
  static Value Map(std::shared_ptr<const ValueMap> m) {
    Value v;
    v.kind = Kind::kMap;
    v.ptr = m.get();
    v.hold = std::move(m);
    return v;
  }
  static Value List(std::shared_ptr<const ValueList> l, bool strings = false) {
    Value v;
    v.kind = Kind::kList;
    v.ptr = l.get();
    v.b = strings;
    v.hold = std::move(l);
    return v;
  }
  static Value Labels() {
    Value v;
    v.kind = Kind::kLabels;
    return v;
  }

  const ValueMap& map() const { return *static_cast<const ValueMap*>(ptr); }
  const ValueList& list() const { return *static_cast<const ValueList*>(ptr); }
  bool valid() const { return kind != Kind::kInvalid; }
};

// Go's type name of a value as reflect prints it ("string", "int64", "[]interface {}").
std::string_view TypeName(const Value& v);

// ---- time ----------------------------------------------------------------------------

// A point in time with a zone (Go's time.Time with a fixed-offset location).
Value MakeTime(int64_t unix_sec, int32_t nsec, int32_t offset, std::string_view zone,
               std::shared_ptr<const void> zone_hold = nullptr);
Value TimeUTC(int64_t unix_sec, int32_t nsec);
Value TimeFromUnixNanos(int64_t ns);  // time.Unix(0, ns) in the server's zone (UTC)
Value ZeroTime();                      // time.Time{}: 0001-01-01 00:00:00 +0000 UTC

// The calendar fields of a time in its zone.
struct CivilTime {
  int64_t year;
  int month, day, hour, minute, second;
  int yday;     // 1..366
  int weekday;  // 0 = Sunday
};
CivilTime TimeCivil(const Value& t);

// time.Time.Format with Go's reference-time layout tokens.
void FormatTime(const Value& t, std::string_view layout, std::string* out);
// time.Time.String().
void AppendTimeString(const Value& t, std::string* out);
// time.ParseInLocation; `zone`/`offset` describe the default location. Returns false and
// sets `*err` (Go's parse error text) when the value does not match the layout.
bool ParseTime(std::string_view layout, std::string_view value, std::string_view zone_name,
               int32_t zone_offset, Value* out, std::string* err);

// ---- strconv -------------------------------------------------------------------------

// strconv.ParseInt(s, 0, 64) (base prefixes, underscores). False on syntax or range error.
bool GoParseInt(std::string_view s, int64_t* out);
bool GoParseUint(std::string_view s, uint64_t* out);
// strconv.ParseFloat(s, 64). False on syntax error or out of range.
bool GoParseFloat(std::string_view s, double* out);
// strconv.FormatFloat(f, 'g', -1, 64): what %v prints for a float64.
void AppendFloatV(double f, std::string* out);
// strconv.Quote.
void AppendQuoted(std::string_view s, bool ascii_only, std::string* out);
// Go's unicode.IsSpace / IsLetter / IsDigit approximations on code points.
bool IsGoSpace(uint32_t r);
// Decodes one UTF-8 rune at s[i]; returns its width (1 for invalid bytes, rune 0xFFFD).
int DecodeRune(std::string_view s, size_t i, uint32_t* r);
void AppendRune(uint32_t r, std::string* out);

// ---- fmt -----------------------------------------------------------------------------

// Enumerates the template data's labels, sorted by name; used to print/range over `.`.
using LabelVisitor = void (*)(void* arg, std::string_view name, std::string_view value);
struct LabelEnumerator {
  void (*each)(const void* self, LabelVisitor visit, void* arg) = nullptr;
  const void* self = nullptr;
};

// fmt.Sprint(v) appended to out ("<nil>" for invalid).
void AppendPrint(const Value& v, const LabelEnumerator& labels, std::string* out);
// fmt.Sprint(args...) (ln=false) or fmt.Sprintln(args...) appended to out.
void AppendSprint(const Value* args, size_t nargs, bool ln, const LabelEnumerator& labels,
                  std::string* out);
// fmt.Sprintf(format, args...) appended to out.
void AppendPrintf(std::string_view format, const Value* args, size_t nargs,
                  const LabelEnumerator& labels, std::string* out);

// ---- encoding/json -------------------------------------------------------------------

// json.Unmarshal into interface{}: objects become kMap, arrays kList, numbers kFloat.
// Returns an invalid Value for malformed input (as sprig's fromJson does).
Value ParseJson(std::string_view text);

}  // namespace logq::pipeline::tmpl
