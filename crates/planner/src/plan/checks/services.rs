//! Which services to set up, and checks of their installations, versions
//! and cluster membership.

use std::collections::{BTreeMap, BTreeSet};

use config_loader::{KeyPath, Preseed};

use crate::inventory::{ClusterState, SystemInventory};
use crate::plan::Service;
use crate::plan::build::{Member, Notes, by_name};

/// The services to set up, with the errors for missing installations.
pub(in crate::plan) fn choose_services(
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

pub(in crate::plan) fn service_version(si: &SystemInventory, svc: Service) -> Option<&str> {
    match svc {
        Service::Lxd => si.services.lxd.as_ref().map(|s| s.version.as_str()),
        Service::MicroCeph => si.services.microceph.as_ref().map(|s| s.version.as_str()),
        Service::MicroOvn => si.services.microovn.as_ref().map(|s| s.version.as_str()),
    }
}

pub(in crate::plan) fn service_members(si: &SystemInventory, svc: Service) -> &[String] {
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

pub(in crate::plan) fn check_versions(
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
pub(in crate::plan) fn check_membership(
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
