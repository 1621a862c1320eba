#include "store/querier/querier.h"

#include <algorithm>
#include <set>

#include "store/chunk/chunk.h"

namespace logq::querier {

std::vector<std::string> StoreQuerier::LabelNames(std::string_view tenant, const std::vector<Matcher>& matchers,
                                                  int64_t start, int64_t end) const {
  std::set<std::string> names;
  for (const auto& s : registry_->Match(tenant, matchers, start, end)) {
    for (const Label& l : *s.labels) names.insert(l.name);
  }
  return {names.begin(), names.end()};
}

std::vector<std::string> StoreQuerier::LabelValues(std::string_view tenant, std::string_view name,
                                                   const std::vector<Matcher>& matchers, int64_t start,
                                                   int64_t end) const {
  std::set<std::string> values;
  for (const auto& s : registry_->Match(tenant, matchers, start, end)) {
    if (const std::string* v = s.labels->Get(name)) values.insert(*v);
  }
  return {values.begin(), values.end()};
}

std::vector<std::shared_ptr<const Labels>> StoreQuerier::Series(
    std::string_view tenant, const std::vector<std::vector<Matcher>>& selectors, int64_t start, int64_t end) const {
  std::map<uint64_t, std::shared_ptr<const Labels>> seen;
  if (selectors.empty()) {
    for (auto& s : registry_->Match(tenant, {}, start, end)) seen.emplace(s.fp, s.labels);
  }
  for (const auto& sel : selectors) {
    for (auto& s : registry_->Match(tenant, sel, start, end)) seen.emplace(s.fp, s.labels);
  }
  std::vector<std::shared_ptr<const Labels>> out;
  for (auto& [_, l] : seen) out.push_back(l);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->ToString() < b->ToString(); });
  return out;
}

Result<std::vector<StreamResult>> StoreQuerier::SelectLogs(std::string_view tenant, const SelectParams& p) const {
  std::vector<StreamResult> out;
  if (p.end <= p.start || p.limit == 0) return out;
  auto reader = db_->NewReader();
  struct Candidate {
    int64_t ts;
    size_t stream;
    size_t index;
  };
  std::vector<Candidate> all;
  for (const auto& s : registry_->Match(tenant, p.matchers, p.start, p.end)) {
    StreamResult sr;
    sr.labels = s.labels;
    ASSIGN_OR_RETURN(auto refs, reader->ListChunks(tenant, s.fp, p.start, p.end));
    for (const auto& ref : refs) {
      ASSIGN_OR_RETURN(std::string bytes, reader->GetChunk(tenant, ref));
      ASSIGN_OR_RETURN(auto chunk, chunk::ChunkReader::Open(bytes));
      auto it = chunk->Iterate(p.start, p.end, true);
      while (it->Next()) sr.entries.push_back({it->entry().ts, std::string(it->entry().line)});
      RETURN_IF_ERROR(it->status());
    }
    std::vector<Label> md;
    Status st;
    RETURN_IF_ERROR(reader->ScanHead(tenant, s.fp, p.start, p.end, [&](const index::HeadRecord& r) {
      std::string_view line;
      st = index::DecodeHeadValue(r.value, &line, &md);
      if (!st.ok()) return false;
      sr.entries.push_back({r.ts, std::string(line)});
      return true;
    }));
    RETURN_IF_ERROR(st);
    auto less = [](const LogEntry& a, const LogEntry& b) { return a.ts < b.ts || (a.ts == b.ts && a.line < b.line); };
    std::sort(sr.entries.begin(), sr.entries.end(), less);
    sr.entries.erase(std::unique(sr.entries.begin(), sr.entries.end(),
                                 [](const LogEntry& a, const LogEntry& b) { return a.ts == b.ts && a.line == b.line; }),
                     sr.entries.end());
    if (!p.forward) std::reverse(sr.entries.begin(), sr.entries.end());
    if (sr.entries.size() > p.limit) sr.entries.resize(p.limit);
    if (sr.entries.empty()) continue;
    for (size_t i = 0; i < sr.entries.size(); ++i) all.push_back({sr.entries[i].ts, out.size(), i});
    out.push_back(std::move(sr));
  }
  // Global limit across streams: keep the `limit` first entries in query direction.
  if (all.size() > p.limit) {
    auto cmp = [&](const Candidate& a, const Candidate& b) { return p.forward ? a.ts < b.ts : a.ts > b.ts; };
    std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(p.limit - 1), all.end(), cmp);
    const Candidate pivot = all[p.limit - 1];
    // Keep entries strictly before the pivot, then fill ties in stream order.
    std::vector<size_t> keep(out.size(), 0);
    size_t kept = 0;
    for (const auto& c : all) {
      if (cmp(c, pivot)) { keep[c.stream]++; kept++; }
    }
    // Entries of each stream are in direction order, so keeping a prefix per stream works.
    for (size_t s = 0; s < out.size() && kept < p.limit; ++s) {
      while (kept < p.limit && keep[s] < out[s].entries.size() && out[s].entries[keep[s]].ts == pivot.ts) {
        keep[s]++;
        kept++;
      }
    }
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
  auto reader = db_->NewReader();
  for (const auto& s : registry_->Match(tenant, matchers, start, end)) {
    st.streams++;
    ASSIGN_OR_RETURN(auto refs, reader->ListChunks(tenant, s.fp, start, end));
    for (const auto& r : refs) {
      st.chunks++;
      st.bytes += r.raw_bytes;
      st.entries += r.entries;
    }
    RETURN_IF_ERROR(reader->ScanHead(tenant, s.fp, start, end, [&](const index::HeadRecord& r) {
      st.entries++;
      st.bytes += r.value.size() - 1;
      return true;
    }));
  }
  return st;
}

}  // namespace logq::querier
