//! Envelope shapes through the request layer, and waiting on operations that outlive one `/wait`.

use clients::envelope::status_code;
use clients::lxd::{LxdApi, LxdClient, ServerPut};
use clients::rest::{CallOptions, Reply};
use clients::{Error, Service};
use simulators::LxdProfile;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_answers_are_202_with_location_and_a_running_operation() {
    let sim = lxd_cluster(1, LxdProfile::Current).await;
    let n1 = lxd(&sim, "node1");
    let path = "/1.0/cluster/members";
    let body = serde_json::json!({"server_name": "node9"});
    let ctx = n1.rest().context(&http::Method::POST, path);
    let raw = n1
        .rest()
        .transport()
        .send(
            &ctx,
            clients::transport::Request {
                method: http::Method::POST,
                path: path.to_owned(),
                body: Some(serde_json::to_vec(&body).unwrap()),
                if_match: None,
                timeout: std::time::Duration::from_secs(10),
            },
        )
        .await
        .unwrap();
    let envelope: clients::envelope::Envelope = serde_json::from_slice(&raw.body).unwrap();
    assert_eq!(raw.status, 202);
    assert_eq!(envelope.kind, clients::envelope::ResponseType::Async);
    assert_eq!(
        (envelope.status.as_str(), envelope.status_code),
        ("Operation created", status_code::OPERATION_CREATED)
    );
    let location = raw.location.clone().expect("202 carries a Location");
    assert_eq!(envelope.operation, location);

    // The same through `call`: the operation is Running (103).
    match n1
        .rest()
        .call(
            http::Method::POST,
            path,
            Some(&body),
            CallOptions::default(),
        )
        .await
    {
        Ok(Reply::Async(reply)) => {
            assert_eq!(reply.url, format!("/1.0/operations/{}", reply.operation.id));
            assert_eq!(
                (reply.operation.status.as_str(), reply.operation.status_code),
                ("Running", status_code::RUNNING)
            );
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Waiting on an operation that outlives one `/wait` call

/// Enabling clustering takes 3 s here (real time), longer than one
/// `/wait?timeout=1` plus the 1.5 s request timeout: success proves the
/// client waited again after a wait that came back while the operation
/// was still running (5.0.2: a sync envelope with the running operation;
/// current: HTTP 200 with a "context deadline exceeded" error envelope,
/// after which the client reads the operation itself). A client whose
/// whole deadline is 1 s gives up with a transient `OperationTimeout`.
async fn wait_is_repeated(profile: LxdProfile) {
    let timings = simulators::Timings {
        cluster_bootstrap: std::time::Duration::from_secs(3),
        ..simulators::Timings::default()
    };
    let sim = simulators::SimBuilder::new()
        .nodes(2)
        .profile(profile)
        .timings(timings)
        .time_scale(1.0)
        .start()
        .await
        .unwrap();
    let client = |name: &str, operation_secs: u64| {
        LxdClient::from_rest(
            short_rest(
                clients::Transport::unix(node(&sim, name).lxd_socket()),
                Service::Lxd,
                name,
            )
            .with_timeouts(clients::rest::Timeouts {
                operation: std::time::Duration::from_secs(operation_secs),
                wait_chunk: std::time::Duration::from_secs(1),
                ..short_timeouts()
            }),
        )
    };
    for name in ["node1", "node2"] {
        lxd(&sim, name)
            .patch_server(
                &ServerPut {
                    config: map(&[("cluster.https_address", &lxd_addr(&sim, name))]),
                },
                None,
                None,
            )
            .await
            .unwrap();
    }
    let impatient = client("node1", 1);
    let patient = client("node2", 10);
    let (gave_up, done) = tokio::join!(
        impatient.enable_clustering("node1"),
        patient.enable_clustering("node2")
    );
    done.unwrap();
    assert!(lxd(&sim, "node2").cluster().await.unwrap().value.enabled);
    let e = gave_up.unwrap_err();
    let Error::OperationTimeout { operation, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(e.is_transient());
    assert_eq!(
        context_of(&e),
        ctx(Service::Lxd, "node1", http::Method::PUT, "/1.0/cluster")
    );
    let message = e.to_string();
    let prefix = format!(
        "LXD on node node1, PUT /1.0/cluster: background operation {operation} was still running after "
    );
    assert!(message.starts_with(&prefix), "{message}");
    assert!(
        message.ends_with("s; it may still finish on the server, check it before retrying"),
        "{message}"
    );
    // It did finish on the server.
    let waited = lxd(&sim, "node1")
        .rest()
        .wait_operation(
            &ctx(Service::Lxd, "node1", http::Method::PUT, "/1.0/cluster"),
            operation,
        )
        .await
        .unwrap();
    assert_eq!(waited.status, "Success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_returns_early_is_repeated_legacy() {
    wait_is_repeated(LxdProfile::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_returns_early_is_repeated_current() {
    wait_is_repeated(LxdProfile::Current).await;
}
