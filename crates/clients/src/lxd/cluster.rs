//! Clustering: `/1.0/cluster`, members and join tokens.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::server::TokenField;
use super::tokens::{decode_token, encode_token};
use crate::Error;
use crate::wire::nullable;

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
