#include "store/server/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "query/base/units.h"
#include "query/base/yaml_config.h"
#include "query/logql/selector.h"
#include "store/retention/rules.h"
#include "store/server/tenant.h"

namespace logq::server {
namespace {

using yamlcfg::Bool;
using yamlcfg::Bytes;
using yamlcfg::Double;
using yamlcfg::Duration;
using yamlcfg::Int;
using yamlcfg::Scalar;
using yamlcfg::Str;
using Section = yamlcfg::ConfigSection;

// A YAML double-quoted scalar.
std::string YamlQuote(std::string_view v) {
  std::string o = "\"";
  for (char ch : v) {
    if (ch == '"' || ch == '\\') o.push_back('\\');
    o.push_back(ch);
  }
  o.push_back('"');
  return o;
}

// `retention_stream`: a list of {selector, priority, period}, validated as Loki does.
auto StreamRetentionList(std::shared_ptr<const std::vector<ingest::StreamRetention>>* out) {
  return [out](const YAML::Node& n) -> Status {
    if (!n.IsSequence()) return InvalidArgument("must be a list of {selector, priority, period}");
    auto rules = std::make_shared<std::vector<ingest::StreamRetention>>();
    for (size_t i = 0; i < n.size(); ++i) {
      const YAML::Node& item = n[i];
      auto bad = [&](const std::string& what) { return InvalidArgument(fmt::format("[{}]: {}", i, what)); };
      if (!item.IsMap()) return bad("must be a mapping with selector, priority and period");
      ingest::StreamRetention r;
      bool has_selector = false;
      for (auto it = item.begin(); it != item.end(); ++it) {
        std::string k = it->first.as<std::string>("");
        std::string v = Scalar(it->second);
        if (k == "selector") {
          r.selector = v;
          has_selector = true;
        } else if (k == "priority") {
          char* end = nullptr;
          long long p = std::strtoll(v.c_str(), &end, 10);
          if (v.empty() || *end) return bad("priority must be an integer, got \"" + v + "\"");
          r.priority = static_cast<int>(p);
        } else if (k == "period") {
          auto d = ParseDuration(v);
          if (!d.ok()) return bad("period: " + d.status().message());
          r.period = *d;
        } else {
          return bad("unknown key \"" + k + "\"");
        }
      }
      if (!has_selector) return bad("selector is required");
      auto m = logql::ParseSelector(r.selector);
      if (!m.ok()) return bad("invalid labels matchers: " + m.status().message());
      r.matchers = std::move(m).value();
      if (r.period < retention::kMinStreamRetention) {
        return bad("retention period must be >= 24h was " + FormatDuration(r.period));
      }
      rules->push_back(std::move(r));
    }
    *out = std::move(rules);
    return Status::OK();
  };
}

void ParseLimits(Section& s, ingest::Limits* l) {
  s.Field("max_line_size", Bytes(&l->max_line_size));
  s.Field("max_line_size_truncate", Bool(&l->max_line_size_truncate));
  s.Field("max_label_name_length", Int(&l->max_label_name_length, 1, 1 << 20));
  s.Field("max_label_value_length", Int(&l->max_label_value_length, 1, 1 << 24));
  s.Field("max_label_names_per_series", Int(&l->max_label_names_per_series, 1, 1000));
  s.Field("reject_old_samples", Bool(&l->reject_old_samples));
  s.Field("reject_old_samples_max_age", Duration(&l->reject_old_samples_max_age));
  s.Field("creation_grace_period", Duration(&l->creation_grace_period));
  s.Field("ingestion_rate_mb", Double(&l->ingestion_rate_mb));
  s.Field("ingestion_burst_size_mb", Double(&l->ingestion_burst_size_mb));
  s.Field("max_global_streams_per_user", Int(&l->max_global_streams_per_user, 0, 100'000'000));
  s.Field("max_structured_metadata_size", Bytes(&l->max_structured_metadata_size));
  s.Field("max_structured_metadata_entries_count", Int(&l->max_structured_metadata_entries_count, 0, 1'000'000));
  s.Field("max_entries_limit_per_query", Int(&l->max_entries_limit_per_query, 1, 100'000'000));
  s.Field("max_query_length", Duration(&l->max_query_length));
  s.Field("max_query_series", Int(&l->max_query_series, 1, 100'000'000));
  s.Field("split_queries_by_interval", Duration(&l->split_queries_by_interval));
  s.Field("query_timeout", Duration(&l->query_timeout));
  s.Field("max_concurrent_tail_requests", Int(&l->max_concurrent_tail_requests, 0, 100'000));
  s.Field("max_query_memory_size", Bytes(&l->max_query_memory_size));
  // Bounded above: each level is a stack frame of the json parser.
  s.Field("max_json_depth", Int(&l->max_json_depth, 1, 1000));
  s.Field("max_template_output_size", Bytes(&l->max_template_output_size));
  s.Field("retention_period", Duration(&l->retention_period));
  s.Field("retention_stream", StreamRetentionList(&l->retention_stream));
  s.Field("deletion_mode", [l](const YAML::Node& n) -> Status {
    std::string v = Scalar(n);
    if (v != "disabled" && v != "filter-only" && v != "filter-and-delete") {
      return InvalidArgument("must be one of disabled, filter-only, filter-and-delete; got \"" + v + "\"");
    }
    l->deletion_mode = v;
    return Status::OK();
  });
}

}  // namespace

std::string StoreConfig::WalDir() const {
  return ingester.wal.dir.empty() ? StoragePath() + "/wal" : ingester.wal.dir;
}

std::string StoreConfig::StoragePath() const {
  if (!storage.path.empty()) return storage.path;
  if (!common.path_prefix.empty()) return common.path_prefix + "/data";
  return "./logq-data";
}

Result<StoreConfig> ParseStoreConfig(std::string_view yaml, std::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(fmt::format("config error at {}:{}:{}: {}", source, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  StoreConfig c;
  Status err;
  Section top(root, "", source, &err);
  top.Field("auth_enabled", Bool(&c.auth_enabled));
  {
    Section s(top.Child("server"), "server", source, &err);
    s.Field("http_listen_address", Str(&c.server.http_listen_address));
    s.Field("http_listen_port", Int(&c.server.http_listen_port, 0, 65535));
    s.Field("grpc_listen_port", [](const YAML::Node&) { return Status::OK(); });  // accepted, unused
    s.Field("http_server_read_timeout", Duration(&c.server.http_server_read_timeout));
    s.Field("http_server_write_timeout", Duration(&c.server.http_server_write_timeout));
    s.Field("http_server_max_header_bytes", Bytes(&c.server.http_server_max_header_bytes));
    s.Field("http_server_idle_timeout", Duration(&c.server.http_server_idle_timeout));
    s.Field("log_level", [&](const YAML::Node& n) -> Status {
      std::string v = Scalar(n);
      if (v != "debug" && v != "info" && v != "warn" && v != "error") {
        return InvalidArgument("must be one of debug, info, warn, error; got \"" + v + "\"");
      }
      c.server.log_level = v;
      return Status::OK();
    });
    s.Field("io_threads", Int(&c.server.io_threads, 1, 256));
    s.Field("worker_threads", Int(&c.server.worker_threads, 1, 1024));
    s.Finish();
  }
  {
    Section s(top.Child("common"), "common", source, &err);
    s.Field("path_prefix", Str(&c.common.path_prefix));
    s.Finish();
  }
  {
    Section s(top.Child("storage"), "storage", source, &err);
    s.Field("path", Str(&c.storage.path));
    s.Field("sync_writes", Bool(&c.storage.sync_writes));
    s.Field("block_cache_size", Bytes(&c.storage.block_cache_size));
    s.Field("write_buffer_size", Bytes(&c.storage.write_buffer_size));
    s.Finish();
  }
  {
    Section s(top.Child("ingester"), "ingester", source, &err);
    s.Field("chunk_target_size", Bytes(&c.ingester.chunk_target_size));
    s.Field("max_chunk_age", Duration(&c.ingester.max_chunk_age));
    s.Field("chunk_idle_period", Duration(&c.ingester.chunk_idle_period));
    s.Field("flush_check_period", Duration(&c.ingester.flush_check_period));
    s.Field("chunk_compression_level", Int(&c.ingester.chunk_compression_level, 1, 19));
    s.Field("chunk_block_size", Bytes(&c.ingester.chunk_block_size));
    s.Field("head_memory_limit", Bytes(&c.ingester.head_memory_limit));
    {
      Section w(s.Child("wal"), "ingester.wal", source, &err);
      w.Field("enabled", [](const YAML::Node& n) -> Status {
        if (Scalar(n) != "true") {
          return InvalidArgument("logq-store always writes its write-ahead log; only true is accepted");
        }
        return Status::OK();
      });
      w.Field("dir", Str(&c.ingester.wal.dir));
      w.Field("checkpoint_duration", Duration(&c.ingester.wal.checkpoint_duration));
      w.Field("checkpoint_size", Bytes(&c.ingester.wal.checkpoint_size));
      w.Field("segment_size", Bytes(&c.ingester.wal.segment_size));
      w.Field("flush_on_shutdown", Bool(&c.ingester.wal.flush_on_shutdown));
      w.Finish();
    }
    s.Finish();
  }
  {
    Section s(top.Child("distributor"), "distributor", source, &err);
    s.Field("max_recv_msg_size", Bytes(&c.distributor.max_recv_msg_size));
    s.Field("max_decompressed_size", Bytes(&c.distributor.max_decompressed_size));
    s.Field("max_decompressed_inflight_bytes", Bytes(&c.distributor.max_decompressed_inflight_bytes));
    s.Finish();
  }
  {
    Section s(top.Child("runtime_config"), "runtime_config", source, &err);
    s.Field("file", Str(&c.runtime_config.file));
    s.Field("period", Duration(&c.runtime_config.period));
    s.Finish();
  }
  {
    Section s(top.Child("querier"), "querier", source, &err);
    s.Field("tail_max_duration", Duration(&c.querier.tail_max_duration));
    s.Field("tail_max_buffered_bytes", Bytes(&c.querier.tail_max_buffered_bytes));
    s.Finish();
  }
  {
    Section s(top.Child("query_range"), "query_range", source, &err);
    s.Field("align_metric_queries_to_step", Bool(&c.query_range.align_metric_queries_to_step));
    s.Field("align_queries_with_step", Bool(&c.query_range.align_queries_with_step));
    s.Finish();
  }
  {
    Section s(top.Child("limits_config"), "limits_config", source, &err);
    ParseLimits(s, &c.limits_config);
    // Loki's older spelling of runtime_config.file / .period.
    s.Field("per_tenant_override_config", Str(&c.runtime_config.file));
    s.Field("per_tenant_override_period", Duration(&c.runtime_config.period));
    s.Finish();
  }
  {
    Section s(top.Child("compactor"), "compactor", source, &err);
    s.Field("retention_enabled", Bool(&c.compactor.retention_enabled));
    s.Field("compaction_interval", Duration(&c.compactor.compaction_interval));
    s.Field("apply_retention_interval", Duration(&c.compactor.apply_retention_interval));
    s.Field("retention_delete_delay", Duration(&c.compactor.retention_delete_delay));
    s.Field("delete_request_cancel_period", Duration(&c.compactor.delete_request_cancel_period));
    s.Field("delete_max_interval", Duration(&c.compactor.delete_max_interval));
    s.Field("test_only_stream_delay", Duration(&c.compactor.test_only_stream_delay));
    // Accepted and ignored for Loki compatibility (object-store and ring settings).
    for (const char* k : {"working_directory", "shared_store", "shared_store_key_prefix", "delete_request_store",
                          "delete_request_store_key_prefix", "retention_delete_worker_count",
                          "retention_table_timeout", "delete_batch_size", "max_compaction_parallelism",
                          "upload_parallelism", "compactor_ring", "run_once"}) {
      s.Field(k, [](const YAML::Node&) { return Status::OK(); });
    }
    s.Finish();
  }
  top.Finish();
  RETURN_IF_ERROR(err);
  if (c.ingester.chunk_target_size <= 0) return InvalidArgument("config error: ingester.chunk_target_size must be positive");
  if (c.ingester.chunk_block_size <= 0 || c.ingester.chunk_block_size > (64LL << 20)) {
    return InvalidArgument("config error: ingester.chunk_block_size must be between 1B and 64MiB");
  }
  if (c.ingester.head_memory_limit < (1LL << 20)) {
    return InvalidArgument("config error: ingester.head_memory_limit must be at least 1MiB");
  }
  if (c.ingester.wal.checkpoint_duration <= 0) {
    return InvalidArgument("config error: ingester.wal.checkpoint_duration must be positive");
  }
  if (c.ingester.wal.checkpoint_size <= 0) {
    return InvalidArgument("config error: ingester.wal.checkpoint_size must be positive");
  }
  if (c.ingester.wal.segment_size < (1LL << 20)) {
    return InvalidArgument("config error: ingester.wal.segment_size must be at least 1MiB");
  }
  if (c.compactor.compaction_interval <= 0) {
    return InvalidArgument("config error: compactor.compaction_interval must be positive");
  }
  if (c.runtime_config.period <= 0) return InvalidArgument("config error: runtime_config.period must be positive");
  for (auto [key, v] : {std::pair<const char*, int64_t>{"server.http_server_write_timeout", c.server.http_server_write_timeout},
                        {"server.http_server_max_header_bytes", c.server.http_server_max_header_bytes},
                        {"distributor.max_decompressed_inflight_bytes", c.distributor.max_decompressed_inflight_bytes},
                        {"querier.tail_max_buffered_bytes", c.querier.tail_max_buffered_bytes}}) {
    if (v <= 0) return InvalidArgument(fmt::format("config error: {} must be positive", key));
  }
  if (c.server.http_server_max_header_bytes > std::numeric_limits<uint32_t>::max()) {
    return InvalidArgument("config error: server.http_server_max_header_bytes must be below 4GiB");
  }
  return c;
}

Result<std::map<std::string, ingest::Limits, std::less<>>> ParseRuntimeOverrides(
    std::string_view yaml, std::string_view source, const ingest::Limits& defaults) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(fmt::format("config error at {}:{}:{}: {}", source, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  std::map<std::string, ingest::Limits, std::less<>> out;
  Status err;
  Section top(root, "", source, &err);
  top.Field("configs", [](const YAML::Node&) { return Status::OK(); });
  top.Field("multi_kv_config", [](const YAML::Node&) { return Status::OK(); });
  YAML::Node overrides = top.Child("overrides");
  top.Finish();
  RETURN_IF_ERROR(err);
  if (overrides && !overrides.IsNull()) {
    if (!overrides.IsMap()) return InvalidArgument(fmt::format("config error at {}: \"overrides\" must be a mapping", source));
    for (auto it = overrides.begin(); it != overrides.end(); ++it) {
      std::string tenant = it->first.as<std::string>("");
      Status valid = ValidateTenantId(tenant);
      if (!valid.ok()) {
        auto m = it->first.Mark();
        return InvalidArgument(fmt::format("config error at {}:{}:{}: overrides: tenant \"{}\": {}", source, m.line + 1,
                                           m.column + 1, tenant, valid.message()));
      }
      ingest::Limits l = defaults;
      Section s(it->second, "overrides." + tenant, source, &err);
      ParseLimits(s, &l);
      s.Finish();
      RETURN_IF_ERROR(err);
      out[tenant] = std::move(l);
    }
  }
  return out;
}

Result<StoreConfig> LoadStoreConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("cannot read config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseStoreConfig(ss.str(), path);
}

Status ApplyStoreFlag(StoreConfig* c, std::string_view name, std::string_view value) {
  // Flags use the YAML path with '-' for '_' ("server.http-listen-port"); both spellings work.
  std::string key(name);
  for (char& ch : key) {
    if (ch == '-') ch = '_';
  }
  size_t dot = key.rfind('.');
  std::string section = dot == std::string::npos ? "" : key.substr(0, dot);
  std::string leaf = dot == std::string::npos ? key : key.substr(dot + 1);
  std::string yaml;
  if (section.empty()) {
    yaml = leaf + ": " + std::string(value) + "\n";
  } else {
    yaml = section + ":\n  " + leaf + ": \"" + std::string(value) + "\"\n";
  }
  // Re-parse the single key through the same schema, then merge it.
  auto one = ParseStoreConfig(yaml, "-" + std::string(name));
  if (!one.ok()) {
    std::string m = one.status().message();
    if (m.find("unknown key") != std::string::npos) return InvalidArgument("unknown flag -" + std::string(name));
    return InvalidArgument("invalid value for flag -" + std::string(name) + ": " + m);
  }
  // Merge: copy the one field that differs from defaults is error-prone; instead apply the
  // override by serializing the current config, patching the key, and re-parsing.
  YAML::Node cur = YAML::Load(StoreConfigToYaml(*c));
  YAML::Node patch = YAML::Load(yaml);
  if (section.empty()) {
    cur[leaf] = patch[leaf];
  } else {
    cur[section][leaf] = patch[section][leaf];
  }
  YAML::Emitter e;
  e << cur;
  auto merged = ParseStoreConfig(e.c_str(), "-" + std::string(name));
  if (!merged.ok()) return merged.status();
  *c = std::move(merged).value();
  return Status::OK();
}

std::string StoreConfigToYaml(const StoreConfig& c) {
  const auto& l = c.limits_config;
  std::string o;
  o += fmt::format("auth_enabled: {}\n", c.auth_enabled);
  o += "server:\n";
  o += fmt::format("  http_listen_address: \"{}\"\n", c.server.http_listen_address);
  o += fmt::format("  http_listen_port: {}\n", c.server.http_listen_port);
  o += fmt::format("  http_server_read_timeout: {}\n", FormatDuration(c.server.http_server_read_timeout));
  o += fmt::format("  http_server_idle_timeout: {}\n", FormatDuration(c.server.http_server_idle_timeout));
  o += fmt::format("  http_server_write_timeout: {}\n", FormatDuration(c.server.http_server_write_timeout));
  o += fmt::format("  http_server_max_header_bytes: {}\n", FormatBytes(c.server.http_server_max_header_bytes));
  o += fmt::format("  log_level: {}\n", c.server.log_level);
  o += fmt::format("  io_threads: {}\n", c.server.io_threads);
  o += fmt::format("  worker_threads: {}\n", c.server.worker_threads);
  o += "common:\n";
  o += fmt::format("  path_prefix: \"{}\"\n", c.common.path_prefix);
  o += "storage:\n";
  o += fmt::format("  path: \"{}\"  # effective: {}\n", c.storage.path, c.StoragePath());
  o += fmt::format("  sync_writes: {}\n", c.storage.sync_writes);
  o += fmt::format("  block_cache_size: {}\n", FormatBytes(c.storage.block_cache_size));
  o += fmt::format("  write_buffer_size: {}\n", FormatBytes(c.storage.write_buffer_size));
  o += "ingester:\n";
  o += fmt::format("  chunk_target_size: {}\n", FormatBytes(c.ingester.chunk_target_size));
  o += fmt::format("  max_chunk_age: {}\n", FormatDuration(c.ingester.max_chunk_age));
  o += fmt::format("  chunk_idle_period: {}\n", FormatDuration(c.ingester.chunk_idle_period));
  o += fmt::format("  flush_check_period: {}\n", FormatDuration(c.ingester.flush_check_period));
  o += fmt::format("  chunk_compression_level: {}\n", c.ingester.chunk_compression_level);
  o += fmt::format("  chunk_block_size: {}\n", FormatBytes(c.ingester.chunk_block_size));
  o += fmt::format("  head_memory_limit: {}\n", FormatBytes(c.ingester.head_memory_limit));
  o += "  wal:\n";
  o += fmt::format("    dir: \"{}\"  # effective: {}\n", c.ingester.wal.dir, c.WalDir());
  o += fmt::format("    checkpoint_duration: {}\n", FormatDuration(c.ingester.wal.checkpoint_duration));
  o += fmt::format("    checkpoint_size: {}\n", FormatBytes(c.ingester.wal.checkpoint_size));
  o += fmt::format("    segment_size: {}\n", FormatBytes(c.ingester.wal.segment_size));
  o += fmt::format("    flush_on_shutdown: {}\n", c.ingester.wal.flush_on_shutdown);
  o += "distributor:\n";
  o += fmt::format("  max_recv_msg_size: {}\n", FormatBytes(c.distributor.max_recv_msg_size));
  o += fmt::format("  max_decompressed_size: {}\n", FormatBytes(c.distributor.max_decompressed_size));
  o += fmt::format("  max_decompressed_inflight_bytes: {}\n",
                   FormatBytes(c.distributor.max_decompressed_inflight_bytes));
  o += "querier:\n";
  o += fmt::format("  tail_max_duration: {}\n", FormatDuration(c.querier.tail_max_duration));
  o += fmt::format("  tail_max_buffered_bytes: {}\n", FormatBytes(c.querier.tail_max_buffered_bytes));
  o += "query_range:\n";
  o += fmt::format("  align_metric_queries_to_step: {}\n", c.query_range.align_metric_queries_to_step);
  o += fmt::format("  align_queries_with_step: {}\n", c.query_range.align_queries_with_step);
  o += "limits_config:\n";
  o += fmt::format("  max_line_size: {}\n", FormatBytes(l.max_line_size));
  o += fmt::format("  max_line_size_truncate: {}\n", l.max_line_size_truncate);
  o += fmt::format("  max_label_name_length: {}\n", l.max_label_name_length);
  o += fmt::format("  max_label_value_length: {}\n", l.max_label_value_length);
  o += fmt::format("  max_label_names_per_series: {}\n", l.max_label_names_per_series);
  o += fmt::format("  reject_old_samples: {}\n", l.reject_old_samples);
  o += fmt::format("  reject_old_samples_max_age: {}\n", FormatDuration(l.reject_old_samples_max_age));
  o += fmt::format("  creation_grace_period: {}\n", FormatDuration(l.creation_grace_period));
  o += fmt::format("  ingestion_rate_mb: {}\n", l.ingestion_rate_mb);
  o += fmt::format("  ingestion_burst_size_mb: {}\n", l.ingestion_burst_size_mb);
  o += fmt::format("  max_global_streams_per_user: {}\n", l.max_global_streams_per_user);
  o += fmt::format("  max_structured_metadata_size: {}\n", FormatBytes(l.max_structured_metadata_size));
  o += fmt::format("  max_structured_metadata_entries_count: {}\n", l.max_structured_metadata_entries_count);
  o += fmt::format("  max_entries_limit_per_query: {}\n", l.max_entries_limit_per_query);
  o += fmt::format("  max_query_length: {}\n", FormatDuration(l.max_query_length));
  o += fmt::format("  max_query_series: {}\n", l.max_query_series);
  o += fmt::format("  split_queries_by_interval: {}\n", FormatDuration(l.split_queries_by_interval));
  o += fmt::format("  query_timeout: {}\n", FormatDuration(l.query_timeout));
  o += fmt::format("  max_concurrent_tail_requests: {}\n", l.max_concurrent_tail_requests);
  o += fmt::format("  max_query_memory_size: {}\n", FormatBytes(l.max_query_memory_size));
  o += fmt::format("  max_json_depth: {}\n", l.max_json_depth);
  o += fmt::format("  max_template_output_size: {}\n", FormatBytes(l.max_template_output_size));
  o += fmt::format("  retention_period: {}\n", FormatDuration(l.retention_period));
  if (l.retention_stream->empty()) {
    o += "  retention_stream: []\n";
  } else {
    o += "  retention_stream:\n";
    for (const auto& r : *l.retention_stream) {
      o += fmt::format("    - selector: {}\n      priority: {}\n      period: {}\n", YamlQuote(r.selector), r.priority,
                       FormatDuration(r.period));
    }
  }
  o += fmt::format("  deletion_mode: {}\n", l.deletion_mode);
  const auto& k = c.compactor;
  o += "compactor:\n";
  o += fmt::format("  retention_enabled: {}\n", k.retention_enabled);
  o += fmt::format("  compaction_interval: {}\n", FormatDuration(k.compaction_interval));
  o += fmt::format("  apply_retention_interval: {}\n", FormatDuration(k.apply_retention_interval));
  o += fmt::format("  retention_delete_delay: {}\n", FormatDuration(k.retention_delete_delay));
  o += fmt::format("  delete_request_cancel_period: {}\n", FormatDuration(k.delete_request_cancel_period));
  o += fmt::format("  delete_max_interval: {}\n", FormatDuration(k.delete_max_interval));
  if (k.test_only_stream_delay > 0) {
    o += fmt::format("  test_only_stream_delay: {}\n", FormatDuration(k.test_only_stream_delay));
  }
  o += "runtime_config:\n";
  o += fmt::format("  file: {}\n", YamlQuote(c.runtime_config.file));
  o += fmt::format("  period: {}\n", FormatDuration(c.runtime_config.period));
  return o;
}

}  // namespace logq::server
