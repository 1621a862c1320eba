// JSON encoding of query results exactly as Loki writes them (LOKI-API.md §3): key order
// status, data{resultType, encodingFlags?, result, stats}; stream values as
// ["<ns>", "<line>"] (or with a third {structuredMetadata, parsed} object in
// categorize-labels mode); sample values as [<seconds>, "<value>"]; Go's JSON string
// escaping (including \u003c \u003e \u0026 and U+FFFD for invalid UTF-8).
#pragma once

#include <string>
#include <string_view>

#include "query/engine/engine.h"

namespace logq::server {

// Appends `s` as a JSON string literal with Go's encoding/json escaping.
void AppendJsonString(std::string_view s, std::string* out);

// The whole /query or /query_range body. `categorize` enables the Loki 3 encoding flag.
std::string EncodeQueryResponse(const engine::QueryResult& r, bool categorize);

// The stats object alone (for reuse).
std::string EncodeStats(const engine::QueryStats& s);

// Unix seconds with millisecond precision as Loki prints them (1588889221, 1588889221.5).
std::string FormatSeconds(int64_t t_ms);

}  // namespace logq::server
