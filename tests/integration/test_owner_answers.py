"""A key's owner answers for its loader: a failing database is asked once per attempt, cluster-wide,
and the other nodes neither load the key again nor count the owner as a failed peer. An owner that
cannot be reached is loaded around, with one "loading locally" log line."""
import unittest

import grpc

from harness import Cluster, cache_pb2, wait_until

KS = "users"


def get(node, key, timeout=5):
    return node.stub.Get(cache_pb2.GetRequest(keyspace=KS, key=key.encode()), timeout=timeout)


def counters(node):
    return node.stub.Stats(cache_pb2.StatsRequest(keyspace=KS), timeout=5).keyspaces[0].counters


class OwnerAnswersTest(unittest.TestCase):
    def cluster(self, n, **kw):
        c = Cluster(n, **kw)
        self.addCleanup(c.stop)
        return c

    def ask_everyone(self, c, keys):
        """Gets every key once through every node; returns the error codes seen."""
        codes = set()
        for key in keys:
            for node in c.nodes:
                with self.assertRaises(grpc.RpcError) as e:
                    get(node, key)
                codes.add(e.exception.code())
        return codes

    def test_loader_500_is_loaded_once_per_attempt_cluster_wide(self):
        # Hedging off: every extra loader call would be a retry of the owner's answer. The loader
        # breaker off too: here every load fails, and an open breaker would skip loader calls.
        c = self.cluster(3, extra_args=("--peer-hedge-delay", "0"), loader_args=("--delay-ms", "1"),
                         keyspace_extra=",loader_breaker_failures=0")
        keys = ["error-%d" % i for i in range(12)]
        codes = self.ask_everyone(c, keys)
        self.assertEqual(len(codes), 1, codes)  # the owner's code, wherever it was asked
        self.assertNotIn(grpc.StatusCode.DEADLINE_EXCEEDED, codes)
        for key in keys:
            calls = c.loader_calls(key)
            owner = c.owner_index(key)
            # 3 attempts (one per node), each one loader call, all on the owner's app.
            self.assertEqual(calls[owner], 3, (key, calls))
            self.assertEqual(sum(calls), 3, (key, calls))
        asked_remotely = 0
        for node in c.nodes:
            s = counters(node)
            self.assertEqual(s["peer_errors"], 0)
            self.assertEqual(s["local_fallback_loads"], 0)
            self.assertEqual(s["hedged_loads"], 0)
            asked_remotely += s["peer_owner_errors"]
        self.assertEqual(asked_remotely, 2 * len(keys))  # the two non-owners of each key

    def test_with_default_hedging_every_extra_load_is_a_counted_hedge(self):
        c = self.cluster(2, loader_args=("--delay-ms", "1"),
                         keyspace_extra=",loader_breaker_failures=0")
        keys = ["error-h%d" % i for i in range(10)]
        self.ask_everyone(c, keys)
        hedges = sum(counters(node)["hedged_loads"] for node in c.nodes)
        total = sum(sum(c.loader_calls(key)) for key in keys)
        self.assertEqual(total, 2 * len(keys) + hedges)
        for node in c.nodes:
            self.assertEqual(counters(node)["peer_errors"], 0)

    def test_unreachable_owner_is_loaded_around_with_one_log_line(self):
        c = self.cluster(2, loader_args=("--delay-ms", "1"))
        keys = [k for k in ("gone-%d" % i for i in range(40)) if c.owner_index(k) == 1][:5]
        self.assertEqual(len(keys), 5)
        c.nodes[1].stop()
        for key in keys:
            r = get(c.nodes[0], key)
            self.assertEqual(r.value, ("value-of-" + key).encode())
            self.assertLessEqual(r.ttl_ms, 1000)  # fallback_ttl, not the loader's 5 minutes
        line = wait_until(lambda: c.nodes[0].log_line("loading locally"), what="a loading locally line")
        self.assertEqual(line["keyspace"], KS)
        self.assertEqual(line["owner"], c.members[1])
        self.assertTrue(line["reason"])
        self.assertEqual(line["suppressed"], 0)
        lines = [l for l in c.nodes[0].output().splitlines() if '"loading locally"' in l]
        self.assertEqual(len(lines), 1, lines)  # rate limited: one per owner per 10 s
        s = counters(c.nodes[0])
        self.assertEqual(s["local_fallback_loads"], 5)


if __name__ == "__main__":
    unittest.main()
