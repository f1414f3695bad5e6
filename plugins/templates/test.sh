#!/bin/sh
# Builds {{name}}, checks it against the contract and Medic's golden kills,
# and runs it on fixtures/ — failing if any answer misses its expectation.
# MEDIC names the medic binary (default: medic on PATH).
set -eu
cd "$(dirname "$0")"
MEDIC="${MEDIC:-medic}"
sh build.sh
"$MEDIC" plugin check {{name}}.wasm --kind {{kind}} --config plugin-test.yaml
"$MEDIC" plugin run {{name}}.wasm {{fixtures}} --config plugin-test.yaml
echo "{{name}}: all checks passed"
