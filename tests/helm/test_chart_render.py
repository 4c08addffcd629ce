"""The objects the Helm chart (helm/podcache) renders: schemas, labels, security, probes, RBAC,
TLS, discovery, monitoring. Run from this folder: python3 -m unittest -v test_chart_render"""
import base64
import os
import re
import subprocess
import tempfile
import unittest

import yaml

import chart
from chart import (CHART, FULL, MODES, ci, every_values, find, one, pod_specs, podcache_config, read, render,
                   sidecar, sidecar_defaults)


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


if __name__ == "__main__":
    unittest.main()
