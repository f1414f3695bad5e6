#!/bin/sh
# Builds example-rust-strategy.wasm: a WebAssembly component of medic:plugin, world strategy.
set -eu
cd "$(dirname "$0")"
rustup target list --installed 2>/dev/null | grep -q wasm32-wasip2 || rustup target add wasm32-wasip2
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/example_rust_strategy.wasm" example-rust-strategy.wasm
echo "built example-rust-strategy.wasm"
