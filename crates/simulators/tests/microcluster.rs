//! microcluster core (bootstrap, tokens, join, members), MicroCeph and
//! MicroOVN (service-apis.md §10).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use simulators::{LxdProfile, Sim};

async fn ceph_cluster(n: usize) -> Sim {
    ceph_cluster_of(n, n).await
}

/// `nodes` nodes, MicroCeph bootstrapped on node1 and joined on the next
/// `joined - 1`.
async fn ceph_cluster_of(nodes: usize, joined: usize) -> Sim {
    let n = joined;
    let sim = sim(nodes, LxdProfile::Current).await;
    let c1 = ceph(&sim, "node1");
    let ip1 = sim.node("node1").unwrap().ip();
    let r = mc_bootstrap(
        &c1,
        "node1",
        ip1,
        7443,
        json!({"PublicNet": format!("{ip1}/24"), "ClusterNet": format!("{ip1}/24")}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.meta(), &json!({}));
    for i in 2..=n {
        let name = format!("node{i}");
        let token = mc_token(&c1, &name).await;
        let ip = sim.node(&name).unwrap().ip();
        let r = mc_join(&ceph(&sim, &name), &name, ip, 7443, &token, json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    sim
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_endpoints_answer_503_before_init() {
    let sim = sim(1, LxdProfile::Current).await;
    let c = ceph(&sim, "node1");
    let r = c.get("/core/1.0/cluster").await;
    assert_eq!(
        (r.status, r.error()),
        (503, "Database is not yet initialized")
    );
    let r = c.get("/1.0/disks").await;
    assert_eq!(
        (r.status, r.error()),
        (503, "Database is not yet initialized")
    );
    let r = c.get("/core/1.0").await;
    assert_eq!(r.meta()["ready"], false);
    assert_eq!(r.meta()["name"], "node1");
    assert_eq!(c.get("/core/1.0/ready").await.status, 200);
    let r = c
        .post("/core/control", json!({"bootstrap": true, "join_token": "x", "name": "node1", "address": "127.0.0.1:7443"}))
        .await;
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "Invalid options - received join token and bootstrap flag"
        )
    );
    let r = c.send("OPTIONS", "/core/1.0", None).await.unwrap();
    assert_eq!((r.status, r.error()), (404, "Method 'OPTIONS' not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_join_members_and_token_format() {
    let sim = ceph_cluster(3).await;
    let c1 = ceph(&sim, "node1");
    let members = c1.get("/core/1.0/cluster").await;
    let m = members.meta().as_array().unwrap();
    let names: Vec<&str> = m.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["node1", "node2", "node3"]);
    assert!(
        m.iter()
            .all(|m| m["status"] == "ONLINE" && m["role"] == "voter")
    );
    let ip2 = sim.node("node2").unwrap().ip();
    assert_eq!(m[1]["address"], format!("{ip2}:7443"));
    // Token = base64(JSON{secret, fingerprint, join_addresses}).
    let token = mc_token(&c1, "node4").await;
    let decoded: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(&token)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        decoded.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["fingerprint", "join_addresses", "secret"]
    );
    assert_eq!(decoded["secret"].as_str().unwrap().len(), 64);
    assert_eq!(
        decoded["fingerprint"],
        sim.node("node1")
            .unwrap()
            .microceph_cluster_fingerprint()
            .unwrap()
            .as_str()
    );
    assert_eq!(decoded["join_addresses"].as_array().unwrap().len(), 3);
    let records = c1.get("/core/control/tokens").await;
    assert_eq!(records.meta()[0]["name"], "node4");
    assert_eq!(records.meta()[0]["token"], token.as_str());
    assert_eq!(c1.delete("/core/1.0/tokens/node4").await.status, 200);
    let r = c1.delete("/core/1.0/tokens/node4").await;
    assert_eq!((r.status, r.error()), (404, "CoreTokenRecord not found"));
    // Already initialised.
    let r = mc_bootstrap(
        &c1,
        "node1",
        sim.node("node1").unwrap().ip(),
        7443,
        json!({}),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (500, "Unable to initialize cluster: Database is online")
    );
    // extensions: microcluster v2+ lists two internal ones (an array), so
    // both daemons give an array (microcluster_core.rs has the lists).
    assert!(c1.get("/core/1.0").await.meta()["extensions"].is_array());
    assert!(ovn(&sim, "node1").get("/core/1.0").await.meta()["extensions"].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_endpoints_are_socket_only() {
    let sim = ceph_cluster(1).await;
    let node = sim.node("node1").unwrap();
    let addr = node.microceph_https().unwrap();
    let fp = node.microceph_cluster_fingerprint().unwrap();
    let outsider = client_identity("outsider");
    let https = Client::https(addr, Some(&outsider), &fp);
    // Untrusted: only /core/1.0 answers.
    assert_eq!(https.get("/core/1.0").await.meta()["ready"], true);
    let r = https.get("/core/1.0/cluster").await;
    assert_eq!((r.status, r.error()), (403, "not authorized"));
    // The control API is not routed off the unix socket at all
    // (`UnixEndpoints`, microcluster v2.0.4 `internal/rest/resources/resources.go`).
    let r = https
        .post("/core/control/tokens", json!({"name": "x"}))
        .await;
    assert_eq!((r.status, r.error()), (404, "not found"));
}

async fn join_with(sim: &Sim, token: &str, name: &str, joiner: &str) -> common::Resp {
    let ip = sim.node(joiner).unwrap().ip();
    mc_join(&ceph(sim, joiner), name, ip, 7443, token, json!({})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microcluster_token_misuse_is_refused() {
    let sim = ceph_cluster_of(3, 1).await;
    let c1 = ceph(&sim, "node1");
    // Wrong name: the joiner's certificate is made for its own name.
    let token = mc_token(&c1, "node2").await;
    let r = join_with(&sim, &token, "node3", "node3").await;
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "1 join attempts were unsuccessful. Last error: Joining server certificate SAN does not contain join token name"
        )
    );
    // Wrong secret.
    let mut t: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(&token)
            .unwrap(),
    )
    .unwrap();
    t["secret"] = json!("ab".repeat(32));
    let r = join_with(&sim, &b64(&t), "node2", "node2").await;
    assert_eq!(
        (r.status, r.error()),
        (
            404,
            "1 join attempts were unsuccessful. Last error: CoreTokenRecord not found"
        )
    );
    // Wrong fingerprint: the member is skipped before anything is sent,
    // without an error to report (`joinWithToken`, v2.0.4: Go prints the
    // nil error with `%w`).
    t["secret"] = serde_json::from_slice::<Value>(
        &base64::engine::general_purpose::STANDARD
            .decode(&token)
            .unwrap(),
    )
    .unwrap()["secret"]
        .clone();
    t["fingerprint"] = json!("00".repeat(32));
    let r = join_with(&sim, &b64(&t), "node2", "node2").await;
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "1 join attempts were unsuccessful. Last error: %!w(<nil>)"
        )
    );
    // Reuse after success.
    let r = join_with(&sim, &token, "node2", "node2").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = join_with(&sim, &token, "node2", "node3").await;
    assert_eq!(
        (r.status, r.error()),
        (
            404,
            "1 join attempts were unsuccessful. Last error: CoreTokenRecord not found"
        )
    );
    // Expired.
    let r = c1
        .post(
            "/core/control/tokens",
            json!({"name": "node3", "expire_after": 60_000_000_000i64}),
        )
        .await;
    let token = r.meta().as_str().unwrap().to_string();
    sim.advance_clock(Duration::from_secs(61));
    let r = join_with(&sim, &token, "node3", "node3").await;
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "2 join attempts were unsuccessful. Last error: Token expired"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microceph_disk_add_reports_per_disk() {
    let sim = ceph_cluster(2).await;
    let c1 = ceph(&sim, "node1");
    // Take node1's local disk for LXD first, so it counts as used.
    let l = lxd(&sim, "node1");
    l.ok("POST", "/1.0/storage-pools", json!({"name": "local", "driver": "zfs", "config": {"source": "/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_local1"}})).await;
    let r = c1
        .post(
            "/1.0/disks",
            json!({"path": ["/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-a-1", "/dev/nvme0n1", "/dev/nope", "/dev/nvme1n1", "/dev/sr0", "/dev/sda"], "wipe": false, "encrypt": false}),
        )
        .await;
    assert_eq!(r.status, 200);
    let report: Vec<(String, String, String)> = r.meta()["report"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().into(),
                e["report"].as_str().unwrap().into(),
                e["error"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        report,
        [
            ("/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-a-1".into(), "Success".into(), "".into()),
            ("/dev/nvme0n1".into(), "Failure".into(), "Failed to add disk \"/dev/nvme0n1\": /dev/nvme0n1 is mounted".into()),
            ("/dev/nope".into(), "Failure".into(), "Failed to add disk \"/dev/nope\": stat /dev/nope: no such file or directory".into()),
            ("/dev/nvme1n1".into(), "Failure".into(), "Failed to add disk \"/dev/nvme1n1\": /dev/nvme1n1 is in use by LXD storage pool \"local\"".into()),
            ("/dev/sr0".into(), "Failure".into(), "Failed to add disk \"/dev/sr0\": /dev/sr0 is not a writable block device".into()),
            ("/dev/sda".into(), "Failure".into(), "Failed to add disk \"/dev/sda\": /dev/sda is already used by an OSD".into()),
        ]
    );
    assert_eq!(r.meta()["validation_error"], "");
    // Single string path, and a validation error.
    let r = c1.post("/1.0/disks", json!({"path": "/dev/sdb"})).await;
    assert_eq!(r.meta()["report"][0]["report"], "Success");
    let r = c1
        .post(
            "/1.0/disks",
            json!({"path": ["/dev/sdb", "/dev/sda"], "waldev": "/dev/x"}),
        )
        .await;
    assert_eq!(
        (r.status, r.meta()["validation_error"].as_str().unwrap()),
        (
            200,
            "wal/db devices are not supported in batch disk addition"
        )
    );
    // Nothing is added; every disk is reported failed without an error
    // (`prepareValidationFailureResp`, microceph/ceph/osd.go, squid).
    assert_eq!(
        r.meta()["report"],
        json!([{"path": "/dev/sdb", "report": "Failure", "error": ""}, {"path": "/dev/sda", "report": "Failure", "error": ""}])
    );
    // A partitioned disk on node2 (its root disk is mounted; use a fixture-free check via ?target).
    let r = c1
        .send(
            "POST",
            "/1.0/disks?target=node2",
            Some(json!({"path": ["/dev/sda"]})),
        )
        .await
        .unwrap();
    assert_eq!(r.meta()["report"][0]["report"], "Success", "{}", r.text);
    let disks = c1.get("/1.0/disks").await;
    let locs: Vec<(u64, &str, &str)> = disks
        .meta()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["osd"].as_u64().unwrap(),
                d["path"].as_str().unwrap(),
                d["location"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        locs,
        [
            (
                0,
                "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-a-1",
                "node1"
            ),
            // Recorded under their stable paths (`setStablePath`,
            // microceph/ceph/osd.go, v19.2.0+squid).
            (
                1,
                "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-b-1",
                "node1"
            ),
            (
                2,
                "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-a-2",
                "node2"
            )
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microceph_partitioned_disk_needs_wipe() {
    let fixture = r#"{"disks":[{"id":"vdb","device":"252:16","type":"virtio","size":10737418240,"partitions":[{"id":"vdb1","device":"252:17","size":1073741824,"partition":1}]}],"interfaces":[{"name":"enp5s0","type":"physical","addresses":[{"family":"inet","address":"{ip}","netmask":"24","scope":"global"}]}]}"#;
    let sim = simulators::SimBuilder::new()
        .node(simulators::NodeSpec::new("node1").inventory(fixture))
        .time_scale(0.0)
        .start()
        .await
        .unwrap();
    let c = ceph(&sim, "node1");
    let ip = sim.node("node1").unwrap().ip();
    assert_eq!(
        mc_bootstrap(&c, "node1", ip, 7443, json!({})).await.status,
        200
    );
    let r = c
        .post("/1.0/disks", json!({"path": ["/dev/vdb"], "wipe": false}))
        .await;
    assert_eq!(
        r.meta()["report"][0]["error"],
        "Failed to add disk \"/dev/vdb\": /dev/vdb has existing partitions or data, use --wipe to wipe it"
    );
    let r = c
        .post("/1.0/disks", json!({"path": ["/dev/vdb"], "wipe": true}))
        .await;
    assert_eq!(r.meta()["report"][0]["report"], "Success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microceph_configs_pools_and_services() {
    let sim = ceph_cluster(3).await;
    let c1 = ceph(&sim, "node1");
    let ip1 = sim.node("node1").unwrap().ip();
    // GET with a body, like MicroCloud; without one the daemon fails to decode.
    let r = c1
        .send(
            "GET",
            "/1.0/configs",
            Some(json!({"key": "", "value": "", "wait": false, "skip_restart": false})),
        )
        .await
        .unwrap();
    let cfg: Vec<(&str, &str)> = r
        .meta()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["key"].as_str().unwrap(), c["value"].as_str().unwrap()))
        .collect();
    let net = format!("{ip1}/24");
    assert_eq!(
        cfg,
        [
            ("cluster_network", net.as_str()),
            ("public_network", net.as_str())
        ]
    );
    let r = c1.get("/1.0/configs").await;
    assert_eq!((r.status, r.error()), (500, "EOF"));
    // Services: mon/mgr/mds on the first three members.
    let s = c1.get("/1.0/services").await;
    assert_eq!(
        s.meta()
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["service"] == "mon")
            .count(),
        3
    );
    // Pools: .mgr appears with the first OSD; pools-op sets the size.
    for node in ["node1", "node2", "node3"] {
        let r = ceph(&sim, node)
            .post("/1.0/disks", json!({"path": ["/dev/sda"]}))
            .await;
        assert_eq!(r.meta()["report"][0]["report"], "Success");
    }
    let p = c1.get("/1.0/pools?target=node1").await;
    assert_eq!(
        (p.meta()[0]["pool"].as_str(), p.meta()[0]["size"].as_u64()),
        (Some(".mgr"), Some(1))
    );
    let r = c1
        .send(
            "PUT",
            "/1.0/pools-op?target=node1",
            Some(json!({"pools": [".mgr"], "size": 3})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        ceph(&sim, "node3").get("/1.0/pools").await.meta()[0]["size"],
        3
    );
    let r = c1
        .put("/1.0/pools-op", json!({"pools": ["nope"], "size": 3}))
        .await;
    assert_eq!(
        (r.status, r.error()),
        // `SetReplicationFactor` (microceph/ceph/osd.go, v19.2.0+squid).
        (
            500,
            "failed to set pool size for nope: Failed to run: ceph osd pool set nope size 3 --yes-i-really-mean-it: exit status 2 (Error ENOENT: unrecognized pool 'nope')"
        )
    );
    assert_eq!(
        c1.put("/1.0/pools-op", json!({"pools": [""], "size": 2}))
            .await
            .status,
        200
    );
    // ?target= forwarding to another member over HTTPS.
    let r = c1.get("/1.0/resources?target=node3").await;
    assert_eq!(
        r.meta()["disks"][2]["device_id"],
        "scsi-0QEMU_QEMU_HARDDISK_ceph-a-3",
        "{}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microovn_services_encap_ip_and_northbound() {
    let bad = sim(1, LxdProfile::Current).await;
    let sim = sim(4, LxdProfile::Current).await;
    let o1 = ovn(&sim, "node1");
    let ip1 = sim.node("node1").unwrap().ip();
    let r = mc_bootstrap(
        &o1,
        "node1",
        ip1,
        6443,
        json!({"ovn-encap-ip": "10.20.0.1"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for (i, node) in ["node2", "node3", "node4"].iter().enumerate() {
        let token = mc_token(&o1, node).await;
        let ip = sim.node(node).unwrap().ip();
        let r = mc_join(
            &ovn(&sim, node),
            node,
            ip,
            6443,
            &token,
            json!({"ovn-encap-ip": format!("10.20.0.{}", i + 2)}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let s = ovn(&sim, "node4").get("/1.0/services").await;
    let central: Vec<&str> = s
        .meta()
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["service"] == "central")
        .map(|s| s["location"].as_str().unwrap())
        .collect();
    assert_eq!(central, ["node1", "node2", "node3"]);
    assert_eq!(
        s.meta()
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["service"] == "chassis")
            .count(),
        4
    );
    assert_eq!(
        sim.node("node3").unwrap().ovn_encap_ip().as_deref(),
        Some("10.20.0.3")
    );
    let nb = sim.ovn_northbound_connection().unwrap();
    let want: Vec<String> = ["node1", "node2", "node3"]
        .iter()
        .map(|n| format!("ssl:{}:6641", sim.node(n).unwrap().ip()))
        .collect();
    assert_eq!(nb, want.join(","));
    let r = mc_join(
        &ovn(&sim, "node4"),
        "node4",
        sim.node("node4").unwrap().ip(),
        6443,
        "x",
        json!({}),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (500, "Unable to initialize cluster: Database is online")
    );
    let r = mc_bootstrap(
        &ovn(&bad, "node1"),
        "node1",
        bad.node("node1").unwrap().ip(),
        6443,
        json!({"ovn-encap-ip": "nope"}),
    )
    .await;
    // MicroOVN hands the value to OVS unchecked (`microovn/ovn/bootstrap.go`,
    // branch-24.03).
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        bad.node("node1").unwrap().ovn_encap_ip().as_deref(),
        Some("nope")
    );
}

/// Real daemons finish a request whose client went away (Go's net/http
/// runs the handler to its end): a bootstrap whose caller gave up after
/// 100 ms still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_client_goes_away_still_completes() {
    let sim = simulators::SimBuilder::new()
        .nodes(1)
        .time_scale(1.0)
        .start()
        .await
        .unwrap();
    let ip = sim.node("node1").unwrap().ip();
    let impatient = ceph(&sim, "node1").with_timeout(Duration::from_millis(100));
    let body = json!({"bootstrap": true, "name": "node1", "address": format!("{ip}:7443"),
        "config": {"PublicNet": format!("{ip}/24"), "ClusterNet": format!("{ip}/24")}});
    let gave_up = impatient.send("POST", "/core/control", Some(body)).await;
    assert!(gave_up.is_err(), "the bootstrap takes about a second");
    let c = ceph(&sim, "node1");
    assert_eq!(c.get("/core/1.0").await.meta()["ready"], false);
    let mut ready = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if c.get("/core/1.0").await.meta()["ready"] == true {
            ready = true;
            break;
        }
    }
    assert!(ready, "the bootstrap finished without its client");
    let members = c.get("/core/1.0/cluster").await;
    assert_eq!(members.meta()[0]["name"], "node1", "{}", members.text);
}
