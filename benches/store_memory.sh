#!/usr/bin/env bash
# Resident memory of a release `medic serve` on a large store: after start,
# then after each of several daily and weekly reports
# (GET /api/v1/reports/daily, GET /api/v1/reports/weekly), read from
# /proc/PID/status (VmRSS; VmHWM for the peak).
#
# The store is filled first through the store's API by the store_fill bench
# (RECORDS decided kills spread over the last DAYS days, one audit event
# each), unless STORE names a store filled before (it is used as is, and
# medic serve adds nothing to it but its start's audit events).
#
# Usage: benches/store_memory.sh   (RECORDS=1000000 DAYS=7 REPORTS=10, STORE=)
set -euo pipefail

RECORDS="${RECORDS:-1000000}"
DAYS="${DAYS:-7}"
REPORTS="${REPORTS:-10}"
STORE="${STORE:-}"

cd "$(dirname "$0")/.."
for tool in curl jq; do
    command -v "$tool" >/dev/null 2>&1 || { echo "store_memory: install $tool (apt-get install -y $tool)" >&2; exit 2; }
done

# Builds the release medic, `work` and the cleanup of `pid` and `work`.
source benches/serve_common.sh

if [[ -z "$STORE" ]]; then
    STORE="$work/store"
    echo "== filling $STORE with $RECORDS decisions over $DAYS days"
    cargo bench --bench store_fill -- "$STORE" "$RECORDS" "$DAYS"
fi
echo "store: $(du -sh "$STORE" | cut -f1) on disk"

port="$(free_port store_memory)"
sed -e "s|port: 8000|port: $port|" \
    -e "s|path: \"data/medic.db\"|path: \"$STORE\"|" \
    config/medic.yaml >"$work/medic.yaml"
grep -q "port: $port" "$work/medic.yaml" && grep -q "path: \"$STORE\"" "$work/medic.yaml" \
    || { echo "store_memory: config/medic.yaml changed shape; update the sed lines" >&2; exit 1; }

key="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
base="http://127.0.0.1:$port"
started="$(date +%s.%N)"
MEDIC_API_KEY="$key" "$medic" serve --config "$work/medic.yaml" >"$work/medic.log" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
    if curl -fsS -o /dev/null "$base/health" 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || { echo "store_memory: medic exited:" >&2; cat "$work/medic.log" >&2; exit 1; }
    sleep 0.1
done
curl -fsS -o /dev/null "$base/health" || { echo "store_memory: medic did not answer /health" >&2; exit 1; }
printf 'start: %.1f s to answer /health\n' "$(echo "$(date +%s.%N) - $started" | bc)"
sleep 2

rss() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status"; }
hwm() { awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status"; }
echo "after start: RSS $(rss) MB (peak $(hwm) MB)"
today="$(date -u +%F)"
for i in $(seq 1 "$REPORTS"); do
    d="$(curl -fsS -m 300 -H "X-API-Key: $key" "$base/api/v1/reports/daily?date=$today" | jq '.data.decisions')"
    w="$(curl -fsS -m 300 -H "X-API-Key: $key" "$base/api/v1/reports/weekly?date=$today" | jq '.data.decisions')"
    echo "after report pair $i (daily $d decisions, weekly $w): RSS $(rss) MB (peak $(hwm) MB)"
done
