//! Certificates and trust tokens: `/1.0/certificates`.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::{parse_lxd_expiry, rfc3339_nano};
use crate::http::{ApiError, Reply, Request};

use super::db::{self};
use super::ops::{self};
use super::{LxdProfile, LxdService, TokenFields};

impl LxdService {
    pub(super) fn certificates_get(&self, req: &Request) -> Reply {
        let certs = self.with_db(|db| db.certs.clone()).unwrap_or_default();
        if req.recursion() == 0 {
            return Reply::sync(
                certs
                    .iter()
                    .map(|c| format!("/1.0/certificates/{}", c.fingerprint))
                    .collect::<Vec<_>>(),
            );
        }
        Reply::sync(certs.iter().map(cert_json).collect::<Vec<_>>())
    }

    pub(super) fn certificate_get(&self, fp: &str) -> Reply {
        let found = self
            .with_db(|db| {
                db.certs
                    .iter()
                    .find(|c| c.fingerprint.starts_with(fp))
                    .cloned()
            })
            .ok()
            .flatten();
        match found {
            Some(c) => Reply::sync(cert_json(&c)),
            None => Reply::error(404, "Certificate not found"),
        }
    }

    pub(super) async fn certificates_post(&self, req: &Request) -> Reply {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct CertsPost {
            name: String,
            #[serde(rename = "type")]
            kind: String,
            certificate: String,
            password: String,
            trust_token: String,
            token: bool,
        }
        let body: CertsPost = match req.json("api.CertificatesPost") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        // lxd-6.2 .. main: `password` is 501 (lxd/certificates.go).
        if self.b.token_fields() == TokenFields::Token && !body.password.is_empty() {
            return Reply::error(
                501,
                "Password authentication is no longer supported, please update your client",
            );
        }
        let trusted = self.trusted(req);
        let mut name = body.name.clone();
        let mut kind = if body.kind.is_empty() {
            "client".to_string()
        } else {
            body.kind.clone()
        };
        if body.token {
            if !trusted {
                return Reply::error(403, "not authorized");
            }
            if kind != "client" {
                return Reply::error(400, "Tokens can only be issued for client certificates");
            }
            if self.listeners.https_addr().is_none() {
                return Reply::error(
                    400,
                    "Can't issue token when server isn't listening on network",
                );
            }
            return self.certificate_token(&body.name);
        }
        if !trusted {
            // lxd-5.21.2 .. 5.21.x prefer `password` when both are set.
            let token = match self.b.token_fields() {
                TokenFields::Password => &body.password,
                TokenFields::Token => &body.trust_token,
                TokenFields::Both if !body.password.is_empty() => &body.password,
                TokenFields::Both => &body.trust_token,
            };
            if token.is_empty() {
                return Reply::error(403, "not authorized");
            }
            match self.consume_token(token) {
                Ok(Some((token_name, token_kind))) => {
                    if !token_name.is_empty() {
                        name = token_name;
                    }
                    if let Some(k) = token_kind {
                        kind = k;
                    }
                }
                Ok(None) => {}
                Err(e) => return e.into(),
            }
        }
        // The certificate: from the body, else the TLS client certificate.
        let der = if !body.certificate.is_empty() {
            match base64::engine::general_purpose::STANDARD.decode(body.certificate.trim()) {
                Ok(d) => d,
                Err(e) => return Reply::error(400, e.to_string()),
            }
        } else {
            match &req.peer {
                crate::http::Peer::Tls { cert: Some(c), .. } => c.clone(),
                crate::http::Peer::Tls { cert: None, .. } => {
                    return Reply::error(400, "No client certificate provided");
                }
                crate::http::Peer::Unix => {
                    return Reply::error(400, "Can't use TLS data on non-TLS link");
                }
            }
        };
        let fp = crate::tls::fingerprint(&der);
        let pem = crate::tls::der_to_pem(&der);
        let r = self.with_db(|db| {
            if db.certs.iter().any(|c| c.fingerprint == fp) {
                return Err(ApiError::new(409, "Certificate already in trust store"));
            }
            db.certs.push(db::TrustedCert {
                fingerprint: fp.clone(),
                kind,
                name: if name.is_empty() {
                    "unnamed".into()
                } else {
                    name
                },
                pem,
            });
            Ok(())
        });
        match r {
            Ok(Ok(())) => Reply::created(format!("/1.0/certificates/{fp}")),
            Ok(Err(e)) | Err(e) => e.into(),
        }
    }

    pub(super) fn certificate_token(&self, name: &str) -> Reply {
        let identity = self.network_identity();
        let mut meta = json!({
            "addresses": self.listen_addresses(),
            "fingerprint": identity.fingerprint(),
            "request": {"name": name, "type": "client", "restricted": false, "projects": [], "certificate": "", "password": "", "token": true},
            "secret": crate::util::random_secret(),
        });
        let default_expiry = if self.b.profile == LxdProfile::Legacy {
            ""
        } else {
            "15d"
        };
        let expiry = self
            .with_db(|db| db.config.get("core.remote_token_expiry").cloned())
            .ok()
            .flatten()
            .unwrap_or_else(|| default_expiry.to_string());
        if let Ok(Some(d)) = parse_lxd_expiry(&expiry)
            && let Some(o) = meta.as_object_mut()
        {
            o.insert(
                "expiresAt".into(),
                rfc3339_nano(self.ctl.clock.now() + d).into(),
            );
        }
        let op = self.ops.create(
            &self.ctl.clock,
            "token",
            "Executing operation",
            json!({}),
            meta,
            true,
            &self.member_name(),
        );
        Reply::Async {
            url: format!("/1.0/operations/{}", op.id),
            operation: op.to_json(self.op_fields()),
        }
    }

    /// Validates and consumes a cluster join token or certificate add
    /// token. Returns the name/type to record, or `None` when the token
    /// matched nothing usable.
    pub(super) fn consume_token(
        &self,
        token: &str,
    ) -> Result<Option<(String, Option<String>)>, ApiError> {
        let decoded: Option<Value> = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let Some(decoded) = decoded else {
            return Err(ApiError::forbidden("not authorized"));
        };
        let s = |k: &str| {
            decoded
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let ops = self.cluster_ops();
        let now = self.ctl.clock.now();
        let expired = |op: &ops::Op| {
            op.metadata
                .get("expiresAt")
                .and_then(Value::as_str)
                .and_then(crate::clock::parse_rfc3339)
                .is_some_and(|t| now > t)
        };
        let is_join = !s("server_name").is_empty();
        if is_join {
            let (server_name, secret) = (s("server_name"), s("secret"));
            let found = ops.into_iter().find(|(_, op)| {
                op.class == "token"
                    && !op.is_done()
                    && op.metadata.get("serverName").and_then(Value::as_str)
                        == Some(server_name.as_str())
                    && op.metadata.get("secret").and_then(Value::as_str) == Some(secret.as_str())
            });
            let Some((owner, op)) = found else {
                return Err(ApiError::forbidden(
                    "No matching cluster join operation found",
                ));
            };
            let _ = owner.ops.cancel(&self.ctl.clock, &op.id);
            if expired(&op) {
                return Err(ApiError::internal(
                    "Failed during search for join token operation: Token has expired",
                ));
            }
            return Ok(Some((server_name, Some("server".into()))));
        }
        let secret = s("secret");
        let found = ops.into_iter().find(|(_, op)| {
            op.class == "token"
                && !op.is_done()
                && op.metadata.get("request").is_some()
                && op.metadata.get("secret").and_then(Value::as_str) == Some(secret.as_str())
        });
        let Some((owner, op)) = found else {
            return Err(ApiError::forbidden(
                "No matching certificate add operation found",
            ));
        };
        let _ = owner.ops.cancel(&self.ctl.clock, &op.id);
        if expired(&op) {
            return Err(ApiError::internal(
                "Failed during search for certificate add token operation: Token has expired",
            ));
        }
        let name = op
            .metadata
            .pointer("/request/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Ok(Some((name, Some("client".into()))))
    }
}

fn cert_json(c: &db::TrustedCert) -> Value {
    json!({
        "name": c.name,
        "type": c.kind,
        "restricted": false,
        "projects": [],
        "certificate": c.pem,
        "fingerprint": c.fingerprint,
    })
}
