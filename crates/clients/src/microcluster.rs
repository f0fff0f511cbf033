//! The microcluster core API shared by the MicroCloud agent, MicroCeph and
//! MicroOVN: readiness, bootstrap and join, join tokens, members.
//!
//! # Two endpoint families
//!
//! microcluster renamed its own endpoints from `/cluster/...` to
//! `/core/...` (`canonical/microcluster` commit d0da9b5, "Rename core
//! endpoints", 2024-06-06, first in v1.0.0; the rename also added the
//! internal extension `internal:rename_core_endpoints`). Daemons built on a
//! microcluster from before it serve the old [`Family::Cluster`]: MicroCeph
//! reef (`v18.2.4+reef` vendors microcluster 3d587817830c, whose
//! `internal/rest/types/server.go` defines `cluster/1.0`,
//! `cluster/internal`, `cluster/control`). MicroCeph squid and newer
//! (microcluster v2.0.5, v3) and MicroOVN 24.03 and newer (v2.0.5, v3)
//! serve [`Family::Core`]. The families also differ in where tokens live:
//!
//! | call | [`Family::Core`] | [`Family::Cluster`] |
//! |---|---|---|
//! | server info, ready, members | `/core/1.0`, `/core/1.0/ready`, `/core/1.0/cluster` | `/cluster/1.0`, `/cluster/1.0/ready`, `/cluster/1.0/cluster` |
//! | bootstrap, join | `POST /core/control` | `POST /cluster/control` |
//! | issue, list tokens | `/core/control/tokens` | `/cluster/1.0/tokens` |
//! | delete a token | `DELETE /core/1.0/tokens/<name>` | `DELETE /cluster/1.0/tokens/<name>` |
//!
//! [`MicroclusterClient`] finds the family once per daemon and keeps it
//! (shared by the client's clones): it asks `GET /core/1.0`, and only when
//! that answers 404 (an old daemon's catch-all `mux.NotFoundHandler`
//! renders LXD's `response.NotFound(nil)`: 404 `not found`,
//! `internal/daemon/daemon.go` at 3d587817830c) it asks `GET /cluster/1.0`.
//! Any other failure is returned and nothing is kept, so the next call asks
//! again.
//!
//! Bootstrap and join are synchronous `POST .../control` calls that block
//! until the daemon has finished, so they use the long request timeout.
//!
//! Quirks handled here:
//! * `extensions` is a bare string when there is exactly one, otherwise an
//!   array (and `null` when Go's slice is nil); [`Extensions`] reads all
//!   three and writes the first two as microcluster does. A v2+ daemon
//!   always lists two internal extensions, so an array; the old family
//!   lists one (`internal:runtime_extension_v1`), so a bare string unless
//!   the service adds its own;
//! * `POST /core/control/tokens` returns the encoded token string itself as
//!   `metadata`; [`JoinToken`] decodes it (base64 of JSON `{secret,
//!   fingerprint, join_addresses}`);
//! * a failed bootstrap or join becomes [`Error::ControlFailed`], which is
//!   permanent (except 503, daemon not ready): the daemon may be half
//!   initialised and a blind retry does not help;
//! * `GET /core/1.0/cluster` answers 503 until the daemon is bootstrapped
//!   or joined: an [`Error::Status`] with status 503, transient.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::sync::OnceCell;

use crate::rest::{CallOptions, NO_BODY, RestClient};
use crate::wire::nullable;
use crate::{Error, Service, Transport, encode_component};

/// A microcluster extension list (string-or-array on the wire).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions(pub Vec<String>);

impl Extensions {
    /// Whether the extension is listed.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|e| e == name)
    }
}

impl Serialize for Extensions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [single] => serializer.serialize_str(single),
            all => all.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Extensions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            One(String),
            Many(Vec<String>),
        }
        Ok(match Option::<Shape>::deserialize(deserializer)? {
            None => Extensions::default(),
            Some(Shape::One(s)) => Extensions(vec![s]),
            Some(Shape::Many(v)) => Extensions(v),
        })
    }
}

/// Which microcluster endpoint family a daemon serves (see the module
/// documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `/core/1.0`, `/core/control`, `/core/internal` (microcluster v1.0.0
    /// and newer).
    Core,
    /// `/cluster/1.0`, `/cluster/control`, `/cluster/internal` (older
    /// microcluster, as in MicroCeph reef).
    Cluster,
}

impl Family {
    /// The public endpoint prefix: `/core/1.0` or `/cluster/1.0`.
    pub fn public(self) -> &'static str {
        match self {
            Family::Core => "/core/1.0",
            Family::Cluster => "/cluster/1.0",
        }
    }

    /// The unix-socket-only prefix: `/core/control` or `/cluster/control`.
    pub fn control(self) -> &'static str {
        match self {
            Family::Core => "/core/control",
            Family::Cluster => "/cluster/control",
        }
    }

    /// Where tokens are issued and listed: `/core/control/tokens` (v2+:
    /// `UnixEndpoints`) or `/cluster/1.0/tokens` (old: `PublicEndpoints`,
    /// `internal/rest/resources/resources.go` at 3d587817830c).
    pub fn tokens(self) -> &'static str {
        match self {
            Family::Core => "/core/control/tokens",
            Family::Cluster => "/cluster/1.0/tokens",
        }
    }

    /// One token record: `/core/1.0/tokens/<name>` or
    /// `/cluster/1.0/tokens/<name>`.
    pub fn token(self, name: &str) -> String {
        format!("{}/tokens/{}", self.public(), encode_component(name))
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Family::Core => "core",
            Family::Cluster => "cluster",
        })
    }
}

/// `GET /core/1.0`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Member name (hostname before initialisation).
    #[serde(default)]
    pub name: String,
    /// `ip:port`, or empty before initialisation.
    #[serde(default)]
    pub address: String,
    /// Daemon version.
    #[serde(default)]
    pub version: String,
    /// Whether the database is open (bootstrapped or joined).
    #[serde(default)]
    pub ready: bool,
    /// API extensions.
    #[serde(default)]
    pub extensions: Extensions,
}

/// `POST /core/control`. All five fields are always sent, as microcluster's
/// own client does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// `true` to bootstrap.
    pub bootstrap: bool,
    /// Service-specific init configuration.
    #[serde(default, deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// The join token (join only).
    #[serde(default)]
    pub join_token: String,
    /// This member's `ip:port`.
    pub address: String,
    /// This member's name.
    pub name: String,
}

impl Control {
    /// A bootstrap request.
    pub fn bootstrap(name: &str, address: SocketAddr, config: BTreeMap<String, String>) -> Self {
        Control {
            bootstrap: true,
            config,
            join_token: String::new(),
            address: address.to_string(),
            name: name.to_owned(),
        }
    }

    /// A join request (`name` must equal the token's name).
    pub fn join(
        name: &str,
        address: SocketAddr,
        join_token: &str,
        config: BTreeMap<String, String>,
    ) -> Self {
        Control {
            bootstrap: false,
            config,
            join_token: join_token.to_owned(),
            address: address.to_string(),
            name: name.to_owned(),
        }
    }
}

/// `POST /core/control/tokens` (v2+: `internal/rest/types/tokens.go`
/// `TokenRequest`). The old family's body is `TokenRecord{name, token}`
/// (no expiry: its tokens never expire), so only `name` goes there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequest {
    /// The joiner's name.
    pub name: String,
    /// Validity in nanoseconds (Go `time.Duration`). microcluster v2+
    /// (`internal/rest/resources/tokens.go` `tokensPost`, v2.0.4 and v3)
    /// sets an expiry when it is not 0 (so a negative value gives a token
    /// that has already expired), and never expires a token sent with 0.
    /// A join with an expired token fails with 500 `Token expired`.
    pub expire_after: i64,
}

impl TokenRequest {
    /// A request for `name`, valid for `expire_after`.
    pub fn new(name: &str, expire_after: Duration) -> Self {
        TokenRequest {
            name: name.to_owned(),
            expire_after: i64::try_from(expire_after.as_nanos()).unwrap_or(i64::MAX),
        }
    }
}

/// `GET /core/control/tokens` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The joiner's name.
    #[serde(default)]
    pub name: String,
    /// The encoded token.
    #[serde(default)]
    pub token: String,
    /// RFC 3339 expiry (Go zero time when none; absent in the old
    /// family).
    #[serde(default)]
    pub expires_at: String,
}

/// `GET /core/1.0/cluster` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMember {
    /// Member name.
    #[serde(default)]
    pub name: String,
    /// `ip:port`.
    #[serde(default)]
    pub address: String,
    /// The member's certificate, PEM.
    #[serde(default)]
    pub certificate: String,
    /// dqlite role (`voter`, `stand-by`, `spare`, `PENDING`).
    #[serde(default)]
    pub role: String,
    /// Internal schema version.
    #[serde(default)]
    pub schema_internal_version: u64,
    /// External schema version.
    #[serde(default)]
    pub schema_external_version: u64,
    /// RFC 3339.
    #[serde(default)]
    pub last_heartbeat: String,
    /// `ONLINE`, `UNREACHABLE`, `NOT TRUSTED`, `NOT FOUND`, `UPGRADING`,
    /// `NEEDS UPGRADE`.
    #[serde(default)]
    pub status: String,
    /// API extensions.
    #[serde(default)]
    pub extensions: Extensions,
    /// Join secret (only in the join handshake).
    #[serde(default)]
    pub secret: String,
}

/// A decoded microcluster join token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinToken {
    /// The secret.
    pub secret: String,
    /// The cluster certificate's fingerprint.
    pub fingerprint: String,
    /// Current members' `ip:port`.
    #[serde(default, deserialize_with = "nullable")]
    pub join_addresses: Vec<String>,
}

impl JoinToken {
    /// Decodes base64(JSON) (standard alphabet, padded).
    pub fn decode(token: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidToken {
            kind: "microcluster",
            reason,
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .map_err(|e| invalid(format!("not base64: {e}")))?;
        let t: JoinToken = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("not the expected JSON: {e}")))?;
        if t.secret.is_empty() || t.fingerprint.is_empty() || t.join_addresses.is_empty() {
            return Err(invalid(
                "the secret, fingerprint or join addresses are empty".to_owned(),
            ));
        }
        Ok(t)
    }

    /// Encodes as microcluster does.
    pub fn encode(&self) -> String {
        // Serializing strings and a string list to JSON cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }
}

/// The microcluster core calls, for any microcluster daemon. Paths are
/// given for [`Family::Core`]; a [`Family::Cluster`] daemon gets the same
/// calls under its own paths.
pub trait MicroclusterApi: Send + Sync {
    /// `GET /core/1.0/ready`: 200 once the daemon finished starting, 503
    /// `Daemon is not ready yet` before (and 503 `Daemon is shutting
    /// down`): `internal/rest/resources/ready.go` at v2.0.4, v3 and
    /// 3d587817830c. Ready means started, not initialised.
    fn ready(&self) -> impl Future<Output = Result<(), Error>> + Send;

    /// `GET /core/1.0`.
    fn server_info(&self) -> impl Future<Output = Result<ServerInfo, Error>> + Send;

    /// `POST /core/control` with `bootstrap: true` (unix socket; blocks
    /// until the cluster is up).
    fn bootstrap(
        &self,
        name: &str,
        address: SocketAddr,
        config: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `POST /core/control` with a join token (unix socket; blocks until
    /// joined).
    fn join(
        &self,
        name: &str,
        address: SocketAddr,
        token: &str,
        config: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// `POST /core/control/tokens`: the encoded join token for `name`.
    fn issue_token(
        &self,
        name: &str,
        expire_after: Duration,
    ) -> impl Future<Output = Result<String, Error>> + Send;

    /// `GET /core/control/tokens` (unexpired tokens).
    fn tokens(&self) -> impl Future<Output = Result<Vec<TokenRecord>, Error>> + Send;

    /// `DELETE /core/1.0/tokens/<name>`.
    fn delete_token(&self, name: &str) -> impl Future<Output = Result<(), Error>> + Send;

    /// `GET /core/1.0/cluster` (503 before bootstrap/join).
    fn cluster_members(&self) -> impl Future<Output = Result<Vec<ClusterMember>, Error>> + Send;

    /// `DELETE /core/1.0/cluster/<name>?force=1`: removes a member (and
    /// resets its daemon when it can be reached).
    fn remove_member(&self, name: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

/// [`MicroclusterApi`] over a [`Transport`].
#[derive(Debug, Clone)]
pub struct MicroclusterClient {
    rest: RestClient,
    /// The daemon's endpoint family, once known (shared by clones).
    family: Arc<OnceCell<Family>>,
}

impl MicroclusterClient {
    /// A client for the microcluster daemon `service` at `transport`, on
    /// the node called `node`.
    pub fn new(transport: Transport, service: Service, node: &str) -> Self {
        MicroclusterClient::from_rest(RestClient::new(transport, service, node))
    }

    /// A client from a configured [`RestClient`].
    pub fn from_rest(rest: RestClient) -> Self {
        MicroclusterClient {
            rest,
            family: Arc::new(OnceCell::new()),
        }
    }

    /// The daemon's endpoint family: asked once (`GET /core/1.0`, then
    /// `GET /cluster/1.0` when that is not found) and kept.
    pub async fn family(&self) -> Result<Family, Error> {
        if let Some(family) = self.family.get() {
            return Ok(*family);
        }
        self.probe().await.map(|(family, _)| family)
    }

    /// Asks the daemon which family it serves; keeps the answer.
    async fn probe(&self) -> Result<(Family, ServerInfo), Error> {
        let found = match self.rest.get::<ServerInfo>(Family::Core.public()).await {
            Ok(info) => (Family::Core, info),
            Err(Error::Status { status: 404, .. }) => {
                match self.rest.get::<ServerInfo>(Family::Cluster.public()).await {
                    Ok(info) => (Family::Cluster, info),
                    Err(Error::Status {
                        ctx,
                        status: 404,
                        message,
                    }) => {
                        return Err(Error::Protocol {
                            ctx,
                            detail: format!(
                                "neither GET /core/1.0 nor GET /cluster/1.0 exists ({message}): this is not a microcluster daemon; check the socket path"
                            ),
                        });
                    }
                    Err(other) => return Err(other),
                }
            }
            Err(other) => return Err(other),
        };
        // A concurrent probe may have kept the same answer first.
        let _ = self.family.set(found.0);
        Ok(found)
    }

    /// The request layer.
    pub fn rest(&self) -> &RestClient {
        &self.rest
    }

    async fn control(&self, body: &Control) -> Result<(), Error> {
        let family = self.family().await?;
        match self
            .rest
            .sync_reply(
                http::Method::POST,
                family.control(),
                Some(body),
                CallOptions::long(),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(Error::Status {
                ctx,
                status,
                message,
            }) => Err(Error::ControlFailed {
                ctx,
                status,
                message,
            }),
            Err(other) => Err(other),
        }
    }
}

impl MicroclusterApi for MicroclusterClient {
    async fn ready(&self) -> Result<(), Error> {
        let path = format!("{}/ready", self.family().await?.public());
        self.rest
            .sync_reply(http::Method::GET, &path, NO_BODY, CallOptions::default())
            .await
            .map(drop)
    }

    async fn server_info(&self) -> Result<ServerInfo, Error> {
        match self.family.get() {
            Some(family) => self.rest.get(family.public()).await,
            None => self.probe().await.map(|(_, info)| info),
        }
    }

    async fn bootstrap(
        &self,
        name: &str,
        address: SocketAddr,
        config: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        self.control(&Control::bootstrap(name, address, config.clone()))
            .await
    }

    async fn join(
        &self,
        name: &str,
        address: SocketAddr,
        token: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        self.control(&Control::join(name, address, token, config.clone()))
            .await
    }

    async fn issue_token(&self, name: &str, expire_after: Duration) -> Result<String, Error> {
        let family = self.family().await?;
        let path = family.tokens();
        let request = TokenRequest::new(name, expire_after);
        let body = match family {
            Family::Core => serde_json::json!(request),
            Family::Cluster => serde_json::json!({ "name": request.name }),
        };
        let token: String = self
            .rest
            .sync(
                http::Method::POST,
                path,
                Some(&body),
                CallOptions::default(),
            )
            .await?;
        JoinToken::decode(&token).map_err(|e| Error::Protocol {
            ctx: Box::new(self.rest.context(&http::Method::POST, path)),
            detail: format!("the issued token is unusable: {e}"),
        })?;
        Ok(token)
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, Error> {
        let family = self.family().await?;
        self.rest
            .get::<Option<Vec<TokenRecord>>>(family.tokens())
            .await
            .map(Option::unwrap_or_default)
    }

    async fn delete_token(&self, name: &str) -> Result<(), Error> {
        let path = self.family().await?.token(name);
        self.rest
            .sync_reply(http::Method::DELETE, &path, NO_BODY, CallOptions::default())
            .await
            .map(drop)
    }

    async fn cluster_members(&self) -> Result<Vec<ClusterMember>, Error> {
        let path = format!("{}/cluster", self.family().await?.public());
        self.rest
            .get::<Option<Vec<ClusterMember>>>(&path)
            .await
            .map(Option::unwrap_or_default)
    }

    async fn remove_member(&self, name: &str) -> Result<(), Error> {
        let path = format!(
            "{}/cluster/{}?force=1",
            self.family().await?.public(),
            encode_component(name)
        );
        self.rest
            .sync_reply(http::Method::DELETE, &path, NO_BODY, CallOptions::default())
            .await
            .map(drop)
    }
}

/// Implements [`MicroclusterApi`] for a client type by delegating to its
/// `core: MicroclusterClient` field, and gives it
/// [`MicroclusterClient::family`].
macro_rules! delegate_microcluster_api {
    ($ty:ty) => {
        impl $ty {
            /// The daemon's microcluster endpoint family (asked once, then
            /// kept).
            pub async fn family(&self) -> Result<$crate::microcluster::Family, $crate::Error> {
                self.core.family().await
            }
        }
        impl $crate::microcluster::MicroclusterApi for $ty {
            async fn ready(&self) -> Result<(), $crate::Error> {
                self.core.ready().await
            }
            async fn server_info(&self) -> Result<$crate::microcluster::ServerInfo, $crate::Error> {
                self.core.server_info().await
            }
            async fn bootstrap(
                &self,
                name: &str,
                address: std::net::SocketAddr,
                config: &std::collections::BTreeMap<String, String>,
            ) -> Result<(), $crate::Error> {
                self.core.bootstrap(name, address, config).await
            }
            async fn join(
                &self,
                name: &str,
                address: std::net::SocketAddr,
                token: &str,
                config: &std::collections::BTreeMap<String, String>,
            ) -> Result<(), $crate::Error> {
                self.core.join(name, address, token, config).await
            }
            async fn issue_token(
                &self,
                name: &str,
                expire_after: std::time::Duration,
            ) -> Result<String, $crate::Error> {
                self.core.issue_token(name, expire_after).await
            }
            async fn tokens(
                &self,
            ) -> Result<Vec<$crate::microcluster::TokenRecord>, $crate::Error> {
                self.core.tokens().await
            }
            async fn delete_token(&self, name: &str) -> Result<(), $crate::Error> {
                self.core.delete_token(name).await
            }
            async fn cluster_members(
                &self,
            ) -> Result<Vec<$crate::microcluster::ClusterMember>, $crate::Error> {
                self.core.cluster_members().await
            }
            async fn remove_member(&self, name: &str) -> Result<(), $crate::Error> {
                self.core.remove_member(name).await
            }
        }
    };
}
pub(crate) use delegate_microcluster_api;
