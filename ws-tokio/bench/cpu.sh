#!/usr/bin/env bash
# Where one cell's time goes: runs one implementation in one cell, pinned as the matrix
# pins it, and prints its messages per second with the CPU time the side under test
# spent in user space and in the kernel over SECS seconds in the middle of the run
# (from /proc/PID/stat, in clock ticks). BENCHMARKS.md uses it to bound what less work
# in user space could still win in a cell.
#
#   ./cpu.sh server IMPL SIZE CONNS WINDOW [SECS]   # IMPL under the load generator
#   ./cpu.sh client IMPL SIZE CONNS WINDOW [SECS]   # IMPL's client against the neutral server
#
# Build first (cargo build --release). Needs taskset (util-linux).
set -euo pipefail
cd "$(dirname "$0")"
if [ $# -lt 5 ]; then
    sed -n '2,10p' "$0"
    exit 2
fi
side=$1 impl=$2 size=$3 conns=$4 window=$5 secs=${6:-2}
B=target/release
scratch="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$scratch"
}
trap cleanup EXIT
# The neutral tools keep the memory they free: the same settings as the matrix's
# `neutral_tool` (keep the two alike; glibc ignores an mmap threshold above 32 MiB).
neutral_env=(env MALLOC_TRIM_THRESHOLD_=2147483647 MALLOC_MMAP_THRESHOLD_=33554432)

# The address a process started with its output in $scratch/$1 says it listens on.
address_of() {
    for _ in $(seq 100); do
        if grep -q listening "$scratch/$1"; then
            awk '/listening/ {print $2; exit}' "$scratch/$1"
            return
        fi
        sleep 0.05
    done
    echo "$1 did not start" >&2
    exit 1
}

warmup=0.5
run_secs=$(awk -v s="$secs" 'BEGIN {print s + 1}')
if [ "$side" = server ]; then
    taskset -c 0 "$B/server" "$impl" 127.0.0.1:0 >"$scratch/server" &
    measured=$!
    pids+=("$measured")
    addr=$(address_of server)
    taskset -c 1 "${neutral_env[@]}" "$B/loadgen" echo "$addr" "$size" "$conns" "$window" \
        "$warmup" "$run_secs" >"$scratch/rate" &
    load=$!
elif [ "$side" = client ]; then
    taskset -c 0 "${neutral_env[@]}" "$B/neutral" 127.0.0.1:0 >"$scratch/neutral" &
    pids+=($!)
    addr=$(address_of neutral)
    taskset -c 1 "$B/client" "$impl" "ws://$addr/" "$size" "$conns" "$window" \
        "$warmup" "$run_secs" >"$scratch/rate" &
    load=$!
    measured=$load
else
    echo "server or client, not $side" >&2
    exit 2
fi

# utime and stime are fields 14 and 15 (the name in field 2 has no spaces here).
ticks() { awk '{print $14, $15}' "/proc/$measured/stat"; }
sleep 0.6
read -r u0 s0 <<<"$(ticks)"
sleep "$secs"
read -r u1 s1 <<<"$(ticks)"
wait "$load"
rate=$(tail -1 "$scratch/rate")
hz=$(getconf CLK_TCK)
awk -v impl="$impl" -v side="$side" -v size="$size" -v conns="$conns" -v window="$window" \
    -v rate="$rate" -v secs="$secs" -v hz="$hz" -v u=$((u1 - u0)) -v s=$((s1 - s0)) 'BEGIN {
    user = u / hz; sys = s / hz; msgs = rate * secs
    printf "%s %s %s x%s w%s: %d msg/s; core busy %.0f %%, user %.0f %% of that;", \
        side, impl, size, conns, window, rate, 100 * (user + sys) / secs, \
        (user + sys > 0 ? 100 * user / (user + sys) : 0)
    printf " per message: user %.1f us, kernel %.1f us\n", 1e6 * user / msgs, 1e6 * sys / msgs
}'
