#!/usr/bin/env bash
# Runs every side-by-side benchmark and writes the Markdown tables to results.md
# (about an hour at the defaults on a 2-core machine). Pass options through to `matrix`, e.g.
#   ./run-all.sh --reps 1 --secs 0.5      # a quick look
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --quiet
B=target/release
out=results.md
{
    echo "Run on $(date -u +%Y-%m-%d) ($(nproc) cores, $(uname -r)), \`ws-tokio/bench/run-all.sh $*\`"
    $B/matrix servers "$@"
    $B/matrix clients "$@"
    $B/matrix blocking "$@"
    # Beyond the issue's matrix, which stops at 1 MiB: 4 MiB messages.
    $B/matrix servers "$@" --sizes 4m --conns 1,64 --windows 1
    $B/matrix clients "$@" --sizes 4m --conns 1,64 --windows 1
    # And 1 000 connections, at the small sizes (1 000 x 16 x 64 KiB would be a gigabyte
    # in flight).
    $B/matrix servers "$@" --sizes 16,1k --conns 1000
    $B/matrix clients "$@" --sizes 16,1k --conns 1000
    $B/matrix memory --idle 10000
    # Two descriptors per connection (see ws-blocking's `max_connections`): 9 000 fit
    # the 20 000 this VM allows a process; 10 000 would not.
    $B/matrix memory --idle 9000 --impls ours-blocking
    $B/matrix soak
    $B/allocs idle 2000
    $B/allocs echo
} > "$out"
cat "$out"
