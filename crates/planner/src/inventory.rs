//! What every machine has: the planner's view of the world.
//!
//! An [`Inventory`] is plain data, collected elsewhere (by a later crate)
//! from each machine's LXD (`GET /1.0`, `/1.0/resources`, `/1.0/networks`
//! and their `state`), from MicroCeph and MicroOVN (`GET /core/1.0/cluster`,
//! MicroCeph `GET /1.0/disks`, `/1.0/pools`, `/1.0/configs`) and from the
//! kernel's routing table. The planner never collects anything itself.
//!
//! On disk it is one JSON file per machine (`<name>.json`, a
//! [`SystemInventory`]) plus an optional `cluster.json` ([`ClusterState`])
//! describing what an already formed cluster holds (required to add
//! machines, and used on re-runs to mark steps already done). Every struct
//! rejects unknown keys; most fields have defaults so fixtures stay short.
//!
//! Parsing ([`parse_system`], [`parse_cluster`]) is pure: the caller reads
//! the files. Errors name the file.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

use config_loader::filter::Disk;

/// Everything known about the machines and the existing cluster.
///
/// Systems are kept by name, so the order they were supplied in never
/// matters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    systems: BTreeMap<String, SystemInventory>,
    cluster: Option<ClusterState>,
}

impl Inventory {
    /// Builds an inventory. Fails when two systems have the same name.
    pub fn new(
        systems: impl IntoIterator<Item = SystemInventory>,
        cluster: Option<ClusterState>,
    ) -> Result<Inventory, InventoryError> {
        let mut map = BTreeMap::new();
        for s in systems {
            if map.contains_key(&s.name) {
                return Err(InventoryError::Duplicate { name: s.name });
            }
            map.insert(s.name.clone(), s);
        }
        Ok(Inventory {
            systems: map,
            cluster,
        })
    }

    /// Builds an inventory from the files of an inventory directory, given
    /// as `(file name, contents)`: `cluster.json` is the cluster state, every
    /// other `<name>.json` one system; other names are ignored.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Inventory, InventoryError> {
        let mut systems = Vec::new();
        let mut cluster = None;
        for (file, contents) in files {
            let Some(stem) = file.strip_suffix(".json") else {
                continue;
            };
            if stem == "cluster" {
                cluster = Some(parse_cluster(&contents)?);
            } else {
                systems.push(parse_system(stem, &contents)?);
            }
        }
        Inventory::new(systems, cluster)
    }

    /// The system called `name`.
    pub fn system(&self, name: &str) -> Option<&SystemInventory> {
        self.systems.get(name)
    }

    /// Every system, by name.
    pub fn systems(&self) -> impl Iterator<Item = &SystemInventory> {
        self.systems.values()
    }

    /// The existing cluster's state, when given.
    pub fn cluster(&self) -> Option<&ClusterState> {
        self.cluster.as_ref()
    }
}

/// Why an inventory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A file is not valid JSON for its type.
    #[error("inventory file {file} is not a valid {what}")]
    Json {
        /// The file (as the caller named it).
        file: String,
        /// What it should contain, e.g. "system inventory".
        what: &'static str,
        /// The JSON error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A system file's `name` differs from its file name.
    #[error("inventory file {file} describes system {name:?}; name the file {name}.json")]
    NameMismatch {
        /// The file.
        file: String,
        /// The name inside it.
        name: String,
    },
    /// Two files describe the same system.
    #[error("the inventory describes system {name:?} twice")]
    Duplicate {
        /// The repeated name.
        name: String,
    },
}

/// Parses one system's inventory from `json`; `file_stem` (the file name
/// without `.json`) must equal the system's `name`.
pub fn parse_system(file_stem: &str, json: &str) -> Result<SystemInventory, InventoryError> {
    let file = format!("{file_stem}.json");
    let system: SystemInventory =
        serde_json::from_str(json).map_err(|source| InventoryError::Json {
            file: file.clone(),
            what: "system inventory",
            source,
        })?;
    if system.name != file_stem {
        return Err(InventoryError::NameMismatch {
            file,
            name: system.name,
        });
    }
    Ok(system)
}

/// Parses `cluster.json`.
pub fn parse_cluster(json: &str) -> Result<ClusterState, InventoryError> {
    serde_json::from_str(json).map_err(|source| InventoryError::Json {
        file: "cluster.json".to_owned(),
        what: "cluster state",
        source,
    })
}

/// One machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemInventory {
    /// Host name (must equal the preseed's `systems[].name`).
    pub name: String,
    /// The machine's cluster address (its MicroCloud address): services
    /// listen on it (LXD 8443, MicroCeph 7443, MicroOVN 6443).
    pub address: IpAddr,
    /// Installed services.
    pub services: Services,
    /// Disks as LXD reports them (`/1.0/resources` `storage.disks`), in
    /// LXD's order, which decides "first match" for local filters.
    #[serde(default)]
    pub disks: Vec<InventoryDisk>,
    /// Network interfaces (`/1.0/networks` plus their `state`).
    #[serde(default)]
    pub interfaces: Vec<Interface>,
    /// Name of the interface holding the IPv4 default route, if any (for
    /// the Fan fallback network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_route_interface: Option<String>,
}

impl SystemInventory {
    /// The interface called `name`.
    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.name == name)
    }
}

/// The services installed on a machine; `None` = not installed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Services {
    /// LXD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lxd: Option<LxdService>,
    /// MicroCeph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microceph: Option<MicroclusterService>,
    /// MicroOVN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microovn: Option<MicroclusterService>,
}

/// LXD on one machine (`GET /1.0`, `GET /1.0/cluster/members`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LxdService {
    /// `environment.server_version`, e.g. `5.21.3`.
    pub version: String,
    /// `api_extensions`.
    #[serde(default)]
    pub api_extensions: Vec<String>,
    /// Names of the cluster's members as this machine sees them; empty when
    /// LXD is not clustered.
    #[serde(default)]
    pub cluster_members: Vec<String>,
    /// The server configuration (`config`), member-local keys included.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

impl LxdService {
    /// Whether LXD advertises the API extension `name`.
    pub fn has_extension(&self, name: &str) -> bool {
        self.api_extensions.iter().any(|e| e == name)
    }

    /// Whether `version` parses as a release earlier than `than`
    /// (`major.minor[.patch]` from the start of the string); `None` when
    /// the version does not parse.
    pub fn version_before(&self, than: (u32, u32, u32)) -> Option<bool> {
        let head = self
            .version
            .trim()
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()?;
        let mut parts = head.split('.');
        let major: u32 = parts.next()?.parse().ok()?;
        let minor: u32 = parts.next()?.parse().ok()?;
        let patch: u32 = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        Some((major, minor, patch) < than)
    }
}

/// A microcluster service (MicroCeph, MicroOVN) on one machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicroclusterService {
    /// The daemon's version string.
    pub version: String,
    /// Names of the cluster's members as this machine sees them; empty when
    /// the service is not initialised.
    #[serde(default)]
    pub cluster_members: Vec<String>,
}

/// Directory of the disks' `/dev/disk/by-id` names.
const BY_ID: &str = "/dev/disk/by-id/";
/// Directory of the disks' `/dev/disk/by-path` names.
const BY_PATH: &str = "/dev/disk/by-path/";

/// A disk: every field of [`Disk`] (LXD's names), plus what uses it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryDisk {
    /// Kernel name, e.g. `nvme0n1`.
    pub id: String,
    /// Major:minor.
    #[serde(default)]
    pub device: String,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// `nvme`, `hdd`, `ssd`, `cdrom`, `usb`, `virtio`, ...
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Read-only.
    #[serde(default)]
    pub read_only: bool,
    /// Mounted (LXD ≥ 5.21).
    #[serde(default)]
    pub mounted: bool,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Removable.
    #[serde(default)]
    pub removable: bool,
    /// World Wide Name.
    #[serde(default)]
    pub wwn: String,
    /// NUMA node.
    #[serde(default)]
    pub numa_node: u64,
    /// Name under `/dev/disk/by-path`.
    #[serde(default)]
    pub device_path: String,
    /// Block size.
    #[serde(default)]
    pub block_size: u64,
    /// Firmware version.
    #[serde(default)]
    pub firmware_version: String,
    /// Rotation speed.
    #[serde(default)]
    pub rpm: u64,
    /// Serial number.
    #[serde(default)]
    pub serial: String,
    /// Name under `/dev/disk/by-id`.
    #[serde(default)]
    pub device_id: String,
    /// PCI address.
    #[serde(default)]
    pub pci_address: String,
    /// USB address.
    #[serde(default)]
    pub usb_address: String,
    /// File-system UUID.
    #[serde(default)]
    pub device_fs_uuid: String,
    /// Parent device type using it, e.g. `bcache` (LXD ≥ 5.21.5).
    #[serde(default)]
    pub used_by: String,
    /// Number of partitions.
    #[serde(default)]
    pub partitions: u32,
    /// The MicroCeph OSD number, when the disk already is an OSD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceph_osd: Option<u64>,
    /// The LXD storage pool whose source it is, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lxd_pool: Option<String>,
}

impl InventoryDisk {
    /// The path MicroCloud hands to LXD and MicroCeph (`FormatDiskPath`):
    /// `/dev/disk/by-id/<device_id>`, else `/dev/disk/by-path/<device_path>`,
    /// else `/dev/<id>`.
    pub fn path(&self) -> String {
        // Concatenated (exact size, no formatting machinery): called for
        // every selected disk.
        if !self.device_id.is_empty() {
            [BY_ID, &self.device_id].concat()
        } else if !self.device_path.is_empty() {
            [BY_PATH, &self.device_path].concat()
        } else {
            ["/dev/", &self.id].concat()
        }
    }

    /// Whether `path` names this disk by any of its three names (compared
    /// in place, without building the names).
    pub fn is_named(&self, path: &str) -> bool {
        path.strip_prefix("/dev/") == Some(self.id.as_str())
            || (!self.device_id.is_empty()
                && path.strip_prefix(BY_ID) == Some(self.device_id.as_str()))
            || (!self.device_path.is_empty()
                && path.strip_prefix(BY_PATH) == Some(self.device_path.as_str()))
    }

    /// The fields a disk filter can test.
    pub fn filter_view(&self) -> Disk {
        let mut view = Disk::default();
        self.write_filter_view(&mut view);
        view
    }

    /// Overwrites `view` with [`filter_view`](Self::filter_view), reusing
    /// its strings' buffers: the disk selection refills one set of views
    /// per system instead of allocating every text field of every disk.
    pub(crate) fn write_filter_view(&self, view: &mut Disk) {
        view.id.clone_from(&self.id);
        view.device.clone_from(&self.device);
        view.model.clone_from(&self.model);
        view.r#type.clone_from(&self.kind);
        view.read_only = self.read_only;
        view.mounted = self.mounted;
        view.size = self.size;
        view.removable = self.removable;
        view.wwn.clone_from(&self.wwn);
        view.numa_node = self.numa_node;
        view.device_path.clone_from(&self.device_path);
        view.block_size = self.block_size;
        view.firmware_version.clone_from(&self.firmware_version);
        view.rpm = self.rpm;
        view.serial.clone_from(&self.serial);
        view.device_id.clone_from(&self.device_id);
        view.pci_address.clone_from(&self.pci_address);
        view.usb_address.clone_from(&self.usb_address);
        view.device_fs_uuid.clone_from(&self.device_fs_uuid);
        view.used_by.clone_from(&self.used_by);
    }
}

/// Kind of network interface (LXD's `type` of an unmanaged network).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InterfaceKind {
    /// A physical NIC.
    Physical,
    /// A Linux bridge.
    Bridge,
    /// A bond.
    Bond,
    /// A VLAN interface.
    Vlan,
    /// The loopback interface.
    Loopback,
    /// Anything else (tunnels, veths, ...).
    Unknown,
}

/// Link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// Up.
    Up,
    /// Down.
    Down,
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// Interface name.
    pub name: String,
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: InterfaceKind,
    /// Link state.
    pub state: LinkState,
    /// Global-scope addresses in CIDR host form (`10.0.0.2/24`).
    #[serde(default)]
    pub addresses: Vec<IpNet>,
    /// The bridge this interface is a port of, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// Whether LXD manages it (such interfaces are never uplinks).
    #[serde(default)]
    pub managed: bool,
}

impl Interface {
    /// Whether it already carries a global address.
    pub fn has_address(&self) -> bool {
        !self.addresses.is_empty()
    }

    /// Why it cannot be the parent of the `UPLINK` network, or `None` when
    /// it can: MicroCloud's rule (unmanaged, up, physical/bridge/bond/vlan,
    /// no global address unless it is a bridge), plus "not a bridge port".
    pub fn uplink_unfit(&self) -> Option<String> {
        if self.managed {
            return Some("it is managed by LXD".into());
        }
        if self.state != LinkState::Up {
            return Some("it is down".into());
        }
        match self.kind {
            InterfaceKind::Physical
            | InterfaceKind::Bridge
            | InterfaceKind::Bond
            | InterfaceKind::Vlan => {}
            InterfaceKind::Loopback => return Some("it is the loopback interface".into()),
            InterfaceKind::Unknown => {
                return Some("its type is not physical, bridge, bond or vlan".into());
            }
        }
        if let Some(bridge) = &self.bridge {
            return Some(format!("it is a port of bridge {bridge}"));
        }
        if self.kind != InterfaceKind::Bridge && self.has_address() {
            let list: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
            return Some(format!("it carries {}", list.join(", ")));
        }
        None
    }
}

/// What an existing cluster holds (`cluster.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterState {
    /// LXD objects.
    #[serde(default)]
    pub lxd: LxdClusterState,
    /// MicroCeph state, when MicroCeph is clustered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microceph: Option<MicroCephClusterState>,
}

/// LXD objects of an existing cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LxdClusterState {
    /// Storage pools.
    #[serde(default)]
    pub storage_pools: Vec<ExistingPool>,
    /// Managed networks.
    #[serde(default)]
    pub networks: Vec<ExistingNetwork>,
    /// Profiles (of the default project).
    #[serde(default)]
    pub profiles: Vec<ExistingProfile>,
    /// Custom volumes.
    #[serde(default)]
    pub volumes: Vec<ExistingVolume>,
}

impl LxdClusterState {
    /// The pool called `name`.
    pub fn pool(&self, name: &str) -> Option<&ExistingPool> {
        self.storage_pools.iter().find(|p| p.name == name)
    }
    /// The network called `name`.
    pub fn network(&self, name: &str) -> Option<&ExistingNetwork> {
        self.networks.iter().find(|n| n.name == name)
    }
    /// The profile called `name`.
    pub fn profile(&self, name: &str) -> Option<&ExistingProfile> {
        self.profiles.iter().find(|p| p.name == name)
    }
}

/// The status LXD reports for a storage pool or a network: the constants
/// of `shared/api/storage_pool.go` and `shared/api/network.go` (LXD tag
/// `lxd-5.21.0`, the same five for both). Any other text is kept as it is
/// (`Other`), so an inventory reads and writes back unchanged; in JSON it
/// is LXD's string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ResourceStatus {
    /// Fully created on every member.
    Created,
    /// Defined on some members, not created yet.
    Pending,
    /// Its creation failed.
    Errored,
    /// LXD does not know.
    Unknown,
    /// It failed to initialise.
    Unavailable,
    /// A status this program does not know (or none: empty).
    Other(String),
}

impl ResourceStatus {
    /// LXD's text for it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Created => "Created",
            Self::Pending => "Pending",
            Self::Errored => "Errored",
            Self::Unknown => "Unknown",
            Self::Unavailable => "Unavailable",
            Self::Other(s) => s,
        }
    }
}

impl Default for ResourceStatus {
    /// No status reported (an empty string).
    fn default() -> Self {
        Self::Other(String::new())
    }
}

impl From<String> for ResourceStatus {
    fn from(s: String) -> Self {
        match s.as_str() {
            "Created" => Self::Created,
            "Pending" => Self::Pending,
            "Errored" => Self::Errored,
            "Unknown" => Self::Unknown,
            "Unavailable" => Self::Unavailable,
            _ => Self::Other(s),
        }
    }
}

impl From<&str> for ResourceStatus {
    fn from(s: &str) -> Self {
        Self::from(s.to_owned())
    }
}

impl From<ResourceStatus> for String {
    fn from(s: ResourceStatus) -> Self {
        match s {
            ResourceStatus::Other(s) => s,
            known => known.as_str().to_owned(),
        }
    }
}

impl std::fmt::Display for ResourceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An LXD storage pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExistingPool {
    /// Name.
    pub name: String,
    /// Driver.
    pub driver: String,
    /// `Created`, `Pending`, `Errored`, ...
    pub status: ResourceStatus,
    /// Global configuration.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Member-specific configuration by member; a member is listed once
    /// the pool is defined (pending or created) on it.
    #[serde(default)]
    pub members: BTreeMap<String, BTreeMap<String, String>>,
}

/// An LXD managed network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExistingNetwork {
    /// Name.
    pub name: String,
    /// Type (`physical`, `ovn`, `bridge`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// `Created`, `Pending`, ...
    pub status: ResourceStatus,
    /// Global configuration.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Member-specific configuration by member (as for pools).
    #[serde(default)]
    pub members: BTreeMap<String, BTreeMap<String, String>>,
}

/// An LXD profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExistingProfile {
    /// Name.
    pub name: String,
    /// Devices.
    #[serde(default)]
    pub devices: BTreeMap<String, BTreeMap<String, String>>,
}

/// An LXD custom volume on one member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExistingVolume {
    /// Pool.
    pub pool: String,
    /// Volume name.
    pub name: String,
    /// Member holding it.
    pub member: String,
}

/// MicroCeph state of an existing cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicroCephClusterState {
    /// `public_network` (`GET /1.0/configs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_network: Option<IpNet>,
    /// `cluster_network`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_network: Option<IpNet>,
    /// OSDs (`GET /1.0/disks`).
    #[serde(default)]
    pub osds: Vec<Osd>,
    /// OSD pools (`GET /1.0/pools`). MicroCeph does not report
    /// `osd_pool_default_size`; the `lxd_remote` pool shows it.
    #[serde(default)]
    pub pools: Vec<CephPool>,
}

/// One OSD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Osd {
    /// OSD number.
    pub osd: u64,
    /// Disk path as given when it was added.
    pub path: String,
    /// Member holding it.
    pub location: String,
}

/// One Ceph OSD pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CephPool {
    /// Pool name.
    pub name: String,
    /// Replication size.
    pub size: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_statuses_read_and_write_back_as_lxd_text() {
        for (text, status) in [
            ("Created", ResourceStatus::Created),
            ("Pending", ResourceStatus::Pending),
            ("Errored", ResourceStatus::Errored),
            ("Unknown", ResourceStatus::Unknown),
            ("Unavailable", ResourceStatus::Unavailable),
            ("Creating", ResourceStatus::Other("Creating".into())),
            ("created", ResourceStatus::Other("created".into())),
            ("", ResourceStatus::Other(String::new())),
        ] {
            let json = format!("\"{text}\"");
            let read: ResourceStatus = serde_json::from_str(&json).unwrap();
            assert_eq!(read, status, "{json}");
            assert_eq!(serde_json::to_string(&read).unwrap(), json);
            assert_eq!(read.to_string(), text);
        }
        assert_eq!(
            ResourceStatus::default(),
            ResourceStatus::Other(String::new())
        );
    }

    #[test]
    fn disk_paths_follow_microcloud() {
        let mut d = InventoryDisk {
            id: "sdb".into(),
            ..InventoryDisk::default()
        };
        assert_eq!(d.path(), "/dev/sdb");
        d.device_path = "pci-0000:05:00.0".into();
        assert_eq!(d.path(), "/dev/disk/by-path/pci-0000:05:00.0");
        d.device_id = "nvme-x".into();
        assert_eq!(d.path(), "/dev/disk/by-id/nvme-x");
        assert!(d.is_named("/dev/sdb") && d.is_named("/dev/disk/by-path/pci-0000:05:00.0"));
        assert!(d.is_named("/dev/disk/by-id/nvme-x"));
        assert!(!d.is_named("/dev/sdc"));
        assert!(!d.is_named("/dev/disk/by-id/nvme-x2") && !d.is_named("/dev/disk/by-id/"));
        assert!(!d.is_named("/dev/disk/by-path/nvme-x") && !d.is_named("sdb"));
        // An empty name never matches its bare directory.
        d.device_id.clear();
        assert!(!d.is_named("/dev/disk/by-id/"));
    }

    #[test]
    fn a_rewritten_filter_view_is_the_new_disks_view() {
        let full = InventoryDisk {
            id: "nvme0n1".into(),
            device: "259:0".into(),
            model: "Samsung".into(),
            kind: "nvme".into(),
            read_only: true,
            mounted: true,
            size: 1 << 40,
            removable: true,
            wwn: "eui.1".into(),
            numa_node: 1,
            device_path: "pci-0000:01:00.0-nvme-1".into(),
            block_size: 4096,
            firmware_version: "1B2QEXM7".into(),
            rpm: 7200,
            serial: "S4EVNX0N".into(),
            device_id: "nvme-Samsung_S4EVNX0N".into(),
            pci_address: "0000:01:00.0".into(),
            usb_address: "1:2".into(),
            device_fs_uuid: "0b1c".into(),
            used_by: "bcache".into(),
            partitions: 2,
            ceph_osd: Some(3),
            lxd_pool: Some("local".into()),
        };
        let sparse = InventoryDisk {
            id: "sdb".into(),
            kind: "hdd".into(),
            size: 1 << 30,
            ..InventoryDisk::default()
        };
        // Every field, written out: a field the view forgets fails here.
        let full_view = Disk {
            id: "nvme0n1".into(),
            device: "259:0".into(),
            model: "Samsung".into(),
            r#type: "nvme".into(),
            read_only: true,
            mounted: true,
            size: 1 << 40,
            removable: true,
            wwn: "eui.1".into(),
            numa_node: 1,
            device_path: "pci-0000:01:00.0-nvme-1".into(),
            block_size: 4096,
            firmware_version: "1B2QEXM7".into(),
            rpm: 7200,
            serial: "S4EVNX0N".into(),
            device_id: "nvme-Samsung_S4EVNX0N".into(),
            pci_address: "0000:01:00.0".into(),
            usb_address: "1:2".into(),
            device_fs_uuid: "0b1c".into(),
            used_by: "bcache".into(),
        };
        let sparse_view = Disk {
            id: "sdb".into(),
            r#type: "hdd".into(),
            size: 1 << 30,
            ..Disk::default()
        };
        assert_eq!(full.filter_view(), full_view);
        assert_eq!(sparse.filter_view(), sparse_view);
        // Rewriting a view in place leaves nothing of the previous disk.
        let mut view = full.filter_view();
        sparse.write_filter_view(&mut view);
        assert_eq!(view, sparse_view);
        full.write_filter_view(&mut view);
        assert_eq!(view, full_view);
    }

    #[test]
    fn system_files_must_match_their_names() {
        let json = r#"{"name":"a","address":"10.0.0.1","services":{}}"#;
        assert!(parse_system("a", json).is_ok());
        let e = parse_system("b", json).unwrap_err();
        assert_eq!(
            e.to_string(),
            "inventory file b.json describes system \"a\"; name the file a.json"
        );
        let e = parse_system("a", r#"{"name":"a","adress":"x"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "inventory file a.json is not a valid system inventory"
        );
        let dup = Inventory::new(
            [
                parse_system("a", json).unwrap(),
                parse_system("a", json).unwrap(),
            ],
            None,
        );
        assert_eq!(
            dup.unwrap_err().to_string(),
            "the inventory describes system \"a\" twice"
        );
    }

    #[test]
    fn uplink_fitness() {
        let iface = |kind, state, addrs: &[&str], bridge: Option<&str>| Interface {
            name: "x".into(),
            kind,
            state,
            addresses: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            bridge: bridge.map(Into::into),
            managed: false,
        };
        use InterfaceKind::*;
        use LinkState::*;
        assert_eq!(iface(Physical, Up, &[], None).uplink_unfit(), None);
        assert_eq!(
            iface(Bridge, Up, &["10.0.0.1/24"], None).uplink_unfit(),
            None
        );
        assert_eq!(
            iface(Physical, Up, &["10.0.0.1/24"], None).uplink_unfit(),
            Some("it carries 10.0.0.1/24".into())
        );
        assert_eq!(
            iface(Physical, Down, &[], None).uplink_unfit(),
            Some("it is down".into())
        );
        assert_eq!(
            iface(Physical, Up, &[], Some("br0")).uplink_unfit(),
            Some("it is a port of bridge br0".into())
        );
        assert_eq!(
            iface(Loopback, Up, &[], None).uplink_unfit(),
            Some("it is the loopback interface".into())
        );
    }
}
