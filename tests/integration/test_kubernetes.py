"""Kubernetes discovery against the API double (fake_kube_api.py) with real podcache processes.

Each pretend pod is a podcache sidecar on its own loopback address (127.0.0.N) with the same
peer port, as pods share the port of their EndpointSlice."""
import json
import os
import shutil
import tempfile
import time
import unittest

from certs import CertFactory
from fake_kube_api import FakeKubeApi, endpoint
import harness
from harness import LoaderApp, Sidecar, cache_pb2, reserve_port, metric, ring, wait_until

KS = "users"


class KubeEnv:
    """A fake API server with the cluster CA, a service-account directory and the pods."""

    def __init__(self, test, page_size_cap=None):
        self.test = test
        self.certs = CertFactory()
        self.ca, _ = self.certs.ca("cluster-ca")
        cert, key = self.certs.cert("apiserver", ca="cluster-ca", san="localhost,IP:127.0.0.1")
        self.api = FakeKubeApi(cert, key)
        self.api.page_size_cap = page_size_cap
        test.addCleanup(self.api.stop)
        self.sa_dir = tempfile.mkdtemp(prefix="podcache-sa-")
        test.addCleanup(shutil.rmtree, self.sa_dir, True)
        shutil.copy(self.ca, os.path.join(self.sa_dir, "ca.crt"))
        self.write("token", "token-1\n")
        self.write("namespace", "shop")
        self.peer_ca, _ = self.certs.ca("peer-ca")
        self.peer_port = reserve_port()
        self.api.default_port = self.peer_port
        self.app = LoaderApp()
        test.addCleanup(self.app.stop)
        self.nodes = {}

    def write(self, name, text):
        # Kubernetes updates projected files by swapping a symlinked directory; a rename is the
        # same for a reader: it sees the old file or the new one, never half of one.
        path = os.path.join(self.sa_dir, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)

    @staticmethod
    def ip(i):
        return "127.0.0.%d" % (i + 10)

    def member(self, i):
        return "%s:%d" % (self.ip(i), self.peer_port)

    def start_node(self, i, extra=(), env=None, wait_ready=True, api_url=True):
        cert, key = self.certs.cert("node%d" % i, ca="peer-ca")
        args = ["--keyspace", "%s:max_bytes=16MiB,ttl=5m,loader=%s" % (KS, self.app.url),
                "--peer-listen", self.member(i), "--advertise", self.member(i),
                "--tls-cert", cert, "--tls-key", key, "--tls-ca", self.peer_ca,
                "--peer-timeout", "1s", "--membership-debounce", "50ms",
                "--discovery", "kubernetes", "--k8s-service", "web",
                "--k8s-serviceaccount-dir", self.sa_dir, *extra]
        if api_url:
            args += ["--k8s-api-url", self.api.url]
        node = Sidecar(*args, env=env, wait_ready=wait_ready)
        self.test.addCleanup(node.stop)
        self.nodes[i] = node
        return node

    def wait_rings(self, expected, nodes=None, timeout=5.0, what="rings"):
        harness.wait_rings(nodes if nodes is not None else list(self.nodes.values()), expected,
                           timeout=timeout, what=what)


class KubernetesDiscoveryTest(unittest.TestCase):
    def test_ring_follows_ready_terminating_and_deleted_endpoints(self):
        env = KubeEnv(self, page_size_cap=1)  # the list comes in pages of one slice
        api = env.api
        api.put_slice("web-a", [endpoint(env.ip(0)), endpoint(env.ip(1))])
        api.put_slice("web-b", [endpoint(env.ip(2)), endpoint(env.ip(3), ready=False)])
        for i in range(3):
            env.start_node(i)
        env.wait_rings([env.member(i) for i in range(3)], what="ring of 3")
        self.assertGreaterEqual(api.count("list"), 2 * 3)  # paged: two requests per list

        # A 4th pod starts; it knows the 3 at once (and itself), and once its endpoint turns
        # ready, every ring has it within a second.
        node3 = env.start_node(3)
        env.wait_rings([env.member(i) for i in range(4)], nodes=[node3])
        t0 = time.monotonic()
        api.put_slice("web-b", [endpoint(env.ip(2)), endpoint(env.ip(3))])
        env.wait_rings([env.member(i) for i in range(4)], timeout=1.0, what="4th ready within 1 s")
        self.assertLess(time.monotonic() - t0, 1.0)

        # Pod 1 begins terminating: dropped within a second everywhere but in its own ring.
        api.put_slice("web-a", [endpoint(env.ip(0)), endpoint(env.ip(1), ready=False, terminating=True)])
        others = [env.nodes[i] for i in (0, 2, 3)]
        env.wait_rings([env.member(i) for i in (0, 2, 3)], nodes=others, timeout=1.0,
                       what="terminating pod dropped within 1 s")
        self.assertIn(env.member(1), ring(env.nodes[1]))  # never removes itself

        # The slice of pods 2 and 3 is deleted: their endpoints are gone from node 0's ring.
        api.delete_slice("web-b")
        env.wait_rings([env.member(0)], nodes=[env.nodes[0]], timeout=1.0, what="deleted slice")
        self.assertEqual(metric(env.nodes[0], "podcache_discovery_members", source="kubernetes"), 1)
        self.assertGreater(metric(env.nodes[0], "podcache_discovery_k8s_events_total", type="DELETED"), 0)
        self.assertEqual(metric(env.nodes[0], "podcache_discovery_synced", source="kubernetes"), 1)

    def test_null_endpoints_and_ports_and_in_cluster_environment(self):
        env = KubeEnv(self)
        env.api.put_slice("web-empty", None)
        env.api.put_slice("web-noports", [endpoint(env.ip(5))], port=None)
        env.api.put_slice("web-a", [endpoint(env.ip(0), conditions=False)])
        # No --k8s-api-url: the address comes from the variables every pod has.
        node = env.start_node(0, api_url=False, env={
            "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(env.api.port)})
        env.wait_rings([env.member(0)])
        env.api.put_slice("web-empty", [endpoint(env.ip(1))])
        env.wait_rings([env.member(0), env.member(1)], nodes=[node])

    def check_gone_relists(self, gone_as):
        env = KubeEnv(self)
        api = env.api
        api.gone_as = gone_as
        api.put_slice("web-a", [endpoint(env.ip(i)) for i in range(3)])
        for i in range(3):
            env.start_node(i)
        env.wait_rings([env.member(i) for i in range(3)])
        # While the API server is away, pod 2 leaves and history is compacted: the watch
        # from the old resourceVersion is 410 Gone, and only a relist tells the truth.
        api.stop()
        api.put_slice("web-a", [endpoint(env.ip(i)) for i in range(2)])
        api.compact()
        api.restart()
        env.wait_rings([env.member(0), env.member(1)], nodes=[env.nodes[0], env.nodes[1]])
        for i in range(2):
            self.assertGreaterEqual(metric(env.nodes[i], "podcache_discovery_k8s_relists_total"), 1)
        # 410 as an ERROR event on an open watch.
        relists = metric(env.nodes[0], "podcache_discovery_k8s_relists_total")
        api.put_slice("web-a", [endpoint(env.ip(i)) for i in range(3)])
        env.wait_rings([env.member(i) for i in range(3)])
        api.expire_watches()
        wait_until(lambda: metric(env.nodes[0], "podcache_discovery_k8s_relists_total") > relists,
                   what="relist after an ERROR 410 event")
        self.assertGreaterEqual(metric(env.nodes[0], "podcache_discovery_k8s_events_total", type="ERROR"), 1)
        env.wait_rings([env.member(i) for i in range(3)])

    def test_410_gone_as_http_status_relists(self):
        self.check_gone_relists("status")

    def test_410_gone_as_error_event_relists(self):
        self.check_gone_relists("event")

    def test_bookmarks_advance_the_resource_version(self):
        env = KubeEnv(self)
        api = env.api
        api.put_slice("web-a", [endpoint(env.ip(0))])
        node = env.start_node(0)
        env.wait_rings([env.member(0)])
        # Other objects change (history moves on) but nothing of this service: the stream
        # carries only bookmarks.
        api.bookmark_interval = 0.2
        api.close_watches()
        for i in range(5):
            api.put_slice("other-%d" % i, [endpoint("127.0.1.%d" % i)], service="other")
        wait_until(lambda: metric(node, "podcache_discovery_k8s_events_total", type="BOOKMARK") >= 2,
                   what="bookmarks")
        rv_after = api.rv
        api.compact()  # anything older than now is gone
        api.close_watches()
        wait_until(lambda: any(q.get("resourceVersion") == str(rv_after)
                               for kind, _, q in api.requests if kind == "watch"),
                   what="a watch from the bookmark's resourceVersion")
        time.sleep(0.5)
        self.assertEqual(metric(node, "podcache_discovery_k8s_relists_total"), 0)
        self.assertEqual(ring(node), [env.member(0)])

    def test_server_closing_watches_every_second(self):
        env = KubeEnv(self)
        api = env.api
        api.max_watch_seconds = 1
        api.put_slice("web-a", [endpoint(env.ip(0))])
        node = env.start_node(0)
        for i in range(1, 4):
            time.sleep(0.7)
            api.put_slice("web-a", [endpoint(env.ip(j)) for j in range(i + 1)])
        env.wait_rings([env.member(j) for j in range(4)])
        wait_until(lambda: metric(node, "podcache_discovery_k8s_watch_restarts_total") >= 2, what="restarts")
        self.assertEqual(metric(node, "podcache_discovery_k8s_relists_total"), 0)
        self.assertEqual(metric(node, "podcache_discovery_k8s_lists_total"), 1)

    def test_sigterm_with_an_open_watch_exits_promptly(self):
        env = KubeEnv(self)
        env.api.put_slice("web-a", [endpoint(env.ip(0))])
        node = env.start_node(0, extra=["--k8s-watch-timeout", "10m"])
        wait_until(lambda: env.api.count("watch") >= 1, what="a watch")
        t0 = time.monotonic()
        node.terminate()
        self.assertEqual(node.proc.wait(timeout=10), 0)
        # No call was in flight, so nothing is drained: the watch is cut, not waited for.
        self.assertLess(time.monotonic() - t0, 3.0)

    def test_wrong_cluster_ca_is_refused_and_logged(self):
        env = KubeEnv(self)
        env.api.put_slice("web-a", [endpoint(env.ip(0)), endpoint(env.ip(1))])
        other_ca, _ = env.certs.ca("other-ca")
        shutil.copy(other_ca, os.path.join(env.sa_dir, "ca.crt"))
        node = env.start_node(0, wait_ready=False)
        wait_until(lambda: "kubernetes discovery: API error" in node.output(), what="error logged")
        log = [json.loads(line) for line in node.output().splitlines()
               if "kubernetes discovery: API error" in line][0]
        self.assertEqual(log["kind"], "tls", log)
        self.assertEqual(node.http("/readyz")[0], 503)  # never synced: not ready
        self.assertEqual(env.api.count("list"), 0)  # no request got through the handshake
        self.assertGreaterEqual(metric(node, "podcache_discovery_errors_total", kind="tls"), 1)
        self.assertEqual(metric(node, "podcache_discovery_synced", source="kubernetes"), 0)

    def test_401_rereads_the_rotated_token(self):
        env = KubeEnv(self)
        api = env.api
        api.put_slice("web-a", [endpoint(env.ip(0))])
        node = env.start_node(0, extra=["--k8s-token-reload", "1h"])
        env.wait_rings([env.member(0)])
        # Kubernetes rotates the token: the old one is refused from now on.
        env.write("token", "token-2\n")
        api.tokens = {"token-2"}
        api.close_watches()
        api.put_slice("web-a", [endpoint(env.ip(0)), endpoint(env.ip(1))])
        env.wait_rings([env.member(0), env.member(1)], what="ring after the token rotated")
        self.assertGreaterEqual(metric(node, "podcache_discovery_errors_total", kind="unauthorized"), 1)
        tokens = [t for _, t, _ in api.requests]
        self.assertEqual(tokens[0], "token-1")
        self.assertEqual(tokens[-1], "token-2")

    def test_token_is_reread_periodically(self):
        env = KubeEnv(self)
        api = env.api
        api.tokens = {"token-1", "token-2"}  # both valid while the new one is rolled out
        api.max_watch_seconds = 1
        api.put_slice("web-a", [endpoint(env.ip(0))])
        node = env.start_node(0, extra=["--k8s-token-reload", "1s"])
        env.write("token", "token-2\n")
        wait_until(lambda: api.requests[-1][1] == "token-2", what="requests with the new token")
        self.assertGreaterEqual(metric(node, "podcache_discovery_k8s_token_reloads_total"), 2)
        self.assertNotIn('kind="unauthorized"', node.http("/metrics")[1].decode())

    def test_api_server_down_keeps_members_and_gets_work(self):
        env = KubeEnv(self)
        api = env.api
        api.put_slice("web-a", [endpoint(env.ip(i)) for i in range(3)])
        for i in range(3):
            env.start_node(i)
        members = [env.member(i) for i in range(3)]
        env.wait_rings(members)
        api.stop()
        keys = ["down-%d" % i for i in range(20)]
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # a few seconds of outage, with traffic
            for node in env.nodes.values():
                for key in keys:
                    r = node.stub.Get(cache_pb2.GetRequest(keyspace=KS, key=key.encode()), timeout=5)
                    self.assertEqual(r.value, ("value-of-" + key).encode())
            self.assertEqual([ring(n) for n in env.nodes.values()], [members] * 3)
        for node in env.nodes.values():
            self.assertEqual(node.http("/readyz")[0], 200)  # readiness ignores the outage
            self.assertEqual(metric(node, "podcache_discovery_k8s_lists_total"), 1)
            errors = node.http("/metrics")[1].decode()
            self.assertRegex(errors, r'podcache_discovery_errors_total\{source="kubernetes",kind="(connect|tls|read)"\} [1-9]')
            self.assertEqual(metric(node, "podcache_local_fallback_loads_total", keyspace=KS), 0)
        self.assertEqual(sum(env.app.calls(KS, k) for k in keys), len(keys))  # each loaded once
        api.restart()
        api.put_slice("web-a", [endpoint(env.ip(i)) for i in range(2)])
        env.wait_rings(members[:2], nodes=[env.nodes[0], env.nodes[1]], timeout=15,
                       what="rings after the API server came back")


if __name__ == "__main__":
    unittest.main()
