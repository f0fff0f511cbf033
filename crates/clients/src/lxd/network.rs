//! Networks and their state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ObjectStatus;
use crate::wire::nullable;

/// `POST /1.0/networks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworksPost {
    /// Name.
    pub name: String,
    /// `physical`, `bridge`, `ovn`…
    #[serde(rename = "type")]
    pub kind: String,
    /// Configuration.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// `GET /1.0/networks?recursion=1` entries (managed and unmanaged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Type.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Managed by LXD.
    #[serde(default)]
    pub managed: bool,
    /// Status (empty for unmanaged).
    #[serde(default)]
    pub status: ObjectStatus,
    /// Configuration.
    #[serde(default, deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Users (`null` for unmanaged on 5.0.2).
    #[serde(default)]
    pub used_by: Option<Vec<String>>,
    /// Members (`null` for unmanaged).
    #[serde(default)]
    pub locations: Option<Vec<String>>,
    /// Project (newer LXD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// `GET /1.0/networks/<name>/state`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkState {
    /// Addresses.
    #[serde(default, deserialize_with = "nullable")]
    pub addresses: Vec<NetworkStateAddress>,
    /// Counters.
    #[serde(default)]
    pub counters: Value,
    /// MAC address.
    #[serde(default)]
    pub hwaddr: String,
    /// MTU.
    #[serde(default)]
    pub mtu: u64,
    /// `up` or `down`.
    #[serde(default)]
    pub state: String,
    /// `broadcast`, `loopback`, `point-to-point`…
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Bond details.
    #[serde(default)]
    pub bond: Value,
    /// Bridge details.
    #[serde(default)]
    pub bridge: Value,
    /// VLAN details.
    #[serde(default)]
    pub vlan: Value,
    /// OVN details.
    #[serde(default)]
    pub ovn: Value,
}

/// One address of an interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkStateAddress {
    /// `inet` or `inet6`.
    #[serde(default)]
    pub family: String,
    /// The address.
    #[serde(default)]
    pub address: String,
    /// Prefix length, as a string.
    #[serde(default)]
    pub netmask: String,
    /// `global`, `link`, `local`.
    #[serde(default)]
    pub scope: String,
}
