//! Clustering: bootstrap, members, join tokens, joins and `/internal/cluster/accept`.

use std::sync::Arc;

use base64::Engine as _;
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::{parse_lxd_expiry, rfc3339_nano};
use crate::http::{ApiError, Config, Reply, Request};
use crate::server::peer_request;
use crate::tls::{Identity, Pin};

use super::db::{self, Member, UNCLUSTERED};
use super::{LxdProfile, LxdService, TokenFields, is_wildcard, network, storage};

impl LxdService {
    pub(super) fn member_config_template(&self) -> Vec<Value> {
        let drop_source = self.b.has("storage_remote_drop_source");
        self.with_db(|db| {
            let mut out = Vec::new();
            for p in db.pools.values().filter(|p| p.state == db::State::Created) {
                for key in storage::member_config_keys(&p.driver, drop_source) {
                    out.push(json!({
                        "entity": "storage-pool", "name": p.name, "key": key, "value": "",
                        "description": format!("\"{key}\" property for storage pool \"{}\"", p.name),
                    }));
                }
            }
            for n in db.networks.values().filter(|n| n.state == db::State::Created) {
                for key in network::member_config_keys(&n.kind) {
                    out.push(json!({
                        "entity": "network", "name": n.name, "key": key, "value": "",
                        "description": format!("\"{key}\" property for network \"{}\"", n.name),
                    }));
                }
            }
            out
        })
        .unwrap_or_default()
    }

    pub(super) fn cluster_get(&self) -> Reply {
        let clustered = self.clustered();
        let v = json!({
            "server_name": if clustered { self.member_name() } else { String::new() },
            "enabled": clustered,
            "member_config": self.member_config_template(),
        });
        let etag = crate::tls::fingerprint(v.to_string().as_bytes());
        Reply::sync(v).with_etag(etag)
    }

    pub(super) fn cluster_put(self: &Arc<Self>, req: &Request) -> Reply {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct ClusterPut {
            server_name: String,
            enabled: bool,
            member_config: Vec<MemberConfigKey>,
            cluster_address: String,
            cluster_certificate: String,
            server_address: String,
            cluster_password: String,
            cluster_token: String,
        }
        let body: ClusterPut = match req.json("api.ClusterPut") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        if !body.enabled {
            return Reply::error(501, "Disabling clustering is not modelled by the simulator");
        }
        if body.server_name.is_empty() {
            return Reply::error(400, "ServerName is required when enabling clustering");
        }
        if body.cluster_address.is_empty() {
            return self.cluster_bootstrap(body.server_name);
        }
        if self.clustered() {
            return Reply::error(400, "This server is already clustered");
        }
        if body.cluster_certificate.is_empty() {
            return Reply::error(400, "No target cluster member certificate provided");
        }
        if body.server_address.is_empty() {
            return Reply::error(400, "No server address provided for this member");
        }
        // The field this release decodes (`api.ClusterPut`); the joiner
        // passes the token on to the cluster in the matching
        // `CertificatesPost` field (`SetupTrust`, lxd/cluster/connect.go).
        let (token, trust_field) = match self.b.token_fields() {
            TokenFields::Password => (body.cluster_password, "password"),
            TokenFields::Token => (body.cluster_token, "trust_token"),
            TokenFields::Both if !body.cluster_password.is_empty() => {
                (body.cluster_password, "password")
            }
            TokenFields::Both => (body.cluster_token, "trust_token"),
        };
        // Like LXD: if core.https_address is unset, both addresses become
        // the server address; otherwise only cluster.https_address.
        let mut local = self.local_config();
        if !local.contains_key("core.https_address") {
            local.insert("core.https_address".into(), body.server_address.clone());
        }
        local.insert("cluster.https_address".into(), body.server_address.clone());
        if let Err(e) = self.apply_https(&local) {
            return e.into();
        }
        if let Ok(mut l) = self.local.lock() {
            l.config = local;
            l.joining = true;
        }
        let this = self.clone();
        let join = JoinRequest {
            server_name: body.server_name,
            cluster_address: body.cluster_address,
            cluster_certificate: body.cluster_certificate,
            server_address: body.server_address,
            token,
            trust_field,
            member_config: body.member_config,
        };
        let op = self.ops.create(
            &self.ctl.clock,
            "task",
            "Joining cluster",
            json!({"cluster": null}),
            Value::Null,
            false,
            UNCLUSTERED,
        );
        let id = op.id.clone();
        let work = self.timings.cluster_join;
        // Subscribed before the reply, as for every operation (`run_op`): a
        // crash of this node ends the join where it is. What it did so far
        // stays (the cluster may already have recorded the member: the
        // half-joined state the executor repairs), and the restarted daemon
        // neither knows the operation nor is still joining. Without this, a
        // join cut by a crash went on in the dead node and finished after
        // its restart, behind the back of the next run.
        let crash = self.ctl.until_crash();
        tokio::spawn(async move {
            let joined = async {
                this.ctl.work(work).await;
                this.clone().join(join).await
            };
            let r = tokio::select! {
                biased;
                () = crash => None,
                r = joined => Some(r),
            };
            if let Ok(mut l) = this.local.lock() {
                l.joining = false;
            }
            match r {
                Some(r) => this.ops.finish(&this.ctl.clock, &id, r),
                None => this.ops.forget(&id),
            }
        });
        Reply::Async {
            url: format!("/1.0/operations/{}", op.id),
            operation: op.to_json(self.op_fields()),
        }
    }

    pub(super) fn cluster_bootstrap(self: &Arc<Self>, name: String) -> Reply {
        let local = self.local_config();
        let cluster_addr = local
            .get("cluster.https_address")
            .cloned()
            .unwrap_or_default();
        let core_addr = local.get("core.https_address").cloned().unwrap_or_default();
        let address = if cluster_addr.is_empty() {
            core_addr.clone()
        } else {
            cluster_addr.clone()
        };
        if address.is_empty() || is_wildcard(&address) {
            return Reply::error(
                500,
                format!(
                    "Cannot use wildcard core.https_address {cluster_addr:?} for cluster.https_address. Please specify a new cluster.https_address or core.https_address"
                ),
            );
        }
        let already = self.clustered();
        let this = self.clone();
        let op = self.ops.create(
            &self.ctl.clock,
            "task",
            "Creating bootstrap node",
            json!({"cluster": null}),
            Value::Null,
            false,
            &self.op_location(),
        );
        let id = op.id.clone();
        let work = self.timings.cluster_bootstrap;
        tokio::spawn(async move {
            this.ctl.work(work).await;
            let r = if already {
                Err(ApiError::internal(
                    "Inconsistent state: found leftover cluster certificate",
                ))
            } else {
                this.bootstrap(name, address)
            };
            this.ops.finish(&this.ctl.clock, &id, r);
        });
        Reply::Async {
            url: format!("/1.0/operations/{}", op.id),
            operation: op.to_json(self.op_fields()),
        }
    }

    pub(super) fn bootstrap(
        self: &Arc<Self>,
        name: String,
        address: String,
    ) -> Result<(), ApiError> {
        let cert = Identity::generate(&format!("root@{}", self.hostname()), &[self.hostname()])
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let addr = self.resolve_listen(&address)?;
        let fp = cert.fingerprint().to_string();
        let db = self.db();
        {
            let mut g = db
                .lock()
                .map_err(|_| ApiError::internal("database poisoned"))?;
            g.rename_unclustered(&name);
            g.cluster_cert = Some(cert.clone());
            g.members = vec![Member {
                name: name.clone(),
                address: addr.to_string(),
                sim_node: self.ctl.name.clone(),
                roles: vec!["database-leader".into(), "database".into()],
                architecture: self.inventory.get().architecture.clone(),
            }];
        }
        if let Ok(mut l) = self.local.lock() {
            l.server_name = Some(name);
            l.config
                .entry("cluster.https_address".into())
                .or_insert_with(|| addr.to_string());
        }
        self.listeners.cert.set(cert);
        if let Some(f) = self.fabric() {
            f.register_lxd_db(fp, db);
        }
        let local = self.local_config();
        self.apply_https(&local)
    }

    pub(super) fn members_get(&self, req: &Request) -> Reply {
        if !self.clustered() {
            return Reply::error(500, "Server is not clustered");
        }
        let members = self.with_db(|db| db.members.clone()).unwrap_or_default();
        if req.recursion() == 0 {
            return Reply::sync(
                members
                    .iter()
                    .map(|m| format!("/1.0/cluster/members/{}", m.name))
                    .collect::<Vec<_>>(),
            );
        }
        Reply::sync(
            members
                .iter()
                .map(|m| self.member_json(m))
                .collect::<Vec<_>>(),
        )
    }

    pub(super) fn member_json(&self, m: &Member) -> Value {
        let online = self
            .fabric()
            .and_then(|f| f.node(&m.sim_node))
            .is_some_and(|n| n.ctl.is_alive());
        let (status, message) = if online {
            ("Online", "Fully operational".to_string())
        } else {
            ("Offline", "No heartbeat for 30s".to_string())
        };
        json!({
            "roles": m.roles,
            "failure_domain": "default",
            "description": "",
            "config": {},
            "groups": ["default"],
            "server_name": m.name,
            "url": format!("https://{}", m.address),
            "database": m.roles.iter().any(|r| r.starts_with("database")),
            "status": status,
            "message": message,
            "architecture": m.architecture,
        })
    }

    /// `DELETE /1.0/cluster/members/<name>`: modelled for members whose
    /// own daemon never finished joining (the cluster recorded them, their
    /// daemon is not clustered): their rows go, as with `?force=1`.
    /// Removing a fully joined member is refused as not modelled.
    pub(super) fn member_delete(&self, name: &str) -> Reply {
        if !self.clustered() {
            return Reply::error(400, "This server is not clustered");
        }
        let db = self.db();
        let member = self.with_db(|db| db.member(name).cloned()).ok().flatten();
        let Some(member) = member else {
            return Reply::error(404, "Cluster member not found");
        };
        let joined = self
            .fabric()
            .and_then(|f| f.node(&member.sim_node))
            .is_some_and(|n| Arc::ptr_eq(&n.lxd.db(), &db));
        if joined {
            return Reply::error(
                501,
                "Removing a fully joined member is not modelled by the simulator",
            );
        }
        match self.with_db(|db| {
            db.members.retain(|m| m.name != name);
            for pool in db.pools.values_mut() {
                pool.members.remove(name);
            }
            for net in db.networks.values_mut() {
                net.members.remove(name);
            }
            db.volumes.retain(|v| v.member != name);
        }) {
            Ok(()) => Reply::empty(),
            Err(e) => e.into(),
        }
    }

    pub(super) fn member_get(&self, name: &str) -> Reply {
        match self.with_db(|db| db.member(name).cloned()).ok().flatten() {
            Some(m) => Reply::sync(self.member_json(&m)),
            None => Reply::error(404, "Cluster member not found"),
        }
    }

    pub(super) fn members_post(&self, req: &Request) -> Reply {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct MembersPost {
            server_name: String,
        }
        let body: MembersPost = match req.json("api.ClusterMembersPost") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        if !self.clustered() {
            return Reply::error(400, "This server is not clustered");
        }
        if self.b.profile == LxdProfile::Current && body.server_name == "none" {
            return Reply::error(400, "Join token name cannot be \"none\"");
        }
        // A new token for the same name cancels the previous one.
        for op in self.ops.all() {
            if op.class == "token"
                && !op.is_done()
                && op.metadata.get("serverName").and_then(Value::as_str)
                    == Some(body.server_name.as_str())
            {
                let _ = self.ops.cancel(&self.ctl.clock, &op.id);
            }
        }
        let expiry = self
            .with_db(|db| db.config.get("cluster.join_token_expiry").cloned())
            .ok()
            .flatten()
            .unwrap_or_else(|| "3H".to_string());
        let expires_at = parse_lxd_expiry(&expiry)
            .ok()
            .flatten()
            .map(|d| self.ctl.clock.now() + d);
        let (fingerprint, addresses) = self
            .with_db(|db| {
                let fp = db
                    .cluster_cert
                    .as_ref()
                    .map(|c| c.fingerprint().to_string())
                    .unwrap_or_default();
                let fabric = self.fabric();
                let addrs: Vec<String> = db
                    .members
                    .iter()
                    .filter(|m| {
                        fabric
                            .as_ref()
                            .and_then(|f| f.node(&m.sim_node))
                            .is_some_and(|n| n.ctl.is_alive())
                    })
                    .map(|m| m.address.clone())
                    .collect();
                (fp, addrs)
            })
            .unwrap_or_default();
        let mut meta = json!({
            "addresses": addresses,
            "fingerprint": fingerprint,
            "secret": crate::util::random_secret(),
            "serverName": body.server_name,
        });
        if let (Some(t), Some(o)) = (expires_at, meta.as_object_mut()) {
            o.insert("expiresAt".into(), rfc3339_nano(t).into());
        }
        let op = self.ops.create(
            &self.ctl.clock,
            "token",
            "Executing operation",
            json!({"cluster": null}),
            meta,
            true,
            &self.member_name(),
        );
        Reply::Async {
            url: format!("/1.0/operations/{}", op.id),
            operation: op.to_json(self.op_fields()),
        }
    }

    /// `UpdateTrust` (lxd/cluster/connect.go, lxd-5.0.2 .. lxd-6.8) when no
    /// token was decoded: the joiner reads its own certificate from the
    /// cluster, which an untrusted client may not (403 "not authorized").
    async fn update_trust(&self, target: std::net::SocketAddr, pin: &str) -> Result<(), ApiError> {
        let path = format!("/1.0/certificates/{}", self.server_id.fingerprint());
        let got = peer_request(
            target,
            &self.server_id,
            Pin::Fingerprint(pin.to_owned()),
            Method::GET,
            &path,
            None::<&Value>,
            &[],
        )
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.envelope().map(drop).map_err(|e| e.message));
        got.map_err(|e| {
            ApiError::internal(format!(
                "Failed to update cluster trust: Failed getting existing certificate: {e}"
            ))
        })
    }

    /// Joiner side of a cluster join (runs inside the join operation).
    async fn join(self: Arc<Self>, j: JoinRequest) -> Result<(), ApiError> {
        let pem_der = crate::tls::pem_to_der(&j.cluster_certificate)
            .ok_or_else(|| ApiError::bad_request("Invalid cluster certificate"))?;
        let pin = crate::tls::fingerprint(&pem_der);
        let target = self.resolve_listen(&j.cluster_address)?;
        // 1. Trust: add our server certificate with the token
        // (`SetupTrust`), only when a token came in a field this release
        // decodes (`clusterPutJoin` at lxd-5.0.2, lxd-5.21.2, lxd-6.8). No
        // release checks the token's `server_name` against the joiner's
        // name: a token issued for n2 lets a daemon join as n3 (observed
        // on 5.0.2; the same code path in lxd-6.8 `clusterMemberJoinTokenValid`
        // matches the operation by the token's own name and secret).
        if j.token.is_empty() {
            self.update_trust(target, &pin).await?;
        } else {
            let mut cert_req = json!({
                "type": "server",
                "name": j.server_name,
                "certificate": base64::engine::general_purpose::STANDARD.encode(self.server_id.cert_der()),
            });
            if let Some(o) = cert_req.as_object_mut() {
                o.insert(j.trust_field.into(), j.token.clone().into());
            }
            let trust = peer_request(
                target,
                &self.server_id,
                Pin::Fingerprint(pin.clone()),
                Method::POST,
                "/1.0/certificates",
                Some(&cert_req),
                &[],
            )
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| match r.envelope() {
                Ok(_) => Ok(()),
                Err(e) if e.status == 409 => Ok(()),
                Err(e) => Err(e.message),
            });
            if let Err(e) = trust {
                return Err(ApiError::internal(format!(
                    "Failed to setup cluster trust: Failed to add server cert to cluster: {e}"
                )));
            }
        }
        // 2. Accept.
        let server_addr = self.resolve_listen(&j.server_address)?;
        let accept_req = json!({
            "name": j.server_name,
            "address": server_addr.to_string(),
            "sim_node": self.ctl.name,
            "api_extensions": self.b.extensions.len(),
            "server_version": self.b.version,
            "architecture": self.inventory.get().architecture.clone(),
        });
        let accepted = peer_request(
            target,
            &self.server_id,
            Pin::Fingerprint(pin.clone()),
            Method::POST,
            "/internal/cluster/accept",
            Some(&accept_req),
            &[],
        )
        .await
        .map_err(ApiError::internal)
        .and_then(|r| r.envelope())
        .map_err(|e| ApiError::internal(format!("Failed request to add member: {}", e.message)))?;
        let cert_pem = accepted
            .get("cluster_certificate")
            .and_then(Value::as_str)
            .unwrap_or("");
        let key_pem = accepted
            .get("cluster_key")
            .and_then(Value::as_str)
            .unwrap_or("");
        let cluster_cert = Identity::from_pem(cert_pem, key_pem)
            .map_err(|e| ApiError::internal(format!("Failed to join cluster: {e}")))?;
        let db = self
            .fabric()
            .and_then(|f| f.lxd_db(cluster_cert.fingerprint()))
            .ok_or_else(|| {
                ApiError::internal("Failed to join cluster: cluster database not reachable")
            })?;
        // 3. Create this member's rows for existing pools and networks.
        let me = j.server_name.clone();
        let mut claims_needed = Vec::new();
        {
            let mut g = db
                .lock()
                .map_err(|_| ApiError::internal("database poisoned"))?;
            let pool_keys = self.b.member_specific_pool_keys();
            let net_keys = self.b.member_specific_network_keys();
            for p in g.pools.values_mut() {
                let mut cfg = Config::new();
                for mc in j
                    .member_config
                    .iter()
                    .filter(|m| m.entity == "storage-pool" && m.name == p.name)
                {
                    if pool_keys.contains(&mc.key.as_str()) && !mc.value.is_empty() {
                        cfg.insert(mc.key.clone(), mc.value.clone());
                    }
                }
                if let Some(src) = cfg.get("source")
                    && src.starts_with("/dev/")
                {
                    claims_needed.push((src.clone(), p.name.clone()));
                }
                // The joiner creates the pool through its own API
                // (`clusterInitMember`), so its driver fills the same keys
                // as on the other members (`storagePoolCreateLocal`).
                let mut full = p.config.clone();
                full.extend(cfg);
                super::drivers::fill_config(
                    &p.driver,
                    &p.name,
                    &me,
                    &mut full,
                    self.b.profile == LxdProfile::Legacy,
                );
                let cfg: Config = full
                    .into_iter()
                    .filter(|(k, _)| pool_keys.contains(&k.as_str()))
                    .collect();
                p.members.insert(
                    me.clone(),
                    db::MemberRow {
                        config: cfg,
                        state: db::State::Created,
                    },
                );
            }
            for n in g.networks.values_mut() {
                let mut cfg = Config::new();
                for mc in j
                    .member_config
                    .iter()
                    .filter(|m| m.entity == "network" && m.name == n.name)
                {
                    if net_keys.contains(&mc.key.as_str()) && !mc.value.is_empty() {
                        cfg.insert(mc.key.clone(), mc.value.clone());
                    }
                }
                n.members.insert(
                    me.clone(),
                    db::MemberRow {
                        config: cfg,
                        state: db::State::Created,
                    },
                );
            }
        }
        for (path, pool) in claims_needed {
            if let Some(d) = self.inventory.get().disk_by_path(&path) {
                let _ = self
                    .claims
                    .claim(&d.id, &format!("LXD storage pool \"{pool}\""));
            }
        }
        if let Ok(mut l) = self.local.lock() {
            l.db = db;
            l.server_name = Some(me);
        }
        self.listeners.cert.set(cluster_cert);
        Ok(())
    }

    /// Member side: `POST /internal/cluster/accept`.
    pub(super) fn cluster_accept(&self, req: &Request) -> Reply {
        #[derive(Deserialize)]
        struct Accept {
            name: String,
            address: String,
            sim_node: String,
            api_extensions: usize,
            server_version: String,
            architecture: String,
        }
        if req.peer.is_unix() {
            return self.not_found();
        }
        let body: Accept = match req.json("internalClusterPostAcceptRequest") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        if !self.clustered() {
            return Reply::error(400, "This server is not clustered");
        }
        if body.api_extensions != self.b.extensions.len() || body.server_version != self.b.version {
            return Reply::error(
                400,
                format!(
                    "The joining server version doesn't match (expected {} with API count {})",
                    self.b.version,
                    self.b.extensions.len()
                ),
            );
        }
        let r = self.with_db(|db| {
            if db.members.iter().any(|m| m.name == body.name) {
                return Err(ApiError::bad_request(format!(
                    "The cluster already has a member with name: {}",
                    body.name
                )));
            }
            if db.members.iter().any(|m| m.address == body.address) {
                return Err(ApiError::bad_request(format!(
                    "The cluster already has a member with address: {}",
                    body.address
                )));
            }
            let role = match db.members.len() {
                1 | 2 => "database",
                3 => "database-standby",
                _ => "",
            };
            db.members.push(Member {
                name: body.name.clone(),
                address: body.address.clone(),
                sim_node: body.sim_node.clone(),
                roles: if role.is_empty() {
                    vec![]
                } else {
                    vec![role.to_string()]
                },
                architecture: body.architecture.clone(),
            });
            let cert = db.cluster_cert.clone();
            Ok(cert)
        });
        match r {
            Ok(Ok(Some(cert))) => Reply::sync(json!({
                "cluster_certificate": cert.cert_pem(),
                "cluster_key": cert.key_pem(),
            })),
            Ok(Ok(None)) => Reply::error(500, "No cluster certificate"),
            Ok(Err(e)) | Err(e) => e.into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub(crate) struct MemberConfigKey {
    entity: String,
    name: String,
    key: String,
    value: String,
}

#[derive(Debug)]
struct JoinRequest {
    server_name: String,
    cluster_address: String,
    cluster_certificate: String,
    server_address: String,
    token: String,
    /// `password` or `trust_token`: where the token goes in the
    /// `POST /1.0/certificates` sent to the cluster.
    trust_field: &'static str,
    member_config: Vec<MemberConfigKey>,
}
