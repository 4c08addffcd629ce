"""Writes with a hung member: answered once the owner applied them, repaired when the member resumes."""
import re
import signal
import time
import unittest

from harness import Cluster, cache_pb2

KS = "users"


def get(node, key, timeout=5):
    return node.stub.Get(cache_pb2.GetRequest(keyspace=KS, key=key.encode()), timeout=timeout)


def stats(node):
    return node.stub.Stats(cache_pb2.StatsRequest(keyspace=KS), timeout=5).keyspaces[0]


class WritesTest(unittest.TestCase):
    def test_hung_member_does_not_hold_writes_and_gets_the_drop_when_it_resumes(self):
        c = Cluster(3)
        self.addCleanup(c.stop)
        owner, writer, hung = 0, 1, 2
        key = next(k for k in ("hung-%d" % i for i in range(200)) if c.owner_index(k) == owner)
        # The hung member holds a hot copy (non-owners promote after a few quick requests).
        for _ in range(6):
            r = get(c.nodes[hung], key)
        self.assertEqual(r.source, cache_pb2.SOURCE_HOT)
        self.assertEqual(r.value, b"value-of-" + key.encode())

        proc = c.nodes[hung].proc
        proc.send_signal(signal.SIGSTOP)
        try:
            start = time.monotonic()
            resp = c.nodes[writer].stub.Set(
                cache_pb2.SetRequest(keyspace=KS, key=key.encode(), value=b"new"), timeout=5)
            took = time.monotonic() - start
            # write_ack_wait (50 ms) plus the owner's apply and two loopback hops; never the
            # 1 s peer timeout.
            self.assertLess(took, 0.5)
            self.assertEqual((resp.members_acked, resp.members_pending), (1, 1))
            other = next(k for k in ("del-%d" % i for i in range(200)) if c.owner_index(k) == writer)
            d = c.nodes[writer].stub.Delete(cache_pb2.DeleteRequest(keyspace=KS, key=other.encode()),
                                            timeout=5)
            self.assertEqual(d.members_acked + d.members_pending, 2)
            # podcachectl -v shows the same counts.
            ctl = c.nodes[writer].ctl("-v", "set", KS, key, "newer")
            self.assertEqual(ctl.returncode, 0, ctl.stderr)
            self.assertIn(b"members_acked=1 members_pending=1", ctl.stderr)
            # The first drop times out (peer timeout 1 s): node 2's queue then waits for repair.
            deadline = time.monotonic() + 5
            while stats(c.nodes[owner]).counters["repairs_queued"] < 1:
                self.assertLess(time.monotonic(), deadline, "the hung member's drop never queued")
                time.sleep(0.05)
            metrics = c.nodes[owner].http("/metrics")[1].decode()
            pending = re.findall(r'podcache_repairs_pending\{keyspace="users",member="%s"\} (\d+)'
                                 % re.escape(c.members[hung]), metrics)
            self.assertEqual(len(pending), 1, metrics)
            self.assertGreaterEqual(int(pending[0]), 1)
        finally:
            proc.send_signal(signal.SIGCONT)
        resumed = time.monotonic()
        # The resumed member stops serving its old hot copy within 1 s.
        while True:
            r = get(c.nodes[hung], key)
            if r.value == b"newer":
                break
            self.assertLess(time.monotonic() - resumed, 1.0, "still serving the old hot copy")
            time.sleep(0.02)
        fresh_after = time.monotonic() - resumed
        self.assertLess(fresh_after, 1.0)
        deadline = time.monotonic() + 5
        while stats(c.nodes[owner]).counters["repairs_delivered"] < 1:
            self.assertLess(time.monotonic(), deadline, "repair never counted as delivered")
            time.sleep(0.05)
        metrics = c.nodes[owner].http("/metrics")[1].decode()
        self.assertIn('podcache_repairs_pending{keyspace="users",member="%s"} 0' % c.members[hung], metrics)


if __name__ == "__main__":
    unittest.main()
