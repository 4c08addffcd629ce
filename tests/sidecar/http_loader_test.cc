// The HTTP loader against real sockets: a TestHttpServer in this process plays the app.
#include "sidecar/http_loader.h"

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sidecar/http_connection_pool.h"
#include "sidecar/http_exchange.h"
#include "sidecar/version.h"
#include "testing/wait.h"
#include "tests/sidecar/test_http_server.h"

namespace podcache {
namespace {

using namespace std::chrono_literals;
using testing::Response200;
using testing::TestConnection;
using testing::TestHttpServer;
using testing::WaitUntil;
using Clock = std::chrono::steady_clock;

// The outcome of one Load: its result, how often `done` ran, and how long it took.
struct Outcome {
  StatusOr<Loaded> result = Status(StatusCode::kUnknown, "done never ran");
  int calls = 0;
  double seconds = 0;
  StatusCode code() const { return result.status().code(); }
  std::string message() const { return result.status().message(); }
};

// Calls `loader.Load` and waits up to `wait` for `done`; then a little more, to see a second call.
Outcome LoadAndWait(Loader& loader, std::string_view key, std::chrono::milliseconds wait = 15s) {
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    Outcome outcome;
  };
  auto shared = std::make_shared<Shared>();
  auto start = Clock::now();
  loader.Load("ks", key, kNoDeadline, [shared, start](StatusOr<Loaded> r) {
    std::lock_guard<std::mutex> lock(shared->mu);
    if (++shared->outcome.calls == 1) {
      shared->outcome.result = std::move(r);
      shared->outcome.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    }
    shared->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(shared->mu);
  shared->cv.wait_for(lock, wait, [&] { return shared->outcome.calls > 0; });
  shared->cv.wait_for(lock, 20ms, [&] { return shared->outcome.calls > 1; });
  return shared->outcome;
}

// A line of /proc/self/status in KiB ("VmRSS", "VmHWM").
long ProcStatusKb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

std::string PathOf(const std::string& request) {
  size_t start = request.find(' ') + 1;
  return request.substr(start, request.find(' ', start) - start);
}

// Answers every request on the connection with `response`, until the peer closes it.
TestHttpServer::Handler AlwaysAnswer(std::string response) {
  return [response](TestConnection& c) {
    while (!c.ReadRequest().empty()) {
      if (!c.Write(response)) return;
    }
  };
}

TEST_CASE(
    "HttpLoader: 200 is the value with the Cache-Control TTL; GET with Host, User-Agent "
    "and Accept; one kept-alive connection serves consecutive loads") {
  TestHttpServer server([](TestConnection& c) {
    while (true) {
      std::string request = c.ReadRequest();
      if (request.empty()) return;
      if (!c.Write(Response200("value of " + PathOf(request), "Cache-Control: max-age=60\r\n"))) {
        return;
      }
    }
  });
  HttpLoader loader(server.Url("/cache/{keyspace}/{key}?v=1"), 2000, 1 << 20);
  Outcome a = LoadAndWait(loader, "a b");
  REQUIRE(a.result.ok());
  CHECK(a.result->value == "value of /cache/ks/a%20b?v=1");
  CHECK(a.result->ttl_ms == 60000);
  CHECK(a.calls == 1);
  Outcome b = LoadAndWait(loader, "c");
  REQUIRE(b.result.ok());
  CHECK(b.result->value == "value of /cache/ks/c?v=1");
  CHECK(server.connections() == 1);
  std::vector<std::string> requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0] ==
        "GET /cache/ks/a%20b?v=1 HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) +
            "\r\nUser-Agent: podcache/" + kPodcacheVersion + "\r\nAccept: */*\r\n\r\n");
}

TEST_CASE("HttpLoader: Cache-Control's stale-while-revalidate and stale-if-error reach Loaded") {
  TestHttpServer server(AlwaysAnswer(Response200(
      "v", "Cache-Control: max-age=2, stale-while-revalidate=30, stale-if-error=600\r\n")));
  HttpLoader loader(server.Url(), 2000, 1 << 20);
  Outcome a = LoadAndWait(loader, "k");
  REQUIRE(a.result.ok());
  CHECK(a.result->ttl_ms == 2000);
  CHECK(a.result->stale_while_revalidate_ms == 30000);
  CHECK(a.result->stale_if_error_ms == 600000);
}

TEST_CASE("HttpLoader: 404 is NOT_FOUND; the connection is reused after the 404's body") {
  TestHttpServer server([](TestConnection& c) {
    if (c.ReadRequest().empty()) return;
    c.Write("HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\n\r\nno such key\n");
    if (c.ReadRequest().empty()) return;
    c.Write(Response200("v"));
    c.WaitClosed(10s);
  });
  HttpLoader loader(server.Url(), 2000, 1 << 20);
  Outcome missing = LoadAndWait(loader, "missing");
  CHECK(missing.code() == StatusCode::kNotFound);
  Outcome found = LoadAndWait(loader, "k");
  REQUIRE(found.result.ok());
  CHECK(found.result->value == "v");
  CHECK(found.result->ttl_ms == -1);  // no Cache-Control: the keyspace's default
  CHECK(server.connections() == 1);
}

TEST_CASE("HttpLoader: a redirect is UNAVAILABLE and its Location is never requested") {
  TestHttpServer elsewhere(AlwaysAnswer(Response200("from the other host")));
  for (int status : {301, 302, 303, 307, 308}) {
    CAPTURE(status);
    TestHttpServer server(AlwaysAnswer("HTTP/1.1 " + std::to_string(status) +
                                       " Moved\r\nLocation: " + elsewhere.Url("/x") +
                                       "\r\nContent-Length: 0\r\n\r\n"));
    HttpLoader loader(server.Url(), 2000, 1 << 20);
    Outcome o = LoadAndWait(loader, "k");
    CHECK(o.code() == StatusCode::kUnavailable);
    CHECK(o.message() ==
          "loader answered HTTP " + std::to_string(status) + " (redirects are not followed)");
    CHECK(o.calls == 1);
  }
  std::this_thread::sleep_for(100ms);
  CHECK(elsewhere.connections() == 0);
}

TEST_CASE(
    "HttpLoader: 50 MB of headers is UNAVAILABLE at 64 KiB, at once, the connection closed "
    "and memory flat") {
  std::atomic<size_t> written{0};
  std::atomic<bool> writer_stopped{false};
  TestHttpServer server([&](TestConnection& c) {
    c.ReadRequest();
    std::string piece(64 * 1024, 'a');
    if (c.Write("HTTP/1.1 200 OK\r\nX-Huge: ")) {
      while (written < (50u << 20) && c.Write(piece)) written += piece.size();
    }
    writer_stopped = true;
  });
  std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM (the peak) to the current RSS
  long rss_before = ProcStatusKb("VmRSS");
  HttpLoader loader(server.Url(), 5000, 1 << 20);
  Outcome o = LoadAndWait(loader, "k");
  CHECK(o.code() == StatusCode::kUnavailable);
  CHECK(o.message() == "loader response headers exceed 64KiB");
  CHECK(o.seconds < 1.0);
  REQUIRE(WaitUntil([&] { return writer_stopped.load(); }));
  CHECK(written < (16u << 20));  // the client hung up long before 50 MB
  long peak_growth_kb = ProcStatusKb("VmHWM") - rss_before;
  CAPTURE(peak_growth_kb);
  CHECK(peak_growth_kb < 20 * 1024);
}

TEST_CASE("HttpLoader: more than 100 header fields is UNAVAILABLE") {
  std::string fields;
  for (int i = 0; i < 101; ++i) fields += "X-F" + std::to_string(i) + ": v\r\n";
  TestHttpServer server(AlwaysAnswer(Response200("v", fields)));
  HttpLoader loader(server.Url(), 2000, 1 << 20);
  Outcome o = LoadAndWait(loader, "k");
  CHECK(o.code() == StatusCode::kUnavailable);
  CHECK(o.message() == "loader response has more than 100 header fields");
}

// A response whose bytes come one every 100 ms: the status line or the body.
void DripTest(bool drip_head) {
  std::atomic<bool> closed{false};
  Clock::time_point closed_at;
  TestHttpServer server([&](TestConnection& c) {
    c.ReadRequest();
    std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    size_t at_once = drip_head ? 0 : response.size();
    response += std::string(100, 'x');
    if (!c.Write(std::string_view(response).substr(0, at_once))) return;
    for (size_t i = at_once; i < response.size(); ++i) {
      if (c.WaitClosed(100ms)) {
        closed_at = Clock::now();
        closed = true;
        return;
      }
      if (!c.Write(std::string_view(response).substr(i, 1))) return;
    }
  });
  HttpLoader loader(server.Url(), 400, 1 << 20);
  Outcome o = LoadAndWait(loader, "k");
  auto answered_at = Clock::now();
  CHECK(o.code() == StatusCode::kDeadlineExceeded);
  CHECK(o.message() == "loader timed out after 400 ms");
  CHECK(o.seconds >= 0.38);
  CHECK(o.seconds < 1.5);
  REQUIRE(WaitUntil([&] { return closed.load(); }, 2s));
  CHECK(closed_at - answered_at < 1s);
}

TEST_CASE(
    "HttpLoader: a body dripping past the timeout is DEADLINE_EXCEEDED at the timeout and "
    "the connection is closed") {
  DripTest(/*drip_head=*/false);
}

TEST_CASE("HttpLoader: a status line dripping past the timeout is DEADLINE_EXCEEDED") {
  DripTest(/*drip_head=*/true);
}

TEST_CASE("HttpLoader: a non-200 answer does not wait for its body") {
  TestHttpServer server([](TestConnection& c) {
    c.ReadRequest();
    if (!c.Write("HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n")) return;
    for (int i = 0; i < 100 && !c.WaitClosed(100ms); ++i) c.Write("x");
  });
  HttpLoader loader(server.Url(), 3000, 1 << 20);
  Outcome o = LoadAndWait(loader, "k");
  CHECK(o.code() == StatusCode::kUnavailable);
  CHECK(o.message() == "loader answered HTTP 500");
  CHECK(o.seconds < 1.0);
}

TEST_CASE(
    "HttpLoader: a body above max_value_bytes is RESOURCE_EXHAUSTED as soon as it is "
    "announced or received, and the connection is closed") {
  const std::string too_large = "loader value exceeds max_value_bytes=1000";
  // The load fails at once, and the server sees its connection end (`server_done`).
  auto check_refused_at_once = [&](TestHttpServer& server, std::atomic<bool>& server_done) {
    HttpLoader loader(server.Url(), 3000, 1000);
    Outcome o = LoadAndWait(loader, "k");
    CHECK(o.code() == StatusCode::kResourceExhausted);
    CHECK(o.message() == too_large);
    CHECK(o.seconds < 1.0);
    CHECK(WaitUntil([&] { return server_done.load(); }, 2s));
  };
  SUBCASE("Content-Length above the limit, body never sent") {
    std::atomic<bool> closed{false};
    TestHttpServer server([&](TestConnection& c) {
      c.ReadRequest();
      c.Write("HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n");
      closed = c.WaitClosed(5s);
    });
    check_refused_at_once(server, closed);
  }
  SUBCASE("an endless chunked body") {
    std::atomic<bool> writer_stopped{false};
    TestHttpServer server([&](TestConnection& c) {
      c.ReadRequest();
      c.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      std::string chunk = "64\r\n" + std::string(100, 'y') + "\r\n";
      while (c.Write(chunk)) std::this_thread::sleep_for(1ms);
      writer_stopped = true;
    });
    check_refused_at_once(server, writer_stopped);
  }
  SUBCASE("a close-delimited body (HTTP/1.0): the limit is allowed, one byte more is not") {
    for (size_t size : {size_t{1000}, size_t{1001}}) {
      CAPTURE(size);
      TestHttpServer server([size](TestConnection& c) {
        c.ReadRequest();
        c.Write("HTTP/1.0 200 OK\r\n\r\n" + std::string(size, 'z'));
      });
      HttpLoader loader(server.Url(), 3000, 1000);
      Outcome o = LoadAndWait(loader, "k");
      if (size == 1000) {
        REQUIRE(o.result.ok());
        CHECK(o.result->value == std::string(1000, 'z'));
      } else {
        CHECK(o.code() == StatusCode::kResourceExhausted);
        CHECK(o.message() == too_large);
      }
    }
  }
}

TEST_CASE(
    "HttpLoader: a kept-alive connection the server dropped is retried once on a new "
    "connection") {
  SUBCASE("the new connection answers") {
    TestHttpServer server([](TestConnection& c) {
      if (c.index() == 0) {
        c.ReadRequest();
        c.Write(Response200("first"));
        c.ReadRequest();  // then closes without an answer
        return;
      }
      while (!c.ReadRequest().empty() && c.Write(Response200("second"))) {
      }
    });
    HttpLoader loader(server.Url(), 2000, 1 << 20);
    CHECK(LoadAndWait(loader, "a").result->value == "first");
    Outcome o = LoadAndWait(loader, "b");
    REQUIRE(o.result.ok());
    CHECK(o.result->value == "second");
    CHECK(server.connections() == 2);
    CHECK(server.requests().size() == 3);
  }
  SUBCASE("only once: a new connection that closes too is UNAVAILABLE") {
    TestHttpServer server([](TestConnection& c) {
      c.ReadRequest();
      if (c.index() == 0) {
        c.Write(Response200("first"));
        c.ReadRequest();
      }
    });  // every request but the first: the connection closes without an answer
    HttpLoader loader(server.Url(), 2000, 1 << 20);
    CHECK(LoadAndWait(loader, "a").result->value == "first");
    Outcome o = LoadAndWait(loader, "b");
    CHECK(o.code() == StatusCode::kUnavailable);
    CHECK(o.message() == "loader closed the connection before answering");
    CHECK(server.connections() == 2);
  }
}

TEST_CASE("HttpLoader: a response with Content-Length and Transfer-Encoding is refused") {
  TestHttpServer server(
      AlwaysAnswer("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: "
                   "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
  HttpLoader loader(server.Url(), 2000, 1 << 20);
  Outcome o = LoadAndWait(loader, "k");
  CHECK(o.code() == StatusCode::kUnavailable);
  CHECK(o.message() == "malformed loader response: both Content-Length and Transfer-Encoding");
}

TEST_CASE("HttpLoader: a refused connection is UNAVAILABLE naming the address") {
  int port;
  {
    TestHttpServer closed_soon(AlwaysAnswer(""));
    port = closed_soon.port();
  }
  HttpLoader loader("http://127.0.0.1:" + std::to_string(port) + "/{key}", 2000, 1 << 20);
  Outcome o = LoadAndWait(loader, "k");
  CHECK(o.code() == StatusCode::kUnavailable);
  CHECK(o.message().find("cannot connect to 127.0.0.1:" + std::to_string(port)) !=
        std::string::npos);
  CHECK(o.seconds < 1.0);
}

TEST_CASE(
    "HttpLoader: destroying the loader ends the loads in flight: done once each, "
    "UNAVAILABLE") {
  std::atomic<int> requests{0};
  TestHttpServer server([&](TestConnection& c) {
    std::string request = c.ReadRequest();
    if (request.find("/ks/fast") != std::string::npos) {
      c.Write(Response200("fast"));
      c.ReadRequest();
      return;
    }
    ++requests;
    c.WaitClosed(20s);  // never answers
  });
  struct Calls {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<int> count;
    std::vector<Status> status;
  };
  auto calls = std::make_shared<Calls>();
  auto record = [calls](int i) {
    return [calls, i](StatusOr<Loaded> r) {
      std::lock_guard<std::mutex> lock(calls->mu);
      ++calls->count[i];
      calls->status[i] = r.status();
      calls->cv.notify_all();
    };
  };
  auto all_called = [calls](size_t n) {
    std::unique_lock<std::mutex> lock(calls->mu);
    return calls->cv.wait_for(lock, 3s, [&] {
      for (size_t i = 0; i < n; ++i) {
        if (calls->count[i] == 0) return false;
      }
      return true;
    });
  };
  constexpr int kLoads = 20;
  calls->count.assign(kLoads + 1, 0);
  calls->status.resize(kLoads + 1);

  SUBCASE("destroyed by the caller") {
    auto loader = std::make_unique<HttpLoader>(server.Url(), 10000, 1 << 20);
    for (int i = 0; i < kLoads; ++i)
      loader->Load("ks", "slow" + std::to_string(i), kNoDeadline, record(i));
    REQUIRE(WaitUntil([&] { return requests.load() == kLoads; }));
    auto start = Clock::now();
    loader.reset();
    REQUIRE(all_called(kLoads));
    CHECK(Clock::now() - start < 1s);
  }
  SUBCASE("destroyed on its I/O thread, from the done of another load") {
    auto slot = std::make_shared<std::shared_ptr<Loader>>(
        std::make_shared<HttpLoader>(server.Url(), 10000, 1 << 20));
    for (int i = 0; i < kLoads; ++i)
      (*slot)->Load("ks", "slow" + std::to_string(i), kNoDeadline, record(i));
    REQUIRE(WaitUntil([&] { return requests.load() == kLoads; }));
    auto fast_done = record(kLoads);
    (*slot)->Load("ks", "fast", kNoDeadline, [slot, fast_done](StatusOr<Loaded> r) {
      slot->reset();  // the last reference: the loader dies on the I/O thread
      fast_done(std::move(r));
    });
    REQUIRE(all_called(kLoads + 1));
    std::lock_guard<std::mutex> lock(calls->mu);
    CHECK(calls->status[kLoads].ok());
  }
  std::this_thread::sleep_for(50ms);
  std::lock_guard<std::mutex> lock(calls->mu);
  for (int i = 0; i < kLoads; ++i) {
    CAPTURE(i);
    CHECK(calls->count[i] == 1);
    CHECK(calls->status[i].code() == StatusCode::kUnavailable);
  }
}

// Runs `n` GETs at once on `pool` and waits for all of them.
void RunExchanges(const std::shared_ptr<HttpConnectionPool>& pool, int n) {
  auto left = std::make_shared<std::atomic<int>>(n);
  for (int i = 0; i < n; ++i) {
    std::make_shared<HttpExchange>(pool, "/k" + std::to_string(i), 2000, 1 << 20,
                                   [left](StatusOr<Loaded> r) {
                                     CHECK(r.ok());
                                     --*left;
                                   })
        ->Start();
  }
  REQUIRE(WaitUntil([&] { return left->load() == 0; }));
}

TEST_CASE(
    "HttpConnectionPool: at most max_idle_connections are kept, each closed after "
    "idle_timeout") {
  std::atomic<int> in_request{0};
  std::atomic<int> closed{0};
  TestHttpServer server([&](TestConnection& c) {
    c.ReadRequest();
    ++in_request;
    WaitUntil([&] { return in_request.load() == 3; });  // three connections at once
    c.Write(Response200("v"));
    if (c.WaitClosed(10s)) ++closed;
  });
  HttpPoolOptions options;
  options.max_idle_connections = 1;
  options.idle_timeout = 300ms;
  auto pool = HttpConnectionPool::Create(ParseHttpLoaderUrl(server.Url()).value(), options);
  RunExchanges(pool, 3);
  CHECK(server.connections() == 3);
  // Two are closed as they come back (the pool keeps one); the third after its idle time.
  CHECK(WaitUntil([&] { return closed.load() == 2; }, 1s));
  auto back = Clock::now();
  REQUIRE(WaitUntil([&] { return closed.load() == 3; }, 3s));
  CHECK(Clock::now() - back >= 200ms);
  pool->Shutdown(UnavailableError("test over"));
}

TEST_CASE("HttpConnectionPool: an idle connection is reused until idle_timeout, not after") {
  TestHttpServer server(AlwaysAnswer(Response200("v")));
  HttpPoolOptions options;
  options.idle_timeout = 300ms;
  auto pool = HttpConnectionPool::Create(ParseHttpLoaderUrl(server.Url()).value(), options);
  RunExchanges(pool, 1);
  RunExchanges(pool, 1);
  CHECK(server.connections() == 1);
  std::this_thread::sleep_for(500ms);
  RunExchanges(pool, 1);
  CHECK(server.connections() == 2);
  pool->Shutdown(UnavailableError("test over"));
}

}  // namespace
}  // namespace podcache
