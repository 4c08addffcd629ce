// GrpcPeerClient against a scripted in-process peer server: the queue and its limits, GetBatch,
// back-off on the injected clock.
#include "transport/peer_client.h"

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
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
using transport_test::ReleaseHere;

using ValueAnswers = Answers<StatusOr<PeerValue>>;
using StatusAnswers = Answers<Status>;

// A scripted server, and clients of it whose back-off and deadlines run on a fake clock.
struct ClientTest {
  ~ClientTest() {
    for (auto& c : clients) CHECK_MESSAGE(ReleaseHere(c), "a client is still referenced");
  }
  std::shared_ptr<GrpcPeerClient> Connect(PeerClientOptions options = {}) {
    options.clock = &clock;
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
  FakePeerServer server;
  std::vector<std::shared_ptr<GrpcPeerClient>> clients;  // released first, on this thread
};

// The value of an answer, or its error as "error <code>: <message>".
std::string Text(const StatusOr<PeerValue>& r) {
  if (!r.ok()) {
    return "error " + std::to_string(static_cast<int>(r.status().code())) + ": " +
           r.status().message();
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
  CHECK(answers.Of("1")[0].status().code() == StatusCode::kNotFound);
  CHECK(Text(answers.Of("2")[0]) == "v:c");
  CHECK(Text(answers.Of("3")[0]) == "error 3: bad key");
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
    "peer client: UNAVAILABLE backs the peer off - doubling to the cap - reset by success") {
  PeerClientOptions o;
  o.backoff_min_ms = 100;
  o.backoff_max_ms = 400;
  auto client = Connect(o);
  server.FailCallsWith(grpc::StatusCode::UNAVAILABLE);
  // Whether a Get was refused at once (the peer is backed off) instead of sent to the server.
  auto refused = [&](const std::string& key) {
    size_t before = server.Received().size();
    StatusOr<PeerValue> r = GetNow(*client, key);
    bool backed_off = !r.ok() && r.status().message().find("is backed off") != std::string::npos;
    if (backed_off) CHECK(r.status().code() == StatusCode::kUnavailable);
    CHECK(server.Received().size() == before + (backed_off ? 0 : 1));
    return backed_off;
  };
  CHECK_FALSE(refused("a"));  // fails: backed off for 100 ms
  CHECK(refused("b"));
  clock.Advance(99);
  CHECK(refused("c"));
  clock.Advance(1);
  CHECK_FALSE(refused("d"));  // fails again: 200 ms
  clock.Advance(199);
  CHECK(refused("e"));
  clock.Advance(1);
  CHECK_FALSE(refused("f"));  // 400 ms
  clock.Advance(400);
  CHECK_FALSE(refused("g"));  // 800 ms, capped at 400
  clock.Advance(399);
  CHECK(refused("h"));
  // Every kind of call is refused while backed off; a GetBatch's keys each count.
  StatusAnswers write;
  auto del = write.For("delete");
  client->Delete("users", "k", Deadline(), [del](const WriteResult& r) { del(r.status); });
  REQUIRE(write.size() == 1);  // answered before Delete returned
  CHECK(write.Of("delete")[0].message().find("is backed off") != std::string::npos);
  ValueAnswers batch;
  Batch(*client, {"x", "y"}, &batch);
  REQUIRE(batch.size() == 2);
  for (const char* i : {"0", "1"}) {
    CHECK(batch.Of(i)[0].status().message().find("is backed off") != std::string::npos);
  }
  CHECK(client->stats().backoff_rejects == 4 + 1 + 2);
  clock.Advance(1);
  server.FailCallsWith(grpc::StatusCode::OK);
  CHECK(Text(GetNow(*client, "i")) == "v:i");  // success resets the doubling
  server.FailCallsWith(grpc::StatusCode::UNAVAILABLE);
  CHECK(GetNow(*client, "j").status().code() == StatusCode::kUnavailable);
  clock.Advance(99);
  CHECK(refused("k"));
  clock.Advance(1);  // 100 ms again, not 800
  server.FailCallsWith(grpc::StatusCode::OK);
  CHECK_FALSE(refused("l"));
  CHECK(client->stats().errors == 5);
}

}  // namespace podcache
