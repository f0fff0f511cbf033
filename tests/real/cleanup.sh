#!/usr/bin/env bash
# Removes what real-services labs under DIR left behind (normally nothing:
# a lab cleans up when it is dropped). Reads each lab's manifest
# (DIR/*/manifest, one "kind value" per line, in creation order) and undoes
# it in reverse: LXD daemons by `lxd shutdown` then their PID, other
# daemons by PID, loop devices, /etc/netns entries, namespaces, and finally
# the work directory.
#   usage: bash tests/real/cleanup.sh DIR
set -uo pipefail
dir=${1:?usage: cleanup.sh DIR}

stop_pid() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
}

for manifest in "$dir"/*/manifest; do
    [ -f "$manifest" ] || continue
    echo "cleanup: undoing $manifest" >&2
    # LXD first (it unmounts its pools), then everything in reverse order.
    while read -r kind pid lxd_dir; do
        if [ "$kind" = lxd ] && kill -0 "$pid" 2>/dev/null; then
            LXD_DIR="$lxd_dir" timeout 60 lxd shutdown >/dev/null 2>&1
            stop_pid "$pid"
        fi
    done < "$manifest"
    tac "$manifest" | while read -r kind value _; do
        case "$kind" in
            pid) stop_pid "$value" ;;
            loop) losetup -d "$value" 2>/dev/null ;;
            etc) rm -rf "$value" ;;
            netns) ip netns del "$value" 2>/dev/null ;;
        esac
    done
    rm -rf "$(dirname "$manifest")"
done
exit 0
