//! One machine's [`SystemInventory`], from its own LXD, MicroCeph and
//! MicroOVN.
//!
//! Calls, in this order (all reads, none with `?target=` except the pool
//! views of a clustered LXD):
//!
//! 1. LXD `GET /1.0` (version, API extensions, configuration), `GET
//!    /1.0/cluster` and, when clustering is enabled, `GET
//!    /1.0/cluster/members?recursion=1`;
//! 2. LXD `GET /1.0/resources`: the disks, in LXD's order;
//! 3. LXD `GET /1.0/storage-pools?recursion=1` and, when clustered, `GET
//!    /1.0/storage-pools/<pool>?target=<this member>` for the member's
//!    `source` (the global view hides it): a disk named by a pool's `source`
//!    or `volatile.initial_source` gets that pool in `lxd_pool`;
//! 4. LXD `GET /1.0/networks?recursion=1` and `GET
//!    /1.0/networks/<name>/state` for each host interface;
//! 5. MicroCeph and MicroOVN, when installed: `GET /core/1.0` and, once
//!    the daemon is initialised (`ready`), `GET /core/1.0/cluster`;
//!    MicroCeph also `GET /1.0/disks`, whose OSDs on this member fill
//!    `ceph_osd` of the disks they name.
//!
//! Interfaces: every unmanaged interface LXD lists (any type, any state:
//! the planner decides what is usable and says why not), plus managed
//! bridges (real host interfaces such as `lxdbr0`). Other managed networks
//! (`ovn`, `physical` uplinks, `macvlan`, `sriov`) are logical and are left
//! out; a managed bridge whose state LXD answers 404 (pending, not created
//! on this member) is left out too. Only global-scope addresses are kept.
//! Bridge ports come from each bridge's `bridge.upper_devices`.
//!
//! Failure behaviour: the first failed call stops collection with a
//! [`CollectError`] naming the system, the service and the call; nothing is
//! guessed or defaulted from a failed call.

use std::collections::BTreeMap;
use std::net::IpAddr;

use clients::Service;
use clients::lxd::{LxdApi, Network, NetworkState, NetworkStateAddress, ResourcesStorageDisk};
use clients::microceph::MicroCephApi;
use clients::microcluster::{MicroclusterApi, ServerInfo};
use clients::microovn::MicroOvnApi;
use ipnet::IpNet;
use planner::inventory::{
    Interface, InterfaceKind, InventoryDisk, LinkState, LxdService, MicroclusterService, Services,
    SystemInventory,
};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{CollectError, Scope, call_failed, invalid};

/// Pool configuration keys that may name the pool's disk: `source`, and
/// `volatile.initial_source`, where LXD keeps the device path after
/// replacing `source` (ZFS replaces it with the zpool name).
pub const POOL_SOURCE_KEYS: [&str; 2] = ["source", "volatile.initial_source"];

/// Collects the inventory of the machine called `name`, whose cluster
/// address is `address`, from its own services. `microceph` and `microovn`
/// are `None` when the service is not installed there.
/// `default_route_interface` is the caller's reading of the machine's
/// routing table (`session::agent::default_route_interface_from_proc`).
pub async fn collect_system<L: LxdApi, C: MicroCephApi, O: MicroOvnApi>(
    name: &str,
    address: IpAddr,
    lxd: &L,
    microceph: Option<&C>,
    microovn: Option<&O>,
    default_route_interface: Option<String>,
) -> Result<SystemInventory, CollectError> {
    let scope = Scope::System(name.to_owned());
    let (lxd_service, lxd_member) = collect_lxd(&scope, lxd).await?;

    let call = "GET /1.0/resources";
    let resources =
        lxd.resources(None)
            .await
            .map_err(call_failed(&scope, Service::Lxd, call, "the disks"))?;
    let mut disks: Vec<InventoryDisk> = resources
        .storage
        .disks
        .iter()
        .map(disk_from_resources)
        .collect();
    mark_lxd_pools(&scope, lxd, lxd_member.as_deref(), &mut disks).await?;

    let interfaces = collect_interfaces(&scope, lxd).await?;

    let microceph_service = match microceph {
        Some(client) => {
            let (service, info) = collect_microcluster(&scope, Service::MicroCeph, client).await?;
            if info.ready {
                mark_osds(&scope, client, &info.name, &mut disks).await?;
            }
            Some(service)
        }
        None => None,
    };
    let microovn_service = match microovn {
        Some(client) => Some(
            collect_microcluster(&scope, Service::MicroOvn, client)
                .await?
                .0,
        ),
        None => None,
    };

    Ok(SystemInventory {
        name: name.to_owned(),
        address,
        services: Services {
            lxd: Some(lxd_service),
            microceph: microceph_service,
            microovn: microovn_service,
        },
        disks,
        interfaces,
        default_route_interface,
    })
}

/// LXD's version, extensions, configuration and cluster members, and this
/// machine's member name when LXD is clustered.
async fn collect_lxd<L: LxdApi>(
    scope: &Scope,
    lxd: &L,
) -> Result<(LxdService, Option<String>), CollectError> {
    let call = "GET /1.0";
    let server = lxd
        .server(None)
        .await
        .map_err(call_failed(
            scope,
            Service::Lxd,
            call,
            "the server configuration",
        ))?
        .value;
    if server.auth == "untrusted" {
        return Err(CollectError::Untrusted {
            scope: scope.clone(),
        });
    }
    if server.environment.server_version.is_empty() {
        return Err(invalid(
            scope,
            Service::Lxd,
            call,
            "it reports no version (environment.server_version is empty)",
        ));
    }
    let config = server
        .config
        .iter()
        .map(|(key, value)| (key.clone(), config_value(value)))
        .collect();

    let call = "GET /1.0/cluster";
    let cluster = lxd
        .cluster()
        .await
        .map_err(call_failed(scope, Service::Lxd, call, "the cluster state"))?
        .value;
    let (cluster_members, member) = if cluster.enabled {
        let call = "GET /1.0/cluster/members?recursion=1";
        let members = lxd.cluster_members().await.map_err(call_failed(
            scope,
            Service::Lxd,
            call,
            "the cluster members",
        ))?;
        (
            members.into_iter().map(|m| m.server_name).collect(),
            Some(cluster.server_name),
        )
    } else {
        (Vec::new(), None)
    };
    Ok((
        LxdService {
            version: server.environment.server_version,
            api_extensions: server.api_extensions,
            cluster_members,
            config,
        },
        member,
    ))
}

/// A server configuration value as text: strings as they are, anything
/// else (some LXD versions report write-only keys as `true`) as its JSON
/// text.
fn config_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One disk of `GET /1.0/resources` as the planner sees it: every field,
/// fields older LXD does not report (`mounted`, `device_fs_uuid`,
/// `used_by`) as false / empty, and the number of partitions. `ceph_osd`
/// and `lxd_pool` are left unset.
pub fn disk_from_resources(disk: &ResourcesStorageDisk) -> InventoryDisk {
    InventoryDisk {
        id: disk.id.clone(),
        device: disk.device.clone(),
        model: disk.model.clone(),
        kind: disk.kind.clone(),
        read_only: disk.read_only,
        mounted: disk.mounted.unwrap_or(false),
        size: disk.size,
        removable: disk.removable,
        wwn: disk.wwn.clone(),
        numa_node: disk.numa_node,
        device_path: disk.device_path.clone(),
        block_size: disk.block_size,
        firmware_version: disk.firmware_version.clone(),
        rpm: disk.rpm,
        serial: disk.serial.clone(),
        device_id: disk.device_id.clone(),
        pci_address: disk.pci_address.clone(),
        usb_address: disk.usb_address.clone(),
        device_fs_uuid: disk.device_fs_uuid.clone().unwrap_or_default(),
        used_by: disk.used_by.clone().unwrap_or_default(),
        partitions: u32::try_from(disk.partitions.len()).unwrap_or(u32::MAX),
        ceph_osd: None,
        lxd_pool: None,
    }
}

/// Sets `lxd_pool` on every disk an LXD pool's source names (the first
/// pool in LXD's order wins).
async fn mark_lxd_pools<L: LxdApi>(
    scope: &Scope,
    lxd: &L,
    member: Option<&str>,
    disks: &mut [InventoryDisk],
) -> Result<(), CollectError> {
    let call = "GET /1.0/storage-pools?recursion=1";
    let pools = lxd.storage_pools(None).await.map_err(call_failed(
        scope,
        Service::Lxd,
        call,
        "the storage pools",
    ))?;
    for pool in pools {
        let config = match member {
            None => pool.config,
            Some(member) => {
                if !pool.locations.is_empty() && !pool.locations.iter().any(|l| l == member) {
                    continue;
                }
                let call = format!("GET /1.0/storage-pools/{}?target={member}", pool.name);
                match lxd.storage_pool(&pool.name, Some(member)).await {
                    Ok(view) => view.config,
                    Err(e) if e.status() == Some(404) => continue,
                    Err(e) => {
                        return Err(call_failed(
                            scope,
                            Service::Lxd,
                            &call,
                            &format!("storage pool {}", pool.name),
                        )(e));
                    }
                }
            }
        };
        for key in POOL_SOURCE_KEYS {
            let Some(source) = config.get(key) else {
                continue;
            };
            for disk in disks.iter_mut() {
                if disk.lxd_pool.is_none() && disk.is_named(source) {
                    disk.lxd_pool = Some(pool.name.clone());
                }
            }
        }
    }
    Ok(())
}

/// `NetworkState.bridge`, the part used here.
#[derive(Debug, Default, Deserialize)]
struct BridgeState {
    #[serde(default)]
    upper_devices: Option<Vec<String>>,
}

/// Host interfaces with their state; see the module documentation for
/// which networks count.
async fn collect_interfaces<L: LxdApi>(
    scope: &Scope,
    lxd: &L,
) -> Result<Vec<Interface>, CollectError> {
    let call = "GET /1.0/networks?recursion=1";
    let networks = lxd.networks(None).await.map_err(call_failed(
        scope,
        Service::Lxd,
        call,
        "the network interfaces",
    ))?;
    let mut interfaces = Vec::new();
    let mut port_of: BTreeMap<String, String> = BTreeMap::new();
    for network in networks {
        if network.managed && network.kind != "bridge" {
            continue;
        }
        let call = format!("GET /1.0/networks/{}/state", network.name);
        let state = match lxd.network_state(&network.name, None).await {
            Ok(state) => state,
            Err(e) if network.managed && e.status() == Some(404) => continue,
            Err(e) => {
                return Err(call_failed(
                    scope,
                    Service::Lxd,
                    &call,
                    &format!("the state of interface {}", network.name),
                )(e));
            }
        };
        let ports =
            bridge_ports(&state).map_err(|detail| invalid(scope, Service::Lxd, &call, detail))?;
        for port in ports {
            port_of.entry(port).or_insert_with(|| network.name.clone());
        }
        let interface = interface(&network, &state)
            .map_err(|detail| invalid(scope, Service::Lxd, &call, detail))?;
        interfaces.push(interface);
    }
    for interface in &mut interfaces {
        interface.bridge = port_of.get(&interface.name).cloned();
    }
    Ok(interfaces)
}

/// The ports of a bridge (`bridge.upper_devices`); none for anything else.
fn bridge_ports(state: &NetworkState) -> Result<Vec<String>, String> {
    if state.bridge.is_null() {
        return Ok(Vec::new());
    }
    let bridge = BridgeState::deserialize(&state.bridge)
        .map_err(|e| format!("the bridge state is not an object with `upper_devices`: {e}"))?;
    Ok(bridge.upper_devices.unwrap_or_default())
}

/// One interface, without its bridge (filled in once every bridge is
/// known).
fn interface(network: &Network, state: &NetworkState) -> Result<Interface, String> {
    let kind = match network.kind.as_str() {
        "physical" => InterfaceKind::Physical,
        "bridge" => InterfaceKind::Bridge,
        "bond" => InterfaceKind::Bond,
        "vlan" => InterfaceKind::Vlan,
        "loopback" => InterfaceKind::Loopback,
        _ => InterfaceKind::Unknown,
    };
    let state_kind = if state.state == "up" {
        LinkState::Up
    } else {
        LinkState::Down
    };
    let addresses = state
        .addresses
        .iter()
        .filter(|a| a.scope == "global")
        .map(address)
        .collect::<Result<Vec<IpNet>, String>>()?;
    Ok(Interface {
        name: network.name.clone(),
        kind,
        state: state_kind,
        addresses,
        bridge: None,
        managed: network.managed,
    })
}

/// `address` + `netmask` (a prefix length) as `address/prefix`.
fn address(a: &NetworkStateAddress) -> Result<IpNet, String> {
    let unusable = || {
        format!(
            "address {:?} with netmask {:?} is not an IP address with a prefix length",
            a.address, a.netmask
        )
    };
    let ip: IpAddr = a.address.parse().map_err(|_| unusable())?;
    let prefix: u8 = a.netmask.parse().map_err(|_| unusable())?;
    IpNet::new(ip, prefix).map_err(|_| unusable())
}

/// A microcluster daemon's version and members (members only once it is
/// initialised: `GET /core/1.0/cluster` answers 503 before).
async fn collect_microcluster<M: MicroclusterApi>(
    scope: &Scope,
    service: Service,
    client: &M,
) -> Result<(MicroclusterService, ServerInfo), CollectError> {
    let info = client.server_info().await.map_err(call_failed(
        scope,
        service,
        "GET /core/1.0",
        "the daemon state",
    ))?;
    let cluster_members = if info.ready {
        client
            .cluster_members()
            .await
            .map_err(call_failed(
                scope,
                service,
                "GET /core/1.0/cluster",
                "the cluster members",
            ))?
            .into_iter()
            .map(|m| m.name)
            .collect()
    } else {
        Vec::new()
    };
    Ok((
        MicroclusterService {
            version: info.version.clone(),
            cluster_members,
        },
        info,
    ))
}

/// Sets `ceph_osd` on the disks that are OSDs of this MicroCeph member
/// (`location` equal to `member`, path naming the disk by any of its three
/// names). OSDs on other members are never matched, even when their
/// by-path name is the same.
async fn mark_osds<C: MicroCephApi>(
    scope: &Scope,
    client: &C,
    member: &str,
    disks: &mut [InventoryDisk],
) -> Result<(), CollectError> {
    let call = "GET /1.0/disks";
    let osds =
        client
            .disks()
            .await
            .map_err(call_failed(scope, Service::MicroCeph, call, "the OSDs"))?;
    for osd in osds.iter().filter(|o| o.location == member) {
        let number = u64::try_from(osd.osd).map_err(|_| {
            invalid(
                scope,
                Service::MicroCeph,
                call,
                format!("OSD {} at {:?} has a negative number", osd.osd, osd.path),
            )
        })?;
        for disk in disks.iter_mut() {
            if disk.is_named(&osd.path) {
                disk.ceph_osd = Some(number);
            }
        }
    }
    Ok(())
}
