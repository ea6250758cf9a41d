#!/usr/bin/env bash
# Build the compiled OTLP walk (max_otel_native, Rust) and install it into .venv; quick
# when nothing changed (a hash of the sources is stamped in .venv, and cargo keeps its
# build in ~/.cache/max-otel/cargo-target, outside the checkout).
# Needs cargo (rustup) and maturin (a dev dependency). Usage: bash processors/native/build.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

stamp=.venv/.max-otel-native-installed
want=$(cat processors/native/Cargo.toml processors/native/Cargo.lock processors/native/pyproject.toml \
  processors/native/max_otel_native.pyi processors/native/src/*.rs | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && .venv/bin/python -c "import max_otel_native" 2>/dev/null; then
  exit 0
fi
if ! command -v cargo >/dev/null; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found: install Rust (https://rustup.rs) to build the compiled OTLP walk" >&2
  exit 1
fi
echo "setup: building the compiled OTLP walk (max_otel_native)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/max-otel/cargo-target}"
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
VIRTUAL_ENV="$PWD/.venv" .venv/bin/maturin build --release --locked --quiet \
  --manifest-path processors/native/Cargo.toml --interpreter .venv/bin/python --out "$wheels"
.venv/bin/pip install -q --force-reinstall --no-deps "$wheels"/max_otel_native-*.whl
echo "$want" > "$stamp"
