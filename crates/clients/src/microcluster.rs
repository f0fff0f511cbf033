//! The microcluster core API shared by the MicroCloud agent, MicroCeph and
//! MicroOVN: readiness, bootstrap and join, join tokens, members.
//!
//! Paths (`canonical/microcluster:microcluster/types/server.go`):
//! `core/1.0` (public), `core/control` (unix socket only: bootstrap, join,
//! token issue and list). Bootstrap and join are synchronous
//! `POST /core/control` calls that block until the daemon has finished, so
//! they use the long request timeout.
//!
//! Quirks handled here:
//! * `extensions` is a bare string when there is exactly one, otherwise an
//!   array (and `null` when Go's slice is nil); [`Extensions`] reads all
//!   three and writes the first two as microcluster does;
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
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

/// `POST /core/control/tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequest {
    /// The joiner's name.
    pub name: String,
    /// Validity in nanoseconds (Go `time.Duration`); 0 = never expires.
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
    /// RFC 3339 expiry (Go zero time when none).
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

/// The microcluster core calls, for any microcluster daemon.
pub trait MicroclusterApi: Send + Sync {
    /// `GET /core/1.0/ready`: 200 once the daemon finished starting
    /// (503 before).
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
}

impl MicroclusterClient {
    /// A client for the microcluster daemon `service` at `transport`, on
    /// the node called `node`.
    pub fn new(transport: Transport, service: Service, node: &str) -> Self {
        MicroclusterClient {
            rest: RestClient::new(transport, service, node),
        }
    }

    /// A client from a configured [`RestClient`].
    pub fn from_rest(rest: RestClient) -> Self {
        MicroclusterClient { rest }
    }

    /// The request layer.
    pub fn rest(&self) -> &RestClient {
        &self.rest
    }

    async fn control(&self, body: &Control) -> Result<(), Error> {
        match self
            .rest
            .sync_reply(
                http::Method::POST,
                "/core/control",
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
        self.rest
            .sync_reply(
                http::Method::GET,
                "/core/1.0/ready",
                NO_BODY,
                CallOptions::default(),
            )
            .await
            .map(drop)
    }

    async fn server_info(&self) -> Result<ServerInfo, Error> {
        self.rest.get("/core/1.0").await
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
        let path = "/core/control/tokens";
        let token: String = self
            .rest
            .sync(
                http::Method::POST,
                path,
                Some(&TokenRequest::new(name, expire_after)),
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
        self.rest
            .get::<Option<Vec<TokenRecord>>>("/core/control/tokens")
            .await
            .map(Option::unwrap_or_default)
    }

    async fn delete_token(&self, name: &str) -> Result<(), Error> {
        let path = format!("/core/1.0/tokens/{}", encode_component(name));
        self.rest
            .sync_reply(http::Method::DELETE, &path, NO_BODY, CallOptions::default())
            .await
            .map(drop)
    }

    async fn cluster_members(&self) -> Result<Vec<ClusterMember>, Error> {
        self.rest
            .get::<Option<Vec<ClusterMember>>>("/core/1.0/cluster")
            .await
            .map(Option::unwrap_or_default)
    }

    async fn remove_member(&self, name: &str) -> Result<(), Error> {
        let path = format!("/core/1.0/cluster/{}?force=1", encode_component(name));
        self.rest
            .sync_reply(http::Method::DELETE, &path, NO_BODY, CallOptions::default())
            .await
            .map(drop)
    }
}

/// Implements [`MicroclusterApi`] for a client type by delegating to its
/// `core: MicroclusterClient` field.
macro_rules! delegate_microcluster_api {
    ($ty:ty) => {
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
