"""Starts real podcache processes (and the example loader app) for the integration tests.

Paths come from the environment, set by CTest:
  PODCACHE_BIN, PODCACHECTL_BIN   the binaries under test
  PODCACHE_PYGEN                  generated Python stubs (podcache/v1/*_pb2*.py, health, reflection)
  PODCACHE_SOURCE_DIR             the repository (for examples/)
"""
import ctypes
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from ports import reserve_port

sys.path.insert(0, os.environ["PODCACHE_PYGEN"])

import grpc  # noqa: E402
from podcache.v1 import cache_pb2, cache_pb2_grpc, loader_pb2, loader_pb2_grpc  # noqa: E402,F401

SOURCE_DIR = os.environ["PODCACHE_SOURCE_DIR"]
PODCACHE = os.environ["PODCACHE_BIN"]
PODCACHECTL = os.environ["PODCACHECTL_BIN"]


# How long a server process may take to start listening, and to become ready: generous, as under
# ASan on a busy machine a start takes seconds; a deadline, not a wait.
START_TIMEOUT = 30.0

_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def die_with_parent():
    """preexec_fn: the child gets SIGKILL when the test process dies, whatever way it dies, so no
    server outlives its test (and CTest never waits on an inherited pipe)."""
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_until(predicate, timeout=10.0, what="condition"):
    """Polls `predicate` until it returns a true value (which is returned), failing after
    `timeout` seconds with a message naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(0.02)


def json_lines(path):
    """The JSON objects of the complete lines of a log file (a line still being written, and
    lines that are not JSON such as gRPC's own messages, are skipped)."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    for line in data[:data.rfind(b"\n") + 1].splitlines():
        if line.startswith(b"{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def http_get(url, timeout=5):
    """(status, body) of a GET; HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def ring(node):
    """The members of a sidecar's current ring, sorted (from /debug/ring)."""
    return sorted(json.loads(node.http("/debug/ring")[1])["members"])


def wait_rings(nodes, members, timeout=5.0, what="rings"):
    """Waits until the ring of every node is `members`, all within `timeout` seconds; a timeout
    names the nodes still behind, with their rings and the end of their logs."""
    members = sorted(members)
    try:
        wait_until(lambda: all(ring(n) == members for n in nodes), timeout=timeout, what=what)
    except AssertionError:
        behind = [(ring(n), n.output()[-3000:]) for n in nodes if ring(n) != members]
        raise AssertionError("%s: want %s; behind: %s" % (
            what, members, "\n".join("ring %s, log:\n%s" % b for b in behind)))


def metric(node, name, missing=None, **labels):
    """The value of the sample `name` on a sidecar's /metrics whose labels include `labels`.
    Without one (or while the port does not answer yet): `missing`, or with missing=None the test
    fails, so that a misspelt metric cannot pass for a zero."""
    try:
        body = node.http("/metrics")[1].decode()
    except OSError:
        body = ""
    for line in body.splitlines():
        m = re.match(r"%s(?:\{([^}]*)\})? (\S+)$" % re.escape(name), line)
        if m and labels.items() <= dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or "")).items():
            return float(m.group(2))
    if missing is None:
        raise AssertionError("no sample %s%s on /metrics" % (name, labels))
    return missing


class LoaderApp:
    """examples/slow-db/app.py: the HTTP loader the tests and the demo use."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(SOURCE_DIR, "examples/slow-db/app.py"), "--port", "0", *args],
            stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
        # The app binds port 0 and prints "listening <port>" once it serves: wait for that
        # complete line within a deadline (readline alone would block forever on a hung app).
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        if not re.fullmatch(r"listening \d+\n", line):
            self.stop()
            raise AssertionError("loader app: no \"listening <port>\" line within %.0f s (got %r, status %s)" % (
                START_TIMEOUT, line, self.proc.returncode))
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d/cache/{keyspace}/{key}" % self.port

    def calls(self, keyspace, key):
        return json.loads(http_get("http://127.0.0.1:%d/calls" % self.port)[1]).get(keyspace + "/" + key, 0)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Sidecar:
    """One podcache process on loopback. The app API binds port 0 (unless `api_listen` says
    otherwise) and the address it got is read from podcache's "listening" log line; the HTTP port
    is reserved (ports.py). The constructor returns once the process listens on every port, and
    with wait_ready once /readyz says ready; it fails with the log if the process exits first."""

    def __init__(self, *args, api_listen=None, env=None, wait_ready=True):
        self.log = tempfile.NamedTemporaryFile(prefix="podcache-", suffix=".log", delete=False)
        self.http_port = reserve_port()
        self.args = ["--api-listen", api_listen or "127.0.0.1:0", "--http-listen", "127.0.0.1:%d" % self.http_port,
                     *args]
        self.proc = subprocess.Popen([PODCACHE, *self.args], stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, preexec_fn=die_with_parent)
        try:
            listening = self.wait_alive(lambda: self.log_line("listening"), "podcache listening")
            self.api = listening["api"]
            if wait_ready:
                self.wait_alive(self.ready, "podcache ready (/readyz 200)")
        except AssertionError:
            self.stop()
            raise
        self.channel = grpc.insecure_channel(self.api)
        self.stub = cache_pb2_grpc.CacheStub(self.channel)

    def wait_alive(self, predicate, what, timeout=START_TIMEOUT):
        """wait_until(predicate) while the process runs; its exit or the deadline fails with the log."""
        try:
            value = wait_until(lambda: self.proc.poll() is not None or predicate(), timeout=timeout, what=what)
        except AssertionError as e:
            raise AssertionError("%s; podcache log:\n%s" % (e, self.output()))
        if self.proc.poll() is not None:
            raise AssertionError("podcache exited with status %d before %s; log:\n%s" % (
                self.proc.returncode, what, self.output()))
        return value

    def log_line(self, msg):
        """The first complete JSON log line whose msg is `msg`, or None."""
        return next((line for line in json_lines(self.log.name) if line.get("msg") == msg), None)

    def ready(self):
        try:
            return http_get("http://127.0.0.1:%d/readyz" % self.http_port, timeout=1)[0] == 200
        except OSError:
            return False

    def http(self, path):
        return http_get("http://127.0.0.1:%d%s" % (self.http_port, path))

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def ctl(self, *args, input=None):
        return subprocess.run([PODCACHECTL, "--addr", self.api, *args], capture_output=True, input=input)

    def terminate(self):
        self.proc.send_signal(signal.SIGTERM)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if hasattr(self, "channel"):
            self.channel.close()
        if os.path.exists(self.log.name):
            os.unlink(self.log.name)


def run_podcache(*args, env=None, timeout=START_TIMEOUT):
    """Runs podcache to completion (for configuration errors); returns (exit code, output)."""
    r = subprocess.run([PODCACHE, *args], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})})
    return r.returncode, r.stdout + r.stderr


class Cluster:
    """N podcache nodes on loopback with static discovery, mTLS (certificates from certs.py), and
    one example loader app per node (as each pod has its own app)."""

    def __init__(self, n, keyspace_extra="", extra_args=(), tls=True, peers_for=None, loader_args=()):
        from certs import CertFactory
        self.certs = CertFactory()
        self.ca = self.certs.ca()
        self.peer_ports = [reserve_port() for _ in range(n)]
        self.members = ["127.0.0.1:%d" % p for p in self.peer_ports]
        self.apps, self.nodes = [], []
        try:
            for i in range(n):
                app = LoaderApp(*loader_args)
                self.apps.append(app)
                cert, key = self.certs.cert("node%d" % i)
                tls_args = ["--tls-cert", cert, "--tls-key", key, "--tls-ca", self.ca[0]] if tls \
                    else ["--insecure-peers"]
                peers = peers_for(i, self.members) if peers_for else self.members
                self.nodes.append(Sidecar(
                    "--keyspace", "users:max_bytes=16MiB,ttl=5m,loader=" + app.url + keyspace_extra,
                    "--peer-listen", self.members[i], "--advertise", self.members[i],
                    "--peers", ",".join(peers), "--peer-timeout", "1s", *tls_args, *extra_args))
        except BaseException:
            self.stop()
            raise

    def owner_index(self, key):
        r = self.nodes[0].ctl("--http", "127.0.0.1:%d" % self.nodes[0].http_port, "owner", key)
        assert r.returncode == 0, r.stderr
        return self.members.index(r.stdout.decode().strip())

    def loader_calls(self, key):
        return [app.calls("users", key) for app in self.apps]

    def stop(self):
        for node in self.nodes:
            node.stop()
        for app in self.apps:
            app.stop()
