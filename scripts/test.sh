#!/usr/bin/env bash
# The README's test command: every test of the workspace. On a fresh
# Debian 12 machine it first installs, with apt-get (as root), the one tool
# the tests use that the machine lacks: jq, which the pipeline example
# (examples/pipeline/ci-provision.sh) and its test need. Extra arguments go
# to `cargo test` (e.g. `-p microcloud`).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v jq >/dev/null 2>&1; then
    echo "== installing jq (for the pipeline example's test)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq >/dev/null
fi
exec cargo test --workspace --locked "$@"
