#!/usr/bin/env bash
# The README's main command: form a simulated 3-machine cluster on this
# machine with the shipped example, then run the same file again to show
# that a formed cluster needs nothing. No real services are needed: the
# simulators (LXD, MicroCeph, MicroOVN) listen on unix sockets in a
# temporary directory and on 127.0.99.1-3.
#
# The simulated machines' state is removed on exit; the run's journal and
# report are kept in a directory of their own (printed at the end), so the
# paths the report names still exist after the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p microcloud -p simulators
# Where cargo put the binaries: CARGO_TARGET_DIR (or a target-dir set in a
# cargo configuration) when set, ./target otherwise.
target_dir=$(cargo metadata --format-version 1 --no-deps --locked \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="${target_dir:-target}/release"
state=$(mktemp -d "${TMPDIR:-/tmp}/microcloud-demo.XXXXXX")
kept=$(mktemp -d "${TMPDIR:-/tmp}/microcloud-demo-run.XXXXXX")
trap 'rm -rf "$state"' EXIT
preseed="'$bin/microcloud' preseed --sim-dir '$state' --journal '$kept/journal.json' --report '$kept/report.json' examples/simulated/three-nodes.yaml"
"$bin/microcloud-sim" --nodes 3 --base-ip 127.0.99.1 --state-dir "$state" --time-scale 0.2 \
    --run -- sh -c "echo '== first run: form the cluster'; $preseed && echo && echo '== second run: the same file again' && $preseed"
echo
echo "The journal and the JSON report of the second run are kept in $kept"
