"""Failure detection per peer with real processes: a SIGSTOPped member is ejected by the others
(/metrics, /debug/ring, podcachectl ring, log lines), its keys load locally at once meanwhile, and a
probe brings it back when it resumes."""
import json
import os
import signal
import time
import unittest

from harness import Cluster, cache_pb2, json_lines, metric, wait_until

KS = "users"


def get(node, key, timeout=5):
    return node.stub.Get(cache_pb2.GetRequest(keyspace=KS, key=key.encode()), timeout=timeout)


def peer_view(node, member):
    """How `node` sees `member` in /debug/ring's "peers"."""
    ring = json.loads(node.http("/debug/ring")[1])
    return next(p for p in ring["peers"] if p["member"] == member)


def state_changes(node, member):
    """The "peer state" log lines of `node` about `member`, as (from, to, level)."""
    return [(l["from"], l["to"], l["level"]) for l in json_lines(node.log.name)
            if l.get("msg") == "peer state" and l.get("peer") == member]


class PeerHealthTest(unittest.TestCase):
    def test_a_stopped_member_is_ejected_then_probed_back_up(self):
        # Ejections of 3 s: the checks below run well within the first one.
        c = Cluster(2, extra_args=("--peer-eject-failures", "2", "--peer-eject-time", "3s",
                                   "--peer-eject-max-time", "6s"))
        self.addCleanup(c.stop)
        caller, hung = c.nodes[0], c.nodes[1]
        member = c.members[1]
        keys = [k for k in ("k%d" % i for i in range(60)) if c.owner_index(k) == 1][:6]
        self.assertEqual(len(keys), 6, "too few keys owned by node 1")
        self.assertEqual(get(caller, keys[0]).source, cache_pb2.SOURCE_PEER)  # connected, up
        self.assertEqual(peer_view(caller, member)["state"], "up")

        os.kill(hung.proc.pid, signal.SIGSTOP)
        try:
            # Two misses on its keys are answered by hedged local loads; their peer calls time out
            # in the background (peer timeout 1 s) and the second failure ejects the member.
            for key in keys[1:3]:
                r = get(caller, key, timeout=5)
                self.assertEqual(r.value, ("value-of-" + key).encode())
            wait_until(lambda: peer_view(caller, member)["state"] == "ejected", timeout=5,
                       what="the stopped member ejected")
            view = peer_view(caller, member)
            self.assertGreaterEqual(view["ejections"], 1)
            self.assertEqual(metric(caller, "podcache_peer_state", peer=member, state="ejected"), 1)
            self.assertEqual(metric(caller, "podcache_peer_state", peer=member, state="up"), 0)
            # Timeouts; or, once the 1 s keepalive found the connection dead, connection failures.
            self.assertGreaterEqual(metric(caller, "podcache_peer_failures_total", peer=member,
                                           reason="timeout"), 1)
            self.assertGreaterEqual(
                sum(metric(caller, "podcache_peer_failures_total", peer=member, reason=r)
                    for r in ("timeout", "unavailable")), 2)
            self.assertGreaterEqual(metric(caller, "podcache_peer_ejections_total", peer=member), 1)
            ring = caller.ctl("--http", "127.0.0.1:%d" % caller.http_port, "ring")
            self.assertEqual(ring.returncode, 0, ring.stderr)
            line = next(l for l in ring.stdout.decode().splitlines() if l.startswith(member))
            self.assertEqual(line.split()[1], "ejected", ring.stdout.decode())
            self.assertIn(("suspect", "ejected", "warn"), state_changes(caller, member))
            # While ejected, a miss on its keys does not wait for it: loaded here at once.
            # (core sees the ejection and does not call the peer at all: peer_calls_skipped)
            skipped = metric(caller, "podcache_peer_calls_skipped_total", keyspace=KS)
            start = time.monotonic()
            r = get(caller, keys[3], timeout=5)
            took = time.monotonic() - start
            self.assertEqual(r.value, ("value-of-" + keys[3]).encode())
            self.assertLess(took, 0.5)  # the peer timeout is 1 s; a local load takes milliseconds
            self.assertEqual(metric(caller, "podcache_peer_calls_skipped_total", keyspace=KS),
                             skipped + 1)
            self.assertGreater(peer_view(caller, member)["ejected_ms_left"], 0)
        finally:
            os.kill(hung.proc.pid, signal.SIGCONT)
        # The probe at the end of the ejection (3 s, or 6 s if one failed meanwhile) finds it back.
        wait_until(lambda: peer_view(caller, member)["state"] == "up", timeout=15,
                   what="the resumed member up again")
        self.assertIn(("ejected", "up", "info"), state_changes(caller, member))
        self.assertGreaterEqual(metric(caller, "podcache_peer_probes_total", peer=member), 1)
        self.assertEqual(metric(caller, "podcache_peer_state", peer=member, state="up"), 1)
        self.assertEqual(get(caller, keys[4]).source, cache_pb2.SOURCE_PEER)


if __name__ == "__main__":
    unittest.main()
