#include <doctest/doctest.h>

#include "discovery/nats_member_table.h"
#include "discovery/nats_message.h"
#include "testing/fake_clock.h"

namespace podcache {

TEST_CASE("nats message: encodes and parses every type") {
  for (auto type : {NatsMessage::Type::kHello, NatsMessage::Type::kBeat, NatsMessage::Type::kBye}) {
    std::string wire = EncodeNatsMessage(NatsMessage{type, "10.0.0.7:7071"});
    NatsMessage m;
    REQUIRE(ParseNatsMessage(wire, &m) == NatsParseResult::kOk);
    CHECK(m.type == type);
    CHECK(m.member == "10.0.0.7:7071");
  }
  CHECK(EncodeNatsMessage(NatsMessage{NatsMessage::Type::kHello, "[fd00::1]:7071"}) ==
        "podcache.discovery/1 hello [fd00::1]:7071");
  NatsMessage m;
  CHECK(ParseNatsMessage("podcache.discovery/1 beat [fd00::1]:7071\n", &m) == NatsParseResult::kOk);
  CHECK(m.member == "[fd00::1]:7071");
}

TEST_CASE("nats message: malformed - oversized and unknown versions are told apart") {
  NatsMessage m;
  for (const char* bad :
       {"", "hello", "podcache.discovery/1", "podcache.discovery/1 hello",
        "podcache.discovery/1 hello ", "podcache.discovery/1 wave 10.0.0.1:1",
        "podcache.discovery/1 hello 10.0.0.1", "podcache.discovery/1 hello 10.0.0.1:0",
        "podcache.discovery/1 hello 10.0.0.1:1 extra", "podcache.discovery/1  hello 10.0.0.1:1",
        "other/1 hello 10.0.0.1:1", "{\"v\":1,\"type\":\"hello\"}",
        "podcache.discovery/1 hello a\x01:1"}) {
    CAPTURE(bad);
    CHECK(ParseNatsMessage(bad, &m) == NatsParseResult::kMalformed);
  }
  CHECK(ParseNatsMessage("podcache.discovery/2 hello 10.0.0.1:1", &m) == NatsParseResult::kVersion);
  CHECK(ParseNatsMessage("podcache.discovery/ hello 10.0.0.1:1", &m) == NatsParseResult::kVersion);
  std::string big = "podcache.discovery/1 hello " + std::string(kMaxNatsMessageBytes, 'a') + ":1";
  CHECK(ParseNatsMessage(big, &m) == NatsParseResult::kOversized);
  // A NUL inside the data (nats payloads are bytes) is not a member character.
  CHECK(ParseNatsMessage(std::string_view("podcache.discovery/1 bye a\0b:1", 30), &m) ==
        NatsParseResult::kMalformed);
}

TEST_CASE("nats member table: members expire after expiry_ms of silence - not before") {
  FakeClock clock(0);
  NatsMemberTable t(&clock, 5000, 10);
  CHECK(t.NextExpiry() == kNoDeadline);
  CHECK(t.Saw("a:1") == NatsMemberTable::SeenResult::kNew);
  clock.Advance(3000);
  CHECK(t.Saw("b:1") == NatsMemberTable::SeenResult::kNew);
  CHECK(t.Saw("a:1") == NatsMemberTable::SeenResult::kRefreshed);  // a: seen at 3000
  clock.Advance(5000);                                             // now 8000
  CHECK(t.Expire().empty());                                       // exactly expiry_ms: still there
  clock.Advance(1);
  CHECK(t.Expire() == std::vector<std::string>{"a:1", "b:1"});
  CHECK(t.size() == 0);
}

TEST_CASE("nats member table: bye removes - RefreshAll restarts every expiry") {
  FakeClock clock(0);
  NatsMemberTable t(&clock, 1000, 10);
  t.Saw("a:1");
  t.Saw("b:1");
  CHECK(t.Left("a:1"));
  CHECK_FALSE(t.Left("a:1"));
  CHECK(t.Members() == std::vector<std::string>{"b:1"});
  clock.Advance(900);
  t.RefreshAll();  // e.g. after a reconnect: b gets a full expiry from now
  CHECK(t.NextExpiry() == 900 + 1000 + 1);
  clock.Advance(900);
  CHECK(t.Expire().empty());
  clock.Advance(200);
  CHECK(t.Expire() == std::vector<std::string>{"b:1"});
}

TEST_CASE("nats member table: new members beyond max_members are refused") {
  FakeClock clock(0);
  NatsMemberTable t(&clock, 1000, 2);
  CHECK(t.Saw("a:1") == NatsMemberTable::SeenResult::kNew);
  CHECK(t.Saw("b:1") == NatsMemberTable::SeenResult::kNew);
  CHECK(t.Saw("c:1") == NatsMemberTable::SeenResult::kRefused);
  CHECK(t.Saw("a:1") == NatsMemberTable::SeenResult::kRefreshed);  // known ones still beat
  t.Left("b:1");
  CHECK(t.Saw("c:1") == NatsMemberTable::SeenResult::kNew);
  CHECK(t.Members() == std::vector<std::string>{"a:1", "c:1"});
}

}  // namespace podcache
