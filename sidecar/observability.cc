#include "sidecar/observability.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "discovery/membership.h"
#include "discovery/peer_source.h"
#include "sidecar/units.h"
#include "sidecar/version.h"
#include "transport/peer_pool.h"
#include "transport/tls.h"

namespace podcache {
namespace {

std::string Label(const std::string& name) { return "keyspace=\"" + PromEscape(name) + "\""; }

void Line(std::string* out, const std::string& name, const std::string& labels, uint64_t v) {
  *out += name + "{" + labels + "} " + std::to_string(v) + "\n";
}

// A family with one series per keyspace (and store, for store families).
template <typename Fn>
void StoreFamily(std::string* out, const KeyspaceMap& keyspaces,
                 const std::vector<KeyspaceStats>& stats, const char* name, const char* type,
                 const char* help, Fn field) {
  AppendHelp(out, name, type, help);
  size_t i = 0;
  for (const auto& [ks_name, ks] : keyspaces) {
    Line(out, name, Label(ks_name) + ",store=\"main\"", field(stats[i].main));
    Line(out, name, Label(ks_name) + ",store=\"hot\"", field(stats[i].hot));
    ++i;
  }
}

const char* LoaderKind(LoaderConfig::Kind k) {
  switch (k) {
    case LoaderConfig::Kind::kHttp:
      return "http";
    case LoaderConfig::Kind::kGrpc:
      return "grpc";
    case LoaderConfig::Kind::kNone:
      break;
  }
  return "none";
}

// The health of each peer (outlier detection): state, ejections, failures by reason, p99 latency.
void RenderPeerHealth(const PeerPool::ClientMap& clients, std::string* out) {
  std::vector<std::pair<std::string, PeerHealthSnapshot>> peers;
  for (const auto& [member, client] : clients) {
    peers.emplace_back("peer=\"" + PromEscape(member) + "\"", client->HealthSnapshot());
  }
  AppendHelp(out, "podcache_peer_state", "gauge",
             "1 for the peer's current state as this node sees it (up, suspect: failed its last "
             "calls, ejected: not called for Gets), 0 for the others.");
  for (const auto& [peer, h] : peers) {
    for (PeerHealth state : {PeerHealth::kUp, PeerHealth::kSuspect, PeerHealth::kEjected}) {
      *out += "podcache_peer_state{" + peer + ",state=\"" + std::string(PeerHealthName(state)) +
              "\"} " + (h.state == state ? "1" : "0") + "\n";
    }
  }
  AppendHelp(out, "podcache_peer_ejections_total", "counter",
             "Times the peer was ejected after consecutive failed calls (a failed probe ejects "
             "again).");
  for (const auto& [peer, h] : peers) Line(out, "podcache_peer_ejections_total", peer, h.ejections);
  AppendHelp(out, "podcache_peer_failures_total", "counter",
             "Calls to the peer that failed without its answer, by reason: timeout (with a budget "
             "of at least twice its p99) or unavailable (connection failure).");
  for (const auto& [peer, h] : peers) {
    Line(out, "podcache_peer_failures_total", peer + ",reason=\"timeout\"", h.timeouts);
    Line(out, "podcache_peer_failures_total", peer + ",reason=\"unavailable\"", h.unavailable);
  }
  AppendHelp(out, "podcache_peer_ejected_rejections_total", "counter",
             "Gets (per key) refused at once because the peer is ejected: loaded locally instead.");
  for (const auto& [peer, h] : peers) {
    Line(out, "podcache_peer_ejected_rejections_total", peer, h.ejected_rejects);
  }
  AppendHelp(out, "podcache_peer_probes_total", "counter",
             "Pings sent to the peer when one of its ejections ended.");
  for (const auto& [peer, h] : peers) Line(out, "podcache_peer_probes_total", peer, h.probes);
  AppendHelp(out, "podcache_peer_latency_p99_seconds", "gauge",
             "99th percentile latency of the peer's recent answers (0 until 20 are known).");
  for (const auto& [peer, h] : peers) {
    char value[32];
    std::snprintf(value, sizeof value, "%.3f", static_cast<double>(h.latency_p99_ms) / 1000.0);
    *out += "podcache_peer_latency_p99_seconds{" + peer + "} " + value + "\n";
  }
}

}  // namespace

std::string RenderPrometheus(const KeyspaceMap& keyspaces, const ApiMetrics& api, bool ready) {
  std::string out;
  out.reserve(16 << 10);
  AppendHelp(&out, "podcache_build_info", "gauge", "Version of this podcache binary.");
  out += std::string("podcache_build_info{version=\"") + kPodcacheVersion + "\"} 1\n";
  AppendHelp(&out, "podcache_ready", "gauge", "1 while the sidecar accepts calls.");
  out += std::string("podcache_ready ") + (ready ? "1" : "0") + "\n";

  AppendHelp(&out, "podcache_api_requests_total", "counter",
             "App API calls by method and gRPC status code.");
  for (int m = 0; m < static_cast<int>(ApiMethod::kNumMethods); ++m) {
    auto method = static_cast<ApiMethod>(m);
    api[method].RenderCounts("podcache_api_requests_total",
                             std::string("method=\"") + ApiMethodName(method) + "\"", &out);
  }
  AppendHelp(&out, "podcache_api_request_duration_seconds", "histogram",
             "App API call latency by method.");
  for (int m = 0; m < static_cast<int>(ApiMethod::kNumMethods); ++m) {
    auto method = static_cast<ApiMethod>(m);
    api[method].latency().Render("podcache_api_request_duration_seconds",
                                 std::string("method=\"") + ApiMethodName(method) + "\"", &out);
  }

  AppendHelp(&out, "podcache_loader_calls_total", "counter",
             "Loader calls by keyspace and outcome (a gRPC status code: OK, NOT_FOUND, "
             "DEADLINE_EXCEEDED for timeouts, RESOURCE_EXHAUSTED for oversize values, "
             "UNAVAILABLE for errors).");
  for (const auto& [name, ks] : keyspaces) {
    if (ks.loader_metrics)
      ks.loader_metrics->RenderCounts("podcache_loader_calls_total", Label(name), &out);
  }
  AppendHelp(&out, "podcache_loader_duration_seconds", "histogram", "Loader call latency.");
  for (const auto& [name, ks] : keyspaces) {
    if (ks.loader_metrics) {
      ks.loader_metrics->latency().Render("podcache_loader_duration_seconds", Label(name), &out);
    }
  }

  std::vector<KeyspaceStats> stats;
  stats.reserve(keyspaces.size());
  for (const auto& [name, ks] : keyspaces) stats.push_back(ks.group->Stats());
  for (int c = 0; c < KeyspaceStats::kNumCounters; ++c) {
    auto counter = static_cast<KeyspaceStats::Counter>(c);
    std::string family = std::string("podcache_") + KeyspaceCounterName(counter) + "_total";
    AppendHelp(&out, family, "counter", KeyspaceCounterHelp(counter));
    size_t i = 0;
    for (const auto& [name, ks] : keyspaces) Line(&out, family, Label(name), stats[i++][counter]);
  }
  auto gauge = [&](const char* family, const char* help, auto field) {
    AppendHelp(&out, family, "gauge", help);
    size_t i = 0;
    for (const auto& [name, ks] : keyspaces) Line(&out, family, Label(name), field(stats[i++]));
  };
  gauge("podcache_keyspace_generation", "Current generation (bumped by InvalidateKeyspace).",
        [](const KeyspaceStats& s) { return uint64_t{s.generation}; });
  gauge("podcache_loads_active", "Loader calls running now.",
        [](const KeyspaceStats& s) { return static_cast<uint64_t>(s.loads_active); });
  gauge("podcache_loads_queued", "Loads waiting for a slot.",
        [](const KeyspaceStats& s) { return static_cast<uint64_t>(s.loads_queued); });
  gauge("podcache_loader_breaker_open",
        "1 while the keyspace's loader circuit breaker is open or half-open (loads are refused at "
        "once), else 0.",
        [](const KeyspaceStats& s) { return uint64_t{s.loader_breaker_open ? 1u : 0u}; });
  std::string repairs;
  for (const auto& [name, ks] : keyspaces) {
    for (const auto& [member, n] : ks.group->PendingRepairs()) {
      Line(&repairs, "podcache_repairs_pending",
           Label(name) + ",member=\"" + PromEscape(member) + "\"", n);
    }
  }
  if (!repairs.empty()) {  // a single node has no members: no family without samples
    AppendHelp(&out, "podcache_repairs_pending", "gauge",
               "Hot-copy drops and generation bumps not yet acknowledged by a member (in flight "
               "or queued for repair), by keyspace and member.");
    out += repairs;
  }

  StoreFamily(&out, keyspaces, stats, "podcache_store_items", "gauge", "Entries held.",
              [](const StoreStats& s) { return s.items; });
  StoreFamily(&out, keyspaces, stats, "podcache_store_bytes", "gauge",
              "Bytes charged (keys, values, per-entry overhead).",
              [](const StoreStats& s) { return s.bytes; });
  StoreFamily(&out, keyspaces, stats, "podcache_store_capacity_bytes", "gauge",
              "Budget of the store.", [](const StoreStats& s) { return s.capacity; });
  StoreFamily(&out, keyspaces, stats, "podcache_store_hits_total", "counter", "Lookups that hit.",
              [](const StoreStats& s) { return s.hits; });
  StoreFamily(&out, keyspaces, stats, "podcache_store_misses_total", "counter",
              "Lookups that missed.", [](const StoreStats& s) { return s.misses; });
  StoreFamily(&out, keyspaces, stats, "podcache_store_stale_hits_total", "counter",
              "Lookups that found an expired entry within its stale window (served stale only "
              "under stale-while-revalidate or stale-if-error).",
              [](const StoreStats& s) { return s.stale_hits; });
  StoreFamily(&out, keyspaces, stats, "podcache_store_inserts_total", "counter",
              "Entries inserted.", [](const StoreStats& s) { return s.inserts; });
  StoreFamily(&out, keyspaces, stats, "podcache_store_rejected_total", "counter",
              "Inserts refused (too large for a shard, or an old generation).",
              [](const StoreStats& s) { return s.rejected; });
  StoreFamily(&out, keyspaces, stats, "podcache_store_evictions_total", "counter",
              "Entries evicted to make room.", [](const StoreStats& s) { return s.evictions; });
  StoreFamily(&out, keyspaces, stats, "podcache_store_expirations_total", "counter",
              "Entries removed by TTL or invalidation.",
              [](const StoreStats& s) { return s.expirations; });
  return out;
}

std::string RenderClusterPrometheus(const PeerPool* pool, const Membership* membership,
                                    const TlsRejectionCounters* tls_rejections) {
  std::string out;
  if (membership != nullptr) {
    AppendHelp(&out, "podcache_ring_members", "gauge", "Members of this node's current ring.");
    out += "podcache_ring_members " + std::to_string(membership->Ring()->members().size()) + "\n";
    AppendHelp(&out, "podcache_ring_changes_total", "counter", "Rings published by membership.");
    out += "podcache_ring_changes_total " + std::to_string(membership->publishes()) + "\n";
  }
  if (pool != nullptr) {
    auto clients = pool->Clients();
    auto family = [&](const char* name, const char* type, const char* help, auto field) {
      AppendHelp(&out, name, type, help);
      for (const auto& [member, client] : *clients) {
        out += std::string(name) + "{peer=\"" + PromEscape(member) + "\"} " +
               std::to_string(field(client->stats())) + "\n";
      }
    };
    family("podcache_peer_calls_total", "counter", "Calls sent to a peer (a batch counts once).",
           [](const PeerClientStats& s) { return s.calls.load(); });
    family("podcache_peer_call_errors_total", "counter", "Calls to a peer that failed.",
           [](const PeerClientStats& s) { return s.errors.load(); });
    family("podcache_peer_batches_total", "counter", "Batched Gets sent to a peer.",
           [](const PeerClientStats& s) { return s.batches.load(); });
    family("podcache_peer_batched_keys_total", "counter", "Keys sent in batched Gets.",
           [](const PeerClientStats& s) { return s.batched_keys.load(); });
    family("podcache_peer_overload_rejections_total", "counter",
           "Gets refused because too many were queued for the peer.",
           [](const PeerClientStats& s) { return s.overload_rejects.load(); });
    family("podcache_peer_inflight", "gauge", "Calls in flight to a peer.",
           [](const PeerClientStats& s) { return static_cast<uint64_t>(s.inflight.load()); });
    RenderPeerHealth(*clients, &out);
  }
  if (pool != nullptr && pool->options().tls != nullptr) {
    const TlsReloadStats& tls = pool->options().tls->stats();
    AppendHelp(&out, "podcache_tls_reloads_total", "counter",
               "Changed peer TLS files: ok = new material in use, rejected = a distinct content "
               "refused (the last good pair stays).");
    out += "podcache_tls_reloads_total{result=\"ok\"} " + std::to_string(tls.ok.load()) + "\n";
    out += "podcache_tls_reloads_total{result=\"rejected\"} " +
           std::to_string(tls.rejected.load()) + "\n";
    AppendHelp(&out, "podcache_tls_certificate_expiry_timestamp_seconds", "gauge",
               "notAfter of the peer certificate in use, in seconds since the epoch.");
    out += "podcache_tls_certificate_expiry_timestamp_seconds " +
           std::to_string(tls.not_after.load()) + "\n";
  }
  if (tls_rejections != nullptr) {
    AppendHelp(&out, "podcache_peer_tls_rejections_total", "counter",
               "Peer TLS handshakes refused by this node, by reason.");
    for (int r = 0; r < static_cast<int>(TlsRejection::kNumReasons); ++r) {
      out += std::string("podcache_peer_tls_rejections_total{reason=\"") +
             TlsRejectionName(static_cast<TlsRejection>(r)) + "\"} " +
             std::to_string(tls_rejections->counts[r].load()) + "\n";
    }
  }
  return out;
}

std::string RenderSourcePrometheus(const PeerSource& source) {
  std::string out;
  std::string source_label = "source=\"" + PromEscape(source.name()) + "\"";
  AppendHelp(&out, "podcache_discovery_synced", "gauge",
             "1 once the discovery source delivered a first member set.");
  out += "podcache_discovery_synced{" + source_label + "} " + (source.Synced() ? "1" : "0") + "\n";
  std::vector<SourceMetric> metrics = source.Metrics();
  // One HELP/TYPE per family, its samples together, as the text format requires.
  std::stable_sort(metrics.begin(), metrics.end(),
                   [](const SourceMetric& a, const SourceMetric& b) { return a.name < b.name; });
  for (size_t i = 0; i < metrics.size(); ++i) {
    const SourceMetric& m = metrics[i];
    if (i == 0 || metrics[i - 1].name != m.name) {
      AppendHelp(&out, m.name, m.type.c_str(), m.help.c_str());
    }
    std::string labels = source_label;
    for (const auto& [k, v] : m.labels) labels += "," + k + "=\"" + PromEscape(v) + "\"";
    char value[64];
    std::snprintf(value, sizeof value, "%.17g", m.value);
    out += m.name + "{" + labels + "} " + value + "\n";
  }
  return out;
}

std::string RenderRingJson(const Ring& ring, const std::string& self, uint64_t publishes,
                           const PeerPool* pool) {
  nlohmann::ordered_json j;
  j["self"] = self;
  j["members"] = ring.members();
  j["fingerprint"] = ring.FingerprintHex();
  j["vnodes"] = ring.vnodes();
  j["changes"] = publishes;
  // How this node sees each other member (outlier detection).
  nlohmann::ordered_json peers = nlohmann::ordered_json::array();
  if (pool != nullptr) {
    for (const auto& [member, client] : *pool->Clients()) {
      PeerHealthSnapshot h = client->HealthSnapshot();
      peers.push_back({{"member", member},
                       {"state", std::string(PeerHealthName(h.state))},
                       {"failures", h.consecutive_failures},
                       {"ejected_ms_left", h.ejected_ms_left},
                       {"latency_p99_ms", h.latency_p99_ms},
                       {"ejections", h.ejections}});
    }
  }
  j["peers"] = peers;
  return j.dump(2) + "\n";
}

std::string RenderKeyspacesJson(const KeyspaceMap& keyspaces) {
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const auto& [name, ks] : keyspaces) {
    const KeyspaceOptions& o = ks.config.options;
    KeyspaceStats s = ks.group->Stats();
    nlohmann::ordered_json j;
    j["name"] = name;
    j["config"] = {{"max_bytes", o.max_bytes},
                   {"default_ttl", FormatDuration(o.default_ttl_ms)},
                   {"max_ttl", FormatDuration(o.max_ttl_ms)},
                   {"negative_ttl", FormatDuration(o.negative_ttl_ms)},
                   {"eviction", std::string(EvictionPolicyName(o.eviction))},
                   {"hot_share", o.hot_share},
                   {"max_key_bytes", o.max_key_bytes},
                   {"max_value_bytes", o.max_value_bytes},
                   {"load_concurrency", o.load_concurrency},
                   {"load_queue", o.load_queue},
                   {"load_timeout", FormatDuration(o.load_timeout_ms)},
                   {"loader",
                    {{"kind", LoaderKind(ks.config.loader.kind)},
                     {"target", ks.config.loader.target},
                     {"timeout", FormatDuration(ks.config.loader.timeout_ms)}}}};
    j["generation"] = s.generation;
    auto store = [](const StoreStats& st) {
      return nlohmann::ordered_json{{"items", st.items},
                                    {"bytes", st.bytes},
                                    {"capacity_bytes", st.capacity},
                                    {"hits", st.hits},
                                    {"misses", st.misses},
                                    {"stale_hits", st.stale_hits},
                                    {"evictions", st.evictions},
                                    {"expirations", st.expirations}};
    };
    j["main"] = store(s.main);
    j["hot"] = store(s.hot);
    nlohmann::ordered_json counters;
    for (int c = 0; c < KeyspaceStats::kNumCounters; ++c) {
      auto counter = static_cast<KeyspaceStats::Counter>(c);
      counters[KeyspaceCounterName(counter)] = s[counter];
    }
    j["counters"] = counters;
    j["loads_active"] = s.loads_active;
    j["loads_queued"] = s.loads_queued;
    j["loader_breaker_open"] = s.loader_breaker_open;
    all.push_back(std::move(j));
  }
  return all.dump(2) + "\n";
}

}  // namespace podcache
