//! The resources phase: LXD's OVN northbound connection when LXD cannot
//! find it itself, then (bootstrap mode) the storage pools and networks,
//! each defined member by member (pending) before its cluster-wide
//! creation, as MicroCloud does.

use std::collections::BTreeMap;

use super::{Ctx, config, id, id_at, new_step};
use crate::inventory::ResourceStatus;
use crate::plan::build::{Member, Networking, Notes, lxd_of};
use crate::plan::{Action, Phase, Service, Step, StepId};

/// OVN northbound database port.
const OVN_NB_PORT: u16 = 6641;

/// What the later phases need from the resources phase.
pub(super) struct Resources {
    /// The pool of the default profile's root disk, and the step creating it.
    pub(super) root_pool: Option<(String, StepId)>,
    /// The network of the default profile's `eth0`, and the step creating it.
    pub(super) eth0: Option<(String, StepId)>,
    /// The members that have (or get) the `local` pool, by name.
    pub(super) local_members: Vec<String>,
}

/// Per pool or network name, its pending (per-member) definition steps.
type Pending<'a> = BTreeMap<&'a str, Vec<StepId>>;

impl Ctx<'_> {
    /// The resource steps.
    pub(super) fn resource_steps(&self, steps: &mut Vec<Step>, n: &mut Notes) -> Resources {
        let nb_step = self.northbound_step(steps, n);
        if self.bootstrap {
            let local_members: Vec<String> = self
                .members
                .iter()
                .map(Member::name)
                .filter(|m| self.has_local(m))
                .map(str::to_owned)
                .collect();
            let mut pending = self.pending_definitions(steps, n);
            let root_pool = self.pool_steps(steps, n, &mut pending, &local_members);
            let eth0 = self.network_steps(steps, &mut pending, nb_step);
            return Resources {
                root_pool,
                eth0,
                local_members,
            };
        }
        let mut local_members = Vec::new();
        if let Some(pool) = self.cluster.lxd.pool("local") {
            for j in self.joiners {
                let has_disk = self.disks_of(j.name()).is_some_and(|d| d.local.is_some());
                if has_disk || pool.driver == "dir" {
                    local_members.push(j.name().to_owned());
                }
            }
        }
        Resources {
            root_pool: None,
            eth0: None,
            local_members,
        }
    }

    /// `network.ovn.northbound_connection`, set from MicroOVN's central
    /// services when LXD cannot find them itself.
    fn northbound_step(&self, steps: &mut Vec<Step>, n: &mut Notes) -> Option<StepId> {
        if !matches!(self.networking, Networking::Ovn { .. })
            || self.lxd_ext("ovn_dynamic_northbound_connection")
        {
            return None;
        }
        let init = self.init_name();
        let mut deps = Vec::new();
        if self.bootstrap {
            deps.push(id_at(&["lxd.bootstrap"], init));
            deps.push(id_at(&["microovn.bootstrap"], init));
        }
        let mut all_joined = true;
        for j in self.joiners {
            deps.push(id_at(&["microovn.join"], j.name()));
            all_joined &= self.joined(Service::MicroOvn, j.name());
        }
        let current = lxd_of(self.init)
            .and_then(|l| l.config.get("network.ovn.northbound_connection"))
            .filter(|v| !v.is_empty());
        let done = current.filter(|_| all_joined).map(|v| {
            format!(
                "network.ovn.northbound_connection is already set ({v}) and no MicroOVN member is added"
            )
        });
        n.decide(
            "LXD OVN northbound connection",
            "set network.ovn.northbound_connection from MicroOVN's central services",
            format!("LXD on {init} lacks the API extension ovn_dynamic_northbound_connection"),
        );
        let sid = id("lxd.ovn-northbound");
        steps.push(
            new_step(
                sid.clone(),
                Phase::Resources,
                Action::ConfigureOvnNorthbound { port: OVN_NB_PORT },
            )
            .on(Service::Lxd, init)
            .after(deps)
            .done_if(done)
            .build(),
        );
        Some(sid)
    }

    /// Whether the Ceph pools get the `source` key on their pending
    /// definitions (LXD without `storage_remote_drop_source` needs it).
    fn remote_pools_need_source(&self, n: &mut Notes) -> bool {
        let (remote, _) = self.remote_pools();
        let drop_source = self.lxd_ext("storage_remote_drop_source");
        if remote && !drop_source {
            n.decide(
                "LXD Ceph pool source",
                "source set on the pending remote pools",
                format!(
                    "LXD on {} lacks the API extension storage_remote_drop_source",
                    self.init_name()
                ),
            );
        }
        !drop_source
    }

    /// The pools defined on `member` before their creation: name, driver
    /// and `member`'s config.
    fn pending_pools(
        &self,
        member: &str,
        with_source: bool,
    ) -> Vec<(&'static str, String, BTreeMap<String, String>)> {
        let (remote, cephfs) = self.remote_pools();
        let mut pools = Vec::new();
        if self.has_local(member) {
            let mut cfg = BTreeMap::new();
            if let Some(local) = self.disks_of(member).and_then(|d| d.local.as_ref()) {
                cfg.insert("source".to_owned(), local.path.clone());
                if local.wipe {
                    cfg.insert("source.wipe".to_owned(), "true".to_owned());
                }
            }
            let driver = self.preseed.lxd.local_pool_driver;
            pools.push(("local", driver.name().to_owned(), cfg));
        }
        let source = |name: &str| {
            if with_source {
                config([("source", name)])
            } else {
                BTreeMap::new()
            }
        };
        if remote {
            pools.push(("remote", "ceph".into(), source("lxd_remote")));
        }
        if cephfs {
            pools.push(("remote-fs", "cephfs".into(), source("lxd_cephfs")));
        }
        pools
    }

    /// Every member's pending pools and network, after every join.
    fn pending_definitions(&self, steps: &mut Vec<Step>, n: &mut Notes) -> Pending<'static> {
        let init = self.init_name();
        let with_source = self.remote_pools_need_source(n);
        let pool_done = |pool: &str, member: &str| {
            self.cluster
                .lxd
                .pool(pool)
                .filter(|p| p.members.contains_key(member) || p.status == ResourceStatus::Created)
                .map(|_| format!("pool {pool} is already defined on {member}"))
        };
        let net_done = |net: &str, member: &str| {
            self.cluster
                .lxd
                .network(net)
                .filter(|p| p.members.contains_key(member) || p.status == ResourceStatus::Created)
                .map(|_| format!("network {net} is already defined on {member}"))
        };
        let mut pending: Pending<'static> = BTreeMap::new();
        let ready = vec![self.definitions_wait_for()];
        for m in self.members.iter().map(Member::name) {
            for (pool, driver, cfg) in self.pending_pools(m, with_source) {
                let sid = id_at(&["lxd.pool.", pool, ".pending"], m);
                steps.push(
                    new_step(
                        sid.clone(),
                        Phase::Resources,
                        Action::CreatePendingPool {
                            name: pool.into(),
                            driver,
                            config: cfg,
                        },
                    )
                    .on(Service::Lxd, init)
                    .target(m)
                    .after(ready.clone())
                    .done_if(pool_done(pool, m))
                    .build(),
                );
                pending.entry(pool).or_default().push(sid);
            }
            if let Some((net, kind, cfg)) = self.pending_network(m) {
                let sid = id_at(&["lxd.network.", net, ".pending"], m);
                steps.push(
                    new_step(
                        sid.clone(),
                        Phase::Resources,
                        Action::CreatePendingNetwork {
                            name: net.into(),
                            network_type: kind.into(),
                            config: cfg,
                        },
                    )
                    .on(Service::Lxd, init)
                    .target(m)
                    .after(ready.clone())
                    .done_if(net_done(net, m))
                    .build(),
                );
                pending.entry(net).or_default().push(sid);
            }
        }
        pending
    }

    /// The cluster-wide creation of `pool`, after its pending definitions
    /// (taken from `pending`: each pool is finalised once) and `extra`.
    fn pool_step(
        &self,
        pending: &mut Pending<'_>,
        pool: &str,
        (driver, description): (&str, &str),
        config: BTreeMap<String, String>,
        extra: Vec<StepId>,
    ) -> Step {
        let mut deps = pending.remove(pool).unwrap_or_default();
        deps.extend(extra);
        let done = self
            .cluster
            .lxd
            .pool(pool)
            .filter(|p| p.status == ResourceStatus::Created)
            .map(|_| format!("pool {pool} already exists"));
        new_step(
            id(format!("lxd.pool.{pool}")),
            Phase::Resources,
            Action::CreatePool {
                name: pool.into(),
                driver: driver.into(),
                description: description.into(),
                config,
            },
        )
        .on(Service::Lxd, self.init_name())
        .after(deps)
        .done_if(done)
        .build()
    }

    /// The pools `local`, `remote` and `remote-fs`; returns the default
    /// profile's root pool.
    fn pool_steps(
        &self,
        steps: &mut Vec<Step>,
        n: &mut Notes,
        pending: &mut Pending<'_>,
        local_members: &[String],
    ) -> Option<(String, StepId)> {
        let (remote, cephfs) = self.remote_pools();
        let mut root_pool = None;
        if !local_members.is_empty() {
            let driver = self.preseed.lxd.local_pool_driver;
            let mut step = self.pool_step(
                pending,
                "local",
                (driver.name(), driver.pool_description()),
                BTreeMap::new(),
                Vec::new(),
            );
            // The cluster-wide creation creates the pool on every member,
            // wiping the disks their pending definitions ask to wipe.
            step.wipes = local_members
                .iter()
                .filter_map(|m| {
                    let disk = self.disks_of(m)?.local.as_ref()?;
                    self.wiped(m, disk)
                })
                .collect();
            root_pool = Some(("local".into(), step.id.clone()));
            steps.push(step);
        }
        if !remote {
            return root_pool;
        }
        let mut cfg = config([
            ("ceph.osd.pool_name", "lxd_remote"),
            ("ceph.rbd.du", "false"),
        ]);
        if !self.lxd_ext("storage_ceph_use_rbd_defaults") {
            cfg.insert(
                "ceph.rbd.features".into(),
                "layering,striping,exclusive-lock,object-map,fast-diff,deep-flatten".into(),
            );
            n.decide(
                "LXD ceph.rbd.features",
                "layering,striping,exclusive-lock,object-map,fast-diff,deep-flatten",
                format!(
                    "LXD on {} lacks the API extension storage_ceph_use_rbd_defaults",
                    self.init_name()
                ),
            );
        }
        let step = self.pool_step(
            pending,
            "remote",
            ("ceph", "Distributed storage on Ceph"),
            cfg,
            vec![id("microceph.replication")],
        );
        let remote_id = step.id.clone();
        steps.push(step);
        if cephfs {
            let cfg = config([
                ("cephfs.create_missing", "true"),
                ("cephfs.data_pool", "lxd_cephfs_data"),
                ("cephfs.meta_pool", "lxd_cephfs_meta"),
                ("cephfs.path", "lxd_cephfs"),
            ]);
            steps.push(self.pool_step(
                pending,
                "remote-fs",
                ("cephfs", "Distributed file-system storage using CephFS"),
                cfg,
                vec![remote_id.clone()],
            ));
        }
        Some(("remote".into(), remote_id))
    }

    /// The cluster-wide creation of network `name`.
    fn network_step(
        &self,
        name: &str,
        (network_type, description): (&str, &str),
        config: BTreeMap<String, String>,
        deps: Vec<StepId>,
    ) -> Step {
        let done = self
            .cluster
            .lxd
            .network(name)
            .filter(|p| p.status == ResourceStatus::Created)
            .map(|_| format!("network {name} already exists"));
        new_step(
            id_at_root("lxd.network.", name),
            Phase::Resources,
            Action::CreateNetwork {
                name: name.into(),
                network_type: network_type.into(),
                description: description.into(),
                config,
            },
        )
        .on(Service::Lxd, self.init_name())
        .after(deps)
        .done_if(done)
        .build()
    }

    /// The networks (OVN `UPLINK` and `default`, or the Fan bridge);
    /// returns the default profile's `eth0` network.
    fn network_steps(
        &self,
        steps: &mut Vec<Step>,
        pending: &mut Pending<'_>,
        nb_step: Option<StepId>,
    ) -> Option<(String, StepId)> {
        let init = self.init_name();
        match self.networking {
            Networking::Ovn { .. } => {
                let ovn = &self.preseed.ovn;
                let mut cfg = BTreeMap::new();
                if let Some(v4) = &ovn.ipv4 {
                    cfg.insert("ipv4.gateway".to_owned(), v4.gateway.to_string());
                    cfg.insert("ipv4.ovn.ranges".to_owned(), v4.range.to_string());
                }
                if let Some(v6) = &ovn.ipv6_gateway {
                    cfg.insert("ipv6.gateway".to_owned(), v6.to_string());
                }
                if !ovn.dns_servers.is_empty() {
                    let list: Vec<String> =
                        ovn.dns_servers.iter().map(ToString::to_string).collect();
                    cfg.insert("dns.nameservers".to_owned(), list.join(","));
                }
                let uplink = self.network_step(
                    "UPLINK",
                    ("physical", "Uplink for OVN networks"),
                    cfg,
                    pending.remove("UPLINK").unwrap_or_default(),
                );
                let mut deps = vec![uplink.id.clone()];
                steps.push(uplink);
                deps.extend(nb_step);
                deps.push(id_at(&["microovn.bootstrap"], init));
                for j in self.joiners {
                    deps.push(id_at(&["microovn.join"], j.name()));
                }
                let default = self.network_step(
                    "default",
                    ("ovn", "Default OVN network"),
                    config([("network", "UPLINK")]),
                    deps,
                );
                let sid = default.id.clone();
                steps.push(default);
                Some(("default".into(), sid))
            }
            Networking::Fan { subnet } => {
                let subnet = subnet.to_string();
                let fan = self.network_step(
                    "lxdfan0",
                    ("bridge", "Default Ubuntu fan powered bridge"),
                    config([
                        ("bridge.mode", "fan"),
                        ("fan.underlay_subnet", subnet.as_str()),
                    ]),
                    pending.remove("lxdfan0").unwrap_or_default(),
                );
                let sid = fan.id.clone();
                steps.push(fan);
                Some(("lxdfan0".into(), sid))
            }
            Networking::None => None,
        }
    }
}

/// `<prefix><name>`, a cluster-wide step id.
fn id_at_root(prefix: &str, name: &str) -> StepId {
    id([prefix, name].concat())
}
