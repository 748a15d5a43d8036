#!/usr/bin/env bash
# Builds the monitoring tools the tests and `npm run monitoring` use, from Go modules, into the same
# cache as the control plane, and copies the two prometheus-operator CRDs (ServiceMonitor,
# PrometheusRule) out of that module for dry runs. A no-op when everything is present.
#   prometheus, promtool  github.com/prometheus/prometheus/cmd/...  (Prometheus 3 is tagged v0.3xx in Go)
#   alertmanager          github.com/prometheus/alertmanager/cmd/alertmanager (its module ships without
#                         the built web UI, so `go install` fails; built in a copy with placeholder UI files)
#   CRDs                  github.com/prometheus-operator/prometheus-operator (example/prometheus-operator-crd)
set -euo pipefail

PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
ALERTMANAGER_VERSION="${ALERTMANAGER_VERSION:-v0.35.0}"
CACHE="${WFE_CONTROLPLANE_CACHE:-$HOME/.cache/wfe-controlplane}"
PROM_BIN="$CACHE/prometheus-$PROMETHEUS_VERSION/bin"
AM_BIN="$CACHE/alertmanager-$ALERTMANAGER_VERSION/bin"
CRD_DIR="$CACHE/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/crds"
CRDS=(monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml)

# shellcheck source=go-toolchain.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-toolchain.sh"
exit_if_present "monitoring tools present in $CACHE" "$PROM_BIN/prometheus" "$PROM_BIN/promtool" \
  "$AM_BIN/alertmanager" "${CRDS[@]/#/$CRD_DIR/}"
use_go_toolchain
mkdir -p "$PROM_BIN" "$AM_BIN" "$CRD_DIR"

total_start=$(date +%s)
# Without the cloud service-discovery plugins (AWS, Azure, GCE, ...): the tests and `npm run monitoring`
# scrape static targets, and those SDKs would triple the build time.
go_install_into "$PROM_BIN" promtool "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" remove_all_sd
go_install_into "$PROM_BIN" prometheus "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION" remove_all_sd

if [ ! -x "$AM_BIN/alertmanager" ]; then
  am_build() {
    local mod_dir work
    mod_dir="$(cd "$CACHE" && go mod download -json "github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
    work="$(mktemp -d "$AM_BIN/.build.XXXXXX")"
    cp -r "$mod_dir/." "$work/src"
    chmod -R u+w "$work/src"
    # The UI is embedded from ui/app/dist (built by npm upstream, absent from the module): the API
    # the tests use needs none of it, so a placeholder satisfies the embed pattern.
    mkdir -p "$work/src/ui/app/dist/elm" "$work/src/ui/app/dist/mantine"
    echo "alertmanager UI not built" >"$work/src/ui/app/dist/elm/index.html"
    echo "alertmanager UI not built" >"$work/src/ui/app/dist/mantine/index.html"
    (cd "$work/src" && nice -n 10 go build -p "${BUILD_JOBS:-2}" -trimpath -ldflags "-s -w" -o "$work/alertmanager" ./cmd/alertmanager)
    mv "$work/alertmanager" "$AM_BIN/alertmanager"
    rm -rf "$work"
  }
  timed "alertmanager (github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION)" am_build
fi

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
