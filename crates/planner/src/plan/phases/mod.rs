//! Step emission, one module per phase, in plan order: [`bootstrap`],
//! [`join`], [`ceph`], [`resources`], [`profile`], [`members`]. Every
//! phase appends to one list, so the list is a topological order by
//! construction (a step only depends on steps of its own or earlier
//! phases). The checks have all passed before [`Ctx`] is built.

mod bootstrap;
mod ceph;
mod join;
mod members;
mod profile;
mod resources;

use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use config_loader::Preseed;

use super::build::{Member, Networking, Notes, by_name, lxd_of};
use super::disks::{DiskSelection, SelectedDisk, SystemDisks};
use super::{Action, Phase, Service, Status, Step, StepId, WipedDisk};
use crate::inventory::{ClusterState, SystemInventory};

/// Everything the step builder needs, all checked.
pub(super) struct Ctx<'a> {
    pub(super) preseed: &'a Preseed,
    pub(super) bootstrap: bool,
    pub(super) init: &'a SystemInventory,
    pub(super) members: &'a [Member<'a>],
    pub(super) joiners: &'a [Member<'a>],
    pub(super) services: &'a [Service],
    pub(super) networking: &'a Networking,
    pub(super) selection: &'a DiskSelection,
    pub(super) cluster: &'a ClusterState,
    pub(super) ceph_networks: Option<(IpNet, IpNet)>,
    /// Per service, the members of the initiator's cluster (for
    /// [`Ctx::joined`], asked for every joiner).
    pub(super) clustered: BTreeMap<Service, BTreeSet<&'a str>>,
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

/// A step being built: [`new_step`] takes what every step has (its id,
/// phase and action), [`Unplaced::on`] the service and node it calls, and
/// the other methods the optional parts; [`NewStep::build`] returns the step.
pub(super) struct NewStep(Step);

/// A step that does not yet say whose API it calls.
pub(super) struct Unplaced {
    id: StepId,
    phase: Phase,
    action: Action,
}

/// A new step: what every step has, its id, phase and action.
pub(super) fn new_step(id: StepId, phase: Phase, action: Action) -> Unplaced {
    Unplaced { id, phase, action }
}

impl NewStep {
    /// Forwarded to cluster member `member` (`?target=`).
    pub(super) fn target(mut self, member: &str) -> Self {
        self.0.target = Some(member.to_owned());
        self
    }

    /// Run after `deps`.
    pub(super) fn after(mut self, deps: Vec<StepId>) -> Self {
        self.0.depends_on = deps;
        self
    }

    /// Already done, for this reason, when there is one.
    pub(super) fn done_if(mut self, why: Option<String>) -> Self {
        self.0.status = match why {
            Some(why) => Status::AlreadyDone { why },
            None => Status::ToDo,
        };
        self
    }

    /// One at a time with the other steps of `group`.
    pub(super) fn serial(mut self, group: String) -> Self {
        self.0.serial_group = Some(group);
        self
    }

    /// May wipe these disks.
    pub(super) fn wipes(mut self, disks: Vec<WipedDisk>) -> Self {
        self.0.wipes = disks;
        self
    }

    pub(super) fn build(self) -> Step {
        self.0
    }
}

impl Unplaced {
    /// Calls `service` on `node`.
    pub(super) fn on(self, service: Service, node: &str) -> NewStep {
        NewStep(Step {
            id: self.id,
            phase: self.phase,
            node: node.to_owned(),
            target: None,
            service,
            action: self.action,
            depends_on: Vec::new(),
            serial_group: None,
            wipes: Vec::new(),
            status: Status::ToDo,
        })
    }
}

/// The address of `svc`'s API on `addr`.
fn sock(addr: IpAddr, svc: Service) -> SocketAddr {
    SocketAddr::new(addr, svc.port())
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
    /// bootstrap mode does, in [`Ctx::resource_steps`]).
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

    /// Every step, phase by phase.
    pub(in crate::plan) fn steps(&self, n: &mut Notes) -> Vec<Step> {
        let mut steps = Vec::with_capacity(self.step_count_bound());
        if self.bootstrap {
            self.bootstrap_steps(&mut steps, n);
        }
        self.join_steps(&mut steps, n);
        if self.uses(Service::MicroCeph) {
            self.ceph_steps(&mut steps, n);
        }
        let resources = self.resource_steps(&mut steps, n);
        if self.bootstrap {
            self.profile_steps(&mut steps, n, &resources);
        }
        self.member_steps(&mut steps, &resources.local_members);
        steps
    }

    fn underlay(&self, name: &str) -> Option<IpAddr> {
        by_name(self.members, name, Member::name).and_then(|m| m.sys.ovn_underlay_ip)
    }
}
