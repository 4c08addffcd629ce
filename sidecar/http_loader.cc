#include "sidecar/http_loader.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>

#include "sidecar/loaders.h"

namespace podcache {
namespace {

using web::http::http_response;
using web::http::status_codes;

// Reads a response body in chunks into a string. Past `limit` bytes it cancels the request,
// which makes cpprestsdk close the connection instead of buffering the rest of the body.
class BodyReader : public std::enable_shared_from_this<BodyReader> {
 public:
  BodyReader(http_response response, pplx::cancellation_token_source cancel, uint64_t limit,
             Millis ttl, Loader::DoneFn done)
      : response_(std::move(response)),
        cancel_(std::move(cancel)),
        limit_(limit),
        ttl_(ttl),
        done_(std::move(done)) {}

  void Next() {
    auto self = shared_from_this();
    response_.body().streambuf().getn(chunk_, sizeof chunk_).then([self](pplx::task<size_t> t) {
      size_t n = 0;
      try {
        n = t.get();
      } catch (const std::exception& e) {
        return self->done_(UnavailableError(std::string("loader body: ") + e.what()));
      }
      if (n == 0) return self->done_(Loaded{std::move(self->value_), self->ttl_});
      if (self->value_.size() + n > self->limit_) return self->done_(self->TooLarge());
      self->value_.append(reinterpret_cast<const char*>(self->chunk_), n);
      self->Next();
    });
  }

  Status TooLarge() {
    cancel_.cancel();
    return ResourceExhaustedError("loader value exceeds max_value_bytes=" +
                                  std::to_string(limit_));
  }

 private:
  http_response response_;
  pplx::cancellation_token_source cancel_;
  uint64_t limit_;
  Millis ttl_;
  Loader::DoneFn done_;
  std::string value_;
  uint8_t chunk_[64 * 1024];
};

}  // namespace

HttpLoader::HttpLoader(const std::string& url_template, Millis timeout_ms,
                       uint64_t max_value_bytes)
    : max_value_bytes_(max_value_bytes), timeout_ms_(timeout_ms) {
  size_t scheme_end = url_template.find("://");
  size_t path_start = url_template.find('/', scheme_end + 3);
  if (path_start == std::string::npos) path_start = url_template.size();
  path_template_ = url_template.substr(path_start);
  web::http::client::http_client_config config;
  config.set_timeout(std::chrono::milliseconds(timeout_ms));
  client_ = std::make_unique<web::http::client::http_client>(
      utility::conversions::to_string_t(url_template.substr(0, path_start)), config);
}

HttpLoader::~HttpLoader() = default;

void HttpLoader::Load(std::string_view keyspace, std::string_view key, Millis /*deadline*/,
                      DoneFn done) {
  // The request's own timeout is the loader's; the caller's deadline is enforced by the group.
  std::string path = ExpandUrlTemplate(path_template_, keyspace, key);
  web::http::http_request request(web::http::methods::GET);
  request.set_request_uri(utility::conversions::to_string_t(path));
  uint64_t limit = max_value_bytes_;
  Millis timeout = timeout_ms_;
  try {
    pplx::cancellation_token_source cancel;
    client_->request(request, cancel.get_token())
        .then([done, limit, timeout, cancel](pplx::task<http_response> t) {
      http_response response;
      try {
        response = t.get();
      } catch (const web::http::http_exception& e) {
        if (e.error_code() == std::errc::timed_out) {
          return done(DeadlineExceededError("loader timed out after " + std::to_string(timeout) +
                                            " ms"));
        }
        return done(UnavailableError(std::string("loader request failed: ") + e.what()));
      } catch (const std::exception& e) {
        return done(UnavailableError(std::string("loader request failed: ") + e.what()));
      }
      if (response.status_code() == status_codes::NotFound) {
        return done(NotFoundError("the loader has no such key"));
      }
      if (response.status_code() != status_codes::OK) {
        return done(UnavailableError("loader answered HTTP " +
                                     std::to_string(response.status_code())));
      }
      Millis ttl = -1;
      auto& headers = response.headers();
      auto cc = headers.find(web::http::header_names::cache_control);
      if (cc != headers.end()) ttl = TtlFromCacheControl(cc->second);
      auto reader = std::make_shared<BodyReader>(response, cancel, limit, ttl, done);
      if (headers.content_length() > limit) return done(reader->TooLarge());
      reader->Next();
    });
  } catch (const std::exception& e) {
    done(UnavailableError(std::string("loader request failed: ") + e.what()));
  }
}

}  // namespace podcache
