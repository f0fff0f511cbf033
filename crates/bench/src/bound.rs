//! The plan's lower bound under a latency model: no schedule of the plan
//! can finish sooner, whatever its order or parallelism.
//!
//! Each step is given its *floor*: one call to its service plus the slow
//! part of its operation, from the same [`LatencyModel`] the simulators
//! run with (the reads our executor makes before acting, and forwarding
//! between members, are left out: they are ours to pay).
//!
//! Some sets of steps can never overlap: each serialisation group of the
//! plan (a service's joins; a machine's Ceph disks, which MicroCeph adds
//! one at a time behind a mutex). A step that needs every step of such a
//! set cannot start before the set's earliest start plus all its floors;
//! a step that every step of a set needs is followed by at least all the
//! set's floors plus the least time any of them still needs after it.
//! With that, each step gets a *head* (earliest start) and a *tail* (least
//! time after its end), and the bound is the largest of
//!
//! * the critical path: `head + floor + tail` of any step (without sets,
//!   the longest dependency chain by floors, as
//!   [`planner::plan::Plan::critical_path_with`] computes it);
//! * for every set: the least head of its steps, plus all their floors,
//!   plus the least tail (the one-machine relaxation).
//!
//! Every term is a time no schedule can beat, so the bound is a true lower
//! bound for this model; it is not always reachable.

use std::collections::BTreeMap;
use std::time::Duration;

use planner::plan::{Action, Plan, Service, Step};
use simulators::LatencyModel;
use simulators::faults::Service as SimService;

/// What bounds a plan's duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// The longest dependency chain, by floors.
    pub critical_path: Duration,
    /// The tightest set of steps that cannot overlap, and its bound.
    pub serial_set: Option<(String, Duration)>,
}

impl Bound {
    /// The lower bound: the larger of the two.
    pub fn value(&self) -> Duration {
        self.serial_set
            .as_ref()
            .map_or(self.critical_path, |(_, d)| self.critical_path.max(*d))
    }

    /// What decides it: `critical path` or the serial set's name.
    pub fn decided_by(&self) -> &str {
        match &self.serial_set {
            Some((name, d)) if *d > self.critical_path => name,
            _ => "critical path",
        }
    }
}

fn sim_service(s: Service) -> SimService {
    match s {
        Service::Lxd => SimService::Lxd,
        Service::MicroCeph => SimService::Microceph,
        Service::MicroOvn => SimService::Microovn,
    }
}

/// The least time `step` can take under `model` in a cluster of
/// `members` LXD members: one call and its operation's slow part, as the
/// simulated services apply them.
pub fn floor(step: &Step, model: &LatencyModel, members: usize) -> Duration {
    let o = &model.operations;
    let call = model.call(sim_service(step.service));
    if step.status.is_done() {
        return call;
    }
    let pool = |driver: &str| match driver {
        "ceph" | "cephfs" => o.lxd_ceph_pool_create.duration(),
        _ => o.lxd_pool_create.duration(),
    };
    // Members told to create their part of a cluster-wide pool, all at once.
    let notified = if members > 1 {
        model.call(SimService::Lxd) + o.lxd_pool_create.duration()
    } else {
        Duration::ZERO
    };
    let work = match &step.action {
        Action::BootstrapMicrocluster { .. } => o.microcluster_bootstrap.duration(),
        Action::BootstrapLxd { .. } => o.lxd_cluster_bootstrap.duration(),
        Action::JoinMicrocluster { .. } => o.microcluster_join.duration(),
        Action::JoinLxd { .. } => o.lxd_cluster_join.duration(),
        Action::AddCephDisk { .. } => o.microceph_disk_add.duration(),
        Action::CreatePendingPool { driver, .. } => pool(driver) / 4,
        Action::CreatePool { driver, .. } => pool(driver) + notified,
        Action::CreatePendingNetwork { .. } => o.lxd_network_create.duration() / 4,
        Action::CreateNetwork { .. } => o.lxd_network_create.duration(),
        Action::CreateVolume { .. } => o.lxd_pool_create.duration(),
        Action::EnsureProfile { .. } => o.lxd_profile_update.duration(),
        Action::SetServerConfig { .. }
        | Action::IssueToken { .. }
        | Action::AwaitLxdMembers { .. }
        | Action::SetReplication { .. }
        | Action::ConfigureOvnNorthbound { .. } => Duration::ZERO,
    };
    call + work
}

/// The lower bound of `plan` under `model` (see the module docs).
pub fn lower_bound(plan: &Plan, model: &LatencyModel) -> Bound {
    let members = plan.systems.len();
    let index: BTreeMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let cost: Vec<Duration> = plan
        .steps
        .iter()
        .map(|s| floor(s, model, members))
        .collect();
    let order: Vec<usize> = plan
        .topological_order()
        .iter()
        .filter_map(|id| index.get(id.as_str()).copied())
        .collect();
    let deps = |i: usize| {
        plan.steps[i]
            .depends_on
            .iter()
            .filter_map(|d| index.get(d.as_str()).copied())
    };
    // Sets of steps that cannot overlap.
    let mut sets: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, s) in plan.steps.iter().enumerate() {
        if let Some(g) = &s.serial_group {
            sets.entry(format!("serial group {g}")).or_default().push(i);
        }
        if matches!(s.action, Action::AddCephDisk { .. }) {
            sets.entry(format!("Ceph disks of {}", s.node))
                .or_default()
                .push(i);
        }
    }
    let sets: Vec<(String, Vec<usize>)> = sets.into_iter().filter(|(_, m)| m.len() > 1).collect();
    // For each set, the steps that need all of it (`after`) and the steps
    // all of it needs (`before`): such a step is at least the whole set away.
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); plan.steps.len()];
    let mut before: Vec<Vec<usize>> = vec![Vec::new(); plan.steps.len()];
    for (k, (_, members)) in sets.iter().enumerate() {
        let mut needing: BTreeMap<usize, usize> = BTreeMap::new();
        let mut needed: BTreeMap<usize, usize> = BTreeMap::new();
        for (i, _) in plan.steps.iter().enumerate() {
            let hits = deps(i).filter(|d| members.contains(d)).count();
            if hits > 0 {
                needing.insert(i, hits);
            }
        }
        for &m in members {
            for d in deps(m) {
                *needed.entry(d).or_default() += 1;
            }
        }
        for (i, hits) in needing {
            if hits == members.len() {
                after[i].push(k);
            }
        }
        for (d, hits) in needed {
            if hits == members.len() {
                before[d].push(k);
            }
        }
    }
    let total = |k: usize| -> Duration { sets[k].1.iter().map(|&i| cost[i]).sum() };
    // Earliest start (head) and the least time still needed after the end
    // (tail), both counting whole sets a step waits for or precedes.
    let mut head = vec![Duration::ZERO; plan.steps.len()];
    for &i in &order {
        let chain = deps(i).map(|d| head[d] + cost[d]).max().unwrap_or_default();
        let set = after[i]
            .iter()
            .map(|&k| sets[k].1.iter().map(|&m| head[m]).min().unwrap_or_default() + total(k))
            .max()
            .unwrap_or_default();
        head[i] = chain.max(set);
    }
    let mut tail = vec![Duration::ZERO; plan.steps.len()];
    for &i in order.iter().rev() {
        // Every step after `i` is done by now, so its tail is final.
        let set = before[i]
            .iter()
            .map(|&k| total(k) + sets[k].1.iter().map(|&m| tail[m]).min().unwrap_or_default())
            .max()
            .unwrap_or_default();
        tail[i] = tail[i].max(set);
        for d in deps(i) {
            tail[d] = tail[d].max(cost[i] + tail[i]);
        }
    }
    let critical_path = (0..plan.steps.len())
        .map(|i| head[i] + cost[i] + tail[i])
        .max()
        .unwrap_or_default();
    let serial_set = sets
        .iter()
        .map(|(name, steps)| {
            let first = steps.iter().map(|&i| head[i]).min().unwrap_or_default();
            let last = steps.iter().map(|&i| tail[i]).min().unwrap_or_default();
            let total: Duration = steps.iter().map(|&i| cost[i]).sum();
            (name.clone(), first + total + last)
        })
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
    Bound {
        critical_path,
        serial_set,
    }
}
