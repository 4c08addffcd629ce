#include "sidecar/http_server.h"

#include <cpprest/http_listener.h>

namespace podcache {

using web::http::experimental::listener::http_listener;

HttpServer::HttpServer(std::string listen, Handler handler)
    : listen_(std::move(listen)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  try {
    listener_ =
        std::make_unique<http_listener>(utility::conversions::to_string_t("http://" + listen_));
    auto refuse = [](web::http::http_request request) {
      web::http::http_response response(web::http::status_codes::MethodNotAllowed);
      response.headers().add(web::http::header_names::allow, "GET, HEAD");
      response.set_body("podcache: only GET and HEAD\n", "text/plain; charset=utf-8");
      request.reply(response);
    };
    listener_->support([this, refuse](web::http::http_request request) {
      const auto& method = request.method();
      bool head = method == web::http::methods::HEAD;
      if (method != web::http::methods::GET && !head) return refuse(std::move(request));
      HttpReply reply;
      try {
        reply = handler_(utility::conversions::to_utf8string(request.relative_uri().path()));
      } catch (const std::exception& e) {
        reply = {500, "text/plain; charset=utf-8", std::string(e.what()) + "\n"};
      }
      web::http::http_response response(static_cast<web::http::status_code>(reply.status));
      if (head) {
        // The headers of the GET with an empty body stream (cpprestsdk aborts without one).
        response.set_body(std::string(), reply.content_type);
        response.headers().set_content_length(reply.body.size());
      } else {
        response.set_body(std::move(reply.body), reply.content_type);
      }
      request.reply(response);
    });
    // cpprestsdk answers TRACE (echoing the request's headers, Authorization included) and
    // OPTIONS itself unless a handler is registered for them.
    listener_->support(web::http::methods::TRCE, refuse);
    listener_->support(web::http::methods::OPTIONS, refuse);
    listener_->open().wait();
  } catch (const std::exception& e) {
    listener_.reset();
    return UnavailableError("cannot listen on http://" + listen_ + ": " + e.what());
  }
  return OkStatus();
}

void HttpServer::Stop() {
  if (listener_ == nullptr) return;
  try {
    listener_->close().wait();
  } catch (const std::exception&) {
    // Closing a listener that failed is not worth reporting at shutdown.
  }
  listener_.reset();
  // close() returns with the listener's pending accept cancelled but its handler only queued on
  // cpprestsdk's shared thread pool; that handler frees the socket the accept would have used.
  // If the process exits first, the pool is torn down with the handler never run and the socket
  // leaks (LeakSanitizer saw it at exit under load). The pool's queue is first in, first out: once
  // a task queued now has run, that handler has been taken by a pool thread, which the pool's
  // teardown joins.
  pplx::create_task([] {}).wait();
}

}  // namespace podcache
