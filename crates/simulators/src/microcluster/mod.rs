//! Simulated microcluster daemons: MicroCeph and MicroOVN.
//!
//! Both share the microcluster core API (`/core/1.0`, `/core/control`,
//! `/core/internal`) and add their own `/1.0/...` endpoints
//! ([`ceph`], [`ovn`]). The control socket is
//! `<state>/<node>/<service>/control.socket`; HTTPS listens on the address
//! given at bootstrap or join.
//!
//! Modelled: bootstrap and join through `POST /core/control` (blocking,
//! synchronous), tokens (`base64(JSON{secret,fingerprint,join_addresses})`,
//! expiry in nanoseconds, single use, expired records pruned on issue),
//! the join handshake over HTTPS (`POST /core/internal/cluster`, the token
//! fingerprint pinned, the joiner's certificate SAN must contain the token
//! name, duplicate addresses refused), the member list, 503 before init,
//! socket-only control endpoints, the `extensions` string-or-array quirk
//! (MicroCeph advertises one extension, so it is a bare string; MicroOVN
//! several), `?target=` forwarding over HTTPS for extension endpoints.
//!
//! Not modelled: member removal, certificate rotation, daemon shutdown,
//! dqlite roles beyond a static voter/stand-by assignment, heartbeats.

pub(crate) mod ceph;
pub(crate) mod ovn;
pub(crate) mod real_ceph;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

use base64::Engine as _;
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::clock::{GO_ZERO_TIME, rfc3339};
use crate::faults::Service;
use crate::http::{ApiError, Config, Reply, Request, percent_decode};
use crate::inventory::{Claims, Hardware};
use crate::server::{BoxFuture, Handler, Listeners, NodeCtl, go_status_text, peer_request};
use crate::sim::{Fabric, Timings};
use crate::tls::{Identity, Pin};

#[derive(Debug, Clone)]
pub(crate) struct McMember {
    pub name: String,
    pub address: String,
    pub cert_pem: String,
    pub fingerprint: String,
    pub role: String,
    pub sim_node: String,
}

#[derive(Debug, Clone)]
struct TokenRecord {
    name: String,
    secret: String,
    expires_at: Option<OffsetDateTime>,
}

/// The shared database of one microcluster.
#[derive(Debug)]
pub(crate) struct McDb {
    cluster_cert: Identity,
    pub members: Vec<McMember>,
    tokens: Vec<TokenRecord>,
    pub ceph: ceph::CephState,
    pub ovn: ovn::OvnState,
}

#[derive(Debug, Default)]
struct Local {
    name: Option<String>,
    address: Option<SocketAddr>,
    db: Option<Arc<Mutex<McDb>>>,
}

/// One simulated microcluster daemon (MicroCeph or MicroOVN).
pub(crate) struct McService {
    kind: Service,
    ctl: Arc<NodeCtl>,
    fabric: Weak<Fabric>,
    inventory: Arc<Hardware>,
    claims: Arc<Claims>,
    server_id: Mutex<Identity>,
    listeners: Listeners,
    local: Mutex<Local>,
    timings: Timings,
    /// Serialises `POST /1.0/disks` like MicroCeph's mutex.
    disk_lock: tokio::sync::Mutex<()>,
    /// MicroCeph only: the real Ceph cluster answering pool calls.
    real_ceph: Option<real_ceph::CephCli>,
}

impl std::fmt::Debug for McService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McService")
            .field("kind", &self.kind)
            .field("node", &self.ctl.name)
            .finish_non_exhaustive()
    }
}

fn unavailable() -> ApiError {
    ApiError::new(503, "Database is not yet initialized")
}

impl McService {
    pub(crate) fn new(
        kind: Service,
        ctl: Arc<NodeCtl>,
        fabric: Weak<Fabric>,
        inventory: Arc<Hardware>,
        claims: Arc<Claims>,
        timings: Timings,
        real_ceph: Option<real_ceph::CephCli>,
    ) -> Result<Arc<Self>, crate::SimError> {
        let hostname = inventory
            .get()
            .hostname
            .clone()
            .unwrap_or_else(|| ctl.name.clone());
        let server_id = Identity::generate(&hostname, std::slice::from_ref(&hostname))?;
        let listeners = Listeners::new(ctl.clone(), kind, server_id.clone())?;
        Ok(Arc::new(Self {
            kind,
            ctl,
            fabric,
            inventory,
            claims,
            server_id: Mutex::new(server_id),
            listeners,
            local: Mutex::new(Local::default()),
            timings,
            disk_lock: tokio::sync::Mutex::new(()),
            real_ceph,
        }))
    }

    pub(crate) fn socket_path(&self) -> std::path::PathBuf {
        self.ctl
            .state_dir
            .join(self.kind.name())
            .join("control.socket")
    }

    pub(crate) fn start(self: &Arc<Self>) -> Result<(), crate::SimError> {
        let path = self.socket_path();
        self.listeners
            .bind_unix(self.clone(), &path)
            .map_err(|source| crate::SimError::Bind {
                node: self.ctl.name.clone(),
                service: self.kind.name(),
                what: path.display().to_string(),
                source,
            })
    }

    pub(crate) fn restart(self: &Arc<Self>) -> std::io::Result<()> {
        self.listeners.rebind(self.clone())
    }

    pub(crate) fn https_addr(&self) -> Option<SocketAddr> {
        self.listeners.https_addr()
    }

    pub(crate) fn server_identity(&self) -> Identity {
        match self.server_id.lock() {
            Ok(i) => i.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(crate) fn cluster_fingerprint(&self) -> Option<String> {
        self.db().and_then(|db| {
            db.lock()
                .ok()
                .map(|d| d.cluster_cert.fingerprint().to_string())
        })
    }

    pub(crate) fn is_initialised(&self) -> bool {
        self.db().is_some()
    }

    pub(crate) fn member_name(&self) -> Option<String> {
        self.local.lock().ok().and_then(|l| l.name.clone())
    }

    fn fabric(&self) -> Option<Arc<Fabric>> {
        self.fabric.upgrade()
    }

    pub(crate) fn db(&self) -> Option<Arc<Mutex<McDb>>> {
        self.local.lock().ok().and_then(|l| l.db.clone())
    }

    fn with_db<T>(&self, f: impl FnOnce(&mut McDb) -> T) -> Result<T, ApiError> {
        let db = self.db().ok_or_else(unavailable)?;
        let mut g = db
            .lock()
            .map_err(|_| ApiError::internal("database poisoned"))?;
        Ok(f(&mut g))
    }

    fn version(&self) -> &'static str {
        match self.kind {
            Service::Microceph => "19.2.0",
            Service::Microovn => "24.03.2",
            Service::Lxd => "",
        }
    }

    fn extensions(&self) -> Value {
        // microcluster marshals a one-element list as a bare string.
        match self.kind {
            Service::Microovn => json!([
                "internal:runtime_extension_v1",
                "internal:rename_core_endpoints",
                "custom_encapsulation_ip"
            ]),
            _ => json!("internal:runtime_extension_v1"),
        }
    }

    fn hostname(&self) -> String {
        self.inventory
            .get()
            .hostname
            .clone()
            .unwrap_or_else(|| self.ctl.name.clone())
    }

    fn trusted(&self, req: &Request) -> bool {
        if req.peer.is_unix() {
            return true;
        }
        let Some(fp) = req.peer.fingerprint() else {
            return false;
        };
        self.with_db(|db| {
            db.members.iter().any(|m| m.fingerprint == fp) || db.cluster_cert.fingerprint() == fp
        })
        .unwrap_or(false)
    }

    async fn route(self: Arc<Self>, req: Request) -> Reply {
        let segs: Vec<String> = req.segments().into_iter().map(percent_decode).collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let m = req.method.clone();
        if !matches!(
            m,
            Method::GET | Method::PUT | Method::POST | Method::DELETE | Method::PATCH
        ) {
            return Reply::error(404, format!("Method '{m}' not found"));
        }
        let unix = req.peer.is_unix();
        // Endpoints that do not need trust.
        match (&m, segs.as_slice()) {
            (&Method::GET, ["core", "1.0"]) => return self.server_info(),
            (&Method::POST, ["core", "internal", "cluster"]) if !unix => {
                return self.internal_join(&req);
            }
            _ => {}
        }
        if !self.trusted(&req) {
            return Reply::error(403, "not authorized");
        }
        match (&m, segs.as_slice()) {
            (&Method::GET, ["core", "1.0", "ready"]) => Reply::empty(),
            (&Method::POST, ["core", "control"]) if unix => self.control(&req).await,
            (&Method::POST, ["core", "control", "tokens"]) if unix => self.tokens_post(&req),
            (&Method::GET, ["core", "control", "tokens"]) if unix => self.tokens_get(),
            (&Method::DELETE, ["core", "1.0", "tokens", name]) => self.token_delete(name),
            (&Method::GET, ["core", "1.0", "cluster"]) => self.cluster_get(),
            (&Method::DELETE, ["core", "1.0", "cluster", name]) => self.member_delete(name),
            (_, ["core", ..]) => Reply::error(404, "not found"),
            (_, ["1.0", ..]) => {
                if !self.is_initialised() {
                    return unavailable().into();
                }
                if let Some(target) = req.target()
                    && Some(target) != self.member_name().as_deref()
                {
                    return self.forward(&req, target).await;
                }
                let r = match self.kind {
                    Service::Microceph => self.clone().ceph_route(&req, &segs).await,
                    Service::Microovn => self.ovn_route(&req, &segs),
                    Service::Lxd => None,
                };
                r.unwrap_or_else(|| Reply::error(404, "not found"))
            }
            _ => Reply::error(404, "not found"),
        }
    }

    fn server_info(&self) -> Reply {
        let local = self.local.lock().ok();
        let (name, address, ready) = match &local {
            Some(l) => (
                l.name.clone().unwrap_or_else(|| self.hostname()),
                l.address.map(|a| a.to_string()).unwrap_or_default(),
                l.db.is_some(),
            ),
            None => (self.hostname(), String::new(), false),
        };
        Reply::sync(json!({
            "name": name,
            "address": address,
            "version": self.version(),
            "ready": ready,
            "extensions": self.extensions(),
        }))
    }

    fn member_json(&self, m: &McMember) -> Value {
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

    fn cluster_get(&self) -> Reply {
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

    fn tokens_post(&self, req: &Request) -> Reply {
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
        if !crate::util::valid_fqdn(&body.name) {
            return Reply::error(400, format!("Invalid token name {:?}", body.name));
        }
        let now = self.ctl.clock.now();
        let expires_at =
            (body.expire_after > 0).then(|| now + time::Duration::nanoseconds(body.expire_after));
        let r = self.with_db(|db| {
            db.tokens.retain(|t| t.expires_at.is_none_or(|e| e > now));
            if db.tokens.iter().any(|t| t.name == body.name) {
                return Err(ApiError::new(
                    409,
                    "This \"core_token_records\" entry already exists",
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

    fn tokens_get(&self) -> Reply {
        let now = self.ctl.clock.now();
        let r = self.with_db(|db| {
            let fp = db.cluster_cert.fingerprint().to_string();
            let addrs: Vec<String> = db.members.iter().map(|m| m.address.clone()).collect();
            db.tokens
                .iter()
                .filter(|t| t.expires_at.is_none_or(|e| e > now))
                .map(|t| {
                    let token = json!({"secret": t.secret, "fingerprint": fp, "join_addresses": addrs});
                    json!({
                        "name": t.name,
                        "token": base64::engine::general_purpose::STANDARD.encode(token.to_string()),
                        "expires_at": t.expires_at.map(rfc3339).unwrap_or_else(|| GO_ZERO_TIME.to_string()),
                    })
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
    fn member_delete(&self, name: &str) -> Reply {
        let Some(db) = self.db() else {
            return unavailable().into();
        };
        let member = match db.lock() {
            Ok(g) => g.members.iter().find(|m| m.name == name).cloned(),
            Err(_) => return ApiError::internal("database poisoned").into(),
        };
        let Some(member) = member else {
            return Reply::error(404, "Daemon not found");
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

    fn token_delete(&self, name: &str) -> Reply {
        match self.with_db(|db| {
            let before = db.tokens.len();
            db.tokens.retain(|t| t.name != name);
            before != db.tokens.len()
        }) {
            Ok(true) => Reply::empty(),
            Ok(false) => Reply::error(404, "CoreTokenRecord not found"),
            Err(e) => e.into(),
        }
    }

    fn resolve(&self, address: &str) -> Result<SocketAddr, ApiError> {
        let bad = || ApiError::bad_request(format!("Invalid address {address:?}"));
        let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().map_err(|_| bad())?;
        let ip = match host {
            "" | "::" | "0.0.0.0" => self.ctl.ip,
            h => h.parse().map_err(|_| bad())?,
        };
        Ok(SocketAddr::new(ip, port))
    }

    async fn control(self: &Arc<Self>, req: &Request) -> Reply {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Control {
            bootstrap: bool,
            config: Config,
            join_token: String,
            address: String,
            name: String,
        }
        let body: Control = match req.json("types.Control") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        if body.bootstrap && !body.join_token.is_empty() {
            return Reply::error(
                400,
                "Invalid options - received join token and bootstrap flag",
            );
        }
        if !body.bootstrap && body.join_token.is_empty() {
            return Reply::error(
                400,
                "Invalid options - expected to receive either a join token or the bootstrap flag",
            );
        }
        if self.is_initialised() {
            return Reply::error(500, "Unable to initialize cluster: Database is online");
        }
        let name = if body.name.is_empty() {
            self.hostname()
        } else {
            body.name.clone()
        };
        if !crate::util::valid_fqdn(&name) {
            return Reply::error(400, format!("Invalid cluster member name {name:?}"));
        }
        let addr = match self.resolve(&body.address) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        if let Err(e) = self.validate_init_config(body.bootstrap, &body.config, addr) {
            return e.into();
        }
        // The daemon regenerates server.crt when the name changes.
        if name != self.hostname() {
            match Identity::generate(&name, std::slice::from_ref(&name)) {
                Ok(id) => {
                    if let Ok(mut s) = self.server_id.lock() {
                        *s = id.clone();
                    }
                    self.listeners.cert.set(id);
                }
                Err(e) => return Reply::error(500, e.to_string()),
            }
        }
        if let Err(e) = self.listeners.bind_https(self.clone(), addr) {
            return Reply::error(
                500,
                format!(
                    "Failed to listen on {addr}: listen tcp {addr}: bind: {}",
                    crate::lxd::go_bind_error(&e)
                ),
            );
        }
        let r = if body.bootstrap {
            self.ctl.work(self.timings.microcluster_bootstrap).await;
            self.bootstrap(&name, addr, &body.config)
        } else {
            self.ctl.work(self.timings.microcluster_join).await;
            self.clone()
                .join(&name, addr, &body.join_token, &body.config)
                .await
        };
        // After a failed attempt the listener stays up (a retry on the same
        // address reuses it).
        match r {
            Ok(()) => Reply::empty(),
            Err(e) => e.into(),
        }
    }

    fn validate_init_config(
        &self,
        bootstrap: bool,
        config: &Config,
        addr: SocketAddr,
    ) -> Result<(), ApiError> {
        match self.kind {
            Service::Microceph if bootstrap => {
                ceph::bootstrap_networks(config, addr, &self.inventory.get()).map(drop)
            }
            Service::Microovn => {
                if let Some(ip) = config.get("ovn-encap-ip")
                    && ip.parse::<std::net::IpAddr>().is_err()
                {
                    return Err(ApiError::internal(format!(
                        "Failed to run post-{} hook: invalid ovn-encap-ip {ip:?}",
                        if bootstrap { "bootstrap" } else { "join" }
                    )));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn bootstrap(&self, name: &str, addr: SocketAddr, config: &Config) -> Result<(), ApiError> {
        let cluster_cert = Identity::generate(name, &[name.to_string()])
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let server = self.server_identity();
        let mut db = McDb {
            cluster_cert: cluster_cert.clone(),
            members: vec![McMember {
                name: name.to_string(),
                address: addr.to_string(),
                cert_pem: server.cert_pem().to_string(),
                fingerprint: server.fingerprint().to_string(),
                role: "voter".into(),
                sim_node: self.ctl.name.clone(),
            }],
            tokens: Vec::new(),
            ceph: ceph::CephState::default(),
            ovn: ovn::OvnState::default(),
        };
        match self.kind {
            Service::Microceph => {
                db.ceph
                    .bootstrap(name, config, addr, &self.inventory.get())?;
                db.ceph.add_member(name, None);
            }
            Service::Microovn => db.ovn.add_member(name, config, addr),
            Service::Lxd => {}
        }
        let db = Arc::new(Mutex::new(db));
        if let Some(f) = self.fabric() {
            f.register_mc_db(
                self.kind,
                cluster_cert.fingerprint().to_string(),
                db.clone(),
            );
        }
        if let Ok(mut l) = self.local.lock() {
            l.name = Some(name.to_string());
            l.address = Some(addr);
            l.db = Some(db);
        }
        self.listeners.cert.set(cluster_cert);
        Ok(())
    }

    async fn join(
        self: Arc<Self>,
        name: &str,
        addr: SocketAddr,
        token: &str,
        config: &Config,
    ) -> Result<(), ApiError> {
        #[derive(Deserialize)]
        struct Token {
            secret: String,
            fingerprint: String,
            join_addresses: Vec<String>,
        }
        let token: Token = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| ApiError::bad_request("Failed to parse join token: invalid token"))?;
        // MicroCeph: a joiner that becomes a monitor needs an address in
        // the cluster's public network (see `ceph::join_mon_address`).
        let mon = match self.kind {
            Service::Microceph => self
                .fabric()
                .and_then(|f| f.mc_db(self.kind, &token.fingerprint))
                .and_then(|db| {
                    db.lock()
                        .ok()
                        .map(|g| ceph::join_mon_address(&g.ceph, &self.inventory.get(), addr.ip()))
                })
                .transpose()?
                .flatten(),
            _ => None,
        };
        let server = self.server_identity();
        let body = json!({
            "name": name,
            "address": addr.to_string(),
            "certificate": server.cert_pem(),
            "secret": token.secret,
            "schema_internal_version": 7,
            "schema_external_version": 3,
            "extensions": self.extensions(),
        });
        let mut last = String::from("no join addresses in token");
        let mut response = None;
        for ja in &token.join_addresses {
            let Ok(target) = ja.parse::<SocketAddr>() else {
                last = format!("Invalid join address {ja:?}");
                continue;
            };
            match peer_request(
                target,
                &server,
                Pin::Fingerprint(token.fingerprint.clone()),
                Method::POST,
                "/core/internal/cluster",
                Some(&body),
                &[],
            )
            .await
            {
                // An answer from a member is final (members share one
                // database); only transport failures move on to the next
                // join address.
                Ok(r) => match r.envelope() {
                    Ok(v) => {
                        response = Some(v);
                        break;
                    }
                    Err(e) => {
                        last = e.message;
                        break;
                    }
                },
                Err(e) => last = e,
            }
        }
        let Some(resp) = response else {
            return Err(ApiError::internal(format!(
                "Failed to join cluster with the given join token: {last}"
            )));
        };
        let cert_pem = resp
            .get("cluster_cert")
            .and_then(Value::as_str)
            .unwrap_or("");
        let key_pem = resp
            .get("cluster_key")
            .and_then(Value::as_str)
            .unwrap_or("");
        let cluster_cert = Identity::from_pem(cert_pem, key_pem)
            .map_err(|e| ApiError::internal(format!("Failed to join cluster: {e}")))?;
        let db = self
            .fabric()
            .and_then(|f| f.mc_db(self.kind, cluster_cert.fingerprint()))
            .ok_or_else(|| ApiError::internal("Failed to join cluster: database not reachable"))?;
        if let Ok(mut g) = db.lock() {
            match self.kind {
                Service::Microceph => g.ceph.add_member(name, mon),
                Service::Microovn => g.ovn.add_member(name, config, addr),
                Service::Lxd => {}
            }
        }
        if let Ok(mut l) = self.local.lock() {
            l.name = Some(name.to_string());
            l.address = Some(addr);
            l.db = Some(db);
        }
        self.listeners.cert.set(cluster_cert);
        Ok(())
    }

    /// Member side of the join handshake.
    fn internal_join(&self, req: &Request) -> Reply {
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
        let r = self.with_db(|db| {
            let Some(pos) = db.tokens.iter().position(|t| t.secret == body.secret) else {
                return Err(ApiError::not_found("CoreTokenRecord not found"));
            };
            let Some(record) = db.tokens.get(pos).cloned() else {
                return Err(ApiError::not_found("CoreTokenRecord not found"));
            };
            if record.expires_at.is_some_and(|e| now > e) {
                return Err(ApiError::bad_request("Token expired"));
            }
            if !crate::tls::cert_has_dns_san(&der, &record.name) || body.name != record.name {
                return Err(ApiError::bad_request(
                    "Joining server certificate SAN does not contain join token name",
                ));
            }
            if db.members.iter().any(|m| m.address == body.address) {
                return Err(ApiError::bad_request(format!(
                    "Remote with address {:?} exists",
                    body.address
                )));
            }
            if db.members.iter().any(|m| m.name == body.name) {
                return Err(ApiError::bad_request(format!(
                    "Remote with name {:?} exists",
                    body.name
                )));
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
    async fn forward(&self, req: &Request, target: &str) -> Reply {
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

impl Handler for McService {
    fn handle(self: Arc<Self>, req: Request) -> BoxFuture<Reply> {
        Box::pin(self.route(req))
    }
    fn status_text(&self, status: u16) -> String {
        if status == 403 {
            return "not authorized".into();
        }
        go_status_text(status).to_string()
    }
}

/// Minimal IPv4/IPv6 CIDR parsing and containment.
pub(crate) mod ipnet_lite {
    use std::net::IpAddr;

    /// A CIDR network.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Net {
        addr: IpAddr,
        prefix: u8,
    }

    impl std::str::FromStr for Net {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            let (a, p) = s.split_once('/').ok_or(())?;
            let addr: IpAddr = a.parse().map_err(|_| ())?;
            let prefix: u8 = p.parse().map_err(|_| ())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if prefix > max {
                return Err(());
            }
            Ok(Self { addr, prefix })
        }
    }

    impl Net {
        pub(crate) fn contains(&self, ip: IpAddr) -> bool {
            match (self.addr, ip) {
                (IpAddr::V4(n), IpAddr::V4(i)) => {
                    let mask = if self.prefix == 0 {
                        0
                    } else {
                        u32::MAX << (32 - u32::from(self.prefix))
                    };
                    (u32::from(n) & mask) == (u32::from(i) & mask)
                }
                (IpAddr::V6(n), IpAddr::V6(i)) => {
                    let mask = if self.prefix == 0 {
                        0
                    } else {
                        u128::MAX << (128 - u32::from(self.prefix))
                    };
                    (u128::from(n) & mask) == (u128::from(i) & mask)
                }
                _ => false,
            }
        }
    }
}
