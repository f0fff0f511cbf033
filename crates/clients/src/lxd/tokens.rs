//! Certificates and trust tokens: `POST /1.0/certificates`.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::server::TokenField;
use crate::Error;
use crate::wire::nullable;

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
pub(super) struct CertificateTokenOperationMetadata {
    #[serde(default)]
    pub(super) secret: String,
    #[serde(default)]
    pub(super) fingerprint: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(super) addresses: Vec<String>,
    #[serde(default)]
    pub(super) request: CertificateTokenRequest,
    #[serde(rename = "expiresAt", default)]
    pub(super) expires_at: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct CertificateTokenRequest {
    #[serde(default)]
    pub(super) name: String,
}

pub(super) fn encode_token<T: Serialize>(token: &T) -> String {
    // Serializing plain string/array structs to JSON cannot fail.
    let json = serde_json::to_vec(token).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(json)
}

pub(super) fn decode_token<T: serde::de::DeserializeOwned>(
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
