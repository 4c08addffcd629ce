#pragma once

#include <memory>
#include <string>

#include "core/loader.h"

namespace web::http::client {
class http_client;
}

namespace podcache {

// Fills misses with GET <url_template with {keyspace} and {key}> on the application, through
// cpprestsdk's asynchronous client (no thread waits for a response).
//   200 -> the body, TTL from Cache-Control (TtlFromCacheControl)
//   404 -> NOT_FOUND
//   other statuses, connection errors -> UNAVAILABLE; no answer within `timeout_ms` ->
//   DEADLINE_EXCEEDED; a body above `max_value_bytes` -> RESOURCE_EXHAUSTED (the body is read in
//   chunks and abandoned once too large, so a huge answer costs no more than the limit).
// Thread-safe; `done` runs on a cpprestsdk thread.
class HttpLoader final : public Loader {
 public:
  // REQUIRES: url_template starts with http:// or https:// and has no placeholder before the path.
  HttpLoader(const std::string& url_template, Millis timeout_ms, uint64_t max_value_bytes);
  ~HttpLoader() override;
  void Load(std::string_view keyspace, std::string_view key, Millis deadline,
            DoneFn done) override;

 private:
  std::string path_template_;  // everything after scheme://authority
  uint64_t max_value_bytes_;
  Millis timeout_ms_;
  std::unique_ptr<web::http::client::http_client> client_;
};

}  // namespace podcache
