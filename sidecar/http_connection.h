#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

namespace podcache {

using HttpStrand = boost::asio::strand<boost::asio::io_context::executor_type>;

// One TCP connection to a loader app, or one TLS connection over it. Its handlers run on the
// strand it was made with. Not thread-safe: used on that strand only. Always owned by a
// shared_ptr that every pending operation's handler holds, since an ssl::stream must outlive its
// operations.
class HttpConnection {
 public:
  // tls: null for plain TCP.
  HttpConnection(const HttpStrand& strand, boost::asio::ssl::context* tls);

  boost::asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
  bool is_tls() const { return tls_.has_value(); }
  // REQUIRES: is_tls(). Sets SNI (for a DNS name) and the name or address the certificate must
  // carry; false if OpenSSL refused them.
  bool PrepareTls(const std::string& host);
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& tls_stream() { return *tls_; }

  // An AsyncReadStream and AsyncWriteStream, for boost::asio::async_write.
  using executor_type = boost::asio::ip::tcp::socket::executor_type;
  executor_type get_executor() { return socket().get_executor(); }
  template <typename Buffers, typename Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    OnStream(
        [&](auto& stream) { stream.async_write_some(buffers, std::forward<Handler>(handler)); });
  }
  template <typename Buffers, typename Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    OnStream(
        [&](auto& stream) { stream.async_read_some(buffers, std::forward<Handler>(handler)); });
  }

  // Closes the socket: pending operations end with operation_aborted.
  void Close();
  // For an idle connection: false if the peer closed it or sent something unasked (a peek that
  // does not block).
  bool LooksReusable();

  // When the connection went back to the idle pool.
  std::chrono::steady_clock::time_point idle_since;

 private:
  // Calls f(stream) with the stream in use: TLS over the socket, or the plain socket.
  template <typename F>
  void OnStream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  std::optional<boost::asio::ip::tcp::socket> plain_;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
};

}  // namespace podcache
