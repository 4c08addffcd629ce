// GrpcPeerClient against a scripted in-process peer server: the queue and its limits, GetBatch,
// failure detection (ejection and probe) on the injected clock and scheduler, and a client whose
// last reference goes on a gRPC thread.
#include "transport/peer_client.h"

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "testing/fake_clock.h"
#include "testing/manual_scheduler.h"
#include "testing/wait.h"
#include "tests/transport/fake_peer_server.h"

namespace podcache {
namespace {

using transport_test::Answers;
using transport_test::FakePeerServer;
using transport_test::ResetAndWaitGone;

using ValueAnswers = Answers<StatusOr<PeerValue>>;
using StatusAnswers = Answers<Status>;

// A scripted server, and clients of it whose ejections and deadlines run on a fake clock and whose
// probes run when the test runs the scheduler.
struct ClientTest {
  ~ClientTest() {
    // A client may outlive its last reference here until its calls end (on a gRPC thread): wait,
    // as it uses the clock.
    for (auto& c : clients) CHECK_MESSAGE(ResetAndWaitGone(c), "a client is still referenced");
  }
  std::shared_ptr<GrpcPeerClient> Connect(PeerClientOptions options = {}) {
    options.clock = &clock;
    options.scheduler = &scheduler;
    auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
    clients.push_back(std::make_shared<GrpcPeerClient>(server.address(), channel, options));
    return clients.back();
  }
  // A client with these limits, to a server that holds every call until the test answers it.
  std::shared_ptr<GrpcPeerClient> ConnectHeld(int max_inflight, int max_batch, int max_queued) {
    PeerClientOptions o;
    o.max_inflight = max_inflight;
    o.max_batch = max_batch;
    o.max_queued = max_queued;
    server.SetHold(true);
    return Connect(o);
  }
  Millis Deadline() const { return clock.NowMs() + 10'000; }

  // One Get, waited for.
  StatusOr<PeerValue> GetNow(GrpcPeerClient& client, const std::string& key) {
    ValueAnswers answers;
    client.Get("users", key, 7, Deadline(), answers.For(key));
    REQUIRE_MESSAGE(answers.Wait(1), "no answer to Get(" << key << ")");
    return answers.Of(key)[0];
  }

  // A GetBatch whose answers are named by index.
  void Batch(GrpcPeerClient& client, const std::vector<std::string>& keys, ValueAnswers* answers) {
    std::vector<std::string_view> views(keys.begin(), keys.end());
    client.GetBatch("users", views, 7, Deadline(), [answers](size_t i, StatusOr<PeerValue> r) {
      answers->Add(std::to_string(i), std::move(r));
    });
  }

  FakeClock clock;  // outlives the server, whose end may still complete calls
  ManualScheduler scheduler{&clock};
  FakePeerServer server;
  std::vector<std::shared_ptr<GrpcPeerClient>> clients;  // released first
};

// The value of an answer, a failed call as "error <code>: <message>", or the owner's answer
// without a value as "owner <code>: <message>".
std::string Text(const StatusOr<PeerValue>& r) {
  if (!r.ok()) {
    return "error " + std::to_string(static_cast<int>(r.status().code())) + ": " +
           r.status().message();
  }
  const Status& owner = r.value().status;
  if (!owner.ok()) {
    return "owner " + std::to_string(static_cast<int>(owner.code())) + ": " + owner.message();
  }
  return r.value().value;
}

}  // namespace

TEST_CASE_FIXTURE(
    ClientTest,
    "peer client: past max_inflight Gets queue and leave as batches of max_batch keys") {
  auto client = ConnectHeld(/*max_inflight=*/1, /*max_batch=*/3, /*max_queued=*/4096);
  ValueAnswers answers;
  client->Get("users", "k0", 7, Deadline(), answers.For("k0"));
  REQUIRE_MESSAGE(server.WaitHeld(1), "the first Get never reached the server");
  for (int i = 1; i <= 7; ++i) {
    std::string key = "k" + std::to_string(i);
    client->Get("users", key, 7, Deadline(), answers.For(key));
    CHECK(client->stats().inflight == 1);  // queued, not sent
  }
  CHECK(answers.size() == 0);
  // Each answer frees the one slot, and the queue leaves in order, max_batch keys at a time.
  for (size_t calls = 1; calls <= 4; ++calls) {
    REQUIRE_MESSAGE(server.WaitHeld(1), "call " << calls << " never reached the server");
    CHECK(server.ReleaseHeld() == 1);
  }
  REQUIRE_MESSAGE(answers.Wait(8), "only " << answers.size() << " of 8 answers");
  CHECK(server.Received() ==
        std::vector<std::string>{"Get:k0", "GetBatch:k1,k2,k3", "GetBatch:k4,k5,k6", "Get:k7"});
  for (int i = 0; i <= 7; ++i) {
    std::string key = "k" + std::to_string(i);
    auto got = answers.Of(key);
    REQUIRE(got.size() == 1);
    CHECK(Text(got[0]) == "v:" + key);
    CHECK(got[0].value().remaining_ttl_ms == 1000);
  }
  CHECK(client->stats().calls == 4);
  CHECK(client->stats().batches == 2);
  CHECK(client->stats().batched_keys == 6);
  CHECK(client->stats().inflight == 0);
}

TEST_CASE_FIXTURE(
    ClientTest, "peer client: Gets beyond max_queued are refused at once with RESOURCE_EXHAUSTED") {
  auto client = ConnectHeld(/*max_inflight=*/1, /*max_batch=*/64, /*max_queued=*/2);
  ValueAnswers answers;
  for (const char* key : {"a", "b", "c"}) {
    client->Get("users", key, 7, Deadline(), answers.For(key));
  }
  // The fourth is answered before Get returns.
  client->Get("users", "d", 7, Deadline(), answers.For("d"));
  REQUIRE(answers.Of("d").size() == 1);
  CHECK(answers.Of("d")[0].status().code() == StatusCode::kResourceExhausted);
  CHECK(client->stats().overload_rejects == 1);
  CHECK(answers.size() == 1);
  REQUIRE_MESSAGE(server.WaitHeld(1), "the first Get never reached the server");
  server.SetHold(false);
  server.ReleaseHeld();
  REQUIRE_MESSAGE(answers.Wait(4), "only " << answers.size() << " of 4 answers");
  CHECK(Text(answers.Of("c")[0]) == "v:c");
  CHECK(server.Received() == std::vector<std::string>{"Get:a", "GetBatch:b,c"});
}

TEST_CASE_FIXTURE(ClientTest, "peer client: writes are sent at once - never queued behind Gets") {
  auto client = ConnectHeld(/*max_inflight=*/1, /*max_batch=*/64, /*max_queued=*/4096);
  ValueAnswers gets;
  client->Get("users", "a", 7, Deadline(), gets.For("a"));
  client->Get("users", "b", 7, Deadline(), gets.For("b"));  // queued
  StatusAnswers writes;
  auto set = writes.For("set");
  client->Set("users", "w", "value", 0, Deadline(), [set](const WriteResult& r) { set(r.status); });
  std::vector<std::string> keys = {"w"};
  client->Repair("users", keys, false, 0, Deadline(), writes.For("drop"));
  REQUIRE_MESSAGE(server.WaitHeld(3), "held: " << server.held() << " of 3");
  CHECK(client->stats().inflight == 3);
  server.SetHold(false);
  server.ReleaseHeld();
  REQUIRE_MESSAGE(writes.Wait(2), "only " << writes.size() << " of 2 writes answered");
  REQUIRE_MESSAGE(gets.Wait(2), "only " << gets.size() << " of 2 Gets answered");
  CHECK(writes.Of("set")[0].ok());
  CHECK(Text(gets.Of("b")[0]) == "v:b");
}

TEST_CASE_FIXTURE(ClientTest,
                  "peer client: Set/Delete carry the owner's counts; Repair splits; Sync answers") {
  PeerClientOptions o;
  o.max_batch = 2;
  auto client = Connect(o);
  Answers<WriteResult> writes;
  client->Set("users", "w", "v", 0, Deadline(), writes.For("set"));
  client->Delete("users", "w", Deadline(), writes.For("delete"));
  REQUIRE(writes.Wait(2));
  for (const char* w : {"set", "delete"}) {
    WriteResult r = writes.Of(w)[0];
    CHECK(r.status.ok());
    CHECK(r.members_acked == 2);
    CHECK(r.members_pending == 1);
  }
  // Five keys in calls of two; the first call also carries clear_hot and the generation.
  StatusAnswers repairs;
  std::vector<std::string> keys = {"a", "b", "c", "d", "e"};
  client->Repair("users", keys, true, 9, Deadline(), repairs.For("repair"));
  REQUIRE(repairs.Wait(1));
  CHECK(repairs.Of("repair")[0].ok());
  std::vector<std::string> got = server.Received();
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"Delete:w", "Repair:a,b|clear|9", "Repair:c,d", "Repair:e",
                                        "Set:w"});
  // One failed call fails the whole Repair (its items stay queued in core).
  server.FailCallsWith(grpc::StatusCode::INTERNAL);
  StatusAnswers failed;
  client->Repair("users", keys, false, 0, Deadline(), failed.For("repair"));
  REQUIRE(failed.Wait(1));
  CHECK(failed.Of("repair")[0].code() == StatusCode::kInternal);
  server.FailCallsWith(grpc::StatusCode::OK);
  Answers<StatusOr<uint64_t>> sync;
  client->Sync("users", Deadline(), sync.For("sync"));
  REQUIRE(sync.Wait(1));
  REQUIRE(sync.Of("sync")[0].ok());
  CHECK(sync.Of("sync")[0].value() == 42);
}

TEST_CASE_FIXTURE(
    ClientTest, "peer client: GetBatch answers every key at its index - per-key errors included") {
  auto client = Connect();
  std::vector<std::string> keys = {"a", "missing-b", "c", "bad-d", "big-e", "f"};
  ValueAnswers answers;
  Batch(*client, keys, &answers);
  REQUIRE_MESSAGE(answers.Wait(keys.size()), "only " << answers.size() << " answers");
  for (size_t i = 0; i < keys.size(); ++i) CHECK(answers.Of(std::to_string(i)).size() == 1);
  CHECK(Text(answers.Of("0")[0]) == "v:a");
  CHECK(Text(answers.Of("1")[0]) == "owner 5: no such key");
  CHECK(Text(answers.Of("2")[0]) == "v:c");
  CHECK(Text(answers.Of("3")[0]) == "owner 3: bad key");
  // Its value did not fit in the batch's response: fetched again on its own.
  CHECK(Text(answers.Of("4")[0]) == "v:big-e");
  CHECK(Text(answers.Of("5")[0]) == "v:f");
  CHECK(server.Received() ==
        std::vector<std::string>{"GetBatch:a,missing-b,c,bad-d,big-e,f", "Get:big-e"});
  CHECK(client->stats().batches == 1);
  CHECK(client->stats().batched_keys == 6);
}

TEST_CASE_FIXTURE(
    ClientTest,
    "peer client: GetBatch is split by max_batch and sent at once whatever is in flight") {
  auto client = ConnectHeld(/*max_inflight=*/1, /*max_batch=*/3, /*max_queued=*/4096);
  ValueAnswers single;
  client->Get("users", "x", 7, Deadline(), single.For("x"));  // takes the one slot
  std::vector<std::string> keys = {"k0", "k1", "k2", "k3", "k4", "k5", "k6"};
  ValueAnswers answers;
  Batch(*client, keys, &answers);
  REQUIRE_MESSAGE(server.WaitHeld(4), "held: " << server.held() << " of 4 calls");
  CHECK(client->stats().inflight == 4);
  CHECK(client->stats().batches == 2);
  CHECK(client->stats().batched_keys == 6);
  server.SetHold(false);
  server.ReleaseHeld();
  REQUIRE_MESSAGE(answers.Wait(keys.size()), "only " << answers.size() << " answers");
  for (size_t i = 0; i < keys.size(); ++i) {
    auto got = answers.Of(std::to_string(i));
    REQUIRE(got.size() == 1);
    CHECK(Text(got[0]) == "v:" + keys[i]);
  }
  std::vector<std::string> received = server.Received();
  std::sort(received.begin(), received.end());
  CHECK(received ==
        std::vector<std::string>{"Get:k6", "Get:x", "GetBatch:k0,k1,k2", "GetBatch:k3,k4,k5"});
}

TEST_CASE_FIXTURE(ClientTest, "peer client: a failed or malformed batch fails each of its keys") {
  auto client = Connect();
  server.FailCallsWith(grpc::StatusCode::INTERNAL);
  ValueAnswers failed;
  Batch(*client, {"a", "b", "c"}, &failed);
  REQUIRE_MESSAGE(failed.Wait(3), "only " << failed.size() << " answers");
  for (const char* i : {"0", "1", "2"}) {
    CHECK(failed.Of(i)[0].status().code() == StatusCode::kInternal);
  }
  server.FailCallsWith(grpc::StatusCode::OK);
  server.SetShortBatches(true);
  ValueAnswers short_answer;
  Batch(*client, {"a", "b"}, &short_answer);
  REQUIRE_MESSAGE(short_answer.Wait(2), "only " << short_answer.size() << " answers");
  for (const char* i : {"0", "1"}) {
    StatusOr<PeerValue> r = short_answer.Of(i)[0];
    CHECK(r.status().code() == StatusCode::kInternal);
    CHECK(r.status().message() == "peer answered a batch with the wrong size");
  }
  CHECK(client->stats().errors == 1);  // INTERNAL is not a reason to back off: both were sent
}

TEST_CASE_FIXTURE(
    ClientTest,
    "peer client: connection failures eject the peer - Gets refused at once, writes still sent") {
  PeerClientOptions o;
  o.health = {/*eject_failures=*/3, /*eject_time_ms=*/100, /*eject_max_time_ms=*/400};
  auto client = Connect(o);
  server.FailCallsWith(
      grpc::StatusCode::UNAVAILABLE);  // unmarked: as if the call failed on the way
  // Whether a Get was refused at once (the peer is ejected) instead of sent to the server.
  auto refused = [&](const std::string& key) {
    size_t before = server.Received().size();
    StatusOr<PeerValue> r = GetNow(*client, key);
    bool ejected = !r.ok() && r.status().message().find("is ejected") != std::string::npos;
    if (ejected) CHECK(r.status().code() == StatusCode::kUnavailable);
    CHECK(server.Received().size() == before + (ejected ? 0 : 1));
    return ejected;
  };
  CHECK(client->health() == PeerHealth::kUp);
  CHECK_FALSE(refused("a"));
  CHECK(client->health() == PeerHealth::kSuspect);
  CHECK_FALSE(refused("b"));
  CHECK_FALSE(refused("c"));
  CHECK(client->health() == PeerHealth::kEjected);
  CHECK(refused("d"));
  StatusOr<PeerValue> r = GetNow(*client, "e");
  CHECK(r.status().message() ==
        "peer " + server.address() +
            " is ejected for 100 ms more after 3 failed calls in a row (timeouts or connection "
            "failures); misses on its keys are loaded locally");
  // A GetBatch's keys are refused each; writes are still sent (their outcome counts).
  ValueAnswers batch;
  Batch(*client, {"x", "y"}, &batch);
  REQUIRE(batch.size() == 2);  // answered before GetBatch returned
  for (const char* i : {"0", "1"}) {
    CHECK(batch.Of(i)[0].status().message().find("is ejected") != std::string::npos);
  }
  StatusAnswers write;
  auto del = write.For("delete");
  client->Delete("users", "k", Deadline(), [del](const WriteResult& r) { del(r.status); });
  REQUIRE_MESSAGE(write.Wait(1), "no answer to the Delete");
  CHECK(write.Of("delete")[0].code() == StatusCode::kUnavailable);
  PeerHealthSnapshot s = client->HealthSnapshot();
  CHECK(s.ejected_rejects == 2 + 2);
  CHECK(s.unavailable == 4);
  CHECK(s.ejections == 1);
  // When the ejection ends, one Ping: it fails, so the peer is ejected again for 200 ms.
  CHECK(scheduler.AdvanceAndRun(100) == 1);
  REQUIRE_MESSAGE(testing::WaitUntil([&] { return client->HealthSnapshot().ejections == 2; }),
                  "the failed probe did not eject the peer again");
  CHECK(server.Received().back() == "Ping");
  CHECK(client->HealthSnapshot().ejected_ms_left == 200);
  CHECK(refused("f"));
  // The peer is back: the next probe finds it, and Gets are sent again.
  server.FailCallsWith(grpc::StatusCode::OK);
  CHECK(scheduler.AdvanceAndRun(200) == 1);
  REQUIRE_MESSAGE(testing::WaitUntil([&] { return client->health() == PeerHealth::kUp; }),
                  "the probe did not bring the peer back up");
  CHECK(Text(GetNow(*client, "g")) == "v:g");
  CHECK(client->HealthSnapshot().probes == 2);
  CHECK(client->stats().errors == 4);
}

TEST_CASE_FIXTURE(ClientTest,
                  "peer client: a peer that stops answering is ejected after timeouts, and a "
                  "Ping brings it back") {
  PeerClientOptions o;
  o.health = {/*eject_failures=*/2, /*eject_time_ms=*/1000, /*eject_max_time_ms=*/10000};
  auto client = Connect(o);
  CHECK(Text(GetNow(*client, "warm")) == "v:warm");  // connected
  server.SetHold(true);  // a hung peer: calls arrive and are never answered
  // Two Gets of 50 ms (real time: the fake clock's deadlines become gRPC's) time out.
  ValueAnswers answers;
  for (const char* key : {"a", "b"}) {
    client->Get("users", key, 7, clock.NowMs() + 50, answers.For(key));
  }
  REQUIRE_MESSAGE(answers.Wait(2), "the Gets to the hung peer did not time out");
  CHECK(answers.Of("a")[0].status().code() == StatusCode::kDeadlineExceeded);
  CHECK(client->health() == PeerHealth::kEjected);
  CHECK(client->HealthSnapshot().timeouts == 2);
  // Refused at once now: no call reaches the server.
  size_t received = server.Received().size();
  StatusOr<PeerValue> r = GetNow(*client, "c");
  CHECK(r.status().code() == StatusCode::kUnavailable);
  CHECK(server.Received().size() == received);
  // The peer resumes; at the end of the ejection the probe finds it.
  server.SetHold(false);
  server.ReleaseHeld();
  CHECK(scheduler.AdvanceAndRun(1000) == 1);
  REQUIRE_MESSAGE(testing::WaitUntil([&] { return client->health() == PeerHealth::kUp; }),
                  "the probe did not bring the peer back up");
  CHECK(Text(GetNow(*client, "d")) == "v:d");
}

TEST_CASE_FIXTURE(ClientTest,
                  "peer client: errors the peer sends itself are answers - the peer stays up") {
  PeerClientOptions o;
  o.health.eject_failures = 1;
  auto client = Connect(o);
  server.SetMarkAnswers(true);  // as a podcache peer does: e.g. its loader failed
  for (auto code : {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED,
                    grpc::StatusCode::INTERNAL, grpc::StatusCode::RESOURCE_EXHAUSTED}) {
    server.FailCallsWith(code);
    CHECK(GetNow(*client, "a").status().code() == static_cast<StatusCode>(code));
    CHECK(client->health() == PeerHealth::kUp);
  }
  server.FailCallsWith(grpc::StatusCode::OK);
  CHECK(Text(GetNow(*client, "missing-b")) == "owner 5: no such key");
  CHECK(client->health() == PeerHealth::kUp);
  CHECK(client->HealthSnapshot().consecutive_failures == 0);
}

TEST_CASE_FIXTURE(ClientTest, "peer client: a client dropped while ejected sends no probe") {
  PeerClientOptions o;
  o.health = {/*eject_failures=*/1, /*eject_time_ms=*/100, /*eject_max_time_ms=*/100};
  auto client = Connect(o);
  server.FailCallsWith(grpc::StatusCode::UNAVAILABLE);
  CHECK_FALSE(GetNow(*client, "a").ok());
  REQUIRE(client->health() == PeerHealth::kEjected);
  // As the pool drops a member that left: the probe task holds no reference to the client.
  client.reset();
  REQUIRE_MESSAGE(ResetAndWaitGone(clients.back()), "the client is still referenced");
  CHECK(scheduler.AdvanceAndRun(100) == 1);  // the task runs and finds nothing to probe
  CHECK(server.Received() == std::vector<std::string>{"Get:a"});
}

TEST_CASE("peer client: the last reference may go on a gRPC thread after the server is gone") {
  // It used to abort ("assertion failed: prior > 0", a double free in grpc_cq_internal_unref)
  // in 4 of 5 runs of these rounds: the process's last channel died on the thread of its callback.
  FakeClock clock;
  for (int round = 0; round < 100; ++round) {
    std::string address;
    { address = FakePeerServer().address(); }  // nothing listens there any more
    PeerClientOptions o;
    o.clock = &clock;
    auto client = std::make_shared<GrpcPeerClient>(
        address, grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), o);
    ValueAnswers answers;
    client->Get("users", "k", 7, clock.NowMs() + 10'000, answers.For("k"));
    std::weak_ptr<GrpcPeerClient> weak = client;
    client.reset();  // the call's callback holds the last reference now
    REQUIRE_MESSAGE(answers.Wait(1), "no answer in round " << round);
    CHECK(answers.Of("k")[0].status().code() == StatusCode::kUnavailable);
    REQUIRE_MESSAGE(testing::WaitUntil([&] { return weak.expired(); }),
                    "the client was not destroyed in round " << round);
  }
}

}  // namespace podcache
