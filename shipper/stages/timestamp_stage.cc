// timestamp stage: the entry time from an extracted value, with Promtail's formats (Go
// reference layouts, RFC3339..., Unix, UnixMs, UnixUs, UnixNs), fallback_formats, location
// and action_on_failure (fudge / skip).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <unordered_map>

#include <fmt/format.h>

#include "query/base/units.h"
#include "query/pipeline/template_value.h"
#include "shipper/stages/stage.h"

namespace logq::shipper::stages {
namespace {

namespace tmpl = ::logq::pipeline::tmpl;

// ---- zoneinfo (TZif) -----------------------------------------------------------------

// A time zone read from the system's zoneinfo database: UTC offsets by transition time.
// Times after the last transition use the last offset (the database's "fat" files list
// transitions until 2037).
class Zone {
 public:
  static Result<std::shared_ptr<const Zone>> Load(const std::string& name) {
    auto z = std::make_shared<Zone>();
    if (name.empty() || name == "UTC") return std::shared_ptr<const Zone>(z);
    if (name.find("..") != std::string::npos || name[0] == '/') {
      return InvalidArgument(fmt::format("invalid location specified: {:?}", name));
    }
    const char* env = std::getenv("ZONEINFO");
    std::string dir = env && *env ? env : "/usr/share/zoneinfo";
    std::ifstream f(name == "Local" ? std::string("/etc/localtime") : dir + "/" + name,
                    std::ios::binary);
    if (!f) return InvalidArgument(fmt::format("invalid location specified: unknown time zone {}", name));
    std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (!z->Parse(data)) {
      return InvalidArgument(fmt::format("invalid location specified: {} is not a valid zoneinfo file", name));
    }
    return std::shared_ptr<const Zone>(z);
  }

  // UTC offset in seconds at Unix time `t`.
  int32_t OffsetAt(int64_t t) const {
    if (types_.empty()) return 0;
    if (times_.empty() || t < times_.front()) return types_[0];
    auto it = std::upper_bound(times_.begin(), times_.end(), t);
    size_t i = static_cast<size_t>(it - times_.begin()) - 1;
    return types_[idx_[i]];
  }

  // Unix time of a local wall-clock time (seconds as if UTC).
  int64_t FromLocal(int64_t local) const {
    int32_t o1 = OffsetAt(local);
    int32_t o2 = OffsetAt(local - o1);
    return local - o2;
  }

 private:
  static uint32_t Be32(const unsigned char* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
  }
  static int64_t Be64(const unsigned char* p) {
    return static_cast<int64_t>(uint64_t(Be32(p)) << 32 | Be32(p + 4));
  }

  bool Parse(const std::string& data) {
    auto p = reinterpret_cast<const unsigned char*>(data.data());
    size_t n = data.size();
    if (n < 44 || data.compare(0, 4, "TZif") != 0) return false;
    char version = data[4];
    auto counts = [&](size_t off, uint32_t c[6]) {
      for (int i = 0; i < 6; ++i) c[i] = Be32(p + off + 20 + 4 * i);
    };
    uint32_t c[6];  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
    counts(0, c);
    size_t off = 44;
    size_t tsize = 4;
    if (version >= '2') {
      size_t v1 = size_t(c[3]) * 5 + size_t(c[4]) * 6 + c[5] + size_t(c[2]) * 8 + c[1] + c[0];
      off += v1;
      if (off + 44 > n || data.compare(off, 4, "TZif") != 0) return false;
      counts(off, c);
      off += 44;
      tsize = 8;
    }
    uint32_t timecnt = c[3], typecnt = c[4];
    if (off + size_t(timecnt) * (tsize + 1) + size_t(typecnt) * 6 > n || typecnt == 0) return false;
    for (uint32_t i = 0; i < timecnt; ++i) {
      times_.push_back(tsize == 8 ? Be64(p + off + i * 8) : static_cast<int32_t>(Be32(p + off + i * 4)));
    }
    off += size_t(timecnt) * tsize;
    for (uint32_t i = 0; i < timecnt; ++i) {
      uint8_t k = p[off + i];
      if (k >= typecnt) return false;
      idx_.push_back(k);
    }
    off += timecnt;
    for (uint32_t i = 0; i < typecnt; ++i) types_.push_back(static_cast<int32_t>(Be32(p + off + i * 6)));
    return true;
  }

  std::vector<int64_t> times_;
  std::vector<uint8_t> idx_;
  std::vector<int32_t> types_;  // utoff per type
};

// ---- calendar helpers ------------------------------------------------------------------

int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// Go's t.AddDate(years, 0, 0) for a time given as (unix, offset): same wall clock, year
// shifted (Feb 29 of a non-leap year normalizes to Mar 1).
int64_t AddYears(int64_t unix_sec, int32_t offset, int64_t years) {
  tmpl::Value v = tmpl::MakeTime(unix_sec, 0, offset, "");
  tmpl::CivilTime c = tmpl::TimeCivil(v);
  int64_t local_day_sec = ((unix_sec + offset) % 86400 + 86400) % 86400;
  int64_t days = DaysFromCivil(c.year + years, c.month, c.day);
  return days * 86400 + local_day_sec - offset;
}

// ---- formats -------------------------------------------------------------------------

enum class FormatKind { kLayout, kUnix, kUnixMs, kUnixUs, kUnixNs };

struct Format {
  FormatKind kind = FormatKind::kLayout;
  std::string layout;
  bool without_year = false;
  bool use_location = false;
  bool rfc3339 = false;  // RFC3339 / RFC3339Nano: try the fast parser first
};

Format MakeFormat(const std::string& name) {
  static const std::pair<std::string_view, std::string_view> kNamed[] = {
      {"ANSIC", "Mon Jan _2 15:04:05 2006"},
      {"UnixDate", "Mon Jan _2 15:04:05 MST 2006"},
      {"RubyDate", "Mon Jan 02 15:04:05 -0700 2006"},
      {"RFC822", "02 Jan 06 15:04 MST"},
      {"RFC822Z", "02 Jan 06 15:04 -0700"},
      {"RFC850", "Monday, 02-Jan-06 15:04:05 MST"},
      {"RFC1123", "Mon, 02 Jan 2006 15:04:05 MST"},
      {"RFC1123Z", "Mon, 02 Jan 2006 15:04:05 -0700"},
      {"RFC3339", "2006-01-02T15:04:05Z07:00"},
      {"RFC3339Nano", "2006-01-02T15:04:05.999999999Z07:00"},
  };
  Format f;
  for (const auto& [n, layout] : kNamed) {
    if (name == n) {
      f.layout = std::string(layout);
      f.rfc3339 = n == "RFC3339" || n == "RFC3339Nano";
      return f;  // Promtail parses the named layouts with time.Parse (no location)
    }
  }
  if (name == "Unix") f.kind = FormatKind::kUnix;
  else if (name == "UnixMs") f.kind = FormatKind::kUnixMs;
  else if (name == "UnixUs") f.kind = FormatKind::kUnixUs;
  else if (name == "UnixNs") f.kind = FormatKind::kUnixNs;
  if (f.kind != FormatKind::kLayout) return f;
  f.layout = name;
  f.use_location = true;
  f.without_year = name.find("06") == std::string::npos;  // covers "2006" too
  return f;
}

bool ParseInt64(std::string_view s, int64_t* out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

class TimestampStage final : public Stage {
 public:
  enum class OnFailure { kFudge, kSkip };

  TimestampStage(std::string source, std::vector<Format> formats,
                 std::shared_ptr<const Zone> zone, OnFailure on_failure, const Clock* clock)
      : source_(std::move(source)),
        formats_(std::move(formats)),
        zone_(std::move(zone)),
        on_failure_(on_failure),
        clock_(clock) {}

  Outcome Process(Item& item, Downstream&) override {
    const ExtractedValue* v = item.extracted.Find(source_);
    int64_t ts = 0;
    bool ok = v != nullptr && v->kind != ExtractedValue::Kind::kNil;
    if (ok) {
      ok = false;
      for (const Format& f : formats_) {
        if (ParseOne(f, v->text, &ts)) {
          ok = true;
          break;
        }
      }
    }
    if (ok) {
      item.entry.timestamp_ns = ts;
      if (on_failure_ == OnFailure::kFudge) Remember(item.entry.labels, ts);
      return Outcome::kPass;
    }
    if (on_failure_ == OnFailure::kFudge) {
      uint64_t key = LabelsKey(item.entry.labels);
      auto it = last_known_.find(key);
      if (it != last_known_.end()) {
        item.entry.timestamp_ns = ++it->second;
      }
    }
    return Outcome::kPass;
  }

 private:
  static uint64_t LabelsKey(const std::map<std::string, std::string, std::less<>>& labels) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over name\xffvalue\xff...
    auto mix = [&h](std::string_view s) {
      for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
      h = (h ^ 0xff) * 1099511628211ull;
    };
    for (const auto& [k, v] : labels) {
      mix(k);
      mix(v);
    }
    return h;
  }

  void Remember(const std::map<std::string, std::string, std::less<>>& labels, int64_t ts) {
    // Promtail keeps the last 10000 label sets in an LRU; a full map is simply reset here.
    if (last_known_.size() >= 10000) last_known_.clear();
    last_known_[LabelsKey(labels)] = ts;
  }

  bool ParseOne(const Format& f, const std::string& s, int64_t* out) const {
    int64_t i = 0;
    switch (f.kind) {
      case FormatKind::kUnix: {
        size_t dot = s.find('.');
        if (dot != std::string::npos && s.find('.', dot + 1) == std::string::npos) {
          int64_t sec = 0, frac = 0;
          std::string_view fs = std::string_view(s).substr(dot + 1);
          if (!ParseInt64(std::string_view(s).substr(0, dot), &sec) || !ParseInt64(fs, &frac)) return false;
          double nsec = static_cast<double>(frac) * std::pow(10.0, 9.0 - static_cast<double>(fs.size()));
          *out = sec * kNanosPerSecond + static_cast<int64_t>(nsec);
          return true;
        }
        if (!ParseInt64(s, &i)) return false;
        *out = i * kNanosPerSecond;
        return true;
      }
      case FormatKind::kUnixMs:
        if (!ParseInt64(s, &i)) return false;
        *out = i * kNanosPerMilli;
        return true;
      case FormatKind::kUnixUs:
        if (!ParseInt64(s, &i)) return false;
        *out = i * 1000;
        return true;
      case FormatKind::kUnixNs:
        if (!ParseInt64(s, &i)) return false;
        *out = i;
        return true;
      case FormatKind::kLayout:
        break;
    }
    if (f.rfc3339) {
      auto r = ParseRFC3339(s);
      if (r.ok()) {
        *out = *r;
        return true;
      }
    }
    tmpl::Value v;
    std::string err;
    if (!tmpl::ParseTime(f.layout, s, "UTC", 0, &v, &err)) return false;
    int64_t sec = v.i;
    int32_t offset = v.offset;
    if (f.use_location && zone_) {
      // No zone in the value: the wall clock is in `location` (Go's ParseInLocation). Detect
      // an explicit zone by parsing again with another default offset.
      tmpl::Value v2;
      if (tmpl::ParseTime(f.layout, s, "X", 3600, &v2, &err) && v2.i != v.i) {
        sec = zone_->FromLocal(v.i);
        offset = zone_->OffsetAt(sec);
      }
    }
    if (f.without_year) {
      tmpl::CivilTime c = tmpl::TimeCivil(tmpl::MakeTime(sec, 0, offset, ""));
      if (c.year != 0) return false;  // "timestamp is expected to not contain the year"
      tmpl::CivilTime now = tmpl::TimeCivil(tmpl::TimeFromUnixNanos(clock_->NowNanos()));
      int64_t year = now.year;
      if (c.month == 12 && now.month == 1) year -= 1;
      else if (c.month == 1 && now.month == 12) year += 1;
      sec = AddYears(sec, offset, year);
    }
    *out = sec * kNanosPerSecond + v.nsec;
    return true;
  }

  std::string source_;
  std::vector<Format> formats_;
  std::shared_ptr<const Zone> zone_;  // null: no location
  OnFailure on_failure_;
  const Clock* clock_;
  std::unordered_map<uint64_t, int64_t> last_known_;
};

}  // namespace

Result<std::unique_ptr<Stage>> MakeTimestampStage(const YAML::Node& node, const std::string&,
                                                  BuildContext* ctx) {
  if (!node || node.IsNull()) return InvalidArgument("timestamp stage config cannot be empty");
  RETURN_IF_ERROR(CheckKeys(node, {"source", "format", "fallback_formats", "location", "action_on_failure"}));
  ASSIGN_OR_RETURN(auto source, OptString(node, "source"));
  if (!source || source->empty()) {
    return InvalidArgument("source: timestamp source value is required if timestamp is specified");
  }
  ASSIGN_OR_RETURN(auto format, OptString(node, "format"));
  if (!format || format->empty()) return InvalidArgument("format: timestamp format is required");
  std::vector<Format> formats{MakeFormat(*format)};
  if (YAML::Node fb = node["fallback_formats"]; fb && !fb.IsNull()) {
    if (!fb.IsSequence()) return InvalidArgument("fallback_formats: expected a list of formats");
    for (const auto& f : fb) {
      if (!f.IsScalar() || f.Scalar().empty()) return InvalidArgument("fallback_formats: expected a list of formats");
      formats.push_back(MakeFormat(f.Scalar()));
    }
  }
  std::shared_ptr<const Zone> zone;
  ASSIGN_OR_RETURN(auto location, OptString(node, "location"));
  if (location) {
    auto z = Zone::Load(*location);
    if (!z.ok()) return z.status().WithPrefix("location");
    zone = std::move(z).value();
  }
  ASSIGN_OR_RETURN(auto action, OptString(node, "action_on_failure"));
  TimestampStage::OnFailure on_failure = TimestampStage::OnFailure::kFudge;
  if (action && !action->empty()) {
    if (*action == "skip") on_failure = TimestampStage::OnFailure::kSkip;
    else if (*action != "fudge") {
      return InvalidArgument(fmt::format(
          "action_on_failure: invalid action on failure {:?} (supported values are fudge, skip)", *action));
    }
  }
  ctx->reads_extracted = true;
  return std::unique_ptr<Stage>(
      new TimestampStage(std::move(*source), std::move(formats), std::move(zone), on_failure, ctx->clock));
}

}  // namespace logq::shipper::stages
