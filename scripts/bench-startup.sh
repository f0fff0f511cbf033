#!/usr/bin/env bash
# Size of the shipped binary and the start-up time of
# `microcloud validate examples/unicast-3-nodes-ovn-ceph.yaml`: the median
# of RUNS runs with the page cache dropped before each (cold; needs root,
# skipped otherwise) and of RUNS runs after a warm-up (warm).
# Figures: BENCHMARKS.md, "Release binary: size and start-up".
#
#   bash scripts/bench-startup.sh [BINARY]     # default: the `dist` build
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-20}
FILE=examples/unicast-3-nodes-ovn-ceph.yaml
bin=${1:-${CARGO_TARGET_DIR:-target}/dist/microcloud}
if [[ $# -eq 0 ]]; then
    cargo build --profile dist --locked -q -p microcloud
fi
unset MICROCLOUD_SESSION_PASSPHRASE

# One run's wall time in microseconds (bash's EPOCHREALTIME: no extra
# process around the measured one). Without arguments, the measured command.
once() {
    local t0 t1
    (($# > 0)) || set -- "$bin" validate "$FILE"
    t0=${EPOCHREALTIME/./}
    "$@" >/dev/null
    t1=${EPOCHREALTIME/./}
    echo $((t1 - t0))
}

median() {
    sort -n | awk '{v[NR] = $1} END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.2f ms (min %.2f, max %.2f, %d runs)\n", m / 1000, v[1] / 1000, v[NR] / 1000, NR
    }'
}

echo "binary: $bin, $(stat -c %s "$bin") bytes"
file -b "$bin" 2>/dev/null | sed 's/, BuildID[^,]*//' || true
"$bin" validate "$FILE"

if [[ -w /proc/sys/vm/drop_caches ]]; then
    for _ in $(seq "$RUNS"); do
        sync
        echo 3 >/proc/sys/vm/drop_caches
        once
    done | median | sed 's/^/cold (page cache dropped): /'
    # The floor on this machine: the smallest dynamically linked program.
    for _ in $(seq "$RUNS"); do
        sync
        echo 3 >/proc/sys/vm/drop_caches
        once /bin/true
    done | median | sed 's/^/cold, \/bin\/true for comparison: /'
else
    echo "cold: skipped (dropping the page cache needs root)"
fi

once >/dev/null
for _ in $(seq "$RUNS"); do once; done | median | sed 's/^/warm: /'
for _ in $(seq "$RUNS"); do once /bin/true; done | median | sed 's/^/warm, \/bin\/true for comparison: /'
