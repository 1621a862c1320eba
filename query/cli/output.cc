#include "query/cli/output.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>

namespace logq::cli {
namespace {

// ANSI colors for label prefixes, picked by the label set's hash (stable across runs).
constexpr const char* kPalette[] = {"\x1b[34m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[36m", "\x1b[31m",
                                    "\x1b[94m", "\x1b[93m", "\x1b[92m", "\x1b[95m", "\x1b[96m", "\x1b[91m"};
constexpr const char* kReset = "\x1b[0m";

bool Listed(const std::vector<std::string>& names, const std::string& n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

}  // namespace

bool UseColor(const Options& o, bool tty, const char* no_color) {
  if (o.color == "always") return true;
  if (o.color == "never") return false;
  return tty && (no_color == nullptr || *no_color == '\0');
}

std::string FormatTime(int64_t ts, bool utc, bool nanos) {
  int64_t secs = ts / 1'000'000'000;
  int64_t frac = ts % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  if (utc) gmtime_r(&t, &tm);
  else localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (nanos && frac != 0) {
    char f[16];
    std::snprintf(f, sizeof(f), ".%09lld", static_cast<long long>(frac));
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  long off = utc ? 0 : tm.tm_gmtoff;
  if (off == 0) {
    out += 'Z';
  } else {
    char z[32];
    const int a = static_cast<int>(std::labs(off) % 86400);
    std::snprintf(z, sizeof(z), "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, (a % 3600) / 60);
    out += z;
  }
  return out;
}

Printer::Printer(const Options& options, std::FILE* out, bool color) : options_(options), out_(out), color_(color) {}

std::string Printer::ShownLabels(const Labels& labels) const {
  Labels shown;
  for (const Label& l : labels) {
    if (!options_.include_labels.empty() && !Listed(options_.include_labels, l.name)) continue;
    if (Listed(options_.exclude_labels, l.name)) continue;
    if (options_.include_labels.empty()) {
      const std::string* c = common_.Get(l.name);
      if (c != nullptr && *c == l.value) continue;
    }
    shown.Add(l.name, l.value);
  }
  return shown.ToString();
}

void Printer::ReserveWidth(const Labels& labels) { width_ = std::max(width_, ShownLabels(labels).size()); }

void Printer::Print(const Labels& labels, int64_t ts, std::string_view line) {
  switch (options_.output) {
    case OutputMode::kRaw: {
      std::fwrite(line.data(), 1, line.size(), out_);
      std::fputc('\n', out_);
      return;
    }
    case OutputMode::kJsonl: {
      nlohmann::ordered_json j;
      nlohmann::ordered_json l = nlohmann::ordered_json::object();
      for (const Label& x : labels) {
        if (!options_.include_labels.empty() && !Listed(options_.include_labels, x.name)) continue;
        if (Listed(options_.exclude_labels, x.name)) continue;
        l[x.name] = x.value;
      }
      j["labels"] = l;
      j["line"] = std::string(line);
      j["timestamp"] = FormatTime(ts, options_.utc, true);
      std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      std::fwrite(s.data(), 1, s.size(), out_);
      std::fputc('\n', out_);
      return;
    }
    case OutputMode::kDefault:
    case OutputMode::kTable:  // a table is for metric results; log lines print as default
      break;
  }
  std::string out = FormatTime(ts, options_.utc, false);
  out += ' ';
  if (!options_.no_labels) {
    std::string shown = ShownLabels(labels);
    width_ = std::max(width_, shown.size());
    std::string pad(width_ - shown.size(), ' ');
    if (color_) {
      const uint64_t h = std::hash<std::string>()(shown);
      out += kPalette[h % (sizeof(kPalette) / sizeof(kPalette[0]))];
      out += shown;
      out += kReset;
    } else {
      out += shown;
    }
    out += pad;
    out += ' ';
  }
  out.append(line.data(), line.size());
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), out_);
}

}  // namespace logq::cli
