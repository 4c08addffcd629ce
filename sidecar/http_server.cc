#include "sidecar/http_server.h"

#include <cpprest/http_listener.h>

namespace podcache {

using web::http::experimental::listener::http_listener;

HttpServer::HttpServer(std::string listen, Handler handler)
    : listen_(std::move(listen)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  try {
    listener_ = std::make_unique<http_listener>(utility::conversions::to_string_t("http://" + listen_));
    listener_->support([this](web::http::http_request request) {
      if (request.method() != web::http::methods::GET) {
        request.reply(web::http::status_codes::MethodNotAllowed, "only GET\n");
        return;
      }
      HttpReply reply;
      try {
        reply = handler_(utility::conversions::to_utf8string(request.relative_uri().path()));
      } catch (const std::exception& e) {
        reply = {500, "text/plain; charset=utf-8", std::string(e.what()) + "\n"};
      }
      web::http::http_response response(static_cast<web::http::status_code>(reply.status));
      response.set_body(std::move(reply.body), reply.content_type);
      request.reply(response);
    });
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
}

}  // namespace podcache
