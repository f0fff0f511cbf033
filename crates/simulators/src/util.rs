//! Small helpers: randomness, identifiers, name validation.

use ring::rand::{SecureRandom as _, SystemRandom};

/// Fills `buf` with random bytes; false if the system RNG failed.
pub(crate) fn fill_random(buf: &mut [u8]) -> bool {
    SystemRandom::new().fill(buf).is_ok()
}

/// 32 random bytes as 64 lowercase hex characters, like Go's
/// `shared.RandomCryptoString` used by LXD and microcluster for secrets.
pub(crate) fn random_secret() -> String {
    let mut b = [0u8; 32];
    if !fill_random(&mut b) {
        // Fall back on a time-derived value rather than panicking; secrets
        // in a simulator only need to be unique.
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        b[..16].copy_from_slice(&n.to_le_bytes());
    }
    crate::tls::hex(&b)
}

/// A random version-4 UUID in canonical form.
pub(crate) fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    let _ = fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::tls::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// microcluster's `ValidateFQDN`-like check for member and token names:
/// 1-255 characters, labels of 1-63 `[A-Za-z0-9-]` not starting or ending
/// with `-`, separated by dots.
pub(crate) fn valid_fqdn(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert_ne!(u, uuid_v4());
    }

    #[test]
    fn fqdn() {
        assert!(valid_fqdn("node1"));
        assert!(valid_fqdn("node-1.example.com"));
        assert!(!valid_fqdn(""));
        assert!(!valid_fqdn("-node"));
        assert!(!valid_fqdn("no_de"));
        assert!(!valid_fqdn("a..b"));
    }

    #[test]
    fn secret_is_64_hex() {
        let s = random_secret();
        assert_eq!(s.len(), 64);
        assert!(s.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
