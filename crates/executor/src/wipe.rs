//! The last check before a disk is wiped.
//!
//! Wiping is irreversible, and the plan was made from what every machine
//! reported some time before. So a step that wipes (an OSD added with
//! `wipe`, the `local` pool created on a member whose definition asks for
//! `source.wipe`, a join that brings such a pool) first reads the
//! member's disks from its LXD again and compares each disk it wipes with
//! what the plan recorded ([`WipedDisk`]). The step goes no further unless
//! the path still names a disk with the same `/dev/disk/by-id` name, WWN,
//! serial, model and size (the kernel name may change across reboots and
//! is not compared), and that disk is neither mounted, nor has a mounted
//! partition, nor is held by another device.
//!
//! LXD before 5.21 does not report whether a disk is mounted, and before
//! 5.21.5 not whether another device holds it: then only the identity is
//! checked (LXD and MicroCeph still refuse mounted devices themselves).

use clients::lxd::ResourcesStorageDisk;
use planner::plan::WipedDisk;

/// How far the check goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Identity, and that nothing uses the disk.
    Unused,
    /// Identity only: the step's own service may already use the disk (a
    /// cluster-wide pool creation that reached some members before it was
    /// cut off leaves their disks mounted by that very pool).
    IdentityOnly,
}

/// Why `expected` must not be wiped now, given `disks` as its member's LXD
/// reports them; `None` when it may.
pub fn refusal(
    expected: &WipedDisk,
    disks: &[ResourcesStorageDisk],
    scope: Scope,
) -> Option<String> {
    let Some(now) = disks.iter().find(|d| names(d, &expected.path)) else {
        return Some(format!(
            "LXD on {} no longer reports a disk at {} (it was {} when planning)",
            expected.member, expected.path, expected.id
        ));
    };
    let mut changed = Vec::new();
    let mut compare = |what: &str, was: &str, is: &str| {
        if was != is {
            changed.push(format!("{what} was {}, now {}", shown(was), shown(is)));
        }
    };
    compare("by-id name", &expected.device_id, &now.device_id);
    compare("WWN", &expected.wwn, &now.wwn);
    compare("serial", &expected.serial, &now.serial);
    compare("model", &expected.model, &now.model);
    if expected.size != now.size {
        changed.push(format!(
            "size was {} bytes, now {} bytes",
            expected.size, now.size
        ));
    }
    if !changed.is_empty() {
        return Some(format!(
            "{} on {} is not the disk the plan selected ({}): {}",
            expected.path,
            expected.member,
            now.id,
            changed.join(", ")
        ));
    }
    if scope == Scope::IdentityOnly {
        return None;
    }
    let mut uses = Vec::new();
    if now.mounted == Some(true) {
        uses.push("it is mounted".to_owned());
    }
    for p in now.partitions.iter().filter(|p| p.mounted == Some(true)) {
        uses.push(format!("its partition {} is mounted", p.id));
    }
    if let Some(holder) = now.used_by.as_deref().filter(|h| !h.is_empty()) {
        uses.push(format!("it is held by {holder}"));
    }
    (!uses.is_empty()).then(|| {
        format!(
            "{} ({}) on {} is in use: {}",
            expected.path,
            now.id,
            expected.member,
            uses.join(", ")
        )
    })
}

/// Whether `path` names `disk` (`/dev/<id>`, by-id or by-path).
fn names(disk: &ResourcesStorageDisk, path: &str) -> bool {
    let by = |prefix: &str, name: &str| !name.is_empty() && path.strip_prefix(prefix) == Some(name);
    by("/dev/", &disk.id)
        || by("/dev/disk/by-id/", &disk.device_id)
        || by("/dev/disk/by-path/", &disk.device_path)
}

fn shown(value: &str) -> String {
    if value.is_empty() {
        "(none)".to_owned()
    } else {
        format!("{value:?}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use clients::lxd::ResourcesStorageDiskPartition;

    fn planned() -> WipedDisk {
        WipedDisk {
            member: "micro02".into(),
            path: "/dev/disk/by-id/scsi-0QEMU_disk1".into(),
            id: "sdb".into(),
            device_id: "scsi-0QEMU_disk1".into(),
            wwn: "0x5000c500a1b2c3d4".into(),
            serial: "S1".into(),
            model: "QEMU HARDDISK".into(),
            size: 100 << 30,
        }
    }

    fn disk() -> ResourcesStorageDisk {
        ResourcesStorageDisk {
            id: "sdb".into(),
            device_id: "scsi-0QEMU_disk1".into(),
            device_path: "pci-0000:00:05.0-scsi-0:0:0:1".into(),
            wwn: "0x5000c500a1b2c3d4".into(),
            serial: "S1".into(),
            model: "QEMU HARDDISK".into(),
            size: 100 << 30,
            mounted: Some(false),
            ..ResourcesStorageDisk::default()
        }
    }

    #[test]
    fn the_same_unused_disk_may_be_wiped_even_under_another_kernel_name() {
        assert_eq!(refusal(&planned(), &[disk()], Scope::Unused), None);
        let renamed = ResourcesStorageDisk {
            id: "sdc".into(),
            ..disk()
        };
        assert_eq!(refusal(&planned(), &[renamed], Scope::Unused), None);
        // LXD 5.0.2 reports no mount state: identity alone decides.
        let old = ResourcesStorageDisk {
            mounted: None,
            ..disk()
        };
        assert_eq!(refusal(&planned(), &[old], Scope::Unused), None);
    }

    #[test]
    fn a_missing_or_different_disk_is_refused_naming_what_changed() {
        assert_eq!(
            refusal(&planned(), &[], Scope::Unused).unwrap(),
            "LXD on micro02 no longer reports a disk at /dev/disk/by-id/scsi-0QEMU_disk1 (it was sdb when planning)"
        );
        let swapped = ResourcesStorageDisk {
            serial: "S2".into(),
            size: 200 << 30,
            wwn: String::new(),
            ..disk()
        };
        assert_eq!(
            refusal(&planned(), &[swapped], Scope::IdentityOnly).unwrap(),
            "/dev/disk/by-id/scsi-0QEMU_disk1 on micro02 is not the disk the plan selected (sdb): WWN was \"0x5000c500a1b2c3d4\", now (none), serial was \"S1\", now \"S2\", size was 107374182400 bytes, now 214748364800 bytes"
        );
        // A kernel name now taken by another disk.
        let by_name = WipedDisk {
            path: "/dev/sdb".into(),
            ..planned()
        };
        let other = ResourcesStorageDisk {
            device_id: "scsi-0QEMU_disk9".into(),
            ..disk()
        };
        assert_eq!(
            refusal(&by_name, &[other], Scope::Unused).unwrap(),
            "/dev/sdb on micro02 is not the disk the plan selected (sdb): by-id name was \"scsi-0QEMU_disk1\", now \"scsi-0QEMU_disk9\""
        );
    }

    #[test]
    fn a_mounted_or_held_disk_is_refused_unless_only_identity_counts() {
        let busy = ResourcesStorageDisk {
            mounted: Some(true),
            used_by: Some("bcache".into()),
            partitions: vec![ResourcesStorageDiskPartition {
                id: "sdb1".into(),
                mounted: Some(true),
                ..ResourcesStorageDiskPartition::default()
            }],
            ..disk()
        };
        assert_eq!(
            refusal(&planned(), std::slice::from_ref(&busy), Scope::Unused).unwrap(),
            "/dev/disk/by-id/scsi-0QEMU_disk1 (sdb) on micro02 is in use: it is mounted, its partition sdb1 is mounted, it is held by bcache"
        );
        assert_eq!(refusal(&planned(), &[busy], Scope::IdentityOnly), None);
    }
}
