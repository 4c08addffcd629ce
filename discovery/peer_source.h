#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace podcache {

// Where a node learns the members of its cluster: static list/file, DNS, the Kubernetes API,
// NATS. A source reports FULL member sets ("host:port" peer addresses as the others dial them);
// membership merges them, adds this node and builds the ring.
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
  virtual void Stop() = 0;
};

}  // namespace podcache
