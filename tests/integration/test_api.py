"""The app API of one real podcache process with the example HTTP loader."""
import threading
import time
import unittest

import grpc

from harness import LoaderApp, Sidecar, cache_pb2

KS = "users"


class ApiTest(unittest.TestCase):
    def setUp(self):
        self.app = LoaderApp("--delay-ms", "20", "--slow-ms", "3000", "--big-bytes", str(300 << 10))
        self.addCleanup(self.app.stop)
        self.sidecar = Sidecar(
            "--keyspace", KS + ":max_bytes=8MiB,ttl=5m,max_value_bytes=256KiB,max_key_bytes=64,"
            "negative_ttl=10s,loader_timeout=500ms,loader=" + self.app.url,
            "--keyspace", "aside:max_bytes=4MiB,max_value_bytes=256KiB,max_ttl=1h",
            "--max-message-bytes", "512KiB")
        self.addCleanup(self.sidecar.stop)
        self.stub = self.sidecar.stub

    def get(self, key, keyspace=KS, **kw):
        return self.stub.Get(cache_pb2.GetRequest(keyspace=keyspace, key=key), timeout=5, **kw)

    def assertCode(self, code, fn, *args, contains=None):
        with self.assertRaises(grpc.RpcError) as e:
            fn(*args)
        self.assertEqual(e.exception.code(), code, e.exception.details())
        if contains:
            self.assertIn(contains, e.exception.details())
        return e.exception

    def test_miss_then_hit_calls_the_loader_once(self):
        first = self.get(b"alice")
        self.assertEqual(first.value, b"value-of-alice")
        self.assertEqual(first.source, cache_pb2.SOURCE_LOADER)
        self.assertGreater(first.ttl_ms, 290_000)  # Cache-Control: max-age=300
        second = self.get(b"alice")
        self.assertEqual(second.value, b"value-of-alice")
        self.assertEqual(second.source, cache_pb2.SOURCE_MAIN)
        self.assertEqual(self.app.calls(KS, "alice"), 1)

    def test_keys_are_url_escaped_for_the_loader(self):
        key = "a b/c?d&e%f"
        self.assertEqual(self.get(key.encode()).value, ("value-of-" + key).encode())
        self.assertEqual(self.app.calls(KS, key), 1)

    def test_get_many_reports_each_key(self):
        keys = [b"k1", b"missing-k2", b"error-k3", b"k1", b"k4"]
        r = self.stub.GetMany(cache_pb2.GetManyRequest(keyspace=KS, keys=keys), timeout=5)
        self.assertEqual([x.key for x in r.results], keys)
        codes = [x.code for x in r.results]
        self.assertEqual(codes, [0, grpc.StatusCode.NOT_FOUND.value[0], grpc.StatusCode.UNAVAILABLE.value[0], 0, 0])
        self.assertEqual(r.results[0].value, b"value-of-k1")
        self.assertEqual(r.results[3].value, b"value-of-k1")
        self.assertEqual(r.results[4].value, b"value-of-k4")
        self.assertIn("HTTP 500", r.results[2].message)
        self.assertEqual(self.app.calls(KS, "k1"), 1)

    def test_set_get_delete_cache_aside(self):
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.get, b"x", "aside")
        self.stub.Set(cache_pb2.SetRequest(keyspace="aside", key=b"x", value=b"\x00\xffbin"), timeout=5)
        r = self.get(b"x", "aside")
        self.assertEqual((r.value, r.source), (b"\x00\xffbin", cache_pb2.SOURCE_MAIN))
        self.assertTrue(3_590_000 < r.ttl_ms <= 3_600_000, r.ttl_ms)  # max_ttl caps the unset TTL
        self.stub.Delete(cache_pb2.DeleteRequest(keyspace="aside", key=b"x"), timeout=5)
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.get, b"x", "aside")
        # An empty value is a value.
        self.stub.Set(cache_pb2.SetRequest(keyspace="aside", key=b"e", value=b""), timeout=5)
        self.assertEqual(self.get(b"e", "aside").value, b"")

    def test_set_overrides_loaded_value_and_delete_reloads(self):
        self.assertEqual(self.get(b"bob").value, b"value-of-bob")
        self.stub.Set(cache_pb2.SetRequest(keyspace=KS, key=b"bob", value=b"new"), timeout=5)
        self.assertEqual(self.get(b"bob").value, b"new")
        self.stub.Delete(cache_pb2.DeleteRequest(keyspace=KS, key=b"bob"), timeout=5)
        self.assertEqual(self.get(b"bob").value, b"value-of-bob")
        self.assertEqual(self.app.calls(KS, "bob"), 2)

    def test_ttl_expiry(self):
        self.stub.Set(cache_pb2.SetRequest(keyspace="aside", key=b"t", value=b"v", ttl_ms=300), timeout=5)
        self.assertLessEqual(self.get(b"t", "aside").ttl_ms, 300)
        time.sleep(0.4)
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.get, b"t", "aside")
        # Loader values expire by their Cache-Control max-age (1 s for short- keys).
        self.assertEqual(self.get(b"short-1").source, cache_pb2.SOURCE_LOADER)
        self.assertEqual(self.get(b"short-1").source, cache_pb2.SOURCE_MAIN)
        time.sleep(1.1)
        self.assertEqual(self.get(b"short-1").source, cache_pb2.SOURCE_LOADER)
        self.assertEqual(self.app.calls(KS, "short-1"), 2)

    def test_ttl_is_capped_by_max_ttl(self):
        self.stub.Set(cache_pb2.SetRequest(keyspace="aside", key=b"c", value=b"v", ttl_ms=0), timeout=5)
        ttl = self.get(b"c", "aside").ttl_ms
        self.assertTrue(3_590_000 < ttl <= 3_600_000, ttl)

    def test_not_found_is_cached_for_the_negative_ttl(self):
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.get, b"missing-1")
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.get, b"missing-1")
        self.assertEqual(self.app.calls(KS, "missing-1"), 1)

    def test_unknown_keyspace(self):
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.get, b"k", "nope", contains='"nope"')
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.stub.Set,
                        cache_pb2.SetRequest(keyspace="nope", key=b"k", value=b"v"), contains='"nope"')

    def test_invalid_arguments_name_the_limit(self):
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.get, b"", contains="empty key")
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.get, b"k" * 65, contains="max_key_bytes=64")
        self.get(b"k" * 64)  # the edge is allowed
        big = cache_pb2.SetRequest(keyspace="aside", key=b"k", value=b"v" * ((256 << 10) + 1))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.stub.Set, big, contains="max_value_bytes=262144")
        self.stub.Set(cache_pb2.SetRequest(keyspace="aside", key=b"k", value=b"v" * (256 << 10)), timeout=5)
        neg = cache_pb2.SetRequest(keyspace="aside", key=b"k", value=b"v", ttl_ms=-5)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, self.stub.Set, neg, contains="ttl_ms")

    def test_request_over_the_message_limit(self):
        huge = cache_pb2.SetRequest(keyspace="aside", key=b"k", value=b"v" * (600 << 10))
        self.assertCode(grpc.StatusCode.RESOURCE_EXHAUSTED, self.stub.Set, huge)
        self.assertCode(grpc.StatusCode.NOT_FOUND, self.get, b"k", "aside")

    def test_loader_timeout_error_and_oversize_are_not_cached(self):
        self.assertCode(grpc.StatusCode.DEADLINE_EXCEEDED, self.get, b"slow-1", contains="timed out")
        self.assertCode(grpc.StatusCode.UNAVAILABLE, self.get, b"error-1", contains="HTTP 500")
        self.assertCode(grpc.StatusCode.UNAVAILABLE, self.get, b"error-1")
        self.assertEqual(self.app.calls(KS, "error-1"), 2)
        self.assertCode(grpc.StatusCode.RESOURCE_EXHAUSTED, self.get, b"big-1", contains="max_value_bytes")
        self.assertCode(grpc.StatusCode.RESOURCE_EXHAUSTED, self.get, b"chunked-1", contains="max_value_bytes")
        # The loader's connections are still usable afterwards.
        self.assertEqual(self.get(b"after").value, b"value-of-after")

    def test_200_concurrent_gets_of_one_missing_key_load_once(self):
        futures = [self.stub.Get.future(cache_pb2.GetRequest(keyspace=KS, key=b"herd"), timeout=10)
                   for _ in range(200)]
        values = [f.result().value for f in futures]
        self.assertEqual(values, [b"value-of-herd"] * 200)
        self.assertEqual(self.app.calls(KS, "herd"), 1)

    def test_caller_deadline_is_honoured(self):
        start = time.monotonic()
        with self.assertRaises(grpc.RpcError) as e:
            self.stub.Get(cache_pb2.GetRequest(keyspace=KS, key=b"slow-2"), timeout=0.2)
        self.assertEqual(e.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(time.monotonic() - start, 2)

    def test_invalidate_keyspace(self):
        self.get(b"inv")
        r = self.stub.InvalidateKeyspace(cache_pb2.InvalidateKeyspaceRequest(keyspace=KS), timeout=5)
        self.assertEqual(r.generation, 1)
        self.assertEqual(self.get(b"inv").source, cache_pb2.SOURCE_LOADER)
        self.assertEqual(self.app.calls(KS, "inv"), 2)

    def test_stats(self):
        self.get(b"s1")
        self.get(b"s1")
        r = self.stub.Stats(cache_pb2.StatsRequest(keyspace=KS), timeout=5)
        self.assertEqual([k.name for k in r.keyspaces], [KS])
        ks = r.keyspaces[0]
        self.assertEqual(ks.counters["gets"], 2)
        self.assertEqual(ks.counters["loads"], 1)
        self.assertEqual(ks.main.items, 1)
        self.assertGreater(ks.main.capacity_bytes, 0)
        everything = self.stub.Stats(cache_pb2.StatsRequest(), timeout=5)
        self.assertEqual([k.name for k in everything.keyspaces], ["aside", KS])


if __name__ == "__main__":
    unittest.main()
