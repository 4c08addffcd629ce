"""k8s/ (plain manifests, a kustomize base) is generated from the chart and must match it."""
import os
import shutil
import subprocess
import tempfile
import unittest

import yaml

import chart
from chart import one

GEN = os.path.join(chart.ROOT, "scripts", "gen-k8s.sh")


def kustomize(path):
    p = subprocess.run([chart.KUBECTL, "kustomize", path], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("kubectl kustomize %s failed:\n%s" % (path, p.stderr))
    return p.stdout


class K8sManifests(unittest.TestCase):
    def test_k8s_matches_chart(self):
        p = subprocess.run([GEN, "--check"], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_check_fails_when_k8s_was_edited(self):
        with tempfile.TemporaryDirectory() as d:
            for sub in ("scripts", "helm", "k8s"):
                shutil.copytree(os.path.join(chart.ROOT, sub), os.path.join(d, sub))
            svc = os.path.join(d, "k8s", "base", "service.yaml")
            with open(svc) as f:
                text = f.read()
            with open(svc, "w") as f:
                f.write(text.replace("port: 7071", "port: 7171"))
            env = dict(os.environ, PODCACHE_HELM=chart.HELM)
            p = subprocess.run([os.path.join(d, "scripts", "gen-k8s.sh"), "--check"], capture_output=True, text=True,
                               env=env, timeout=120)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("k8s/ differs from the chart", p.stderr)
            self.assertIn("+      port: 7071", p.stdout)

    def test_kustomize_builds_valid_objects(self):
        for overlay in ("base", "example"):
            with self.subTest(overlay=overlay):
                text = kustomize(os.path.join(chart.ROOT, "k8s", overlay))
                rc, out = chart.validate_objects(text)
                self.assertEqual(rc, 0, out)
        objs = [o for o in yaml.safe_load_all(kustomize(os.path.join(chart.ROOT, "k8s", "example"))) if o]
        spec = one(objs, "Deployment")["spec"]["template"]["spec"]
        self.assertEqual(chart.sidecar(spec)["restartPolicy"], "Always")
        self.assertIn("podcache-tls", [v.get("secret", {}).get("secretName") for v in spec["volumes"]])
        for o in objs:
            self.assertNotIn("helm.sh/chart", o["metadata"]["labels"])
            self.assertEqual(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "kustomize")

    def test_an_overlay_moves_everything_to_its_namespace(self):
        with tempfile.TemporaryDirectory() as d:
            shutil.copytree(os.path.join(chart.ROOT, "k8s"), os.path.join(d, "k8s"))
            os.mkdir(os.path.join(d, "overlay"))
            with open(os.path.join(d, "overlay", "kustomization.yaml"), "w") as f:
                f.write("namespace: team-b\nresources:\n  - ../k8s/example\n")
            objs = [o for o in yaml.safe_load_all(kustomize(os.path.join(d, "overlay"))) if o]
        for o in objs:
            self.assertEqual(o["metadata"]["namespace"], "team-b", o["kind"])
        self.assertEqual(one(objs, "RoleBinding")["subjects"][0]["namespace"], "team-b")
        config = yaml.safe_load(one(objs, "ConfigMap", "podcache-config")["data"]["podcache.yaml"])
        self.assertNotIn("namespace", config["discovery"]["kubernetes"], "the sidecar watches its own namespace")


if __name__ == "__main__":
    unittest.main()
