// The peer TLS verifier's decisions, over real handshakes: a peer server with
// PeerServerCredentials, dialled through a PeerPool (PeerChannelCredentials) with certificates made
// for each case.
#include "transport/tls.h"

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bn.h>
#include <openssl/pem.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "testing/wait.h"
#include "tests/transport/fake_peer_server.h"
#include "tests/transport/test_pki.h"
#include "transport/peer_pool.h"
#include "transport/tls_reloader.h"

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
        server(PeerServerCredentials(transport_test::LoadTls(server_files), server_rejections)) {}

  // One Get through a PeerPool dialling the server with `client_files`.
  StatusOr<PeerValue> GetAs(const TlsFiles& client_files) {
    PeerPoolOptions o;
    o.tls = transport_test::LoadTls(client_files);
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

namespace {

// A client verifier that accepts any server and records the serial of the certificate it was
// shown, in hex as CertificateInfo has it.
class RecordingVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit RecordingVerifier(std::shared_ptr<std::string> serial) : serial_(std::move(serial)) {}
  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    grpc::string_ref pem = request->peer_cert();
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    std::string serial;
    if (cert != nullptr) {
      BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
      char* hex = BN_bn2hex(bn);
      serial = hex;
      OPENSSL_free(hex);
      BN_free(bn);
      X509_free(cert);
    }
    *serial_ = serial;  // one handshake per probe channel, before its call completes
    *sync_status = grpc::Status::OK;
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::shared_ptr<std::string> serial_;
};

// One Get on a new channel (so a new handshake) presenting `client`; the serial of the
// certificate the server presented, "" when the call failed.
std::string ServedSerial(const std::string& address, const TlsFiles& client) {
  using namespace grpc::experimental;
  auto serial = std::make_shared<std::string>();
  TlsChannelCredentialsOptions options;
  options.set_certificate_provider(std::make_shared<StaticDataCertificateProvider>(
      transport_test::ReadFile(client.ca),
      std::vector<IdentityKeyCertPair>{
          {transport_test::ReadFile(client.key), transport_test::ReadFile(client.cert)}}));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(false);
  options.set_certificate_verifier(ExternalCertificateVerifier::Create<RecordingVerifier>(serial));
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kPeerName);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(address, TlsCredentials(options), args);
  auto peer = std::make_shared<GrpcPeerClient>(address, channel, PeerClientOptions{});
  channel.reset();
  Answers<StatusOr<PeerValue>> answers;
  peer->Get("users", "k", 1, SystemClock::Get()->NowMs() + 10'000, answers.For("k"));
  REQUIRE_MESSAGE(answers.Wait(1), "the call never ended");
  REQUIRE_MESSAGE(ResetAndWaitGone(peer), "the client is still referenced");
  return answers.Of("k")[0].ok() ? *serial : "";
}

}  // namespace

TEST_CASE("tls: a certificate replaced before its key: the old pair is served until the key") {
  TestPki pki("test CA");
  TlsFiles files = pki.Issue("server");
  files.reload_interval_ms = 200;
  ThreadScheduler scheduler;
  scheduler.Start();
  std::shared_ptr<TlsReloader> tls = transport_test::LoadTls(files, &scheduler);
  auto rejections = std::make_shared<TlsRejectionCounters>();
  FakePeerServer server(PeerServerCredentials(tls, rejections));
  TlsFiles client = pki.Issue("client");
  const std::string old_serial = tls->in_use().serial;
  REQUIRE(ServedSerial(server.address(), client) == old_serial);

  TlsFiles next = pki.Issue("server-v2");
  transport_test::ReplaceFile(next.cert, files.cert);
  REQUIRE_MESSAGE(testing::WaitUntil([&] { return tls->stats().rejected.load() == 1; }),
                  "the mismatched pair was not refused");
  // New handshakes keep getting the old pair, across more than two of gRPC's 1 s re-reads of
  // the published files (a mismatched pair would fail them).
  int probes = 0;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
       std::chrono::steady_clock::now() < until; ++probes) {
    REQUIRE(ServedSerial(server.address(), client) == old_serial);
  }
  CHECK(probes > 1);

  transport_test::ReplaceFile(next.key, files.key);
  std::string new_serial = CheckTlsPair(ReadTlsMaterial(next).value()).value().serial;
  std::string served;
  CHECK_MESSAGE(testing::WaitUntil(
                    [&] { return (served = ServedSerial(server.address(), client)) == new_serial; },
                    std::chrono::seconds(5)),
                "still served " << served);
  CHECK(tls->stats().ok.load() == 1);
  CHECK(tls->stats().rejected.load() == 1);
  CHECK(Reasons(*rejections).empty());
  tls.reset();
  scheduler.Stop();
}

}  // namespace podcache
