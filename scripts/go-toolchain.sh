# Sourced by the build-*.sh scripts before they build from Go modules: the Go toolchain on PATH (or
# one clear line naming where it was looked for), static binaries, and go.mod files that may be
# updated as modules resolve (a caller's own GOFLAGS win).
if ! command -v go >/dev/null 2>&1; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null 2>&1 || { echo "go toolchain not found (expected /usr/local/go/bin)" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--mod=mod}"
