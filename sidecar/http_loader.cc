#include "sidecar/http_loader.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>

#include "sidecar/loaders.h"

namespace podcache {
namespace {

using web::http::http_response;
using web::http::status_codes;

// Reads a response body in chunks into a string, giving up past `limit` bytes.
class BodyReader : public std::enable_shared_from_this<BodyReader> {
 public:
  BodyReader(http_response response, uint64_t limit, Millis ttl, Loader::DoneFn done)
      : response_(std::move(response)), limit_(limit), ttl_(ttl), done_(std::move(done)) {}

  void Next() {
    auto self = shared_from_this();
    response_.body().read(buffer_, 64 * 1024).then([self](pplx::task<size_t> t) {
      size_t n = 0;
      try {
        n = t.get();
      } catch (const std::exception& e) {
        return self->done_(UnavailableError(std::string("loader body: ") + e.what()));
      }
      if (self->buffer_.collection().size() > self->limit_) {
        return self->done_(self->TooLarge());
      }
      if (n == 0) return self->done_(Loaded{std::move(self->buffer_.collection()), self->ttl_});
      self->Next();
    });
  }

  Status TooLarge() const {
    return ResourceExhaustedError("loader value exceeds max_value_bytes=" +
                                  std::to_string(limit_));
  }

 private:
  http_response response_;
  concurrency::streams::container_buffer<std::string> buffer_;
  uint64_t limit_;
  Millis ttl_;
  Loader::DoneFn done_;
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
    client_->request(request).then([done, limit, timeout](pplx::task<http_response> t) {
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
      auto reader = std::make_shared<BodyReader>(response, limit, ttl, done);
      if (headers.content_length() > limit) return done(reader->TooLarge());
      reader->Next();
    });
  } catch (const std::exception& e) {
    done(UnavailableError(std::string("loader request failed: ") + e.what()));
  }
}

}  // namespace podcache
