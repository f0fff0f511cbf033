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
//!   caller picks with [`Server::token_field`] ([`TokenField::for_server`]):
//!   the new fields unless the server is known to be older than 5.21.2.
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

use std::future::Future;

use crate::Error;
use crate::envelope::Operation;

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

mod client;
mod cluster;
mod network;
mod profile;
mod resources;
mod server;
mod status;
mod storage;
mod tokens;

pub use client::LxdClient;
pub use cluster::*;
pub use network::*;
pub use profile::*;
pub use resources::*;
pub use server::*;
pub use status::ObjectStatus;
pub use storage::*;
pub use tokens::*;

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
