#!/usr/bin/env node
// Validates rendered Kubernetes manifests offline, the way an API server would see them:
//  1. each object against its OpenAPI schema (kubernetes-models and the cert-manager and
//     prometheus-operator models compiled from the CRDs: types, enums, required fields, formats);
//  2. strictly: every object becomes a typed TypeScript literal checked by tsc, whose excess
//     property check rejects unknown or misspelt fields anywhere in the tree (like
//     `kubectl --validate=strict`), which the OpenAPI schemas alone allow.
// Usage: node validate.js FILE.yaml...   Prints one line per object; exit 1 on any error.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { execFileSync } = require("child_process");
const YAML = require("yaml");

// apiVersion group -> npm module holding its models.
const MODULES = {
  "": "kubernetes-models",
  "cert-manager.io": "@kubernetes-models/cert-manager",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

function moduleOf(apiVersion) {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const pkg = MODULES[group] ?? MODULES[""];
  return `${pkg}/${apiVersion}`;  // e.g. kubernetes-models/apps/v1, kubernetes-models/v1
}

const objects = [];
let failed = false;
for (const file of process.argv.slice(2)) {
  for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.error(`${file}: YAML error: ${doc.errors[0].message}`);
      failed = true;
      continue;
    }
    const obj = doc.toJS();
    if (obj == null) continue;
    objects.push({ file, obj });
  }
}

for (const { file, obj } of objects) {
  const id = `${obj.kind} ${obj.metadata && obj.metadata.name}`;
  let Model;
  try {
    Model = require(moduleOf(obj.apiVersion))[obj.kind];
  } catch (e) {
    Model = undefined;
  }
  if (typeof Model !== "function") {
    console.error(`${file}: ${id}: no schema for ${obj.apiVersion} ${obj.kind}`);
    failed = true;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`schema ok: ${obj.apiVersion} ${id}`);
  } catch (e) {
    console.error(`${file}: ${id}: ${e.message}`);
    failed = true;
  }
}

// The strict pass: one typed literal per object.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "podcache-validate-"));
const lines = [];
objects.forEach(({ obj }, i) => {
  const type = `I${obj.kind}`;
  lines.push(`import { ${type} as T${i} } from "${moduleOf(obj.apiVersion)}/${obj.kind}";`);
  lines.push(`// ${obj.kind} ${obj.metadata && obj.metadata.name}`);
  lines.push(`export const o${i}: T${i} = ${JSON.stringify(obj, null, 1)};`);
});
fs.writeFileSync(path.join(dir, "objects.ts"), lines.join("\n") + "\n");
const tsc = path.join(__dirname, "node_modules", "typescript", "bin", "tsc");
try {
  execFileSync(process.execPath, [tsc, "--noEmit", "--strict", "--skipLibCheck", "--target", "es2020",
    "--module", "commonjs", "--moduleResolution", "node", "--baseUrl", path.join(__dirname, "node_modules"),
    "--typeRoots", "[]", path.join(dir, "objects.ts")],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_PATH: path.join(__dirname, "node_modules") } });
  console.log(`strict ok: ${objects.length} objects have only known fields`);
} catch (e) {
  console.error(`strict check failed (unknown or mistyped fields), see ${dir}/objects.ts:\n` +
    String(e.stdout) + String(e.stderr));
  failed = true;
}
if (!failed) fs.rmSync(dir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
