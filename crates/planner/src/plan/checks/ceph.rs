//! The Ceph public and cluster networks, checked against every member.

use ipnet::IpNet;

use config_loader::{KeyPath, Preseed};

use crate::inventory::{ClusterState, SystemInventory};
use crate::plan::build::{Member, Notes};

/// The Ceph (public, cluster) networks, checked against every member.
pub(in crate::plan) fn ceph_networks(
    preseed: &Preseed,
    bootstrap: bool,
    init: &SystemInventory,
    members: &[Member<'_>],
    cluster: &ClusterState,
    n: &mut Notes,
) -> Option<(IpNet, IpNet)> {
    let default = init
        .interfaces
        .iter()
        .flat_map(|i| i.addresses.iter())
        .find(|a| a.addr() == init.address)
        .map(IpNet::trunc);
    let (public, internal, source) = if bootstrap {
        let public = preseed.ceph.public_network.or(default);
        let internal = preseed.ceph.internal_network.or(default);
        if let Some(d) = default
            && (preseed.ceph.public_network.is_none() || preseed.ceph.internal_network.is_none())
        {
            n.decide(
                "Ceph networks",
                format!(
                    "{}public {} / cluster {}",
                    "",
                    public.unwrap_or(d),
                    internal.unwrap_or(d)
                ),
                format!("unset networks default to the subnet of {}'s address {} (as a network address; MicroCloud passes the host form)", init.name, init.address),
            );
        }
        (public, internal, "")
    } else {
        let (public, internal) = cluster
            .microceph
            .as_ref()
            .map_or((None, None), |c| (c.public_network, c.cluster_network));
        if preseed.ceph.public_network.is_some() || preseed.ceph.internal_network.is_some() {
            n.warnings.push("ceph.public_network and ceph.internal_network are ignored when adding systems: the cluster's networks are used".into());
        }
        (public, internal, " of the existing cluster")
    };
    for (key, net) in [("public_network", public), ("internal_network", internal)] {
        let Some(net) = net else { continue };
        for m in members {
            if m.name() == init.name && !bootstrap {
                continue;
            }
            let inside = m
                .inv
                .interfaces
                .iter()
                .filter(|i| i.state == crate::inventory::LinkState::Up)
                .any(|i| i.addresses.iter().any(|a| net.contains(&a.addr())));
            if !inside {
                // MicroCeph needs it: a monitor's address is the machine's
                // first local address inside the public network
                // (`FindIpOnSubnet` in its bootstrap and join,
                // microceph/ceph/{bootstrap,join}.go), and Ceph's daemons
                // bind inside both networks.
                let hint = if key == "public_network" {
                    format!(
                        "MicroCeph gives each machine's monitor and daemons an address of its own inside {net}: configure an address in {net} on `{}` (up, on any interface), or choose a public_network every machine has an address in",
                        m.name()
                    )
                } else {
                    format!(
                        "Ceph's OSDs replicate over {net}: configure an address in {net} on `{}` (up, on any interface), or choose an internal_network every machine has an address in",
                        m.name()
                    )
                };
                n.error(
                    Some(m.name()),
                    KeyPath::root().key("ceph").key(key),
                    format!(
                        "`{}` has no address in the Ceph {} network {net}{source}",
                        m.name(),
                        if key == "public_network" {
                            "public"
                        } else {
                            "internal"
                        }
                    ),
                    &hint,
                );
            }
        }
    }
    public.zip(internal)
}
