#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/mutex.h"
#include "core/status.h"

namespace podcache {

// What one request to the Kubernetes API server gave: an HTTP status and (for non-streaming
// requests, or a streaming request that was refused) the body. A transport failure is a
// non-OK Status instead; its `kind` says which for metrics: "connect", "tls", "timeout".
struct K8sReply {
  int status = 0;
  std::string body;
};

// GET requests to the API server with cpprestsdk: bearer token, TLS verified against the
// cluster CA file (re-read for every request, like the token, so rotated files take effect),
// cancellable from another thread. Exceptions of cpprestsdk and Boost.Asio end here.
// Thread-safe.
class K8sHttp {
 public:
  K8sHttp(std::string api_url, std::string ca_file)
      : api_url_(std::move(api_url)), ca_file_(std::move(ca_file)) {}

  void SetToken(std::string token);

  // The whole response. `timeout_ms` bounds inactivity (connecting, then each read).
  StatusOr<K8sReply> Get(const std::string& path_and_query, Millis timeout_ms, size_t max_body,
                         std::string* error_kind);
  // A streaming GET (a watch): on status 200, `on_chunk` receives the body as it arrives until
  // the server ends it, the connection fails, `on_chunk` returns false, or Cancel(); the reply
  // then has status 200 and no body. Another status: the reply carries it and the body.
  StatusOr<K8sReply> Stream(const std::string& path_and_query, Millis timeout_ms,
                            const std::function<bool(std::string_view)>& on_chunk,
                            std::string* error_kind);

  // Ends the request in flight (if any) and refuses every later one.
  void Cancel();

 private:
  StatusOr<K8sReply> Request(const std::string& path_and_query, Millis timeout_ms, size_t max_body,
                             const std::function<bool(std::string_view)>* on_chunk,
                             std::string* error_kind);

  const std::string api_url_;
  const std::string ca_file_;
  Mutex mu_;
  std::string token_ GUARDED_BY(mu_);
  bool cancelled_ GUARDED_BY(mu_) = false;
  std::function<void()> cancel_current_ GUARDED_BY(mu_);
};

}  // namespace podcache
