//! What LXD's storage drivers add to a pool's configuration when they
//! create it (`lxd/storage/drivers/driver_*.go`).

use crate::http::Config;

/// The keys a storage driver adds to a pool's config when it creates it
/// on a member, which LXD then stores (`storagePoolCreateLocal`,
/// lxd/storage_pools_utils.go at lxd-6.8: the driver's config is written
/// back when it differs from the request; empty values are not stored).
///
/// From the drivers' `FillConfig` (lxd-5.21.0 .. lxd-6.8) and `Create`
/// (lxd-5.0.2, where `Create` fills the same keys),
/// lxd/storage/drivers/driver_<driver>.go:
/// * `btrfs`: `volatile.initial_source` = the given source; a block device
///   `source` becomes the new file system's UUID; `source.wipe` is cleared
///   once done (lxd-5.21.0 ..);
/// * `zfs`: `volatile.initial_source` = the given source; `zfs.pool_name` =
///   the pool name; a block device `source` becomes `zfs.pool_name`;
///   `source.wipe` cleared;
/// * `lvm`: `volatile.initial_source`; `lvm.vg_name` = the pool name (the
///   source's name when it names an existing group);
///   `lvm.thinpool_name` = `LXDThinPool`;
/// * `dir`: `source` = `/var/lib/lxd/storage-pools/<name>` when empty;
/// * `ceph`: `ceph.cluster_name` = `ceph`, `ceph.user.name` = `admin`,
///   `ceph.osd.pg_num` = `32`, `ceph.osd.pool_name` = the source or the
///   pool name (5.0.2 also keeps `volatile.initial_source` and sets `source`
///   to the pool name when none was given), `volatile.pool.pristine`;
/// * `cephfs`: `cephfs.cluster_name` = `ceph`, `cephfs.user.name` = `admin`
///   (5.0.2 also `cephfs.path` = the source).
///
/// Not modelled: the loop-file defaults (`size`, `source` =
/// `disks/<name>.img` when no source is given) and `ceph.osd.pool_size` /
/// `cephfs.osd_pool_size`, which 6.x reads from the Ceph cluster's
/// `osd_pool_default_size`.
pub(super) fn fill_config(
    driver: &str,
    name: &str,
    member: &str,
    config: &mut Config,
    legacy: bool,
) {
    fn default(config: &mut Config, key: &str, value: &str) {
        if config.get(key).is_none_or(String::is_empty) {
            config.insert(key.to_owned(), value.to_owned());
        }
    }
    let source = config.get("source").cloned().unwrap_or_default();
    let block = source.starts_with("/dev/");
    match driver {
        "btrfs" | "zfs" | "lvm" => {
            config.insert("volatile.initial_source".into(), source.clone());
            if block {
                config.remove("size");
            }
            config.remove("source.wipe");
            match driver {
                "btrfs" if block => {
                    config.insert("source".into(), fs_uuid(name, member, &source));
                }
                "zfs" => {
                    default(config, "zfs.pool_name", name);
                    if block {
                        let pool = config.get("zfs.pool_name").cloned().unwrap_or_default();
                        config.insert("source".into(), pool);
                    }
                }
                "lvm" => {
                    default(config, "lvm.vg_name", name);
                    default(config, "lvm.thinpool_name", "LXDThinPool");
                }
                _ => {}
            }
        }
        "dir" => default(
            config,
            "source",
            &format!("/var/lib/lxd/storage-pools/{name}"),
        ),
        "ceph" => {
            default(config, "ceph.cluster_name", "ceph");
            default(config, "ceph.user.name", "admin");
            default(config, "ceph.osd.pg_num", "32");
            let pool = if source.is_empty() {
                name.to_owned()
            } else {
                source.clone()
            };
            default(config, "ceph.osd.pool_name", &pool);
            default(config, "volatile.pool.pristine", "true");
            if legacy {
                config.insert("volatile.initial_source".into(), source.clone());
                if source.is_empty() {
                    config.insert("source".into(), name.to_owned());
                }
            }
        }
        "cephfs" => {
            default(config, "cephfs.cluster_name", "ceph");
            default(config, "cephfs.user.name", "admin");
            if legacy && !source.is_empty() {
                config.insert("cephfs.path".into(), source);
            }
        }
        _ => {}
    }
    // LXD's database does not store empty values.
    config.retain(|_, v| !v.is_empty());
}

/// A stable, UUID-shaped stand-in for the file system UUID `mkfs.btrfs`
/// gives a device.
fn fs_uuid(name: &str, member: &str, source: &str) -> String {
    let h = crate::tls::fingerprint(format!("{member}/{name}/{source}").as_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(driver: &str, given: &[(&str, &str)], legacy: bool) -> Vec<(String, String)> {
        let mut c: Config = given
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        fill_config(driver, "p", "m1", &mut c, legacy);
        c.into_iter().collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn drivers_fill_the_keys_lxd_keeps() {
        let dev = "/dev/disk/by-id/d1";
        let zfs = filled("zfs", &[("source", dev), ("source.wipe", "true")], false);
        assert_eq!(
            zfs,
            pairs(&[
                ("source", "p"),
                ("volatile.initial_source", dev),
                ("zfs.pool_name", "p")
            ])
        );
        let btrfs = filled("btrfs", &[("source", dev)], false);
        assert_eq!(btrfs[1], ("volatile.initial_source".into(), dev.into()));
        assert_eq!(btrfs[0].0, "source");
        assert_eq!(btrfs[0].1.len(), 36, "a UUID: {btrfs:?}");
        assert_eq!(
            filled("dir", &[], false),
            pairs(&[("source", "/var/lib/lxd/storage-pools/p")])
        );
        let ceph_current = pairs(&[
            ("ceph.cluster_name", "ceph"),
            ("ceph.osd.pg_num", "32"),
            ("ceph.osd.pool_name", "p"),
            ("ceph.user.name", "admin"),
            ("volatile.pool.pristine", "true"),
        ]);
        assert_eq!(filled("ceph", &[], false), ceph_current);
        assert_eq!(
            filled("ceph", &[("source", "lxd_remote")], true),
            pairs(&[
                ("ceph.cluster_name", "ceph"),
                ("ceph.osd.pg_num", "32"),
                ("ceph.osd.pool_name", "lxd_remote"),
                ("ceph.user.name", "admin"),
                ("source", "lxd_remote"),
                ("volatile.initial_source", "lxd_remote"),
                ("volatile.pool.pristine", "true"),
            ])
        );
        assert_eq!(
            filled("cephfs", &[("source", "lxdfs")], true),
            pairs(&[
                ("cephfs.cluster_name", "ceph"),
                ("cephfs.path", "lxdfs"),
                ("cephfs.user.name", "admin"),
                ("source", "lxdfs"),
            ])
        );
    }
}
