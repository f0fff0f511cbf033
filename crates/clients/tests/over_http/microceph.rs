//! MicroCeph's extension calls; disk failures must surface as errors.

use clients::microceph::{ConfigEntry, DisksPost, MicroCephApi, MicroCephClient, PoolPut};
use clients::rest::RestClient;
use clients::{Error, Service, Transport};

use crate::support::{Expect, Reply, Server, fast_timeouts, fixture};

fn ceph(path: &std::path::Path) -> MicroCephClient {
    MicroCephClient::from_rest(
        RestClient::new(Transport::unix(path), Service::MicroCeph, "node2")
            .with_timeouts(fast_timeouts()),
    )
}

fn two_disks() -> DisksPost {
    DisksPost::new(
        vec![
            "/dev/disk/by-id/nvme-eui.0001".into(),
            "/dev/disk/by-id/nvme-eui.0002".into(),
        ],
        true,
        false,
    )
}

#[tokio::test]
async fn add_disks_success_returns_the_report() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "POST",
            "/1.0/disks?target=node1",
            Reply::fixture(200, "microceph/disks-add-success.response.json"),
        )
        .body_fixture("microceph/disks-add.request.json"),
    ])
    .await;
    let response = ceph(&path)
        .add_disks(&two_disks(), Some("node1"))
        .await
        .unwrap();
    assert_eq!(response.report.len(), 2);
    assert_eq!(response.report[1].report, "Success");
    server.finish();
}

#[tokio::test]
async fn a_failed_disk_in_an_http_200_report_is_an_error() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "POST",
            "/1.0/disks",
            Reply::fixture(200, "microceph/disks-add-partial.response.json"),
        )
        .body_fixture("microceph/disks-add.request.json"),
    ])
    .await;
    let err = ceph(&path).add_disks(&two_disks(), None).await.unwrap_err();
    match &err {
        Error::DiskFailures { failures, .. } => {
            assert_eq!(failures.len(), 1);
            assert_eq!(failures[0].path, "/dev/disk/by-id/nvme-eui.0002");
            assert_eq!(failures[0].report, "Failure");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "MicroCeph on node node2, POST /1.0/disks: MicroCeph could not add 1 disk(s): /dev/disk/by-id/nvme-eui.0002: Failed to bootstrap OSD: device is in use"
    );
    assert!(!err.is_transient());
    server.finish();
}

#[tokio::test]
async fn a_validation_error_is_an_error() {
    let (server, path) = Server::unix(vec![Expect::new(
        "POST",
        "/1.0/disks",
        Reply::fixture(200, "microceph/disks-add-validation.response.json"),
    )])
    .await;
    let err = ceph(&path).add_disks(&two_disks(), None).await.unwrap_err();
    assert!(matches!(err, Error::DiskValidation { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "MicroCeph on node node2, POST /1.0/disks: MicroCeph rejected the disk request: wal/db devices are not supported in batch disk addition"
    );
    assert!(!err.is_transient());
    server.finish();
}

#[tokio::test]
async fn a_missing_report_is_an_error() {
    let (server, path) = Server::unix(vec![Expect::new(
        "POST",
        "/1.0/disks",
        Reply::fixture(200, "microceph/disks-add-no-report.response.json"),
    )])
    .await;
    let err = ceph(&path).add_disks(&two_disks(), None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MicroCeph on node node2, POST /1.0/disks: unexpected response: MicroCeph answered the request for /dev/disk/by-id/nvme-eui.0001, /dev/disk/by-id/nvme-eui.0002 without a per-disk report; whether the disks were added is unknown, check `GET /1.0/disks`"
    );
    server.finish();
}

#[tokio::test]
async fn disks_configs_pools_services() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/1.0/disks",
            Reply::fixture(200, "microceph/disks.response.json"),
        ),
        Expect::new(
            "GET",
            "/1.0/configs",
            Reply::fixture(200, "microceph/configs-get-key.response.json"),
        )
        .body_fixture("microceph/configs-get.request.json"),
        Expect::new(
            "GET",
            "/1.0/configs",
            Reply::fixture(200, "microceph/configs.response.json"),
        )
        .body_fixture("microceph/configs-get-all.request.json"),
        Expect::new(
            "PUT",
            "/1.0/configs",
            Reply::fixture(200, "envelope/sync-empty.json"),
        )
        .body(serde_json::json!({"key":"cluster_network","value":"10.1.0.0/24","wait":true,"skip_restart":false})),
        Expect::new(
            "GET",
            "/1.0/pools?target=node1",
            Reply::fixture(200, "microceph/pools.response.json"),
        ),
        Expect::new(
            "PUT",
            "/1.0/pools-op?target=node1",
            Reply::fixture(200, "envelope/sync-empty.json"),
        )
        .body_fixture("microceph/pools-op.request.json"),
        Expect::new(
            "PUT",
            "/1.0/pools-op",
            Reply::fixture(200, "envelope/sync-empty.json"),
        )
        .body_fixture("microceph/pools-op-defaults.request.json"),
        Expect::new(
            "GET",
            "/1.0/services",
            Reply::fixture(200, "microceph/services.response.json"),
        ),
    ])
    .await;
    let c = ceph(&path);
    let disks = c.disks().await.unwrap();
    assert_eq!(disks[1].osd, 1);
    assert_eq!(disks[1].location, "node2");
    // `ceph config get` output keeps its newline (GetConfigItem,
    // microceph/ceph/config.go); the client trims it.
    let configs = c.configs(Some("cluster_network")).await.unwrap();
    assert_eq!(configs[0].value, "10.1.0.0/24");
    let all = c.configs(None).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect::<Vec<_>>(),
        [
            ("cluster_network", "10.1.0.0/24"),
            ("public_network", "10.0.0.0/24")
        ]
    );
    c.set_config(&ConfigEntry {
        key: "cluster_network".into(),
        value: "10.1.0.0/24".into(),
        wait: true,
        skip_restart: false,
    })
    .await
    .unwrap();
    let pools = c.pools(Some("node1")).await.unwrap();
    assert_eq!(pools[1].pool, "lxd_remote");
    assert_eq!(pools[1].size, 1);
    let put: PoolPut = serde_json::from_value(fixture("microceph/pools-op.request.json")).unwrap();
    c.set_pool_replication(&put, Some("node1")).await.unwrap();
    c.set_pool_replication(
        &PoolPut {
            pools: vec![String::new()],
            size: 3,
        },
        None,
    )
    .await
    .unwrap();
    let services = c.services().await.unwrap();
    assert_eq!(
        services
            .iter()
            .map(|s| s.service.as_str())
            .collect::<Vec<_>>(),
        ["mon", "mgr", "mds"]
    );
    server.finish();
}

#[tokio::test]
async fn configs_without_body_is_what_microceph_rejects() {
    // The client always sends the body; this pins what the server says
    // without one, so a regression shows up as this exact error.
    let (server, path) = Server::unix(vec![Expect::new(
        "GET",
        "/1.0/configs",
        Reply::fixture(500, "microceph/configs-no-body.response.json"),
    )])
    .await;
    let err = ceph(&path).configs(None).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    let recorded = server.finish();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&recorded[0].body).unwrap(),
        fixture("microceph/configs-get-all.request.json")
    );
}

#[tokio::test]
async fn keys_outside_microcephs_table_are_permanent_500s() {
    // getClusterConfigDefinition / canSetConfig (microceph/ceph/config.go,
    // v19.2.0+squid): a 500 through SmartError, the same on every retry.
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/1.0/configs",
            Reply::fixture(500, "microceph/configs-unsupported.response.json"),
        )
        .body_fixture("microceph/configs-get-unsupported.request.json"),
        Expect::new(
            "PUT",
            "/1.0/configs",
            Reply::fixture(500, "microceph/configs-set-unsupported.response.json"),
        ),
        Expect::new(
            "PUT",
            "/1.0/configs",
            Reply::fixture(500, "microceph/configs-set-read-only.response.json"),
        ),
    ])
    .await;
    let c = ceph(&path);
    let err = c.configs(Some("osd_pool_default_size")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MicroCeph on node node2, GET /1.0/configs: the service answered 500: requested key osd_pool_default_size is not a MicroCeph supported cluster config"
    );
    assert!(!err.is_transient());
    for key in ["osd_pool_default_size", "public_network"] {
        let err = c
            .set_config(&ConfigEntry {
                key: key.into(),
                value: "3".into(),
                ..ConfigEntry::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(500));
        assert!(!err.is_transient(), "{err}");
    }
    server.finish();
}

#[tokio::test]
async fn reef_has_no_pool_list_and_says_404() {
    // microceph/api/pool.go, v18.2.4+reef: only `pools-op` is served.
    let (server, path) = Server::unix(vec![Expect::new(
        "GET",
        "/1.0/pools",
        Reply::fixture(404, "microceph/pools-reef.response.json"),
    )])
    .await;
    let err = ceph(&path).pools(None).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(!err.is_transient());
    server.finish();
}
