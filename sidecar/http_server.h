#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace web::http::experimental::listener {
class http_listener;
}

namespace podcache {

// What a handler answers.
struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// A small read-only HTTP server (cpprestsdk's listener) for /metrics, health and debug pages.
// Answers GET and HEAD; every other method (TRACE and OPTIONS included) gets 405 with
// `Allow: GET, HEAD`. Every path goes to `handler`. The handler runs on a cpprestsdk thread and
// must be thread-safe.
class HttpServer {
 public:
  using Handler = std::function<HttpReply(const std::string& path)>;
  HttpServer(std::string listen, Handler handler);
  ~HttpServer();
  // Binds `listen` (host:port). Fails with the reason when the port cannot be bound.
  Status Start();
  void Stop();

 private:
  std::string listen_;
  Handler handler_;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
};

}  // namespace podcache
