#!/usr/bin/env bash
# Installs what the real-services tier needs, on Debian 12 as root:
# Debian's LXD 5.0.2, btrfs-progs, nftables, OVN 23.03 + Open vSwitch, and
# Ceph 16. Starts nothing: a temporary policy-rc.d keeps the packages'
# services stopped (the tier starts its own daemons in namespaces). Fails
# loudly when it cannot install them.
set -euo pipefail

packages=(lxd btrfs-progs nftables ovn-central ovn-host openvswitch-switch openssl
          ceph-mon ceph-mgr ceph-osd ceph-common)

if [ "$(id -u)" != 0 ]; then
    echo "tests/real/setup.sh: the real-services tier needs root (apt-get, namespaces, loop devices)" >&2
    exit 1
fi
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" = 0 ]; then
    echo "real-services packages: all installed"
    exit 0
fi

start=$(date +%s)
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT

echo "real-services packages: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "real-services packages: installed in $(( $(date +%s) - start )) s"
