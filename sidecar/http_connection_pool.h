#pragma once

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>

#include "core/status.h"
#include "sidecar/http_connection.h"
#include "sidecar/http_io_runtime.h"
#include "sidecar/http_url.h"

namespace podcache {

class HttpExchange;

struct HttpPoolOptions {
  size_t max_idle_connections = 32;
  std::chrono::milliseconds idle_timeout{30'000};
};

// The keep-alive connections of one HTTP loader and the strand all of its work runs on: its
// connections' and exchanges' handlers, and this pool's state. Everything but Create, strand()
// and Shutdown() must be called on the strand.
class HttpConnectionPool : public std::enable_shared_from_this<HttpConnectionPool> {
 public:
  // May throw (the TLS context: OpenSSL out of memory).
  static std::shared_ptr<HttpConnectionPool> Create(HttpLoaderUrl url, HttpPoolOptions options);
  ~HttpConnectionPool();

  const HttpStrand& strand() const { return strand_; }
  const HttpLoaderUrl& url() const { return url_; }
  HttpIoRuntime& runtime() { return *runtime_; }
  bool shut_down() const { return shut_down_; }

  // The most recently used idle connection that still looks usable, or null.
  std::shared_ptr<HttpConnection> TakeIdle();
  // A new connection, not connected yet.
  std::shared_ptr<HttpConnection> NewConnection();
  // Takes back a connection whose last response allows another request. It is closed instead when
  // the pool is full or shut down.
  void Release(std::shared_ptr<HttpConnection> connection);

  // Exchanges in flight, so that Shutdown() can end them.
  void Register(uint64_t id, std::weak_ptr<HttpExchange> exchange);
  void Unregister(uint64_t id);

  // Thread-safe, returns at once. Closes the idle connections and ends every exchange in flight
  // with `why` (their `done` runs on the strand); later exchanges fail at once.
  void Shutdown(Status why);

 private:
  HttpConnectionPool(HttpLoaderUrl url, HttpPoolOptions options,
                     std::shared_ptr<HttpIoRuntime> runtime);
  void ShutdownOnStrand(const Status& why);
  void ArmIdleTimer();
  void CloseExpiredIdle();

  const HttpLoaderUrl url_;
  const HttpPoolOptions options_;
  const std::shared_ptr<HttpIoRuntime> runtime_;  // outlives the strand, sockets and timers
  HttpStrand strand_;
  std::optional<boost::asio::ssl::context> tls_context_;  // https only
  uint64_t stop_hook_id_ = 0;

  // On the strand:
  bool shut_down_ = false;
  std::deque<std::shared_ptr<HttpConnection>> idle_;  // oldest first
  boost::asio::steady_timer idle_timer_;
  bool idle_timer_armed_ = false;
  std::unordered_map<uint64_t, std::weak_ptr<HttpExchange>> in_flight_;
};

}  // namespace podcache
