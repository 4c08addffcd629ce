// The peer TLS validator (ValidateTlsMaterial) and TlsReloader: which new material is taken, and
// that a refused one leaves the material in use and the published files untouched.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <string>

#include "testing/fake_clock.h"
#include "testing/manual_scheduler.h"
#include "tests/transport/test_pki.h"
#include "transport/tls_material.h"
#include "transport/tls_reloader.h"

namespace podcache {
namespace {

using transport_test::kPeerName;
using transport_test::LeafSpec;
using transport_test::LoadTls;
using transport_test::ReadFile;
using transport_test::ReplaceFile;
using transport_test::ReplaceWith;
using transport_test::TestPki;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

TlsMaterial Read(const TlsFiles& f) {
  StatusOr<TlsMaterial> m = ReadTlsMaterial(f);
  REQUIRE_MESSAGE(m.ok(), m.status().message());
  return m.value();
}

// The serial of the certificate in `cert_file`, as the validator reports it.
std::string SerialOf(const TlsFiles& f) {
  StatusOr<CertificateInfo> info = CheckTlsPair(Read(f));
  REQUIRE_MESSAGE(info.ok(), info.status().message());
  return info.value().serial;
}

// The error ValidateTlsMaterial gives, "" when it accepts.
std::string Refusal(const TlsMaterial& m) {
  StatusOr<CertificateInfo> v = ValidateTlsMaterial(m, kPeerName, Now());
  return v.ok() ? "" : v.status().message();
}

size_t Generations(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    n += e.path().filename().string().rfind("gen-", 0) == 0;
  }
  return n;
}

}  // namespace

TEST_CASE("tls validator: a good pair passes and is described without key material") {
  TestPki pki("test CA");
  TlsFiles f = pki.Issue("node");
  StatusOr<CertificateInfo> v = ValidateTlsMaterial(Read(f), kPeerName, Now());
  REQUIRE_MESSAGE(v.ok(), v.status().message());
  CHECK(v.value().subject == "CN=node");
  CHECK(!v.value().serial.empty());
  CHECK(v.value().not_after > Now() + 29 * 86400);
  CHECK(v.value().not_after_text.size() == 20);
}

TEST_CASE("tls validator: refuses each kind of bad material with its reason") {
  TestPki pki("test CA");
  TestPki other("another CA");
  TlsFiles good = pki.Issue("node");
  TlsMaterial base = Read(good);
  struct Case {
    const char* name;
    TlsMaterial m;
    const char* reason;
  };
  auto with = [&](auto change) {
    TlsMaterial m = base;
    change(m);
    return m;
  };
  LeafSpec no_san;
  no_san.dns_name = "someone.else.test";
  LeafSpec expired;
  expired.expired = true;
  LeafSpec client_only;
  client_only.usage = "clientAuth";
  Case cases[] = {
      {"mismatched pair",
       with([&](TlsMaterial& m) { m.cert_pem = Read(pki.Issue("n2")).cert_pem; }),
       "the private key does not match the certificate"},
      {"wrong CA", with([&](TlsMaterial& m) { m.ca_pem = ReadFile(other.ca_file()); }),
       "does not verify against the CA: unable to get local issuer certificate"},
      {"signed by another CA", with([&](TlsMaterial& m) {
         TlsMaterial o = Read(other.Issue("n3"));
         m.cert_pem = o.cert_pem;
         m.key_pem = o.key_pem;
       }),
       "does not verify against the CA"},
      {"expired", Read(pki.Issue("old", expired)), "certificate has expired"},
      {"missing SAN", Read(pki.Issue("nosan", no_san)), "no DNS SAN \"peer.podcache.test\""},
      {"one role only", Read(pki.Issue("client", client_only)), "serverAuth and clientAuth"},
      {"garbage certificate", with([](TlsMaterial& m) { m.cert_pem = "not a certificate"; }),
       "not a PEM certificate"},
      {"truncated certificate",
       with([](TlsMaterial& m) { m.cert_pem = m.cert_pem.substr(0, m.cert_pem.size() / 2); }),
       "not a PEM certificate"},
      {"garbage key", with([](TlsMaterial& m) { m.key_pem = "-----BEGIN PRIVATE KEY-----\nxx"; }),
       "not a PEM private key"},
      {"empty CA", with([](TlsMaterial& m) { m.ca_pem = ""; }), "CA file is not a PEM"},
      {"CA bundle cut in the middle of its second certificate", with([&](TlsMaterial& m) {
         std::string second = ReadFile(other.ca_file());
         m.ca_pem += second.substr(0, second.size() / 2);
       }),
       "CA file is not a PEM"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    std::string refusal = Refusal(c.m);
    CHECK_MESSAGE(refusal.find(c.reason) != std::string::npos, refusal);
  }
  // A bundle of both CAs verifies a certificate of either.
  TlsMaterial bundle = with([&](TlsMaterial& m) { m.ca_pem += ReadFile(other.ca_file()); });
  CHECK(Refusal(bundle) == "");
}

TEST_CASE("tls reloader: a certificate replaced before its key keeps the old pair until the key") {
  TestPki pki("test CA");
  TlsFiles f = pki.Issue("node");
  std::shared_ptr<TlsReloader> tls = LoadTls(f);
  std::string old_serial = tls->in_use().serial;
  std::string old_cert = ReadFile(f.cert);
  CHECK(ReadFile(tls->cert_path()) == old_cert);
  CHECK(ReadFile(tls->key_path()) == ReadFile(f.key));
  CHECK(tls->stats().not_after.load() == tls->in_use().not_after);

  TlsFiles next = pki.Issue("node-v2");
  ReplaceFile(next.cert, f.cert);
  tls->Poll();
  CHECK(tls->in_use().serial == old_serial);
  CHECK(ReadFile(tls->cert_path()) == old_cert);
  CHECK(tls->stats().rejected.load() == 1);
  CHECK(tls->stats().ok.load() == 0);
  tls->Poll();  // the same refused content: neither counted nor logged again
  CHECK(tls->stats().rejected.load() == 1);

  ReplaceFile(next.key, f.key);
  tls->Poll();
  CHECK(tls->in_use().serial == SerialOf(next));
  CHECK(ReadFile(tls->cert_path()) == ReadFile(next.cert));
  CHECK(ReadFile(tls->key_path()) == ReadFile(next.key));
  CHECK(tls->stats().ok.load() == 1);
  CHECK(tls->stats().rejected.load() == 1);
  tls->Poll();  // nothing changed
  CHECK(tls->stats().ok.load() == 1);

  // A bad certificate, the files in use again, then the same bad certificate: told again.
  std::string bad_cert = ReadFile(pki.Issue("node-v3").cert);
  ReplaceWith(bad_cert, f.cert);
  tls->Poll();
  CHECK(tls->stats().rejected.load() == 2);
  ReplaceFile(next.cert, f.cert);
  tls->Poll();
  ReplaceWith(bad_cert, f.cert);
  tls->Poll();
  CHECK(tls->stats().rejected.load() == 3);
  CHECK(tls->in_use().serial == SerialOf(next));
}

TEST_CASE(
    "tls reloader: refuses an expired, misnamed or garbage certificate, then takes a good one") {
  TestPki pki("test CA");
  TlsFiles f = pki.Issue("node");
  std::shared_ptr<TlsReloader> tls = LoadTls(f);
  std::string old_serial = tls->in_use().serial;
  LeafSpec expired;
  expired.expired = true;
  LeafSpec no_san;
  no_san.dns_name = "other.test";
  for (const TlsFiles& bad : {pki.Issue("expired", expired), pki.Issue("nosan", no_san)}) {
    ReplaceFile(bad.cert, f.cert);
    ReplaceFile(bad.key, f.key);
    tls->Poll();
    CHECK(tls->in_use().serial == old_serial);
  }
  ReplaceWith("garbage", f.cert);
  tls->Poll();
  CHECK(tls->in_use().serial == old_serial);
  CHECK(tls->stats().rejected.load() == 3);
  TlsFiles good = pki.Issue("node-v2");
  ReplaceFile(good.cert, f.cert);
  ReplaceFile(good.key, f.key);
  tls->Poll();
  CHECK(tls->in_use().serial == SerialOf(good));
  CHECK(tls->stats().ok.load() == 1);
}

TEST_CASE("tls reloader: a new CA is taken only when the certificate in use verifies against it") {
  TestPki pki("test CA");
  TestPki next_ca("next CA");
  TlsFiles f = pki.Issue("node");
  std::shared_ptr<TlsReloader> tls = LoadTls(f);
  std::shared_ptr<X509_STORE> old_store = tls->ca_store();
  std::string old_ca = ReadFile(f.ca);

  // A CA that did not sign the certificate in use: refused, the old CA stays.
  ReplaceFile(next_ca.ca_file(), f.ca);
  tls->Poll();
  CHECK(tls->ca_store() == old_store);
  CHECK(ReadFile(tls->ca_path()) == old_ca);
  CHECK(tls->stats().rejected.load() == 1);

  // The bundle of both (the first step of a CA rotation): taken.
  ReplaceWith(old_ca + ReadFile(next_ca.ca_file()), f.ca);
  tls->Poll();
  CHECK(tls->ca_store() != old_store);
  CHECK(ReadFile(tls->ca_path()) == old_ca + ReadFile(next_ca.ca_file()));
  CHECK(tls->stats().ok.load() == 1);

  // Then a certificate of the new CA, with only the new CA.
  TlsFiles renewed = next_ca.Issue("node-v2");
  ReplaceFile(renewed.cert, f.cert);
  ReplaceFile(renewed.key, f.key);
  ReplaceFile(next_ca.ca_file(), f.ca);
  tls->Poll();
  CHECK(tls->in_use().serial == SerialOf(renewed));
  CHECK(tls->stats().ok.load() == 2);
}

TEST_CASE("tls reloader: start refuses a key that is not the certificate's") {
  TestPki pki("test CA");
  TlsFiles f = pki.Issue("node");
  f.key = pki.Issue("other").key;
  StatusOr<std::shared_ptr<TlsReloader>> tls = TlsReloader::Start(f, nullptr);
  REQUIRE(!tls.ok());
  CHECK(tls.status().code() == StatusCode::kInvalidArgument);
  CHECK(tls.status().message() == "peer TLS: the private key does not match the certificate");
}

TEST_CASE("tls reloader: private directory, generations kept, files' mtimes and cleanup") {
  TestPki pki("test CA");
  TlsFiles f = pki.Issue("node");
  std::string dir;
  {
    std::shared_ptr<TlsReloader> tls = LoadTls(f);
    dir = tls->dir();
    struct stat st;
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(::stat(tls->key_path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    time_t previous = st.st_mtime;
    for (int i = 0; i < 4; ++i) {
      TlsFiles next = pki.Issue("node-v" + std::to_string(i + 2));
      ReplaceFile(next.cert, f.cert);
      ReplaceFile(next.key, f.key);
      tls->Poll();
      CHECK(tls->in_use().serial == SerialOf(next));
      // Each generation's mtime is above the last one's, even within one second (what makes
      // gRPC's before/after check see a swap in the middle of its read).
      for (const std::string& p : {tls->cert_path(), tls->key_path(), tls->ca_path()}) {
        REQUIRE(::stat(p.c_str(), &st) == 0);
        CHECK(st.st_mtime > previous);
      }
      previous = st.st_mtime;
    }
    CHECK(Generations(dir) == 2);  // the one in use and the one before
  }
  CHECK(!std::filesystem::exists(dir));
}

TEST_CASE("tls reloader: removes the directory a killed process left, not a live one's") {
  TestPki pki("test CA");
  TlsFiles f = pki.Issue("node");
  char base[] = "/tmp/podcache-tls-base-XXXXXX";
  REQUIRE(::mkdtemp(base) != nullptr);
  const char* saved = std::getenv("TMPDIR");
  std::string saved_value = saved != nullptr ? saved : "";
  ::setenv("TMPDIR", base, 1);
  // What a killed process leaves: a directory whose lock file nobody holds.
  std::string left = std::string(base) + "/podcache-tls-dead01";
  REQUIRE(::mkdir(left.c_str(), 0700) == 0);
  int fd = ::open((left + "/lock").c_str(), O_CREAT | O_WRONLY, 0600);
  REQUIRE(fd >= 0);
  ::close(fd);
  transport_test::ReplaceWith("key material", left + "/key.pem");
  std::shared_ptr<TlsReloader> live = LoadTls(f);
  CHECK(!std::filesystem::exists(left));
  CHECK(live->dir().rfind(std::string(base) + "/podcache-tls-", 0) == 0);
  std::shared_ptr<TlsReloader> second = LoadTls(f);  // leaves the live one's directory alone
  CHECK(std::filesystem::exists(live->key_path()));
  CHECK(second->dir() != live->dir());
  live.reset();
  second.reset();
  saved != nullptr ? ::setenv("TMPDIR", saved_value.c_str(), 1) : ::unsetenv("TMPDIR");
  CHECK(std::filesystem::is_empty(base));
  std::filesystem::remove_all(base);
}

TEST_CASE("tls reloader: re-reads the files every reload interval on its scheduler") {
  TestPki pki("test CA");
  TlsFiles f = pki.Issue("node");
  f.reload_interval_ms = 5000;
  FakeClock clock;
  ManualScheduler scheduler(&clock);
  std::shared_ptr<TlsReloader> tls = LoadTls(f, &scheduler);
  TlsFiles next = pki.Issue("node-v2");
  ReplaceFile(next.cert, f.cert);
  ReplaceFile(next.key, f.key);
  CHECK(scheduler.AdvanceAndRun(4999) == 0);
  CHECK(tls->stats().ok.load() == 0);
  CHECK(scheduler.AdvanceAndRun(1) == 1);
  CHECK(tls->in_use().serial == SerialOf(next));
  CHECK(scheduler.pending() == 1);  // the next pass
  tls.reset();
  CHECK(scheduler.pending() == 0);  // cancelled with the reloader
}

}  // namespace podcache
