//! Storage pools and custom volumes.
//!
//! Rules (from `canonical/lxd:lxd/storage_pools.go` and a real LXD 5.0.2):
//! * not clustered: one `POST` with the full config creates the pool;
//! * clustered: `POST ?target=<member>` with only member-specific keys
//!   defines a `Pending` row for that member; the global `POST` (no target,
//!   only global keys) requires a pending row on every member, inserts the
//!   global config, creates the pool locally and notifies every other
//!   member over HTTPS, and ends `Created` (or `Errored`, retryable with an
//!   empty config);
//! * member-local creation checks the node's inventory: a block-device
//!   `source` must exist, must not carry partitions unless
//!   `source.wipe=true`, and must not be taken by another pool or an OSD;
//!   `ceph`/`cephfs` pools need MicroCeph initialised on the node and
//!   register their OSD pools in MicroCeph.
//!
//! Messages differing between 5.0.2 and current LXD follow the profile.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::db::{MemberRow, Pool, State, UNCLUSTERED, Volume};
use super::{LxdProfile, LxdService};
use crate::http::{ApiError, Config, Reply, Request};
use crate::server::BoxFuture;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub(super) struct PoolsPost {
    name: String,
    driver: String,
    config: Config,
    description: String,
}

/// Keys a driver accepts (`volume.*` and `user.*` are always accepted).
fn pool_keys(driver: &str, b: &super::Behaviour) -> Option<Vec<&'static str>> {
    let wipe = b.has("storage_pool_source_wipe");
    let recover = b.has("storage_source_recover");
    let mut keys: Vec<&'static str> = match driver {
        "dir" => vec![
            "source",
            "rsync.bwlimit",
            "rsync.compression",
            "volatile.initial_source",
        ],
        "btrfs" => vec![
            "size",
            "source",
            "btrfs.mount_options",
            "rsync.bwlimit",
            "rsync.compression",
            "volatile.initial_source",
        ],
        "zfs" => vec![
            "size",
            "source",
            "zfs.pool_name",
            "zfs.clone_copy",
            "zfs.export",
            "rsync.bwlimit",
            "rsync.compression",
            "volatile.initial_source",
        ],
        "lvm" => vec![
            "size",
            "source",
            "lvm.vg_name",
            "lvm.thinpool_name",
            "lvm.use_thinpool",
            "lvm.vg.force_reuse",
            "lvm.thinpool_metadata_size",
            "rsync.bwlimit",
            "rsync.compression",
            "volatile.initial_source",
        ],
        "ceph" => {
            let mut k = vec![
                "ceph.cluster_name",
                "ceph.osd.pg_num",
                "ceph.osd.pool_name",
                "ceph.osd.data_pool_name",
                "ceph.osd.force_reuse",
                "ceph.rbd.clone_copy",
                "ceph.rbd.du",
                "ceph.rbd.features",
                "ceph.user.name",
                "volatile.pool.pristine",
            ];
            if b.has("storage_ceph_osd_pool_size") {
                k.push("ceph.osd.pool_size");
            }
            if !b.has("storage_remote_drop_source") {
                k.push("source");
            }
            k
        }
        "cephfs" => {
            let mut k = vec![
                "cephfs.cluster_name",
                "cephfs.fscache",
                "cephfs.path",
                "cephfs.user.name",
                "volatile.pool.pristine",
            ];
            if b.has("storage_cephfs_create_missing") {
                k.extend([
                    "cephfs.create_missing",
                    "cephfs.meta_pool",
                    "cephfs.data_pool",
                    "cephfs.osd_pg_num",
                ]);
            }
            if b.has("storage_ceph_osd_pool_size") {
                k.push("cephfs.osd_pool_size");
            }
            if !b.has("storage_remote_drop_source") {
                k.push("source");
            }
            k
        }
        _ => return None,
    };
    if wipe && matches!(driver, "zfs" | "btrfs" | "lvm") {
        keys.push("source.wipe");
    }
    if recover {
        keys.push("source.recover");
    }
    Some(keys)
}

/// Member-specific keys `GET /1.0/cluster` asks a joiner for.
pub(super) fn member_config_keys(driver: &str, drop_source: bool) -> Vec<&'static str> {
    match driver {
        "dir" => vec!["source"],
        "btrfs" => vec!["size", "source"],
        "zfs" => vec!["size", "source", "zfs.pool_name"],
        "lvm" => vec!["size", "source", "lvm.vg_name", "lvm.thinpool_name"],
        "ceph" | "cephfs" if !drop_source => vec!["source"],
        _ => vec![],
    }
}

fn check_keys(driver: &str, config: &Config, b: &super::Behaviour) -> Result<(), ApiError> {
    let keys = pool_keys(driver, b).ok_or_else(|| ApiError::internal("Unknown driver"))?;
    for k in config.keys() {
        if k.starts_with("volume.") || k.starts_with("user.") {
            continue;
        }
        if !keys.contains(&k.as_str()) {
            return Err(ApiError::internal(format!("Invalid option {k:?}")));
        }
    }
    Ok(())
}

impl LxdService {
    fn member_keys(&self) -> Vec<&'static str> {
        self.b.member_specific_pool_keys()
    }

    pub(super) fn pools_get(&self, req: &Request) -> Reply {
        let clustered = self.clustered();
        let me = self.member_name();
        let member_keys = self.member_keys();
        let pools = self.with_db(|db| db.pools.clone()).unwrap_or_default();
        if req.recursion() == 0 {
            return Reply::sync(
                pools
                    .keys()
                    .map(|n| format!("/1.0/storage-pools/{n}"))
                    .collect::<Vec<_>>(),
            );
        }
        // Unlike `GET /1.0/storage-pools/<name>`, LXD's list ignores
        // `?target=` (no forwarding) and, when clustered, always omits the
        // member-specific keys (`canonical/lxd:lxd/storage_pools.go`
        // `storagePoolsGet`, 5.0 and current alike).
        let view = if clustered { None } else { Some(me.as_str()) };
        Reply::sync(
            pools
                .values()
                .map(|p| p.to_json(view, &member_keys, clustered))
                .collect::<Vec<_>>(),
        )
    }

    pub(super) fn pool_get(&self, req: &Request, name: &str) -> Reply {
        let clustered = self.clustered();
        let me = self.member_name();
        let member_keys = self.member_keys();
        let Some(pool) = self
            .with_db(|db| db.pools.get(name).cloned())
            .ok()
            .flatten()
        else {
            return Reply::error(404, "Storage pool not found");
        };
        let view = if clustered {
            req.target().map(|_| me.as_str())
        } else {
            Some(me.as_str())
        };
        let v = pool.to_json(view, &member_keys, clustered);
        let etag = crate::tls::fingerprint(v.to_string().as_bytes());
        Reply::sync(v).with_etag(etag)
    }

    pub(super) async fn pools_post(self: &Arc<Self>, req: &Request) -> Reply {
        let body: PoolsPost = match req.json("api.StoragePoolsPost") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        if body.name.is_empty() {
            return Reply::error(400, "No name provided");
        }
        if body.name.contains('/') {
            return Reply::error(400, "Storage pool names may not contain slashes");
        }
        if body.driver.is_empty() {
            return Reply::error(400, "No driver provided");
        }
        if self.is_notification(req) {
            self.ctl.work(self.notified_pool_work(&body.driver)).await;
            return match self.pool_create_local(&body.name).await {
                Ok(()) => Reply::empty(),
                Err(e) => e.into(),
            };
        }
        if pool_keys(&body.driver, &self.b).is_none() {
            return Reply::error(
                if req.target().is_some() { 400 } else { 500 },
                "Unknown driver",
            );
        }
        if !self.storage_drivers.contains(&body.driver) {
            return Reply::error(400, format!("Required tool {:?} is missing", body.driver));
        }
        let location = Some(format!("/1.0/storage-pools/{}", body.name));
        let resources = json!({"storage_pools": [format!("/1.0/storage-pools/{}", body.name)]});
        let work = self.pool_work(&body.driver);
        if let Some(target) = req.target() {
            let target = target.to_string();
            let member_keys = self.member_keys();
            for k in body.config.keys() {
                if !member_keys.contains(&k.as_str()) {
                    return Reply::error(
                        500,
                        format!("Config key {k:?} may not be used as member-specific key"),
                    );
                }
            }
            if let Err(e) = check_keys(&body.driver, &body.config, &self.b) {
                return Reply::error(400, e.message);
            }
            let known = self
                .with_db(|db| db.member(&target).is_some())
                .unwrap_or(false);
            if !known {
                return Reply::error(404, "Cluster member not found");
            }
            let this = self.clone();
            let action: BoxFuture<Result<(), ApiError>> =
                Box::pin(async move { this.pool_define_pending(&body, &target) });
            return self
                .run(
                    self.b.async_storage_network(),
                    "Creating storage pool",
                    resources,
                    work / 4,
                    location,
                    action,
                )
                .await;
        }
        let this = self.clone();
        let action: BoxFuture<Result<(), ApiError>> =
            Box::pin(async move { this.pool_create(body).await });
        self.run(
            self.b.async_storage_network(),
            "Creating storage pool",
            resources,
            work,
            location,
            action,
        )
        .await
    }

    fn pool_work(&self, driver: &str) -> std::time::Duration {
        match driver {
            "ceph" | "cephfs" => self.timings.ceph_pool_create,
            _ => self.timings.pool_create,
        }
    }

    /// Work of a member told to create its part of a cluster-wide pool: a
    /// remote pool (Ceph) already exists, the member only attaches to it.
    fn notified_pool_work(&self, _driver: &str) -> std::time::Duration {
        self.timings.pool_create
    }

    fn pool_define_pending(&self, body: &PoolsPost, target: &str) -> Result<(), ApiError> {
        let legacy = self.b.profile == LxdProfile::Legacy;
        self.with_db(|db| {
            match db.pools.get_mut(&body.name) {
                Some(p) => {
                    if p.state == State::Created {
                        return Err(ApiError::internal("Storage pool is not in pending state"));
                    }
                    if p.driver != body.driver {
                        return Err(ApiError::bad_request(format!(
                            "Storage pool {:?} is of type {:?} not {:?}",
                            p.name, p.driver, body.driver
                        )));
                    }
                    if p.members.contains_key(target) {
                        return Err(ApiError::bad_request(if legacy {
                            format!("The storage pool already defined on member {target:?}")
                        } else {
                            format!(
                                "Storage pool {:?} already defined on member {target:?}",
                                body.name
                            )
                        }));
                    }
                    p.members.insert(
                        target.to_string(),
                        MemberRow {
                            config: body.config.clone(),
                            state: State::Pending,
                        },
                    );
                }
                None => {
                    let mut members = std::collections::BTreeMap::new();
                    members.insert(
                        target.to_string(),
                        MemberRow {
                            config: body.config.clone(),
                            state: State::Pending,
                        },
                    );
                    db.pools.insert(
                        body.name.clone(),
                        Pool {
                            name: body.name.clone(),
                            driver: body.driver.clone(),
                            description: body.description.clone(),
                            config: Config::new(),
                            state: State::Pending,
                            members,
                        },
                    );
                }
            }
            Ok(())
        })?
    }

    /// Untargeted create: single-node create or the cluster-wide step.
    async fn pool_create(self: Arc<Self>, body: PoolsPost) -> Result<(), ApiError> {
        let legacy = self.b.profile == LxdProfile::Legacy;
        let member_keys = self.member_keys();
        let (existing, member_count) =
            self.with_db(|db| (db.pools.get(&body.name).cloned(), db.members.len()))?;
        let single = member_count <= 1 && existing.is_none();
        if single {
            check_keys(&body.driver, &body.config, &self.b)?;
            let (member_cfg, global): (Config, Config) = body
                .config
                .clone()
                .into_iter()
                .partition(|(k, _)| member_keys.contains(&k.as_str()));
            let me = self.member_name();
            self.with_db(|db| {
                let mut members = std::collections::BTreeMap::new();
                members.insert(
                    me.clone(),
                    MemberRow {
                        config: member_cfg,
                        state: State::Pending,
                    },
                );
                db.pools.insert(
                    body.name.clone(),
                    Pool {
                        name: body.name.clone(),
                        driver: body.driver.clone(),
                        description: body.description.clone(),
                        config: global,
                        state: State::Errored,
                        members,
                    },
                );
            })?;
            let r = self.pool_create_local(&body.name).await;
            self.with_db(|db| match &r {
                Ok(()) => {
                    if let Some(p) = db.pools.get_mut(&body.name) {
                        p.state = State::Created;
                    }
                }
                Err(_) => {
                    db.pools.remove(&body.name);
                }
            })?;
            return r;
        }
        // Cluster-wide step.
        for k in body.config.keys() {
            if member_keys.contains(&k.as_str()) {
                return Err(ApiError::internal(format!(
                    "Config key {k:?} is cluster member specific"
                )));
            }
        }
        let Some(pool) = existing else {
            return Err(ApiError::internal(
                "Pool not pending on any node (use --target <node> first)",
            ));
        };
        if pool.state == State::Created {
            if member_count <= 1 && legacy {
                return Err(ApiError::new(
                    409,
                    "The storage pool already exists: The record already exists",
                ));
            }
            return Err(ApiError::internal("The storage pool is already created"));
        }
        if pool.driver != body.driver {
            return Err(ApiError::internal(if legacy {
                format!(
                    "Requested storage pool driver {:?} doesn't match driver in existing database record {:?}",
                    body.driver, pool.driver
                )
            } else {
                format!(
                    "Requested storage pool driver {:?} does not match driver in existing database record {:?}",
                    body.driver, pool.driver
                )
            }));
        }
        let partially = pool.state == State::Errored || !pool.config.is_empty();
        if partially {
            if !body.config.is_empty() {
                return Err(ApiError::internal(
                    "Storage pool already partially created. Please do not specify any global config when re-running create",
                ));
            }
        } else {
            let members = self.with_db(|db| db.member_names())?;
            let missing: Vec<String> = members
                .into_iter()
                .filter(|m| !pool.members.contains_key(m))
                .collect();
            if !missing.is_empty() {
                return Err(ApiError::internal(self.b.pool_not_defined(&missing)));
            }
            check_keys(&body.driver, &body.config, &self.b)?;
            self.with_db(|db| {
                if let Some(p) = db.pools.get_mut(&body.name) {
                    p.config = body.config.clone();
                    p.state = State::Errored;
                    if !body.description.is_empty() {
                        p.description = body.description.clone();
                    }
                }
            })?;
        }
        // Create on this member, then notify the others.
        let me = self.member_name();
        let (members, rows) = self.with_db(|db| {
            (
                db.members.clone(),
                db.pools
                    .get(&body.name)
                    .map(|p| p.members.clone())
                    .unwrap_or_default(),
            )
        })?;
        let global = self
            .with_db(|db| db.pools.get(&body.name).map(|p| p.config.clone()))?
            .unwrap_or_default();
        if rows.get(&me).is_none_or(|r| r.state != State::Created) {
            self.pool_create_local(&body.name).await?;
        }
        let mut notes = Vec::new();
        for m in members.iter().filter(|m| m.name != me) {
            if rows.get(&m.name).is_some_and(|r| r.state == State::Created) {
                continue;
            }
            let mut cfg = global.clone();
            if let Some(r) = rows.get(&m.name) {
                cfg.extend(r.config.clone());
            }
            let payload = json!({"name": body.name, "driver": body.driver, "config": cfg, "description": body.description});
            notes.push((m.clone(), payload));
        }
        self.notify_all("/1.0/storage-pools", notes).await?;
        self.with_db(|db| {
            if let Some(p) = db.pools.get_mut(&body.name) {
                p.state = State::Created;
            }
        })?;
        Ok(())
    }

    /// Creates the pool on this member: inventory and MicroCeph checks.
    async fn pool_create_local(&self, name: &str) -> Result<(), ApiError> {
        let me = self.member_name();
        let (pool, row) = self
            .with_db(|db| {
                db.pools
                    .get(name)
                    .map(|p| (p.clone(), p.members.get(&me).cloned()))
            })?
            .ok_or_else(|| ApiError::not_found("Storage pool not found"))?;
        let Some(row) = row else {
            return Err(ApiError::internal(format!(
                "Storage pool {name:?} is not defined on member {me:?}"
            )));
        };
        let mut config = pool.config.clone();
        config.extend(row.config.clone());
        let fail = |msg: String| {
            ApiError::internal(format!("Failed to create storage pool {name:?}: {msg}"))
        };
        match pool.driver.as_str() {
            "zfs" | "btrfs" | "lvm" => {
                let source = config.get("source").cloned().unwrap_or_default();
                if source.starts_with("/dev/") {
                    let inventory = self.inventory.get();
                    let disk = inventory.disk_by_path(&source).ok_or_else(|| {
                        fail(format!("Provided block device {source:?} doesn't exist"))
                    })?;
                    let wipe = config.get("source.wipe").is_some_and(|v| v == "true");
                    if disk.mounted || disk.partitions.iter().any(|p| p.mounted) {
                        return Err(fail(format!("Device {source:?} is mounted")));
                    }
                    if !disk.partitions.is_empty() && !wipe {
                        return Err(fail(format!(
                            "Device {source:?} contains partitions (set source.wipe=true to wipe it)"
                        )));
                    }
                    self.claims
                        .claim(&disk.id, &format!("LXD storage pool {name:?}"))
                        .map_err(|holder| {
                            fail(format!("Device {source:?} is already in use by {holder}"))
                        })?;
                }
            }
            "ceph" | "cephfs" => {
                let fabric = self
                    .fabric()
                    .ok_or_else(|| fail("simulation stopped".into()))?;
                let node = fabric
                    .node(&self.ctl.name)
                    .ok_or_else(|| fail("node not found".into()))?;
                let mut pools = Vec::new();
                if pool.driver == "ceph" {
                    pools.push(
                        config
                            .get("ceph.osd.pool_name")
                            .cloned()
                            .unwrap_or_else(|| {
                                config
                                    .get("source")
                                    .cloned()
                                    .unwrap_or_else(|| name.to_string())
                            }),
                    );
                } else if config
                    .get("cephfs.create_missing")
                    .is_some_and(|v| v == "true")
                {
                    for k in ["cephfs.meta_pool", "cephfs.data_pool"] {
                        if let Some(p) = config.get(k) {
                            pools.push(p.clone());
                        }
                    }
                }
                node.microceph
                    .lxd_ensure_pools(&pools)
                    .map_err(|e| fail(format!("Failed to connect to the Ceph cluster: {e}")))?;
            }
            _ => {}
        }
        // Store what the driver filled in: member-specific keys on this
        // member's row, the others globally (`UpdateStoragePool` splits
        // them by `NodeSpecificStorageConfig`).
        let legacy = self.b.profile == LxdProfile::Legacy;
        super::drivers::fill_config(&pool.driver, name, &me, &mut config, legacy);
        let member_keys = self.member_keys();
        self.with_db(|db| {
            if let Some(p) = db.pools.get_mut(name) {
                for (k, v) in &config {
                    if !member_keys.contains(&k.as_str()) {
                        p.config.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                if let Some(r) = p.members.get_mut(&me) {
                    r.config = config
                        .iter()
                        .filter(|(k, _)| member_keys.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    r.state = State::Created;
                }
            }
        })?;
        Ok(())
    }

    // ----- volumes ------------------------------------------------------

    pub(super) fn volumes_get(&self, req: &Request, pool: &str, kind: Option<&str>) -> Reply {
        if let Some(k) = kind
            && k != "custom"
        {
            return Reply::sync(json!([]));
        }
        let exists = self
            .with_db(|db| db.pools.contains_key(pool))
            .unwrap_or(false);
        if !exists {
            return Reply::error(404, "Storage pool not found");
        }
        // Current LXD forwards `?target=` (see `route`) and then lists only
        // that member's volumes and remote ones (`memberSpecific` in
        // `storagePoolVolumesGet`); 5.0.2 lists every member's volumes.
        let only_member =
            (self.b.profile == LxdProfile::Current && req.target().is_some() && self.clustered())
                .then(|| self.member_name());
        let vols: Vec<Volume> = self
            .with_db(|db| {
                db.volumes
                    .iter()
                    .filter(|v| v.pool == pool)
                    .filter(|v| {
                        only_member
                            .as_ref()
                            .is_none_or(|m| v.member.is_empty() || v.member == *m)
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if req.recursion() == 0 {
            return Reply::sync(
                vols.iter()
                    .map(|v| format!("/1.0/storage-pools/{pool}/volumes/custom/{}", v.name))
                    .collect::<Vec<_>>(),
            );
        }
        Reply::sync(vols.iter().map(volume_json).collect::<Vec<_>>())
    }

    pub(super) fn volume_get(&self, req: &Request, pool: &str, kind: &str, name: &str) -> Reply {
        let me = req
            .target()
            .map(String::from)
            .unwrap_or_else(|| self.member_name());
        let v = self
            .with_db(|db| {
                db.volumes
                    .iter()
                    .find(|v| {
                        v.pool == pool && v.name == name && (v.member.is_empty() || v.member == me)
                    })
                    .cloned()
            })
            .ok()
            .flatten();
        match (kind, v) {
            ("custom", Some(v)) => Reply::sync(volume_json(&v)),
            _ => Reply::error(404, "Storage volume not found"),
        }
    }

    pub(super) fn volumes_post(
        self: &Arc<Self>,
        req: &Request,
        pool: &str,
        kind: Option<&str>,
    ) -> Reply {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct VolPost {
            name: String,
            #[serde(rename = "type")]
            kind: String,
            content_type: String,
            description: String,
            config: Config,
        }
        let body: VolPost = match req.json("api.StorageVolumesPost") {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let kind = kind.map(String::from).unwrap_or(body.kind.clone());
        if kind != "custom" {
            return Reply::error(400, format!("Invalid storage volume type {kind:?}"));
        }
        if body.name.is_empty() {
            return Reply::error(400, "No name provided");
        }
        let Some(p) = self
            .with_db(|db| db.pools.get(pool).cloned())
            .ok()
            .flatten()
        else {
            return Reply::error(404, "Storage pool not found");
        };
        if p.state != State::Created {
            return Reply::error(404, "Storage pool not found");
        }
        let remote = matches!(p.driver.as_str(), "ceph" | "cephfs");
        let member = if remote {
            String::new()
        } else {
            let t = req
                .target()
                .map(String::from)
                .unwrap_or_else(|| self.member_name());
            if self.clustered() && !self.with_db(|db| db.member(&t).is_some()).unwrap_or(false) {
                return Reply::error(404, "Cluster member not found");
            }
            if !self.clustered() {
                UNCLUSTERED.to_string()
            } else {
                t
            }
        };
        let dup = self
            .with_db(|db| {
                db.volumes
                    .iter()
                    .any(|v| v.pool == pool && v.name == body.name && v.member == member)
            })
            .unwrap_or(false);
        if dup {
            return Reply::error(409, "Volume by that name already exists");
        }
        let vol = Volume {
            pool: pool.to_string(),
            member,
            name: body.name.clone(),
            content_type: if body.content_type.is_empty() {
                "filesystem".into()
            } else {
                body.content_type
            },
            description: body.description,
            config: body.config,
            created_at: crate::clock::rfc3339_nano(self.ctl.clock.now()),
        };
        // A plain create (no copy source) runs inside the request and
        // answers `EmptySyncResponse` (200) up to lxd-6.5; lxd-6.6 and later
        // schedule an operation (`doVolumeCreateOrCopy`,
        // lxd/storage_volumes.go).
        if self.b.profile == LxdProfile::Legacy {
            return match self.with_db(|db| db.volumes.push(vol)) {
                Ok(()) => Reply::empty(),
                Err(e) => e.into(),
            };
        }
        let this = self.clone();
        let op = self.ops.create(
            &self.ctl.clock,
            "task",
            "Creating storage volume",
            json!({"storage_volumes": [format!("/1.0/storage-pools/{pool}/volumes/custom/{}", body.name)]}),
            Value::Null,
            false,
            &self.op_location(),
        );
        let id = op.id.clone();
        let work = self.timings.pool_create;
        tokio::spawn(async move {
            this.ctl.work(work).await;
            let r = this.with_db(|db| db.volumes.push(vol));
            this.ops.finish(&this.ctl.clock, &id, r);
        });
        Reply::Async {
            url: format!("/1.0/operations/{}", op.id),
            operation: op.to_json(self.op_fields()),
        }
    }
}

fn volume_json(v: &Volume) -> Value {
    json!({
        "config": v.config,
        "description": v.description,
        "name": v.name,
        "type": "custom",
        "used_by": [],
        "location": if v.member.is_empty() { "none" } else { v.member.as_str() },
        "content_type": v.content_type,
        "project": "default",
        "created_at": v.created_at,
    })
}
