"""Clusters of real podcache processes on loopback: static discovery, mTLS, ownership, fallback."""
import json
import re
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

    def test_get_many_sends_one_batch_per_owner(self):
        c = self.cluster(3)
        keys = [b"many-%d" % i for i in range(60)]
        r = c.nodes[0].stub.GetMany(cache_pb2.GetManyRequest(keyspace=KS, keys=keys + [b"missing-x"]), timeout=5)
        self.assertEqual([x.value for x in r.results[:-1]], [b"value-of-" + k for k in keys])
        self.assertEqual(r.results[-1].code, grpc.StatusCode.NOT_FOUND.value[0])
        metrics = c.nodes[0].http("/metrics")[1].decode()
        batches = sum(int(m) for m in re.findall(r'podcache_peer_batches_total\{peer="[^"]+"\} (\d+)', metrics))
        batched = sum(int(m) for m in re.findall(r'podcache_peer_batched_keys_total\{peer="[^"]+"\} (\d+)', metrics))
        remote = sum(1 for k in keys + [b"missing-x"] if c.owner_index(k.decode()) != 0)
        self.assertEqual(batches, 2)  # one per other owner
        self.assertEqual(batched, remote)
        self.assertEqual(sum(sum(c.loader_calls(k.decode())) for k in keys), len(keys))

    def test_batched_values_beyond_the_message_limit_are_fetched_one_by_one(self):
        # Seven concurrent Gets queue behind one call in flight and leave as one GetBatch of 2.8 MB,
        # more than max_message_bytes: the owner answers the values that fit and marks the rest,
        # which the caller then fetches on their own (before: the whole batch failed and every key
        # was loaded again locally).
        c = self.cluster(2, keyspace_extra=",max_value_bytes=512KiB",
                         extra_args=("--max-message-bytes", "2MiB", "--peer-max-inflight", "1"),
                         loader_args=("--big-bytes", str(400 << 10)))
        keys = [k for k in ("big-%d" % i for i in range(40)) if c.owner_index(k) == 1][:8]
        self.assertEqual(len(keys), 8)
        results, errors = {}, []

        def fetch(key):
            try:
                results[key] = get(c.nodes[0], key, timeout=10)
            except grpc.RpcError as e:
                errors.append((key, e.code()))

        threads = [threading.Thread(target=fetch, args=(k,)) for k in keys]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for key in keys:
            self.assertEqual(len(results[key].value), 400 << 10)
            self.assertEqual(results[key].source, cache_pb2.SOURCE_PEER)
            self.assertEqual(c.loader_calls(key), [0, 1])
        self.assertEqual(stats(c.nodes[0]).counters["local_fallback_loads"], 0)
        metrics = c.nodes[0].http("/metrics")[1].decode()
        self.assertGreaterEqual(sum(int(m) for m in re.findall(r'podcache_peer_batches_total\{[^}]*\} (\d+)', metrics)), 1)

    def test_writes_and_invalidation_reach_every_node(self):
        c = self.cluster(3)
        keys = ["w%d" % i for i in range(6)]
        # Make every node hold the keys (hot copies on non-owners need 3 quick requests).
        for key in keys:
            for node in c.nodes:
                for _ in range(4):
                    get(node, key)
        self.assertTrue(any(stats(n).counters["hot_promotions"] > 0 for n in c.nodes))
        for i, key in enumerate(keys):
            writer = c.nodes[i % 3]
            writer.stub.Set(cache_pb2.SetRequest(keyspace=KS, key=key.encode(), value=b"new-" + key.encode()),
                            timeout=5)
            for node in c.nodes:
                self.assertEqual(get(node, key).value, b"new-" + key.encode())
        for i, key in enumerate(keys):
            c.nodes[(i + 1) % 3].stub.Delete(cache_pb2.DeleteRequest(keyspace=KS, key=key.encode()), timeout=5)
            for node in c.nodes:
                # Deleted everywhere: the next Get loads the original value again.
                self.assertEqual(get(node, key).value, b"value-of-" + key.encode())
        before = [c.loader_calls(k) for k in keys]
        c.nodes[2].stub.InvalidateKeyspace(cache_pb2.InvalidateKeyspaceRequest(keyspace=KS), timeout=5)
        for node in c.nodes:
            self.assertEqual(stats(node).generation, 1)
            for key in keys:
                self.assertIn(get(node, key).source, (cache_pb2.SOURCE_LOADER, cache_pb2.SOURCE_PEER,
                                                      cache_pb2.SOURCE_MAIN))
        after = [c.loader_calls(k) for k in keys]
        for b, a in zip(before, after):
            self.assertEqual(sum(a) - sum(b), 1)  # reloaded once, by the owner

    def test_kill_9_owner_under_load_falls_back_without_errors(self):
        c = self.cluster(3)
        victim = 2
        keys = [k for k in ("dead-%d" % i for i in range(200)) if c.owner_index(k) == victim][:20]
        self.assertGreaterEqual(len(keys), 10)
        errors, slowest, stop = [], [0.0], threading.Event()

        def load(node):
            i = 0
            while not stop.is_set():
                key = keys[i % len(keys)]
                i += 1
                start = time.monotonic()
                try:
                    r = get(node, key, timeout=2)
                    assert r.value == ("value-of-" + key).encode()
                except Exception as e:  # noqa: BLE001 - every failure counts
                    errors.append(repr(e))
                slowest[0] = max(slowest[0], time.monotonic() - start)

        threads = [threading.Thread(target=load, args=(c.nodes[i],)) for i in (0, 1, 0, 1)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        c.nodes[victim].proc.send_signal(signal.SIGKILL)
        time.sleep(2.5)
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertLess(slowest[0], 2.0)
        fallbacks = sum(stats(c.nodes[i]).counters["local_fallback_loads"] for i in (0, 1))
        self.assertGreater(fallbacks, 0)
        ring = json.loads(c.nodes[0].http("/debug/ring")[1])
        self.assertIn(c.members[victim], ring["members"])  # static: the dead member stays

    def test_adding_a_member_moves_only_its_keys(self):
        import tempfile
        from harness import reserve_port
        members_file = tempfile.NamedTemporaryFile("w", suffix=".peers", delete=False)
        self.addCleanup(os.unlink, members_file.name)
        c = self.cluster(3, extra_args=("--peers-file", members_file.name, "--peers-file-poll", "100ms"),
                         peers_for=lambda i, members: [members[i]])
        with open(members_file.name, "w") as f:
            f.write("# the cluster\n" + "\n".join(c.members) + "\n")
        newcomer = "127.0.0.1:%d" % reserve_port()
        keys = ["move-%d" % i for i in range(300)]
        http = "127.0.0.1:%d" % c.nodes[0].http_port

        def owners():
            r = c.nodes[0].ctl("--http", http, "owner", *keys)
            return dict(line.split(" ") for line in r.stdout.decode().split("\n") if line)

        def ring_size():
            return len(json.loads(c.nodes[0].http("/debug/ring")[1])["members"])

        from harness import wait_until
        wait_until(lambda: ring_size() == 3, what="3 members from the file")
        before = owners()
        with open(members_file.name + ".tmp", "w") as f:
            f.write("\n".join(c.members + [newcomer]) + "\n")
        os.rename(members_file.name + ".tmp", members_file.name)
        wait_until(lambda: all(len(json.loads(n.http("/debug/ring")[1])["members"]) == 4 for n in c.nodes),
                   what="every ring to have 4 members")
        after = owners()
        moved = [k for k in keys if before[k] != after[k]]
        self.assertTrue(moved)
        self.assertEqual({after[k] for k in moved}, {newcomer})
        self.assertLess(len(moved), len(keys) / 2)


if __name__ == "__main__":
    unittest.main()
