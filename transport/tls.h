#pragma once

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace podcache {

class TlsReloader;

// The peer TLS material: PEM files, watched and reloaded by a TlsReloader (Kubernetes swaps
// mounted secrets by symlink), and the identity every peer's certificate must carry as a DNS SAN.
struct TlsFiles {
  std::string cert;
  std::string key;
  std::string ca;
  std::string peer_name;
  int64_t reload_interval_ms = 10000;  // how often the files are re-read
};

// Why a peer's TLS handshake was refused by this node's verifier (as server: the client's
// certificate; as client: the server's). kWrongUsage: the certificate's extended key usage does
// not allow the role it was presented in (clientAuth for a client, serverAuth for a server).
enum class TlsRejection {
  kNoCertificate,
  kUntrusted,
  kExpired,
  kWrongName,
  kWrongUsage,
  kNumReasons
};
const char* TlsRejectionName(TlsRejection r);

struct TlsRejectionCounters {
  std::atomic<uint64_t> counts[static_cast<int>(TlsRejection::kNumReasons)] = {};
};

// Server credentials for the peer port: a client certificate is required, its chain is verified
// against the CA in use (`tls`'s), it must carry `peer_name` as a DNS SAN and allow clientAuth;
// every refusal, a handshake without a certificate included, is counted in `rejections` by reason
// and logged (one JSON line per reason at most every 10 s, with the number suppressed). New
// handshakes use the material `tls` has in use (its last good pair); connections already open
// keep theirs. The credentials keep `tls` alive.
std::shared_ptr<grpc::ServerCredentials> PeerServerCredentials(
    std::shared_ptr<TlsReloader> tls, std::shared_ptr<TlsRejectionCounters> rejections);

// Channel credentials for dialling a peer: presents this node's certificate, verifies the server
// against the CA in use, and requires `peer_name` as a DNS SAN and serverAuth usage of its
// certificate; refusals are counted in `rejections` and logged like the server's.
std::shared_ptr<grpc::ChannelCredentials> PeerChannelCredentials(
    std::shared_ptr<TlsReloader> tls, std::shared_ptr<TlsRejectionCounters> rejections);

// Checks that the files exist and parse (certificate, a private key that matches it, CA) and that
// peer_name is set, so podcache can refuse to start with a clear message instead of failing every
// handshake: INVALID_ARGUMENT "peer TLS: <what is wrong>".
Status CheckTlsFiles(const TlsFiles& files);

}  // namespace podcache
