#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace podcache::testing {

class TestHttpServer;

// One accepted connection of a TestHttpServer, used by its handler thread only.
class TestConnection {
 public:
  TestConnection(TestHttpServer* server, int fd, int index)
      : server_(server), fd_(fd), index_(index) {}
  // The next request head (request line and header fields through the blank line), recorded in
  // the server's requests(); "" once the peer closed the connection.
  std::string ReadRequest();
  // Writes all of `data`; false once the peer closed or reset the connection.
  bool Write(std::string_view data);
  // Waits until the peer closes the connection (whatever it still sends is read and dropped);
  // false after `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout);
  // 0 for the first connection the server accepted, 1 for the second, ...
  int index() const { return index_; }

 private:
  TestHttpServer* server_;
  int fd_;
  int index_;
  std::string buffered_;  // read past the last request head
};

// A TCP server on 127.0.0.1 (a free port) for the HTTP loader tests. Every accepted connection
// runs `handler` on a thread of its own; the connection is closed when the handler returns.
// The destructor stops accepting, shuts every open connection down and joins the threads.
// Thread-safe.
class TestHttpServer {
 public:
  using Handler = std::function<void(TestConnection&)>;
  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port>" + path.
  std::string Url(std::string_view path = "/{keyspace}/{key}") const;
  int connections() const { return connections_.load(); }
  std::vector<std::string> requests() const;

 private:
  friend class TestConnection;
  void AcceptLoop();

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::string> requests_;  // guarded by mu_
  std::vector<int> open_fds_;          // guarded by mu_
  std::vector<std::thread> handlers_;  // guarded by mu_
};

// A simple keep-alive answer: 200 with `body` and Content-Length, plus `extra_headers`
// ("Name: value\r\n" lines).
std::string Response200(std::string_view body, std::string_view extra_headers = "");

}  // namespace podcache::testing
