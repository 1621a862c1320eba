// Parsing stages: json, logfmt, regex. They read the line (or an extracted value named by
// `source`) and write the extracted map.
#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <re2/re2.h>

#include "query/pipeline/json_scan.h"
#include "query/pipeline/line_filter.h"
#include "query/pipeline/logfmt_decoder.h"
#include "shipper/stages/stage.h"

namespace logq::shipper::stages {
namespace {

namespace pj = ::logq::pipeline::json;

// Resolves the input of a parsing stage: the line, or the extracted value `source` copied
// into `scratch` (the stage then writes into the map the view came from). Returns false when
// the source is absent (the stage does nothing, as in Promtail).
bool StageInput(const std::optional<std::string>& source, Item& item, std::string* scratch,
                std::string_view* input) {
  if (!source) {
    *input = item.entry.line;
    return true;
  }
  const ExtractedValue* v = item.extracted.Find(*source);
  if (!Convertible(v)) return false;
  scratch->assign(v->text);
  *input = *scratch;
  return true;
}

Status CheckSource(const std::optional<std::string>& source) {
  if (source && source->empty()) return InvalidArgument("source: empty source");
  return Status::OK();
}

// ---- JMESPath subset -----------------------------------------------------------------

// Parses the JMESPath subset Promtail users write: identifiers `a.b_c`, quoted identifiers
// `"app.kubernetes.io/name"`, and non-negative array indexes `a[0].b`, `[1]`.
Status ParseJmesPath(std::string_view expr, std::vector<pj::PathElement>* out) {
  auto err = [&](size_t pos, std::string_view what) {
    return InvalidArgument(fmt::format(
        "unsupported JMESPath expression {:?} at offset {}: {} (supported: identifiers, "
        "\"quoted identifiers\", [index] joined by '.')",
        std::string(expr), pos, what));
  };
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < expr.size() && (expr[i] == ' ' || expr[i] == '\t')) ++i;
  };
  bool need_name = true;  // at the start or after '.'
  bool first = true;
  skip_ws();
  if (i == expr.size()) return err(0, "empty expression");
  while (i < expr.size()) {
    skip_ws();
    if (i == expr.size()) break;
    char c = expr[i];
    if (c == '[') {
      if (need_name && !first) return err(i, "expected an identifier after '.'");
      size_t j = i + 1;
      while (j < expr.size() && expr[j] == ' ') ++j;
      size_t start = j;
      while (j < expr.size() && expr[j] >= '0' && expr[j] <= '9') ++j;
      if (j == start) return err(i, "only non-negative integer indexes are supported in [...]");
      size_t end = j;
      while (j < expr.size() && expr[j] == ' ') ++j;
      if (j >= expr.size() || expr[j] != ']') return err(j, "expected ']'");
      int idx = 0;
      auto r = std::from_chars(expr.data() + start, expr.data() + end, idx);
      if (r.ec != std::errc()) return err(start, "index out of range");
      pj::PathElement e;
      e.is_index = true;
      e.index = idx;
      out->push_back(std::move(e));
      i = j + 1;
      need_name = false;
      first = false;
      continue;
    }
    if (c == '.') {
      if (need_name) return err(i, "unexpected '.'");
      need_name = true;
      ++i;
      continue;
    }
    if (!need_name) return err(i, fmt::format("unexpected {:?}", std::string(1, c)));
    pj::PathElement e;
    if (c == '"') {
      size_t j = i + 1;
      bool escaped = false;
      while (j < expr.size() && expr[j] != '"') {
        if (expr[j] == '\\') {
          escaped = true;
          ++j;
        }
        ++j;
      }
      if (j >= expr.size()) return err(i, "unterminated quoted identifier");
      std::string_view raw = expr.substr(i + 1, j - i - 1);
      if (escaped) {
        if (!pj::Unescape(raw, &e.key)) return err(i, "invalid escape in quoted identifier");
      } else {
        e.key.assign(raw);
      }
      i = j + 1;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
      size_t j = i;
      while (j < expr.size() && ((expr[j] >= 'a' && expr[j] <= 'z') ||
                                 (expr[j] >= 'A' && expr[j] <= 'Z') || expr[j] == '_' ||
                                 (expr[j] >= '0' && expr[j] <= '9'))) {
        ++j;
      }
      e.key.assign(expr.substr(i, j - i));
      i = j;
    } else {
      return err(i, fmt::format("unexpected {:?}", std::string(1, c)));
    }
    out->push_back(std::move(e));
    need_name = false;
    first = false;
  }
  if (need_name) return err(expr.size(), "expression ends after '.'");
  return Status::OK();
}

// Go's json.Marshal of a decoded object/array (keys sorted, HTML characters and U+2028/9
// escaped). Numbers keep their JSON spelling where Go would print a float64 differently
// (e.g. 1e2 stays 100.0 here, Go prints 100); see docs/shipper-pipeline.md.
bool MarshalCompact(std::string_view raw, std::string* out) {
  auto j = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return false;
  std::string dumped = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out->clear();
  out->reserve(dumped.size());
  for (size_t i = 0; i < dumped.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(dumped[i]);
    if (c == '<') {
      *out += "\\u003c";
    } else if (c == '>') {
      *out += "\\u003e";
    } else if (c == '&') {
      *out += "\\u0026";
    } else if (c == 0xE2 && i + 2 < dumped.size() && static_cast<unsigned char>(dumped[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(dumped[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(dumped[i + 2]) == 0xA9)) {
      *out += static_cast<unsigned char>(dumped[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  return true;
}

// Strict JSON validation (RFC 8259, what Go's json.Unmarshal accepts; invalid UTF-8 is
// tolerated as Go replaces it) without building a document. `p` advances past the value.
class JsonValidator {
 public:
  explicit JsonValidator(std::string_view s) : s_(s) {}
  // True if `s` is exactly one JSON object with optional surrounding whitespace.
  bool ValidObject() {
    Ws();
    if (i_ >= s_.size() || s_[i_] != '{') return false;
    if (!Value(0)) return false;
    Ws();
    return i_ == s_.size();
  }

 private:
  static constexpr int kMaxDepth = 1000;  // deeper documents count as malformed
  void Ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool Lit(std::string_view w) {
    if (s_.compare(i_, w.size(), w) != 0) return false;
    i_ += w.size();
    return true;
  }
  static bool Hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }
  bool String() {
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        char e = s_[i_];
        if (e == 'u') {
          if (i_ + 4 >= s_.size() || !Hex(s_[i_ + 1]) || !Hex(s_[i_ + 2]) || !Hex(s_[i_ + 3]) || !Hex(s_[i_ + 4])) {
            return false;
          }
          i_ += 5;
          continue;
        }
        if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') {
          return false;
        }
        ++i_;
        continue;
      }
      ++i_;
    }
    return false;
  }
  bool Digits() {
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }
  bool Number() {
    if (s_[i_] == '-') ++i_;
    if (i_ >= s_.size()) return false;
    if (s_[i_] == '0') {
      ++i_;
    } else if (!Digits()) {
      return false;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!Digits()) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!Digits()) return false;
    }
    return true;
  }
  bool Value(int depth) {
    if (depth > kMaxDepth) return false;
    Ws();
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{': {
        ++i_;
        Ws();
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
          return true;
        }
        for (;;) {
          Ws();
          if (i_ >= s_.size() || s_[i_] != '"' || !String()) return false;
          Ws();
          if (i_ >= s_.size() || s_[i_] != ':') return false;
          ++i_;
          if (!Value(depth + 1)) return false;
          Ws();
          if (i_ >= s_.size()) return false;
          if (s_[i_] == '}') {
            ++i_;
            return true;
          }
          if (s_[i_] != ',') return false;
          ++i_;
        }
      }
      case '[': {
        ++i_;
        Ws();
        if (i_ < s_.size() && s_[i_] == ']') {
          ++i_;
          return true;
        }
        for (;;) {
          if (!Value(depth + 1)) return false;
          Ws();
          if (i_ >= s_.size()) return false;
          if (s_[i_] == ']') {
            ++i_;
            return true;
          }
          if (s_[i_] != ',') return false;
          ++i_;
        }
      }
      case '"':
        return String();
      case 't':
        return Lit("true");
      case 'f':
        return Lit("false");
      case 'n':
        return Lit("null");
      default:
        if (s_[i_] == '-' || (s_[i_] >= '0' && s_[i_] <= '9')) return Number();
        return false;
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

class JsonStage final : public Stage {
 public:
  JsonStage(std::vector<std::string> names, std::vector<std::vector<pj::PathElement>> paths,
            std::optional<std::string> source, bool drop_malformed)
      : names_(std::move(names)),
        lookup_(std::move(paths)),
        source_(std::move(source)),
        drop_malformed_(drop_malformed),
        found_(names_.size()) {}

  Outcome Process(Item& item, Downstream& next) override {
    std::string_view input;
    if (!StageInput(source_, item, &input_copy_, &input)) return Outcome::kPass;
    // Promtail unmarshals into map[string]interface{}: the input must be one JSON object.
    if (!JsonValidator(input).ValidObject()) {
      if (drop_malformed_) {
        next.Drop(std::move(item), "malformed_json");
        return Outcome::kDone;
      }
      return Outcome::kPass;
    }
    std::fill(found_.begin(), found_.end(), 0);
    Sink sink(this, &item.extracted);
    lookup_.Run(input, &sink);
    for (size_t i = 0; i < names_.size(); ++i) {
      if (found_[i]) continue;
      ExtractedValue& v = item.extracted.Slot(names_[i]);  // JMESPath: a missing path is nil
      v.kind = ExtractedValue::Kind::kNil;
      v.text.clear();
    }
    return Outcome::kPass;
  }

 private:
  class Sink final : public pj::PathSink {
   public:
    Sink(JsonStage* stage, Extracted* extracted) : stage_(stage), extracted_(extracted) {}
    void OnPath(size_t path, std::string_view value, pj::Type type, pj::Error error) override {
      if (error != pj::Error::kNone) return;
      stage_->found_[path] = 1;
      ExtractedValue& v = extracted_->Slot(stage_->names_[path]);
      switch (type) {
        case pj::Type::kString:
          v.kind = ExtractedValue::Kind::kString;
          if (!pj::Unescape(value, &v.text)) v.text.assign(value);
          break;
        case pj::Type::kNumber: {
          double d = 0;
          auto r = std::from_chars(value.data(), value.data() + value.size(), d);
          v.kind = ExtractedValue::Kind::kNumber;
          v.number = d;
          if (r.ec == std::errc()) {
            FormatFloatF(d, &v.text);
          } else {
            v.text.assign(value);
          }
          break;
        }
        case pj::Type::kBoolean:
          v.kind = ExtractedValue::Kind::kBool;
          v.text.assign(value);
          break;
        case pj::Type::kNull:
          v.kind = ExtractedValue::Kind::kNil;
          v.text.clear();
          break;
        case pj::Type::kObject:
        case pj::Type::kArray:
          v.kind = ExtractedValue::Kind::kString;
          if (!MarshalCompact(value, &v.text)) v.text.assign(value);
          break;
        default:
          v.kind = ExtractedValue::Kind::kNil;
          v.text.clear();
          break;
      }
    }

   private:
    JsonStage* stage_;
    Extracted* extracted_;
  };

  std::vector<std::string> names_;
  pj::PathLookup lookup_;
  std::optional<std::string> source_;
  bool drop_malformed_;
  std::vector<char> found_;
  std::string input_copy_;
};

// ---- logfmt --------------------------------------------------------------------------

class LogfmtStage final : public Stage {
 public:
  LogfmtStage(std::vector<std::pair<std::string, std::string>> mapping,
              std::optional<std::string> source)
      : mapping_(std::move(mapping)), source_(std::move(source)) {}

  Outcome Process(Item& item, Downstream&) override {
    std::string_view input;
    if (!StageInput(source_, item, &input_copy_, &input)) return Outcome::kPass;
    // go-logfmt stops at the first syntax error; pairs before it are kept.
    dec_.Reset(input);
    while (dec_.ScanKeyval()) {
      std::string_view key = dec_.key();
      for (const auto& [name, src] : mapping_) {
        if (src == key) item.extracted.SetString(name, dec_.value());
      }
    }
    return Outcome::kPass;
  }

 private:
  std::vector<std::pair<std::string, std::string>> mapping_;  // extracted name, logfmt key
  std::optional<std::string> source_;
  pipeline::LogfmtDecoder dec_;
  std::string input_copy_;
};

// ---- regex ---------------------------------------------------------------------------

class RegexStage final : public Stage {
 public:
  RegexStage(std::unique_ptr<RE2> re, std::optional<std::string> source)
      : re_(std::move(re)), source_(std::move(source)) {
    for (const auto& [name, idx] : re_->NamedCapturingGroups()) named_.emplace_back(idx, name);
    std::sort(named_.begin(), named_.end());
    groups_.resize(re_->NumberOfCapturingGroups() + 1);
  }

  Outcome Process(Item& item, Downstream&) override {
    std::string_view input;
    if (!StageInput(source_, item, &input_copy_, &input)) return Outcome::kPass;
    if (!re_->Match(input, 0, input.size(), RE2::UNANCHORED, groups_.data(),
                    static_cast<int>(groups_.size()))) {
      return Outcome::kPass;
    }
    for (const auto& [idx, name] : named_) {
      const re2::StringPiece& g = groups_[idx];
      item.extracted.SetString(name, std::string_view(g.data() ? g.data() : "", g.size()));
    }
    return Outcome::kPass;
  }

 private:
  std::unique_ptr<RE2> re_;
  std::optional<std::string> source_;
  std::vector<std::pair<int, std::string>> named_;
  std::vector<re2::StringPiece> groups_;
  std::string input_copy_;
};

}  // namespace

Result<std::unique_ptr<RE2>> CompileGoRegex(const std::string& pattern, std::string_view key) {
  RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_unique<RE2>(pipeline::ToRe2Syntax(pattern), opts);
  if (!re->ok()) {
    return InvalidArgument(fmt::format("{}: invalid regular expression {:?}: {}", key, pattern, re->error()));
  }
  return re;
}

Result<std::unique_ptr<Stage>> MakeJsonStage(const YAML::Node& node, const std::string&,
                                             BuildContext* ctx) {
  RETURN_IF_ERROR(CheckKeys(node, {"expressions", "source", "drop_malformed"}));
  if (!node || node.IsNull()) return InvalidArgument("empty json stage configuration");
  ASSIGN_OR_RETURN(auto source, OptString(node, "source"));
  RETURN_IF_ERROR(CheckSource(source));
  bool drop_malformed = false;
  if (YAML::Node d = node["drop_malformed"]; d && !d.IsNull()) {
    if (!YAML::convert<bool>::decode(d, drop_malformed)) {
      return InvalidArgument("drop_malformed: expected true or false");
    }
  }
  YAML::Node exprs = node["expressions"];
  if (!exprs || !exprs.IsMap() || exprs.size() == 0) {
    return InvalidArgument("expressions: JMES expression is required");
  }
  ASSIGN_OR_RETURN(auto pairs, NameSourceMap(exprs));
  std::vector<std::string> names;
  std::vector<std::vector<pj::PathElement>> paths;
  for (auto& [name, expr] : pairs) {
    std::vector<pj::PathElement> path;
    Status st = ParseJmesPath(expr, &path);
    if (!st.ok()) return st.WithPrefix("expressions." + name);
    names.push_back(name);
    paths.push_back(std::move(path));
  }
  if (source) ctx->reads_extracted = true;
  return std::unique_ptr<Stage>(
      new JsonStage(std::move(names), std::move(paths), std::move(source), drop_malformed));
}

Result<std::unique_ptr<Stage>> MakeLogfmtStage(const YAML::Node& node, const std::string&,
                                               BuildContext* ctx) {
  RETURN_IF_ERROR(CheckKeys(node, {"mapping", "source"}));
  ASSIGN_OR_RETURN(auto source, OptString(node, "source"));
  RETURN_IF_ERROR(CheckSource(source));
  YAML::Node mapping = node ? node["mapping"] : YAML::Node();
  if (!mapping || !mapping.IsMap() || mapping.size() == 0) {
    return InvalidArgument("mapping: logfmt mapping is required");
  }
  ASSIGN_OR_RETURN(auto pairs, NameSourceMap(mapping));
  if (source) ctx->reads_extracted = true;
  return std::unique_ptr<Stage>(new LogfmtStage(std::move(pairs), std::move(source)));
}

Result<std::unique_ptr<Stage>> MakeRegexStage(const YAML::Node& node, const std::string&,
                                              BuildContext* ctx) {
  RETURN_IF_ERROR(CheckKeys(node, {"expression", "source"}));
  ASSIGN_OR_RETURN(auto source, OptString(node, "source"));
  RETURN_IF_ERROR(CheckSource(source));
  ASSIGN_OR_RETURN(auto expr, OptString(node, "expression"));
  if (!expr || expr->empty()) return InvalidArgument("expression: expression is required");
  ASSIGN_OR_RETURN(auto re, CompileGoRegex(*expr, "expression"));
  if (source) ctx->reads_extracted = true;
  return std::unique_ptr<Stage>(new RegexStage(std::move(re), std::move(source)));
}

}  // namespace logq::shipper::stages
