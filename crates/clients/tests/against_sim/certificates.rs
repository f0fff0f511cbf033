//! Trusting a client certificate: by token (issued over the unix socket,
//! presented over HTTPS with the client's certificate and the server's
//! pinned fingerprint) and directly over the unix socket; then an
//! authenticated call over HTTPS.

use clients::lxd::{CertificatesPost, GO_ZERO_TIME, LxdApi, LxdClient, ServerPut, TokenField};
use clients::transport::Transport;
use clients::{Error, Service};
use simulators::{LxdProfile, Sim};

use crate::support::*;

fn https_client(sim: &Sim, name: &str, as_client: &clients::Identity, pinned: &str) -> LxdClient {
    let transport = Transport::https(&lxd_addr(sim, name), as_client, fingerprint(pinned)).unwrap();
    LxdClient::new(transport, name)
}

/// `clustered`: the token is issued by a clustered member, whose HTTPS
/// listener presents the cluster certificate.
async fn trust_by_token(profile: LxdProfile, clustered: bool) {
    let sim = sim(1, profile).await;
    let unix = lxd(&sim, "node1");
    if clustered {
        lxd_bootstrap(&sim, "node1").await;
    } else {
        unix.patch_server(
            &ServerPut {
                config: map(&[("core.https_address", &lxd_addr(&sim, "node1"))]),
            },
            None,
            None,
        )
        .await
        .unwrap();
    }
    let issued = unix.issue_certificate_token("ci").await.unwrap();
    let server_fp = match clustered {
        true => node(&sim, "node1").lxd_cluster_fingerprint().unwrap(),
        false => node(&sim, "node1").lxd_server_fingerprint(),
    };
    assert_eq!(issued.token.client_name, "ci");
    assert_eq!(issued.token.fingerprint, server_fp);
    assert_eq!(issued.token.addresses, [lxd_addr(&sim, "node1")]);
    assert_eq!(issued.token.secret.len(), 64);
    // 5.0.2 sets no expiry by default (Go's zero time in the token);
    // current LXD defaults to 15 days.
    assert_eq!(
        issued.token.expires_at == GO_ZERO_TIME,
        profile == LxdProfile::Legacy,
        "{}",
        issued.token.expires_at
    );
    let decoded = clients::lxd::CertificateAddToken::decode(&issued.encoded()).unwrap();
    assert_eq!(decoded, issued.token);

    // Untrusted over HTTPS: public data only, everything else 403.
    let ci = identity("ci");
    let https = https_client(&sim, "node1", &ci, &issued.token.fingerprint);
    assert_eq!(https.server(None).await.unwrap().value.auth, "untrusted");
    let e = https.storage_pools(None).await.unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(403), false));
    assert_eq!(
        context_of(&e),
        ctx(
            Service::Lxd,
            "node1",
            http::Method::GET,
            "/1.0/storage-pools?recursion=1"
        )
    );
    assert_eq!(
        e.to_string(),
        "LXD on node node1, GET /1.0/storage-pools?recursion=1: the service answered 403: not authorized"
    );

    // Current LXD refuses the 5.0.x field outright.
    if profile == LxdProfile::Current {
        let e = https
            .trust_with_token(&issued.encoded(), TokenField::Password)
            .await
            .unwrap_err();
        assert_eq!((e.status(), e.is_transient()), (Some(501), false));
        assert_eq!(
            e.to_string(),
            "LXD on node node1, POST /1.0/certificates: the service answered 501: Password authentication is no longer supported, please update your client"
        );
    }

    // The token in the field the server's extensions select.
    let field = unix.server(None).await.unwrap().value.token_field();
    https
        .trust_with_token(&issued.encoded(), field)
        .await
        .unwrap();
    let server = https.server(None).await.unwrap().value;
    assert_eq!(server.auth, "trusted");
    assert_eq!(server.environment.server_clustered, clustered);
    assert!(https.storage_pools(None).await.unwrap().is_empty());

    // A token is good for one certificate only.
    let other = https_client(&sim, "node1", &identity("ci2"), &issued.token.fingerprint);
    let e = other
        .trust_with_token(&issued.encoded(), field)
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.is_transient()), (Some(403), false));
    assert_eq!(
        e.to_string(),
        "LXD on node node1, POST /1.0/certificates: the service answered 403: No matching certificate add operation found"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_by_token_over_https_legacy() {
    trust_by_token(LxdProfile::Legacy, false).await;
    trust_by_token(LxdProfile::Legacy, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_by_token_over_https_current() {
    trust_by_token(LxdProfile::Current, false).await;
    trust_by_token(LxdProfile::Current, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_trust_over_the_socket_then_https() {
    for profile in PROFILES {
        let sim = sim(1, profile).await;
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
        let body = CertificatesPost::add_client("admin", &admin.cert_base64_der());
        unix.add_certificate(&body).await.unwrap();
        let e = unix.add_certificate(&body).await.unwrap_err();
        assert_eq!((e.status(), e.is_transient()), (Some(409), false));
        assert_eq!(
            e.to_string(),
            "LXD on node node1, POST /1.0/certificates: the service answered 409: Certificate already in trust store"
        );
        let server_fp = node(&sim, "node1").lxd_server_fingerprint();
        let https = https_client(&sim, "node1", &admin, &server_fp);
        let server = https.server(None).await.unwrap().value;
        assert_eq!(server.auth, "trusted");
        assert_eq!(server.environment.certificate_fingerprint, server_fp);
        https.resources(None).await.unwrap();

        // Pinned to something else: refused before any request.
        let e = https_client(&sim, "node1", &admin, &"ab".repeat(32))
            .server(None)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::FingerprintMismatch { .. }), "{e:?}");
        assert!(!e.is_transient());
    }
}
