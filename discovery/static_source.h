#pragma once

#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/mutex.h"
#include "discovery/peer_source.h"

namespace podcache {

// The `static` discovery provider: a fixed list (--peers a:7071,b:7071) and/or a file of members
// (--peers-file), one per line or comma-separated, `#` starts a comment. The file is re-read
// every `poll_ms` and reported when its members change; when it cannot be read, the last members
// stay (logged once per change of state). Members from the list and the file are merged. A file
// larger than kMaxFileBytes counts as unreadable.
class StaticPeerSource final : public PeerSource {
 public:
  StaticPeerSource(std::vector<std::string> peers, std::string file, Millis poll_ms = 1000);
  ~StaticPeerSource() override;
  std::string name() const override { return "static"; }
  Status Start(MembersFn on_members) override;
  void Stop() override;

  static constexpr size_t kMaxFileBytes = 1 << 20;

  // Parses the file format above. Exposed for tests.
  static std::vector<std::string> ParseMembers(const std::string& text);

 private:
  // Members now, or an error when the file cannot be read.
  StatusOr<std::vector<std::string>> Read() const;
  void Loop();

  const std::vector<std::string> peers_;
  const std::string file_;
  const Millis poll_ms_;
  MembersFn on_members_;
  // The loop's thread (Start's, before the loop starts).
  std::vector<std::string> last_;
  bool file_failing_ = false;
  Mutex mu_;
  CondVar cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace podcache
