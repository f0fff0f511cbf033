//! `collect_system` against in-memory fakes: disk mapping, LXD pools on
//! disks, interfaces, microcluster membership, OSD matching, errors.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod fakes;

use std::collections::BTreeMap;
use std::net::IpAddr;

use clients::Service;
use collect::{CollectError, collect_system, disk_from_resources};
use fakes::{FakeLxd, FakeMicro};
use planner::inventory::{
    Interface, InterfaceKind, InventoryDisk, LinkState, LxdService, MicroclusterService,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn wire<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn addr() -> IpAddr {
    "10.0.0.1".parse().unwrap()
}

/// A standalone LXD 5.21 with no disks, pools or networks.
fn lxd() -> FakeLxd {
    let mut lxd = FakeLxd::new("node1");
    lxd.server = wire(json!({
        "config": {"core.https_address": "[::]:8443", "core.trust_password": true},
        "api_extensions": ["storage", "explicit_trust_token"],
        "auth": "trusted",
        "environment": {"server_version": "5.21.3", "server_name": "node1"}
    }));
    lxd.cluster = wire(json!({"server_name": "", "enabled": false, "member_config": null}));
    lxd
}

fn micro(service: Service, version: &str, ready: bool) -> FakeMicro {
    let mut m = FakeMicro::new(service, "node1");
    m.info = wire(
        json!({"name": "node1", "address": "10.0.0.1:7443", "version": version, "ready": ready}),
    );
    m
}

fn members(names: &[&str]) -> Vec<clients::microcluster::ClusterMember> {
    names
        .iter()
        .map(|n| wire(json!({"name": n, "address": "10.0.0.9:7443", "status": "ONLINE"})))
        .collect()
}

const NONE: Option<&FakeMicro> = None;

/// A current-LXD disk with every field set to a distinct value.
fn full_disk_json() -> Value {
    json!({
        "id": "nvme0n1",
        "device": "259:0",
        "model": "Samsung SSD 980 PRO 1TB",
        "type": "nvme",
        "read_only": true,
        "mounted": true,
        "size": 1_000_204_886_016_u64,
        "removable": true,
        "wwn": "eui.002538b111b2c3d4",
        "numa_node": 1,
        "device_path": "pci-0000:05:00.0-nvme-1",
        "block_size": 512,
        "firmware_version": "5B2QGXA7",
        "rpm": 7200,
        "serial": "S5GXNF0R123456",
        "device_id": "nvme-eui.002538b111b2c3d4",
        "partitions": [
            {"id": "nvme0n1p1", "device": "259:1", "read_only": false, "size": 1024, "partition": 1},
            {"id": "nvme0n1p2", "device": "259:2", "read_only": false, "size": 1024, "partition": 2},
            {"id": "nvme0n1p3", "device": "259:3", "read_only": false, "size": 1024, "partition": 3}
        ],
        "pci_address": "0000:05:00.0",
        "usb_address": "1:2",
        "device_fs_uuid": "9f8e7d6c-0000-4000-8000-000000000002",
        "used_by": "bcache"
    })
}

#[test]
fn every_disk_field_is_mapped_and_partitions_are_counted() {
    let disk = disk_from_resources(&wire(full_disk_json()));
    assert_eq!(
        disk,
        InventoryDisk {
            id: "nvme0n1".into(),
            device: "259:0".into(),
            model: "Samsung SSD 980 PRO 1TB".into(),
            kind: "nvme".into(),
            read_only: true,
            mounted: true,
            size: 1_000_204_886_016,
            removable: true,
            wwn: "eui.002538b111b2c3d4".into(),
            numa_node: 1,
            device_path: "pci-0000:05:00.0-nvme-1".into(),
            block_size: 512,
            firmware_version: "5B2QGXA7".into(),
            rpm: 7200,
            serial: "S5GXNF0R123456".into(),
            device_id: "nvme-eui.002538b111b2c3d4".into(),
            pci_address: "0000:05:00.0".into(),
            usb_address: "1:2".into(),
            device_fs_uuid: "9f8e7d6c-0000-4000-8000-000000000002".into(),
            used_by: "bcache".into(),
            partitions: 3,
            ceph_osd: None,
            lxd_pool: None,
        }
    );
    // Every one of the 20 filterable fields made it into the filter view.
    let view = disk.filter_view();
    assert_eq!(view.r#type, "nvme");
    assert_eq!(view.used_by, "bcache");
    assert_eq!(view.device_fs_uuid, "9f8e7d6c-0000-4000-8000-000000000002");

    // LXD 5.0.2 reports neither `mounted`, `device_fs_uuid` nor `used_by`,
    // and `partitions: []`.
    let old = disk_from_resources(&wire(json!({
        "id": "vda", "device": "254:0", "type": "virtio", "read_only": false,
        "size": 274_877_906_944_u64, "removable": false, "numa_node": 0,
        "block_size": 0, "rpm": 1, "device_id": "", "partitions": [],
        "pci_address": "0000:00:02.0"
    })));
    assert!(!old.mounted);
    assert_eq!(old.device_fs_uuid, "");
    assert_eq!(old.used_by, "");
    assert_eq!(old.partitions, 0);
    assert_eq!(old.path(), "/dev/vda");
}

#[tokio::test]
async fn disks_keep_lxd_order_and_a_standalone_lxd_is_read_whole() {
    let mut lxd = lxd();
    lxd.resources = wire(json!({"storage": {"disks": [
        full_disk_json(),
        {"id": "sdb", "device": "8:16", "type": "scsi", "size": 100, "device_id": "", "partitions": null},
        {"id": "sda", "device": "8:0", "type": "scsi", "size": 200, "device_id": "wwn-0x5000", "partitions": []}
    ], "total": 3}}));
    let system = collect_system("node1", addr(), &lxd, NONE, NONE, Some("eth0".into()))
        .await
        .unwrap();
    let ids: Vec<(&str, u32)> = system
        .disks
        .iter()
        .map(|d| (d.id.as_str(), d.partitions))
        .collect();
    assert_eq!(ids, vec![("nvme0n1", 3), ("sdb", 0), ("sda", 0)]);
    assert_eq!(
        system.services.lxd,
        Some(LxdService {
            version: "5.21.3".into(),
            api_extensions: vec!["storage".into(), "explicit_trust_token".into()],
            cluster_members: vec![],
            config: BTreeMap::from([
                ("core.https_address".into(), "[::]:8443".into()),
                ("core.trust_password".into(), "true".into()),
            ]),
        })
    );
    assert_eq!(system.name, "node1");
    assert_eq!(system.address, addr());
    assert_eq!(system.default_route_interface.as_deref(), Some("eth0"));
    assert_eq!(
        lxd.calls(),
        vec![
            "GET /1.0",
            "GET /1.0/cluster",
            "GET /1.0/resources",
            "GET /1.0/storage-pools?recursion=1",
            "GET /1.0/networks?recursion=1",
        ]
    );
}

#[tokio::test]
async fn a_system_without_microceph_or_microovn() {
    let lxd = lxd();
    let system = collect_system("node1", addr(), &lxd, NONE, NONE, None)
        .await
        .unwrap();
    assert_eq!(system.services.microceph, None);
    assert_eq!(system.services.microovn, None);
    assert!(system.services.lxd.is_some());
    assert_eq!(system.default_route_interface, None);
    assert!(!lxd.calls().iter().any(|c| c.starts_with("MUTATE")));
}

fn network(name: &str, kind: &str, managed: bool) -> Value {
    json!({"name": name, "type": kind, "managed": managed, "status": if managed {"Created"} else {""},
           "config": {}, "used_by": null, "locations": null})
}

fn state(state: &str, addresses: Value, bridge: Value) -> clients::lxd::NetworkState {
    wire(
        json!({"addresses": addresses, "counters": {}, "hwaddr": "02:00:00:00:00:01",
                "mtu": 1500, "state": state, "type": "broadcast",
                "bond": null, "bridge": bridge, "vlan": null, "ovn": null}),
    )
}

fn a(family: &str, address: &str, netmask: &str, scope: &str) -> Value {
    json!({"family": family, "address": address, "netmask": netmask, "scope": scope})
}

#[tokio::test]
async fn interfaces_get_their_kind_state_global_addresses_and_bridge() {
    let mut lxd = lxd();
    lxd.networks = wire(json!([
        network("lo", "loopback", false),
        network("eth0", "physical", false),
        network("enp6s0", "physical", false),
        network("br0", "bridge", false),
        network("bond0", "bond", false),
        network("eth0.100", "vlan", false),
        network("tap0", "unknown", false),
        network("lxdbr0", "bridge", true),
        network("lxdfan0", "bridge", true),
        network("UPLINK", "physical", true),
        network("default", "ovn", true),
    ]));
    lxd.states = BTreeMap::from([
        (
            "lo".into(),
            state(
                "up",
                json!([
                    a("inet", "127.0.0.1", "8", "local"),
                    a("inet6", "::1", "128", "local")
                ]),
                Value::Null,
            ),
        ),
        (
            "eth0".into(),
            state(
                "up",
                json!([
                    a("inet", "10.0.0.1", "24", "global"),
                    a("inet6", "fe80::1", "64", "link")
                ]),
                Value::Null,
            ),
        ),
        ("enp6s0".into(), state("up", json!([]), Value::Null)),
        (
            "br0".into(),
            state(
                "up",
                json!([
                    a("inet", "192.0.2.10", "24", "global"),
                    a("inet6", "2001:db8::10", "64", "global")
                ]),
                json!({"id": "8000.020000000001", "stp": false, "forward_delay": 1500, "vlan_default": 1,
                   "vlan_filtering": false, "upper_devices": ["enp6s0", "veth0"]}),
            ),
        ),
        ("bond0".into(), state("down", json!(null), Value::Null)),
        ("eth0.100".into(), state("up", json!([]), Value::Null)),
        ("tap0".into(), state("up", json!([]), Value::Null)),
        (
            "lxdbr0".into(),
            state(
                "up",
                json!([a("inet", "10.123.0.1", "24", "global")]),
                json!({"id": "8000.1", "stp": false, "forward_delay": 0, "vlan_default": 1,
                   "vlan_filtering": false, "upper_devices": null}),
            ),
        ),
        // lxdfan0 is pending here: no state (404).
    ]);
    let system = collect_system("node1", addr(), &lxd, NONE, NONE, None)
        .await
        .unwrap();
    let iface =
        |name: &str, kind, state, addrs: &[&str], bridge: Option<&str>, managed| Interface {
            name: name.into(),
            kind,
            state,
            addresses: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            bridge: bridge.map(Into::into),
            managed,
        };
    use InterfaceKind::*;
    use LinkState::*;
    assert_eq!(
        system.interfaces,
        vec![
            iface("lo", Loopback, Up, &[], None, false),
            iface("eth0", Physical, Up, &["10.0.0.1/24"], None, false),
            iface("enp6s0", Physical, Up, &[], Some("br0"), false),
            iface(
                "br0",
                Bridge,
                Up,
                &["192.0.2.10/24", "2001:db8::10/64"],
                None,
                false
            ),
            iface("bond0", Bond, Down, &[], None, false),
            iface("eth0.100", Vlan, Up, &[], None, false),
            iface("tap0", Unknown, Up, &[], None, false),
            iface("lxdbr0", Bridge, Up, &["10.123.0.1/24"], None, true),
        ]
    );
    assert_eq!(
        system.interface("enp6s0").unwrap().uplink_unfit(),
        Some("it is a port of bridge br0".into())
    );
    // Logical managed networks are not asked for a state.
    let calls = lxd.calls();
    assert!(calls.contains(&"GET /1.0/networks/lxdfan0/state".to_owned()));
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("UPLINK") || c.contains("networks/default"))
    );
}

#[tokio::test]
async fn an_unusable_address_or_a_missing_unmanaged_state_stops_collection() {
    let mut lxd = lxd();
    lxd.networks = wire(json!([network("eth0", "physical", false)]));
    lxd.states = BTreeMap::from([(
        "eth0".into(),
        state(
            "up",
            json!([a("inet", "10.0.0.300", "24", "global")]),
            Value::Null,
        ),
    )]);
    let err = collect_system("node1", addr(), &lxd, NONE, NONE, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "LXD on system node1 gave an unusable answer to GET /1.0/networks/eth0/state: address \"10.0.0.300\" with netmask \"24\" is not an IP address with a prefix length; check LXD's state there before planning"
    );
    assert!(!err.is_transient());

    lxd.states.clear();
    let err = collect_system("node1", addr(), &lxd, NONE, NONE, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read the state of interface eth0 of system node1 from LXD (GET /1.0/networks/eth0/state); check that LXD is running on system node1 and trusts this machine, then collect again"
    );
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(
        source,
        "LXD on node node1, GET /1.0/networks/eth0/state: the service answered 404: not found"
    );
}

#[tokio::test]
async fn standalone_pools_name_their_disks_by_source_or_initial_source() {
    let mut lxd = lxd();
    lxd.resources = wire(json!({"storage": {"disks": [
        {"id": "nvme0n1", "device": "259:0", "device_id": "nvme-A", "partitions": []},
        {"id": "sdb", "device": "8:16", "device_id": "", "device_path": "pci-0000:00:1f.2-ata-2", "partitions": []},
        {"id": "sdc", "device": "8:32", "device_id": "", "partitions": [{"id": "sdc1", "device": "8:33"}]},
        {"id": "sdd", "device": "8:48", "device_id": "", "partitions": []}
    ]}}));
    lxd.pools = wire(json!([
        {"name": "local", "driver": "zfs", "status": "Created", "locations": ["none"],
         "config": {"source": "local", "volatile.initial_source": "/dev/disk/by-id/nvme-A", "zfs.pool_name": "local"}},
        {"name": "fast", "driver": "btrfs", "status": "Created", "locations": ["none"],
         "config": {"source": "/dev/disk/by-path/pci-0000:00:1f.2-ata-2"}},
        {"name": "part", "driver": "btrfs", "status": "Created", "locations": ["none"],
         "config": {"source": "/dev/sdc1"}},
        {"name": "dir", "driver": "dir", "status": "Created", "locations": ["none"],
         "config": {"source": "/var/lib/lxd/storage-pools/dir"}}
    ]));
    let system = collect_system("node1", addr(), &lxd, NONE, NONE, None)
        .await
        .unwrap();
    let pools: Vec<(&str, Option<&str>)> = system
        .disks
        .iter()
        .map(|d| (d.id.as_str(), d.lxd_pool.as_deref()))
        .collect();
    assert_eq!(
        pools,
        vec![
            ("nvme0n1", Some("local")),
            ("sdb", Some("fast")),
            ("sdc", None),
            ("sdd", None)
        ]
    );
    // Standalone: the list shows every key, no per-pool call.
    assert!(!lxd.calls().iter().any(|c| c.contains("storage-pools/")));
}

/// A clustered LXD member `node1` of node1..node3.
fn clustered_lxd() -> FakeLxd {
    let mut lxd = lxd();
    lxd.cluster = wire(json!({"server_name": "node1", "enabled": true, "member_config": []}));
    lxd.members = ["node1", "node2", "node3"]
        .iter()
        .map(|n| {
            wire(json!({"server_name": n, "url": "https://10.0.0.1:8443", "status": "Online"}))
        })
        .collect();
    lxd
}

#[tokio::test]
async fn already_clustered_services_report_their_members_and_member_pool_sources() {
    let mut lxd = clustered_lxd();
    lxd.resources = wire(json!({"storage": {"disks": [
        {"id": "nvme0n1", "device": "259:0", "device_id": "nvme-A", "partitions": []},
        {"id": "nvme1n1", "device": "259:1", "device_id": "nvme-B", "partitions": []}
    ]}}));
    // The global view hides `source`; node1's view shows it.
    lxd.pools = wire(json!([
        {"name": "local", "driver": "zfs", "status": "Created",
         "locations": ["node1", "node2", "node3"], "config": {}},
        {"name": "elsewhere", "driver": "zfs", "status": "Pending",
         "locations": ["node2"], "config": {}},
        {"name": "remote", "driver": "ceph", "status": "Created",
         "locations": ["node1", "node2", "node3"], "config": {"ceph.osd.pool_name": "lxd_remote"}}
    ]));
    lxd.pool_views.insert(
        ("local".into(), "node1".into()),
        wire(json!({"name": "local", "driver": "zfs", "status": "Created",
                    "config": {"source": "local", "volatile.initial_source": "/dev/disk/by-id/nvme-B"}})),
    );
    lxd.pool_views.insert(
        ("remote".into(), "node1".into()),
        wire(
            json!({"name": "remote", "driver": "ceph", "status": "Created",
                    "config": {"ceph.osd.pool_name": "lxd_remote"}}),
        ),
    );
    let mut ceph = micro(Service::MicroCeph, "19.2.0", true);
    ceph.members = members(&["node1", "node2", "node3"]);
    let mut ovn = micro(Service::MicroOvn, "24.03", true);
    ovn.members = members(&["node1", "node2"]);

    let system = collect_system("node1", addr(), &lxd, Some(&ceph), Some(&ovn), None)
        .await
        .unwrap();
    let lxd_service = system.services.lxd.as_ref().unwrap();
    assert_eq!(lxd_service.cluster_members, vec!["node1", "node2", "node3"]);
    assert_eq!(
        system.services.microceph,
        Some(MicroclusterService {
            version: "19.2.0".into(),
            cluster_members: vec!["node1".into(), "node2".into(), "node3".into()],
        })
    );
    assert_eq!(
        system.services.microovn,
        Some(MicroclusterService {
            version: "24.03".into(),
            cluster_members: vec!["node1".into(), "node2".into()],
        })
    );
    assert_eq!(system.disks[0].lxd_pool, None);
    assert_eq!(system.disks[1].lxd_pool.as_deref(), Some("local"));
    assert_eq!(
        lxd.calls(),
        vec![
            "GET /1.0",
            "GET /1.0/cluster",
            "GET /1.0/cluster/members?recursion=1",
            "GET /1.0/resources",
            "GET /1.0/storage-pools?recursion=1",
            "GET /1.0/storage-pools/local?target=node1",
            "GET /1.0/storage-pools/remote?target=node1",
            "GET /1.0/networks?recursion=1",
        ],
        "a pool not on this member is not asked for"
    );
    assert_eq!(
        ceph.calls(),
        vec!["GET /core/1.0", "GET /core/1.0/cluster", "GET /1.0/disks"]
    );
    assert_eq!(ovn.calls(), vec!["GET /core/1.0", "GET /core/1.0/cluster"]);
}

#[tokio::test]
async fn uninitialised_daemons_report_a_version_and_no_members() {
    let lxd = lxd();
    let ceph = micro(Service::MicroCeph, "19.2.0", false);
    let ovn = micro(Service::MicroOvn, "24.03", false);
    let system = collect_system("node1", addr(), &lxd, Some(&ceph), Some(&ovn), None)
        .await
        .unwrap();
    assert_eq!(
        system.services.microceph,
        Some(MicroclusterService {
            version: "19.2.0".into(),
            cluster_members: vec![],
        })
    );
    assert_eq!(system.services.microovn.unwrap().cluster_members.len(), 0);
    assert_eq!(ceph.calls(), vec!["GET /core/1.0"], "no members, no disks");
    assert_eq!(ovn.calls(), vec!["GET /core/1.0"]);
}

#[tokio::test]
async fn osds_match_disks_by_any_of_their_three_names_on_this_member_only() {
    let mut lxd = lxd();
    lxd.resources = wire(json!({"storage": {"disks": [
        {"id": "nvme0n1", "device": "259:0", "device_id": "nvme-A", "device_path": "pci-0000:05:00.0-nvme-1", "partitions": []},
        {"id": "sdb", "device": "8:16", "device_id": "", "device_path": "pci-0000:00:1f.2-ata-2", "partitions": []},
        {"id": "sdc", "device": "8:32", "device_id": "", "partitions": []},
        {"id": "sdd", "device": "8:48", "device_id": "", "device_path": "pci-0000:00:1f.2-ata-4", "partitions": []},
        {"id": "sde", "device": "8:64", "device_id": "", "partitions": []}
    ]}}));
    let mut ceph = micro(Service::MicroCeph, "19.2.0", true);
    ceph.members = members(&["node1", "node2"]);
    ceph.disks = wire(json!([
        {"osd": 0, "path": "/dev/disk/by-id/nvme-A", "location": "node1"},
        {"osd": 1, "path": "/dev/disk/by-path/pci-0000:00:1f.2-ata-2", "location": "node1"},
        {"osd": 2, "path": "/dev/sdc", "location": "node1"},
        // Same by-path name as sdd here, but on another machine.
        {"osd": 3, "path": "/dev/disk/by-path/pci-0000:00:1f.2-ata-4", "location": "node2"},
        {"osd": 4, "path": "/dev/sdz", "location": "node1"}
    ]));
    let system = collect_system("node1", addr(), &lxd, Some(&ceph), NONE, None)
        .await
        .unwrap();
    let osds: Vec<(&str, Option<u64>)> = system
        .disks
        .iter()
        .map(|d| (d.id.as_str(), d.ceph_osd))
        .collect();
    assert_eq!(
        osds,
        vec![
            ("nvme0n1", Some(0)),
            ("sdb", Some(1)),
            ("sdc", Some(2)),
            ("sdd", None),
            ("sde", None)
        ]
    );

    ceph.disks = wire(json!([{"osd": -1, "path": "/dev/sdc", "location": "node1"}]));
    let err = collect_system("node1", addr(), &lxd, Some(&ceph), NONE, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "MicroCeph on system node1 gave an unusable answer to GET /1.0/disks: OSD -1 at \"/dev/sdc\" has a negative number; check MicroCeph's state there before planning"
    );
}

#[tokio::test]
async fn failed_calls_name_the_system_service_and_call() {
    let mut lxd = lxd();
    lxd.fail.insert("/1.0/resources".into(), 503);
    let err = collect_system("node1", addr(), &lxd, NONE, NONE, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read the disks of system node1 from LXD (GET /1.0/resources); check that LXD is running on system node1 and trusts this machine, then collect again"
    );
    assert!(err.is_transient(), "503 is worth retrying");
    assert_eq!(
        err.client_error().and_then(clients::Error::status),
        Some(503)
    );
    assert!(matches!(
        &err,
        CollectError::Call { service: Service::Lxd, call, .. } if call == "GET /1.0/resources"
    ));

    let lxd = self::lxd();
    let mut ovn = micro(Service::MicroOvn, "24.03", true);
    ovn.fail.insert("/core/1.0/cluster".into(), 500);
    let err = collect_system("node1", addr(), &lxd, NONE, Some(&ovn), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read the cluster members of system node1 from MicroOVN (GET /core/1.0/cluster); check that MicroOVN is running on system node1 and trusts this machine, then collect again"
    );

    let mut lxd = clustered_lxd();
    lxd.pools = wire(
        json!([{"name": "local", "driver": "zfs", "status": "Created", "locations": [], "config": {}}]),
    );
    lxd.fail
        .insert("/1.0/storage-pools/local?target=node1".into(), 500);
    let err = collect_system("node1", addr(), &lxd, NONE, NONE, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read storage pool local of system node1 from LXD (GET /1.0/storage-pools/local?target=node1); check that LXD is running on system node1 and trusts this machine, then collect again"
    );
}

#[tokio::test]
async fn an_untrusted_or_versionless_lxd_is_refused() {
    let mut lxd = lxd();
    lxd.server = wire(json!({"auth": "untrusted", "api_extensions": []}));
    let err = collect_system("node1", addr(), &lxd, NONE, NONE, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "LXD on system node1 does not trust this client (GET /1.0 answered auth \"untrusted\"); add this machine's certificate to LXD's trust store or use its unix socket, then collect again"
    );
    lxd.server = wire(json!({"auth": "trusted"}));
    let err = collect_system("node1", addr(), &lxd, NONE, NONE, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "LXD on system node1 gave an unusable answer to GET /1.0: it reports no version (environment.server_version is empty); check LXD's state there before planning"
    );
}
