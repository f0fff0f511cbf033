//! The workspace's one set of certificate verifiers (`clients::tls`),
//! case by case over real TLS 1.3 handshakes in memory: which server and
//! client certificates each accepts, and the exact refusal each side sees
//! (a wrong pin, a wrong client certificate, a missing client
//! certificate).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use clients::Identity;
use clients::cert::Fingerprint;
use clients::tls::{
    AnyServerCertificate, ClientCertByFingerprint, ClientCerts, PinnedServerCertVerifier,
    peer_fingerprint,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn identity(name: &str) -> Identity {
    Identity::generate(name, &[name.to_owned()]).unwrap()
}

enum ServerCheck {
    Pinned(Fingerprint),
    Any,
}

/// Runs one handshake and one byte each way. Returns the fingerprints each
/// side recorded of the other, or the error each side saw.
async fn handshake(
    server: &Identity,
    accept: ClientCerts,
    client: Option<&Identity>,
    check: ServerCheck,
) -> (
    Result<Option<Fingerprint>, String>,
    Result<Option<Fingerprint>, String>,
) {
    let (chain, key) = server.rustls_parts().unwrap();
    let server_config =
        rustls::ServerConfig::builder_with_provider(clients::tls::crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(Arc::new(ClientCertByFingerprint::new(accept)))
            .with_single_cert(chain, key)
            .unwrap();
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        ServerCheck::Pinned(pin) => Arc::new(PinnedServerCertVerifier::new(pin)),
        ServerCheck::Any => Arc::new(AnyServerCertificate::new()),
    };
    let builder = rustls::ClientConfig::builder_with_provider(clients::tls::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let client_config = match client {
        Some(id) => {
            let (chain, key) = id.rustls_parts().unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let (a, b) = tokio::io::duplex(64 * 1024);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let server_side = async move {
        let mut tls = acceptor.accept(a).await.map_err(|e| e.to_string())?;
        let seen = peer_fingerprint(tls.get_ref().1);
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await.map_err(|e| e.to_string())?;
        tls.write_all(b"s").await.map_err(|e| e.to_string())?;
        tls.shutdown().await.map_err(|e| e.to_string())?;
        Ok(seen)
    };
    let client_side = async move {
        let name = ServerName::try_from("server").unwrap();
        let mut tls = connector
            .connect(name, b)
            .await
            .map_err(|e| e.to_string())?;
        let seen = peer_fingerprint(tls.get_ref().1);
        tls.write_all(b"c").await.map_err(|e| e.to_string())?;
        // TLS 1.3 lets the client finish its side before the server has
        // checked its certificate: a refusal arrives on the first read.
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await.map_err(|e| e.to_string())?;
        Ok(seen)
    };
    tokio::join!(server_side, client_side)
}

#[tokio::test]
async fn a_pinned_server_and_a_pinned_client_see_each_other() {
    let (server, client) = (identity("server"), identity("client"));
    let (s, c) = handshake(
        &server,
        ClientCerts::Pinned(client.fingerprint()),
        Some(&client),
        ServerCheck::Pinned(server.fingerprint()),
    )
    .await;
    assert_eq!(s, Ok(Some(client.fingerprint())));
    assert_eq!(c, Ok(Some(server.fingerprint())));
}

#[tokio::test]
async fn before_admission_any_certificate_is_accepted_and_recorded() {
    let (server, client) = (identity("server"), identity("client"));
    let (s, c) = handshake(&server, ClientCerts::Any, Some(&client), ServerCheck::Any).await;
    assert_eq!(s, Ok(Some(client.fingerprint())));
    assert_eq!(c, Ok(Some(server.fingerprint())));
}

#[tokio::test]
async fn a_wrong_server_pin_is_refused_by_the_client() {
    let (server, client) = (identity("server"), identity("client"));
    let pinned = identity("someone-else").fingerprint();
    let (s, c) = handshake(
        &server,
        ClientCerts::Any,
        Some(&client),
        ServerCheck::Pinned(pinned),
    )
    .await;
    // The transport turns this into `Error::FingerprintMismatch` with both
    // fingerprints (tests/over_http).
    assert_eq!(
        c.unwrap_err(),
        format!(
            "invalid peer certificate: Other(OtherError(PinMismatch {{ expected: {pinned:?}, actual: {:?} }}))",
            server.fingerprint()
        )
    );
    assert_eq!(s.unwrap_err(), "received fatal alert: CertificateUnknown");
}

#[tokio::test]
async fn a_wrong_client_certificate_is_refused_with_access_denied() {
    let (server, client) = (identity("server"), identity("client"));
    let pinned = identity("initiator").fingerprint();
    let (s, c) = handshake(
        &server,
        ClientCerts::Pinned(pinned),
        Some(&client),
        ServerCheck::Pinned(server.fingerprint()),
    )
    .await;
    assert_eq!(c.unwrap_err(), "received fatal alert: AccessDenied");
    assert_eq!(
        s.unwrap_err(),
        "invalid peer certificate: ApplicationVerificationFailure"
    );
}

#[tokio::test]
async fn a_missing_client_certificate_is_refused_whatever_the_policy() {
    let server = identity("server");
    for accept in [
        ClientCerts::Any,
        ClientCerts::Pinned(identity("initiator").fingerprint()),
    ] {
        let (s, c) = handshake(&server, accept, None, ServerCheck::Any).await;
        assert_eq!(
            c.unwrap_err(),
            "received fatal alert: CertificateRequired",
            "{accept:?}"
        );
        assert_eq!(s.unwrap_err(), "peer sent no certificates", "{accept:?}");
    }
}
