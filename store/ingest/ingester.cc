#include "store/ingest/ingester.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <vector>

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
      options_(options),
      rate_limiter_(clock) {
  chunks_cut_ = metrics_->GetCounter("logq_chunks_cut_total", "Chunks cut from stream heads.");
  chunk_raw_bytes_ = metrics_->GetCounter("logq_chunk_raw_bytes_total", "Raw line bytes written into chunks.");
  chunk_encoded_bytes_ =
      metrics_->GetCounter("logq_chunk_encoded_bytes_total", "Encoded (compressed) bytes of chunks written.");
}

void Ingester::CountDiscarded(std::string_view tenant, std::string_view reason, double entries, double bytes) {
  MetricLabels l = {{"reason", std::string(reason)}, {"tenant", std::string(tenant)}};
  metrics_->GetCounter("logq_discarded_lines_total", "Lines rejected at ingest, by reason.", l)->Inc(entries);
  metrics_->GetCounter("logq_discarded_bytes_total", "Bytes rejected at ingest, by reason.", l)->Inc(bytes);
}

Status Ingester::Recover(const std::function<void(uint64_t)>& progress) {
  std::lock_guard<std::mutex> l(heads_mu_);
  heads_.clear();
  uint64_t scanned = 0;
  const int64_t now = clock_->MonotonicNanos();
  RETURN_IF_ERROR(db_->ForEachHead([&](const index::HeadRecord& r) {
    HeadStats& h = heads_[{std::string(r.tenant), r.fp}];
    if (h.entries == 0) {
      h.tenant = std::string(r.tenant);
      h.fp = r.fp;
      h.first_append_mono = now;
      h.last_append_mono = now;
    }
    h.entries++;
    h.bytes += static_cast<int64_t>(r.value.size()) - 1;
    h.min_ts = std::min(h.min_ts, r.ts);
    h.max_ts = std::max(h.max_ts, r.ts);
    if (++scanned % 100000 == 0 && progress) progress(scanned);
  }));
  if (progress) progress(scanned);
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

  // One atomic batch: stream records, postings and head entries.
  auto batch = db_->NewWriteBatch();
  struct Posting {
    ValidStream* vs;
    uint32_t day;
  };
  std::vector<Posting> postings;
  size_t accepted = 0;
  int64_t accepted_bytes = 0;
  for (ValidStream* vs : to_write) {
    if (vs->new_stream) batch->PutStream(tenant, vs->fp, vs->text);
    uint32_t last_day = UINT32_MAX;
    for (const api::PushEntry* e : vs->entries) {
      uint32_t day = index::DayOf(e->timestamp_ns);
      if (day != last_day) {
        last_day = day;
        bool seen = false;
        for (const auto& p : postings) seen |= (p.vs == vs && p.day == day);
        if (!seen && (vs->new_stream || registry_->NeedsPosting(tenant, vs->fp, day))) {
          batch->PutPosting(tenant, day, vs->fp);
          postings.push_back({vs, day});
        }
      }
      uint64_t h = XXH3_64bits(e->line.data(), e->line.size());
      batch->PutHead(tenant, vs->fp, e->timestamp_ns, h, index::EncodeHeadValue(e->line, e->structured_metadata));
    }
    accepted += vs->entries.size();
    accepted_bytes += vs->bytes;
  }
  if (batch->Count() > 0) {
    Status st = db_->Write(batch.get(), options_.sync_writes);
    if (!st.ok()) {
      CountDiscarded(tenant, "storage_error", static_cast<double>(accepted), static_cast<double>(accepted_bytes));
      spdlog::error("push for tenant {} failed to write: {}", tenant, st.ToString());
      return Unavailable("storage is unavailable, nothing of this request was stored: " + st.message());
    }
  }

  // Only now, after the write, does memory learn about the new streams and entries.
  for (const auto& p : postings) registry_->Commit(tenant, p.vs->fp, p.vs->labels, p.vs->text, p.day);
  streams_lock.unlock();
  {
    const int64_t mono = clock_->MonotonicNanos();
    std::lock_guard<std::mutex> l(heads_mu_);
    for (ValidStream* vs : to_write) {
      HeadStats& h = heads_[{std::string(tenant), vs->fp}];
      if (h.entries <= 0) {
        h.tenant = std::string(tenant);
        h.fp = vs->fp;
        h.first_append_mono = mono;
      }
      h.entries += static_cast<int64_t>(vs->entries.size());
      h.bytes += vs->bytes;
      h.min_ts = std::min(h.min_ts, vs->min_ts);
      h.max_ts = std::max(h.max_ts, vs->max_ts);
      h.last_append_mono = mono;
      h.appends++;
    }
  }
  // Live tails get the accepted entries (moved: the request is not read after this).
  if (PushObserver* obs = observer_.load(); obs != nullptr && accepted > 0 && obs->Wants(tenant)) {
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

Result<int> Ingester::CutChunks(bool force) {
  std::lock_guard<std::mutex> cut_lock(cut_mu_);
  const int64_t mono = clock_->MonotonicNanos();
  std::vector<HeadKey> due;
  {
    std::lock_guard<std::mutex> l(heads_mu_);
    for (const auto& [key, h] : heads_) {
      if (h.entries <= 0) continue;
      bool cut = force || h.bytes >= options_.chunk_target_size ||
                 (h.max_ts - h.min_ts) >= options_.max_chunk_age ||
                 mono - h.first_append_mono >= options_.max_chunk_age ||
                 mono - h.last_append_mono >= options_.chunk_idle_period;
      if (cut) due.push_back(key);
    }
  }
  int total = 0;
  for (const auto& key : due) {
    ASSIGN_OR_RETURN(int n, CutStream(key.first, key.second));
    total += n;
  }
  return total;
}

Result<int> Ingester::CutStream(const std::string& tenant, uint64_t fp) {
  // Pushes accounted before the snapshot below are in it and are cut; `appends_before`
  // tells afterwards whether any push was accounted since.
  uint64_t appends_before = 0;
  {
    std::lock_guard<std::mutex> l(heads_mu_);
    auto it = heads_.find({tenant, fp});
    if (it != heads_.end()) appends_before = it->second.appends;
  }
  auto reader = db_->NewReader();
  chunk::ChunkBuilder builder(options_.chunk);
  auto batch = db_->NewWriteBatch();
  std::vector<Label> metadata;
  int chunks = 0;
  int64_t chunk_min = 0, chunk_max = 0;
  Status st;

  auto finish = [&]() -> Status {
    if (builder.num_entries() == 0) return Status::OK();
    const uint32_t n = static_cast<uint32_t>(builder.num_entries());
    const uint64_t raw = builder.raw_bytes();
    ASSIGN_OR_RETURN(std::string bytes, builder.Finish());
    index::ChunkRef ref;
    ref.fp = fp;
    ref.min_ts = chunk_min;
    ref.max_ts = chunk_max;
    ref.entries = n;
    ref.raw_bytes = raw;
    ref.encoded_bytes = bytes.size();
    ref.content_hash = XXH3_64bits(bytes.data(), bytes.size());
    batch->PutChunk(tenant, ref, bytes);
    RETURN_IF_ERROR(db_->Write(batch.get(), options_.sync_writes));
    batch = db_->NewWriteBatch();
    ++chunks;
    chunks_cut_->Inc();
    chunk_raw_bytes_->Inc(static_cast<double>(raw));
    chunk_encoded_bytes_->Inc(static_cast<double>(bytes.size()));
    return Status::OK();
  };

  RETURN_IF_ERROR(reader->ScanHead(tenant, fp, INT64_MIN, INT64_MAX, [&](const index::HeadRecord& r) {
    std::string_view line;
    st = index::DecodeHeadValue(r.value, &line, &metadata);
    if (!st.ok()) return false;
    if (builder.num_entries() == 0) chunk_min = r.ts;
    chunk_max = r.ts;
    st = builder.Add(r.ts, line, metadata);
    if (!st.ok()) return false;
    batch->DeleteHeadKey(r.raw_key);
    if (static_cast<int64_t>(builder.raw_bytes()) >= options_.chunk_target_size) {
      st = finish();
      if (!st.ok()) return false;
    }
    return true;
  }));
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(finish());

  // What is left in this stream's head: entries pushed during the cut. If no push was
  // accounted since the snapshot, nothing is left that accounting knows of: a push written
  // after the snapshot but accounted only after this point re-creates its head record.
  // Otherwise recount from the head (subtracting would drift: retried pushes overwrite keys
  // but are counted twice); a push accounted after the recount's snapshot but before the
  // lock keeps the record alive through `entries >= 1`, and the next cut recounts.
  {
    std::lock_guard<std::mutex> l(heads_mu_);
    auto it = heads_.find({tenant, fp});
    if (it == heads_.end()) return chunks;
    if (it->second.appends == appends_before) {
      heads_.erase(it);
      return chunks;
    }
  }
  HeadStats rest;
  auto after = db_->NewReader();
  RETURN_IF_ERROR(after->ScanHead(tenant, fp, INT64_MIN, INT64_MAX, [&](const index::HeadRecord& r) {
    rest.entries++;
    rest.bytes += static_cast<int64_t>(r.value.size()) - 1;
    rest.min_ts = std::min(rest.min_ts, r.ts);
    rest.max_ts = std::max(rest.max_ts, r.ts);
    return true;
  }));
  std::lock_guard<std::mutex> l(heads_mu_);
  auto it = heads_.find({tenant, fp});
  if (it != heads_.end()) {
    HeadStats& h = it->second;
    // Bounds stay a superset: a push accounted after the recount's snapshot widened them.
    h.entries = std::max<int64_t>(rest.entries, 1);
    h.bytes = rest.bytes;
    if (rest.entries > 0) {
      h.min_ts = std::min(h.min_ts, rest.min_ts);
      h.max_ts = std::max(h.max_ts, rest.max_ts);
    }
    h.first_append_mono = clock_->MonotonicNanos();
  }
  return chunks;
}

void Ingester::GetHeadBounds(std::string_view tenant, std::span<const uint64_t> fps,
                             std::vector<index::HeadBounds>* out) const {
  out->assign(fps.size(), index::HeadBounds{});
  HeadKey key{std::string(tenant), 0};
  std::lock_guard<std::mutex> l(heads_mu_);
  for (size_t i = 0; i < fps.size(); ++i) {
    key.second = fps[i];
    auto it = heads_.find(key);
    if (it == heads_.end() || it->second.entries <= 0) continue;
    (*out)[i] = {true, it->second.min_ts, it->second.max_ts};
  }
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
  std::lock_guard<std::mutex> l(heads_mu_);
  size_t n = 0;
  for (const auto& [_, h] : heads_) n += static_cast<size_t>(std::max<int64_t>(0, h.entries));
  return n;
}

}  // namespace logq::ingest
