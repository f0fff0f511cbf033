//! Certificate identities and SHA-256 fingerprints.
//!
//! LXD and microcluster identify peers by the SHA-256 of the certificate's
//! DER encoding, written as 64 lowercase hexadecimal digits. [`Fingerprint`]
//! is that value (the `trust` crate's type, re-exported: one type for the
//! whole workspace); [`Identity`] is a certificate with its private key, as
//! used for mutual TLS. [`Identity::generate`] makes a self-signed ECDSA
//! P-256 certificate (what LXD and microcluster generate too).
//!
//! Nothing here touches the file system: callers read and write PEM text.

use std::fmt;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

pub use trust::Fingerprint;

/// The fingerprint of the first certificate in PEM text.
pub fn fingerprint_of_pem(pem: &str) -> Result<Fingerprint, Error> {
    let der = certificate_der_from_pem(pem)?;
    Ok(Fingerprint::of_der(der.as_ref()))
}

/// A certificate and its private key, used as a TLS client (or server)
/// identity. `Debug` never prints the key.
#[derive(Clone)]
pub struct Identity {
    cert_pem: String,
    key_pem: String,
    cert_der: CertificateDer<'static>,
    fingerprint: Fingerprint,
}

impl Identity {
    /// Generates a self-signed ECDSA P-256 certificate with the given common
    /// name. Each subject alternative name that parses as an IP address
    /// becomes an IP SAN, every other one a DNS SAN. Validity is rcgen's
    /// default (1975 to 4096): peers pin the fingerprint, not the dates.
    pub fn generate(common_name: &str, subject_alt_names: &[String]) -> Result<Self, Error> {
        let generation = |source| Error::CertificateGeneration {
            common_name: common_name.to_owned(),
            source,
        };
        let key =
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generation)?;
        let mut params =
            rcgen::CertificateParams::new(subject_alt_names.to_vec()).map_err(generation)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let cert = params.self_signed(&key).map_err(generation)?;
        let cert_der = cert.der().clone();
        Ok(Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            fingerprint: Fingerprint::of_der(cert_der.as_ref()),
            cert_der,
        })
    }

    /// An identity from PEM text (for example LXD's `server.crt` /
    /// `server.key`). The key may be PKCS#8, SEC1 or PKCS#1.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, Error> {
        let cert_der = certificate_der_from_pem(cert_pem)?;
        // Validate the key now, so that a bad key is reported here and not
        // at the first handshake.
        private_key_from_pem(key_pem)?;
        Ok(Identity {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            fingerprint: Fingerprint::of_der(cert_der.as_ref()),
            cert_der,
        })
    }

    /// The certificate, PEM-encoded.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PEM-encoded.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The certificate, DER-encoded.
    pub fn cert_der(&self) -> &[u8] {
        self.cert_der.as_ref()
    }

    /// The certificate as LXD's `POST /1.0/certificates` wants it: standard
    /// base64 of the DER (the PEM body without headers or line breaks).
    pub fn cert_base64_der(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.cert_der.as_ref())
    }

    /// The SHA-256 fingerprint of the certificate.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The rustls form of the certificate chain and key.
    pub fn rustls_parts(
        &self,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
        Ok((
            vec![self.cert_der.clone()],
            private_key_from_pem(&self.key_pem)?,
        ))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("fingerprint", &self.fingerprint)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The DER of the first certificate in PEM text.
pub fn certificate_der_from_pem(pem: &str) -> Result<CertificateDer<'static>, Error> {
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| Error::InvalidPem {
        what: "certificate",
        reason: e.to_string(),
    })
}

/// A PEM certificate from DER (64-column base64, as Go's `pem.Encode`
/// writes it).
pub fn certificate_pem_from_der(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        pem.push_str(line);
        pem.push('\n');
        rest = tail;
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

fn private_key_from_pem(pem: &str) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| Error::InvalidPem {
        what: "private key",
        reason: e.to_string(),
    })
}
