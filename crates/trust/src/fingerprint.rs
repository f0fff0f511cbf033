//! SHA-256 certificate fingerprints.
//!
//! LXD and microcluster identify peers by the SHA-256 of the certificate's
//! DER encoding, written as 64 lowercase hexadecimal digits; the trust
//! protocol binds both sides' fingerprints into its key confirmation.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// A SHA-256 certificate fingerprint.
///
/// Parses from 64 hexadecimal digits (either case); displays and serializes
/// as 64 lowercase digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        Fingerprint(Sha256::digest(der).into())
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

/// A fingerprint string that is not 64 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid certificate fingerprint {input:?}: expected 64 hexadecimal digits (the SHA-256 of the certificate's DER)"
)]
pub struct InvalidFingerprint {
    /// The rejected input.
    pub input: String,
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
    type Err = InvalidFingerprint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidFingerprint {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_either_case_and_prints_lowercase() {
        let upper = "57BB0FF4340B5BB28517E062023101ADF788C37846DC8B619EB2C3CB4EF29436";
        let fp: Fingerprint = upper.parse().unwrap();
        assert_eq!(fp.to_string(), upper.to_lowercase());
        assert_eq!(
            format!("{fp:?}"),
            format!("Fingerprint({})", upper.to_lowercase())
        );
    }

    #[test]
    fn rejects_anything_but_64_hex_digits() {
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65), &"é".repeat(32)] {
            assert_eq!(
                bad.parse::<Fingerprint>().unwrap_err().to_string(),
                format!(
                    "invalid certificate fingerprint {bad:?}: expected 64 hexadecimal digits (the SHA-256 of the certificate's DER)"
                )
            );
        }
    }

    #[test]
    fn is_the_sha256_of_the_der() {
        assert_eq!(
            Fingerprint::of_der(b"").to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
