#include "discovery/nats_member_table.h"

#include <algorithm>

namespace podcache {

NatsMemberTable::NatsMemberTable(const Clock* clock, Millis expiry_ms, size_t max_members)
    : clock_(clock), expiry_ms_(expiry_ms), max_members_(max_members) {}

NatsMemberTable::SeenResult NatsMemberTable::Saw(const std::string& member) {
  auto it = last_seen_.find(member);
  if (it != last_seen_.end()) {
    it->second = clock_->NowMs();
    return SeenResult::kRefreshed;
  }
  if (last_seen_.size() >= max_members_) return SeenResult::kRefused;
  last_seen_.emplace(member, clock_->NowMs());
  return SeenResult::kNew;
}

bool NatsMemberTable::Left(const std::string& member) { return last_seen_.erase(member) > 0; }

std::vector<std::string> NatsMemberTable::Expire() {
  std::vector<std::string> expired;
  Millis now = clock_->NowMs();
  for (auto it = last_seen_.begin(); it != last_seen_.end();) {
    if (now - it->second > expiry_ms_) {
      expired.push_back(it->first);
      it = last_seen_.erase(it);
    } else {
      ++it;
    }
  }
  return expired;
}

void NatsMemberTable::RefreshAll() {
  Millis now = clock_->NowMs();
  for (auto& [member, seen] : last_seen_) seen = now;
}

std::vector<std::string> NatsMemberTable::Members() const {
  std::vector<std::string> out;
  out.reserve(last_seen_.size());
  for (const auto& [member, seen] : last_seen_) out.push_back(member);
  return out;
}

Millis NatsMemberTable::NextExpiry() const {
  Millis next = kNoDeadline;
  for (const auto& [member, seen] : last_seen_) next = std::min(next, seen + expiry_ms_ + 1);
  return next;
}

}  // namespace podcache
