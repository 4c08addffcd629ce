"""The Helm chart (helm/podcache) checked with a real helm, offline Kubernetes schemas and the real
podcache binary: lint, values, what the sidecar accepts, parent charts (the rendered objects
are in test_chart_render.py). Run from this folder: python3 -m unittest -v test_chart"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

import chart
from chart import CHART, CI_VALUES, FULL, MODES, ci, every_values, find, one, podcache_config, read, render, sidecar


class Lint(unittest.TestCase):
    def test_lint_strict_every_ci_values_file(self):
        self.assertGreaterEqual(len(CI_VALUES), 5)
        for label, values in every_values():
            with self.subTest(values=label):
                args = ["lint", "--strict", CHART]
                for v in values:
                    args += ["-f", v]
                out = chart.helm(*args).stdout
                self.assertIn("0 chart(s) failed", out)
                self.assertNotIn("[WARNING]", out)
                self.assertNotIn("[ERROR]", out)

    def test_ci_values_cover_every_discovery_mode_and_tls_source(self):
        modes, sources = set(), set()
        for f in CI_VALUES:
            v = yaml.safe_load(read(f)) or {}
            modes.add((v.get("discovery") or {}).get("mode", "kubernetes"))
            sources.add((v.get("tls") or {}).get("source", "generate"))
        self.assertEqual(modes, {"kubernetes", "dns", "nats", "static"})
        self.assertEqual(sources, {"generate", "existingSecret", "certManager"})

    def test_every_value_has_a_comment_and_keys_are_lower_camel_case(self):
        lines = read(os.path.join(CHART, "values.yaml")).splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^(\s*)(- )?([A-Za-z0-9_]+):", line)
            if not m or line.lstrip().startswith("#"):
                continue
            key = m.group(3)
            # Kubernetes' own objects passed through (securityContext, resources) keep their names.
            self.assertRegex(key, r"^[a-z][A-Za-z0-9]*$", "line %d: %s is not lowerCamelCase" % (i + 1, key))
            indent = len(m.group(1))
            prev = lines[i - 1].strip() if i else ""
            parent_passthrough = any(re.match(r"^\s*(securityContext|resources|requests|limits|capabilities|seccompProfile):", l)
                                     and len(l) - len(l.lstrip()) < indent for l in lines[max(0, i - 12):i])
            if not parent_passthrough:
                self.assertTrue(prev.startswith("#"), "line %d: %s has no comment above it" % (i + 1, key))


class SidecarAcceptsRenderedConfig(unittest.TestCase):
    """The rendered container's arguments and ConfigMap, run through the real podcache binary."""

    def run_validate(self, objs):
        config, cm = podcache_config(objs)
        spec = one(objs, "Deployment")["spec"]["template"]["spec"]
        s = sidecar(spec)
        with tempfile.TemporaryDirectory() as d:
            mount = [m for m in s["volumeMounts"] if m["name"] == "podcache-config"][0]["mountPath"]
            path = os.path.join(d, "podcache.yaml")
            with open(path, "w") as f:
                f.write(cm["data"]["podcache.yaml"])
            args = [a.replace(mount + "/podcache.yaml", path) for a in s["args"]]
            self.assertIn("--config=" + path, args)
            env = {k: v for k, v in os.environ.items() if not k.startswith("PODCACHE_")}
            for e in s["env"]:
                if "value" in e:
                    env[e["name"]] = e["value"]
                elif "fieldRef" in e["valueFrom"]:
                    env[e["name"]] = {"status.podIP": "10.1.2.3"}.get(e["valueFrom"]["fieldRef"]["fieldPath"], "pod-0")
                else:
                    env[e["name"]] = "secret-from-" + e["valueFrom"]["secretKeyRef"]["key"]
            p = subprocess.run([chart.PODCACHE, "--validate-config", *args], capture_output=True, text=True, env=env,
                               timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("podcache: configuration ok", p.stdout)
        shown = dict(re.findall(r"^  (\S+): (.*)$", p.stdout, re.M))
        self.assertEqual(shown["advertise"], "10.1.2.3:7071")
        self.assertEqual(shown["discovery.mode"], config["discovery"]["mode"])
        for ks in config["keyspaces"]:
            self.assertIn("  keyspace %s\n" % ks["name"], p.stdout)
        return shown, config

    def test_every_ci_values_file_is_a_valid_podcache_configuration(self):
        for f in CI_VALUES:
            with self.subTest(values=os.path.basename(f)):
                shown, config = self.run_validate(render([f]))
                self.assertEqual(shown["tls.cert"], config["tls"]["cert"])

    def test_every_option_reaches_the_sidecar(self):
        shown, _ = self.run_validate(render([FULL]))
        self.assertEqual(shown["log_level"], "debug")
        self.assertEqual(shown["cluster_name"], "shop")
        self.assertEqual(shown["shutdown_grace"], "15s")
        self.assertEqual(shown["peer_timeout"], "500ms")
        self.assertEqual(shown["max_message_bytes"], "32MiB")
        self.assertEqual(shown["tls.cert"], "/var/run/podcache/tls/tls.crt")
        self.assertEqual(shown["tls.peer_name"], "shop-cache-peer")
        self.assertEqual(shown["tls.reload_interval"], "5s")
        self.assertEqual(shown["discovery.kubernetes.service"], "shop-cache")
        self.assertEqual(shown["discovery.kubernetes.watch_timeout"], "2m")
        self.assertEqual(shown["peer_max_inflight"], "128")  # sidecar.extraEnv
        self.assertEqual(shown["membership_debounce"], "500ms")  # sidecar.extraArgs

    def test_insecure_peers_only_when_asked(self):
        objs = render([ci(MODES["kubernetes"])], ["tls.insecure=true"])
        shown, config = self.run_validate(objs)
        self.assertEqual(shown["insecure_peers"], "true")
        self.assertNotIn("tls", config)
        self.assertEqual(find(objs, "Secret"), [])
        self.assertIn("WARNING: tls.insecure is true: peer traffic is PLAINTEXT", self.notes(["tls.insecure=true"]))
        self.assertNotIn("PLAINTEXT", self.notes([]))

    def notes(self, sets):
        """NOTES.txt rendered: helm renders it only on install, which needs a cluster, so a copy of
        the chart wraps the same file into a ConfigMap that `helm template` shows."""
        with tempfile.TemporaryDirectory() as d:
            copy = os.path.join(d, "podcache")
            shutil.copytree(CHART, copy)
            notes = read(os.path.join(copy, "templates", "NOTES.txt"))
            with open(os.path.join(copy, "templates", "_notes_probe.tpl"), "w") as f:
                f.write('{{- define "notes.probe" -}}\n' + notes + '{{- end }}\n')
            with open(os.path.join(copy, "templates", "notes-probe.yaml"), "w") as f:
                f.write('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-probe\ndata:\n  notes: |\n'
                        '    {{- include "notes.probe" . | nindent 4 }}\n')
            out = chart.render_text(sets=sets, chart=copy, extra=["--show-only", "templates/notes-probe.yaml"])
        return yaml.safe_load(out)["data"]["notes"]


class InvalidValues(unittest.TestCase):
    """Bad values fail `helm template` with a message that names what to fix."""

    SCHEMA = [
        ("bogus: 1\n", "Additional property bogus is not allowed"),
        ("sidecar:\n  memmory: 1Gi\n", "Additional property memmory is not allowed"),
        ("keyspaces:\n  - name: users\n    evictionPolicy: lru\n", "Additional property evictionPolicy is not allowed"),
        ("keyspaces:\n  - name: users\n    eviction: fifo\n", "keyspaces.0.eviction must be one of the following"),
        ("keyspaces:\n  - name: users\n    maxBytes: lots\n", "keyspaces.0.maxBytes"),
        ("keyspaces:\n  - name: users\n    defaultTtl: 5 minutes\n", "keyspaces.0.defaultTtl: Does not match pattern"),
        ("keyspaces:\n  - name: 'bad name'\n", "keyspaces.0.name: Does not match pattern"),
        ("keyspaces:\n  - maxBytes: 1GiB\n", "name is required"),
        ("keyspaces: []\n", "Array must have at least 1 items"),
        ("keyspaces:\n  - name: users\n    loader: {http: 'http://127.0.0.1:8080/cache/users'}\n",
         "keyspaces.0.loader.http: Does not match pattern"),
        ("keyspaces:\n  - name: users\n    loader: {http: 'http://a/{key}', grpc: 'a:1'}\n", "keyspaces.0.loader: Must not validate"),
        ("discovery:\n  mode: consul\n", "discovery.mode must be one of the following"),
        ("discovery:\n  mode: nats\n", "discovery.nats.url: String length must be greater than or equal to 1"),
        ("discovery:\n  mode: static\n  static:\n    peers: [10.0.0.1]\n", "discovery.static.peers.0: Does not match pattern"),
        ("tls:\n  source: vault\n", "tls.source must be one of the following"),
        ("sidecar:\n  securityContext:\n    runAsNonRoot: false\n", "sidecar.securityContext.runAsNonRoot"),
        ("sidecar:\n  ports:\n    api: 70000\n", "sidecar.ports.api: Must be less than or equal to 65535"),
        ("sidecar:\n  memory: 1GB\n", "sidecar.memory"),
        ("image:\n  pullPolicy: Sometimes\n", "image.pullPolicy must be one of the following"),
    ]
    RULES = [
        ("sidecar:\n  memory: 100Mi\n",
         "sidecar.memory 100Mi (104857600 bytes) is below what the sidecar needs: the keyspaces' maxBytes sum to "
         "67108864 bytes, plus sidecar.memoryOverhead 64Mi, is 134217728 bytes (128Mi)"),
        ("keyspaces:\n  - {name: a, maxBytes: 1GiB}\n  - {name: b, maxBytes: 1GiB}\nsidecar:\n  memory: 2Gi\n",
         "is below what the sidecar needs: the keyspaces' maxBytes sum to 2147483648 bytes"),
        ("tls:\n  source: existingSecret\n", "tls.source is existingSecret but tls.existingSecret is empty"),
        ("keyspaces:\n  - {name: a}\n  - {name: a}\n", 'keyspaces: "a" is declared twice'),
        ("discovery:\n  mode: static\n", "discovery.mode is static but discovery.static.peers is empty"),
        ("discovery:\n  mode: nats\n  nats: {url: 'nats://n:4222', heartbeat: 5s, expiry: 5s}\n",
         "discovery.nats.expiry (5s) must be longer than discovery.nats.heartbeat (5s)"),
        ("discovery:\n  nats:\n    secretKeys: {token: token}\n", "discovery.nats.existingSecret is empty"),
        ("discovery:\n  mode: nats\n  nats:\n    url: 'nats://n:4222'\n    existingSecret: s\n"
         "    secretKeys: {token: t, creds: c}\n", "secretKeys.token cannot be combined with user or creds"),
        ("sidecar:\n  terminationGracePeriodSeconds: 5\n",
         "sidecar.terminationGracePeriodSeconds 5 is shorter than the shutdown needs: appShutdownSeconds 10 + "
         "preStopSleepSeconds 0 + shutdownGrace 10s + peerTimeout 1s + 2 = 23"),
        ("serviceAccount:\n  create: false\n", "serviceAccount.create is false but serviceAccount.name is empty"),
        ("sidecar:\n  ports: {api: 7070, peer: 7072, http: 7072}\n", "sidecar.ports must be three different ports"),
        ("example:\n  enabled: true\n  port: 7072\n", "example.port 7072 collides with a sidecar port"),
    ]

    def assert_all_refused(self, cases, reason):
        for values, message in cases:
            with self.subTest(values=values):
                err = chart.render_fails(values)
                self.assertIn(reason, err)
                self.assertIn(message, err)

    def test_schema_rejects_bad_values(self):
        self.assert_all_refused(self.SCHEMA, "values don't meet the specifications of the schema")

    def test_validate_values_rejects_inconsistent_values(self):
        self.assert_all_refused(self.RULES, "podcache: invalid values:")


class ParentChart(unittest.TestCase):
    """A user's own chart that depends on podcache and includes the sidecar in its Deployment."""

    def test_sidecar_template_in_a_parent_chart(self):
        with tempfile.TemporaryDirectory() as d:
            parent = os.path.join(d, "myapp")
            subprocess.run(["cp", "-r", os.path.join(chart.HERE, "fixtures", "myapp"), parent], check=True)
            with open(os.path.join(parent, "Chart.yaml"), "a") as f:
                f.write("    repository: file://%s\n" % CHART)
            chart.helm("dependency", "build", parent)
            chart.helm("lint", "--strict", parent)
            text = chart.render_text(release="shop", chart=parent, namespace="prod")
            rc, out = chart.validate_objects(text)
            self.assertEqual(rc, 0, out)
            objs = [o for o in yaml.safe_load_all(text) if o]
            deploy = one(objs, "Deployment", "shop-myapp")
            spec = deploy["spec"]["template"]["spec"]
            s = sidecar(spec)
            self.assertEqual(s["restartPolicy"], "Always")
            self.assertEqual(spec["serviceAccountName"], one(objs, "ServiceAccount")["metadata"]["name"])
            self.assertEqual(one(objs, "RoleBinding")["subjects"][0]["name"], spec["serviceAccountName"])
            self.assertEqual(deploy["spec"]["template"]["metadata"]["labels"]["podcache.io/cluster"], "shop-podcache")
            self.assertEqual(one(objs, "Service", "shop-podcache")["spec"]["selector"],
                             {"podcache.io/cluster": "shop-podcache"})
            names = {v["name"] for v in spec["volumes"]}
            for m in s["volumeMounts"]:
                self.assertIn(m["name"], names)
            config, cm = podcache_config(objs)
            self.assertEqual([v["configMap"]["name"] for v in spec["volumes"] if v["name"] == "podcache-config"],
                             [cm["metadata"]["name"]])
            self.assertEqual(config["keyspaces"][0]["name"], "products")
            self.assertEqual(spec["terminationGracePeriodSeconds"], 33)  # appShutdownSeconds 20 + 10 + 1 + 2
            SidecarAcceptsRenderedConfig.run_validate(self, objs)


if __name__ == "__main__":
    unittest.main()
