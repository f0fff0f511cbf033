//! A collected inventory saved as inventory-directory files parses back
//! identically through `planner::inventory`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod fakes;

use std::collections::BTreeMap;

use clients::Service;
use collect::{collect_cluster, collect_system, inventory_files};
use fakes::{FakeLxd, FakeMicro};
use planner::inventory::{Inventory, parse_cluster, parse_system};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn wire<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

/// A clustered member with something in every inventory field.
fn rich_lxd() -> FakeLxd {
    let mut lxd = FakeLxd::new("node1");
    lxd.server = wire(json!({
        "config": {"cluster.https_address": "10.0.0.1:8443", "core.https_address": "[::]:8443"},
        "api_extensions": ["explicit_trust_token", "storage_remote_drop_source"],
        "auth": "trusted",
        "environment": {"server_version": "6.5", "server_name": "node1"}
    }));
    lxd.cluster = wire(json!({"server_name": "node1", "enabled": true}));
    lxd.members = wire(json!([{"server_name": "node1"}, {"server_name": "node2"}]));
    lxd.resources = wire(json!({"storage": {"disks": [
        {"id": "nvme0n1", "device": "259:0", "model": "M", "type": "nvme", "read_only": false,
         "mounted": false, "size": 1000, "removable": false, "wwn": "eui.1", "numa_node": 0,
         "device_path": "pci-0000:05:00.0-nvme-1", "block_size": 512, "firmware_version": "F",
         "rpm": 0, "serial": "S", "device_id": "nvme-A", "partitions": [], "pci_address": "0000:05:00.0",
         "device_fs_uuid": "u-1", "used_by": ""},
        {"id": "sdb", "device": "8:16", "device_id": "", "partitions": [{"id": "sdb1"}]},
        {"id": "sdc", "device": "8:32", "device_id": "wwn-C", "partitions": []}
    ]}}));
    lxd.pools = wire(
        json!([{"name": "local", "driver": "zfs", "status": "Created",
                             "locations": ["node1", "node2"], "config": {}}]),
    );
    lxd.pool_views.insert(
        ("local".into(), "node1".into()),
        wire(json!({"name": "local", "config": {"source": "/dev/disk/by-id/wwn-C"}})),
    );
    lxd.pool_views.insert(
        ("local".into(), "node2".into()),
        wire(json!({"name": "local", "config": {"source": "/dev/disk/by-id/wwn-D"}})),
    );
    lxd.networks = wire(json!([
        {"name": "enp5s0", "type": "physical", "managed": false},
        {"name": "br0", "type": "bridge", "managed": false},
        {"name": "enp6s0", "type": "physical", "managed": false},
        {"name": "UPLINK", "type": "physical", "managed": true, "status": "Created",
         "config": {}, "locations": ["node1", "node2"]}
    ]));
    lxd.network_views.insert(
        ("UPLINK".into(), "node1".into()),
        wire(json!({"name": "UPLINK", "config": {"parent": "enp6s0"}})),
    );
    lxd.states = BTreeMap::from([
        (
            "enp5s0".into(),
            wire(json!({"state": "up", "addresses": [
            {"family": "inet", "address": "10.0.0.1", "netmask": "24", "scope": "global"},
            {"family": "inet6", "address": "2001:db8::1", "netmask": "64", "scope": "global"}]})),
        ),
        (
            "br0".into(),
            wire(json!({"state": "up", "bridge": {"upper_devices": ["enp6s0"]}})),
        ),
        ("enp6s0".into(), wire(json!({"state": "down"}))),
    ]);
    lxd.profiles = wire(
        json!([{"name": "default", "devices": {"root": {"path": "/", "pool": "local", "type": "disk"}}}]),
    );
    lxd.volumes.insert(
        ("local".into(), Some("node2".into())),
        wire(json!([{"name": "images", "location": "node2"}])),
    );
    lxd
}

fn rich_ceph() -> FakeMicro {
    let mut ceph = FakeMicro::new(Service::MicroCeph, "node1");
    ceph.info = wire(json!({"name": "node1", "version": "19.2.0", "ready": true}));
    ceph.members = wire(json!([{"name": "node1"}, {"name": "node2"}]));
    ceph.disks = wire(json!([{"osd": 7, "path": "/dev/disk/by-id/nvme-A", "location": "node1"}]));
    ceph.configs = wire(json!([{"key": "public_network", "value": "10.0.0.0/24"}]));
    ceph.pools = wire(json!([{"pool": "lxd_remote", "size": 2}]));
    ceph
}

#[tokio::test]
async fn collected_inventories_round_trip_through_the_planners_parser() {
    let lxd = rich_lxd();
    let ceph = rich_ceph();
    let mut ovn = FakeMicro::new(Service::MicroOvn, "node1");
    ovn.info = wire(json!({"name": "node1", "version": "24.03.2", "ready": false}));
    let system = collect_system(
        "node1",
        "10.0.0.1".parse().unwrap(),
        &lxd,
        Some(&ceph),
        Some(&ovn),
        Some("enp5s0".into()),
    )
    .await
    .unwrap();
    // Everything optional is present, so the round trip covers it.
    assert_eq!(system.disks[0].ceph_osd, Some(7));
    assert_eq!(system.disks[1].partitions, 1);
    assert_eq!(system.disks[2].lxd_pool.as_deref(), Some("local"));
    assert_eq!(
        system.interface("enp6s0").unwrap().bridge.as_deref(),
        Some("br0")
    );
    assert!(system.services.microovn.is_some());

    let members = vec!["node1".to_owned(), "node2".to_owned()];
    let cluster = collect_cluster(&lxd, Some(&ceph), &members).await.unwrap();
    assert_eq!(cluster.lxd.volumes.len(), 1);
    assert!(cluster.microceph.is_some());

    let files = inventory_files(std::slice::from_ref(&system), Some(&cluster)).unwrap();
    let file_names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(file_names, vec!["node1.json", "cluster.json"]);
    assert!(files.iter().all(|(_, text)| text.ends_with("}\n")));

    assert_eq!(parse_system("node1", &files[0].1).unwrap(), system);
    assert_eq!(parse_cluster(&files[1].1).unwrap(), cluster);
    let inventory = Inventory::from_files(files).unwrap();
    assert_eq!(inventory.system("node1"), Some(&system));
    assert_eq!(inventory.cluster(), Some(&cluster));

    // A minimal system (no optional parts) round-trips too.
    let bare = FakeLxd {
        server: wire(json!({"environment": {"server_version": "5.0.2"}})),
        ..FakeLxd::new("node2")
    };
    let none: Option<&FakeMicro> = None;
    let minimal = collect_system(
        "node2",
        "10.0.0.2".parse().unwrap(),
        &bare,
        none,
        none,
        None,
    )
    .await
    .unwrap();
    let files = inventory_files(std::slice::from_ref(&minimal), None).unwrap();
    assert_eq!(
        files[0].1,
        "{\n  \"name\": \"node2\",\n  \"address\": \"10.0.0.2\",\n  \"services\": {\n    \"lxd\": {\n      \"version\": \"5.0.2\",\n      \"api_extensions\": [],\n      \"cluster_members\": [],\n      \"config\": {}\n    }\n  },\n  \"disks\": [],\n  \"interfaces\": []\n}\n"
    );
    assert_eq!(parse_system("node2", &files[0].1).unwrap(), minimal);
}

#[tokio::test]
async fn names_that_are_not_inventory_file_names_are_refused() {
    let bare = FakeLxd {
        server: wire(json!({"environment": {"server_version": "5.0.2"}})),
        ..FakeLxd::new("x")
    };
    let none: Option<&FakeMicro> = None;
    for (name, message) in [
        (
            "cluster",
            "cannot save the inventory of system \"cluster\": cluster.json is the cluster state's file; rename the machine",
        ),
        (
            "a/b",
            "cannot save the inventory of system \"a/b\": it contains a path separator or NUL; rename the machine",
        ),
        (
            "..",
            "cannot save the inventory of system \"..\": it is not a file name; rename the machine",
        ),
    ] {
        let system = collect_system(name, "10.0.0.3".parse().unwrap(), &bare, none, none, None)
            .await
            .unwrap();
        let err = inventory_files(&[system], None).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
}
