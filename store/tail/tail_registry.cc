#include "store/tail/tail_registry.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "query/base/units.h"
#include "query/pipeline/pipeline.h"

namespace logq::tail {
namespace {

void AppendJsonString(std::string_view s, std::string* out) {
  *out += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AppendLabelsObject(const Labels& l, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const Label& x : l) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(x.name, out);
    out->push_back(':');
    AppendJsonString(x.value, out);
  }
  out->push_back('}');
}

uint64_t EntryKey(std::string_view labels_text, int64_t ts, std::string_view line) {
  uint64_t h = std::hash<std::string_view>()(labels_text);
  h ^= static_cast<uint64_t>(ts) * 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  h ^= std::hash<std::string_view>()(line) + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  return h;
}

}  // namespace

// A tail's state. `socket` and `closing` are guarded by the registry's mutex; the history
// fields are written by Open before the session is attached; everything else belongs to
// the dispatcher thread.
struct TailRegistry::Session {
  uint64_t id = 0;
  TailRequest req;
  std::shared_ptr<const pipeline::Pipeline> pipeline;
  int64_t started_mono = 0;

  std::shared_ptr<WebSocket> socket;  // mu_
  bool closing = false;               // mu_

  // History (oldest first), written by Open.
  struct LabelSet {
    Labels labels;
    std::string text;
  };
  std::deque<LabelSet> history_labels;
  struct Out {
    int64_t ts;
    const Labels* labels;
    const std::string* text;
    std::string line;
  };
  std::vector<Out> history;
  std::unordered_set<uint64_t> history_keys;
  int64_t history_max_ts = INT64_MIN;
  bool history_sent = false;

  // Live state (dispatcher).
  struct StreamState {
    bool matches = false;
    std::unique_ptr<pipeline::StreamPipeline> pl;
  };
  std::unordered_map<uint64_t, StreamState> streams;
  struct Pending {
    int64_t ts;
    uint64_t seq;
    const pipeline::ResultLabels* labels;
    std::string line;
    bool operator>(const Pending& o) const { return ts != o.ts ? ts > o.ts : seq > o.seq; }
  };
  std::priority_queue<Pending, std::vector<Pending>, std::greater<Pending>> pending;
  uint64_t seq = 0;
  struct Dropped {
    Labels labels;
    std::string text;
    int64_t ts;
  };
  std::vector<Dropped> dropped;
  std::vector<Out> ready;  // scratch: entries of the frames being built
};

TailHandle::~TailHandle() { registry_->Remove(id_); }

std::shared_ptr<TailRegistry> TailRegistry::Create(const Clock* clock, MetricsRegistry* metrics,
                                                   HistoryQueryFn history, TailOptions options) {
  return std::make_shared<TailRegistry>(clock, metrics, std::move(history), options);
}

TailRegistry::TailRegistry(const Clock* clock, MetricsRegistry* metrics, HistoryQueryFn history, TailOptions options)
    : clock_(clock), metrics_(metrics), history_(std::move(history)), options_(options) {
  dispatcher_ = std::thread([this] { DispatchLoop(); });
}

TailRegistry::~TailRegistry() { Stop(); }

void TailRegistry::Stop() {
  std::vector<std::shared_ptr<WebSocket>> sockets;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [_, s] : sessions_) {
      if (s->socket) sockets.push_back(s->socket);
    }
  }
  cv_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& s : sockets) s->Close(1001, "server shutting down");
}

size_t TailRegistry::ActiveTails(std::string_view tenant) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = per_tenant_.find(tenant);
  return it == per_tenant_.end() ? 0 : it->second;
}

void TailRegistry::SetActiveGauge(const std::string& tenant) {
  auto it = per_tenant_.find(tenant);
  const double n = it == per_tenant_.end() ? 0 : static_cast<double>(it->second);
  metrics_->GetGauge("logq_tail_active", "Live tail connections, by tenant.", {{"tenant", tenant}})->Set(n);
}

Result<std::shared_ptr<TailHandle>> TailRegistry::Open(TailRequest request, int max_concurrent) {
  auto pl = pipeline::Pipeline::Make(request.expr->pipeline);
  if (!pl.ok()) return pl.status();
  auto s = std::make_shared<Session>();
  s->req = std::move(request);
  s->pipeline = std::move(pl).value();
  s->started_mono = clock_->MonotonicNanos();
  const std::string tenant = s->req.tenant;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return Unavailable("server is shutting down");
    size_t& n = per_tenant_[tenant];
    if (max_concurrent >= 0 && n >= static_cast<size_t>(max_concurrent)) {
      const size_t count = n + 1;
      if (n == 0) per_tenant_.erase(tenant);
      return InvalidArgument(
          fmt::format("max concurrent tail requests limit exceeded, count > limit ({} > {})", count, max_concurrent));
    }
    ++n;
    s->id = next_id_++;
    sessions_[s->id] = s;
    total_sessions_.fetch_add(1);
    SetActiveGauge(tenant);
  }
  // From here on the session collects live entries; the handle removes it on any exit.
  auto handle = std::make_shared<TailHandle>(shared_from_this(), s->id);

  auto hist = history_(s->req, clock_->NowNanos());
  if (!hist.ok()) return hist.status();
  for (const engine::LogStream& ls : hist->streams) {
    s->history_labels.push_back({ls.labels, ls.labels.ToString()});
    const auto& ll = s->history_labels.back();
    for (const engine::Entry& e : ls.entries) {
      s->history.push_back({e.ts, &ll.labels, &ll.text, e.line});
      s->history_keys.insert(EntryKey(ll.text, e.ts, e.line));
      s->history_max_ts = std::max(s->history_max_ts, e.ts);
    }
  }
  std::stable_sort(s->history.begin(), s->history.end(), [](const Session::Out& a, const Session::Out& b) {
    return a.ts < b.ts;
  });
  return handle;
}

void TailRegistry::Attach(uint64_t id, std::shared_ptr<WebSocket> socket) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end() || stopping_) {
      socket->Close(1011, "tail session ended");
      return;
    }
    it->second->socket = std::move(socket);
  }
  cv_.notify_all();
}

void TailRegistry::Remove(uint64_t id) {
  std::shared_ptr<Session> s;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    s = std::move(it->second);
    sessions_.erase(it);
    auto pt = per_tenant_.find(s->req.tenant);
    if (pt != per_tenant_.end() && --pt->second == 0) per_tenant_.erase(pt);
    total_sessions_.fetch_sub(1);
    SetActiveGauge(s->req.tenant);
  }
  // The dispatcher may still hold a reference for its current round; the session's memory
  // goes with the last one.
}

bool TailRegistry::Wants(std::string_view tenant) const {
  if (total_sessions_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<std::mutex> l(mu_);
  return per_tenant_.find(tenant) != per_tenant_.end();
}

void TailRegistry::OnPushed(std::string_view tenant, std::vector<ingest::PushedStream>&& streams) {
  Batch b;
  b.tenant = std::string(tenant);
  b.streams = std::move(streams);
  for (const auto& ps : b.streams) {
    for (const auto& e : ps.entries) b.bytes += e.line.size() + 32;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return;
    if (queued_bytes_ + b.bytes > options_.max_queued_bytes) {
      // The dispatcher is behind: keep only what dropped_entries reports.
      b.lines_dropped = true;
      size_t n = 0;
      for (auto& ps : b.streams) {
        for (auto& e : ps.entries) {
          std::string().swap(e.line);
          e.structured_metadata.clear();
          ++n;
        }
      }
      b.bytes = n * 32;
      if (queued_bytes_ + b.bytes > 2 * options_.max_queued_bytes) {
        metrics_
            ->GetCounter("logq_tail_dropped_entries_total", "Entries live tails could not deliver, by reason.",
                         {{"tenant", b.tenant}, {"reason", "queue_full"}})
            ->Inc(static_cast<double>(n));
        return;
      }
    }
    queued_bytes_ += b.bytes;
    queue_.push_back(std::move(b));
  }
  cv_.notify_one();
}

void TailRegistry::ProcessBatch(Batch& batch, const std::vector<std::shared_ptr<Session>>& sessions) {
  for (const auto& sp : sessions) {
    Session& s = *sp;
    if (s.req.tenant != batch.tenant) continue;
    size_t dropped_here = 0;
    for (const ingest::PushedStream& ps : batch.streams) {
      auto [it, inserted] = s.streams.try_emplace(ps.fp);
      Session::StreamState& st = it->second;
      if (inserted) {
        st.matches = MatchesAll(s.req.expr->matchers, ps.labels);
        if (st.matches) st.pl = s.pipeline->ForStream(ps.labels);
      }
      if (!st.matches) continue;
      for (const api::PushEntry& e : ps.entries) {
        if (batch.lines_dropped) {
          if (s.dropped.size() < options_.max_dropped_entries) s.dropped.push_back({ps.labels, ps.labels.ToString(), e.timestamp_ns});
          ++dropped_here;
          continue;
        }
        std::string_view out;
        const pipeline::ResultLabels* rl = nullptr;
        if (!st.pl->Process(e.timestamp_ns, e.line, e.structured_metadata, &out, &rl)) continue;
        if (s.pending.size() >= options_.max_pending_entries) {
          const Session::Pending& old = s.pending.top();
          if (s.dropped.size() < options_.max_dropped_entries) s.dropped.push_back({old.labels->labels, old.labels->text, old.ts});
          s.pending.pop();
          ++dropped_here;
        }
        s.pending.push({e.timestamp_ns, s.seq++, rl, std::string(out)});
      }
    }
    if (dropped_here > 0) {
      metrics_
          ->GetCounter("logq_tail_dropped_entries_total", "Entries live tails could not deliver, by reason.",
                       {{"tenant", s.req.tenant}, {"reason", batch.lines_dropped ? "queue_full" : "pending_full"}})
          ->Inc(static_cast<double>(dropped_here));
    }
  }
}

std::string TailRegistry::EncodeFrame(Session& s, size_t begin, size_t end) {
  std::string out;
  const bool legacy = s.req.legacy;
  out += "{\"streams\":[";
  size_t i = begin;
  bool first_stream = true;
  while (i < end) {
    // One stream object per run of consecutive entries with the same labels, so the frame
    // keeps the entries' order.
    size_t j = i;
    while (j < end && *s.ready[j].text == *s.ready[i].text) ++j;
    if (!first_stream) out.push_back(',');
    first_stream = false;
    if (legacy) {
      out += "{\"labels\":";
      AppendJsonString(*s.ready[i].text, &out);
      out += ",\"entries\":[";
    } else {
      out += "{\"stream\":";
      AppendLabelsObject(*s.ready[i].labels, &out);
      out += ",\"values\":[";
    }
    for (size_t k = i; k < j; ++k) {
      if (k > i) out.push_back(',');
      if (legacy) {
        out += "{\"ts\":\"" + FormatRFC3339Nano(s.ready[k].ts) + "\",\"line\":";
        AppendJsonString(s.ready[k].line, &out);
        out.push_back('}');
      } else {
        out += "[\"" + std::to_string(s.ready[k].ts) + "\",";
        AppendJsonString(s.ready[k].line, &out);
        out.push_back(']');
      }
    }
    out += "]}";
    i = j;
  }
  out += "]";
  if (!s.dropped.empty()) {
    out += ",\"dropped_entries\":[";
    for (size_t k = 0; k < s.dropped.size(); ++k) {
      if (k) out.push_back(',');
      const auto& d = s.dropped[k];
      if (legacy) {
        out += "{\"Timestamp\":\"" + FormatRFC3339Nano(d.ts) + "\",\"Labels\":";
        AppendJsonString(d.text, &out);
        out.push_back('}');
      } else {
        out += "{\"labels\":";
        AppendLabelsObject(d.labels, &out);
        out += ",\"timestamp\":\"" + std::to_string(d.ts) + "\"}";
      }
    }
    out += "]";
  }
  out += "}";
  return out;
}

void TailRegistry::Flush(Session& s, int64_t now, bool force_all) {
  std::shared_ptr<WebSocket> socket;
  {
    std::lock_guard<std::mutex> l(mu_);
    socket = s.socket;
  }
  if (!socket) return;
  const int64_t delay = s.req.delay_for_ns;
  s.ready.clear();
  while (!s.pending.empty()) {
    const Session::Pending& p = s.pending.top();
    if (!force_all && !(now > p.ts + delay)) break;
    // Entries the history already delivered (pushed while it was being read) are skipped.
    if (!(p.ts <= s.history_max_ts && s.history_keys.count(EntryKey(p.labels->text, p.ts, p.line)))) {
      s.ready.push_back({p.ts, &p.labels->labels, &p.labels->text, std::move(const_cast<std::string&>(p.line))});
    }
    s.pending.pop();
  }
  SendReady(s, *socket);
}

void TailRegistry::SendReady(Session& s, WebSocket& socket) {
  size_t sent = 0, dropped = 0;
  for (size_t b = 0; b < s.ready.size(); b += options_.max_entries_per_frame) {
    const size_t e = std::min(s.ready.size(), b + options_.max_entries_per_frame);
    std::string frame;
    // A client that is behind by frames or by bytes loses these entries; a client with
    // nothing queued always gets the frame, so one big frame cannot block it forever.
    bool fits = socket.QueuedMessages() < options_.max_buffered_frames;
    if (fits) {
      frame = EncodeFrame(s, b, e);
      const size_t queued = socket.QueuedBytes();
      fits = queued == 0 || queued + frame.size() <= options_.max_buffered_bytes;
    }
    if (!fits) {
      for (size_t k = b; k < e; ++k) {
        if (s.dropped.size() < options_.max_dropped_entries) s.dropped.push_back({*s.ready[k].labels, *s.ready[k].text, s.ready[k].ts});
      }
      dropped += e - b;
      continue;
    }
    if (!socket.SendText(std::move(frame))) break;
    s.dropped.clear();
    sent += e - b;
  }
  s.ready.clear();
  if (sent > 0) {
    metrics_->GetCounter("logq_tail_sent_entries_total", "Entries sent to live tails.", {{"tenant", s.req.tenant}})
        ->Inc(static_cast<double>(sent));
  }
  if (dropped > 0) {
    metrics_
        ->GetCounter("logq_tail_dropped_entries_total", "Entries live tails could not deliver, by reason.",
                     {{"tenant", s.req.tenant}, {"reason", "slow_client"}})
        ->Inc(static_cast<double>(dropped));
  }
}

void TailRegistry::DispatchLoop() {
  for (;;) {
    std::deque<Batch> work;
    std::vector<std::shared_ptr<Session>> all;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, std::chrono::nanoseconds(options_.tick_ns), [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      work.swap(queue_);
      queued_bytes_ = 0;
      all.reserve(sessions_.size());
      for (auto& [_, s] : sessions_) all.push_back(s);
    }
    for (Batch& b : work) ProcessBatch(b, all);
    const int64_t now = clock_->NowNanos();
    const int64_t mono = clock_->MonotonicNanos();
    for (const auto& sp : all) {
      Session& s = *sp;
      std::shared_ptr<WebSocket> socket;
      bool closing;
      {
        std::lock_guard<std::mutex> l(mu_);
        socket = s.socket;
        closing = s.closing;
      }
      if (!socket || closing) continue;
      if (!s.history_sent) {
        s.history_sent = true;
        // The history is sent whole (the client has not had a chance to read yet); its size
        // is bounded by the history query's limit and it was held in memory already.
        s.ready = std::move(s.history);
        for (size_t b = 0; b < s.ready.size(); b += options_.max_entries_per_frame) {
          const size_t e = std::min(s.ready.size(), b + options_.max_entries_per_frame);
          socket->SendText(EncodeFrame(s, b, e));
        }
        s.ready.clear();
        s.history.clear();
        s.history_labels.clear();
      }
      Flush(s, now, false);
      if (options_.max_duration_ns > 0 && mono - s.started_mono >= options_.max_duration_ns) {
        {
          std::lock_guard<std::mutex> l(mu_);
          s.closing = true;
        }
        socket->Close(1011, "reached tail max duration limit");
      }
    }
  }
}

}  // namespace logq::tail
