//! The Ceph phase: the OSDs, then the replication size.

use super::{Ctx, id, id_at, new_step, one_or_none};
use crate::inventory::MicroCephClusterState;
use crate::plan::build::{Notes, by_name};
use crate::plan::{Action, Phase, Service, Step};

/// Ceph pools whose replication MicroCloud adjusts, in its order.
const CEPH_POOLS: [&str; 5] = [
    ".mgr",
    "lxd_cephfs_data",
    "lxd_cephfs_meta",
    "lxd_cephfs",
    "lxd_remote",
];

impl Ctx<'_> {
    /// The Ceph steps (when MicroCeph is set up).
    pub(super) fn ceph_steps(&self, steps: &mut Vec<Step>, n: &mut Notes) {
        let init = self.init_name().to_owned();
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
                let step = new_step(
                    sid.clone(),
                    Phase::Ceph,
                    Action::AddCephDisk {
                        path: d.path.clone(),
                        wipe: d.wipe,
                        encrypt: d.encrypt,
                    },
                )
                .on(Service::MicroCeph, &s.system)
                .after(vec![dep.clone()])
                .done_if(
                    d.already
                        .as_ref()
                        .map(|o| format!("{} already is {o} on {}", d.path, s.system)),
                )
                .serial(group.clone())
                .wipes(one_or_none(self.wiped(&s.system, d)))
                .build();
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
                !by_name(&self.selection.systems, &o.location, |s| s.system.as_str()).is_some_and(
                    |s| {
                        s.ceph
                            .iter()
                            .any(|d| d.path == o.path || d.already.as_deref() == Some(osd.as_str()))
                    },
                )
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
            steps.push(
                new_step(
                    id("microceph.replication"),
                    Phase::Ceph,
                    Action::SetReplication {
                        size,
                        pools: CEPH_POOLS.iter().map(|p| (*p).to_owned()).collect(),
                    },
                )
                .on(Service::MicroCeph, &init)
                .after(deps)
                .done_if(done)
                .build(),
            );
        }
    }
}
