#!/usr/bin/env bash
# Builds Jaeger (the all-in-one `jaeger` binary: OTLP on 4317/4318, query API on 16686) from Go modules
# into the monitoring cache, for the trace tests. A no-op when present. Its web UI is a placeholder
# page in a build from modules (the UI assets are built with npm upstream); the tests use the API.
#   jaeger  github.com/jaegertracing/jaeger/cmd/jaeger
set -euo pipefail

JAEGER_VERSION="${JAEGER_VERSION:-v1.75.0}"
CACHE="${WFE_CONTROLPLANE_CACHE:-$HOME/.cache/wfe-controlplane}"
JAEGER_BIN="$CACHE/jaeger-$JAEGER_VERSION/bin"

# shellcheck source=go-toolchain.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-toolchain.sh"
exit_if_present "jaeger present in $JAEGER_BIN" "$JAEGER_BIN/jaeger"
use_go_toolchain
mkdir -p "$JAEGER_BIN"

# A scratch module pins Jaeger as a tool (go get -tool), so its go.mod resolves the versions Jaeger's
# own go.mod asks for; `go build` of the tool package then builds exactly that.
module="$CACHE/jaeger-$JAEGER_VERSION/module"
mkdir -p "$module"
if [ ! -s "$module/go.mod" ]; then
  (cd "$module" && go mod init wfe.local/jaeger-build >/dev/null 2>&1)
fi
(cd "$module" && nice -n 10 go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION")
tmp="$(mktemp -d "$JAEGER_BIN/.build.XXXXXX")"
timed "jaeger ($JAEGER_VERSION)" bash -c "cd '$module' && nice -n 10 go build -p '${BUILD_JOBS:-2}' -trimpath -ldflags '-s -w' -o '$tmp/jaeger' github.com/jaegertracing/jaeger/cmd/jaeger"
mv "$tmp/jaeger" "$JAEGER_BIN/jaeger"
rmdir "$tmp"
echo "jaeger ready in $JAEGER_BIN"
