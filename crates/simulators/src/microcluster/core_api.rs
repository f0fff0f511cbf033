//! The microcluster core API handlers of the simulated daemons: server
//! info, members, tokens, member removal, the member side of the join
//! handshake and `?target=` forwarding. Routing, control (bootstrap and
//! join) and the shared state are in the parent module.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{McFamily, McMember, McService, TokenRecord, unavailable};
use crate::clock::{GO_ZERO_TIME, rfc3339};
use crate::faults::Service;
use crate::http::{ApiError, Reply, Request};
use crate::server::peer_request;
use crate::tls::Pin;

impl McService {
    pub(super) fn server_info(&self) -> Reply {
        let local = self.local.lock().ok();
        let (name, address, ready) = match &local {
            Some(l) => (
                l.name.clone().unwrap_or_else(|| self.hostname()),
                l.address.map(|a| a.to_string()).unwrap_or_default(),
                l.db.is_some(),
            ),
            None => (self.hostname(), String::new(), false),
        };
        // `internalTypes.Server` (`internal/rest/types/server.go`): v2.0.4
        // and v3 carry `version`; 3d587817830c (MicroCeph reef) does not.
        let mut info = json!({
            "name": name,
            "address": address,
            "ready": ready,
            "extensions": self.extensions(),
        });
        if self.family == McFamily::Core {
            info["version"] = json!(self.version());
        }
        Reply::sync(info)
    }

    pub(super) fn member_json(&self, m: &McMember) -> Value {
        let online = self
            .fabric()
            .and_then(|f| f.node(&m.sim_node))
            .is_some_and(|n| n.ctl.is_alive());
        json!({
            "name": m.name,
            "address": m.address,
            "certificate": m.cert_pem,
            "role": m.role,
            "schema_internal_version": 7,
            "schema_external_version": 3,
            "last_heartbeat": rfc3339(self.ctl.clock.now()),
            "status": if online { "ONLINE" } else { "UNREACHABLE" },
            "extensions": self.extensions(),
            "secret": "",
        })
    }

    pub(super) fn cluster_get(&self) -> Reply {
        match self.with_db(|db| db.members.clone()) {
            Ok(members) => Reply::sync(
                members
                    .iter()
                    .map(|m| self.member_json(m))
                    .collect::<Vec<_>>(),
            ),
            Err(e) => e.into(),
        }
    }

    /// `POST /core/control/tokens` (`tokensPost`,
    /// `internal/rest/resources/tokens.go`, v2.0.4 and v3): the name must
    /// be an FQDN (400), `expire_after` (a Go `time.Duration`, nanoseconds)
    /// sets an expiry whenever it is not 0, so a negative one has already
    /// passed; expired records are deleted before the new one is created.
    /// Old family (`POST /cluster/1.0/tokens`, 3d587817830c): no name
    /// check, no expiry (its body is `TokenRecord{name, token}`).
    pub(super) fn tokens_post(&self, req: &Request) -> Reply {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct TokenRequest {
            name: String,
            expire_after: i64,
        }
        let body: TokenRequest = match req.json("types.TokenRequest") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        if !self.is_initialised() {
            return unavailable().into();
        }
        let core = self.family == McFamily::Core;
        if core && let Err(reason) = crate::util::validate_fqdn(&body.name) {
            return Reply::error(
                400,
                format!("Token name {:?} is not a valid FQDN: {reason}", body.name),
            );
        }
        let now = self.ctl.clock.now();
        let expires_at = (core && body.expire_after != 0)
            .then(|| now + time::Duration::nanoseconds(body.expire_after));
        let table = if core {
            "core_token_records"
        } else {
            "internal_token_records"
        };
        let r = self.with_db(|db| {
            db.tokens.retain(|t| t.expires_at.is_none_or(|e| e > now));
            if db.tokens.iter().any(|t| t.name == body.name) {
                return Err(ApiError::new(
                    409,
                    format!("This {table:?} entry already exists"),
                ));
            }
            let secret = crate::util::random_secret();
            db.tokens.push(TokenRecord {
                name: body.name.clone(),
                secret: secret.clone(),
                expires_at,
            });
            let token = json!({
                "secret": secret,
                "fingerprint": db.cluster_cert.fingerprint(),
                "join_addresses": db.members.iter().map(|m| m.address.clone()).collect::<Vec<_>>(),
            });
            Ok(base64::engine::general_purpose::STANDARD.encode(token.to_string()))
        });
        match r {
            Ok(Ok(token)) => Reply::sync(token),
            Ok(Err(e)) | Err(e) => e.into(),
        }
    }

    pub(super) fn tokens_get(&self) -> Reply {
        let now = self.ctl.clock.now();
        let r = self.with_db(|db| {
            let fp = db.cluster_cert.fingerprint().to_string();
            let addrs: Vec<String> = db.members.iter().map(|m| m.address.clone()).collect();
            db.tokens
                .iter()
                .filter(|t| t.expires_at.is_none_or(|e| e > now))
                .map(|t| {
                    let token = json!({"secret": t.secret, "fingerprint": fp, "join_addresses": addrs});
                    let mut record = json!({
                        "name": t.name,
                        "token": base64::engine::general_purpose::STANDARD.encode(token.to_string()),
                    });
                    // `TokenRecord` has `expires_at` since v2 (Go zero time
                    // for none); not at 3d587817830c.
                    if self.family == McFamily::Core {
                        record["expires_at"] = json!(t.expires_at.map(rfc3339).unwrap_or_else(|| GO_ZERO_TIME.to_string()));
                    }
                    record
                })
                .collect::<Vec<_>>()
        });
        match r {
            Ok(v) => Reply::sync(v),
            Err(e) => e.into(),
        }
    }

    /// `DELETE /core/1.0/cluster/{name}`: modelled for members whose own
    /// daemon never finished joining (it is not part of the cluster, so
    /// there is nothing to reset there); removing a fully joined member is
    /// refused as not modelled.
    pub(super) fn member_delete(&self, name: &str) -> Reply {
        let Some(db) = self.db() else {
            return unavailable().into();
        };
        let member = match db.lock() {
            Ok(g) => g.members.iter().find(|m| m.name == name).cloned(),
            Err(_) => return ApiError::internal("database poisoned").into(),
        };
        let Some(member) = member else {
            // `clusterMemberDelete` (`internal/rest/resources/cluster.go`,
            // v2.0.4, v3, 3d587817830c): a plain error, so 500.
            return Reply::error(
                500,
                format!("No remote exists with the given name {name:?}"),
            );
        };
        let own = self
            .local
            .lock()
            .ok()
            .and_then(|l| l.name.clone())
            .is_some_and(|n| n == name);
        if own {
            return Reply::error(
                501,
                "Removing this daemon itself is not modelled by the simulator",
            );
        }
        let joined = self
            .fabric
            .upgrade()
            .and_then(|f| f.node(&member.sim_node))
            .and_then(|n| match self.kind {
                Service::Microovn => n.microovn.db(),
                _ => n.microceph.db(),
            })
            .is_some_and(|theirs| Arc::ptr_eq(&theirs, &db));
        if joined {
            return Reply::error(
                501,
                "Removing a fully joined member is not modelled by the simulator",
            );
        }
        match db.lock() {
            Ok(mut g) => {
                g.members.retain(|m| m.name != name);
                Reply::empty()
            }
            Err(_) => ApiError::internal("database poisoned").into(),
        }
    }

    pub(super) fn token_delete(&self, name: &str) -> Reply {
        match self.with_db(|db| {
            let before = db.tokens.len();
            db.tokens.retain(|t| t.name != name);
            before != db.tokens.len()
        }) {
            Ok(true) => Reply::empty(),
            // `DeleteCoreTokenRecord` (`cluster/token_records.mapper.go`,
            // v2.0.4; `InternalTokenRecord` at 3d587817830c).
            Ok(false) => Reply::error(404, self.token_not_found()),
            Err(e) => e.into(),
        }
    }

    fn token_not_found(&self) -> &'static str {
        match self.family {
            McFamily::Core => "CoreTokenRecord not found",
            McFamily::Cluster => "InternalTokenRecord not found",
        }
    }

    /// Member side of the join handshake (`clusterPost`,
    /// `internal/rest/resources/cluster.go`, v2.0.4): the address in use
    /// (500) before the token; an unknown secret 404, an expired token and
    /// a certificate without the token name 500 (plain errors), a name
    /// already a member 409 (the member table's unique name).
    pub(super) fn internal_join(&self, req: &Request) -> Reply {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct JoinBody {
            name: String,
            address: String,
            certificate: String,
            secret: String,
        }
        let body: JoinBody = match req.json("types.ClusterMember") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let Some(der) = crate::tls::pem_to_der(&body.certificate) else {
            return Reply::error(400, "Failed to parse certificate");
        };
        let joiner_node = body
            .address
            .parse::<SocketAddr>()
            .ok()
            .and_then(|a| self.fabric().and_then(|f| f.node_by_ip(a.ip())))
            .map(|n| n.ctl.name.clone())
            .unwrap_or_default();
        let now = self.ctl.clock.now();
        let not_found = self.token_not_found();
        let r = self.with_db(|db| {
            if db.members.iter().any(|m| m.address == body.address) {
                return Err(ApiError::internal(format!(
                    "Remote with address {:?} exists",
                    body.address
                )));
            }
            let Some(pos) = db.tokens.iter().position(|t| t.secret == body.secret) else {
                return Err(ApiError::not_found(not_found));
            };
            let Some(record) = db.tokens.get(pos).cloned() else {
                return Err(ApiError::not_found(not_found));
            };
            if record.expires_at.is_some_and(|e| now > e) {
                return Err(ApiError::internal("Token expired"));
            }
            if !crate::tls::cert_has_dns_san(&der, &record.name) || body.name != record.name {
                return Err(ApiError::internal(
                    "Joining server certificate SAN does not contain join token name",
                ));
            }
            if db.members.iter().any(|m| m.name == body.name) {
                return Err(ApiError::new(
                    409,
                    "This \"core_cluster_members\" entry already exists",
                ));
            }
            // Single use: the record goes once the join is accepted.
            db.tokens.remove(pos);
            let role = if db.members.len() < 3 {
                "voter"
            } else if db.members.len() < 5 {
                "stand-by"
            } else {
                "spare"
            };
            db.members.push(McMember {
                name: body.name.clone(),
                address: body.address.clone(),
                cert_pem: body.certificate.clone(),
                fingerprint: crate::tls::fingerprint(&der),
                role: role.into(),
                sim_node: joiner_node,
            });
            let members: Vec<Value> = db
                .members
                .iter()
                .map(|m| json!({"name": m.name, "address": m.address, "certificate": m.cert_pem}))
                .collect();
            let trusted = db
                .members
                .first()
                .map(|m| json!({"name": m.name, "address": m.address, "certificate": m.cert_pem}));
            Ok(json!({
                "cluster_cert": db.cluster_cert.cert_pem(),
                "cluster_key": db.cluster_cert.key_pem(),
                "cluster_members": members,
                "ClusterAdditionalCerts": {},
                "trusted_member": trusted,
            }))
        });
        match r {
            Ok(Ok(v)) => Reply::sync(v),
            Ok(Err(e)) | Err(e) => e.into(),
        }
    }

    /// Forwards a `?target=` request to another member over HTTPS and
    /// re-wraps its metadata as a sync response (`proxyTarget`).
    pub(super) async fn forward(&self, req: &Request, target: &str) -> Reply {
        let member = self
            .with_db(|db| db.members.iter().find(|m| m.name == target).cloned())
            .ok()
            .flatten();
        let Some(member) = member else {
            return Reply::error(404, format!("No cluster member found with name {target:?}"));
        };
        let Ok(addr) = member.address.parse::<SocketAddr>() else {
            return Reply::error(500, "Invalid member address");
        };
        let Some(pin) = self.cluster_fingerprint() else {
            return unavailable().into();
        };
        let body: Option<Value> = if req.body.is_empty() {
            None
        } else {
            match serde_json::from_slice(&req.body) {
                Ok(v) => Some(v),
                Err(e) => return Reply::error(400, e.to_string()),
            }
        };
        let server = self.server_identity();
        match peer_request(
            addr,
            &server,
            Pin::Fingerprint(pin),
            req.method.clone(),
            &req.path,
            body.as_ref(),
            &[],
        )
        .await
        {
            Ok(r) => match r.envelope() {
                Ok(meta) => Reply::sync(meta),
                Err(e) => e.into(),
            },
            Err(e) => Reply::error(500, e),
        }
    }
}
