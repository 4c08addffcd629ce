#pragma once

#include <openssl/x509_vfy.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "transport/tls.h"

namespace podcache {

// The contents of the three peer TLS files, as read at one moment.
struct TlsMaterial {
  std::string cert_pem;  // the certificate, then any intermediates
  std::string key_pem;
  std::string ca_pem;  // one or more CA certificates (a bundle while the CA is rotated)

  bool operator==(const TlsMaterial&) const = default;
};

// What a validated certificate is, for logs and metrics (no key material).
struct CertificateInfo {
  std::string subject;         // one line, RFC 2253 ("CN=node-a,O=example")
  std::string serial;          // hex
  int64_t not_after = 0;       // seconds since the epoch
  std::string not_after_text;  // "2026-12-31T23:59:59Z"
};

// Reads the files named by `files` (each at most 1 MiB). INVALID_ARGUMENT "<path>: ..." when one
// cannot be read.
StatusOr<TlsMaterial> ReadTlsMaterial(const TlsFiles& files);

// The material parses and the key is the certificate's: what podcache needs to present it at all
// (CheckTlsFiles and the first load). INVALID_ARGUMENT naming what is wrong.
StatusOr<CertificateInfo> CheckTlsPair(const TlsMaterial& m);

// Everything a peer will check, so that a node never switches to material its peers would refuse:
// CheckTlsPair, the CA parses, the certificate chains to it (intermediates from the certificate
// file), is valid at `now_s` (seconds since the epoch), carries `peer_name` as a DNS SAN and
// allows both serverAuth and clientAuth. INVALID_ARGUMENT with the first reason found.
StatusOr<CertificateInfo> ValidateTlsMaterial(const TlsMaterial& m, const std::string& peer_name,
                                              int64_t now_s);

// `ca_pem` as a trust store; null when it holds no certificate or does not parse.
std::shared_ptr<X509_STORE> CaStoreFromPem(const std::string& ca_pem);

}  // namespace podcache
