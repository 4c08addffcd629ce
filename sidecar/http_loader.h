#pragma once

#include <memory>
#include <string>

#include "core/loader.h"

namespace podcache {

class HttpConnectionPool;

// Fills misses with GET <url_template with {keyspace} and {key}> on the application, through
// podcache's own bounded HTTP/1.1 client (sidecar/http_exchange.h): plain TCP for http://, TLS
// for https:// (the server's certificate is verified against the system CAs, or SSL_CERT_FILE /
// SSL_CERT_DIR, and must carry the URL's host; SNI is sent for DNS names).
//   200 -> the body, TTL from Cache-Control (TtlFromCacheControl)
//   404 -> NOT_FOUND
//   any other status, 3xx included (redirects are not followed) -> UNAVAILABLE, never cached
//   a malformed response, headers above 64 KiB or 100 fields, a connection error -> UNAVAILABLE
//   a body above `max_value_bytes` (announced or received) -> RESOURCE_EXHAUSTED
//   no complete response within `timeout_ms` of Load (connect, request, headers and body
//   together) -> DEADLINE_EXCEEDED
// On every error the connection is closed at once. Connections are kept alive and reused (at most
// 32 idle ones per loader, closed after 30 s idle). All loaders share one process-wide I/O
// context of two threads (sidecar/http_io_runtime.h).
// Thread-safe. `done` runs once, on an I/O thread. Destroying the loader ends the loads in
// flight with UNAVAILABLE (their `done` still runs, later, on an I/O thread).
class HttpLoader final : public Loader {
 public:
  // Throws std::invalid_argument for a URL ParseHttpLoaderUrl refuses.
  HttpLoader(const std::string& url_template, Millis timeout_ms, uint64_t max_value_bytes);
  ~HttpLoader() override;
  // `deadline` is not used: the loader's own timeout bounds the call, the group the caller's.
  void Load(std::string_view keyspace, std::string_view key, Millis deadline, DoneFn done) override;

 private:
  std::string path_template_;  // everything after scheme://authority
  Millis timeout_ms_;
  uint64_t max_value_bytes_;
  std::shared_ptr<HttpConnectionPool> pool_;
};

}  // namespace podcache
