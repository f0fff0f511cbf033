//! Certificate identities and SHA-256 fingerprints.
//!
//! LXD and microcluster identify peers by the SHA-256 of the certificate's
//! DER encoding, written as 64 lowercase hexadecimal digits. [`Fingerprint`]
//! is that value; [`Identity`] is a certificate with its private key, as
//! used for mutual TLS. [`Identity::generate`] makes a self-signed ECDSA
//! P-256 certificate (what LXD and microcluster generate too).
//!
//! Nothing here touches the file system: callers read and write PEM text.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

/// A SHA-256 certificate fingerprint.
///
/// Parses from 64 hexadecimal digits (either case); displays and serializes
/// as 64 lowercase digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Fingerprint(bytes)
    }

    /// The fingerprint of the first certificate in PEM text.
    pub fn of_pem(pem: &str) -> Result<Self, Error> {
        let der = certificate_der_from_pem(pem)?;
        Ok(Self::of_der(der.as_ref()))
    }

    /// A fingerprint from its raw digest.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Fingerprint(bytes)
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || Error::InvalidFingerprint {
            input: s.to_owned(),
        };
        let digits = s.as_bytes();
        if digits.len() != 64 {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        for (out, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (
                pair.first().and_then(|c| hex_value(*c)),
                pair.get(1).and_then(|c| hex_value(*c)),
            ) else {
                return Err(invalid());
            };
            *out = (hi << 4) | lo;
        }
        Ok(Fingerprint(bytes))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
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
