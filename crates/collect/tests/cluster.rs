//! `collect_cluster` against in-memory fakes: per-member pool and network
//! configuration, profiles, volumes, MicroCeph state, errors.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod fakes;

use std::collections::BTreeMap;

use clients::Service;
use collect::collect_cluster;
use fakes::{FakeLxd, FakeMicro};
use planner::inventory::{
    CephPool, ExistingNetwork, ExistingPool, ExistingProfile, ExistingVolume,
    MicroCephClusterState, Osd,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn wire<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const NONE: Option<&FakeMicro> = None;

/// A three-member cluster with a local ZFS pool, a Ceph pool, a pool
/// pending on node1 only, an OVN uplink and network, and volumes.
fn cluster_lxd() -> FakeLxd {
    let mut lxd = FakeLxd::new("node1");
    lxd.pools = wire(json!([
        {"name": "local", "driver": "zfs", "status": "Created", "description": "Local storage on ZFS",
         "locations": ["node1", "node2", "node3"], "config": {"volume.size": "10GiB"}},
        {"name": "remote", "driver": "ceph", "status": "Created",
         "locations": ["node1", "node2", "node3"],
         "config": {"ceph.osd.pool_name": "lxd_remote", "ceph.rbd.du": "false"}},
        {"name": "half", "driver": "zfs", "status": "Pending", "locations": ["node1"], "config": {}}
    ]));
    for (member, disk) in [
        ("node1", "nvme-A"),
        ("node2", "nvme-B"),
        ("node3", "nvme-C"),
    ] {
        lxd.pool_views.insert(
            ("local".into(), member.into()),
            wire(
                json!({"name": "local", "driver": "zfs", "status": "Created",
                        "config": {"volume.size": "10GiB", "source": "local",
                                   "volatile.initial_source": format!("/dev/disk/by-id/{disk}"),
                                   "zfs.pool_name": "local"}}),
            ),
        );
        lxd.pool_views.insert(
            ("remote".into(), member.into()),
            wire(
                json!({"name": "remote", "driver": "ceph", "status": "Created",
                        "config": {"ceph.osd.pool_name": "lxd_remote", "ceph.rbd.du": "false"}}),
            ),
        );
        lxd.network_views.insert(
            ("UPLINK".into(), member.into()),
            wire(
                json!({"name": "UPLINK", "type": "physical", "managed": true, "status": "Created",
                        "config": {"ipv4.gateway": "192.0.2.1/24",
                                   "parent": if member == "node3" {"enp7s0"} else {"enp6s0"}}}),
            ),
        );
        lxd.network_views.insert(
            ("default".into(), member.into()),
            wire(
                json!({"name": "default", "type": "ovn", "managed": true, "status": "Created",
                        "config": {"network": "UPLINK", "ipv4.address": "10.1.2.1/24"}}),
            ),
        );
    }
    lxd.pool_views.insert(
        ("half".into(), "node1".into()),
        wire(json!({"name": "half", "driver": "zfs", "status": "Pending",
                    "config": {"source": "/dev/sdb"}})),
    );
    lxd.networks = wire(json!([
        {"name": "enp6s0", "type": "physical", "managed": false, "status": "", "config": {},
         "used_by": null, "locations": null},
        {"name": "UPLINK", "type": "physical", "managed": true, "status": "Created",
         "config": {"ipv4.gateway": "192.0.2.1/24"}, "locations": ["node1", "node2", "node3"]},
        {"name": "default", "type": "ovn", "managed": true, "status": "Created",
         "config": {"network": "UPLINK", "ipv4.address": "10.1.2.1/24"},
         "locations": ["node1", "node2", "node3"]}
    ]));
    lxd.profiles = wire(json!([
        {"name": "default", "description": "Default LXD profile", "config": {},
         "devices": {"root": {"path": "/", "pool": "remote", "type": "disk"},
                     "eth0": {"name": "eth0", "network": "default", "type": "nic"}}},
        {"name": "small", "config": {"limits.cpu": "1"}, "devices": null}
    ]));
    for member in ["node1", "node2", "node3"] {
        lxd.volumes.insert(
            ("local".into(), Some(member.into())),
            wire(json!([
                {"name": "images", "type": "custom", "location": member},
                {"name": "backups", "type": "custom", "location": ""}
            ])),
        );
    }
    lxd.volumes.insert(
        ("remote".into(), None),
        wire(json!([{"name": "shared", "type": "custom", "location": ""}])),
    );
    lxd
}

fn ceph() -> FakeMicro {
    let mut ceph = FakeMicro::new(Service::MicroCeph, "node1");
    ceph.info = wire(json!({"name": "node1", "version": "19.2.0", "ready": true}));
    ceph.configs = wire(json!([
        {"key": "cluster_network", "value": "10.20.0.0/24"},
        {"key": "public_network", "value": "10.0.0.0/24"},
        {"key": "osd_pool_default_crush_rule", "value": "2"}
    ]));
    ceph.disks = wire(json!([
        {"osd": 1, "path": "/dev/disk/by-id/nvme-X", "location": "node1"},
        {"osd": 2, "path": "/dev/sdb", "location": "node2"}
    ]));
    ceph.pools = wire(json!([
        {"pool": ".mgr", "pool_id": 1, "size": 2, "min_size": 1, "crush_rule": "replicated"},
        {"pool": "lxd_remote", "pool_id": 2, "size": 3, "min_size": 2, "crush_rule": "replicated"}
    ]));
    ceph
}

#[tokio::test]
async fn pools_and_networks_carry_each_members_own_configuration() {
    let lxd = cluster_lxd();
    let ceph = ceph();
    let members = names(&["node1", "node2", "node3"]);
    let state = collect_cluster(&lxd, Some(&ceph), &members).await.unwrap();

    let local_member = |disk: &str| {
        map(&[
            ("source", "local"),
            (
                "volatile.initial_source",
                &format!("/dev/disk/by-id/{disk}"),
            ),
            ("zfs.pool_name", "local"),
        ])
    };
    assert_eq!(
        state.lxd.storage_pools,
        vec![
            ExistingPool {
                name: "local".into(),
                driver: "zfs".into(),
                status: "Created".into(),
                config: map(&[("volume.size", "10GiB")]),
                members: BTreeMap::from([
                    ("node1".into(), local_member("nvme-A")),
                    ("node2".into(), local_member("nvme-B")),
                    ("node3".into(), local_member("nvme-C")),
                ]),
            },
            ExistingPool {
                name: "remote".into(),
                driver: "ceph".into(),
                status: "Created".into(),
                config: map(&[
                    ("ceph.osd.pool_name", "lxd_remote"),
                    ("ceph.rbd.du", "false")
                ]),
                members: BTreeMap::from([
                    ("node1".into(), BTreeMap::new()),
                    ("node2".into(), BTreeMap::new()),
                    ("node3".into(), BTreeMap::new()),
                ]),
            },
            ExistingPool {
                name: "half".into(),
                driver: "zfs".into(),
                status: "Pending".into(),
                config: BTreeMap::new(),
                members: BTreeMap::from([("node1".into(), map(&[("source", "/dev/sdb")]))]),
            },
        ]
    );
    assert_eq!(
        state.lxd.networks,
        vec![
            ExistingNetwork {
                name: "UPLINK".into(),
                kind: "physical".into(),
                status: "Created".into(),
                config: map(&[("ipv4.gateway", "192.0.2.1/24")]),
                members: BTreeMap::from([
                    ("node1".into(), map(&[("parent", "enp6s0")])),
                    ("node2".into(), map(&[("parent", "enp6s0")])),
                    ("node3".into(), map(&[("parent", "enp7s0")])),
                ]),
            },
            ExistingNetwork {
                name: "default".into(),
                kind: "ovn".into(),
                status: "Created".into(),
                config: map(&[("network", "UPLINK"), ("ipv4.address", "10.1.2.1/24")]),
                members: BTreeMap::from([
                    ("node1".into(), BTreeMap::new()),
                    ("node2".into(), BTreeMap::new()),
                    ("node3".into(), BTreeMap::new()),
                ]),
            },
        ],
        "unmanaged interfaces are not cluster networks"
    );
    assert_eq!(
        state.lxd.profiles,
        vec![
            ExistingProfile {
                name: "default".into(),
                devices: BTreeMap::from([
                    (
                        "eth0".into(),
                        map(&[("name", "eth0"), ("network", "default"), ("type", "nic")])
                    ),
                    (
                        "root".into(),
                        map(&[("path", "/"), ("pool", "remote"), ("type", "disk")])
                    ),
                ]),
            },
            ExistingProfile {
                name: "small".into(),
                devices: BTreeMap::new(),
            },
        ]
    );
    let volume = |pool: &str, name: &str, member: &str| ExistingVolume {
        pool: pool.into(),
        name: name.into(),
        member: member.into(),
    };
    assert_eq!(
        state.lxd.volumes,
        vec![
            volume("local", "backups", "node1"),
            volume("local", "backups", "node2"),
            volume("local", "backups", "node3"),
            volume("local", "images", "node1"),
            volume("local", "images", "node2"),
            volume("local", "images", "node3"),
            volume("remote", "shared", ""),
        ]
    );
    assert_eq!(
        state.microceph,
        Some(MicroCephClusterState {
            public_network: Some("10.0.0.0/24".parse().unwrap()),
            cluster_network: Some("10.20.0.0/24".parse().unwrap()),
            osds: vec![
                Osd {
                    osd: 1,
                    path: "/dev/disk/by-id/nvme-X".into(),
                    location: "node1".into(),
                },
                Osd {
                    osd: 2,
                    path: "/dev/sdb".into(),
                    location: "node2".into(),
                },
            ],
            pools: vec![
                CephPool {
                    name: ".mgr".into(),
                    size: 2,
                },
                CephPool {
                    name: "lxd_remote".into(),
                    size: 3,
                },
            ],
        })
    );

    assert_eq!(
        lxd.calls(),
        vec![
            "GET /1.0/storage-pools?recursion=1",
            "GET /1.0/storage-pools/local?target=node1",
            "GET /1.0/storage-pools/local?target=node2",
            "GET /1.0/storage-pools/local?target=node3",
            "GET /1.0/storage-pools/remote?target=node1",
            "GET /1.0/storage-pools/remote?target=node2",
            "GET /1.0/storage-pools/remote?target=node3",
            "GET /1.0/storage-pools/half?target=node1",
            "GET /1.0/networks?recursion=1",
            "GET /1.0/networks/UPLINK?target=node1",
            "GET /1.0/networks/UPLINK?target=node2",
            "GET /1.0/networks/UPLINK?target=node3",
            "GET /1.0/networks/default?target=node1",
            "GET /1.0/networks/default?target=node2",
            "GET /1.0/networks/default?target=node3",
            "GET /1.0/profiles?recursion=1",
            "GET /1.0/storage-pools/local/volumes/custom?recursion=1&target=node1",
            "GET /1.0/storage-pools/local/volumes/custom?recursion=1&target=node2",
            "GET /1.0/storage-pools/local/volumes/custom?recursion=1&target=node3",
            "GET /1.0/storage-pools/remote/volumes/custom?recursion=1",
        ],
        "pending pools have no volumes; remote pools are listed once"
    );
    assert_eq!(
        ceph.calls(),
        vec![
            "GET /core/1.0",
            "GET /1.0/configs",
            "GET /1.0/disks",
            "GET /1.0/pools"
        ]
    );
}

#[tokio::test]
async fn a_member_answering_404_does_not_hold_the_object() {
    let mut lxd = cluster_lxd();
    // LXD gives no locations: every member is asked, node3 does not have it.
    lxd.pools =
        wire(json!([{"name": "local", "driver": "zfs", "status": "Pending", "config": {}}]));
    lxd.pool_views
        .remove(&("local".to_owned(), "node3".to_owned()));
    lxd.networks = wire(json!([
        {"name": "UPLINK", "type": "physical", "managed": true, "status": "Pending",
         "config": {}, "locations": null}
    ]));
    lxd.network_views
        .remove(&("UPLINK".to_owned(), "node2".to_owned()));
    let members = names(&["node1", "node2", "node3"]);
    let state = collect_cluster(&lxd, NONE, &members).await.unwrap();
    let pool = state.lxd.pool("local").unwrap();
    assert_eq!(
        pool.members.keys().collect::<Vec<_>>(),
        vec!["node1", "node2"]
    );
    let uplink = state.lxd.network("UPLINK").unwrap();
    assert_eq!(
        uplink.members.keys().collect::<Vec<_>>(),
        vec!["node1", "node3"]
    );
    assert_eq!(
        uplink.members["node3"],
        map(&[("parent", "enp7s0"), ("ipv4.gateway", "192.0.2.1/24")])
    );
    assert_eq!(state.microceph, None, "no MicroCeph given");
    assert!(
        state.lxd.volumes.is_empty(),
        "pending pools hold no volumes"
    );
}

#[tokio::test]
async fn without_members_no_member_views_are_asked_for() {
    let lxd = cluster_lxd();
    let state = collect_cluster(&lxd, NONE, &[]).await.unwrap();
    assert!(state.lxd.storage_pools.iter().all(|p| p.members.is_empty()));
    assert!(state.lxd.networks.iter().all(|n| n.members.is_empty()));
    assert!(!lxd.calls().iter().any(|c| c.contains("target=")));
}

#[tokio::test]
async fn an_uninitialised_microceph_has_no_cluster_state() {
    let lxd = cluster_lxd();
    let mut ceph = ceph();
    ceph.info.ready = false;
    let state = collect_cluster(&lxd, Some(&ceph), &[]).await.unwrap();
    assert_eq!(state.microceph, None);
    assert_eq!(ceph.calls(), vec!["GET /core/1.0"]);
}

#[tokio::test]
async fn microceph_values_the_planner_cannot_hold_are_refused() {
    let lxd = cluster_lxd();
    let mut ceph = ceph();
    ceph.configs = wire(json!([{"key": "public_network", "value": "10.0.0.0/24,10.1.0.0/24"}]));
    let err = collect_cluster(&lxd, Some(&ceph), &[]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MicroCeph on the existing cluster gave an unusable answer to GET /1.0/configs: public_network \"10.0.0.0/24,10.1.0.0/24\" is not one network in CIDR form (a.b.c.d/n); check MicroCeph's state there before planning"
    );

    // Reef's table has no `public_network` (microceph/ceph/config.go,
    // v18.2.4+reef), so it is not listed there.
    ceph.configs = wire(json!([{"key": "cluster_network", "value": "10.1.0.0/24"}]));
    let state = collect_cluster(&lxd, Some(&ceph), &[]).await.unwrap();
    let microceph = state.microceph.unwrap();
    assert_eq!(microceph.public_network, None);
    assert_eq!(
        microceph.cluster_network,
        Some("10.1.0.0/24".parse().unwrap())
    );

    // Reef (v18.2.4) has no `GET /1.0/pools` (microceph/api/pool.go): its
    // 404 means "pools unknown", not a failure; any other status fails.
    ceph.fail.insert("/1.0/pools".into(), 404);
    let state = collect_cluster(&lxd, Some(&ceph), &[]).await.unwrap();
    assert_eq!(state.microceph.unwrap().pools, vec![]);
    ceph.fail.insert("/1.0/pools".into(), 500);
    let err = collect_cluster(&lxd, Some(&ceph), &[]).await.unwrap_err();
    assert!(err.to_string().contains("(GET /1.0/pools)"), "{err}");
    ceph.fail.clear();

    ceph.pools = wire(json!([{"pool": "x", "size": -1}]));
    let err = collect_cluster(&lxd, Some(&ceph), &[]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MicroCeph on the existing cluster gave an unusable answer to GET /1.0/pools: pool x has replication size -1; check MicroCeph's state there before planning"
    );
}

#[tokio::test]
async fn failed_cluster_calls_name_the_member_and_call() {
    let mut lxd = cluster_lxd();
    lxd.fail
        .insert("/1.0/networks/UPLINK?target=node2".into(), 503);
    let members = names(&["node1", "node2", "node3"]);
    let err = collect_cluster(&lxd, NONE, &members).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read network UPLINK on member node2 of the existing cluster from LXD (GET /1.0/networks/UPLINK?target=node2); check that LXD is running on the existing cluster and trusts this machine, then collect again"
    );
    assert!(err.is_transient());

    let lxd = cluster_lxd();
    let mut ceph = ceph();
    ceph.fail.insert("/1.0/disks".into(), 403);
    let err = collect_cluster(&lxd, Some(&ceph), &[]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read the OSDs of the existing cluster from MicroCeph (GET /1.0/disks); check that MicroCeph is running on the existing cluster and trusts this machine, then collect again"
    );
    assert!(!err.is_transient());
    assert!(!lxd.calls().iter().any(|c| c.starts_with("MUTATE")));
}
