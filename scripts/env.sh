# shellcheck shell=bash
# Sourced (not executed) by scripts/build and scripts/dev: puts the local toolchain on PATH
# and points worker-build at local binaries instead of letting it download them
# (these machines reach only the package registries).
#   . scripts/env.sh
# Deliberately no `set -euo pipefail` here: it would leak into an interactive shell.

RIDEWIRE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export RIDEWIRE_ROOT

_ridewire_cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in *":$_ridewire_cargo_bin:"*) ;; *) PATH="$_ridewire_cargo_bin:$PATH" ;; esac
case ":$PATH:" in *":$RIDEWIRE_ROOT/node_modules/.bin:"*) ;; *) PATH="$RIDEWIRE_ROOT/node_modules/.bin:$PATH" ;; esac
export PATH

# wasm-bindgen CLI: cargo-installed (scripts/setup installs the version Cargo.lock pins).
WASM_BINDGEN_BIN="$(command -v wasm-bindgen 2>/dev/null || echo "$_ridewire_cargo_bin/wasm-bindgen")"
# esbuild and wasm-opt (npm package binaryen): pinned in package.json, installed by npm ci.
ESBUILD_BIN="$RIDEWIRE_ROOT/node_modules/.bin/esbuild"
WASM_OPT_BIN="$RIDEWIRE_ROOT/node_modules/.bin/wasm-opt"
export WASM_BINDGEN_BIN ESBUILD_BIN WASM_OPT_BIN

# Keep wrangler quiet and non-interactive-friendly.
export WRANGLER_SEND_METRICS="${WRANGLER_SEND_METRICS:-false}"

unset _ridewire_cargo_bin
