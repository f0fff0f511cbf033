//! `GET /1.0/resources`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::wire::{is_zero, nullable};

/// `GET /1.0/resources` (the parts used here; others are ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Storage.
    #[serde(default)]
    pub storage: ResourcesStorage,
    /// Network cards.
    #[serde(default)]
    pub network: ResourcesNetwork,
}

/// `resources.storage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourcesStorage {
    /// Disks.
    #[serde(default, deserialize_with = "nullable")]
    pub disks: Vec<ResourcesStorageDisk>,
    /// Number of disks.
    #[serde(default)]
    pub total: u64,
}

/// One disk (`ResourcesStorageDisk`, every field).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourcesStorageDisk {
    /// Kernel name (`nvme0n1`).
    #[serde(default)]
    pub id: String,
    /// `major:minor`.
    #[serde(default)]
    pub device: String,
    /// Model.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    /// `nvme`, `scsi`, `virtio`, `cdrom`…
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Read-only.
    #[serde(default)]
    pub read_only: bool,
    /// Mounted (LXD 5.21+; `None` when not reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounted: Option<bool>,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Removable.
    #[serde(default)]
    pub removable: bool,
    /// WWN.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub wwn: String,
    /// NUMA node.
    #[serde(default)]
    pub numa_node: u64,
    /// by-path name (`pci-0000:05:00.0-nvme-1`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device_path: String,
    /// Block size.
    #[serde(default)]
    pub block_size: u64,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub firmware_version: String,
    /// Rotation speed (0 for SSDs, 1 when unknown).
    #[serde(default)]
    pub rpm: u64,
    /// Serial number.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serial: String,
    /// by-id name (`nvme-eui.…`).
    #[serde(default)]
    pub device_id: String,
    /// Partitions.
    #[serde(default, deserialize_with = "nullable")]
    pub partitions: Vec<ResourcesStorageDiskPartition>,
    /// PCI address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pci_address: String,
    /// USB address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub usb_address: String,
    /// Filesystem UUID (newer LXD; `None` when not reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_fs_uuid: Option<String>,
    /// Parent device type, e.g. `bcache` (newer LXD; `None` when not
    /// reported, which current LXD also does when unused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<String>,
}

/// One partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourcesStorageDiskPartition {
    /// Kernel name.
    #[serde(default)]
    pub id: String,
    /// `major:minor`.
    #[serde(default)]
    pub device: String,
    /// Read-only.
    #[serde(default)]
    pub read_only: bool,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Partition number.
    #[serde(default)]
    pub partition: u64,
    /// Mounted (newer LXD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounted: Option<bool>,
    /// Filesystem UUID (newer LXD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_fs_uuid: Option<String>,
}

/// `resources.network`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourcesNetwork {
    /// Cards.
    #[serde(default, deserialize_with = "nullable")]
    pub cards: Vec<ResourcesNetworkCard>,
    /// Number of cards.
    #[serde(default)]
    pub total: u64,
}

/// One network card.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourcesNetworkCard {
    /// Kernel driver.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    /// Driver version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver_version: String,
    /// Ports.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<ResourcesNetworkCardPort>,
    /// SR-IOV details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sriov: Option<Value>,
    /// vDPA details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdpa: Option<Value>,
    /// NUMA node.
    #[serde(default)]
    pub numa_node: u64,
    /// PCI address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pci_address: String,
    /// Vendor.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vendor: String,
    /// Vendor id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vendor_id: String,
    /// Product.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub product: String,
    /// Product id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub product_id: String,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub firmware_version: String,
    /// USB address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub usb_address: String,
}

/// One port of a network card.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourcesNetworkCardPort {
    /// Interface name.
    #[serde(default)]
    pub id: String,
    /// MAC address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Port number on the card.
    #[serde(default)]
    pub port: u64,
    /// `ethernet` or `infiniband`.
    #[serde(default)]
    pub protocol: String,
    /// Supported modes.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub supported_modes: Vec<String>,
    /// Supported ports.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub supported_ports: Vec<String>,
    /// Port type.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub port_type: String,
    /// Transceiver type.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub transceiver_type: String,
    /// Auto-negotiation.
    #[serde(default)]
    pub auto_negotiation: bool,
    /// Link detected.
    #[serde(default)]
    pub link_detected: bool,
    /// Link speed in Mbit/s.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub link_speed: u64,
    /// Duplex.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub link_duplex: String,
    /// InfiniBand details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infiniband: Option<Value>,
}
