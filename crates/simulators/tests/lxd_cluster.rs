//! Three-member LXD cluster formation through the simulator's API, for
//! both behaviour profiles: bootstrap, join tokens, joins over HTTPS,
//! pending pools per member then the global create, UPLINK + OVN
//! `default` network, default profile, custom volumes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use simulators::{LxdProfile, Sim};

async fn form_cluster(profile: LxdProfile) -> Sim {
    let sim = sim(3, profile).await;
    lxd_bootstrap(&sim, "node1").await;
    for joiner in ["node2", "node3"] {
        let done = lxd_join(&sim, "node1", joiner).await;
        assert_eq!(done.kind(), "sync", "{}", done.text);
        assert_eq!(done.meta()["status"], "Success", "{}", done.text);
        assert_eq!(done.meta()["description"], "Joining cluster");
    }
    sim
}

fn disk(i: usize) -> String {
    format!("/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_local{i}")
}

async fn formation(profile: LxdProfile) {
    let sim = form_cluster(profile).await;
    let n1 = lxd(&sim, "node1");
    let legacy = profile == LxdProfile::Legacy;

    // Members, seen from every member.
    for node in ["node1", "node2", "node3"] {
        let r = lxd(&sim, node)
            .get("/1.0/cluster/members?recursion=1")
            .await;
        let names: Vec<&str> = r
            .meta()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["server_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["node1", "node2", "node3"]);
        assert!(
            r.meta()
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["status"] == "Online")
        );
        let info = lxd(&sim, node).get("/1.0").await;
        assert_eq!(info.meta()["environment"]["server_clustered"], true);
        assert_eq!(info.meta()["environment"]["server_name"], node);
    }

    // Local ZFS pool: pending per member, then global.
    for (i, node) in ["node1", "node2", "node3"].iter().enumerate() {
        let mut config = json!({"source": disk(i + 1)});
        if !legacy {
            config["source.wipe"] = json!("true");
        }
        let r = n1
            .send(
                "POST",
                &format!("/1.0/storage-pools?target={node}"),
                Some(json!({"name": "local", "driver": "zfs", "config": config})),
            )
            .await
            .unwrap();
        if legacy {
            assert_eq!(r.status, 201, "{}", r.text);
            assert_eq!(r.header("location"), Some("/1.0/storage-pools/local"));
        } else {
            assert_eq!(r.status, 202, "{}", r.text);
            assert_eq!(n1.settle(r).await.meta()["status"], "Success");
        }
    }
    let pending = n1.get("/1.0/storage-pools/local").await;
    assert_eq!(pending.meta()["status"], "Pending");
    assert_eq!(
        pending.meta()["locations"],
        json!(["node1", "node2", "node3"])
    );
    let r = n1
        .send(
            "POST",
            "/1.0/storage-pools",
            Some(json!({"name": "local", "driver": "zfs", "description": "Local storage on ZFS"})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, if legacy { 201 } else { 202 }, "{}", r.text);
    let done = n1.settle(r).await;
    assert_eq!(done.kind(), "sync", "{}", done.text);
    let created = n1.get("/1.0/storage-pools/local").await;
    assert_eq!(created.meta()["status"], "Created");
    assert_eq!(
        created.meta()["config"],
        json!({}),
        "member keys hidden without target"
    );
    let member_view = n1.get("/1.0/storage-pools/local?target=node2").await;
    // What the zfs driver keeps after creating the pool
    // (lxd/storage/drivers/driver_zfs.go `FillConfig`/`Create`, lxd-5.0.2 ..
    // lxd-6.8): the device path moves to `volatile.initial_source`, and
    // `source` becomes the zpool's name.
    assert_eq!(
        member_view.meta()["config"],
        json!({
            "source": "local",
            "volatile.initial_source": disk(2),
            "zfs.pool_name": "local",
        }),
        "{}",
        member_view.text
    );
    for (i, node) in ["node1", "node2", "node3"].iter().enumerate() {
        assert_eq!(
            sim.node(node).unwrap().disk_holder("nvme1n1"),
            Some("LXD storage pool \"local\"".into()),
            "disk of {node} ({i})"
        );
    }

    // MicroOVN on node1 (central), so the OVN network has a northbound DB.
    let node1 = sim.node("node1").unwrap();
    let r = mc_bootstrap(
        &ovn(&sim, "node1"),
        "node1",
        node1.ip(),
        6443,
        json!({"ovn-encap-ip": node1.ip().to_string()}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    if legacy {
        let nb = sim.ovn_northbound_connection().unwrap();
        assert_eq!(nb, format!("ssl:{}:6641", node1.ip()));
        n1.ok(
            "PATCH",
            "/1.0",
            json!({"config": {"network.ovn.northbound_connection": nb}}),
        )
        .await;
    }

    // UPLINK: pending per member, then global; then the OVN network.
    for node in ["node1", "node2", "node3"] {
        n1.ok(
            "POST",
            &format!("/1.0/networks?target={node}"),
            json!({"name": "UPLINK", "type": "physical", "config": {"parent": "enp6s0"}}),
        )
        .await;
    }
    n1.ok(
        "POST",
        "/1.0/networks",
        json!({"name": "UPLINK", "type": "physical", "description": "Uplink for OVN networks",
               "config": {"ipv4.gateway": "192.0.2.1/24", "ipv4.ovn.ranges": "192.0.2.100-192.0.2.254"}}),
    )
    .await;
    n1.ok("POST", "/1.0/networks", json!({"name": "default", "type": "ovn", "description": "Default OVN network", "config": {"network": "UPLINK"}}))
        .await;
    let nets = n1.get("/1.0/networks?recursion=1").await;
    let managed: Vec<(&str, &str)> = nets
        .meta()
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["managed"] == true)
        .map(|n| (n["name"].as_str().unwrap(), n["status"].as_str().unwrap()))
        .collect();
    assert_eq!(managed, [("UPLINK", "Created"), ("default", "Created")]);
    let uplink_on_3 = n1.get("/1.0/networks/UPLINK?target=node3").await;
    assert_eq!(
        uplink_on_3.meta()["config"]["parent"],
        "enp6s0",
        "{}",
        uplink_on_3.text
    );

    // Default profile.
    let r = n1
        .put(
            "/1.0/profiles/default",
            json!({"devices": {"root": {"path": "/", "pool": "local", "type": "disk"}, "eth0": {"name": "eth0", "network": "default", "type": "nic"}}}),
        )
        .await;
    assert_eq!(r.status, if legacy { 200 } else { 202 }, "{}", r.text);
    n1.settle(r).await;
    let p = lxd(&sim, "node3").get("/1.0/profiles/default").await;
    assert_eq!(p.meta()["devices"]["eth0"]["network"], "default");
    assert!(p.header("etag").is_some());

    // Custom volumes per member, then the daemon storage keys.
    for node in ["node1", "node2", "node3"] {
        n1.ok(
            "POST",
            &format!("/1.0/storage-pools/local/volumes/custom?target={node}"),
            json!({"name": "images", "type": "custom"}),
        )
        .await;
        n1.ok(
            "PATCH",
            &format!("/1.0?target={node}"),
            json!({"config": {"storage.images_volume": "local/images"}}),
        )
        .await;
    }
    let cfg3 = lxd(&sim, "node3").get("/1.0").await;
    assert_eq!(
        cfg3.meta()["config"]["storage.images_volume"],
        "local/images"
    );
    let cfg1 = n1.get("/1.0").await;
    assert_eq!(
        cfg1.meta()["config"]["storage.images_volume"],
        "local/images"
    );

    // A joiner now must supply the member config for local and UPLINK.
    let cluster = n1.get("/1.0/cluster").await;
    let keys: Vec<(String, String)> = cluster.meta()["member_config"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["name"].as_str().unwrap().to_string(),
                k["key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("local".into(), "size".into()),
            ("local".into(), "source".into()),
            ("local".into(), "zfs.pool_name".into()),
            ("UPLINK".into(), "parent".into())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_member_cluster_legacy_5_0_2() {
    formation(LxdProfile::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_member_cluster_current() {
    formation(LxdProfile::Current).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ceph_pool_needs_microceph_and_registers_osd_pool() {
    for profile in [LxdProfile::Legacy, LxdProfile::Current] {
        let sim = form_cluster(profile).await;
        let n1 = lxd(&sim, "node1");
        let legacy = profile == LxdProfile::Legacy;
        let pending = |node: &str| {
            let mut body = json!({"name": "remote", "driver": "ceph"});
            if legacy {
                body["config"] = json!({"source": "lxd_remote"});
            }
            (format!("/1.0/storage-pools?target={node}"), body)
        };
        for node in ["node1", "node2", "node3"] {
            let (path, body) = pending(node);
            n1.ok("POST", &path, body).await;
        }
        let global = json!({"name": "remote", "driver": "ceph", "config": {"ceph.rbd.du": "false", "ceph.osd.pool_name": "lxd_remote"}});
        // No MicroCeph yet: the global create fails and the pool is Errored.
        let r = n1
            .send("POST", "/1.0/storage-pools", Some(global.clone()))
            .await
            .unwrap();
        let done = n1.settle(r).await;
        let err = done.error().to_string();
        assert_eq!(
            err,
            "Failed to create storage pool \"remote\": Failed to connect to the Ceph cluster: MicroCeph is not initialised on \"node1\""
        );
        assert_eq!(
            n1.get("/1.0/storage-pools/remote").await.meta()["status"],
            "Errored"
        );

        // MicroCeph on every node with one OSD each, then retry without config.
        let c1 = ceph(&sim, "node1");
        let ip1 = sim.node("node1").unwrap().ip();
        assert_eq!(
            mc_bootstrap(&c1, "node1", ip1, 7443, json!({}))
                .await
                .status,
            200
        );
        for node in ["node2", "node3"] {
            let token = mc_token(&c1, node).await;
            let ip = sim.node(node).unwrap().ip();
            let r = mc_join(&ceph(&sim, node), node, ip, 7443, &token, json!({})).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        for node in ["node1", "node2", "node3"] {
            let r = ceph(&sim, node)
                .post(
                    "/1.0/disks",
                    json!({"path": ["/dev/sda"], "wipe": false, "encrypt": false}),
                )
                .await;
            assert_eq!(r.meta()["report"][0]["report"], "Success", "{}", r.text);
        }
        let r = n1
            .send(
                "POST",
                "/1.0/storage-pools",
                Some(json!({"name": "remote", "driver": "ceph"})),
            )
            .await
            .unwrap();
        let done = n1.settle(r).await;
        assert_eq!(done.kind(), "sync", "{}", done.text);
        assert_eq!(
            n1.get("/1.0/storage-pools/remote").await.meta()["status"],
            "Created"
        );
        let pools = ceph(&sim, "node2").get("/1.0/pools").await;
        let names: Vec<&str> = pools
            .meta()
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pool"].as_str().unwrap())
            .collect();
        assert_eq!(names, [".mgr", "lxd_remote"]);
    }
}
