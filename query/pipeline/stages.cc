#include "query/pipeline/stages.h"

#include <re2/re2.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <set>
#include <unordered_map>

#include "query/pipeline/json_scan.h"
#include "query/pipeline/line_filter.h"
#include "query/pipeline/logfmt_decoder.h"
#include "query/pipeline/pattern.h"
#include "query/pipeline/pipeline.h"
#include "query/pipeline/template.h"
#include "query/pipeline/text_util.h"

namespace logq::pipeline {
namespace {

constexpr std::string_view kJsonParserErr = "JSONParserErr";
constexpr std::string_view kLogfmtParserErr = "LogfmtParserErr";
constexpr std::string_view kTemplateFormatErr = "TemplateFormatErr";
constexpr std::string_view kPreserveErrorLabel = "__preserve_error__";
constexpr size_t kMaxInternedNames = 1024;  // Loki's MaxInternedStrings

// ---- helpers shared by the parsers --------------------------------------------------------

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
struct StringViewEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

// A label name chosen by a parser for a key, with its `_extracted` variant.
struct ParsedName {
  std::string name;
  std::string extracted;
  bool stream_clash = false;  // clashes with a stream label (fixed per stream)
  bool valid = true;          // false: the key yields no label
  bool cached = false;        // lives in the cache (stable address)
  size_t hash = 0;
  size_t extracted_hash = 0;
};

// Interns key → ParsedName per stream, like Loki's internedStringSet (capped).
class NameCache {
 public:
  // `make` fills the name (and may set valid = false).
  template <typename F>
  const ParsedName& Get(std::string_view key, const LabelsBuilder& lbs, F&& make) {
    auto it = map_.find(key);
    if (it != map_.end()) return it->second;
    ParsedName* e = &overflow_;
    const bool cached = map_.size() < kMaxInternedNames;
    if (cached) e = &map_.emplace(std::string(key), ParsedName{}).first->second;
    *e = ParsedName{};
    e->cached = cached;
    make(e);
    Finish(e, lbs);
    return *e;
  }
  static void Finish(ParsedName* e, const LabelsBuilder& lbs) {
    e->extracted = e->name;
    e->extracted += kDuplicateSuffix;
    e->stream_clash = lbs.BaseHas(e->name);
    e->hash = std::hash<std::string_view>{}(e->name);
    e->extracted_hash = std::hash<std::string_view>{}(e->extracted);
  }

 private:
  std::unordered_map<std::string, ParsedName, StringViewHash, StringViewEq> map_;
  ParsedName overflow_;
};

// Picks `name` or `name_extracted` for the current line (structured metadata varies per line).
inline const std::string& FinalName(const ParsedName& e, const LabelsBuilder& lbs, size_t* hash) {
  if (e.stream_clash || lbs.StructuredMetadataHas(e.name)) {
    *hash = e.extracted_hash;
    return e.extracted;
  }
  *hash = e.hash;
  return e.name;
}

// Names a parser has set on the current line: Loki (≥ 3.5) keeps the first value of a key
// that occurs twice in one line. Open addressing, cleared by bumping a generation.
class SeenNames {
 public:
  void NewLine() {
    if (++gen_ == 0) {
      for (Slot& s : table_) s.gen = 0;
      gen_ = 1;
    }
    count_ = 0;
    arena_used_ = 0;
  }
  // True if `name` was already seen on this line; records it otherwise. `name` must stay
  // valid for the line (interned names do); use Keep() for transient names.
  bool TestAndSet(std::string_view name, size_t hash) {
    if (table_.empty()) table_.resize(64);
    if ((count_ + 1) * 2 > table_.size()) Grow();
    size_t mask = table_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& s = table_[i];
      if (s.gen != gen_) {
        s = Slot{gen_, hash, name};
        ++count_;
        return false;
      }
      if (s.hash == hash && s.name == name) return true;
    }
  }
  std::string_view Keep(std::string_view name) {
    if (arena_used_ == arena_.size()) arena_.emplace_back();
    std::string& s = arena_[arena_used_++];
    s.assign(name);
    return s;
  }

 private:
  struct Slot {
    uint32_t gen = 0;
    size_t hash = 0;
    std::string_view name;
  };
  void Grow() {
    std::vector<Slot> old;
    old.swap(table_);
    table_.resize(old.size() * 2);
    const size_t mask = table_.size() - 1;
    for (const Slot& s : old) {
      if (s.gen != gen_) continue;
      for (size_t i = s.hash & mask;; i = (i + 1) & mask) {
        if (table_[i].gen != gen_) {
          table_[i] = s;
          break;
        }
      }
    }
  }
  std::vector<Slot> table_;
  uint32_t gen_ = 0;
  size_t count_ = 0;
  std::deque<std::string> arena_;
  size_t arena_used_ = 0;
};

// Sets a parsed label unless the same parser invocation already set it on this line.
inline void SetParsedFirstWins(LabelsBuilder* lbs, SeenNames* seen, const std::string& name, size_t hash,
                               std::string_view value) {
  if (seen->TestAndSet(name, hash)) return;
  lbs->Set(LabelCategory::kParsed, name, value);
}

// Label checks a parser may apply while parsing (see NecessaryConditions).
using EarlyChecks = std::vector<LabelCondition>;

// False when `name` has a check that rejects `value`.
inline bool PassesEarlyChecks(const EarlyChecks& checks, std::string_view name, std::string_view value) {
  for (const LabelCondition& c : checks) {
    if (c.name() == name && c.Rejects(value)) return false;
  }
  return true;
}

// A parser stage that accepts early checks from the label filter right after it.
class EarlyCheckable {
 public:
  virtual ~EarlyCheckable() = default;
  virtual void SetEarlyChecks(EarlyChecks checks) = 0;
};

// Remembers, per member position in a line, the key seen at that position and its interned
// name: lines of one stream tend to repeat their keys in the same order, so the next line can
// skip hashing when the key at a position is the same.
struct PredictedKey {
  std::string key;
  int parent = -2;  // position of the enclosing object member (-1: top level)
  const ParsedName* name = nullptr;
};

// ---- line filters ---------------------------------------------------------------------------

class LineFilterStagePlan final : public Stage {
 public:
  explicit LineFilterStagePlan(std::vector<std::unique_ptr<LineFilter>> f) : filters_(std::move(f)) {}
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder&) const override {
    return std::make_unique<Run>(this);
  }

 private:
  struct Run final : StreamStage {
    explicit Run(const LineFilterStagePlan* p) : p(p) {}
    bool Process(int64_t, std::string_view* line, LabelsBuilder*) override {
      for (const auto& f : p->filters_) {
        if (!f->Matches(*line)) return false;
      }
      return true;
    }
    const LineFilterStagePlan* p;
  };
  std::vector<std::unique_ptr<LineFilter>> filters_;
};

// ---- label filters ----------------------------------------------------------------------------

class LabelFilterStagePlan final : public Stage {
 public:
  explicit LabelFilterStagePlan(std::vector<std::unique_ptr<LabelPredicate>> p) : preds_(std::move(p)) {}
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder&) const override {
    return std::make_unique<Run>(this);
  }

 private:
  struct Run final : StreamStage {
    explicit Run(const LabelFilterStagePlan* p) : p(p) {}
    bool Process(int64_t, std::string_view*, LabelsBuilder* lbs) override {
      // Several predicates (unwrap post-filters) combine with Loki's `and`: all are evaluated.
      bool ok = true;
      for (const auto& pr : p->preds_) ok = pr->Eval(lbs) && ok;
      return ok;
    }
    const LabelFilterStagePlan* p;
  };
  std::vector<std::unique_ptr<LabelPredicate>> preds_;
};

// ---- json -------------------------------------------------------------------------------------

// The __error_details__ of a line whose objects nest deeper than `max_depth`.
std::string JsonTooDeepDetails(int max_depth) {
  return "Value is nested too deeply: more than " + std::to_string(max_depth) +
         " levels of objects (limits_config.max_json_depth)";
}

class JsonParserPlan final : public Stage, public EarlyCheckable {
 public:
  JsonParserPlan() : max_depth_(GetPipelineLimits().max_json_depth) {}
  void SetEarlyChecks(EarlyChecks checks) override { checks_ = std::move(checks); }
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder&) const override { return std::make_unique<Run>(this); }

 private:
  struct Run final : StreamStage {
    explicit Run(const JsonParserPlan* p) : p(p) {}
    struct Cb {
      Run* self;
      json::Error operator()(std::string_view key, std::string_view value, json::Type type) const {
        return self->OnMember(key, value, type);
      }
    };

    bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
      lbs_ = lbs;
      prefix_.clear();
      seen_.NewLine();
      ordinal_ = 0;
      parent_ = -1;
      chain_ok_ = true;
      rejected_ = false;
      depth_ = 1;
      const json::Error e = json::ForEachMember(*line, Cb{this}, &key_scratch_);
      if (rejected_) return false;
      if (e == json::Error::kTooDeep) {
        lbs->SetErr(kJsonParserErr);
        lbs->SetErrDetails(JsonTooDeepDetails(p->max_depth_));
      } else if (e != json::Error::kNone && e != json::Error::kStop) {
        lbs->SetErr(kJsonParserErr);
        lbs->SetErrDetails(json::ErrorText(e));
      }
      return true;
    }

    json::Error OnMember(std::string_view key, std::string_view value, json::Type type) {
      const int k = ordinal_++;
      if (static_cast<size_t>(k) >= pred_.size()) pred_.resize(static_cast<size_t>(k) + 1);
      PredictedKey& pr = pred_[static_cast<size_t>(k)];
      const bool hit = chain_ok_ && pr.parent == parent_ && pr.key == key;
      if (!hit) {
        pr.key.assign(key);
        pr.parent = parent_;
        pr.name = nullptr;
      }
      switch (type) {
        case json::Type::kString:
        case json::Type::kNumber:
        case json::Type::kBoolean: {
          const ParsedName* e = hit ? pr.name : nullptr;
          if (e == nullptr) {
            e = &Lookup(key);
            if (e->cached) pr.name = e;
          }
          return SetValue(*e, value, type);
        }
        case json::Type::kObject: {
          // Bounds the recursion below and the rescans of nested objects (each level
          // rescans its value once: work <= max_depth x line length).
          if (depth_ >= p->max_depth_) return json::Error::kTooDeep;
          const size_t len = prefix_.size();
          if (!prefix_.empty()) prefix_ += '_';
          AppendSanitized(key, &prefix_);
          const int saved_parent = parent_;
          const bool saved_chain = chain_ok_;
          parent_ = k;
          chain_ok_ = hit;
          ++depth_;
          const json::Error e = json::ForEachMember(value, Cb{this}, &key_scratch_);
          --depth_;
          parent_ = saved_parent;
          chain_ok_ = saved_chain;
          prefix_.resize(len);
          return e;
        }
        default:
          return json::Error::kNone;  // arrays and nulls are skipped
      }
    }

    const ParsedName& Lookup(std::string_view key) {
      if (prefix_.empty()) {
        return top_.Get(key, *lbs_, [&](ParsedName* n) { SanitizeLabelKey(key, true, &n->name); });
      }
      path_.assign(prefix_);
      path_ += '_';
      AppendSanitized(key, &path_);
      return nested_.Get(path_, *lbs_, [&](ParsedName* n) { n->name = path_; });
    }

    json::Error SetValue(const ParsedName& e, std::string_view value, json::Type type) {
      size_t hash;
      const std::string& name = FinalName(e, *lbs_, &hash);
      std::string_view v;
      switch (type) {
        case json::Type::kString:
          v = json::UnescapeForLabel(value, &value_);
          break;
        case json::Type::kBoolean:
          v = value == "true" ? std::string_view("true") : std::string_view("false");
          break;
        default:
          v = value;
      }
      // Names outside the cache live in a reused slot: keep a copy for the rest of the line.
      if (seen_.TestAndSet(e.cached ? std::string_view(name) : seen_.Keep(name), hash)) return json::Error::kNone;
      lbs_->Set(LabelCategory::kParsed, name, v);
      if (!p->checks_.empty() && !PassesEarlyChecks(p->checks_, name, v)) {
        rejected_ = true;
        return json::Error::kStop;
      }
      return json::Error::kNone;
    }

    const JsonParserPlan* p;
    LabelsBuilder* lbs_ = nullptr;
    NameCache top_, nested_;
    SeenNames seen_;
    std::vector<PredictedKey> pred_;
    int ordinal_ = 0, parent_ = -1;
    int depth_ = 1;  // nesting level of the object being walked; the line's object is 1
    bool chain_ok_ = true, rejected_ = false;
    std::string prefix_, path_, value_, key_scratch_;
  };
  EarlyChecks checks_;
  const int max_depth_;
};

class JsonExprParserPlan final : public Stage {
 public:
  JsonExprParserPlan(std::vector<std::string> ids, std::vector<std::vector<json::PathElement>> paths)
      : ids_(std::move(ids)), paths_(std::move(paths)) {}
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder& lbs) const override {
    auto r = std::make_unique<Run>(this);
    for (const std::string& id : ids_) {
      ParsedName n;
      n.name = id;
      NameCache::Finish(&n, lbs);
      r->names.push_back(std::move(n));
    }
    return r;
  }

 private:
  struct Run final : StreamStage, json::PathSink {
    explicit Run(const JsonExprParserPlan* p) : p(p), lookup(p->paths_) {}
    bool Process(int64_t, std::string_view* line, LabelsBuilder* b) override {
      if (line->empty()) return true;
      const char c0 = (*line)[0];
      if (c0 != '"' && c0 != '{' && c0 != '[') {
        b->SetErr(kJsonParserErr);
        return true;
      }
      lbs = b;
      matches = 0;
      lookup.Run(*line, this);
      if (matches < p->ids_.size()) {
        for (const std::string& id : p->ids_) {
          if (b->Get(id) == nullptr) b->Set(LabelCategory::kParsed, id, "");
        }
      }
      return true;
    }
    void OnPath(size_t pi, std::string_view value, json::Type type, json::Error err) override {
      if (err != json::Error::kNone) {
        lbs->SetErr(kJsonParserErr);
        lbs->SetErrDetails(json::ErrorText(err));
        return;
      }
      size_t hash;
      const std::string& name = FinalName(names[pi], *lbs, &hash);
      switch (type) {
        case json::Type::kNull:
          lbs->Set(LabelCategory::kParsed, name, "");
          break;
        case json::Type::kObject:
          lbs->Set(LabelCategory::kParsed, name, value);
          break;
        default:
          lbs->Set(LabelCategory::kParsed, name, json::UnescapeForLabel(value, &value_));
      }
      ++matches;
    }
    const JsonExprParserPlan* p;
    json::PathLookup lookup;
    LabelsBuilder* lbs = nullptr;
    size_t matches = 0;
    std::vector<ParsedName> names;
    std::string value_;
  };
  std::vector<std::string> ids_;
  std::vector<std::vector<json::PathElement>> paths_;
};

// ---- logfmt -----------------------------------------------------------------------------------

class LogfmtParserPlan final : public Stage, public EarlyCheckable {
 public:
  LogfmtParserPlan(bool strict, bool keep_empty) : strict_(strict), keep_empty_(keep_empty) {}
  void SetEarlyChecks(EarlyChecks checks) override { checks_ = std::move(checks); }
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder&) const override {
    return std::make_unique<Run>(this);
  }

 private:
  struct Run final : StreamStage {
    explicit Run(const LogfmtParserPlan* p) : p(p) {}
    bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
      dec.Reset(*line);
      seen.NewLine();
      size_t ordinal = 0;
      while (!dec.EOL()) {
        if (!dec.ScanKeyval()) {
          if (p->strict_) break;
          continue;
        }
        if (ordinal >= pred.size()) pred.resize(ordinal + 1);
        PredictedKey& pr = pred[ordinal++];
        const ParsedName* e = pr.name != nullptr && pr.key == dec.key() ? pr.name : nullptr;
        if (e == nullptr) {
          e = &names.Get(dec.key(), *lbs, [&](ParsedName* n) {
            SanitizeLabelKey(dec.key(), true, &n->name);
            n->valid = !n->name.empty();
          });
          pr.key.assign(dec.key());
          pr.name = e->cached ? e : nullptr;
        }
        if (!e->valid) continue;
        std::string_view val = dec.value();
        if (ContainsRuneError(val)) {
          ReplaceRuneErrors(val, ' ', &value);
          val = value;
        }
        if (!p->keep_empty_ && val.empty()) continue;
        size_t hash;
        const std::string& name = FinalName(*e, *lbs, &hash);
        if (seen.TestAndSet(e->cached ? std::string_view(name) : seen.Keep(name), hash)) continue;
        lbs->Set(LabelCategory::kParsed, name, val);
        if (!p->checks_.empty() && !PassesEarlyChecks(p->checks_, name, val)) return false;
      }
      if (p->strict_ && dec.has_error()) {
        lbs->SetErr(kLogfmtParserErr);
        lbs->SetErrDetails(dec.error());
      }
      return true;
    }
    const LogfmtParserPlan* p;
    LogfmtDecoder dec;
    NameCache names;
    SeenNames seen;
    std::vector<PredictedKey> pred;
    std::string value;
  };
  bool strict_, keep_empty_;
  EarlyChecks checks_;
};

class LogfmtExprParserPlan final : public Stage {
 public:
  LogfmtExprParserPlan(std::vector<std::string> ids, std::vector<std::string> keys, bool strict)
      : ids_(std::move(ids)), keys_(std::move(keys)), strict_(strict) {}
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder& lbs) const override {
    auto r = std::make_unique<Run>(this);
    for (const std::string& id : ids_) {
      ParsedName n;
      n.name = id;
      NameCache::Finish(&n, lbs);
      r->names.push_back(std::move(n));
    }
    return r;
  }

 private:
  struct Run final : StreamStage {
    explicit Run(const LogfmtExprParserPlan* p) : p(p) {}
    bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
      // Every requested label exists, empty unless the line provides it.
      for (const ParsedName& n : names) {
        if (!lbs->ParsedNameClashes(n.name)) lbs->Set(LabelCategory::kParsed, n.name, "");
      }
      dec.Reset(*line);
      seen.NewLine();
      while (!dec.EOL()) {
        if (!dec.ScanKeyval()) {
          if (p->strict_) break;
          continue;
        }
        SanitizeLabelKey(dec.key(), true, &key);
        if (key.empty()) continue;
        std::string_view val = dec.value();
        if (ContainsRuneError(val)) val = {};
        // The key maps to the label whose expression names it, else to a label of that name.
        size_t idx = p->ids_.size();
        for (size_t i = 0; i < p->keys_.size(); ++i) {
          if (key == p->keys_[i]) {
            idx = i;
            break;
          }
        }
        if (idx == p->ids_.size()) {
          for (size_t i = 0; i < p->ids_.size(); ++i) {
            if (key == p->ids_[i]) {
              idx = i;
              break;
            }
          }
        }
        if (idx == p->ids_.size()) continue;
        size_t hash;
        const std::string& name = FinalName(names[idx], *lbs, &hash);
        SetParsedFirstWins(lbs, &seen, name, hash, val);
      }
      if (p->strict_ && dec.has_error()) {
        lbs->SetErr(kLogfmtParserErr);
        lbs->SetErrDetails(dec.error());
      }
      return true;
    }
    const LogfmtExprParserPlan* p;
    std::vector<ParsedName> names;
    LogfmtDecoder dec;
    SeenNames seen;
    std::string key;
  };
  std::vector<std::string> ids_;
  std::vector<std::string> keys_;
  bool strict_;
};

// ---- regexp / pattern -----------------------------------------------------------------------

class RegexpParserPlan final : public Stage {
 public:
  RegexpParserPlan(std::unique_ptr<RE2> re, std::vector<std::pair<int, std::string>> groups)
      : re_(std::move(re)), groups_(std::move(groups)) {}
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder& lbs) const override {
    auto r = std::make_unique<Run>(this);
    r->subs.resize(static_cast<size_t>(re_->NumberOfCapturingGroups()) + 1);
    for (const auto& g : groups_) {
      ParsedName n;
      SanitizeLabelKey(g.second, true, &n.name);
      NameCache::Finish(&n, lbs);
      r->names.push_back(std::move(n));
    }
    return r;
  }

 private:
  struct Run final : StreamStage {
    explicit Run(const RegexpParserPlan* p) : p(p) {}
    bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
      if (!p->re_->Match(*line, 0, line->size(), RE2::UNANCHORED, subs.data(), static_cast<int>(subs.size()))) {
        return true;
      }
      for (size_t i = 0; i < p->groups_.size(); ++i) {
        const re2::StringPiece& sp = subs[static_cast<size_t>(p->groups_[i].first)];
        size_t hash;
        const std::string& name = FinalName(names[i], *lbs, &hash);
        lbs->Set(LabelCategory::kParsed, name, std::string_view(sp.data() == nullptr ? "" : sp.data(), sp.size()));
      }
      return true;
    }
    const RegexpParserPlan* p;
    std::vector<re2::StringPiece> subs;
    std::vector<ParsedName> names;
  };
  std::unique_ptr<RE2> re_;
  std::vector<std::pair<int, std::string>> groups_;  // capture index, name (index order)
};

class PatternParserPlan final : public Stage {
 public:
  explicit PatternParserPlan(Pattern p) : pattern_(std::move(p)) {}
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder& lbs) const override {
    auto r = std::make_unique<Run>(this);
    for (const std::string& n : pattern_.names()) {
      ParsedName pn;
      pn.name = n;
      NameCache::Finish(&pn, lbs);
      r->names.push_back(std::move(pn));
    }
    return r;
  }

 private:
  struct Run final : StreamStage {
    explicit Run(const PatternParserPlan* p) : p(p) {}
    bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
      p->pattern_.Matches(*line, &caps);
      for (size_t i = 0; i < caps.size(); ++i) {
        size_t hash;
        const std::string& name = FinalName(names[i], *lbs, &hash);
        lbs->Set(LabelCategory::kParsed, name, caps[i]);
      }
      return true;
    }
    const PatternParserPlan* p;
    std::vector<std::string_view> caps;
    std::vector<ParsedName> names;
  };
  Pattern pattern_;
};

// ---- unpack -----------------------------------------------------------------------------------

class UnpackParserPlan final : public Stage {
 public:
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder&) const override { return std::make_unique<Run>(); }

 private:
  struct Run final : StreamStage {
    bool Process(int64_t, std::string_view* line, LabelsBuilder* lbs) override {
      if (line->empty()) return true;
      if ((*line)[0] != '{') {
        lbs->SetErr(kJsonParserErr);
        lbs->SetErrDetails("expecting json object(6), but it is not");
        return true;
      }
      used = 0;
      bool packed = false;
      const json::Error e = json::ForEachMember(
          *line,
          [&](std::string_view key, std::string_view value, json::Type type) {
            if (type != json::Type::kString) return json::Error::kNone;
            if (key == "_entry") {
              if (!json::Unescape(value, &entry)) return json::Error::kMalformedStringEscape;
              packed = true;
              return json::Error::kNone;
            }
            if (used == pairs.size()) pairs.emplace_back();
            auto& [name, val] = pairs[used++];
            field.assign(key);
            if (lbs->ParsedNameClashes(field)) field.append(kDuplicateSuffix);
            SanitizeLabelKey(field, true, &name);
            const std::string_view v = json::UnescapeForLabel(value, &unescaped);
            val.assign(v);
            return json::Error::kNone;
          },
          &key_scratch);
      if (e != json::Error::kNone) {
        lbs->SetErr(kJsonParserErr);
        lbs->SetErrDetails(json::ErrorText(e));
        return true;
      }
      if (packed) {
        seen.NewLine();
        for (size_t i = 0; i < used; ++i) {
          const std::string& name = pairs[i].first;
          SetParsedFirstWins(lbs, &seen, name, std::hash<std::string_view>{}(name), pairs[i].second);
        }
        *line = entry;
      }
      return true;
    }
    std::vector<std::pair<std::string, std::string>> pairs;
    size_t used = 0;
    std::string entry, field, key_scratch, unescaped;
    SeenNames seen;
  };
};

// ---- line_format / label_format -------------------------------------------------------------

// Whether `tmpl` is a single field action like `{{.message}}` / `{{- .message -}}`; Loki then
// copies the label value directly (and an absent label gives an empty line).
bool SimpleFieldTemplate(std::string_view t, std::string* field) {
  if (t.size() < 5 || t.substr(0, 2) != "{{" || t.substr(t.size() - 2) != "}}") return false;
  t = t.substr(2, t.size() - 4);
  if (!t.empty() && t.front() == '-' && t.size() > 1 && (t[1] == ' ' || t[1] == '\t' || t[1] == '\n' || t[1] == '\r')) {
    t.remove_prefix(1);
  }
  if (!t.empty() && t.back() == '-' && t.size() > 1 &&
      (t[t.size() - 2] == ' ' || t[t.size() - 2] == '\t' || t[t.size() - 2] == '\n' || t[t.size() - 2] == '\r')) {
    t.remove_suffix(1);
  }
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!t.empty() && ws(t.front())) t.remove_prefix(1);
  while (!t.empty() && ws(t.back())) t.remove_suffix(1);
  if (t.size() < 2 || t[0] != '.') return false;
  t.remove_prefix(1);
  const char c0 = t[0];
  if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_')) return false;
  for (char c : t) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9'))) return false;
  }
  *field = std::string(t);
  return true;
}

// Label lookup as Loki's template data map (lbs.Map()): errors included, and
// `__error_details__` only once something else changed.
const std::string* TemplateLabel(const LabelsBuilder& lbs, std::string_view name) {
  if (name == kErrorLabel && lbs.HasErr()) return &lbs.err();
  if (name == kErrorDetailsLabel && !lbs.err_details().empty() && (lbs.HasErr() || lbs.HasAdd() || lbs.HasDel())) {
    return &lbs.err_details();
  }
  return lbs.Get(name);
}

using LabelMap = std::vector<std::pair<std::string_view, std::string_view>>;

// Sorts by name and keeps the last value of each name (map assignment order).
void SortedUnique(LabelMap* m) {
  std::stable_sort(m->begin(), m->end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t w = 0;
  for (size_t i = 0; i < m->size(); ++i) {
    if (w > 0 && (*m)[w - 1].first == (*m)[i].first) {
      (*m)[w - 1] = (*m)[i];
    } else {
      (*m)[w++] = (*m)[i];
    }
  }
  m->resize(w);
}

// The whole template data map (lbs.Map()), for `{{ . }}` and `range` over it.
void TemplateMap(const LabelsBuilder& lbs, LabelMap* out) {
  out->clear();
  const bool unchanged = !lbs.HasAdd() && !lbs.HasDel() && !lbs.HasErr();
  lbs.ForEach([&](const std::string& name, const std::string& value, LabelCategory) {
    if (unchanged && name == kErrorDetailsLabel) return;
    out->emplace_back(name, value);
  });
  SortedUnique(out);
}

class LineFormatPlan final : public Stage {
 public:
  LineFormatPlan(std::unique_ptr<Template> t, std::string simple_field)
      : tmpl_(std::move(t)),
        simple_field_(std::move(simple_field)),
        max_output_(GetPipelineLimits().max_template_output_bytes) {}
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder&) const override { return std::make_unique<Run>(this); }

 private:
  struct Run final : StreamStage {
    explicit Run(const LineFormatPlan* p) : p(p) {
      ctx.max_output_bytes = p->max_output_;
      ctx.label = [this](std::string_view name) { return TemplateLabel(*lbs, name); };
      ctx.for_each_label = [this](const std::function<void(std::string_view, std::string_view)>& visit) {
        TemplateMap(*lbs, &map);
        for (const auto& [k, v] : map) visit(k, v);
      };
    }
    bool Process(int64_t ts, std::string_view* line, LabelsBuilder* b) override {
      if (!p->simple_field_.empty()) {
        const std::string* v = b->Get(p->simple_field_);
        if (v == nullptr) {
          out.clear();
        } else {
          out.assign(*v);
        }
        *line = out;
        return true;
      }
      lbs = b;
      ctx.line = *line;
      ctx.timestamp_ns = ts;
      const Status st = p->tmpl_->Execute(ctx, &out);
      if (!st.ok()) {
        b->SetErr(kTemplateFormatErr);
        b->SetErrDetails(st.message());
        return true;
      }
      *line = out;
      return true;
    }
    const LineFormatPlan* p;
    const LabelsBuilder* lbs = nullptr;
    TemplateContext ctx;
    LabelMap map;
    std::string out;
  };
  std::unique_ptr<Template> tmpl_;
  std::string simple_field_;
  size_t max_output_;
};

class LabelFormatPlan final : public Stage {
 public:
  struct Item {
    std::string dst;
    bool rename = false;
    std::string src;                  // rename
    std::unique_ptr<Template> tmpl;   // template
  };
  explicit LabelFormatPlan(std::vector<Item> items)
      : items_(std::move(items)), max_output_(GetPipelineLimits().max_template_output_bytes) {}
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder&) const override { return std::make_unique<Run>(this); }

 private:
  struct Run final : StreamStage {
    explicit Run(const LabelFormatPlan* p) : p(p) {
      ctx.max_output_bytes = p->max_output_;
      ctx.label = [this](std::string_view name) -> const std::string* {
        // Later entries win, as in the Go map the labels are copied into.
        for (size_t i = snap_n; i-- > 0;) {
          if (snap[i].name == name) return &snap[i].value;
        }
        return nullptr;
      };
      ctx.for_each_label = [this](const std::function<void(std::string_view, std::string_view)>& visit) {
        map.clear();
        for (size_t i = 0; i < snap_n; ++i) map.emplace_back(snap[i].name, snap[i].value);
        SortedUnique(&map);
        for (const auto& [k, v] : map) visit(k, v);
      };
    }
    void Snapshot(const LabelsBuilder& b) {
      snap_n = 0;
      const bool unchanged = !b.HasAdd() && !b.HasDel() && !b.HasErr();
      b.ForEach([&](const std::string& name, const std::string& value, LabelCategory) {
        if (unchanged && name == kErrorDetailsLabel) return;
        if (snap_n == snap.size()) snap.emplace_back();
        snap[snap_n].name.assign(name);
        snap[snap_n].value.assign(value);
        ++snap_n;
      });
    }
    bool Process(int64_t ts, std::string_view* line, LabelsBuilder* b) override {
      snap_n = 0;
      ctx.line = *line;
      ctx.timestamp_ns = ts;
      for (const Item& it : p->items_) {
        if (it.rename) {
          if (const std::string* v = b->Get(it.src)) {
            value.assign(*v);
            b->Set(LabelCategory::kParsed, it.dst, value);
            b->Del(it.src);
          }
          continue;
        }
        if (snap_n == 0) Snapshot(*b);
        const Status st = it.tmpl->Execute(ctx, &value);
        if (!st.ok()) {
          b->SetErr(kTemplateFormatErr);
          b->SetErrDetails(st.message());
          continue;
        }
        b->Set(LabelCategory::kParsed, it.dst, value);
      }
      return true;
    }
    const LabelFormatPlan* p;
    TemplateContext ctx;
    LabelMap map;
    std::vector<Label> snap;
    size_t snap_n = 0;
    std::string value;
  };
  std::vector<Item> items_;
  size_t max_output_;
};

// ---- drop / keep / decolorize -----------------------------------------------------------------

class DropPlan final : public Stage {
 public:
  explicit DropPlan(std::vector<logql::LabelSelectItem> items) : items_(std::move(items)) {}
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder&) const override { return std::make_unique<Run>(this); }

 private:
  struct Run final : StreamStage {
    explicit Run(const DropPlan* p) : p(p) {}
    bool Process(int64_t, std::string_view*, LabelsBuilder* b) override {
      for (const logql::LabelSelectItem& it : p->items_) {
        if (it.matcher) {
          const Matcher& m = *it.matcher;
          if (m.name() == kErrorLabel) {
            if (m.Matches(b->err())) b->ResetErr();
          } else if (m.name() == kErrorDetailsLabel) {
            if (m.Matches(b->err_details())) b->ResetErrDetails();
          } else {
            const std::string* v = b->Get(m.name());
            if (m.Matches(v ? std::string_view(*v) : std::string_view())) b->Del(m.name());
          }
          continue;
        }
        if (it.name == kErrorLabel) {
          b->ResetErr();
        } else if (it.name == kErrorDetailsLabel) {
          b->ResetErrDetails();
        } else if (b->Get(it.name) != nullptr) {
          b->Del(it.name);
        }
      }
      return true;
    }
    const DropPlan* p;
  };
  std::vector<logql::LabelSelectItem> items_;
};

class KeepPlan final : public Stage {
 public:
  explicit KeepPlan(std::vector<logql::LabelSelectItem> items) : items_(std::move(items)) {}
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder&) const override { return std::make_unique<Run>(this); }

 private:
  struct Run final : StreamStage {
    explicit Run(const KeepPlan* p) : p(p) {}
    bool Process(int64_t, std::string_view*, LabelsBuilder* b) override {
      if (p->items_.empty()) return true;
      n = 0;
      b->ForEach([&](const std::string& name, const std::string& value, LabelCategory) {
        if (n == labels.size()) labels.emplace_back();
        labels[n].name.assign(name);
        labels[n].value.assign(value);
        ++n;
      });
      for (size_t i = 0; i < n; ++i) {
        const Label& l = labels[i];
        if (l.name == kErrorLabel || l.name == kErrorDetailsLabel || l.name == kPreserveErrorLabel) continue;
        bool keep = false;
        for (const logql::LabelSelectItem& it : p->items_) {
          if (it.matcher ? (it.matcher->name() == l.name && it.matcher->Matches(l.value)) : it.name == l.name) {
            keep = true;
            break;
          }
        }
        if (!keep) b->Del(l.name);
      }
      return true;
    }
    const KeepPlan* p;
    std::vector<Label> labels;
    size_t n = 0;
  };
  std::vector<logql::LabelSelectItem> items_;
};

class DecolorizePlan final : public Stage {
 public:
  DecolorizePlan() {
    RE2::Options o;
    o.set_log_errors(false);
    re_ = std::make_unique<RE2>(
        R"([\x{1B}\x{9B}][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\x{07})|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~])))",
        o);
  }
  std::unique_ptr<StreamStage> ForStream(const LabelsBuilder&) const override { return std::make_unique<Run>(this); }

 private:
  struct Run final : StreamStage {
    explicit Run(const DecolorizePlan* p) : p(p) {}
    bool Process(int64_t, std::string_view* line, LabelsBuilder*) override {
      const bool esc = std::memchr(line->data(), 0x1B, line->size()) != nullptr ||
                       line->find("\xC2\x9B") != std::string_view::npos;
      if (!esc) return true;
      out.assign(*line);
      RE2::GlobalReplace(&out, *p->re_, "");
      *line = out;
      return true;
    }
    const DecolorizePlan* p;
    std::string out;
  };
  std::unique_ptr<RE2> re_;
};

// ---- building ---------------------------------------------------------------------------------

constexpr int kMaxRegexpParserGroups = 128;

Result<std::unique_ptr<Stage>> BuildParser(const logql::ParserStage& ps) {
  using K = logql::ParserKind;
  switch (ps.kind) {
    case K::kJson: {
      if (ps.params.empty()) return std::unique_ptr<Stage>(new JsonParserPlan());
      std::vector<std::string> ids;
      std::vector<std::vector<json::PathElement>> paths;
      for (const logql::LabelExtraction& e : ps.params) {
        std::vector<json::PathElement> path;
        std::string err;
        if (!json::ParsePath(e.expression, &path, &err)) {
          return InvalidArgument("cannot parse expression [" + e.expression + "]: " + err);
        }
        // The lookup descends one level per path element (recursively).
        const int max_depth = GetPipelineLimits().max_json_depth;
        if (path.size() > static_cast<size_t>(max_depth)) {
          return InvalidArgument("cannot parse expression [" + e.expression + "]: more than " +
                                 std::to_string(max_depth) + " path elements (limits_config.max_json_depth)");
        }
        if (!IsValidLabelName(e.label)) return InvalidArgument("invalid extracted label name '" + e.label + "'");
        ids.push_back(e.label);
        paths.push_back(std::move(path));
      }
      return std::unique_ptr<Stage>(new JsonExprParserPlan(std::move(ids), std::move(paths)));
    }
    case K::kLogfmt: {
      if (ps.params.empty()) return std::unique_ptr<Stage>(new LogfmtParserPlan(ps.strict, ps.keep_empty));
      std::vector<std::string> ids, keys;
      for (const logql::LabelExtraction& e : ps.params) {
        if (e.expression.empty()) return InvalidArgument("cannot parse expression [" + e.expression + "]: syntax error");
        for (char c : e.expression) {
          if (static_cast<unsigned char>(c) <= ' ' || c == '=' || c == '"') {
            return InvalidArgument("cannot parse expression [" + e.expression + "]: syntax error: unexpected KEY");
          }
        }
        if (!IsValidLabelName(e.label)) return InvalidArgument("invalid extracted label name '" + e.label + "'");
        ids.push_back(e.label);
        keys.push_back(e.expression);
      }
      return std::unique_ptr<Stage>(new LogfmtExprParserPlan(std::move(ids), std::move(keys), ps.strict));
    }
    case K::kRegexp: {
      RE2::Options o;
      o.set_log_errors(false);
      auto re = std::make_unique<RE2>(ToRe2Syntax(ps.argument), o);
      // Loki validates the regexp parser while parsing the query: every error is
      // `invalid regexp parser: <log.NewRegexpParser's error>`.
      if (!re->ok()) return InvalidArgument("invalid regexp parser: " + GoRegexpError(ps.argument));
      // Submatch extraction costs about line length x groups^2 (one 2 KB line took minutes
      // with 3,000 groups, ~20 ms with 128), and one line cannot be interrupted by the
      // query timeout: the group count is capped (logq only; Loki has no cap).
      if (re->NumberOfCapturingGroups() > kMaxRegexpParserGroups) {
        return InvalidArgument("invalid regexp parser: more than " + std::to_string(kMaxRegexpParserGroups) +
                               " capture groups (" + std::to_string(re->NumberOfCapturingGroups()) + ")");
      }
      std::vector<std::pair<int, std::string>> groups;
      for (const auto& [idx, name] : re->CapturingGroupNames()) {
        if (!IsValidLabelName(name)) {
          return InvalidArgument("invalid regexp parser: invalid extracted label name '" + name + "'");
        }
        groups.emplace_back(idx, name);
      }
      if (groups.empty()) return InvalidArgument("invalid regexp parser: at least one named capture must be supplied");
      return std::unique_ptr<Stage>(new RegexpParserPlan(std::move(re), std::move(groups)));
    }
    case K::kPattern: {
      auto p = Pattern::ParseForParser(ps.argument);
      if (!p.ok()) return InvalidArgument("invalid pattern parser: " + p.status().message());
      return std::unique_ptr<Stage>(new PatternParserPlan(std::move(p).value()));
    }
    case K::kUnpack:
      return std::unique_ptr<Stage>(new UnpackParserPlan());
  }
  return InvalidArgument("unknown parser");
}

Result<std::unique_ptr<Stage>> BuildLineFormat(const logql::LineFormatStage& lf) {
  auto t = Template::Parse(lf.tmpl);
  if (!t.ok()) return InvalidArgument("invalid line template: " + t.status().message());
  std::string field;
  SimpleFieldTemplate(lf.tmpl, &field);
  return std::unique_ptr<Stage>(new LineFormatPlan(std::move(t).value(), std::move(field)));
}

Result<std::unique_ptr<Stage>> BuildLabelFormat(const logql::LabelFormatStage& lf) {
  std::set<std::string> seen;
  std::vector<LabelFormatPlan::Item> items;
  for (const logql::LabelFormatItem& it : lf.items) {
    if (it.dst == kErrorLabel) return InvalidArgument(it.dst + " cannot be formatted");
    if (!seen.insert(it.dst).second) {
      return InvalidArgument("multiple label name '" + it.dst + "' not allowed in a single format operation");
    }
    LabelFormatPlan::Item item;
    item.dst = it.dst;
    item.rename = it.rename;
    if (it.rename) {
      item.src = it.value;
    } else {
      auto t = Template::Parse(it.value, "label");
      if (!t.ok()) return InvalidArgument("invalid template for label '" + it.dst + "': " + t.status().message());
      item.tmpl = std::move(t).value();
    }
    items.push_back(std::move(item));
  }
  return std::unique_ptr<Stage>(new LabelFormatPlan(std::move(items)));
}

// Loki's reorderStages: line filters move to the front of their segment; a segment ends at a
// label filter (before it), a line_format or an unpack (after them).
std::vector<std::vector<const logql::Stage*>> Reorder(const std::vector<logql::Stage>& in) {
  using K = logql::Stage::Kind;
  std::vector<std::vector<const logql::Stage*>> out;  // each entry: a filter group or one stage
  std::vector<const logql::Stage*> filters, others;
  auto flush = [&] {
    if (!filters.empty()) out.push_back(filters);
    for (const logql::Stage* s : others) out.push_back({s});
    filters.clear();
    others.clear();
  };
  for (const logql::Stage& s : in) {
    switch (s.kind) {
      case K::kLabelFilter:
        flush();
        out.push_back({&s});
        break;
      case K::kLineFilter:
        filters.push_back(&s);
        break;
      case K::kLineFormat:
        others.push_back(&s);
        flush();
        break;
      case K::kParser:
        others.push_back(&s);
        if (s.parser.kind == logql::ParserKind::kUnpack) flush();
        break;
      default:
        others.push_back(&s);
    }
  }
  flush();
  return out;
}

// A stage as Loki's String() prints it in `stage '...'` errors: like the canonical printer,
// except that parser parameters are joined by "," (JSONExpressionParser/LogfmtExpressionParser).
std::string StageText(const logql::Stage& s) {
  if (s.kind != logql::Stage::Kind::kParser || s.parser.params.empty()) return logql::ToString(s);
  const logql::ParserStage& p = s.parser;
  std::string out = p.kind == logql::ParserKind::kJson ? "| json " : "| logfmt ";
  if (p.kind == logql::ParserKind::kLogfmt) {
    if (p.strict) out += "--strict ";
    if (p.keep_empty) out += "--keep-empty ";
  }
  for (size_t i = 0; i < p.params.size(); ++i) {
    if (i) out += ",";
    out += p.params[i].label + "=";
    AppendGoQuoted(p.params[i].expression, &out);
  }
  return out;
}

// Loki's errors for a stage that cannot be built. The regexp and pattern parsers are checked
// while parsing (`parse error : invalid regexp parser: ...`); every other stage when its
// pipeline is built (logqlmodel.NewStageError: `parse error : stage '<stage>' : <error>`,
// consecutive line filters printed as one chain).
Status StageError(const std::vector<const logql::Stage*>& group, const Status& st) {
  const logql::Stage& first = *group[0];
  if (first.kind == logql::Stage::Kind::kParser &&
      (first.parser.kind == logql::ParserKind::kRegexp || first.parser.kind == logql::ParserKind::kPattern)) {
    return Status(st.code(), "parse error : " + st.message());
  }
  std::string text;
  for (const logql::Stage* s : group) {
    if (!text.empty()) text += " ";
    text += StageText(*s);
  }
  return Status(st.code(), "parse error : stage '" + text + "' : " + st.message());
}

}  // namespace

Result<std::vector<std::unique_ptr<Stage>>> BuildStages(const std::vector<logql::Stage>& stages,
                                                         std::vector<std::string>* literals) {
  using K = logql::Stage::Kind;
  std::vector<std::unique_ptr<Stage>> out;
  bool line_modified = false;  // a stage before could have rewritten the line
  EarlyCheckable* last_parser = nullptr;  // the previous stage, when it accepts early checks
  for (const auto& group : Reorder(stages)) {
    const logql::Stage& first = *group[0];
    EarlyCheckable* parser_before = last_parser;
    last_parser = nullptr;
    if (first.kind == K::kLineFilter) {
      std::vector<std::unique_ptr<LineFilter>> filters;
      for (const logql::Stage* s : group) {
        auto built = BuildLineFilter(s->line_filter);
        if (!built.ok()) return StageError(group, built.status());
        auto f = std::move(built).value();
        if (f->IsTrue()) continue;
        const auto& lf = s->line_filter;
        if (!line_modified && literals != nullptr && lf.op == logql::LineFilterOp::kContains &&
            lf.alternatives.size() == 1 && !lf.alternatives[0].ip && !lf.alternatives[0].value.empty()) {
          literals->push_back(lf.alternatives[0].value);
        }
        filters.push_back(std::move(f));
      }
      if (filters.empty()) continue;
      std::stable_sort(filters.begin(), filters.end(),
                       [](const auto& a, const auto& b) { return a->Cost() < b->Cost(); });
      out.push_back(std::make_unique<LineFilterStagePlan>(std::move(filters)));
      continue;
    }
    switch (first.kind) {
      case K::kParser: {
        auto built = BuildParser(first.parser);
        if (!built.ok()) return StageError(group, built.status());
        auto s = std::move(built).value();
        last_parser = dynamic_cast<EarlyCheckable*>(s.get());
        out.push_back(std::move(s));
        if (first.parser.kind == logql::ParserKind::kUnpack) line_modified = true;
        break;
      }
      case K::kLabelFilter: {
        if (!first.label_filter.filter) return InvalidArgument("empty label filter");
        auto built = BuildLabelPredicate(*first.label_filter.filter);
        if (!built.ok()) return StageError(group, built.status());
        auto pred = std::move(built).value();
        if (pred->IsNoop()) break;
        if (parser_before != nullptr) parser_before->SetEarlyChecks(NecessaryConditions(first.label_filter.filter));
        std::vector<std::unique_ptr<LabelPredicate>> preds;
        preds.push_back(std::move(pred));
        out.push_back(std::make_unique<LabelFilterStagePlan>(std::move(preds)));
        break;
      }
      case K::kLineFormat: {
        auto built = BuildLineFormat(first.line_format);
        if (!built.ok()) return StageError(group, built.status());
        auto s = std::move(built).value();
        out.push_back(std::move(s));
        line_modified = true;
        break;
      }
      case K::kLabelFormat: {
        auto built = BuildLabelFormat(first.label_format);
        if (!built.ok()) return StageError(group, built.status());
        auto s = std::move(built).value();
        out.push_back(std::move(s));
        break;
      }
      case K::kDrop:
        out.push_back(std::make_unique<DropPlan>(first.drop.items));
        break;
      case K::kKeep:
        out.push_back(std::make_unique<KeepPlan>(first.keep.items));
        break;
      case K::kDecolorize:
        out.push_back(std::make_unique<DecolorizePlan>());
        line_modified = true;
        break;
      case K::kLineFilter:
        break;  // handled above
    }
  }
  return out;
}

Result<std::unique_ptr<Stage>> BuildPostFilterStage(
    const std::vector<std::shared_ptr<const logql::LabelFilterExpr>>& filters) {
  std::vector<std::unique_ptr<LabelPredicate>> preds;
  for (const auto& f : filters) {
    if (!f) return InvalidArgument("empty label filter");
    ASSIGN_OR_RETURN(auto p, BuildLabelPredicate(*f));
    preds.push_back(std::move(p));
  }
  return std::unique_ptr<Stage>(new LabelFilterStagePlan(std::move(preds)));
}

}  // namespace logq::pipeline
