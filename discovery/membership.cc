#include "discovery/membership.h"

#include <algorithm>

#include "core/log.h"
#include "discovery/host_port.h"

namespace podcache {

Membership::Membership(MembershipOptions options, Scheduler* scheduler, ClientLookup clients,
                       RingListener on_ring)
    : options_(std::move(options)),
      scheduler_(scheduler),
      clients_(std::move(clients)),
      on_ring_(std::move(on_ring)),
      ring_(Ring::Build({options_.self}, options_.vnodes)) {}

void Membership::Update(const std::string& source, std::vector<std::string> members) {
  MutexLock lock(&mu_);
  by_source_[source] = std::move(members);
  if (publish_pending_) return;  // the pending publish will take this set too
  publish_pending_ = true;
  scheduler_->RunAfter(options_.debounce_ms, [this] { Publish(); });
}

void Membership::PublishNow() { Publish(); }

void Membership::Publish() {
  MutexLock publishing(&publish_mu_);
  std::vector<std::string> members;
  {
    MutexLock lock(&mu_);
    publish_pending_ = false;
    for (const auto& [source, set] : by_source_) {
      members.insert(members.end(), set.begin(), set.end());
    }
  }
  std::erase(members, std::string());
  size_t reported = members.size();
  if (NormalizeMembers(&members, options_.max_members)) {
    LogError("membership: too many members, keeping the first ones",
             {{"reported", static_cast<long long>(reported)},
              {"max_members", static_cast<long long>(options_.max_members)}});
  }
  // This node is always a member of its own ring, whatever the sources say about it.
  if (!std::binary_search(members.begin(), members.end(), options_.self)) {
    members.push_back(options_.self);
  }
  RingPtr next = Ring::Build(members, options_.vnodes);
  RingPtr current = Ring();
  if (current != nullptr && current->fingerprint() == next->fingerprint() && publishes_ > 0) {
    return;
  }
  if (on_ring_) on_ring_(next);
  ring_.store(next, std::memory_order_release);
  publishes_.fetch_add(1);
  LogInfo("membership: new ring", {{"members", static_cast<long long>(next->members().size())},
                                   {"fingerprint", next->FingerprintHex()}});
}

std::shared_ptr<PeerClient> Membership::Client(const std::string& member) {
  return clients_ ? clients_(member) : nullptr;
}

}  // namespace podcache
