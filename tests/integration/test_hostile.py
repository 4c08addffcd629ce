"""Hostile and careless input, seen from outside the process: each test is the regression test of
one defect of issue 12 (the comment says what the old binary did)."""
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import grpc

from certs import PEER_NAME, CertFactory
from harness import (LoaderApp, Sidecar, cache_pb2, reserve_port, http_get, metric, run_podcache,
                     wait_until)
from podcache.peer.v1 import peer_pb2, peer_pb2_grpc
import health_pb2

INT64_MAX = 2**63 - 1


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write_temp(data, suffix=""):
    f = tempfile.NamedTemporaryFile("wb", suffix=suffix, delete=False)
    f.write(data)
    f.close()
    return f.name


def raw_call(node, method, payload, metadata=None):
    """Calls /podcache.v1.Cache/<method> with raw request bytes: (code, details)."""
    call = node.channel.unary_unary("/podcache.v1.Cache/" + method, request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)
    try:
        call(payload, timeout=5, metadata=metadata)
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        return e.code(), e.details()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int([x for x in f if x.startswith("VmRSS:")][0].split()[1])


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ConfigurationTest(unittest.TestCase):
    """Broken configuration stops the sidecar with exit 2 and a message naming the culprit."""

    def keyspaces_file(self, n, max_bytes, max_value_bytes):
        """A config file declaring keyspaces k0..k<n-1>; removed after the test."""
        text = "keyspaces:\n" + "".join("  - {name: k%d, max_bytes: %s, max_value_bytes: %s}\n"
                                        % (i, max_bytes, max_value_bytes) for i in range(n))
        path = write_temp(text.encode(), ".yaml")
        self.addCleanup(os.unlink, path)
        return path

    def test_broken_api_token_file_never_turns_authentication_off(self):
        # Old: an empty file or a directory silently disabled the token, even with --api-token.
        empty, big = write_temp(b""), write_temp(b"x" * 5000)
        self.addCleanup(os.unlink, empty)
        self.addCleanup(os.unlink, big)
        for path in (empty, big, tempfile.gettempdir(), "/nonexistent/token"):
            for extra in ((), ("--api-token", "also-set")):
                code, out = run_podcache("--keyspace", "a", "--api-token-file", path, *extra)
                self.assertEqual(code, 2, out)
                self.assertIn("api_token", out)
                if not extra:
                    self.assertIn(path, out)

    def test_config_that_is_a_directory_exits_2(self):
        # Old: an uncaught exception, SIGABRT, exit 134.
        code, out = run_podcache("--config", tempfile.gettempdir())
        self.assertEqual(code, 2, out)
        self.assertIn("is not a regular file", out)

    def test_max_message_bytes_of_2gib_or_more_is_refused(self):
        # Old: accepted and truncated to an int; every call then failed.
        for value in ("2GiB", "4GiB", "2147483648"):
            code, out = run_podcache("--keyspace", "a", "--max-message-bytes", value)
            self.assertEqual(code, 2, out)
            self.assertIn("max_message_bytes", out)

    def test_duplicate_keyspace_names_exit_2(self):
        # Old: the last one won.
        code, out = run_podcache("--keyspace", "a:max_bytes=8MiB", "--keyspace", "a:max_bytes=16MiB")
        self.assertEqual(code, 2, out)
        self.assertIn("declared twice", out)

    def test_undefined_variable_in_yaml_is_an_error_naming_it(self):
        # Old: ${VAR} of an unset variable silently became "".
        path = write_temp(b"http_listen: ${PODCACHE_NO_SUCH_VAR}:7072\nkeyspaces:\n  - name: a\n", ".yaml")
        self.addCleanup(os.unlink, path)
        code, out = run_podcache("--config", path)
        self.assertEqual(code, 2, out)
        self.assertIn("${PODCACHE_NO_SUCH_VAR} is not set", out)

    def test_podcache_keyspace_declares_two_keyspaces(self):
        # Old: the whole variable was one spec, "a:max_bytes=8MiB;b" failed.
        s = Sidecar(env={"PODCACHE_KEYSPACE": "a:max_bytes=8MiB;b:max_bytes=4MiB"})
        self.addCleanup(s.stop)
        names = [k.name for k in s.stub.Stats(cache_pb2.StatsRequest(), timeout=5).keyspaces]
        self.assertEqual(names, ["a", "b"])

    def test_small_keyspace_names_the_default_that_does_not_fit(self):
        # Old: "max_value_bytes must be in [1, max_bytes/4]" about a field the user never set.
        code, out = run_podcache("--keyspace", "tiny:max_bytes=1MiB")
        self.assertEqual(code, 2, out)
        self.assertIn("default max_value_bytes of 1MiB", out)

    def test_too_many_keyspaces_are_refused(self):
        # Old: 10,000 keyspaces were accepted and the idle sidecar used 40-60% of a CPU.
        code, out = run_podcache("--config", self.keyspaces_file(10000, "64KiB", "16KiB"))
        self.assertEqual(code, 2, out)
        self.assertIn("at most 1000 per node", out)

    def test_a_thousand_idle_keyspaces_leave_the_sidecar_idle(self):
        s = Sidecar("--config", self.keyspaces_file(1000, "1MiB", "64KiB"), "--reap-interval", "100ms")
        self.addCleanup(s.stop)
        before = cpu_seconds(s.proc.pid)
        time.sleep(2)
        used = cpu_seconds(s.proc.pid) - before
        self.assertLess(used, 0.5, "CPU seconds in 2 s of idling")  # one reaper, bounded per tick


class AppApiTest(unittest.TestCase):
    def setUp(self):
        self.app = LoaderApp("--delay-ms", "1")
        self.addCleanup(self.app.stop)

    def sidecar(self, *args, **kw):
        s = Sidecar(*args, **kw)
        self.addCleanup(s.stop)
        return s

    def test_getmany_key_cap_is_checked_before_any_work(self):
        # Old: 1,000,000 keys ran every lookup and built a 70 MB response; RSS went over 1 GB.
        s = self.sidecar("--keyspace", "users:max_bytes=8MiB,loader=" + self.app.url)
        keys = [b"%07d" % i for i in range(1_000_000)]
        rss_before = rss_kib(s.proc.pid)
        with self.assertRaises(grpc.RpcError) as e:
            s.stub.GetMany(cache_pb2.GetManyRequest(keyspace="users", keys=keys), timeout=30)
        self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("max_keys_per_call=10000", e.exception.details())
        self.assertEqual(metric(s, "podcache_gets_total", keyspace="users"), 0)
        self.assertLess(rss_kib(s.proc.pid) - rss_before, 200_000)
        with self.assertRaises(grpc.RpcError) as e:
            s.stub.GetMany(cache_pb2.GetManyRequest(keyspace="users", keys=keys[:10001]), timeout=30)
        self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        r = s.stub.GetMany(cache_pb2.GetManyRequest(keyspace="users", keys=keys[:3]), timeout=30)
        self.assertEqual([x.value for x in r.results], [b"value-of-0000000", b"value-of-0000001", b"value-of-0000002"])

    def test_getmany_response_stays_within_max_message_bytes(self):
        # Old: values were copied into the response and the whole call failed at gRPC's send limit.
        s = self.sidecar("--keyspace", "blobs:max_bytes=64MiB,max_value_bytes=512KiB",
                         "--max-message-bytes", "2MiB")
        blob = b"b" * (500 << 10)
        for i in range(8):
            s.stub.Set(cache_pb2.SetRequest(keyspace="blobs", key=b"k%d" % i, value=blob), timeout=5)
        r = s.stub.GetMany(cache_pb2.GetManyRequest(keyspace="blobs", keys=[b"k%d" % i for i in range(8)]),
                           timeout=5)
        ok = [x for x in r.results if x.code == 0]
        over = [x for x in r.results if x.code != 0]
        self.assertEqual(len(r.results), 8)
        self.assertGreaterEqual(len(ok), 3)
        self.assertTrue(all(x.value == blob for x in ok))
        self.assertTrue(over)
        for x in over:
            self.assertEqual(x.code, grpc.StatusCode.RESOURCE_EXHAUSTED.value[0])
            self.assertIn("max_message_bytes", x.message)
        self.assertLessEqual(r.ByteSize(), 2 << 20)

    def test_set_with_int64_max_ttl_keeps_the_value(self):
        # Old: now + ttl overflowed (undefined behaviour); the call said OK and the value was gone.
        s = self.sidecar("--keyspace", "aside:max_bytes=8MiB")
        for ttl in (INT64_MAX, INT64_MAX - 1000, 2**62):
            s.stub.Set(cache_pb2.SetRequest(keyspace="aside", key=b"k", value=b"v%d" % ttl, ttl_ms=ttl), timeout=5)
            r = s.stub.Get(cache_pb2.GetRequest(keyspace="aside", key=b"k"), timeout=5)
            self.assertEqual(r.value, b"v%d" % ttl)
            self.assertGreater(r.ttl_ms, 10**12)

    def test_undecodable_requests_get_invalid_argument_with_a_message(self):
        # Old: UNIMPLEMENTED with an empty message.
        s = self.sidecar("--keyspace", "users:max_bytes=8MiB,loader=" + self.app.url)
        not_utf8 = b"\x0a\x02\xff\xfe\x12\x01k"  # keyspace = b"\xff\xfe", key = b"k"
        for method in ("Get", "GetMany", "Set", "Delete", "InvalidateKeyspace", "Stats"):
            code, details = raw_call(s, method, not_utf8 if method != "GetMany" else b"\x0a\x02\xff\xfe")
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, method)
            self.assertIn("malformed podcache.v1.", details)
        code, details = raw_call(s, "Get", b"\xff\xff\xff")
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        code, details = raw_call(s, "Get", b"\x0a\x03a b\x12\x01k")  # UTF-8, but not a keyspace name
        self.assertEqual((code, details), (grpc.StatusCode.INVALID_ARGUMENT,
                                           "a keyspace name is 1-64 characters of [A-Za-z0-9_.-]"))
        self.assertEqual(metric(s, "podcache_api_requests_total", method="Get", code="INVALID_ARGUMENT"), 3)

    def test_bearer_scheme_is_case_insensitive(self):
        # Old: only "Bearer" was accepted (RFC 7235: the scheme is case-insensitive).
        s = self.sidecar("--keyspace", "users:max_bytes=8MiB,loader=" + self.app.url,
                         env={"PODCACHE_API_TOKEN": "s3cret"})
        req = cache_pb2.GetRequest(keyspace="users", key=b"t")
        for header in ("bearer s3cret", "BEARER s3cret", "Bearer   s3cret"):
            self.assertEqual(s.stub.Get(req, timeout=5, metadata=[("authorization", header)]).value,
                             b"value-of-t")
        for header in ("Bearers3cret", "Basic s3cret", "bearer s3cret2", "bearer"):
            with self.assertRaises(grpc.RpcError) as e:
                s.stub.Get(req, timeout=5, metadata=[("authorization", header)])
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED, header)

    def test_http_port_answers_get_and_head_only(self):
        # Old: TRACE answered 200 and echoed the request headers, Authorization included.
        s = self.sidecar("--keyspace", "users:max_bytes=8MiB,loader=" + self.app.url)
        for method in ("TRACE", "OPTIONS", "POST", "PUT", "DELETE"):
            with socket.create_connection(("127.0.0.1", s.http_port), timeout=5) as c:
                c.sendall(b"%s /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer leak-me\r\n"
                          b"Content-Length: 0\r\nConnection: close\r\n\r\n" % method.encode())
                reply = b""
                while chunk := c.recv(65536):
                    reply += chunk
            self.assertTrue(reply.startswith(b"HTTP/1.1 405"), (method, reply[:200]))
            self.assertIn(b"Allow: GET, HEAD", reply)
            self.assertNotIn(b"leak-me", reply)
        with socket.create_connection(("127.0.0.1", s.http_port), timeout=5) as c:
            c.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := c.recv(65536):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertEqual(body, b"")
        self.assertEqual(s.http("/healthz"), (200, b"ok\n"))

    def test_grpc_health_answers_for_the_cache_service(self):
        # Old: NOT_FOUND for "podcache.v1.Cache", so grpc_health_probe -service failed.
        s = self.sidecar("--keyspace", "users:max_bytes=8MiB,loader=" + self.app.url)
        check = s.channel.unary_unary("/grpc.health.v1.Health/Check",
                                      request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                      response_deserializer=health_pb2.HealthCheckResponse.FromString)
        for service in ("", "podcache.v1.Cache"):
            self.assertEqual(check(health_pb2.HealthCheckRequest(service=service), timeout=5).status,
                             health_pb2.HealthCheckResponse.SERVING)


class PeerTest(unittest.TestCase):
    """A holder of a cluster certificate, and handshakes without one."""

    def setUp(self):
        self.certs = CertFactory()
        self.ca = self.certs.ca("ca")
        self.app = LoaderApp("--delay-ms", "1")
        self.addCleanup(self.app.stop)

    def node(self, name, listen, peers=None, cert=None, extra=()):
        cert, key = cert or self.certs.cert(name)
        n = Sidecar("--keyspace", "users:max_bytes=8MiB,loader=" + self.app.url, "--peer-listen", listen,
                    "--advertise", listen, "--peers", ",".join(peers or [listen, "127.0.0.1:1"]),
                    "--tls-cert", cert, "--tls-key", key, "--tls-ca", self.ca[0], *extra)
        self.addCleanup(n.stop)
        return n

    def peer(self, listen, cert=None):
        cert, key = cert or self.certs.cert("attacker")
        creds = grpc.ssl_channel_credentials(root_certificates=read(self.ca[0]), private_key=read(key),
                                             certificate_chain=read(cert))
        channel = grpc.secure_channel(listen, creds, options=[("grpc.ssl_target_name_override", PEER_NAME)])
        self.addCleanup(channel.close)
        return peer_pb2_grpc.PeerStub(channel)

    def test_a_peer_cannot_disable_invalidation(self):
        # Old: AdvanceGeneration(2^32-1) made the next InvalidateKeyspace wrap to 0: a no-op for good.
        listen = "127.0.0.1:%d" % reserve_port()
        node = self.node("n0", listen)
        peer = self.peer(listen)
        peer.AdvanceGeneration(peer_pb2.AdvanceGenerationRequest(keyspace="users", generation=2**32 - 1), timeout=5)
        node.stub.Get(cache_pb2.GetRequest(keyspace="users", key=b"k"), timeout=5)
        r = node.stub.InvalidateKeyspace(cache_pb2.InvalidateKeyspaceRequest(keyspace="users"), timeout=5)
        self.assertEqual(r.generation, 2**32)
        got = node.stub.Get(cache_pb2.GetRequest(keyspace="users", key=b"k"), timeout=5)
        self.assertEqual(got.source, cache_pb2.SOURCE_LOADER)  # the invalidation took effect
        for absurd in (2**64 - 1, 2**53 + 1):
            with self.assertRaises(grpc.RpcError) as e:
                peer.AdvanceGeneration(peer_pb2.AdvanceGenerationRequest(keyspace="users", generation=absurd),
                                       timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(metric(node, "podcache_generations_refused_total", keyspace="users"), 2)
        self.assertIn('"msg":"peer generation refused"', node.output())
        r = node.stub.InvalidateKeyspace(cache_pb2.InvalidateKeyspaceRequest(keyspace="users"), timeout=5)
        self.assertEqual(r.generation, 2**32 + 1)

    def test_undecodable_peer_requests_get_invalid_argument(self):
        # Old: UNIMPLEMENTED with an empty message, as on the app API.
        listen = "127.0.0.1:%d" % reserve_port()
        self.node("n0", listen)
        cert, key = self.certs.cert("raw")
        creds = grpc.ssl_channel_credentials(root_certificates=read(self.ca[0]), private_key=read(key),
                                             certificate_chain=read(cert))
        channel = grpc.secure_channel(listen, creds, options=[("grpc.ssl_target_name_override", PEER_NAME)])
        self.addCleanup(channel.close)
        for method in ("Get", "GetBatch", "Set", "Delete", "DropHot", "AdvanceGeneration"):
            call = channel.unary_unary("/podcache.peer.v1.Peer/" + method, request_serializer=lambda b: b,
                                       response_deserializer=lambda b: b)
            with self.assertRaises(grpc.RpcError) as e:
                call(b"\x0a\x02\xff\xfe", timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, method)
            self.assertIn("malformed podcache.peer.v1.", e.exception.details())

    def test_peer_set_with_int64_max_ttl_and_an_oversized_batch(self):
        # Old: the value was gone at once (overflow); a batch of any size ran every lookup.
        listen = "127.0.0.1:%d" % reserve_port()
        node = self.node("n0", listen)
        peer = self.peer(listen)
        peer.Set(peer_pb2.SetRequest(keyspace="users", key=b"forever", value=b"v", ttl_ms=INT64_MAX), timeout=5)
        self.assertEqual(peer.Get(peer_pb2.GetRequest(keyspace="users", key=b"forever"), timeout=5).value, b"v")
        with self.assertRaises(grpc.RpcError) as e:
            peer.GetBatch(peer_pb2.GetBatchRequest(keyspace="users", keys=[b"%d" % i for i in range(10001)]),
                          timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertEqual(metric(node, "podcache_gets_total", keyspace="users"), 1)

    def test_handshake_without_a_certificate_is_counted_and_logged_as_json(self):
        # Old: gRPC refused it before podcache's verifier: the counter stayed 0 and gRPC wrote plain
        # text lines to stderr.
        listen = "127.0.0.1:%d" % reserve_port()
        node = self.node("n0", listen)
        context = ssl.create_default_context(cafile=self.ca[0])
        context.check_hostname = False
        context.set_alpn_protocols(["h2"])
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", int(listen.rsplit(":", 1)[1])), timeout=5) as raw:
                try:
                    with context.wrap_socket(raw, server_hostname=PEER_NAME) as tls:
                        tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                        tls.recv(100)
                except (ssl.SSLError, OSError):
                    pass
        wait_until(lambda: metric(node, "podcache_peer_tls_rejections_total", reason="no_certificate") >= 3,
                   what="no_certificate counted")
        plain = peer_pb2_grpc.PeerStub(grpc.insecure_channel(listen))
        with self.assertRaises(grpc.RpcError):
            plain.Get(peer_pb2.GetRequest(keyspace="users", key=b"k"), timeout=3)
        node.terminate()
        node.proc.wait(10)
        lines = node.output().splitlines()
        for line in lines:
            json.loads(line)  # every line podcache prints is JSON
        refused = [json.loads(x) for x in lines if "peer TLS handshake refused" in x]
        # One line per reason (rate limited), not one per handshake.
        self.assertEqual([x["reason"] for x in refused], ["no_certificate"])

    def test_certificate_usage_is_checked_on_both_sides(self):
        # Old: a certificate with only serverAuth was accepted as a client.
        listen = "127.0.0.1:%d" % reserve_port()
        node = self.node("n0", listen)
        server_only = self.peer(listen, self.certs.cert("server-only", eku="serverAuth"))
        with self.assertRaises(grpc.RpcError) as e:
            server_only.Get(peer_pb2.GetRequest(keyspace="users", key=b"k"), timeout=3)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(metric(node, "podcache_peer_tls_rejections_total", reason="wrong_usage"), 1)
        self.assertEqual(metric(node, "podcache_gets_total", keyspace="users"), 0)
        # As a client, a node refuses a peer whose server certificate has only clientAuth.
        listens = ["127.0.0.1:%d" % reserve_port() for _ in range(2)]
        a = self.node("a", listens[0], listens)
        self.node("b", listens[1], listens, cert=self.certs.cert("client-only", eku="clientAuth"))
        for i in range(40):  # some of these keys are b's: a must not get them from b
            r = a.stub.Get(cache_pb2.GetRequest(keyspace="users", key=b"u%d" % i), timeout=5)
            self.assertNotEqual(r.source, cache_pb2.SOURCE_PEER)
        self.assertGreaterEqual(metric(a, "podcache_peer_tls_rejections_total", reason="wrong_usage"), 1)

    def test_a_key_that_does_not_match_the_certificate_is_refused_at_start(self):
        # Old: the startup check promised it but never compared them; every handshake then failed.
        cert, _ = self.certs.cert("one")
        _, other_key = self.certs.cert("two")
        listen = "127.0.0.1:%d" % reserve_port()
        code, out = run_podcache("--keyspace", "a", "--peer-listen", listen, "--advertise", listen,
                                 "--peers", listen, "--tls-cert", cert, "--tls-key", other_key,
                                 "--tls-ca", self.ca[0], "--http-listen", "127.0.0.1:%d" % reserve_port(),
                                 "--api-listen", "127.0.0.1:%d" % reserve_port())
        self.assertEqual(code, 1, out)
        self.assertIn("does not match the certificate", out)


if __name__ == "__main__":
    unittest.main()
