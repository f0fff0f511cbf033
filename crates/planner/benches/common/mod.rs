//! The generated input of the planner benchmarks: a preseed of N systems,
//! each with 24 disks in its inventory and four disk filters (one local,
//! three Ceph).

#![allow(clippy::unwrap_used, dead_code)]

use std::fmt::Write as _;

use planner::inventory::{
    Interface, InterfaceKind, InventoryDisk, LinkState, LxdService, MicroclusterService, Services,
};
use planner::{Inventory, SystemInventory};

/// The sizes measured (systems).
pub const SIZES: [usize; 3] = [3, 100, 1000];

const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

fn address(i: usize) -> String {
    format!("10.{}.{}.{}", 1 + i / 62500, (i / 250) % 250, 1 + i % 250)
}

/// The preseed of `n` systems.
pub fn preseed(n: usize) -> String {
    let mut y = String::new();
    let _ = writeln!(y, "initiator_address: {}", address(0));
    y.push_str("session_passphrase: correct horse battery staple\nsystems:\n");
    for i in 0..n {
        let _ = writeln!(
            y,
            "  - name: node{i:04}\n    address: {}\n    ovn_uplink_interface: enp6s0",
            address(i)
        );
    }
    y.push_str(
        "ovn:\n  ipv4_gateway: 192.0.2.1/24\n  ipv4_range: 192.0.2.100-192.0.2.254\n\
         storage:\n  local:\n    - find: type == nvme && size < 1TiB\n      wipe: true\n  ceph:\n\
         \x20   - find: type == nvme && size >= 1TiB\n      wipe: true\n\
         \x20   - find: type == ssd\n\
         \x20   - find: type == hdd && rpm >= 7200\n      encrypt: true\n",
    );
    y
}

/// The inventory of the `n` systems of [`preseed`].
pub fn inventory(n: usize) -> Inventory {
    let exts = [
        "explicit_trust_token",
        "storage_pool_source_wipe",
        "instances_migration_stateful",
        "storage_remote_drop_source",
        "storage_ceph_use_rbd_defaults",
        "ovn_dynamic_northbound_connection",
        "resources_disk_mounted",
    ];
    let systems = (0..n).map(|i| {
        let name = format!("node{i:04}");
        let disks = (0..24)
            .map(|d| {
                let (kind, size, rpm) = match d {
                    0..2 => ("nvme", 512 * GIB, 0),
                    2..10 => ("nvme", 2 * TIB, 0),
                    10..18 => ("ssd", 2 * TIB, 0),
                    _ => ("hdd", 8 * TIB, 7200),
                };
                InventoryDisk {
                    id: format!("disk{d}"),
                    kind: kind.into(),
                    size,
                    rpm,
                    device_id: format!("{kind}-{name}-{d}"),
                    ..InventoryDisk::default()
                }
            })
            .collect();
        let addr = address(i);
        SystemInventory {
            name: name.clone(),
            address: addr.parse().unwrap(),
            services: Services {
                lxd: Some(LxdService {
                    version: "6.9".into(),
                    api_extensions: exts.iter().map(|e| (*e).to_owned()).collect(),
                    ..LxdService::default()
                }),
                microceph: Some(MicroclusterService {
                    version: "19.2.1".into(),
                    cluster_members: Vec::new(),
                }),
                microovn: Some(MicroclusterService {
                    version: "24.03.2".into(),
                    cluster_members: Vec::new(),
                }),
            },
            disks,
            interfaces: vec![
                Interface {
                    name: "enp5s0".into(),
                    kind: InterfaceKind::Physical,
                    state: LinkState::Up,
                    addresses: vec![format!("{addr}/8").parse().unwrap()],
                    bridge: None,
                    managed: false,
                },
                Interface {
                    name: "enp6s0".into(),
                    kind: InterfaceKind::Physical,
                    state: LinkState::Up,
                    addresses: Vec::new(),
                    bridge: None,
                    managed: false,
                },
            ],
            default_route_interface: Some("enp5s0".into()),
        }
    });
    Inventory::new(systems, None).unwrap()
}
