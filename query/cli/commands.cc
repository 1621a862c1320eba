#include "query/cli/commands.h"

#include <fmt/format.h>
#include <pthread.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>

#include "query/base/websocket_client.h"
#include "query/cli/client.h"
#include "query/cli/output.h"
#include "query/logql/parser.h"

namespace logq::cli {
namespace {

using json = nlohmann::json;

struct Entry {
  const Labels* labels;
  int64_t ts;
  std::string line;
};

struct Streams {
  std::vector<std::unique_ptr<Labels>> labels;  // owned label sets
  std::vector<Entry> entries;
};

Labels LabelsOf(const json& obj) {
  Labels l;
  if (obj.is_object()) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      l.Add(it.key(), it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
    }
  }
  l.Sort();
  return l;
}

// Entries of a `streams` result (or a tail frame's streams), in response order.
Status ParseStreams(const json& result, Streams* out) {
  if (!result.is_array()) return Internal("unexpected response: result is not an array");
  for (const auto& s : result) {
    out->labels.push_back(std::make_unique<Labels>(LabelsOf(s.value("stream", json::object()))));
    const Labels* l = out->labels.back().get();
    if (!s.contains("values") || !s["values"].is_array()) return Internal("unexpected response: stream without values");
    for (const auto& v : s["values"]) {
      if (!v.is_array() || v.size() < 2 || !v[0].is_string() || !v[1].is_string()) {
        return Internal("unexpected response: value is not [\"<ns>\", \"<line>\"]");
      }
      out->entries.push_back({l, std::stoll(v[0].get<std::string>()), v[1].get<std::string>()});
    }
  }
  return Status::OK();
}

Result<json> ParseJson(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Internal("the server's answer is not JSON: " + body.substr(0, 200));
  return j;
}

std::string Humanize(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (bytes >= 1000 && u < 5) {
    bytes /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

class Runner {
 public:
  Runner(const Options& o, const Io& io, LokiClient* client)
      : o_(o), io_(io), client_(client), printer_(o, io.out, UseColor(o, io.out_is_tty, io.no_color)) {}

  Result<json> Get(const std::string& path, const Params& params) {
    if (!o_.quiet) std::fprintf(io_.err, "%s\n", client_->Url(path, params).c_str());
    ASSIGN_OR_RETURN(std::string body, client_->Get(path, params));
    return ParseJson(body);
  }

  void PrintStats(const json& data) {
    if (!o_.stats || !data.contains("stats")) return;
    const json& s = data["stats"];
    if (!s.contains("summary")) return;
    for (auto it = s["summary"].begin(); it != s["summary"].end(); ++it) {
      std::string v = it.value().dump();
      if (it.key().find("Bytes") != std::string::npos && it.value().is_number()) v = Humanize(it.value().get<double>());
      std::fprintf(io_.err, "Summary.%s %s\n", it.key().c_str(), v.c_str());
    }
  }

  // Prints a metric result (matrix, vector, scalar) as JSON, or as a table with `-o table`.
  void PrintMetric(const json& data) {
    const json& result = data["result"];
    if (o_.output == OutputMode::kTable) {
      PrintMetricTable(data.value("resultType", ""), result);
      return;
    }
    if (o_.output == OutputMode::kJsonl && result.is_array()) {
      for (const auto& r : result) std::fprintf(io_.out, "%s\n", r.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
      return;
    }
    std::fprintf(io_.out, "%s\n", result.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  }

  // `-o table`: one row per sample; columns TIME (matrix only), one per label name of any
  // series (sorted, upper-cased), VALUE. A scalar prints its value alone.
  void PrintMetricTable(const std::string& type, const json& result) {
    if (type == "scalar") {
      if (result.is_array() && result.size() == 2 && result[1].is_string()) {
        std::fprintf(io_.out, "%s\n", result[1].get<std::string>().c_str());
      }
      return;
    }
    if (!result.is_array()) return;
    std::set<std::string> names;
    for (const auto& r : result) {
      for (const Label& l : LabelsOf(r.value("metric", json::object()))) names.insert(l.name);
    }
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header;
    const bool matrix = type == "matrix";
    if (matrix) header.push_back("TIME");
    for (const std::string& n : names) {
      std::string up;
      for (char c : n) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      header.push_back(up);
    }
    header.push_back("VALUE");
    rows.push_back(header);
    auto add_row = [&](const Labels& labels, const json& point) {
      if (!point.is_array() || point.size() != 2 || !point[1].is_string()) return;
      std::vector<std::string> row;
      if (matrix) {
        const int64_t ts = static_cast<int64_t>(point[0].is_number() ? point[0].get<double>() * 1e9 : 0);
        row.push_back(FormatTime(ts, o_.utc, false));
      }
      for (const std::string& n : names) {
        const std::string* v = labels.Get(n);
        row.push_back(v != nullptr ? *v : "");
      }
      row.push_back(point[1].get<std::string>());
      rows.push_back(std::move(row));
    };
    for (const auto& r : result) {
      Labels labels = LabelsOf(r.value("metric", json::object()));
      if (r.contains("values") && r["values"].is_array()) {
        for (const auto& p : r["values"]) add_row(labels, p);
      } else if (r.contains("value")) {
        add_row(labels, r["value"]);
      }
    }
    std::vector<size_t> width(header.size(), 0);
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : rows) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
      }
      std::fprintf(io_.out, "%s\n", line.c_str());
    }
  }

  void ShowCommonLabels(const Streams& s) {
    const bool lines = o_.output == OutputMode::kDefault || o_.output == OutputMode::kTable;
    if (!lines || s.labels.size() < 2) return;
    Labels common = *s.labels[0];
    for (size_t i = 1; i < s.labels.size(); ++i) {
      Labels keep;
      for (const Label& l : common) {
        const std::string* v = s.labels[i]->Get(l.name);
        if (v != nullptr && *v == l.value) keep.Add(l.name, l.value);
      }
      common = std::move(keep);
    }
    if (!o_.quiet && !common.empty()) std::fprintf(io_.err, "Common labels: %s\n", common.ToString().c_str());
    printer_.SetCommonLabels(std::move(common));
  }

  int Query() {
    const std::string& q = o_.args[0];
    const bool unlimited = o_.limit == 0;
    int64_t remaining = unlimited ? INT64_MAX : o_.limit;
    int64_t start = o_.start, end = o_.end;
    int64_t boundary_ts = 0;
    std::set<std::pair<std::string, std::string>> boundary;  // (labels, line) printed at boundary_ts
    bool first = true;
    while (remaining > 0) {
      const int64_t want = std::min<int64_t>(o_.batch, remaining + static_cast<int64_t>(boundary.size()));
      Params p = {{"query", q},
                  {"limit", std::to_string(want)},
                  {"start", std::to_string(start)},
                  {"end", std::to_string(end)},
                  {"direction", o_.forward ? "FORWARD" : "BACKWARD"}};
      if (o_.step_ns > 0) p.emplace_back("step", fmt::format("{}", static_cast<double>(o_.step_ns) / 1e9));
      auto j = Get("/loki/api/v1/query_range", p);
      if (!j.ok()) return Fail(j.status());
      const json& data = (*j)["data"];
      PrintStats(data);
      if (data.value("resultType", "") != "streams") {
        PrintMetric(data);
        return Done();
      }
      Streams s;
      Status st = ParseStreams(data["result"], &s);
      if (!st.ok()) return Fail(st);
      std::stable_sort(s.entries.begin(), s.entries.end(), [&](const Entry& a, const Entry& b) {
        return o_.forward ? a.ts < b.ts : a.ts > b.ts;
      });
      if (first) {
        ShowCommonLabels(s);
        for (const auto& l : s.labels) printer_.ReserveWidth(*l);
        first = false;
      }
      size_t fresh = 0;
      for (const Entry& e : s.entries) {
        if (remaining <= 0) break;
        if (e.ts == boundary_ts && boundary.count({e.labels->ToString(), e.line})) continue;
        printer_.Print(*e.labels, e.ts, e.line);
        --remaining;
        ++fresh;
      }
      if (!printer_.ok()) return Done();
      if (static_cast<int64_t>(s.entries.size()) < want || remaining <= 0) break;
      const int64_t last = s.entries.back().ts;
      if (fresh == 0) {
        std::fprintf(io_.err,
                     "logq: more than --batch=%d entries share the timestamp %lld; raise --batch to page past it\n",
                     o_.batch, static_cast<long long>(last));
        return 1;
      }
      if (last != boundary_ts) boundary.clear();
      boundary_ts = last;
      for (const Entry& e : s.entries) {
        if (e.ts == last) boundary.insert({e.labels->ToString(), e.line});
      }
      if (o_.forward) start = last;
      else end = last + 1;
    }
    return Done();
  }

  int InstantQuery() {
    Params p = {{"query", o_.args[0]},
                {"limit", std::to_string(o_.limit == 0 ? 5000 : o_.limit)},
                {"time", std::to_string(o_.instant)},
                {"direction", o_.forward ? "FORWARD" : "BACKWARD"}};
    auto j = Get("/loki/api/v1/query", p);
    if (!j.ok()) return Fail(j.status());
    const json& data = (*j)["data"];
    PrintStats(data);
    if (data.value("resultType", "") != "streams") {
      PrintMetric(data);
      return Done();
    }
    Streams s;
    Status st = ParseStreams(data["result"], &s);
    if (!st.ok()) return Fail(st);
    std::stable_sort(s.entries.begin(), s.entries.end(),
                     [&](const Entry& a, const Entry& b) { return o_.forward ? a.ts < b.ts : a.ts > b.ts; });
    ShowCommonLabels(s);
    for (const Entry& e : s.entries) printer_.Print(*e.labels, e.ts, e.line);
    return Done();
  }

  int LabelsCmd() {
    Params p = {{"start", std::to_string(o_.start)}, {"end", std::to_string(o_.end)}};
    std::string path = "/loki/api/v1/labels";
    if (!o_.args.empty()) path = "/loki/api/v1/label/" + UrlEncode(o_.args[0]) + "/values";
    auto j = Get(path, p);
    if (!j.ok()) return Fail(j.status());
    for (const auto& v : j->value("data", json::array())) {
      if (v.is_string()) std::fprintf(io_.out, "%s\n", v.get<std::string>().c_str());
    }
    return Done();
  }

  int Series() {
    Params p = {{"match", o_.args.empty() ? std::string("{}") : o_.args[0]},
                {"start", std::to_string(o_.start)},
                {"end", std::to_string(o_.end)}};
    auto j = Get("/loki/api/v1/series", p);
    if (!j.ok()) return Fail(j.status());
    std::vector<std::string> lines;
    for (const auto& s : j->value("data", json::array())) lines.push_back(LabelsOf(s).ToString());
    std::sort(lines.begin(), lines.end());
    for (const auto& l : lines) std::fprintf(io_.out, "%s\n", l.c_str());
    return Done();
  }

  int Stats() {
    Params p = {{"query", o_.args[0]}, {"start", std::to_string(o_.start)}, {"end", std::to_string(o_.end)}};
    auto j = Get("/loki/api/v1/index/stats", p);
    if (!j.ok()) return Fail(j.status());
    if (o_.output == OutputMode::kJsonl) {
      std::fprintf(io_.out, "%s\n", j->dump().c_str());
      return Done();
    }
    std::fprintf(io_.out, "{\n  bytes: %s\n  chunks: %lld\n  streams: %lld\n  entries: %lld\n}\n",
                 Humanize(j->value("bytes", 0.0)).c_str(), j->value("chunks", 0LL), j->value("streams", 0LL),
                 j->value("entries", 0LL));
    return Done();
  }

  int Volume() {
    Params p = {{"query", o_.args[0]},
                {"start", std::to_string(o_.start)},
                {"end", std::to_string(o_.end)},
                {"limit", std::to_string(o_.limit_set && o_.limit > 0 ? o_.limit : 100)}};
    std::string path = "/loki/api/v1/index/volume";
    if (o_.step_ns > 0) {
      path = "/loki/api/v1/index/volume_range";
      p.emplace_back("step", fmt::format("{}", static_cast<double>(o_.step_ns) / 1e9));
    }
    auto j = Get(path, p);
    if (!j.ok()) return Fail(j.status());
    const json& data = (*j)["data"];
    if (o_.output == OutputMode::kJsonl || o_.step_ns > 0) {
      PrintMetric(data);
      return Done();
    }
    for (const auto& r : data.value("result", json::array())) {
      double v = 0;
      if (r.contains("value") && r["value"].is_array() && r["value"].size() == 2 && r["value"][1].is_string()) {
        v = std::strtod(r["value"][1].get<std::string>().c_str(), nullptr);
      }
      std::fprintf(io_.out, "%-10s %s\n", Humanize(v).c_str(), LabelsOf(r.value("metric", json::object())).ToString().c_str());
    }
    return Done();
  }

  int Tail();

  int Fail(const Status& s) {
    std::fflush(io_.out);
    std::fprintf(io_.err, "logq: %s\n", s.message().c_str());
    return ExitCodeFor(s);
  }
  int Done() {
    std::fflush(io_.out);
    return 0;  // a closed pipe (| head) is not an error
  }

 private:
  const Options& o_;
  const Io& io_;
  LokiClient* client_;
  Printer printer_;
};

// SIGINT/SIGTERM handling for tail: a thread waits for the signal and interrupts the
// current connection (or the backoff sleep). A second signal exits at once.
struct TailSignals {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  WebSocketClient* current = nullptr;
};

int Runner::Tail() {
  static TailSignals sig;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int signo = 0;
    for (int n = 0;; ++n) {
      if (sigwait(&set, &signo) != 0) continue;
      if (n > 0) std::_Exit(130);
      std::lock_guard<std::mutex> l(sig.mu);
      sig.stop = true;
      if (sig.current != nullptr) sig.current->Interrupt();
      sig.cv.notify_all();
    }
  }).detach();

  std::string ws = o_.addr;
  if (ws.rfind("https://", 0) == 0) ws = "wss://" + ws.substr(8);
  else if (ws.rfind("http://", 0) == 0) ws = "ws://" + ws.substr(7);
  WebSocketClientOptions wo;
  wo.headers = client_->AuthHeaders();
  wo.ca_file = o_.ca_cert;
  wo.cert_file = o_.cert;
  wo.key_file = o_.key;
  wo.insecure_skip_verify = o_.tls_skip_verify;

  bool have_last = false;
  int64_t last_ts = 0;
  std::set<std::pair<std::string, std::string>> boundary;  // printed at last_ts
  int64_t backoff_ms = 250;
  bool connected_once = false;
  int resume_limit = std::max(o_.limit, 5000);  // history after a reconnect
  for (;;) {
    {
      std::lock_guard<std::mutex> l(sig.mu);
      if (sig.stop) return Done();
    }
    Params p = {{"query", o_.args[0]}};
    if (!have_last) {
      // --limit=0: no history, only what arrives from now on.
      p.emplace_back("limit", std::to_string(o_.limit == 0 ? 1 : o_.limit));
      p.emplace_back("start", std::to_string(o_.limit == 0 ? o_.now : o_.start));
    } else {
      // Resume: everything from the newest timestamp printed (the boundary is skipped).
      p.emplace_back("limit", std::to_string(resume_limit));
      p.emplace_back("start", std::to_string(last_ts));
    }
    if (o_.delay_for > 0) p.emplace_back("delay_for", std::to_string(o_.delay_for));
    std::string path = client_->Url("/loki/api/v1/tail", p).substr(o_.addr.size());
    if (!o_.quiet && !connected_once) std::fprintf(io_.err, "%s\n", (ws + path).c_str());
    auto c = WebSocketClient::Connect(ws + path, wo);
    if (!c.ok()) {
      const Status& s = c.status();
      if (s.code() == StatusCode::kInvalidArgument && have_last && resume_limit > 1 &&
          s.message().find("max entries limit") != std::string::npos) {
        // The server's max_entries_limit_per_query is below 5000: resume with less history.
        resume_limit = std::max(1, resume_limit / 5);
        continue;
      }
      if (!connected_once || s.code() != StatusCode::kUnavailable) {
        // A request the server refuses (bad query, limits, auth) will not get better.
        std::string m = s.message();
        if (m.rfind("HTTP ", 0) == 0) {
          size_t colon = m.find(": ");
          std::string code = m.substr(5, colon == std::string::npos ? std::string::npos : colon - 5);
          m = (colon == std::string::npos ? std::string("request failed") : m.substr(colon + 2)) + " (HTTP " + code + ")";
          return Fail(Status(StatusCode::kFailedPrecondition, m));
        }
        return Fail(s);
      }
      if (!o_.quiet) std::fprintf(io_.err, "logq: %s; reconnecting in %lldms\n", s.message().c_str(), static_cast<long long>(backoff_ms));
      std::unique_lock<std::mutex> l(sig.mu);
      sig.cv.wait_for(l, std::chrono::milliseconds(backoff_ms), [] { return sig.stop; });
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 5000);
      continue;
    }
    if (connected_once && !o_.quiet) std::fprintf(io_.err, "logq: reconnected\n");
    connected_once = true;
    const auto connected_at = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> l(sig.mu);
      sig.current = c->get();
      if (sig.stop) (*c)->Interrupt();
    }
    Status ended;
    for (;;) {
      auto msg = (*c)->Read();
      if (!msg.ok()) {
        ended = msg.status();
        break;
      }
      auto j = ParseJson(*msg);
      if (!j.ok()) continue;
      Streams s;
      if (!ParseStreams(j->value("streams", json::array()), &s).ok()) continue;
      for (const Entry& e : s.entries) {
        std::pair<std::string, std::string> key{e.labels->ToString(), e.line};
        if (have_last && e.ts == last_ts && boundary.count(key)) continue;
        printer_.Print(*e.labels, e.ts, e.line);
        if (!have_last || e.ts > last_ts) {
          last_ts = e.ts;
          boundary.clear();
          have_last = true;
        }
        if (e.ts == last_ts) boundary.insert(std::move(key));
      }
      std::fflush(io_.out);
      if (!printer_.ok()) {
        ended = Cancelled("output closed");
        break;
      }
      if (j->contains("dropped_entries") && (*j)["dropped_entries"].is_array() && !o_.quiet) {
        std::fprintf(io_.err, "logq: the server dropped %zu entries (the client was too slow)\n",
                     (*j)["dropped_entries"].size());
      }
    }
    {
      std::lock_guard<std::mutex> l(sig.mu);
      sig.current = nullptr;
    }
    c->reset();
    if (ended.code() == StatusCode::kCancelled) return Done();
    // Loki refuses a tail over its limit by closing it (1011) right after the upgrade.
    if (ended.message().find("max concurrent tail requests") != std::string::npos) {
      return Fail(Status(StatusCode::kFailedPrecondition, ended.message()));
    }
    if (!o_.quiet) {
      std::fprintf(io_.err, "logq: %s; reconnecting\n",
                   ended.code() == StatusCode::kNotFound ? "the server closed the tail" : ended.message().c_str());
    }
    // A connection that lived a while resets the backoff; one that ended at once waits it.
    if (std::chrono::steady_clock::now() - connected_at > std::chrono::seconds(5)) {
      backoff_ms = 250;
    } else {
      std::unique_lock<std::mutex> l(sig.mu);
      sig.cv.wait_for(l, std::chrono::milliseconds(backoff_ms), [] { return sig.stop; });
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 5000);
    }
  }
}

}  // namespace

int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return 0;
    case StatusCode::kInvalidArgument: return 2;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded: return 3;
    case StatusCode::kCancelled: return 130;
    default: return 1;
  }
}

int RunCommand(const Options& o, const Io& io) {
  if (o.command == Command::kFmt) {
    auto e = logql::ParseExpr(o.args[0]);
    if (!e.ok()) {
      std::fprintf(io.err, "logq: %s\n", e.status().message().c_str());
      return 2;
    }
    std::fprintf(io.out, "%s\n", logql::ToString(**e).c_str());
    return 0;
  }
  auto client = LokiClient::Make(o);
  if (!client.ok()) {
    std::fprintf(io.err, "logq: %s\n", client.status().message().c_str());
    return ExitCodeFor(client.status());
  }
  Runner cmd(o, io, client->get());
  switch (o.command) {
    case Command::kQuery: return cmd.Query();
    case Command::kInstantQuery: return cmd.InstantQuery();
    case Command::kLabels: return cmd.LabelsCmd();
    case Command::kSeries: return cmd.Series();
    case Command::kStats: return cmd.Stats();
    case Command::kVolume: return cmd.Volume();
    case Command::kTail: return cmd.Tail();
    default: break;
  }
  std::fprintf(io.err, "logq: no command (see logq --help)\n");
  return 2;
}

}  // namespace logq::cli
