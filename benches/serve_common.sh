# Sourced by the benchmark scripts that run a release `medic serve`
# (api_load.sh, store_memory.sh): builds it, sets `medic` to its path, makes
# a working directory `work`, and on exit stops the server whose PID is in
# `pid` (if any) and removes `work`.

echo "== building release medic"
cargo build --release --bin medic
target_dir="$(cargo metadata --format-version 1 --no-deps | jq -r .target_directory)"
medic="$target_dir/release/medic"

work="$(mktemp -d)"
pid=""
cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
