#include "sidecar/http_connection_pool.h"

#include <boost/asio/post.hpp>
#include <vector>

#include "sidecar/http_exchange.h"

namespace podcache {

std::shared_ptr<HttpConnectionPool> HttpConnectionPool::Create(HttpLoaderUrl url,
                                                               HttpPoolOptions options) {
  std::shared_ptr<HttpIoRuntime> runtime = HttpIoRuntime::Get();
  std::shared_ptr<HttpConnectionPool> pool(
      new HttpConnectionPool(std::move(url), options, runtime));
  std::weak_ptr<HttpConnectionPool> weak = pool;
  pool->stop_hook_id_ = runtime->AddStopHook([weak] {
    if (auto p = weak.lock()) p->Shutdown(UnavailableError("podcache is exiting"));
  });
  return pool;
}

HttpConnectionPool::HttpConnectionPool(HttpLoaderUrl url, HttpPoolOptions options,
                                       std::shared_ptr<HttpIoRuntime> runtime)
    : url_(std::move(url)),
      options_(options),
      runtime_(std::move(runtime)),
      strand_(boost::asio::make_strand(runtime_->context())),
      idle_timer_(strand_) {
  if (url_.tls) {
    namespace ssl = boost::asio::ssl;
    tls_context_.emplace(ssl::context::tls_client);
    tls_context_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                              ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                              ssl::context::no_tlsv1_1);
    // The system's CAs; OpenSSL lets SSL_CERT_FILE and SSL_CERT_DIR replace them. A failure here
    // shows up as a verification error at each handshake.
    boost::system::error_code ignored;
    tls_context_->set_default_verify_paths(ignored);
    tls_context_->set_verify_mode(ssl::verify_peer);
  }
}

HttpConnectionPool::~HttpConnectionPool() {
  runtime_->RemoveStopHook(stop_hook_id_);
  // Nothing else refers to the pool, so nothing runs on its strand: idle connections have no
  // operation pending.
  for (auto& c : idle_) c->Close();
}

std::shared_ptr<HttpConnection> HttpConnectionPool::TakeIdle() {
  auto now = std::chrono::steady_clock::now();
  while (!idle_.empty()) {
    std::shared_ptr<HttpConnection> c = std::move(idle_.back());
    idle_.pop_back();
    if (now - c->idle_since < options_.idle_timeout && c->LooksReusable()) return c;
    c->Close();
  }
  return nullptr;
}

std::shared_ptr<HttpConnection> HttpConnectionPool::NewConnection() {
  return std::make_shared<HttpConnection>(strand_, tls_context_ ? &*tls_context_ : nullptr);
}

void HttpConnectionPool::Release(std::shared_ptr<HttpConnection> connection) {
  if (shut_down_ || idle_.size() >= options_.max_idle_connections) {
    connection->Close();
    return;
  }
  connection->idle_since = std::chrono::steady_clock::now();
  idle_.push_back(std::move(connection));
  ArmIdleTimer();
}

void HttpConnectionPool::Register(uint64_t id, std::weak_ptr<HttpExchange> exchange) {
  in_flight_.emplace(id, std::move(exchange));
}

void HttpConnectionPool::Unregister(uint64_t id) { in_flight_.erase(id); }

void HttpConnectionPool::Shutdown(Status why) {
  boost::asio::post(
      strand_, [self = shared_from_this(), why = std::move(why)] { self->ShutdownOnStrand(why); });
}

void HttpConnectionPool::ShutdownOnStrand(const Status& why) {
  shut_down_ = true;
  for (auto& c : idle_) c->Close();
  idle_.clear();
  idle_timer_.cancel();
  std::vector<std::shared_ptr<HttpExchange>> exchanges;
  for (auto& [id, weak] : in_flight_) {
    if (auto e = weak.lock()) exchanges.push_back(std::move(e));
  }
  for (auto& e : exchanges) e->Abort(why);  // each one unregisters itself
}

void HttpConnectionPool::ArmIdleTimer() {
  if (idle_timer_armed_ || idle_.empty()) return;
  idle_timer_armed_ = true;
  idle_timer_.expires_at(idle_.front()->idle_since + options_.idle_timeout);
  // A weak reference: an armed timer does not keep the pool of a destroyed loader alive.
  idle_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code&) {
    auto self = weak.lock();
    if (self == nullptr) return;
    self->idle_timer_armed_ = false;
    if (self->shut_down_) return;
    self->CloseExpiredIdle();
    self->ArmIdleTimer();
  });
}

void HttpConnectionPool::CloseExpiredIdle() {
  auto now = std::chrono::steady_clock::now();
  while (!idle_.empty() && now - idle_.front()->idle_since >= options_.idle_timeout) {
    idle_.front()->Close();
    idle_.pop_front();
  }
}

}  // namespace podcache
