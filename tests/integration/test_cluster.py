"""Clusters of real podcache processes on loopback: static discovery, mTLS, ownership, fallback."""
import json
import os
import signal
import threading
import time
import unittest

import grpc

from harness import Cluster, cache_pb2, cache_pb2_grpc

KS = "users"


def get(node, key, timeout=5):
    return node.stub.Get(cache_pb2.GetRequest(keyspace=KS, key=key.encode()), timeout=timeout)


def stats(node):
    return node.stub.Stats(cache_pb2.StatsRequest(keyspace=KS), timeout=5).keyspaces[0]


class ClusterTest(unittest.TestCase):
    def cluster(self, n, **kw):
        c = Cluster(n, **kw)
        self.addCleanup(c.stop)
        return c

    def check_owner_loads(self, c, keys):
        for key in keys:
            owner = c.owner_index(key)
            for node in c.nodes:
                r = get(node, key)
                self.assertEqual(r.value, ("value-of-" + key).encode())
                expected = {True: (cache_pb2.SOURCE_LOADER, cache_pb2.SOURCE_MAIN), False: (cache_pb2.SOURCE_PEER,)}
                self.assertIn(r.source, expected[node is c.nodes[owner]] + (cache_pb2.SOURCE_HOT,))
            calls = c.loader_calls(key)
            self.assertEqual(calls[owner], 1, (key, calls))
            self.assertEqual(sum(calls), 1, (key, calls))

    def test_three_nodes_each_key_loaded_by_its_owner_only(self):
        c = self.cluster(3)
        keys = ["k%d" % i for i in range(30)]
        self.check_owner_loads(c, keys)
        owners = {c.owner_index(k) for k in keys}
        self.assertEqual(owners, {0, 1, 2})  # 30 keys land on every node
        for i, node in enumerate(c.nodes):
            s = stats(node)
            self.assertGreater(s.counters["peer_gets"], 0)
            self.assertEqual(s.counters["peer_errors"], 0)
            self.assertEqual(s.counters["local_fallback_loads"], 0)
        ring = json.loads(c.nodes[1].http("/debug/ring")[1])
        self.assertEqual(sorted(ring["members"]), sorted(c.members))

    def test_five_nodes(self):
        c = self.cluster(5)
        self.check_owner_loads(c, ["five-%d" % i for i in range(20)])

    def test_1000_concurrent_gets_over_5_nodes_load_once(self):
        c = self.cluster(5)
        futures = [c.nodes[i % 5].stub.Get.future(cache_pb2.GetRequest(keyspace=KS, key=b"herd"), timeout=10)
                   for i in range(1000)]
        self.assertEqual({f.result().value for f in futures}, {b"value-of-herd"})
        self.assertEqual(sum(c.loader_calls("herd")), 1, c.loader_calls("herd"))

    def test_different_member_lists_do_not_loop(self):
        # Node 0 believes in all three; nodes 1 and 2 only know themselves and node 0.
        c = self.cluster(3, peers_for=lambda i, members: members if i == 0 else [members[i], members[0]])
        for i in range(40):
            for node in c.nodes:
                self.assertEqual(get(node, "loop-%d" % i, timeout=3).value, b"value-of-loop-%d" % i)
        # Peers received Gets for keys their ring gives to someone else, served them, and counted it.
        disagreements = sum(stats(node).counters["ring_disagreements"] for node in c.nodes)
        self.assertGreater(disagreements, 0)


if __name__ == "__main__":
    unittest.main()
