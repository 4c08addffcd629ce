#include "discovery/k8s_http.h"

#include <cpprest/http_client.h>

#include <algorithm>
#include <boost/asio/ssl.hpp>

namespace podcache {

using web::http::http_response;

void K8sHttp::SetToken(std::string token) {
  MutexLock lock(&mu_);
  token_ = std::move(token);
}

void K8sHttp::Cancel() {
  MutexLock lock(&mu_);
  cancelled_ = true;
  if (cancel_current_) cancel_current_();
}

StatusOr<K8sReply> K8sHttp::Get(const std::string& path_and_query, Millis timeout_ms,
                                size_t max_body, std::string* error_kind) {
  return Request(path_and_query, timeout_ms, max_body, nullptr, error_kind);
}

StatusOr<K8sReply> K8sHttp::Stream(const std::string& path_and_query, Millis timeout_ms,
                                   const std::function<bool(std::string_view)>& on_chunk,
                                   std::string* error_kind) {
  return Request(path_and_query, timeout_ms, 1 << 20, &on_chunk, error_kind);
}

StatusOr<K8sReply> K8sHttp::Request(const std::string& path_and_query, Millis timeout_ms,
                                    size_t max_body,
                                    const std::function<bool(std::string_view)>* on_chunk,
                                    std::string* error_kind) {
  pplx::cancellation_token_source cancel;
  std::string token;
  {
    MutexLock lock(&mu_);
    if (cancelled_) return CancelledError("stopping");
    cancel_current_ = [cancel] { cancel.cancel(); };
    token = token_;
  }
  struct Clear {
    K8sHttp* self;
    ~Clear() {
      MutexLock lock(&self->mu_);
      self->cancel_current_ = nullptr;
    }
  } clear{this};
  *error_kind = "connect";
  try {
    web::http::client::http_client_config config;
    config.set_timeout(std::chrono::milliseconds(timeout_ms));
    if (!ca_file_.empty()) {
      std::string ca = ca_file_;
      config.set_ssl_context_callback([ca](boost::asio::ssl::context& ctx) {
        ctx.load_verify_file(ca);  // throws when unreadable: the request fails, and says why
      });
    }
    web::http::client::http_client client(utility::conversions::to_string_t(api_url_), config);
    web::http::http_request request(web::http::methods::GET);
    request.set_request_uri(utility::conversions::to_string_t(path_and_query));
    request.headers().add(web::http::header_names::accept, "application/json");
    request.headers().add(web::http::header_names::user_agent, "podcache");
    if (!token.empty()) {
      request.headers().add(web::http::header_names::authorization, "Bearer " + token);
    }
    http_response response = client.request(request, cancel.get_token()).get();
    K8sReply reply;
    reply.status = response.status_code();
    auto body = response.body().streambuf();
    char chunk[16 * 1024];
    bool streaming = on_chunk != nullptr && reply.status == 200;
    *error_kind = "read";
    for (;;) {
      // getn(n) waits until n bytes are there (or the body ends), which for a watch may be
      // never: ask for what is buffered now, or for one byte, which returns once data arrive.
      size_t avail = body.in_avail();
      size_t want = avail > 0 ? std::min(avail, sizeof chunk) : 1;
      size_t n = body.getn(reinterpret_cast<uint8_t*>(chunk), want).get();
      if (n == 0) break;
      if (streaming) {
        if (!(*on_chunk)(std::string_view(chunk, n))) {
          cancel.cancel();  // closes the connection instead of reading the rest
          break;
        }
        continue;
      }
      if (reply.body.size() + n > max_body) {
        cancel.cancel();
        *error_kind = "too_large";
        return ResourceExhaustedError("API server response larger than " +
                                      std::to_string(max_body) + " bytes");
      }
      reply.body.append(chunk, n);
    }
    return reply;
  } catch (const web::http::http_exception& e) {
    std::string what = e.what();
    if (e.error_code() == std::errc::timed_out) {
      *error_kind = "timeout";
    } else if (what.find("handshake") != std::string::npos ||
               what.find("certificate") != std::string::npos ||
               what.find("SSL") != std::string::npos || what.find("ssl") != std::string::npos) {
      *error_kind = "tls";
    }
    return UnavailableError(what);
  } catch (const pplx::task_canceled&) {
    *error_kind = "cancelled";
    return CancelledError("request cancelled");
  } catch (const std::exception& e) {
    return UnavailableError(e.what());
  }
}

}  // namespace podcache
