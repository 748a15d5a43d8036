#!/usr/bin/env bash
# CI: the control plane binaries (built from Go modules into the cache; a no-op when already built).
# The Debian packages they and the tests need come first, from scripts/provision.sh (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "the Go toolchain is required (expected at /usr/local/go)" >&2
  exit 1
fi

bash scripts/build-controlplane.sh
