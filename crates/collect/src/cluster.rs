//! What an existing cluster holds ([`ClusterState`]), for add mode and
//! re-runs, read through any one member's LXD and MicroCeph.
//!
//! LXD calls:
//!
//! * `GET /1.0/storage-pools?recursion=1` (global view: driver, status,
//!   global configuration), then for each member the pool is defined on
//!   (its `locations`; every given member when LXD lists none) `GET
//!   /1.0/storage-pools/<pool>?target=<member>`. A member's
//!   member-specific configuration is what its view adds to, or changes
//!   in, the global configuration. A 404 for a member means the pool is not
//!   defined there, and the member is not listed.
//! * `GET /1.0/networks?recursion=1`, managed networks only, and `GET
//!   /1.0/networks/<name>?target=<member>` likewise.
//! * `GET /1.0/profiles?recursion=1`.
//! * Custom volumes of every `Created` pool: for remote pools (`ceph`,
//!   `cephfs`, `cephobject`) once, `GET
//!   /1.0/storage-pools/<pool>/volumes/custom?recursion=1`, the member
//!   being the volume's `location`; for local pools once per member the
//!   pool is defined on, with `&target=<member>`, the member being the
//!   volume's `location` or, when LXD leaves it empty, the target. With no
//!   members given, one untargeted call per pool.
//!
//! MicroCeph, when given and initialised (`ready` in `GET /core/1.0`;
//! otherwise the state has no MicroCeph part): `GET /1.0/configs` with an
//! empty key (`public_network`, `cluster_network`: it lists only keys of
//! MicroCeph's config table, so never `osd_pool_default_size`; reef's table
//! has no `public_network`), `GET /1.0/disks` (OSDs, in MicroCeph's order)
//! and `GET /1.0/pools` (404 on reef, which has no such endpoint: no
//! pools).
//!
//! Everything is listed in the order the services list it, except volumes,
//! which are sorted by pool, name and member and listed once. Failure
//! behaviour: the first failed call stops collection with a
//! [`CollectError`] whose scope is [`Scope::Cluster`].

use std::collections::{BTreeMap, BTreeSet};

use clients::Service;
use clients::lxd::LxdApi;
use clients::microceph::{ConfigEntry, MicroCephApi};
use ipnet::IpNet;
use planner::inventory::{
    CephPool, ClusterState, ExistingNetwork, ExistingPool, ExistingProfile, ExistingVolume,
    LxdClusterState, MicroCephClusterState, Osd, ResourceStatus,
};

use crate::error::{CollectError, Scope, call_failed, invalid};

/// Storage drivers whose volumes are shared by the whole cluster.
pub const REMOTE_DRIVERS: [&str; 3] = ["ceph", "cephfs", "cephobject"];

/// Collects the existing cluster's state through one member's `lxd` and,
/// when MicroCeph is installed, `microceph`. `members` are the LXD cluster
/// members' names (for the per-member views).
pub async fn collect_cluster<L: LxdApi, C: MicroCephApi>(
    lxd: &L,
    microceph: Option<&C>,
    members: &[String],
) -> Result<ClusterState, CollectError> {
    let scope = Scope::Cluster;
    let (storage_pools, pool_members) = collect_pools(&scope, lxd, members).await?;
    let networks = collect_networks(&scope, lxd, members).await?;

    let call = "GET /1.0/profiles?recursion=1";
    let profiles = lxd
        .profiles()
        .await
        .map_err(call_failed(&scope, Service::Lxd, call, "the profiles"))?
        .into_iter()
        .map(|p| ExistingProfile {
            name: p.name,
            devices: p.devices,
        })
        .collect();

    let volumes = collect_volumes(&scope, lxd, &storage_pools, &pool_members, members).await?;

    let microceph = match microceph {
        Some(client) => collect_microceph(&scope, client).await?,
        None => None,
    };
    Ok(ClusterState {
        lxd: LxdClusterState {
            storage_pools,
            networks,
            profiles,
            volumes,
        },
        microceph,
    })
}

/// The keys of `view` that are not in `global` with the same value.
fn member_specific(
    view: BTreeMap<String, String>,
    global: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    view.into_iter()
        .filter(|(k, v)| global.get(k) != Some(v))
        .collect()
}

/// Whether to ask for `member`'s view of an object LXD says exists on
/// `locations` (an empty list says nothing).
fn may_be_on(locations: &[String], member: &str) -> bool {
    locations.is_empty() || locations.iter().any(|l| l == member)
}

/// Pools, and for each pool the members it is defined on.
async fn collect_pools<L: LxdApi>(
    scope: &Scope,
    lxd: &L,
    members: &[String],
) -> Result<(Vec<ExistingPool>, BTreeMap<String, Vec<String>>), CollectError> {
    let call = "GET /1.0/storage-pools?recursion=1";
    let pools = lxd.storage_pools(None).await.map_err(call_failed(
        scope,
        Service::Lxd,
        call,
        "the storage pools",
    ))?;
    let mut out = Vec::with_capacity(pools.len());
    let mut defined_on = BTreeMap::new();
    for pool in pools {
        let mut per_member = BTreeMap::new();
        for member in members.iter().filter(|m| may_be_on(&pool.locations, m)) {
            let call = format!("GET /1.0/storage-pools/{}?target={member}", pool.name);
            match lxd.storage_pool(&pool.name, Some(member)).await {
                Ok(view) => {
                    per_member.insert(member.clone(), member_specific(view.config, &pool.config));
                }
                Err(e) if e.status() == Some(404) => {}
                Err(e) => {
                    return Err(call_failed(
                        scope,
                        Service::Lxd,
                        &call,
                        &format!("storage pool {} on member {member}", pool.name),
                    )(e));
                }
            }
        }
        defined_on.insert(pool.name.clone(), per_member.keys().cloned().collect());
        out.push(ExistingPool {
            name: pool.name,
            driver: pool.driver,
            status: resource_status(pool.status),
            config: pool.config,
            members: per_member,
        });
    }
    Ok((out, defined_on))
}

/// Managed networks with their per-member configuration.
async fn collect_networks<L: LxdApi>(
    scope: &Scope,
    lxd: &L,
    members: &[String],
) -> Result<Vec<ExistingNetwork>, CollectError> {
    let call = "GET /1.0/networks?recursion=1";
    let networks =
        lxd.networks(None)
            .await
            .map_err(call_failed(scope, Service::Lxd, call, "the networks"))?;
    let mut out = Vec::new();
    for network in networks.into_iter().filter(|n| n.managed) {
        let locations = network.locations.clone().unwrap_or_default();
        let mut per_member = BTreeMap::new();
        for member in members.iter().filter(|m| may_be_on(&locations, m)) {
            let call = format!("GET /1.0/networks/{}?target={member}", network.name);
            match lxd.network(&network.name, Some(member)).await {
                Ok(view) => {
                    per_member.insert(
                        member.clone(),
                        member_specific(view.config, &network.config),
                    );
                }
                Err(e) if e.status() == Some(404) => {}
                Err(e) => {
                    return Err(call_failed(
                        scope,
                        Service::Lxd,
                        &call,
                        &format!("network {} on member {member}", network.name),
                    )(e));
                }
            }
        }
        out.push(ExistingNetwork {
            name: network.name,
            kind: network.kind,
            status: resource_status(network.status),
            config: network.config,
            members: per_member,
        });
    }
    Ok(out)
}

/// Custom volumes of the created pools; see the module documentation.
async fn collect_volumes<L: LxdApi>(
    scope: &Scope,
    lxd: &L,
    pools: &[ExistingPool],
    defined_on: &BTreeMap<String, Vec<String>>,
    members: &[String],
) -> Result<Vec<ExistingVolume>, CollectError> {
    let mut found: BTreeSet<(String, String, String)> = BTreeSet::new();
    for pool in pools.iter().filter(|p| p.status == ResourceStatus::Created) {
        let targets: Vec<Option<&str>> =
            if members.is_empty() || REMOTE_DRIVERS.contains(&pool.driver.as_str()) {
                vec![None]
            } else {
                defined_on
                    .get(&pool.name)
                    .map(|ms| ms.iter().map(|m| Some(m.as_str())).collect())
                    .unwrap_or_default()
            };
        for target in targets {
            let call = match target {
                Some(m) => format!(
                    "GET /1.0/storage-pools/{}/volumes/custom?recursion=1&target={m}",
                    pool.name
                ),
                None => format!(
                    "GET /1.0/storage-pools/{}/volumes/custom?recursion=1",
                    pool.name
                ),
            };
            let volumes = lxd
                .custom_volumes(&pool.name, target)
                .await
                .map_err(call_failed(
                    scope,
                    Service::Lxd,
                    &call,
                    &format!("the custom volumes of storage pool {}", pool.name),
                ))?;
            for volume in volumes {
                let member = if volume.location.is_empty() {
                    target.unwrap_or_default().to_owned()
                } else {
                    volume.location
                };
                found.insert((pool.name.clone(), volume.name, member));
            }
        }
    }
    Ok(found
        .into_iter()
        .map(|(pool, name, member)| ExistingVolume { pool, name, member })
        .collect())
}

/// MicroCeph's networks, OSDs and pools, when it is initialised.
async fn collect_microceph<C: MicroCephApi>(
    scope: &Scope,
    client: &C,
) -> Result<Option<MicroCephClusterState>, CollectError> {
    let info = client.server_info().await.map_err(call_failed(
        scope,
        Service::MicroCeph,
        "GET /core/1.0",
        "the daemon state",
    ))?;
    if !info.ready {
        return Ok(None);
    }

    let call = "GET /1.0/configs";
    let configs = client.configs(None).await.map_err(call_failed(
        scope,
        Service::MicroCeph,
        call,
        "the Ceph configuration",
    ))?;
    let public_network = network_config(scope, &configs, "public_network")?;
    let cluster_network = network_config(scope, &configs, "cluster_network")?;

    let call = "GET /1.0/disks";
    let osds = client
        .disks()
        .await
        .map_err(call_failed(scope, Service::MicroCeph, call, "the OSDs"))?
        .into_iter()
        .map(|d| {
            let osd = u64::try_from(d.osd).map_err(|_| {
                invalid(
                    scope,
                    Service::MicroCeph,
                    call,
                    format!("OSD {} at {:?} has a negative number", d.osd, d.path),
                )
            })?;
            Ok(Osd {
                osd,
                path: d.path,
                location: d.location,
            })
        })
        .collect::<Result<Vec<_>, CollectError>>()?;

    let call = "GET /1.0/pools";
    // Served from v19.2.0+squid on (microceph/api/pool.go); reef answers
    // 404: its pools are unknown, which only leaves replication to do.
    let pools = match client.pools(None).await {
        Err(e) if e.status() == Some(404) => Vec::new(),
        other => other.map_err(call_failed(
            scope,
            Service::MicroCeph,
            call,
            "the OSD pools",
        ))?,
    };
    let pools = pools
        .into_iter()
        .map(|p| {
            let size = u32::try_from(p.size).map_err(|_| {
                invalid(
                    scope,
                    Service::MicroCeph,
                    call,
                    format!("pool {} has replication size {}", p.pool, p.size),
                )
            })?;
            Ok(CephPool { name: p.pool, size })
        })
        .collect::<Result<Vec<_>, CollectError>>()?;

    Ok(Some(MicroCephClusterState {
        public_network,
        cluster_network,
        osds,
        pools,
    }))
}

/// A non-empty configuration value.
fn config<'a>(configs: &'a [ConfigEntry], key: &str) -> Option<&'a str> {
    configs
        .iter()
        .find(|c| c.key == key)
        .map(|c| c.value.trim())
        .filter(|v| !v.is_empty())
}

/// A network configuration key as one CIDR network.
fn network_config(
    scope: &Scope,
    configs: &[ConfigEntry],
    key: &str,
) -> Result<Option<IpNet>, CollectError> {
    let Some(value) = config(configs, key) else {
        return Ok(None);
    };
    value.parse::<IpNet>().map(Some).map_err(|_| {
        invalid(
            scope,
            Service::MicroCeph,
            "GET /1.0/configs",
            format!("{key} {value:?} is not one network in CIDR form (a.b.c.d/n)"),
        )
    })
}

/// The planner's view of an LXD pool's or network's status (the clients'
/// wire type and the planner's pure one are the same five values and the
/// text of any other).
fn resource_status(status: clients::lxd::ObjectStatus) -> ResourceStatus {
    use clients::lxd::ObjectStatus as Wire;
    match status {
        Wire::Pending => ResourceStatus::Pending,
        Wire::Created => ResourceStatus::Created,
        Wire::Errored => ResourceStatus::Errored,
        Wire::Unknown => ResourceStatus::Unknown,
        Wire::Unavailable => ResourceStatus::Unavailable,
        Wire::Other(text) => ResourceStatus::Other(text),
    }
}
