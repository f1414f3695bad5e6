#!/bin/sh
# Builds example-js-strategy, checks it against the contract and Medic's golden kills,
# and runs it on fixtures/ — failing if any answer misses its expectation.
# MEDIC names the medic binary (default: medic on PATH).
set -eu
cd "$(dirname "$0")"
MEDIC="${MEDIC:-medic}"
sh build.sh
"$MEDIC" plugin check example-js-strategy.wasm --kind strategy --config plugin-test.yaml
"$MEDIC" plugin run example-js-strategy.wasm --kills fixtures/kills.jsonl --config plugin-test.yaml
echo "example-js-strategy: all checks passed"
