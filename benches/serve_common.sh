# Sourced by the benchmark scripts that run a release `medic serve`
# (api_load.sh, store_memory.sh): builds it, sets `medic` to its path, makes
# a working directory `work`, and on exit stops the server whose PID is in
# `pid` (if any) and removes `work`; `free_port NAME` prints a loopback port
# nothing answers on (or stops the script NAME saying none was found).

free_port() {
    local p
    for p in $(shuf -i 20000-60000 -n 50); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo "$1: no free port found" >&2
    return 1
}

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
