//! LXD: wire types, the [`LxdApi`] trait and its HTTP client [`LxdClient`].
//!
//! Field names are exactly LXD's (`canonical/lxd:shared/api/*.go`),
//! including the camelCase `serverName` / `expiresAt` in token operation
//! metadata and the capitalised `Name` / `Version` / `Remote` of
//! `storage_supported_drivers`.
//!
//! # Version differences handled here
//!
//! * Join and trust tokens: LXD 5.0.x takes them as `cluster_password`
//!   (`PUT /1.0/cluster`) and `password` (`POST /1.0/certificates`); LXD
//!   with the `explicit_trust_token` API extension takes `cluster_token`
//!   and `trust_token` (and current LXD answers `password` with 501). The
//!   caller picks with [`ApiExtensions::token_field`], from the server's
//!   advertised extensions, never from its version string.
//! * Creations (`POST /1.0/storage-pools`, `/1.0/networks`, volumes) and
//!   profile updates answer 200/201 sync on older LXD and 202 async on
//!   newer; every mutating call accepts both and waits for operations.
//! * Join tokens are never returned as strings: `POST /1.0/cluster/members`
//!   starts a `token` operation whose metadata this client re-encodes as
//!   base64(JSON `{server_name, fingerprint, addresses, secret,
//!   expires_at}`), with Go's zero time when LXD sets no expiry (5.0.2), so
//!   that LXD's own decoder accepts it.
//!
//! Resource types omit-when-empty exactly the fields LXD tags `omitempty`,
//! so fakes can serve them unchanged; fields that only newer LXD reports
//! (`mounted`, `device_fs_uuid`, `used_by`) are `Option`s, `None` meaning
//! "not reported".

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::Operation;
use crate::error::RequestContext;
use crate::rest::{AsyncReply, CallOptions, Completion, NO_BODY, Reply, RestClient};
use crate::wire::{is_zero, nullable};
use crate::{Error, Service, Transport, encode_component, with_target};

pub use crate::wire::GO_ZERO_TIME;

/// The API extension that introduced `cluster_token` and `trust_token`.
pub const EXPLICIT_TRUST_TOKEN: &str = "explicit_trust_token";

/// A value with the `ETag` it was read with.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged<T> {
    /// The value.
    pub value: T,
    /// The `ETag` header, for `If-Match`.
    pub etag: Option<String>,
}

// ---------------------------------------------------------------------------
// Server

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

// ---------------------------------------------------------------------------
// Clustering

/// `GET /1.0/cluster`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// This member's name.
    #[serde(default)]
    pub server_name: String,
    /// Whether clustering is enabled.
    #[serde(default)]
    pub enabled: bool,
    /// Member-specific keys a joiner must supply.
    #[serde(default, deserialize_with = "nullable")]
    pub member_config: Vec<ClusterMemberConfigKey>,
}

/// One member-specific configuration key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMemberConfigKey {
    /// `storage-pool` or `network`.
    pub entity: String,
    /// The pool or network name.
    pub name: String,
    /// The key.
    pub key: String,
    /// The value.
    #[serde(default)]
    pub value: String,
    /// Description (only in `GET` answers).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// The body of `PUT /1.0/cluster`: enabling clustering on the first member
/// ([`ClusterPut::enable`]) or joining ([`ClusterJoin::to_put`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterPut {
    /// This member's name.
    pub server_name: String,
    /// `true` to enable or join.
    pub enabled: bool,
    /// An existing member's address (join).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_address: String,
    /// The cluster certificate, PEM (join).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_certificate: String,
    /// This member's cluster address (join).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server_address: String,
    /// The join token, LXD with `explicit_trust_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_token: Option<String>,
    /// The join token, LXD 5.0.x.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_password: Option<String>,
    /// Member-specific keys (join).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_config: Option<Vec<ClusterMemberConfigKey>>,
}

impl ClusterPut {
    /// `{"server_name": name, "enabled": true}`: enable clustering.
    pub fn enable(server_name: &str) -> Self {
        ClusterPut {
            server_name: server_name.to_owned(),
            enabled: true,
            ..ClusterPut::default()
        }
    }
}

/// What a joining member sends, independent of the LXD version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterJoin {
    /// The joiner's member name (must equal the token's `server_name`).
    pub server_name: String,
    /// An existing member's address (one of the token's addresses).
    pub cluster_address: String,
    /// The cluster certificate, PEM, whose fingerprint is in the token.
    pub cluster_certificate: String,
    /// The joiner's own cluster address (`ip:8443`).
    pub server_address: String,
    /// The encoded join token.
    pub token: String,
    /// Member-specific keys.
    pub member_config: Vec<ClusterMemberConfigKey>,
}

impl ClusterJoin {
    /// The wire body, with the token in the field `field` selects.
    pub fn to_put(&self, field: TokenField) -> ClusterPut {
        let (cluster_token, cluster_password) = match field {
            TokenField::Explicit => (Some(self.token.clone()), None),
            TokenField::Password => (None, Some(self.token.clone())),
        };
        ClusterPut {
            server_name: self.server_name.clone(),
            enabled: true,
            cluster_address: self.cluster_address.clone(),
            cluster_certificate: self.cluster_certificate.clone(),
            server_address: self.server_address.clone(),
            cluster_token,
            cluster_password,
            member_config: Some(self.member_config.clone()),
        }
    }
}

/// `GET /1.0/cluster/members?recursion=1` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMember {
    /// Member name.
    #[serde(default)]
    pub server_name: String,
    /// `https://ip:8443`.
    #[serde(default)]
    pub url: String,
    /// Whether it is a database node.
    #[serde(default)]
    pub database: bool,
    /// `Online`, `Offline`, `Evacuated`…
    #[serde(default)]
    pub status: String,
    /// Status message.
    #[serde(default)]
    pub message: String,
    /// Architecture.
    #[serde(default)]
    pub architecture: String,
    /// Roles (`database`, `database-leader`…).
    #[serde(default, deserialize_with = "nullable")]
    pub roles: Vec<String>,
    /// Failure domain.
    #[serde(default)]
    pub failure_domain: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Member configuration.
    #[serde(default, deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Cluster groups.
    #[serde(default, deserialize_with = "nullable")]
    pub groups: Vec<String>,
}

/// The decoded form of an LXD cluster join token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMemberJoinToken {
    /// The joiner's name.
    pub server_name: String,
    /// The cluster certificate's fingerprint.
    pub fingerprint: String,
    /// Online members' cluster addresses.
    pub addresses: Vec<String>,
    /// The secret.
    pub secret: String,
    /// RFC 3339 expiry; [`GO_ZERO_TIME`] when none.
    pub expires_at: String,
}

impl ClusterMemberJoinToken {
    /// base64(JSON), as `lxc cluster add` prints it.
    pub fn encode(&self) -> String {
        encode_token(self)
    }

    /// Decodes a token, requiring what LXD's decoder requires (non-empty
    /// `server_name`, `addresses`, `secret`, `fingerprint`).
    pub fn decode(token: &str) -> Result<Self, Error> {
        let t: Self = decode_token("LXD join", token)?;
        let missing = [
            ("server_name", t.server_name.is_empty()),
            ("addresses", t.addresses.is_empty()),
            ("secret", t.secret.is_empty()),
            ("fingerprint", t.fingerprint.is_empty()),
        ];
        if let Some((field, _)) = missing.iter().find(|(_, empty)| *empty) {
            return Err(Error::InvalidToken {
                kind: "LXD join",
                reason: format!("`{field}` is empty"),
            });
        }
        Ok(t)
    }
}

/// A join token LXD issued, and the operation that holds it (cancel it with
/// [`LxdApi::cancel_operation`] to revoke an unused token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedJoinToken {
    /// The decoded token.
    pub token: ClusterMemberJoinToken,
    /// The `token` operation's URL.
    pub operation: String,
}

impl IssuedJoinToken {
    /// The encoded token.
    pub fn encoded(&self) -> String {
        self.token.encode()
    }
}

/// Metadata of the `token` operation from `POST /1.0/cluster/members`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinTokenOperationMetadata {
    /// The joiner's name (camelCase on the wire).
    #[serde(rename = "serverName", default)]
    pub server_name: String,
    /// The secret.
    #[serde(default)]
    pub secret: String,
    /// The cluster certificate's fingerprint.
    #[serde(default)]
    pub fingerprint: String,
    /// Online members' addresses.
    #[serde(default, deserialize_with = "nullable")]
    pub addresses: Vec<String>,
    /// RFC 3339 expiry (camelCase; absent on LXD 5.0.2 by default).
    #[serde(rename = "expiresAt", default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// `POST /1.0/cluster/members`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMembersPost {
    /// The joiner's name.
    pub server_name: String,
}

// ---------------------------------------------------------------------------
// Certificates

/// `POST /1.0/certificates`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificatesPost {
    /// `client` (or `server`, `metrics`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Name for the certificate.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// base64 of the certificate DER.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// `true` to issue a trust token instead of adding a certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<bool>,
    /// A trust token (`explicit_trust_token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_token: Option<String>,
    /// A trust token on LXD 5.0.x.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl CertificatesPost {
    /// Adds a client certificate directly (over the unix socket).
    pub fn add_client(name: &str, certificate_base64_der: &str) -> Self {
        CertificatesPost {
            kind: "client".to_owned(),
            name: name.to_owned(),
            certificate: Some(certificate_base64_der.to_owned()),
            ..CertificatesPost::default()
        }
    }

    /// Asks for a trust token for a future client named `name`.
    pub fn token_request(name: &str) -> Self {
        CertificatesPost {
            kind: "client".to_owned(),
            name: name.to_owned(),
            token: Some(true),
            ..CertificatesPost::default()
        }
    }

    /// Presents a trust token (sent over HTTPS with the client
    /// certificate to be trusted), in the field `field` selects.
    pub fn with_token(token: &str, field: TokenField) -> Self {
        let (trust_token, password) = match field {
            TokenField::Explicit => (Some(token.to_owned()), None),
            TokenField::Password => (None, Some(token.to_owned())),
        };
        CertificatesPost {
            kind: "client".to_owned(),
            trust_token,
            password,
            ..CertificatesPost::default()
        }
    }
}

/// The decoded form of an LXD certificate (trust) token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateAddToken {
    /// The client's name.
    pub client_name: String,
    /// The server certificate's fingerprint.
    pub fingerprint: String,
    /// The server's addresses.
    pub addresses: Vec<String>,
    /// The secret.
    pub secret: String,
    /// RFC 3339 expiry; [`GO_ZERO_TIME`] when none.
    pub expires_at: String,
}

impl CertificateAddToken {
    /// base64(JSON).
    pub fn encode(&self) -> String {
        encode_token(self)
    }

    /// Decodes a token.
    pub fn decode(token: &str) -> Result<Self, Error> {
        decode_token("LXD certificate", token)
    }
}

/// A trust token LXD issued, and the operation that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificateToken {
    /// The decoded token.
    pub token: CertificateAddToken,
    /// The `token` operation's URL.
    pub operation: String,
}

impl IssuedCertificateToken {
    /// The encoded token.
    pub fn encoded(&self) -> String {
        self.token.encode()
    }
}

#[derive(Debug, Deserialize)]
struct CertificateTokenOperationMetadata {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    fingerprint: String,
    #[serde(default, deserialize_with = "nullable")]
    addresses: Vec<String>,
    #[serde(default)]
    request: CertificateTokenRequest,
    #[serde(rename = "expiresAt", default)]
    expires_at: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct CertificateTokenRequest {
    #[serde(default)]
    name: String,
}

fn encode_token<T: Serialize>(token: &T) -> String {
    // Serializing plain string/array structs to JSON cannot fail.
    let json = serde_json::to_vec(token).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(json)
}

fn decode_token<T: serde::de::DeserializeOwned>(
    kind: &'static str,
    token: &str,
) -> Result<T, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|e| Error::InvalidToken {
            kind,
            reason: format!("not base64: {e}"),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::InvalidToken {
        kind,
        reason: format!("not the expected JSON: {e}"),
    })
}

// ---------------------------------------------------------------------------
// Resources

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

// ---------------------------------------------------------------------------
// Storage pools and volumes

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
    pub status: String,
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

// ---------------------------------------------------------------------------
// Networks

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
    pub status: String,
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

// ---------------------------------------------------------------------------
// Profiles

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

// ---------------------------------------------------------------------------
// The trait

/// The LXD calls the bootstrapper makes. [`LxdClient`] implements it over
/// HTTP; tests implement it in memory.
///
/// `target` arguments add `?target=<member>` (cluster-member-specific
/// requests). Mutating calls succeed on 200/201 sync and on 202 once the
/// operation succeeded.
pub trait LxdApi: Send + Sync {
    /// `GET /internal/ready`: 200 once the daemon finished starting.
    fn ready(&self) -> impl Future<Output = Result<(), Error>> + Send;

    /// `GET /1.0`, with its ETag.
    fn server(
        &self,
        target: Option<&str>,
    ) -> impl Future<Output = Result<Tagged<Server>, Error>> + Send;

    /// The advertised API extensions (`GET /1.0`).
    fn api_extensions(&self) -> impl Future<Output = Result<ApiExtensions, Error>> + Send;

    /// `PUT /1.0`: replaces the whole configuration.
    fn put_server(
        &self,
        body: &ServerPut,
        target: Option<&str>,
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `PATCH /1.0`: merges keys into the configuration.
    fn patch_server(
        &self,
        body: &ServerPut,
        target: Option<&str>,
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `GET /1.0/cluster`, with its ETag.
    fn cluster(&self) -> impl Future<Output = Result<Tagged<Cluster>, Error>> + Send;

    /// `PUT /1.0/cluster` `{server_name, enabled: true}` on the first member.
    fn enable_clustering(
        &self,
        server_name: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `PUT /1.0/cluster` on a joiner, with the token in `field`.
    fn join_cluster(
        &self,
        join: &ClusterJoin,
        field: TokenField,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `POST /1.0/cluster/members`: a join token for `server_name`.
    fn issue_join_token(
        &self,
        server_name: &str,
    ) -> impl Future<Output = Result<IssuedJoinToken, Error>> + Send;

    /// `GET /1.0/cluster/members?recursion=1`.
    fn cluster_members(&self) -> impl Future<Output = Result<Vec<ClusterMember>, Error>> + Send;

    /// `DELETE /1.0/cluster/members/<name>?force=1`: removes a member from
    /// the cluster's database without contacting it.
    fn remove_member(&self, name: &str) -> impl Future<Output = Result<(), Error>> + Send;

    /// `POST /1.0/certificates` adding a certificate directly (unix socket).
    fn add_certificate(
        &self,
        body: &CertificatesPost,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `POST /1.0/certificates` `{token: true}`: a trust token for a client.
    fn issue_certificate_token(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<IssuedCertificateToken, Error>> + Send;

    /// `POST /1.0/certificates` presenting a trust token (over HTTPS with
    /// the certificate to trust), in the field `field` selects.
    fn trust_with_token(
        &self,
        token: &str,
        field: TokenField,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `GET /1.0/resources`.
    fn resources(
        &self,
        target: Option<&str>,
    ) -> impl Future<Output = Result<Resources, Error>> + Send;

    /// `GET /1.0/storage-pools?recursion=1[&target=]`. LXD ignores
    /// `target` here and, when clustered, omits the member-specific keys
    /// (`source`, `size`…): read one member's view with
    /// [`LxdApi::storage_pool`].
    fn storage_pools(
        &self,
        target: Option<&str>,
    ) -> impl Future<Output = Result<Vec<StoragePool>, Error>> + Send;

    /// `GET /1.0/storage-pools/<name>[?target=]`. On a cluster, the answer
    /// without a target omits member-specific keys (`source`, `size`…);
    /// with `?target=<member>` it is that member's view, including them.
    fn storage_pool(
        &self,
        name: &str,
        target: Option<&str>,
    ) -> impl Future<Output = Result<StoragePool, Error>> + Send;

    /// `POST /1.0/storage-pools[?target=]`: pending per member with a
    /// target, then global without.
    fn create_storage_pool(
        &self,
        body: &StoragePoolsPost,
        target: Option<&str>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `GET /1.0/storage-pools/<pool>/volumes/custom?recursion=1[&target=]`.
    /// Current LXD lists only the target member's (and remote) volumes;
    /// LXD 5.0.2 ignores `target` and lists every member's, so check
    /// [`StorageVolume::location`].
    fn custom_volumes(
        &self,
        pool: &str,
        target: Option<&str>,
    ) -> impl Future<Output = Result<Vec<StorageVolume>, Error>> + Send;

    /// `POST /1.0/storage-pools/<pool>/volumes/custom[?target=]`.
    fn create_custom_volume(
        &self,
        pool: &str,
        body: &StorageVolumesPost,
        target: Option<&str>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `GET /1.0/networks?recursion=1` (managed and unmanaged).
    fn networks(
        &self,
        target: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Network>, Error>> + Send;

    /// `GET /1.0/networks/<name>[?target=]`: as for
    /// [`LxdApi::storage_pool`], member-specific keys (`parent`…) only
    /// with a target.
    fn network(
        &self,
        name: &str,
        target: Option<&str>,
    ) -> impl Future<Output = Result<Network, Error>> + Send;

    /// `GET /1.0/networks/<name>/state`.
    fn network_state(
        &self,
        name: &str,
        target: Option<&str>,
    ) -> impl Future<Output = Result<NetworkState, Error>> + Send;

    /// `POST /1.0/networks[?target=]`.
    fn create_network(
        &self,
        body: &NetworksPost,
        target: Option<&str>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `GET /1.0/profiles?recursion=1` (the default project's profiles).
    fn profiles(&self) -> impl Future<Output = Result<Vec<Profile>, Error>> + Send;

    /// `GET /1.0/profiles/<name>`, with its ETag.
    fn profile(&self, name: &str) -> impl Future<Output = Result<Tagged<Profile>, Error>> + Send;

    /// `PUT /1.0/profiles/<name>`.
    fn put_profile(
        &self,
        name: &str,
        body: &ProfilePut,
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `PATCH /1.0/profiles/<name>`.
    fn patch_profile(
        &self,
        name: &str,
        body: &ProfilePut,
        if_match: Option<&str>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `GET /1.0/operations?recursion=1`, every status flattened.
    fn operations(&self) -> impl Future<Output = Result<Vec<Operation>, Error>> + Send;

    /// `DELETE /1.0/operations/<id>` (revokes token operations). Takes an
    /// operation URL or a bare id.
    fn cancel_operation(&self, operation: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

// ---------------------------------------------------------------------------
// The HTTP client

/// [`LxdApi`] over a [`Transport`].
#[derive(Debug, Clone)]
pub struct LxdClient {
    rest: RestClient,
}

impl LxdClient {
    /// A client for the LXD at `transport`, on the node called `node`.
    pub fn new(transport: Transport, node: &str) -> Self {
        LxdClient {
            rest: RestClient::new(transport, Service::Lxd, node),
        }
    }

    /// A client from a configured [`RestClient`] (for custom timeouts).
    pub fn from_rest(rest: RestClient) -> Self {
        LxdClient { rest }
    }

    /// The request layer.
    pub fn rest(&self) -> &RestClient {
        &self.rest
    }

    fn ctx(&self, method: &http::Method, path: &str) -> RequestContext {
        self.rest.context(method, path)
    }

    async fn tagged<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Tagged<T>, Error> {
        let reply = self
            .rest
            .sync_reply(http::Method::GET, path, NO_BODY, CallOptions::default())
            .await?;
        let value =
            crate::rest::decode_metadata(&self.ctx(&http::Method::GET, path), reply.metadata)?;
        Ok(Tagged {
            value,
            etag: reply.etag,
        })
    }

    async fn mutate<B>(
        &self,
        method: http::Method,
        path: &str,
        body: &B,
        options: CallOptions,
    ) -> Result<Completion, Error>
    where
        B: Serialize + Sync + ?Sized,
    {
        self.rest.run(method, path, Some(body), options).await
    }

    /// Starts a `token` operation and returns it without waiting (token
    /// operations stay `Running` until used).
    async fn start_token_operation<B>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<(Operation, String), Error>
    where
        B: Serialize + Sync + ?Sized,
    {
        match self
            .rest
            .call(http::Method::POST, path, Some(body), CallOptions::default())
            .await?
        {
            Reply::Async(reply) => {
                let AsyncReply { url, operation } = *reply;
                Ok((operation, url))
            }
            Reply::Sync(_) => Err(Error::Protocol {
                ctx: Box::new(self.ctx(&http::Method::POST, path)),
                detail: "expected a token operation (202), got a synchronous answer".to_owned(),
            }),
        }
    }
}

fn operation_metadata<T: serde::de::DeserializeOwned>(
    ctx: &RequestContext,
    operation: &Operation,
) -> Result<T, Error> {
    let metadata = Value::Object(operation.metadata.clone().unwrap_or_default());
    serde_json::from_value(metadata).map_err(|source| Error::Decode {
        ctx: Box::new(ctx.clone()),
        what: "operation metadata",
        source,
    })
}

impl LxdApi for LxdClient {
    async fn ready(&self) -> Result<(), Error> {
        self.rest
            .sync_reply(
                http::Method::GET,
                "/internal/ready",
                NO_BODY,
                CallOptions::default(),
            )
            .await
            .map(drop)
    }

    async fn server(&self, target: Option<&str>) -> Result<Tagged<Server>, Error> {
        self.tagged(&with_target("/1.0", target)).await
    }

    async fn api_extensions(&self) -> Result<ApiExtensions, Error> {
        Ok(self.server(None).await?.value.extensions())
    }

    async fn put_server(
        &self,
        body: &ServerPut,
        target: Option<&str>,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let path = with_target("/1.0", target);
        self.mutate(
            http::Method::PUT,
            &path,
            body,
            CallOptions::if_match(if_match),
        )
        .await
        .map(drop)
    }

    async fn patch_server(
        &self,
        body: &ServerPut,
        target: Option<&str>,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let path = with_target("/1.0", target);
        self.mutate(
            http::Method::PATCH,
            &path,
            body,
            CallOptions::if_match(if_match),
        )
        .await
        .map(drop)
    }

    async fn cluster(&self) -> Result<Tagged<Cluster>, Error> {
        self.tagged("/1.0/cluster").await
    }

    async fn enable_clustering(&self, server_name: &str) -> Result<(), Error> {
        self.mutate(
            http::Method::PUT,
            "/1.0/cluster",
            &ClusterPut::enable(server_name),
            CallOptions::default(),
        )
        .await
        .map(drop)
    }

    async fn join_cluster(&self, join: &ClusterJoin, field: TokenField) -> Result<(), Error> {
        self.mutate(
            http::Method::PUT,
            "/1.0/cluster",
            &join.to_put(field),
            CallOptions::default(),
        )
        .await
        .map(drop)
    }

    async fn issue_join_token(&self, server_name: &str) -> Result<IssuedJoinToken, Error> {
        let path = "/1.0/cluster/members";
        let body = ClusterMembersPost {
            server_name: server_name.to_owned(),
        };
        let (operation, url) = self.start_token_operation(path, &body).await?;
        let ctx = self.ctx(&http::Method::POST, path);
        let meta: JoinTokenOperationMetadata = operation_metadata(&ctx, &operation)?;
        let token = ClusterMemberJoinToken {
            server_name: meta.server_name,
            fingerprint: meta.fingerprint,
            addresses: meta.addresses,
            secret: meta.secret,
            expires_at: meta
                .expires_at
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| GO_ZERO_TIME.to_owned()),
        };
        // Re-check through the decoder so that a token LXD would refuse is
        // reported here, where the cause is known.
        ClusterMemberJoinToken::decode(&token.encode()).map_err(|e| Error::Protocol {
            ctx: Box::new(ctx.clone()),
            detail: format!("the token operation {url} cannot make a usable join token: {e}"),
        })?;
        if token.server_name != server_name {
            return Err(Error::Protocol {
                ctx: Box::new(ctx),
                detail: format!(
                    "the token operation {url} is for {:?}, not {server_name:?}",
                    token.server_name
                ),
            });
        }
        Ok(IssuedJoinToken {
            token,
            operation: url,
        })
    }

    async fn cluster_members(&self) -> Result<Vec<ClusterMember>, Error> {
        self.rest
            .get::<Option<Vec<ClusterMember>>>("/1.0/cluster/members?recursion=1")
            .await
            .map(Option::unwrap_or_default)
    }

    async fn remove_member(&self, name: &str) -> Result<(), Error> {
        let path = format!("/1.0/cluster/members/{}?force=1", encode_component(name));
        self.rest
            .sync_reply(http::Method::DELETE, &path, NO_BODY, CallOptions::default())
            .await
            .map(drop)
    }

    async fn add_certificate(&self, body: &CertificatesPost) -> Result<(), Error> {
        self.mutate(
            http::Method::POST,
            "/1.0/certificates",
            body,
            CallOptions::default(),
        )
        .await
        .map(drop)
    }

    async fn issue_certificate_token(&self, name: &str) -> Result<IssuedCertificateToken, Error> {
        let path = "/1.0/certificates";
        let (operation, url) = self
            .start_token_operation(path, &CertificatesPost::token_request(name))
            .await?;
        let ctx = self.ctx(&http::Method::POST, path);
        let meta: CertificateTokenOperationMetadata = operation_metadata(&ctx, &operation)?;
        let token = CertificateAddToken {
            client_name: if meta.request.name.is_empty() {
                name.to_owned()
            } else {
                meta.request.name
            },
            fingerprint: meta.fingerprint,
            addresses: meta.addresses,
            secret: meta.secret,
            expires_at: meta
                .expires_at
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| GO_ZERO_TIME.to_owned()),
        };
        if token.secret.is_empty() || token.fingerprint.is_empty() || token.addresses.is_empty() {
            return Err(Error::Protocol {
                ctx: Box::new(ctx),
                detail: format!(
                    "the token operation {url} lacks a secret, fingerprint or addresses"
                ),
            });
        }
        Ok(IssuedCertificateToken {
            token,
            operation: url,
        })
    }

    async fn trust_with_token(&self, token: &str, field: TokenField) -> Result<(), Error> {
        self.mutate(
            http::Method::POST,
            "/1.0/certificates",
            &CertificatesPost::with_token(token, field),
            CallOptions::default(),
        )
        .await
        .map(drop)
    }

    async fn resources(&self, target: Option<&str>) -> Result<Resources, Error> {
        self.rest.get(&with_target("/1.0/resources", target)).await
    }

    async fn storage_pools(&self, target: Option<&str>) -> Result<Vec<StoragePool>, Error> {
        self.rest
            .get::<Option<Vec<StoragePool>>>(&with_target("/1.0/storage-pools?recursion=1", target))
            .await
            .map(Option::unwrap_or_default)
    }

    async fn storage_pool(&self, name: &str, target: Option<&str>) -> Result<StoragePool, Error> {
        let path = format!("/1.0/storage-pools/{}", encode_component(name));
        self.rest.get(&with_target(&path, target)).await
    }

    async fn create_storage_pool(
        &self,
        body: &StoragePoolsPost,
        target: Option<&str>,
    ) -> Result<(), Error> {
        let path = with_target("/1.0/storage-pools", target);
        self.mutate(http::Method::POST, &path, body, CallOptions::default())
            .await
            .map(drop)
    }

    async fn custom_volumes(
        &self,
        pool: &str,
        target: Option<&str>,
    ) -> Result<Vec<StorageVolume>, Error> {
        let path = format!(
            "/1.0/storage-pools/{}/volumes/custom?recursion=1",
            encode_component(pool)
        );
        self.rest
            .get::<Option<Vec<StorageVolume>>>(&with_target(&path, target))
            .await
            .map(Option::unwrap_or_default)
    }

    async fn create_custom_volume(
        &self,
        pool: &str,
        body: &StorageVolumesPost,
        target: Option<&str>,
    ) -> Result<(), Error> {
        let path = format!(
            "/1.0/storage-pools/{}/volumes/custom",
            encode_component(pool)
        );
        self.mutate(
            http::Method::POST,
            &with_target(&path, target),
            body,
            CallOptions::default(),
        )
        .await
        .map(drop)
    }

    async fn networks(&self, target: Option<&str>) -> Result<Vec<Network>, Error> {
        self.rest
            .get::<Option<Vec<Network>>>(&with_target("/1.0/networks?recursion=1", target))
            .await
            .map(Option::unwrap_or_default)
    }

    async fn network(&self, name: &str, target: Option<&str>) -> Result<Network, Error> {
        let path = format!("/1.0/networks/{}", encode_component(name));
        self.rest.get(&with_target(&path, target)).await
    }

    async fn network_state(&self, name: &str, target: Option<&str>) -> Result<NetworkState, Error> {
        let path = format!("/1.0/networks/{}/state", encode_component(name));
        self.rest.get(&with_target(&path, target)).await
    }

    async fn create_network(&self, body: &NetworksPost, target: Option<&str>) -> Result<(), Error> {
        let path = with_target("/1.0/networks", target);
        self.mutate(http::Method::POST, &path, body, CallOptions::default())
            .await
            .map(drop)
    }

    async fn profiles(&self) -> Result<Vec<Profile>, Error> {
        self.rest
            .get::<Option<Vec<Profile>>>("/1.0/profiles?recursion=1")
            .await
            .map(Option::unwrap_or_default)
    }

    async fn profile(&self, name: &str) -> Result<Tagged<Profile>, Error> {
        self.tagged(&format!("/1.0/profiles/{}", encode_component(name)))
            .await
    }

    async fn put_profile(
        &self,
        name: &str,
        body: &ProfilePut,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let path = format!("/1.0/profiles/{}", encode_component(name));
        self.mutate(
            http::Method::PUT,
            &path,
            body,
            CallOptions::if_match(if_match),
        )
        .await
        .map(drop)
    }

    async fn patch_profile(
        &self,
        name: &str,
        body: &ProfilePut,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let path = format!("/1.0/profiles/{}", encode_component(name));
        self.mutate(
            http::Method::PATCH,
            &path,
            body,
            CallOptions::if_match(if_match),
        )
        .await
        .map(drop)
    }

    async fn operations(&self) -> Result<Vec<Operation>, Error> {
        let by_status: Option<BTreeMap<String, Option<Vec<Operation>>>> =
            self.rest.get("/1.0/operations?recursion=1").await?;
        Ok(by_status
            .unwrap_or_default()
            .into_values()
            .flatten()
            .flatten()
            .collect())
    }

    async fn cancel_operation(&self, operation: &str) -> Result<(), Error> {
        let path = if operation.starts_with('/') {
            operation.to_owned()
        } else {
            format!("/1.0/operations/{}", encode_component(operation))
        };
        self.rest
            .sync_reply(http::Method::DELETE, &path, NO_BODY, CallOptions::default())
            .await
            .map(drop)
    }
}
