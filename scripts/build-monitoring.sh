#!/usr/bin/env bash
# Builds the monitoring tools the tests and `npm run monitoring` use, from Go modules, into the same
# cache as the control plane, and copies the two prometheus-operator CRDs (ServiceMonitor,
# PrometheusRule) out of that module for dry runs. A no-op when everything is present.
#   prometheus, promtool  github.com/prometheus/prometheus/cmd/...  (Prometheus 3 is tagged v0.3xx in Go)
#   CRDs                  github.com/prometheus-operator/prometheus-operator (example/prometheus-operator-crd)
set -euo pipefail

PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
CACHE="${WFE_CONTROLPLANE_CACHE:-$HOME/.cache/wfe-controlplane}"
PROM_BIN="$CACHE/prometheus-$PROMETHEUS_VERSION/bin"
CRD_DIR="$CACHE/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/crds"
CRDS=(monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml)

# shellcheck source=go-toolchain.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-toolchain.sh"
exit_if_present "monitoring tools present in $CACHE" "$PROM_BIN/prometheus" "$PROM_BIN/promtool" \
  "${CRDS[@]/#/$CRD_DIR/}"
use_go_toolchain
mkdir -p "$PROM_BIN" "$CRD_DIR"

total_start=$(date +%s)
# Without the cloud service-discovery plugins (AWS, Azure, GCE, ...): the tests and `npm run monitoring`
# scrape static targets, and those SDKs would triple the build time.
go_install_into "$PROM_BIN" promtool "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" remove_all_sd
go_install_into "$PROM_BIN" prometheus "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION" remove_all_sd

need_crds=0
for c in "${CRDS[@]}"; do [ -s "$CRD_DIR/$c" ] || need_crds=1; done
if [ $need_crds -eq 1 ]; then
  echo "downloading github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION for its CRDs ..."
  mod_dir="$(cd "$CACHE" && go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  for c in "${CRDS[@]}"; do
    cp "$mod_dir/example/prometheus-operator-crd/$c" "$CRD_DIR/$c.tmp"
    chmod 644 "$CRD_DIR/$c.tmp"
    mv "$CRD_DIR/$c.tmp" "$CRD_DIR/$c"
  done
fi
echo "monitoring tools ready in $CACHE ($(( $(date +%s) - total_start ))s)"
