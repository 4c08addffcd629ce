"""Network namespaces for the fault suite: one namespace per node and a hub namespace with a bridge;
each node's veth pair joins the bridge, and so does one veth pair whose other end stays in the root
namespace with the address the test process (its loader and its clients) uses. Traffic between
nodes is bridged inside the hub, never forwarded by the root namespace, so the host's own firewall
(a FORWARD policy of DROP, br_netfilter) cannot interfere. nftables partitions live in a node's
namespace.

Names carry the test process's pid (pcf-<pid>-<i> and pcf-<pid>-hub namespaces, pcf<pid>h veth in
the root namespace), so concurrent runs do not collide and a leftover of a killed run can be
recognised (its pid is gone) and removed at the start of the next run. The subnet is
10.213.<octet>.0/24 with an octet no interface of this machine uses yet: .1 is the root namespace's
end, nodes are .10, .11, ...

Everything made here is removed by Topology.close (called from tests' cleanups and atexit);
removing a namespace removes its nft tables and its veth pairs with it."""
import atexit
import os
import re
import shutil
import subprocess
import unittest

PREFIX = "pcf-"


def _run(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (status %d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def skip_unless_possible():
    """A unittest skip (with the reason) when this machine cannot build the topology: not root,
    or no `ip` / `nft` (scripts/install-deps.sh installs iproute2 and nftables)."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("the fault suite needs root (network namespaces, nftables)")
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            raise unittest.SkipTest("the fault suite needs `%s` (Debian package %s; scripts/install-deps.sh)"
                                    % (tool, package))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale():
    """Removes namespaces and bridges of earlier runs whose test process is gone (a run killed
    before its cleanup); the podcache processes of such a run died with it (PR_SET_PDEATHSIG)."""
    for line in _run("ip", "netns", "list").stdout.splitlines():
        m = re.match(r"(%s(\d+)-\S+)" % PREFIX, line)
        if m and not _alive(int(m.group(2))):
            _run("ip", "netns", "delete", m.group(1), check=False)
    for line in _run("ip", "-o", "link", "show").stdout.splitlines():
        m = re.match(r"\d+: (pcf(\d+)h)[:@]", line)
        if m and not _alive(int(m.group(2))):
            _run("ip", "link", "delete", m.group(1), check=False)


def _free_octet(pid):
    used = set(int(m) for m in re.findall(r"inet 10\.213\.(\d+)\.", _run("ip", "-o", "-4", "addr", "show").stdout))
    for i in range(254):
        octet = (pid + i) % 254 + 1
        if octet not in used:
            return octet
    raise AssertionError("no free 10.213.x.0/24 subnet: 254 in use")


class Topology:
    """`n` node namespaces on the hub's bridge. ns(i) is the namespace name of node i, ip(i) its
    address, host_ip the root namespace's address (reachable from every node)."""

    def __init__(self, n):
        clean_stale()
        self.pid = os.getpid()
        self.n = n
        self.octet = _free_octet(self.pid)
        self.host_ip = "10.213.%d.1" % self.octet
        self.hub = "%s%d-hub" % (PREFIX, self.pid)
        self.names = ["%s%d-%d" % (PREFIX, self.pid, i) for i in range(n)]
        self.closed = False
        atexit.register(self.close)
        try:
            _run("ip", "netns", "add", self.hub)
            self.hub_exec("ip", "link", "set", "lo", "up")
            self.hub_exec("ip", "link", "add", "br0", "type", "bridge")
            self.hub_exec("ip", "link", "set", "br0", "up")
            # The root namespace's end: pcf<pid>h here, host0 on the bridge.
            host = "pcf%dh" % self.pid
            _run("ip", "link", "add", host, "type", "veth", "peer", "name", "host0", "netns", self.hub)
            _run("ip", "addr", "add", self.host_ip + "/24", "dev", host)
            _run("ip", "link", "set", host, "up")
            self.hub_exec("ip", "link", "set", "host0", "master", "br0")
            self.hub_exec("ip", "link", "set", "host0", "up")
            for i in range(n):
                _run("ip", "netns", "add", self.names[i])
                self.hub_exec("ip", "link", "add", "node%d" % i, "type", "veth", "peer", "name", "eth0",
                              "netns", self.names[i])
                self.hub_exec("ip", "link", "set", "node%d" % i, "master", "br0")
                self.hub_exec("ip", "link", "set", "node%d" % i, "up")
                self.exec(i, "ip", "link", "set", "lo", "up")
                self.exec(i, "ip", "addr", "add", self.ip(i) + "/24", "dev", "eth0")
                self.exec(i, "ip", "link", "set", "eth0", "up")
        except BaseException:
            self.close()
            raise

    def hub_exec(self, *args):
        return _run("ip", "netns", "exec", self.hub, *args)

    def ns(self, i):
        return self.names[i]

    def ip(self, i):
        return "10.213.%d.%d" % (self.octet, 10 + i)

    def exec(self, i, *args, check=True):
        return _run("ip", "netns", "exec", self.names[i], *args, check=check)

    def partition(self, i, others):
        """Drops every packet between node i and the nodes `others` (in node i's namespace, both
        directions). The root namespace's address (test clients, the loader) stays reachable."""
        addrs = ", ".join(self.ip(j) for j in others)
        rules = ("table inet pcf_partition {\n"
                 " chain in { type filter hook input priority 0; ip saddr { %s } drop; }\n"
                 " chain out { type filter hook output priority 0; ip daddr { %s } drop; }\n"
                 "}\n" % (addrs, addrs))
        r = subprocess.run(["ip", "netns", "exec", self.names[i], "nft", "-f", "-"], input=rules,
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError("nft partition in %s failed: %s" % (self.names[i], r.stderr.strip()))

    def heal(self, i):
        self.exec(i, "nft", "delete", "table", "inet", "pcf_partition", check=False)

    def close(self):
        if self.closed:
            return
        self.closed = True
        for name in self.names + [self.hub]:
            _run("ip", "netns", "delete", name, check=False)
        # Normally gone with the hub's end; not if the hub was never made.
        _run("ip", "link", "delete", "pcf%dh" % self.pid, check=False)
