//! Faults injected with the simulators' fault API, and how the clients
//! classify and describe them: 5xx, dropped connections and hangs are
//! transient; 400, 403 and 404 are not. Every error names the service,
//! node, method and path.

use std::time::Duration;

use clients::lxd::{LxdApi, LxdClient, NetworksPost, ServerPut};
use clients::microceph::{DisksPost, MicroCephApi, MicroCephClient};
use clients::microcluster::MicroclusterApi;
use clients::microovn::MicroOvnClient;
use clients::transport::Transport;
use clients::{Error, Service};
use simulators::{FaultRule, LxdProfile, Service as SimService, Transport as SimTransport};

use crate::support::*;

fn fast_lxd(sim: &simulators::Sim, name: &str) -> LxdClient {
    LxdClient::from_rest(short_rest(
        Transport::unix(node(sim, name).lxd_socket()),
        Service::Lxd,
        name,
    ))
}

fn socket(sim: &simulators::Sim, name: &str, service: SimService) -> String {
    let n = node(sim, name);
    let path = match service {
        SimService::Lxd => n.lxd_socket(),
        SimService::Microceph => n.microceph_socket(),
        SimService::Microovn => n.microovn_socket(),
    };
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_5xx_are_transient_and_named() {
    for profile in PROFILES {
        let sim = sim(1, profile).await;
        let c = lxd(&sim, "node1");
        sim.add_fault(
            "node1",
            FaultRule::on(SimService::Lxd, "GET", "/1.0")
                .error(503)
                .times(1),
        )
        .unwrap();
        let e = c.server(None).await.unwrap_err();
        assert!(matches!(e, Error::Status { status: 503, .. }), "{e:?}");
        assert!(e.is_transient());
        assert_eq!(
            context_of(&e),
            ctx(Service::Lxd, "node1", http::Method::GET, "/1.0")
        );
        // LXD 5.0.2 writes Go's status texts in lowercase.
        let text = match profile {
            LxdProfile::Legacy => "service unavailable",
            LxdProfile::Current => "Service Unavailable",
        };
        assert_eq!(
            e.to_string(),
            format!("LXD on node node1, GET /1.0: the service answered 503: {text}")
        );
        // Transient indeed: the same call succeeds once the fault is gone.
        c.server(None).await.unwrap();

        sim.add_fault(
            "node1",
            FaultRule::on(SimService::Lxd, "PATCH", "/1.0").error_with(500, "database is locked"),
        )
        .unwrap();
        let e = c
            .patch_server(
                &ServerPut {
                    config: map(&[("user.x", "1")]),
                },
                None,
                None,
            )
            .await
            .unwrap_err();
        assert!(e.is_transient());
        assert_eq!(
            e.to_string(),
            "LXD on node node1, PATCH /1.0: the service answered 500: database is locked"
        );
    }

    // The same for the microcluster daemons. A bare 500 is a failure
    // that does not pass by itself; a busy database does.
    let sim = sim(1, LxdProfile::Current).await;
    sim.add_fault(
        "node1",
        FaultRule::on(SimService::Microceph, "GET", "/core/1.0")
            .error(500)
            .times(1),
    )
    .unwrap();
    let e = ceph(&sim, "node1").server_info().await.unwrap_err();
    assert!(!e.is_transient());
    assert_eq!(
        e.to_string(),
        "MicroCeph on node node1, GET /core/1.0: the service answered 500: Internal Server Error"
    );
    sim.add_fault(
        "node1",
        FaultRule::on(SimService::Microceph, "GET", "/core/1.0")
            .error_with(500, "database is busy")
            .times(1),
    )
    .unwrap();
    let e = ceph(&sim, "node1").server_info().await.unwrap_err();
    assert!(e.is_transient());
    // A 503 from bootstrap is the one retryable bootstrap failure.
    sim.add_fault(
        "node1",
        FaultRule::on(SimService::Microovn, "POST", "/core/control")
            .error_with(503, "Daemon is not ready yet")
            .times(1),
    )
    .unwrap();
    let o = ovn(&sim, "node1");
    let addr = mc_addr(&sim, "node1", OVN_PORT);
    let config = clients::microovn::init_config(encap_ip(1));
    let e = o.bootstrap("node1", addr, &config).await.unwrap_err();
    assert!(
        matches!(e, Error::ControlFailed { status: 503, .. }),
        "{e:?}"
    );
    assert!(e.is_transient());
    assert_eq!(
        context_of(&e),
        ctx(
            Service::MicroOvn,
            "node1",
            http::Method::POST,
            "/core/control"
        )
    );
    o.bootstrap("node1", addr, &config).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_4xx_are_permanent() {
    let sim = lxd_cluster(1, LxdProfile::Current).await;
    let c = lxd(&sim, "node1");
    let cases: [(u16, &str, &str, &str); 3] = [
        (400, "GET", "/1.0/resources", "Bad Request"),
        (404, "GET", "/1.0/storage-pools/*", "Not Found"),
        // LXD's `Forbidden` response says "not authorized".
        (403, "GET", "/1.0/cluster/members", "not authorized"),
    ];
    for (status, method, path, _) in cases {
        sim.add_fault(
            "node1",
            FaultRule::on(SimService::Lxd, method, path).error(status),
        )
        .unwrap();
    }
    let results = [
        c.resources(None).await.map(drop),
        c.storage_pool("local", None).await.map(drop),
        c.cluster_members().await.map(drop),
    ];
    let paths = [
        "/1.0/resources",
        "/1.0/storage-pools/local",
        "/1.0/cluster/members?recursion=1",
    ];
    for (((status, _, _, text), result), path) in cases.iter().zip(results).zip(paths) {
        let e = result.unwrap_err();
        assert_eq!(e.status(), Some(*status));
        assert!(!e.is_transient(), "{status} is permanent");
        assert_eq!(
            context_of(&e),
            ctx(Service::Lxd, "node1", http::Method::GET, path)
        );
        assert_eq!(
            e.to_string(),
            format!("LXD on node node1, GET {path}: the service answered {status}: {text}")
        );
    }

    // A microcluster 404 likewise.
    ceph_cluster(&sim, 1).await;
    sim.add_fault(
        "node1",
        FaultRule::on(SimService::Microceph, "GET", "/1.0/pools").error_with(404, "not found"),
    )
    .unwrap();
    let e = ceph(&sim, "node1").pools(Some("node1")).await.unwrap_err();
    assert!(!e.is_transient());
    assert_eq!(
        e.to_string(),
        "MicroCeph on node node1, GET /1.0/pools?target=node1: the service answered 404: not found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_transient() {
    let sim = sim(1, LxdProfile::Legacy).await;
    sim.add_fault(
        "node1",
        FaultRule::on(SimService::Lxd, "GET", "/1.0/resources")
            .drop_connection()
            .times(1),
    )
    .unwrap();
    let c = lxd(&sim, "node1");
    let e = c.resources(None).await.unwrap_err();
    assert!(matches!(e, Error::Http { .. }), "{e:?}");
    assert!(e.is_transient());
    assert_eq!(
        context_of(&e),
        ctx(Service::Lxd, "node1", http::Method::GET, "/1.0/resources")
    );
    assert_eq!(
        e.to_string(),
        format!(
            "LXD on node node1, GET /1.0/resources: the HTTP exchange with unix socket {} failed",
            socket(&sim, "node1", SimService::Lxd)
        )
    );
    c.resources(None).await.unwrap();

    // MicroCeph's disk call: a dropped answer is not a disk failure.
    ceph_cluster(&sim, 1).await;
    sim.add_fault(
        "node1",
        FaultRule::on(SimService::Microceph, "POST", "/1.0/disks").drop_connection(),
    )
    .unwrap();
    let e = ceph(&sim, "node1")
        .add_disks(
            &DisksPost::new(vec!["/dev/sda".to_owned()], false, false),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Http { .. }), "{e:?}");
    assert!(e.is_transient());
    assert_eq!(
        e.to_string(),
        format!(
            "MicroCeph on node node1, POST /1.0/disks: the HTTP exchange with unix socket {} failed",
            socket(&sim, "node1", SimService::Microceph)
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_times_out_transiently() {
    let sim = sim(1, LxdProfile::Current).await;
    sim.add_fault(
        "node1",
        FaultRule::on(SimService::Microovn, "GET", "/core/1.0/ready").hang(),
    )
    .unwrap();
    let o = MicroOvnClient::from_rest(short_rest(
        Transport::unix(node(&sim, "node1").microovn_socket()),
        Service::MicroOvn,
        "node1",
    ));
    let e = o.ready().await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.is_transient());
    assert_eq!(
        context_of(&e),
        ctx(
            Service::MicroOvn,
            "node1",
            http::Method::GET,
            "/core/1.0/ready"
        )
    );
    assert_eq!(
        e.to_string(),
        format!(
            "MicroOVN on node node1, GET /core/1.0/ready: no answer from unix socket {} within 1.5s; the service may be starting, overloaded or stuck",
            socket(&sim, "node1", SimService::Microovn)
        )
    );
    // Other endpoints still answer.
    o.server_info().await.unwrap();

    // A hung microcluster control call uses the long timeout, and times
    // out the same way.
    let c = MicroCephClient::from_rest(short_rest(
        Transport::unix(node(&sim, "node1").microceph_socket()),
        Service::MicroCeph,
        "node1",
    ));
    sim.add_fault(
        "node1",
        FaultRule::on(SimService::Microceph, "POST", "/core/control").hang(),
    )
    .unwrap();
    let e = c
        .bootstrap(
            "node1",
            mc_addr(&sim, "node1", CEPH_PORT),
            &Default::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_while_waiting_for_an_operation_name_the_wait_call() {
    let sim = lxd_cluster(1, LxdProfile::Current).await;
    let c = fast_lxd(&sim, "node1");
    let pending = NetworksPost {
        name: "UPLINK".to_owned(),
        kind: "physical".to_owned(),
        config: map(&[("parent", "enp6s0")]),
        description: String::new(),
    };
    sim.add_fault(
        "node1",
        FaultRule::on(SimService::Lxd, "GET", "/1.0/operations/*/wait")
            .error(503)
            .times(1),
    )
    .unwrap();
    let e = c.create_network(&pending, Some("node1")).await.unwrap_err();
    assert!(e.is_transient());
    let Error::Status { ctx: at, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(at.method, http::Method::GET);
    assert!(
        at.path.starts_with("/1.0/operations/") && at.path.ends_with("/wait?timeout=5"),
        "{}",
        at.path
    );
    assert_eq!(
        e.to_string(),
        format!(
            "LXD on node node1, GET {}: the service answered 503: Service Unavailable",
            at.path
        )
    );

    // A hang on the wait: the request times out, transiently.
    sim.add_fault(
        "node1",
        FaultRule::on(SimService::Lxd, "GET", "/1.0/operations/*/wait")
            .hang()
            .times(1),
    )
    .unwrap();
    let hung = LxdClient::from_rest(
        short_rest(
            Transport::unix(node(&sim, "node1").lxd_socket()),
            Service::Lxd,
            "node1",
        )
        .with_timeouts(clients::rest::Timeouts {
            wait_chunk: Duration::from_millis(100),
            ..short_timeouts()
        }),
    );
    let e = hung
        .create_network(
            &NetworksPost {
                name: "OTHER".to_owned(),
                ..pending.clone()
            },
            Some("node1"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_over_https_are_classified_the_same() {
    let sim = sim(1, LxdProfile::Current).await;
    let unix = lxd(&sim, "node1");
    unix.patch_server(
        &ServerPut {
            config: map(&[("core.https_address", &lxd_addr(&sim, "node1"))]),
        },
        None,
        None,
    )
    .await
    .unwrap();
    let admin = identity("admin");
    unix.add_certificate(&clients::lxd::CertificatesPost::add_client(
        "admin",
        &admin.cert_base64_der(),
    ))
    .await
    .unwrap();
    let transport = Transport::https(
        &lxd_addr(&sim, "node1"),
        &admin,
        fingerprint(&node(&sim, "node1").lxd_server_fingerprint()),
    )
    .unwrap();
    let https = LxdClient::from_rest(short_rest(transport, Service::Lxd, "node1"));
    let endpoint = format!("https://{}", lxd_addr(&sim, "node1"));

    for (rule, check) in [
        (
            FaultRule::on(SimService::Lxd, "GET", "/1.0").error(503),
            "the service answered 503: Service Unavailable".to_owned(),
        ),
        (
            FaultRule::on(SimService::Lxd, "GET", "/1.0").drop_connection(),
            format!("the HTTP exchange with {endpoint} failed"),
        ),
        (
            FaultRule::on(SimService::Lxd, "GET", "/1.0").hang(),
            format!(
                "no answer from {endpoint} within 1.5s; the service may be starting, overloaded or stuck"
            ),
        ),
    ] {
        sim.clear_faults("node1").unwrap();
        sim.add_fault("node1", rule.over(SimTransport::Https).times(1))
            .unwrap();
        // Only HTTPS is affected.
        unix.server(None).await.unwrap();
        let e = https.server(None).await.unwrap_err();
        assert!(e.is_transient(), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!("LXD on node node1, GET /1.0: {check}")
        );
    }
    sim.clear_faults("node1").unwrap();
    assert_eq!(https.server(None).await.unwrap().value.auth, "trusted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_node_refuses_connections_transiently_until_restarted() {
    let sim = sim(1, LxdProfile::Current).await;
    sim.add_fault("node1", FaultRule::any().after(1).times(1).crash_node())
        .unwrap();
    let c = lxd(&sim, "node1");
    c.server(None).await.unwrap();
    let e = c.server(None).await.unwrap_err();
    assert!(
        matches!(e, Error::Http { .. }),
        "the crashing call is cut: {e:?}"
    );
    assert!(e.is_transient());
    let e = ceph(&sim, "node1").server_info().await.unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    assert!(e.is_transient());
    assert_eq!(
        e.to_string(),
        format!(
            "MicroCeph on node node1, GET /core/1.0: cannot connect to unix socket {}; check that the service is running there and that the socket path or address is right",
            socket(&sim, "node1", SimService::Microceph)
        )
    );
    sim.restart("node1").unwrap();
    c.server(None).await.unwrap();
}
