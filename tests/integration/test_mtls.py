"""mTLS on the peer port: refusals (counted by reason) and certificate rotation under load."""
import os
import re
import threading
import unittest

import grpc

from certs import PEER_NAME, CertFactory
from harness import LoaderApp, Sidecar, cache_pb2, reserve_port, wait_until
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


if __name__ == "__main__":
    unittest.main()
