//! Raw serde types that mirror the preseed YAML key for key.
//!
//! These types exist for two jobs only: deserialising the document (after the
//! structural check in [`crate::shape`] has accepted it) and generating the
//! published JSON Schema. Every struct rejects unknown keys. Nothing outside
//! this crate sees them: [`crate::validate`] turns them into the domain types
//! of [`crate::model`].
//!
//! Scalars that need validation (addresses, networks, names, filters) stay
//! strings here so that a bad value becomes a located diagnostic instead of a
//! serde error that would stop the whole parse.

use schemars::JsonSchema;
use serde::Deserialize;

/// A MicroCloud preseed file: everything needed to form or grow a cluster
/// without asking a question.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "microcloud preseed")]
pub struct RawPreseed {
    /// Host name of the initiator, found by multicast on `lookup_subnet`.
    /// Exactly one of `initiator` and `initiator_address` must be set.
    pub initiator: Option<String>,
    /// Address of the initiator (unicast mode). Every system then needs an
    /// `address`, and `lookup_subnet` must not be set.
    pub initiator_address: Option<String>,
    /// Subnet (CIDR) in which every machine finds its own address and the
    /// initiator by multicast. Required with `initiator`.
    pub lookup_subnet: Option<String>,
    /// Seconds a joiner may spend finding the initiator, and the initiator
    /// waiting for all joiners (default 60, at most 3600).
    pub lookup_timeout: Option<i64>,
    /// Shared secret for the trust session. May instead come from
    /// `session_passphrase_file` or the environment variable
    /// `MICROCLOUD_SESSION_PASSPHRASE`.
    pub session_passphrase: Option<String>,
    /// File holding the session passphrase (a trailing newline is ignored).
    /// Extension: not understood by upstream MicroCloud.
    pub session_passphrase_file: Option<String>,
    /// Seconds the trust session may stay open (default 3600, at most 3600).
    pub session_timeout: Option<i64>,
    /// The machines to form the cluster from (bootstrap), or to add to it
    /// (when the initiator is not listed).
    #[schemars(required)]
    pub systems: Option<Vec<RawSystem>>,
    /// OVN uplink network settings.
    pub ovn: Option<RawOvn>,
    /// Ceph settings.
    pub ceph: Option<RawCeph>,
    /// Disk filters that select disks on systems without direct disks.
    pub storage: Option<RawStorageFilters>,
    /// LXD settings. Extension: a microcloud extension, not understood by
    /// upstream MicroCloud (which always uses ZFS for the `local` pool).
    pub lxd: Option<RawLxd>,
    /// Deadlines per step class: the total time one step may take, retries
    /// included. Extension: not understood by upstream MicroCloud.
    pub timeouts: Option<RawTimeouts>,
}

/// Deadlines per step class, each as seconds (`90`) or with units (`45s`,
/// `5m`, `1h30m`), between 1s and 24h. This whole section is a microcloud
/// extension; Canonical MicroCloud does not know it. The command line's
/// `--timeout CLASS=DURATION` overrides it.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Timeouts")]
pub struct RawTimeouts {
    /// Bootstrapping MicroCeph, MicroOVN and LXD clustering (default 5m).
    pub bootstrap: Option<String>,
    /// Issuing a join token (default 1m).
    pub token: Option<String>,
    /// Joining a machine to a service's cluster (default 10m).
    pub join: Option<String>,
    /// Adding a Ceph OSD, setting the replication size (default 10m).
    pub ceph: Option<String>,
    /// Defining and creating storage pools, creating volumes (default 10m).
    pub storage: Option<String>,
    /// Defining and creating networks (default 5m).
    pub network: Option<String>,
    /// Server settings, the OVN northbound connection and the default
    /// profile (default 2m).
    pub settings: Option<String>,
}

impl RawTimeouts {
    /// The values given, by key, in class order.
    pub fn entries(&self) -> [(&'static str, Option<&str>); 7] {
        [
            ("bootstrap", self.bootstrap.as_deref()),
            ("token", self.token.as_deref()),
            ("join", self.join.as_deref()),
            ("ceph", self.ceph.as_deref()),
            ("storage", self.storage.as_deref()),
            ("network", self.network.as_deref()),
            ("settings", self.settings.as_deref()),
        ]
    }
}

/// LXD settings. This whole section is a microcloud extension; Canonical
/// MicroCloud does not know it.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Lxd")]
pub struct RawLxd {
    /// Storage driver of the `local` pool: `zfs` (default, as MicroCloud),
    /// `btrfs`, `lvm` or `dir`. `dir` keeps data in a directory and takes no
    /// disk. Extension: not understood by upstream MicroCloud.
    pub local_pool_driver: Option<String>,
}

/// One machine of the cluster.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "System")]
pub struct RawSystem {
    /// Host name of the machine; must equal its host name.
    #[schemars(required)]
    pub name: Option<String>,
    /// The machine's cluster address (unicast mode only).
    pub address: Option<String>,
    /// Host interface used as this member's parent of the `UPLINK` network.
    pub ovn_uplink_interface: Option<String>,
    /// OVN Geneve encapsulation IP for this member.
    pub ovn_underlay_ip: Option<String>,
    /// Disks given by path for this machine.
    pub storage: Option<RawSystemStorage>,
}

/// Disks given by path for one machine.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SystemStorage")]
pub struct RawSystemStorage {
    /// The disk for this member's `local` storage pool.
    pub local: Option<RawDirectDisk>,
    /// Disks to become Ceph OSDs on this member.
    pub ceph: Option<Vec<RawDirectDisk>>,
}

/// A disk named by path.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DirectDisk")]
pub struct RawDirectDisk {
    /// Device path, for example `/dev/disk/by-id/nvme-eui.0025388b01b5d3a1`.
    #[schemars(required)]
    pub path: Option<String>,
    /// Wipe the disk before use (default false).
    pub wipe: Option<bool>,
    /// Encrypt the disk (Ceph disks only; default false).
    pub encrypt: Option<bool>,
}

/// OVN uplink network settings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Ovn")]
pub struct RawOvn {
    /// IPv4 gateway of the uplink network in CIDR form, e.g. `192.0.2.1/24`.
    pub ipv4_gateway: Option<String>,
    /// Addresses OVN may use on the uplink: `<first>-<last>`.
    pub ipv4_range: Option<String>,
    /// IPv6 gateway of the uplink network in CIDR form, e.g. `2001:db8::1/64`.
    pub ipv6_gateway: Option<String>,
    /// Comma-separated DNS server addresses for the uplink network.
    pub dns_servers: Option<String>,
}

/// Ceph settings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Ceph")]
pub struct RawCeph {
    /// Also create the CephFS storage pool `remote-fs` (default false).
    pub cephfs: Option<bool>,
    /// Ceph cluster (replication) network, a network address in CIDR form.
    pub internal_network: Option<String>,
    /// Ceph public network, a network address in CIDR form.
    pub public_network: Option<String>,
}

/// Disk filters, applied to systems that have no direct disk of that kind.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "StorageFilters")]
pub struct RawStorageFilters {
    /// Filters selecting one disk per system for the `local` pool.
    pub local: Option<Vec<RawDiskFilter>>,
    /// Filters selecting Ceph OSD disks.
    pub ceph: Option<Vec<RawDiskFilter>>,
}

/// One disk filter.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DiskFilter")]
pub struct RawDiskFilter {
    /// Filter expression over LXD disk fields, e.g. `type == nvme && size > 100GiB`.
    #[schemars(required)]
    pub find: Option<String>,
    /// Least number of matches (local: systems, ceph: disks). Default 1.
    pub find_min: Option<i64>,
    /// Largest number of matches; 0 or absent means unlimited.
    pub find_max: Option<i64>,
    /// Wipe the selected disks (default false).
    pub wipe: Option<bool>,
    /// Encrypt the selected disks (Ceph only; default false).
    pub encrypt: Option<bool>,
}
