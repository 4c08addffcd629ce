#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace podcache {

// One sample a peer source exports on /metrics (the sidecar renders it; discovery knows no
// Prometheus). `name` is the full metric name, e.g. "podcache_discovery_errors_total".
struct SourceMetric {
  std::string name;
  std::string type;  // "counter" or "gauge"
  std::string help;
  std::vector<std::pair<std::string, std::string>> labels;  // e.g. {{"kind", "timeout"}}
  double value = 0;
};

// Where a node learns the members of its cluster: static list/file, DNS, the Kubernetes API,
// NATS. A source reports FULL member sets ("host:port" peer addresses as the others dial them);
// membership merges them, adds this node and builds the ring.
//
// A source never reports an empty set because of an outage: while it cannot reach its backend,
// the last known members stay in force.
class PeerSource {
 public:
  using MembersFn = std::function<void(std::vector<std::string> members)>;
  virtual ~PeerSource() = default;
  // For logs and metrics: "static", "dns", "kubernetes", "nats".
  virtual std::string name() const = 0;
  // Starts reporting: `on_members` runs on the source's own thread, first with the initial set
  // (when one is known), then after every change. A source that cannot work at all fails here.
  virtual Status Start(MembersFn on_members) = 0;
  // Stops the source's thread; no call of `on_members` is running or will run afterwards.
  // Sources that announce this node (NATS) say goodbye here.
  virtual void Stop() = 0;
  // True once a first member set came from the backend (readiness waits for it). Thread-safe.
  virtual bool Synced() const { return true; }
  // Counters and gauges of the source, for /metrics. Thread-safe.
  virtual std::vector<SourceMetric> Metrics() const { return {}; }
};

}  // namespace podcache
