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

/// microcluster's `ValidateFQDN` for member and token names
/// (`internal/utils/validation.go` at v2.0.4 and v3; `validateFQDN` in
/// `internal/rest/resources/control.go` at 3d587817830c): 1-255
/// characters, then every dot-separated label through LXD's
/// `validate.IsHostname` (`shared/validate/validate.go`). `Err` carries
/// their message.
pub(crate) fn validate_fqdn(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 255 {
        return Err("Name must be 1-255 characters long");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("Name must be 1-63 characters long");
        }
        if label.starts_with('-') {
            return Err("Name must not start with \"-\" character");
        }
        if label.ends_with('-') {
            return Err("Name must not end with \"-\" character");
        }
        if label.parse::<u64>().is_ok() {
            return Err("Name cannot be a number");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("Name can only contain alphanumeric and hyphen characters");
        }
    }
    Ok(())
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
        assert_eq!(validate_fqdn("node1"), Ok(()));
        assert_eq!(validate_fqdn("node-1.example.com"), Ok(()));
        for (name, message) in [
            ("", "Name must be 1-255 characters long"),
            ("-node", "Name must not start with \"-\" character"),
            ("node-", "Name must not end with \"-\" character"),
            (
                "no_de",
                "Name can only contain alphanumeric and hyphen characters",
            ),
            ("a..b", "Name must be 1-63 characters long"),
            ("node.42", "Name cannot be a number"),
        ] {
            assert_eq!(validate_fqdn(name), Err(message), "{name:?}");
        }
    }

    #[test]
    fn secret_is_64_hex() {
        let s = random_secret();
        assert_eq!(s.len(), 64);
        assert!(s.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
