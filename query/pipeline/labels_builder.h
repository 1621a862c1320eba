// Per-line label state of a stream pipeline, with the semantics of Loki's LabelsBuilder:
// stream labels (the base), per-category additions (stream / structured metadata / parsed,
// with parsed > structured metadata > stream precedence), deletions, and the `__error__` /
// `__error_details__` pair kept aside until the result is built. ResultCache turns a
// builder state into a stable ResultLabels pointer (one per distinct label set).
// Internal to the pipeline module. Single-threaded (one per StreamPipeline). After warm-up,
// a line that reuses names of earlier lines causes no heap allocation: strings live in
// reused slots.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "query/model/labels.h"
#include "query/pipeline/pipeline.h"

namespace logq::pipeline {

inline constexpr std::string_view kErrorLabel = "__error__";
inline constexpr std::string_view kErrorDetailsLabel = "__error_details__";
inline constexpr std::string_view kDuplicateSuffix = "_extracted";

enum class LabelCategory : uint8_t { kStream = 0, kStructuredMetadata = 1, kParsed = 2 };

class LabelsBuilder {
 public:
  explicit LabelsBuilder(const Labels& stream_labels);
  LabelsBuilder(const LabelsBuilder&) = delete;
  LabelsBuilder& operator=(const LabelsBuilder&) = delete;

  // Clears the per-line state (additions, deletions, errors).
  void Reset();

  const Labels& base() const { return base_; }
  bool BaseHas(std::string_view name) const;
  // Whether a parsed label called `name` must be stored as `<name>_extracted`: it clashes with
  // a stream label or (Loki ≥ 3.4) with the line's structured metadata.
  bool ParsedNameClashes(std::string_view name) const;
  bool StructuredMetadataHas(std::string_view name) const {
    return add_[static_cast<int>(LabelCategory::kStructuredMetadata)].Find(name) != kNpos;
  }

  // Loki's Add(StructuredMetadataLabel, ...): names normalized as Prometheus'
  // NormalizeLabel, `_extracted` appended on a clash with a stream label, and
  // `__error__`/`__error_details__` entries become the error pair.
  void AddStructuredMetadata(const std::vector<Label>& metadata);

  // The current value of `name` (additions first, then deletions, then stream labels), or
  // nullptr. The pointer is valid until the next mutation. Error labels are not visible here
  // (as in Loki); use err()/err_details().
  const std::string* Get(std::string_view name, LabelCategory* category = nullptr) const;

  // Loki's Set with category precedence. `name` and `value` must not point into this
  // builder's storage (copy first).
  void Set(LabelCategory category, std::string_view name, std::string_view value);
  // Removes `name` from every category and hides the stream label of that name.
  void Del(std::string_view name);

  void SetErr(std::string_view e) { err_.assign(e); }
  void SetErrDetails(std::string_view d) { err_details_.assign(d); }
  void ResetErr() { err_.clear(); }
  void ResetErrDetails() { err_details_.clear(); }
  const std::string& err() const { return err_; }
  const std::string& err_details() const { return err_details_; }
  bool HasErr() const { return !err_.empty(); }

  bool HasAdd() const { return add_[0].n + add_[1].n + add_[2].n != 0; }
  bool HasDel() const { return n_del_ != 0; }
  bool InDel(std::string_view name) const;
  // The category holding an addition called `name`, if any.
  bool FindAdded(std::string_view name, LabelCategory* category, const std::string** value) const;

  // Loki's UnsortedLabels: calls f(name, value, category) for every effective label, errors
  // last (category kParsed). References are valid until the next mutation.
  template <typename F>
  void ForEach(F&& f) const;

 private:
  struct Slot {
    std::string name;
    std::string value;
  };
  // Slots [0, n) are live; the rest keep their capacity for reuse.
  struct List {
    std::vector<Slot> slots;
    size_t n = 0;
    size_t Find(std::string_view name) const;
    void Put(std::string_view name, std::string_view value);
    void Erase(size_t i);
  };
  static constexpr size_t kNpos = static_cast<size_t>(-1);

  Labels base_;
  List add_[3];
  std::vector<std::string> del_;
  size_t n_del_ = 0;
  std::string err_, err_details_;
  std::string name_scratch_;

  friend class ResultCache;
};

// How a sample extractor reduces result labels (Loki's grouping on the range aggregation).
struct GroupingSpec {
  std::vector<std::string> groups;  // sorted
  bool without = false;
  bool no_labels = false;  // by () or absent_over_time: no labels unless an error is set
};

// Interns result label sets for one stream: equal label sets get the same ResultLabels
// pointer for the cache's lifetime. Single-threaded.
class ResultCache {
 public:
  explicit ResultCache(const Labels& stream_labels);
  ResultCache(const ResultCache&) = delete;
  ResultCache& operator=(const ResultCache&) = delete;

  const ResultLabels* Base() const { return base_; }
  // Loki's LabelsResult(): the categorized full label set of the builder's state.
  const ResultLabels* LabelsResult(const LabelsBuilder& b);
  // Loki's GroupedLabels().
  const ResultLabels* GroupedLabels(const LabelsBuilder& b, const GroupingSpec& spec);

 private:
  struct Entry {
    std::string_view name;
    std::string_view value;
    LabelCategory category;
  };
  const ResultLabels* Intern(bool categorized);
  uint64_t Hash() const;
  bool SameAsScratch(const ResultLabels& r) const;
  void Grow();

  // Open addressing over (hash, result); capacity a power of two, at most half full.
  struct Slot {
    uint64_t hash = 0;
    const ResultLabels* result = nullptr;
  };
  std::vector<Slot> index_;
  size_t used_ = 0;
  std::deque<ResultLabels> store_;
  std::vector<Entry> scratch_;
  const ResultLabels* base_ = nullptr;
  const ResultLabels* base_group_ = nullptr;  // base labels reduced by the grouping
  const ResultLabels* empty_ = nullptr;
};

// ---- template implementation --------------------------------------------------------

template <typename F>
void LabelsBuilder::ForEach(F&& f) const {
  if (!HasDel() && !HasAdd()) {
    for (const Label& l : base_) f(l.name, l.value, LabelCategory::kStream);
  } else {
    const List& stream = add_[0];
    const List& sm = add_[1];
    const List& parsed = add_[2];
    for (const Label& l : base_) {
      if (InDel(l.name)) continue;
      if (sm.Find(l.name) != kNpos || parsed.Find(l.name) != kNpos) continue;
      const size_t i = stream.Find(l.name);
      if (i != kNpos) {
        f(l.name, stream.slots[i].value, LabelCategory::kStream);
      } else {
        f(l.name, l.value, LabelCategory::kStream);
      }
    }
    for (size_t i = 0; i < sm.n; ++i) {
      if (parsed.Find(sm.slots[i].name) != kNpos) continue;
      f(sm.slots[i].name, sm.slots[i].value, LabelCategory::kStructuredMetadata);
    }
    for (size_t i = 0; i < parsed.n; ++i) f(parsed.slots[i].name, parsed.slots[i].value, LabelCategory::kParsed);
  }
  static const std::string kErr(kErrorLabel), kDetails(kErrorDetailsLabel);
  if (!err_.empty()) f(kErr, err_, LabelCategory::kParsed);
  if (!err_details_.empty()) f(kDetails, err_details_, LabelCategory::kParsed);
}

}  // namespace logq::pipeline
