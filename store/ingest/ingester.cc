#include "store/ingest/ingester.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "store/ingest/wal_records.h"

#include "query/base/units.h"

namespace logq::ingest {
namespace {

constexpr size_t kMaxReportedErrors = 10;
// Label text and values quoted in error messages are cut to this many bytes, so an error
// body stays small (≤ 4 KiB) however long the offending labels are.
constexpr size_t kMaxQuotedBytes = 160;

std::string Clip(std::string_view s) {
  if (s.size() <= kMaxQuotedBytes) return std::string(s);
  return fmt::format("{}...({} bytes)", s.substr(0, kMaxQuotedBytes), s.size());
}

// Collects validation errors of one request: the first kMaxReportedErrors messages verbatim,
// then a count.
class ErrorReport {
 public:
  void Add(std::string msg) {
    ++count_;
    if (messages_.size() < kMaxReportedErrors) messages_.push_back(std::move(msg));
  }
  bool empty() const { return count_ == 0; }
  size_t count() const { return count_; }
  std::string Render(size_t rejected_entries, size_t total_entries) const {
    std::string out;
    for (const auto& m : messages_) {
      out += m;
      out += '\n';
    }
    if (count_ > messages_.size()) out += fmt::format("... and {} more errors\n", count_ - messages_.size());
    out += fmt::format("total ignored: {} out of {} entries; the other {} entries were stored",
                       rejected_entries, total_entries, total_entries - rejected_entries);
    return out;
  }

 private:
  size_t count_ = 0;
  std::vector<std::string> messages_;
};

struct ValidStream {
  uint64_t fp = 0;
  bool new_stream = false;
  Labels labels;
  std::string text;
  std::vector<api::PushEntry*> entries;
  int64_t bytes = 0;
  int64_t min_ts = INT64_MAX;
  int64_t max_ts = INT64_MIN;
};

int64_t EntrySize(const api::PushEntry& e) {
  int64_t n = static_cast<int64_t>(e.line.size());
  for (const Label& l : e.structured_metadata) n += static_cast<int64_t>(l.name.size() + l.value.size());
  return n;
}

}  // namespace

Ingester::Ingester(index::Db* db, index::Registry* registry,
                   std::function<Limits(std::string_view)> limits_for, const Clock* clock,
                   MetricsRegistry* metrics, IngesterOptions options)
    : db_(db),
      registry_(registry),
      limits_for_(std::move(limits_for)),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      rate_limiter_(clock) {
  chunks_cut_ = metrics_->GetCounter("logq_chunks_cut_total", "Chunks cut from stream heads.");
  chunk_raw_bytes_ = metrics_->GetCounter("logq_chunk_raw_bytes_total", "Raw line bytes written into chunks.");
  chunk_encoded_bytes_ =
      metrics_->GetCounter("logq_chunk_encoded_bytes_total", "Encoded (compressed) bytes of chunks written.");
  blocks_reencoded_ = metrics_->GetCounter(
      "logq_head_blocks_reencoded_total",
      "Head blocks a cut had to decode and re-encode because they overlapped another block in time.");
  checkpoints_ = metrics_->GetCounter("logq_wal_checkpoints_total", "Checkpoints of the heads written.");
  replay_bad_records_ = metrics_->GetCounter(
      "logq_wal_replay_bad_records_total", "WAL or checkpoint records that could not be decoded at replay (skipped).");
  metrics_->AddCollector([this] {
    metrics_->GetGauge("logq_head_memory_bytes", "Bytes of stream heads in memory (compressed blocks and open blocks).")
        ->Set(static_cast<double>(head_mem_.load()));
    metrics_->GetGauge("logq_head_memory_limit_bytes", "The head memory limit (ingester.head_memory_limit).")
        ->Set(static_cast<double>(options_.head_memory_limit));
  });
}

Ingester::~Ingester() = default;

void Ingester::CountDiscarded(std::string_view tenant, std::string_view reason, double entries, double bytes) {
  MetricLabels l = {{"reason", std::string(reason)}, {"tenant", std::string(tenant)}};
  metrics_->GetCounter("logq_discarded_lines_total", "Lines rejected at ingest, by reason.", l)->Inc(entries);
  metrics_->GetCounter("logq_discarded_bytes_total", "Bytes rejected at ingest, by reason.", l)->Inc(bytes);
}

void Ingester::ChargeMemory(int64_t delta) {
  const int64_t after = head_mem_.fetch_add(delta) + delta;
  if (delta > 0 && after >= options_.head_memory_limit / 4 * 3 && after - delta < options_.head_memory_limit / 4 * 3 &&
      cut_wakeup_) {
    cut_wakeup_();
  }
}

std::shared_ptr<StreamHead> Ingester::FindHead(std::string_view tenant, uint64_t fp) const {
  std::lock_guard<std::mutex> l(heads_mu_);
  auto it = heads_.find({std::string(tenant), fp});
  return it == heads_.end() ? nullptr : it->second;
}

std::shared_ptr<StreamHead> Ingester::GetOrCreateHead(std::string_view tenant, uint64_t fp, const std::string& text) {
  std::lock_guard<std::mutex> l(heads_mu_);
  auto& h = heads_[{std::string(tenant), fp}];
  if (!h) h = std::make_shared<StreamHead>(std::string(tenant), fp, text, &options_.chunk);
  return h;
}

void Ingester::NotePostingDay(std::string_view tenant, uint32_t day, StreamWrite* w) const {
  if (std::find(w->new_days.begin(), w->new_days.end(), day) != w->new_days.end()) return;
  if (w->new_stream || registry_->NeedsPosting(tenant, w->fp, day)) w->new_days.push_back(day);
}

Status Ingester::CommitStreams(std::string_view tenant, std::vector<StreamWrite>& writes) {
  auto batch = db_->NewWriteBatch();
  for (const StreamWrite& w : writes) {
    if (w.new_stream) batch->PutStream(tenant, w.fp, *w.text);
    for (uint32_t d : w.new_days) batch->PutPosting(tenant, d, w.fp);
  }
  // Not synced: the WAL record (written after this) carries the label text, and replay
  // writes stream records and postings again if they were lost.
  if (batch->Count() > 0) RETURN_IF_ERROR(db_->Write(batch.get(), /*sync=*/false));
  for (const StreamWrite& w : writes) {
    for (uint32_t d : w.new_days) registry_->Commit(tenant, w.fp, *w.labels, *w.text, d);
  }
  return Status::OK();
}

Status Ingester::Push(std::string_view tenant, api::PushRequest&& req, PushStats* stats) {
  const Limits limits = limits_for_(tenant);
  const int64_t now = clock_->NowNanos();
  const int64_t oldest = now - limits.reject_old_samples_max_age;
  const int64_t newest = now + limits.creation_grace_period;

  ErrorReport errors;
  size_t total_entries = 0, rejected_entries = 0;
  std::vector<ValidStream> valid;
  valid.reserve(req.streams.size());

  for (api::PushStream& ps : req.streams) {
    total_entries += ps.entries.size();
    if (ps.entries.empty()) continue;
    int64_t stream_bytes = 0;
    for (const auto& e : ps.entries) stream_bytes += EntrySize(e);
    auto reject_stream = [&](std::string_view reason, std::string msg) {
      CountDiscarded(tenant, reason, static_cast<double>(ps.entries.size()), static_cast<double>(stream_bytes));
      rejected_entries += ps.entries.size();
      errors.Add(std::move(msg));
    };

    auto parsed = ParseLabels(ps.labels);
    if (!parsed.ok()) {
      reject_stream("invalid_labels", fmt::format("Error parsing labels '{}' with error: {}", Clip(ps.labels),
                                                  Clip(parsed.status().message())));
      continue;
    }
    ValidStream vs;
    vs.labels = std::move(parsed).value();
    if (vs.labels.empty()) {
      reject_stream("missing_labels", "error at least one label pair is required per stream");
      continue;
    }
    vs.labels.Sort();
    vs.text = vs.labels.ToString();
    const std::string shown = Clip(vs.text);
    if (static_cast<int>(vs.labels.size()) > limits.max_label_names_per_series) {
      reject_stream("max_label_names_per_series",
                    fmt::format("entry for stream '{}' has {} label names; limit {}", shown,
                                vs.labels.size(), limits.max_label_names_per_series));
      continue;
    }
    bool labels_ok = true;
    std::string_view prev;
    for (const Label& l : vs.labels) {
      if (l.name.size() >= 2 && l.name[0] == '_' && l.name[1] == '_') {
        reject_stream("invalid_labels", fmt::format("Error parsing labels '{}' with error: label name '{}' is "
                                                    "reserved (names starting with __ are internal)",
                                                    shown, l.name));
      } else if (static_cast<int>(l.name.size()) > limits.max_label_name_length) {
        reject_stream("label_name_too_long", fmt::format("stream '{}' has label name too long: '{}'", shown, Clip(l.name)));
      } else if (static_cast<int>(l.value.size()) > limits.max_label_value_length) {
        reject_stream("label_value_too_long",
                      fmt::format("stream '{}' has label value too long: '{}'", shown, Clip(l.value)));
      } else if (l.name == prev) {
        reject_stream("duplicate_label_names",
                      fmt::format("stream '{}' has duplicate label name: '{}'", shown, Clip(l.name)));
      } else if (!IsValidUtf8(l.value)) {
        reject_stream("invalid_labels", fmt::format("Error parsing labels '{}' with error: value of label '{}' "
                                                    "is not valid UTF-8",
                                                    shown, l.name));
      } else {
        prev = l.name;
        continue;
      }
      labels_ok = false;
      break;
    }
    if (!labels_ok) continue;

    vs.entries.reserve(ps.entries.size());
    for (api::PushEntry& e : ps.entries) {
      const int64_t size = EntrySize(e);
      auto reject_entry = [&](std::string_view reason, std::string msg) {
        CountDiscarded(tenant, reason, 1, static_cast<double>(size));
        ++rejected_entries;
        errors.Add(std::move(msg));
      };
      if (limits.reject_old_samples && e.timestamp_ns < oldest) {
        reject_entry("greater_than_max_sample_age",
                     fmt::format("entry for stream '{}' has timestamp too old: {}, oldest acceptable timestamp is: {}",
                                 shown, FormatRFC3339(e.timestamp_ns), FormatRFC3339(oldest)));
        continue;
      }
      if (e.timestamp_ns > newest) {
        reject_entry("too_far_in_future", fmt::format("entry for stream '{}' has timestamp too new: {}", shown,
                                                      FormatRFC3339(e.timestamp_ns)));
        continue;
      }
      if (limits.max_line_size > 0 && static_cast<int64_t>(e.line.size()) > limits.max_line_size) {
        if (limits.max_line_size_truncate) {
          metrics_->GetCounter("logq_truncated_lines_total", "Lines truncated to max_line_size.",
                               {{"tenant", std::string(tenant)}})->Inc();
          e.line.resize(static_cast<size_t>(limits.max_line_size));
        } else {
          reject_entry("line_too_long",
                       fmt::format("Max entry size '{}' bytes exceeded for stream '{}' while adding an entry with "
                                   "length '{}' bytes",
                                   limits.max_line_size, shown, e.line.size()));
          continue;
        }
      }
      if (!e.structured_metadata.empty()) {
        int64_t md_size = 0;
        for (const Label& l : e.structured_metadata) md_size += static_cast<int64_t>(l.name.size() + l.value.size());
        if (limits.max_structured_metadata_size > 0 && md_size > limits.max_structured_metadata_size) {
          reject_entry("structured_metadata_too_large",
                       fmt::format("stream '{}' has structured metadata too large: '{}' bytes, limit: '{}'",
                                   shown, md_size, limits.max_structured_metadata_size));
          continue;
        }
        if (limits.max_structured_metadata_entries_count > 0 &&
            static_cast<int>(e.structured_metadata.size()) > limits.max_structured_metadata_entries_count) {
          reject_entry("structured_metadata_too_many",
                       fmt::format("stream '{}' has too many structured metadata labels: '{}', limit: '{}'",
                                   shown, e.structured_metadata.size(),
                                   limits.max_structured_metadata_entries_count));
          continue;
        }
      }
      vs.bytes += EntrySize(e);
      vs.min_ts = std::min(vs.min_ts, e.timestamp_ns);
      vs.max_ts = std::max(vs.max_ts, e.timestamp_ns);
      vs.entries.push_back(&e);
    }
    if (!vs.entries.empty()) valid.push_back(std::move(vs));
  }

  // Rate limit: the whole request, before anything is written.
  int64_t valid_bytes = 0;
  size_t valid_entries = 0;
  for (const auto& vs : valid) {
    valid_bytes += vs.bytes;
    valid_entries += vs.entries.size();
  }
  if (valid_entries > 0 &&
      !rate_limiter_.Allow(tenant, limits.ingestion_rate_mb * (1 << 20), limits.ingestion_burst_size_mb * (1 << 20),
                           static_cast<double>(valid_bytes))) {
    CountDiscarded(tenant, "rate_limited", static_cast<double>(valid_entries), static_cast<double>(valid_bytes));
    return ResourceExhausted(fmt::format(
        "Ingestion rate limit exceeded for user {} (limit: {} bytes/sec) while attempting to ingest '{}' lines "
        "totaling '{}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be "
        "increased",
        tenant, static_cast<int64_t>(limits.ingestion_rate_mb * (1 << 20)), valid_entries, valid_bytes));
  }

  // From resolving streams to committing them, retention may not drop a stream record.
  std::shared_lock<std::shared_mutex> streams_lock(streams_mu_);
  // Resolve fingerprints and apply the active stream limit.
  std::string stream_limit_error;
  size_t existing = registry_->NumStreams(tenant), added = 0;
  std::vector<ValidStream*> to_write;
  to_write.reserve(valid.size());
  for (auto& vs : valid) {
    auto r = registry_->Resolve(tenant, vs.text);
    vs.fp = r.fp;
    vs.new_stream = r.new_stream;
    if (vs.new_stream && limits.max_global_streams_per_user > 0 &&
        existing + added >= static_cast<size_t>(limits.max_global_streams_per_user)) {
      CountDiscarded(tenant, "stream_limit", static_cast<double>(vs.entries.size()), static_cast<double>(vs.bytes));
      stream_limit_error = fmt::format(
          "Maximum active stream limit exceeded, reduce the number of active streams (reduce labels or reduce label "
          "values), or contact your administrator to see if the limit can be increased, user: '{}' (limit: {}), "
          "stream: '{}'",
          tenant, limits.max_global_streams_per_user, Clip(vs.text));
      continue;
    }
    if (vs.new_stream) ++added;
    to_write.push_back(&vs);
  }
  size_t accepted = 0;
  int64_t accepted_bytes = 0;
  for (ValidStream* vs : to_write) {
    accepted += vs->entries.size();
    accepted_bytes += vs->bytes;
  }

  if (accepted > 0) {
    // Head memory: refuse (429) while the heads are full; the cutter is freeing memory.
    if (head_mem_.load() >= options_.head_memory_limit) {
      CountDiscarded(tenant, "head_memory_limit", static_cast<double>(accepted), static_cast<double>(accepted_bytes));
      if (cut_wakeup_) cut_wakeup_();
      return ResourceExhausted(fmt::format(
          "ingester head memory limit reached ({} bytes, ingester.head_memory_limit): stream heads are being cut "
          "into chunks; retry later. {} lines totaling {} bytes were not stored",
          options_.head_memory_limit, accepted, accepted_bytes));
    }

    // New stream records and day postings.
    std::vector<StreamWrite> writes;
    for (ValidStream* vs : to_write) {
      StreamWrite w;
      w.fp = vs->fp;
      w.new_stream = vs->new_stream;
      w.labels = &vs->labels;
      w.text = &vs->text;
      uint32_t last_day = UINT32_MAX;
      for (const api::PushEntry* e : vs->entries) {
        const uint32_t day = index::DayOf(e->timestamp_ns);
        if (day == last_day) continue;
        last_day = day;
        NotePostingDay(tenant, day, &w);
      }
      if (w.new_stream || !w.new_days.empty()) writes.push_back(std::move(w));
    }

    // The WAL record of everything accepted.
    walrec::PushEncoder enc(tenant, to_write.size());
    for (ValidStream* vs : to_write) {
      enc.Stream(vs->text, vs->entries.size());
      for (const api::PushEntry* e : vs->entries) enc.Entry(e->timestamp_ns, e->line, e->structured_metadata);
    }

    uint64_t epoch;
    {
      std::lock_guard<std::mutex> l(epoch_mu_);
      epoch = epoch_;
      epoch_pending_[epoch]++;
    }
    auto leave_epoch = [&] {
      std::lock_guard<std::mutex> l(epoch_mu_);
      if (--epoch_pending_[epoch] == 0) {
        epoch_pending_.erase(epoch);
        epoch_cv_.notify_all();
      }
    };
    Status st = writes.empty() ? Status::OK() : CommitStreams(tenant, writes);
    if (st.ok()) st = wal_->Append(walrec::kPush, enc.payload()).status();
    if (!st.ok()) {
      leave_epoch();
      CountDiscarded(tenant, "storage_error", static_cast<double>(accepted), static_cast<double>(accepted_bytes));
      spdlog::error("push for tenant {} failed to write: {}", tenant, st.ToString());
      return Unavailable("storage is unavailable, nothing of this request was stored: " + st.message());
    }
    wal_bytes_since_checkpoint_.fetch_add(static_cast<int64_t>(enc.payload().size()));

    // Into the heads. Entries are moved unless a live tail wants them afterwards.
    PushObserver* obs = observer_.load();
    const bool observe = obs != nullptr && obs->Wants(tenant);
    const int64_t mono = clock_->MonotonicNanos();
    Status head_status;
    for (ValidStream* vs : to_write) {
      std::vector<index::HeadEntry> entries;
      entries.reserve(vs->entries.size());
      for (api::PushEntry* e : vs->entries) {
        if (observe) {
          entries.push_back({e->timestamp_ns, e->line, e->structured_metadata});
        } else {
          entries.push_back({e->timestamp_ns, std::move(e->line), std::move(e->structured_metadata)});
        }
      }
      auto delta = GetOrCreateHead(tenant, vs->fp, vs->text)->Append(std::move(entries), mono);
      if (delta.ok()) {
        ChargeMemory(*delta);
      } else {
        head_status = delta.status();  // the entries stay in the open block; logged below
      }
    }
    leave_epoch();
    // Held until the entries are in the heads: the cutter forgets empty heads only while no
    // push is in flight.
    streams_lock.unlock();
    if (!head_status.ok()) spdlog::error("sealing a head block failed (will retry): {}", head_status.ToString());

    if (observe) {
      std::vector<PushedStream> pushed;
      pushed.reserve(to_write.size());
      for (ValidStream* vs : to_write) {
        PushedStream p;
        p.labels = vs->labels;
        p.fp = vs->fp;
        p.entries.reserve(vs->entries.size());
        for (api::PushEntry* e : vs->entries) p.entries.push_back(std::move(*e));
        pushed.push_back(std::move(p));
      }
      obs->OnPushed(tenant, std::move(pushed));
    }
  } else {
    streams_lock.unlock();
  }
  MetricLabels tl = {{"tenant", std::string(tenant)}};
  metrics_->GetCounter("logq_received_lines_total", "Lines accepted and stored, by tenant.", tl)->Inc(static_cast<double>(accepted));
  metrics_->GetCounter("logq_received_bytes_total", "Line bytes accepted and stored, by tenant.", tl)
      ->Inc(static_cast<double>(accepted_bytes));
  if (stats) {
    stats->entries_received = total_entries;
    stats->entries_accepted = accepted;
    stats->bytes_accepted = static_cast<size_t>(accepted_bytes);
  }

  if (!errors.empty()) return InvalidArgument(errors.Render(rejected_entries + (valid_entries - accepted), total_entries));
  if (!stream_limit_error.empty()) return ResourceExhausted(stream_limit_error);
  return Status::OK();
}

// ---- Recovery -------------------------------------------------------------------------

Status Ingester::ApplyRecord(std::string_view payload) {
  walrec::DecodedPush rec;
  RETURN_IF_ERROR(walrec::DecodePush(payload, &rec));
  const size_t n = rec.streams.size();
  std::vector<Labels> labels(n);
  std::vector<std::string> texts(n);
  std::vector<uint64_t> fps(n);
  std::vector<StreamWrite> writes;
  std::shared_lock<std::shared_mutex> streams_lock(streams_mu_);
  for (size_t i = 0; i < n; ++i) {
    auto parsed = ParseLabels(rec.streams[i].labels_text);
    if (!parsed.ok()) return DataLoss("wal push record: bad stream labels: " + parsed.status().message());
    labels[i] = std::move(parsed).value();
    labels[i].Sort();
    texts[i] = labels[i].ToString();
    auto r = registry_->Resolve(rec.tenant, texts[i]);
    fps[i] = r.fp;
    StreamWrite w;
    w.fp = r.fp;
    w.new_stream = r.new_stream;
    w.labels = &labels[i];
    w.text = &texts[i];
    for (const auto& e : rec.streams[i].entries) NotePostingDay(rec.tenant, index::DayOf(e.ts), &w);
    if (w.new_stream || !w.new_days.empty()) writes.push_back(std::move(w));
  }
  RETURN_IF_ERROR(CommitStreams(rec.tenant, writes));
  const int64_t mono = clock_->MonotonicNanos();
  for (size_t i = 0; i < n; ++i) {
    if (rec.streams[i].entries.empty()) continue;
    ASSIGN_OR_RETURN(int64_t delta,
                     GetOrCreateHead(rec.tenant, fps[i], texts[i])->Append(std::move(rec.streams[i].entries), mono));
    ChargeMemory(delta);
  }
  return Status::OK();
}

Status Ingester::ApplyBlockRecord(std::string_view payload) {
  std::string tenant, text;
  auto block = std::make_shared<chunk::CompressedBlock>();
  RETURN_IF_ERROR(walrec::DecodeHeadBlock(payload, &tenant, &text, block.get()));
  auto parsed = ParseLabels(text);
  if (!parsed.ok()) return DataLoss("wal head block record: bad stream labels: " + parsed.status().message());
  Labels labels = std::move(parsed).value();
  labels.Sort();
  text = labels.ToString();
  std::shared_lock<std::shared_mutex> streams_lock(streams_mu_);
  auto r = registry_->Resolve(tenant, text);
  StreamWrite w;
  w.fp = r.fp;
  w.new_stream = r.new_stream;
  w.labels = &labels;
  w.text = &text;
  // Every day the block spans (a superset of the days of its entries; bounded).
  const uint32_t first = index::DayOf(block->info.min_ts), last = index::DayOf(block->info.max_ts);
  for (uint32_t d = first; d <= last && d - first < 1000; ++d) NotePostingDay(tenant, d, &w);
  std::vector<StreamWrite> writes;
  if (w.new_stream || !w.new_days.empty()) writes.push_back(std::move(w));
  RETURN_IF_ERROR(CommitStreams(tenant, writes));
  ChargeMemory(GetOrCreateHead(tenant, r.fp, text)->AddBlock(std::move(block), clock_->MonotonicNanos()));
  return Status::OK();
}

Status Ingester::Open(const OpenProgress& progress) {
  wal::WalOptions wo;
  wo.dir = options_.wal_dir;
  wo.sync = options_.sync_writes;
  wo.segment_bytes = options_.wal_segment_bytes;
  wo.fs = options_.wal_fs;
  wo.metrics = metrics_;
  ASSIGN_OR_RETURN(wal_, wal::Wal::Open(wo));
  const int64_t t0 = clock_->MonotonicNanos();
  auto skip_bad = [&](const Status& st, std::string_view where) {
    if (st.ok()) return;
    replay_bad_records_->Inc();
    spdlog::error("wal: skipping a record of the {} that cannot be applied: {}", where, st.ToString());
  };
  uint64_t from = 0, checkpoint_records = 0;
  auto cp = wal_->ReadCheckpoint([&](uint8_t type, std::string_view payload) -> Status {
    ++checkpoint_records;
    if (type == walrec::kPush) {
      skip_bad(ApplyRecord(payload), "checkpoint");
    } else if (type == walrec::kHeadBlock) {
      skip_bad(ApplyBlockRecord(payload), "checkpoint");
    } else {
      skip_bad(DataLoss(fmt::format("unknown record type {}", type)), "checkpoint");
    }
    return Status::OK();
  });
  if (!cp.ok()) {
    if (cp.status().code() != StatusCode::kDataLoss) return cp.status();
    // What was read of it is applied; every remaining segment is replayed.
    replay_bad_records_->Inc();
    spdlog::error("wal: {}; replaying every remaining segment", cp.status().ToString());
  } else if (cp->has_value()) {
    from = **cp;
  }
  spdlog::info("wal: checkpoint {} loaded ({} records, {} head bytes); replaying segments from {}",
               from, checkpoint_records, head_mem_.load(), from);
  Status cut_status;
  ASSIGN_OR_RETURN(
      wal::ReplayStats rs,
      wal_->Replay(
          from,
          [&](const wal::RecordView& r) -> Status {
            if (r.type == walrec::kPush) {
              skip_bad(ApplyRecord(r.payload), "log");
            } else {
              skip_bad(DataLoss(fmt::format("unknown record type {}", r.type)), "log");
            }
            wal_bytes_since_checkpoint_.fetch_add(static_cast<int64_t>(r.payload.size()));
            // Replay honours the memory limit as pushes do: cut the largest heads.
            if (head_mem_.load() >= options_.head_memory_limit / 4 * 3) {
              auto cut = CutChunks(false);
              if (!cut.ok()) return cut.status();
            }
            return Status::OK();
          },
          [&](uint64_t done, uint64_t total) {
            if (progress) progress(done, total);
          }));
  const double secs = static_cast<double>(clock_->MonotonicNanos() - t0) / 1e9;
  spdlog::info("wal: replayed {} records ({} bytes) from {} segments in {:.2f}s; {} corrupt segments skipped "
               "({} bytes); {} head entries, {} head bytes",
               rs.records, rs.bytes, rs.segments, secs, rs.corrupt_segments, rs.dropped_bytes, HeadEntries(),
               head_mem_.load());
  RETURN_IF_ERROR(MigrateHeadColumnFamily());
  last_checkpoint_mono_.store(clock_->MonotonicNanos());
  return Status::OK();
}

Status Ingester::MigrateHeadColumnFamily() {
  // Heads written by the previous engine (one RocksDB key per entry). Key order groups them
  // by tenant and stream.
  std::string cur_tenant;
  uint64_t cur_fp = 0;
  std::vector<index::HeadEntry> entries;
  std::unordered_map<uint64_t, std::string> texts;  // of cur_tenant
  uint64_t migrated = 0;
  Status st;
  auto flush = [&]() -> Status {
    if (entries.empty()) return Status::OK();
    auto it = texts.find(cur_fp);
    if (it == texts.end()) {
      spdlog::error("upgrade: {} head entries of stream {:016x} of tenant {} have no stream record; dropped",
                    entries.size(), cur_fp, cur_tenant);
      entries.clear();
      return Status::OK();
    }
    migrated += entries.size();
    ASSIGN_OR_RETURN(int64_t delta,
                     GetOrCreateHead(cur_tenant, cur_fp, it->second)->Append(std::move(entries), clock_->MonotonicNanos()));
    ChargeMemory(delta);
    entries.clear();
    return Status::OK();
  };
  std::vector<Label> md;
  RETURN_IF_ERROR(db_->ForEachHead([&](const index::HeadRecord& r) {
    if (!st.ok()) return;
    if (r.tenant != cur_tenant || r.fp != cur_fp) {
      st = flush();
      if (r.tenant != cur_tenant) {
        cur_tenant = std::string(r.tenant);
        texts.clear();
        for (const auto& s : registry_->Streams(cur_tenant)) texts[s.fp] = s.labels->ToString();
      }
      cur_fp = r.fp;
    }
    std::string_view line;
    Status d = index::DecodeHeadValue(r.value, &line, &md);
    if (!d.ok()) {
      replay_bad_records_->Inc();
      return;
    }
    entries.push_back({r.ts, std::string(line), md});
  }));
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(flush());
  if (migrated == 0) return Status::OK();
  spdlog::info("upgrade: moved {} head entries from the RocksDB head column family into the heads; checkpointing",
               migrated);
  RETURN_IF_ERROR(Checkpoint());
  return db_->DropHeads();
}

// ---- Cuts ------------------------------------------------------------------------------

Result<int> Ingester::CutChunks(bool force) {
  std::lock_guard<std::mutex> cut_lock(cut_mu_);
  const int64_t mono = clock_->MonotonicNanos();
  std::vector<std::shared_ptr<StreamHead>> all;
  {
    std::lock_guard<std::mutex> l(heads_mu_);
    all.reserve(heads_.size());
    for (const auto& [_, h] : heads_) all.push_back(h);
  }
  std::vector<std::pair<int64_t, StreamHead*>> rest;  // not due: (memory, head)
  int total = 0;
  for (const auto& h : all) {
    const HeadStats s = h->stats();
    if (s.entries <= 0) continue;
    const bool due = force || s.raw_bytes >= options_.chunk_target_size ||
                     (s.max_ts - s.min_ts) >= options_.max_chunk_age ||
                     mono - s.first_append_mono >= options_.max_chunk_age ||
                     mono - s.last_append_mono >= options_.chunk_idle_period;
    if (!due) {
      rest.emplace_back(s.mem_bytes, h.get());
      continue;
    }
    ASSIGN_OR_RETURN(int n, CutStream(h->tenant(), h->fp()));
    total += n;
  }
  // Memory pressure: cut the largest heads until the heads use at most half the limit.
  if (head_mem_.load() >= options_.head_memory_limit / 4 * 3) {
    std::sort(rest.begin(), rest.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [_, h] : rest) {
      if (head_mem_.load() <= options_.head_memory_limit / 2) break;
      ASSIGN_OR_RETURN(int n, CutStream(h->tenant(), h->fp()));
      total += n;
    }
  }
  // Forget empty heads, unless a push is in flight (it may be about to append to one).
  std::unique_lock<std::shared_mutex> pushes(streams_mu_, std::try_to_lock);
  if (pushes.owns_lock()) {
    std::lock_guard<std::mutex> l(heads_mu_);
    for (auto it = heads_.begin(); it != heads_.end();) {
      const HeadStats hs = it->second->stats();
      if (hs.entries == 0 && mono - hs.last_append_mono >= options_.chunk_idle_period) {
        it = heads_.erase(it);
      } else {
        ++it;
      }
    }
  }
  return total;
}

Result<int> Ingester::CutStream(const std::string& tenant, uint64_t fp) {
  std::shared_ptr<StreamHead> head = FindHead(tenant, fp);
  if (!head) return 0;
  std::vector<std::shared_ptr<const chunk::CompressedBlock>> blocks;
  ASSIGN_OR_RETURN(int64_t sealed, head->PrepareCut(&blocks));
  ChargeMemory(sealed);
  if (blocks.empty()) return 0;

  struct Built {
    index::ChunkRef ref;
    std::string bytes;
  };
  std::vector<Built> built;
  chunk::ChunkBuilder builder(options_.chunk);
  int64_t chunk_min = 0, chunk_max = 0;
  auto finish = [&]() -> Status {
    if (builder.num_entries() == 0) return Status::OK();
    Built b;
    b.ref.fp = fp;
    b.ref.min_ts = chunk_min;
    b.ref.max_ts = chunk_max;
    b.ref.entries = static_cast<uint32_t>(builder.num_entries());
    b.ref.raw_bytes = builder.raw_bytes();
    ASSIGN_OR_RETURN(b.bytes, builder.Finish());
    b.ref.encoded_bytes = b.bytes.size();
    b.ref.content_hash = XXH3_64bits(b.bytes.data(), b.bytes.size());
    built.push_back(std::move(b));
    return Status::OK();
  };
  const uint64_t target = static_cast<uint64_t>(options_.chunk_target_size);

  // Entries already in a chunk (a push retried after its first copy was cut, or log records
  // replayed after a restart that came after a cut but before the next checkpoint) are not
  // written again: blocks overlapping an existing chunk's range are merged against it.
  int64_t head_min = INT64_MAX, head_max = INT64_MIN;
  for (const auto& b : blocks) {
    head_min = std::min(head_min, b->info.min_ts);
    head_max = std::max(head_max, b->info.max_ts);
  }
  auto reader = db_->NewReader();
  ASSIGN_OR_RETURN(std::vector<index::ChunkRef> existing,
                   reader->ListChunks(tenant, fp, head_min, head_max == INT64_MAX ? head_max : head_max + 1));
  struct TsHash {
    size_t operator()(const std::pair<int64_t, uint64_t>& k) const {
      return static_cast<size_t>(k.second ^ (static_cast<uint64_t>(k.first) * 0x9E3779B97F4A7C15ULL));
    }
  };
  std::unordered_set<std::pair<int64_t, uint64_t>, TsHash> stored;  // (ts, EntryHash) in `existing`
  for (const index::ChunkRef& ref : existing) {
    ASSIGN_OR_RETURN(std::string bytes, reader->GetChunk(tenant, ref));
    ASSIGN_OR_RETURN(auto cr, chunk::ChunkReader::Open(bytes));
    auto it = cr->Iterate(head_min, head_max == INT64_MAX ? head_max : head_max + 1, /*forward=*/true);
    while (it->Next()) stored.insert({it->entry().ts, chunk::EntryHash(it->entry().line, *it->entry().metadata)});
    RETURN_IF_ERROR(it->status());
  }
  auto overlaps_stored = [&](const chunk::CompressedBlock& b) {
    for (const index::ChunkRef& ref : existing) {
      if (ref.min_ts <= b.info.max_ts && ref.max_ts >= b.info.min_ts) return true;
    }
    return false;
  };
  uint64_t dropped = 0;

  for (size_t i = 0; i < blocks.size();) {
    // [i, j): a run of blocks that overlap each other in time.
    size_t j = i + 1;
    int64_t run_max = blocks[i]->info.max_ts;
    while (j < blocks.size() && blocks[j]->info.min_ts < run_max) {
      run_max = std::max(run_max, blocks[j]->info.max_ts);
      ++j;
    }
    if (j == i + 1 && !overlaps_stored(*blocks[i])) {  // the common case: the block goes in as it is
      const chunk::CompressedBlock& b = *blocks[i];
      if (builder.num_entries() > 0 && builder.raw_bytes() + b.info.raw_bytes > target) RETURN_IF_ERROR(finish());
      if (builder.num_entries() == 0) chunk_min = b.info.min_ts;
      RETURN_IF_ERROR(builder.AddBlock(b));
      chunk_max = b.info.max_ts;
    } else {  // out-of-order entries across blocks, or entries maybe stored: merge the run
      std::vector<index::HeadEntry> entries;
      for (size_t k = i; k < j; ++k) {
        ASSIGN_OR_RETURN(auto br, chunk::ChunkReader::OpenBlock(*blocks[k]));
        auto it = br->Iterate(INT64_MIN, INT64_MAX, /*forward=*/true);
        while (it->Next()) {
          const chunk::EntryView& e = it->entry();
          if (!stored.empty() && stored.count({e.ts, chunk::EntryHash(e.line, *e.metadata)}) > 0) {
            ++dropped;
            continue;
          }
          entries.push_back({e.ts, std::string(e.line), *e.metadata});
        }
        RETURN_IF_ERROR(it->status());
      }
      blocks_reencoded_->Inc(static_cast<double>(j - i));
      SortAndDedup(&entries);
      for (const auto& e : entries) {
        if (builder.num_entries() > 0 && builder.raw_bytes() >= target) RETURN_IF_ERROR(finish());
        if (builder.num_entries() == 0) chunk_min = e.ts;
        RETURN_IF_ERROR(builder.Add(e.ts, e.line, e.metadata));
        chunk_max = e.ts;
      }
    }
    i = j;
  }
  RETURN_IF_ERROR(finish());

  if (dropped > 0) {
    metrics_->GetCounter("logq_head_duplicates_dropped_total",
                         "Head entries not cut again because an identical entry was already in a chunk.")
        ->Inc(static_cast<double>(dropped));
  }
  if (!built.empty()) {
    auto batch = db_->NewWriteBatch();
    for (const Built& b : built) batch->PutChunk(tenant, b.ref, b.bytes);
    RETURN_IF_ERROR(db_->Write(batch.get(), /*sync=*/false));
  }
  ChargeMemory(head->FinishCut(blocks, clock_->MonotonicNanos()));
  for (const Built& b : built) {
    chunks_cut_->Inc();
    chunk_raw_bytes_->Inc(static_cast<double>(b.ref.raw_bytes));
    chunk_encoded_bytes_->Inc(static_cast<double>(b.bytes.size()));
  }
  return static_cast<int>(built.size());
}

// ---- Checkpoints -----------------------------------------------------------------------

bool Ingester::CheckpointDue() const {
  return clock_->MonotonicNanos() - last_checkpoint_mono_.load() >= options_.checkpoint_interval ||
         wal_bytes_since_checkpoint_.load() >= options_.checkpoint_wal_bytes;
}

Status Ingester::Checkpoint() {
  std::lock_guard<std::mutex> cp(checkpoint_mu_);
  const int64_t t0 = clock_->MonotonicNanos();
  const int64_t wal_bytes = wal_bytes_since_checkpoint_.load();
  ASSIGN_OR_RETURN(uint64_t covered_before, wal_->Roll());
  {
    // Every push whose record is in a segment < covered_before registered in an epoch
    // <= `old`: wait until all of them put their entries into the heads.
    std::unique_lock<std::mutex> l(epoch_mu_);
    const uint64_t old = epoch_++;
    epoch_cv_.wait(l, [&] { return epoch_pending_.empty() || epoch_pending_.begin()->first > old; });
  }
  std::vector<std::shared_ptr<StreamHead>> all;
  {
    std::lock_guard<std::mutex> l(heads_mu_);
    all.reserve(heads_.size());
    for (const auto& [_, h] : heads_) all.push_back(h);
  }
  uint64_t records = 0;
  RETURN_IF_ERROR(wal_->WriteCheckpoint(covered_before, [&](wal::CheckpointWriter* w) -> Status {
    std::vector<std::shared_ptr<const chunk::CompressedBlock>> blocks;
    std::vector<index::HeadEntry> open;
    for (const auto& h : all) {
      h->ForCheckpoint(&blocks, &open);
      for (const auto& b : blocks) {
        RETURN_IF_ERROR(w->Add(walrec::kHeadBlock, walrec::EncodeHeadBlock(h->tenant(), h->labels_text(), *b)));
        ++records;
      }
      if (open.empty()) continue;
      walrec::PushEncoder enc(h->tenant(), 1);
      enc.Stream(h->labels_text(), open.size());
      for (const auto& e : open) enc.Entry(e.ts, e.line, e.metadata);
      RETURN_IF_ERROR(w->Add(walrec::kPush, enc.payload()));
      ++records;
    }
    // Chunks cut before a head was read above are not in this checkpoint: they must be
    // durable before the checkpoint replaces the log that held their entries (RocksDB writes
    // skip its own log; Db::Write).
    return db_->Persist();
  }));
  RETURN_IF_ERROR(wal_->DeleteSegmentsBefore(covered_before));
  RETURN_IF_ERROR(wal_->DeleteCheckpointsBefore(covered_before));
  wal_bytes_since_checkpoint_.fetch_sub(wal_bytes);
  last_checkpoint_mono_.store(clock_->MonotonicNanos());
  checkpoints_->Inc();
  spdlog::info("wal: checkpoint {} written ({} records, {} heads) in {:.3f}s", covered_before, records, all.size(),
               static_cast<double>(clock_->MonotonicNanos() - t0) / 1e9);
  return Status::OK();
}

// ---- Readers ---------------------------------------------------------------------------

void Ingester::GetHeadBounds(std::string_view tenant, std::span<const uint64_t> fps,
                             std::vector<index::HeadBounds>* out) const {
  out->assign(fps.size(), index::HeadBounds{});
  std::vector<std::shared_ptr<StreamHead>> found(fps.size());
  {
    HeadKey key{std::string(tenant), 0};
    std::lock_guard<std::mutex> l(heads_mu_);
    for (size_t i = 0; i < fps.size(); ++i) {
      key.second = fps[i];
      auto it = heads_.find(key);
      if (it != heads_.end()) found[i] = it->second;
    }
  }
  for (size_t i = 0; i < fps.size(); ++i) {
    if (!found[i]) continue;
    const HeadStats s = found[i]->stats();
    (*out)[i].cut_generation = s.cut_generation;
    if (s.entries <= 0) continue;
    (*out)[i].present = true;
    (*out)[i].min_ts = s.min_ts;
    (*out)[i].max_ts = s.max_ts;
  }
}

bool Ingester::SnapshotHead(std::string_view tenant, uint64_t fp, int64_t from, int64_t through,
                            index::HeadSnapshot* out) const {
  std::shared_ptr<StreamHead> h = FindHead(tenant, fp);
  if (!h) {
    *out = index::HeadSnapshot{};
    return false;
  }
  return h->Snapshot(from, through, out);
}

Status Ingester::WithCutsPaused(const std::function<Status()>& fn) {
  std::lock_guard<std::mutex> l(cut_mu_);
  return fn();
}

Status Ingester::WithPushesPaused(const std::function<Status()>& fn) {
  std::unique_lock<std::shared_mutex> l(streams_mu_);
  return fn();
}

size_t Ingester::HeadEntries() const {
  std::vector<std::shared_ptr<StreamHead>> all;
  {
    std::lock_guard<std::mutex> l(heads_mu_);
    for (const auto& [_, h] : heads_) all.push_back(h);
  }
  size_t n = 0;
  for (const auto& h : all) n += static_cast<size_t>(std::max<int64_t>(0, h->stats().entries));
  return n;
}

}  // namespace logq::ingest
