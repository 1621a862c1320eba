#include "shipper/config.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "query/base/units.h"
#include "query/base/yaml_config.h"

namespace logq::shipper {
namespace {

using yamlcfg::Bool;
using yamlcfg::Bytes;
using yamlcfg::Duration;
using yamlcfg::Int;
using yamlcfg::Scalar;
using yamlcfg::Str;
using yamlcfg::StrMap;
using Section = yamlcfg::ConfigSection;

void ParseTls(const YAML::Node& n, const std::string& path, std::string_view src, Status* err, TlsConfig* t) {
  Section s(n, path, src, err);
  s.Field("ca_file", Str(&t->ca_file));
  s.Field("cert_file", Str(&t->cert_file));
  s.Field("key_file", Str(&t->key_file));
  s.Field("server_name", Str(&t->server_name));
  s.Field("insecure_skip_verify", Bool(&t->insecure_skip_verify));
  s.Finish();
}

void ParseClient(const YAML::Node& n, const std::string& path, std::string_view src, Status* err, ClientConfig* c) {
  Section s(n, path, src, err);
  s.Field("url", Str(&c->url));
  s.Field("tenant_id", Str(&c->tenant_id));
  s.Field("batchwait", Duration(&c->batch_wait_ns));
  s.Field("batchsize", Bytes(&c->batch_size_bytes));
  s.Field("timeout", Duration(&c->timeout_ns));
  s.Field("external_labels", StrMap(&c->external_labels));
  s.Field("headers", StrMap(&c->headers));
  s.Field("bearer_token", Str(&c->bearer_token));
  s.Field("bearer_token_file", Str(&c->bearer_token_file));
  s.Field("proxy_url", Str(&c->proxy_url));
  {
    Section b(s.Child("backoff_config"), s.Join("backoff_config"), src, err);
    b.Field("min_period", Duration(&c->backoff.min_period_ns));
    b.Field("max_period", Duration(&c->backoff.max_period_ns));
    b.Field("max_retries", Int(&c->backoff.max_retries, 0, 1'000'000'000));
    b.Finish();
  }
  {
    Section b(s.Child("basic_auth"), s.Join("basic_auth"), src, err);
    b.Field("username", Str(&c->basic_auth_username));
    b.Field("password", Str(&c->basic_auth_password));
    b.Field("password_file", Str(&c->basic_auth_password_file));
    b.Finish();
  }
  YAML::Node tls = s.Child("tls_config");
  if (tls) ParseTls(tls, s.Join("tls_config"), src, err, &c->tls);
  s.Finish();
}

void ParseScrape(const YAML::Node& n, const std::string& path, std::string_view src, Status* err, ScrapeConfig* c) {
  Section s(n, path, src, err);
  s.Field("job_name", Str(&c->job_name));
  YAML::Node sc = s.Child("static_configs");
  if (sc && !sc.IsNull()) {
    if (!sc.IsSequence()) {
      s.Fail(sc, "key \"" + s.Join("static_configs") + "\": must be a list");
    } else {
      for (size_t i = 0; i < sc.size(); ++i) {
        StaticConfig st;
        Section g(sc[i], fmt::format("{}.static_configs[{}]", path, i), src, err);
        g.Field("targets", [&](const YAML::Node& t) -> Status {
          if (!t.IsSequence()) return InvalidArgument("must be a list");
          for (const auto& x : t) st.targets.push_back(Scalar(x));
          return Status::OK();
        });
        g.Field("labels", StrMap(&st.labels));
        g.Finish();
        c->static_configs.push_back(std::move(st));
      }
    }
  }
  YAML::Node k = s.Child("kubernetes_sd_configs");
  if (k && !k.IsNull()) {
    if (!k.IsSequence()) {
      s.Fail(k, "key \"" + s.Join("kubernetes_sd_configs") + "\": must be a list");
    } else {
      c->kubernetes_sd = true;
      c->kubernetes_sd_configs = k;
      for (size_t i = 0; i < k.size(); ++i) {
        Section g(k[i], fmt::format("{}.kubernetes_sd_configs[{}]", path, i), src, err);
        g.Field("role", [](const YAML::Node& r) -> Status {
          if (Scalar(r) != "pod") return InvalidArgument("only role \"pod\" is supported, got \"" + Scalar(r) + "\"");
          return Status::OK();
        });
        KubeSdConfig kc;
        g.Field("api_server", Str(&kc.api_server));
        g.Field("bearer_token_file", Str(&kc.bearer_token_file));
        YAML::Node tls = g.Child("tls_config");
        if (tls && !tls.IsNull()) {
          Section t(tls, fmt::format("{}.kubernetes_sd_configs[{}].tls_config", path, i), src, err);
          t.Field("ca_file", Str(&kc.ca_file));
          t.Field("insecure_skip_verify", Bool(&kc.insecure_skip_verify));
          for (const char* key : {"cert_file", "key_file", "server_name", "min_version"}) {
            t.Field(key, [](const YAML::Node&) { return Status::OK(); });
          }
          t.Finish();
        }
        // Accepted for compatibility; the shipper watches only this node's pods anyway.
        for (const char* key : {"kubeconfig_file", "namespaces", "selectors", "bearer_token", "basic_auth",
                                "proxy_url", "follow_redirects", "enable_http2", "attach_metadata"}) {
          g.Field(key, [](const YAML::Node&) { return Status::OK(); });
        }
        g.Finish();
        c->kube_sd.push_back(std::move(kc));
      }
    }
  }
  YAML::Node jn = s.Child("journal");
  if (jn && !jn.IsNull()) {
    Section g(jn, path + ".journal", src, err);
    c->journal.enabled = true;
    g.Field("json", Bool(&c->journal.json));
    g.Field("max_age", Duration(&c->journal.max_age_ns));
    g.Field("path", Str(&c->journal.path));
    g.Field("labels", StrMap(&c->journal.labels));
    g.Finish();
  }
  c->relabel_configs = s.Child("relabel_configs");
  if (c->relabel_configs && !c->relabel_configs.IsNull() && !c->relabel_configs.IsSequence()) {
    s.Fail(c->relabel_configs, "key \"" + s.Join("relabel_configs") + "\": must be a list");
  }
  c->pipeline_stages = s.Child("pipeline_stages");
  if (c->pipeline_stages && !c->pipeline_stages.IsNull() && !c->pipeline_stages.IsSequence()) {
    s.Fail(c->pipeline_stages, "key \"" + s.Join("pipeline_stages") + "\": must be a list");
  }
  s.Finish();
}

std::string DefaultNodeName() {
  if (const char* n = std::getenv("NODE_NAME"); n && *n) return n;
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) return host;
  return "";
}

}  // namespace

std::string ExpandEnv(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close != std::string_view::npos) {
        std::string inner(text.substr(i + 2, close - i - 2));
        std::string def;
        size_t d = inner.find(":-");
        if (d != std::string::npos) {
          def = inner.substr(d + 2);
          inner = inner.substr(0, d);
        }
        const char* v = std::getenv(inner.c_str());
        out += (v && *v) ? std::string(v) : def;
        i = close + 1;
        continue;
      }
    }
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '$') {  // "$$" → "$"
      out += '$';
      i += 2;
      continue;
    }
    out += text[i++];
  }
  return out;
}

Result<ShipperConfig> ParseShipperConfig(std::string_view yaml_in, std::string_view source, bool expand_env) {
  std::string yaml = expand_env ? ExpandEnv(yaml_in) : std::string(yaml_in);
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(fmt::format("config error at {}:{}:{}: {}", source, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  ShipperConfig c;
  c.tail.node_name = DefaultNodeName();
  Status err;
  Section top(root, "", source, &err);
  {
    Section s(top.Child("server"), "server", source, &err);
    s.Field("http_listen_address", Str(&c.server.http_listen_address));
    s.Field("http_listen_port", Int(&c.server.http_listen_port, 0, 65535));
    s.Field("grpc_listen_port", [](const YAML::Node&) { return Status::OK(); });  // accepted, unused
    s.Field("log_level", [&](const YAML::Node& n) -> Status {
      std::string v = Scalar(n);
      if (v != "debug" && v != "info" && v != "warn" && v != "error") {
        return InvalidArgument("must be one of debug, info, warn, error; got \"" + v + "\"");
      }
      c.server.log_level = v;
      return Status::OK();
    });
    s.Field("disable", Bool(&c.server.disable));
    s.Field("register_instrumentation", [](const YAML::Node&) { return Status::OK(); });
    s.Finish();
  }
  {
    Section s(top.Child("positions"), "positions", source, &err);
    s.Field("filename", Str(&c.positions.filename));
    s.Field("sync_period", Duration(&c.positions.sync_period_ns));
    s.Field("ignore_invalid_yaml", Bool(&c.positions.ignore_invalid_yaml));
    s.Finish();
  }
  YAML::Node clients = top.Child("clients");
  YAML::Node client = top.Child("client");  // Promtail's deprecated single-client form
  if (clients && !clients.IsNull()) {
    if (!clients.IsSequence()) {
      top.Fail(clients, "key \"clients\": must be a list");
    } else {
      for (size_t i = 0; i < clients.size(); ++i) {
        ClientConfig cc;
        ParseClient(clients[i], fmt::format("clients[{}]", i), source, &err, &cc);
        c.clients.push_back(std::move(cc));
      }
    }
  }
  if (client && !client.IsNull()) ParseClient(client, "client", source, &err, &c.single_client);
  YAML::Node scrape = top.Child("scrape_configs");
  if (scrape && !scrape.IsNull()) {
    if (!scrape.IsSequence()) {
      top.Fail(scrape, "key \"scrape_configs\": must be a list");
    } else {
      for (size_t i = 0; i < scrape.size(); ++i) {
        ScrapeConfig sc;
        ParseScrape(scrape[i], fmt::format("scrape_configs[{}]", i), source, &err, &sc);
        c.scrape_configs.push_back(std::move(sc));
      }
    }
  }
  {
    Section s(top.Child("limits_config"), "limits_config", source, &err);
    s.Field("max_line_size", Bytes(&c.tail.max_line_size));
    s.Field("max_line_size_truncate", Bool(&c.tail.max_line_size_truncate));
    s.Finish();
  }
  {
    Section s(top.Child("shipper"), "shipper", source, &err);
    s.Field("pods_root", Str(&c.tail.pods_root));
    s.Field("node_name", Str(&c.tail.node_name));
    s.Field("max_line_size", Bytes(&c.tail.max_line_size));
    s.Field("max_line_size_truncate", Bool(&c.tail.max_line_size_truncate));
    s.Field("partial_line_timeout", Duration(&c.tail.partial_line_timeout_ns));
    s.Field("max_pending_bytes", Bytes(&c.tail.max_pending_bytes));
    s.Field("shutdown_timeout", Duration(&c.tail.shutdown_timeout_ns));
    s.Field("fallback_poll_interval", Duration(&c.tail.fallback_poll_interval_ns));
    s.Field("rescan_interval", Duration(&c.tail.rescan_interval_ns));
    s.Field("max_watches", Int(&c.tail.max_watches, 0, 100'000'000));
    s.Field("max_open_files", Int(&c.tail.max_open_files, 0, 100'000'000));
    s.Field("idle_file_timeout", Duration(&c.tail.idle_file_timeout_ns));
    s.Finish();
  }
  top.Field("target_config", [](const YAML::Node&) { return Status::OK(); });  // Promtail's; unused
  top.Finish();
  if (!err.ok()) return err;
  return c;
}

Result<ShipperConfig> LoadShipperConfigFile(const std::string& path, bool expand_env) {
  std::ifstream f(path);
  if (!f) return InvalidArgument("cannot read config file " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseShipperConfig(ss.str(), path, expand_env);
}

Status ApplyShipperFlag(ShipperConfig* c, std::string_view name, std::string_view value) {
  std::string v(value);
  auto first_client = [&]() -> ClientConfig& { return c->single_client; };
  auto bad = [&](const Status& s) { return InvalidArgument(fmt::format("flag -{}: {}", name, s.message())); };
  if (name == "client.url") {
    first_client().url = v;
  } else if (name == "client.tenant-id") {
    first_client().tenant_id = v;
  } else if (name == "client.batch-wait") {
    auto d = ParseDuration(v);
    if (!d.ok()) return bad(d.status());
    first_client().batch_wait_ns = *d;
  } else if (name == "client.batch-size-bytes") {
    auto b = ParseBytes(v);
    if (!b.ok()) return bad(b.status());
    first_client().batch_size_bytes = static_cast<size_t>(*b);
  } else if (name == "client.timeout") {
    auto d = ParseDuration(v);
    if (!d.ok()) return bad(d.status());
    first_client().timeout_ns = *d;
  } else if (name == "client.external-labels") {
    std::stringstream ss(v);
    std::string kv;
    while (std::getline(ss, kv, ',')) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos) return bad(InvalidArgument("expected name=value[,name=value...]"));
      first_client().external_labels[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  } else if (name == "positions.file") {
    c->positions.filename = v;
  } else if (name == "positions.sync-period") {
    auto d = ParseDuration(v);
    if (!d.ok()) return bad(d.status());
    c->positions.sync_period_ns = *d;
  } else if (name == "server.http-listen-port") {
    char* end = nullptr;
    long p = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || p < 0 || p > 65535) return bad(InvalidArgument("must be a port number"));
    c->server.http_listen_port = static_cast<int>(p);
  } else if (name == "server.http-listen-address") {
    c->server.http_listen_address = v;
  } else if (name == "log.level") {
    if (v != "debug" && v != "info" && v != "warn" && v != "error") {
      return bad(InvalidArgument("must be one of debug, info, warn, error"));
    }
    c->server.log_level = v;
  } else if (name == "shipper.pods-root") {
    c->tail.pods_root = v;
  } else if (name == "shipper.node-name") {
    c->tail.node_name = v;
  } else {
    return InvalidArgument(fmt::format("unknown flag -{} (see -help)", name));
  }
  return Status::OK();
}

void FinishShipperConfig(ShipperConfig* c) {
  ClientConfig single = std::move(c->single_client);
  c->single_client = ClientConfig();
  if (!single.url.empty()) c->clients.push_back(single);
  for (ClientConfig& cc : c->clients) {
    for (const auto& [k, v] : single.external_labels) cc.external_labels.emplace(k, v);  // own labels win
  }
}

Status ValidateShipperConfig(const ShipperConfig& c) {
  if (c.clients.empty()) return InvalidArgument("no clients configured: set clients[].url or -client.url");
  for (size_t i = 0; i < c.clients.size(); ++i) {
    const ClientConfig& cc = c.clients[i];
    if (cc.url.empty()) return InvalidArgument(fmt::format("clients[{}].url is required", i));
    if (cc.url.rfind("http://", 0) != 0 && cc.url.rfind("https://", 0) != 0) {
      return InvalidArgument(fmt::format("clients[{}].url \"{}\" must start with http:// or https://", i, cc.url));
    }
    if (cc.batch_size_bytes == 0) return InvalidArgument(fmt::format("clients[{}].batchsize must be > 0", i));
    if (cc.batch_wait_ns <= 0) return InvalidArgument(fmt::format("clients[{}].batchwait must be > 0", i));
    if (cc.backoff.min_period_ns <= 0) {
      return InvalidArgument(fmt::format("clients[{}].backoff_config.min_period must be > 0", i));
    }
  }
  if (c.positions.sync_period_ns <= 0) return InvalidArgument("positions.sync_period must be > 0");
  if (c.tail.pods_root.empty()) return InvalidArgument("shipper.pods_root must not be empty");
  return Status::OK();
}

}  // namespace logq::shipper
