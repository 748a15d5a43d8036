#!/usr/bin/env bash
# Builds the real control plane (kube-apiserver, kube-controller-manager, kube-scheduler, etcd)
# and kwok from Go modules into a cache outside git. A no-op when every binary is present.
# Arguments name other binaries instead, e.g. `build-controlplane.sh kubelet pause` (the real node) or
# `build-controlplane.sh kubectl` (the tutorial's test, and anyone without a kubectl).
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MODDIR="$ROOT/test/controlplane"
CACHE="${WFE_CONTROLPLANE_CACHE:-$HOME/.cache/wfe-controlplane}"
BIN="${WFE_CONTROLPLANE_BIN:-$CACHE/$K8S_VERSION/bin}"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok)
[ $# -eq 0 ] || BINARIES=("$@")

# shellcheck source=go-toolchain.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-toolchain.sh"
exit_if_present "control plane binaries present in $BIN" "${BINARIES[@]/#/$BIN/}"
use_go_toolchain
mkdir -p "$BIN" "$CACHE"

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
vpkg=k8s.io/component-base/version
ldflags="-s -w -X $vpkg.gitVersion=$K8S_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor"
ldflags+=" -X $vpkg.gitCommit=wfe-controlplane-$K8S_VERSION -X $vpkg.gitTreeState=clean"
ldflags+=" -X $vpkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# component-base also keeps a copy for the metrics "kubernetes_build_info".
ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

go_build_into_bin() { # name package dir [ldflags]
  (cd "$3" && go build -p "${BUILD_JOBS:-2}" -trimpath -buildvcs=false -ldflags "${4:-$ldflags}" -o "$BIN/$1.tmp" "$2")
  mv "$BIN/$1.tmp" "$BIN/$1"
}
build() { # name package dir
  timed "$1 ($2)" go_build_into_bin "$1" "$2" "$3"
}

total_start=$(date +%s)
for path in "${MISSING[@]}"; do
  b="$(basename "$path")"
  case "$b" in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kubectl) build "$b" "k8s.io/kubernetes/cmd/$b" "$MODDIR" ;;
    etcd) build etcd ./cmd/etcd "$MODDIR" ;;
    pause) build pause ./cmd/pause "$MODDIR" ;;
    kwok)
      if [ -f "$MODDIR/kwok/go.mod" ]; then
        timed "kwok (sigs.k8s.io/kwok/cmd/kwok)" go_build_into_bin kwok sigs.k8s.io/kwok/cmd/kwok "$MODDIR/kwok" "-s -w"
      else
        go_install_into "$BIN" kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
      fi
      ;;
  esac
done
echo "control plane binaries ready in $BIN ($(( $(date +%s) - total_start ))s)"
