"""NATS discovery (--discovery nats) against a real nats-server on a random loopback port: joins,
SIGTERM leaves, kill -9 expiry, server restarts, malformed messages, credentials and TLS."""
import signal
import time
import unittest

import harness
from harness import Sidecar, cache_pb2, reserve_port, ring, wait_rings, wait_until
from servers import NatsServer

KEYSPACE = "users:max_bytes=16MiB,ttl=5m"
SUBJECT = "podcache.discovery.podcache"


def metric(node, name, **labels):
    """A sample of the nats source; 0 while there is none."""
    return harness.metric(node, name, missing=0.0, source="nats", **labels)


class NatsTest(unittest.TestCase):
    def nats(self, *extra):
        n = NatsServer(*extra)
        self.addCleanup(n.close)
        return n

    def node(self, nats_url, *extra, member=None, wait_ready=True, heartbeat="200ms", expiry="1500ms"):
        member = member or "127.0.0.1:%d" % reserve_port()
        s = Sidecar("--keyspace", KEYSPACE, "--peer-listen", member, "--advertise", member, "--insecure-peers",
                    "--discovery", "nats", "--nats-url", nats_url, "--nats-heartbeat", heartbeat,
                    "--nats-expiry", expiry, *extra, wait_ready=wait_ready)
        s.member = member
        self.addCleanup(s.stop)
        return s

    def test_three_converge_a_fourth_joins_and_sigterm_leaves_within_1s(self):
        nats = self.nats()
        # Heartbeats far apart: joining and leaving must not wait for them (hello / bye do it).
        slow = dict(heartbeat="10s", expiry="30s")
        nodes = [self.node(nats.url, **slow) for _ in range(3)]
        wait_rings(nodes, [n.member for n in nodes])
        nodes[0].stub.Set(cache_pb2.SetRequest(keyspace="users", key=b"k", value=b"v"), timeout=5)
        self.assertEqual(nodes[2].stub.Get(cache_pb2.GetRequest(keyspace="users", key=b"k"), timeout=5).value, b"v")

        nodes.append(self.node(nats.url, **slow))  # returns once ready
        wait_rings(nodes, [n.member for n in nodes], timeout=1.0)

        leaving = nodes.pop(1)
        leaving.terminate()
        wait_rings(nodes, [n.member for n in nodes], timeout=1.0)
        self.assertEqual(leaving.proc.wait(timeout=15), 0)
        self.assertIn("said bye", leaving.output())
        for n in nodes:
            self.assertEqual(metric(n, "podcache_discovery_members"), 2)
            self.assertGreaterEqual(metric(n, "podcache_discovery_messages_received_total", type="bye"), 1)
            self.assertEqual(metric(n, "podcache_discovery_connected"), 1)

    def test_kill_9_member_expires_after_the_expiry_time(self):
        nats = self.nats()
        nodes = [self.node(nats.url, heartbeat="200ms", expiry="1500ms") for _ in range(3)]
        wait_rings(nodes, [n.member for n in nodes])
        victim = nodes.pop()
        victim.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        wait_rings(nodes, [n.member for n in nodes], timeout=6.0)
        # Its last heartbeat was at most 200 ms before the kill: it cannot have expired sooner.
        self.assertGreaterEqual(time.monotonic() - killed, 1.5 - 0.2)
        for n in nodes:
            self.assertGreaterEqual(metric(n, "podcache_discovery_expired_total"), 1)

    def test_nats_server_restart_keeps_the_members_that_are_alive(self):
        nats = self.nats()
        nodes = [self.node(nats.url, heartbeat="200ms", expiry="1s") for _ in range(3)]
        members = [n.member for n in nodes]
        wait_rings(nodes, members)

        nats.stop()
        for n in nodes:
            wait_until(lambda: metric(n, "podcache_discovery_connected") == 0, what="disconnected")
        nodes[2].proc.send_signal(signal.SIGKILL)  # dies during the outage: cannot say bye
        time.sleep(2.5)  # 2.5 expiry times without any heartbeat
        for n in nodes[:2]:
            self.assertEqual(ring(n), sorted(members))  # nobody expired while the server was away
            self.assertGreaterEqual(metric(n, "podcache_discovery_errors_total", kind="disconnected"), 1)
            self.assertTrue(n.ready())

        nats.start()  # same port
        for n in nodes[:2]:
            wait_until(lambda: metric(n, "podcache_discovery_reconnects_total") >= 1, timeout=15, what="reconnected")
        # The two alive nodes answer each other's hello; the dead one expires one expiry later.
        wait_rings(nodes[:2], members[:2], timeout=6.0)
        for n in nodes[:2]:
            self.assertIn("reconnected, announcing again", n.output())
        # Heartbeats and announcements flow again: a new node joins everyone.
        late = self.node(nats.url, heartbeat="200ms", expiry="1s")
        wait_rings(nodes[:2] + [late], members[:2] + [late.member], timeout=3.0)
        time.sleep(2)  # two expiry times: the alive members keep beating
        for n in nodes[:2] + [late]:
            self.assertEqual(ring(n), sorted(members[:2] + [late.member]))

    def test_malformed_and_forged_messages_are_dropped(self):
        nats = self.nats()
        nodes = [self.node(nats.url, heartbeat="200ms", expiry="1s") for _ in range(2)]
        members = [n.member for n in nodes]
        wait_rings(nodes, members)
        bad = [b"", b"hello", b"\x00\xff\xfe", b'{"v":1,"type":"hello","member":"127.0.0.1:1"}',
               b"podcache.discovery/1 wave 127.0.0.1:1", b"podcache.discovery/1 hello 127.0.0.1",
               b"podcache.discovery/1 hello 127.0.0.1:99999", b"podcache.discovery/1 hello a b:1",
               b"podcache.discovery/1 hello 127.0.0.1:1 extra"]
        for payload in bad:
            nats.publish(SUBJECT, payload)
        nats.publish(SUBJECT, b"podcache.discovery/1 hello " + b"a" * 2000 + b":1")
        nats.publish(SUBJECT, b"podcache.discovery/7 hello 127.0.0.1:1")
        # A forged bye in node 0's name: node 0 ignores it (node 1 believes it until node 0's next beat).
        nats.publish(SUBJECT, b"podcache.discovery/1 bye " + members[0].encode())
        n0 = nodes[0]
        wait_until(lambda: metric(n0, "podcache_discovery_messages_dropped_total", reason="self") >= 1,
                   what="self claim dropped")
        for n in nodes:
            wait_until(lambda: metric(n, "podcache_discovery_messages_dropped_total", reason="malformed") >= len(bad),
                       what="malformed counted")
            self.assertEqual(metric(n, "podcache_discovery_messages_dropped_total", reason="oversized"), 1)
            self.assertEqual(metric(n, "podcache_discovery_messages_dropped_total", reason="version"), 1)
        wait_rings(nodes, members, timeout=3.0)
        for n in nodes:
            self.assertEqual(n.proc.poll(), None)

        # The same publisher with a valid hello: a member appears, and expires without heartbeats.
        nats.publish(SUBJECT, b"podcache.discovery/1 hello 127.0.0.1:1")
        wait_rings(nodes, members + ["127.0.0.1:1"], timeout=3.0)
        wait_rings(nodes, members, timeout=5.0)

    def test_member_cap_refuses_a_flood_of_announcements(self):
        nats = self.nats()
        node = self.node(nats.url, "--max-members", "3")
        for port in range(1, 11):
            nats.publish(SUBJECT, b"podcache.discovery/1 hello 127.0.0.1:%d" % port)
        wait_until(lambda: metric(node, "podcache_discovery_errors_total", kind="too_many_members") >= 7,
                   what="refusals counted")
        self.assertEqual(metric(node, "podcache_discovery_members"), 3)
        self.assertLessEqual(len(ring(node)), 4)  # 3 from NATS, and this node itself

    def test_user_password_token_and_tls_options(self):
        from certs import CertFactory
        certs = CertFactory()
        ca = certs.ca()
        server_cert, server_key = certs.cert("nats-server", san="localhost")
        client_cert, client_key = certs.cert("nats-client")
        nats = self.nats("--tlsverify", "--tlscert", server_cert, "--tlskey", server_key, "--tlscacert", ca[0],
                         "--user", "cache", "--pass", "s3cret")
        url = "tls://localhost:%d" % nats.port
        tls = ["--nats-tls-ca", ca[0], "--nats-tls-cert", client_cert, "--nats-tls-key", client_key]
        nodes = [self.node(url, "--nats-user", "cache", "--nats-password", "s3cret", *tls) for _ in range(2)]
        wait_rings(nodes, [n.member for n in nodes])
        # A wrong password or no client certificate: never connected, never ready.
        wrong = self.node(url, "--nats-user", "cache", "--nats-password", "nope", *tls, wait_ready=False)
        no_cert = self.node(url, "--nats-user", "cache", "--nats-password", "s3cret", "--nats-tls-ca", ca[0],
                            wait_ready=False)
        time.sleep(1.5)
        for n in (wrong, no_cert):
            self.assertFalse(n.ready())
            self.assertEqual(metric(n, "podcache_discovery_synced"), 0)
        for n in nodes:
            self.assertEqual(ring(n), sorted(x.member for x in nodes))

        token = self.nats("--auth", "t0ken")
        with_token = [self.node(token.url, "--nats-token", "t0ken") for _ in range(2)]
        wait_rings(with_token, [n.member for n in with_token])


if __name__ == "__main__":
    unittest.main()
