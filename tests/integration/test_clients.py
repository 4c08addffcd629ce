"""The example clients in other languages, run against a real sidecar."""
import os
import shutil
import subprocess
import unittest

from harness import SOURCE_DIR, Sidecar


class ClientsTest(unittest.TestCase):
    def setUp(self):
        self.sidecar = Sidecar("--keyspace", "sessions:max_bytes=4MiB")
        self.addCleanup(self.sidecar.stop)

    def run_client(self, cmd):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_python_client(self):
        out = self.run_client(["/usr/bin/python3", os.path.join(SOURCE_DIR, "examples/python/client.py"),
                               "--addr", self.sidecar.api, "--keyspace", "sessions"])
        self.assertIn("get py:1 -> hello from python source SOURCE_MAIN", out)
        self.assertIn("getmany py:none -> NOT_FOUND", out)
        self.assertIn("python client: ok", out)

    def test_node_client(self):
        node = shutil.which("node") or shutil.which("nodejs")
        self.assertIsNotNone(node, "node is not installed (scripts/install-deps.sh installs it)")
        self.assertTrue(os.path.isdir(os.path.join(SOURCE_DIR, "examples/node/node_modules/@grpc/grpc-js")),
                        "run scripts/install-deps.sh (npm ci in examples/node)")
        out = self.run_client([node, os.path.join(SOURCE_DIR, "examples/node/client.js"),
                               "--addr", self.sidecar.api, "--keyspace", "sessions"])
        self.assertIn("get js:1 -> hello from node source SOURCE_MAIN", out)
        self.assertIn("get js:1 after delete -> NOT_FOUND", out)
        self.assertIn("node client: ok", out)


if __name__ == "__main__":
    unittest.main()
