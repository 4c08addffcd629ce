#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/loader.h"
#include "sidecar/http_connection.h"
#include "sidecar/http_connection_pool.h"
#include "sidecar/http_response_parser.h"

namespace podcache {

// One GET of an HTTP loader, from Load to `done`. It takes an idle connection of the pool or
// opens one (resolve, connect, TLS handshake), writes the request, feeds the response to an
// HttpResponseParser and gives the connection back when the response allows keep-alive. One
// deadline, `timeout_ms` from construction, bounds all of it; past it the connection is closed.
// A request that fails on a reused connection before any response byte is retried once on a new
// connection. The answer:
//   200 -> the body, TTL from Cache-Control;  404 -> NOT_FOUND;  any other status (3xx
//   included: redirects are not followed) -> UNAVAILABLE, given as soon as the head is parsed;
//   a malformed or oversized response -> the parser's error;  connection failures -> UNAVAILABLE;
//   the deadline -> DEADLINE_EXCEEDED.
// `done` runs exactly once: on the pool's strand, or in the destructor if the io_context dropped
// the exchange's handlers without running them. Everything but Start runs on the pool's strand.
class HttpExchange : public std::enable_shared_from_this<HttpExchange> {
 public:
  HttpExchange(std::shared_ptr<HttpConnectionPool> pool, const std::string& path, Millis timeout_ms,
               uint64_t max_body_bytes, Loader::DoneFn done);
  ~HttpExchange();

  // Thread-safe: continues on the strand.
  void Start();
  // Ends the exchange with `why` unless it has answered already.
  void Abort(const Status& why);

 private:
  using Connection = std::shared_ptr<HttpConnection>;
  using ErrorCode = boost::system::error_code;

  void Begin();
  void Connect();
  void OnResolved(const Connection& c, const ErrorCode& ec,
                  const boost::asio::ip::tcp::resolver::results_type& endpoints);
  void OnConnected(const Connection& c, const ErrorCode& ec);
  void OnHandshake(const Connection& c, const ErrorCode& ec);
  void Send();
  void OnSent(const Connection& c, const ErrorCode& ec);
  void Read();
  void OnRead(const Connection& c, const ErrorCode& ec, size_t n);
  void OnDeadline(const ErrorCode& ec);

  // A failure before any response byte on a reused connection: true if a retry started.
  bool RetryOnNewConnection();
  // Whether `c` is this exchange's live connection (handlers of a closed one are stale).
  bool Current(const Connection& c) const { return !finished_ && c == connection_; }
  StatusOr<Loaded> Outcome();
  void Fail(const std::string& what, const ErrorCode& ec);
  // Finish then answer: the connection is back in the pool before `done` runs.
  void Complete(StatusOr<Loaded> result, bool reuse_connection);
  void Finish(bool reuse_connection);
  void Answer(StatusOr<Loaded> result);
  std::string Target() const;

  const std::shared_ptr<HttpConnectionPool> pool_;
  const uint64_t id_;
  const std::string request_;
  const Millis timeout_ms_;
  const std::chrono::steady_clock::time_point deadline_;
  Loader::DoneFn done_;

  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer timer_;
  Connection connection_;
  bool reused_ = false;  // connection_ came from the idle pool
  bool retried_ = false;
  bool answered_ = false;  // done_ ran
  bool finished_ = false;  // the connection is closed or back in the pool
  uint64_t bytes_received_ = 0;
  HttpResponseParser parser_;
  std::array<char, 16 * 1024> buffer_;
};

}  // namespace podcache
