//! Fault injection: error status, dropped connection, hang (client
//! timeout), crash after N calls, latency, network faults between nodes,
//! restart after a crash, scripts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use simulators::{FaultRule, FaultScript, LxdProfile, Service, Transport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_status_uses_the_services_envelope() {
    let sim = sim(1, LxdProfile::Current).await;
    sim.add_fault(
        "node1",
        FaultRule::on(Service::Lxd, "GET", "/1.0")
            .error(503)
            .times(1),
    )
    .unwrap();
    sim.add_fault(
        "node1",
        FaultRule::on(Service::Microceph, "GET", "/core/**").error_with(500, "boom"),
    )
    .unwrap();
    let r = lxd(&sim, "node1").get("/1.0").await;
    assert_eq!(
        r.text.trim(),
        r#"{"type":"error","status":"","status_code":0,"operation":"","error_code":503,"error":"Service Unavailable","metadata":null}"#
    );
    assert_eq!(
        lxd(&sim, "node1").get("/1.0").await.status,
        200,
        "times(1) fires once"
    );
    let r = ceph(&sim, "node1").get("/core/1.0/ready").await;
    assert_eq!((r.status, r.error()), (500, "boom"));
    // The legacy profile renders default texts in lowercase, like 5.0.2.
    let legacy = sim_legacy().await;
    legacy
        .add_fault(
            "node1",
            FaultRule::on(Service::Lxd, "GET", "/1.0").error(500),
        )
        .unwrap();
    assert_eq!(
        lxd(&legacy, "node1").get("/1.0").await.error(),
        "internal server error"
    );
}

async fn sim_legacy() -> simulators::Sim {
    sim(1, LxdProfile::Legacy).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_closes_the_connection_without_answer() {
    let sim = sim(1, LxdProfile::Current).await;
    sim.add_fault(
        "node1",
        FaultRule::on(Service::Lxd, "GET", "/1.0/resources").drop_connection(),
    )
    .unwrap();
    let e = lxd(&sim, "node1")
        .send("GET", "/1.0/resources", None)
        .await
        .unwrap_err();
    assert!(e.starts_with("request: "), "{e}");
    assert_eq!(
        lxd(&sim, "node1").get("/1.0").await.status,
        200,
        "other endpoints unaffected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_never_answers_until_the_client_times_out() {
    let sim = sim(1, LxdProfile::Current).await;
    sim.add_fault(
        "node1",
        FaultRule::on(Service::Microovn, "GET", "/core/1.0/ready").hang(),
    )
    .unwrap();
    let c = ovn(&sim, "node1").with_timeout(Duration::from_millis(300));
    assert_eq!(
        c.send("GET", "/core/1.0/ready", None).await.unwrap_err(),
        "timeout"
    );
    assert_eq!(c.send("GET", "/core/1.0", None).await.unwrap().status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_n_calls_takes_the_whole_node_down_and_restart_recovers() {
    let sim = sim(2, LxdProfile::Current).await;
    sim.add_fault("node1", FaultRule::any().after(3).times(1).crash_node())
        .unwrap();
    let c = lxd(&sim, "node1");
    for _ in 0..3 {
        assert_eq!(c.get("/1.0").await.status, 200);
    }
    let e = c.send("GET", "/1.0", None).await.unwrap_err();
    assert!(e.starts_with("request: "), "the 4th call is cut: {e}");
    assert!(!sim.node("node1").unwrap().is_alive());
    // Every service of the node is gone; the socket files remain.
    for sock in [
        sim.node("node1").unwrap().microceph_socket(),
        sim.node("node1").unwrap().lxd_socket(),
    ] {
        assert!(sock.exists());
        let e = Client::unix(&sock)
            .send("GET", "/", None)
            .await
            .unwrap_err();
        // Refused once the listener is closed; a connection accepted while
        // the crash was tearing the listeners down is cut instead (as with
        // a daemon dying under a client).
        assert!(
            e.contains("Connection refused") || e.contains("connection closed"),
            "{e}"
        );
    }
    assert_eq!(
        lxd(&sim, "node2").get("/1.0").await.status,
        200,
        "other nodes unaffected"
    );
    sim.restart("node1").unwrap();
    assert_eq!(c.get("/1.0").await.status, 200);
    assert_eq!(ceph(&sim, "node1").get("/core/1.0").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_member_is_offline_and_its_pool_creation_fails() {
    let sim = sim(3, LxdProfile::Current).await;
    lxd_bootstrap(&sim, "node1").await;
    for j in ["node2", "node3"] {
        assert_eq!(lxd_join(&sim, "node1", j).await.meta()["status"], "Success");
    }
    let c = lxd(&sim, "node1");
    for n in ["node1", "node2", "node3"] {
        c.ok(
            "POST",
            &format!("/1.0/storage-pools?target={n}"),
            json!({"name": "d", "driver": "dir"}),
        )
        .await;
    }
    sim.crash("node3").unwrap();
    let m = c.get("/1.0/cluster/members/node3").await;
    assert_eq!(m.meta()["status"], "Offline");
    let r = c
        .post("/1.0/storage-pools", json!({"name": "d", "driver": "dir"}))
        .await;
    let w = c.settle(r).await;
    let ip3 = sim.node("node3").unwrap().ip();
    assert_eq!(
        w.error(),
        format!(
            "Post \"https://{ip3}:8443/1.0/storage-pools\": dial tcp {ip3}:8443: connect: connection refused"
        )
    );
    assert_eq!(
        c.get("/1.0/storage-pools/d").await.meta()["status"],
        "Errored"
    );
    // After a restart the create can be re-run without config.
    sim.restart("node3").unwrap();
    let r = c
        .post("/1.0/storage-pools", json!({"name": "d", "driver": "dir"}))
        .await;
    c.settle(r).await;
    assert_eq!(
        c.get("/1.0/storage-pools/d").await.meta()["status"],
        "Created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_forwarded_to_a_crashed_member_fails_as_on_lxd_5_0_2() {
    let sim = sim(2, LxdProfile::Legacy).await;
    lxd_bootstrap(&sim, "node1").await;
    assert_eq!(
        lxd_join(&sim, "node1", "node2").await.meta()["status"],
        "Success"
    );
    sim.crash("node2").unwrap();
    let r = lxd(&sim, "node1").get("/1.0?target=node2").await;
    let ip2 = sim.node("node2").unwrap().ip();
    // observed on 5.0.2 while the member's listener restarted
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            format!(
                "Get \"https://{ip2}:8443/1.0?target=node2\": Unable to connect to: {ip2}:8443 \
                 ([dial tcp {ip2}:8443: connect: connection refused])"
            )
            .as_str()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_fault_between_nodes_breaks_the_join() {
    let sim = sim(2, LxdProfile::Legacy).await;
    lxd_bootstrap(&sim, "node1").await;
    // node1 drops the joiner's trust request (member-to-member traffic is HTTPS).
    sim.add_fault(
        "node1",
        FaultRule::on(Service::Lxd, "POST", "/1.0/certificates")
            .over(Transport::Https)
            .drop_connection()
            .times(1),
    )
    .unwrap();
    let (token, _) = lxd_token(&sim, "node1", "node2").await;
    let body = lxd_join_body(&sim, "node2", &token, json!([])).await;
    let c = lxd(&sim, "node2");
    let r = c.put("/1.0/cluster", body.clone()).await;
    let w = c.settle(r).await;
    let ip1 = sim.node("node1").unwrap().ip();
    assert_eq!(
        w.meta()["err"],
        format!(
            "Failed to setup cluster trust: Failed to add server cert to cluster: Post \"https://{ip1}:8443/1.0/certificates\": EOF"
        )
    );
    // The token was not consumed; a second attempt succeeds.
    let r = c.put("/1.0/cluster", body).await;
    assert_eq!(c.settle(r).await.meta()["status"], "Success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microcluster_join_fails_when_the_member_hangs_up() {
    let sim = sim(2, LxdProfile::Current).await;
    let c1 = ceph(&sim, "node1");
    let ip1 = sim.node("node1").unwrap().ip();
    assert_eq!(
        mc_bootstrap(&c1, "node1", ip1, 7443, json!({}))
            .await
            .status,
        200
    );
    let token = mc_token(&c1, "node2").await;
    sim.add_fault(
        "node1",
        FaultRule::on(Service::Microceph, "POST", "/core/internal/cluster").drop_connection(),
    )
    .unwrap();
    let ip2 = sim.node("node2").unwrap().ip();
    let r = mc_join(&ceph(&sim, "node2"), "node2", ip2, 7443, &token, json!({})).await;
    assert_eq!(
        (r.status, r.error().to_string()),
        (
            500,
            format!(
                "1 join attempts were unsuccessful. Last error: Post \"https://{ip1}:7443/core/internal/cluster\": EOF"
            )
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_scripts() {
    let sim = simulators::SimBuilder::new()
        .nodes(1)
        .time_scale(0.001)
        .start()
        .await
        .unwrap();
    let script = FaultScript::parse(
        "rules:\n  - node: node1\n    service: lxd\n    path: /1.0\n    action: { kind: latency, min_ms: 10, max_ms: 20 }\n  - node: node1\n    service: lxd\n    method: GET\n    path: /1.0/networks/*\n    action: { kind: error, status: 404, message: Network not found }\n",
        "inline.yaml",
    )
    .unwrap();
    sim.apply_script(&script).unwrap();
    let c = lxd(&sim, "node1");
    assert_eq!(c.get("/1.0").await.status, 200, "latency still answers");
    assert_eq!(
        c.get("/1.0/networks/enp5s0").await.error(),
        "Network not found"
    );
    assert_eq!(
        c.get("/1.0/networks").await.status,
        200,
        "* does not cross segments"
    );
    let e = sim.add_fault("node9", FaultRule::any()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no simulated node named \"node9\" (known: node1)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_ends_background_operations_and_the_restarted_daemon_forgets_them() {
    // Real time: a directory pool takes 100 ms to create.
    let sim = simulators::SimBuilder::new()
        .nodes(1)
        .time_scale(1.0)
        .start()
        .await
        .unwrap();
    let c = lxd(&sim, "node1");
    let r = c
        .post("/1.0/storage-pools", json!({"name": "d", "driver": "dir"}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let op = r.header("location").unwrap().to_string();
    sim.crash("node1").unwrap();
    sim.restart("node1").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let o = c.get(&op).await;
    assert_eq!(
        (o.status, o.error()),
        (404, "Operation not found"),
        "{}",
        o.text
    );
    let p = c.get("/1.0/storage-pools/d").await;
    assert_eq!(p.status, 404, "the crash stopped the creation: {}", p.text);
}
