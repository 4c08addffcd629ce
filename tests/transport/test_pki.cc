#include "tests/transport/test_pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace podcache::transport_test {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

void AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  Check(ext != nullptr, "X509V3_EXT_conf_nid");
  Check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`, signed by `issuer` (null: self-signed, a CA).
X509* MakeCert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
               const LeafSpec* leaf) {
  static std::atomic<long> serial{1};
  X509* cert = X509_new();
  Check(cert != nullptr, "X509_new");
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  bool expired = leaf != nullptr && leaf->expired;
  X509_gmtime_adj(X509_getm_notBefore(cert), expired ? -2 * 86400 : -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), expired ? -86400 : 30 * 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
  AddExtension(cert, &ctx, NID_subject_key_identifier, "hash");
  if (leaf == nullptr) {
    AddExtension(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(cert, &ctx, NID_authority_key_identifier, "keyid");
    AddExtension(cert, &ctx, NID_basic_constraints, "CA:FALSE");
    AddExtension(cert, &ctx, NID_key_usage, "critical,digitalSignature");
    AddExtension(cert, &ctx, NID_ext_key_usage, leaf->usage);
    AddExtension(cert, &ctx, NID_subject_alt_name, "DNS:" + leaf->dns_name);
  }
  Check(X509_sign(cert, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

void WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  Check(f != nullptr, "fopen");
  bool ok = cert != nullptr
                ? PEM_write_X509(f, cert) == 1
                : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  Check(ok, "PEM_write");
}

}  // namespace

struct TestPki::Keys {
  EVP_PKEY* ca_key = nullptr;
  X509* ca_cert = nullptr;
};

TestPki::TestPki(const std::string& name) : keys_(new Keys) {
  char tmpl[] = "/tmp/podcache-transport-test-XXXXXX";
  Check(mkdtemp(tmpl) != nullptr, "mkdtemp");
  dir_ = tmpl;
  keys_->ca_key = EVP_EC_gen("P-256");
  Check(keys_->ca_key != nullptr, "EVP_EC_gen");
  keys_->ca_cert = MakeCert(keys_->ca_key, name, nullptr, nullptr, nullptr);
  ca_file_ = dir_ + "/ca.crt";
  WritePem(ca_file_, keys_->ca_cert, nullptr);
}

TestPki::~TestPki() {
  X509_free(keys_->ca_cert);
  EVP_PKEY_free(keys_->ca_key);
  delete keys_;
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

TlsFiles TestPki::Issue(const std::string& file, const LeafSpec& spec) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  Check(key != nullptr, "EVP_EC_gen");
  X509* cert = MakeCert(key, file, keys_->ca_cert, keys_->ca_key, &spec);
  TlsFiles files;
  files.cert = dir_ + "/" + file + ".crt";
  files.key = dir_ + "/" + file + ".key";
  files.ca = ca_file_;
  files.peer_name = kPeerName;
  WritePem(files.cert, cert, nullptr);
  WritePem(files.key, nullptr, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return files;
}

std::shared_ptr<TlsReloader> LoadTls(const TlsFiles& files, Scheduler* scheduler) {
  StatusOr<std::shared_ptr<TlsReloader>> tls = TlsReloader::Start(files, scheduler);
  if (!tls.ok()) throw std::runtime_error("test PKI: " + tls.status().message());
  return std::move(tls).value();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Check(in.good(), "open for reading");
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void ReplaceWith(const std::string& contents, const std::string& to) {
  std::string tmp = to + ".new";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << contents;
    Check(out.good(), "write");
  }
  std::filesystem::rename(tmp, to);
}

void ReplaceFile(const std::string& from, const std::string& to) {
  ReplaceWith(ReadFile(from), to);
}

}  // namespace podcache::transport_test
