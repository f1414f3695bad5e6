#!/usr/bin/env bash
# Regression guard: builds this checkout's `medic` and a base revision's
# (default: the previous commit), then runs both in one sitting, rounds
# alternating, on the same inputs:
#   - `medic loadtest` on each binary's own embedded defaults (the shipped
#     configuration: what users run), against this machine's Redis;
#   - `medic replay` of a simulated `baseline` recording through three
#     strategies, with the base revision's semi-auto example configuration
#     (read by both binaries, so both judge the same settings), timed by
#     /usr/bin/time (wall seconds and peak RSS).
# Prints one line per run, then a markdown table of each figure's median
# for base and head and their ratio (head / base), to paste into the
# history in docs/benchmarks-history.md. Exits 1 when CPU per kill or the
# replay's time is worse than the tolerance allows (TOLERANCE, default
# 0.10: 10%), so it can gate a change. Machines are noisy: compare only figures of one run of this
# script, never with another day's.
#
# Usage: benches/regression.sh [BASE_REV]
#   ROUNDS (3), KILLS (loadtest kills per phase, 30000), PACE (20000),
#   REPLAY_KILLS (200000), REDIS (redis://127.0.0.1:6379), TOLERANCE (0.10)
set -euo pipefail

BASE_REV="${1:-HEAD~1}"
ROUNDS="${ROUNDS:-3}"
KILLS="${KILLS:-30000}"
PACE="${PACE:-20000}"
REPLAY_KILLS="${REPLAY_KILLS:-200000}"
REDIS="${REDIS:-redis://127.0.0.1:6379}"
TOLERANCE="${TOLERANCE:-0.10}"

cd "$(dirname "$0")/.."
ROOT="$(pwd)"

need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "regression: '$1' is not installed. Install it with:" >&2
        echo "    $2" >&2
        exit 2
    fi
}
need python3 "apt-get install -y python3"
[ -x /usr/bin/time ] || { echo "regression: /usr/bin/time is missing: apt-get install -y time" >&2; exit 2; }
if ! redis-cli -u "$REDIS" ping >/dev/null 2>&1; then
    echo "regression: no Redis answers at $REDIS (start one: redis-server --daemonize yes)" >&2
    exit 2
fi

WORK="$(mktemp -d)"
trap 'git -C "$ROOT" worktree remove --force "$WORK/base" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

# Non-LTO release builds: minutes, not a quarter of an hour, and the same
# for both sides. The base builds in a target directory of its own, kept
# between runs (cargo names the workspace's crates alike wherever the
# checkout is, so two checkouts sharing one would mix them up).
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
HEAD_TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BASE_TARGET="$HEAD_TARGET/regression-base"
BASE_SHA="$(git rev-parse --short "$BASE_REV")"
HEAD_SHA="$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +changes)"
echo "regression: base $BASE_SHA, head $HEAD_SHA; building both (release, no LTO)" >&2
git worktree add --detach "$WORK/base" "$BASE_REV" >/dev/null 2>&1
(cd "$WORK/base" && CARGO_TARGET_DIR="$BASE_TARGET" cargo build --release --bin medic --quiet)
cp "$BASE_TARGET/release/medic" "$WORK/medic-base"
CARGO_TARGET_DIR="$HEAD_TARGET" cargo build --release --bin medic --quiet
cp "$HEAD_TARGET/release/medic" "$WORK/medic-head"

# The base's example configuration, which both binaries read.
CONFIG="$WORK/base/config/examples/semi-auto.yaml"
CONSTITUTION="$WORK/base/config/examples/constitution-semi-auto.yaml"
"$WORK/medic-head" simulate --scenario config/scenarios/baseline.yaml --seed 1 \
    --kills "$REPLAY_KILLS" --out "$WORK/recording.jsonl" >/dev/null

RESULTS="$WORK/results.jsonl"
for round in $(seq 1 "$ROUNDS"); do
    for side in base head; do
        bin="$WORK/medic-$side"
        "$bin" loadtest --redis "$REDIS" --kills "$KILLS" --pace "$PACE" 2>/dev/null >"$WORK/loadtest.json"
        rp="$( { /usr/bin/time -f '%e %M' "$bin" --config "$CONFIG" --constitution "$CONSTITUTION" \
            replay "$WORK/recording.jsonl" --strategy conservative --strategy balanced \
            --strategy aggressive --format json >/dev/null; } 2>&1 | tail -1)"
        python3 - "$side" "$round" "$rp" "$RESULTS" "$WORK/loadtest.json" <<'EOF'
import json, sys
side, rnd, rp, out = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4]
lt = json.load(open(sys.argv[5]))
row = {
    "side": side, "round": rnd,
    "loadtest saturated kills/s": lt["saturated_per_second"],
    "loadtest saturated ratio to Redis-only": lt["saturated_ratio_to_redis_only"],
    "loadtest saturated CPU us/kill": lt["saturated_cpu_us_per_kill"],
    "loadtest paced CPU us/kill": lt["paced_cpu_us_per_kill"],
    "loadtest paced p99 ms": lt["paced_latency_ms_p99"],
    "replay seconds": float(rp[0]),
    "replay peak RSS MB": round(int(rp[1]) / 1024, 1),
}
print("SUMMARY " + json.dumps(row))
open(out, "a").write(json.dumps(row) + "\n")
EOF
    done
done

python3 - "$RESULTS" "$BASE_SHA" "$HEAD_SHA" "$TOLERANCE" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base_sha, head_sha, tol = sys.argv[2], sys.argv[3], float(sys.argv[4])
# Which way is better for each figure, and which gate the change: CPU per
# kill and the replay's time are steady enough; rates, tail latency and RSS
# are shown, not gated (they move with the machine's other guests).
higher_is_better = {"loadtest saturated kills/s", "loadtest saturated ratio to Redis-only"}
gated = {"loadtest saturated CPU us/kill", "loadtest paced CPU us/kill", "replay seconds"}
figures = [k for k in rows[0] if k not in ("side", "round")]
print(f"\n| figure | base {base_sha} | head {head_sha} | head / base |")
print("|---|---:|---:|---:|")
worse = []
for f in figures:
    med = {s: statistics.median(r[f] for r in rows if r["side"] == s) for s in ("base", "head")}
    ratio = med["head"] / med["base"] if med["base"] else float("nan")
    print(f"| {f} | {med['base']:g} | {med['head']:g} | {ratio:.2f} |")
    bad = ratio < 1 - tol if f in higher_is_better else ratio > 1 + tol
    if bad and f in gated:
        worse.append(f"{f}: {ratio:.2f}")
if worse:
    print(f"\nregression: worse than {tol:.0%} on " + "; ".join(worse), file=sys.stderr)
    sys.exit(1)
EOF
