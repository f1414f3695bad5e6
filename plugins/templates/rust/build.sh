#!/bin/sh
# Builds {{name}}.wasm: a WebAssembly component of medic:plugin, world {{world}}.
set -eu
cd "$(dirname "$0")"
rustup target list --installed 2>/dev/null | grep -q wasm32-wasip2 || rustup target add wasm32-wasip2
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" {{name}}.wasm
echo "built {{name}}.wasm"
