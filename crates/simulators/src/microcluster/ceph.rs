//! MicroCeph's `/1.0` API, as MicroCeph v19.2.0+squid answers it (the
//! version `GET /core/1.0` reports). Every behaviour cites its source in
//! canonical/microceph; `docs/contracts/microceph.md` has the whole table.
//!
//! `POST /1.0/disks` always answers 200 with a per-disk report; problems
//! appear in `report[].error` (or `validation_error` for bad argument
//! combinations), never as an HTTP error. A disk is refused when its path
//! names no disk of the node, when it carries partitions (unless `wipe`),
//! when it is mounted, or when it is already an OSD or taken by an LXD
//! pool. An added disk is recorded under its stable path
//! (`/dev/disk/by-id/…`), as `setStablePath` does. `GET /1.0/configs`
//! needs a JSON body, like the real daemon (no body is a 500 `EOF`), and
//! knows only the keys of MicroCeph's config table. `PUT /1.0/pools-op`
//! sets the replication size of the named pools (`["*"]` all, `[""]` only
//! the default). `mon`, `mgr` and `mds` run on the first three members.
//! With a real Ceph cluster behind the simulation ([`super::real_ceph`]),
//! the pool calls go to it.
//!
//! The monitor address of a member is a local address inside
//! `public_network` (bootstrap without `MonIp`, and every joiner that
//! becomes a monitor), taken from the node's inventory: its interfaces'
//! `global` addresses stand for Go's `IsGlobalUnicast` addresses (the
//! simulated nodes' own 127.x addresses are `global` in the fixtures), and
//! the address the daemon listens on is local too.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use super::McService;
use super::ipnet_lite::Net;
use crate::http::{ApiError, Config, Reply, Request};
use crate::inventory::Inventory;

#[derive(Debug, Clone)]
pub(crate) struct Osd {
    pub id: u64,
    /// The stable path MicroCeph records (`setStablePath`).
    pub path: String,
    pub location: String,
    /// Whether the data device is LUKS-encrypted. MicroCeph keeps this on
    /// the machine (the `luksosd-<N>` mapping), not in its API: `GET
    /// /1.0/disks` lists only `osd`, `path` and `location`
    /// (`types.Disk`, microceph/api/types/disks.go, every version).
    pub encrypted: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct CephPool {
    pub id: u64,
    pub size: u64,
    pub min_size: u64,
    pub crush_rule: String,
}

/// The CRUSH rules a MicroCeph cluster has after bootstrap: Ceph's own
/// `replicated_rule` and MicroCeph's two (`ensureCrushRules`,
/// microceph/ceph/crush.go, v18.2.4+reef through HEAD).
const OSD_RULE: &str = "microceph_auto_osd";
const HOST_RULE: &str = "microceph_auto_host";

/// MicroCeph's config table (`GetConstConfigTable`,
/// microceph/ceph/config.go, v19.2.0+squid): key and whether it may be
/// set. Reef's table has no `public_network`; v20.2.1 adds
/// `rbd_default_features`.
const CONFIG_TABLE: &[(&str, bool)] = &[
    ("public_network", false),
    ("cluster_network", true),
    ("osd_pool_default_crush_rule", true),
    ("rgw_s3_auth_use_keystone", true),
    ("rgw_keystone_url", true),
    ("rgw_keystone_admin_token", true),
    ("rgw_keystone_admin_token_path", true),
    ("rgw_keystone_admin_user", true),
    ("rgw_keystone_admin_password", true),
    ("rgw_keystone_admin_password_path", true),
    ("rgw_keystone_admin_project", true),
    ("rgw_keystone_admin_domain", true),
    ("rgw_keystone_service_token_enabled", true),
    ("rgw_keystone_service_token_accepted_roles", true),
    ("rgw_keystone_expired_token_cache_expiration", true),
    ("rgw_keystone_api_version", true),
    ("rgw_keystone_accepted_roles", true),
    ("rgw_keystone_accepted_admin_roles", true),
    ("rgw_keystone_token_cache_size", true),
    ("rgw_keystone_verify_ssl", true),
    ("rgw_keystone_implicit_tenants", true),
    ("rgw_swift_account_in_url", true),
    ("rgw_swift_versioning_enabled", true),
    ("rgw_swift_enforce_content_length", true),
    ("rgw_swift_custom_header", true),
];

/// Cluster-wide MicroCeph state.
#[derive(Debug, Default)]
pub(crate) struct CephState {
    pub osds: Vec<Osd>,
    /// Ceph's configuration database (`ceph config`), table keys only.
    pub configs: BTreeMap<String, String>,
    pub pools: BTreeMap<String, CephPool>,
    pub default_size: u64,
    /// `osd_pool_default_crush_rule`, by name.
    pub default_crush_rule: String,
    pub members: Vec<String>,
    /// `mon.host.<member>` records: each monitor's address.
    pub mon_hosts: BTreeMap<String, IpAddr>,
    next_pool_id: u64,
}

/// A node's local addresses as Go's `net.Interfaces` lists them, limited
/// to what `FindIpOnSubnet` considers (`IsGlobalUnicast`): the inventory's
/// `global` addresses, in interface order, with their prefix; then the
/// address the daemon listens on, which is local by definition (a
/// simulation next to real machines listens on their addresses, which its
/// inventory does not list), as a /24 or /64 when the inventory does not
/// give its prefix.
fn local_addresses(inventory: &Inventory, listening: IpAddr) -> Vec<(IpAddr, u8)> {
    let mut local: Vec<(IpAddr, u8)> = inventory
        .interfaces
        .iter()
        .flat_map(|i| i.addresses.iter())
        .filter(|a| a.scope == "global")
        .filter_map(|a| Some((a.address.parse().ok()?, a.netmask.parse().ok()?)))
        .collect();
    if !listening.is_unspecified() && !local.iter().any(|(a, _)| *a == listening) {
        local.push((listening, if listening.is_ipv4() { 24 } else { 64 }));
    }
    local
}

/// `FindIpOnSubnet` (microceph/common/network.go, v19.2.0+squid): the
/// first local address inside `subnet`.
fn find_ip_on_subnet(
    subnet: &str,
    inventory: &Inventory,
    listening: IpAddr,
) -> Result<IpAddr, String> {
    let net: Net = subnet
        .parse()
        .map_err(|()| format!("invalid CIDR address: {subnet}"))?;
    local_addresses(inventory, listening)
        .into_iter()
        .map(|(ip, _)| ip)
        .find(|ip| net.contains(*ip))
        .ok_or_else(|| format!("no IP belongs to provided subnet {subnet}"))
}

/// `FindNetworkAddress` (same file): the local address equal to `ip`, in
/// its host form (`10.0.0.5/24`, as Go's `IPNet.String` writes it).
fn find_network_address(ip: IpAddr, inventory: &Inventory) -> Result<String, String> {
    let local = local_addresses(inventory, ip);
    local
        .iter()
        .find(|(a, _)| *a == ip)
        .map(|(a, p)| format!("{a}/{p}"))
        .ok_or_else(|| {
            let nets: Vec<String> = local.iter().map(|(a, p)| format!("{a}/{p}")).collect();
            format!(
                "provided mon-ip ({ip}) does not belong to any suitable network: [{}]",
                nets.join(" ")
            )
        })
}

/// The bootstrap's network parameters (mon IP, public and cluster
/// networks), as `prepareCephBootstrapData` derives them
/// (microceph/ceph/bootstrap.go, v19.2.0+squid): without `MonIp`, the
/// first local address inside `PublicNet` (or the bootstrap address
/// without `PublicNet`); `PublicNet` defaults to the local network of the
/// mon IP, `ClusterNet` to `PublicNet`. Errors are what the post-bootstrap
/// hook answers, wrapped by microcluster ("Failed to run post-bootstrap
/// actions: ", internal/daemon/daemon.go, microcluster v2.0.x).
pub(crate) fn bootstrap_networks(
    config: &Config,
    addr: SocketAddr,
    inventory: &Inventory,
) -> Result<(IpAddr, String, String), ApiError> {
    let hook = |e: String| ApiError::internal(format!("Failed to run post-bootstrap actions: {e}"));
    let get = |k: &str| config.get(k).filter(|v| !v.is_empty()).cloned();
    let public = get("PublicNet");
    let mon = match (get("MonIp"), &public) {
        (Some(m), _) => m
            .parse::<IpAddr>()
            .map_err(|_| hook(format!("provided address {m} is invalid")))?,
        (None, None) => addr.ip(),
        // The mon IP is still empty when this fails, hence the two spaces.
        (None, Some(p)) => find_ip_on_subnet(p, inventory, addr.ip())
            .map_err(|e| hook(format!("failed to locate  on host: {e}")))?,
    };
    let public = match public {
        Some(p) => {
            let net: Net = p.parse().map_err(|()| {
                hook(format!(
                    "monIp {mon} is not available on public network {p}"
                ))
            })?;
            if !net.contains(mon) {
                return Err(hook(format!(
                    "monIp {mon} is not available on public network {p}"
                )));
            }
            p
        }
        None => find_network_address(mon, inventory)
            .map_err(|e| hook(format!("failed to locate {mon} on host: {e}")))?,
    };
    let cluster = get("ClusterNet").unwrap_or_else(|| public.clone());
    // `ceph config set global cluster_network` refuses what is no network.
    if cluster.parse::<Net>().is_err() {
        return Err(hook(format!(
            "Failed to run: ceph config set global cluster_network {cluster} -f json-pretty: exit status 22 (Error EINVAL: invalid value)"
        )));
    }
    Ok((mon, public, cluster))
}

/// The check a joiner's post-join hook makes when it is to become one of
/// the first three monitors (`updateDbForMon`, microceph/ceph/join.go,
/// v19.2.0+squid): it needs a local address inside `public_network`.
/// MicroCeph answers with the hook's error unwrapped (microcluster runs
/// `PostJoin` last and returns its error as is) and resets the joiner, so
/// nothing of the attempt remains.
pub(crate) fn join_mon_address(
    state: &CephState,
    inventory: &Inventory,
    listening: IpAddr,
) -> Result<Option<IpAddr>, ApiError> {
    if state.mon_hosts.len() >= 3 {
        return Ok(None);
    }
    let Some(public) = state.configs.get("public_network") else {
        return Ok(None);
    };
    find_ip_on_subnet(public, inventory, listening)
        .map(Some)
        .map_err(|e| {
            ApiError::internal(format!(
                "failed to record mon db entries: failed to locate ip on subnet {public}: {e}"
            ))
        })
}

impl CephState {
    pub(crate) fn bootstrap(
        &mut self,
        name: &str,
        config: &Config,
        addr: SocketAddr,
        inventory: &Inventory,
    ) -> Result<(), ApiError> {
        let (mon, public, cluster) = bootstrap_networks(config, addr, inventory)?;
        self.configs.insert("public_network".into(), public);
        self.configs.insert("cluster_network".into(), cluster);
        self.default_size = 3;
        self.default_crush_rule = OSD_RULE.to_owned();
        self.next_pool_id = 1;
        self.members = Vec::new();
        self.mon_hosts = BTreeMap::from([(name.to_owned(), mon)]);
        Ok(())
    }

    pub(crate) fn add_member(&mut self, name: &str, mon: Option<IpAddr>) {
        if !self.members.iter().any(|m| m == name) {
            self.members.push(name.to_string());
        }
        if let Some(ip) = mon {
            self.mon_hosts.insert(name.to_owned(), ip);
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
                    crush_rule: self.default_crush_rule.clone(),
                },
            );
        }
    }

    /// `updateFailureDomain` (microceph/ceph/osd.go, v19.2.0+squid): once
    /// three members hold an OSD, new pools and the pools on the OSD rule
    /// use the host rule.
    fn update_failure_domain(&mut self) {
        let hosts: std::collections::BTreeSet<&str> =
            self.osds.iter().map(|o| o.location.as_str()).collect();
        if hosts.len() >= 3 {
            self.default_crush_rule = HOST_RULE.to_owned();
            for p in self.pools.values_mut() {
                if p.crush_rule == OSD_RULE {
                    p.crush_rule = HOST_RULE.to_owned();
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `types.DisksPost` (microceph/api/types/disks.go, v19.2.0+squid); a
/// bare string `path` is turned into a list (`parseAndPatchDiskPostParams`,
/// microceph/api/disks.go). Squid has no DSL fields (`osd_match`,
/// `dry_run`, v20.2.1 and later): Go's decoder ignores them.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct DisksPost {
    path: Option<OneOrMany>,
    wipe: bool,
    encrypt: bool,
    waldev: Option<String>,
    dbdev: Option<String>,
}

/// `getClusterConfigDefinition` (microceph/ceph/config.go, v19.2.0+squid).
fn unsupported(key: &str) -> String {
    format!("requested key {key} is not a MicroCeph supported cluster config")
}

/// One OSD as the machine holding it keeps it (see [`crate::SimNode::ceph_osds`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOsd {
    /// OSD number.
    pub osd: u64,
    /// The stable path MicroCeph recorded.
    pub path: String,
    /// Whether its data device is LUKS-encrypted (`luksosd-<N>`).
    pub encrypted: bool,
}

impl McService {
    /// This member's OSDs.
    pub(crate) fn osds_here(&self) -> Vec<SimOsd> {
        let Some(me) = self.member_name() else {
            return Vec::new();
        };
        self.with_db(|db| {
            db.ceph
                .osds
                .iter()
                .filter(|o| o.location == me)
                .map(|o| SimOsd {
                    osd: o.id,
                    path: o.path.clone(),
                    encrypted: o.encrypted,
                })
                .collect()
        })
        .unwrap_or_default()
    }

    /// This member's monitor address (`mon.host.<name>`), if it runs one.
    pub(crate) fn mon_address(&self) -> Option<IpAddr> {
        let me = self.member_name()?;
        self.with_db(|db| db.ceph.mon_hosts.get(&me).copied())
            .ok()
            .flatten()
    }

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
        // `types.DiskAddResponse` (v19.2.0+squid) has exactly these two
        // fields; `report` is a nil slice, so `null`, when no disk was
        // asked for (`cmdDisksPost` answers `DiskAddResponse{}`).
        if paths.is_empty() {
            return Reply::sync(json!({"validation_error": "", "report": null}));
        }
        // `validateBulkDiskAdditionArgs` / `prepareValidationFailureResp`
        // (microceph/ceph/osd.go, v19.2.0+squid): a batch with a WAL or DB
        // device adds nothing; every disk is reported failed, without error.
        if paths.len() > 1 && (body.waldev.is_some() || body.dbdev.is_some()) {
            let report: Vec<_> = paths
                .iter()
                .map(|p| json!({"path": p, "report": "Failure", "error": ""}))
                .collect();
            return Reply::sync(json!({
                "validation_error": "wal/db devices are not supported in batch disk addition",
                "report": report,
            }));
        }
        let Some(me) = self.member_name() else {
            return super::unavailable().into();
        };
        let mut report = Vec::new();
        for path in paths {
            self.ctl.work(self.timings.ceph_disk_add).await;
            let r = self.add_disk(&me, &path, body.wipe, body.encrypt);
            // `AddSingleDisk`: the report names the path as requested.
            report.push(match r {
                Ok(()) => json!({"path": path, "report": "Success", "error": ""}),
                Err(e) => json!({"path": path, "report": "Failure", "error": e}),
            });
        }
        Reply::sync(json!({"validation_error": "", "report": report}))
    }

    fn add_disk(&self, me: &str, path: &str, wipe: bool, encrypt: bool) -> Result<(), String> {
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
        // `setStablePath` (microceph/ceph/osd.go, v19.2.0+squid): the disk
        // is recorded as /dev/disk/by-id/<device_id>, else by-path.
        let stable = if !disk.device_id.is_empty() {
            format!("/dev/disk/by-id/{}", disk.device_id)
        } else if !disk.device_path.is_empty() {
            format!("/dev/disk/by-path/{}", disk.device_path)
        } else {
            path.to_string()
        };
        self.with_db(|db| {
            let id = db.ceph.osds.iter().map(|o| o.id + 1).max().unwrap_or(0);
            db.ceph.osds.push(Osd {
                id,
                path: stable,
                location: me.to_string(),
                encrypted: encrypt,
            });
            if db.ceph.osds.len() == 1 {
                db.ceph.default_size = 3;
                db.ceph.ensure_pool(".mgr");
                if let Some(p) = db.ceph.pools.get_mut(".mgr") {
                    p.size = 1;
                    p.min_size = 1;
                }
            }
            db.ceph.update_failure_domain();
        })
        .map_err(|e| e.message)
    }

    /// `ListServices` (microceph/ceph/services.go, v19.2.0+squid): the
    /// services table, `{service, location}` per record; OSDs are disks,
    /// not services, so they are never listed. (`group_id` and `info`
    /// come with v20.2.1.)
    fn ceph_services(&self) -> Reply {
        let r = self.with_db(|db| {
            let mut out = Vec::new();
            for m in db.ceph.members.iter().take(3) {
                for s in ["mon", "mgr", "mds"] {
                    out.push(json!({"service": s, "location": m}));
                }
            }
            out
        });
        match r {
            Ok(v) => Reply::sync(v),
            Err(e) => e.into(),
        }
    }

    /// `cmdConfigsGet` (microceph/api/configs.go, v19.2.0+squid): with a
    /// key, `GetConfigItem` (a key outside the table is refused; the value
    /// is `ceph config get` output, newline included); without, the table
    /// keys Ceph has set (`ListConfigs`). Errors go through `SmartError`:
    /// 500.
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
        if !body.key.is_empty() && !CONFIG_TABLE.iter().any(|(k, _)| *k == body.key) {
            return Reply::error(500, unsupported(&body.key));
        }
        match self.with_db(|db| db.ceph.configs.clone()) {
            Ok(configs) if body.key.is_empty() => Reply::sync(
                configs
                    .iter()
                    .map(|(k, v)| json!({"key": k, "value": v, "wait": false, "skip_restart": false}))
                    .collect::<Vec<_>>(),
            ),
            Ok(configs) => match configs.get(&body.key) {
                Some(v) => Reply::sync(json!([{"key": body.key, "value": format!("{v}\n"), "wait": false, "skip_restart": false}])),
                // `ceph config get mon <key>` prints Ceph's default for a
                // key never set; the table's keys default to empty.
                None => Reply::sync(json!([{"key": body.key, "value": "\n", "wait": false, "skip_restart": false}])),
            },
            Err(e) => e.into(),
        }
    }

    /// `cmdConfigsPut` / `SetConfigItem` (v19.2.0+squid): only writable
    /// table keys; anything else is a 500 from `canSetConfig`.
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
        match CONFIG_TABLE.iter().find(|(k, _)| *k == body.key) {
            None => {
                return Reply::error(
                    500,
                    format!(
                        "config set({}) failed: {}",
                        body.key,
                        unsupported(&body.key)
                    ),
                );
            }
            Some((_, false)) => {
                return Reply::error(
                    500,
                    format!(
                        "config set({0}) failed: requested key {0} does not support write operation",
                        body.key
                    ),
                );
            }
            Some((_, true)) => {}
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
                    .map(|(name, p)| json!({"pool": name, "pool_id": p.id, "size": p.size, "min_size": p.min_size, "crush_rule": p.crush_rule}))
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
        // `SetReplicationFactor` runs `ceph config set global
        // osd_pool_default_size <size>` first, which Ceph refuses outside
        // the option's bounds (0..=10); Ceph's exact text is approximated.
        let Ok(size) = u64::try_from(body.size) else {
            return Reply::error(
                500,
                format!(
                    "failed to set pool size default: Failed to run: ceph config set global osd_pool_default_size {}: exit status 22 (Error EINVAL: error parsing value: Value '{}' is below minimum 0)",
                    body.size, body.size
                ),
            );
        };
        if size == 0 || size > 10 {
            return Reply::error(
                500,
                format!(
                    "failed to set pool size default: Failed to run: ceph config set global osd_pool_default_size {size}: exit status 22 (Error EINVAL: error parsing value: Value '{size}' is above maximum 10)"
                ),
            );
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
                    // `ceph osd pool set` on an unknown pool, wrapped by
                    // `SetReplicationFactor` (microceph/ceph/osd.go).
                    None => {
                        return Err(format!(
                            "failed to set pool size for {n}: Failed to run: ceph osd pool set {n} size {size} --yes-i-really-mean-it: exit status 2 (Error ENOENT: unrecognized pool '{n}')"
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
