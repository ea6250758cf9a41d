#!/usr/bin/env bash
# Builds the two Go programs the max-otel pipeline runs:
#
#   otelcol-max  the collector distribution described by builder-config.yaml,
#                generated and compiled by the collector builder pinned in
#                tools/go.mod;
#   jaeger       Jaeger v2 (trace storage and query API), pinned in
#                tools/go.mod as a Go tool.
#
# Both land in a cache outside the repository:
#
#   ${MAX_OTEL_TOOLS_DIR:-$HOME/.cache/max-otel/bin}/otelcol-max
#   ${MAX_OTEL_TOOLS_DIR:-$HOME/.cache/max-otel/bin}/jaeger
#
# Usage:
#   bash collector-config/build-tools.sh          # build if anything changed
#   bash collector-config/build-tools.sh --force  # rebuild unconditionally
#
# A stamp file next to the binaries holds a hash of everything that decides
# what is built (the manifest, tools/go.mod, tools/go.sum, this script and
# the Go version). When the stamp matches and both binaries exist, the script
# returns at once. The first build downloads and compiles a few hundred
# modules and takes several minutes on two cores; later builds reuse Go's
# module and build caches (`go env GOMODCACHE GOCACHE`, outside the clone).
#
# Environment:
#   MAX_OTEL_TOOLS_DIR  where the binaries go (default ~/.cache/max-otel/bin)
#   MAX_OTEL_BUILD_JOBS packages compiled at once (default 2; each compile of
#                       the larger collector packages can take ~1 GiB)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools_dir="${MAX_OTEL_TOOLS_DIR:-$HOME/.cache/max-otel/bin}"
build_dir="${tools_dir}/.build"
stamp_file="${tools_dir}/.build-tools.stamp"
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
for f in "$manifest" "$here/tools/go.mod" "$here/tools/go.sum"; do
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

inputs_hash="$(
    {
        cat "$manifest" "$here/tools/go.mod" "$here/tools/go.sum" "${BASH_SOURCE[0]}"
        go version
    } | sha256sum | cut -d' ' -f1
)"

if [[ $force -eq 0 && -x "${tools_dir}/otelcol-max" && -x "${tools_dir}/jaeger" &&
    -f "$stamp_file" && "$(cat "$stamp_file")" == "$inputs_hash" ]]; then
    echo "build-tools: otelcol-max and jaeger are up to date in ${tools_dir}"
    exit 0
fi
rm -f "$stamp_file"

started=$SECONDS
elapsed() { echo "$((SECONDS - started))s"; }

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

echo "$inputs_hash" >"$stamp_file"
echo "build-tools: otelcol-max and jaeger built in ${tools_dir} in $(elapsed)"
