//! Storage pools and custom volumes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ObjectStatus;
use crate::wire::nullable;

/// `POST /1.0/storage-pools`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoragePoolsPost {
    /// Pool name.
    pub name: String,
    /// Driver (`zfs`, `ceph`, `cephfs`, `btrfs`, `dir`…).
    pub driver: String,
    /// Configuration (member-specific keys for `?target=`, global keys
    /// without).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// `GET /1.0/storage-pools?recursion=1` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoragePool {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Driver.
    #[serde(default)]
    pub driver: String,
    /// `Pending`, `Created`, `Errored`, `Unknown`, `Unavailable`.
    #[serde(default)]
    pub status: ObjectStatus,
    /// Configuration.
    #[serde(default, deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Users.
    #[serde(default, deserialize_with = "nullable")]
    pub used_by: Vec<String>,
    /// Members it exists on.
    #[serde(default, deserialize_with = "nullable")]
    pub locations: Vec<String>,
}

/// `POST /1.0/storage-pools/<pool>/volumes/custom`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageVolumesPost {
    /// Volume name.
    pub name: String,
    /// `custom`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Configuration.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `filesystem` or `block`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content_type: String,
}

impl StorageVolumesPost {
    /// A custom filesystem volume with default configuration.
    pub fn custom(name: &str) -> Self {
        StorageVolumesPost {
            name: name.to_owned(),
            kind: "custom".to_owned(),
            ..StorageVolumesPost::default()
        }
    }
}

/// `GET /1.0/storage-pools/<pool>/volumes/custom?recursion=1` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageVolume {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Type.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Configuration.
    #[serde(default, deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Content type.
    #[serde(default)]
    pub content_type: String,
    /// Member it lives on.
    #[serde(default)]
    pub location: String,
    /// Users.
    #[serde(default, deserialize_with = "nullable")]
    pub used_by: Vec<String>,
}
