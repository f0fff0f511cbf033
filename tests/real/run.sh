#!/usr/bin/env bash
# The real-services tier, the second stage of `.ci/run`: installs the
# Debian packages, builds the binaries and runs `tests/real_services.rs`
# (ignored in the ordinary test run) against real LXD, OVN and Ceph in
# network namespaces. Needs root; fails (never skips) when the machine
# cannot do it. Whatever a killed test left behind is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR=never

start=$(date +%s)
bash tests/real/setup.sh

MICROCLOUD_REAL_DIR=$(mktemp -d /tmp/microcloud-real.XXXXXX)
export MICROCLOUD_REAL_DIR
trap 'bash tests/real/cleanup.sh "$MICROCLOUD_REAL_DIR"; rmdir "$MICROCLOUD_REAL_DIR" 2>/dev/null || true' EXIT

cargo build --locked -p microcloud -p simulators --bins
tests_start=$(date +%s)
cargo test --locked -p microcloud-tests --test real_services -- --ignored --test-threads=1 --nocapture
end=$(date +%s)
echo "real-services tier: $(( end - start )) s in all, $(( end - tests_start )) s of tests"
