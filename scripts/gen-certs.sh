#!/usr/bin/env bash
# Makes a CA and peer certificates for local experiments with the openssl CLI:
#   scripts/gen-certs.sh DIR [NAME...]     (default names: node0 node1 node2)
# writes DIR/ca.crt, DIR/ca.key and DIR/NAME.crt + DIR/NAME.key for each NAME, each with the DNS
# SAN "podcache-peer" (podcache's default --tls-peer-name) and both TLS usages. In Kubernetes use
# cert-manager or the Helm chart's generated CA instead.
set -euo pipefail
DIR="${1:?usage: gen-certs.sh DIR [NAME...]}"
shift
if [ $# -gt 0 ]; then NAMES=("$@"); else NAMES=(node0 node1 node2); fi
PEER_NAME="${PEER_NAME:-podcache-peer}"
mkdir -p "$DIR"
cd "$DIR"
ec() { echo -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes; }
if [ ! -f ca.crt ]; then
  openssl req -x509 $(ec) -keyout ca.key -out ca.crt -days 365 -subj "/CN=podcache local CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n' \
  "$PEER_NAME" > peer.ext
for name in "${NAMES[@]}"; do
  openssl req -new $(ec) -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
    -extfile peer.ext -out "$name.crt" 2>/dev/null
  rm -f "$name.csr"
done
echo "certificates in $DIR: ca.crt ${NAMES[*]/%/.crt}"
