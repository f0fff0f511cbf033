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
    /// Which field carries join and trust tokens on this server:
    /// [`TokenField::for_server`] of its version and extensions.
    pub fn token_field(&self) -> TokenField {
        TokenField::for_server(&self.environment.server_version, &self.extensions())
    }

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
}

/// Where a token goes in `PUT /1.0/cluster` and `POST /1.0/certificates`.
///
/// What each release decodes (`shared/api/cluster.go`,
/// `shared/api/certificate.go`, `lxd/api_cluster.go`,
/// `lxd/certificates.go`):
///
/// | LXD | `cluster_password` / `password` | `cluster_token` / `trust_token` |
/// |---|---|---|
/// | 5.0.x .. 5.21.1 | decoded | unknown keys, ignored |
/// | 5.21.2 .. 5.21.x (`explicit_trust_token` added) | decoded (deprecated) | decoded |
/// | 6.1 | ignored | decoded |
/// | 6.2 .. main | ignored / `password`: 501 | decoded |
///
/// A token in a field the release ignores fails the join late, inside
/// its operation ("Failed to update cluster trust: Failed getting
/// existing certificate: not authorized"), after the joiner has already
/// changed its own address configuration; so the field is chosen up
/// front rather than retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenField {
    /// `cluster_token` / `trust_token` (`explicit_trust_token`).
    Explicit,
    /// `cluster_password` / `password` (LXD 5.0.x and before 5.21.2).
    Password,
}

/// The first LXD release whose API decodes `cluster_token` and
/// `trust_token` (tag `lxd-5.21.2`, which added `explicit_trust_token`).
pub const FIRST_TOKEN_FIELD_RELEASE: (u32, u32, u32) = (5, 21, 2);

impl TokenField {
    /// The field for a server, by capability rather than by extension name
    /// alone: the new field when `explicit_trust_token` is advertised, and
    /// also whenever the server is not known to be older than 5.21.2 (a
    /// daemon can decode the new field without advertising the extension,
    /// as Incus does, and LXD 6.1+ ignores the old one). The old field
    /// only for a version that parses as earlier than 5.21.2.
    pub fn for_server(server_version: &str, extensions: &ApiExtensions) -> Self {
        if extensions.has(EXPLICIT_TRUST_TOKEN) {
            return TokenField::Explicit;
        }
        match parse_version(server_version) {
            Some(v) if v < FIRST_TOKEN_FIELD_RELEASE => TokenField::Password,
            _ => TokenField::Explicit,
        }
    }
}

/// `major.minor[.patch]` from the start of a version string (`5.0.2`,
/// `6.9`, `5.21.3 LTS`); `None` when it does not start that way.
pub fn parse_version(version: &str) -> Option<(u32, u32, u32)> {
    let head = version
        .trim()
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?;
    let mut parts = head.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = match parts.next() {
        Some(p) => p.parse().ok()?,
        None => 0,
    };
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_field_by_capability() {
        let with = ApiExtensions::new([EXPLICIT_TRUST_TOKEN.to_owned()]);
        let without = ApiExtensions::default();
        // (version, advertises explicit_trust_token, field)
        let cases = [
            ("5.0.2", false, TokenField::Password),
            ("5.0.9", false, TokenField::Password),
            ("5.21.1", false, TokenField::Password),
            ("4.0.9", false, TokenField::Password),
            ("5.21.2", true, TokenField::Explicit),
            ("6.9", true, TokenField::Explicit),
            // Not known to be old: the new field (Incus-like daemons).
            ("5.21.2", false, TokenField::Explicit),
            ("6.0.0", false, TokenField::Explicit),
            ("", false, TokenField::Explicit),
            ("git-1234", false, TokenField::Explicit),
            // The extension wins over any version string.
            ("5.0.2", true, TokenField::Explicit),
        ];
        for (version, advertised, want) in cases {
            let ext = if advertised { &with } else { &without };
            assert_eq!(
                TokenField::for_server(version, ext),
                want,
                "{version} {advertised}"
            );
        }
    }

    #[test]
    fn versions_parse_from_their_numeric_start() {
        assert_eq!(parse_version("5.0.2"), Some((5, 0, 2)));
        assert_eq!(parse_version("6.9"), Some((6, 9, 0)));
        assert_eq!(parse_version("5.21.3 LTS"), Some((5, 21, 3)));
        assert_eq!(parse_version("5"), None);
        assert_eq!(parse_version("x5.0"), None);
    }
}
