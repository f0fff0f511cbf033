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
        "MicroCeph on node node2, POST /1.0/disks: MicroCeph rejected the disk request: Both WAL and DB devices cannot be the same device"
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
            Reply::fixture(200, "microceph/configs.response.json"),
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
    let configs = c.configs(Some("cluster_network")).await.unwrap();
    assert_eq!(configs[0].value, "10.1.0.0/24");
    c.configs(None).await.unwrap();
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
    assert_eq!(services[0].service, "mon");
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
