#include "sidecar/http_connection.h"

#include <errno.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

namespace podcache {

HttpConnection::HttpConnection(const HttpStrand& strand, boost::asio::ssl::context* tls) {
  if (tls != nullptr) {
    tls_.emplace(strand, *tls);
  } else {
    plain_.emplace(strand);
  }
}

bool HttpConnection::PrepareTls(const std::string& host) {
  SSL* ssl = tls_->native_handle();
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec) {  // a DNS name: SNI, and the certificate must carry the name
    if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return false;
    if (SSL_set1_host(ssl, host.c_str()) != 1) return false;
  } else {  // an IP address: no SNI (RFC 6066), the certificate must carry the address
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1) return false;
  }
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  return true;
}

void HttpConnection::Close() {
  boost::system::error_code ignored;
  socket().close(ignored);
}

bool HttpConnection::LooksReusable() {
  if (!socket().is_open()) return false;
  char byte;
  ssize_t n = recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace podcache
