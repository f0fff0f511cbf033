//! Simulated LXD daemon.
//!
//! Serves the LXD REST API on `<state>/<node>/lxd/unix.socket` and, once
//! `core.https_address` or `cluster.https_address` is set, over HTTPS (a
//! wildcard host such as `[::]:8443` binds the node's own loopback
//! address, because all simulated nodes share one machine).
//!
//! Modelled: server config (`GET/PUT/PATCH /1.0` with ETag/If-Match and
//! member-local keys), `/internal/ready`, resources from the inventory,
//! clustering (bootstrap, join tokens as `token` operations, join over
//! HTTPS with the token fingerprint pinned, trust via `POST
//! /1.0/certificates` with the token, `/internal/cluster/accept`), member
//! listing with Online/Offline from node liveness, operations with `/wait`,
//! storage pools and networks with the pending/created rules,
//! `?target=` forwarding over HTTPS, cluster notifications over HTTPS,
//! profiles, custom volumes, certificates (direct and token).
//!
//! Not modelled: instances, images, projects other than `default`,
//! events/websockets, removal of a fully joined member
//! (`DELETE /1.0/cluster/members/<n>` is modelled only for a member whose
//! own daemon never finished joining), leaving a cluster, dqlite roles beyond a
//! static assignment, heartbeats (a crashed node is Offline at once).

mod db;
mod network;
mod ops;
mod storage;
mod version;

pub use version::LxdProfile;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use base64::Engine as _;
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::{parse_lxd_expiry, rfc3339_nano};
use crate::faults::Service;
use crate::http::{ApiError, Config, Reply, Request, percent_decode};
use crate::inventory::{Claims, Hardware};
use crate::server::{BoxFuture, Handler, Listeners, NodeCtl, peer_request};
use crate::sim::{Fabric, Timings};
use crate::tls::{Identity, Pin};

pub(crate) use db::LxdDb;
use db::{Member, UNCLUSTERED};
use ops::{OpFields, Ops};
pub(crate) use version::Behaviour;

/// User agent LXD members use for cluster notifications.
const NOTIFIER_UA: &str = "lxd-cluster-notifier";

/// Options for one simulated LXD.
#[derive(Debug, Clone)]
pub(crate) struct LxdOptions {
    pub profile: LxdProfile,
    pub remove_extensions: Vec<String>,
    pub add_extensions: Vec<String>,
    pub storage_drivers: Vec<String>,
}

#[derive(Debug)]
struct Local {
    /// Member-local config keys.
    config: Config,
    /// Member name once clustered.
    server_name: Option<String>,
    db: Arc<Mutex<LxdDb>>,
    joining: bool,
}

/// One simulated LXD daemon.
pub(crate) struct LxdService {
    ctl: Arc<NodeCtl>,
    fabric: Weak<Fabric>,
    inventory: Arc<Hardware>,
    claims: Arc<Claims>,
    b: Behaviour,
    server_id: Identity,
    listeners: Listeners,
    ops: Ops,
    local: Mutex<Local>,
    timings: Timings,
    storage_drivers: Vec<String>,
}

impl std::fmt::Debug for LxdService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LxdService")
            .field("node", &self.ctl.name)
            .finish_non_exhaustive()
    }
}

/// Member-local server config keys (never shared through the cluster).
const LOCAL_KEYS: &[&str] = &[
    "core.https_address",
    "cluster.https_address",
    "core.bgp_address",
    "core.bgp_asn",
    "core.bgp_routerid",
    "core.debug_address",
    "core.dns_address",
    "core.metrics_address",
    "core.storage_buckets_address",
    "storage.backups_volume",
    "storage.images_volume",
    "core.syslog_socket",
];

impl LxdService {
    pub(crate) fn new(
        ctl: Arc<NodeCtl>,
        fabric: Weak<Fabric>,
        inventory: Arc<Hardware>,
        claims: Arc<Claims>,
        options: &LxdOptions,
        timings: Timings,
    ) -> Result<Arc<Self>, crate::SimError> {
        let hostname = inventory
            .get()
            .hostname
            .clone()
            .unwrap_or_else(|| ctl.name.clone());
        let server_id = Identity::generate(
            &format!("root@{hostname}"),
            &[hostname.clone(), "127.0.0.1".into(), "::1".into()],
        )?;
        let listeners = Listeners::new(ctl.clone(), Service::Lxd, server_id.clone())?;
        Ok(Arc::new(Self {
            b: Behaviour::new(
                options.profile,
                &options.remove_extensions,
                &options.add_extensions,
            ),
            ctl,
            fabric,
            inventory,
            claims,
            server_id,
            listeners,
            ops: Ops::default(),
            local: Mutex::new(Local {
                config: Config::new(),
                server_name: None,
                db: Arc::new(Mutex::new(LxdDb::new())),
                joining: false,
            }),
            timings,
            storage_drivers: options.storage_drivers.clone(),
        }))
    }

    /// Path of the unix socket.
    pub(crate) fn socket_path(&self) -> std::path::PathBuf {
        self.ctl.state_dir.join("lxd").join("unix.socket")
    }

    pub(crate) fn start(self: &Arc<Self>) -> Result<(), crate::SimError> {
        let path = self.socket_path();
        self.listeners
            .bind_unix(self.clone(), &path)
            .map_err(|source| crate::SimError::Bind {
                node: self.ctl.name.clone(),
                service: "lxd",
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

    pub(crate) fn server_fingerprint(&self) -> String {
        self.server_id.fingerprint().to_string()
    }

    pub(crate) fn cluster_fingerprint(&self) -> Option<String> {
        self.db()
            .lock()
            .ok()
            .and_then(|d| d.cluster_cert.as_ref().map(|c| c.fingerprint().to_string()))
    }

    pub(crate) fn profile(&self) -> LxdProfile {
        self.b.profile
    }

    fn fabric(&self) -> Option<Arc<Fabric>> {
        self.fabric.upgrade()
    }

    fn db(&self) -> Arc<Mutex<LxdDb>> {
        match self.local.lock() {
            Ok(l) => l.db.clone(),
            Err(_) => Arc::new(Mutex::new(LxdDb::new())),
        }
    }

    fn with_db<T>(&self, f: impl FnOnce(&mut LxdDb) -> T) -> Result<T, ApiError> {
        let db = self.db();
        let mut g = db
            .lock()
            .map_err(|_| ApiError::internal("database poisoned"))?;
        Ok(f(&mut g))
    }

    /// Member name (`none` when not clustered).
    fn member_name(&self) -> String {
        self.local
            .lock()
            .ok()
            .and_then(|l| l.server_name.clone())
            .unwrap_or_else(|| UNCLUSTERED.to_string())
    }

    fn clustered(&self) -> bool {
        self.local
            .lock()
            .map(|l| l.server_name.is_some())
            .unwrap_or(false)
    }

    fn local_config(&self) -> Config {
        self.local
            .lock()
            .map(|l| l.config.clone())
            .unwrap_or_default()
    }

    fn op_fields(&self) -> OpFields {
        OpFields {
            requestor: self.b.has("operation_requestor"),
            err_code: self.b.async_storage_network(),
        }
    }

    fn op_location(&self) -> String {
        self.member_name()
    }

    fn hostname(&self) -> String {
        self.inventory
            .get()
            .hostname
            .clone()
            .unwrap_or_else(|| self.ctl.name.clone())
    }

    /// The identity presented on HTTPS: the cluster certificate once
    /// clustered, the server certificate before.
    fn network_identity(&self) -> Identity {
        self.db()
            .lock()
            .ok()
            .and_then(|d| d.cluster_cert.clone())
            .unwrap_or_else(|| self.server_id.clone())
    }

    fn trusted(&self, req: &Request) -> bool {
        match req.peer.fingerprint() {
            None => req.peer.is_unix(),
            Some(fp) => self.db().lock().map(|d| d.is_trusted(fp)).unwrap_or(false),
        }
    }

    fn is_notification(&self, req: &Request) -> bool {
        req.header("user-agent") == Some(NOTIFIER_UA)
            && req
                .peer
                .fingerprint()
                .is_some_and(|fp| self.cluster_fingerprint().as_deref() == Some(fp))
    }

    fn not_found(&self) -> Reply {
        Reply::error(404, self.b.status_text(404))
    }

    fn not_implemented(&self) -> Reply {
        Reply::error(501, self.b.status_text(501))
    }

    /// Runs `action` synchronously or as a background operation.
    #[allow(clippy::too_many_arguments)]
    fn run(
        self: &Arc<Self>,
        asynchronous: bool,
        description: &str,
        resources: Value,
        work: Duration,
        created_location: Option<String>,
        action: BoxFuture<Result<(), ApiError>>,
    ) -> BoxFuture<Reply> {
        let this = self.clone();
        let description = description.to_string();
        Box::pin(async move {
            if asynchronous {
                let op = this.ops.create(
                    &this.ctl.clock,
                    "task",
                    &description,
                    resources,
                    Value::Null,
                    false,
                    &this.op_location(),
                );
                let url = format!("/1.0/operations/{}", op.id);
                let json = op.to_json(this.op_fields());
                let id = op.id.clone();
                let runner = this.clone();
                // Subscribed before the reply: a crash from now on ends the
                // work where it is (what it changed so far stays) and the
                // restarted daemon does not know the operation.
                let crash = this.ctl.until_crash();
                tokio::spawn(async move {
                    let work = async {
                        runner.ctl.work(work).await;
                        action.await
                    };
                    tokio::select! {
                        r = work => runner.ops.finish(&runner.ctl.clock, &id, r),
                        () = crash => runner.ops.forget(&id),
                    }
                });
                Reply::Async {
                    operation: json,
                    url,
                }
            } else {
                this.ctl.work(work).await;
                match action.await {
                    Ok(()) => match created_location {
                        Some(loc) => Reply::created(loc),
                        None => Reply::empty(),
                    },
                    Err(e) => Reply::Error(e),
                }
            }
        })
    }

    async fn route(self: Arc<Self>, req: Request) -> Reply {
        let segs: Vec<String> = req.segments().into_iter().map(percent_decode).collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let m = req.method.clone();
        // Untrusted access: only the API root, the server info and adding
        // a certificate with a token.
        if !self.trusted(&req) {
            return match (&m, segs.as_slice()) {
                (&Method::GET, []) => Reply::sync(json!(["/1.0"])),
                (&Method::GET, ["1.0"]) => self.server_get_untrusted(),
                (&Method::POST, ["1.0", "certificates"]) => self.certificates_post(&req).await,
                _ => Reply::error(403, "not authorized"),
            };
        }
        if let Some(target) = req.target()
            && (forwardable(&m, &segs) || self.forwards_volume_list(&m, &segs))
            && target != self.member_name()
        {
            return self.forward(&req, target).await;
        }
        match (m, segs.as_slice()) {
            (Method::GET, []) => Reply::sync(json!(["/1.0"])),
            (Method::GET, ["internal", "ready"]) => Reply::empty(),
            (Method::POST, ["internal", "cluster", "accept"]) => self.cluster_accept(&req),
            (Method::GET, ["1.0"]) => self.server_get(),
            (Method::PUT, ["1.0"]) => self.server_put(&req, false),
            (Method::PATCH, ["1.0"]) => self.server_put(&req, true),
            (_, ["1.0"]) => self.not_implemented(),
            (Method::GET, ["1.0", "resources"]) => Reply::sync(
                self.inventory
                    .get()
                    .lxd_resources(self.b.modern_resources()),
            ),
            (Method::GET, ["1.0", "cluster"]) => self.cluster_get(),
            (Method::PUT, ["1.0", "cluster"]) => self.cluster_put(&req),
            (Method::GET, ["1.0", "cluster", "members"]) => self.members_get(&req),
            (Method::POST, ["1.0", "cluster", "members"]) => self.members_post(&req),
            (Method::GET, ["1.0", "cluster", "members", name]) => self.member_get(name),
            (Method::DELETE, ["1.0", "cluster", "members", name]) => self.member_delete(name),
            (Method::GET, ["1.0", "operations"]) => self.operations_get(&req),
            (Method::GET, ["1.0", "operations", id]) => self.operation_get(id),
            (Method::DELETE, ["1.0", "operations", id]) => self.operation_delete(id),
            (Method::GET, ["1.0", "operations", id, "wait"]) => self.operation_wait(&req, id).await,
            (Method::GET, ["1.0", "certificates"]) => self.certificates_get(&req),
            (Method::POST, ["1.0", "certificates"]) => self.certificates_post(&req).await,
            (Method::GET, ["1.0", "certificates", fp]) => self.certificate_get(fp),
            (Method::GET, ["1.0", "storage-pools"]) => self.pools_get(&req),
            (Method::POST, ["1.0", "storage-pools"]) => self.pools_post(&req).await,
            (Method::GET, ["1.0", "storage-pools", name]) => self.pool_get(&req, name),
            (Method::DELETE, ["1.0", "storage-pools", _]) => Reply::error(
                501,
                "Deleting storage pools is not modelled by the simulator",
            ),
            (Method::GET, ["1.0", "storage-pools", pool, "volumes"]) => {
                self.volumes_get(&req, pool, None)
            }
            (Method::GET, ["1.0", "storage-pools", pool, "volumes", kind]) => {
                self.volumes_get(&req, pool, Some(kind))
            }
            (Method::POST, ["1.0", "storage-pools", pool, "volumes"]) => {
                self.volumes_post(&req, pool, None)
            }
            (Method::POST, ["1.0", "storage-pools", pool, "volumes", kind]) => {
                self.volumes_post(&req, pool, Some(kind))
            }
            (Method::GET, ["1.0", "storage-pools", pool, "volumes", kind, name]) => {
                self.volume_get(&req, pool, kind, name)
            }
            (Method::GET, ["1.0", "networks"]) => self.networks_get(&req),
            (Method::POST, ["1.0", "networks"]) => self.networks_post(&req).await,
            (Method::GET, ["1.0", "networks", name]) => self.network_get(&req, name),
            (Method::GET, ["1.0", "networks", name, "state"]) => self.network_state(name),
            (Method::GET, ["1.0", "profiles"]) => self.profiles_get(&req),
            (Method::POST, ["1.0", "profiles"]) => self.profiles_post(&req),
            (Method::GET, ["1.0", "profiles", name]) => self.profile_get(name),
            (Method::PUT, ["1.0", "profiles", name]) => self.profile_put(&req, name, false).await,
            (Method::PATCH, ["1.0", "profiles", name]) => self.profile_put(&req, name, true).await,
            (Method::GET, ["1.0", "projects"]) => Reply::sync(json!(["/1.0/projects/default"])),
            _ => self.not_found(),
        }
    }

    // ----- forwarding -----------------------------------------------------

    async fn forward(&self, req: &Request, target: &str) -> Reply {
        let member = self.with_db(|db| db.member(target).cloned()).ok().flatten();
        let Some(member) = member else {
            return Reply::error(404, "Cluster member not found");
        };
        let Some(fabric) = self.fabric() else {
            return Reply::error(500, "simulation is shutting down");
        };
        let _ = fabric;
        let identity = self.network_identity();
        let Ok(addr) = member.address.parse::<SocketAddr>() else {
            return Reply::error(500, format!("Invalid member address {:?}", member.address));
        };
        // The target stays in the query: the member sees itself named and
        // answers with its member-specific view, as LXD does.
        let query: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let pq = if query.is_empty() {
            req.path.clone()
        } else {
            format!("{}?{}", req.path, query.join("&"))
        };
        let body: Option<Value> = if req.body.is_empty() {
            None
        } else {
            match serde_json::from_slice(&req.body) {
                Ok(v) => Some(v),
                Err(e) => return Reply::error(400, e.to_string()),
            }
        };
        let fp = identity.fingerprint().to_string();
        match peer_request(
            addr,
            &identity,
            Pin::Fingerprint(fp),
            req.method.clone(),
            &pq,
            body.as_ref(),
            &[],
        )
        .await
        {
            Ok(resp) => {
                let mut b = http::Response::builder().status(resp.status);
                for (k, v) in &resp.headers {
                    if k != http::header::CONTENT_LENGTH && k != http::header::TRANSFER_ENCODING {
                        b = b.header(k, v);
                    }
                }
                match b.body(crate::http::full(resp.body)) {
                    Ok(r) => Reply::Raw(r),
                    Err(e) => Reply::error(500, e.to_string()),
                }
            }
            Err(e) => Reply::error(500, forward_error(&e, addr)),
        }
    }

    /// Sends a cluster notification (same endpoint, notifier user agent)
    /// to another member over HTTPS.
    /// Sends each member its `POST path` notification, all at once as
    /// LXD's notifier does; once every member answered, the first error (in
    /// member order) fails the request.
    async fn notify_all(
        self: &Arc<Self>,
        path: &'static str,
        notes: Vec<(Member, Value)>,
    ) -> Result<(), ApiError> {
        let mut running = tokio::task::JoinSet::new();
        for (i, (member, payload)) in notes.into_iter().enumerate() {
            let this = self.clone();
            running.spawn(async move {
                let r = this.notify(&member, Method::POST, path, &payload).await;
                (i, r)
            });
        }
        let mut first: Option<(usize, ApiError)> = None;
        while let Some(joined) = running.join_next().await {
            let (i, r) =
                joined.unwrap_or_else(|e| (usize::MAX, Err(ApiError::internal(e.to_string()))));
            if let Err(e) = r
                && first.as_ref().is_none_or(|(j, _)| i < *j)
            {
                first = Some((i, e));
            }
        }
        first.map_or(Ok(()), |(_, e)| Err(e))
    }

    async fn notify(
        &self,
        member: &Member,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<(), ApiError> {
        let identity = self.network_identity();
        let addr: SocketAddr = member.address.parse().map_err(|_| {
            ApiError::internal(format!("Invalid member address {:?}", member.address))
        })?;
        let fp = identity.fingerprint().to_string();
        let resp = peer_request(
            addr,
            &identity,
            Pin::Fingerprint(fp),
            method,
            path,
            Some(body),
            &[("User-Agent", NOTIFIER_UA)],
        )
        .await
        .map_err(ApiError::internal)?;
        resp.envelope().map(|_| ())
    }

    // ----- server ---------------------------------------------------------

    fn all_config(&self) -> Config {
        let mut c = self.with_db(|db| db.config.clone()).unwrap_or_default();
        c.extend(self.local_config());
        c
    }

    fn etag(config: &Config) -> String {
        crate::tls::fingerprint(serde_json::to_string(config).unwrap_or_default().as_bytes())
    }

    fn listen_addresses(&self) -> Vec<String> {
        self.listeners
            .https_addr()
            .map(|a| vec![a.to_string()])
            .unwrap_or_default()
    }

    fn server_get(&self) -> Reply {
        let config = self.all_config();
        let identity = self.network_identity();
        let clustered = self.clustered();
        let server_name = if clustered {
            self.member_name()
        } else {
            self.hostname()
        };
        let drivers: Vec<Value> = self
            .storage_drivers
            .iter()
            .map(|d| {
                let remote = d == "ceph" || d == "cephfs";
                json!({"Name": d, "Version": driver_version(d), "Remote": remote})
            })
            .collect();
        let mut env = json!({
            "addresses": self.listen_addresses(),
            "architectures": [self.inventory.get().architecture.clone()],
            "certificate": identity.cert_pem(),
            "certificate_fingerprint": identity.fingerprint(),
            "driver": "lxc",
            "driver_version": if self.b.profile == LxdProfile::Legacy { "5.0.2" } else { "6.0.4" },
            "firewall": "nftables",
            "kernel": "Linux",
            "kernel_architecture": self.inventory.get().architecture.clone(),
            "kernel_features": {"idmapped_mounts": "true", "netnsid_getifaddrs": "true", "seccomp_listener": "true", "seccomp_listener_continue": "true", "uevent_injection": "true", "unpriv_fscaps": "true"},
            "kernel_version": "6.8.0-sim",
            "lxc_features": {"cgroup2": "true", "devpts_fd": "true", "pidfd": "true"},
            "os_name": "Ubuntu",
            "os_version": "24.04",
            "project": "default",
            "server": "lxd",
            "server_clustered": clustered,
            "server_event_mode": "full-mesh",
            "server_name": server_name,
            "server_pid": std::process::id(),
            "server_version": self.b.version,
            "storage": self.storage_drivers.join(" | "),
            "storage_version": "",
            "storage_supported_drivers": drivers,
        });
        if self.b.has("server_version_lts")
            && let Some(o) = env.as_object_mut()
        {
            o.insert("server_lts".into(), false.into());
            o.insert(
                "instance_types".into(),
                json!(["container", "virtual-machine"]),
            );
        }
        let mut v = json!({
            "config": config,
            "api_extensions": self.b.extensions,
            "api_status": "stable",
            "api_version": "1.0",
            "auth": "trusted",
            "public": false,
            "auth_methods": ["tls"],
            "environment": env,
        });
        if self.b.has("auth_user")
            && let Some(o) = v.as_object_mut()
        {
            o.insert("auth_user_name".into(), "root".into());
            o.insert("auth_user_method".into(), "unix".into());
        }
        if self.b.has("client_cert_presence")
            && let Some(o) = v.as_object_mut()
        {
            o.insert("client_certificate".into(), false.into());
        }
        Reply::sync(v).with_etag(Self::etag(&config))
    }

    fn server_get_untrusted(&self) -> Reply {
        Reply::sync(json!({
            "config": {},
            "api_extensions": self.b.extensions,
            "api_status": "stable",
            "api_version": "1.0",
            "auth": "untrusted",
            "public": false,
            "auth_methods": ["tls"],
        }))
    }

    fn known_server_key(&self, key: &str) -> bool {
        if key.starts_with("user.") {
            return true;
        }
        let mut keys = vec![
            "core.https_address",
            "cluster.https_address",
            "core.trust_password",
            "core.proxy_http",
            "core.proxy_https",
            "core.proxy_ignore_hosts",
            "core.https_allowed_origin",
            "core.bgp_address",
            "core.bgp_asn",
            "core.bgp_routerid",
            "core.debug_address",
            "core.dns_address",
            "core.metrics_address",
            "cluster.max_voters",
            "cluster.max_standby",
            "cluster.offline_threshold",
            "cluster.images_minimal_replica",
            "cluster.join_token_expiry",
            "core.remote_token_expiry",
            "images.auto_update_cached",
            "images.auto_update_interval",
            "images.compression_algorithm",
            "images.remote_cache_expiry",
            "network.ovn.northbound_connection",
            "storage.backups_volume",
            "storage.images_volume",
        ];
        if self.b.has("ovn_ssl_config") {
            keys.extend([
                "network.ovn.ca_cert",
                "network.ovn.client_cert",
                "network.ovn.client_key",
            ]);
        }
        if self.b.has("instances_migration_stateful") {
            keys.push("instances.migration.stateful");
        }
        if self.b.profile == LxdProfile::Current {
            keys.push("network.ovn.integration_bridge");
        }
        keys.contains(&key)
    }

    fn server_put(self: &Arc<Self>, req: &Request, patch: bool) -> Reply {
        #[derive(Deserialize)]
        struct ServerPut {
            #[serde(default)]
            config: Option<BTreeMap<String, Value>>,
        }
        let current = self.all_config();
        if let Some(want) = req.header("if-match") {
            let have = Self::etag(&current);
            if want.trim_matches('"') != have {
                return Reply::error(
                    412,
                    format!("ETag doesn't match: {} vs {}", want.trim_matches('"'), have),
                );
            }
        }
        let body: ServerPut = match req.json("api.ServerPut") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let mut requested = Config::new();
        for (k, v) in body.config.unwrap_or_default() {
            let v = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            if !self.known_server_key(&k) {
                return Reply::error(400, format!("cannot set '{k}' to '{v}': unknown key"));
            }
            requested.insert(k, v);
        }
        let mut new_config = if patch {
            current.clone()
        } else {
            Config::new()
        };
        for (k, v) in requested {
            if v.is_empty() {
                new_config.remove(&k);
            } else {
                new_config.insert(k, v);
            }
        }
        // Validate member-local volume keys.
        for key in ["storage.images_volume", "storage.backups_volume"] {
            if let Some(v) = new_config.get(key)
                && current.get(key) != Some(v)
                && let Err(e) = self.check_daemon_volume(key, v)
            {
                return e.into();
            }
        }
        if let Some(v) = new_config.get("cluster.join_token_expiry")
            && let Err(e) = parse_lxd_expiry(v)
        {
            return Reply::error(
                400,
                format!("Failed validation of \"cluster.join_token_expiry\": {e}"),
            );
        }
        let (local, global): (Config, Config) = new_config
            .into_iter()
            .partition(|(k, _)| LOCAL_KEYS.contains(&k.as_str()));
        if let Err(e) = self.apply_https(&local) {
            return e.into();
        }
        if let Ok(mut l) = self.local.lock() {
            l.config = local;
        }
        let _ = self.with_db(|db| db.config = global);
        Reply::empty()
    }

    fn check_daemon_volume(&self, key: &str, value: &str) -> Result<(), ApiError> {
        let Some((pool, vol)) = value.split_once('/') else {
            return Err(ApiError::bad_request(format!(
                "Failed validation of \"{key}\": Invalid syntax for volume, must be <pool>/<volume>"
            )));
        };
        let me = self.member_name();
        let found = self.with_db(|db| {
            db.volumes
                .iter()
                .any(|v| v.pool == pool && v.name == vol && (v.member == me || v.member.is_empty()))
        })?;
        if found {
            Ok(())
        } else {
            Err(ApiError::bad_request(format!(
                "Failed validation of \"{key}\": Storage volume \"{vol}\" in pool \"{pool}\" not found"
            )))
        }
    }

    /// Resolves `host:port`, mapping wildcard hosts to the node's address.
    fn resolve_listen(&self, value: &str) -> Result<SocketAddr, ApiError> {
        let value = value.trim();
        let (host, port) = match value.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() || value.starts_with(':') => (h, p),
            _ => (value, "8443"),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port
            .parse()
            .map_err(|_| ApiError::bad_request(format!("Invalid address {value:?}")))?;
        let ip = match host {
            "" | "::" | "0.0.0.0" => self.ctl.ip,
            h => h
                .parse()
                .map_err(|_| ApiError::bad_request(format!("Invalid address {value:?}")))?,
        };
        Ok(SocketAddr::new(ip, port))
    }

    fn apply_https(self: &Arc<Self>, local: &Config) -> Result<(), ApiError> {
        let wanted = local
            .get("core.https_address")
            .or_else(|| local.get("cluster.https_address"));
        match wanted {
            None => {
                self.listeners.unbind_https();
                Ok(())
            }
            Some(v) => {
                let addr = self.resolve_listen(v)?;
                self.listeners.bind_https(self.clone(), addr).map_err(|e| {
                    ApiError::internal(format!(
                        "Cannot listen on network HTTPS socket \"{addr}\": listen tcp {addr}: bind: {}",
                        go_bind_error(&e)
                    ))
                })
            }
        }
    }

    // ----- clustering -----------------------------------------------------

    fn member_config_template(&self) -> Vec<Value> {
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

    fn cluster_get(&self) -> Reply {
        let clustered = self.clustered();
        let v = json!({
            "server_name": if clustered { self.member_name() } else { String::new() },
            "enabled": clustered,
            "member_config": self.member_config_template(),
        });
        let etag = crate::tls::fingerprint(v.to_string().as_bytes());
        Reply::sync(v).with_etag(etag)
    }

    fn cluster_put(self: &Arc<Self>, req: &Request) -> Reply {
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
        let token = if self.b.trust_token() {
            body.cluster_token
        } else {
            body.cluster_password
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
        tokio::spawn(async move {
            this.ctl.work(work).await;
            let r = this.clone().join(join).await;
            if let Ok(mut l) = this.local.lock() {
                l.joining = false;
            }
            this.ops.finish(&this.ctl.clock, &id, r);
        });
        Reply::Async {
            url: format!("/1.0/operations/{}", op.id),
            operation: op.to_json(self.op_fields()),
        }
    }

    fn cluster_bootstrap(self: &Arc<Self>, name: String) -> Reply {
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

    fn bootstrap(self: &Arc<Self>, name: String, address: String) -> Result<(), ApiError> {
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

    fn members_get(&self, req: &Request) -> Reply {
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

    fn member_json(&self, m: &Member) -> Value {
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
    fn member_delete(&self, name: &str) -> Reply {
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

    fn member_get(&self, name: &str) -> Reply {
        match self.with_db(|db| db.member(name).cloned()).ok().flatten() {
            Some(m) => Reply::sync(self.member_json(&m)),
            None => Reply::error(404, "Cluster member not found"),
        }
    }

    fn members_post(&self, req: &Request) -> Reply {
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

    /// Joiner side of a cluster join (runs inside the join operation).
    async fn join(self: Arc<Self>, j: JoinRequest) -> Result<(), ApiError> {
        let pem_der = crate::tls::pem_to_der(&j.cluster_certificate)
            .ok_or_else(|| ApiError::bad_request("Invalid cluster certificate"))?;
        let pin = crate::tls::fingerprint(&pem_der);
        let target = self.resolve_listen(&j.cluster_address)?;
        // LXD with explicit trust tokens refuses a token issued for another
        // name before contacting the cluster (5.0.2 does not check).
        if self.b.trust_token() {
            let token_name = base64::engine::general_purpose::STANDARD
                .decode(j.token.trim())
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| {
                    v.get("server_name")
                        .and_then(Value::as_str)
                        .map(String::from)
                });
            if let Some(token_name) = token_name
                && token_name != j.server_name
            {
                return Err(ApiError::bad_request(
                    "Server name does not match the one specified in the join token",
                ));
            }
        }
        // 1. Trust: add our server certificate with the token.
        let mut cert_req = json!({
            "type": "server",
            "name": j.server_name,
            "certificate": base64::engine::general_purpose::STANDARD.encode(self.server_id.cert_der()),
        });
        if let Some(o) = cert_req.as_object_mut() {
            let field = if self.b.trust_token() {
                "trust_token"
            } else {
                "password"
            };
            o.insert(field.into(), j.token.clone().into());
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
    fn cluster_accept(&self, req: &Request) -> Reply {
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

    // ----- operations -----------------------------------------------------

    /// Operations of every member (LXD lists cluster-wide).
    fn cluster_ops(&self) -> Vec<(Arc<LxdService>, ops::Op)> {
        let mut out = Vec::new();
        let Some(fabric) = self.fabric() else {
            return out;
        };
        let members: Vec<String> = self
            .with_db(|db| db.members.iter().map(|m| m.sim_node.clone()).collect())
            .unwrap_or_default();
        let mut nodes = members;
        if !nodes.contains(&self.ctl.name) {
            nodes.push(self.ctl.name.clone());
        }
        for n in nodes {
            if let Some(node) = fabric.node(&n)
                && (node.ctl.is_alive() || n == self.ctl.name)
            {
                for op in node.lxd.ops.all() {
                    out.push((node.lxd.clone(), op));
                }
            }
        }
        out
    }

    fn operations_get(&self, req: &Request) -> Reply {
        let ops: Vec<ops::Op> = self.cluster_ops().into_iter().map(|(_, o)| o).collect();
        Reply::sync(ops::group(&ops, req.recursion() > 0, self.op_fields()))
    }

    fn find_op(&self, id: &str) -> Option<(Arc<LxdService>, ops::Op)> {
        self.cluster_ops().into_iter().find(|(_, o)| o.id == id)
    }

    fn operation_get(&self, id: &str) -> Reply {
        match self.find_op(id) {
            Some((_, op)) => Reply::sync(op.to_json(self.op_fields())),
            None => Reply::error(404, "Operation not found"),
        }
    }

    fn operation_delete(&self, id: &str) -> Reply {
        match self.find_op(id) {
            Some((owner, _)) => match owner.ops.cancel(&self.ctl.clock, id) {
                Ok(()) => Reply::empty(),
                Err(e) => e.into(),
            },
            None => Reply::error(404, "Operation not found"),
        }
    }

    async fn operation_wait(&self, req: &Request, id: &str) -> Reply {
        let timeout = req
            .query("timeout")
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(-1);
        let timeout = u64::try_from(timeout).ok().map(Duration::from_secs);
        let Some((owner, _)) = self.find_op(id) else {
            return Reply::error(404, "Operation not found");
        };
        let fields = self.op_fields();
        if !self.b.wait_error_envelope() {
            return match owner.ops.wait(id, timeout).await {
                Some(op) => Reply::sync(op.to_json(fields)),
                None => Reply::error(404, "Operation not found"),
            };
        }
        // Current LXD: 200 + keep-alive right away, body when done.
        let (tx, rx) = tokio::sync::oneshot::channel::<bytes::Bytes>();
        let id = id.to_string();
        tokio::spawn(async move {
            let body = match owner.ops.wait(&id, timeout).await {
                None => crate::http::error_body(&ApiError::not_found("Operation not found")),
                Some(op) if op.status() == ops::OpStatus::Failure => {
                    crate::http::error_body(&ApiError::new(
                        if op.err_code == 0 { 500 } else { op.err_code },
                        op.err.clone(),
                    ))
                }
                Some(op) if !op.is_done() => crate::http::error_body(&ApiError::internal(
                    "Operation wait timed out: context deadline exceeded",
                )),
                Some(op) => crate::http::sync_body(&op.to_json(fields)),
            };
            let _ = tx.send(body);
        });
        let body = crate::http::OneshotBody::new(rx);
        match http::Response::builder()
            .status(200)
            .header("Content-Type", "application/json")
            .header("Connection", "keep-alive")
            .body(http_body_util::BodyExt::boxed(body))
        {
            Ok(r) => Reply::Raw(r),
            Err(e) => Reply::error(500, e.to_string()),
        }
    }

    // ----- certificates ---------------------------------------------------

    fn certificates_get(&self, req: &Request) -> Reply {
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

    fn certificate_get(&self, fp: &str) -> Reply {
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

    async fn certificates_post(&self, req: &Request) -> Reply {
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
        if self.b.trust_token() && !body.password.is_empty() {
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
            let token = if self.b.trust_token() {
                &body.trust_token
            } else {
                &body.password
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

    fn certificate_token(&self, name: &str) -> Reply {
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
    fn consume_token(&self, token: &str) -> Result<Option<(String, Option<String>)>, ApiError> {
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

    // ----- profiles -------------------------------------------------------

    fn profiles_get(&self, req: &Request) -> Reply {
        let profiles = self.with_db(|db| db.profiles.clone()).unwrap_or_default();
        if req.recursion() == 0 {
            return Reply::sync(
                profiles
                    .keys()
                    .map(|n| format!("/1.0/profiles/{n}"))
                    .collect::<Vec<_>>(),
            );
        }
        Reply::sync(
            profiles
                .values()
                .map(db::Profile::to_json)
                .collect::<Vec<_>>(),
        )
    }

    fn profile_get(&self, name: &str) -> Reply {
        match self
            .with_db(|db| db.profiles.get(name).cloned())
            .ok()
            .flatten()
        {
            Some(p) => {
                let v = p.to_json();
                let etag = crate::tls::fingerprint(v.to_string().as_bytes());
                Reply::sync(v).with_etag(etag)
            }
            None => Reply::error(404, "Fetch profile: Profile not found"),
        }
    }

    fn profiles_post(&self, req: &Request) -> Reply {
        let body: ProfileBody = match req.json("api.ProfilesPost") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let Some(name) = body.name.clone().filter(|n| !n.is_empty()) else {
            return Reply::error(400, "No name provided");
        };
        if let Err(e) = self.validate_devices(&body.devices) {
            return e.into();
        }
        let r = self.with_db(|db| {
            if db.profiles.contains_key(&name) {
                return Err(ApiError::new(
                    409,
                    format!("Error inserting {name} into database: The profile already exists"),
                ));
            }
            db.profiles.insert(
                name.clone(),
                db::Profile {
                    name: name.clone(),
                    description: body.description.clone(),
                    config: body.config.clone(),
                    devices: body.devices.clone(),
                },
            );
            Ok(())
        });
        match r {
            Ok(Ok(())) => Reply::created(format!("/1.0/profiles/{name}")),
            Ok(Err(e)) | Err(e) => e.into(),
        }
    }

    fn validate_devices(&self, devices: &BTreeMap<String, Config>) -> Result<(), ApiError> {
        for (dev, cfg) in devices {
            match cfg.get("type").map(String::as_str) {
                Some("nic") => {
                    if let Some(net) = cfg.get("network") {
                        let exists = self.with_db(|db| {
                            db.networks
                                .get(net)
                                .is_some_and(|n| n.state == db::State::Created)
                        })?;
                        if !exists {
                            return Err(ApiError::not_found(format!(
                                "Device validation failed for \"{dev}\": Failed loading device \"{dev}\": Failed to load network \"{net}\" for project \"default\": Network not found"
                            )));
                        }
                    }
                }
                Some("disk") | Some("none") | Some("unix-char") | Some("unix-block")
                | Some("usb") | Some("gpu") | Some("infiniband") | Some("proxy") | Some("pci")
                | Some("tpm") => {}
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "Device validation failed for \"{dev}\": Unsupported device type \"{other}\""
                    )));
                }
                None => {
                    return Err(ApiError::bad_request(format!(
                        "Device validation failed for \"{dev}\": Missing device type for device \"{dev}\""
                    )));
                }
            }
        }
        Ok(())
    }

    async fn profile_put(self: &Arc<Self>, req: &Request, name: &str, patch: bool) -> Reply {
        let Some(existing) = self
            .with_db(|db| db.profiles.get(name).cloned())
            .ok()
            .flatten()
        else {
            return Reply::error(404, "Fetch profile: Profile not found");
        };
        if let Some(want) = req.header("if-match") {
            let have = crate::tls::fingerprint(existing.to_json().to_string().as_bytes());
            if want.trim_matches('"') != have {
                return Reply::error(
                    412,
                    format!("ETag doesn't match: {} vs {}", want.trim_matches('"'), have),
                );
            }
        }
        let body: ProfileBody = match req.json("api.ProfilePut") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let mut new = existing.clone();
        if patch {
            new.config.extend(body.config);
            new.devices.extend(body.devices);
            if !body.description.is_empty() {
                new.description = body.description;
            }
        } else {
            new.config = body.config;
            new.devices = body.devices;
            new.description = body.description;
        }
        if let Err(e) = self.validate_devices(&new.devices) {
            return e.into();
        }
        let this = self.clone();
        let name = name.to_string();
        let action: BoxFuture<Result<(), ApiError>> = Box::pin(async move {
            this.with_db(|db| {
                db.profiles.insert(name, new);
            })
        });
        self.run(
            self.b.async_profiles(),
            "Updating profile",
            json!({"profiles": [format!("/1.0/profiles/{}", existing.name)]}),
            self.timings.profile_update,
            None,
            action,
        )
        .await
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct ProfileBody {
    name: Option<String>,
    description: String,
    config: Config,
    devices: BTreeMap<String, Config>,
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
    member_config: Vec<MemberConfigKey>,
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

fn driver_version(d: &str) -> &'static str {
    match d {
        "dir" => "1",
        "btrfs" => "6.6.3",
        "zfs" => "2.2.2-0ubuntu9",
        "ceph" | "cephfs" => "19.2.0",
        "lvm" => "2.03.16(2) (2022-05-18) / 1.02.185 (2022-05-18) / 4.48.0",
        _ => "1",
    }
}

fn is_wildcard(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
    matches!(
        host.trim_start_matches('[').trim_end_matches(']'),
        "" | "::" | "0.0.0.0"
    )
}

/// LXD's wording when it cannot reach the member a request is forwarded
/// to; observed on 5.0.2: `Get "https://10.100.0.4:8443/1.0?target=node4":
/// Unable to connect to: 10.100.0.4:8443 ([dial tcp 10.100.0.4:8443:
/// connect: connection refused])`.
fn forward_error(error: &str, addr: SocketAddr) -> String {
    match error.split_once(": dial tcp ") {
        Some((request, dial)) => {
            format!("{request}: Unable to connect to: {addr} ([dial tcp {dial}])")
        }
        None => error.to_owned(),
    }
}

pub(crate) fn go_bind_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "address already in use".into(),
        std::io::ErrorKind::AddrNotAvailable => "cannot assign requested address".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

impl LxdService {
    /// Current LXD forwards volume listings to `?target=`
    /// (`storagePoolVolumesGet`); 5.0.2 answers them itself.
    fn forwards_volume_list(&self, m: &Method, segs: &[&str]) -> bool {
        self.b.profile == LxdProfile::Current
            && matches!(
                (m, segs),
                (&Method::GET, ["1.0", "storage-pools", _, "volumes"])
                    | (&Method::GET, ["1.0", "storage-pools", _, "volumes", _])
            )
    }
}

/// Endpoints LXD forwards to `?target=` (member-local reads and writes).
fn forwardable(m: &Method, segs: &[&str]) -> bool {
    matches!(
        (m, segs),
        (&Method::GET, ["1.0"])
            | (&Method::PUT, ["1.0"])
            | (&Method::PATCH, ["1.0"])
            | (&Method::GET, ["1.0", "resources"])
            | (&Method::GET, ["1.0", "networks"])
            | (&Method::GET, ["1.0", "networks", _, "state"])
            | (&Method::GET, ["1.0", "storage-pools", _])
            | (&Method::GET, ["1.0", "networks", _])
    )
}

impl Handler for LxdService {
    fn handle(self: Arc<Self>, req: Request) -> BoxFuture<Reply> {
        Box::pin(self.route(req))
    }
    fn status_text(&self, status: u16) -> String {
        self.b.status_text(status)
    }
}
