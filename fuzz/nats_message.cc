// Fuzz target: what other nodes (or anyone who can publish on the subject) send to the NATS
// discovery source: messages (discovery/nats_message.h) and the member table they update
// (discovery/nats_member_table.h), as NatsPeerSource::HandleMessage applies them.
//
// Input: one byte of settings (the table's size limit and expiry), then records of
//   [op][16-bit length][payload]
// where op's low 2 bits pick what happens (a message, Expire, RefreshAll, a bare time step)
// and its high bits move the clock.
// Checks: a parsed message encodes back to the bytes it came from (without the tolerated
// newline) and its member is a valid host:port; the table never holds more than its limit, its
// members are sorted and unique, Expire removes exactly the silent ones, and NextExpiry is
// one expiry after the oldest last message.
#include "discovery/nats_message.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "discovery/host_port.h"
#include "discovery/nats_member_table.h"
#include "fuzz/fuzz_check.h"
#include "testing/fake_clock.h"

namespace podcache {
namespace {

// Expiries the configuration allows: nats_expiry > nats_heartbeat >= 50ms, up to what
// ParseDuration accepts (9e15 ms).
constexpr Millis kExpiries[] = {100, 5000, 3600000, 9'000'000'000'000'000};
constexpr Millis kMaxUptime = 10'000'000'000'000;

void CheckMessage(std::string_view data) {
  NatsMessage m;
  NatsParseResult r = ParseNatsMessage(data, &m);
  if (r == NatsParseResult::kOversized) FUZZ_CHECK(data.size() > kMaxNatsMessageBytes);
  if (r != NatsParseResult::kOk) return;
  FUZZ_CHECK(IsValidHostPort(m.member));
  std::string_view expected = data;
  if (expected.ends_with('\n')) expected.remove_suffix(1);
  FUZZ_CHECK(EncodeNatsMessage(m) == expected);
}

void CheckTable(const NatsMemberTable& table, size_t max_members) {
  FUZZ_CHECK(table.size() <= max_members);
  std::vector<std::string> members = table.Members();
  FUZZ_CHECK(members.size() == table.size());
  FUZZ_CHECK(std::adjacent_find(members.begin(), members.end(), std::greater_equal<>()) ==
             members.end());
}

}  // namespace
}  // namespace podcache

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace podcache;
  fuzz::InputReader in(data, size);
  uint8_t settings = in.Byte();
  size_t max_members = settings % 8 + 1;
  Millis expiry = kExpiries[(settings >> 3) % std::size(kExpiries)];
  FakeClock clock;
  NatsMemberTable table(&clock, expiry, max_members);
  // When each member was last heard from, kept independently of the table to check it.
  std::map<std::string, Millis> heard;
  const std::string self = "10.0.0.1:7071";
  while (!in.empty()) {
    uint8_t op = in.Byte();
    // Up to 63 steps of 1/8 of the expiry, so members both survive and expire; the monotonic
    // clock stays below 300 years of uptime.
    Millis step = (op >> 2) * std::max<Millis>(1, expiry / 8);
    if (step <= kMaxUptime - clock.NowMs()) clock.Advance(step);
    switch (op & 3) {
      case 0: {
        std::string_view payload = in.Chunk();
        CheckMessage(payload);
        NatsMessage m;
        if (ParseNatsMessage(payload, &m) != NatsParseResult::kOk || m.member == self) break;
        if (m.type == NatsMessage::Type::kBye) {
          FUZZ_CHECK(table.Left(m.member) == (heard.erase(m.member) > 0));
        } else {
          auto seen = table.Saw(m.member);
          bool known = heard.count(m.member) > 0;
          FUZZ_CHECK((seen == NatsMemberTable::SeenResult::kRefreshed) == known);
          FUZZ_CHECK(seen != NatsMemberTable::SeenResult::kRefused || heard.size() >= max_members);
          if (seen != NatsMemberTable::SeenResult::kRefused) heard[m.member] = clock.NowMs();
        }
        break;
      }
      case 1: {
        Millis now = clock.NowMs();
        std::vector<std::string> expired = table.Expire();
        for (const std::string& member : expired) {
          FUZZ_CHECK(now - heard.at(member) > expiry);
          heard.erase(member);
        }
        for (const auto& [member, at] : heard) FUZZ_CHECK(now - at <= expiry);
        break;
      }
      case 2:
        table.RefreshAll();
        for (auto& [member, at] : heard) at = clock.NowMs();
        break;
      default:
        break;
    }
    CheckTable(table, max_members);
    FUZZ_CHECK(table.size() == heard.size());
    Millis next = kNoDeadline;
    for (const auto& [member, at] : heard) next = std::min(next, at + expiry + 1);
    FUZZ_CHECK(table.NextExpiry() == next);
  }
  return 0;
}
