#include "core/ring.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "core/hash.h"

namespace podcache {

std::shared_ptr<const Ring> Ring::Build(std::vector<std::string> members, int vnodes) {
  std::shared_ptr<Ring> ring(new Ring());
  std::erase(members, std::string());
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  ring->vnodes_ = std::max(1, vnodes);

  std::string fingerprint_input = std::to_string(ring->vnodes_);
  for (const auto& m : members) {
    fingerprint_input += '\n';
    fingerprint_input += m;
  }
  ring->fingerprint_ = HashBytes(fingerprint_input);

  std::vector<std::pair<uint64_t, uint32_t>> points;
  points.reserve(members.size() * ring->vnodes_);
  for (uint32_t m = 0; m < members.size(); ++m) {
    for (int i = 0; i < ring->vnodes_; ++i) {
      points.emplace_back(HashBytes(members[m], static_cast<uint64_t>(i)), m);
    }
  }
  // Ties (astronomically rare) are broken by member order, which is the same everywhere.
  std::sort(points.begin(), points.end());
  ring->points_.reserve(points.size());
  ring->owners_.reserve(points.size());
  for (const auto& [hash, owner] : points) {
    ring->points_.push_back(hash);
    ring->owners_.push_back(owner);
  }
  ring->members_ = std::move(members);
  return ring;
}

std::string Ring::FingerprintHex() const {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(fingerprint_));
  return buf;
}

size_t Ring::OwnerIndex(uint64_t key_hash) const {
  auto it = std::lower_bound(points_.begin(), points_.end(), key_hash);
  size_t i = it == points_.end() ? 0 : static_cast<size_t>(it - points_.begin());
  return owners_[i];
}

const std::string& Ring::OwnerOfKey(std::string_view key) const { return Owner(HashBytes(key)); }

bool Ring::Contains(std::string_view member) const {
  return std::binary_search(members_.begin(), members_.end(), member);
}

}  // namespace podcache
