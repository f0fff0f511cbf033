//! TLS for the trust session and the agent (rustls, `ring` provider, TLS 1.3
//! only, self-signed certificates, trust by SHA-256 fingerprint).
//!
//! Three certificate verifiers, one per situation:
//!
//! | verifier                    | used by                         | accepts                                  |
//! |-----------------------------|---------------------------------|------------------------------------------|
//! | [`AnyClientCertificate`]    | the initiator's session listener | any client certificate (one is required) |
//! | [`AnyServerCertificate`]    | a joiner reaching the session   | any server certificate                   |
//! | [`PinnedClientCertificate`] | a joiner's agent                | only the initiator's pinned certificate  |
//!
//! (The initiator reaches an agent with `clients`' pinned server verifier.)
//!
//! "Any" is deliberate: before the trust protocol ran, neither side can
//! know the other's certificate, so each side records the fingerprint it
//! saw and the protocol binds both fingerprints into its key confirmation
//! (see [`crate::protocol`]). Every verifier still checks the handshake
//! signature with the presented certificate's key, so a peer cannot show a
//! certificate whose private key it does not hold: the recorded
//! fingerprint is the peer's own. Hostnames, validity dates and CAs are
//! never checked.

use std::sync::Arc;

use clients::cert::{Fingerprint, Identity};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};

use crate::net::NetError;

/// The fingerprint of the peer's end-entity certificate on an established
/// TLS connection (client or server side).
pub fn peer_fingerprint(connection: &rustls::CommonState) -> Option<Fingerprint> {
    connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|der| Fingerprint::of_der(der.as_ref()))
}

fn tls12_refused() -> rustls::Error {
    rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered)
}

fn verify_tls13(
    provider: &CryptoProvider,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    rustls::crypto::verify_tls13_signature(
        message,
        cert,
        dss,
        &provider.signature_verification_algorithms,
    )
}

/// Server side: requires a client certificate and accepts any, checking
/// only the handshake signature. The application reads the fingerprint
/// with [`peer_fingerprint`].
#[derive(Debug)]
pub struct AnyClientCertificate {
    provider: Arc<CryptoProvider>,
}

impl AnyClientCertificate {
    /// A verifier using the ring provider.
    pub fn new() -> Self {
        AnyClientCertificate {
            provider: clients::tls::crypto_provider(),
        }
    }
}

impl Default for AnyClientCertificate {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13(&self.provider, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Server side: requires a client certificate and accepts exactly one,
/// identified by its fingerprint. Any other certificate fails the
/// handshake with an `access_denied` alert.
#[derive(Debug)]
pub struct PinnedClientCertificate {
    pinned: Fingerprint,
    provider: Arc<CryptoProvider>,
}

impl PinnedClientCertificate {
    /// A verifier accepting only `pinned`.
    pub fn new(pinned: Fingerprint) -> Self {
        PinnedClientCertificate {
            pinned,
            provider: clients::tls::crypto_provider(),
        }
    }
}

impl ClientCertVerifier for PinnedClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if Fingerprint::of_der(end_entity.as_ref()) == self.pinned {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13(&self.provider, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Client side: accepts any server certificate, checking only the
/// handshake signature. The application reads the fingerprint with
/// [`peer_fingerprint`].
#[derive(Debug)]
pub struct AnyServerCertificate {
    provider: Arc<CryptoProvider>,
}

impl AnyServerCertificate {
    /// A verifier using the ring provider.
    pub fn new() -> Self {
        AnyServerCertificate {
            provider: clients::tls::crypto_provider(),
        }
    }
}

impl Default for AnyServerCertificate {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13(&self.provider, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn tls_config_error(identity: &Identity) -> impl FnOnce(rustls::Error) -> NetError {
    let fingerprint = identity.fingerprint();
    move |source| NetError::TlsConfig {
        fingerprint,
        source,
    }
}

/// A TLS 1.3 server configuration presenting `identity` and checking client
/// certificates with `verifier`.
pub fn server_config(
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
    server_config(identity, Arc::new(AnyClientCertificate::new()))
}

/// A joiner's agent: presents `identity`, accepts only the client
/// certificate `initiator`.
pub fn agent_server_config(
    identity: &Identity,
    initiator: Fingerprint,
) -> Result<Arc<ServerConfig>, NetError> {
    server_config(identity, Arc::new(PinnedClientCertificate::new(initiator)))
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
