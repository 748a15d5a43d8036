#!/usr/bin/env bash
# Builds the deployment tools from Go modules into the control plane's cache (outside git):
# crane and registry (go-containerregistry), kustomize, syft (the image scanner the deploy tests run)
# and the CNI plugins a real node needs.
# A no-op for what is present. Usage: build-deploy-tools.sh [crane registry kustomize syft cni]
set -euo pipefail

GGCR_VERSION="${GGCR_VERSION:-v0.22.1}"
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.0}"
CNI_PLUGINS_VERSION="${CNI_PLUGINS_VERSION:-v1.9.0}"
SYFT_VERSION="${SYFT_VERSION:-v1.57.2}"
CACHE="${WFE_CONTROLPLANE_CACHE:-$HOME/.cache/wfe-controlplane}"
BIN="${WFE_DEPLOY_BIN:-$CACHE/deploy/bin}"
CNI_BIN="${WFE_CNI_BIN:-$CACHE/deploy/cni/$CNI_PLUGINS_VERSION}"
CNI_PLUGINS=(bridge host-local loopback)
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(crane registry kustomize cni)

# shellcheck source=go-toolchain.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-toolchain.sh"
use_go_toolchain
mkdir -p "$BIN" "$CNI_BIN"

for w in "${wanted[@]}"; do
  case "$w" in
    crane) go_install_into "$BIN" crane "github.com/google/go-containerregistry/cmd/crane@$GGCR_VERSION" ;;
    registry) go_install_into "$BIN" registry "github.com/google/go-containerregistry/cmd/registry@$GGCR_VERSION" ;;
    kustomize) go_install_into "$BIN" kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" ;;
    syft) go_install_into "$BIN" syft "github.com/anchore/syft/cmd/syft@$SYFT_VERSION" ;;
    cni)
      for p in "${CNI_PLUGINS[@]}"; do
        case "$p" in host-local) path=ipam/host-local ;; *) path="main/$p" ;; esac
        go_install_into "$CNI_BIN" "$p" "github.com/containernetworking/plugins/plugins/$path@$CNI_PLUGINS_VERSION"
      done
      ;;
    *) echo "unknown tool $w (crane registry kustomize syft cni)" >&2; exit 2 ;;
  esac
done
