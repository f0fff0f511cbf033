//! Sync, async and failed background operations, in both LXD generations'
//! shapes.

use std::time::Duration;

use clients::envelope::OperationState;
use clients::lxd::{ClusterJoin, LxdApi, LxdClient, StoragePoolsPost, TokenField};
use clients::rest::{CallOptions, Completion, RestClient};
use clients::{Error, Service, Timeouts, Transport};
use serde_json::json;

use crate::support::{Expect, Reply, Server, fast_timeouts};

const OP: &str = "/1.0/operations/9b7e1a6e-4c0f-4b5e-9f3a-0d6c2f1e8a11";

fn wait() -> String {
    format!("{OP}/wait?timeout=30")
}

fn lxd(path: &std::path::Path) -> LxdClient {
    LxdClient::from_rest(
        RestClient::new(Transport::unix(path), Service::Lxd, "node1")
            .with_timeouts(fast_timeouts()),
    )
}

fn zfs_pending() -> StoragePoolsPost {
    serde_json::from_value(crate::support::fixture(
        "lxd/storage-pool-pending-zfs.request.json",
    ))
    .unwrap()
}

fn join() -> ClusterJoin {
    ClusterJoin {
        server_name: "node2".into(),
        cluster_address: "10.0.0.1:8443".into(),
        cluster_certificate: "-----BEGIN CERTIFICATE-----\nMIIBzjCCAVOgAwIBAgIQ\n-----END CERTIFICATE-----\n".into(),
        server_address: "10.0.0.2:8443".into(),
        token: "<token>".into(),
        member_config: serde_json::from_value(json!([
            {"entity":"storage-pool","name":"local","key":"source","value":"/dev/disk/by-id/nvme-eui.0001"},
            {"entity":"storage-pool","name":"local","key":"source.wipe","value":"true"},
            {"entity":"network","name":"UPLINK","key":"parent","value":"enp5s0"}
        ]))
        .unwrap(),
    }
}

#[tokio::test]
async fn async_202_is_waited_for_until_success() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "POST",
            "/1.0/storage-pools?target=node1",
            Reply::fixture(202, "lxd/storage-pool-create-current.response.json")
                .header("location", OP),
        )
        .body_fixture("lxd/storage-pool-pending-zfs.request.json"),
        Expect::new(
            "GET",
            &wait(),
            Reply::fixture(200, "lxd/storage-pool-create-success.response.json"),
        ),
    ])
    .await;
    lxd(&path)
        .create_storage_pool(&zfs_pending(), Some("node1"))
        .await
        .unwrap();
    server.finish();
}

#[tokio::test]
async fn a_wait_that_returns_while_running_is_repeated() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "PUT",
            "/1.0/cluster",
            Reply::fixture(202, "lxd/cluster-enable.response.json"),
        ),
        Expect::new(
            "GET",
            &wait(),
            Reply::fixture(200, "lxd/operation-running.response.json"),
        ),
        Expect::new(
            "GET",
            &wait(),
            Reply::fixture(200, "lxd/operation-success.response.json"),
        ),
    ])
    .await;
    let rest = lxd(&path).rest().clone();
    let completion = rest
        .run(
            http::Method::PUT,
            "/1.0/cluster",
            Some(&json!({"server_name":"node1","enabled":true})),
            CallOptions::default(),
        )
        .await
        .unwrap();
    match completion {
        Completion::Operation(op) => assert_eq!(op.state(), OperationState::Success),
        other => panic!("{other:?}"),
    }
    server.finish();
}

#[tokio::test]
async fn sync_201_with_location_is_a_success() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "POST",
            "/1.0/storage-pools",
            Reply::fixture(201, "lxd/storage-pool-create-5.0.2.response.json")
                .header("location", "/1.0/storage-pools/local"),
        )
        .body_fixture("lxd/storage-pool-pending-zfs.request.json"),
        Expect::new(
            "POST",
            "/1.0/storage-pools",
            Reply::fixture(201, "lxd/storage-pool-create-5.0.2.response.json")
                .header("location", "/1.0/storage-pools/local"),
        ),
    ])
    .await;
    let client = lxd(&path);
    client
        .create_storage_pool(&zfs_pending(), None)
        .await
        .unwrap();
    let completion = client
        .rest()
        .run(
            http::Method::POST,
            "/1.0/storage-pools",
            Some(&zfs_pending()),
            CallOptions::default(),
        )
        .await
        .unwrap();
    match completion {
        Completion::Sync(reply) => {
            assert_eq!(reply.status, 201);
            assert_eq!(reply.location.as_deref(), Some("/1.0/storage-pools/local"));
        }
        other => panic!("{other:?}"),
    }
    server.finish();
}

#[tokio::test]
async fn an_operation_with_status_failure_is_an_error() {
    let failure = crate::support::fixture("envelope/operation-failure-5.0.2.json");
    let (server, path) = Server::unix(vec![
        Expect::new(
            "PUT",
            "/1.0/cluster",
            Reply::fixture(202, "lxd/cluster-enable.response.json"),
        )
        .body_fixture("lxd/cluster-join-5.0.2.request.json"),
        Expect::new("GET", &wait(), Reply::sync(failure)),
    ])
    .await;
    let err = lxd(&path)
        .join_cluster(&join(), TokenField::Password)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "LXD on node node1, PUT /1.0/cluster: background operation {OP} ended with Failure: Failed to join cluster: Certificate fingerprint mismatch"
        )
    );
    assert!(!err.is_transient());
    assert_eq!(err.status(), None);
    server.finish();
}

#[tokio::test]
async fn an_error_envelope_with_http_200_from_wait_reports_the_operation_error() {
    let failure = crate::support::fixture("envelope/operation-failure-current.json");
    let (server, path) = Server::unix(vec![
        Expect::new(
            "POST",
            "/1.0/storage-pools?target=node1",
            Reply::fixture(202, "lxd/storage-pool-create-current.response.json"),
        ),
        Expect::new(
            "GET",
            &wait(),
            Reply::raw(
                200,
                r#"{"type":"error","status":"","status_code":0,"operation":"","error_code":400,"error":"Failed creating storage pool \"local\": Unable to find disk","metadata":null}"#,
            ),
        ),
        Expect::new("GET", OP, Reply::sync(failure)),
    ])
    .await;
    let err = lxd(&path)
        .create_storage_pool(&zfs_pending(), Some("node1"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "LXD on node node1, POST /1.0/storage-pools?target=node1: background operation {OP} ended with Failure: Failed creating storage pool \"local\": Unable to find disk"
        )
    );
    assert_eq!(err.status(), Some(400));
    assert!(!err.is_transient());
    server.finish();
}

#[tokio::test]
async fn an_error_envelope_from_wait_for_a_vanished_operation_reports_the_envelope() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "POST",
            "/1.0/storage-pools?target=node1",
            Reply::fixture(202, "lxd/storage-pool-create-current.response.json"),
        ),
        Expect::new(
            "GET",
            &wait(),
            Reply::raw(
                200,
                r#"{"type":"error","error_code":500,"error":"Failed to mount pool"}"#,
            ),
        ),
        Expect::new(
            "GET",
            OP,
            Reply::raw(
                404,
                r#"{"type":"error","error_code":404,"error":"Operation not found"}"#,
            ),
        ),
    ])
    .await;
    let err = lxd(&path)
        .create_storage_pool(&zfs_pending(), Some("node1"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "LXD on node node1, POST /1.0/storage-pools?target=node1: background operation {OP} ended with error: Failed to mount pool"
        )
    );
    assert_eq!(err.status(), Some(500));
    assert!(!err.is_transient(), "a failed operation is not retried");
    server.finish();
}

#[tokio::test]
async fn a_wait_timeout_error_envelope_while_running_keeps_waiting() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "PUT",
            "/1.0/cluster",
            Reply::fixture(202, "lxd/cluster-enable.response.json"),
        ),
        Expect::new(
            "GET",
            &wait(),
            Reply::raw(
                200,
                r#"{"type":"error","error_code":500,"error":"context deadline exceeded"}"#,
            ),
        ),
        Expect::new(
            "GET",
            OP,
            Reply::fixture(200, "lxd/operation-running.response.json"),
        ),
        Expect::new(
            "GET",
            &wait(),
            Reply::fixture(200, "lxd/operation-success.response.json"),
        ),
    ])
    .await;
    lxd(&path).enable_clustering("node1").await.unwrap();
    server.finish();
}

#[tokio::test]
async fn an_operation_still_running_at_the_deadline_is_a_transient_timeout() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "PUT",
            "/1.0/cluster",
            Reply::fixture(202, "lxd/cluster-enable.response.json"),
        ),
        Expect::new(
            "GET",
            &format!("{OP}/wait?timeout=1"),
            Reply::fixture(200, "lxd/operation-running.response.json"),
        )
        .repeat(),
    ])
    .await;
    let client = LxdClient::from_rest(
        RestClient::new(Transport::unix(&path), Service::Lxd, "node1").with_timeouts(Timeouts {
            operation: Duration::from_millis(300),
            wait_chunk: Duration::from_secs(30),
            poll_backoff: Duration::from_millis(20),
            ..Timeouts::default()
        }),
    );
    let err = client.enable_clustering("node1").await.unwrap_err();
    assert!(matches!(err, Error::OperationTimeout { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "LXD on node node1, PUT /1.0/cluster: background operation {OP} was still running after "
        )),
        "{message}"
    );
    assert!(
        message.ends_with("s; it may still finish on the server, check it before retrying"),
        "{message}"
    );
    assert!(err.is_transient());
    server.finish();
}

#[tokio::test]
async fn an_async_answer_without_operation_field_uses_the_location_header() {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "PUT",
            "/1.0/cluster",
            Reply::raw(
                202,
                r#"{"type":"async","status":"Operation created","status_code":100,"operation":"","metadata":{"status":"Running","status_code":103}}"#,
            )
            .header("location", OP),
        ),
        Expect::new(
            "GET",
            &wait(),
            Reply::fixture(200, "lxd/operation-success.response.json"),
        ),
    ])
    .await;
    lxd(&path).enable_clustering("node1").await.unwrap();
    server.finish();
}

#[tokio::test]
async fn a_sync_only_call_answered_async_is_a_protocol_error() {
    let (server, path) = Server::unix(vec![Expect::new(
        "GET",
        "/1.0",
        Reply::fixture(202, "lxd/cluster-enable.response.json"),
    )])
    .await;
    let err = lxd(&path).server(None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "LXD on node node1, GET /1.0: unexpected response: expected a synchronous answer, got background operation {OP}"
        )
    );
    assert!(!err.is_transient());
    server.finish();
}
