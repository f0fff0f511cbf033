#!/usr/bin/env bash
# The real-LXD benchmark (BENCHMARKS.md, "Real LXD"): `microcloud preseed`
# forming the real-services tier's 3-member cluster against a plain script
# making the same LXD calls (tests/real/plain-lxd.sh). Needs root; installs
# the tier's packages (and curl, jq) like tests/real/run.sh. Not part of CI.
#
#   bash tests/real/bench.sh [RUNS]     (default 3; about 2 minutes per run)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR=never
export MICROCLOUD_BENCH_RUNS=${1:-3}

bash tests/real/setup.sh
for tool in curl jq; do
    command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$tool"
done

MICROCLOUD_REAL_DIR=$(mktemp -d /tmp/microcloud-real.XXXXXX)
export MICROCLOUD_REAL_DIR
trap 'bash tests/real/cleanup.sh "$MICROCLOUD_REAL_DIR"; rmdir "$MICROCLOUD_REAL_DIR" 2>/dev/null || true' EXIT

# Release binaries (found beside the release test binary): the figures
# are for the tool as shipped.
cargo build --locked --release -p microcloud -p simulators --bins
cargo test --locked --release -p microcloud-tests --test real_bench -- --ignored --nocapture
