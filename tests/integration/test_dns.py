"""DNS-SD discovery (--discovery dns) against a real dnsmasq on a loopback port: SRV and A/AAAA
modes, record changes, outages and bad answers, IPv6, the member cap, readiness."""
import unittest

import harness
from harness import Sidecar, cache_pb2, reserve_port, ring, wait_rings, wait_until
from servers import Dnsmasq, FaultyDns

ZONE = "ns.svc.cluster.local"
SRV_NAME = "_peer._tcp.peers." + ZONE
A_NAME = "peers." + ZONE
INTERVAL = "300ms"
KEYSPACE = "users:max_bytes=16MiB,ttl=5m"


def metric(node, name, **labels):
    """A sample of the dns source; 0 while there is none."""
    return harness.metric(node, name, missing=0.0, source="dns", **labels)


def srv_records(ports, host="127.0.0.1"):
    """One SRV target per node, each target name with an address record."""
    srv = [(SRV_NAME, "node%d.peers.%s" % (i, ZONE), port) for i, port in enumerate(ports)]
    records = [("node%d.peers.%s" % (i, ZONE), [host]) for i in range(len(ports))]
    return srv, records


class DnsTest(unittest.TestCase):
    def dnsmasq(self, **kw):
        d = Dnsmasq(**kw)
        self.addCleanup(d.close)
        return d

    def node(self, member, dns_port, *extra, wait_ready=True, tls=None):
        tls_args = ["--insecure-peers"] if tls is None else tls
        s = Sidecar("--keyspace", KEYSPACE, "--peer-listen", member, "--advertise", member,
                    "--discovery", "dns", "--dns-server", "127.0.0.1:%d" % dns_port,
                    "--dns-interval", INTERVAL, *tls_args, *extra, wait_ready=wait_ready)
        self.addCleanup(s.stop)
        return s

    def test_srv_three_members_then_four_then_dnsmasq_stopped(self):
        from certs import CertFactory
        certs = CertFactory()
        ca = certs.ca()
        ports = [reserve_port() for _ in range(4)]
        members = ["127.0.0.1:%d" % p for p in ports]
        dns = self.dnsmasq(**dict(zip(("srv", "records"), srv_records(ports[:3]))))

        def tls(i):
            cert, key = certs.cert("node%d" % i)
            return ["--tls-cert", cert, "--tls-key", key, "--tls-ca", ca[0]]
        nodes = [self.node(members[i], dns.port, "--dns-name", SRV_NAME, tls=tls(i)) for i in range(3)]
        wait_rings(nodes, members[:3])
        # The ring is a working cluster: a value set on one node is read through another.
        nodes[0].stub.Set(cache_pb2.SetRequest(keyspace="users", key=b"k", value=b"v"), timeout=5)
        self.assertEqual(nodes[2].stub.Get(cache_pb2.GetRequest(keyspace="users", key=b"k"), timeout=5).value, b"v")

        # A 4th pod: its SRV record appears (dnsmasq learns SRV records on restart only).
        dns.restart(*srv_records(ports))
        nodes.append(self.node(members[3], dns.port, "--dns-name", SRV_NAME, tls=tls(3)))
        wait_rings(nodes, members, timeout=3.0)  # interval 300ms + debounce 200ms, with slack
        for n in nodes:
            self.assertEqual(metric(n, "podcache_discovery_members"), 4)
            self.assertGreaterEqual(metric(n, "podcache_discovery_updates_total"), 1)

        # DNS goes away: the members stay, the failures are counted, the nodes stay ready.
        logged = nodes[0].output().count("resolution failed")
        dns.stop()
        for n in nodes:
            before = metric(n, "podcache_discovery_errors_total", kind="unreachable")
            wait_until(lambda: metric(n, "podcache_discovery_errors_total", kind="unreachable") >= before + 2,
                       what="failed resolutions counted")
        for n in nodes:
            self.assertEqual(ring(n), sorted(members))
            self.assertEqual(metric(n, "podcache_discovery_members"), 4)
            self.assertTrue(n.ready())
        self.assertEqual(nodes[0].output().count("resolution failed"), logged + 1)  # logged once
        # SIGTERM while DNS is down: the resolver thread stops at once and the process exits 0.
        nodes[0].terminate()
        self.assertEqual(nodes[0].proc.wait(timeout=15), 0)

    def test_a_records_follow_the_hostsdir_file_and_unknown_name_keeps_members(self):
        port = reserve_port()
        addrs = ["127.0.0.%d" % i for i in range(2, 6)]
        members = ["%s:%d" % (a, port) for a in addrs]
        dns = self.dnsmasq()
        dns.write_hosts("peers", ["%s %s" % (a, A_NAME) for a in addrs[:3]])
        nodes = [self.node(members[i], dns.port, "--dns-name", A_NAME, "--dns-port", str(port)) for i in range(3)]
        wait_rings(nodes, members[:3])

        # dnsmasq re-reads --hostsdir files by itself: rings follow within the interval.
        dns.write_hosts("peers", ["%s %s" % (a, A_NAME) for a in addrs])
        nodes.append(self.node(members[3], dns.port, "--dns-name", A_NAME, "--dns-port", str(port)))
        wait_rings(nodes, members, timeout=3.0)
        nodes[1].proc.kill()
        dns.write_hosts("peers", ["%s %s" % (a, A_NAME) for a in addrs if a != addrs[1]])
        alive = [n for i, n in enumerate(nodes) if i != 1]
        wait_rings(alive, [m for i, m in enumerate(members) if i != 1], timeout=3.0)

        # The name disappears (NXDOMAIN): the last members stay.
        dns.write_hosts("peers", [])
        for n in alive:
            wait_until(lambda: metric(n, "podcache_discovery_errors_total", kind="nxdomain") >= 2,
                       what="NXDOMAIN counted")
            self.assertEqual(ring(n), sorted(m for i, m in enumerate(members) if i != 1))

    def test_ipv6_answers(self):
        ports = [reserve_port() for _ in range(2)]
        v6 = ["[::1]:%d" % p for p in ports]
        # Dual-stack targets (A and AAAA): nodes advertising IPv6 take the AAAA records only.
        srv = [(SRV_NAME, "node%d.peers.%s" % (i, ZONE), p) for i, p in enumerate(ports)]
        records = [("node%d.peers.%s" % (i, ZONE), ["127.0.0.1", "::1"]) for i in range(2)]
        dns = self.dnsmasq(srv=srv, records=records)
        nodes = [self.node(v6[i], dns.port, "--dns-name", SRV_NAME) for i in range(2)]
        wait_rings(nodes, v6)
        nodes[0].stub.Set(cache_pb2.SetRequest(keyspace="users", key=b"k6", value=b"v6"), timeout=5)
        self.assertEqual(nodes[1].stub.Get(cache_pb2.GetRequest(keyspace="users", key=b"k6"), timeout=5).value, b"v6")

        # A/AAAA mode with IPv6 addresses from a hosts file: bracketed members.
        port = reserve_port()
        dns.write_hosts("v6", ["::1 six.%s" % ZONE, "fd00::7 six.%s" % ZONE, "127.0.0.9 six.%s" % ZONE])
        six = self.node("[::1]:%d" % port, dns.port, "--dns-name", "six." + ZONE, "--dns-port", str(port))
        wait_until(lambda: ring(six) == sorted(["[::1]:%d" % port, "[fd00::7]:%d" % port]), what="IPv6 members")
        # The same name seen by a node that advertises IPv4: only the A record.
        four = self.node("127.0.0.9:%d" % port, dns.port, "--dns-name", "six." + ZONE, "--dns-port", str(port))
        wait_until(lambda: ring(four) == ["127.0.0.9:%d" % port], what="IPv4 member")
        self.assertEqual(metric(four, "podcache_discovery_members"), 1)

    def test_bad_answers_keep_the_last_members(self):
        ports = [reserve_port() for _ in range(2)]
        members = ["127.0.0.1:%d" % p for p in ports]
        dns = self.dnsmasq(**dict(zip(("srv", "records"), srv_records(ports))))
        proxy = FaultyDns(dns.port)
        self.addCleanup(proxy.close)
        nodes = [self.node(members[i], proxy.port, "--dns-name", SRV_NAME, "--dns-timeout", "100ms",
                           "--dns-tries", "1") for i in range(2)]
        wait_rings(nodes, members)
        for mode, kind in [("servfail", "servfail"), ("refused", "refused"), ("empty", "empty"), ("truncated", "unreachable"),
                           ("bad", "bad_answer"), ("drop", "timeout")]:
            before = [metric(n, "podcache_discovery_errors_total", kind=kind) for n in nodes]
            proxy.mode = mode
            for n, b in zip(nodes, before):
                wait_until(lambda: metric(n, "podcache_discovery_errors_total", kind=kind) >= b + 2,
                           what="%s counted as %s" % (mode, kind))
            for n in nodes:
                self.assertEqual(ring(n), sorted(members), mode)
                self.assertEqual(metric(n, "podcache_discovery_members"), 2, mode)
        proxy.mode = "forward"
        wait_until(lambda: "resolving again" in nodes[0].output(), what="recovery logged")
        self.assertEqual(ring(nodes[0]), sorted(members))

    def test_member_cap_and_large_answers_over_tcp(self):
        # 30 SRV records do not fit in 512 bytes of UDP: c-ares retries over TCP.
        fake_ports = list(range(20001, 20031))
        srv, records = srv_records(fake_ports)
        self_port = reserve_port()
        member = "127.0.0.1:%d" % self_port
        srv.append((SRV_NAME, "self.peers." + ZONE, self_port))
        records.append(("self.peers." + ZONE, ["127.0.0.1"]))
        dns = self.dnsmasq(srv=srv, records=records)
        node = self.node(member, dns.port, "--dns-name", SRV_NAME, "--max-members", "5")
        wait_until(lambda: metric(node, "podcache_discovery_members") == 5, what="5 members")
        self.assertGreaterEqual(metric(node, "podcache_discovery_errors_total", kind="too_many_members"), 1)
        r = ring(node)
        self.assertIn(member, r)
        self.assertLessEqual(len(r), 6)  # 5 from DNS, and this node itself
        uncapped = self.node("127.0.0.1:%d" % reserve_port(), dns.port, "--dns-name", SRV_NAME)
        wait_until(lambda: metric(uncapped, "podcache_discovery_members") == 31, what="31 members over TCP")

    def test_readiness_waits_for_a_first_answer(self):
        dns_port = reserve_port()  # held for dnsmasq, started later on it
        member = "127.0.0.1:%d" % reserve_port()
        # No DNS server at all: the node is not ready (and says so), but keeps trying.
        node = self.node(member, dns_port, "--dns-name", SRV_NAME, wait_ready=False)
        wait_until(lambda: metric(node, "podcache_discovery_errors_total", kind="unreachable") >= 2,
                   what="unreachable DNS counted")
        self.assertFalse(node.ready())
        self.assertEqual(metric(node, "podcache_discovery_synced"), 0)
        other = "127.0.0.1:%d" % reserve_port()
        self.dnsmasq(srv=[(SRV_NAME, "a.peers." + ZONE, int(other.split(":")[1]))],
                     records=[("a.peers." + ZONE, ["127.0.0.1"])], port=dns_port)
        wait_until(node.ready, what="ready after the first answer")
        self.assertEqual(ring(node), sorted([member, other]))
        # A name that does not exist (yet) is an answer: the node starts alone.
        alone = self.node("127.0.0.1:%d" % reserve_port(), dns_port, "--dns-name", "_peer._tcp.nobody." + ZONE)
        self.assertEqual(len(ring(alone)), 1)


if __name__ == "__main__":
    unittest.main()
