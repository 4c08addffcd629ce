"""The Helm chart (helm/podcache) checked with a real helm, offline Kubernetes schemas and the real
podcache binary. Run from this folder: python3 -m unittest -v test_chart"""
import base64
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

import chart
from chart import CHART, CI_VALUES, find, one, pod_specs, podcache_config, render, sidecar

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
    out = subprocess.run([chart.PODCACHE, "--help"], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"--([a-z0-9-]+) TEXT=(\S+)", out))


def every_values():
    """(label, values files) of the default values and every ci/ file."""
    return [("default", [])] + [(os.path.basename(f), [f]) for f in CI_VALUES]


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


class Render(unittest.TestCase):
    def test_every_rendered_object_passes_kubernetes_schemas_strictly(self):
        for label, values in every_values():
            with self.subTest(values=label):
                rc, out = chart.validate_objects(chart.render_text(values))
                self.assertEqual(rc, 0, out)
                self.assertIn("strict ok", out)

    def test_standard_labels_and_release_namespace_on_every_object(self):
        for label, values in every_values():
            for o in render(values, namespace="team-a"):
                with self.subTest(values=label, obj=o["kind"] + "/" + o["metadata"]["name"]):
                    labels = o["metadata"]["labels"]
                    for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                                "app.kubernetes.io/managed-by", "helm.sh/chart"):
                        self.assertIn(key, labels)
                    self.assertEqual(o["metadata"]["namespace"], "team-a")
        for path, _, files in os.walk(os.path.join(CHART, "templates")):
            for f in files:
                text = read(os.path.join(path, f))
                self.assertNotRegex(text, r"namespace:\s*(default|kube-system|[a-z][-a-z0-9]*)\s*$", f)

    def test_one_resource_per_template_file_and_helpers_prefixed(self):
        for path, _, files in os.walk(os.path.join(CHART, "templates")):
            for f in files:
                text = read(os.path.join(path, f))
                for name in re.findall(r'define\s+"([^"]+)"', text):
                    self.assertTrue(name.startswith("podcache."), "%s: helper %s" % (f, name))
                if f.endswith(".yaml"):
                    self.assertLessEqual(len(re.findall(r"^kind:", text, re.M)), 1, f)
                    self.assertNotIn("\n---", text, f)

    def test_pod_security_standards_restricted(self):
        allowed_volumes = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret"}
        for label, values in every_values():
            for o, spec in pod_specs(render(values)):
                with self.subTest(values=label, obj=o["kind"] + "/" + o["metadata"]["name"]):
                    for key in ("hostNetwork", "hostPID", "hostIPC"):
                        self.assertFalse(spec.get(key, False))
                    for v in spec.get("volumes", []):
                        self.assertEqual(set(v) - {"name"} - allowed_volumes, set(), v)
                    pod_sc = spec.get("securityContext", {})
                    for c in spec.get("initContainers", []) + spec["containers"]:
                        sc = c.get("securityContext", {})
                        self.assertTrue(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")), c["name"])
                        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
                        self.assertIsInstance(uid, int, c["name"] + ": a fixed UID")
                        self.assertGreater(uid, 0)
                        self.assertIs(sc.get("allowPrivilegeEscalation"), False, c["name"])
                        self.assertFalse(sc.get("privileged", False), c["name"])
                        self.assertEqual(sc.get("capabilities", {}).get("drop"), ["ALL"], c["name"])
                        self.assertFalse(sc.get("capabilities", {}).get("add"), c["name"])
                        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
                        self.assertIn(seccomp.get("type"), ("RuntimeDefault", "Localhost"), c["name"])
                        self.assertIs(sc.get("readOnlyRootFilesystem"), True, c["name"])
                        res = c.get("resources", {})
                        self.assertEqual(res.get("requests", {}).get("memory"), res.get("limits", {}).get("memory"),
                                         c["name"] + ": memory request = limit")

    def test_native_sidecar_with_startup_probe(self):
        for label, values in every_values():
            objs = render(values)
            for o, spec in pod_specs(objs):
                if o["kind"] != "Deployment":
                    continue
                with self.subTest(values=label):
                    s = sidecar(spec)
                    self.assertEqual(s["restartPolicy"], "Always")
                    self.assertIn("startupProbe", s)
                    self.assertNotIn("podcache", [c["name"] for c in spec["containers"]])
                    self.assertIs(spec["automountServiceAccountToken"], False)

    def test_rbac_is_exactly_get_list_watch_on_endpointslices_for_kubernetes_discovery(self):
        objs = render([ci(MODES["kubernetes"])])
        self.assertEqual(find(objs, "ClusterRole") + find(objs, "ClusterRoleBinding"), [])
        role = one(objs, "Role")
        self.assertEqual(role["rules"], [{"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                                          "verbs": ["get", "list", "watch"]}])
        binding = one(objs, "RoleBinding")
        self.assertEqual(binding["roleRef"], {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                              "name": role["metadata"]["name"]})
        sa = one(objs, "ServiceAccount")
        self.assertEqual(binding["subjects"], [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                                "namespace": "shop"}])
        deploy = one(objs, "Deployment")
        spec = deploy["spec"]["template"]["spec"]
        self.assertEqual(spec["serviceAccountName"], sa["metadata"]["name"])
        # The token reaches the sidecar only, at the directory its options name.
        config, _ = podcache_config(objs)
        sa_dir = config["discovery"]["kubernetes"]["serviceaccount_dir"]
        mounts = {m["mountPath"]: m["name"] for m in sidecar(spec)["volumeMounts"]}
        volume = [v for v in spec["volumes"] if v["name"] == mounts[sa_dir]][0]
        sources = volume["projected"]["sources"]
        self.assertEqual(sources[0]["serviceAccountToken"]["path"], "token")
        self.assertEqual(sources[1]["configMap"]["name"], "kube-root-ca.crt")
        self.assertEqual(sources[2]["downwardAPI"]["items"][0]["path"], "namespace")
        for c in spec["containers"]:
            self.assertNotIn(sa_dir, [m["mountPath"] for m in c.get("volumeMounts", [])])
        for mode in ("dns", "nats", "static"):
            with self.subTest(mode=mode):
                objs = render([ci(MODES[mode])])
                self.assertEqual(find(objs, "Role") + find(objs, "RoleBinding"), [])
                self.assertNotIn("podcache-serviceaccount",
                                 [v["name"] for v in one(objs, "Deployment")["spec"]["template"]["spec"]["volumes"]])

    def test_tls_secret_is_mounted_as_a_directory_where_the_tls_options_point(self):
        for label, values in every_values():
            objs = render(values)
            config, _ = podcache_config(objs)
            with self.subTest(values=label):
                spec = one(objs, "Deployment")["spec"]["template"]["spec"] if find(objs, "Deployment") else None
                if spec is None:
                    continue
                tls = config["tls"]
                dirs = {os.path.dirname(tls[k]) for k in ("cert", "key", "ca")}
                self.assertEqual(len(dirs), 1)
                tls_dir = dirs.pop()
                self.assertEqual([os.path.basename(tls[k]) for k in ("cert", "key", "ca")],
                                 ["tls.crt", "tls.key", "ca.crt"])
                mounts = [m for m in sidecar(spec)["volumeMounts"] if m["mountPath"] == tls_dir]
                self.assertEqual(len(mounts), 1, "a mount at " + tls_dir)
                self.assertNotIn("subPath", mounts[0])
                for m in sidecar(spec)["volumeMounts"]:
                    self.assertNotIn("subPath", m, "hot reload needs directory mounts")
                volume = [v for v in spec["volumes"] if v["name"] == mounts[0]["name"]][0]
                secret_name = volume["secret"]["secretName"]
                secrets = {s["metadata"]["name"] for s in find(objs, "Secret")}
                certs = {c["spec"]["secretName"]: c for c in find(objs, "Certificate")}
                v = yaml.safe_load(read(values[0])) if values else {}
                source = (v.get("tls") or {}).get("source", "generate")
                if source == "generate":
                    self.assertIn(secret_name, secrets)
                elif source == "certManager":
                    self.assertIn(secret_name, certs)
                    self.assertEqual(certs[secret_name]["spec"]["dnsNames"], [tls["peer_name"]])
                    self.assertEqual(set(certs[secret_name]["spec"]["usages"]) & {"server auth", "client auth"},
                                     {"server auth", "client auth"})
                else:
                    self.assertEqual(secret_name, v["tls"]["existingSecret"])

    def test_ports_probes_and_drain_match_the_sidecar(self):
        d = sidecar_defaults()
        objs = render([ci(MODES["kubernetes"])])
        config, _ = podcache_config(objs)
        self.assertEqual(config["api_listen"], d["api-listen"])
        self.assertEqual(config["peer_listen"], d["peer-listen"])
        self.assertEqual(config["http_listen"], d["http-listen"])
        self.assertEqual(config["tls"]["peer_name"], d["tls-peer-name"])
        self.assertEqual(config["shutdown_grace"], d["shutdown-grace"])
        self.assertEqual(config["peer_timeout"], d["peer-timeout"])
        self.assertEqual(config["discovery"]["kubernetes"]["port_name"], d["k8s-port-name"])
        self.assertEqual(config["advertise"], "${POD_IP}:" + d["peer-listen"].rsplit(":", 1)[1])
        peer_port = int(d["peer-listen"].rsplit(":", 1)[1])
        http_port = int(d["http-listen"].rsplit(":", 1)[1])
        spec = one(objs, "Deployment")["spec"]["template"]["spec"]
        s = sidecar(spec)
        ports = {p["name"]: p["containerPort"] for p in s["ports"]}
        self.assertEqual(ports, {"podcache-peer": peer_port, "podcache-http": http_port})
        self.assertEqual(s["startupProbe"]["httpGet"], {"path": "/healthz", "port": "podcache-http"})
        self.assertEqual(s["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "podcache-http"})
        self.assertEqual(s["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "podcache-http"})
        env = {e["name"]: e for e in s["env"]}
        self.assertEqual(env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP")
        svc = one(objs, "Service")
        self.assertEqual(svc["spec"]["clusterIP"], "None")
        self.assertIs(svc["spec"]["publishNotReadyAddresses"], False)
        svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
        self.assertEqual(svc_ports["peer"]["port"], peer_port)
        self.assertEqual(svc_ports["peer"]["targetPort"], "podcache-peer")
        self.assertEqual(svc_ports["http"]["port"], http_port)
        self.assertEqual(config["discovery"]["kubernetes"]["service"], svc["metadata"]["name"])
        # The pod's grace period covers the app's share, then the sidecar's drain and peer port.
        grace = spec["terminationGracePeriodSeconds"]
        drain = (int(d["shutdown-grace"].rstrip("s")) + 1)  # 10s + peer_timeout 1s
        self.assertGreaterEqual(grace, drain + 10)
        self.assertNotIn("lifecycle", s)
        full = render([FULL])
        fs = sidecar(one(full, "Deployment")["spec"]["template"]["spec"])
        self.assertEqual(fs["lifecycle"]["preStop"]["sleep"]["seconds"], 3)
        self.assertEqual(one(full, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 45)

    def test_memory_request_equals_limit_and_covers_the_keyspaces(self):
        s = sidecar(one(render([ci(MODES["kubernetes"])]), "Deployment")["spec"]["template"]["spec"])
        self.assertEqual(s["resources"]["requests"]["memory"], "128Mi")  # users 64MiB + overhead 64Mi
        self.assertEqual(s["resources"]["limits"]["memory"], "128Mi")
        objs = render([ci(MODES["kubernetes"])], ["keyspaces[0].name=a", "keyspaces[0].maxBytes=1.5GiB",
                                                  "sidecar.memoryOverhead=100M"])
        s = sidecar(one(objs, "Deployment")["spec"]["template"]["spec"])
        self.assertEqual(s["resources"]["limits"]["memory"], "%dMi" % -(-(int(1.5 * 2**30) + 100 * 10**6) // 2**20))
        s = sidecar(one(render([FULL]), "Deployment")["spec"]["template"]["spec"])
        self.assertEqual((s["resources"]["requests"]["memory"], s["resources"]["limits"]["memory"]), ("2Gi", "2Gi"))
        self.assertEqual(s["resources"]["limits"]["cpu"], "2")

    def test_selectors_of_service_networkpolicy_and_pdb_are_the_member_label(self):
        for label, values in every_values():
            objs = render(values)
            with self.subTest(values=label):
                member = {"podcache.io/cluster": "shop-cache" if values == [FULL] else "r-podcache"}
                self.assertEqual(one(objs, "Service")["spec"]["selector"], member)
                self.assertEqual(one(objs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], member)
                np = one(objs, "NetworkPolicy")
                self.assertEqual(np["spec"]["podSelector"]["matchLabels"], member)
                peer_rule = np["spec"]["ingress"][0]
                self.assertEqual(peer_rule["from"], [{"podSelector": {"matchLabels": member}}])
                self.assertEqual(peer_rule["ports"], [{"port": 7071, "protocol": "TCP"}])
                for d in find(objs, "Deployment"):
                    labels = d["spec"]["template"]["metadata"]["labels"]
                    self.assertEqual({k: labels[k] for k in member}, member)
                    self.assertIn("checksum/podcache-config", d["spec"]["template"]["metadata"]["annotations"])

    def test_discovery_configuration_per_mode(self):
        c, _ = podcache_config(render([ci(MODES["dns"])]))
        self.assertEqual(c["discovery"], {"mode": "dns", "dns": {
            "name": "_peer._tcp.r-podcache.shop.svc.cluster.local", "port": 0, "interval": "2s"}})
        objs = render([ci(MODES["nats"])])
        c, _ = podcache_config(objs)
        self.assertEqual(c["discovery"]["nats"]["url"], "nats://nats.nats.svc:4222")
        self.assertEqual(c["discovery"]["nats"]["creds"], "/etc/podcache/nats/nats.creds")
        s = sidecar(one(objs, "Deployment")["spec"]["template"]["spec"])
        env = {e["name"]: e for e in s["env"]}
        self.assertNotIn("PODCACHE_NATS_TOKEN", env)
        self.assertNotIn("PODCACHE_NATS_PASSWORD", env)
        self.assertIn("/etc/podcache/nats", [m["mountPath"] for m in s["volumeMounts"]])
        # A token instead of a .creds file comes from the Secret as an environment variable.
        objs = render([ci(MODES["nats"])], sets=["discovery.nats.secretKeys.creds=",
                                                  "discovery.nats.secretKeys.token=token"])
        s = sidecar(one(objs, "Deployment")["spec"]["template"]["spec"])
        env = {e["name"]: e for e in s["env"]}
        self.assertEqual(env["PODCACHE_NATS_TOKEN"]["valueFrom"]["secretKeyRef"], {"name": "podcache-nats", "key": "token"})
        self.assertNotIn("creds", podcache_config(objs)[0]["discovery"]["nats"])
        c, _ = podcache_config(render([ci(MODES["static"])]))
        self.assertEqual(c["discovery"]["static"]["peers"], ["10.0.0.11:7071", "10.0.0.12:7071", "10.0.0.13:7071"])

    def test_servicemonitor_scrapes_the_http_port(self):
        self.assertEqual(find(render(), "ServiceMonitor"), [])
        objs = render([FULL])
        sm = one(objs, "ServiceMonitor")
        self.assertEqual(sm["spec"]["endpoints"][0]["port"], "http")
        self.assertEqual(sm["spec"]["endpoints"][0]["path"], "/metrics")
        svc = one(objs, "Service")
        for k, v in sm["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(svc["metadata"]["labels"][k], v)
        self.assertEqual(sm["metadata"]["labels"]["release"], "prometheus")

    def test_helm_test_pod_reads_the_ring_through_the_headless_service(self):
        objs = render()
        pod = one(objs, "Pod")
        self.assertEqual(pod["metadata"]["annotations"]["helm.sh/hook"], "test")
        c = pod["spec"]["containers"][0]
        self.assertEqual(c["command"], ["/usr/local/bin/podcachectl"])
        self.assertEqual(c["args"], ["--http=r-podcache.shop.svc.cluster.local:7072", "ring"])
        self.assertEqual(find(objs, "Deployment"), [], "the example app is off by default")

    def test_example_app_runs_the_demo_loader_the_keyspace_points_at(self):
        objs = render([ci(MODES["kubernetes"])])
        cm = one(objs, "ConfigMap", "r-podcache-example")
        self.assertEqual(cm["data"]["slow-db.py"], read(os.path.join(chart.ROOT, "examples", "slow-db", "app.py")),
                         "files/slow-db.py (a symlink) renders examples/slow-db/app.py")
        app = one(objs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        self.assertIn("--port=8080", app["command"])
        c, _ = podcache_config(objs)
        self.assertTrue(c["keyspaces"][0]["loader"]["http"].startswith("http://127.0.0.1:8080/"))

    def test_generated_certificate_is_a_peer_certificate_for_mtls(self):
        objs = render()
        secret = one(objs, "Secret")
        self.assertEqual(secret["type"], "kubernetes.io/tls")
        with tempfile.TemporaryDirectory() as d:
            for k in ("tls.crt", "tls.key", "ca.crt"):
                with open(os.path.join(d, k), "wb") as f:
                    f.write(base64.b64decode(secret["data"][k]))
            for purpose in ("sslserver", "sslclient"):
                p = subprocess.run(["openssl", "verify", "-purpose", purpose, "-CAfile", d + "/ca.crt", d + "/tls.crt"],
                                   capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", d + "/tls.crt"], capture_output=True,
                                  text=True, check=True).stdout
            self.assertIn("DNS:podcache-peer", text)
            key_pub = subprocess.run(["openssl", "pkey", "-in", d + "/tls.key", "-pubout"], capture_output=True,
                                     text=True, check=True).stdout
            crt_pub = subprocess.run(["openssl", "x509", "-in", d + "/tls.crt", "-noout", "-pubkey"],
                                     capture_output=True, text=True, check=True).stdout
            self.assertEqual(key_pub, crt_pub)
        # A different peer name changes the SAN.
        secret = one(render(sets=["tls.peerName=cache-peer.internal"]), "Secret")
        cert = base64.b64decode(secret["data"]["tls.crt"])
        text = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=cert,
                              capture_output=True, check=True).stdout.decode()
        self.assertIn("DNS:cache-peer.internal", text)


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

    def test_schema_rejects_bad_values(self):
        for values, message in self.SCHEMA:
            with self.subTest(values=values):
                err = chart.render_fails(values)
                self.assertIn("values don't meet the specifications of the schema", err)
                self.assertIn(message, err)

    def test_validate_values_rejects_inconsistent_values(self):
        for values, message in self.RULES:
            with self.subTest(values=values):
                err = chart.render_fails(values)
                self.assertIn("podcache: invalid values:", err)
                self.assertIn(message, err)


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
