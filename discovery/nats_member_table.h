#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/clock.h"

namespace podcache {

// The members a NATS source has heard from, each with the time of its last message. Members
// silent for longer than `expiry_ms` are removed by Expire(); the source does not call it while
// it is disconnected (silence is then the server's fault, not the members'), and calls
// RefreshAll() after reconnecting so every member gets a full expiry time to be heard again.
//
// At most `max_members` entries: new members beyond that are refused, so a flood of forged
// announcements cannot grow the ring without bound. Not thread-safe (the source locks).
class NatsMemberTable {
 public:
  NatsMemberTable(const Clock* clock, Millis expiry_ms, size_t max_members);

  enum class SeenResult { kNew, kRefreshed, kRefused };
  SeenResult Saw(const std::string& member);
  // True when `member` was there.
  bool Left(const std::string& member);
  // Removes and returns the members not heard from for longer than expiry_ms.
  std::vector<std::string> Expire();
  void RefreshAll();
  // Sorted.
  std::vector<std::string> Members() const;
  size_t size() const { return last_seen_.size(); }
  // When the next member expires if nothing is heard from it; kNoDeadline when empty.
  Millis NextExpiry() const;

 private:
  const Clock* const clock_;
  const Millis expiry_ms_;
  const size_t max_members_;
  std::map<std::string, Millis> last_seen_;
};

}  // namespace podcache
