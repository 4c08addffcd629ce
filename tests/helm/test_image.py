"""The Dockerfile (not built here: no Docker engine) checked against what can be checked."""
import os
import re
import subprocess
import unittest

import chart

DOCKERFILE = os.path.join(chart.ROOT, "Dockerfile")
PODCACHECTL = os.environ.get("PODCACHECTL_BIN") or os.path.join(os.path.dirname(chart.PODCACHE), "podcachectl")


def dockerfile_arg(name):
    with open(DOCKERFILE) as f:
        text = f.read()
    m = re.search(r'^ARG %s="([^"]*)"' % name, text, re.M)
    assert m, "Dockerfile has no ARG " + name
    return set(m.group(1).replace("\\\n", " ").split())


def candidates(path):
    """The paths dpkg may know a library by, whatever usrmerge did to it."""
    out = [path, os.path.realpath(path)]
    for c in list(out):
        out.append(c[4:] if c.startswith("/usr/") else "/usr" + c)
    return out


def ldd_packages(binary):
    """The Debian packages of every shared library ldd lists (one dpkg -S for all of them)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libraries = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts:
            target = parts[parts.index("=>") + 1]
            if target == "not":
                raise AssertionError("%s: %s" % (binary, line.strip()))
            if target.startswith("/"):
                libraries.append(target)
        elif parts and parts[0].startswith("/"):
            libraries.append(parts[0])  # the dynamic loader
    paths = sorted({c for lib in libraries for c in candidates(lib)})
    # dpkg -S exits 1 when some candidate is unknown; the known ones are still printed.
    p = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True)
    owner = {}
    for line in p.stdout.splitlines():
        pkg, path = line.split(": ", 1)
        owner[path] = pkg.split(":")[0]
    packages = set()
    for lib in libraries:
        found = [owner[c] for c in candidates(lib) if c in owner]
        if not found:
            raise AssertionError("no Debian package ships " + lib)
        packages.add(found[0])
    return packages


class Image(unittest.TestCase):
    def test_image_runtime_libraries(self):
        needed = ldd_packages(chart.PODCACHE) | ldd_packages(PODCACHECTL)
        # `make asan` / `make tsan` run this suite with sanitizer builds; the image has release builds.
        needed = {p for p in needed if not re.match(r"^lib(asan|ubsan|tsan|lsan)[0-9]+$", p)}
        listed = dockerfile_arg("RUNTIME_LIBRARIES")
        self.assertEqual(listed, needed, "RUNTIME_LIBRARIES in the Dockerfile must be exactly the packages of "
                         "the libraries ldd lists: missing %s, not needed %s" % (needed - listed, listed - needed))

    def test_image_build_packages_are_those_of_install_deps(self):
        with open(os.path.join(chart.ROOT, "scripts", "install-deps.sh")) as f:
            text = f.read()
        block = re.search(r"^PACKAGES=\((.*?)^\)", text, re.M | re.S).group(1)
        deps = set(w for line in block.splitlines() for w in line.split("#")[0].split())
        build = dockerfile_arg("BUILD_PACKAGES")
        self.assertEqual(build - deps, set(), "build packages not in scripts/install-deps.sh")
        # Every library the project builds against, and the tools of the build itself.
        needed = {p for p in deps if p.endswith("-dev")} | {
            "build-essential", "cmake", "ninja-build", "pkg-config", "protobuf-compiler",
            "protobuf-compiler-grpc", "grpc-proto"}
        self.assertEqual(needed - build, set(), "install-deps.sh build packages missing in the Dockerfile")

    def test_image_runs_as_a_fixed_non_root_user_with_both_binaries(self):
        with open(DOCKERFILE) as f:
            text = f.read()
        stages = re.findall(r"^FROM (\S+)", text, re.M)
        self.assertEqual(stages, ["debian:12", "debian:12-slim"])
        self.assertRegex(text, r"(?m)^USER 10001:10001$")
        self.assertIn('ENTRYPOINT ["/usr/local/bin/podcache"]', text)
        self.assertRegex(text, r"COPY --from=build \S*/podcache \S*/podcachectl /usr/local/bin/")
        # The chart's securityContext runs the image as that user.
        v = chart.render()
        from chart import one, sidecar
        pod = one(v, "Pod")
        self.assertEqual(pod["spec"]["containers"][0]["securityContext"]["runAsUser"], 10001)
        self.assertEqual(pod["spec"]["containers"][0]["command"], ["/usr/local/bin/podcachectl"])


if __name__ == "__main__":
    unittest.main()
