#!/usr/bin/env bash
# CI: the tools the control plane launcher needs (openssl for its certificates), then the control
# plane binaries themselves (built from Go modules into the cache; a no-op when already built).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v git >/dev/null 2>&1 || need+=(git)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "the Go toolchain is required (expected at /usr/local/go)" >&2
  exit 1
fi

bash scripts/build-controlplane.sh
