#!/bin/sh
# Builds example-js-strategy.wasm: a WebAssembly component of medic:plugin, world strategy.
# The JS engine gets no WASI features at all (no clocks, randomness, stdio
# or network): a Medic plugin may use none of them.
set -eu
cd "$(dirname "$0")"
CJS="node_modules/.bin/componentize-js"
if [ ! -x "$CJS" ]; then
  CJS="$(command -v componentize-js || true)"
fi
if [ -z "$CJS" ]; then
  echo "componentize-js is not installed: npm install (or put componentize-js on PATH)" >&2
  exit 1
fi
"$CJS" app.js --wit wit -n strategy -d http fetch-event stdio random clocks -o example-js-strategy.wasm
echo "built example-js-strategy.wasm"
