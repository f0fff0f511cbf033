//! TLS configurations for the trust session and the agent (rustls, `ring`
//! provider, TLS 1.3 only, self-signed certificates, trust by SHA-256
//! fingerprint). The certificate verifiers are the workspace's one set in
//! `clients::tls`; which one each side uses:
//!
//! | configuration              | side                            | verifier                                               |
//! |----------------------------|---------------------------------|--------------------------------------------------------|
//! | [`session_server_config`]  | the initiator's session listener | `ClientCertByFingerprint` with `ClientCerts::Any` (a certificate is required) |
//! | [`joiner_client_config`]   | a joiner reaching the session   | `AnyServerCertificate`                                 |
//! | [`agent_server_config`]    | a joiner's agent                | `ClientCertByFingerprint` with `ClientCerts::Pinned` (the initiator's certificate) |
//!
//! (The initiator reaches an agent with `clients`' pinned server verifier.)
//! Why "any" is safe before admission is written in `clients::tls`: the
//! trust protocol binds both recorded fingerprints into its key
//! confirmation (see [`crate::protocol`]).

use std::sync::Arc;

use clients::cert::{Fingerprint, Identity};
use clients::tls::{AnyServerCertificate, ClientCertByFingerprint, ClientCerts};
use rustls::server::danger::ClientCertVerifier;
use rustls::{ClientConfig, ServerConfig};

use crate::net::NetError;

pub use clients::tls::peer_fingerprint;

fn tls_config_error(identity: &Identity) -> impl FnOnce(rustls::Error) -> NetError {
    let fingerprint = identity.fingerprint();
    move |source| NetError::TlsConfig {
        fingerprint,
        source,
    }
}

/// A TLS 1.3 server configuration presenting `identity` and checking client
/// certificates with `verifier`.
fn server_config(
    identity: &Identity,
    verifier: Arc<dyn ClientCertVerifier>,
) -> Result<Arc<ServerConfig>, NetError> {
    let (chain, key) = identity
        .rustls_parts()
        .map_err(|source| NetError::Identity { source })?;
    let mut config = ServerConfig::builder_with_provider(clients::tls::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_config_error(identity))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(tls_config_error(identity))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The initiator's session listener: presents `identity`, requires and
/// accepts any client certificate.
pub fn session_server_config(identity: &Identity) -> Result<Arc<ServerConfig>, NetError> {
    server_config(
        identity,
        Arc::new(ClientCertByFingerprint::new(ClientCerts::Any)),
    )
}

/// A joiner's agent: presents `identity`, accepts only the client
/// certificate `initiator`.
pub fn agent_server_config(
    identity: &Identity,
    initiator: Fingerprint,
) -> Result<Arc<ServerConfig>, NetError> {
    server_config(
        identity,
        Arc::new(ClientCertByFingerprint::new(ClientCerts::Pinned(initiator))),
    )
}

/// A joiner reaching the session: presents `identity`, accepts any server
/// certificate.
pub fn joiner_client_config(identity: &Identity) -> Result<Arc<ClientConfig>, NetError> {
    let (chain, key) = identity
        .rustls_parts()
        .map_err(|source| NetError::Identity { source })?;
    let mut config = ClientConfig::builder_with_provider(clients::tls::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_config_error(identity))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCertificate::new()))
        .with_client_auth_cert(chain, key)
        .map_err(tls_config_error(identity))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
