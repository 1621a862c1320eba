#include "store/ingest/wal_records.h"

#include <cstring>

namespace logq::ingest::walrec {
namespace {

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void PutStr(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

// Reads from a payload; every accessor fails (returns false) instead of reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool Varint(uint64_t* v) {
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64 && pos_ < s_.size(); shift += 7) {
      const uint64_t b = static_cast<unsigned char>(s_[pos_++]);
      if (shift == 63 && b > 1) return false;
      r |= (b & 0x7f) << shift;
      if (b < 0x80) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  bool Fixed64(uint64_t* v) {
    if (s_.size() - pos_ < 8) return false;
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r |= uint64_t{static_cast<unsigned char>(s_[pos_ + i])} << (8 * i);
    pos_ += 8;
    *v = r;
    return true;
  }
  bool Str(std::string_view* v) {
    uint64_t n;
    if (!Varint(&n) || n > s_.size() - pos_) return false;
    *v = s_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Str(std::string* v) {
    std::string_view sv;
    if (!Str(&sv)) return false;
    v->assign(sv);
    return true;
  }
  // A count of items each at least `min_bytes` long: rejects counts the rest cannot hold.
  bool Count(uint64_t* n, size_t min_bytes) { return Varint(n) && *n <= (s_.size() - pos_) / min_bytes; }
  bool done() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

PushEncoder::PushEncoder(std::string_view tenant, size_t num_streams) {
  PutStr(&out_, tenant);
  PutVarint(&out_, num_streams);
}

void PushEncoder::Stream(std::string_view labels_text, size_t num_entries) {
  PutStr(&out_, labels_text);
  PutVarint(&out_, num_entries);
}

void PushEncoder::Entry(int64_t ts, std::string_view line, const std::vector<Label>& metadata) {
  PutFixed64(&out_, static_cast<uint64_t>(ts));
  PutStr(&out_, line);
  PutVarint(&out_, metadata.size());
  for (const Label& l : metadata) {
    PutStr(&out_, l.name);
    PutStr(&out_, l.value);
  }
}

Status DecodePush(std::string_view payload, DecodedPush* out) {
  Reader r(payload);
  auto bad = [](std::string_view what) { return DataLoss("wal push record: " + std::string(what)); };
  uint64_t nstreams;
  if (!r.Str(&out->tenant) || !r.Count(&nstreams, 2)) return bad("bad header");
  out->streams.clear();
  out->streams.resize(nstreams);
  for (auto& s : out->streams) {
    uint64_t n;
    if (!r.Str(&s.labels_text) || !r.Count(&n, 10)) return bad("bad stream header");
    s.entries.resize(n);
    for (auto& e : s.entries) {
      uint64_t ts, nmd;
      if (!r.Fixed64(&ts) || !r.Str(&e.line) || !r.Count(&nmd, 2)) return bad("bad entry");
      e.ts = static_cast<int64_t>(ts);
      e.metadata.resize(nmd);
      for (auto& l : e.metadata) {
        if (!r.Str(&l.name) || !r.Str(&l.value)) return bad("bad structured metadata");
      }
    }
  }
  if (!r.done()) return bad("trailing bytes");
  return Status::OK();
}

std::string EncodeHeadBlock(std::string_view tenant, std::string_view labels_text,
                            const chunk::CompressedBlock& block) {
  std::string out;
  out.reserve(block.bytes.size() + tenant.size() + labels_text.size() + 64);
  PutStr(&out, tenant);
  PutStr(&out, labels_text);
  PutFixed64(&out, static_cast<uint64_t>(block.info.min_ts));
  PutFixed64(&out, static_cast<uint64_t>(block.info.max_ts));
  PutVarint(&out, block.info.num_entries);
  PutVarint(&out, block.info.raw_bytes);
  PutVarint(&out, block.info.decoded_bytes);
  PutFixed64(&out, block.checksum);
  PutStr(&out, block.bytes);
  return out;
}

Status DecodeHeadBlock(std::string_view payload, std::string* tenant, std::string* labels_text,
                       chunk::CompressedBlock* block) {
  Reader r(payload);
  uint64_t min_ts, max_ts, n, raw, decoded, checksum;
  if (!r.Str(tenant) || !r.Str(labels_text) || !r.Fixed64(&min_ts) || !r.Fixed64(&max_ts) || !r.Varint(&n) ||
      !r.Varint(&raw) || !r.Varint(&decoded) || !r.Fixed64(&checksum) || !r.Str(&block->bytes) || !r.done() ||
      n > UINT32_MAX || raw > UINT32_MAX || decoded > UINT32_MAX || block->bytes.size() > UINT32_MAX) {
    return DataLoss("wal head block record: malformed");
  }
  block->info = chunk::BlockInfo{};
  block->info.min_ts = static_cast<int64_t>(min_ts);
  block->info.max_ts = static_cast<int64_t>(max_ts);
  block->info.num_entries = static_cast<uint32_t>(n);
  block->info.raw_bytes = static_cast<uint32_t>(raw);
  block->info.decoded_bytes = static_cast<uint32_t>(decoded);
  block->info.compressed_bytes = static_cast<uint32_t>(block->bytes.size());
  block->checksum = checksum;
  // The block's own consistency (and its checksum, when read) is checked by the chunk reader.
  auto check = chunk::ChunkReader::OpenBlock(*block);
  if (!check.ok()) return check.status();
  return Status::OK();
}

}  // namespace logq::ingest::walrec
