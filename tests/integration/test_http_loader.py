"""The HTTP loader of a real podcache process against small apps in this test: https with a test
CA given by SSL_CERT_FILE, a certificate for another name or from another CA, and a redirect.
(Limits, timeouts and connection reuse are tested in-process: tests/sidecar/http_loader_test.cc.)"""
import ssl
import threading
import unittest
from http.server import ThreadingHTTPServer

import grpc

from certs import CertFactory
from harness import Sidecar, cache_pb2, metric
from quiet_http import QuietHandler

KS = "users"


class App:
    """An HTTP(S) app on 127.0.0.1: GET /KEY answers `status` with `headers` and the body
    "value-of-KEY"; it records the paths asked and, over TLS, the SNI names received."""

    def __init__(self, status=200, headers=(), cert=None):
        self.paths, self.sni = [], []
        app = self

        class Handler(QuietHandler):
            def do_GET(self):
                app.paths.append(self.path)
                self.reply(status, ("value-of-" + self.path.lstrip("/")).encode(), headers)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*cert)
            ctx.sni_callback = lambda sock, name, c: self.sni.append(name)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class HttpLoaderTest(unittest.TestCase):
    def setUp(self):
        self.certs = CertFactory()
        self.ca, _ = self.certs.ca()
        # A certificate for the name "localhost" only (no IP address).
        self.app_cert = self.certs.cert("app", san="localhost")

    def sidecar(self, url, env=None):
        node = Sidecar("--keyspace", KS + ":max_bytes=4MiB,loader_timeout=2s,loader=" + url, env=env)
        self.addCleanup(node.stop)
        return node

    def app(self, **kw):
        app = App(**kw)
        self.addCleanup(app.stop)
        return app

    def get(self, node, key):
        return node.stub.Get(cache_pb2.GetRequest(keyspace=KS, key=key), timeout=5)

    def assertUnavailable(self, node, key, contains):
        with self.assertRaises(grpc.RpcError) as e:
            self.get(node, key)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE, e.exception.details())
        self.assertIn(contains, e.exception.details())

    def test_https_with_the_test_ca_in_ssl_cert_file(self):
        app = self.app(cert=self.app_cert)
        node = self.sidecar("https://localhost:%d/{key}" % app.port, env={"SSL_CERT_FILE": self.ca})
        r = self.get(node, b"k1")
        self.assertEqual((r.value, r.source), (b"value-of-k1", cache_pb2.SOURCE_LOADER))
        self.assertEqual(self.get(node, b"k1").source, cache_pb2.SOURCE_MAIN)
        self.assertEqual(app.paths, ["/k1"])
        self.assertIn("localhost", app.sni)  # SNI for a host name

    def test_https_refuses_a_certificate_of_another_ca(self):
        other_ca, _ = self.certs.ca("other")
        app = self.app(cert=self.app_cert)
        node = self.sidecar("https://localhost:%d/{key}" % app.port, env={"SSL_CERT_FILE": other_ca})
        self.assertUnavailable(node, b"k1", "certificate verify failed")
        self.assertEqual(app.paths, [])

    def test_https_refuses_a_certificate_for_another_name(self):
        app = self.app(cert=self.app_cert)
        # The certificate names localhost, the URL the address 127.0.0.1.
        node = self.sidecar("https://127.0.0.1:%d/{key}" % app.port, env={"SSL_CERT_FILE": self.ca})
        self.assertUnavailable(node, b"k1", "IP address mismatch")
        self.assertEqual(app.paths, [])

    def test_a_redirect_is_unavailable_not_followed_and_not_cached(self):
        target = self.app()
        app = self.app(status=302, headers=[("Location", "http://127.0.0.1:%d/stolen" % target.port)])
        node = self.sidecar("http://127.0.0.1:%d/{key}" % app.port)
        for _ in range(2):
            self.assertUnavailable(node, b"k1", "loader answered HTTP 302 (redirects are not followed)")
        self.assertEqual(app.paths, ["/k1", "/k1"])
        self.assertEqual(target.paths, [])
        self.assertEqual(metric(node, "podcache_loader_calls_total", keyspace=KS, code="UNAVAILABLE"), 2)


if __name__ == "__main__":
    unittest.main()
