//! How the LXD network is set up (OVN uplinks or the Fan fallback), with
//! its checks.

use ipnet::{IpNet, Ipv4Net};
use std::collections::{BTreeMap, BTreeSet};

use config_loader::{KeyPath, Preseed};

use crate::inventory::{ClusterState, SystemInventory};
use crate::plan::build::{Member, Networking, Notes};

pub(in crate::plan) fn networking(
    preseed: &Preseed,
    bootstrap: bool,
    init: &SystemInventory,
    members: &[Member<'_>],
    cluster: &ClusterState,
    n: &mut Notes,
) -> Networking {
    let cluster_has_uplink = cluster.lxd.network("UPLINK").is_some();
    let use_ovn = preseed.uses_ovn() || (!bootstrap && cluster_has_uplink);
    if !bootstrap && preseed.uses_ovn() && !cluster_has_uplink {
        let path = if preseed.ovn.ipv4.is_some() || preseed.ovn.ipv6_gateway.is_some() {
            KeyPath::root().key("ovn")
        } else {
            members
                .iter()
                .find(|m| m.sys.ovn_uplink_interface.is_some())
                .map_or(KeyPath::root(), |m| m.path().key("ovn_uplink_interface"))
        };
        n.error(
            None,
            path,
            "the existing cluster has no UPLINK network, so OVN settings cannot be applied while adding systems".into(),
            "remove the OVN settings, or set up OVN networking on the cluster first",
        );
    }
    if !use_ovn {
        for m in members {
            if m.sys.ovn_underlay_ip.is_some() {
                n.decide(
                    format!("OVN underlay IP of {}", m.name()),
                    "ignored",
                    "OVN networking is not in use",
                );
            }
        }
        if !bootstrap {
            return Networking::None;
        }
        return fan(init, n);
    }
    let mut uplinks = BTreeMap::new();
    for m in members {
        let capable: Vec<&str> = {
            let mut v: Vec<&str> = m
                .inv
                .interfaces
                .iter()
                .filter(|i| i.uplink_unfit().is_none())
                .map(|i| i.name.as_str())
                .collect();
            v.sort_unstable();
            v
        };
        let capable_text = if capable.is_empty() {
            "none".to_owned()
        } else {
            capable.join(", ")
        };
        match &m.sys.ovn_uplink_interface {
            Some(name) => match m.inv.interface(name.as_str()) {
                None => n.error(
                    Some(m.name()),
                    m.path().key("ovn_uplink_interface"),
                    format!("interface `{name}` does not exist on `{}`", m.name()),
                    &format!("uplink-capable interfaces on {}: {capable_text}", m.name()),
                ),
                Some(iface) => match iface.uplink_unfit() {
                    Some(why) => n.error(
                        Some(m.name()),
                        m.path().key("ovn_uplink_interface"),
                        format!(
                            "interface `{name}` on `{}` cannot be the OVN uplink: {why}",
                            m.name()
                        ),
                        &format!("uplink-capable interfaces on {}: {capable_text}", m.name()),
                    ),
                    None => {
                        uplinks.insert(m.name().to_owned(), name.to_string());
                    }
                },
            },
            None => match capable.first() {
                Some(first) => {
                    let others = if capable.len() > 1 {
                        format!("; also capable: {}", capable[1..].join(", "))
                    } else {
                        String::new()
                    };
                    n.decide(
                        format!("OVN uplink of {}", m.name()),
                        *first,
                        format!("alphabetically first uplink-capable interface (up, unmanaged, physical/bridge/bond/vlan, not a bridge port, no address unless a bridge), as MicroCloud picks it{others}"),
                    );
                    uplinks.insert(m.name().to_owned(), (*first).to_owned());
                }
                None => n.error(
                    Some(m.name()),
                    m.path().key("ovn_uplink_interface"),
                    format!("`{}` has no interface that can be the OVN uplink", m.name()),
                    "connect an interface that is up and has no address, or set ovn_uplink_interface on every system",
                ),
            },
        }
        if let Some(ip) = m.sys.ovn_underlay_ip {
            let on_iface = m
                .inv
                .interfaces
                .iter()
                .any(|i| i.addresses.iter().any(|a| a.addr() == ip));
            if !on_iface {
                let near = m
                    .inv
                    .interfaces
                    .iter()
                    .find(|i| i.addresses.iter().any(|a| a.trunc().contains(&ip)))
                    .map(|i| {
                        format!(
                            " (it lies in the subnet of {}, but is not configured)",
                            i.name
                        )
                    })
                    .unwrap_or_default();
                let list: Vec<String> = m
                    .inv
                    .interfaces
                    .iter()
                    .filter(|i| i.has_address())
                    .map(|i| {
                        let a: Vec<String> = i.addresses.iter().map(ToString::to_string).collect();
                        format!("{} {}", i.name, a.join(" "))
                    })
                    .collect();
                n.error(
                    Some(m.name()),
                    m.path().key("ovn_underlay_ip"),
                    format!(
                        "underlay IP {ip} is on no interface of `{}`{near}",
                        m.name()
                    ),
                    &format!(
                        "use an address configured on {}: {}",
                        m.name(),
                        if list.is_empty() {
                            "it has none".to_owned()
                        } else {
                            list.join("; ")
                        }
                    ),
                );
            }
        }
    }
    let why = if preseed.uses_ovn() {
        "an OVN gateway or uplink interface is set"
    } else {
        "the existing cluster has an UPLINK network"
    };
    n.decide("network", "OVN (UPLINK + default)", why);
    Networking::Ovn { uplinks }
}

/// The Fan fallback: the initiator's default-route interface subnet.
fn fan(init: &SystemInventory, n: &mut Notes) -> Networking {
    let Some(ifname) = &init.default_route_interface else {
        n.warnings.push(format!(
            "no network is created: OVN is not configured and the initiator {} has no IPv4 default route for the Fan network (as in MicroCloud)",
            init.name
        ));
        n.decide(
            "network",
            "none",
            format!(
                "no OVN settings, and {} has no IPv4 default route",
                init.name
            ),
        );
        return Networking::None;
    };
    let subnets: BTreeSet<Ipv4Net> = init
        .interface(ifname)
        .map(|i| {
            i.addresses
                .iter()
                .filter_map(|a| match a {
                    IpNet::V4(v4) => Some(v4.trunc()),
                    IpNet::V6(_) => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut it = subnets.iter();
    match (it.next(), it.next()) {
        (Some(&subnet), None) => {
            let underlay = if matches!(subnet.prefix_len(), 16 | 24) {
                subnet
            } else {
                Ipv4Net::new(subnet.addr(), 16).map_or(subnet, |s| s.trunc())
            };
            n.decide(
                "network",
                format!("Fan bridge lxdfan0 on {underlay}"),
                format!(
                    "no OVN settings; subnet of {}'s default-route interface {ifname}{}",
                    init.name,
                    if underlay == subnet {
                        ""
                    } else {
                        ", widened to /16 as MicroCloud does"
                    }
                ),
            );
            Networking::Fan { subnet: underlay }
        }
        (None, _) => {
            n.error(
                Some(init.name.as_str()),
                KeyPath::root(),
                format!(
                    "cannot determine the Fan underlay subnet: the default-route interface {ifname} of `{}` has no IPv4 subnet",
                    init.name
                ),
                "configure OVN (ovn.ipv4_gateway or ovn.ipv6_gateway), or give the interface an IPv4 address",
            );
            Networking::None
        }
        (Some(_), Some(_)) => {
            let list: Vec<String> = subnets.iter().map(ToString::to_string).collect();
            n.error(
                Some(init.name.as_str()),
                KeyPath::root(),
                format!(
                    "cannot determine the Fan underlay subnet: the default-route interface {ifname} of `{}` has more than one IPv4 subnet ({})",
                    init.name,
                    list.join(", ")
                ),
                "configure OVN instead, or keep one IPv4 subnet on that interface",
            );
            Networking::None
        }
    }
}
