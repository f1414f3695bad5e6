#!/bin/sh
# Builds example-python-strategy.wasm: a WebAssembly component of medic:plugin, world strategy.
set -eu
cd "$(dirname "$0")"
if ! command -v componentize-py >/dev/null 2>&1; then
  echo "componentize-py is not on PATH: pip install componentize-py==0.25.1" >&2
  exit 1
fi
componentize-py -d wit -w strategy componentize app -o example-python-strategy.wasm
echo "built example-python-strategy.wasm"
