#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mutex.h"
#include "core/peer.h"
#include "core/scheduler.h"

namespace podcache {

struct MembershipOptions {
  std::string self;          // this node's member name (--advertise)
  Millis debounce_ms = 200;  // a burst of updates within this time gives one new ring
  int vnodes = Ring::kDefaultVnodes;
  size_t max_members =
      1024;  // larger sets are cut (and logged): a bad source cannot blow up the ring
};

// Merges the member sets reported by peer sources, always includes this node, debounces bursts,
// builds a new Ring snapshot and publishes it. Readers (core, on every miss) get the current
// snapshot from Ring() without taking a lock a writer holds.
//
// Implements core's PeerView: Client() comes from `clients` (transport's pool), and `on_ring`
// runs before each new ring is visible, so the pool has a client for every member of a ring
// by the time anyone reads it. Both run on the scheduler's thread. Thread-safe.
class Membership final : public PeerView {
 public:
  using ClientLookup = std::function<std::shared_ptr<PeerClient>(const std::string& member)>;
  using RingListener = std::function<void(const RingPtr& ring)>;

  // `scheduler` must outlive the membership.
  Membership(MembershipOptions options, Scheduler* scheduler, ClientLookup clients,
             RingListener on_ring);

  // The full member set of one source (replacing that source's previous set). Thread-safe; the
  // new ring appears debounce_ms later at the latest.
  void Update(const std::string& source, std::vector<std::string> members);
  // Builds and publishes the ring now (for start-up, so the first ring needs no wait).
  void PublishNow();

  RingPtr Ring() const override { return ring_.load(std::memory_order_acquire); }
  const std::string& Self() const override { return options_.self; }
  std::shared_ptr<PeerClient> Client(const std::string& member) override;

  // Number of rings published so far.
  uint64_t publishes() const { return publishes_.load(); }

 private:
  void Publish() EXCLUDES(publish_mu_, mu_);

  const MembershipOptions options_;
  Scheduler* const scheduler_;
  const ClientLookup clients_;
  const RingListener on_ring_;
  std::atomic<RingPtr> ring_;
  std::atomic<uint64_t> publishes_{0};

  // One publisher at a time. Taken before mu_ (the order is documentation: clang checks it only
  // with -Wthread-safety-beta).
  Mutex publish_mu_ ACQUIRED_BEFORE(mu_);
  Mutex mu_;
  std::map<std::string, std::vector<std::string>> by_source_ GUARDED_BY(mu_);
  bool publish_pending_ GUARDED_BY(mu_) = false;
};

}  // namespace podcache
