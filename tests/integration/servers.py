"""Real discovery backends for the integration tests, on reserved loopback ports (ports.py), killed
in cleanup: dnsmasq (DNS-SD), a DNS proxy that can misbehave on purpose, and nats-server. Each
start waits, within a deadline, for a complete and valid answer from the server itself."""
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

from harness import die_with_parent, wait_until
from ports import reserve_port

# A server process may take seconds to start under ASan on a busy machine: a deadline, not a wait.
START_TIMEOUT = 30.0


def wait_started(proc, predicate, what, log_path):
    """Waits until `predicate` is true while `proc` runs; its exit or the deadline fails, naming
    `what` and showing the server's log."""
    def log():
        with open(log_path, errors="replace") as f:
            return f.read()
    try:
        wait_until(lambda: proc.poll() is not None or predicate(), timeout=START_TIMEOUT, what=what)
    except AssertionError as e:
        raise AssertionError("%s; log:\n%s" % (e, log()))
    if proc.poll() is not None:
        raise AssertionError("exited with status %d before %s; log:\n%s" % (proc.returncode, what, log()))


def encode_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"


def dns_query(port, name, qtype=1, timeout=0.5):
    """(rcode, answer count) of one UDP query, or None without an answer."""
    query = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + encode_name(name) + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(query, ("127.0.0.1", port))
            data = s.recv(65535)
        except OSError:
            return None
    if len(data) < 12 or data[:2] != b"\x42\x42" or not data[2] & 0x80:
        return None  # not an answer to this query
    return data[3] & 0xF, struct.unpack(">H", data[6:8])[0]


class Dnsmasq:
    """dnsmasq on 127.0.0.1:port, authoritative for cluster.local (unknown names: NXDOMAIN).
    `srv` is [(name, target, port)], `records` is [(name, [addresses])] (fixed until restart);
    files in `hostsdir` (write_hosts) are re-read by dnsmasq by itself."""

    def __init__(self, srv=(), records=(), port=None):
        self.dir = tempfile.mkdtemp(prefix="podcache-dns-")
        self.hostsdir = os.path.join(self.dir, "hosts")
        os.mkdir(self.hostsdir)
        # dnsmasq started as root drops to user nobody, who must still read the hosts files.
        os.chmod(self.dir, 0o755)
        os.chmod(self.hostsdir, 0o755)
        self.port = port or reserve_port()
        self.proc = None
        self.start(srv, records)

    def start(self, srv=(), records=()):
        args = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--port=%d" % self.port, "--listen-address=127.0.0.1", "--bind-interfaces",
                "--local=/cluster.local/", "--hostsdir=" + self.hostsdir, "--log-facility=-",
                "--pid-file=" + os.path.join(self.dir, "pid")]
        args += ["--srv-host=%s,%s,%d" % r for r in srv]
        args += ["--host-record=%s,%s" % (name, ",".join(addrs)) for name, addrs in records]
        self.log = open(os.path.join(self.dir, "dnsmasq.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        # dnsmasq is authoritative for cluster.local: a started dnsmasq answers NXDOMAIN (3).
        wait_started(self.proc, lambda: (dns_query(self.port, "probe.cluster.local") or (None,))[0] == 3,
                     "dnsmasq on port %d answering NXDOMAIN for probe.cluster.local" % self.port,
                     os.path.join(self.dir, "dnsmasq.log"))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
            self.log.close()
        self.proc = None

    def restart(self, srv=(), records=()):
        """SRV records and host records change only this way."""
        self.stop()
        self.start(srv, records)

    def write_hosts(self, name, lines):
        """Replaces one hosts file (rename, so dnsmasq never reads half of it)."""
        tmp = os.path.join(self.dir, name + ".tmp")
        with open(tmp, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        os.chmod(tmp, 0o644)
        os.rename(tmp, os.path.join(self.hostsdir, name))

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class FaultyDns:
    """A UDP DNS server in this process: forwards to `upstream` (a dnsmasq port) in mode
    "forward", else answers badly on purpose: servfail, refused, empty (NOERROR, no records), truncated
    (TC bit, no TCP listener for the retry), bad (an SRV record cut short), drop (no answer)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.mode = "forward"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self.closed = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.closed:
            try:
                query, client = self.sock.recvfrom(65535)
            except OSError:
                return
            self.queries += 1
            reply = self.answer(query)
            if reply is not None:
                self.sock.sendto(reply, client)

    def answer(self, query):
        header, question = query[:12], query[12:]
        qid = header[:2]
        if self.mode == "forward":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(1)
                up.sendto(query, ("127.0.0.1", self.upstream))
                try:
                    return up.recv(65535)
                except OSError:
                    return None
        if self.mode == "drop":
            return None
        flags = {"servfail": 0x8182, "refused": 0x8185, "empty": 0x8180, "truncated": 0x8380, "bad": 0x8180}[self.mode]
        answers = 1 if self.mode == "bad" else 0
        reply = qid + struct.pack(">HHHHH", flags, 1, answers, 0, 0) + question
        if self.mode == "bad":
            # Name (pointer to the question), type SRV, class IN, TTL, rdlength 50, 3 bytes of rdata.
            reply += struct.pack(">HHHIH", 0xC00C, 33, 1, 30, 50) + b"\x00\x01\x00"
        return reply

    def close(self):
        self.closed = True
        self.sock.close()


def nats_info(port):
    """The INFO object nats-server sends first on a new connection (in plaintext, also when it
    requires TLS), or None until a complete INFO line arrives."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            buf = b""
            while b"\r\n" not in buf and len(buf) < 65536:
                data = s.recv(4096)
                if not data:
                    return None
                buf += data
    except OSError:
        return None
    line = buf.split(b"\r\n", 1)[0]
    if not line.startswith(b"INFO "):
        return None
    try:
        return json.loads(line[5:])
    except ValueError:
        return None


class NatsServer:
    """nats-server on 127.0.0.1 on a reserved port (the same one on restart).

    Not read from its --ports_file_dir file: that file is written in place, and reading it while
    nats-server was still writing it once failed a run with JSONDecodeError. The server's own INFO
    line, complete and valid JSON, says it is up."""

    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="podcache-nats-")
        self.extra = list(extra)
        self.port = reserve_port()
        self.proc = None
        self.url = ("tls://127.0.0.1:%d" if "--tls" in self.extra else "nats://127.0.0.1:%d") % self.port
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "nats.log"), "ab")
        self.proc = subprocess.Popen(
            ["nats-server", "-a", "127.0.0.1", "-p", str(self.port), *self.extra],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        wait_started(self.proc, lambda: (nats_info(self.port) or {}).get("port") == self.port,
                     "nats-server INFO on port %d" % self.port, os.path.join(self.dir, "nats.log"))

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.log.close()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def publish(self, subject, payload, user=None):
        """Publishes raw bytes with the text protocol (no client library needed)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.recv(4096)  # INFO
            s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')
            s.sendall(b"PUB %s %d\r\n%s\r\nPING\r\n" % (subject.encode(), len(payload), payload))
            buf = b""
            deadline = time.monotonic() + 5
            while b"PONG" not in buf and time.monotonic() < deadline:
                buf += s.recv(4096)
            assert b"PONG" in buf, buf

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
