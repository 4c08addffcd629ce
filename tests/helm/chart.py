"""Shared helpers of the chart tests: the real helm, rendering, and picking objects apart.

Environment (set by tests/CMakeLists.txt; defaults for running by hand from the work tree):
  PODCACHE_HELM        helm binary (scripts/install-helm.sh puts it in .cache/tools)
  PODCACHE_KUBECTL     kubectl binary (for kustomize)
  PODCACHE_BIN         the podcache binary (for --validate-config and --help)
  PODCACHE_SOURCE_DIR  the repository
"""
import atexit
import glob
import os
import re
import shutil
import subprocess
import tempfile

import yaml

ROOT = os.environ.get("PODCACHE_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "helm", "podcache")
TOOLS = os.path.join(ROOT, ".cache", "tools", "helm-v3.17.3")
HELM = os.environ.get("PODCACHE_HELM") or os.path.join(TOOLS, "helm")
KUBECTL = os.environ.get("PODCACHE_KUBECTL") or os.path.join(TOOLS, "kubectl")
PODCACHE = os.environ.get("PODCACHE_BIN") or os.path.join(ROOT, "build", "release", "sidecar", "podcache")
HERE = os.path.dirname(os.path.abspath(__file__))
CI_VALUES = sorted(glob.glob(os.path.join(CHART, "ci", "*-values.yaml")))

# helm keeps caches and repositories under $HOME; the tests keep them in one temp dir.
_HELM_HOME = tempfile.mkdtemp(prefix="podcache-helm-home-")
atexit.register(shutil.rmtree, _HELM_HOME, True)
if not os.access(HELM, os.X_OK):
    raise SystemExit("no helm at %s: run scripts/install-helm.sh (make deps does)" % HELM)
HELM_ENV = dict(os.environ, HELM_CACHE_HOME=_HELM_HOME + "/cache", HELM_CONFIG_HOME=_HELM_HOME + "/config",
                HELM_DATA_HOME=_HELM_HOME + "/data")


def helm(*args, check=True):
    """Runs helm; returns the CompletedProcess (text)."""
    p = subprocess.run([HELM, *args], capture_output=True, text=True, env=HELM_ENV, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("helm %s failed (%d):\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def template_args(values=(), sets=(), namespace="shop", release="r", chart=CHART, extra=()):
    args = ["template", release, chart, "--namespace", namespace, *extra]
    for v in values:
        args += ["-f", v]
    for s in sets:
        args += ["--set", s]
    return args


def render_text(values=(), sets=(), **kw):
    return helm(*template_args(values, sets, **kw)).stdout


def render(values=(), sets=(), **kw):
    """The rendered objects (helm test hooks included) as dicts."""
    return [d for d in yaml.safe_load_all(render_text(values, sets, **kw)) if d]


def render_fails(values_yaml, **kw):
    """Renders with the given values (YAML text); returns helm's stderr, failing if it rendered."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(values_yaml)
    try:
        p = helm(*template_args([f.name], **kw), check=False)
    finally:
        os.unlink(f.name)
    if p.returncode == 0:
        raise AssertionError("helm template accepted values that must be rejected:\n" + values_yaml)
    return p.stderr


def find(objs, kind, name=None):
    out = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    return out


def one(objs, kind, name=None):
    out = find(objs, kind, name)
    assert len(out) == 1, "expected one %s %s, got %d" % (kind, name or "", len(out))
    return out[0]


def pod_specs(objs):
    """(object, pod spec) of every workload and pod."""
    out = []
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
            out.append((o, o["spec"]["template"]["spec"]))
        elif o["kind"] == "Pod":
            out.append((o, o["spec"]))
    return out


def sidecar(pod_spec, name="podcache"):
    found = [c for c in pod_spec.get("initContainers", []) if c["name"] == name]
    assert len(found) == 1, "no %s init container" % name
    return found[0]


def podcache_config(objs):
    """The podcache.yaml the sidecar reads, parsed."""
    cms = [o for o in objs if o["kind"] == "ConfigMap" and "podcache.yaml" in o.get("data", {})]
    assert len(cms) == 1
    return yaml.safe_load(cms[0]["data"]["podcache.yaml"]), cms[0]


def validate_objects(text):
    """Runs validate.js (schemas + strict fields) on rendered YAML; returns (rc, output)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    try:
        p = subprocess.run(["node", os.path.join(HERE, "validate.js"), f.name], capture_output=True,
                           text=True, timeout=120)
    finally:
        os.unlink(f.name)
    return p.returncode, p.stdout + p.stderr


def which(tool):
    return shutil.which(tool)


# Shared by test_chart.py and test_chart_render.py.
FULL = os.path.join(CHART, "ci", "full-values.yaml")
MODES = {"kubernetes": "kubernetes-values.yaml", "dns": "dns-values.yaml", "nats": "nats-values.yaml",
         "static": "static-values.yaml"}


def ci(name):
    return os.path.join(CHART, "ci", name)


def read(path):
    with open(path) as f:
        return f.read()


def sidecar_defaults():
    """Option defaults as `podcache --help` prints them (--api-listen TEXT=127.0.0.1:7070)."""
    out = subprocess.run([PODCACHE, "--help"], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"--([a-z0-9-]+) TEXT=(\S+)", out))


def every_values():
    """(label, values files) of the default values and every ci/ file."""
    return [("default", [])] + [(os.path.basename(f), [f]) for f in CI_VALUES]
