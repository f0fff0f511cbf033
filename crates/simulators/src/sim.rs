//! The simulation: nodes, their services, the shared "fabric" that stands
//! in for replicated databases, and the Rust API tests drive it with.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::clock::SimClock;
use crate::error::SimError;
use crate::faults::{FaultRule, FaultScript, Service};
use crate::inventory::{Claims, Hardware, Inventory};
use crate::lxd::{LxdDb, LxdOptions, LxdProfile, LxdService, TokenFields};
use crate::microcluster::real_ceph::CephCli;
use crate::microcluster::{McBehaviour, McDb, McFamily, McService};
use crate::server::NodeCtl;

/// Baseline durations of slow operations, multiplied by the time scale.
/// Defaults come from a real LXD 5.0.2 on this machine kind and from
/// MicroCloud's documented expectations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timings {
    /// LXD `PUT /1.0/cluster` bootstrap operation.
    pub cluster_bootstrap: Duration,
    /// LXD join operation.
    pub cluster_join: Duration,
    /// Local storage pool creation.
    pub pool_create: Duration,
    /// Ceph-backed pool creation.
    pub ceph_pool_create: Duration,
    /// Network creation.
    pub network_create: Duration,
    /// Profile update.
    pub profile_update: Duration,
    /// microcluster bootstrap.
    pub microcluster_bootstrap: Duration,
    /// microcluster join.
    pub microcluster_join: Duration,
    /// One MicroCeph OSD.
    pub ceph_disk_add: Duration,
    /// A microcluster daemon's start (socket served, `GET .../ready` 503
    /// until it is over). 0 by default: started at once.
    pub microcluster_start: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            cluster_bootstrap: Duration::from_millis(980),
            cluster_join: Duration::from_millis(1130),
            pool_create: Duration::from_millis(100),
            ceph_pool_create: Duration::from_millis(4600),
            network_create: Duration::from_millis(590),
            profile_update: Duration::from_millis(40),
            microcluster_bootstrap: Duration::from_millis(1000),
            microcluster_join: Duration::from_millis(1000),
            ceph_disk_add: Duration::from_millis(2300),
            microcluster_start: Duration::ZERO,
        }
    }
}

/// Shared simulation state: node registry and the per-cluster databases
/// that real services replicate between members.
#[derive(Debug)]
pub(crate) struct Fabric {
    nodes: RwLock<Vec<Arc<NodeInner>>>,
    lxd_dbs: Mutex<HashMap<String, Arc<Mutex<LxdDb>>>>,
    mc_dbs: Mutex<HashMap<(Service, String), SharedMcDb>>,
}

type SharedMcDb = Arc<Mutex<McDb>>;

impl Fabric {
    pub(crate) fn node(&self, name: &str) -> Option<Arc<NodeInner>> {
        self.nodes
            .read()
            .ok()?
            .iter()
            .find(|n| n.ctl.name == name)
            .cloned()
    }
    pub(crate) fn node_by_ip(&self, ip: IpAddr) -> Option<Arc<NodeInner>> {
        self.nodes
            .read()
            .ok()?
            .iter()
            .find(|n| n.ctl.ip == ip)
            .cloned()
    }
    pub(crate) fn all(&self) -> Vec<Arc<NodeInner>> {
        self.nodes.read().map(|n| n.clone()).unwrap_or_default()
    }
    pub(crate) fn register_lxd_db(&self, fingerprint: String, db: Arc<Mutex<LxdDb>>) {
        if let Ok(mut m) = self.lxd_dbs.lock() {
            m.insert(fingerprint, db);
        }
    }
    pub(crate) fn lxd_db(&self, fingerprint: &str) -> Option<Arc<Mutex<LxdDb>>> {
        self.lxd_dbs.lock().ok()?.get(fingerprint).cloned()
    }
    pub(crate) fn register_mc_db(
        &self,
        service: Service,
        fingerprint: String,
        db: Arc<Mutex<McDb>>,
    ) {
        if let Ok(mut m) = self.mc_dbs.lock() {
            m.insert((service, fingerprint), db);
        }
    }
    pub(crate) fn mc_db(&self, service: Service, fingerprint: &str) -> Option<Arc<Mutex<McDb>>> {
        self.mc_dbs
            .lock()
            .ok()?
            .get(&(service, fingerprint.to_string()))
            .cloned()
    }
    /// Addresses of live nodes whose MicroOVN runs `central`.
    pub(crate) fn ovn_central_ips(&self) -> Vec<IpAddr> {
        self.all()
            .iter()
            .filter(|n| n.ctl.is_alive() && n.microovn.runs_central())
            .filter_map(|n| n.microovn.https_addr().map(|a| a.ip()))
            .collect()
    }
}

/// One node's services.
#[derive(Debug)]
pub(crate) struct NodeInner {
    pub ctl: Arc<NodeCtl>,
    pub inventory: Arc<Hardware>,
    pub claims: Arc<Claims>,
    pub lxd: Arc<LxdService>,
    pub microceph: Arc<McService>,
    pub microovn: Arc<McService>,
    /// The services this node serves (unix socket and, later, HTTPS).
    pub served: Vec<Service>,
}

/// How to build one node.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Node name (also the host name unless the inventory sets one).
    pub name: String,
    /// LXD behaviour profile.
    pub lxd_profile: LxdProfile,
    /// API extensions to remove from the profile's list.
    pub remove_extensions: Vec<String>,
    /// API extensions to add.
    pub add_extensions: Vec<String>,
    /// Storage drivers LXD reports as available.
    pub storage_drivers: Vec<String>,
    /// Inventory fixture JSON (placeholders allowed); `None` = embedded.
    pub inventory_json: Option<String>,
    /// The microcluster endpoint family MicroCeph serves (`Cluster`:
    /// MicroCeph reef).
    pub microceph_family: McFamily,
    /// Which token fields LXD decodes; `None`: from `explicit_trust_token`.
    pub lxd_token_fields: Option<TokenFields>,
}

impl NodeSpec {
    /// A node with the given name and the `current` LXD profile.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            lxd_profile: LxdProfile::Current,
            remove_extensions: Vec::new(),
            add_extensions: Vec::new(),
            storage_drivers: ["btrfs", "ceph", "cephfs", "dir", "lvm", "zfs"]
                .map(String::from)
                .to_vec(),
            inventory_json: None,
            microceph_family: McFamily::Core,
            lxd_token_fields: None,
        }
    }
    /// A daemon that decodes `cluster_token` / `trust_token` without
    /// advertising `explicit_trust_token` (as Incus does): the `current`
    /// profile with the extension removed and the new fields kept.
    pub fn new_token_fields_unadvertised(name: &str) -> Self {
        let mut spec = Self::new(name).token_fields(TokenFields::Token);
        spec.remove_extensions
            .push("explicit_trust_token".to_string());
        spec
    }
    /// Sets which token fields LXD decodes.
    pub fn token_fields(mut self, fields: TokenFields) -> Self {
        self.lxd_token_fields = Some(fields);
        self
    }
    /// Sets the LXD profile.
    pub fn profile(mut self, p: LxdProfile) -> Self {
        self.lxd_profile = p;
        self
    }
    /// Sets MicroCeph's microcluster endpoint family.
    pub fn microceph_family(mut self, family: McFamily) -> Self {
        self.microceph_family = family;
        self
    }
    /// Sets the inventory fixture.
    pub fn inventory(mut self, json: &str) -> Self {
        self.inventory_json = Some(json.to_string());
        self
    }
}

/// Builds a [`Sim`].
#[derive(Debug, Clone)]
pub struct SimBuilder {
    specs: Vec<NodeSpec>,
    state_dir: Option<PathBuf>,
    time_scale: f64,
    base_ip: Option<Ipv4Addr>,
    timings: Timings,
    served: Vec<Service>,
    real_ceph: Option<CephCli>,
    call_rules: Vec<FaultRule>,
}

impl Default for SimBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SimBuilder {
    /// No nodes yet, time scale 1, state in a fresh temporary directory,
    /// addresses from a random free `127.x.y.0/24` block.
    pub fn new() -> Self {
        Self {
            specs: Vec::new(),
            state_dir: None,
            time_scale: 1.0,
            base_ip: None,
            timings: Timings::default(),
            served: vec![Service::Lxd, Service::Microceph, Service::Microovn],
            real_ceph: None,
            call_rules: Vec::new(),
        }
    }
    /// Adds `n` nodes named `node1`…`nodeN` with the `current` profile.
    pub fn nodes(mut self, n: usize) -> Self {
        let start = self.specs.len();
        for i in 0..n {
            self.specs
                .push(NodeSpec::new(&format!("node{}", start + i + 1)));
        }
        self
    }
    /// Adds one node.
    pub fn node(mut self, spec: NodeSpec) -> Self {
        self.specs.push(spec);
        self
    }
    /// Sets the LXD profile of every node added so far.
    pub fn profile(mut self, p: LxdProfile) -> Self {
        for s in &mut self.specs {
            s.lxd_profile = p;
        }
        self
    }
    /// Sets MicroCeph's microcluster endpoint family on every node added
    /// so far (`McFamily::Cluster`: MicroCeph reef).
    pub fn microceph_family(mut self, family: McFamily) -> Self {
        for s in &mut self.specs {
            s.microceph_family = family;
        }
        self
    }
    /// Where sockets live (`<dir>/<node>/{lxd,microceph,microovn}/…`).
    pub fn state_dir(mut self, dir: &Path) -> Self {
        self.state_dir = Some(dir.to_path_buf());
        self
    }
    /// Multiplies every simulated duration and injected latency (0 = instant).
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }
    /// First node address; the others follow (`127.0.0.1` → `.2`, `.3`…).
    pub fn base_ip(mut self, ip: Ipv4Addr) -> Self {
        self.base_ip = Some(ip);
        self
    }
    /// Baseline durations.
    pub fn timings(mut self, t: Timings) -> Self {
        self.timings = t;
        self
    }
    /// Which services every node serves (default: all three). A service
    /// left out has no socket, as if it were not installed; this is how a
    /// real daemon takes its place (for example a real LXD per machine with
    /// simulated MicroCeph and MicroOVN). Simulated LXD's `ceph` pools
    /// still look at the simulated MicroCeph.
    pub fn services(mut self, services: &[Service]) -> Self {
        self.served = services.to_vec();
        self
    }
    /// Answers MicroCeph's pool calls (`GET /1.0/pools`, `PUT
    /// /1.0/pools-op`) from a real Ceph cluster through its CLI, for a
    /// simulation next to real consumers of that cluster (see
    /// [`CephCli`]).
    pub fn ceph_cli(mut self, cli: CephCli) -> Self {
        self.real_ceph = Some(cli);
        self
    }
    /// Durations and per-request costs from a latency model: its
    /// [`Timings`], and its call latencies installed on every node as
    /// latency rules (before any other fault rule, scaled like them).
    pub fn latency_model(mut self, model: &crate::LatencyModel) -> Self {
        self.timings = model.timings();
        self.call_rules = model.call_rules();
        self
    }

    /// Starts every node's services (unix sockets only; HTTPS listeners
    /// appear when the services are given addresses). Must run inside a
    /// tokio runtime.
    pub async fn start(self) -> Result<Sim, SimError> {
        let count = self.specs.len();
        let (state_dir, owned) = match &self.state_dir {
            Some(d) => (d.clone(), false),
            None => (
                std::env::temp_dir().join(format!(
                    "microcloud-sim-{}-{}",
                    std::process::id(),
                    &crate::util::random_secret()[..8]
                )),
                true,
            ),
        };
        std::fs::create_dir_all(&state_dir).map_err(|source| SimError::StateDir {
            path: state_dir.clone(),
            source,
        })?;
        let ips = allocate_ips(self.base_ip, count)?;
        let clock = Arc::new(SimClock::default());
        let fabric = Arc::new(Fabric {
            nodes: RwLock::new(Vec::new()),
            lxd_dbs: Mutex::new(HashMap::new()),
            mc_dbs: Mutex::new(HashMap::new()),
        });
        let mut nodes = Vec::new();
        for (i, (spec, ip)) in self.specs.iter().zip(ips).enumerate() {
            let dir = state_dir.join(&spec.name);
            let ctl = NodeCtl::new(spec.name.clone(), ip, dir, self.time_scale, clock.clone());
            let inventory = match &spec.inventory_json {
                Some(json) => Inventory::from_json(
                    json,
                    &format!("inventory of {}", spec.name),
                    &spec.name,
                    i + 1,
                    ip,
                )?,
                None => Inventory::default_for(&spec.name, i + 1, ip)?,
            };
            if inventory.default_route.is_some() {
                let proc_net = state_dir.join(&spec.name).join("proc/net");
                std::fs::create_dir_all(&proc_net)
                    .and_then(|()| {
                        std::fs::write(proc_net.join("route"), inventory.proc_net_route())
                    })
                    .map_err(|source| SimError::StateDir {
                        path: proc_net.clone(),
                        source,
                    })?;
            }
            let inventory = Arc::new(Hardware::new(inventory));
            let claims = Arc::new(Claims::default());
            let weak = Arc::downgrade(&fabric);
            let lxd = LxdService::new(
                ctl.clone(),
                weak.clone(),
                inventory.clone(),
                claims.clone(),
                &LxdOptions {
                    profile: spec.lxd_profile,
                    remove_extensions: spec.remove_extensions.clone(),
                    add_extensions: spec.add_extensions.clone(),
                    storage_drivers: spec.storage_drivers.clone(),
                    token_fields: spec.lxd_token_fields,
                },
                self.timings,
            )?;
            let microceph = McService::new(
                Service::Microceph,
                ctl.clone(),
                weak.clone(),
                inventory.clone(),
                claims.clone(),
                McBehaviour {
                    timings: self.timings,
                    real_ceph: self.real_ceph.clone(),
                    family: spec.microceph_family,
                },
            )?;
            let microovn = McService::new(
                Service::Microovn,
                ctl.clone(),
                weak,
                inventory.clone(),
                claims.clone(),
                McBehaviour {
                    timings: self.timings,
                    real_ceph: None,
                    family: McFamily::Core,
                },
            )?;
            if let Ok(mut faults) = ctl.faults.lock() {
                for rule in &self.call_rules {
                    faults.add(rule.clone())?;
                }
            }
            if self.served.contains(&Service::Lxd) {
                lxd.start()?;
            }
            if self.served.contains(&Service::Microceph) {
                microceph.start()?;
            }
            if self.served.contains(&Service::Microovn) {
                microovn.start()?;
            }
            let inner = Arc::new(NodeInner {
                ctl,
                inventory,
                claims,
                lxd,
                microceph,
                microovn,
                served: self.served.clone(),
            });
            if let Ok(mut n) = fabric.nodes.write() {
                n.push(inner.clone());
            }
            nodes.push(SimNode { inner });
        }
        Ok(Sim {
            fabric,
            nodes,
            clock,
            state_dir,
            owned_dir: owned,
        })
    }
}

fn allocate_ips(base: Option<Ipv4Addr>, count: usize) -> Result<Vec<IpAddr>, SimError> {
    let block = |first: Ipv4Addr| -> Vec<IpAddr> {
        let o = first.octets();
        (0..count)
            .map(|i| {
                let last = u16::from(o[3]) + u16::try_from(i).unwrap_or(u16::MAX);
                IpAddr::V4(Ipv4Addr::new(
                    o[0],
                    o[1],
                    o[2],
                    u8::try_from(last).unwrap_or(u8::MAX),
                ))
            })
            .collect()
    };
    if let Some(b) = base {
        return Ok(block(b));
    }
    let mut last = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8443);
    const ATTEMPTS: usize = 32;
    for _ in 0..ATTEMPTS {
        let mut r = [0u8; 2];
        let _ = crate::util::fill_random(&mut r);
        let first = Ipv4Addr::new(127, r[0].clamp(1, 254), r[1], 1);
        let ips = block(first);
        let free = ips.iter().all(|ip| {
            [8443u16, 7443, 6443].iter().all(|port| {
                last = SocketAddr::new(*ip, *port);
                std::net::TcpListener::bind(last).is_ok()
            })
        });
        if free {
            return Ok(ips);
        }
    }
    Err(SimError::NoAddresses {
        count,
        attempts: ATTEMPTS,
        last,
    })
}

/// A running simulation. Dropping it stops every node and removes the
/// state directory when the simulation created it.
#[derive(Debug)]
pub struct Sim {
    fabric: Arc<Fabric>,
    nodes: Vec<SimNode>,
    clock: Arc<SimClock>,
    state_dir: PathBuf,
    owned_dir: bool,
}

impl Drop for Sim {
    fn drop(&mut self) {
        for n in &self.nodes {
            n.inner.ctl.crash();
        }
        if self.owned_dir {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

impl Sim {
    /// All nodes, in creation order.
    pub fn nodes(&self) -> &[SimNode] {
        &self.nodes
    }

    /// One node by name.
    pub fn node(&self, name: &str) -> Result<&SimNode, SimError> {
        self.nodes
            .iter()
            .find(|n| n.name() == name)
            .ok_or_else(|| SimError::UnknownNode {
                name: name.to_string(),
                known: self
                    .nodes
                    .iter()
                    .map(SimNode::name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Installs a fault rule on a node.
    pub fn add_fault(&self, node: &str, rule: FaultRule) -> Result<(), SimError> {
        let n = self.node(node)?;
        match n.inner.ctl.faults.lock() {
            Ok(mut f) => f.add(rule),
            Err(_) => Ok(()),
        }
    }

    /// Installs every rule of a script (each names its node).
    pub fn apply_script(&self, script: &FaultScript) -> Result<(), SimError> {
        for rule in &script.rules {
            let node = rule.node.clone().unwrap_or_default();
            self.add_fault(&node, rule.clone())?;
        }
        Ok(())
    }

    /// Removes every fault rule of a node.
    pub fn clear_faults(&self, node: &str) -> Result<(), SimError> {
        let n = self.node(node)?;
        if let Ok(mut f) = n.inner.ctl.faults.lock() {
            f.clear();
        }
        Ok(())
    }

    /// Moves the simulated wall clock forward (token expiry).
    pub fn advance_clock(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Crashes a node: all its listeners close and connections drop.
    pub fn crash(&self, node: &str) -> Result<(), SimError> {
        self.node(node)?.inner.ctl.crash();
        Ok(())
    }

    /// Restarts a crashed node with its state intact.
    pub fn restart(&self, node: &str) -> Result<(), SimError> {
        let n = self.node(node)?;
        n.inner.ctl.revive();
        let bind = |service: &'static str, r: std::io::Result<()>| {
            r.map_err(|source| SimError::Bind {
                node: node.to_string(),
                service,
                what: "previous addresses".to_string(),
                source,
            })
        };
        bind("lxd", n.inner.lxd.restart())?;
        bind("microceph", n.inner.microceph.restart())?;
        bind("microovn", n.inner.microovn.restart())?;
        Ok(())
    }

    /// The OVN northbound connection string over the MicroOVN members
    /// running `central` (`ssl:<ip>:6641,…`), once MicroOVN is up.
    pub fn ovn_northbound_connection(&self) -> Option<String> {
        let ips = self.fabric.ovn_central_ips();
        if ips.is_empty() {
            return None;
        }
        Some(
            ips.iter()
                .map(|ip| match ip {
                    IpAddr::V6(v6) => format!("ssl:[{v6}]:6641"),
                    IpAddr::V4(v4) => format!("ssl:{v4}:6641"),
                })
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    /// A JSON description of every node (what `microcloud-sim` prints).
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "state_dir": self.state_dir,
            "nodes": self.nodes.iter().map(SimNode::summary).collect::<Vec<_>>(),
        })
    }
}

/// Handle on one simulated node.
#[derive(Debug, Clone)]
pub struct SimNode {
    inner: Arc<NodeInner>,
}

impl SimNode {
    /// Node name.
    pub fn name(&self) -> &str {
        &self.inner.ctl.name
    }
    /// The node's loopback address (what its services bind for wildcard
    /// addresses, and what fixtures' `{ip}` becomes).
    pub fn ip(&self) -> IpAddr {
        self.inner.ctl.ip
    }
    /// Whether this node serves `service` (see [`SimBuilder::services`]).
    pub fn serves(&self, service: Service) -> bool {
        self.inner.served.contains(&service)
    }
    /// LXD unix socket.
    pub fn lxd_socket(&self) -> PathBuf {
        self.inner.lxd.socket_path()
    }
    /// MicroCeph control socket.
    pub fn microceph_socket(&self) -> PathBuf {
        self.inner.microceph.socket_path()
    }
    /// MicroOVN control socket.
    pub fn microovn_socket(&self) -> PathBuf {
        self.inner.microovn.socket_path()
    }
    /// LXD's HTTPS address, once listening.
    pub fn lxd_https(&self) -> Option<SocketAddr> {
        self.inner.lxd.https_addr()
    }
    /// MicroCeph's HTTPS address, once initialised.
    pub fn microceph_https(&self) -> Option<SocketAddr> {
        self.inner.microceph.https_addr()
    }
    /// MicroOVN's HTTPS address, once initialised.
    pub fn microovn_https(&self) -> Option<SocketAddr> {
        self.inner.microovn.https_addr()
    }
    /// LXD server certificate fingerprint.
    pub fn lxd_server_fingerprint(&self) -> String {
        self.inner.lxd.server_fingerprint()
    }
    /// LXD cluster certificate fingerprint, once clustered.
    pub fn lxd_cluster_fingerprint(&self) -> Option<String> {
        self.inner.lxd.cluster_fingerprint()
    }
    /// MicroCeph server certificate fingerprint.
    pub fn microceph_server_fingerprint(&self) -> String {
        self.inner
            .microceph
            .server_identity()
            .fingerprint()
            .to_string()
    }
    /// MicroCeph cluster certificate fingerprint, once initialised.
    pub fn microceph_cluster_fingerprint(&self) -> Option<String> {
        self.inner.microceph.cluster_fingerprint()
    }
    /// MicroOVN server certificate fingerprint.
    pub fn microovn_server_fingerprint(&self) -> String {
        self.inner
            .microovn
            .server_identity()
            .fingerprint()
            .to_string()
    }
    /// MicroOVN cluster certificate fingerprint, once initialised.
    pub fn microovn_cluster_fingerprint(&self) -> Option<String> {
        self.inner.microovn.cluster_fingerprint()
    }
    /// MicroOVN encapsulation IP of this member, once joined.
    pub fn ovn_encap_ip(&self) -> Option<String> {
        self.inner.microovn.encap_ip()
    }
    /// The MicroCeph OSDs on this machine, with what only the machine
    /// knows (encryption): real MicroCeph's API does not report it.
    pub fn ceph_osds(&self) -> Vec<crate::SimOsd> {
        self.inner.microceph.osds_here()
    }
    /// This member's Ceph monitor address, when it runs a monitor.
    pub fn ceph_mon_address(&self) -> Option<IpAddr> {
        self.inner.microceph.mon_address()
    }
    /// The LXD profile.
    pub fn lxd_profile(&self) -> LxdProfile {
        self.inner.lxd.profile()
    }
    /// Whether the node is up (not crashed).
    pub fn is_alive(&self) -> bool {
        self.inner.ctl.is_alive()
    }
    /// The node's hardware as its services report it now.
    pub fn inventory(&self) -> Arc<Inventory> {
        self.inner.inventory.get()
    }

    /// Changes the node's hardware while it runs, as if an operator swapped,
    /// mounted or pulled a disk: every request after this sees the change
    /// (LXD's `/1.0/resources`, pool and OSD creation checks).
    pub fn edit_inventory(&self, change: impl FnOnce(&mut Inventory)) {
        self.inner.inventory.edit(change);
    }
    /// Who holds a disk (by kernel name), if anyone.
    pub fn disk_holder(&self, disk_id: &str) -> Option<String> {
        self.inner.claims.holder(disk_id)
    }

    fn summary(&self) -> serde_json::Value {
        let svc = |service: Service,
                   socket: PathBuf,
                   https: Option<SocketAddr>,
                   server_fp: String,
                   cluster_fp: Option<String>| {
            if !self.serves(service) {
                return serde_json::Value::Null;
            }
            serde_json::json!({
                "socket": socket,
                "https": https.map(|a| a.to_string()),
                "server_fingerprint": server_fp,
                "cluster_fingerprint": cluster_fp,
            })
        };
        serde_json::json!({
            "name": self.name(),
            "ip": self.ip().to_string(),
            "alive": self.is_alive(),
            "lxd": svc(Service::Lxd, self.lxd_socket(), self.lxd_https(), self.lxd_server_fingerprint(), self.lxd_cluster_fingerprint()),
            "lxd_profile": self.lxd_profile(),
            "lxd_version": self.lxd_profile().server_version(),
            "microceph": svc(Service::Microceph, self.microceph_socket(), self.microceph_https(), self.microceph_server_fingerprint(), self.microceph_cluster_fingerprint()),
            "microovn": svc(Service::Microovn, self.microovn_socket(), self.microovn_https(), self.microovn_server_fingerprint(), self.microovn_cluster_fingerprint()),
        })
    }
}
