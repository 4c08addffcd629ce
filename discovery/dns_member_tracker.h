#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "discovery/dns_resolver.h"
#include "discovery/peer_source.h"

namespace podcache {

// Turns the outcomes of successive resolutions into member-set updates, the policy half of the
// DNS source (no network, so tests feed it outcomes):
//   - success: the members (sorted, de-duplicated, cut to max_members) are reported when they
//     differ from the last set;
//   - NXDOMAIN, NODATA, SERVFAIL, timeouts, unreachable servers, bad answers: the last members
//     stay; the failure is counted by kind, and logged once when resolving stops working (a
//     change of failure kind while failing is a debug line only);
//   - synced once the DNS server gave a first answer: members, or "no such name" / "no
//     records" (before any pod is published the name may not exist yet; the node then starts
//     alone instead of waiting forever). Timeouts and server failures do not sync it, so a
//     node whose DNS does not work at all stays not ready.
//
// Apply() is called by one thread; synced() and Metrics() are thread-safe.
class DnsMemberTracker {
 public:
  DnsMemberTracker(std::string name, size_t max_members);

  // The set to report after `outcome`, or nullopt when the reported set stays as it is.
  std::optional<std::vector<std::string>> Apply(const DnsOutcome& outcome);

  bool synced() const { return synced_.load(); }
  std::vector<SourceMetric> Metrics() const;
  uint64_t errors(const std::string& kind) const;

 private:
  const std::string name_;
  const size_t max_members_;
  std::vector<std::string> last_;
  bool reported_ = false;
  std::string state_ = "start";  // "ok" or the error kind of the last resolution
  bool capped_ = false;
  std::atomic<bool> synced_{false};
  std::atomic<uint64_t> resolutions_{0};
  std::atomic<uint64_t> updates_{0};
  std::atomic<uint64_t> members_{0};
  std::map<std::string, std::atomic<uint64_t>> errors_;  // keys fixed at construction
};

}  // namespace podcache
