"""The podcache process: health, reflection, HTTP pages, metrics, signals, configuration, tools."""
import json
import os
import re
import signal
import stat
import tempfile
import threading
import time
import unittest
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2

from harness import (LoaderApp, Sidecar, cache_pb2, reserve_port, loader_pb2, loader_pb2_grpc, run_podcache,
                     wait_until)
import health_pb2
import reflection_pb2

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? '
                    r'(-?[0-9.e+]+|\+Inf|NaN)$')


def parse_prometheus(text):
    """Strict parse of the text format: returns {(name, labels): value}; fails on any bad line,
    on a sample without a TYPE, and on a family whose lines are not together."""
    samples, types, seen_families, current = {}, {}, [], None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, "family declared twice: " + name
            types[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, "bad metrics line: %r" % line
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in types \
            else name
        assert family in types, "sample without TYPE: " + line
        if family != current:
            assert family not in seen_families, "family not contiguous: " + family
            seen_families.append(family)
            current = family
        samples[(name, m.group(2) or "")] = float(m.group(5))
    return samples


class ProcessTest(unittest.TestCase):
    def setUp(self):
        self.app = LoaderApp("--delay-ms", "5", "--slow-ms", "1000")
        self.addCleanup(self.app.stop)

    def sidecar(self, *args, **kw):
        s = Sidecar(*args, **kw)
        self.addCleanup(s.stop)
        return s

    def users(self, extra=""):
        return "users:max_bytes=8MiB,loader_timeout=3s,loader=" + self.app.url + extra

    def test_grpc_health_serving(self):
        s = self.sidecar("--keyspace", self.users())
        check = s.channel.unary_unary("/grpc.health.v1.Health/Check",
                                      request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                      response_deserializer=health_pb2.HealthCheckResponse.FromString)
        self.assertEqual(check(health_pb2.HealthCheckRequest(), timeout=5).status,
                         health_pb2.HealthCheckResponse.SERVING)
        r = s.ctl("health")
        self.assertEqual((r.returncode, r.stdout), (0, b"SERVING\n"))

    def test_reflection_lists_and_describes_the_api(self):
        s = self.sidecar("--keyspace", self.users())
        info = s.channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol="podcache.v1.Cache")]
        responses = list(info(iter(requests), timeout=5))
        services = {x.name for x in responses[0].list_services_response.service}
        self.assertIn("podcache.v1.Cache", services)
        self.assertIn("grpc.health.v1.Health", services)
        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in responses[1].file_descriptor_response.file_descriptor_proto]
        cache = [f for f in files if f.name == "podcache/v1/cache.proto"][0]
        self.assertEqual([m.name for m in cache.service[0].method],
                         ["Get", "GetMany", "Set", "Delete", "InvalidateKeyspace", "Stats"])

    def test_http_pages_and_metrics_after_traffic(self):
        s = self.sidecar("--keyspace", self.users())
        self.assertEqual(s.http("/healthz"), (200, b"ok\n"))
        self.assertEqual(s.http("/readyz"), (200, b"ready\n"))
        self.assertEqual(s.http("/nope")[0], 404)
        for key in (b"a", b"a", b"missing-b"):
            try:
                s.stub.Get(cache_pb2.GetRequest(keyspace="users", key=key), timeout=5)
            except grpc.RpcError:
                pass
        status, body = s.http("/metrics")
        self.assertEqual(status, 200)
        m = parse_prometheus(body.decode())
        users = '{keyspace="users"}'
        self.assertEqual(m[("podcache_gets_total", users)], 3)
        self.assertEqual(m[("podcache_loads_total", users)], 2)
        self.assertEqual(m[("podcache_not_found_total", users)], 1)
        self.assertEqual(m[("podcache_store_items", '{keyspace="users",store="main"}')], 1)  # no negative_ttl
        self.assertEqual(m[("podcache_api_requests_total", '{method="Get",code="OK"}')], 2)
        self.assertEqual(m[("podcache_api_requests_total", '{method="Get",code="NOT_FOUND"}')], 1)
        self.assertEqual(m[("podcache_api_request_duration_seconds_count", '{method="Get"}')], 3)
        self.assertEqual(m[("podcache_loader_calls_total", '{keyspace="users",code="OK"}')], 1)
        self.assertEqual(m[("podcache_loader_calls_total", '{keyspace="users",code="NOT_FOUND"}')], 1)
        self.assertEqual(m[("podcache_build_info", '{version="0.1.0"}')], 1)
        self.assertEqual(m[("podcache_ready", "")], 1)
        self.assertNotIn("missing-b", body.decode())  # never a key in metrics
        debug = json.loads(s.http("/debug/keyspaces")[1])
        self.assertEqual(debug[0]["name"], "users")
        self.assertEqual(debug[0]["counters"]["gets"], 3)
        self.assertEqual(debug[0]["config"]["loader"]["kind"], "http")

    def test_logs_are_json_lines_without_keys(self):
        s = self.sidecar("--keyspace", self.users())
        s.stub.Get(cache_pb2.GetRequest(keyspace="users", key=b"secret-key-123"), timeout=5)
        s.terminate()
        s.proc.wait(10)
        output = s.output()
        lines = []
        for x in output.splitlines():
            try:
                lines.append(json.loads(x))
            except ValueError:
                self.fail("not a JSON line: %r; whole log:\n%s" % (x, output))
        self.assertTrue(all({"ts", "level", "msg"} <= set(x) for x in lines))
        self.assertEqual([x["msg"] for x in lines[:2]], ["listening", "podcache ready"])
        self.assertEqual(lines[0]["api"], s.api)
        self.assertNotIn("secret-key-123", s.output())

    def terminate_during_a_load(self, grace, key):
        """A sidecar with shutdown_grace `grace`, sent SIGTERM while a Get of `key` is loading:
        the sidecar, the Get's future and when SIGTERM was sent."""
        s = self.sidecar("--keyspace", self.users(), "--shutdown-grace", grace)
        in_flight = s.stub.Get.future(cache_pb2.GetRequest(keyspace="users", key=key), timeout=10)
        wait_until(lambda: self.app.calls("users", key.decode()) == 1, what="the load to start")
        start = time.monotonic()
        s.terminate()
        return s, in_flight, start

    def test_sigterm_drains_calls_in_flight_and_exits_0(self):
        s, in_flight, start = self.terminate_during_a_load("5s", b"slow-1")
        wait_until(lambda: s.http("/readyz")[0] == 503, timeout=2, what="not ready")
        with self.assertRaises(grpc.RpcError) as e:
            grpc_channel = grpc.insecure_channel(s.api)
            from harness import cache_pb2_grpc
            cache_pb2_grpc.CacheStub(grpc_channel).Get(cache_pb2.GetRequest(keyspace="users", key=b"new"), timeout=2)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(in_flight.result().value, b"value-of-slow-1")
        self.assertEqual(s.proc.wait(10), 0)
        self.assertLess(time.monotonic() - start, 5)
        self.assertIn('"msg":"stopped"', s.output())

    def test_sigterm_cancels_calls_that_outlive_the_grace(self):
        s, in_flight, start = self.terminate_during_a_load("300ms", b"slow-2")
        self.assertEqual(s.proc.wait(10), 0)
        with self.assertRaises(grpc.RpcError):
            in_flight.result()
        self.assertLess(time.monotonic() - start, 3)

    def test_second_signal_exits_at_once(self):
        s = self.sidecar("--keyspace", self.users(), "--shutdown-grace", "30s")
        in_flight = s.stub.Get.future(cache_pb2.GetRequest(keyspace="users", key=b"slow-3"), timeout=60)
        wait_until(lambda: self.app.calls("users", "slow-3") == 1, what="the load to start")
        s.terminate()
        wait_until(lambda: s.http("/readyz")[0] == 503, timeout=2, what="not ready")
        s.proc.send_signal(signal.SIGINT)
        self.assertEqual(s.proc.wait(5), 1)
        self.assertIn("second signal", s.output())
        in_flight.cancel()

    def test_unix_socket_with_file_mode(self):
        path = os.path.join(tempfile.mkdtemp(), "podcache.sock")
        s = self.sidecar("--keyspace", self.users(), "--api-socket-mode", "0600", api_listen="unix:" + path)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode))
        self.assertEqual(s.stub.Get(cache_pb2.GetRequest(keyspace="users", key=b"u"), timeout=5).value,
                         b"value-of-u")
        r = s.ctl("get", "users", "u")
        self.assertEqual((r.returncode, r.stdout), (0, b"value-of-u"))

    def test_bearer_token(self):
        s = self.sidecar("--keyspace", self.users(), env={"PODCACHE_API_TOKEN": "s3cret"})
        req = cache_pb2.GetRequest(keyspace="users", key=b"t")
        for metadata in ([], [("authorization", "Bearer wrong!")], [("authorization", "s3cret")]):
            with self.assertRaises(grpc.RpcError) as e:
                s.stub.Get(req, timeout=5, metadata=metadata)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertEqual(s.stub.Get(req, timeout=5, metadata=[("authorization", "Bearer s3cret")]).value,
                         b"value-of-t")
        self.assertEqual(s.ctl("--token", "s3cret", "get", "users", "t").returncode, 0)
        self.assertEqual(s.ctl("get", "users", "t").returncode, 3)

    def test_grpc_loader(self):
        loaded = set()

        class AppLoader(loader_pb2_grpc.LoaderServicer):
            def Load(self, request, context):
                if request.key.startswith(b"missing"):
                    return loader_pb2.LoadResponse(found=False)
                if request.key.startswith(b"gone"):
                    context.abort(grpc.StatusCode.NOT_FOUND, "no")
                if request.key.startswith(b"fail"):
                    context.abort(grpc.StatusCode.INTERNAL, "database down")
                if request.key.startswith(b"stale"):  # lives 1 ms, may be served stale for a minute
                    if request.key in loaded:  # ... and every later load fails
                        context.abort(grpc.StatusCode.INTERNAL, "database down")
                    loaded.add(request.key)
                    return loader_pb2.LoadResponse(found=True, value=b"old", ttl_ms=1, stale_if_error_ms=60000)
                return loader_pb2.LoadResponse(found=True, value=b"grpc:" + request.keyspace.encode() + b"/" +
                                               request.key, ttl_ms=60000)

        server = grpc.server(futures.ThreadPoolExecutor(4))
        loader_pb2_grpc.add_LoaderServicer_to_server(AppLoader(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self.addCleanup(server.stop, 0)
        s = self.sidecar("--keyspace", "g:max_bytes=4MiB,loader=grpc://127.0.0.1:%d" % port)
        r = s.stub.Get(cache_pb2.GetRequest(keyspace="g", key=b"k"), timeout=5)
        self.assertEqual((r.value, r.source), (b"grpc:g/k", cache_pb2.SOURCE_LOADER))
        self.assertTrue(59_000 < r.ttl_ms <= 60_000)
        for key, code in ((b"missing", grpc.StatusCode.NOT_FOUND), (b"gone", grpc.StatusCode.NOT_FOUND),
                          (b"fail", grpc.StatusCode.UNAVAILABLE)):
            with self.assertRaises(grpc.RpcError) as e:
                s.stub.Get(cache_pb2.GetRequest(keyspace="g", key=key), timeout=5)
            self.assertEqual(e.exception.code(), code, key)
        # stale_if_error_ms: once the value expired, a failed load answers the old value, stale.
        self.assertEqual(s.stub.Get(cache_pb2.GetRequest(keyspace="g", key=b"stale-fail"), timeout=5).value, b"old")
        r = wait_until(lambda: (lambda r: r if r.source == cache_pb2.SOURCE_STALE else None)(
            s.stub.Get(cache_pb2.GetRequest(keyspace="g", key=b"stale-fail"), timeout=5)), what="a stale answer")
        self.assertEqual((r.value, r.ttl_ms), (b"old", 1))

    def test_podcachectl_exit_codes(self):
        s = self.sidecar("--keyspace", self.users(), "--keyspace", "aside")
        get = s.ctl("-v", "get", "users", "c1")
        self.assertEqual((get.returncode, get.stdout), (0, b"value-of-c1"))
        self.assertIn(b"source=loader", get.stderr)
        self.assertEqual(s.ctl("get", "users", "missing-1").returncode, 1)
        self.assertEqual(s.ctl("get", "nokeyspace", "k").returncode, 1)
        self.assertEqual(s.ctl("set", "aside", "k", "-", "--ttl", "1m", input=b"from stdin").returncode, 0)
        self.assertEqual(s.ctl("get", "aside", "k").stdout, b"from stdin")
        self.assertEqual(s.ctl("del", "aside", "k").returncode, 0)
        self.assertEqual(s.ctl("get", "aside", "k").returncode, 1)
        self.assertEqual(s.ctl("set", "aside", "", "v").returncode, 2)
        self.assertEqual(s.ctl("set", "aside", "k", "v", "--ttl", "soon").returncode, 2)
        stats = s.ctl("stats", "users")
        self.assertEqual(stats.returncode, 0)
        self.assertIn(b"\n  gets=2\n", stats.stdout)
        self.assertIn(b"\n  loads=2\n", stats.stdout)
        self.assertEqual(s.ctl("invalidate", "users").stdout, b"generation 1\n")
        self.assertEqual(s.ctl("nosuchcommand").returncode, 2)
        down = subprocess_run_ctl("127.0.0.1:%d" % reserve_port(), "get", "users", "k")
        self.assertEqual(down, 3)

    def test_bad_configuration_exits_2_naming_the_field(self):
        cases = [
            ("keyspaces:\n  - name: users\n    max_bytes: 12XB\n", 'keyspaces[users]: max_bytes: "12XB" is not a size'),
            ("keyspaces:\n  - name: users\n    eviction: random\n", 'eviction: "random" is not'),
            ("api_listen: 0.0.0.0:7070\nkeyspaces:\n  - name: a\n", "api_allow_remote"),
            ("keyspaces:\n  - name: a\n    hot_share: 2\n", "hot_share"),
            ("keyspaces:\n  - name: a\n    loader: {http: 'http://x/nokey'}\n", "no {key} placeholder"),
            ("shutdown_grace: -1s\nkeyspaces:\n  - name: a\n", "shutdown_grace"),
            ("colour: blue\n", 'unknown key "colour"'),
            ("", "no keyspaces"),
        ]
        for text, message in cases:
            with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                f.write(text)
                f.flush()
                code, out = run_podcache("--config", f.name)
                self.assertEqual(code, 2, out)
                self.assertIn(message, out)
        code, out = run_podcache("--keyspace", "a", "--api-listen", "10.0.0.1:7070")
        self.assertEqual(code, 2)
        self.assertIn("is not a loopback address", out)
        code, out = run_podcache("--keyspace", "a", env={"PODCACHE_MAX_MESSAGE_BYTES": "lots"})
        self.assertEqual(code, 2)
        self.assertIn('max_message_bytes: "lots"', out)
        code, out = run_podcache("--help")
        self.assertEqual(code, 0)
        for option in ("--api-listen", "--http-listen", "--keyspace", "--config", "PODCACHE_API_LISTEN"):
            self.assertIn(option, out)
        self.assertEqual(run_podcache("--version"), (0, "podcache 0.1.0\n"))

    def test_port_in_use_fails_to_start(self):
        s = self.sidecar("--keyspace", self.users())
        code, out = run_podcache("--keyspace", "a", "--api-listen", s.api, "--http-listen",
                                 "127.0.0.1:%d" % reserve_port())
        self.assertEqual(code, 1)
        self.assertIn("cannot listen", out)


def subprocess_run_ctl(addr, *args):
    import subprocess
    from harness import PODCACHECTL
    return subprocess.run([PODCACHECTL, "--addr", addr, "--timeout", "1s", *args], capture_output=True).returncode


if __name__ == "__main__":
    unittest.main()
