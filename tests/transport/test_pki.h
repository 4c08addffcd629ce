#pragma once

// Certificates for the TLS tests, made in-process with OpenSSL's API into a temporary directory.
#include <string>

#include "transport/tls.h"

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

}  // namespace podcache::transport_test
