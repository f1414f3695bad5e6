#!/usr/bin/env bash
# Replicas' throughput: REPLICAS `medic serve` processes (default 3) on one
# private Redis consumer group and one PostgreSQL database made for the
# run, on the shipped configuration otherwise (observer mode, `strict`
# isolation). KILLS kills (default 20000) are written to the stream at
# once; the figure is how long until every one is answered on
# `medic.responses` (sustained kills/s while the replicas drain the
# backlog), with the replicas' CPU per kill and nothing left pending.
# Run it with REPLICAS=1 in the same sitting for the ratio: these machines
# are noisy, compare only figures of one sitting.
#
# Usage: benches/replicas.sh
#   REPLICAS (3), KILLS (20000), MEDIC (target/release/medic),
#   PG (postgres://postgres@127.0.0.1:5432: a server where the user may
#   create databases)
set -euo pipefail

REPLICAS="${REPLICAS:-3}"
KILLS="${KILLS:-20000}"
PG="${PG:-postgres://postgres@127.0.0.1:5432}"
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
MEDIC="${MEDIC:-$ROOT/target/release/medic}"

need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "replicas: '$1' is not installed. Install it with:" >&2
        echo "    $2" >&2
        exit 2
    fi
}
need redis-server "apt-get install -y redis-server"
need redis-cli "apt-get install -y redis-tools"
need psql "apt-get install -y postgresql-client"
need python3 "apt-get install -y python3 python3-yaml"
python3 -c 'import yaml' 2>/dev/null || { echo "replicas: python3's yaml is missing: apt-get install -y python3-yaml" >&2; exit 2; }
[ -x "$MEDIC" ] || { echo "replicas: no $MEDIC: build it first (cargo build --release --bin medic)" >&2; exit 2; }
psql "$PG/postgres" -qAtc 'SELECT 1' >/dev/null 2>&1 || { echo "replicas: no PostgreSQL answers at $PG (start one: service postgresql start)" >&2; exit 2; }

WORK="$(mktemp -d)"
DB="medic_bench_replicas_$$"
PIDS=()
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cleanup() {
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

redis-server --port "$PORT" --save "" --appendonly no --daemonize yes \
    --logfile "$WORK/redis.log" --dir "$WORK" >/dev/null
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done
psql "$PG/postgres" -qc "CREATE DATABASE $DB" >/dev/null

for i in $(seq 1 "$REPLICAS"); do
    python3 - "$ROOT/config/medic.yaml" "$WORK/medic-$i.yaml" "$PORT" "$PG/$DB" "$i" <<'EOF'
import sys, yaml
base, out, port, db, n = sys.argv[1:]
m = yaml.safe_load(open(base))
bus = m["smith"]["event_bus"]
bus.update(type="redis", url=f"redis://127.0.0.1:{port}", consumer_name=f"medic-{n}")
m["learning"]["database"].update(type="postgres", url=db)
m["metrics"]["enabled"] = False
m["logging"]["format"] = "text"
yaml.safe_dump(m, open(out, "w"))
EOF
    "$MEDIC" serve --config "$WORK/medic-$i.yaml" 2>"$WORK/medic-$i.log" >/dev/null &
    PIDS+=($!)
    disown "$!"
done
for i in $(seq 1 "$REPLICAS"); do
    until grep -q "Medic starting" "$WORK/medic-$i.log"; do
        kill -0 "${PIDS[$((i - 1))]}" 2>/dev/null || { cat "$WORK/medic-$i.log" >&2; exit 1; }
        sleep 0.1
    done
done
sleep 1

cpu_ticks() {
    local total=0
    for pid in "${PIDS[@]}"; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}

# The kills, as Smith writes them (one XADD each, sent in one pipe).
python3 - "$KILLS" >"$WORK/kills.resp" <<'EOF'
import json, sys, datetime
n = int(sys.argv[1])
now = datetime.datetime.now(datetime.timezone.utc).isoformat()
out = sys.stdout
def resp(*args):
    parts = [f"*{len(args)}\r\n"]
    for a in args:
        b = a.encode()
        parts.append(f"${len(b)}\r\n{a}\r\n")
    return "".join(parts)
for i in range(n):
    kill = {"kill_id": f"bench-{i}", "timestamp": now, "target_module": f"svc-{i % 300}",
            "target_instance_id": f"svc-{i % 300}-1", "kill_reason": "anomaly_behavior",
            "severity": "low", "confidence_score": 0.5, "evidence": ["log-1"],
            "dependencies": [], "source_agent": "smith-01", "metadata": {}}
    env = {"version": "1.0", "message_type": "KILL_REPORT", "payload": kill,
           "correlation_id": f"c-{i}"}
    out.write(resp("XADD", "smith.events.kill_notifications", "*", "data", json.dumps(env)))
EOF

TICKS=$(getconf CLK_TCK)
CPU0=$(cpu_ticks)
T0=$(date +%s.%N)
redis-cli -p "$PORT" --pipe <"$WORK/kills.resp" >/dev/null
while [ "$(redis-cli -p "$PORT" xlen medic.responses)" -lt "$KILLS" ]; do
    sleep 0.05
    for pid in "${PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || { echo "replicas: a replica died" >&2; tail -20 "$WORK"/medic-*.log >&2; exit 1; }
    done
done
T1=$(date +%s.%N)
CPU1=$(cpu_ticks)
# Answered before acknowledged: the last acknowledgements follow.
for _ in $(seq 1 300); do
    PENDING=$(redis-cli -p "$PORT" xpending smith.events.kill_notifications medic | head -1)
    [ "$PENDING" = "0" ] && break
    sleep 0.1
done
DECIDED=$(psql "$PG/$DB" -qAtc 'SELECT count(*) FROM decisions')
python3 - "$REPLICAS" "$KILLS" "$T0" "$T1" "$CPU0" "$CPU1" "$TICKS" "$PENDING" "$DECIDED" <<'EOF'
import json, sys
r, k, t0, t1, c0, c1, hz, pending, decided = sys.argv[1:]
k, secs = int(k), float(t1) - float(t0)
cpu = (int(c1) - int(c0)) / int(hz)
print("SUMMARY " + json.dumps({
    "replicas": int(r), "kills": k, "seconds": round(secs, 2),
    "kills_per_second": round(k / secs), "cpu_us_per_kill": round(cpu / k * 1e6),
    "pending_after": int(pending), "decisions_stored": int(decided)}))
EOF
