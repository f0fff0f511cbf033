//! Per-node hardware inventory: disks and network interfaces.
//!
//! A fixture is JSON. Disks carry every field of LXD's
//! `ResourcesStorageDisk`; interfaces carry what `GET /1.0/networks` and
//! `GET /1.0/networks/<name>/state` report. String values may contain the
//! placeholders `{ip}` (the node's loopback address), `{index}` (1-based
//! node number) and `{name}` (node name), substituted per node, so one
//! fixture can describe every node of a simulation.
//!
//! Disks are also the shared resource between services of one node: a disk
//! taken by an LXD storage pool cannot become a Ceph OSD and vice versa
//! (see [`Claims`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// One partition of a disk (LXD `ResourcesStorageDiskPartition`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// Kernel name (`nvme0n1p1`).
    pub id: String,
    /// `major:minor`.
    pub device: String,
    /// Read-only flag.
    #[serde(default)]
    pub read_only: bool,
    /// Size in bytes.
    pub size: u64,
    /// Partition number.
    pub partition: u64,
    /// Mounted (LXD ≥ 5.21).
    #[serde(default)]
    pub mounted: bool,
    /// File system UUID (newer LXD).
    #[serde(default)]
    pub device_fs_uuid: String,
}

/// One disk (LXD `ResourcesStorageDisk`, every field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    /// Kernel name (`nvme0n1`).
    pub id: String,
    /// `major:minor`.
    pub device: String,
    /// Model string.
    #[serde(default)]
    pub model: String,
    /// Bus type (`nvme`, `scsi`, `virtio`, `cdrom`, `usb`…).
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Read-only flag.
    #[serde(default)]
    pub read_only: bool,
    /// Mounted (LXD ≥ 5.21 only).
    #[serde(default)]
    pub mounted: bool,
    /// Size in bytes.
    pub size: u64,
    /// Removable flag.
    #[serde(default)]
    pub removable: bool,
    /// World wide name.
    #[serde(default)]
    pub wwn: String,
    /// NUMA node.
    #[serde(default)]
    pub numa_node: u64,
    /// By-path name.
    #[serde(default)]
    pub device_path: String,
    /// Logical block size.
    #[serde(default)]
    pub block_size: u64,
    /// Firmware version.
    #[serde(default)]
    pub firmware_version: String,
    /// Rotation speed (0 = SSD).
    #[serde(default)]
    pub rpm: u64,
    /// Serial number.
    #[serde(default)]
    pub serial: String,
    /// By-id name.
    #[serde(default)]
    pub device_id: String,
    /// Partitions.
    #[serde(default)]
    pub partitions: Vec<Partition>,
    /// PCI address.
    #[serde(default)]
    pub pci_address: String,
    /// USB address.
    #[serde(default)]
    pub usb_address: String,
    /// File system UUID (LXD ≥ 5.21.4).
    #[serde(default)]
    pub device_fs_uuid: String,
    /// Parent device type using the disk (`bcache`…; LXD ≥ 5.21.5).
    #[serde(default)]
    pub used_by: String,
}

impl Disk {
    /// The paths that name this disk: `/dev/<id>`,
    /// `/dev/disk/by-id/<device_id>`, `/dev/disk/by-path/<device_path>`.
    pub fn paths(&self) -> Vec<String> {
        let mut p = vec![format!("/dev/{}", self.id)];
        if !self.device_id.is_empty() {
            p.push(format!("/dev/disk/by-id/{}", self.device_id));
        }
        if !self.device_path.is_empty() {
            p.push(format!("/dev/disk/by-path/{}", self.device_path));
        }
        p
    }

    /// The path MicroCloud would use (`FormatDiskPath`).
    pub fn preferred_path(&self) -> String {
        if !self.device_id.is_empty() {
            format!("/dev/disk/by-id/{}", self.device_id)
        } else if !self.device_path.is_empty() {
            format!("/dev/disk/by-path/{}", self.device_path)
        } else {
            format!("/dev/{}", self.id)
        }
    }

    /// LXD's JSON for this disk; `modern` adds the fields LXD 5.0.2 lacks.
    pub(crate) fn to_lxd(&self, modern: bool) -> serde_json::Value {
        let mut v = serde_json::json!({
            "id": self.id,
            "device": self.device,
            "read_only": self.read_only,
            "size": self.size,
            "removable": self.removable,
            "numa_node": self.numa_node,
            "block_size": self.block_size,
            "rpm": self.rpm,
            "device_id": self.device_id,
            "partitions": self.partitions.iter().map(|p| {
                let mut pv = serde_json::json!({
                    "id": p.id, "device": p.device, "read_only": p.read_only,
                    "size": p.size, "partition": p.partition,
                });
                if modern && let Some(o) = pv.as_object_mut() {
                    o.insert("mounted".into(), p.mounted.into());
                    o.insert("device_fs_uuid".into(), p.device_fs_uuid.clone().into());
                }
                pv
            }).collect::<Vec<_>>(),
        });
        if let Some(o) = v.as_object_mut() {
            for (k, val) in [
                ("model", &self.model),
                ("type", &self.kind),
                ("wwn", &self.wwn),
                ("device_path", &self.device_path),
                ("firmware_version", &self.firmware_version),
                ("serial", &self.serial),
                ("pci_address", &self.pci_address),
                ("usb_address", &self.usb_address),
            ] {
                if !val.is_empty() {
                    o.insert(k.into(), val.clone().into());
                }
            }
            if modern {
                o.insert("mounted".into(), self.mounted.into());
                o.insert("device_fs_uuid".into(), self.device_fs_uuid.clone().into());
                if !self.used_by.is_empty() {
                    o.insert("used_by".into(), self.used_by.clone().into());
                }
            }
        }
        v
    }
}

/// One address of an interface (LXD `NetworkStateAddress`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// `inet` or `inet6`.
    pub family: String,
    /// The address.
    pub address: String,
    /// Prefix length as a string.
    pub netmask: String,
    /// `global`, `link`, `local`.
    pub scope: String,
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// Interface name.
    pub name: String,
    /// LXD network type: `physical`, `bridge`, `bond`, `vlan`,
    /// `loopback`, `unknown`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `up` or `down`.
    #[serde(default = "up")]
    pub state: String,
    /// State type: `broadcast`, `loopback`, `point-to-point`.
    #[serde(default = "broadcast")]
    pub link_type: String,
    /// MAC address.
    #[serde(default)]
    pub hwaddr: String,
    /// MTU.
    #[serde(default = "mtu")]
    pub mtu: u64,
    /// Addresses.
    #[serde(default)]
    pub addresses: Vec<Address>,
    /// Kernel driver (for `resources.network.cards`).
    #[serde(default)]
    pub driver: String,
    /// PCI address of the card.
    #[serde(default)]
    pub pci_address: String,
}

fn up() -> String {
    "up".into()
}
fn broadcast() -> String {
    "broadcast".into()
}
fn mtu() -> u64 {
    1500
}

/// A node's inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Host name (LXD `server_name` before clustering, microcluster name
    /// before init). Defaults to the node name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// CPU architecture.
    #[serde(default = "arch")]
    pub architecture: String,
    /// Block devices.
    pub disks: Vec<Disk>,
    /// Network interfaces.
    pub interfaces: Vec<Interface>,
    /// The interface of the IPv4 default route, if the machine has one;
    /// it must be one of `interfaces`. The simulator writes it as
    /// `<state>/<node>/proc/net/route` (the kernel's format), which the
    /// tool reads for a `--sim-dir` machine as it reads `/proc/net/route`
    /// on a real one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_route: Option<String>,
}

fn arch() -> String {
    "x86_64".into()
}

/// The embedded default fixture (three NVMe/SCSI data disks, a
/// partitioned root disk, a CD-ROM; a management NIC carrying the node's
/// address, an unaddressed uplink NIC and a second addressed NIC).
pub const DEFAULT_FIXTURE: &str = include_str!("../fixtures/default-node.json");

impl Inventory {
    /// Parses a fixture, substituting the placeholders for one node.
    pub fn from_json(
        text: &str,
        origin: &str,
        node_name: &str,
        index: usize,
        ip: std::net::IpAddr,
    ) -> Result<Self, SimError> {
        let text = text
            .replace("{ip}", &ip.to_string())
            .replace("{index}", &index.to_string())
            .replace("{name}", node_name);
        let inv: Inventory = serde_json::from_str(&text).map_err(|e| SimError::Inventory {
            origin: origin.to_string(),
            detail: e.to_string(),
        })?;
        let mut seen = std::collections::BTreeSet::new();
        for d in &inv.disks {
            for p in d.paths() {
                if !seen.insert(p.clone()) {
                    return Err(SimError::Inventory {
                        origin: origin.to_string(),
                        detail: format!("disk path {p} appears twice"),
                    });
                }
            }
        }
        if let Some(route) = &inv.default_route
            && inv.interface(route).is_none()
        {
            return Err(SimError::Inventory {
                origin: origin.to_string(),
                detail: format!("default_route {route} is not one of the interfaces"),
            });
        }
        Ok(inv)
    }

    /// The IPv4 routing table in `/proc/net/route` format: the default
    /// route through `default_route` (gateway: the first address of its
    /// first IPv4 subnet), or the header alone.
    pub fn proc_net_route(&self) -> String {
        let mut out = String::from(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
        );
        if let Some(iface) = self.default_route.as_ref().and_then(|r| self.interface(r)) {
            let gateway = iface
                .addresses
                .iter()
                .filter(|a| a.family == "inet")
                .find_map(|a| {
                    let ip: std::net::Ipv4Addr = a.address.parse().ok()?;
                    let prefix: u32 = a.netmask.parse().ok().filter(|p| *p <= 32)?;
                    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
                    let first = (u32::from(ip) & mask).checked_add(1)?;
                    Some(std::net::Ipv4Addr::from(first))
                })
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
            // The kernel prints addresses as host-order hex of the
            // network-order bytes (little endian on x86).
            let hex = u32::from_le_bytes(gateway.octets());
            out.push_str(&format!(
                "{}\t00000000\t{hex:08X}\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
                iface.name
            ));
        }
        out
    }

    /// The embedded default inventory for node `index` (1-based).
    pub fn default_for(
        node_name: &str,
        index: usize,
        ip: std::net::IpAddr,
    ) -> Result<Self, SimError> {
        Self::from_json(DEFAULT_FIXTURE, "embedded", node_name, index, ip)
    }

    /// Finds the disk a path names.
    pub fn disk_by_path(&self, path: &str) -> Option<&Disk> {
        self.disks
            .iter()
            .find(|d| d.paths().iter().any(|p| p == path))
    }

    /// Finds an interface by name.
    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.name == name)
    }

    /// LXD `GET /1.0/resources` metadata.
    pub(crate) fn lxd_resources(&self, modern: bool) -> serde_json::Value {
        serde_json::json!({
            "cpu": {"architecture": self.architecture, "sockets": [], "total": 4},
            "memory": {"used": 2_147_483_648u64, "total": 17_179_869_184u64},
            "gpu": {"cards": [], "total": 0},
            "network": self.lxd_network_resources(),
            "storage": self.lxd_storage_resources(modern),
            "usb": {"devices": [], "total": 0},
            "pci": {"devices": [], "total": 0},
            "system": {"uuid": "", "vendor": "QEMU", "product": "Standard PC (Q35 + ICH9, 2009)", "family": "", "version": "", "sku": "", "serial": "", "type": "virtual-machine", "firmware": {"date": "", "vendor": "", "version": ""}, "chassis": {"serial": "", "type": "", "vendor": "", "version": ""}, "motherboard": {"product": "", "serial": "", "vendor": "", "version": ""}},
        })
    }

    /// `ResourcesStorage` (`{"disks":[…],"total":n}`).
    pub(crate) fn lxd_storage_resources(&self, modern: bool) -> serde_json::Value {
        serde_json::json!({
            "disks": self.disks.iter().map(|d| d.to_lxd(modern)).collect::<Vec<_>>(),
            "total": self.disks.len(),
        })
    }

    fn lxd_network_resources(&self) -> serde_json::Value {
        let cards: Vec<_> = self
            .interfaces
            .iter()
            .filter(|i| i.kind == "physical")
            .map(|i| {
                let mut card = serde_json::json!({
                    "driver": i.driver,
                    "driver_version": "1.0.0",
                    "ports": [{
                        "id": i.name, "address": i.hwaddr, "port": 0, "protocol": "ethernet",
                        "auto_negotiation": false, "link_detected": i.state == "up",
                    }],
                    "numa_node": 0,
                });
                if !i.pci_address.is_empty()
                    && let Some(o) = card.as_object_mut()
                {
                    o.insert("pci_address".into(), i.pci_address.clone().into());
                }
                card
            })
            .collect();
        serde_json::json!({"total": cards.len(), "cards": cards})
    }
}

/// A node's hardware as its services see it at this moment. It starts as
/// the fixture; a test may change it while the node runs (a disk swapped,
/// mounted or pulled between planning and applying) through
/// [`crate::SimNode::edit_inventory`]. Readers take a snapshot per request.
#[derive(Debug)]
pub(crate) struct Hardware {
    current: RwLock<Arc<Inventory>>,
}

impl Hardware {
    pub(crate) fn new(inventory: Inventory) -> Self {
        Hardware {
            current: RwLock::new(Arc::new(inventory)),
        }
    }

    /// The hardware now.
    pub(crate) fn get(&self) -> Arc<Inventory> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Changes the hardware; requests after this see the change.
    pub(crate) fn edit(&self, change: impl FnOnce(&mut Inventory)) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = Inventory::clone(&current);
        change(&mut next);
        *current = Arc::new(next);
    }
}

/// Which service holds which disk on one node.
#[derive(Debug, Default)]
pub struct Claims {
    by_disk: Mutex<BTreeMap<String, String>>,
}

impl Claims {
    /// Claims `disk_id` for `holder`; returns the current holder when taken.
    pub(crate) fn claim(&self, disk_id: &str, holder: &str) -> Result<(), String> {
        let Ok(mut m) = self.by_disk.lock() else {
            return Err("claims poisoned".into());
        };
        if let Some(h) = m.get(disk_id) {
            return Err(h.clone());
        }
        m.insert(disk_id.to_string(), holder.to_string());
        Ok(())
    }
    /// The holder of a disk.
    pub fn holder(&self, disk_id: &str) -> Option<String> {
        self.by_disk
            .lock()
            .ok()
            .and_then(|m| m.get(disk_id).cloned())
    }
    /// All claims (disk kernel name → holder).
    pub fn all(&self) -> BTreeMap<String, String> {
        self.by_disk.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod route_tests {
    use super::*;

    fn with_route(route: &str) -> Result<Inventory, SimError> {
        let mut v: serde_json::Value = serde_json::from_str(DEFAULT_FIXTURE).unwrap_or_default();
        v["default_route"] = route.into();
        Inventory::from_json(
            &v.to_string(),
            "test",
            "node1",
            1,
            std::net::IpAddr::from([10, 1, 2, 7]),
        )
    }

    #[test]
    fn the_default_route_is_written_as_proc_net_route() {
        let inv = with_route("enp5s0").unwrap_or_else(|e| panic!("{e}"));
        let table = inv.proc_net_route();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2, "{table}");
        // Gateway 10.1.2.1, as the kernel prints it on x86 (0102010A).
        assert_eq!(
            lines[1],
            "enp5s0\t00000000\t0102010A\t0003\t0\t0\t0\t00000000\t0\t0\t0"
        );
        let none = Inventory::default_for("node1", 1, std::net::IpAddr::from([10, 1, 2, 7]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(none.proc_net_route().lines().count(), 1);
    }

    #[test]
    fn a_default_route_must_name_an_interface() {
        let e = with_route("eth9").map(drop).unwrap_err().to_string();
        assert!(
            e.contains("default_route eth9 is not one of the interfaces"),
            "{e}"
        );
    }
}
