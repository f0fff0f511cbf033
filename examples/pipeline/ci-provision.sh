#!/usr/bin/env bash
# Provision a cluster from a CI pipeline: validate the preseed, plan with a
# dry run, apply with JSON events and a report file, and act on the exit
# status and the report. Needs jq.
#
#   examples/pipeline/ci-provision.sh PRESEED [PRESEED-OPTIONS...]
#
# PRESEED-OPTIONS go to every `microcloud preseed` call (e.g. `--sim-dir
# DIR` for a simulated cluster, `--name`, `--wait-ready 10m`).
# Environment: MICROCLOUD (the binary, default `microcloud`), OUT (where
# to keep plan.json, events.jsonl and report.json, default `.`).
# Exit status: microcloud's own (README, "Using it from CI"), or 1 when
# the report shows a member that is not online.
set -euo pipefail

microcloud=${MICROCLOUD:-microcloud}
out=${OUT:-.}
if [ $# -lt 1 ]; then
    echo "usage: $0 PRESEED [PRESEED-OPTIONS...]" >&2
    exit 2
fi
preseed=$1
shift
command -v jq >/dev/null || { echo "ci-provision: jq is needed (apt-get install jq)" >&2; exit 1; }
mkdir -p "$out"

echo "== validate $preseed"
# Exit 2 (invalid) still prints the JSON; only 1 (could not check) has none.
validation=$("$microcloud" validate --format json "$preseed") || [ $? -eq 2 ]
if [ "$(jq -r .valid <<<"$validation")" != true ]; then
    jq -r '.diagnostics[] | "  \(.severity) at \(.path // "(document)") line \(.line // "?"): \(.message)"' <<<"$validation"
    echo "ci-provision: the preseed is invalid; fix it and push again" >&2
    exit 2
fi
jq -r '"  valid, \([.diagnostics[] | select(.severity == "warning")] | length) warning(s)"' <<<"$validation"

echo "== plan (dry run)"
status=0
"$microcloud" preseed --dry-run --output json "$@" "$preseed" >"$out/plan.json" || status=$?
if [ "$status" -ne 0 ]; then
    # Not a plan: the diagnostics object, or a readiness/trust failure.
    jq -r 'if .diagnostics then .diagnostics[] | "  \(.severity): \(.message)" else (.message // tostring) end' <"$out/plan.json" || true
    echo "ci-provision: planning failed (exit $status); nothing was changed" >&2
    exit "$status"
fi
jq -r '"  \(.mode) with initiator \(.initiator): \(.steps | length) steps, \([.steps[] | select(.status.state == "to_do")] | length) to do"' <"$out/plan.json"

echo "== apply"
status=0
"$microcloud" preseed --output json --report "$out/report.json" "$@" "$preseed" >"$out/events.jsonl" || status=$?
jq -r 'select(.event == "retrying" or .event == "failed" or .event == "stopping" or .event == "not_ready")
       | "  \(.event)" + (if .node then " (\(.node))" else "" end) + ": \(.error // .reason // .message)"' <"$out/events.jsonl"
case $status in
    0) echo "  applied" ;;
    1) echo "ci-provision: the run failed; the report names the step and what to do" >&2 ;;
    2) echo "ci-provision: invalid preseed, planning or pre-flight check failed; nothing was changed" >&2; exit 2 ;;
    3) echo "ci-provision: interrupted; run the job again to finish" >&2 ;;
    4) echo "ci-provision: the trust session failed (passphrase, machine refused or not found in time)" >&2; exit 4 ;;
    5) echo "ci-provision: another machine was lost or stopped the run; run the job again on every machine" >&2 ;;
    6) echo "ci-provision: a service was not ready in time; nothing was changed; retry later" >&2; exit 6 ;;
    *) echo "ci-provision: unexpected exit status $status" >&2; exit "$status" ;;
esac

echo "== report"
report=$out/report.json
jq -r '"  outcome \(.outcome): \(.steps.changed) changed, \(.steps.already_done) already done, \(.steps.failed) failed, \(.steps.not_started) not started"' "$report"
jq -r '.failures[] | "  FAILED \(.step) on \(.node): \(.error)" + (if .hint then "\n    hint: \(.hint)" else "" end)' "$report"
if [ "$(jq -r '.cluster == null' "$report")" = true ]; then
    echo "ci-provision: the cluster could not be read: $(jq -r .cluster_error "$report")" >&2
    exit "$(( status == 0 ? 1 : status ))"
fi
jq -r '.cluster | "  members online: \([.members[] | select(.status == "Online")] | length)/\(.members | length)"' "$report"
jq -r '.cluster.storage_pools[] | "  pool \(.name) (\(.driver)): \(.status), \(.change)"' "$report"
jq -r '.cluster.networks[] | "  network \(.name) (\(.type)): \(.status), \(.change)"' "$report"
offline=$(jq -r '[.cluster.members[] | select(.status != "Online") | .name] | join(", ")' "$report")
if [ "$status" -eq 0 ] && [ -n "$offline" ]; then
    echo "ci-provision: members not online: $offline" >&2
    exit 1
fi
exit "$status"
