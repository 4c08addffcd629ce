"""Stale-while-revalidate, stale-if-error (RFC 5861, from the loader's Cache-Control) and the
loader circuit breaker, seen through the app API of a real podcache process whose HTTP loader
starts failing."""
import threading
import unittest
from http.server import ThreadingHTTPServer

import grpc

from harness import Sidecar, cache_pb2, metric, wait_until
from quiet_http import QuietHandler

KS = "users"
CACHE_CONTROL = "max-age=1, stale-while-revalidate=1, stale-if-error=600"


class FlakyApp:
    """GET /KEY answers 200 "KEY-vN" (N counts the 200s) with CACHE_CONTROL, or 500 while
    `failing` is set; `calls` counts the requests."""

    def __init__(self):
        self.failing, self.calls, self.served = False, 0, 0
        app = self

        class Handler(QuietHandler):
            def do_GET(self):
                app.calls += 1
                if app.failing:
                    return self.reply(500, b"database down")
                app.served += 1
                body = ("%s-v%d" % (self.path.lstrip("/"), app.served)).encode()
                self.reply(200, body, [("Cache-Control", CACHE_CONTROL)])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class StaleTest(unittest.TestCase):
    def setUp(self):
        self.app = FlakyApp()
        self.addCleanup(self.app.stop)
        self.node = Sidecar(
            "--keyspace",
            KS + ":max_bytes=4MiB,loader_timeout=2s,loader_breaker_failures=3,"
            "loader_breaker_time=300ms,loader=http://127.0.0.1:%d/{key}" % self.app.port)
        self.addCleanup(self.node.stop)

    def get(self, key):
        return self.node.stub.Get(cache_pb2.GetRequest(keyspace=KS, key=key), timeout=5)

    def counter(self, name):
        return metric(self.node, "podcache_%s_total" % name, keyspace=KS)

    def test_a_loader_outage_is_served_stale_and_the_breaker_fails_fast(self):
        first = self.get(b"k")
        self.assertEqual((first.value, first.source), (b"k-v1", cache_pb2.SOURCE_LOADER))
        self.app.failing = True
        # Past max-age (1 s) every answer is the old value, marked stale, with a TTL of 1 ms: first
        # while revalidating, then (past the 1 s stale-while-revalidate window) because the load
        # failed; never an error.
        stale = wait_until(lambda: (lambda r: r if r.source == cache_pb2.SOURCE_STALE else None)(
            self.get(b"k")), timeout=5, what="a stale answer")
        self.assertEqual((stale.value, stale.ttl_ms), (b"k-v1", 1))

        def stale_if_error_served():
            r = self.get(b"k")
            self.assertEqual((r.value, r.source), (b"k-v1", cache_pb2.SOURCE_STALE))
            return self.counter("stale_if_error_served") >= 1
        wait_until(stale_if_error_served, timeout=5, what="a stale-if-error answer")
        self.assertGreaterEqual(self.counter("stale_served"), 2)
        self.assertGreaterEqual(self.counter("stale_revalidations"), 1)

        # Three failed loads opened the breaker: a key never cached fails at once, without a call.
        wait_until(lambda: self.get(b"k") and metric(
            self.node, "podcache_loader_breaker_open", keyspace=KS) == 1, timeout=5,
            what="the loader breaker to open")
        opened = self.node.log_line("loader circuit breaker opened")
        self.assertIsNotNone(opened)
        self.assertEqual((opened["level"], opened["keyspace"], opened["failures"]), ("warn", KS, 3))
        self.assertIn("500", opened["last_error"])
        calls = self.app.calls
        with self.assertRaises(grpc.RpcError) as e:
            self.get(b"never-cached")
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("keyspace 'users': loader circuit open after", e.exception.details())
        self.assertGreaterEqual(self.counter("loads_short_circuited"), 1)
        self.assertLessEqual(self.app.calls, calls + 1)  # at most one probe meanwhile

        # The app recovers: a probe closes the breaker and the refreshed value replaces the old.
        self.app.failing = False
        fresh = wait_until(lambda: (lambda r: r if r.source != cache_pb2.SOURCE_STALE else None)(
            self.get(b"k")), timeout=5, what="a fresh answer")
        self.assertEqual(fresh.value, b"k-v2")
        wait_until(lambda: self.node.log_line("loader circuit breaker closed"), timeout=5,
                   what="the breaker's closed log line")
        self.assertEqual(metric(self.node, "podcache_loader_breaker_open", keyspace=KS), 0)


if __name__ == "__main__":
    unittest.main()
