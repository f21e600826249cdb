#!/usr/bin/env bash
# A fuzzing campaign: every target (or the ones named) in turn, for SECONDS_EACH
# seconds each (default 420), on one core, starting from and adding to
# corpus/<target>/. Each run's libFuzzer log goes to campaign/<target>.log;
# plateau.py prints, for each, the coverage at each quarter of the run and when the
# final coverage was first reached. Then `./campaign.sh --minimise` keeps, per target,
# the smallest set of inputs that reaches the same edges (libFuzzer's set-cover merge
# over edges), which is what the repository tracks.
#
#   RUSTC_BOOTSTRAP=1 ./campaign.sh                 # all targets, 7 minutes each
#   SECONDS_EACH=60 ./campaign.sh inflate           # one target, one minute
#   ./campaign.sh --minimise                        # shrink every corpus in place
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
seconds=${SECONDS_EACH:-420}
all=$(cargo fuzz list)

if [[ "${1:-}" == "--minimise" ]]; then
    # The smallest set of inputs that reaches every edge the corpus reaches (a greedy
    # set cover over edges, hit counts ignored): what the repository tracks. Then each
    # corpus is replayed to show the coverage kept.
    shift
    mkdir -p campaign
    cargo fuzz build -O
    bin="target/$(rustc -vV | sed -n 's/^host: //p')/release"
    for target in ${*:-$all}; do
        before=$(ls "corpus/$target" | wc -l)
        cov_before=$("$bin/$target" -runs=0 "corpus/$target" 2>&1 | grep -oE 'INITED cov: [0-9]+' | grep -oE '[0-9]+$')
        kept=$(mktemp -d)
        "$bin/$target" -set_cover_merge=1 -use_counters=0 "$kept" "corpus/$target" \
            >"campaign/$target.cmin.log" 2>&1
        rm -rf "corpus/$target"
        mv "$kept" "corpus/$target"
        cov_after=$("$bin/$target" -runs=0 "corpus/$target" 2>&1 | grep -oE 'INITED cov: [0-9]+' | grep -oE '[0-9]+$')
        echo "$target: $before -> $(ls "corpus/$target" | wc -l) inputs, cov $cov_before -> $cov_after"
    done
    exit 0
fi

mkdir -p campaign
cargo fuzz build -O
for target in ${*:-$all}; do
    mkdir -p "corpus/$target"
    echo "== $target: ${seconds}s from $(date -u +%H:%M:%S)"
    cargo fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        >"campaign/$target.log" 2>&1 || { echo "$target: FAILED, see campaign/$target.log"; }
done
for target in ${*:-$all}; do
    python3 plateau.py "campaign/$target.log"
done
