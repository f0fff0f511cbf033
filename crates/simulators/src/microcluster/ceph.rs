//! MicroCeph's `/1.0` API.
//!
//! `POST /1.0/disks` always answers 200 with a per-disk report; problems
//! appear in `report[].error` (or `validation_error` for bad argument
//! combinations), never as an HTTP error. A disk is refused when its path
//! names no disk of the node, when it carries partitions (unless `wipe`),
//! when it is mounted, or when it is already an OSD or taken by an LXD
//! pool. `GET /1.0/configs` needs a JSON body, like the real daemon (no
//! body is a 500 `EOF`). `PUT /1.0/pools-op` sets the replication size of
//! the named pools (`["*"]` all, `[""]` only the default). `mon`, `mgr` and
//! `mds` run on the first three members. With a real Ceph cluster behind
//! the simulation ([`super::real_ceph`]), the pool calls go to it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use super::McService;
use crate::http::{Config, Reply, Request};

#[derive(Debug, Clone)]
pub(crate) struct Osd {
    pub id: u64,
    pub path: String,
    pub location: String,
}

#[derive(Debug, Clone)]
pub(crate) struct CephPool {
    pub id: u64,
    pub size: u64,
    pub min_size: u64,
}

/// Cluster-wide MicroCeph state.
#[derive(Debug, Default)]
pub(crate) struct CephState {
    pub osds: Vec<Osd>,
    pub configs: BTreeMap<String, String>,
    pub pools: BTreeMap<String, CephPool>,
    pub default_size: u64,
    pub members: Vec<String>,
    next_pool_id: u64,
}

impl CephState {
    pub(crate) fn bootstrap(&mut self, config: &Config, addr: SocketAddr) {
        let public = config
            .get("PublicNet")
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| default_net(addr));
        let cluster = config
            .get("ClusterNet")
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| public.clone());
        self.configs.insert("public_network".into(), public);
        self.configs.insert("cluster_network".into(), cluster);
        self.default_size = 3;
        self.next_pool_id = 1;
        self.members = Vec::new();
    }

    pub(crate) fn add_member(&mut self, name: &str) {
        if !self.members.iter().any(|m| m == name) {
            self.members.push(name.to_string());
        }
    }

    pub(crate) fn ensure_pool(&mut self, name: &str) {
        if !self.pools.contains_key(name) {
            let size = self.default_size.max(1);
            let id = self.next_pool_id.max(1);
            self.next_pool_id = id + 1;
            self.pools.insert(
                name.to_string(),
                CephPool {
                    id,
                    size,
                    min_size: size.div_ceil(2).max(1),
                },
            );
        }
    }
}

fn default_net(addr: SocketAddr) -> String {
    match addr.ip() {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        std::net::IpAddr::V6(v6) => format!("{v6}/64"),
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct DisksPost {
    path: Option<OneOrMany>,
    wipe: bool,
    encrypt: bool,
    waldev: Option<String>,
    dbdev: Option<String>,
    osd_match: String,
    dry_run: bool,
}

impl McService {
    /// Creates Ceph OSD pools on behalf of an LXD `ceph`/`cephfs` pool.
    pub(crate) fn lxd_ensure_pools(&self, pools: &[String]) -> Result<(), String> {
        let Some(db) = self.db() else {
            return Err(format!(
                "MicroCeph is not initialised on {:?}",
                self.ctl.name
            ));
        };
        let mut g = db.lock().map_err(|_| "database poisoned".to_string())?;
        if g.ceph.osds.is_empty() {
            return Err("the Ceph cluster has no OSDs".to_string());
        }
        for p in pools {
            g.ceph.ensure_pool(p);
        }
        Ok(())
    }

    pub(super) async fn ceph_route(self: Arc<Self>, req: &Request, segs: &[&str]) -> Option<Reply> {
        use http::Method;
        Some(match (&req.method, segs) {
            (&Method::GET, ["1.0", "disks"]) => self.disks_get(),
            (&Method::POST, ["1.0", "disks"]) => self.disks_post(req).await,
            (&Method::GET, ["1.0", "disks", "encryption-support"]) => {
                Reply::sync(json!({"supported": true, "reason_unsupported": ""}))
            }
            (&Method::DELETE, ["1.0", "disks", _]) => {
                Reply::error(501, "Removing disks is not modelled by the simulator")
            }
            (&Method::GET, ["1.0", "resources"]) => {
                Reply::sync(self.inventory.get().lxd_storage_resources(true))
            }
            (&Method::GET, ["1.0", "services"]) => self.ceph_services(),
            (&Method::GET, ["1.0", "configs"]) => self.configs_get(req),
            (&Method::PUT, ["1.0", "configs"]) => self.configs_put(req),
            (&Method::GET, ["1.0", "pools"]) => self.pools_get().await,
            (&Method::PUT, ["1.0", "pools-op"]) => self.pools_op(req).await,
            (_, ["1.0", "disks"])
            | (_, ["1.0", "configs"])
            | (_, ["1.0", "pools"])
            | (_, ["1.0", "services"]) => Reply::error(501, "not implemented"),
            _ => return None,
        })
    }

    fn disks_get(&self) -> Reply {
        match self.with_db(|db| db.ceph.osds.clone()) {
            Ok(osds) => Reply::sync(
                osds.iter()
                    .map(|o| json!({"osd": o.id, "path": o.path, "location": o.location}))
                    .collect::<Vec<_>>(),
            ),
            Err(e) => e.into(),
        }
    }

    async fn disks_post(&self, req: &Request) -> Reply {
        let body: DisksPost = match req.json("types.DisksPost") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let _guard = self.disk_lock.lock().await;
        let paths = match body.path {
            None => Vec::new(),
            Some(OneOrMany::One(p)) => vec![p],
            Some(OneOrMany::Many(v)) => v,
        };
        let mut resp = json!({
            "validation_error": "",
            "report": [],
            "warnings": [],
            "dry_run_devices": [],
            "dry_run_plan": [],
        });
        let validation = if !body.osd_match.is_empty() && !paths.is_empty() {
            Some("--osd-match cannot be used together with explicit device paths")
        } else if paths.len() > 1 && (body.waldev.is_some() || body.dbdev.is_some()) {
            Some("Adding multiple disks at once with WAL or DB devices is not supported")
        } else if body.dry_run && body.osd_match.is_empty() {
            Some("--dry-run requires --osd-match")
        } else {
            None
        };
        if let Some(v) = validation {
            if let Some(o) = resp.as_object_mut() {
                o.insert("validation_error".into(), v.into());
            }
            return Reply::sync(resp);
        }
        let Some(me) = self.member_name() else {
            return super::unavailable().into();
        };
        let mut report = Vec::new();
        for path in paths {
            self.ctl.work(self.timings.ceph_disk_add).await;
            let r = self.add_disk(&me, &path, body.wipe, body.encrypt);
            report.push(match r {
                Ok(()) => json!({"path": path, "report": "Success", "error": ""}),
                Err(e) => json!({"path": path, "report": "Failure", "error": e}),
            });
        }
        if let Some(o) = resp.as_object_mut() {
            o.insert("report".into(), report.into());
        }
        Reply::sync(resp)
    }

    fn add_disk(&self, me: &str, path: &str, wipe: bool, _encrypt: bool) -> Result<(), String> {
        let prefix = format!("Failed to add disk {path:?}");
        if path.starts_with("loop,") {
            return Err(format!(
                "{prefix}: loop file OSDs are not modelled by the simulator"
            ));
        }
        let inventory = self.inventory.get();
        let disk = inventory
            .disk_by_path(path)
            .ok_or_else(|| format!("{prefix}: stat {path}: no such file or directory"))?;
        if disk.kind == "cdrom" || disk.read_only {
            return Err(format!("{prefix}: {path} is not a writable block device"));
        }
        if disk.mounted || disk.partitions.iter().any(|p| p.mounted) {
            return Err(format!("{prefix}: {path} is mounted"));
        }
        if !disk.partitions.is_empty() && !wipe {
            return Err(format!(
                "{prefix}: {path} has existing partitions or data, use --wipe to wipe it"
            ));
        }
        let already = self
            .with_db(|db| {
                db.ceph.osds.iter().any(|o| {
                    o.location == me
                        && (o.path == path
                            || inventory
                                .disk_by_path(&o.path)
                                .is_some_and(|d| d.id == disk.id))
                })
            })
            .unwrap_or(false);
        if already {
            return Err(format!("{prefix}: {path} is already used by an OSD"));
        }
        self.claims
            .claim(&disk.id, "a MicroCeph OSD")
            .map_err(|holder| format!("{prefix}: {path} is in use by {holder}"))?;
        self.with_db(|db| {
            let id = db.ceph.osds.iter().map(|o| o.id + 1).max().unwrap_or(0);
            db.ceph.osds.push(Osd {
                id,
                path: path.to_string(),
                location: me.to_string(),
            });
            if db.ceph.osds.len() == 1 {
                db.ceph.default_size = 3;
                db.ceph.ensure_pool(".mgr");
                if let Some(p) = db.ceph.pools.get_mut(".mgr") {
                    p.size = 1;
                    p.min_size = 1;
                }
            }
        })
        .map_err(|e| e.message)
    }

    fn ceph_services(&self) -> Reply {
        let r = self.with_db(|db| {
            let mut out = Vec::new();
            for (i, m) in db.ceph.members.iter().enumerate() {
                if i < 3 {
                    for s in ["mon", "mgr", "mds"] {
                        out.push(json!({"service": s, "location": m, "group_id": "", "info": ""}));
                    }
                }
                if db.ceph.osds.iter().any(|o| &o.location == m) {
                    out.push(json!({"service": "osd", "location": m, "group_id": "", "info": ""}));
                }
            }
            out
        });
        match r {
            Ok(v) => Reply::sync(v),
            Err(e) => e.into(),
        }
    }

    fn configs_get(&self, req: &Request) -> Reply {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct ConfigReq {
            key: String,
        }
        let body: ConfigReq = match crate::http::decode_go_json(&req.body, "types.Config") {
            Ok(b) => b,
            Err(e) => return Reply::error(500, e),
        };
        match self.with_db(|db| db.ceph.configs.clone()) {
            Ok(configs) => Reply::sync(
                configs
                    .iter()
                    .filter(|(k, _)| body.key.is_empty() || **k == body.key)
                    .map(|(k, v)| json!({"key": k, "value": v, "wait": false, "skip_restart": false}))
                    .collect::<Vec<_>>(),
            ),
            Err(e) => e.into(),
        }
    }

    fn configs_put(&self, req: &Request) -> Reply {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct ConfigPut {
            key: String,
            value: String,
        }
        let body: ConfigPut = match req.json("types.Config") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        const KNOWN: &[&str] = &[
            "cluster_network",
            "osd_pool_default_crush_rule",
            "rbd_default_features",
            "rgw_s3_auth_use_keystone",
            "rgw_keystone_url",
        ];
        if body.key == "public_network" {
            return Reply::error(400, "Key public_network is read-only");
        }
        if !KNOWN.contains(&body.key.as_str()) {
            return Reply::error(400, format!("Key {} not in table", body.key));
        }
        match self.with_db(|db| db.ceph.configs.insert(body.key, body.value)) {
            Ok(_) => Reply::empty(),
            Err(e) => e.into(),
        }
    }

    async fn pools_get(&self) -> Reply {
        if let Some(cli) = &self.real_ceph {
            return match cli.pools().await {
                Ok(pools) => Reply::sync(pools),
                Err(e) => Reply::error(500, e),
            };
        }
        match self.with_db(|db| db.ceph.pools.clone()) {
            Ok(pools) => Reply::sync(
                pools
                    .iter()
                    .map(|(name, p)| json!({"pool": name, "pool_id": p.id, "size": p.size, "min_size": p.min_size, "crush_rule": "replicated"}))
                    .collect::<Vec<_>>(),
            ),
            Err(e) => e.into(),
        }
    }

    async fn pools_op(&self, req: &Request) -> Reply {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct PoolPut {
            pools: Vec<String>,
            size: i64,
        }
        let body: PoolPut = match req.json("types.PoolPut") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let Ok(size) = u64::try_from(body.size) else {
            return Reply::error(500, format!("Invalid pool size {}", body.size));
        };
        if size == 0 || size > 10 {
            return Reply::error(500, format!("Failed to set pool size: invalid size {size}"));
        }
        if let Some(cli) = &self.real_ceph {
            return match cli.set_replication(&body.pools, size).await {
                Ok(()) => Reply::empty(),
                Err(e) => Reply::error(500, e),
            };
        }
        let r = self.with_db(|db| {
            db.ceph.default_size = size;
            let names: Vec<String> = if body.pools == ["*"] {
                db.ceph.pools.keys().cloned().collect()
            } else {
                body.pools
                    .iter()
                    .filter(|p| !p.is_empty())
                    .cloned()
                    .collect()
            };
            for n in &names {
                match db.ceph.pools.get_mut(n) {
                    Some(p) => {
                        p.size = size;
                        p.min_size = size.div_ceil(2).max(1);
                    }
                    None => {
                        return Err(format!(
                            "Failed to set pool size: pool {n:?} does not exist"
                        ));
                    }
                }
            }
            Ok(())
        });
        match r {
            Ok(Ok(())) => Reply::empty(),
            Ok(Err(e)) => Reply::error(500, e),
            Err(e) => e.into(),
        }
    }
}
