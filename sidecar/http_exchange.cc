#include "sidecar/http_exchange.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include "core/log.h"
#include "sidecar/loaders.h"
#include "sidecar/version.h"

namespace podcache {
namespace {

std::atomic<uint64_t> next_exchange_id{1};

std::string RequestHead(const std::string& path, const HttpLoaderUrl& url) {
  return "GET " + path + " HTTP/1.1\r\nHost: " + url.host_header + "\r\nUser-Agent: podcache/" +
         kPodcacheVersion + "\r\nAccept: */*\r\n\r\n";
}

HttpResponseLimits LimitsFor(uint64_t max_body_bytes) {
  HttpResponseLimits limits;
  limits.max_body_bytes = max_body_bytes;
  return limits;
}

Status StatusAnswer(int status_code) {
  if (status_code == 404) return NotFoundError("the loader has no such key");
  std::string message = "loader answered HTTP " + std::to_string(status_code);
  if (status_code >= 300 && status_code < 400) message += " (redirects are not followed)";
  return UnavailableError(message);
}

}  // namespace

HttpExchange::HttpExchange(std::shared_ptr<HttpConnectionPool> pool, const std::string& path,
                           Millis timeout_ms, uint64_t max_body_bytes, Loader::DoneFn done)
    : pool_(std::move(pool)),
      id_(next_exchange_id.fetch_add(1, std::memory_order_relaxed)),
      request_(RequestHead(path, pool_->url())),
      timeout_ms_(timeout_ms),
      deadline_(std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms)),
      done_(std::move(done)),
      resolver_(pool_->strand()),
      timer_(pool_->strand()),
      parser_(LimitsFor(max_body_bytes)) {}

HttpExchange::~HttpExchange() {
  // Only when the io_context dropped the handlers unrun (a stopped runtime).
  if (!answered_) Answer(UnavailableError("loader request abandoned: podcache is exiting"));
}

void HttpExchange::Start() {
  boost::asio::post(pool_->strand(), [self = shared_from_this()] { self->Begin(); });
}

void HttpExchange::Begin() {
  if (pool_->shut_down()) {
    finished_ = true;
    return Answer(UnavailableError("the loader was stopped"));
  }
  pool_->Register(id_, weak_from_this());
  timer_.expires_at(deadline_);
  timer_.async_wait([self = shared_from_this()](const ErrorCode& ec) { self->OnDeadline(ec); });
  connection_ = pool_->TakeIdle();
  if (connection_ != nullptr) {
    reused_ = true;
    Send();
  } else {
    Connect();
  }
}

void HttpExchange::Connect() {
  connection_ = pool_->NewConnection();
  resolver_.async_resolve(
      pool_->url().host, pool_->url().port,
      [self = shared_from_this(), c = connection_](
          const ErrorCode& ec, const boost::asio::ip::tcp::resolver::results_type& endpoints) {
        self->OnResolved(c, ec, endpoints);
      });
}

void HttpExchange::OnResolved(const Connection& c, const ErrorCode& ec,
                              const boost::asio::ip::tcp::resolver::results_type& endpoints) {
  if (!Current(c)) return;
  if (ec) return Fail("cannot resolve " + pool_->url().host, ec);
  boost::asio::async_connect(
      c->socket(), endpoints,
      [self = shared_from_this(), c](const ErrorCode& ec, const boost::asio::ip::tcp::endpoint&) {
        self->OnConnected(c, ec);
      });
}

void HttpExchange::OnConnected(const Connection& c, const ErrorCode& ec) {
  if (!Current(c)) return;
  if (ec) return Fail("cannot connect to " + Target(), ec);
  ErrorCode ignored;
  c->socket().set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  if (!c->is_tls()) return Send();
  if (!c->PrepareTls(pool_->url().host)) {
    return Complete(
        UnavailableError("loader request failed: cannot set up TLS for " + pool_->url().host),
        false);
  }
  c->tls_stream().async_handshake(
      boost::asio::ssl::stream_base::client,
      [self = shared_from_this(), c](const ErrorCode& ec) { self->OnHandshake(c, ec); });
}

void HttpExchange::OnHandshake(const Connection& c, const ErrorCode& ec) {
  if (!Current(c)) return;
  if (ec) {
    std::string what = "TLS handshake with " + Target() + " failed";
    long verify = SSL_get_verify_result(c->tls_stream().native_handle());
    if (verify != X509_V_OK) {
      what += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    }
    return Fail(what, ec);
  }
  Send();
}

void HttpExchange::Send() {
  boost::asio::async_write(*connection_, boost::asio::buffer(request_),
                           [self = shared_from_this(), c = connection_](
                               const ErrorCode& ec, size_t) { self->OnSent(c, ec); });
}

void HttpExchange::OnSent(const Connection& c, const ErrorCode& ec) {
  if (!Current(c)) return;
  if (ec) {
    if (RetryOnNewConnection()) return;
    return Fail("sending the request to " + Target(), ec);
  }
  Read();
}

void HttpExchange::Read() {
  connection_->async_read_some(boost::asio::buffer(buffer_),
                               [self = shared_from_this(), c = connection_](
                                   const ErrorCode& ec, size_t n) { self->OnRead(c, ec, n); });
}

void HttpExchange::OnRead(const Connection& c, const ErrorCode& ec, size_t n) {
  if (!Current(c)) return;
  size_t used = 0;
  if (n > 0) {
    bytes_received_ += n;
    parser_.Feed(std::string_view(buffer_.data(), n), &used);
  } else if (ec == boost::asio::error::eof) {
    // A server that closed an idle connection as it was taken: retried on a new connection.
    if (bytes_received_ == 0 && RetryOnNewConnection()) return;
    parser_.FeedEof();
  } else if (ec) {
    if (bytes_received_ == 0 && RetryOnNewConnection()) return;
    if (answered_) return Finish(false);  // draining the body of a non-200 answer
    return Fail("reading the response of " + Target(), ec);
  }
  switch (parser_.result()) {
    case HttpResponseParser::Result::kNeedMore:
      // The status decides a non-200 answer; the rest is read only to reuse the connection.
      if (parser_.head_complete() && parser_.status_code() != 200) Answer(Outcome());
      return Read();
    case HttpResponseParser::Result::kDone:
      // Bytes after the response mean the server is confused: the connection is not reused.
      return Complete(Outcome(), parser_.keep_alive() && used == n);
    case HttpResponseParser::Result::kError:
      return Complete(Outcome(), false);
  }
}

void HttpExchange::OnDeadline(const ErrorCode& ec) {
  if (ec == boost::asio::error::operation_aborted || finished_) return;
  Complete(DeadlineExceededError("loader timed out after " + std::to_string(timeout_ms_) + " ms"),
           false);
}

void HttpExchange::Abort(const Status& why) {
  if (finished_) return;
  Complete(why, false);
}

bool HttpExchange::RetryOnNewConnection() {
  if (!reused_ || retried_) return false;
  retried_ = true;
  reused_ = false;
  connection_->Close();
  Connect();
  return true;
}

StatusOr<Loaded> HttpExchange::Outcome() {
  if (parser_.head_complete() && parser_.status_code() != 200) {
    return StatusAnswer(parser_.status_code());
  }
  if (parser_.result() == HttpResponseParser::Result::kError) return parser_.error();
  CacheControl cc;
  if (parser_.has_cache_control()) cc = ParseCacheControl(parser_.cache_control());
  Loaded loaded{parser_.TakeBody(), cc.ttl_ms};
  loaded.stale_while_revalidate_ms = cc.stale_while_revalidate_ms;
  loaded.stale_if_error_ms = cc.stale_if_error_ms;
  return loaded;
}

void HttpExchange::Fail(const std::string& what, const ErrorCode& ec) {
  Complete(UnavailableError("loader request failed: " + what + ": " + ec.message()), false);
}

void HttpExchange::Complete(StatusOr<Loaded> result, bool reuse_connection) {
  Finish(reuse_connection);
  Answer(std::move(result));
}

void HttpExchange::Finish(bool reuse_connection) {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
  resolver_.cancel();
  pool_->Unregister(id_);
  if (connection_ != nullptr) {
    if (reuse_connection) {
      pool_->Release(std::move(connection_));
    } else {
      connection_->Close();
    }
    connection_.reset();
  }
}

void HttpExchange::Answer(StatusOr<Loaded> result) {
  if (answered_) return;
  answered_ = true;
  Loader::DoneFn done = std::move(done_);
  done_ = nullptr;
  try {
    done(std::move(result));
  } catch (const std::exception& e) {
    LogError("HTTP loader callback threw", {{"error", e.what()}});
  } catch (...) {
    LogError("HTTP loader callback threw");
  }
}

std::string HttpExchange::Target() const {
  const HttpLoaderUrl& url = pool_->url();
  bool ipv6 = url.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + url.host + "]" : url.host) + ":" + url.port;
}

}  // namespace podcache
