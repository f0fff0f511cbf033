//! Certificates and TLS configuration (rustls with the `ring` provider).
//!
//! Like the real services, every simulated daemon has a self-signed ECDSA
//! P-384 certificate, speaks TLS 1.3 only, asks for (but does not require)
//! a client certificate, and authorises requests by the SHA-256
//! fingerprint of the client certificate (lowercase hex of the DER), never
//! by a CA chain. Clients pin the server certificate by fingerprint, as the
//! `lxc` client and MicroCloud do; host names are not verified.
//!
//! # Why the simulators keep their own certificate verifiers
//!
//! The tool's verifiers are one set in `clients::tls`; the two here
//! (`AnyClientCert`, `PinnedVerifier`) are deliberately separate:
//!
//! - They model the Go daemons, not the tool. A simulated server asks for
//!   a client certificate but does not require one, because LXD does
//!   (`config.ClientAuth = tls.RequestClientCert`, lxd/util/net.go,
//!   LXD v5.21.0) and answers untrusted clients at the HTTP level; the
//!   tool's `ClientCertByFingerprint` always requires one. A simulated
//!   member pins by the fingerprint *string* a join token carries,
//!   compared case-insensitively: a malformed one fails at the handshake
//!   like any other mismatch, with the simulator's own message, where the
//!   tool parses a `Fingerprint` first.
//! - They are the oracle the clients' verifiers are tested against: code
//!   shared between the simulator and the code under test would agree with
//!   itself when wrong.
//! - The simulators depend on no crate of the tool (they are its test
//!   double); `clients` dev-depends on them.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::error::SimError;

/// The crypto provider used everywhere in this crate.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// SHA-256 of DER bytes as lowercase hex, the fingerprint format used by
/// LXD and microcluster.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    hex(digest.as_ref())
}

/// Lowercase hex encoding.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A certificate with its private key.
#[derive(Clone)]
pub struct Identity {
    inner: Arc<IdentityInner>,
}

struct IdentityInner {
    cert_der: CertificateDer<'static>,
    key_der: PrivatePkcs8KeyDer<'static>,
    cert_pem: String,
    key_pem: String,
    fingerprint: String,
    certified: Arc<CertifiedKey>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("fingerprint", &self.inner.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Generates a self-signed ECDSA P-384 certificate with the given
    /// common name and subject alternative names (IP addresses become IP
    /// SANs, everything else DNS SANs).
    pub fn generate(common_name: &str, sans: &[String]) -> Result<Self, SimError> {
        let err = |source| SimError::Certificate {
            subject: common_name.to_string(),
            source,
        };
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).map_err(err)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        for san in sans {
            let san = match san.parse::<std::net::IpAddr>() {
                Ok(ip) => rcgen::SanType::IpAddress(ip),
                Err(_) => rcgen::SanType::DnsName(san.clone().try_into().map_err(err)?),
            };
            params.subject_alt_names.push(san);
        }
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "linuxcontainers.org");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
        let cert = params.self_signed(&key).map_err(err)?;
        Self::from_parts(
            cert.der().clone(),
            key.serialize_der(),
            cert.pem(),
            key.serialize_pem(),
        )
    }

    /// Loads a certificate and PKCS#8 key from PEM text.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, SimError> {
        let cert =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| SimError::Pem {
                what: "certificate",
                detail: e.to_string(),
            })?;
        let key =
            PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| SimError::Pem {
                what: "private key",
                detail: e.to_string(),
            })?;
        Self::from_parts(
            cert,
            key.secret_pkcs8_der().to_vec(),
            cert_pem.to_string(),
            key_pem.to_string(),
        )
    }

    fn from_parts(
        cert_der: CertificateDer<'static>,
        key_der: Vec<u8>,
        cert_pem: String,
        key_pem: String,
    ) -> Result<Self, SimError> {
        let key_der = PrivatePkcs8KeyDer::from(key_der);
        let signing = provider()
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(key_der.clone_key()))
            .map_err(|source| SimError::Tls {
                what: "certificate key".to_string(),
                source,
            })?;
        let certified = Arc::new(CertifiedKey::new(vec![cert_der.clone()], signing));
        Ok(Self {
            inner: Arc::new(IdentityInner {
                fingerprint: fingerprint(&cert_der),
                cert_der,
                key_der,
                cert_pem,
                key_pem,
                certified,
            }),
        })
    }

    /// The certificate in PEM form.
    pub fn cert_pem(&self) -> &str {
        &self.inner.cert_pem
    }
    /// The private key in PEM (PKCS#8) form.
    pub fn key_pem(&self) -> &str {
        &self.inner.key_pem
    }
    /// The certificate in DER form.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.inner.cert_der
    }
    /// SHA-256 fingerprint of the certificate (lowercase hex).
    pub fn fingerprint(&self) -> &str {
        &self.inner.fingerprint
    }
    pub(crate) fn certified(&self) -> Arc<CertifiedKey> {
        self.inner.certified.clone()
    }
    pub(crate) fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.inner.key_der.clone_key())
    }
}

/// Parses the first certificate of a PEM text into DER.
pub fn pem_to_der(pem: &str) -> Option<CertificateDer<'static>> {
    CertificateDer::from_pem_slice(pem.as_bytes()).ok()
}

/// DER to PEM text (64-column base64, like Go's `pem.Encode`).
pub fn der_to_pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Whether the certificate's subject alternative names contain `name` as
/// a DNS name.
pub fn cert_has_dns_san(der: &CertificateDer<'_>, name: &str) -> bool {
    let Ok(cert) = webpki::EndEntityCert::try_from(der) else {
        return false;
    };
    let Ok(server_name) = ServerName::try_from(name) else {
        return false;
    };
    cert.verify_is_valid_for_subject_name(&server_name).is_ok()
}

/// The certificate a listener presents; swapped at run time when a daemon
/// moves from its server certificate to the cluster certificate.
#[derive(Debug)]
pub(crate) struct DynamicCert {
    current: RwLock<Identity>,
}

impl DynamicCert {
    pub(crate) fn new(identity: Identity) -> Arc<Self> {
        Arc::new(Self {
            current: RwLock::new(identity),
        })
    }
    pub(crate) fn set(&self, identity: Identity) {
        if let Ok(mut c) = self.current.write() {
            *c = identity;
        }
    }
    pub(crate) fn get(&self) -> Option<Identity> {
        self.current.read().ok().map(|c| c.clone())
    }
}

impl ResolvesServerCert for DynamicCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.get().map(|i| i.certified())
    }
}

/// Accepts any client certificate (or none), as LXD's
/// `tls.RequestClientCert`; the application decides trust by fingerprint.
/// Kept apart from `clients::tls` on purpose (module docs). Signatures are still verified, so a client cannot
/// claim a certificate whose key it does not hold.
#[derive(Debug)]
struct AnyClientCert {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
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
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
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

/// Server side TLS 1.3 configuration presenting `cert`.
pub(crate) fn server_config(cert: Arc<DynamicCert>) -> Result<Arc<rustls::ServerConfig>, SimError> {
    let provider = provider();
    let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|source| SimError::Tls {
            what: "server".to_string(),
            source,
        })?
        .with_client_cert_verifier(Arc::new(AnyClientCert { provider }))
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// How a client checks the server certificate.
#[derive(Debug, Clone)]
pub enum Pin {
    /// The SHA-256 fingerprint the server certificate must have.
    Fingerprint(String),
    /// Accept any certificate (used only to fetch a certificate whose
    /// fingerprint is then compared, as joiners do with a token).
    Any,
}

/// A simulated member's check of the server certificate, by the
/// fingerprint string it was given. Kept apart from `clients::tls` on
/// purpose (module docs).
#[derive(Debug)]
struct PinnedVerifier {
    pin: Pin,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.pin {
            Pin::Any => Ok(ServerCertVerified::assertion()),
            Pin::Fingerprint(want) => {
                let got = fingerprint(end_entity);
                if got.eq_ignore_ascii_case(want) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(rustls::Error::General(format!(
                        "certificate fingerprint mismatch: server presented {got}, expected {want}"
                    )))
                }
            }
        }
    }
    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
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

/// Client side TLS 1.3 configuration: pins the server certificate and
/// presents `client` when given.
pub fn client_config(
    client: Option<&Identity>,
    pin: Pin,
) -> Result<Arc<rustls::ClientConfig>, SimError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|source| SimError::Tls {
            what: "client".to_string(),
            source,
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedVerifier { pin, provider }));
    let mut config = match client {
        Some(id) => builder
            .with_client_auth_cert(vec![id.cert_der().clone()], id.key_der())
            .map_err(|source| SimError::Tls {
                what: "client certificate".to_string(),
                source,
            })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Connects with TLS to `addr` and returns the certificate the server
/// presented, without trusting it (the caller compares fingerprints).
pub async fn fetch_certificate(addr: SocketAddr) -> std::io::Result<CertificateDer<'static>> {
    let config = client_config(None, Pin::Any).map_err(std::io::Error::other)?;
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = ServerName::IpAddress(addr.ip().into());
    let tls = connector.connect(name, tcp).await?;
    let (_, conn) = tls.get_ref();
    conn.peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.clone().into_owned())
        .ok_or_else(|| std::io::Error::other("server presented no certificate"))
}
