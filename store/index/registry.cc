#include "store/index/registry.h"

#include <algorithm>
#include <mutex>
#include <xxhash.h>

namespace logq::index {

Status Registry::Load(Db* db) {
  std::unique_lock l(mu_);
  Status bad;
  RETURN_IF_ERROR(db->ForEachStream([&](std::string_view tenant, uint64_t fp, std::string_view text) {
    auto parsed = ParseLabels(text);
    if (!parsed.ok()) {
      bad = DataLoss("unreadable stream labels in index: " + parsed.status().message());
      return;
    }
    Labels labels = std::move(parsed).value();
    labels.Sort();
    Tenant* t = GetOrCreateTenantLocked(tenant);
    Stream& s = t->by_fp[fp];
    s.fp = fp;
    s.text = std::string(text);
    s.labels = std::make_shared<const Labels>(std::move(labels));
    t->by_text[s.text] = fp;
  }));
  RETURN_IF_ERROR(bad);
  return db->ForEachPosting([&](std::string_view tenant, uint32_t day, uint64_t fp) {
    Tenant* t = GetOrCreateTenantLocked(tenant);
    auto it = t->by_fp.find(fp);
    if (it == t->by_fp.end()) return;  // posting without stream record: ignore
    auto& days = it->second.days;
    auto pos = std::lower_bound(days.begin(), days.end(), day);
    if (pos == days.end() || *pos != day) days.insert(pos, day);
  });
}

Registry::Tenant* Registry::GetOrCreateTenantLocked(std::string_view tenant) {
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) it = tenants_.emplace(std::string(tenant), Tenant{}).first;
  return &it->second;
}

Registry::Resolution Registry::Resolve(std::string_view tenant, const std::string& text) const {
  std::shared_lock l(mu_);
  uint64_t fp = XXH3_64bits(text.data(), text.size());
  auto tit = tenants_.find(tenant);
  if (tit == tenants_.end()) return {fp, true};
  const Tenant& t = tit->second;
  auto known = t.by_text.find(text);
  if (known != t.by_text.end()) return {known->second, false};
  // A different label set owns this hash: probe to the next free fingerprint.
  while (t.by_fp.count(fp)) ++fp;
  return {fp, true};
}

bool Registry::NeedsPosting(std::string_view tenant, uint64_t fp, uint32_t day) const {
  std::shared_lock l(mu_);
  auto tit = tenants_.find(tenant);
  if (tit == tenants_.end()) return true;
  auto it = tit->second.by_fp.find(fp);
  if (it == tit->second.by_fp.end()) return true;
  return !std::binary_search(it->second.days.begin(), it->second.days.end(), day);
}

void Registry::Commit(std::string_view tenant, uint64_t fp, const Labels& sorted_labels,
                      const std::string& text, uint32_t day) {
  std::unique_lock l(mu_);
  Tenant* t = GetOrCreateTenantLocked(tenant);
  Stream& s = t->by_fp[fp];
  if (!s.labels) {
    s.fp = fp;
    s.labels = std::make_shared<const Labels>(sorted_labels);
    s.text = text;
    t->by_text[text] = fp;
  }
  auto pos = std::lower_bound(s.days.begin(), s.days.end(), day);
  if (pos == s.days.end() || *pos != day) s.days.insert(pos, day);
}

size_t Registry::NumStreams(std::string_view tenant) const {
  std::shared_lock l(mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? 0 : it->second.by_fp.size();
}

size_t Registry::TotalStreams() const {
  std::shared_lock l(mu_);
  size_t n = 0;
  for (const auto& [_, t] : tenants_) n += t.by_fp.size();
  return n;
}

std::vector<std::string> Registry::Tenants() const {
  std::shared_lock l(mu_);
  std::vector<std::string> out;
  for (const auto& [name, _] : tenants_) out.push_back(name);
  return out;
}

std::vector<Registry::StreamInfo> Registry::Streams(std::string_view tenant) const {
  std::vector<StreamInfo> out;
  std::shared_lock l(mu_);
  auto tit = tenants_.find(tenant);
  if (tit == tenants_.end()) return out;
  out.reserve(tit->second.by_fp.size());
  for (const auto& [fp, s] : tit->second.by_fp) out.push_back({fp, s.labels, s.days});
  return out;
}

void Registry::RemoveDaysBefore(std::string_view tenant, uint64_t fp, uint32_t day) {
  std::unique_lock l(mu_);
  auto tit = tenants_.find(tenant);
  if (tit == tenants_.end()) return;
  auto it = tit->second.by_fp.find(fp);
  if (it == tit->second.by_fp.end()) return;
  auto& days = it->second.days;
  days.erase(days.begin(), std::lower_bound(days.begin(), days.end(), day));
}

void Registry::RemoveStream(std::string_view tenant, uint64_t fp) {
  std::unique_lock l(mu_);
  auto tit = tenants_.find(tenant);
  if (tit == tenants_.end()) return;
  auto it = tit->second.by_fp.find(fp);
  if (it == tit->second.by_fp.end()) return;
  tit->second.by_text.erase(it->second.text);
  tit->second.by_fp.erase(it);
  if (tit->second.by_fp.empty()) tenants_.erase(tit);
}

std::vector<StreamRef> Registry::Match(std::string_view tenant, const std::vector<Matcher>& matchers,
                                       int64_t from, int64_t through) const {
  std::vector<StreamRef> out;
  if (through <= from) return out;
  const uint32_t first_day = DayOf(from), last_day = DayOf(through - 1);
  std::shared_lock l(mu_);
  auto tit = tenants_.find(tenant);
  if (tit == tenants_.end()) return out;
  for (const auto& [fp, s] : tit->second.by_fp) {
    auto pos = std::lower_bound(s.days.begin(), s.days.end(), first_day);
    if (pos == s.days.end() || *pos > last_day) continue;
    if (!MatchesAll(matchers, *s.labels)) continue;
    out.push_back({fp, s.labels});
  }
  return out;
}

std::vector<StreamRef> Registry::MatchAnyDay(std::string_view tenant, const std::vector<Matcher>& matchers,
                                             int64_t from, int64_t through) const {
  std::vector<StreamRef> out;
  const uint32_t first_day = DayOf(from), last_day = through > from ? DayOf(through - 1) : 0;
  std::shared_lock l(mu_);
  auto tit = tenants_.find(tenant);
  if (tit == tenants_.end()) return out;
  for (const auto& [fp, s] : tit->second.by_fp) {
    if (!MatchesAll(matchers, *s.labels)) continue;
    auto pos = std::lower_bound(s.days.begin(), s.days.end(), first_day);
    const bool in = through > from && pos != s.days.end() && *pos <= last_day;
    out.push_back({fp, s.labels, in});
  }
  return out;
}

}  // namespace logq::index
