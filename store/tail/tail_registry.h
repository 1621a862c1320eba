// TailRegistry: live tailing (`/loki/api/v1/tail`, legacy `/api/prom/tail`) for logq-store.
//
// How a tail works:
//  1. Open() (on an HTTP worker thread) checks `max_concurrent_tail_requests` for the
//     tenant, registers the session so that it starts collecting live entries, and then
//     reads the history: the last `limit` entries of the query in [start, now), sent first,
//     oldest first (Loki's behaviour). Live entries that the history already contains are
//     dropped, so nothing is sent twice and nothing pushed while the history was read is
//     lost.
//  2. Attach() (on the I/O thread, after the WebSocket upgrade) hands over the connection.
//  3. The ingester calls OnPushed() after each durable push. It only queues the entries
//     (bounded by `max_queued_bytes`; beyond that, lines are discarded and reported to the
//     tails as dropped entries), so tailing never slows pushes.
//  4. One dispatcher thread matches queued entries against each session's selector, runs
//     its pipeline, holds them `delay_for` (and until their timestamp has passed, as Loki
//     does) in a bounded time-ordered buffer, and sends frames of at most 100 entries. When
//     the client is slow (its connection already holds `max_buffered_frames` unsent
//     frames, or the next frame would take it over `max_buffered_bytes`), entries are dropped and reported in the next frame's `dropped_entries` (at
//     most 1000 kept), as Loki does; memory per tail stays bounded.
//  5. A tail ends when the client closes or the connection breaks (Detach via the handle's
//     destructor), or after `max_duration` (close 1011 "reached tail max duration limit").
//     Every resource of a session is released with its last handle.
//
// Metrics: logq_tail_active{tenant}, logq_tail_dropped_entries_total{tenant,reason},
// logq_tail_sent_entries_total{tenant}, logq_tail_queue_bytes.
//
// Thread-safety: all public methods are thread-safe. Owns its dispatcher thread; Stop()
// (or the destructor) joins it and closes every session (code 1001).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "query/base/clock.h"
#include "query/base/http_server.h"
#include "query/base/metrics.h"
#include "query/base/status.h"
#include "query/engine/engine.h"
#include "query/logql/ast.h"
#include "store/ingest/push_observer.h"

namespace logq::tail {

struct TailOptions {
  int64_t max_duration_ns = 3600LL * 1'000'000'000;  // querier.tail_max_duration; default 1h
  size_t max_queued_bytes = 64u << 20;  // pushed bytes waiting for the dispatcher; default 64 MiB
  size_t max_buffered_frames = 10;      // unsent frames per client before dropping (Loki: 10)
  // Unsent bytes per client before dropping (querier.tail_max_buffered_bytes): a frame is
  // only queued behind others if the total stays within this; default 1 MiB. A client's
  // connection holds at most this plus one frame.
  size_t max_buffered_bytes = 1u << 20;
  size_t max_entries_per_frame = 100;   // Loki's maxEntriesPerTailResponse
  size_t max_dropped_entries = 1000;    // dropped entries kept per frame (Loki: 1000)
  size_t max_pending_entries = 10'000;  // entries held for delay_for per session; default 10k
  int64_t tick_ns = 100'000'000;        // dispatcher wake-up for delays and timeouts; 100ms
};

struct TailRequest {
  std::string tenant;
  std::shared_ptr<const logql::LogExpr> expr;
  std::string query;         // the text, for logs
  int64_t start = 0;         // history from here (ns)
  size_t limit = 100;        // history entries
  int64_t delay_for_ns = 0;  // 0..5s
  bool legacy = false;       // /api/prom/tail frame format
};

// Runs the history query of a tail: a backward log query over [start, end) with `limit`.
using HistoryQueryFn = std::function<Result<engine::QueryResult>(const TailRequest& request, int64_t end)>;

class TailRegistry;

// Keeps one tail session registered; destroying the last copy ends the session.
class TailHandle {
 public:
  TailHandle(std::shared_ptr<TailRegistry> registry, uint64_t id) : registry_(std::move(registry)), id_(id) {}
  ~TailHandle();
  TailHandle(const TailHandle&) = delete;
  TailHandle& operator=(const TailHandle&) = delete;
  uint64_t id() const { return id_; }

 private:
  std::shared_ptr<TailRegistry> registry_;  // a handle keeps the registry alive
  uint64_t id_;
};

class TailRegistry final : public ingest::PushObserver, public std::enable_shared_from_this<TailRegistry> {
 public:
  // Starts the dispatcher thread. Shared: every TailHandle keeps the registry alive.
  static std::shared_ptr<TailRegistry> Create(const Clock* clock, MetricsRegistry* metrics,
                                              HistoryQueryFn history, TailOptions options);
  TailRegistry(const Clock* clock, MetricsRegistry* metrics, HistoryQueryFn history, TailOptions options);
  ~TailRegistry() override;

  // Starts a session: Loki's 400 "max concurrent tail requests limit exceeded, count > limit
  // (N > M)" (InvalidArgument) when the tenant already has `max_concurrent` tails; the
  // history query's error otherwise. The session lives until the handle is destroyed.
  Result<std::shared_ptr<TailHandle>> Open(TailRequest request, int max_concurrent);

  // Hands the upgraded connection to the session; frames start flowing. Does not block.
  void Attach(uint64_t id, std::shared_ptr<WebSocket> socket);

  // Number of sessions (open or attached) of `tenant`.
  size_t ActiveTails(std::string_view tenant) const;

  // Ends every session (close 1001) and joins the dispatcher. Idempotent.
  void Stop();

  // ingest::PushObserver
  bool Wants(std::string_view tenant) const override;
  void OnPushed(std::string_view tenant, std::vector<ingest::PushedStream>&& streams) override;

 private:
  friend class TailHandle;
  struct Session;
  struct Batch {
    std::string tenant;
    std::vector<ingest::PushedStream> streams;
    bool lines_dropped = false;  // over the queue cap: only labels and timestamps are kept
    size_t bytes = 0;
  };

  void Remove(uint64_t id);
  void DispatchLoop();
  void ProcessBatch(Batch& batch, const std::vector<std::shared_ptr<Session>>& sessions);
  void Flush(Session& s, int64_t now, bool force_all);
  // Sends s.ready as frames, dropping (and reporting) what the client cannot take now.
  void SendReady(Session& s, WebSocket& socket);
  std::string EncodeFrame(Session& s, size_t begin, size_t end);
  void SetActiveGauge(const std::string& tenant);

  const Clock* clock_;
  MetricsRegistry* metrics_;
  HistoryQueryFn history_;
  TailOptions options_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::map<uint64_t, std::shared_ptr<Session>> sessions_;
  std::map<std::string, size_t, std::less<>> per_tenant_;
  std::deque<Batch> queue_;
  size_t queued_bytes_ = 0;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::atomic<size_t> total_sessions_{0};
  std::thread dispatcher_;
};

}  // namespace logq::tail
