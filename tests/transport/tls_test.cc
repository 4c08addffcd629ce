// The peer TLS verifier's decisions, over real handshakes: a peer server with
// PeerServerCredentials, dialled through a PeerPool (PeerChannelCredentials) with certificates made
// for each case.
#include "transport/tls.h"

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "tests/transport/fake_peer_server.h"
#include "tests/transport/test_pki.h"
#include "transport/peer_pool.h"

namespace podcache {
namespace {

using transport_test::Answers;
using transport_test::FakePeerServer;
using transport_test::kPeerName;
using transport_test::LeafSpec;
using transport_test::ResetAndWaitGone;
using transport_test::TestPki;

// The reasons `c` counted a rejection for, as "untrusted expired ..." (a handshake may be tried
// more than once per call, so the numbers are not compared).
std::string Reasons(const TlsRejectionCounters& c) {
  std::string out;
  for (int r = 0; r < static_cast<int>(TlsRejection::kNumReasons); ++r) {
    if (c.counts[r].load() > 0) {
      out += std::string(out.empty() ? "" : " ") + TlsRejectionName(static_cast<TlsRejection>(r));
    }
  }
  return out;
}

// Waits until `c` counts a rejection; false when kWaitLimit passes first. The verifier runs
// during the handshake, so by the time the call has failed it has counted.
bool CountsSomething(const TlsRejectionCounters& c) {
  auto until = std::chrono::steady_clock::now() + transport_test::kWaitLimit;
  while (Reasons(c).empty()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A peer server presenting `server_files`, and a way to call it as a client presenting others.
struct TlsPeers {
  explicit TlsPeers(const LeafSpec& server_spec = {})
      : server_files(pki.Issue("server", server_spec)),
        server(PeerServerCredentials(server_files, server_rejections)) {}

  // One Get through a PeerPool dialling the server with `client_files`.
  StatusOr<PeerValue> GetAs(const TlsFiles& client_files) {
    PeerPoolOptions o;
    o.tls = client_files;
    o.tls_rejections = client_rejections;
    std::shared_ptr<GrpcPeerClient> client;
    {
      PeerPool pool(o);
      pool.Update({server.address()}, "self");
      client = pool.Client(server.address());
    }
    StatusOr<PeerValue> r = Get(*client);
    REQUIRE_MESSAGE(ResetAndWaitGone(client), "the client is still referenced");
    return r;
  }

  StatusOr<PeerValue> Get(PeerClient& client) {
    Answers<StatusOr<PeerValue>> answers;
    client.Get("users", "k", 1, SystemClock::Get()->NowMs() + 10'000, answers.For("k"));
    REQUIRE_MESSAGE(answers.Wait(1), "the call never ended");
    return answers.Of("k")[0];
  }

  TestPki pki{"test CA"};
  std::shared_ptr<TlsRejectionCounters> server_rejections =
      std::make_shared<TlsRejectionCounters>();
  std::shared_ptr<TlsRejectionCounters> client_rejections =
      std::make_shared<TlsRejectionCounters>();
  TlsFiles server_files;
  FakePeerServer server;
};

}  // namespace

TEST_CASE_FIXTURE(TlsPeers, "tls: a certificate from the cluster's CA with the peer name passes") {
  StatusOr<PeerValue> r = GetAs(pki.Issue("client"));
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  CHECK(r.value().value == "v:k");
  CHECK(Reasons(*server_rejections).empty());
  CHECK(Reasons(*client_rejections).empty());
}

TEST_CASE("tls: the server refuses client certificates by reason") {
  // A new server per case: a reconnection of one case's channel must not be counted in the next.
  for (std::string reason : {"untrusted", "wrong_name", "expired", "wrong_usage"}) {
    CAPTURE(reason);
    TlsPeers peers;
    TestPki other("another CA");
    LeafSpec spec;
    TlsFiles files;
    if (reason == "untrusted") {
      files = other.Issue("client");
      files.ca = peers.pki.ca_file();  // it trusts the server; the server does not trust it
    } else {
      if (reason == "wrong_name") spec.dns_name = "someone.else.test";
      if (reason == "expired") spec.expired = true;
      if (reason == "wrong_usage") spec.usage = "serverAuth";
      files = peers.pki.Issue("client", spec);
    }
    StatusOr<PeerValue> r = peers.GetAs(files);
    CHECK(r.status().code() == StatusCode::kUnavailable);
    REQUIRE_MESSAGE(CountsSomething(*peers.server_rejections), "the server counted no rejection");
    CHECK(Reasons(*peers.server_rejections) == reason);
    CHECK(Reasons(*peers.client_rejections).empty());
    CHECK(peers.server.Received().empty());
  }
}

TEST_CASE_FIXTURE(TlsPeers, "tls: the server refuses a client without a certificate") {
  grpc::SslCredentialsOptions ssl;
  std::ifstream ca(pki.ca_file());
  std::stringstream pem;
  pem << ca.rdbuf();
  ssl.pem_root_certs = pem.str();
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kPeerName);
  auto channel = grpc::CreateCustomChannel(server.address(), grpc::SslCredentials(ssl), args);
  auto client = std::make_shared<GrpcPeerClient>(server.address(), channel, PeerClientOptions{});
  StatusOr<PeerValue> r = Get(*client);
  REQUIRE_MESSAGE(ResetAndWaitGone(client), "the client is still referenced");
  CHECK(r.status().code() == StatusCode::kUnavailable);
  REQUIRE_MESSAGE(CountsSomething(*server_rejections), "the server counted no rejection");
  CHECK(Reasons(*server_rejections) == "no_certificate");
  CHECK(server.Received().empty());
}

TEST_CASE("tls: the client refuses a server certificate that does not allow serverAuth") {
  LeafSpec client_only;
  client_only.usage = "clientAuth";
  TlsPeers peers(client_only);
  StatusOr<PeerValue> r = peers.GetAs(peers.pki.Issue("client"));
  CHECK(r.status().code() == StatusCode::kUnavailable);
  REQUIRE_MESSAGE(CountsSomething(*peers.client_rejections), "the client counted no rejection");
  CHECK(Reasons(*peers.client_rejections) == "wrong_usage");
  CHECK(peers.server.Received().empty());
}

}  // namespace podcache
