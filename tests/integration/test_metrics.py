"""/metrics of live nodes, checked by a tool: Prometheus's own `promtool check metrics` (Debian
package prometheus) must find no problem at all, lint warnings included."""
import re
import shutil
import subprocess
import unittest

import grpc

from harness import Cluster, cache_pb2

KS = "users"


def promtool_problems(text):
    """What `promtool check metrics` says about an exposition: "" when it finds nothing."""
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode(errors="replace").strip()
    if r.returncode != 0 and not out:
        out = "promtool exited with status %d" % r.returncode
    return out


def families(text):
    """{family: (type, help, number of samples)} of an exposition."""
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    helps = dict(re.findall(r"^# HELP (\S+) (.*)$", text, re.M))
    samples = {name: 0 for name in types}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        family = name if name in types else re.sub(r"_(bucket|sum|count)$", "", name)
        assert family in types, "sample %r without a TYPE line" % line
        samples[family] += 1
    return {name: (types[name], helps.get(name), samples[name]) for name in types}


@unittest.skipUnless(shutil.which("promtool"), "promtool (Debian package prometheus) is not installed")
class MetricsTest(unittest.TestCase):
    def test_promtool_finds_no_problem_on_a_live_cluster_node(self):
        c = Cluster(2)
        self.addCleanup(c.stop)
        # Traffic through every path, so that every family has samples: loads (found, not found,
        # failed), peer fetches and batches, writes and their broadcasts, an invalidation.
        for node in c.nodes:
            for i in range(20):
                node.stub.Get(cache_pb2.GetRequest(keyspace=KS, key=b"k%d" % i), timeout=10)
            node.stub.GetMany(cache_pb2.GetManyRequest(keyspace=KS, keys=[b"m%d" % i for i in range(20)]),
                              timeout=10)
            for key in (b"missing-1", b"error-1"):
                with self.assertRaises(grpc.RpcError):
                    node.stub.Get(cache_pb2.GetRequest(keyspace=KS, key=key), timeout=10)
        c.nodes[0].stub.Set(cache_pb2.SetRequest(keyspace=KS, key=b"k1", value=b"v"), timeout=10)
        c.nodes[0].stub.Delete(cache_pb2.DeleteRequest(keyspace=KS, key=b"k1"), timeout=10)
        c.nodes[0].stub.InvalidateKeyspace(cache_pb2.InvalidateKeyspaceRequest(keyspace=KS), timeout=10)
        c.nodes[0].stub.Stats(cache_pb2.StatsRequest(keyspace=KS), timeout=10)

        for i, node in enumerate(c.nodes):
            status, body = node.http("/metrics")
            self.assertEqual(status, 200)
            text = body.decode()
            self.assertEqual(promtool_problems(text), "", "node %d:\n%s" % (i, text))
            found = families(text)
            empty = sorted(name for name, (_, _, n) in found.items() if n == 0)
            self.assertEqual(empty, [], "families without samples")
            # Each family says what it measures in its own words.
            by_help = {}
            for name, (_, help_text, _) in found.items():
                by_help.setdefault(help_text, []).append(name)
            shared = {h: names for h, names in by_help.items() if len(names) > 1}
            self.assertEqual(shared, {}, "families sharing one help text")
            for family in ("podcache_gets_total", "podcache_peer_gets_total", "podcache_loader_calls_total",
                           "podcache_api_request_duration_seconds", "podcache_peer_calls_total",
                           "podcache_ring_members", "podcache_peer_state", "podcache_peer_ejections_total",
                           "podcache_peer_failures_total", "podcache_peer_latency_p99_seconds",
                           "podcache_peer_ejected_rejections_total"):
                self.assertIn(family, found)

    def test_promtool_reports_a_broken_exposition(self):
        """The check itself works: the problems the test must catch are reported."""
        self.assertIn("no help text", promtool_problems("# TYPE a_total counter\na_total 1\n"))
        self.assertNotEqual(promtool_problems("# HELP b a b\n# TYPE b counter\nb 1\n"), "")


if __name__ == "__main__":
    unittest.main()
