"""The include rule of docs/design.md ("Module map and include rule"), checked on every source file.

core/ depends on nothing of podcache's; discovery/ and transport/ on core/ (transport also on the
generated peer protos); sidecar/ on everything. A quoted include that breaks the rule fails the
test with the file, the line and the rule.
"""
import os
import re
import unittest

ROOT = os.environ.get("PODCACHE_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))

# folder -> the first path components its quoted includes may start with. The generated protos
# are included as "podcache/..." (peer) and "podcache/v1/..." (app).
ALLOWED = {
    "core": {"core"},
    "discovery": {"core", "discovery"},
    "transport": {"core", "transport", "podcache/peer"},
    "sidecar": {"core", "discovery", "transport", "sidecar", "podcache/peer", "podcache/v1",
                "grpc/health"},
    "testing": {"core", "testing"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCE = (".h", ".cc")


def quoted_includes(path):
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield number, m.group(1)


def allowed(target, prefixes):
    # A bare "name.h" is a file of the same folder.
    return "/" not in target or any(target == p or target.startswith(p + "/") for p in prefixes)


class LayeringTest(unittest.TestCase):
    def test_every_quoted_include_follows_the_module_rule(self):
        checked = 0
        problems = []
        for folder, prefixes in ALLOWED.items():
            top = os.path.join(ROOT, folder)
            for dirpath, _, files in os.walk(top):
                for name in sorted(files):
                    if not name.endswith(SOURCE):
                        continue
                    path = os.path.join(dirpath, name)
                    for number, target in quoted_includes(path):
                        checked += 1
                        if not allowed(target, prefixes):
                            problems.append(f"{os.path.relpath(path, ROOT)}:{number}: includes "
                                            f'"{target}", but {folder}/ may include only '
                                            f"{sorted(prefixes)}")
        self.assertGreater(checked, 200, "the walk found too few includes: wrong ROOT?")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_the_rule_catches_a_core_file_that_includes_transport(self):
        self.assertFalse(allowed("transport/peer_client.h", ALLOWED["core"]))
        self.assertFalse(allowed("sidecar/config.h", ALLOWED["discovery"]))
        self.assertTrue(allowed("core/status.h", ALLOWED["transport"]))
        self.assertTrue(allowed("podcache/peer/v1/peer.grpc.pb.h", ALLOWED["transport"]))
        self.assertFalse(allowed("podcache/v1/cache.pb.h", ALLOWED["transport"]))


if __name__ == "__main__":
    unittest.main()
