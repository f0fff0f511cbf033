#!/usr/bin/env bash
# The baseline of the real-LXD benchmark (BENCHMARKS.md, "Real LXD"): a
# plain script making, straight to each machine's LXD unix socket with
# curl, the LXD calls `microcloud preseed` makes to form the real-services
# tier's cluster: bootstrap, join tokens, joins (one at a time, as LXD
# wants), per-member pool and network definitions, the cluster-wide pools
# and networks (the long ones at once, as the tool runs them), the default
# profile, and the per-member volumes and settings. No MicroCeph or
# MicroOVN calls, no trust session, no inventory, no plan, no checks of
# what already exists: only what LXD needs.
#
# Usage: plain-lxd.sh MACHINE... where each MACHINE is
#   name,lxd-socket,address,local-disk,uplink-interface
# the first one bootstrapping. Environment: GATEWAY, RANGE, DNS (the OVN
# uplink), NORTHBOUND (LXD's network.ovn.northbound_connection), VERSION
# (user.microcloud). Needs curl and jq. Exits non-zero on the first LXD
# error, printing it.
set -euo pipefail

: "${GATEWAY:?}" "${RANGE:?}" "${DNS:?}" "${NORTHBOUND:?}" "${VERSION:?}"
[ $# -ge 1 ] || { echo "usage: $0 name,socket,address,disk,uplink..." >&2; exit 2; }

names=() sockets=() addresses=() disks=() uplinks=()
for m in "$@"; do
    IFS=, read -r name socket address disk uplink <<<"$m"
    names+=("$name") sockets+=("$socket") addresses+=("$address")
    disks+=("$disk") uplinks+=("$uplink")
done
init=${sockets[0]}

# lxd SOCKET METHOD PATH [BODY]: one request; the response on stdout, or
# exits with LXD's error. Asynchronous answers are waited for.
lxd() {
    local socket=$1 method=$2 path=$3 body=${4:-} out
    if [ -n "$body" ]; then
        out=$(curl -sS --unix-socket "$socket" -X "$method" -H 'Content-Type: application/json' \
            --data "$body" "http://lxd$path")
    else
        out=$(curl -sS --unix-socket "$socket" -X "$method" "http://lxd$path")
    fi
    if [ "$(jq -r .type <<<"$out")" = error ]; then
        echo "plain-lxd: $method $path on $socket: $(jq -r .error <<<"$out")" >&2
        exit 1
    fi
    if [ "$(jq -r .type <<<"$out")" = async ]; then
        local op
        op=$(jq -r .operation <<<"$out")
        out=$(curl -sS --unix-socket "$socket" "http://lxd$op/wait?timeout=300")
        if [ "$(jq -r .metadata.status <<<"$out")" != Success ]; then
            echo "plain-lxd: $method $path on $socket: $(jq -r '.metadata.err // .error' <<<"$out")" >&2
            exit 1
        fi
    fi
    printf '%s' "$out"
}

# Background jobs: each failure leaves its message; `join_all` fails if any did.
failed=$(mktemp)
trap 'rm -f "$failed"' EXIT
bg() { ( "$@" >/dev/null ) 2>>"$failed" & }
join_all() {
    wait
    if [ -s "$failed" ]; then cat "$failed" >&2; exit 1; fi
}

# 1. Bootstrap the first machine.
lxd "$init" PATCH /1.0 "$(jq -nc --arg a "${addresses[0]}:8443" --arg v "$VERSION" \
    '{config: {"core.https_address": "[::]:8443", "cluster.https_address": $a, "user.microcloud": $v}}')" >/dev/null
lxd "$init" PUT /1.0/cluster "$(jq -nc --arg n "${names[0]}" '{server_name: $n, enabled: true}')" >/dev/null
lxd "$init" PATCH /1.0 "$(jq -nc --arg nb "$NORTHBOUND" '{config: {"network.ovn.northbound_connection": $nb}}')" >/dev/null
certificate=$(lxd "$init" GET /1.0 | jq -r .metadata.environment.certificate)

# 2. Join the others, one at a time, each with its own token.
for i in "${!names[@]}"; do
    [ "$i" -gt 0 ] || continue
    meta=$(curl -sS --unix-socket "$init" -X POST --data "$(jq -nc --arg n "${names[$i]}" '{server_name: $n}')" \
        http://lxd/1.0/cluster/members)
    if [ "$(jq -r .type <<<"$meta")" != async ]; then
        echo "plain-lxd: no join token for ${names[$i]}: $(jq -r .error <<<"$meta")" >&2
        exit 1
    fi
    meta=$(jq -c .metadata.metadata <<<"$meta")
    token=$(jq -cj '{server_name: .serverName, fingerprint, addresses, secret,
        expires_at: (.expiresAt // "0001-01-01T00:00:00Z")}' <<<"$meta" | base64 -w0)
    lxd "${sockets[$i]}" PUT /1.0/cluster "$(jq -nc --arg n "${names[$i]}" --arg c "$certificate" \
        --arg ca "${addresses[0]}:8443" --arg sa "${addresses[$i]}:8443" --arg t "$token" \
        '{server_name: $n, enabled: true, member_config: [], cluster_address: $ca,
          cluster_certificate: $c, server_address: $sa, cluster_password: $t}')" >/dev/null
    lxd "${sockets[$i]}" PATCH /1.0 '{"config": {"core.https_address": "[::]:8443"}}' >/dev/null
done

# 3. Per-member definitions.
for i in "${!names[@]}"; do
    n=${names[$i]}
    lxd "$init" POST "/1.0/storage-pools?target=$n" "$(jq -nc --arg d "${disks[$i]}" \
        '{name: "local", driver: "btrfs", config: {source: $d}}')" >/dev/null
    lxd "$init" POST "/1.0/storage-pools?target=$n" \
        '{"name": "remote", "driver": "ceph", "config": {"source": "lxd_remote"}}' >/dev/null
    lxd "$init" POST "/1.0/networks?target=$n" "$(jq -nc --arg p "${uplinks[$i]}" \
        '{name: "UPLINK", type: "physical", config: {parent: $p}}')" >/dev/null
done

# 4. Cluster-wide pools and networks (the pools take long: at once).
networks() {
    lxd "$init" POST /1.0/networks "$(jq -nc --arg g "$GATEWAY" --arg r "$RANGE" --arg d "$DNS" \
        '{name: "UPLINK", type: "physical", description: "Uplink for OVN networks",
          config: {"ipv4.gateway": $g, "ipv4.ovn.ranges": $r, "dns.nameservers": $d}}')"
    lxd "$init" POST /1.0/networks \
        '{"name": "default", "type": "ovn", "description": "Default OVN network", "config": {"network": "UPLINK"}}'
}
bg networks
bg lxd "$init" POST /1.0/storage-pools \
    '{"name": "local", "driver": "btrfs", "description": "Local storage on btrfs", "config": {}}'
bg lxd "$init" POST /1.0/storage-pools \
    '{"name": "remote", "driver": "ceph", "description": "Distributed storage on Ceph",
      "config": {"ceph.osd.pool_name": "lxd_remote", "ceph.rbd.du": "false",
                 "ceph.rbd.features": "layering,striping,exclusive-lock,object-map,fast-diff,deep-flatten"}}'
join_all

# 5. The default profile.
lxd "$init" PUT /1.0/profiles/default \
    '{"config": {}, "description": "Default LXD profile", "devices": {
      "root": {"path": "/", "pool": "remote", "type": "disk"},
      "eth0": {"name": "eth0", "network": "default", "type": "nic"}}}' >/dev/null

# 6. Per member: images and backups volumes, and the settings using them.
member() {
    local n=$1
    lxd "$init" POST "/1.0/storage-pools/local/volumes/custom?target=$n" '{"name": "images", "type": "custom"}'
    lxd "$init" POST "/1.0/storage-pools/local/volumes/custom?target=$n" '{"name": "backups", "type": "custom"}'
    lxd "$init" PATCH "/1.0?target=$n" \
        '{"config": {"storage.images_volume": "local/images", "storage.backups_volume": "local/backups"}}'
}
for n in "${names[@]}"; do bg member "$n"; done
join_all
echo "plain-lxd: formed ${#names[@]} member(s)"
