//! Checks of the disk selection against what each LXD supports and reports.

use config_loader::{KeyPath, Preseed};

use crate::inventory::{ClusterState, SystemInventory};
use crate::plan::build::{Member, Notes, by_name, lxd_of};
use crate::plan::disks::{DiskSelection, DiskSource};

pub(in crate::plan) fn check_disk_features(
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
pub(in crate::plan) fn check_direct_wipes(
    members: &[Member<'_>],
    selection: &DiskSelection,
    n: &mut Notes,
) {
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
