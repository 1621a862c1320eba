#include "store/api/push.h"

#include <google/protobuf/arena.h>
#include <snappy.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <utility>

#include "query/base/units.h"
#include "store/api/push.pb.h"
#include "store/api/push_json.h"

namespace logq::api {
namespace {

// ---------------------------------------------------------------------------------------
// Small helpers for messages.

// Go-quotes `s` (at most `max` bytes of it, then "..."), for error messages.
std::string Quote(std::string_view s, size_t max = 64) {
  std::string out;
  if (s.size() > max) {
    AppendGoQuoted(s.substr(0, max), &out);
    out += "...";
  } else {
    AppendGoQuoted(s, &out);
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string TooLargeMessage(int64_t max) {
  return "request body too large: decompressed size exceeds the limit of " + std::to_string(max) +
         " bytes (" + kMaxDecompressedKey + ")";
}

// Reserves `n` bytes when the caller gave a reservation.
Status Reserve(DecodeReservation* r, int64_t n) { return r == nullptr ? Status::OK() : r->Grow(n); }

// ---------------------------------------------------------------------------------------
// Content-Type, as Go's mime.ParseMediaType sees the media type (parameters are ignored).

bool IsTSpecial(char c) { return std::strchr("()<>@,;:\\\"/[]?=", c) != nullptr; }
bool IsTokenChar(char c) { return c > 0x20 && c < 0x7f && !IsTSpecial(c); }

std::string_view ConsumeToken(std::string_view* s) {
  size_t n = 0;
  while (n < s->size() && IsTokenChar((*s)[n])) ++n;
  std::string_view tok = s->substr(0, n);
  s->remove_prefix(n);
  return tok;
}

enum class BodyKind { kJson, kProtobuf };

Result<BodyKind> ParseContentType(std::string_view v) {
  v = v.substr(0, v.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string_view rest = v;
  std::string_view type = ConsumeToken(&rest);
  if (type.empty()) return InvalidArgument("mime: no media type");
  if (!rest.empty()) {
    if (rest.front() != '/') return InvalidArgument("mime: expected slash after first token");
    rest.remove_prefix(1);
    if (ConsumeToken(&rest).empty()) return InvalidArgument("mime: expected token after slash");
    if (!rest.empty()) return InvalidArgument("mime: unexpected content after media subtype");
  }
  return EqualsIgnoreCase(v, "application/json") ? BodyKind::kJson : BodyKind::kProtobuf;
}

// ---------------------------------------------------------------------------------------
// zlib: gzip (RFC 1952) and raw deflate (RFC 1951).

enum class Inflation { kGzip, kRawDeflate };

constexpr size_t kZlibChunk = size_t{1} << 30;  // zlib counts in 32-bit uInt

Result<std::string> Inflate(std::string_view in, Inflation mode, int64_t max,
                            DecodeReservation* reservation) {
  const std::string name = mode == Inflation::kGzip ? "gzip" : "flate";
  if (in.empty()) return InvalidArgument(name + ": unexpected EOF (empty body)");
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, mode == Inflation::kGzip ? 16 + MAX_WBITS : -MAX_WBITS) != Z_OK) {
    return Internal(name + ": cannot initialise zlib");
  }
  struct Closer {
    z_stream* zs;
    ~Closer() { inflateEnd(zs); }
  } closer{&zs};

  // The output buffer grows geometrically up to max+1 bytes: reaching max+1 proves the body
  // is over the cap, so a bomb costs at most max+1 bytes of memory and no more inflating.
  const size_t limit = static_cast<size_t>(std::max<int64_t>(max, 0)) + 1;
  size_t hint = std::max<size_t>(in.size() * 4, 64 << 10);
  if (mode == Inflation::kGzip && in.size() >= 18) {
    // The gzip trailer's ISIZE (length mod 2^32) of the last member: a hint only.
    const auto* p = reinterpret_cast<const unsigned char*>(in.data() + in.size() - 4);
    size_t isize = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<size_t>(p[3]) << 24);
    // Trusted only up to a typical text ratio, so a forged ISIZE cannot make us allocate
    // much more than the body before inflating proves the data is there.
    hint = std::max(hint, std::min(isize + 1, in.size() * 16));
  }
  std::string out;
  RETURN_IF_ERROR(Reserve(reservation, static_cast<int64_t>(std::min(hint, limit))));
  out.resize(std::min(hint, limit));

  size_t in_pos = 0, produced = 0;
  while (true) {
    if (zs.avail_in == 0 && in_pos < in.size()) {
      size_t n = std::min(in.size() - in_pos, kZlibChunk);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    if (produced == out.size()) {
      if (out.size() >= limit) return TooLarge(TooLargeMessage(max));
      const size_t grown = std::min(std::max(out.size() * 2, size_t{64} << 10), limit);
      RETURN_IF_ERROR(Reserve(reservation, static_cast<int64_t>(grown - out.size())));
      out.resize(grown);
    }
    size_t room = std::min(out.size() - produced, kZlibChunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    int ret = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (produced >= limit) return TooLarge(TooLargeMessage(max));
    const bool input_done = zs.avail_in == 0 && in_pos == in.size();
    if (ret == Z_STREAM_END) {
      // gzip: like Go's multistream reader, concatenated members are one body. Raw deflate:
      // like Go's flate reader, anything after the final block is ignored.
      if (mode == Inflation::kGzip && !input_done) {
        if (inflateReset(&zs) != Z_OK) return Internal("gzip: cannot reset zlib");
        continue;
      }
      break;
    }
    if (ret == Z_OK || ret == Z_BUF_ERROR) {
      // No progress possible with output room left and no input: the stream is truncated.
      if (input_done && zs.avail_out > 0) return InvalidArgument(name + ": unexpected EOF");
      continue;
    }
    std::string why = zs.msg != nullptr ? zs.msg : "corrupt input";
    return InvalidArgument(name + ": " + why);
  }
  out.resize(produced);
  return out;
}

std::string Deflate(std::string_view in, int window_bits) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return {};
  }
  std::string out;
  out.resize(deflateBound(&zs, in.size()) + 64);
  size_t in_pos = 0, produced = 0;
  int ret = Z_OK;
  while (ret != Z_STREAM_END) {
    if (zs.avail_in == 0 && in_pos < in.size()) {
      size_t n = std::min(in.size() - in_pos, kZlibChunk);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    if (produced == out.size()) out.resize(out.size() * 2);
    size_t room = std::min(out.size() - produced, kZlibChunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    ret = deflate(&zs, in_pos == in.size() ? Z_FINISH : Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) break;
  }
  deflateEnd(&zs);
  out.resize(produced);
  return out;
}

// ---------------------------------------------------------------------------------------
// Snappy (raw block format).

// The declared uncompressed length of a snappy block, checked against the cap.
Result<size_t> SnappyDecodedLength(std::string_view in, int64_t max) {
  size_t len = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &len)) {
    return InvalidArgument("snappy: corrupt input");
  }
  // A snappy element expands at most 64 bytes out of 3 bytes in, so a longer declared length
  // is a lie; reject it before allocating anything.
  if (len / 22 > in.size()) return InvalidArgument("snappy: corrupt input");
  if (max < 0 || len > static_cast<uint64_t>(max)) {
    return TooLarge("request body too large: message size too large than max (" +
                    std::to_string(len) + " vs " + std::to_string(max) + ") (" +
                    kMaxDecompressedKey + ")");
  }
  return len;
}

Result<std::string> SnappyDecode(std::string_view in, int64_t max) {
  ASSIGN_OR_RETURN(size_t len, SnappyDecodedLength(in, max));
  std::string out;
  out.resize(len);
  if (!snappy::RawUncompress(in.data(), in.size(), out.data())) {
    return InvalidArgument("snappy: corrupt input");
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Protobuf.

int64_t TimestampToNanos(int64_t seconds, int32_t nanos) {
  // Saturate instead of failing the whole request: ingest rejects the entry as too old/new.
  int64_t ns;
  if (__builtin_mul_overflow(seconds, int64_t{1000000000}, &ns) ||
      __builtin_add_overflow(ns, int64_t{nanos}, &ns)) {
    return seconds < 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  }
  return ns;
}

Result<PushRequest> DecodeProtobuf(std::string_view raw) {
  if (raw.size() > static_cast<size_t>(INT_MAX)) {
    return TooLarge("request body too large: message size too large than max (" +
                    std::to_string(raw.size()) + " vs " + std::to_string(INT_MAX) + ")");
  }
  // All messages live in one arena sized from the body; the strings are moved out of it.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = std::clamp<size_t>(raw.size() / 2, 4 << 10, 1 << 20);
  arena_options.max_block_size = 1 << 20;
  google::protobuf::Arena arena(arena_options);
  auto* msg = google::protobuf::Arena::CreateMessage<logproto::PushRequest>(&arena);
  if (!msg->ParseFromArray(raw.data(), static_cast<int>(raw.size()))) {
    return InvalidArgument("invalid protobuf body: cannot parse logproto.PushRequest");
  }
  PushRequest req;
  req.streams.reserve(msg->streams_size());
  for (logproto::StreamAdapter& s : *msg->mutable_streams()) {
    PushStream& stream = req.streams.emplace_back();
    stream.labels = std::move(*s.mutable_labels());
    stream.entries.reserve(s.entries_size());
    for (logproto::EntryAdapter& e : *s.mutable_entries()) {
      PushEntry& entry = stream.entries.emplace_back();
      if (e.has_timestamp()) {
        entry.timestamp_ns = TimestampToNanos(e.timestamp().seconds(), e.timestamp().nanos());
      }
      entry.line = std::move(*e.mutable_line());
      if (e.structuredmetadata_size() > 0) {
        entry.structured_metadata.reserve(e.structuredmetadata_size());
        for (logproto::LabelPairAdapter& p : *e.mutable_structuredmetadata()) {
          entry.structured_metadata.push_back(
              Label{std::move(*p.mutable_name()), std::move(*p.mutable_value())});
        }
      }
    }
  }
  return req;
}

// ---------------------------------------------------------------------------------------
// JSON: a SAX handler that builds the PushRequest directly (no DOM) and knows, at every
// event, the path of the value being parsed, so that every error names its field.

using Json = nlohmann::json;

enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kObject, kArray };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "boolean";
    case Kind::kNumber:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kObject:
      return "object";
    case Kind::kArray:
      return "array";
  }
  return "?";
}

// Where a value is being parsed. Object contexts know their members by `Field`.
enum class Ctx : uint8_t {
  kRoot,      // {"streams": ...}
  kStreams,   // [stream, ...]
  kStream,    // v1 {"stream": {...}, "values": [...]}
  kLabels,    // v1 {"name": "value", ...}
  kValues,    // v1 [entry, ...]
  kEntry,     // v1 ["ts", "line"(, {metadata})]
  kMetadata,  // v1 {"name": "value", ...}
  kLStream,   // legacy {"labels": "...", "entries": [...]}
  kLEntries,  // legacy [entry, ...]
  kLEntry,    // legacy {"ts": "RFC3339", "line": "..."}
};

enum class Field : uint8_t { kOther, kStreams, kStream, kValues, kLabels, kEntries, kTs, kLine };

bool IsObjectCtx(Ctx c) {
  return c == Ctx::kRoot || c == Ctx::kStream || c == Ctx::kLabels || c == Ctx::kMetadata ||
         c == Ctx::kLStream || c == Ctx::kLEntry;
}

Field FieldOf(Ctx c, std::string_view key) {
  switch (c) {
    case Ctx::kRoot:
      if (key == "streams") return Field::kStreams;
      break;
    case Ctx::kStream:
      if (key == "stream") return Field::kStream;
      if (key == "values") return Field::kValues;
      break;
    case Ctx::kLStream:
      if (key == "labels") return Field::kLabels;
      if (key == "entries") return Field::kEntries;
      break;
    case Ctx::kLEntry:
      if (key == "ts") return Field::kTs;
      if (key == "line") return Field::kLine;
      break;
    default:
      break;
  }
  return Field::kOther;
}

struct Frame {
  explicit Frame(Ctx c) : ctx(c) {}
  Ctx ctx;
  size_t index = 0;      // arrays: the element being parsed
  std::string key;       // objects: the member being parsed (valid while has_key)
  bool has_key = false;  // objects: a key was read, its value is pending
  Field field = Field::kOther;
  uint8_t seen = 0;  // objects: bit per known Field already read
};

// Go's strconv.ParseInt(s, 10, 64).
bool ParseInt64(std::string_view s, int64_t* out) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  if (neg) {
    if (v > uint64_t{1} << 63) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// Legacy `ts`: RFC3339. Years whose nanoseconds do not fit in int64 (before 1678 or after
// 2261) are rejected here, before ParseRFC3339 would overflow.
Result<int64_t> ParseLegacyTimestamp(std::string_view s) {
  if (s.size() >= 5 && s[4] == '-' &&
      std::all_of(s.begin(), s.begin() + 4, [](char c) { return c >= '0' && c <= '9'; })) {
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    if (year < 1678 || year > 2261) {
      return InvalidArgument("timestamp " + Quote(s) + " is out of range (years 1678 to 2261)");
    }
  }
  return ParseRFC3339(s);
}

// Label text for a JSON `stream` object: sorted, canonical; invalid names Go-quoted so the
// text cannot be parsed as some other (valid) label set.
std::string LabelsText(Labels& labels) {
  labels.Sort();
  bool valid = std::all_of(labels.begin(), labels.end(),
                           [](const Label& l) { return IsValidLabelName(l.name); });
  if (valid) return labels.ToString();
  std::string out = "{";
  bool first = true;
  for (const Label& l : labels) {
    if (!first) out += ", ";
    first = false;
    if (IsValidLabelName(l.name)) {
      out += l.name;
    } else {
      AppendGoQuoted(l.name, &out);
    }
    out += '=';
    AppendGoQuoted(l.value, &out);
  }
  out += '}';
  return out;
}

// Replaces bytes that are not printable ASCII with \xNN, for echoing parser context.
std::string Printable(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

class PushJsonHandler {
 public:
  PushJsonHandler(PushPathVersion version, PushRequest* out)
      : legacy_(version == PushPathVersion::kLegacy), out_(out) {
    frames_.reserve(8);
  }

  const Status& status() const { return status_; }

  // nlohmann SAX interface.
  bool null() { return Value(Kind::kNull, nullptr); }
  bool boolean(bool) { return Value(Kind::kBool, nullptr); }
  bool number_integer(Json::number_integer_t) { return Value(Kind::kNumber, nullptr); }
  bool number_unsigned(Json::number_unsigned_t) { return Value(Kind::kNumber, nullptr); }
  bool number_float(Json::number_float_t, const std::string&) {
    return Value(Kind::kNumber, nullptr);
  }
  bool string(std::string& s) { return Value(Kind::kString, &s); }
  bool binary(Json::binary_t&) { return Fail(Path(frames_.size()), "unexpected binary value"); }
  bool start_object(std::size_t) { return Value(Kind::kObject, nullptr); }
  bool start_array(std::size_t) { return Value(Kind::kArray, nullptr); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }

  bool key(std::string& k) {
    if (skip_depth_ > 0) return true;
    Frame& f = frames_.back();
    f.field = FieldOf(f.ctx, k);
    if (f.field != Field::kOther) {
      uint8_t bit = uint8_t{1} << static_cast<int>(f.field);
      if (f.seen & bit) {
        f.key = std::move(k);
        f.has_key = true;
        return Fail(Path(frames_.size()), "duplicate key");
      }
      f.seen |= bit;
    }
    f.key = std::move(k);
    f.has_key = true;
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    std::string_view what = ex.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
    std::string_view detail = what;
    if (size_t p = what.find("parse error at "); p != std::string_view::npos) {
      detail = what.substr(p + std::strlen("parse error at "));
    }
    std::string path = Path(frames_.size());
    std::string prefix = path.empty() ? "" : path + ": ";
    if (detail.find("ill-formed UTF-8") != std::string_view::npos) {
      std::string_view where = detail.substr(0, detail.find(':'));
      status_ = InvalidArgument(prefix + "invalid UTF-8 in JSON string at " + std::string(where));
    } else {
      status_ = InvalidArgument(prefix + "invalid JSON: " + Printable(detail));
    }
    return false;
  }

 private:
  PushStream& stream() { return out_->streams.back(); }
  PushEntry& entry() { return stream().entries.back(); }

  // The path of the value being parsed in frames_[0, depth): "streams[3].values[7][0]".
  std::string Path(size_t depth) const {
    std::string p;
    for (size_t i = 0; i < depth; ++i) {
      const Frame& f = frames_[i];
      if (IsObjectCtx(f.ctx)) {
        if (!f.has_key) break;
        if (IsValidLabelName(f.key)) {
          if (!p.empty()) p += '.';
          p += f.key;
        } else {
          p += '[';
          p += Quote(f.key);
          p += ']';
        }
      } else {
        p += '[';
        p += std::to_string(f.index);
        p += ']';
      }
    }
    return p;
  }

  bool Fail(const std::string& path, const std::string& msg) {
    status_ = InvalidArgument(path.empty() ? msg : path + ": " + msg);
    return false;
  }
  bool FailHere(const std::string& msg) { return Fail(Path(frames_.size()), msg); }
  bool FailGot(const char* want, Kind got) {
    return FailHere(std::string(want) + ", got " + KindName(got));
  }

  // The value in the top frame is complete.
  bool Done() {
    if (!frames_.empty()) {
      Frame& f = frames_.back();
      if (IsObjectCtx(f.ctx)) {
        f.has_key = false;
      } else {
        ++f.index;
      }
    }
    return true;
  }

  bool Push(Ctx c) {
    frames_.emplace_back(c);
    return true;
  }

  // An unknown member's value: scalars are complete at once, containers are skipped.
  bool Skip(Kind kind) {
    if (kind == Kind::kObject || kind == Kind::kArray) {
      skip_depth_ = 1;
      return true;
    }
    return Done();
  }

  bool Value(Kind kind, std::string* s) {
    const bool container = kind == Kind::kObject || kind == Kind::kArray;
    if (skip_depth_ > 0) {
      if (container) ++skip_depth_;
      return true;
    }
    if (frames_.empty()) {
      if (kind != Kind::kObject) {
        return Fail("", std::string("push body must be a JSON object, got ") + KindName(kind));
      }
      return Push(Ctx::kRoot);
    }
    Frame& f = frames_.back();
    switch (f.ctx) {
      case Ctx::kRoot:
        if (f.field != Field::kStreams) return Skip(kind);
        if (kind == Kind::kArray) return Push(Ctx::kStreams);
        if (kind == Kind::kNull) return Done();
        return FailGot("must be an array", kind);

      case Ctx::kStreams:
        if (kind == Kind::kObject) {
          out_->streams.emplace_back();
          labels_ = Labels();
          return Push(legacy_ ? Ctx::kLStream : Ctx::kStream);
        }
        if (kind == Kind::kNull) return Done();
        return FailGot("stream must be an object", kind);

      case Ctx::kStream:
        if (f.field == Field::kStream) {
          if (kind == Kind::kObject) return Push(Ctx::kLabels);
          if (kind == Kind::kNull) return Done();
          return FailGot("must be an object of label names to string values", kind);
        }
        if (f.field == Field::kValues) {
          if (kind == Kind::kArray) return Push(Ctx::kValues);
          if (kind == Kind::kNull) return Done();
          return FailGot("must be an array of entries", kind);
        }
        return Skip(kind);

      case Ctx::kLabels:
        if (kind != Kind::kString) return FailGot("label value must be a string", kind);
        labels_.Add(std::move(f.key), std::move(*s));
        return Done();

      case Ctx::kValues:
        if (kind == Kind::kArray) {
          stream().entries.emplace_back();
          return Push(Ctx::kEntry);
        }
        if (kind == Kind::kNull) return Done();
        return FailGot(
            "entry must be an array [\"<unix ns>\", \"<line>\"] or "
            "[\"<unix ns>\", \"<line>\", {<structured metadata>}]",
            kind);

      case Ctx::kEntry:
        switch (f.index) {
          case 0:
            if (kind != Kind::kString) {
              return FailGot("timestamp must be a string of nanoseconds", kind);
            }
            if (!ParseInt64(*s, &entry().timestamp_ns)) {
              return FailHere("invalid timestamp " + Quote(*s) +
                              ": must be an integer number of nanoseconds since the epoch");
            }
            return Done();
          case 1:
            if (kind != Kind::kString) return FailGot("line must be a string", kind);
            entry().line = std::move(*s);
            return Done();
          case 2:
            if (kind == Kind::kObject) return Push(Ctx::kMetadata);
            if (kind == Kind::kNull) return Done();
            return FailGot("structured metadata must be an object of string values", kind);
          default:
            return Fail(Path(frames_.size() - 1), "entry must have 2 or 3 elements, got more");
        }

      case Ctx::kMetadata:
        if (kind != Kind::kString) {
          return FailGot("structured metadata value must be a string", kind);
        }
        entry().structured_metadata.push_back(Label{std::move(f.key), std::move(*s)});
        return Done();

      case Ctx::kLStream:
        if (f.field == Field::kLabels) {
          if (kind == Kind::kString) {
            stream().labels = std::move(*s);
            return Done();
          }
          if (kind == Kind::kNull) return Done();
          return FailGot("must be a string of label text", kind);
        }
        if (f.field == Field::kEntries) {
          if (kind == Kind::kArray) return Push(Ctx::kLEntries);
          if (kind == Kind::kNull) return Done();
          return FailGot("must be an array of entries", kind);
        }
        return Skip(kind);

      case Ctx::kLEntries:
        if (kind == Kind::kObject) {
          stream().entries.emplace_back();
          return Push(Ctx::kLEntry);
        }
        if (kind == Kind::kNull) return Done();
        return FailGot("entry must be an object {\"ts\": \"<RFC3339>\", \"line\": \"...\"}", kind);

      case Ctx::kLEntry:
        if (f.field == Field::kTs) {
          if (kind != Kind::kString) return FailGot("must be an RFC3339 timestamp string", kind);
          auto ts = ParseLegacyTimestamp(*s);
          if (!ts.ok()) return FailHere(ts.status().message());
          entry().timestamp_ns = *ts;
          return Done();
        }
        if (f.field == Field::kLine) {
          if (kind != Kind::kString) return FailGot("must be a string", kind);
          entry().line = std::move(*s);
          return Done();
        }
        return Skip(kind);
    }
    return FailHere("internal error: unknown context");
  }

  bool Close() {
    if (skip_depth_ > 0) {
      if (--skip_depth_ == 0) return Done();
      return true;
    }
    Frame& f = frames_.back();
    switch (f.ctx) {
      case Ctx::kRoot:
        if (!(f.seen & (1 << static_cast<int>(Field::kStreams)))) {
          return Fail("streams", "required field is missing");
        }
        break;
      case Ctx::kStream:
        stream().labels = LabelsText(labels_);
        labels_ = Labels();
        break;
      case Ctx::kEntry:
        if (f.index < 2) {
          return Fail(Path(frames_.size() - 1),
                      "entry must have 2 or 3 elements, got " + std::to_string(f.index));
        }
        break;
      case Ctx::kLEntry:
        if (!(f.seen & (1 << static_cast<int>(Field::kTs)))) {
          return Fail(Path(frames_.size() - 1) + ".ts", "required field is missing");
        }
        break;
      default:
        break;
    }
    frames_.pop_back();
    return Done();
  }

  const bool legacy_;
  PushRequest* const out_;
  std::vector<Frame> frames_;
  size_t skip_depth_ = 0;  // > 0 while inside a skipped (unknown) member's value
  Labels labels_;          // the current v1 stream's `stream` object
  Status status_;
};

// The fast reader: a strict subset of RFC 8259 that emits the same SAX events as nlohmann
// (the handler cannot tell them apart). It bails out (kBail) on anything it does not accept:
// syntax errors, invalid UTF-8, control characters, a lone surrogate escape, a BOM, ...,
// leaving the verdict and the error message to nlohmann. It only has to be right about
// what it accepts.
enum class FastResult { kOk, kStopped, kBail };

// Byte classes inside a JSON string.
enum : uint8_t { kPlain = 0, kQuote = 1, kBackslash = 2, kControl = 3, kNonAscii = 4 };

constexpr std::array<uint8_t, 256> MakeStringClasses() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = c < 0x20 ? kControl : c >= 0x80 ? kNonAscii : kPlain;
  }
  t['"'] = kQuote;
  t['\\'] = kBackslash;
  return t;
}
constexpr std::array<uint8_t, 256> kStringClass = MakeStringClasses();

// Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0. Same ranges as
// nlohmann's lexer (Unicode Table 3-7).
size_t Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return p + i < end && p[i] >= lo && p[i] <= hi;
  };
  unsigned char c = p[0];
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0, 0xBF) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90, 0xBF) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class FastJsonReader {
 public:
  explicit FastJsonReader(std::string_view in)
      : p_(reinterpret_cast<const unsigned char*>(in.data())), end_(p_ + in.size()) {}

  template <typename Handler>
  FastResult Parse(Handler* h) {
    std::vector<uint8_t> stack;  // open containers: 1 = object, 0 = array
    stack.reserve(16);
    while (true) {
      // Parse one value.
      SkipWs();
      if (p_ == end_) return FastResult::kBail;
      switch (*p_) {
        case '{':
          ++p_;
          if (!h->start_object(std::size_t(-1))) return FastResult::kStopped;
          SkipWs();
          if (p_ < end_ && *p_ == '}') {
            ++p_;
            if (!h->end_object()) return FastResult::kStopped;
            break;
          }
          stack.push_back(1);
          if (FastResult r = Key(h); r != FastResult::kOk) return r;
          continue;
        case '[':
          ++p_;
          if (!h->start_array(std::size_t(-1))) return FastResult::kStopped;
          SkipWs();
          if (p_ < end_ && *p_ == ']') {
            ++p_;
            if (!h->end_array()) return FastResult::kStopped;
            break;
          }
          stack.push_back(0);
          continue;
        case '"':
          if (!String()) return FastResult::kBail;
          if (!h->string(buf_)) return FastResult::kStopped;
          break;
        case 't':
          if (!Literal("true")) return FastResult::kBail;
          if (!h->boolean(true)) return FastResult::kStopped;
          break;
        case 'f':
          if (!Literal("false")) return FastResult::kBail;
          if (!h->boolean(false)) return FastResult::kStopped;
          break;
        case 'n':
          if (!Literal("null")) return FastResult::kBail;
          if (!h->null()) return FastResult::kStopped;
          break;
        default:
          if (!Number()) return FastResult::kBail;
          if (!h->number_integer(0)) return FastResult::kStopped;
          break;
      }
      // After a value: close containers, or move to the next element / member.
      while (true) {
        SkipWs();
        if (stack.empty()) return p_ == end_ ? FastResult::kOk : FastResult::kBail;
        if (p_ == end_) return FastResult::kBail;
        const bool object = stack.back() == 1;
        if (*p_ == ',') {
          ++p_;
          if (object) {
            SkipWs();
            if (FastResult r = Key(h); r != FastResult::kOk) return r;
          }
          break;
        }
        if (*p_ == (object ? '}' : ']')) {
          ++p_;
          stack.pop_back();
          if (!(object ? h->end_object() : h->end_array())) return FastResult::kStopped;
          continue;
        }
        return FastResult::kBail;
      }
    }
  }

 private:
  void SkipWs() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  template <typename Handler>
  FastResult Key(Handler* h) {
    if (p_ == end_ || *p_ != '"' || !String()) return FastResult::kBail;
    SkipWs();
    if (p_ == end_ || *p_ != ':') return FastResult::kBail;
    ++p_;
    return h->key(buf_) ? FastResult::kOk : FastResult::kStopped;
  }

  bool Literal(std::string_view lit) {
    if (static_cast<size_t>(end_ - p_) < lit.size() ||
        std::memcmp(p_, lit.data(), lit.size()) != 0) {
      return false;
    }
    p_ += lit.size();
    return true;
  }

  static bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }

  bool Number() {
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_ || !IsDigit(*p_)) return false;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || !IsDigit(*p_)) return false;
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !IsDigit(*p_)) return false;
      while (p_ < end_ && IsDigit(*p_)) ++p_;
    }
    return true;
  }

  bool Hex4(uint32_t* out) {
    if (end_ - p_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      unsigned char c = p_[i];
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return false;
      }
      v = v * 16 + d;
    }
    p_ += 4;
    *out = v;
    return true;
  }

  // At '"': reads the string into buf_ and leaves p_ after the closing quote.
  bool String() {
    ++p_;
    const unsigned char* start = p_;
    // Fast path: no escapes, so the bytes are the value.
    while (true) {
      while (p_ < end_ && kStringClass[*p_] == kPlain) ++p_;
      if (p_ == end_) return false;
      if (*p_ == '"') {
        buf_.assign(reinterpret_cast<const char*>(start), p_ - start);
        ++p_;
        return true;
      }
      if (kStringClass[*p_] == kNonAscii) {
        size_t n = Utf8SequenceLength(p_, end_);
        if (n == 0) return false;
        p_ += n;
        continue;
      }
      if (*p_ == '\\') break;
      return false;  // control character
    }
    // Slow path: escapes.
    buf_.assign(reinterpret_cast<const char*>(start), p_ - start);
    while (true) {
      const unsigned char* run = p_;
      while (p_ < end_ && kStringClass[*p_] == kPlain) ++p_;
      buf_.append(reinterpret_cast<const char*>(run), p_ - run);
      if (p_ == end_) return false;
      unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (kStringClass[c] == kNonAscii) {
        size_t n = Utf8SequenceLength(p_, end_);
        if (n == 0) return false;
        buf_.append(reinterpret_cast<const char*>(p_), n);
        p_ += n;
        continue;
      }
      if (c != '\\' || end_ - p_ < 2) return false;
      unsigned char e = p_[1];
      p_ += 2;
      switch (e) {
        case '"':
          buf_ += '"';
          break;
        case '\\':
          buf_ += '\\';
          break;
        case '/':
          buf_ += '/';
          break;
        case 'b':
          buf_ += '\b';
          break;
        case 'f':
          buf_ += '\f';
          break;
        case 'n':
          buf_ += '\n';
          break;
        case 'r':
          buf_ += '\r';
          break;
        case 't':
          buf_ += '\t';
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // lone low surrogate
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!Hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          AppendUtf8(cp, &buf_);
          break;
        }
        default:
          return false;
      }
    }
  }

  const unsigned char* p_;
  const unsigned char* const end_;
  std::string buf_;  // the last string or key read
};

Result<PushRequest> DecodeJsonWithNlohmann(std::string_view body, PushPathVersion version) {
  PushRequest req;
  PushJsonHandler handler(version, &req);
  bool ok = Json::sax_parse(body.data(), body.data() + body.size(), &handler);
  if (!handler.status().ok()) return handler.status();
  if (!ok) return InvalidArgument("invalid JSON push body");
  return req;
}

}  // namespace

namespace internal {

Result<PushRequest> DecodePushJson(std::string_view body, PushPathVersion version,
                                   JsonReader reader) {
  if (reader != JsonReader::kNlohmann) {
    PushRequest req;
    PushJsonHandler handler(version, &req);
    switch (FastJsonReader(body).Parse(&handler)) {
      case FastResult::kOk:
        return req;
      case FastResult::kStopped:
        return handler.status();
      case FastResult::kBail:
        if (reader == JsonReader::kFastOnly) {
          return Unimplemented("fast JSON reader bailed out");
        }
        break;
    }
  }
  return DecodeJsonWithNlohmann(body, version);
}

}  // namespace internal

// ---------------------------------------------------------------------------------------
// Public API.

bool DecodeBudget::TryAcquire(int64_t n) {
  int64_t cur = used_.load(std::memory_order_relaxed);
  do {
    if (n > capacity_ - cur) return false;
  } while (!used_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  return true;
}

void DecodeBudget::Release(int64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

DecodeReservation::~DecodeReservation() {
  if (budget_ != nullptr && bytes_ > 0) budget_->Release(bytes_);
}

Status DecodeReservation::Grow(int64_t n) {
  if (budget_ == nullptr || n <= 0) return Status::OK();
  if (bytes_ + n > budget_->capacity()) {  // could never fit, not even alone: no retry helps
    return TooLarge("request body too large: decoding it needs more than the " +
                    std::to_string(budget_->capacity()) + "-byte budget for decompression (" +
                    kMaxDecompressedInflightKey + ")");
  }
  if (!budget_->TryAcquire(n)) {
    return ResourceExhausted(
        "too much push data being decompressed at once: this request needs " +
        std::to_string(bytes_ + n) + " bytes and " + std::to_string(budget_->in_use()) +
        " of the " + std::to_string(budget_->capacity()) + "-byte budget are in use (" +
        kMaxDecompressedInflightKey + "); retry later");
  }
  bytes_ += n;
  return Status::OK();
}

Result<PushRequest> DecodePushRequest(std::string_view body, std::string_view content_type,
                                      std::string_view content_encoding,
                                      const DecodeOptions& options) {
  enum class Encoding { kNone, kGzip, kDeflate } encoding;
  if (content_encoding.empty() || EqualsIgnoreCase(content_encoding, "snappy")) {
    encoding = Encoding::kNone;  // snappy: tolerated no-op (Loki issue #3407)
  } else if (EqualsIgnoreCase(content_encoding, "gzip")) {
    encoding = Encoding::kGzip;
  } else if (EqualsIgnoreCase(content_encoding, "deflate")) {
    encoding = Encoding::kDeflate;
  } else {
    return InvalidArgument("Content-Encoding " + Quote(content_encoding) + " not supported");
  }
  ASSIGN_OR_RETURN(BodyKind kind, ParseContentType(content_type));

  std::string inflated;
  if (encoding != Encoding::kNone) {
    ASSIGN_OR_RETURN(
        inflated,
        Inflate(body, encoding == Encoding::kGzip ? Inflation::kGzip : Inflation::kRawDeflate,
                options.max_decompressed_bytes, options.reservation));
    body = inflated;
  }
  if (kind == BodyKind::kJson) {
    return internal::DecodePushJson(body, options.version, internal::JsonReader::kAuto);
  }

  // Uninitialised buffer: snappy writes every byte, so zero-filling it would be wasted work.
  ASSIGN_OR_RETURN(size_t len, SnappyDecodedLength(body, options.max_decompressed_bytes));
  RETURN_IF_ERROR(Reserve(options.reservation, static_cast<int64_t>(len)));
  std::unique_ptr<char[]> raw(new char[len]);
  if (!snappy::RawUncompress(body.data(), body.size(), raw.get())) {
    return InvalidArgument("snappy: corrupt input");
  }
  inflated = std::string();  // free the gzip output before building the request
  return DecodeProtobuf(std::string_view(raw.get(), len));
}

std::string EncodePushProtobuf(const PushRequest& req) {
  google::protobuf::Arena arena;
  auto* msg = google::protobuf::Arena::CreateMessage<logproto::PushRequest>(&arena);
  msg->mutable_streams()->Reserve(static_cast<int>(req.streams.size()));
  for (const PushStream& s : req.streams) {
    logproto::StreamAdapter* sa = msg->add_streams();
    sa->set_labels(s.labels);
    sa->mutable_entries()->Reserve(static_cast<int>(s.entries.size()));
    for (const PushEntry& e : s.entries) {
      logproto::EntryAdapter* ea = sa->add_entries();
      // Go's time.Unix normalisation: nanos in [0, 1e9).
      int64_t secs = e.timestamp_ns / 1000000000;
      int64_t nanos = e.timestamp_ns % 1000000000;
      if (nanos < 0) {
        nanos += 1000000000;
        secs -= 1;
      }
      ea->mutable_timestamp()->set_seconds(secs);
      ea->mutable_timestamp()->set_nanos(static_cast<int32_t>(nanos));
      ea->set_line(e.line);
      for (const Label& l : e.structured_metadata) {
        logproto::LabelPairAdapter* p = ea->add_structuredmetadata();
        p->set_name(l.name);
        p->set_value(l.value);
      }
    }
  }
  return msg->SerializeAsString();
}

std::string SnappyCompress(std::string_view data) {
  std::string out;
  snappy::Compress(data.data(), data.size(), &out);
  return out;
}

Result<std::string> SnappyUncompress(std::string_view data, int64_t max_bytes) {
  return SnappyDecode(data, max_bytes);
}

std::string EncodePushJson(const PushRequest& req) {
  using OJson = nlohmann::ordered_json;
  OJson streams = OJson::array();
  for (const PushStream& s : req.streams) {
    OJson labels = OJson::object();
    if (auto parsed = ParseLabels(s.labels); parsed.ok()) {
      for (const Label& l : *parsed) labels[l.name] = l.value;
    }
    OJson values = OJson::array();
    for (const PushEntry& e : s.entries) {
      OJson v = OJson::array({std::to_string(e.timestamp_ns), e.line});
      if (!e.structured_metadata.empty()) {
        OJson md = OJson::object();
        for (const Label& l : e.structured_metadata) md[l.name] = l.value;
        v.push_back(std::move(md));
      }
      values.push_back(std::move(v));
    }
    streams.push_back(OJson{{"stream", std::move(labels)}, {"values", std::move(values)}});
  }
  OJson body = OJson::object();
  body["streams"] = std::move(streams);
  return body.dump(-1, ' ', false, OJson::error_handler_t::replace);
}

std::string GzipCompress(std::string_view data) { return Deflate(data, 16 + MAX_WBITS); }

std::string DeflateCompress(std::string_view data) { return Deflate(data, -MAX_WBITS); }

}  // namespace logq::api
