#pragma once

#include <string>

#include "sidecar/keyspace_registry.h"

namespace podcache {

class Membership;
class PeerSource;
class PeerPool;
class Ring;
struct TlsRejectionCounters;

// The /metrics page in Prometheus text format 0.0.4: build info, readiness, per-method API
// counts and latencies, loader outcomes and latencies, and every keyspace stat of core, all with
// a `keyspace` label where they belong (never a key).
std::string RenderPrometheus(const KeyspaceMap& keyspaces, const ApiMetrics& api, bool ready);

// The cluster's part of /metrics: ring size and changes, per-peer client counters, TLS
// refusals by reason. Empty on a single node (all arguments null).
std::string RenderClusterPrometheus(const PeerPool* pool, const Membership* membership,
                                    const TlsRejectionCounters* tls_rejections);

// The discovery source's part of /metrics: its own counters and gauges, each with a
// `source` label, plus podcache_discovery_synced.
std::string RenderSourcePrometheus(const PeerSource& source);

// The /debug/ring page: self, members, fingerprint, vnodes, how many rings were published, and
// "peers": each other member's health as this node sees it (state, consecutive failures,
// ejected_ms_left, latency_p99_ms, ejections); empty without a pool (single node).
std::string RenderRingJson(const Ring& ring, const std::string& self, uint64_t publishes,
                           const PeerPool* pool = nullptr);

// The /debug/keyspaces page: each keyspace's configuration and stats as JSON.
std::string RenderKeyspacesJson(const KeyspaceMap& keyspaces);

}  // namespace podcache
