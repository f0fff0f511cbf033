//! Clustering over TLS: bootstrap, join and trust tokens, joins.

use clients::envelope::{Operation, status_code};
use clients::lxd::{GO_ZERO_TIME, LxdApi, LxdClient, ServerPut, TokenField};
use clients::{Error, Service};
use simulators::LxdProfile;

use crate::support::*;

async fn clustering(profile: LxdProfile) {
    let sim = sim(3, profile).await;
    let n1 = lxd(&sim, "node1");

    // Not clustered yet.
    let e = n1.cluster_members().await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "LXD on node node1, GET /1.0/cluster/members?recursion=1: the service answered 500: Server is not clustered"
    );
    let e = n1.issue_join_token("node2").await.unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(400), false), "{e}");
    assert_eq!(
        e.to_string(),
        "LXD on node node1, POST /1.0/cluster/members: the service answered 400: This server is not clustered"
    );

    // Enabling clustering needs a non-wildcard address.
    n1.patch_server(
        &ServerPut {
            config: map(&[("core.https_address", "[::]:8443")]),
        },
        None,
        None,
    )
    .await
    .unwrap();
    let e = n1.enable_clustering("node1").await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "LXD on node node1, PUT /1.0/cluster: the service answered 500: Cannot use wildcard core.https_address \"\" for cluster.https_address. Please specify a new cluster.https_address or core.https_address"
    );
    lxd_bootstrap(&sim, "node1").await;
    let cluster = n1.cluster().await.unwrap();
    assert!(cluster.value.enabled);
    assert_eq!(cluster.value.server_name, "node1");
    assert!(cluster.etag.is_some());

    // A join token: a `token` operation that stays Running, re-encoded.
    let issued = n1.issue_join_token("node2").await.unwrap();
    let cluster_fp = node(&sim, "node1").lxd_cluster_fingerprint().unwrap();
    assert_eq!(issued.token.server_name, "node2");
    assert_eq!(issued.token.fingerprint, cluster_fp);
    assert_eq!(issued.token.addresses, [lxd_addr(&sim, "node1")]);
    assert_eq!(issued.token.secret.len(), 64);
    assert_ne!(issued.token.expires_at, GO_ZERO_TIME, "3H default expiry");
    let decoded = clients::lxd::ClusterMemberJoinToken::decode(&issued.encoded()).unwrap();
    assert_eq!(decoded, issued.token);
    let op = token_operation(&n1, &issued.operation).await;
    assert_eq!(
        (op.class.as_str(), op.status.as_str(), op.status_code),
        ("token", "Running", status_code::RUNNING)
    );
    assert_eq!(op.metadata_str("serverName"), Some("node2"));

    // The wrong token field is ignored by the server's JSON decoder, so the
    // join fails later, without trust.
    let wrong = match profile {
        LxdProfile::Legacy => TokenField::Explicit,
        LxdProfile::Current => TokenField::Password,
    };
    let join = lxd_join_request(&sim, "node2", &issued.encoded(), Vec::new()).await;
    let n2 = lxd(&sim, "node2");
    let e = n2.join_cluster(&join, wrong).await.unwrap_err();
    assert!(matches!(&e, Error::OperationFailed { .. }), "{e:?}");
    assert!(!e.is_transient());
    assert_eq!(
        context_of(&e),
        ctx(Service::Lxd, "node2", http::Method::PUT, "/1.0/cluster")
    );
    let Error::OperationFailed {
        status, code, err, ..
    } = &e
    else {
        unreachable!()
    };
    // Current LXD reports the failed operation's `err_code`; 5.0.2 has none.
    let want_code = match profile {
        LxdProfile::Legacy => None,
        LxdProfile::Current => Some(500),
    };
    assert_eq!((status.as_str(), *code), ("Failure", want_code));
    // A token in a field the release does not decode: no `SetupTrust`, and
    // `UpdateTrust` (lxd/cluster/connect.go, lxd-5.0.2 .. lxd-6.8) cannot
    // read the still-untrusted joiner's certificate.
    assert_eq!(
        err,
        "Failed to update cluster trust: Failed getting existing certificate: not authorized"
    );

    // The right field: joins (the token was not consumed by the failure).
    let field = n2.server(None).await.unwrap().value.token_field();
    n2.join_cluster(&join, field).await.unwrap();
    lxd_join(&sim, "node1", "node3").await;

    for name in ["node1", "node2", "node3"] {
        let members = lxd(&sim, name).cluster_members().await.unwrap();
        let seen: Vec<(&str, &str, String)> = members
            .iter()
            .map(|m| (m.server_name.as_str(), m.status.as_str(), m.url.clone()))
            .collect();
        let want: Vec<(&str, &str, String)> = ["node1", "node2", "node3"]
            .iter()
            .map(|n| (*n, "Online", format!("https://{}", lxd_addr(&sim, n))))
            .collect();
        assert_eq!(seen, want, "members as seen from {name}");
        let server = lxd(&sim, name).server(None).await.unwrap().value;
        assert!(server.environment.server_clustered);
        assert_eq!(server.environment.server_name, name);
    }

    // Unused tokens are revoked by cancelling their operation.
    let spare = n1.issue_join_token("node4").await.unwrap();
    n1.cancel_operation(&spare.operation).await.unwrap();
    let op = token_operation(&n1, &spare.operation).await;
    assert_eq!(
        (op.status.as_str(), op.status_code),
        ("Cancelled", status_code::CANCELLED)
    );
}

/// The operation with this URL, from `GET /1.0/operations?recursion=1`.
async fn token_operation(c: &LxdClient, url: &str) -> Operation {
    c.operations()
        .await
        .unwrap()
        .into_iter()
        .find(|op| url.ends_with(&op.id))
        .unwrap_or_else(|| panic!("operation {url} is not listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_tokens_and_joins_over_tls_legacy() {
    clustering(LxdProfile::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_tokens_and_joins_over_tls_current() {
    clustering(LxdProfile::Current).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_member_with_another_certificate_than_pinned_is_refused() {
    let sim = lxd_cluster(1, LxdProfile::Current).await;
    let wrong = "00".repeat(32);
    let transport = clients::Transport::https(
        &lxd_addr(&sim, "node1"),
        &identity("node2"),
        fingerprint(&wrong),
    )
    .unwrap();
    let e = LxdClient::new(transport, "node2")
        .server(None)
        .await
        .unwrap_err();
    let actual = node(&sim, "node1").lxd_cluster_fingerprint().unwrap();
    assert!(!e.is_transient());
    assert_eq!(
        e.to_string(),
        format!(
            "LXD on node node2, GET /1.0: the server at https://{} presented a certificate with fingerprint {actual}, not the expected {wrong}; refusing to talk to it (wrong address, or the certificate was replaced: re-check the fingerprint)",
            lxd_addr(&sim, "node1")
        )
    );
}
