#pragma once

// Certificates for the TLS tests, made in-process with OpenSSL's API into a temporary directory.
#include <memory>
#include <string>

#include "transport/tls.h"
#include "transport/tls_reloader.h"

namespace podcache::transport_test {

// The TLS identity the peer verifier requires in these tests.
inline constexpr char kPeerName[] = "peer.podcache.test";

// What a leaf certificate allows and names.
struct LeafSpec {
  std::string dns_name = kPeerName;             // its one DNS SAN
  const char* usage = "serverAuth,clientAuth";  // its extended key usage
  bool expired = false;                         // valid until yesterday
};

// A CA and the leaf certificates it signs, as PEM files in a temporary directory that is removed
// with the object. Not thread-safe.
class TestPki {
 public:
  explicit TestPki(const std::string& name);
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // A new key and certificate signed by this CA, written as <file>.crt and <file>.key. The
  // returned files name this CA as `ca` and kPeerName as `peer_name`.
  TlsFiles Issue(const std::string& file, const LeafSpec& spec = {});
  const std::string& ca_file() const { return ca_file_; }

 private:
  struct Keys;
  std::string dir_;
  std::string ca_file_;
  Keys* keys_;
};

// The material of `files` as podcache loads it, reloaded every files.reload_interval_ms on
// `scheduler` (null: never); throws when TlsReloader::Start refuses it.
std::shared_ptr<TlsReloader> LoadTls(const TlsFiles& files, Scheduler* scheduler = nullptr);

// The contents of `path`; throws when it cannot be read.
std::string ReadFile(const std::string& path);
// Replaces `to` with a copy of `from` in one step (a new file renamed over it), as a secret
// manager writing one file does.
void ReplaceFile(const std::string& from, const std::string& to);
// Replaces `to` with `contents`, likewise.
void ReplaceWith(const std::string& contents, const std::string& to);

}  // namespace podcache::transport_test
