#include "store/querier/querier.h"

#include <algorithm>
#include <set>

#include "store/chunk/chunk.h"
#include "store/querier/stream_source.h"

namespace logq::querier {
namespace {

// Head bounds of the matched streams; no heads when there is no directory.
template <typename Matched>
std::vector<index::HeadBounds> LookupHeads(const index::HeadDirectory* heads, std::string_view tenant,
                                           const Matched& matched) {
  std::vector<index::HeadBounds> bounds;
  if (heads == nullptr) {
    bounds.assign(matched.size(), index::HeadBounds{});
    return bounds;
  }
  std::vector<uint64_t> fps;
  fps.reserve(matched.size());
  for (const auto& s : matched) fps.push_back(s.fp);
  heads->GetHeadBounds(tenant, fps, &bounds);
  return bounds;
}

}  // namespace

std::vector<index::StreamRef> StoreQuerier::MatchForMetadata(std::string_view tenant,
                                                             const std::vector<Matcher>& matchers, int64_t start,
                                                             int64_t end, HeadRule rule) const {
  std::vector<index::StreamRef> candidates = registry_->MatchAnyDay(tenant, matchers, start, end);
  std::vector<index::StreamRef> rest;
  std::vector<index::StreamRef> out;
  out.reserve(candidates.size());
  for (auto& s : candidates) (s.day_in_range ? out : rest).push_back(std::move(s));
  if (rest.empty()) return out;
  if (heads_ == nullptr) return out;  // no heads (tests, tools): streams without a day posting have no data here
  std::vector<index::HeadBounds> bounds = LookupHeads(heads_, tenant, rest);
  for (size_t i = 0; i < rest.size(); ++i) {
    const bool in = rule == HeadRule::kAnyTime ? bounds[i].present : bounds[i].Overlaps(start, end);
    if (in) out.push_back(std::move(rest[i]));
  }
  return out;
}

std::vector<std::string> StoreQuerier::LabelNames(std::string_view tenant, const std::vector<Matcher>& matchers,
                                                  int64_t start, int64_t end) const {
  std::set<std::string> names;
  for (const auto& s : MatchForMetadata(tenant, matchers, start, end, HeadRule::kAnyTime)) {
    for (const Label& l : *s.labels) names.insert(l.name);
  }
  return {names.begin(), names.end()};
}

std::vector<std::string> StoreQuerier::LabelValues(std::string_view tenant, std::string_view name,
                                                   const std::vector<Matcher>& matchers, int64_t start,
                                                   int64_t end) const {
  std::set<std::string> values;
  for (const auto& s : MatchForMetadata(tenant, matchers, start, end, HeadRule::kAnyTime)) {
    if (const std::string* v = s.labels->Get(name)) values.insert(*v);
  }
  return {values.begin(), values.end()};
}

std::vector<std::shared_ptr<const Labels>> StoreQuerier::Series(
    std::string_view tenant, const std::vector<std::vector<Matcher>>& selectors, int64_t start, int64_t end) const {
  std::map<uint64_t, std::shared_ptr<const Labels>> seen;
  if (selectors.empty()) {
    for (auto& s : MatchForMetadata(tenant, {}, start, end, HeadRule::kOverlapping)) seen.emplace(s.fp, s.labels);
  }
  for (const auto& sel : selectors) {
    for (auto& s : MatchForMetadata(tenant, sel, start, end, HeadRule::kOverlapping)) seen.emplace(s.fp, s.labels);
  }
  // Sort by canonical text, rendered once per series (not twice per comparison).
  std::vector<std::pair<std::string, std::shared_ptr<const Labels>>> keyed;
  keyed.reserve(seen.size());
  for (auto& [_, l] : seen) keyed.emplace_back(l->ToString(), l);
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::shared_ptr<const Labels>> out;
  out.reserve(keyed.size());
  for (auto& [_, l] : keyed) out.push_back(std::move(l));
  return out;
}

Result<std::vector<std::unique_ptr<engine::StreamSource>>> TenantQuerier::Select(const engine::SelectRequest& r) {
  std::vector<std::unique_ptr<engine::StreamSource>> out;
  auto matched = registry_->Match(tenant_, r.matchers, r.from, r.through);
  // Head bounds first, then the snapshot (head_directory.h).
  std::vector<index::HeadBounds> bounds = LookupHeads(heads_, tenant_, matched);
  std::shared_ptr<index::DbReader> reader = db_->NewReader();
  auto block_filter = MakeLiteralBlockFilter(r.required_literals);
  for (size_t i = 0; i < matched.size(); ++i) {
    out.push_back(std::make_unique<StoreStreamSource>(db_, reader, heads_, tenant_, matched[i].fp, matched[i].labels,
                                                      bounds[i], block_filter));
  }
  return out;
}

Result<std::vector<StreamResult>> StoreQuerier::SelectLogs(std::string_view tenant, const SelectParams& p) const {
  std::vector<StreamResult> out;
  if (p.end <= p.start || p.limit == 0) return out;
  TenantQuerier q = ForTenant(std::string(tenant));
  engine::SelectRequest req;
  req.matchers = p.matchers;
  req.from = p.start;
  req.through = p.end;
  ASSIGN_OR_RETURN(auto sources, q.Select(req));
  struct Candidate {
    int64_t ts;
    size_t stream;
    size_t index;
  };
  std::vector<Candidate> all;
  for (auto& src : sources) {
    StreamResult sr;
    sr.labels = std::make_shared<const Labels>(src->labels());
    RETURN_IF_ERROR(src->ForEach(p.start, p.end, p.forward, [&](int64_t ts, std::string_view line,
                                                                const std::vector<Label>&) {
      sr.entries.push_back({ts, std::string(line)});
      return sr.entries.size() < p.limit;
    }));
    if (sr.entries.empty()) continue;
    for (size_t i = 0; i < sr.entries.size(); ++i) all.push_back({sr.entries[i].ts, out.size(), i});
    out.push_back(std::move(sr));
  }
  // Global limit across streams: keep the `limit` first entries in query direction.
  if (all.size() > p.limit) {
    auto before = [&](const Candidate& a, const Candidate& b) {
      if (a.ts != b.ts) return p.forward ? a.ts < b.ts : a.ts > b.ts;
      return a.stream != b.stream ? a.stream < b.stream : a.index < b.index;
    };
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(p.limit), all.end(), before);
    all.resize(p.limit);
    std::vector<size_t> keep(out.size(), 0);
    for (const auto& c : all) keep[c.stream] = std::max(keep[c.stream], c.index + 1);
    std::vector<StreamResult> trimmed;
    for (size_t s = 0; s < out.size(); ++s) {
      if (keep[s] == 0) continue;
      out[s].entries.resize(keep[s]);
      trimmed.push_back(std::move(out[s]));
    }
    out = std::move(trimmed);
  }
  return out;
}

Result<IndexStats> StoreQuerier::Stats(std::string_view tenant, const std::vector<Matcher>& matchers, int64_t start,
                                       int64_t end) const {
  IndexStats st;
  auto matched = registry_->Match(tenant, matchers, start, end);
  std::vector<index::HeadBounds> bounds = LookupHeads(heads_, tenant, matched);
  auto reader = db_->NewReader();
  for (size_t i = 0; i < matched.size(); ++i) {
    const auto& s = matched[i];
    st.streams++;
    ASSIGN_OR_RETURN(auto refs, reader->ListChunks(tenant, s.fp, start, end));
    for (const auto& r : refs) {
      st.chunks++;
      st.bytes += r.raw_bytes;
      st.entries += r.entries;
    }
    if (!bounds[i].Overlaps(start, end)) continue;
    index::HeadSnapshot head;
    if (!heads_->SnapshotHead(tenant, s.fp, start, end, &head)) continue;
    st.entries += head.entries;
    st.bytes += head.line_bytes;
    st.chunks++;  // the head counts as one (open) chunk, as in Loki
  }
  return st;
}

}  // namespace logq::querier
