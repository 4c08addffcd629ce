// PeerService over a real in-process gRPC server, serving a real Group (on a fake clock and the
// ManualScheduler), called through GrpcPeerClient: GetBatch goes through Group::GetMany.
#include "transport/peer_service.h"

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/group.h"
#include "core/ring.h"
#include "core/scheduler.h"
#include "testing/manual_scheduler.h"
#include "tests/transport/fake_peer_server.h"
#include "transport/grpc_util.h"
#include "transport/peer_client.h"

namespace podcache {
namespace {

using transport_test::Answers;
using ValueAnswers = Answers<StatusOr<PeerValue>>;

// Answers "value:<key>" at once; keys that start with "missing" are NOT_FOUND, with "fail"
// UNAVAILABLE (the database is down), with "big" a value of 3000 bytes, with "stale" a value of
// TTL 1 s and stale-while-revalidate 60 s.
class TestLoader final : public Loader {
 public:
  void Load(std::string_view, std::string_view key, Millis, DoneFn done) override {
    ++calls;
    if (key.starts_with("missing")) return done(NotFoundError("no such row"));
    if (key.starts_with("fail")) return done(UnavailableError("database down"));
    if (key.starts_with("big")) return done(Loaded{std::string(3000, 'x'), -1});
    if (key.starts_with("stale")) {  // lives 1 s, then may be served stale for a minute
      Loaded l{"value:" + std::string(key), 1000};
      l.stale_while_revalidate_ms = 60000;
      return done(std::move(l));
    }
    done(Loaded{"value:" + std::string(key), -1});
  }
  std::atomic<int> calls{0};
};

// This node is "self" in a ring of "self" and "other"; it has no clients (it only serves).
class TwoMemberView final : public PeerView {
 public:
  RingPtr Ring() const override { return ring_; }
  const std::string& Self() const override { return self_; }
  std::shared_ptr<PeerClient> Client(const std::string&) override { return nullptr; }

 private:
  const std::string self_ = "self";
  const RingPtr ring_ = Ring::Build({"self", "other"});
};

// One keyspace "users" behind a PeerService on 127.0.0.1:<port 0>, and a client of it.
struct ServedGroup {
  ServedGroup() {
    KeyspaceOptions o;
    o.name = "users";
    o.max_bytes = 4 << 20;
    GroupEnv env;
    env.peers = &view;
    env.scheduler = &scheduler;
    env.clock = &clock;
    group = Group::Create(o, loader, env).value();
    service = std::make_unique<PeerService>(
        [this](std::string_view ks) { return ks == "users" ? group : nullptr; },
        /*max_keys_per_call=*/5, /*max_message_bytes=*/8192);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service.get());
    server = builder.BuildAndStart();
    REQUIRE_MESSAGE(port != 0, "the peer service did not start");
    PeerClientOptions co;
    co.clock = &clock;
    address = "127.0.0.1:" + std::to_string(port);
    client = std::make_shared<GrpcPeerClient>(
        address, grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), co);
  }
  ~ServedGroup() {
    CHECK_MESSAGE(transport_test::ResetAndWaitGone(client), "the client is still referenced");
    server->Shutdown(std::chrono::system_clock::now() + transport_test::kWaitLimit);
    server->Wait();
  }

  // GetBatch of `keys` in `keyspace`, waited for; the answers are named by index.
  ValueAnswers Batch(const std::vector<std::string>& keys, const std::string& keyspace = "users") {
    ValueAnswers answers;
    std::vector<std::string_view> views(keys.begin(), keys.end());
    client->GetBatch(keyspace, views, view.Ring()->fingerprint(), clock.NowMs() + 10'000,
                     [answers](size_t i, StatusOr<PeerValue> r) mutable {
                       answers.Add(std::to_string(i), std::move(r));
                     });
    REQUIRE_MESSAGE(answers.Wait(keys.size()),
                    "only " << answers.size() << " of " << keys.size() << " answers");
    return answers;
  }

  FakeClock clock;
  ManualScheduler scheduler{&clock};
  TwoMemberView view;
  std::shared_ptr<TestLoader> loader = std::make_shared<TestLoader>();
  std::shared_ptr<Group> group;
  std::unique_ptr<PeerService> service;
  std::unique_ptr<grpc::Server> server;
  std::string address;
  std::shared_ptr<GrpcPeerClient> client;
};

}  // namespace

TEST_CASE_FIXTURE(ServedGroup, "peer service: GetBatch answers each key in order - loaded here") {
  // Keys of both members: a peer's request is never forwarded, whoever the ring names.
  std::vector<std::string> keys = {"k0", "k1", "missing-2", "k3", "k4"};
  int others = 0;
  for (const std::string& k : keys) others += view.Ring()->OwnerOfKey(k) == "other";
  REQUIRE(others > 0);
  REQUIRE(others < 5);
  ValueAnswers answers = Batch(keys);
  for (size_t i = 0; i < keys.size(); ++i) {
    CAPTURE(keys[i]);
    std::vector<StatusOr<PeerValue>> got = answers.Of(std::to_string(i));
    REQUIRE(got.size() == 1);
    REQUIRE(got[0].ok());  // the call succeeded; the owner's answer is in the value
    if (i == 2) {
      CHECK(got[0].value().status.code() == StatusCode::kNotFound);
    } else {
      REQUIRE(got[0].ok());
      CHECK(got[0].value().value == "value:" + keys[i]);
    }
  }
  KeyspaceStats s = group->Stats();
  CHECK(s[KeyspaceStats::kGetsFromPeers] == 5);
  CHECK(s[KeyspaceStats::kLoads] == 5);
  CHECK(s[KeyspaceStats::kRingDisagreements] == static_cast<uint64_t>(others));
  CHECK(loader->calls == 5);
  CHECK(client->stats().batches == 1);
}

TEST_CASE_FIXTURE(ServedGroup,
                  "peer service: a Get's answer travels in the body - the call itself succeeds") {
  ValueAnswers answers;
  Millis deadline = clock.NowMs() + 10'000;
  uint64_t fingerprint = view.Ring()->fingerprint();
  for (const char* key : {"k1", "missing-1", "fail-1"}) {
    client->Get("users", key, fingerprint, deadline, answers.For(key));
  }
  REQUIRE_MESSAGE(answers.Wait(3), "only " << answers.size() << " of 3 answers");
  for (const char* key : {"k1", "missing-1", "fail-1"}) REQUIRE(answers.Of(key)[0].ok());
  CHECK(answers.Of("k1")[0].value().status.ok());
  CHECK(answers.Of("k1")[0].value().value == "value:k1");
  PeerValue missing = answers.Of("missing-1")[0].value();
  CHECK(missing.status.code() == StatusCode::kNotFound);
  CHECK(missing.value.empty());
  // The owner's loader failed: its answer, not a failed call (which the sender would retry).
  PeerValue failed = answers.Of("fail-1")[0].value();
  CHECK(failed.status.code() == StatusCode::kUnavailable);
  CHECK(failed.status.message() == "database down");
  CHECK(client->stats().errors == 0);
  CHECK(loader->calls == 3);
}

TEST_CASE_FIXTURE(ServedGroup, "peer service: a stale answer is marked stale in Get and GetBatch") {
  ValueAnswers fresh = Batch({"stale-a", "stale-b"});
  REQUIRE(fresh.Of("0").at(0).ok());
  CHECK_FALSE(fresh.Of("0").at(0).value().stale);
  clock.Advance(1000);  // expired, within stale-while-revalidate
  ValueAnswers batch = Batch({"stale-a", "k"});
  REQUIRE(batch.Of("0").at(0).ok());
  CHECK(batch.Of("0").at(0).value().stale);
  CHECK(batch.Of("0").at(0).value().remaining_ttl_ms == kStaleTtlMs);
  REQUIRE(batch.Of("1").at(0).ok());
  CHECK_FALSE(batch.Of("1").at(0).value().stale);
  ValueAnswers one;
  client->Get("users", "stale-b", view.Ring()->fingerprint(), clock.NowMs() + 10'000, one.For("b"));
  REQUIRE(one.Wait(1));
  REQUIRE(one.Of("b").at(0).ok());
  CHECK(one.Of("b").at(0).value().stale);
  CHECK(one.Of("b").at(0).value().value == "value:stale-b");
}

TEST_CASE_FIXTURE(ServedGroup, "peer service: values beyond the message limit are fetched alone") {
  // 8 KiB responses: two 3000-byte values fit in one, the third is marked and fetched on its own.
  ValueAnswers answers = Batch({"big-1", "big-2", "big-3"});
  for (const char* i : {"0", "1", "2"}) {
    REQUIRE(answers.Of(i)[0].ok());
    CHECK(answers.Of(i)[0].value().value.size() == 3000);
  }
  CHECK(client->stats().calls == 2);  // the batch, then one Get
  CHECK(group->Stats()[KeyspaceStats::kGetsFromPeers] == 4);
  CHECK(loader->calls == 3);
}

TEST_CASE_FIXTURE(ServedGroup,
                  "peer service: a GetBatch above max_keys_per_call or of an unknown keyspace") {
  ValueAnswers too_many = Batch({"a", "b", "c", "d", "e", "f"});
  for (int i = 0; i < 6; ++i) {
    Status s = too_many.Of(std::to_string(i))[0].status();
    CHECK(s.code() == StatusCode::kResourceExhausted);
    CHECK(s.message() == "GetBatch of 6 keys: at most 5 per call");
  }
  ValueAnswers unknown = Batch({"a", "b"}, "orders");
  CHECK(unknown.Of("1")[0].status().code() == StatusCode::kNotFound);
  CHECK(group->Stats()[KeyspaceStats::kGets] == 0);
  CHECK(loader->calls == 0);
}

TEST_CASE_FIXTURE(ServedGroup, "peer service: Set answers with the owner's counts") {
  Answers<WriteResult> writes;
  client->Set("users", "k", "v", -1, clock.NowMs() + 10'000, writes.For("set"));
  REQUIRE(writes.Wait(1));
  WriteResult r = writes.Of("set")[0];
  CHECK(r.status.ok());
  // "other" has no client here: it is not waited for, and counted pending.
  CHECK(r.members_acked == 0);
  CHECK(r.members_pending == 1);
  CHECK(group->Stats().main.items == 1);
}

TEST_CASE_FIXTURE(ServedGroup, "peer service: Repair adopts the generation, within the limits") {
  Answers<Status> answers;
  Millis deadline = clock.NowMs() + 10'000;
  std::vector<std::string> keys = {"a", "b"};
  client->Repair("users", keys, false, 9, deadline, answers.For("ok"));
  client->Repair("users", {}, true, 0, deadline, answers.For("clear"));
  std::vector<std::string> six = {"1", "2", "3", "4", "5", "6"};  // max_keys_per_call is 5
  client->Repair("users", six, false, 0, deadline, answers.For("many"));
  std::vector<std::string> long_keys(5, std::string(2000, 'k'));  // 10000 bytes > 8192
  client->Repair("users", long_keys, false, 0, deadline, answers.For("big"));
  client->Repair("users", keys, false, Group::kMaxPeerGeneration + 1, deadline,
                 answers.For("absurd"));
  client->Repair("nope", keys, false, 0, deadline, answers.For("unknown"));
  REQUIRE(answers.Wait(6));
  CHECK(answers.Of("ok")[0].ok());
  CHECK(answers.Of("clear")[0].ok());
  CHECK(answers.Of("many")[0].code() == StatusCode::kResourceExhausted);
  CHECK(answers.Of("big")[0].code() == StatusCode::kResourceExhausted);
  CHECK(answers.Of("absurd")[0].code() == StatusCode::kInvalidArgument);
  CHECK(answers.Of("unknown")[0].code() == StatusCode::kNotFound);
  CHECK(group->generation() == 9);
  Answers<StatusOr<uint64_t>> sync;
  client->Sync("users", deadline, sync.For("users"));
  client->Sync("nope", deadline, sync.For("nope"));
  REQUIRE(sync.Wait(2));
  REQUIRE(sync.Of("users")[0].ok());
  CHECK(sync.Of("users")[0].value() == 9);
  CHECK(sync.Of("nope")[0].status().code() == StatusCode::kNotFound);
}

TEST_CASE_FIXTURE(ServedGroup,
                  "peer service: Ping answers at once, and every answer is marked as the peer's") {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = peer::v1::Peer::NewStub(channel);
  auto marked = [](const grpc::ClientContext& ctx) {
    const auto& trailers = ctx.GetServerTrailingMetadata();
    auto it = trailers.find(kPeerAnswerKey);
    return it != trailers.end() && it->second == "1";
  };
  {
    grpc::ClientContext ctx;
    peer::v1::PingResponse resp;
    CHECK(stub->Ping(&ctx, peer::v1::PingRequest(), &resp).ok());
    CHECK(marked(ctx));
  }
  {
    // An error the peer sends (here: a keyspace it does not serve) is marked too.
    grpc::ClientContext ctx;
    peer::v1::GetRequest req;
    req.set_keyspace("orders");
    req.set_key("a");
    peer::v1::GetResponse resp;
    CHECK(stub->Get(&ctx, req, &resp).error_code() == grpc::StatusCode::NOT_FOUND);
    CHECK(marked(ctx));
  }
  CHECK(group->Stats()[KeyspaceStats::kGets] == 0);
}

}  // namespace podcache
