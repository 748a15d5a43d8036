#!/usr/bin/env bash
# What `npm test` needs from the machine besides node_modules: Debian's openssl (the control plane's
# certificates), postgresql (the audit store's tests), chromium (the inspector in a browser), libfaketime
# (a clock-skewed replica), git and
# ca-certificates (Go module downloads), and a Go toolchain when the control plane is not built yet.
# Installs the missing Debian packages when it can (root, or sudo without a password); otherwise
# stops at once with one line that says what to install. `npm test` and `.ci/run` both run this.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM="${WFE_CHROMIUM:-/usr/bin/chromium}"
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
CONTROLPLANE_BIN="${WFE_CONTROLPLANE_BIN:-${WFE_CONTROLPLANE_CACHE:-$HOME/.cache/wfe-controlplane}/$K8S_VERSION/bin}"

has_postgres() { compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; }

missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v git >/dev/null 2>&1 || missing+=(git)
[ -e /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
has_postgres || missing+=(postgresql)
[ -x "$CHROMIUM" ] || missing+=(chromium)
# The clock-skew e2e test runs a replica under libfaketime.
compgen -G '/usr/lib/*/faketime/libfaketime.so.1' >/dev/null || missing+=(libfaketime)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "npm test needs Debian packages that are missing: run 'sudo apt-get install -y ${missing[*]}' (or npm test as root), then npm test again" >&2
    exit 1
  fi
  echo "provision: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The control plane is built from Go modules on first use (jest's global setup); say now, not after
# the unit tests, when that cannot happen.
controlplane_built=true
for b in kube-apiserver kube-controller-manager kube-scheduler etcd kwok; do
  [ -x "$CONTROLPLANE_BIN/$b" ] || controlplane_built=false
done
if ! $controlplane_built && ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "npm test builds the control plane from Go modules and needs Go 1.24 or newer: install it (e.g. to /usr/local/go) or put prebuilt binaries in $CONTROLPLANE_BIN" >&2
  exit 1
fi
