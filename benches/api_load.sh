#!/usr/bin/env bash
# API load benchmark: a release `medic serve` on a free loopback port, seeded
# with real decisions through POST /api/v1/kills, then a mix of read routes at
# a fixed arrival rate (default 1,000 requests/s for 30 s) from `oha`, a load
# tool that holds a rate (-q) and corrects for coordinated omission.
# Prints p50 / p99 / max latency and the rate achieved; fails if any answer
# is not 2xx, if any request errors, or if the rate falls short by over 10%.
#
# Usage: benches/api_load.sh            (RATE, DURATION, KILLS, CONNECTIONS
#                                        may be set in the environment;
#                                        TLS=1 serves and loads over HTTPS with
#                                        a self-signed certificate made here)
set -euo pipefail

RATE="${RATE:-1000}"
DURATION="${DURATION:-30s}"
KILLS="${KILLS:-300}"
CONNECTIONS="${CONNECTIONS:-50}"
TLS="${TLS:-0}"

cd "$(dirname "$0")/.."

need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "api_load: '$1' is not installed. Install it with:" >&2
        echo "    $2" >&2
        exit 2
    fi
}
need oha "apt-get install -y libssl-dev pkg-config && cargo install oha --locked --no-default-features --features native-tls   # from crates.io; a few minutes on 2 cores"
need curl "apt-get install -y curl"
need jq "apt-get install -y jq"
if [[ "$TLS" == 1 ]]; then need openssl "apt-get install -y openssl"; fi

# Builds the release medic, `work` and the cleanup of `pid` and `work`.
source benches/serve_common.sh

# A loopback port nothing answers on.
port="$(free_port api_load)"

# The embedded defaults (observer mode, HTTP ingest), with the store in the
# temp dir and the per-key limiter raised above the offered load (it still
# runs on every request, so its cost is measured).
sed -e "s|port: 8000|port: $port|" \
    -e "s|path: \"data/medic.db\"|path: \"$work/store\"|" \
    -e "s|rate_limit_per_second: 100 |rate_limit_per_second: 100000 |" \
    -e "s|rate_limit_burst: 200|rate_limit_burst: 100000|" \
    config/medic.yaml >"$work/medic.yaml"
grep -q "port: $port" "$work/medic.yaml" && grep -q "rate_limit_per_second: 100000" "$work/medic.yaml" \
    || { echo "api_load: config/medic.yaml changed shape; update the sed lines" >&2; exit 1; }

scheme=http
curl_tls=()
oha_tls=()
if [[ "$TLS" == 1 ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
    sed -i -e "s|enabled: false      # true: the API serves HTTPS|enabled: true       # true: the API serves HTTPS|" \
        -e "s|cert_file: \"\"       # PEM|cert_file: \"$work/cert.pem\"  # PEM|" \
        -e "s|key_file: \"\"        # PEM|key_file: \"$work/key.pem\"  # PEM|" "$work/medic.yaml"
    grep -q "cert_file: \"$work/cert.pem\"" "$work/medic.yaml" \
        || { echo "api_load: config/medic.yaml's tls block changed shape; update the sed lines" >&2; exit 1; }
    scheme=https
    curl_tls=(--cacert "$work/cert.pem")
    # oha checks nothing here: the certificate was made a moment ago, for this run.
    oha_tls=(--insecure)
fi

key="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
base="$scheme://127.0.0.1:$port"
MEDIC_API_KEY="$key" "$medic" serve --config "$work/medic.yaml" >"$work/medic.log" 2>&1 &
pid=$!

for _ in $(seq 1 300); do
    if curl "${curl_tls[@]}" -fsS -o /dev/null "$base/health" 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || { echo "api_load: medic exited:" >&2; cat "$work/medic.log" >&2; exit 1; }
    sleep 0.1
done
curl "${curl_tls[@]}" -fsS -o /dev/null "$base/health" || { echo "api_load: medic did not answer /health" >&2; exit 1; }

echo "== seeding $KILLS kills through POST /api/v1/kills"
modules=(report-renderer billing-api search-indexer mail-relay auth-gateway)
severities=(low medium high)
: >"$work/decision_ids"
batch=50
for ((start = 0; start < KILLS; start += batch)); do
    end=$((start + batch < KILLS ? start + batch : KILLS))
    now="$(date -u +%FT%TZ)"
    body="$(
        for ((i = start; i < end; i++)); do
            jq -cn --arg id "bench-kill-$i" --arg ts "$now" \
                --arg m "${modules[i % ${#modules[@]}]}" --arg s "${severities[i % ${#severities[@]}]}" \
                --argjson c "0.$((50 + i % 45))" \
                '{kill_id: $id, timestamp: $ts, target_module: $m, target_instance_id: ($m + "-1"),
                  kill_reason: "anomaly_behavior", severity: $s, confidence_score: $c,
                  source_agent: "smith-bench"}'
        done | jq -cs .
    )"
    curl "${curl_tls[@]}" -fsS -H "X-API-Key: $key" -H 'content-type: application/json' -d "$body" \
        "$base/api/v1/kills" | jq -r '.data[] | select(.status == "decided") | .decision.decision_id' \
        >>"$work/decision_ids"
done
decided="$(wc -l <"$work/decision_ids")"
[[ "$decided" -eq "$KILLS" ]] || { echo "api_load: $decided of $KILLS kills were decided" >&2; exit 1; }

# Six read routes in equal shares; oha picks a line at random per request.
# (/api/v1/queue answers 409 in observer mode, the default: it is left out.)
{
    head -n 50 "$work/decision_ids" | sed "s|^|$base/api/v1/decisions/|"
    for _ in $(seq 1 50); do
        echo "$base/api/v1/decisions?limit=20"
        echo "$base/api/v1/status"
        echo "$base/api/v1/outcomes/stats"
        echo "$base/api/v1/mode"
        echo "$base/health"
    done
} >"$work/urls.txt"
for u in $(sort -u "$work/urls.txt" | grep -v '/decisions/' ; head -n 1 "$work/decision_ids" | sed "s|^|$base/api/v1/decisions/|"); do
    code="$(curl "${curl_tls[@]}" -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $key" "$u")"
    [[ "$code" == 2* ]] || { echo "api_load: $u answered $code before the load" >&2; exit 1; }
done

echo "== load: $RATE req/s for $DURATION over $CONNECTIONS connections, $scheme ($(oha --version))"
oha "${oha_tls[@]}" --no-tui --urls-from-file "$work/urls.txt" -q "$RATE" -z "$DURATION" -w \
    --latency-correction -c "$CONNECTIONS" -H "X-API-Key: $key" \
    --output-format json -o "$work/oha.json"

r="$work/oha.json"
total="$(jq '[.statusCodeDistribution[]] | add // 0' "$r")"
non2xx="$(jq '[.statusCodeDistribution | to_entries[] | select(.key | startswith("2") | not) | .value] | add // 0' "$r")"
errors="$(jq '[.errorDistribution[]] | add // 0' "$r")"
rate="$(jq '.summary.requestsPerSec' "$r")"
printf 'requests: %s (non-2xx: %s, errors: %s) over %.1f s\n' "$total" "$non2xx" "$errors" "$(jq '.summary.total' "$r")"
printf 'achieved rate: %.1f req/s (offered %s)\n' "$rate" "$RATE"
jq -r '.metrics.latency_ms | "latency ms: p50 \(.p50)  p95 \(.p95)  p99 \(.p99)  max \(.max)"' "$r"
jq -r '.statusCodeDistribution | to_entries | map("\(.key): \(.value)") | "status codes: " + join(", ")' "$r"

status=0
if [[ "$non2xx" -ne 0 || "$errors" -ne 0 ]]; then
    echo "api_load: FAILED: $non2xx non-2xx answers and $errors errors" >&2
    jq '.errorDistribution' "$r" >&2
    status=1
fi
if ! jq -e --argjson want "$RATE" '.summary.requestsPerSec >= 0.9 * $want' "$r" >/dev/null; then
    echo "api_load: FAILED: achieved $rate req/s, under 90% of the offered $RATE" >&2
    status=1
fi
exit "$status"
