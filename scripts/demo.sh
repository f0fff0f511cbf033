#!/usr/bin/env bash
# The README's main command: form a simulated 3-machine cluster on this
# machine with the shipped example, then run the same file again to show
# that a formed cluster needs nothing. No real services are needed: the
# simulators (LXD, MicroCeph, MicroOVN) listen on unix sockets in a
# temporary directory and on 127.0.99.1-3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p microcloud -p simulators
state=$(mktemp -d /tmp/microcloud-demo.XXXXXX)
trap 'rm -rf "$state"' EXIT
preseed="./target/release/microcloud preseed --sim-dir $state examples/simulated/three-nodes.yaml"
./target/release/microcloud-sim --nodes 3 --base-ip 127.0.99.1 --state-dir "$state" --time-scale 0.2 \
    --run -- sh -c "echo '== first run: form the cluster'; $preseed && echo && echo '== second run: the same file again' && $preseed"
