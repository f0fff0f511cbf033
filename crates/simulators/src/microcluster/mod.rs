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
mod core_api;
pub(crate) mod ovn;
pub(crate) mod real_ceph;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

use base64::Engine as _;
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::faults::Service;
use crate::http::{ApiError, Config, Reply, Request, percent_decode};
use crate::inventory::{Claims, Hardware};
use crate::server::{BoxFuture, Handler, Listeners, NodeCtl, go_status_text, peer_request};
use crate::sim::{Fabric, Timings};
use crate::tls::{Identity, Pin};

/// Which microcluster endpoint family a simulated daemon serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum McFamily {
    /// `/core/...`: microcluster v1.0.0 and newer (MicroCeph squid and
    /// newer, MicroOVN 24.03 and newer). Lists the internal extensions
    /// `internal:runtime_extension_v1` and `internal:rename_core_endpoints`.
    #[default]
    Core,
    /// `/cluster/...`: microcluster from before the rename, as MicroCeph
    /// reef vendors it (`v18.2.4+reef` go.mod: microcluster
    /// 3d587817830c). Tokens on the public API and without expiry, no
    /// `version` in the server info, one internal extension (a bare
    /// string).
    Cluster,
}

/// The three core APIs of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Public,
    Control,
    Internal,
}

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
    /// The endpoint family this daemon serves.
    family: McFamily,
    /// Whether the daemon has finished starting (`GET .../ready`).
    started: Arc<std::sync::atomic::AtomicBool>,
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

/// How one simulated microcluster daemon behaves.
#[derive(Debug, Clone)]
pub(crate) struct McBehaviour {
    /// Operation durations.
    pub timings: Timings,
    /// MicroCeph only: the real Ceph cluster answering pool calls.
    pub real_ceph: Option<real_ceph::CephCli>,
    /// The endpoint family served.
    pub family: McFamily,
}

impl McService {
    pub(crate) fn new(
        kind: Service,
        ctl: Arc<NodeCtl>,
        fabric: Weak<Fabric>,
        inventory: Arc<Hardware>,
        claims: Arc<Claims>,
        behaviour: McBehaviour,
    ) -> Result<Arc<Self>, crate::SimError> {
        let McBehaviour {
            timings,
            real_ceph,
            family,
        } = behaviour;
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
            family,
            started: Arc::new(std::sync::atomic::AtomicBool::new(false)),
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
            })?;
        self.begin_start();
        Ok(())
    }

    pub(crate) fn restart(self: &Arc<Self>) -> std::io::Result<()> {
        self.listeners.rebind(self.clone())?;
        self.begin_start();
        Ok(())
    }

    /// The daemon serves its socket while it starts and closes `ReadyChan`
    /// once `init` and the `OnStart` hook are done
    /// (`internal/daemon/daemon.go` `Run`, v2.0.4): until then `GET
    /// .../ready` answers 503. `Timings::microcluster_start` long.
    fn begin_start(&self) {
        use std::sync::atomic::Ordering;
        self.started.store(false, Ordering::SeqCst);
        let delay = self.timings.microcluster_start;
        if delay.is_zero() {
            self.started.store(true, Ordering::SeqCst);
            return;
        }
        let started = self.started.clone();
        let ctl = self.ctl.clone();
        tokio::spawn(async move {
            ctl.work(delay).await;
            started.store(true, Ordering::SeqCst);
        });
    }

    /// `GET .../ready` (`internal/rest/resources/ready.go`, v2.0.4, v3 and
    /// 3d587817830c): 503 `Daemon is not ready yet` until started, then
    /// an empty 200, whether or not the daemon is initialised.
    fn ready(&self) -> Reply {
        if self.started.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::empty()
        } else {
            Reply::error(503, "Daemon is not ready yet")
        }
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

    /// The API extensions: microcluster's internal ones first
    /// (`internalExtensions` in `internal/extensions/extensions.go`: two
    /// since the rename, v2.0.4 and v3; one at 3d587817830c), then the
    /// service's own (MicroOVN: `custom_encapsulation_ip`,
    /// `microovn/api/extensions.go` on branch-24.03, branch-25.03, main;
    /// MicroCeph: none, `APIExtensions: nil` in
    /// `microceph/cmd/microcephd/main.go` at v19.2.0+squid and main).
    /// microcluster marshals a one-element list as a bare string
    /// (`Extensions.MarshalJSON`), so only a lone old-family internal
    /// extension is a string.
    fn extensions(&self) -> Value {
        let mut all = vec!["internal:runtime_extension_v1"];
        if self.family == McFamily::Core {
            all.push("internal:rename_core_endpoints");
        }
        if self.kind == Service::Microovn {
            all.push("custom_encapsulation_ip");
        }
        match all.as_slice() {
            [one] => json!(one),
            _ => json!(all),
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
        // The family's prefixes: `/core/{1.0,control,internal}` since the
        // rename (v1.0.0+: `internal/rest/types/server.go` at v2.0.4, v3),
        // `/cluster/{...}` before it (3d587817830c, MicroCeph reef). The
        // other family's paths reach the catch-all 404 `not found`
        // (`mux.NotFoundHandler`, `internal/daemon/daemon.go`).
        let (api, rest): (Option<Api>, &[&str]) = match (self.family, segs.as_slice()) {
            (McFamily::Core, ["core", "1.0", rest @ ..])
            | (McFamily::Cluster, ["cluster", "1.0", rest @ ..]) => (Some(Api::Public), rest),
            (McFamily::Core, ["core", "control", rest @ ..])
            | (McFamily::Cluster, ["cluster", "control", rest @ ..]) => (Some(Api::Control), rest),
            (McFamily::Core, ["core", "internal", rest @ ..])
            | (McFamily::Cluster, ["cluster", "internal", rest @ ..]) => {
                (Some(Api::Internal), rest)
            }
            (_, ["core" | "cluster", ..]) => return Reply::error(404, "not found"),
            _ => (None, &[]),
        };
        // The join handshake: `/core/internal/cluster` (v2.0.4, v3
        // `clusterInternalCmd`), `/cluster/1.0/cluster` before the rename
        // (3d587817830c `clusterCmd`); both `AllowUntrusted`.
        let handshake = match self.family {
            McFamily::Core => Api::Internal,
            McFamily::Cluster => Api::Public,
        };
        // The control API is only served on the unix socket; the network
        // listener has no such route (`UnixEndpoints`,
        // `internal/rest/resources/resources.go`).
        if api == Some(Api::Control) && !unix {
            return Reply::error(404, "not found");
        }
        // Endpoints that do not need trust.
        match (&m, api, rest) {
            (&Method::GET, Some(Api::Public), []) => return self.server_info(),
            (&Method::POST, Some(a), ["cluster"]) if a == handshake && !unix => {
                return self.internal_join(&req);
            }
            _ => {}
        }
        if !self.trusted(&req) {
            return Reply::error(403, "not authorized");
        }
        // Tokens are issued and listed on the control socket since v2
        // (`UnixEndpoints` in `internal/rest/resources/resources.go`,
        // v2.0.4), on the public API before (`PublicEndpoints` at
        // 3d587817830c).
        let tokens = match self.family {
            McFamily::Core => Api::Control,
            McFamily::Cluster => Api::Public,
        };
        if let Some(api) = api {
            return match (&m, api, rest) {
                (&Method::GET, Api::Public, ["ready"]) => self.ready(),
                (&Method::POST, Api::Control, []) => self.control(&req).await,
                (&Method::POST, a, ["tokens"]) if a == tokens => self.tokens_post(&req),
                (&Method::GET, a, ["tokens"]) if a == tokens => self.tokens_get(),
                (&Method::DELETE, Api::Public, ["tokens", name]) => self.token_delete(name),
                (&Method::GET, Api::Public, ["cluster"]) => self.cluster_get(),
                (&Method::DELETE, Api::Public, ["cluster", name]) => self.member_delete(name),
                _ => Reply::error(404, "not found"),
            };
        }
        match (&m, segs.as_slice()) {
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
        // microcluster v2.0.4 and v3 (`internal/rest/resources/control.go`
        // `controlPost`): the database status first, then the body, then
        // bootstrap with a token, then the name (`ValidateFQDN`, an
        // `api.StatusError` 400 that `SmartError` keeps). Before the rename
        // (3d587817830c) there is no status check up front and the name
        // error is a plain error (500); the simulator still refuses an
        // initialised daemon there, with the v2 message.
        let online = || Reply::error(500, "Unable to initialize cluster: Database is online");
        if self.family == McFamily::Core && self.is_initialised() {
            return online();
        }
        let body: Control = match req.json("types.Control") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        if body.bootstrap && !body.join_token.is_empty() {
            // `SmartError(fmt.Errorf(...))`: a plain error, 500.
            return Reply::error(
                500,
                "Invalid options - received join token and bootstrap flag",
            );
        }
        if let Err(reason) = crate::util::validate_fqdn(&body.name) {
            return match self.family {
                McFamily::Core => Reply::error(
                    400,
                    format!(
                        "Cluster member name {:?} is not a valid FQDN: {reason}",
                        body.name
                    ),
                ),
                McFamily::Cluster => Reply::error(
                    500,
                    format!("Invalid cluster member name {:?}: {reason}", body.name),
                ),
            };
        }
        if !body.bootstrap && body.join_token.is_empty() {
            // Simulator guard, not microcluster's: a real daemon goes on to
            // start its API neither bootstrapped nor joined. The tool never
            // sends this.
            return Reply::error(
                400,
                "Invalid options - expected to receive either a join token or the bootstrap flag",
            );
        }
        if self.is_initialised() {
            return online();
        }
        let name = body.name.clone();
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
            // MicroOVN does not check `ovn-encap-ip`: its bootstrap and join
            // hooks hand the value to `ovs-vsctl set open_vswitch .
            // external_ids:ovn-encap-ip=<value>` as it is
            // (`microovn/ovn/bootstrap.go`, `microovn/ovn/join.go` on
            // branch-24.03, branch-25.03, main).
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
        // `joinWithToken` (`internal/rest/resources/control.go`, v2.0.4):
        // a member it cannot reach, or whose certificate is not the
        // token's, is skipped without recording an error;
        // a refusal is kept as the last error, whose status `SmartError`
        // keeps (the client's `api.StatusError`).
        let mut last: Option<ApiError> = None;
        let mut response = None;
        for ja in &token.join_addresses {
            let Ok(target) = ja.parse::<SocketAddr>() else {
                continue;
            };
            match peer_request(
                target,
                &server,
                Pin::Fingerprint(token.fingerprint.clone()),
                Method::POST,
                match self.family {
                    McFamily::Core => "/core/internal/cluster",
                    McFamily::Cluster => "/cluster/1.0/cluster",
                },
                Some(&body),
                &[],
            )
            .await
            {
                // An answer from a member is final (members share one
                // database, so another would answer the same).
                Ok(r) => match r.envelope() {
                    Ok(v) => {
                        response = Some(v);
                        break;
                    }
                    Err(e) => {
                        last = Some(e);
                        break;
                    }
                },
                // Reaching the member and checking its certificate
                // (`GetRemoteCertificate`, the fingerprint) fail silently;
                // a failure of the request itself is the last error (a
                // plain error: 500).
                Err(e) if e.contains(": dial tcp ") || e.contains(": tls: ") => {}
                Err(e) => last = Some(ApiError::internal(e)),
            }
        }
        let Some(resp) = response else {
            let n = token.join_addresses.len();
            return Err(match last {
                Some(e) => ApiError::new(
                    e.status,
                    format!(
                        "{n} join attempts were unsuccessful. Last error: {}",
                        e.message
                    ),
                ),
                // Go's `%w` of a nil error.
                None => ApiError::internal(format!(
                    "{n} join attempts were unsuccessful. Last error: %!w(<nil>)"
                )),
            });
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
