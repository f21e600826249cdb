#!/usr/bin/env bash
# A fuzzing campaign: every target (or the ones named) in turn, for SECONDS_EACH
# seconds each (default 420), on one core, starting from and adding to
# corpus/<target>/. Each run's libFuzzer log goes to campaign/<target>.log;
# plateau.py prints, for each, the coverage at each quarter of the run and when the
# final coverage was first reached. Then `./campaign.sh --minimise` keeps, per target,
# the smallest set of inputs that reaches the same coverage (cargo fuzz cmin), which
# is what the repository tracks.
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
    shift
    for target in ${*:-$all}; do
        before=$(ls "corpus/$target" | wc -l)
        cargo fuzz cmin -O "$target" "corpus/$target" >"campaign/$target.cmin.log" 2>&1
        echo "$target: $before -> $(ls "corpus/$target" | wc -l) inputs"
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
