#!/usr/bin/env bash
# Builds the Go programs the max-otel pipeline and its checks run:
#
#   otelcol-max   the collector distribution described by builder-config.yaml,
#                 generated and compiled by the collector builder pinned in
#                 tools/go.mod;
#   jaeger        Jaeger v2 (trace storage and query API), pinned in
#                 tools/go.mod as a Go tool;
#   composecheck  loads and checks docker/compose.yaml without a Docker engine
#                 (docker/composecheck, its own module and go.sum).
#
# All land in a cache outside the repository:
#
#   ${MAX_OTEL_TOOLS_DIR:-$HOME/.cache/max-otel/bin}/{otelcol-max,jaeger,composecheck}
#
# Usage:
#   bash collector-config/build-tools.sh          # build what changed
#   bash collector-config/build-tools.sh --force  # rebuild everything
#
# Stamp files next to the binaries hold a hash of everything that decides what
# is built: for otelcol-max and jaeger the manifest, tools/go.mod and
# tools/go.sum; for composecheck its go.mod, go.sum and *.go files; for both
# this script and the Go version. A program whose stamp matches, and whose
# binary exists, is not rebuilt; when nothing changed the script returns at
# once. The first build downloads and compiles a few hundred modules and takes
# several minutes on two cores; later builds reuse Go's module and build
# caches (`go env GOMODCACHE GOCACHE`, outside the clone).
#
# Environment:
#   MAX_OTEL_TOOLS_DIR  where the binaries go (default ~/.cache/max-otel/bin)
#   MAX_OTEL_BUILD_JOBS packages compiled at once (default 2; each compile of
#                       the larger collector packages can take ~1 GiB)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
composecheck_src="$(dirname "$here")/docker/composecheck"
tools_dir="${MAX_OTEL_TOOLS_DIR:-$HOME/.cache/max-otel/bin}"
build_dir="${tools_dir}/.build"
collector_stamp="${tools_dir}/.build-tools.stamp"
composecheck_stamp="${tools_dir}/.composecheck.stamp"
manifest="${here}/builder-config.yaml"

fail() {
    echo "build-tools: error: $*" >&2
    exit 1
}

force=0
case "${1:-}" in
"") ;;
--force) force=1 ;;
*) fail "unknown argument '$1' (the only option is --force)" ;;
esac

command -v go >/dev/null || fail "the go command is not on PATH; install Go 1.26 or newer"
for f in "$manifest" "$here/tools/go.mod" "$here/tools/go.sum" \
    "$composecheck_src/go.mod" "$composecheck_src/go.sum" "$composecheck_src/main.go"; do
    [[ -f "$f" ]] || fail "missing $f"
done

# Compile at most two packages at once: the machines this runs on have two
# cores, and more parallel compiles only add memory pressure.
export GOFLAGS="-p=${MAX_OTEL_BUILD_JOBS:-2} -buildvcs=false"

mkdir -p "$tools_dir" "$build_dir"

# One build at a time per tools directory (tests and CI may call this
# concurrently); the second caller waits, then finds the stamp up to date.
exec 9>"${tools_dir}/.build-tools.lock"
flock 9

# hash_of FILE...: one hash of the files, this script and the Go version.
hash_of() {
    { cat "$@" "${BASH_SOURCE[0]}"; go version; } | sha256sum | cut -d' ' -f1
}

# up_to_date STAMP HASH BINARY...: the stamp holds HASH and every binary exists.
up_to_date() {
    local stamp=$1 hash=$2 binary
    shift 2
    for binary in "$@"; do
        [[ -x "${tools_dir}/${binary}" ]] || return 1
    done
    [[ $force -eq 0 && -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]
}

collector_hash="$(hash_of "$manifest" "$here/tools/go.mod" "$here/tools/go.sum")"
composecheck_hash="$(hash_of "$composecheck_src/go.mod" "$composecheck_src/go.sum" "$composecheck_src"/*.go)"
build_collector=1
build_composecheck=1
up_to_date "$collector_stamp" "$collector_hash" otelcol-max jaeger && build_collector=0
up_to_date "$composecheck_stamp" "$composecheck_hash" composecheck && build_composecheck=0

if [[ $build_collector -eq 0 && $build_composecheck -eq 0 ]]; then
    echo "build-tools: otelcol-max, jaeger and composecheck are up to date in ${tools_dir}"
    exit 0
fi

started=$SECONDS
elapsed() { echo "$((SECONDS - started))s"; }

build_otelcol_and_jaeger() {
    rm -f "$collector_stamp"
    echo "build-tools: building the collector builder..."
    go -C "$here/tools" build -trimpath -o "${build_dir}/builder" \
        go.opentelemetry.io/collector/cmd/builder ||
        fail "could not build the collector builder (see the go output above)"

    echo "build-tools: building otelcol-max (first build takes several minutes)..."
    # The builder writes the generated sources to dist.output_path, which the
    # manifest gives relative to the directory it runs in: the build directory.
    # Strict versioning makes it fail if any component pulls in another release.
    (cd "$build_dir" && "${build_dir}/builder" --config="$manifest" --skip-strict-versioning=false) ||
        fail "the collector builder failed for ${manifest} (see its log above)"
    install -m 0755 "${build_dir}/otelcol-max/otelcol-max" "${tools_dir}/otelcol-max.new"
    mv -f "${tools_dir}/otelcol-max.new" "${tools_dir}/otelcol-max"
    echo "build-tools: otelcol-max built ($(elapsed) so far)"

    jaeger_version="$(go -C "$here/tools" list -m -f '{{.Version}}' github.com/jaegertracing/jaeger)" ||
        fail "tools/go.mod does not pin github.com/jaegertracing/jaeger"
    echo "build-tools: building jaeger ${jaeger_version} (first build takes several minutes)..."
    go -C "$here/tools" build -trimpath \
        -ldflags="-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=${jaeger_version}" \
        -o "${tools_dir}/jaeger.new" github.com/jaegertracing/jaeger/cmd/jaeger ||
        fail "could not build jaeger (see the go output above)"
    mv -f "${tools_dir}/jaeger.new" "${tools_dir}/jaeger"

    "${tools_dir}/otelcol-max" --version >/dev/null || fail "the built otelcol-max does not run"
    "${tools_dir}/jaeger" version >/dev/null 2>&1 || fail "the built jaeger does not run"

    echo "$collector_hash" >"$collector_stamp"
    echo "build-tools: otelcol-max and jaeger built in ${tools_dir} ($(elapsed) so far)"
}

build_composecheck() {
    rm -f "$composecheck_stamp"
    echo "build-tools: building composecheck..."
    go -C "$composecheck_src" build -trimpath -o "${tools_dir}/composecheck.new" . ||
        fail "could not build composecheck (see the go output above)"
    mv -f "${tools_dir}/composecheck.new" "${tools_dir}/composecheck"
    echo "$composecheck_hash" >"$composecheck_stamp"
    echo "build-tools: composecheck built in ${tools_dir} ($(elapsed) so far)"
}

if [[ $build_collector -eq 1 ]]; then
    build_otelcol_and_jaeger
fi
if [[ $build_composecheck -eq 1 ]]; then
    build_composecheck
fi
echo "build-tools: done in $(elapsed)"
