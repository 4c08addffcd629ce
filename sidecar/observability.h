#pragma once

#include <string>

#include "sidecar/keyspace_registry.h"

namespace podcache {

// The /metrics page in Prometheus text format 0.0.4: build info, readiness, per-method API
// counts and latencies, loader outcomes and latencies, and every keyspace stat of core, all with
// a `keyspace` label where they belong (never a key).
std::string RenderPrometheus(const KeyspaceMap& keyspaces, const ApiMetrics& api, bool ready);

// The /debug/keyspaces page: each keyspace's configuration and stats as JSON.
std::string RenderKeyspacesJson(const KeyspaceMap& keyspaces);

}  // namespace podcache
