//! Unix sockets, pinned TLS, proxy prefixes, timeouts and the
//! transient/permanent classification.

use std::time::Duration;

use clients::cert::Identity;
use clients::lxd::{LxdApi, LxdClient};
use clients::microcluster::{MicroclusterApi, MicroclusterClient};
use clients::rest::RestClient;
use clients::{Error, Service, Timeouts, Transport};

use crate::support::{Expect, Reply, Server, temp_socket_path};

fn identity(name: &str) -> Identity {
    Identity::generate(name, &[name.to_owned(), "127.0.0.1".to_owned()]).unwrap()
}

fn lxd_with_timeout(transport: Transport, timeout: Duration) -> LxdClient {
    LxdClient::from_rest(
        RestClient::new(transport, Service::Lxd, "node1").with_timeouts(Timeouts {
            request: timeout,
            ..Timeouts::default()
        }),
    )
}

#[tokio::test]
async fn unix_socket_get_returns_typed_server_and_etag() {
    let (server, path) = Server::unix(vec![Expect::new(
        "GET",
        "/1.0",
        Reply::fixture(200, "lxd/server-5.0.2.response.json").header("etag", "\"abc123\""),
    )])
    .await;
    let lxd = LxdClient::new(Transport::unix(&path), "node1");
    let tagged = lxd.server(None).await.unwrap();
    assert_eq!(tagged.etag.as_deref(), Some("\"abc123\""));
    assert_eq!(tagged.value.environment.server_version, "5.0.2");
    let recorded = server.finish();
    assert_eq!(recorded[0].header("host").as_deref(), Some("unix.socket"));
    assert_eq!(recorded[0].client_certificate, None);
}

#[tokio::test]
async fn tls_with_the_pinned_fingerprint_succeeds_and_presents_the_client_certificate() {
    let server_id = identity("server");
    let client_id = identity("client");
    let (server, address) = Server::tls(
        vec![Expect::new(
            "GET",
            "/core/1.0",
            Reply::fixture(200, "microcluster/server-info-squid.response.json"),
        )],
        &server_id,
    )
    .await;
    let transport = Transport::https(&address, &client_id, server_id.fingerprint()).unwrap();
    let client = MicroclusterClient::new(transport, Service::MicroCeph, "node1");
    let info = client.server_info().await.unwrap();
    assert_eq!(info.name, "node1");
    let recorded = server.finish();
    assert_eq!(
        recorded[0].client_certificate,
        Some(client_id.fingerprint())
    );
    assert_eq!(recorded[0].header("host"), Some(address));
}

#[tokio::test]
async fn tls_with_a_wrong_fingerprint_is_refused_before_any_request() {
    let server_id = identity("server");
    let client_id = identity("client");
    let other = identity("impostor");
    let (server, address) = Server::tls(vec![], &server_id).await;
    let transport = Transport::https(&address, &client_id, other.fingerprint()).unwrap();
    let lxd = LxdClient::new(transport, "node2");
    let err = lxd.server(None).await.unwrap_err();
    assert!(matches!(err, Error::FingerprintMismatch { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "LXD on node node2, GET /1.0: the server at https://{address} presented a certificate with fingerprint {}, not the expected {}; refusing to talk to it (wrong address, or the certificate was replaced: re-check the fingerprint)",
            server_id.fingerprint(),
            other.fingerprint()
        )
    );
    assert!(!err.is_transient());
    assert!(server.finish().is_empty());
}

#[tokio::test]
async fn proxy_prefix_is_added_to_requests_and_to_operation_polling() {
    let server_id = identity("agent");
    let client_id = identity("initiator");
    let op = "/1.0/operations/9b7e1a6e-4c0f-4b5e-9f3a-0d6c2f1e8a11";
    let (server, address) = Server::tls(
        vec![
            Expect::new(
                "PUT",
                "/1.0/services/lxd/1.0/cluster",
                Reply::fixture(202, "lxd/cluster-enable.response.json").header("location", op),
            )
            .body_fixture("lxd/cluster-enable.request.json"),
            Expect::new(
                "GET",
                &format!("/1.0/services/lxd{op}/wait?timeout=30"),
                Reply::fixture(200, "lxd/operation-success.response.json"),
            ),
        ],
        &server_id,
    )
    .await;
    let transport = Transport::https(&address, &client_id, server_id.fingerprint())
        .unwrap()
        .with_prefix("/1.0/services/lxd/");
    assert_eq!(transport.prefix(), "/1.0/services/lxd");
    let lxd = LxdClient::new(transport, "node1");
    lxd.enable_clustering("node1").await.unwrap();
    let recorded = server.finish();
    let requests: Vec<(&str, &str)> = recorded
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        requests,
        vec![
            ("PUT", "/1.0/services/lxd/1.0/cluster"),
            (
                "GET",
                "/1.0/services/lxd/1.0/operations/9b7e1a6e-4c0f-4b5e-9f3a-0d6c2f1e8a11/wait?timeout=30"
            ),
        ]
    );
    assert!(
        recorded
            .iter()
            .all(|r| r.client_certificate == Some(client_id.fingerprint()))
    );
}

#[tokio::test]
async fn a_server_rejecting_the_client_certificate_is_a_permanent_error() {
    let server_id = identity("server");
    let client_id = identity("client");
    let trusted = identity("someone-else");
    let (server, address) =
        Server::tls_trusting(vec![], &server_id, Some(trusted.fingerprint())).await;
    let transport = Transport::https(&address, &client_id, server_id.fingerprint()).unwrap();
    let err = LxdClient::new(transport, "node4")
        .ready()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TlsRejected { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "LXD on node node4, GET /internal/ready: https://{address} ended the TLS session (received fatal alert: AccessDenied); check that this client's certificate is trusted by the service"
        )
    );
    assert!(!err.is_transient());
    assert!(server.finish().is_empty());
}

#[tokio::test]
async fn connection_refused_over_tcp_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let client_id = identity("client");
    let transport = Transport::https(&address, &client_id, client_id.fingerprint()).unwrap();
    let err = LxdClient::new(transport, "node3")
        .ready()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "LXD on node node3, GET /internal/ready: cannot connect to https://{address}; check that the service is running there and that the socket path or address is right"
        )
    );
    assert!(err.is_transient());
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("Connection refused"), "{source}");
}

#[tokio::test]
async fn missing_and_stale_unix_sockets_are_transient() {
    // The first request to a microcluster daemon is the family probe.
    let missing = temp_socket_path();
    let err = MicroclusterClient::new(Transport::unix(&missing), Service::MicroOvn, "node1")
        .ready()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "MicroOVN on node node1, GET /core/1.0: cannot connect to unix socket {}; check that the service is running there and that the socket path or address is right",
            missing.display()
        )
    );
    assert!(err.is_transient());

    // A socket file left behind by a stopped daemon: connection refused.
    let stale = temp_socket_path();
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let err = MicroclusterClient::new(Transport::unix(&stale), Service::MicroOvn, "node1")
        .ready()
        .await
        .unwrap_err();
    match &err {
        Error::Connect { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused)
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_transient());
    let _ = std::fs::remove_file(&stale);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_transiently() {
    let (server, path) = Server::unix(vec![Expect::new("GET", "/1.0", Reply::Hang)]).await;
    let lxd = lxd_with_timeout(Transport::unix(&path), Duration::from_millis(200));
    let err = lxd.server(None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "LXD on node node1, GET /1.0: no answer from unix socket {} within 0.2s; the service may be starting, overloaded or stuck",
            path.display()
        )
    );
    assert!(err.is_transient());
    server.finish();
}

#[tokio::test]
async fn a_connection_closed_without_answer_is_transient() {
    let (server, path) = Server::unix(vec![Expect::new("GET", "/1.0", Reply::Abort)]).await;
    let err = LxdClient::new(Transport::unix(&path), "node1")
        .server(None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "LXD on node node1, GET /1.0: the HTTP exchange with unix socket {} failed",
            path.display()
        )
    );
    assert!(err.is_transient());
    server.finish();
}

async fn status_error(reply: Reply) -> Error {
    let (server, path) = Server::unix(vec![
        Expect::new(
            "GET",
            "/core/1.0",
            Reply::fixture(200, "microcluster/server-info-squid.response.json"),
        ),
        Expect::new("GET", "/core/1.0/cluster", reply),
    ])
    .await;
    let err = MicroclusterClient::new(Transport::unix(&path), Service::MicroCeph, "node1")
        .cluster_members()
        .await
        .unwrap_err();
    server.finish();
    err
}

#[tokio::test]
async fn status_classification() {
    let cases: Vec<(Reply, u16, &str, bool)> = vec![
        (
            Reply::fixture(503, "microcluster/database-not-ready.response.json"),
            503,
            "Database is not yet initialized",
            true,
        ),
        // LXD and microcluster answer most failures with 500: permanent,
        // unless the message names a condition that passes.
        (
            Reply::raw(500, r#"{"type":"error","error_code":500,"error":"boom"}"#),
            500,
            "boom",
            false,
        ),
        (
            Reply::raw(
                500,
                r#"{"type":"error","error_code":500,"error":"Failed to begin transaction: database is locked"}"#,
            ),
            500,
            "Failed to begin transaction: database is locked",
            true,
        ),
        (
            Reply::raw(
                500,
                r#"{"type":"error","error_code":500,"error":"Failed to get leader: No available dqlite leader server found"}"#,
            ),
            500,
            "Failed to get leader: No available dqlite leader server found",
            true,
        ),
        // Observed on LXD 5.0.2 while the member's listener restarted: passes.
        (
            Reply::raw(
                500,
                r#"{"type":"error","error_code":500,"error":"Get \"https://10.100.0.4:8443/1.0?target=node4\": Unable to connect to: 10.100.0.4:8443 ([dial tcp 10.100.0.4:8443: connect: connection refused])"}"#,
            ),
            500,
            "Get \"https://10.100.0.4:8443/1.0?target=node4\": Unable to connect to: 10.100.0.4:8443 ([dial tcp 10.100.0.4:8443: connect: connection refused])",
            true,
        ),
        // A member that went away while a request was forwarded to it.
        (
            Reply::raw(
                500,
                r#"{"type":"error","error_code":500,"error":"Post \"https://10.0.0.3:8443/1.0/storage-pools\": EOF"}"#,
            ),
            500,
            "Post \"https://10.0.0.3:8443/1.0/storage-pools\": EOF",
            true,
        ),
        // Observed on LXD 5.0.2 (Debian 12), all deterministic.
        (
            Reply::raw(
                500,
                r#"{"type":"error","error_code":500,"error":"Failed to format block device: Failed to run: mkfs.btrfs -L bad2 /dev/loop0: exit status 1 (ERROR: /dev/loop0 appears to contain an existing filesystem (btrfs))"}"#,
            ),
            500,
            "Failed to format block device: Failed to run: mkfs.btrfs -L bad2 /dev/loop0: exit status 1 (ERROR: /dev/loop0 appears to contain an existing filesystem (btrfs))",
            false,
        ),
        (
            Reply::raw(
                500,
                r#"{"type":"error","error_code":500,"error":"Config key \"source.wipe\" may not be used as member-specific key"}"#,
            ),
            500,
            "Config key \"source.wipe\" may not be used as member-specific key",
            false,
        ),
        (
            Reply::raw(400, r#"{"type":"error","error_code":400,"error":"bad"}"#),
            400,
            "bad",
            false,
        ),
        (
            Reply::fixture(404, "envelope/error-404-5.0.2.json"),
            404,
            "not found",
            false,
        ),
        (
            Reply::raw(
                501,
                r#"{"type":"error","error_code":501,"error":"Not Implemented"}"#,
            ),
            501,
            "Not Implemented",
            false,
        ),
        (Reply::raw(502, "Bad Gateway\n"), 502, "Bad Gateway", true),
        (Reply::raw(404, ""), 404, "(empty body)", false),
    ];
    for (reply, status, message, transient) in cases {
        let err = status_error(reply).await;
        assert_eq!(
            err.to_string(),
            format!(
                "MicroCeph on node node1, GET /core/1.0/cluster: the service answered {status}: {message}"
            )
        );
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.is_transient(), transient, "{status}");
        assert_eq!(err.context().unwrap().path, "/core/1.0/cluster");
    }
}

#[tokio::test]
async fn an_error_envelope_inside_http_200_is_an_error() {
    let err = status_error(Reply::raw(
        200,
        r#"{"type":"error","status":"","status_code":0,"error_code":403,"error":"not authorized","metadata":null}"#,
    ))
    .await;
    assert_eq!(err.status(), Some(403));
    assert!(!err.is_transient());
}

#[tokio::test]
async fn undecodable_responses_are_permanent() {
    let err = status_error(Reply::raw(200, "<html>")).await;
    assert!(
        matches!(
            err,
            Error::Decode {
                what: "envelope",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "MicroCeph on node node1, GET /core/1.0/cluster: cannot decode the envelope of the response"
    );
    assert!(!err.is_transient());

    let err = status_error(Reply::sync(serde_json::json!({"not": "a list"}))).await;
    assert!(
        matches!(
            err,
            Error::Decode {
                what: "metadata",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn https_addresses_are_validated() {
    let id = identity("client");
    let err = Transport::https("no-port", &id, id.fingerprint()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid HTTPS address \"no-port\": expected host:port"
    );
    assert!(Transport::https("[::1]:8443", &id, id.fingerprint()).is_ok());
    assert!(Transport::https("node1.example:8443", &id, id.fingerprint()).is_ok());
}

/// The trait futures are `Send`: a generic caller can spawn them.
async fn spawnable<T: LxdApi + Clone + 'static>(api: T) -> Result<(), Error> {
    tokio::spawn(async move { api.ready().await })
        .await
        .unwrap()
}

#[tokio::test]
async fn trait_futures_can_be_spawned() {
    let (server, path) = Server::unix(vec![Expect::new(
        "GET",
        "/internal/ready",
        Reply::sync(serde_json::json!({})),
    )])
    .await;
    spawnable(LxdClient::new(Transport::unix(&path), "node1"))
        .await
        .unwrap();
    server.finish();
}
