#include "transport/tls_material.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "core/small_file.h"

namespace podcache {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
struct CtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using StackPtr = std::unique_ptr<STACK_OF(X509), StackFree>;

BioPtr MemBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every PEM certificate in `pem`, in order. False when one is damaged (a file caught half
// written): only "no further PEM block" ends the list cleanly.
bool ReadCertificates(const std::string& pem, StackPtr* out) {
  ERR_clear_error();
  BioPtr bio = MemBio(pem);
  out->reset(sk_X509_new_null());
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(out->get(), cert);
  }
  unsigned long err = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  return clean_end && sk_X509_num(out->get()) > 0;
}

std::string Subject(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string Serial(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = bn != nullptr ? BN_bn2hex(bn) : nullptr;
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

CertificateInfo Info(X509* cert) {
  CertificateInfo info;
  info.subject = Subject(cert);
  info.serial = Serial(cert);
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) {
    info.not_after = static_cast<int64_t>(timegm(&tm));
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    info.not_after_text = text;
  }
  return info;
}

bool HasDnsSan(X509* cert, const std::string& name) {
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  bool found = false;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names) && !found; ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type != GEN_DNS) continue;
    const ASN1_STRING* dns = gn->d.dNSName;
    found = std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                             static_cast<size_t>(ASN1_STRING_length(dns))) == name;
  }
  GENERAL_NAMES_free(names);
  return found;
}

// The certificate chain and key of `m`, parsed; INVALID_ARGUMENT when either does not parse or
// the key is not the certificate's.
Status ParsePair(const TlsMaterial& m, StackPtr* chain, KeyPtr* key) {
  if (!ReadCertificates(m.cert_pem, chain)) {
    return InvalidArgumentError("the certificate file is not a PEM certificate (chain)");
  }
  BioPtr bio = MemBio(m.key_pem);
  key->reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (*key == nullptr) return InvalidArgumentError("the key file is not a PEM private key");
  bool match = X509_check_private_key(sk_X509_value(chain->get(), 0), key->get()) == 1;
  ERR_clear_error();
  if (!match) return InvalidArgumentError("the private key does not match the certificate");
  return OkStatus();
}

}  // namespace

StatusOr<TlsMaterial> ReadTlsMaterial(const TlsFiles& files) {
  TlsMaterial m;
  for (auto [path, out] :
       {std::pair{&files.cert, &m.cert_pem}, {&files.key, &m.key_pem}, {&files.ca, &m.ca_pem}}) {
    StatusOr<std::string> text = ReadSmallFile("peer TLS file", *path, kMaxPemBytes);
    if (!text.ok()) return text.status();
    *out = std::move(text).value();
  }
  return m;
}

std::shared_ptr<X509_STORE> CaStoreFromPem(const std::string& ca_pem) {
  StackPtr certs;
  if (!ReadCertificates(ca_pem, &certs)) return nullptr;
  std::shared_ptr<X509_STORE> store(X509_STORE_new(), [](X509_STORE* s) { X509_STORE_free(s); });
  for (int i = 0; i < sk_X509_num(certs.get()); ++i) {
    if (X509_STORE_add_cert(store.get(), sk_X509_value(certs.get(), i)) != 1) {
      ERR_clear_error();
      return nullptr;
    }
  }
  return store;
}

StatusOr<CertificateInfo> CheckTlsPair(const TlsMaterial& m) {
  StackPtr chain;
  KeyPtr key;
  if (Status s = ParsePair(m, &chain, &key); !s.ok()) return s;
  if (CaStoreFromPem(m.ca_pem) == nullptr) {
    return InvalidArgumentError("the CA file is not a PEM certificate (bundle)");
  }
  return Info(sk_X509_value(chain.get(), 0));
}

StatusOr<CertificateInfo> ValidateTlsMaterial(const TlsMaterial& m, const std::string& peer_name,
                                              int64_t now_s) {
  StackPtr chain;
  KeyPtr key;
  if (Status s = ParsePair(m, &chain, &key); !s.ok()) return s;
  std::shared_ptr<X509_STORE> store = CaStoreFromPem(m.ca_pem);
  if (store == nullptr)
    return InvalidArgumentError("the CA file is not a PEM certificate (bundle)");
  X509* leaf = sk_X509_value(chain.get(), 0);
  StackPtr intermediates(sk_X509_new_null());
  for (int i = 1; i < sk_X509_num(chain.get()); ++i) {
    X509* c = sk_X509_value(chain.get(), i);
    X509_up_ref(c);
    sk_X509_push(intermediates.get(), c);
  }
  std::unique_ptr<X509_STORE_CTX, CtxFree> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, intermediates.get());
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), static_cast<time_t>(now_s));
  int verified = X509_verify_cert(ctx.get());
  int err = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (verified != 1) {
    return InvalidArgumentError(std::string("the certificate does not verify against the CA: ") +
                                X509_verify_cert_error_string(err));
  }
  if (!HasDnsSan(leaf, peer_name)) {
    return InvalidArgumentError("the certificate has no DNS SAN \"" + peer_name + "\"");
  }
  if (X509_check_purpose(leaf, X509_PURPOSE_SSL_SERVER, 0) != 1 ||
      X509_check_purpose(leaf, X509_PURPOSE_SSL_CLIENT, 0) != 1) {
    ERR_clear_error();
    return InvalidArgumentError(
        "the certificate's extended key usage does not allow both serverAuth and clientAuth");
  }
  return Info(leaf);
}

}  // namespace podcache
