#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "discovery/dns_member_tracker.h"
#include "discovery/dns_resolver.h"
#include "discovery/peer_source.h"
#include "discovery/wake_fd.h"

namespace podcache {

struct DnsSourceOptions {
  // SRV mode (port 0): "_peer._tcp.<service>.<namespace>.svc.cluster.local", the records a
  // Kubernetes headless Service publishes for its port named "peer". A/AAAA mode (port > 0):
  // a name whose addresses are the members, all on `port`.
  std::string name;
  int port = 0;
  Millis interval_ms = 5000;
  DnsResolverOptions resolver;
  size_t max_members = 1024;
  // Members are addresses of this family: the one this node advertises itself in, so that a
  // dual-stack pod (an A and an AAAA record) is one member, spelled as it spells itself.
  AddressFamily family = AddressFamily::kAny;
};

// The `dns` discovery provider: resolves the name at start and every interval on its own thread
// (c-ares, see DnsResolver) and reports the member set when it changes. What failures do and
// when it counts as synced: DnsMemberTracker. Stop() interrupts a resolution in progress.
//
// Start/Stop from one thread; Synced() and Metrics() from any.
class DnsPeerSource final : public PeerSource {
 public:
  explicit DnsPeerSource(DnsSourceOptions options);
  ~DnsPeerSource() override;
  std::string name() const override { return "dns"; }
  // Fails only on a bad configuration (an unparsable dns_server); DNS errors never fail it.
  Status Start(MembersFn on_members) override;
  void Stop() override;
  bool Synced() const override { return tracker_.synced(); }
  std::vector<SourceMetric> Metrics() const override { return tracker_.Metrics(); }

 private:
  void Loop();

  const DnsSourceOptions options_;
  DnsMemberTracker tracker_;
  std::unique_ptr<DnsResolver> resolver_;  // used by the thread only
  MembersFn on_members_;
  WakeFd stop_;
  std::thread thread_;
};

}  // namespace podcache
