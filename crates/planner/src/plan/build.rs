//! The planner proper: checks, choices, then steps.
//!
//! [`plan`] first resolves every fact it needs (systems ↔ inventory,
//! addresses, services, cluster membership, networks, disks, Ceph
//! networks, LXD API extensions), collecting every error. Only when there is
//! none does it build the steps, in phase order, so that the step list is a
//! topological order by construction.
//!
//! Deliberate differences from MicroCloud (each recorded in the plan as a
//! decision or checked as an error): a service that is already clustered is
//! an error instead of a silent skip (unless the cluster is exactly this
//! preseed's, i.e. a re-run); MicroCeph's default networks are the network
//! address of the initiator's subnet, not its host form; an underlay IP must
//! be configured on the system, not merely inside one of its subnets; OVN
//! needs MicroOVN on every system and Ceph disks need MicroCeph on every
//! system; the disk rules of [`super::disks`]. The replication size follows
//! MicroCloud: `min(#OSDs, 3)`.

use ipnet::{IpNet, Ipv4Net};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use config_loader::model::{Initiator, System};
use config_loader::{KeyPath, Mode, Preseed};

use super::disks::{self, DiskInput, DiskSelection, DiskSource, SelectedDisk, SystemDisks};
use super::{
    Action, Decision, FORMAT_VERSION, MemberConfigKey, Phase, Plan, PlanError, PlanErrors,
    PlanMode, PlannedSystem, Role, Service, Status, Step, StepId, TokenField, WipedDisk,
};
use crate::inventory::{
    ClusterState, Inventory, LxdService, MicroCephClusterState, SystemInventory,
};

/// Ceph pools whose replication MicroCloud adjusts, in its order.
const CEPH_POOLS: [&str; 5] = [
    ".mgr",
    "lxd_cephfs_data",
    "lxd_cephfs_meta",
    "lxd_cephfs",
    "lxd_remote",
];
/// microcluster join token lifetime MicroCloud uses (1 h).
const TOKEN_LIFETIME_SECS: u64 = 3600;
/// OVN northbound database port.
const OVN_NB_PORT: u16 = 6641;

/// A preseed system together with its inventory.
#[derive(Clone, Copy)]
struct Member<'a> {
    index: usize,
    sys: &'a System,
    inv: &'a SystemInventory,
}

impl Member<'_> {
    fn name(&self) -> &str {
        self.sys.name.as_str()
    }
    fn path(&self) -> KeyPath {
        KeyPath::root().key("systems").index(self.index)
    }
}

/// The first item called `name` in `items`, which must be sorted by `key`
/// (as `members`, `joiners` and the disk selection's systems are): the same
/// answer as `items.iter().find(|x| key(x) == name)`, in O(log n) rather
/// than O(n), so that per-system lookups do not make planning quadratic.
fn by_name<'s, T>(items: &'s [T], name: &str, key: impl Fn(&T) -> &str) -> Option<&'s T> {
    let first = items.partition_point(|x| key(x) < name);
    items.get(first).filter(|x| key(x) == name)
}

#[derive(Default)]
struct Notes {
    errors: Vec<PlanError>,
    warnings: Vec<String>,
    decisions: Vec<Decision>,
}

impl Notes {
    fn error(&mut self, system: Option<&str>, path: KeyPath, message: String, help: &str) {
        self.errors.push(PlanError {
            system: system.map(str::to_owned),
            path,
            message,
            help: (!help.is_empty()).then(|| help.to_owned()),
        });
    }
    fn decide(
        &mut self,
        subject: impl Into<String>,
        choice: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.decisions.push(Decision {
            subject: subject.into(),
            choice: choice.into(),
            reason: reason.into(),
        });
    }
}

/// How the LXD network is set up.
enum Networking {
    /// OVN: `UPLINK` (per-member parents) + `default`.
    Ovn { uplinks: BTreeMap<String, String> },
    /// Fan bridge on this underlay subnet.
    Fan { subnet: Ipv4Net },
    /// No network (no OVN, no IPv4 default route on the initiator).
    None,
}

pub(super) fn plan(preseed: &Preseed, inv: &Inventory) -> Result<Plan, PlanErrors> {
    let mut n = Notes::default();
    let mode = preseed.mode();
    let bootstrap = mode == Mode::Bootstrap;

    // 1. Systems and their inventories, by name.
    let mut members: Vec<Member<'_>> = Vec::new();
    for (index, sys) in preseed.systems.iter().enumerate() {
        match inv.system(sys.name.as_str()) {
            Some(si) => members.push(Member {
                index,
                sys,
                inv: si,
            }),
            None => n.error(
                Some(sys.name.as_str()),
                KeyPath::root().key("systems").index(index),
                format!("system `{}` is not in the inventory", sys.name),
                &format!(
                    "collect its inventory into {}.json in the inventory directory",
                    sys.name
                ),
            ),
        }
    }
    // Sorted by name: `by_name` relies on it (and so do the disk selection's
    // systems and `joiners`, which keep this order).
    members.sort_by(|a, b| a.name().cmp(b.name()));

    // 2. The initiator.
    let initiator: Option<&SystemInventory> = match (&preseed.initiator, mode) {
        (_, Mode::Bootstrap) => preseed
            .initiator_system()
            .and_then(|s| inv.system(s.name.as_str())),
        (Initiator::Name { name, .. }, Mode::Add) => {
            let found = inv.system(name.as_str());
            if found.is_none() {
                n.error(
                    Some(name.as_str()),
                    KeyPath::root().key("initiator"),
                    format!("the initiator `{name}` is not in the inventory"),
                    "add mode needs the initiator's inventory: add its file to the inventory directory",
                );
            }
            found
        }
        (Initiator::Address(addr), Mode::Add) => {
            let found = inv.systems().find(|s| s.address == *addr);
            if found.is_none() {
                n.error(
                    None,
                    KeyPath::root().key("initiator_address"),
                    format!("no system in the inventory has the initiator's address {addr}"),
                    "add mode needs the initiator's inventory: add its file to the inventory directory",
                );
            }
            found
        }
    };
    let no_cluster = ClusterState::default();
    let cluster = inv.cluster().unwrap_or(&no_cluster);
    if !bootstrap && inv.cluster().is_none() {
        n.error(
            None,
            KeyPath::root(),
            "adding systems needs the existing cluster's state, but the inventory has no cluster.json".into(),
            "collect the cluster's pools, networks, profiles and MicroCeph state into cluster.json",
        );
    }

    // 3. Addresses.
    check_addresses(preseed, &members, &mut n);

    // 4. Services: installed, versions, membership.
    let Some(init) = initiator else {
        return Err(PlanErrors(n.errors));
    };
    let init_name = init.name.as_str();
    let init_path = match by_name(&members, init_name, Member::name) {
        Some(m) => m.path(),
        None => match &preseed.initiator {
            Initiator::Name { .. } => KeyPath::root().key("initiator"),
            Initiator::Address(_) => KeyPath::root().key("initiator_address"),
        },
    };
    let joiners: Vec<Member<'_>> = members
        .iter()
        .copied()
        .filter(|m| m.name() != init_name)
        .collect();
    let services = choose_services(
        preseed, bootstrap, init, &init_path, &members, cluster, &mut n,
    );
    check_versions(&services, init, &members, &mut n);
    for &svc in &services {
        check_membership(svc, bootstrap, init, &init_path, &joiners, &mut n);
    }
    let use_ceph = services.contains(&Service::MicroCeph);

    // 5. Networking.
    let networking = networking(preseed, bootstrap, init, &members, cluster, &mut n);

    // 6. Disks.
    let driver = preseed.lxd.local_pool_driver;
    let inputs: Vec<DiskInput<'_>> = members
        .iter()
        .map(|m| DiskInput {
            system: m.sys,
            inv: m.inv,
        })
        .collect();
    let osds = cluster.microceph.as_ref().map_or(&[][..], |c| &c.osds[..]);
    let mut selection = disks::select(
        &inputs,
        &preseed.filters,
        driver,
        osds,
        bootstrap,
        &mut n.errors,
        &mut n.warnings,
    );
    if !use_ceph {
        for s in &mut selection.systems {
            s.ceph.clear();
        }
    }
    check_disk_features(
        preseed, bootstrap, init, &members, &selection, cluster, &mut n,
    );
    check_direct_wipes(&members, &selection, &mut n);

    // 7. Ceph networks.
    let ceph_networks = if use_ceph {
        ceph_networks(preseed, bootstrap, init, &members, cluster, &mut n)
    } else {
        None
    };

    if !n.errors.is_empty() {
        return Err(PlanErrors(n.errors));
    }

    let ctx = Ctx {
        preseed,
        bootstrap,
        init,
        members: &members,
        joiners: &joiners,
        services: &services,
        networking: &networking,
        selection: &selection,
        cluster,
        ceph_networks,
        clustered: [Service::Lxd, Service::MicroCeph, Service::MicroOvn]
            .into_iter()
            .map(|svc| {
                let members = service_members(init, svc).iter().map(String::as_str);
                (svc, members.collect())
            })
            .collect(),
    };
    let steps = ctx.steps(&mut n);

    let mut systems: Vec<PlannedSystem> = members
        .iter()
        .map(|m| PlannedSystem {
            name: m.name().to_owned(),
            address: m.inv.address,
            role: if m.name() == init_name {
                Role::Initiator
            } else {
                Role::Joiner
            },
        })
        .collect();
    if !bootstrap {
        systems.push(PlannedSystem {
            name: init_name.to_owned(),
            address: init.address,
            role: Role::Initiator,
        });
        systems.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(Plan {
        format_version: FORMAT_VERSION,
        mode: if bootstrap {
            PlanMode::Bootstrap
        } else {
            PlanMode::Add
        },
        initiator: init_name.to_owned(),
        systems,
        services,
        decisions: n.decisions,
        warnings: n.warnings,
        disks: selection,
        steps,
    })
}

fn check_addresses(preseed: &Preseed, members: &[Member<'_>], n: &mut Notes) {
    for m in members {
        let addr = m.inv.address;
        match (&preseed.initiator, m.sys.address) {
            (_, Some(given)) if given != addr => n.error(
                Some(m.name()),
                m.path().key("address"),
                format!(
                    "address {given} of `{}` differs from the address its inventory reports ({addr})",
                    m.name()
                ),
                "use the machine's cluster address, or re-collect its inventory",
            ),
            (Initiator::Name { lookup_subnet, .. }, None) if !lookup_subnet.contains(&addr) => n
                .error(
                    Some(m.name()),
                    KeyPath::root().key("lookup_subnet"),
                    format!(
                        "the address of `{}` ({addr}) is not in lookup_subnet {lookup_subnet}",
                        m.name()
                    ),
                    "set lookup_subnet to the subnet the machines share",
                ),
            _ => {}
        }
        if !m
            .inv
            .interfaces
            .iter()
            .any(|i| i.addresses.iter().any(|a| a.addr() == addr))
        {
            n.error(
                Some(m.name()),
                m.path(),
                format!(
                    "the address of `{}` ({addr}) is not configured on any of its interfaces",
                    m.name()
                ),
                "configure the address on an interface, or re-collect the inventory",
            );
        }
    }
}

/// The services to set up, with the errors for missing installations.
fn choose_services(
    preseed: &Preseed,
    bootstrap: bool,
    init: &SystemInventory,
    init_path: &KeyPath,
    members: &[Member<'_>],
    cluster: &ClusterState,
    n: &mut Notes,
) -> Vec<Service> {
    // LXD everywhere.
    let mut all: Vec<(&str, KeyPath, &SystemInventory)> = members
        .iter()
        .map(|m| (m.name(), m.path(), m.inv))
        .collect();
    if !bootstrap {
        all.push((init.name.as_str(), init_path.clone(), init));
    }
    for (name, path, si) in &all {
        if si.services.lxd.is_none() {
            n.error(
                Some(name),
                path.clone(),
                format!("LXD is not installed on `{name}`"),
                "install LXD on every system",
            );
        }
    }
    let mut services = vec![Service::Lxd];
    let init_clustered = |svc: Service| match svc {
        Service::Lxd => true,
        Service::MicroCeph => init
            .services
            .microceph
            .as_ref()
            .is_some_and(|s| !s.cluster_members.is_empty()),
        Service::MicroOvn => init
            .services
            .microovn
            .as_ref()
            .is_some_and(|s| !s.cluster_members.is_empty()),
    };
    let installed = |si: &SystemInventory, svc: Service| match svc {
        Service::Lxd => si.services.lxd.is_some(),
        Service::MicroCeph => si.services.microceph.is_some(),
        Service::MicroOvn => si.services.microovn.is_some(),
    };
    for (svc, requested, what) in [
        (
            Service::MicroCeph,
            preseed.uses_ceph(),
            "Ceph disks are requested",
        ),
        (
            Service::MicroOvn,
            preseed.uses_ovn() || (!bootstrap && cluster.lxd.network("UPLINK").is_some()),
            "OVN networking is requested",
        ),
    ] {
        let everywhere = all.iter().all(|(_, _, si)| installed(si, svc));
        let in_use = if bootstrap {
            if requested {
                true
            } else if everywhere {
                n.decide(
                    format!("{svc}"),
                    "set up",
                    format!("{svc} is installed on every system; MicroCloud clusters every installed service"),
                );
                true
            } else {
                false
            }
        } else if init_clustered(svc) {
            true
        } else {
            if requested {
                n.error(
                    Some(init.name.as_str()),
                    init_path.clone(),
                    format!(
                        "{what}, but {svc} is not clustered on the initiator `{}`; adding systems cannot form a new {svc} cluster",
                        init.name
                    ),
                    &format!("form the {svc} cluster first, or drop the {svc} settings from the preseed"),
                );
            }
            false
        };
        if !in_use {
            continue;
        }
        if requested {
            for (name, path, si) in &all {
                if !installed(si, svc) {
                    n.error(
                        Some(name),
                        path.clone(),
                        format!("{what}, but {svc} is not installed on `{name}`"),
                        &format!("install {svc} on every system"),
                    );
                }
            }
        }
        services.push(svc);
    }
    services
}

fn service_version(si: &SystemInventory, svc: Service) -> Option<&str> {
    match svc {
        Service::Lxd => si.services.lxd.as_ref().map(|s| s.version.as_str()),
        Service::MicroCeph => si.services.microceph.as_ref().map(|s| s.version.as_str()),
        Service::MicroOvn => si.services.microovn.as_ref().map(|s| s.version.as_str()),
    }
}

fn service_members(si: &SystemInventory, svc: Service) -> &[String] {
    match svc {
        Service::Lxd => si.services.lxd.as_ref().map(|s| &s.cluster_members[..]),
        Service::MicroCeph => si
            .services
            .microceph
            .as_ref()
            .map(|s| &s.cluster_members[..]),
        Service::MicroOvn => si
            .services
            .microovn
            .as_ref()
            .map(|s| &s.cluster_members[..]),
    }
    .unwrap_or(&[])
}

fn check_versions(
    services: &[Service],
    init: &SystemInventory,
    members: &[Member<'_>],
    n: &mut Notes,
) {
    for &svc in services {
        let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut names: BTreeSet<&str> = members.iter().map(|m| m.name()).collect();
        names.insert(init.name.as_str());
        for name in names {
            let si = if name == init.name {
                Some(init)
            } else {
                by_name(members, name, Member::name).map(|m| m.inv)
            };
            if let Some(v) = si.and_then(|si| service_version(si, svc)) {
                seen.entry(v).or_default().push(name);
            }
        }
        if seen.len() > 1 {
            let list: Vec<String> = seen
                .iter()
                .map(|(v, names)| format!("{v} on {}", names.join(", ")))
                .collect();
            n.error(
                None,
                KeyPath::root().key("systems"),
                format!("{svc} versions differ: {}", list.join("; ")),
                &format!(
                    "install the same {svc} version on every system; cluster members must match"
                ),
            );
        }
    }
}

/// Already-clustered services: fine only when it is this very cluster.
fn check_membership(
    svc: Service,
    bootstrap: bool,
    init: &SystemInventory,
    init_path: &KeyPath,
    joiners: &[Member<'_>],
    n: &mut Notes,
) {
    let init_members: BTreeSet<&str> = service_members(init, svc)
        .iter()
        .map(String::as_str)
        .collect();
    let init_name = init.name.as_str();
    if bootstrap && !init_members.is_empty() {
        let listed: BTreeSet<&str> = joiners
            .iter()
            .map(|m| m.name())
            .chain([init_name])
            .collect();
        let foreign: Vec<&str> = init_members.difference(&listed).copied().collect();
        if !foreign.is_empty() || !init_members.contains(init_name) {
            let all: Vec<&str> = init_members.iter().copied().collect();
            n.error(
                Some(init_name),
                init_path.clone(),
                format!(
                    "{svc} on `{init_name}` is already part of a cluster with members {}, which this preseed does not form",
                    all.join(", ")
                ),
                "to grow that cluster, leave the initiator out of `systems` (add mode); to form a new one, remove the existing cluster first (MicroCloud would skip the service silently)",
            );
            return;
        }
    }
    for j in joiners {
        let mine: BTreeSet<&str> = service_members(j.inv, svc)
            .iter()
            .map(String::as_str)
            .collect();
        if mine.is_empty() {
            continue;
        }
        if !(mine == init_members && mine.contains(j.name())) {
            let all: Vec<&str> = mine.iter().copied().collect();
            n.error(
                Some(j.name()),
                j.path(),
                format!(
                    "{svc} on `{}` is already part of another cluster (members {})",
                    j.name(),
                    all.join(", ")
                ),
                &format!("remove `{}` from that cluster first; a machine can join only one cluster (MicroCloud would skip the service silently)", j.name()),
            );
        }
    }
}

fn networking(
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

/// The first LXD release that decodes `cluster_token` (tag `lxd-5.21.2`,
/// which added the `explicit_trust_token` API extension).
const FIRST_CLUSTER_TOKEN_RELEASE: (u32, u32, u32) = (5, 21, 2);

fn lxd_of(si: &SystemInventory) -> Option<&LxdService> {
    si.services.lxd.as_ref()
}

fn check_disk_features(
    preseed: &Preseed,
    bootstrap: bool,
    init: &SystemInventory,
    members: &[Member<'_>],
    selection: &DiskSelection,
    cluster: &ClusterState,
    n: &mut Notes,
) {
    for s in &selection.systems {
        let Some(m) = by_name(members, &s.system, Member::name) else {
            continue;
        };
        if let Some(local) = &s.local {
            let lacks = lxd_of(m.inv).is_some_and(|l| !l.has_extension("storage_pool_source_wipe"));
            if local.wipe && lacks && local.already.is_none() {
                let path = match &local.source {
                    DiskSource::Direct => m.path().key("storage").key("local").key("wipe"),
                    DiskSource::Filter { filter } => filter_path(filter).key("wipe"),
                };
                n.error(
                    Some(m.name()),
                    path,
                    format!(
                        "wiping the local disk of `{}` needs the LXD API extension storage_pool_source_wipe, which its LXD {} lacks",
                        m.name(),
                        lxd_of(m.inv).map_or("", |l| l.version.as_str())
                    ),
                    "wipe the disk beforehand and drop `wipe`, or upgrade LXD",
                );
            }
            if !bootstrap && cluster.lxd.pool("local").is_none() && local.already.is_none() {
                let path = match &local.source {
                    DiskSource::Direct => m.path().key("storage").key("local"),
                    DiskSource::Filter { filter } => filter_path(filter),
                };
                n.error(
                    Some(m.name()),
                    path,
                    format!(
                        "`{}` gets a local disk, but the existing cluster has no `local` pool",
                        m.name()
                    ),
                    "remove the local disk, or create the `local` pool on the cluster first",
                );
            }
        } else if !bootstrap
            && cluster.lxd.pool("local").is_some()
            && preseed.lxd.local_pool_driver.uses_disk()
        {
            n.warnings.push(format!(
                "{} gets no local disk, but the cluster has a `local` pool: LXD will create it with its default source on that member",
                m.name()
            ));
        }
    }
    let ceph_disks: usize = selection.systems.iter().map(|s| s.ceph.len()).sum();
    if bootstrap
        && preseed.ceph.cephfs
        && ceph_disks > 0
        && lxd_of(init).is_some_and(|l| !l.has_extension("storage_cephfs_create_missing"))
    {
        n.error(
            Some(init.name.as_str()),
            KeyPath::root().key("ceph").key("cephfs"),
            format!(
                "CephFS needs the LXD API extension storage_cephfs_create_missing, which LXD {} on `{}` lacks",
                lxd_of(init).map_or("", |l| l.version.as_str()),
                init.name
            ),
            "remove `cephfs: true`, or upgrade LXD",
        );
    }
    if bootstrap && preseed.uses_ceph() {
        let supplying = selection
            .systems
            .iter()
            .filter(|s| !s.ceph.is_empty())
            .count();
        if supplying < 3 {
            n.warnings.push(format!(
                "disk configuration does not meet recommendations for fault tolerance: at least 3 systems must supply Ceph disks ({supplying} currently supplying)"
            ));
        }
    }
    if !bootstrap
        && let Some(existing) = cluster.lxd.pool("local")
        && existing.driver != preseed.lxd.local_pool_driver.name()
    {
        n.warnings.push(format!(
            "lxd.local_pool_driver is {}, but the existing `local` pool uses {}; new members follow the existing pool",
            preseed.lxd.local_pool_driver, existing.driver
        ));
    }
}

/// A disk named by path with `wipe` must be one its LXD reports (so that
/// the executor can check, just before wiping, that it is still the same
/// disk), and must not be mounted or serve anything else. Filters never
/// offer such disks; a path given directly is checked here.
fn check_direct_wipes(members: &[Member<'_>], selection: &DiskSelection, n: &mut Notes) {
    for s in &selection.systems {
        let Some(m) = by_name(members, &s.system, Member::name) else {
            continue;
        };
        // Key paths are built only for the disks checked: a system may have
        // dozens of disks chosen by filters.
        let local = s.local.iter().map(|d| (d, None));
        let ceph = s.ceph.iter().enumerate().map(|(i, d)| (d, Some(i)));
        for (d, ceph_index) in local.chain(ceph) {
            if !d.wipe || d.source != DiskSource::Direct || d.already.is_some() {
                continue;
            }
            let storage = m.path().key("storage");
            let path = match ceph_index {
                None => storage.key("local"),
                Some(i) => storage.key("ceph").index(i),
            };
            let disk = d
                .disk
                .as_deref()
                .and_then(|id| m.inv.disks.iter().find(|x| x.id == id));
            let Some(disk) = disk else {
                n.error(
                    Some(m.name()),
                    path.key("path"),
                    format!(
                        "refusing to plan a wipe of {} on `{}`: its LXD does not report that disk, so it could not be checked just before it is wiped",
                        d.path,
                        m.name()
                    ),
                    "name the disk by a path its LXD reports (see `lxc info --resources`), or drop `wipe`",
                );
                continue;
            };
            let mut uses = Vec::new();
            if disk.mounted {
                uses.push("it is mounted".to_owned());
            }
            if !disk.used_by.is_empty() {
                uses.push(format!("it is used by {}", disk.used_by));
            }
            if let Some(osd) = disk.ceph_osd {
                uses.push(format!("it is Ceph OSD osd.{osd}"));
            }
            if let Some(pool) = &disk.lxd_pool {
                uses.push(format!("it is the source of LXD storage pool {pool}"));
            }
            if !uses.is_empty() {
                n.error(
                    Some(m.name()),
                    path.key("wipe"),
                    format!(
                        "refusing to plan a wipe of {} ({}) on `{}`: {}",
                        d.path,
                        disk.id,
                        m.name(),
                        uses.join(", ")
                    ),
                    "free the disk first, or choose another one",
                );
            }
        }
    }
}

/// `storage.ceph[1]` → its key path.
fn filter_path(filter: &str) -> KeyPath {
    let (kind, rest) = filter
        .strip_prefix("storage.")
        .and_then(|r| r.split_once('['))
        .unwrap_or(("local", "0]"));
    let index = rest.trim_end_matches(']').parse().unwrap_or(0);
    KeyPath::root().key("storage").key(kind).index(index)
}

/// The Ceph (public, cluster) networks, checked against every member.
fn ceph_networks(
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

/// Everything the step builder needs, all checked.
struct Ctx<'a> {
    preseed: &'a Preseed,
    bootstrap: bool,
    init: &'a SystemInventory,
    members: &'a [Member<'a>],
    joiners: &'a [Member<'a>],
    services: &'a [Service],
    networking: &'a Networking,
    selection: &'a DiskSelection,
    cluster: &'a ClusterState,
    ceph_networks: Option<(IpNet, IpNet)>,
    /// Per service, the members of the initiator's cluster (for
    /// [`Ctx::joined`], asked for every joiner).
    clustered: BTreeMap<Service, BTreeSet<&'a str>>,
}

/// The id of [`Ctx::await_lxd_members`].
const AWAIT_MEMBERS: &str = "lxd.await-members";

fn id(s: impl Into<String>) -> StepId {
    StepId(s.into())
}

/// A per-member step id, `<what>@<member>` with `what` given in parts (e.g.
/// `id_at(&["lxd.join"], "micro02")` is `lxd.join@micro02`). Concatenated
/// into a string of the exact size: a plan has tens of thousands of ids, and
/// `format!` costs several times more.
fn id_at(what: &[&str], member: &str) -> StepId {
    let len = what.iter().map(|w| w.len()).sum::<usize>() + 1 + member.len();
    let mut s = String::with_capacity(len);
    for w in what {
        s.push_str(w);
    }
    s.push('@');
    s.push_str(member);
    StepId(s)
}

fn config<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A list of at most one item, allocated for exactly that: `extend` would
/// reserve room for four, several hundred bytes per wiped disk in a plan
/// with thousands of them.
fn one_or_none<T>(item: Option<T>) -> Vec<T> {
    item.map_or_else(Vec::new, |x| vec![x])
}

fn todo_or(done: Option<String>) -> Status {
    match done {
        Some(why) => Status::AlreadyDone { why },
        None => Status::ToDo,
    }
}

impl Ctx<'_> {
    fn init_name(&self) -> &str {
        self.init.name.as_str()
    }

    fn uses(&self, svc: Service) -> bool {
        self.services.contains(&svc)
    }

    /// Whether `name` already is a member of the initiator's `svc` cluster.
    fn joined(&self, svc: Service, name: &str) -> bool {
        self.clustered
            .get(&svc)
            .is_some_and(|members| members.contains(name))
    }

    fn joined_why(&self, svc: Service, name: &str) -> Option<String> {
        self.joined(svc, name)
            .then(|| format!("{name} is already a member of the {svc} cluster"))
    }

    fn lxd_ext(&self, name: &str) -> bool {
        lxd_of(self.init).is_some_and(|l| l.has_extension(name))
    }

    fn system(&self, name: &str) -> Option<&SystemInventory> {
        if name == self.init_name() {
            return Some(self.init);
        }
        by_name(self.members, name, Member::name).map(|m| m.inv)
    }

    fn disks_of(&self, name: &str) -> Option<&SystemDisks> {
        by_name(&self.selection.systems, name, |s| s.system.as_str())
    }

    /// Done when `member`'s LXD config already has every key.
    fn config_done(&self, member: &str, want: &BTreeMap<String, String>) -> Option<String> {
        let have = self.system(member).and_then(lxd_of).map(|l| &l.config)?;
        want.iter()
            .all(|(k, v)| have.get(k) == Some(v))
            .then(|| format!("{member}'s LXD already has these settings"))
    }

    /// The step that makes `member` part of the LXD cluster.
    /// The step after which `member`'s LXD is a settled cluster member: its
    /// bootstrap, or for a joiner the `core.https_address` change that
    /// follows its join. That change restarts LXD's HTTPS listener, so a
    /// request forwarded to the member meanwhile (`?target=`, a pool
    /// creation's notification) is refused: seen on a real LXD 5.0.2,
    /// where `GET /1.0?target=node4` got `connection refused`.
    fn lxd_ready(&self, member: &str) -> StepId {
        if self.bootstrap && member == self.init_name() {
            id_at(&["lxd.bootstrap"], member)
        } else {
            id_at(&["lxd.config.join"], member)
        }
    }

    /// Whether `member` gets a definition of the `local` pool: it has a
    /// local disk, or the driver needs none.
    fn has_local(&self, member: &str) -> bool {
        !self.preseed.lxd.local_pool_driver.uses_disk()
            || self.disks_of(member).is_some_and(|d| d.local.is_some())
    }

    /// Whether the Ceph pools `remote` and `remote-fs` are created (in
    /// bootstrap mode).
    fn remote_pools(&self) -> (bool, bool) {
        let ceph_disks = self.selection.systems.iter().any(|s| !s.ceph.is_empty());
        let remote = self.uses(Service::MicroCeph) && ceph_disks;
        (remote, remote && self.preseed.ceph.cephfs)
    }

    /// The network defined member by member in bootstrap mode, if any: its
    /// name, type and `member`'s config.
    fn pending_network(
        &self,
        member: &str,
    ) -> Option<(&'static str, &'static str, BTreeMap<String, String>)> {
        match self.networking {
            Networking::Ovn { uplinks } => uplinks
                .get(member)
                .map(|p| ("UPLINK", "physical", config([("parent", p.as_str())]))),
            Networking::Fan { .. } => Some(("lxdfan0", "bridge", BTreeMap::new())),
            Networking::None => None,
        }
    }

    /// Whether the plan defines pools or networks member by member (only
    /// bootstrap mode does, in [`Ctx::bootstrap_resources`]).
    fn defines_pending(&self) -> bool {
        self.bootstrap
            && (self.remote_pools().0
                || self
                    .members
                    .iter()
                    .any(|m| self.has_local(m.name()) || self.pending_network(m.name()).is_some()))
    }

    /// What the per-member definitions of pools and networks wait for:
    /// every join, as in MicroCloud (a member that joins while a pool is
    /// pending gets a definition without its member-specific keys, its
    /// `source`). With more than one member, that is the barrier
    /// [`Ctx::await_lxd_members`]; a lone initiator's, its bootstrap.
    fn definitions_wait_for(&self) -> StepId {
        if self.members.len() > 1 {
            id(AWAIT_MEMBERS)
        } else {
            self.lxd_ready(self.init_name())
        }
    }

    /// The barrier between the joins and the per-member definitions: one
    /// step that checks that LXD lists every member, after each member's
    /// LXD is settled ([`Ctx::lxd_ready`]: the initiator's bootstrap, each
    /// joiner's settings change after its join) and after `joins`, the
    /// microcluster joins the LXD joins did not wait for. Each definition
    /// then depends on this one step rather than on every join, which would
    /// make the plan quadratic in the number of members.
    fn await_lxd_members(&self, joins: Vec<StepId>) -> Step {
        let init = self.init_name();
        let mut deps: Vec<StepId> = self
            .members
            .iter()
            .map(|m| self.lxd_ready(m.name()))
            .chain(joins)
            .collect();
        deps.sort_unstable();
        deps.dedup();
        let all = self
            .members
            .iter()
            .all(|m| self.joined(Service::Lxd, m.name()));
        self.step(
            id(AWAIT_MEMBERS),
            Phase::Join,
            init,
            None,
            Service::Lxd,
            Action::AwaitLxdMembers {
                members: self.members.iter().map(|m| m.name().to_owned()).collect(),
            },
            deps,
            todo_or(all.then(|| format!("LXD already lists all {} members", self.members.len()))),
        )
    }

    /// A step with no serialisation group; the arguments are exactly the
    /// step's fields.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        id: StepId,
        phase: Phase,
        node: &str,
        target: Option<&str>,
        service: Service,
        action: Action,
        depends_on: Vec<StepId>,
        status: Status,
    ) -> Step {
        Step {
            id,
            phase,
            node: node.to_owned(),
            target: target.map(str::to_owned),
            service,
            action,
            depends_on,
            serial_group: None,
            wipes: Vec::new(),
            status,
        }
    }

    /// What `system`'s `disk` is, when the plan wipes it (`None` when it
    /// is not wiped, or not among the disks its LXD reports, which
    /// planning refuses for a wipe).
    fn wiped(&self, system: &str, disk: &SelectedDisk) -> Option<WipedDisk> {
        if !disk.wipe {
            return None;
        }
        let id = disk.disk.as_deref()?;
        let found = self.system(system)?.disks.iter().find(|d| d.id == id)?;
        Some(WipedDisk::of(system, &disk.path, found))
    }

    /// An upper bound of the number of steps [`Ctx::steps`] builds, so that
    /// the list is allocated once: a `Step` is a few hundred bytes, and
    /// doubling a list of tens of thousands of them would leave up to half
    /// of it unused. Only a capacity: an estimate that is too low costs a
    /// reallocation, never a wrong plan.
    fn step_count_bound(&self) -> usize {
        let members = self.members.len();
        let ceph_disks: usize = self.selection.systems.iter().map(|s| s.ceph.len()).sum();
        // Bootstrap: two microclusters, LXD config and bootstrap.
        4
            // Join: a token and a join per microcluster, LXD token, join, config.
            + 7 * self.joiners.len()
            // The barrier before the per-member definitions.
            + 1
            // Ceph: one per disk, replication.
            + ceph_disks + 1
            // Resources: northbound; three pending pools and a pending
            // network per member; three pools and two networks.
            + 1 + 4 * members + 5
            // Profile.
            + 1
            // Members: two volumes and the storage config each.
            + 3 * members
    }

    fn steps(&self, n: &mut Notes) -> Vec<Step> {
        let mut steps = Vec::with_capacity(self.step_count_bound());
        let init = self.init_name().to_owned();
        let sock = |addr: IpAddr, svc: Service| SocketAddr::new(addr, svc.port());

        // --- Bootstrap ------------------------------------------------------
        if self.bootstrap {
            for svc in [Service::MicroCeph, Service::MicroOvn] {
                if !self.uses(svc) {
                    continue;
                }
                let mut cfg = BTreeMap::new();
                if svc == Service::MicroCeph
                    && let Some((public, internal)) = self.ceph_networks
                {
                    cfg.insert("ClusterNet".to_owned(), internal.to_string());
                    cfg.insert("PublicNet".to_owned(), public.to_string());
                }
                if svc == Service::MicroOvn
                    && let Some(ip) = self.underlay(&init)
                {
                    cfg.insert("ovn-encap-ip".to_owned(), ip.to_string());
                }
                steps.push(self.step(
                    id_at(&[svc.id_prefix(), ".bootstrap"], &init),
                    Phase::Bootstrap,
                    &init,
                    None,
                    svc,
                    Action::BootstrapMicrocluster {
                        name: init.clone(),
                        address: sock(self.init.address, svc),
                        config: cfg,
                    },
                    Vec::new(),
                    todo_or(self.joined_why(svc, &init)),
                ));
            }
            let cluster_address = sock(self.init.address, Service::Lxd).to_string();
            let mut cfg = config([
                ("core.https_address", "[::]:8443"),
                ("cluster.https_address", cluster_address.as_str()),
                ("user.microcloud", env!("CARGO_PKG_VERSION")),
            ]);
            if self.lxd_ext("instances_migration_stateful") {
                cfg.insert("instances.migration.stateful".into(), "true".into());
            } else {
                n.decide(
                    "LXD instances.migration.stateful",
                    "not set",
                    format!("LXD on {init} lacks the API extension instances_migration_stateful"),
                );
            }
            let done = self.config_done(&init, &cfg);
            steps.push(self.step(
                id_at(&["lxd.config.bootstrap"], &init),
                Phase::Bootstrap,
                &init,
                None,
                Service::Lxd,
                Action::SetServerConfig { config: cfg },
                Vec::new(),
                todo_or(done),
            ));
            steps.push(self.step(
                id_at(&["lxd.bootstrap"], &init),
                Phase::Bootstrap,
                &init,
                None,
                Service::Lxd,
                Action::BootstrapLxd {
                    server_name: init.clone(),
                },
                vec![id_at(&["lxd.config.bootstrap"], &init)],
                todo_or(self.joined_why(Service::Lxd, &init)),
            ));
        }

        // --- Join -----------------------------------------------------------
        // A joiner's LXD joins after its MicroCeph and MicroOVN (as in
        // MicroCloud) when the cluster already has pools and networks: the
        // join creates them on the member, which needs Ceph's and OVN's
        // configuration there. When forming a new cluster, nothing exists in
        // LXD yet, so the LXD joins run beside the microcluster joins and the
        // barrier before the definitions waits for both.
        let barrier = self.members.len() > 1 && self.defines_pending();
        let mut barrier_deps: Vec<StepId> = Vec::new();
        for j in self.joiners {
            let name = j.name();
            let mut lxd_deps = vec![id_at(&["lxd.token"], name)];
            for svc in [Service::MicroCeph, Service::MicroOvn] {
                if !self.uses(svc) {
                    continue;
                }
                let p = svc.id_prefix();
                let token = id_at(&[p, ".token"], name);
                let deps = if self.bootstrap {
                    vec![id_at(&[p, ".bootstrap"], &init)]
                } else {
                    Vec::new()
                };
                steps.push(self.step(
                    token.clone(),
                    Phase::Join,
                    &init,
                    None,
                    svc,
                    Action::IssueToken {
                        joiner: name.to_owned(),
                        expire_after_secs: Some(TOKEN_LIFETIME_SECS),
                    },
                    deps,
                    todo_or(self.joined(svc, name).then(|| {
                        format!(
                            "{name} is already a member of the {svc} cluster; no token is needed"
                        )
                    })),
                ));
                let mut cfg = BTreeMap::new();
                if svc == Service::MicroOvn
                    && let Some(ip) = j.sys.ovn_underlay_ip
                {
                    cfg.insert("ovn-encap-ip".to_owned(), ip.to_string());
                }
                let join = id_at(&[p, ".join"], name);
                let mut step = self.step(
                    join.clone(),
                    Phase::Join,
                    name,
                    None,
                    svc,
                    Action::JoinMicrocluster {
                        name: name.to_owned(),
                        address: sock(j.inv.address, svc),
                        token_from: token,
                        config: cfg,
                    },
                    vec![id_at(&[p, ".token"], name)],
                    todo_or(self.joined_why(svc, name)),
                );
                step.serial_group = Some([p, ".join"].concat());
                steps.push(step);
                if barrier {
                    barrier_deps.push(join);
                } else {
                    lxd_deps.push(join);
                }
            }
            let token = id_at(&["lxd.token"], name);
            steps.push(self.step(
                token.clone(),
                Phase::Join,
                &init,
                None,
                Service::Lxd,
                Action::IssueToken {
                    joiner: name.to_owned(),
                    expire_after_secs: None,
                },
                if self.bootstrap {
                    vec![id_at(&["lxd.bootstrap"], &init)]
                } else {
                    Vec::new()
                },
                todo_or(self.joined(Service::Lxd, name).then(|| {
                    format!("{name} is already a member of the LXD cluster; no token is needed")
                })),
            ));
            // By capability, not by extension name alone (the same rule as
            // `clients::lxd::TokenField::for_server`): `cluster_token` when
            // `explicit_trust_token` is advertised or the LXD is not known
            // to be older than 5.21.2, the release that added it (6.1+
            // ignores `cluster_password`; Incus decodes `cluster_token`
            // without advertising the extension). `cluster_password` only
            // for a version that parses as earlier.
            let lxd = lxd_of(j.inv);
            let version = lxd.map_or("", |l| l.version.as_str());
            let token_field = if lxd.is_some_and(|l| l.has_extension("explicit_trust_token")) {
                TokenField::ClusterToken
            } else if lxd.and_then(|l| l.version_before(FIRST_CLUSTER_TOKEN_RELEASE)) == Some(true)
            {
                n.decide(
                    format!("LXD join token field of {name}"),
                    "cluster_password",
                    format!("LXD {version} on {name} lacks the API extension explicit_trust_token"),
                );
                TokenField::ClusterPassword
            } else {
                n.decide(
                    format!("LXD join token field of {name}"),
                    "cluster_token",
                    format!(
                        "LXD {version} on {name} does not advertise explicit_trust_token but is not \
                         known to be older than 5.21.2, which added cluster_token (6.1 and later \
                         ignore cluster_password)"
                    ),
                );
                TokenField::ClusterToken
            };
            let member_config = self.member_config(j);
            // A join that brings the `local` pool to the member creates it
            // there, wiping its disk when asked.
            let wipes_local = member_config
                .iter()
                .any(|k| k.entity == "storage-pool" && k.name == "local" && k.key == "source.wipe");
            let mut step = self.step(
                id_at(&["lxd.join"], name),
                Phase::Join,
                name,
                None,
                Service::Lxd,
                Action::JoinLxd {
                    server_name: name.to_owned(),
                    server_address: sock(j.inv.address, Service::Lxd),
                    cluster_address: sock(self.init.address, Service::Lxd),
                    token_from: token,
                    token_field,
                    member_config,
                },
                lxd_deps,
                todo_or(self.joined_why(Service::Lxd, name)),
            );
            step.serial_group = Some("lxd.join".to_owned());
            if wipes_local {
                step.wipes = one_or_none(
                    self.disks_of(name)
                        .and_then(|d| d.local.as_ref())
                        .and_then(|d| self.wiped(name, d)),
                );
            }
            steps.push(step);
            let cfg = config([("core.https_address", "[::]:8443")]);
            let done = self.config_done(name, &cfg);
            steps.push(self.step(
                id_at(&["lxd.config.join"], name),
                Phase::Join,
                name,
                None,
                Service::Lxd,
                Action::SetServerConfig { config: cfg },
                vec![id_at(&["lxd.join"], name)],
                todo_or(done),
            ));
        }

        // What the per-member definitions wait for, last of the join phase
        // (see `definitions_wait_for`).
        if barrier {
            steps.push(self.await_lxd_members(barrier_deps));
        }

        // --- Ceph -----------------------------------------------------------
        if self.uses(Service::MicroCeph) {
            let mut osd_steps = Vec::new();
            // Distinct (system, path) pairs planned as OSDs. System names are
            // unique (a `Preseed` invariant), so distinct paths per system.
            let mut planned = 0;
            for s in &self.selection.systems {
                if s.ceph.is_empty() {
                    continue;
                }
                let mut paths: Vec<&str> = s.ceph.iter().map(|d| d.path.as_str()).collect();
                paths.sort_unstable();
                paths.dedup();
                planned += paths.len();
                let dep = if self.bootstrap && s.system == init {
                    id_at(&["microceph.bootstrap"], &init)
                } else {
                    id_at(&["microceph.join"], &s.system)
                };
                // MicroCeph adds one disk at a time per member (a mutex):
                // queued steps would hold scheduler slots and run down
                // their deadlines while waiting.
                let group = id_at(&["microceph.disks"], &s.system).0;
                for d in &s.ceph {
                    let sid = id_at(&["microceph.disk[", &d.path, "]"], &s.system);
                    let mut step = self.step(
                        sid.clone(),
                        Phase::Ceph,
                        &s.system,
                        None,
                        Service::MicroCeph,
                        Action::AddCephDisk {
                            path: d.path.clone(),
                            wipe: d.wipe,
                            encrypt: d.encrypt,
                        },
                        vec![dep.clone()],
                        todo_or(
                            d.already
                                .as_ref()
                                .map(|o| format!("{} already is {o} on {}", d.path, s.system)),
                        ),
                    );
                    step.wipes = one_or_none(self.wiped(&s.system, d));
                    step.serial_group = Some(group.clone());
                    steps.push(step);
                    osd_steps.push(sid);
                }
            }
            let no_state = MicroCephClusterState::default();
            let state = self.cluster.microceph.as_ref().unwrap_or(&no_state);
            // Existing OSDs that are not planned on their system, by path or
            // as what a planned disk already is (`osd.N`).
            let existing_other = state
                .osds
                .iter()
                .filter(|o| {
                    let osd = format!("osd.{}", o.osd);
                    !by_name(&self.selection.systems, &o.location, |s| s.system.as_str())
                        .is_some_and(|s| {
                            s.ceph.iter().any(|d| {
                                d.path == o.path || d.already.as_deref() == Some(osd.as_str())
                            })
                        })
                })
                .count();
            let total = planned + existing_other;
            if total > 0 {
                let size = u32::try_from(total.min(3)).unwrap_or(3);
                n.decide(
                    "Ceph replication size",
                    size.to_string(),
                    format!("min(number of OSDs, 3) with {total} OSD(s), as MicroCloud (it counts OSDs, not hosts)"),
                );
                // MicroCeph does not report the default; `lxd_remote`, which
                // LXD creates after this step, inherits it and shows it.
                let default_applied = state
                    .pools
                    .iter()
                    .any(|p| p.name == "lxd_remote" && p.size == size);
                let done = (default_applied
                    && state
                        .pools
                        .iter()
                        .filter(|p| CEPH_POOLS.contains(&p.name.as_str()))
                        .all(|p| p.size >= size))
                .then(|| {
                    format!(
                        "the default replication already is {size} and no MicroCloud pool is smaller"
                    )
                });
                let mut deps = Vec::with_capacity(osd_steps.len() + 1);
                if self.bootstrap {
                    deps.push(id_at(&["microceph.bootstrap"], &init));
                }
                deps.append(&mut osd_steps);
                steps.push(self.step(
                    id("microceph.replication"),
                    Phase::Ceph,
                    &init,
                    None,
                    Service::MicroCeph,
                    Action::SetReplication {
                        size,
                        pools: CEPH_POOLS.iter().map(|p| (*p).to_owned()).collect(),
                    },
                    deps,
                    todo_or(done),
                ));
            }
        }

        // --- Resources --------------------------------------------------------
        let mut nb_step = None;
        if matches!(self.networking, Networking::Ovn { .. })
            && !self.lxd_ext("ovn_dynamic_northbound_connection")
        {
            let mut deps = Vec::new();
            if self.bootstrap {
                deps.push(id_at(&["lxd.bootstrap"], &init));
                deps.push(id_at(&["microovn.bootstrap"], &init));
            }
            let mut all_joined = true;
            for j in self.joiners {
                deps.push(id_at(&["microovn.join"], j.name()));
                all_joined &= self.joined(Service::MicroOvn, j.name());
            }
            let current = lxd_of(self.init)
                .and_then(|l| l.config.get("network.ovn.northbound_connection"))
                .filter(|v| !v.is_empty());
            let done = current
                .filter(|_| all_joined)
                .map(|v| format!("network.ovn.northbound_connection is already set ({v}) and no MicroOVN member is added"));
            n.decide(
                "LXD OVN northbound connection",
                "set network.ovn.northbound_connection from MicroOVN's central services",
                format!("LXD on {init} lacks the API extension ovn_dynamic_northbound_connection"),
            );
            let sid = id("lxd.ovn-northbound");
            steps.push(self.step(
                sid.clone(),
                Phase::Resources,
                &init,
                None,
                Service::Lxd,
                Action::ConfigureOvnNorthbound { port: OVN_NB_PORT },
                deps,
                todo_or(done),
            ));
            nb_step = Some(sid);
        }
        let mut root_pool: Option<(String, StepId)> = None;
        let mut eth0: Option<(String, StepId)> = None;
        let mut local_members: Vec<String> = Vec::new();
        if self.bootstrap {
            self.bootstrap_resources(
                &mut steps,
                n,
                nb_step,
                &mut root_pool,
                &mut eth0,
                &mut local_members,
            );
        } else if let Some(pool) = self.cluster.lxd.pool("local") {
            for j in self.joiners {
                let has_disk = self.disks_of(j.name()).is_some_and(|d| d.local.is_some());
                if has_disk || pool.driver == "dir" {
                    local_members.push(j.name().to_owned());
                }
            }
        }

        // --- Profile ----------------------------------------------------------
        if self.bootstrap {
            let mut devices = BTreeMap::new();
            let mut deps = Vec::new();
            if let Some((net, sid)) = &eth0 {
                devices.insert(
                    "eth0".to_owned(),
                    config([("name", "eth0"), ("network", net), ("type", "nic")]),
                );
                deps.push(sid.clone());
            }
            if let Some((pool, sid)) = &root_pool {
                devices.insert(
                    "root".to_owned(),
                    config([("path", "/"), ("pool", pool), ("type", "disk")]),
                );
                deps.push(sid.clone());
            }
            if !devices.is_empty() {
                let existing = self.cluster.lxd.profile("default");
                let done = existing
                    .filter(|p| devices.iter().all(|(k, v)| p.devices.get(k) == Some(v)))
                    .map(|_| "the default profile already has these devices".to_owned());
                if let Some(p) = existing
                    && done.is_none()
                {
                    for k in devices.keys() {
                        if let Some(old) = p.devices.get(k) {
                            n.decide(
                                format!("default profile device {k}"),
                                "replaced",
                                format!(
                                    "the existing {k} device ({}) differs from the planned one",
                                    render_map(old)
                                ),
                            );
                        }
                    }
                }
                steps.push(self.step(
                    id("lxd.profile.default"),
                    Phase::Profile,
                    &init,
                    None,
                    Service::Lxd,
                    Action::EnsureProfile {
                        name: "default".into(),
                        devices,
                    },
                    deps,
                    todo_or(done),
                ));
            }
        }

        // --- Members ----------------------------------------------------------
        // Existing volumes of the `local` pool, as (volume, member), looked
        // up once per member and volume.
        let local_volumes: BTreeSet<(&str, &str)> = self
            .cluster
            .lxd
            .volumes
            .iter()
            .filter(|v| v.pool == "local")
            .map(|v| (v.name.as_str(), v.member.as_str()))
            .collect();
        for m in &local_members {
            let mut vol_ids = Vec::new();
            for vol in ["images", "backups"] {
                let sid = id_at(&["lxd.volume.local/", vol], m);
                let dep = if self.bootstrap {
                    id("lxd.pool.local")
                } else {
                    self.lxd_ready(m)
                };
                let done = local_volumes
                    .contains(&(vol, m.as_str()))
                    .then(|| format!("volume local/{vol} already exists on {m}"));
                steps.push(self.step(
                    sid.clone(),
                    Phase::Members,
                    &init,
                    Some(m),
                    Service::Lxd,
                    Action::CreateVolume {
                        pool: "local".into(),
                        name: vol.into(),
                    },
                    vec![dep],
                    todo_or(done),
                ));
                vol_ids.push(sid);
            }
            let cfg = config([
                ("storage.backups_volume", "local/backups"),
                ("storage.images_volume", "local/images"),
            ]);
            let done = self.config_done(m, &cfg);
            steps.push(self.step(
                id_at(&["lxd.config.storage"], m),
                Phase::Members,
                &init,
                Some(m),
                Service::Lxd,
                Action::SetServerConfig { config: cfg },
                vol_ids,
                todo_or(done),
            ));
        }
        steps
    }

    fn underlay(&self, name: &str) -> Option<IpAddr> {
        by_name(self.members, name, Member::name).and_then(|m| m.sys.ovn_underlay_ip)
    }

    /// LXD `member_config` for a joiner in add mode (empty in bootstrap mode,
    /// where pools and networks are created after the joins).
    fn member_config(&self, j: &Member<'_>) -> Vec<MemberConfigKey> {
        let mut out = Vec::new();
        if self.bootstrap {
            return out;
        }
        let key = |entity: &str, name: &str, key: &str, value: &str| MemberConfigKey {
            entity: entity.into(),
            name: name.into(),
            key: key.into(),
            value: value.into(),
        };
        if let Networking::Ovn { uplinks } = self.networking
            && let Some(parent) = uplinks.get(j.name())
        {
            out.push(key("network", "UPLINK", "parent", parent));
        }
        if let Some(local) = self.disks_of(j.name()).and_then(|d| d.local.as_ref())
            && self
                .cluster
                .lxd
                .pool("local")
                .is_some_and(|p| p.driver != "dir")
        {
            out.push(key("storage-pool", "local", "source", &local.path));
            if local.wipe {
                out.push(key("storage-pool", "local", "source.wipe", "true"));
            }
        }
        if self.cluster.lxd.pool("remote-fs").is_some()
            && lxd_of(j.inv).is_some_and(|l| !l.has_extension("storage_remote_drop_source"))
        {
            out.push(key("storage-pool", "remote-fs", "source", "lxd_cephfs"));
        }
        out
    }

    #[allow(clippy::too_many_lines)]
    fn bootstrap_resources(
        &self,
        steps: &mut Vec<Step>,
        n: &mut Notes,
        nb_step: Option<StepId>,
        root_pool: &mut Option<(String, StepId)>,
        eth0: &mut Option<(String, StepId)>,
        local_members: &mut Vec<String>,
    ) {
        let init = self.init_name().to_owned();
        let driver = self.preseed.lxd.local_pool_driver;
        let names: Vec<&str> = self.members.iter().map(Member::name).collect();
        local_members.extend(
            names
                .iter()
                .filter(|m| self.has_local(m))
                .map(|m| (*m).to_owned()),
        );
        let (remote, cephfs) = self.remote_pools();
        let drop_source = self.lxd_ext("storage_remote_drop_source");
        if remote && !drop_source {
            n.decide(
                "LXD Ceph pool source",
                "source set on the pending remote pools",
                format!("LXD on {init} lacks the API extension storage_remote_drop_source"),
            );
        }
        let pool_done = |pool: &str, member: &str| {
            self.cluster
                .lxd
                .pool(pool)
                .filter(|p| p.members.contains_key(member) || p.status == "Created")
                .map(|_| format!("pool {pool} is already defined on {member}"))
        };
        let net_done = |net: &str, member: &str| {
            self.cluster
                .lxd
                .network(net)
                .filter(|p| p.members.contains_key(member) || p.status == "Created")
                .map(|_| format!("network {net} is already defined on {member}"))
        };
        let mut pending: BTreeMap<&str, Vec<StepId>> = BTreeMap::new();
        let ready = vec![self.definitions_wait_for()];
        for m in &names {
            let mut pools: Vec<(&str, String, BTreeMap<String, String>)> = Vec::new();
            // `local_members` holds exactly the members with `has_local`.
            if self.has_local(m) {
                let mut cfg = BTreeMap::new();
                if let Some(local) = self.disks_of(m).and_then(|d| d.local.as_ref()) {
                    cfg.insert("source".to_owned(), local.path.clone());
                    if local.wipe {
                        cfg.insert("source.wipe".to_owned(), "true".to_owned());
                    }
                }
                pools.push(("local", driver.name().to_owned(), cfg));
            }
            if remote {
                let cfg = if drop_source {
                    BTreeMap::new()
                } else {
                    config([("source", "lxd_remote")])
                };
                pools.push(("remote", "ceph".into(), cfg));
            }
            if cephfs {
                let cfg = if drop_source {
                    BTreeMap::new()
                } else {
                    config([("source", "lxd_cephfs")])
                };
                pools.push(("remote-fs", "cephfs".into(), cfg));
            }
            for (pool, drv, cfg) in pools {
                let sid = id_at(&["lxd.pool.", pool, ".pending"], m);
                steps.push(self.step(
                    sid.clone(),
                    Phase::Resources,
                    &init,
                    Some(m),
                    Service::Lxd,
                    Action::CreatePendingPool {
                        name: pool.into(),
                        driver: drv,
                        config: cfg,
                    },
                    ready.clone(),
                    todo_or(pool_done(pool, m)),
                ));
                pending.entry(pool).or_default().push(sid);
            }
            if let Some((net, kind, cfg)) = self.pending_network(m) {
                let sid = id_at(&["lxd.network.", net, ".pending"], m);
                steps.push(self.step(
                    sid.clone(),
                    Phase::Resources,
                    &init,
                    Some(m),
                    Service::Lxd,
                    Action::CreatePendingNetwork {
                        name: net.into(),
                        network_type: kind.into(),
                        config: cfg,
                    },
                    ready.clone(),
                    todo_or(net_done(net, m)),
                ));
                pending.entry(net).or_default().push(sid);
            }
        }
        let created = |pool: &str| {
            self.cluster
                .lxd
                .pool(pool)
                .filter(|p| p.status == "Created")
                .map(|_| format!("pool {pool} already exists"))
        };
        let net_created = |net: &str| {
            self.cluster
                .lxd
                .network(net)
                .filter(|p| p.status == "Created")
                .map(|_| format!("network {net} already exists"))
        };
        // Each pool and network is finalised once: its pending steps move
        // into the dependencies of the step creating it.
        let mut final_pool = |steps: &mut Vec<Step>,
                              pool: &str,
                              drv: &str,
                              desc: &str,
                              cfg: BTreeMap<String, String>,
                              extra: Vec<StepId>| {
            let mut deps = pending.remove(pool).unwrap_or_default();
            deps.extend(extra);
            let sid = id(format!("lxd.pool.{pool}"));
            steps.push(self.step(
                sid.clone(),
                Phase::Resources,
                &init,
                None,
                Service::Lxd,
                Action::CreatePool {
                    name: pool.into(),
                    driver: drv.into(),
                    description: desc.into(),
                    config: cfg,
                },
                deps,
                todo_or(created(pool)),
            ));
            sid
        };
        if !local_members.is_empty() {
            let sid = final_pool(
                steps,
                "local",
                driver.name(),
                driver.pool_description(),
                BTreeMap::new(),
                Vec::new(),
            );
            // The cluster-wide creation creates the pool on every member,
            // wiping the disks their pending definitions ask to wipe.
            if let Some(step) = steps.last_mut() {
                step.wipes = local_members
                    .iter()
                    .filter_map(|m| {
                        let disk = self.disks_of(m)?.local.as_ref()?;
                        self.wiped(m, disk)
                    })
                    .collect();
            }
            *root_pool = Some(("local".into(), sid));
        }
        if remote {
            let mut cfg = config([
                ("ceph.osd.pool_name", "lxd_remote"),
                ("ceph.rbd.du", "false"),
            ]);
            if !self.lxd_ext("storage_ceph_use_rbd_defaults") {
                cfg.insert(
                    "ceph.rbd.features".into(),
                    "layering,striping,exclusive-lock,object-map,fast-diff,deep-flatten".into(),
                );
                n.decide(
                    "LXD ceph.rbd.features",
                    "layering,striping,exclusive-lock,object-map,fast-diff,deep-flatten",
                    format!("LXD on {init} lacks the API extension storage_ceph_use_rbd_defaults"),
                );
            }
            let sid = final_pool(
                steps,
                "remote",
                "ceph",
                "Distributed storage on Ceph",
                cfg,
                vec![id("microceph.replication")],
            );
            *root_pool = Some(("remote".into(), sid.clone()));
            if cephfs {
                let cfg = config([
                    ("cephfs.create_missing", "true"),
                    ("cephfs.data_pool", "lxd_cephfs_data"),
                    ("cephfs.meta_pool", "lxd_cephfs_meta"),
                    ("cephfs.path", "lxd_cephfs"),
                ]);
                final_pool(
                    steps,
                    "remote-fs",
                    "cephfs",
                    "Distributed file-system storage using CephFS",
                    cfg,
                    vec![sid],
                );
            }
        }
        match self.networking {
            Networking::Ovn { .. } => {
                let mut cfg = BTreeMap::new();
                if let Some(v4) = &self.preseed.ovn.ipv4 {
                    cfg.insert("ipv4.gateway".to_owned(), v4.gateway.to_string());
                    cfg.insert("ipv4.ovn.ranges".to_owned(), v4.range.to_string());
                }
                if let Some(v6) = &self.preseed.ovn.ipv6_gateway {
                    cfg.insert("ipv6.gateway".to_owned(), v6.to_string());
                }
                if !self.preseed.ovn.dns_servers.is_empty() {
                    let list: Vec<String> = self
                        .preseed
                        .ovn
                        .dns_servers
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    cfg.insert("dns.nameservers".to_owned(), list.join(","));
                }
                let uplink = id("lxd.network.UPLINK");
                steps.push(self.step(
                    uplink.clone(),
                    Phase::Resources,
                    &init,
                    None,
                    Service::Lxd,
                    Action::CreateNetwork {
                        name: "UPLINK".into(),
                        network_type: "physical".into(),
                        description: "Uplink for OVN networks".into(),
                        config: cfg,
                    },
                    pending.remove("UPLINK").unwrap_or_default(),
                    todo_or(net_created("UPLINK")),
                ));
                let mut deps = vec![uplink];
                deps.extend(nb_step);
                deps.push(id_at(&["microovn.bootstrap"], &init));
                for j in self.joiners {
                    deps.push(id_at(&["microovn.join"], j.name()));
                }
                let sid = id("lxd.network.default");
                steps.push(self.step(
                    sid.clone(),
                    Phase::Resources,
                    &init,
                    None,
                    Service::Lxd,
                    Action::CreateNetwork {
                        name: "default".into(),
                        network_type: "ovn".into(),
                        description: "Default OVN network".into(),
                        config: config([("network", "UPLINK")]),
                    },
                    deps,
                    todo_or(net_created("default")),
                ));
                *eth0 = Some(("default".into(), sid));
            }
            Networking::Fan { subnet } => {
                let subnet = subnet.to_string();
                let sid = id("lxd.network.lxdfan0");
                steps.push(self.step(
                    sid.clone(),
                    Phase::Resources,
                    &init,
                    None,
                    Service::Lxd,
                    Action::CreateNetwork {
                        name: "lxdfan0".into(),
                        network_type: "bridge".into(),
                        description: "Default Ubuntu fan powered bridge".into(),
                        config: config([
                            ("bridge.mode", "fan"),
                            ("fan.underlay_subnet", subnet.as_str()),
                        ]),
                    },
                    pending.remove("lxdfan0").unwrap_or_default(),
                    todo_or(net_created("lxdfan0")),
                ));
                *eth0 = Some(("lxdfan0".into(), sid));
            }
            Networking::None => {}
        }
    }
}

fn render_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
