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

use ipnet::Ipv4Net;
use std::collections::BTreeMap;

use config_loader::model::{Initiator, System};
use config_loader::{KeyPath, Mode, Preseed};

use super::checks::{
    ceph_networks, check_addresses, check_direct_wipes, check_disk_features, check_membership,
    check_versions, choose_services, networking, service_members,
};
use super::disks::{self, DiskInput};
use super::phases::Ctx;
use super::{
    Decision, FORMAT_VERSION, Plan, PlanError, PlanErrors, PlanMode, PlannedSystem, Role, Service,
};
use crate::inventory::{ClusterState, Inventory, LxdService, SystemInventory};

/// A preseed system together with its inventory.
#[derive(Clone, Copy)]
pub(in crate::plan) struct Member<'a> {
    pub(in crate::plan) index: usize,
    pub(in crate::plan) sys: &'a System,
    pub(in crate::plan) inv: &'a SystemInventory,
}

impl Member<'_> {
    pub(in crate::plan) fn name(&self) -> &str {
        self.sys.name.as_str()
    }
    pub(in crate::plan) fn path(&self) -> KeyPath {
        KeyPath::root().key("systems").index(self.index)
    }
}

/// The first item called `name` in `items`, which must be sorted by `key`
/// (as `members`, `joiners` and the disk selection's systems are): the same
/// answer as `items.iter().find(|x| key(x) == name)`, in O(log n) rather
/// than O(n), so that per-system lookups do not make planning quadratic.
pub(in crate::plan) fn by_name<'s, T>(
    items: &'s [T],
    name: &str,
    key: impl Fn(&T) -> &str,
) -> Option<&'s T> {
    let first = items.partition_point(|x| key(x) < name);
    items.get(first).filter(|x| key(x) == name)
}

#[derive(Default)]
pub(in crate::plan) struct Notes {
    pub(in crate::plan) errors: Vec<PlanError>,
    pub(in crate::plan) warnings: Vec<String>,
    pub(in crate::plan) decisions: Vec<Decision>,
}

impl Notes {
    pub(in crate::plan) fn error(
        &mut self,
        system: Option<&str>,
        path: KeyPath,
        message: String,
        help: &str,
    ) {
        self.errors.push(PlanError {
            system: system.map(str::to_owned),
            path,
            message,
            help: (!help.is_empty()).then(|| help.to_owned()),
        });
    }
    pub(in crate::plan) fn decide(
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
pub(in crate::plan) enum Networking {
    /// OVN: `UPLINK` (per-member parents) + `default`.
    Ovn { uplinks: BTreeMap<String, String> },
    /// Fan bridge on this underlay subnet.
    Fan { subnet: Ipv4Net },
    /// No network (no OVN, no IPv4 default route on the initiator).
    None,
}

pub(in crate::plan) fn lxd_of(si: &SystemInventory) -> Option<&LxdService> {
    si.services.lxd.as_ref()
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
