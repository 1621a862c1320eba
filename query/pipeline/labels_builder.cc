#include "query/pipeline/labels_builder.h"

#include <algorithm>
#include <xxhash.h>

#include "query/pipeline/text_util.h"

namespace logq::pipeline {

// ---- LabelsBuilder ----------------------------------------------------------------------

size_t LabelsBuilder::List::Find(std::string_view name) const {
  for (size_t i = 0; i < n; ++i) {
    if (slots[i].name == name) return i;
  }
  return kNpos;
}

void LabelsBuilder::List::Put(std::string_view name, std::string_view value) {
  if (n == slots.size()) slots.emplace_back();
  slots[n].name.assign(name);
  slots[n].value.assign(value);
  ++n;
}

void LabelsBuilder::List::Erase(size_t i) {
  // Order inside a category does not matter (results are sorted); keep the slot's buffers.
  if (i + 1 != n) std::swap(slots[i], slots[n - 1]);
  --n;
}

LabelsBuilder::LabelsBuilder(const Labels& stream_labels) : base_(stream_labels) { base_.Sort(); }

void LabelsBuilder::Reset() {
  add_[0].n = add_[1].n = add_[2].n = 0;
  n_del_ = 0;
  err_.clear();
  err_details_.clear();
}

bool LabelsBuilder::BaseHas(std::string_view name) const {
  for (const Label& l : base_) {
    if (l.name == name) return true;
  }
  return false;
}

bool LabelsBuilder::ParsedNameClashes(std::string_view name) const {
  return BaseHas(name) || add_[static_cast<int>(LabelCategory::kStructuredMetadata)].Find(name) != kNpos;
}

bool LabelsBuilder::InDel(std::string_view name) const {
  for (size_t i = 0; i < n_del_; ++i) {
    if (del_[i] == name) return true;
  }
  return false;
}

void LabelsBuilder::AddStructuredMetadata(const std::vector<Label>& metadata) {
  for (const Label& l : metadata) {
    std::string_view name = l.name;
    if (NormalizeLabelName(name, &name_scratch_)) name = name_scratch_;
    if (BaseHas(name)) {
      if (name.data() != name_scratch_.data()) name_scratch_.assign(name);
      name_scratch_.append(kDuplicateSuffix);
      name = name_scratch_;
    }
    if (name == kErrorLabel) {
      err_.assign(l.value);
    } else if (name == kErrorDetailsLabel) {
      err_details_.assign(l.value);
    } else {
      Set(LabelCategory::kStructuredMetadata, name, l.value);
    }
  }
}

const std::string* LabelsBuilder::Get(std::string_view name, LabelCategory* category) const {
  for (int c = 0; c < 3; ++c) {
    const size_t i = add_[c].Find(name);
    if (i != kNpos) {
      if (category) *category = static_cast<LabelCategory>(c);
      return &add_[c].slots[i].value;
    }
  }
  if (InDel(name)) return nullptr;
  for (const Label& l : base_) {
    if (l.name == name) {
      if (category) *category = LabelCategory::kStream;
      return &l.value;
    }
  }
  return nullptr;
}

bool LabelsBuilder::FindAdded(std::string_view name, LabelCategory* category, const std::string** value) const {
  for (int c = 0; c < 3; ++c) {
    const size_t i = add_[c].Find(name);
    if (i != kNpos) {
      *category = static_cast<LabelCategory>(c);
      *value = &add_[c].slots[i].value;
      return true;
    }
  }
  return false;
}

void LabelsBuilder::Set(LabelCategory category, std::string_view name, std::string_view value) {
  List& stream = add_[0];
  List& sm = add_[1];
  List& parsed = add_[2];
  switch (category) {
    case LabelCategory::kParsed:
      if (size_t i = sm.Find(name); i != kNpos) sm.Erase(i);
      if (size_t i = stream.Find(name); i != kNpos) stream.Erase(i);
      break;
    case LabelCategory::kStructuredMetadata:
      if (size_t i = stream.Find(name); i != kNpos) stream.Erase(i);
      if (parsed.Find(name) != kNpos) return;
      break;
    case LabelCategory::kStream:
      if (sm.Find(name) != kNpos || parsed.Find(name) != kNpos) return;
      break;
  }
  List& list = add_[static_cast<int>(category)];
  if (size_t i = list.Find(name); i != kNpos) {
    list.slots[i].value.assign(value);
    return;
  }
  list.Put(name, value);
}

void LabelsBuilder::Del(std::string_view name) {
  for (List& list : add_) {
    if (size_t i = list.Find(name); i != kNpos) list.Erase(i);
  }
  if (n_del_ == del_.size()) del_.emplace_back();
  del_[n_del_++].assign(name);
}

// ---- ResultCache ------------------------------------------------------------------------

namespace {

constexpr uint64_t kValueSeed = 0x9E3779B97F4A7C15ULL;

// Labels::ToString() with a shortcut for values that need no escaping.
std::string LabelsText(const std::vector<Label>& items) {
  size_t size = 2;
  for (const Label& l : items) size += l.name.size() + l.value.size() + 5;
  std::string out;
  out.reserve(size);
  out += '{';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += ", ";
    out += items[i].name;
    out += '=';
    const std::string& v = items[i].value;
    bool plain = true;
    for (char c : v) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7F || c == '"' || c == '\\') {
        plain = false;
        break;
      }
    }
    if (plain) {
      out += '"';
      out += v;
      out += '"';
    } else {
      AppendGoQuoted(v, &out);
    }
  }
  out += '}';
  return out;
}

ResultLabels MakeResult(std::vector<Label> sorted, bool categorized, const std::vector<LabelCategory>& cats) {
  ResultLabels r;
  r.text = LabelsText(sorted);
  r.labels = Labels(std::move(sorted));
  r.hash = XXH3_64bits(r.text.data(), r.text.size());  // == Labels::Hash()
  if (!categorized) {
    r.stream = r.labels;
    return r;
  }
  const auto& items = r.labels.items();
  size_t counts[3] = {0, 0, 0};
  for (LabelCategory c : cats) ++counts[static_cast<int>(c)];
  std::vector<Label> parts[3];
  for (int c = 0; c < 3; ++c) parts[c].reserve(counts[c]);
  for (size_t i = 0; i < items.size(); ++i) parts[static_cast<int>(cats[i])].push_back(items[i]);
  r.stream = Labels(std::move(parts[0]));
  r.structured_metadata = Labels(std::move(parts[1]));
  r.parsed = Labels(std::move(parts[2]));
  return r;
}


}  // namespace

ResultCache::ResultCache(const Labels& stream_labels) {
  Labels sorted = stream_labels;
  sorted.Sort();
  for (const Label& l : sorted) scratch_.push_back({l.name, l.value, LabelCategory::kStream});
  base_ = Intern(true);
  scratch_.clear();
}

uint64_t ResultCache::Hash() const {
  uint64_t h = 0;
  for (const Entry& e : scratch_) {
    h = XXH3_64bits_withSeed(e.name.data(), e.name.size(), h);
    h = XXH3_64bits_withSeed(e.value.data(), e.value.size(), h ^ kValueSeed);
  }
  return h;
}

bool ResultCache::SameAsScratch(const ResultLabels& r) const {
  const auto& items = r.labels.items();
  if (items.size() != scratch_.size()) return false;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].name != scratch_[i].name || items[i].value != scratch_[i].value) return false;
  }
  return true;
}

void ResultCache::Grow() {
  std::vector<Slot> old;
  old.swap(index_);
  index_.resize(old.empty() ? 64 : old.size() * 2);
  const size_t mask = index_.size() - 1;
  for (const Slot& s : old) {
    if (s.result == nullptr) continue;
    size_t i = s.hash & mask;
    while (index_[i].result != nullptr) i = (i + 1) & mask;
    index_[i] = s;
  }
}

const ResultLabels* ResultCache::Intern(bool categorized) {
  // Stable by name. Insertion sort for the usual small sets: no temporary buffer.
  auto less = [](const Entry& a, const Entry& b) { return a.name < b.name; };
  if (scratch_.size() <= 64) {
    for (size_t i = 1; i < scratch_.size(); ++i) {
      Entry e = scratch_[i];
      size_t j = i;
      for (; j > 0 && less(e, scratch_[j - 1]); --j) scratch_[j] = scratch_[j - 1];
      scratch_[j] = e;
    }
  } else {
    std::stable_sort(scratch_.begin(), scratch_.end(), less);
  }
  const uint64_t h = Hash();
  if ((used_ + 1) * 2 > index_.size()) Grow();
  const size_t mask = index_.size() - 1;
  size_t i = h & mask;
  for (; index_[i].result != nullptr; i = (i + 1) & mask) {
    if (index_[i].hash == h && SameAsScratch(*index_[i].result)) return index_[i].result;
  }
  std::vector<Label> sorted;
  std::vector<LabelCategory> cats;
  sorted.reserve(scratch_.size());
  cats.reserve(scratch_.size());
  for (const Entry& e : scratch_) {
    sorted.push_back({std::string(e.name), std::string(e.value)});
    cats.push_back(e.category);
  }
  store_.push_back(MakeResult(std::move(sorted), categorized, cats));
  index_[i] = {h, &store_.back()};
  ++used_;
  return &store_.back();
}

const ResultLabels* ResultCache::LabelsResult(const LabelsBuilder& b) {
  if (!b.HasDel() && !b.HasAdd() && !b.HasErr()) return base_;
  scratch_.clear();
  b.ForEach([&](const std::string& name, const std::string& value, LabelCategory c) {
    scratch_.push_back({name, value, c});
  });
  return Intern(true);
}

const ResultLabels* ResultCache::GroupedLabels(const LabelsBuilder& b, const GroupingSpec& spec) {
  if (b.HasErr()) return LabelsResult(b);
  if (spec.no_labels) {
    if (empty_ == nullptr) {
      scratch_.clear();
      empty_ = Intern(false);
    }
    return empty_;
  }
  auto in_groups = [&](std::string_view name) {
    return std::binary_search(spec.groups.begin(), spec.groups.end(), name,
                              [](std::string_view a, std::string_view c) { return a < c; });
  };
  if (!b.HasDel() && !b.HasAdd()) {
    if (spec.groups.empty()) return base_;
    if (base_group_ == nullptr) {
      scratch_.clear();
      for (const Label& l : b.base()) {
        if (in_groups(l.name) != spec.without) scratch_.push_back({l.name, l.value, LabelCategory::kStream});
      }
      base_group_ = Intern(false);
    }
    return base_group_;
  }
  if (spec.groups.empty()) return LabelsResult(b);
  scratch_.clear();
  if (spec.without) {
    for (const Label& l : b.base()) {
      if (b.InDel(l.name)) continue;
      LabelCategory c;
      const std::string* v;
      if (b.FindAdded(l.name, &c, &v)) continue;
      if (in_groups(l.name)) continue;
      scratch_.push_back({l.name, l.value, LabelCategory::kStream});
    }
    for (const auto& list : b.add_) {
      for (size_t i = 0; i < list.n; ++i) {
        if (!in_groups(list.slots[i].name)) {
          scratch_.push_back({list.slots[i].name, list.slots[i].value, LabelCategory::kStream});
        }
      }
    }
  } else {
    for (const std::string& g : spec.groups) {
      if (b.InDel(g)) continue;
      LabelCategory c;
      const std::string* v;
      if (b.FindAdded(g, &c, &v)) {
        scratch_.push_back({g, *v, LabelCategory::kStream});
        continue;
      }
      for (const Label& l : b.base()) {
        if (l.name == g) {
          scratch_.push_back({l.name, l.value, LabelCategory::kStream});
          break;
        }
      }
    }
  }
  return Intern(false);
}

}  // namespace logq::pipeline
