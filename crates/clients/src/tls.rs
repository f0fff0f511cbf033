//! Mutual TLS with the server certificate pinned by fingerprint.
//!
//! LXD and microcluster servers use self-signed certificates, and LXD
//! cluster certificates carry no SAN usable for the member's address, so
//! hostname verification is impossible. Instead the client knows the
//! SHA-256 fingerprint of the certificate the server must present (from a
//! join token, a trust exchange or configuration) and accepts exactly that
//! certificate. [`PinnedServerCertVerifier`] checks:
//!
//! 1. the end-entity certificate's fingerprint equals the pinned one
//!    (otherwise the handshake fails and the transport reports
//!    [`Error::FingerprintMismatch`] with
//!    both fingerprints);
//! 2. the handshake signature was made with that certificate's key (so a
//!    server that merely replays the certificate cannot complete it).
//!
//! Only TLS 1.3 is offered (LXD and microcluster require it), using rustls'
//! `ring` provider. The client always presents its [`Identity`].

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::Error;
use crate::cert::{Fingerprint, Identity};

/// The crypto provider used everywhere in this crate (rustls + ring).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The error a [`PinnedServerCertVerifier`] raises inside rustls when the
/// server's certificate is not the pinned one; the transport turns it into
/// [`Error::FingerprintMismatch`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server certificate fingerprint {actual} does not match the pinned {expected}")]
pub struct PinMismatch {
    /// The pinned fingerprint.
    pub expected: Fingerprint,
    /// The presented one.
    pub actual: Fingerprint,
}

/// Accepts exactly one server certificate, identified by its fingerprint.
#[derive(Debug)]
pub struct PinnedServerCertVerifier {
    pinned: Fingerprint,
    provider: Arc<CryptoProvider>,
}

impl PinnedServerCertVerifier {
    /// A verifier for the given fingerprint.
    pub fn new(pinned: Fingerprint) -> Self {
        PinnedServerCertVerifier {
            pinned,
            provider: crypto_provider(),
        }
    }

    /// The pinned fingerprint.
    pub fn pinned(&self) -> Fingerprint {
        self.pinned
    }
}

impl ServerCertVerifier for PinnedServerCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual = Fingerprint::of_der(end_entity.as_ref());
        if actual != self.pinned {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(PinMismatch {
                    expected: self.pinned,
                    actual,
                }))),
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only TLS 1.3 is enabled; a TLS 1.2 signature is never acceptable.
        Err(rustls::Error::General(
            "TLS 1.2 is not accepted: only TLS 1.3 is enabled".into(),
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS 1.3 client configuration presenting `identity` and accepting only
/// a server whose certificate has the `pinned` fingerprint.
pub fn client_config(identity: &Identity, pinned: Fingerprint) -> Result<Arc<ClientConfig>, Error> {
    build(identity, PinnedServerCertVerifier::new(pinned))
}

fn build(
    identity: &Identity,
    verifier: PinnedServerCertVerifier,
) -> Result<Arc<ClientConfig>, Error> {
    let tls_config = |source| Error::TlsConfig {
        fingerprint: identity.fingerprint().to_string(),
        source,
    };
    let (chain, key) = identity.rustls_parts()?;
    let config = ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_config)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(chain, key)
        .map_err(tls_config)?;
    Ok(Arc::new(config))
}

/// Finds a [`PinMismatch`] inside an I/O error from a TLS handshake.
pub(crate) fn pin_mismatch(err: &std::io::Error) -> Option<PinMismatch> {
    let inner = err.get_ref()?;
    match inner.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            other.0.downcast_ref::<PinMismatch>().cloned()
        }
        _ => None,
    }
}
