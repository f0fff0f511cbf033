//! The microcluster core API as the real daemons answer it, for both
//! endpoint families: `/core` (microcluster v1.0.0+, pinned here at v2.0.4
//! and v3; MicroCeph squid and newer, MicroOVN 24.03 and newer) and the
//! older `/cluster` (microcluster 3d587817830c, vendored by MicroCeph
//! `v18.2.4+reef`). Every expectation names the upstream file it comes
//! from; docs/contracts/microcluster.md lists them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use simulators::{McFamily, Sim, SimBuilder};

async fn sim_of(n: usize, family: McFamily) -> Sim {
    SimBuilder::new()
        .nodes(n)
        .microceph_family(family)
        .time_scale(0.0)
        .start()
        .await
        .unwrap()
}

/// `internal/rest/types/server.go` and `internal/rest/resources/resources.go`
/// at 3d587817830c: `cluster/1.0`, `cluster/control`, tokens under the
/// public API; `GET /core/1.0` is the catch-all 404 (`mux.NotFoundHandler`
/// in `internal/daemon/daemon.go`), and the reverse holds for a v2+ daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_family_serves_its_own_paths_only() {
    let sim = sim_of(2, McFamily::Cluster).await;
    let reef = ceph(&sim, "node1");
    let r = reef.get("/core/1.0").await;
    assert_eq!((r.status, r.error()), (404, "not found"));
    let r = reef.get("/cluster/1.0").await;
    assert_eq!(r.status, 200);
    // No `version` before v2; one internal extension, a bare string.
    assert_eq!(
        r.meta(),
        &json!({"name": "node1", "address": "", "ready": false, "extensions": "internal:runtime_extension_v1"})
    );
    assert_eq!(reef.get("/cluster/1.0/ready").await.status, 200);
    let ip1 = sim.node("node1").unwrap().ip();
    let r = reef
        .post(
            "/cluster/control",
            json!({"bootstrap": true, "name": "node1", "address": format!("{ip1}:7443"), "config": {}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(reef.post("/core/control", json!({})).await.status, 404);
    assert_eq!(
        reef.post("/cluster/control/tokens", json!({"name": "node2"}))
            .await
            .status,
        404
    );
    // Tokens: `POST /cluster/1.0/tokens`, `TokenRecord{name, token}`, no
    // expiry (an `expire_after` is ignored), no `expires_at` in the list.
    let r = reef
        .post(
            "/cluster/1.0/tokens",
            json!({"name": "node2", "expire_after": -1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.meta().as_str().unwrap().to_owned();
    let r = reef.get("/cluster/1.0/tokens").await;
    assert_eq!(r.meta(), &json!([{"name": "node2", "token": token}]));
    let r = reef
        .post("/cluster/1.0/tokens", json!({"name": "node2"}))
        .await;
    assert_eq!(
        (r.status, r.error()),
        (409, "This \"internal_token_records\" entry already exists")
    );
    // The join handshake goes to `/cluster/1.0/cluster`.
    let ip2 = sim.node("node2").unwrap().ip();
    let r = ceph(&sim, "node2")
        .post(
            "/cluster/control",
            json!({"join_token": token, "name": "node2", "address": format!("{ip2}:7443"), "config": {}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = reef.get("/cluster/1.0/cluster").await;
    assert_eq!(r.meta().as_array().unwrap().len(), 2);
    let r = reef.delete("/cluster/1.0/tokens/node2").await;
    assert_eq!(
        (r.status, r.error()),
        (404, "InternalTokenRecord not found")
    );

    let sim = sim_of(1, McFamily::Core).await;
    let squid = ceph(&sim, "node1");
    let r = squid.get("/cluster/1.0").await;
    assert_eq!((r.status, r.error()), (404, "not found"));
    let r = squid.get("/core/1.0").await;
    // `internalExtensions` (`internal/extensions/extensions.go`, v2.0.4):
    // two, so always an array.
    assert_eq!(
        r.meta()["extensions"],
        json!([
            "internal:runtime_extension_v1",
            "internal:rename_core_endpoints"
        ])
    );
    assert_eq!(r.meta()["version"], "19.2.0");
    let r = ovn(&sim, "node1").get("/core/1.0").await;
    assert_eq!(
        r.meta()["extensions"],
        json!([
            "internal:runtime_extension_v1",
            "internal:rename_core_endpoints",
            "custom_encapsulation_ip"
        ])
    );
}

/// `controlPost` (`internal/rest/resources/control.go`): bootstrap with a
/// token is a plain error (500) in both families; the name goes through
/// `ValidateFQDN` (v2.0.4: a 400 `StatusError`; 3d587817830c: a plain
/// error, 500); v2 refuses an initialised daemon before reading the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_refusals() {
    for (family, control, empty, bad) in [
        (
            McFamily::Core,
            "/core/control",
            (
                400,
                "Cluster member name \"\" is not a valid FQDN: Name must be 1-255 characters long",
            ),
            (
                400,
                "Cluster member name \"no_de\" is not a valid FQDN: Name can only contain alphanumeric and hyphen characters",
            ),
        ),
        (
            McFamily::Cluster,
            "/cluster/control",
            (
                500,
                "Invalid cluster member name \"\": Name must be 1-255 characters long",
            ),
            (
                500,
                "Invalid cluster member name \"no_de\": Name can only contain alphanumeric and hyphen characters",
            ),
        ),
    ] {
        let sim = sim_of(1, family).await;
        let c = ceph(&sim, "node1");
        let ip = sim.node("node1").unwrap().ip();
        let address = format!("{ip}:7443");
        let r = c
            .post(
                control,
                json!({"bootstrap": true, "join_token": "x", "name": "node1", "address": address}),
            )
            .await;
        assert_eq!(
            (r.status, r.error()),
            (
                500,
                "Invalid options - received join token and bootstrap flag"
            )
        );
        let r = c
            .post(
                control,
                json!({"bootstrap": true, "name": "", "address": address}),
            )
            .await;
        assert_eq!((r.status, r.error()), empty, "{family:?}");
        let r = c
            .post(
                control,
                json!({"bootstrap": true, "name": "no_de", "address": address}),
            )
            .await;
        assert_eq!((r.status, r.error()), bad, "{family:?}");
        let r = c
            .post(
                control,
                json!({"bootstrap": true, "name": "node1", "address": address}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = c
            .post(
                control,
                json!({"bootstrap": true, "name": "node1", "address": address}),
            )
            .await;
        assert_eq!(
            (r.status, r.error()),
            (500, "Unable to initialize cluster: Database is online")
        );
    }
}

/// `tokensPost` (`internal/rest/resources/tokens.go`, v2.0.4 and v3):
/// the name must be an FQDN (400); `expire_after` sets an expiry whenever
/// it is not 0 (a negative one has already passed; 0 never expires);
/// `clusterPost` refuses an expired token with a plain error (500), which
/// the joiner's `joinWithToken` wraps keeping the status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_names_and_expiry() {
    let sim = sim_of(3, McFamily::Core).await;
    let c1 = ceph(&sim, "node1");
    let ip1 = sim.node("node1").unwrap().ip();
    let r = mc_bootstrap(&c1, "node1", ip1, 7443, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c1
        .post(
            "/core/control/tokens",
            json!({"name": "a_b", "expire_after": 0}),
        )
        .await;
    assert_eq!(
        (r.status, r.error()),
        (
            400,
            "Token name \"a_b\" is not a valid FQDN: Name can only contain alphanumeric and hyphen characters"
        )
    );
    let r = c1
        .post(
            "/core/control/tokens",
            json!({"name": "node2", "expire_after": 0}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = c1
        .post(
            "/core/control/tokens",
            json!({"name": "node3", "expire_after": -1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let expired = r.meta().as_str().unwrap().to_owned();
    // The list leaves expired records out; 0 is Go's zero time.
    let r = c1.get("/core/control/tokens").await;
    let list = r.meta().as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (&list[0]["name"], &list[0]["expires_at"]),
        (&json!("node2"), &json!("0001-01-01T00:00:00Z"))
    );
    let ip3 = sim.node("node3").unwrap().ip();
    let r = mc_join(
        &ceph(&sim, "node3"),
        "node3",
        ip3,
        7443,
        &expired,
        json!({}),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (
            500,
            "1 join attempts were unsuccessful. Last error: Token expired"
        )
    );
    // An unknown secret: the record lookup's 404 comes through.
    let unknown = b64(
        &json!({"secret": "nope", "fingerprint": sim.node("node1").unwrap().microceph_cluster_fingerprint(), "join_addresses": [format!("{ip1}:7443")]}),
    );
    let r = mc_join(
        &ceph(&sim, "node3"),
        "node3",
        ip3,
        7443,
        &unknown,
        json!({}),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (
            404,
            "1 join attempts were unsuccessful. Last error: CoreTokenRecord not found"
        )
    );
}

/// `clusterMemberDelete` (`internal/rest/resources/cluster.go`, v2.0.4,
/// v3 and 3d587817830c): an unknown name is a plain error, 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_unknown_member() {
    for (family, path) in [
        (McFamily::Core, "/core/1.0/cluster/nope?force=1"),
        (McFamily::Cluster, "/cluster/1.0/cluster/nope?force=1"),
    ] {
        let sim = sim_of(1, family).await;
        let c = ceph(&sim, "node1");
        let ip = sim.node("node1").unwrap().ip();
        let control = path.split("/1.0").next().unwrap().to_owned() + "/control";
        let r = c
            .post(
                &control,
                json!({"bootstrap": true, "name": "node1", "address": format!("{ip}:7443")}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = c.delete(path).await;
        assert_eq!(
            (r.status, r.error()),
            (500, "No remote exists with the given name \"nope\""),
            "{family:?}"
        );
    }
}

/// `getWaitReady` (`internal/rest/resources/ready.go`, v2.0.4, v3 and
/// 3d587817830c): 503 until `ReadyChan` closes at the end of the daemon's
/// start (`internal/daemon/daemon.go` `Run`), whatever the
/// initialisation; the server info answers meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_while_the_daemon_starts() {
    let sim = SimBuilder::new()
        .nodes(1)
        .timings(simulators::Timings {
            microcluster_start: Duration::from_millis(800),
            ..simulators::Timings::default()
        })
        .time_scale(1.0)
        .start()
        .await
        .unwrap();
    for client in [ceph(&sim, "node1"), ovn(&sim, "node1")] {
        let r = client.get("/core/1.0/ready").await;
        assert_eq!((r.status, r.error()), (503, "Daemon is not ready yet"));
        assert_eq!(client.get("/core/1.0").await.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for client in [ceph(&sim, "node1"), ovn(&sim, "node1")] {
        assert_eq!(client.get("/core/1.0/ready").await.status, 200);
    }
}

/// MicroOVN takes the encapsulation IP from the init config key
/// `ovn-encap-ip` at bootstrap and join, defaults it to the host part of
/// the member address, and does not check it: it goes to `ovs-vsctl set
/// open_vswitch . external_ids:ovn-encap-ip=<value>`
/// (`microovn/ovn/bootstrap.go`, `microovn/ovn/join.go`, branch-24.03,
/// branch-25.03, main). The simulator keeps it per member, readable as
/// the switch would show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microovn_keeps_each_members_encap_ip() {
    let sim = sim_of(2, McFamily::Core).await;
    let o1 = ovn(&sim, "node1");
    let ip1 = sim.node("node1").unwrap().ip();
    let r = mc_bootstrap(
        &o1,
        "node1",
        ip1,
        6443,
        json!({"ovn-encap-ip": "not-an-ip"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = mc_token(&o1, "node2").await;
    let ip2 = sim.node("node2").unwrap().ip();
    let r = mc_join(&ovn(&sim, "node2"), "node2", ip2, 6443, &token, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        sim.node("node1").unwrap().ovn_encap_ip().as_deref(),
        Some("not-an-ip")
    );
    assert_eq!(
        sim.node("node2").unwrap().ovn_encap_ip(),
        Some(ip2.to_string())
    );
}
