// Per-tenant limits (Loki's `limits_config`). Defaults follow current Loki unless noted.
// Plain value type; copied into each component that enforces it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "query/model/matcher.h"

namespace logq::ingest {

// One `retention_stream` rule: streams matching `selector` keep their entries for `period`.
struct StreamRetention {
  std::string selector;            // as written, e.g. {namespace="dev"}
  std::vector<Matcher> matchers;   // parsed from selector at load
  int priority = 0;                // higher wins among matching rules
  int64_t period = 0;              // ns; at least 24h (validated at load)
};

struct Limits {
  // Ingest (validation) ------------------------------------------------------------------
  int64_t max_line_size = 256 << 10;          // bytes; 0 = unlimited. Default 256KiB.
  bool max_line_size_truncate = false;        // truncate instead of rejecting. Default false.
  int max_label_name_length = 1024;           // default 1024
  int max_label_value_length = 2048;          // default 2048
  int max_label_names_per_series = 15;        // default 15 (Loki 3.x)
  bool reject_old_samples = true;             // default true
  int64_t reject_old_samples_max_age = 7LL * 24 * 3600 * 1'000'000'000;  // ns; default 168h
  int64_t creation_grace_period = 10LL * 60 * 1'000'000'000;           // ns; default 10m
  double ingestion_rate_mb = 4;               // MB/s per tenant (1 MB = 2^20 bytes); default 4
  double ingestion_burst_size_mb = 6;         // MB; default 6
  int max_global_streams_per_user = 5000;     // active streams per tenant; 0 = off. Default 5000
  int64_t max_structured_metadata_size = 64 << 10;   // bytes per entry; default 64KiB
  int max_structured_metadata_entries_count = 128;   // default 128

  // Query ---------------------------------------------------------------------------------
  int max_entries_limit_per_query = 5000;     // default 5000
  int64_t max_query_length = 721LL * 3600 * 1'000'000'000;  // ns; default 721h; 0 = off
  int max_query_series = 500;                 // default 500
  // max_query_series counts a range query's series per window of this length (Loki's
  // frontend split); 0 = over the whole range. Default 1h.
  int64_t split_queries_by_interval = 3600LL * 1'000'000'000;
  int64_t query_timeout = 60LL * 1'000'000'000;  // ns; default 1m
  int max_concurrent_tail_requests = 10;      // default 10
  // logq's own query limits (no Loki equivalent; see docs/operations.md "Limits").
  int64_t max_query_memory_size = 64LL << 20;  // bytes of lines/samples one query holds; 64MiB
  int max_json_depth = 128;                    // `| json` object nesting; deeper → JSONParserErr
  int64_t max_template_output_size = 1 << 20;  // line_format/label_format output; 1MiB

  // Retention and deletion (applied by store/retention's compactor) -----------------------
  int64_t retention_period = 0;               // ns; 0 = keep forever. Default 0s (Loki >= 2.8)
  // Per-stream rules; shared so that copying Limits stays cheap. Never null.
  std::shared_ptr<const std::vector<StreamRetention>> retention_stream =
      std::make_shared<const std::vector<StreamRetention>>();
  std::string deletion_mode = "filter-and-delete";  // disabled | filter-only | filter-and-delete
};

}  // namespace logq::ingest
