#include "sidecar/http_loader.h"

#include <algorithm>
#include <stdexcept>

#include "sidecar/http_connection_pool.h"
#include "sidecar/http_exchange.h"
#include "sidecar/http_url.h"
#include "sidecar/loaders.h"

namespace podcache {

HttpLoader::HttpLoader(const std::string& url_template, Millis timeout_ms, uint64_t max_value_bytes)
    // A deadline past a year would overflow steady_clock's nanoseconds; nobody means one.
    : timeout_ms_(std::clamp<Millis>(timeout_ms, 1, Millis{365} * 24 * 3600 * 1000)),
      max_value_bytes_(max_value_bytes) {
  StatusOr<HttpLoaderUrl> url = ParseHttpLoaderUrl(url_template);
  if (!url.ok()) throw std::invalid_argument(url.status().message());
  path_template_ = url->path_template;
  pool_ = HttpConnectionPool::Create(std::move(url).value(), HttpPoolOptions{});
}

HttpLoader::~HttpLoader() {
  pool_->Shutdown(UnavailableError("the loader was stopped while its request was in flight"));
}

void HttpLoader::Load(std::string_view keyspace, std::string_view key, Millis /*deadline*/,
                      DoneFn done) {
  if (!pool_->runtime().running()) {  // the process is exiting: nothing posted would run
    return done(UnavailableError("the loader was stopped: podcache is exiting"));
  }
  auto exchange =
      std::make_shared<HttpExchange>(pool_, ExpandUrlTemplate(path_template_, keyspace, key),
                                     timeout_ms_, max_value_bytes_, std::move(done));
  exchange->Start();
}

}  // namespace podcache
