#!/usr/bin/env bash
# Builds the real control plane (kube-apiserver, kube-controller-manager, kube-scheduler, etcd)
# and kwok from Go modules into a cache outside git. A no-op when every binary is present.
# Arguments name other binaries instead, e.g. `build-controlplane.sh kubelet pause` (the real node).
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MODDIR="$ROOT/test/controlplane"
CACHE="${WFE_CONTROLPLANE_CACHE:-$HOME/.cache/wfe-controlplane}"
BIN="${WFE_CONTROLPLANE_BIN:-$CACHE/$K8S_VERSION/bin}"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok)
[ $# -eq 0 ] || BINARIES=("$@")

missing=()
for b in "${BINARIES[@]}"; do [ -x "$BIN/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "control plane binaries present in $BIN"
  exit 0
fi

# shellcheck source=go-toolchain.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-toolchain.sh"
mkdir -p "$BIN" "$CACHE"

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
vpkg=k8s.io/component-base/version
ldflags="-s -w -X $vpkg.gitVersion=$K8S_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor"
ldflags+=" -X $vpkg.gitCommit=wfe-controlplane-$K8S_VERSION -X $vpkg.gitTreeState=clean"
ldflags+=" -X $vpkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# component-base also keeps a copy for the metrics "kubernetes_build_info".
ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

build() { # name package dir
  local name="$1" pkg="$2" dir="$3" start
  start=$(date +%s)
  echo "building $name ($pkg) ..."
  (cd "$dir" && go build -p "${BUILD_JOBS:-2}" -trimpath -buildvcs=false -ldflags "$ldflags" -o "$BIN/$name.tmp" "$pkg")
  mv "$BIN/$name.tmp" "$BIN/$name"
  echo "built $name in $(( $(date +%s) - start ))s"
}

total_start=$(date +%s)
for b in "${missing[@]}"; do
  case "$b" in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubelet) build "$b" "k8s.io/kubernetes/cmd/$b" "$MODDIR" ;;
    etcd) build etcd ./cmd/etcd "$MODDIR" ;;
    pause) build pause ./cmd/pause "$MODDIR" ;;
    kwok)
      start=$(date +%s)
      echo "building kwok (sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION) ..."
      if [ -f "$MODDIR/kwok/go.mod" ]; then
        (cd "$MODDIR/kwok" && go build -p "${BUILD_JOBS:-2}" -trimpath -buildvcs=false -ldflags "-s -w" -o "$BIN/kwok.tmp" sigs.k8s.io/kwok/cmd/kwok)
        mv "$BIN/kwok.tmp" "$BIN/kwok"
      else
        (cd "$CACHE" && GOBIN="$BIN" go install -p "${BUILD_JOBS:-2}" -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
      fi
      echo "built kwok in $(( $(date +%s) - start ))s"
      ;;
  esac
done
echo "control plane binaries ready in $BIN ($(( $(date +%s) - total_start ))s)"
