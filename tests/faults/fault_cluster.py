"""The fault suite's cluster: podcache nodes in network namespaces (netns.py) over mTLS, one shared
HTTP loader that counts calls per key and can be told to fail or be slow, and a bounded gRPC load
generator that records every call (start, latency, status, source).

PODCACHE_FAULTS_LEGACY=1 runs binaries that predate issue 14: the node options and keyspace fields
issue 14 adds (which such a binary refuses) are left out, so the same tests measure the "before"
figures. Without it every option is passed, and a binary that lacks one fails to start."""
import asyncio
import collections
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

import grpc  # noqa: E402
import grpc.aio  # noqa: E402

from certs import CertFactory  # noqa: E402
from harness import (PODCACHE, PODCACHECTL, START_TIMEOUT, cache_pb2, cache_pb2_grpc, die_with_parent,  # noqa: E402
                     http_get, json_lines, wait_until)
from netns import Topology  # noqa: E402

LEGACY = os.environ.get("PODCACHE_FAULTS_LEGACY") == "1"
# Issue 14's options (docs: the common contract); a binary before it refuses them.
NEW_NODE_FLAGS = {"--peer-eject-failures", "--peer-eject-time", "--peer-eject-max-time", "--peer-hedge-delay",
                  "--write-ack-wait", "--repair-interval", "--repair-max-keys"}
NEW_KEYSPACE_FIELDS = {"fallback_ttl", "stale_while_revalidate", "stale_if_error", "loader_breaker_failures",
                       "loader_breaker_time", "loader_breaker_max_time"}
# What every fault-suite node runs with (issue 14's defaults, spelt out so the figures do not move
# when a default does).
NODE_FLAGS = (("--peer-timeout", "1s"), ("--peer-eject-failures", "3"), ("--peer-eject-time", "1s"),
              ("--peer-eject-max-time", "10s"), ("--write-ack-wait", "50ms"), ("--repair-interval", "200ms"))
KEYSPACE_FIELDS = "max_bytes=16MiB,ttl=5m,fallback_ttl=1s"

API_PORT, PEER_PORT, HTTP_PORT = 7070, 7071, 7072
LOADER_DELAY_MS = 200
KS = "users"


def report(line):
    """One line of measured figures, on stderr (CTest keeps it; grep FAULTS)."""
    print("FAULTS " + line, file=sys.stderr, flush=True)


def node_flags(pairs):
    """The flag list for `pairs` of (flag, value), without issue 14's flags in legacy mode."""
    out, dropped = [], []
    for flag, value in pairs:
        if LEGACY and flag in NEW_NODE_FLAGS:
            dropped.append(flag)
            continue
        out += [flag] if value is None else [flag, value]
    return out, dropped


def keyspace_spec(spec):
    """A --keyspace spec without issue 14's fields in legacy mode."""
    if not LEGACY:
        return spec, []
    name, fields = spec.split(":", 1)
    kept, dropped = [], []
    for field in fields.split(","):
        (dropped if field.split("=", 1)[0] in NEW_KEYSPACE_FIELDS else kept).append(field)
    return name + ":" + ",".join(kept), dropped


class FaultLoader:
    """fault_loader.py on the bridge address."""

    def __init__(self, host, delay_ms=LOADER_DELAY_MS):
        self.host = host
        self.delay_ms = delay_ms
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_loader.py"),
             "--host", host, "--delay-ms", str(delay_ms)],
            stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        if not re.fullmatch(r"listening \d+\n", line):
            self.stop()
            raise AssertionError("fault loader: no \"listening <port>\" line within %.0f s (got %r)" % (
                START_TIMEOUT, line))
        self.port = int(line.split()[1])
        self.base = "http://%s:%d" % (host, self.port)
        self.url = self.base + "/cache/{keyspace}/{key}"

    def set(self, status=None, delay_ms=None, cache_control=None):
        q = []
        if status is not None:
            q.append("status=%d" % status)
        if delay_ms is not None:
            self.delay_ms = delay_ms
            q.append("delay_ms=%d" % delay_ms)
        if cache_control is not None:
            q.append("cache_control=" + cache_control.replace(" ", "%20").replace("=", "%3D").replace(",", "%2C"))
        code, body = http_get(self.base + "/set?" + "&".join(q))
        assert code == 200, body

    def put(self, key, value, keyspace=KS):
        """The database changes: later loads of the key answer `value` (bytes)."""
        code, body = http_get(self.base + "/put?" + urllib.parse.urlencode({"name": keyspace + "/" + key,
                                                                            "value": value.decode()}))
        assert code == 200, body

    def call_times(self, key, keyspace=KS):
        """Start times (CLOCK_MONOTONIC, as time.monotonic here) of every load of the key."""
        return json.loads(http_get(self.base + "/calls")[1]).get(keyspace + "/" + key, [])

    def calls(self, key, keyspace=KS):
        return len(self.call_times(key, keyspace))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class FaultNode:
    """One podcache process in namespace `topo.ns(i)`: app API, peer and HTTP ports on the
    namespace's address (the API with --api-allow-remote, so the test reaches it from the root
    namespace)."""

    def __init__(self, topo, i, args, log_dir):
        self.index = i
        self.ip = topo.ip(i)
        self.api = "%s:%d" % (self.ip, API_PORT)
        self.peer = "%s:%d" % (self.ip, PEER_PORT)
        self.http_addr = "%s:%d" % (self.ip, HTTP_PORT)
        self.log_path = os.path.join(log_dir, "node%d.log" % i)
        self.stopped = False
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", topo.ns(i), PODCACHE, "--api-listen", self.api, "--api-allow-remote",
                 "--http-listen", self.http_addr, *args],
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        try:
            self.wait_alive(lambda: any(line.get("msg") == "listening" for line in json_lines(self.log_path)),
                            "podcache listening")
            self.wait_alive(self.ready, "podcache ready (/readyz 200)")
        except AssertionError:
            self.kill()
            raise
        self.channel = grpc.insecure_channel(self.api)
        self.stub = cache_pb2_grpc.CacheStub(self.channel)

    def wait_alive(self, predicate, what):
        try:
            wait_until(lambda: self.proc.poll() is not None or predicate(), timeout=START_TIMEOUT, what=what)
        except AssertionError as e:
            raise AssertionError("node %d: %s; log:\n%s" % (self.index, e, self.output()[-4000:]))
        if self.proc.poll() is not None:
            raise AssertionError("node %d exited with status %d before %s (a binary without issue 14's options? "
                                 "PODCACHE_FAULTS_LEGACY=1 measures one); log:\n%s" % (
                                     self.index, self.proc.returncode, what, self.output()[-4000:]))

    def ready(self):
        try:
            return http_get("http://%s/readyz" % self.http_addr, timeout=1)[0] == 200
        except OSError:
            return False

    def http(self, path, timeout=5):
        return http_get("http://%s%s" % (self.http_addr, path), timeout=timeout)

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_lines(self):
        return json_lines(self.log_path)

    def metric_samples(self, name):
        """[(labels, value)] of every sample `name` on /metrics."""
        body = self.http("/metrics")[1].decode()
        out = []
        for m in re.finditer(r"^%s(?:\{([^}]*)\})? (\S+)$" % re.escape(name), body, re.M):
            out.append((dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or "")), float(m.group(2))))
        return out

    def sigstop(self):
        self.proc.send_signal(signal.SIGSTOP)
        self.stopped = True

    def sigcont(self):
        self.proc.send_signal(signal.SIGCONT)
        self.stopped = False

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()  # SIGKILL also ends a stopped process
        self.proc.wait()
        if hasattr(self, "channel"):
            self.channel.close()


class FaultCluster:
    """`n` nodes in their own namespaces over mTLS, static discovery, one FaultLoader.
    `keyspaces`: extra --keyspace specs ("name:fields", the loader appended); `flags`: extra
    (flag, value) pairs; `tls_files(i)` may give node i's (cert, key, ca) paths."""

    def __init__(self, n=3, users_fields="", keyspaces=(), flags=(), loader_delay_ms=LOADER_DELAY_MS,
                 tls_files=None):
        self.topo = Topology(n)
        self.nodes = []
        self.loader = None
        self.dir = tempfile.mkdtemp(prefix="podcache-faults-")
        try:
            self.certs = CertFactory(self.dir)
            self.ca = self.certs.ca()
            self.loader = FaultLoader(self.topo.host_ip, loader_delay_ms)
            self.members = ["%s:%d" % (self.topo.ip(i), PEER_PORT) for i in range(n)]
            specs = [KS + ":" + KEYSPACE_FIELDS + users_fields] + list(keyspaces)
            flags_list, dropped = node_flags(NODE_FLAGS + tuple(flags))
            ks_args = []
            for spec in specs:
                spec, d = keyspace_spec(spec + ",loader=" + self.loader.url)
                dropped += d
                ks_args += ["--keyspace", spec]
            if dropped:
                report("LEGACY binary: left out issue-14 options %s" % sorted(set(dropped)))
            for i in range(n):
                if tls_files:
                    cert, key, ca = tls_files(i)
                else:
                    (cert, key), ca = self.certs.cert("node%d" % i), self.ca[0]
                self.nodes.append(FaultNode(self.topo, i, [
                    *ks_args, "--peer-listen", self.members[i], "--advertise", self.members[i],
                    "--peers", ",".join(self.members), "--tls-cert", cert, "--tls-key", key, "--tls-ca", ca,
                    *flags_list], self.dir))
        except BaseException:
            self.close()
            raise

    def owners(self, keys):
        """{key: owner node index} from node 0's ring (podcachectl owner)."""
        out = {}
        keys = list(keys)
        for start in range(0, len(keys), 500):
            r = subprocess.run([PODCACHECTL, "--addr", self.nodes[0].api, "--http", self.nodes[0].http_addr, "owner",
                                *keys[start:start + 500]], capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
            chunk = keys[start:start + 500]
            for line in r.stdout.splitlines():
                key, member = line.rsplit(" ", 1) if len(chunk) > 1 else (chunk[0], line)
                out[key] = self.members.index(member)
        return out

    def keys_owned_by(self, i, prefix, count):
        candidates = ["%s-%d" % (prefix, j) for j in range(count * 3 * len(self.nodes) + 30)]
        owned = [k for k, o in self.owners(candidates).items() if o == i][:count]
        assert len(owned) == count, "only %d of %d keys with prefix %s owned by node %d" % (
            len(owned), count, prefix, i)
        return owned

    def close(self):
        for node in self.nodes:
            node.kill()
        if self.loader:
            self.loader.stop()
        self.topo.close()
        subprocess.run(["rm", "-rf", self.dir], check=False)


def get(node, key, keyspace=KS, timeout=5):
    return node.stub.Get(cache_pb2.GetRequest(keyspace=keyspace, key=key.encode()), timeout=timeout)


def source_name(value):
    try:
        return cache_pb2.Source.Name(value).replace("SOURCE_", "").lower()
    except ValueError:
        return "source%d" % value


Rec = collections.namedtuple("Rec", "start latency code source node key")


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def summary(label, recs):
    """count, p50/p99/max latency (ms), errors by code, sources: the line a report quotes."""
    lat = [r.latency * 1000 for r in recs]
    errors = collections.Counter(r.code for r in recs if r.code != "OK")
    sources = collections.Counter(source_name(r.source) for r in recs if r.code == "OK")
    return "%s: n=%d p50=%.1fms p99=%.1fms max=%.1fms errors=%s sources=%s" % (
        label, len(recs), percentile(lat, 0.5), percentile(lat, 0.99), max(lat, default=float("nan")),
        dict(errors) or "{}", dict(sources))


class Load:
    """A bounded load generator: `workers` coroutines (grpc.aio, on a thread of their own) each
    doing Gets in a loop until stop() or `max_seconds`, with a per-call deadline of `deadline` s.
    pick(worker, i) -> (node index, key) chooses the i-th call of a worker. Every call is recorded
    (Rec: start on time.monotonic, latency, status code name, source, node, key)."""

    MAX_RECORDS = 2_000_000

    def __init__(self, cluster, pick, workers, keyspace=KS, deadline=1.0, max_seconds=60.0):
        self.addrs = [n.api for n in cluster.nodes]
        self.pick, self.workers, self.keyspace, self.deadline = pick, workers, keyspace, deadline
        self.max_seconds = max_seconds
        self.records = []
        self._stop = threading.Event()
        self._started = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def start(self):
        self.thread.start()
        if not self._started.wait(START_TIMEOUT):
            raise AssertionError("load generator did not start")
        return self

    async def _main(self):
        channels = [grpc.aio.insecure_channel(a) for a in self.addrs]
        stubs = [cache_pb2_grpc.CacheStub(c) for c in channels]
        for c in channels:
            await asyncio.wait_for(c.channel_ready(), START_TIMEOUT)
        end = time.monotonic() + self.max_seconds

        async def worker(w):
            i = 0
            while not self._stop.is_set() and time.monotonic() < end and len(self.records) < self.MAX_RECORDS:
                node, key = self.pick(w, i)
                i += 1
                start = time.monotonic()
                try:
                    r = await stubs[node].Get(cache_pb2.GetRequest(keyspace=self.keyspace, key=key.encode()),
                                              timeout=self.deadline)
                    code, source = "OK", r.source
                    if r.value != ("value-of-" + key).encode() and not r.value.startswith(b"set-"):
                        code = "WRONG_VALUE"
                except grpc.aio.AioRpcError as e:
                    code, source = e.code().name, 0
                self.records.append(Rec(start, time.monotonic() - start, code, source, node, key))

        self._started.set()
        try:
            await asyncio.gather(*(worker(w) for w in range(self.workers)))
        finally:
            for c in channels:
                await c.close()

    def stop(self):
        self._stop.set()
        self.thread.join(timeout=self.deadline + 10)
        if self.thread.is_alive():
            raise AssertionError("load generator did not stop within %.0f s" % (self.deadline + 10))
        return self.records
