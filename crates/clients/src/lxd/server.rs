//! `GET /1.0`, `PUT`/`PATCH /1.0` and the API extensions.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::EXPLICIT_TRUST_TOKEN;
use crate::wire::nullable;

/// `GET /1.0`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// Server configuration. Values are normally strings, but some LXD
    /// versions report write-only keys as `true`.
    #[serde(default, deserialize_with = "nullable")]
    pub config: BTreeMap<String, Value>,
    /// Supported API extensions.
    #[serde(default, deserialize_with = "nullable")]
    pub api_extensions: Vec<String>,
    /// `stable`, `development`…
    #[serde(default)]
    pub api_status: String,
    /// `1.0`.
    #[serde(default)]
    pub api_version: String,
    /// `trusted` or `untrusted`.
    #[serde(default)]
    pub auth: String,
    /// Whether the server is public.
    #[serde(default)]
    pub public: bool,
    /// Supported authentication methods.
    #[serde(default, deserialize_with = "nullable")]
    pub auth_methods: Vec<String>,
    /// Environment (only for trusted clients).
    #[serde(default)]
    pub environment: ServerEnvironment,
}

impl Server {
    /// The advertised API extensions.
    pub fn extensions(&self) -> ApiExtensions {
        ApiExtensions::new(self.api_extensions.iter().cloned())
    }

    /// A configuration value as a string, if it is one.
    pub fn config_str(&self, key: &str) -> Option<&str> {
        self.config.get(key)?.as_str()
    }
}

/// `GET /1.0` → `environment`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerEnvironment {
    /// Listen addresses (`ip:port`).
    #[serde(default, deserialize_with = "nullable")]
    pub addresses: Vec<String>,
    /// Supported architectures.
    #[serde(default, deserialize_with = "nullable")]
    pub architectures: Vec<String>,
    /// The server (or, when clustered, cluster) certificate, PEM.
    #[serde(default)]
    pub certificate: String,
    /// Its fingerprint.
    #[serde(default)]
    pub certificate_fingerprint: String,
    /// Instance drivers (`lxc | qemu`).
    #[serde(default)]
    pub driver: String,
    /// Their versions.
    #[serde(default)]
    pub driver_version: String,
    /// `nftables` or `xtables`.
    #[serde(default)]
    pub firewall: String,
    /// Kernel name.
    #[serde(default)]
    pub kernel: String,
    /// Kernel architecture.
    #[serde(default)]
    pub kernel_architecture: String,
    /// Kernel features.
    #[serde(default, deserialize_with = "nullable")]
    pub kernel_features: BTreeMap<String, String>,
    /// Kernel version.
    #[serde(default)]
    pub kernel_version: String,
    /// LXC features.
    #[serde(default, deserialize_with = "nullable")]
    pub lxc_features: BTreeMap<String, String>,
    /// OS name.
    #[serde(default)]
    pub os_name: String,
    /// OS version.
    #[serde(default)]
    pub os_version: String,
    /// Current project.
    #[serde(default)]
    pub project: String,
    /// `lxd`.
    #[serde(default)]
    pub server: String,
    /// Whether the server is part of a cluster.
    #[serde(default)]
    pub server_clustered: bool,
    /// Event mode.
    #[serde(default)]
    pub server_event_mode: String,
    /// The member name (`none` when not clustered).
    #[serde(default)]
    pub server_name: String,
    /// Daemon PID.
    #[serde(default)]
    pub server_pid: i64,
    /// For example `5.0.2`.
    #[serde(default)]
    pub server_version: String,
    /// Storage drivers in use.
    #[serde(default)]
    pub storage: String,
    /// Their versions.
    #[serde(default)]
    pub storage_version: String,
    /// Available storage drivers.
    #[serde(default, deserialize_with = "nullable")]
    pub storage_supported_drivers: Vec<StorageDriver>,
}

/// `environment.storage_supported_drivers[]`: LXD's struct has no JSON tags,
/// so the keys are capitalised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageDriver {
    /// Driver name.
    #[serde(rename = "Name", default)]
    pub name: String,
    /// Driver version.
    #[serde(rename = "Version", default)]
    pub version: String,
    /// Whether it is remote storage.
    #[serde(rename = "Remote", default)]
    pub remote: bool,
}

/// `PUT /1.0` (replaces the whole configuration) and `PATCH /1.0` (merges).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerPut {
    /// Configuration keys.
    pub config: BTreeMap<String, String>,
}

/// The set of API extensions a server advertises.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiExtensions(BTreeSet<String>);

impl ApiExtensions {
    /// From a list of names.
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        ApiExtensions(names.into_iter().collect())
    }

    /// Whether the extension is advertised.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    /// Which field carries join and trust tokens on this server.
    pub fn token_field(&self) -> TokenField {
        if self.has(EXPLICIT_TRUST_TOKEN) {
            TokenField::Explicit
        } else {
            TokenField::Password
        }
    }
}

/// Where a token goes in `PUT /1.0/cluster` and `POST /1.0/certificates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenField {
    /// `cluster_token` / `trust_token` (`explicit_trust_token`).
    Explicit,
    /// `cluster_password` / `password` (LXD 5.0.x and before 5.21.2).
    Password,
}
