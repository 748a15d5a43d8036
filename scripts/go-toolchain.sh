# Sourced by the build-*.sh scripts, which build from Go modules into a cache outside git.

# Sets MISSING to those of the given files that are absent or empty; with none, says so and exits 0.
exit_if_present() { # message file...
  local message="$1" f
  shift
  MISSING=()
  for f in "$@"; do [ -s "$f" ] || MISSING+=("$f"); done
  if [ ${#MISSING[@]} -eq 0 ]; then
    echo "$message"
    exit 0
  fi
}

# The Go toolchain on PATH (or one clear line naming where it was looked for), static binaries, and
# go.mod files that may be updated as modules resolve (a caller's own GOFLAGS win).
use_go_toolchain() {
  if ! command -v go >/dev/null 2>&1; then export PATH="/usr/local/go/bin:$PATH"; fi
  command -v go >/dev/null 2>&1 || { echo "go toolchain not found (expected /usr/local/go/bin)" >&2; exit 1; }
  export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--mod=mod}"
}

# Runs a build, saying what it builds and how long it took.
timed() { # label command...
  local label="$1" start
  shift
  start=$(date +%s)
  echo "building $label ..."
  "$@"
  echo "built $label in $(( $(date +%s) - start ))s"
}

go_install_in_cache() { # GOBIN tags package@version
  (cd "$CACHE" && GOBIN="$1" nice -n 10 go install -p "${BUILD_JOBS:-2}" -trimpath -tags "$2" -ldflags "-s -w" "$3")
}

# `go install` of one module's binary into dir as name, unless it is there. It appears whole or not
# at all: built into a directory of its own first (go names it after the package, without a /vN).
go_install_into() { # dir name package@version [build tags]
  local dir="$1" name="$2" pkg="$3" tags="${4:-}" tmp
  [ -x "$dir/$name" ] && return 0
  tmp="$(mktemp -d "$dir/.build.XXXXXX")"
  timed "$name ($pkg)" go_install_in_cache "$tmp" "$tags" "$pkg"
  mv "$tmp"/* "$dir/$name"
  rmdir "$tmp"
}
