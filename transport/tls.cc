#include "transport/tls.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "transport/tls_reloader.h"

namespace podcache {
namespace {

using grpc::experimental::ExternalCertificateVerifier;
using grpc::experimental::FileWatcherCertificateProvider;
using grpc::experimental::TlsCustomVerificationCheckRequest;

// Counts a refused handshake and logs it: one line per reason at most every 10 s (a peer retrying
// with a bad certificate must not flood the log), with how many were not logged since.
grpc::Status Reject(TlsRejectionCounters* counters, const char* side, TlsRejection why,
                    const std::string& detail) {
  static LogRateLimiter limiter(10000);
  int reason = static_cast<int>(why);
  counters->counts[reason].fetch_add(1, std::memory_order_relaxed);
  uint64_t suppressed = 0;
  if (limiter.Allow(reason, &suppressed)) {
    LogWarn("peer TLS handshake refused", {{"side", side},
                                           {"reason", TlsRejectionName(why)},
                                           {"detail", detail},
                                           {"suppressed", static_cast<long long>(suppressed)}});
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, detail);
}

bool HasDnsName(const TlsCustomVerificationCheckRequest& request, const std::string& name) {
  for (const grpc::string_ref& dns : request.dns_names()) {
    if (std::string_view(dns.data(), dns.size()) == name) return true;
  }
  return false;
}

// Which end's certificate a PeerVerifier checks: a client's (on the peer port) or a server's
// (when this node dials a peer).
enum class PeerRole { kClient, kServer };

// Verifies a peer's certificate: its chain against the CA in use (the reloader's), its expiry,
// `peer_name` as a DNS SAN, and an extended key usage that allows the role it is presented in.
// Every refusal is counted and logged by reason.
class PeerVerifier final : public ExternalCertificateVerifier {
 public:
  PeerVerifier(std::shared_ptr<TlsReloader> tls, PeerRole role,
               std::shared_ptr<TlsRejectionCounters> rejections)
      : tls_(std::move(tls)),
        peer_name_(tls_->files().peer_name),
        role_(role),
        rejections_(std::move(rejections)) {}

  bool Verify(TlsCustomVerificationCheckRequest* request, std::function<void(grpc::Status)>,
              grpc::Status* sync_status) override {
    *sync_status = Check(*request);
    return true;  // synchronous
  }
  void Cancel(TlsCustomVerificationCheckRequest*) override {}

 private:
  grpc::Status Reject(TlsRejection why, const std::string& detail) {
    // `side`: this node's end of the handshake.
    return podcache::Reject(rejections_.get(), role_ == PeerRole::kClient ? "server" : "client",
                            why, what() + detail);
  }
  std::string what() const {
    return role_ == PeerRole::kClient ? "client certificate: " : "server certificate: ";
  }

  grpc::Status Check(const TlsCustomVerificationCheckRequest& request) {
    // The leaf is peer_cert(); the full chain (whatever order gRPC gives it in) only supplies
    // intermediates: a CA certificate in it must never be taken for the client's own.
    grpc::string_ref leaf_pem = request.peer_cert();
    if (leaf_pem.empty()) return Reject(TlsRejection::kNoCertificate, "none presented");
    BIO* leaf_bio = BIO_new_mem_buf(leaf_pem.data(), static_cast<int>(leaf_pem.size()));
    X509* leaf = PEM_read_bio_X509(leaf_bio, nullptr, nullptr, nullptr);
    BIO_free(leaf_bio);
    grpc::string_ref chain_pem = request.peer_cert_full_chain();
    BIO* bio = BIO_new_mem_buf(chain_pem.data(), static_cast<int>(chain_pem.size()));
    STACK_OF(X509)* intermediates = sk_X509_new_null();
    while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      sk_X509_push(intermediates, extra);
    }
    BIO_free(bio);
    ERR_clear_error();
    grpc::Status result = grpc::Status::OK;
    std::shared_ptr<X509_STORE> store = tls_->ca_store();
    if (leaf == nullptr) {
      result = Reject(TlsRejection::kNoCertificate, "unreadable");
    } else if (store == nullptr) {
      result = Reject(TlsRejection::kUntrusted, "cannot read the CA file");
    } else {
      X509_STORE_CTX* ctx = X509_STORE_CTX_new();
      X509_STORE_CTX_init(ctx, store.get(), leaf, intermediates);
      if (X509_verify_cert(ctx) != 1) {
        int err = X509_STORE_CTX_get_error(ctx);
        result = Reject(
            err == X509_V_ERR_CERT_HAS_EXPIRED ? TlsRejection::kExpired : TlsRejection::kUntrusted,
            X509_verify_cert_error_string(err));
      }
      X509_STORE_CTX_free(ctx);
    }
    if (result.ok() && !HasDnsName(request, peer_name_)) {
      result = Reject(TlsRejection::kWrongName, "no DNS SAN \"" + peer_name_ + "\"");
    }
    int purpose = role_ == PeerRole::kClient ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER;
    if (result.ok() && X509_check_purpose(leaf, purpose, 0) != 1) {
      result = Reject(TlsRejection::kWrongUsage,
                      std::string("its extended key usage does not allow ") +
                          (role_ == PeerRole::kClient ? "clientAuth" : "serverAuth"));
    }
    X509_free(leaf);
    sk_X509_pop_free(intermediates, X509_free);
    return result;
  }

  // Also keeps the published files alive as long as these credentials.
  const std::shared_ptr<TlsReloader> tls_;
  const std::string peer_name_;
  const PeerRole role_;
  std::shared_ptr<TlsRejectionCounters> rejections_;
};

// How often gRPC looks at the published files: only the reloader's swaps change them, so a short
// interval costs three stat(2) calls a second and makes an accepted reload take effect soon.
constexpr unsigned kProviderRefreshSeconds = 1;

// gRPC watches the material the reloader published (see TlsReloader for why it can never read a
// pair from two generations), not the configured files.
std::shared_ptr<FileWatcherCertificateProvider> Provider(const TlsReloader& tls) {
  return std::make_shared<FileWatcherCertificateProvider>(tls.key_path(), tls.cert_path(),
                                                          tls.ca_path(), kProviderRefreshSeconds);
}

// What both ends of a peer connection set: the provider's files watched (new handshakes use the
// current ones) and a PeerVerifier for the other end's `role`.
void VerifyPeers(grpc::experimental::TlsCredentialsOptions* options,
                 std::shared_ptr<TlsReloader> tls, PeerRole role,
                 std::shared_ptr<TlsRejectionCounters> rejections) {
  options->watch_root_certs();
  options->watch_identity_key_cert_pairs();
  options->set_certificate_verifier(ExternalCertificateVerifier::Create<PeerVerifier>(
      std::move(tls), role, std::move(rejections)));
}

}  // namespace

const char* TlsRejectionName(TlsRejection r) {
  static const char* const kNames[] = {"no_certificate", "untrusted", "expired", "wrong_name",
                                       "wrong_usage"};
  return kNames[static_cast<int>(r)];
}

std::shared_ptr<grpc::ServerCredentials> PeerServerCredentials(
    std::shared_ptr<TlsReloader> tls, std::shared_ptr<TlsRejectionCounters> rejections) {
  grpc::experimental::TlsServerCredentialsOptions options(Provider(*tls));
  VerifyPeers(&options, std::move(tls), PeerRole::kClient, std::move(rejections));
  // gRPC only asks for the certificate, and does not require it: PeerVerifier checks presence,
  // chain, expiry, name and usage itself, so that each refusal (a handshake without a
  // certificate too, which OpenSSL would otherwise end before any verifier runs) is counted and
  // logged by reason.
  options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> PeerChannelCredentials(
    std::shared_ptr<TlsReloader> tls, std::shared_ptr<TlsRejectionCounters> rejections) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider(*tls));
  VerifyPeers(&options, std::move(tls), PeerRole::kServer, std::move(rejections));
  // PeerVerifier checks the chain itself (OpenSSL's check would refuse a certificate without
  // serverAuth before any verifier runs, so that refusal would be neither counted nor logged).
  options.set_verify_server_certs(false);
  return grpc::experimental::TlsCredentials(options);
}

Status CheckTlsFiles(const TlsFiles& f) {
  auto fail = [](const std::string& why) { return InvalidArgumentError("peer TLS: " + why); };
  auto read_pem = [](const std::string& path, bool key) -> std::string {
    FILE* file = std::fopen(path.c_str(), "r");
    if (file == nullptr) return "cannot read " + path;
    void* obj = key ? static_cast<void*>(PEM_read_PrivateKey(file, nullptr, nullptr, nullptr))
                    : static_cast<void*>(PEM_read_X509(file, nullptr, nullptr, nullptr));
    std::fclose(file);
    if (obj == nullptr) return path + " is not a PEM " + (key ? "private key" : "certificate");
    key ? EVP_PKEY_free(static_cast<EVP_PKEY*>(obj)) : X509_free(static_cast<X509*>(obj));
    return "";
  };
  for (auto [path, is_key] : {std::pair{f.cert, false}, {f.key, true}, {f.ca, false}}) {
    if (std::string e = read_pem(path, is_key); !e.empty()) return fail(e);
  }
  if (f.peer_name.empty()) return fail("tls_peer_name is empty");
  FILE* cert_file = std::fopen(f.cert.c_str(), "r");
  FILE* key_file = std::fopen(f.key.c_str(), "r");
  X509* cert = cert_file ? PEM_read_X509(cert_file, nullptr, nullptr, nullptr) : nullptr;
  EVP_PKEY* key = key_file ? PEM_read_PrivateKey(key_file, nullptr, nullptr, nullptr) : nullptr;
  bool match = cert != nullptr && key != nullptr && X509_check_private_key(cert, key) == 1;
  if (cert_file) std::fclose(cert_file);
  if (key_file) std::fclose(key_file);
  X509_free(cert);
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (!match) return fail("the private key " + f.key + " does not match the certificate " + f.cert);
  return OkStatus();
}

}  // namespace podcache
