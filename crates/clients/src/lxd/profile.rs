//! Profiles.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::wire::nullable;

/// `GET /1.0/profiles/<name>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Configuration.
    #[serde(default, deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Devices by name.
    #[serde(default, deserialize_with = "nullable")]
    pub devices: BTreeMap<String, BTreeMap<String, String>>,
    /// Users.
    #[serde(default, deserialize_with = "nullable")]
    pub used_by: Vec<String>,
}

impl Profile {
    /// The writable part, for a read-modify-write `PUT`.
    pub fn writable(&self) -> ProfilePut {
        ProfilePut {
            config: self.config.clone(),
            description: self.description.clone(),
            devices: self.devices.clone(),
        }
    }
}

/// `PUT` (replace) / `PATCH` (merge) `/1.0/profiles/<name>`. All three
/// fields are always sent: a `PUT` replaces each of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfilePut {
    /// Configuration.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Devices by name.
    #[serde(default)]
    pub devices: BTreeMap<String, BTreeMap<String, String>>,
}
