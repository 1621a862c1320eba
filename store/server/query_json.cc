#include "store/server/query_json.h"

#include <fmt/format.h>

#include <map>

namespace logq::server {
namespace {

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

const char* TypeName(engine::QueryResult::Type t) {
  switch (t) {
    case engine::QueryResult::Type::kStreams: return "streams";
    case engine::QueryResult::Type::kMatrix: return "matrix";
    case engine::QueryResult::Type::kVector: return "vector";
    case engine::QueryResult::Type::kScalar: return "scalar";
  }
  return "streams";
}

void AppendSample(int64_t t_ms, double v, std::string* out) {
  out->push_back('[');
  out->append(FormatSeconds(t_ms));
  out->push_back(',');
  AppendJsonString(engine::FormatSampleValue(v), out);
  out->push_back(']');
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\n': out->append("\\n"); break;
        case '\r': out->append("\\r"); break;
        case '\t': out->append("\\t"); break;
        case '<': out->append("\\u003c"); break;
        case '>': out->append("\\u003e"); break;
        case '&': out->append("\\u0026"); break;
        default:
          if (c < 0x20) {
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 15]);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // Multi-byte UTF-8: validate, copy, or emit U+FFFD for each invalid byte.
    size_t n = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok && ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
               (cp >= 0xD800 && cp <= 0xDFFF))) {
      ok = false;
    }
    if (!ok) {
      out->append("\xEF\xBF\xBD");
      ++i;
      continue;
    }
    if (cp == 0x2028) out->append("\\u2028");
    else if (cp == 0x2029) out->append("\\u2029");
    else out->append(s.substr(i, n));
    i += n;
  }
  out->push_back('"');
}

std::string FormatSeconds(int64_t t_ms) {
  int64_t secs = t_ms / 1000, ms = t_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  if (ms == 0) return std::to_string(secs);
  std::string frac = fmt::format("{:03d}", ms);
  while (frac.back() == '0') frac.pop_back();
  return std::to_string(secs) + "." + frac;
}

std::string EncodeStats(const engine::QueryStats& s) {
  const auto& r = s.read;
  const double exec_s = static_cast<double>(s.exec_ns) / 1e9;
  const uint64_t total_bytes = s.bytes_processed, total_lines = s.lines_processed;
  const uint64_t bps = exec_s > 0 ? static_cast<uint64_t>(static_cast<double>(total_bytes) / exec_s) : 0;
  const uint64_t lps = exec_s > 0 ? static_cast<uint64_t>(static_cast<double>(total_lines) / exec_s) : 0;
  std::string chunk = fmt::format(
      R"({{"headChunkBytes":{},"headChunkLines":{},"decompressedBytes":{},"decompressedLines":{},"compressedBytes":{},"totalDuplicates":{}}})",
      r.head_bytes, r.head_lines, r.decompressed_bytes, r.decompressed_lines, r.compressed_bytes, r.duplicates);
  std::string store = fmt::format(
      R"({{"totalChunksRef":{},"totalChunksDownloaded":{},"chunksDownloadTime":0,"chunk":{}}})", r.chunks, r.chunks,
      chunk);
  const std::string cache =
      R"({"entriesFound":0,"entriesRequested":0,"entriesStored":0,"bytesReceived":0,"bytesSent":0,"requests":0})";
  const std::string zero_chunk =
      R"({"headChunkBytes":0,"headChunkLines":0,"decompressedBytes":0,"decompressedLines":0,"compressedBytes":0,"totalDuplicates":0})";
  return fmt::format(
      R"({{"summary":{{"bytesProcessedPerSecond":{},"linesProcessedPerSecond":{},"totalBytesProcessed":{},"totalLinesProcessed":{},"execTime":{},"queueTime":0,"subqueries":0,"totalEntriesReturned":{}}},"querier":{{"store":{}}},"ingester":{{"totalReached":0,"totalChunksMatched":0,"totalBatches":0,"totalLinesSent":0,"store":{{"totalChunksRef":0,"totalChunksDownloaded":0,"chunksDownloadTime":0,"chunk":{}}}}},"cache":{{"chunk":{},"index":{},"result":{}}}}})",
      bps, lps, total_bytes, total_lines, exec_s, s.entries_returned, store, zero_chunk, cache, cache, cache);
}

std::string EncodeQueryResponse(const engine::QueryResult& r, bool categorize) {
  using T = engine::QueryResult::Type;
  std::string out;
  out.reserve(4096);
  out.append(R"({"status":"success","data":{"resultType":")");
  out.append(TypeName(r.type));
  out.append("\",");
  const bool cat = categorize && r.type == T::kStreams;
  if (cat) out.append(R"("encodingFlags":["categorize-labels"],)");
  out.append("\"result\":");
  switch (r.type) {
    case T::kStreams: {
      out.push_back('[');
      if (cat) {
        // Group by indexed stream labels; each entry carries its metadata and parsed labels.
        std::vector<std::pair<std::string, std::vector<const engine::Entry*>>> groups;
        std::vector<const engine::LogStream*> group_stream;
        std::map<std::string, size_t> index;
        for (const auto& s : r.streams) {
          std::string key = s.stream.ToString();
          auto [it, inserted] = index.emplace(key, groups.size());
          if (inserted) {
            groups.push_back({key, {}});
            group_stream.push_back(&s);
          }
          for (const auto& e : s.entries) groups[it->second].second.push_back(&e);
        }
        for (size_t g = 0; g < groups.size(); ++g) {
          if (g) out.push_back(',');
          out.append("{\"stream\":");
          AppendLabelsObject(group_stream[g]->stream, &out);
          out.append(",\"values\":[");
          auto& entries = groups[g].second;
          bool first = true;
          for (const engine::Entry* e : entries) {
            if (!first) out.push_back(',');
            first = false;
            out.append("[\"");
            out.append(std::to_string(e->ts));
            out.append("\",");
            AppendJsonString(e->line, &out);
            out.append(",{");
            bool wrote = false;
            if (!e->structured_metadata.empty()) {
              out.append("\"structuredMetadata\":");
              AppendLabelsObject(e->structured_metadata, &out);
              wrote = true;
            }
            if (!e->parsed.empty()) {
              if (wrote) out.push_back(',');
              out.append("\"parsed\":");
              AppendLabelsObject(e->parsed, &out);
            }
            out.append("}]");
          }
          out.append("]}");
        }
      } else {
        bool first_stream = true;
        for (const auto& s : r.streams) {
          if (!first_stream) out.push_back(',');
          first_stream = false;
          out.append("{\"stream\":");
          AppendLabelsObject(s.labels, &out);
          out.append(",\"values\":[");
          bool first = true;
          for (const auto& e : s.entries) {
            if (!first) out.push_back(',');
            first = false;
            out.append("[\"");
            out.append(std::to_string(e.ts));
            out.append("\",");
            AppendJsonString(e.line, &out);
            out.push_back(']');
          }
          out.append("]}");
        }
      }
      out.push_back(']');
      break;
    }
    case T::kMatrix: {
      out.push_back('[');
      for (size_t i = 0; i < r.series.size(); ++i) {
        if (i) out.push_back(',');
        out.append("{\"metric\":");
        AppendLabelsObject(r.series[i].labels, &out);
        out.append(",\"values\":[");
        for (size_t k = 0; k < r.series[i].points.size(); ++k) {
          if (k) out.push_back(',');
          AppendSample(r.series[i].points[k].t_ms, r.series[i].points[k].v, &out);
        }
        out.append("]}");
      }
      out.push_back(']');
      break;
    }
    case T::kVector: {
      out.push_back('[');
      for (size_t i = 0; i < r.series.size(); ++i) {
        if (i) out.push_back(',');
        out.append("{\"metric\":");
        AppendLabelsObject(r.series[i].labels, &out);
        out.append(",\"value\":");
        AppendSample(r.series[i].points[0].t_ms, r.series[i].points[0].v, &out);
        out.push_back('}');
      }
      out.push_back(']');
      break;
    }
    case T::kScalar: AppendSample(r.scalar.t_ms, r.scalar.v, &out); break;
  }
  out.append(",\"stats\":");
  out.append(EncodeStats(r.stats));
  out.append("}}\n");
  return out;
}

}  // namespace logq::server
