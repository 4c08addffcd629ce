"""mTLS on the peer port: refusals (counted by reason) and certificate rotation under load."""
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import unittest

import grpc

from certs import PEER_NAME, CertFactory
from harness import LoaderApp, Sidecar, cache_pb2, metric, reserve_port, wait_until
from podcache.peer.v1 import peer_pb2, peer_pb2_grpc


def read(path):
    with open(path, "rb") as f:
        return f.read()


def peer_stub(address, ca, cert=None, key=None):
    creds = grpc.ssl_channel_credentials(root_certificates=read(ca), private_key=key and read(key),
                                         certificate_chain=cert and read(cert))
    channel = grpc.secure_channel(address, creds, options=[("grpc.ssl_target_name_override", PEER_NAME)])
    return channel, peer_pb2_grpc.PeerStub(channel)


def accepts(address, ca, cert_key):
    """Whether the peer at `address` completes a Get for a client that trusts `ca` and presents
    `cert_key` (a (cert, key) pair of paths)."""
    channel, stub = peer_stub(address, ca, *cert_key)
    try:
        return stub.Get(peer_pb2.GetRequest(keyspace="users", key=b"probe"), timeout=2).value == b"value-of-probe"
    except grpc.RpcError:
        return False
    finally:
        channel.close()


def rejections(node):
    body = node.http("/metrics")[1].decode()
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r'podcache_peer_tls_rejections_total\{reason="(\w+)"\} (\d+)', body)}


def served_serial(address, ca, cert_key):
    """The serial (hex) of the certificate the peer at `address` presents in a new handshake to a
    client that trusts `ca` and presents `cert_key`, or None when the handshake fails."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(*cert_key)
    ctx.set_alpn_protocols(["h2"])
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2) as raw, ctx.wrap_socket(raw) as tls:
            return tls.getpeercert()["serialNumber"]
    except (OSError, ssl.SSLError):
        return None


def serial_of(cert):
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", cert], check=True,
                         capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1]


def replace_file(src, dst):
    """Replaces `dst` with a copy of `src` in one step, as a secret manager writing one file does."""
    shutil.copyfile(src, dst + ".new")
    os.replace(dst + ".new", dst)


def swap_symlink(link, target):
    """Atomically repoint `link` (as Kubernetes does with its ..data directory)."""
    tmp = link + ".tmp"
    os.symlink(target, tmp)
    os.rename(tmp, link)


class MtlsTest(unittest.TestCase):
    def setUp(self):
        self.certs = CertFactory()
        self.ca = self.certs.ca("ca")
        self.app = LoaderApp("--delay-ms", "1")
        self.addCleanup(self.app.stop)

    def node(self, name, peers, listen, tls_dir=None, extra=()):
        cert, key = self.certs.cert(name)
        if tls_dir:  # the Kubernetes secret layout: files behind a ..data symlink
            cert, key, ca = (os.path.join(tls_dir, f) for f in ("tls.crt", "tls.key", "ca.crt"))
        else:
            ca = self.ca[0]
        n = Sidecar("--keyspace", "users:max_bytes=8MiB,loader=" + self.app.url, "--peer-listen", listen,
                    "--advertise", listen, "--peers", ",".join(peers), "--tls-cert", cert, "--tls-key", key,
                    "--tls-ca", ca, *extra)
        self.addCleanup(n.stop)
        return n

    def test_refused_handshakes_are_counted_before_any_cache_operation(self):
        listen = "127.0.0.1:%d" % reserve_port()
        node = self.node("server", [listen, "127.0.0.1:1"], listen)
        request = peer_pb2.GetRequest(keyspace="users", key=b"k")

        other_ca = self.certs.ca("other-ca")
        cases = {
            "untrusted": self.certs.cert("from-other-ca", ca="other-ca"),
            "wrong_name": self.certs.cert("wrong-san", san="not-a-peer"),
            "expired": self.certs.cert("expired", expired=True),
        }
        for reason, (cert, key) in cases.items():
            channel, stub = peer_stub(listen, self.ca[0], cert, key)
            with self.assertRaises(grpc.RpcError) as e:
                stub.Get(request, timeout=3)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE, reason)
            channel.close()
            self.assertGreaterEqual(rejections(node)[reason], 1, reason)
        del other_ca
        # A plaintext client does not get through the TLS handshake either.
        plain = peer_pb2_grpc.PeerStub(grpc.insecure_channel(listen))
        with self.assertRaises(grpc.RpcError) as e:
            plain.Get(request, timeout=3)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # No refused client reached the cache.
        stats = node.stub.Stats(cache_pb2.StatsRequest(keyspace="users"), timeout=5).keyspaces[0]
        self.assertEqual(stats.counters["gets"], 0)
        self.assertEqual(self.app.calls("users", "k"), 0)
        # The right certificate works.
        channel, stub = peer_stub(listen, self.ca[0], *self.certs.cert("good"))
        self.assertEqual(stub.Get(request, timeout=3).value, b"value-of-k")
        channel.close()

    def test_certificate_rotation_under_load(self):
        listens = ["127.0.0.1:%d" % reserve_port() for _ in range(2)]
        dirs = []
        for i in range(2):
            d = os.path.join(self.certs.dir, "node%d-secret" % i)
            v1 = os.path.join(d, "v1")
            os.makedirs(v1)
            cert, key = self.certs.cert("node%d-v1" % i)
            for src, name in ((cert, "tls.crt"), (key, "tls.key"), (self.ca[0], "ca.crt")):
                os.symlink(src, os.path.join(v1, name))
            os.symlink("v1", os.path.join(d, "..data"))
            for name in ("tls.crt", "tls.key", "ca.crt"):
                os.symlink(os.path.join("..data", name), os.path.join(d, name))
            dirs.append(d)
        nodes = [self.node("n%d" % i, listens, listens[i], tls_dir=dirs[i], extra=("--tls-reload-interval", "1s"))
                 for i in range(2)]
        errors, calls, stop = [], [0], threading.Event()

        def load():
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    r = nodes[i % 2].stub.Get(cache_pb2.GetRequest(keyspace="users", key=b"rot-%d" % i), timeout=3)
                    assert r.value == b"value-of-rot-%d" % i
                    calls[0] += 1
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        # Step 1: trust the old and the new CA. Step 2: new certificates signed by the new CA.
        new_ca = self.certs.ca("new-ca")
        bundle = os.path.join(self.certs.dir, "bundle.crt")
        with open(bundle, "wb") as f:
            f.write(read(self.ca[0]) + read(new_ca[0]))
        for step in ("v2", "v3"):
            for i, d in enumerate(dirs):
                v = os.path.join(d, step)
                os.makedirs(v)
                if step == "v2":
                    cert, key = os.readlink(os.path.join(d, "v1", "tls.crt")), os.readlink(os.path.join(d, "v1", "tls.key"))
                else:
                    cert, key = self.certs.cert("node%d-v3" % i, ca="new-ca")
                for src, name in ((cert, "tls.crt"), (key, "tls.key"), (bundle, "ca.crt")):
                    os.symlink(src, os.path.join(v, name))
                swap_symlink(os.path.join(d, "..data"), step)
            # Both nodes use the new files once they accept a client of the new CA: v2 (bundle)
            # while still presenting the old certificate, v3 presenting a certificate of the new CA.
            ca = self.ca[0] if step == "v2" else new_ca[0]
            client = self.certs.cert("client-%s" % step, ca="new-ca")
            wait_until(lambda: all(accepts(listen, ca, client) for listen in listens), timeout=15,
                       what="both nodes to reload their certificate files (%s)" % step)
        # A client that trusts only the new CA reaches the node: new handshakes use the new certificate.
        channel, stub = peer_stub(listens[0], new_ca[0], *self.certs.cert("client-v3", ca="new-ca"))
        self.assertEqual(stub.Get(peer_pb2.GetRequest(keyspace="users", key=b"after"), timeout=3).value,
                         b"value-of-after")
        channel.close()
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertGreater(calls[0], 100)

    def test_certificate_replaced_before_its_key_under_load(self):
        """The old pair is served until the new pair is complete; no Get and no peer call fails."""
        listens = ["127.0.0.1:%d" % reserve_port() for _ in range(2)]
        secret = os.path.join(self.certs.dir, "node0-files")
        tmp = os.path.join(self.certs.dir, "node0-tmp")  # where node 0 keeps the material in use
        os.makedirs(secret)
        os.makedirs(tmp)
        v1, v2 = self.certs.cert("node0-v1"), self.certs.cert("node0-v2")
        cert, key = os.path.join(secret, "tls.crt"), os.path.join(secret, "tls.key")
        replace_file(v1[0], cert)
        replace_file(v1[1], key)
        files = [(cert, key), self.certs.cert("n1")]
        nodes = []
        for i in range(2):
            n = Sidecar("--keyspace", "users:max_bytes=8MiB,loader=" + self.app.url, "--peer-listen", listens[i],
                        "--advertise", listens[i], "--peers", ",".join(listens), "--tls-cert", files[i][0],
                        "--tls-key", files[i][1], "--tls-ca", self.ca[0], "--tls-reload-interval", "1s",
                        env={"TMPDIR": tmp} if i == 0 else None)
            self.addCleanup(n.stop)
            nodes.append(n)
        probe = self.certs.cert("probe")
        self.assertEqual(served_serial(listens[0], self.ca[0], probe), serial_of(v1[0]))
        private = [d for d in os.listdir(tmp) if d.startswith("podcache-tls-")]
        self.assertEqual(len(private), 1, private)

        errors, peer_answers, calls, stop = [], [0], [0], threading.Event()

        def load(t):
            i = 0
            while not stop.is_set():
                i += 1
                k = b"swap-%d-%d" % (t, i)
                try:  # through both nodes: about half of the keys are the other node's
                    r = nodes[i % 2].stub.Get(cache_pb2.GetRequest(keyspace="users", key=k), timeout=3)
                    assert r.value == b"value-of-" + k, r.value
                    calls[0] += 1
                    peer_answers[0] += r.source == cache_pb2.SOURCE_PEER
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))

        def peer_errors():
            return sum(metric(n, "podcache_peer_call_errors_total") for n in nodes)

        def tls_rejections():
            return sum(sum(rejections(n).values()) for n in nodes)

        wait_until(lambda: nodes[0].stub.Get(cache_pb2.GetRequest(keyspace="users", key=b"warm"), timeout=3),
                   what="a first Get")
        errors_before, rejections_before = peer_errors(), tls_rejections()
        threads = [threading.Thread(target=load, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        try:
            # The certificate first: a pair that does not match is refused, once.
            replace_file(v2[0], cert)
            wait_until(lambda: metric(nodes[0], "podcache_tls_reloads_total", result="rejected") == 1,
                       timeout=10, what="the mismatched pair to be refused")
            # New handshakes keep getting the old pair: probed for 3 s, more than two reload
            # intervals and gRPC's re-reads of the material in use.
            deadline, probes = time.monotonic() + 3, 0
            while time.monotonic() < deadline:
                self.assertEqual(served_serial(listens[0], self.ca[0], probe), serial_of(v1[0]))
                probes += 1
            # Then the key: the new pair is served within a couple of intervals.
            replace_file(v2[1], key)
            wait_until(lambda: served_serial(listens[0], self.ca[0], probe) == serial_of(v2[0]), timeout=10,
                       what="the new pair to be served")
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        self.assertGreater(calls[0], 50)
        self.assertGreater(peer_answers[0], 0, "no Get went through a non-owner")
        self.assertEqual(peer_errors(), errors_before)
        self.assertEqual(tls_rejections(), rejections_before)
        self.assertGreater(probes, 3)
        self.assertEqual(metric(nodes[0], "podcache_tls_reloads_total", result="ok"), 1)
        self.assertEqual(metric(nodes[0], "podcache_tls_reloads_total", result="rejected"), 1)
        not_after = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", v2[0]], check=True,
                                   capture_output=True, text=True).stdout.strip().split("=", 1)[1]
        self.assertEqual(metric(nodes[0], "podcache_tls_certificate_expiry_timestamp_seconds"),
                         ssl.cert_time_to_seconds(not_after))
        refused = nodes[0].log_line("peer TLS reload rejected: keeping the certificate in use")
        self.assertEqual(refused["reason"], "the private key does not match the certificate")
        self.assertEqual(refused["in_use_serial"].lstrip("0"), serial_of(v1[0]).lstrip("0"))
        reloaded = nodes[0].log_line("peer TLS certificate reloaded")
        self.assertEqual(reloaded["subject"], "CN=node0-v2")
        self.assertEqual(reloaded["changed"], "cert,key")
        # The material in use lives in a private directory, removed when podcache exits.
        nodes[0].terminate()
        nodes[0].proc.wait(timeout=30)
        self.assertEqual([d for d in os.listdir(tmp) if d.startswith("podcache-tls-")], [])


if __name__ == "__main__":
    unittest.main()
