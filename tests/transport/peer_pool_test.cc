// PeerPool: the client map swapped on each new member set.
#include "transport/peer_pool.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "testing/fake_clock.h"
#include "tests/transport/fake_peer_server.h"

namespace podcache {
namespace {

using transport_test::Answers;
using transport_test::FakePeerServer;

std::vector<std::string> Members(const PeerPool::ClientMap& map) {
  std::vector<std::string> out;
  for (const auto& [member, client] : map) out.push_back(member);
  return out;
}

}  // namespace

TEST_CASE("peer pool: a new member set adds and drops clients - keeps the others - never self") {
  PeerPoolOptions o;
  o.insecure = true;
  PeerPool pool(o);
  CHECK(pool.Clients()->empty());
  pool.Update({"10.0.0.1:7071", "10.0.0.2:7071", "10.0.0.3:7071"}, "10.0.0.1:7071");
  std::shared_ptr<const PeerPool::ClientMap> before = pool.Clients();
  CHECK(Members(*before) == std::vector<std::string>{"10.0.0.2:7071", "10.0.0.3:7071"});
  CHECK(pool.Client("10.0.0.1:7071") == nullptr);
  std::shared_ptr<GrpcPeerClient> kept = pool.Client("10.0.0.2:7071");
  std::shared_ptr<GrpcPeerClient> dropped = pool.Client("10.0.0.3:7071");
  REQUIRE(kept != nullptr);
  CHECK(kept->member() == "10.0.0.2:7071");

  pool.Update({"10.0.0.4:7071", "10.0.0.2:7071", "10.0.0.1:7071"}, "10.0.0.1:7071");
  CHECK(Members(*pool.Clients()) == std::vector<std::string>{"10.0.0.2:7071", "10.0.0.4:7071"});
  CHECK(pool.Client("10.0.0.2:7071") == kept);  // the same client, channel and state
  CHECK(pool.Client("10.0.0.3:7071") == nullptr);
  CHECK(pool.Client("10.0.0.4:7071") != nullptr);
  // A reader's snapshot is immutable: it still holds what it held.
  CHECK(Members(*before) == std::vector<std::string>{"10.0.0.2:7071", "10.0.0.3:7071"});
  CHECK(before->at("10.0.0.3:7071") == dropped);

  pool.Update({}, "10.0.0.1:7071");
  CHECK(pool.Clients()->empty());
}

TEST_CASE("peer pool: a client kept across a swap keeps its connection and its health") {
  FakeClock clock;
  FakePeerServer server;
  PeerPoolOptions o;
  o.insecure = true;
  o.client.clock = &clock;
  o.client.health = {/*eject_failures=*/1, /*eject_time_ms=*/100, /*eject_max_time_ms=*/1000};
  PeerPool pool(o);
  pool.Update({"self", server.address()}, "self");
  std::shared_ptr<GrpcPeerClient> client = pool.Client(server.address());
  REQUIRE(client != nullptr);
  Answers<StatusOr<PeerValue>> answers;
  client->Get("users", "a", 1, clock.NowMs() + 10'000, answers.For("a"));
  REQUIRE_MESSAGE(answers.Wait(1), "no answer through the pool's client");
  CHECK(answers.Of("a")[0].value().value == "v:a");

  server.FailCallsWith(grpc::StatusCode::UNAVAILABLE);
  client->Get("users", "b", 1, clock.NowMs() + 10'000, answers.For("b"));
  REQUIRE_MESSAGE(answers.Wait(2), "no answer to the failing Get");
  server.FailCallsWith(grpc::StatusCode::OK);
  pool.Update({"self", server.address(), "10.0.0.9:7071"}, "self");
  std::shared_ptr<GrpcPeerClient> after = pool.Client(server.address());
  REQUIRE(after == client);
  after->Get("users", "c", 1, clock.NowMs() + 10'000, answers.For("c"));
  REQUIRE(answers.Of("c").size() == 1);  // refused at once: still ejected
  CHECK(answers.Of("c")[0].status().message().find("is ejected") != std::string::npos);
  CHECK(after->health() == PeerHealth::kEjected);
  clock.Advance(100);
  after->Get("users", "d", 1, clock.NowMs() + 10'000, answers.For("d"));
  // No scheduler, so no probe: the ejection ends by itself and the next call decides.
  REQUIRE_MESSAGE(answers.Wait(4), "no answer after the ejection");
  CHECK(answers.Of("d")[0].value().value == "v:d");
  CHECK(server.Received() == std::vector<std::string>{"Get:a", "Get:b", "Get:d"});
  CHECK(after->health() == PeerHealth::kUp);
  pool.Update({}, "self");
  after.reset();
  CHECK_MESSAGE(transport_test::ResetAndWaitGone(client), "the client is still referenced");
}

}  // namespace podcache
