"""Ports for servers that must be told their port before they start (a peer port other nodes
dial, the HTTP port, dnsmasq, nats-server, a server restarted on the same port).

Binding port 0, closing the socket and handing the number on races under `ctest -j`: the kernel
may give the same ephemeral port to another test's bind(0) or to any outgoing connection before
the server binds it. So ports are taken from below the kernel's ephemeral range
(/proc/sys/net/ipv4/ip_local_port_range), where the kernel never picks one by itself, and each is
reserved with an flock on a file in a directory every test process shares. The lock is held for
the life of the test process (one CTest test), so no two concurrent tests share a port; the
kernel releases it when the process dies, however it dies.

Servers that can bind port 0 and say which port they got (podcache's app API, the example loader
app, servers inside the test process) do that instead."""
import errno
import fcntl
import os
import random
import socket

LOCK_DIR = os.path.join("/tmp", "podcache-test-ports")
# The demo (scripts/demo.sh) uses fixed ports 17070-18082: stay above them.
LOW = 20000

_held = {}  # port -> open lock file: kept open (and locked) until this process exits


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port):
    """True if nothing holds `port` on loopback now, TCP and UDP, IPv4 and IPv6 (a DNS server
    binds both protocols; a few tests listen on [::1])."""
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            try:
                with socket.socket(family, kind) as s:
                    s.bind((host, port))
            except OSError as e:
                if family == socket.AF_INET6 and e.errno == errno.EADDRNOTAVAIL:
                    continue  # no IPv6 loopback on this machine
                return False
    return True


def reserve_port():
    """A loopback port (TCP and UDP) reserved for this process until it exits."""
    high = _ephemeral_low() - 1
    if high - LOW < 1000:
        raise AssertionError("the ephemeral port range starts at %d: no room below it for test ports "
                             "(see tests/integration/ports.py)" % (high + 1))
    os.makedirs(LOCK_DIR, exist_ok=True)
    try:
        os.chmod(LOCK_DIR, 0o1777)
    except OSError:
        pass  # made by another user, who made it shared
    rng = random.SystemRandom()
    for _ in range(2000):
        port = rng.randint(LOW, high)
        if port in _held:
            continue
        f = open(os.path.join(LOCK_DIR, str(port)), "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()  # another test holds it
            continue
        if not _bindable(port):
            f.close()  # used by something outside the tests (or still closing): not this one
            continue
        _held[port] = f
        return port
    raise AssertionError("no free test port in %d-%d after 2000 tries" % (LOW, high))
