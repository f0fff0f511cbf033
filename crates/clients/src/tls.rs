//! TLS for every connection the tool makes or accepts: rustls with the
//! `ring` provider, TLS 1.3 only, self-signed certificates, trust by
//! SHA-256 fingerprint. The one set of certificate verifiers of the
//! workspace (the simulators keep their own, for the reason written in
//! `simulators::tls`):
//!
//! | verifier                       | side   | accepts                                             | used by |
//! |--------------------------------|--------|-----------------------------------------------------|---------|
//! | [`PinnedServerCertVerifier`]   | client | exactly one server certificate, by fingerprint       | every client of LXD, MicroCeph, MicroOVN and a joiner's agent ([`client_config`]) |
//! | [`AnyServerCertificate`]       | client | any server certificate (before admission)           | a joiner reaching the trust session (`session::net::tls`) |
//! | [`ClientCertByFingerprint`]    | server | a client certificate, by [`ClientCerts`] policy: exactly one pinned, or any (required) | a joiner's agent (pinned to the initiator), the initiator's session listener (any) |
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
//! "Any" is deliberate where it appears: before the trust protocol ran,
//! neither side can know the other's certificate, so each side records the
//! fingerprint it saw ([`peer_fingerprint`]) and the protocol binds both
//! fingerprints into its key confirmation (`trust::protocol`). Every
//! verifier checks the handshake signature with the presented
//! certificate's key, so a peer cannot show a certificate whose private
//! key it does not hold: the recorded fingerprint is the peer's own.
//! Hostnames, validity dates and CAs are never checked; a TLS 1.2
//! signature is never accepted.
//!
//! Refusals, as the peer sees them: a server certificate that is not the
//! pinned one fails the client's handshake with [`PinMismatch`]; a client
//! certificate that is not the pinned one is answered with an
//! `access_denied` alert; a missing client certificate, with
//! `certificate_required`.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::Error;
use crate::cert::{Fingerprint, Identity};

/// The crypto provider used everywhere in this crate (rustls + ring).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The fingerprint of the peer's end-entity certificate on an established
/// TLS connection (client or server side).
pub fn peer_fingerprint(connection: &rustls::CommonState) -> Option<Fingerprint> {
    connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|der| Fingerprint::of_der(der.as_ref()))
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

/// The signature checks every verifier here shares: TLS 1.3 signatures
/// are verified with the presented certificate's key, TLS 1.2 is refused.
#[derive(Debug)]
struct Signatures {
    provider: Arc<CryptoProvider>,
}

impl Signatures {
    fn new() -> Self {
        Signatures {
            provider: crypto_provider(),
        }
    }

    fn tls12(&self) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only TLS 1.3 is enabled; a TLS 1.2 signature is never acceptable.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn tls13(
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

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Client side: accepts exactly one server certificate, identified by its
/// fingerprint.
#[derive(Debug)]
pub struct PinnedServerCertVerifier {
    pinned: Fingerprint,
    signatures: Signatures,
}

impl PinnedServerCertVerifier {
    /// A verifier for the given fingerprint.
    pub fn new(pinned: Fingerprint) -> Self {
        PinnedServerCertVerifier {
            pinned,
            signatures: Signatures::new(),
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
        self.signatures.tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.schemes()
    }
}

/// Client side: accepts any server certificate, checking only the
/// handshake signature; for a joiner reaching the trust session, before
/// either side can know the other's certificate. The application reads
/// the fingerprint with [`peer_fingerprint`].
#[derive(Debug)]
pub struct AnyServerCertificate {
    signatures: Signatures,
}

impl AnyServerCertificate {
    /// A verifier using the ring provider.
    pub fn new() -> Self {
        AnyServerCertificate {
            signatures: Signatures::new(),
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
        self.signatures.tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.schemes()
    }
}

/// Which client certificates a [`ClientCertByFingerprint`] accepts. A
/// client certificate is always required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCerts {
    /// Exactly this one; any other fails the handshake with an
    /// `access_denied` alert.
    Pinned(Fingerprint),
    /// Any; the application reads the fingerprint with
    /// [`peer_fingerprint`] and decides (the trust session binds it into
    /// the protocol's key confirmation).
    Any,
}

/// Server side: requires a client certificate and accepts it by
/// fingerprint, as [`ClientCerts`] says.
#[derive(Debug)]
pub struct ClientCertByFingerprint {
    accept: ClientCerts,
    signatures: Signatures,
}

impl ClientCertByFingerprint {
    /// A verifier accepting what `accept` says.
    pub fn new(accept: ClientCerts) -> Self {
        ClientCertByFingerprint {
            accept,
            signatures: Signatures::new(),
        }
    }
}

impl ClientCertVerifier for ClientCertByFingerprint {
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
        match self.accept {
            ClientCerts::Pinned(pinned) if Fingerprint::of_der(end_entity.as_ref()) != pinned => {
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ApplicationVerificationFailure,
                ))
            }
            ClientCerts::Pinned(_) | ClientCerts::Any => Ok(ClientCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.schemes()
    }
}

/// A TLS 1.3 client configuration presenting `identity` and accepting only
/// a server whose certificate has the `pinned` fingerprint.
pub fn client_config(identity: &Identity, pinned: Fingerprint) -> Result<Arc<ClientConfig>, Error> {
    let tls_config = |source| Error::TlsConfig {
        fingerprint: identity.fingerprint().to_string(),
        source,
    };
    let (chain, key) = identity.rustls_parts()?;
    let config = ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_config)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServerCertVerifier::new(pinned)))
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
