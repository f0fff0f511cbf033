//! MicroCeph answers as the real daemon (v19.2.0+squid) gives them, each
//! pinned to its upstream source (canonical/microceph; the table is
//! `docs/contracts/microceph.md`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};
use simulators::{LxdProfile, NodeSpec, Sim, SimBuilder};

/// `nodes` nodes; MicroCeph bootstrapped on node1 with `config`.
async fn bootstrapped(nodes: usize, config: Value) -> Sim {
    let sim = sim(nodes, LxdProfile::Current).await;
    let ip = sim.node("node1").unwrap().ip();
    let r = mc_bootstrap(&ceph(&sim, "node1"), "node1", ip, 7443, config).await;
    assert_eq!(r.status, 200, "{}", r.text);
    sim
}

async fn join(sim: &Sim, name: &str) -> Resp {
    let token = mc_token(&ceph(sim, "node1"), name).await;
    let ip = sim.node(name).unwrap().ip();
    mc_join(&ceph(sim, name), name, ip, 7443, &token, json!({})).await
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_address_is_a_local_address_inside_the_public_network() {
    // prepareCephBootstrapData (microceph/ceph/bootstrap.go, squid): without
    // MonIp, FindIpOnSubnet(PublicNet) — here enp7s0's 10.20.0.<index>,
    // not the bootstrap address.
    let sim = bootstrapped(3, json!({"PublicNet": "10.20.0.0/24"})).await;
    let n1 = sim.node("node1").unwrap();
    assert_eq!(n1.ceph_mon_address(), Some("10.20.0.1".parse().unwrap()));
    // Joiners that become monitors take theirs the same way (updateDbForMon,
    // microceph/ceph/join.go).
    for name in ["node2", "node3"] {
        let r = join(&sim, name).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(
        sim.node("node3").unwrap().ceph_mon_address(),
        Some("10.20.0.3".parse().unwrap())
    );
    let r = ceph(&sim, "node2")
        .send("GET", "/1.0/configs", Some(json!({"key": ""})))
        .await
        .unwrap();
    assert_eq!(
        r.meta(),
        &json!([
            {"key": "cluster_network", "value": "10.20.0.0/24", "wait": false, "skip_restart": false},
            {"key": "public_network", "value": "10.20.0.0/24", "wait": false, "skip_restart": false}
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_network_without_a_local_address_fails_the_bootstrap_and_the_mon_join() {
    let sim = sim(2, LxdProfile::Current).await;
    let c1 = ceph(&sim, "node1");
    let ip = sim.node("node1").unwrap().ip();
    let r = mc_bootstrap(&c1, "node1", ip, 7443, json!({"PublicNet": "10.99.0.0/24"})).await;
    // The hook's error (the mon IP is still empty, hence two spaces),
    // wrapped by microcluster (internal/daemon/daemon.go, v2.0.x).
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "Failed to run post-bootstrap actions: failed to locate  on host: no IP belongs to provided subnet 10.99.0.0/24"
        )
    );
    assert_eq!(c1.get("/core/1.0").await.meta()["ready"], false);
    // MonIp outside the public network.
    let r = mc_bootstrap(
        &c1,
        "node1",
        ip,
        7443,
        json!({"PublicNet": "10.20.0.0/24", "MonIp": "10.30.0.1"}),
    )
    .await;
    assert_eq!(
        r.error(),
        "Failed to run post-bootstrap actions: monIp 10.30.0.1 is not available on public network 10.20.0.0/24"
    );

    // node2 has no address in 10.20.0.0/24: as the second monitor its
    // post-join hook fails, unwrapped (updateDbForMon, squid).
    assert_eq!(
        mc_bootstrap(&c1, "node1", ip, 7443, json!({"PublicNet": "10.20.0.0/24"}))
            .await
            .status,
        200
    );
    sim.node("node2")
        .unwrap()
        .edit_inventory(|i| i.interfaces.retain(|i| i.name != "enp7s0"));
    let r = join(&sim, "node2").await;
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "failed to record mon db entries: failed to locate ip on subnet 10.20.0.0/24: no IP belongs to provided subnet 10.20.0.0/24"
        )
    );
    let members = c1.get("/core/1.0/cluster").await;
    assert_eq!(members.meta().as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_public_network_it_is_the_bootstrap_address_in_host_form() {
    // FindNetworkAddress returns the local IPNet as Go writes it.
    let sim = bootstrapped(1, json!({})).await;
    let ip = sim.node("node1").unwrap().ip();
    let r = ceph(&sim, "node1")
        .send(
            "GET",
            "/1.0/configs",
            Some(json!({"key": "public_network"})),
        )
        .await
        .unwrap();
    // `ceph config get` output, newline included (GetConfigItem).
    assert_eq!(r.meta()[0]["value"], format!("{ip}/24\n"));
    assert_eq!(sim.node("node1").unwrap().ceph_mon_address(), Some(ip));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_outside_the_config_table_are_500s_for_get_and_put() {
    let sim = bootstrapped(1, json!({})).await;
    let c = ceph(&sim, "node1");
    // getClusterConfigDefinition (microceph/ceph/config.go, squid).
    let r = c
        .send(
            "GET",
            "/1.0/configs",
            Some(json!({"key": "osd_pool_default_size"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "requested key osd_pool_default_size is not a MicroCeph supported cluster config"
        )
    );
    let r = c
        .put(
            "/1.0/configs",
            json!({"key": "osd_pool_default_size", "value": "3"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "config set(osd_pool_default_size) failed: requested key osd_pool_default_size is not a MicroCeph supported cluster config"
        )
    );
    let r = c
        .put(
            "/1.0/configs",
            json!({"key": "public_network", "value": "10.0.0.0/8"}),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "config set(public_network) failed: requested key public_network does not support write operation"
        )
    );
    // `rbd_default_features` only joins the table in v20.2.1.
    let r = c
        .put(
            "/1.0/configs",
            json!({"key": "rbd_default_features", "value": "3"}),
        )
        .await;
    assert_eq!(r.status, 500);
    let r = c
        .put(
            "/1.0/configs",
            json!({"key": "osd_pool_default_crush_rule", "value": "2"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_answers_services_crush_rules_and_encryption() {
    let sim = bootstrapped(3, json!({"PublicNet": "10.20.0.0/24"})).await;
    for name in ["node2", "node3"] {
        assert_eq!(join(&sim, name).await.status, 200);
    }
    let c1 = ceph(&sim, "node1");
    // No disk asked for: `DiskAddResponse{}` (squid's two fields, nil
    // report).
    let r = c1.post("/1.0/disks", json!({"path": []})).await;
    assert_eq!(r.meta(), &json!({"validation_error": "", "report": null}));
    let r = c1
        .post("/1.0/disks", json!({"path": ["/dev/sda"], "encrypt": true}))
        .await;
    assert_eq!(
        r.meta(),
        &json!({"validation_error": "", "report": [{"path": "/dev/sda", "report": "Success", "error": ""}]})
    );
    // Pools follow the OSD-level rule until three hosts hold OSDs
    // (ensureCrushRules, updateFailureDomain; squid).
    let pools = c1.get("/1.0/pools").await;
    assert_eq!(pools.meta()[0]["crush_rule"], "microceph_auto_osd");
    for name in ["node2", "node3"] {
        let r = ceph(&sim, name)
            .post("/1.0/disks", json!({"path": ["/dev/sda"]}))
            .await;
        assert_eq!(r.meta()["report"][0]["report"], "Success");
    }
    let pools = c1.get("/1.0/pools").await;
    assert_eq!(
        pools.meta(),
        &json!([{"pool": ".mgr", "pool_id": 1, "size": 1, "min_size": 1, "crush_rule": "microceph_auto_host"}])
    );
    // `GET /1.0/disks` is `types.Disk`: osd, path, location, and no more.
    let disks = c1.get("/1.0/disks").await;
    for d in disks.meta().as_array().unwrap() {
        assert_eq!(keys(d), ["location", "osd", "path"]);
    }
    // Encryption is what the machine keeps.
    let osds = sim.node("node1").unwrap().ceph_osds();
    assert_eq!(
        osds.iter()
            .map(|o| (o.path.as_str(), o.encrypted))
            .collect::<Vec<_>>(),
        [("/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-a-1", true)]
    );
    assert!(!sim.node("node2").unwrap().ceph_osds()[0].encrypted);
    // Services: the services table only, `{service, location}`; no OSDs.
    let services = c1.get("/1.0/services").await;
    let listed: Vec<(&str, &str)> = services
        .meta()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(keys(s), ["location", "service"]);
            (
                s["service"].as_str().unwrap(),
                s["location"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed.len(), 9);
    assert!(!listed.iter().any(|(s, _)| *s == "osd"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_a_daemon_listens_on_is_local_even_when_the_inventory_omits_it() {
    // A daemon can only listen on a local address; a simulation standing in
    // for real machines (the real-services tier) listens on addresses its
    // inventory does not list. FindNetworkAddress then finds it.
    let fixture = r#"{"disks":[],"interfaces":[]}"#;
    let sim = SimBuilder::new()
        .node(NodeSpec::new("node1").inventory(fixture))
        .time_scale(0.0)
        .start()
        .await
        .unwrap();
    let ip = sim.node("node1").unwrap().ip();
    let r = mc_bootstrap(&ceph(&sim, "node1"), "node1", ip, 7443, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = ceph(&sim, "node1")
        .send("GET", "/1.0/configs", Some(json!({"key": ""})))
        .await
        .unwrap();
    assert_eq!(r.meta()[1]["value"], format!("{ip}/24"));
}
