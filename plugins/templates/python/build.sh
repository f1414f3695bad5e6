#!/bin/sh
# Builds {{name}}.wasm: a WebAssembly component of medic:plugin, world {{world}}.
set -eu
cd "$(dirname "$0")"
if ! command -v componentize-py >/dev/null 2>&1; then
  echo "componentize-py is not on PATH: pip install componentize-py==0.25.1" >&2
  exit 1
fi
componentize-py -d wit -w {{world}} componentize app -o {{name}}.wasm
echo "built {{name}}.wasm"
