//! Key schedule and transcript of the trust protocol.
//!
//! SPAKE2 (Ed25519 group) gives both sides the same 32-byte secret only if
//! they used the same passphrase. That secret is never used directly: it is
//! expanded with HKDF-SHA256, salted with a hash of the whole transcript, into
//! separate keys for the initiator's confirmation, the joiner's confirmation
//! and the MACs of the later messages. The transcript binds the protocol
//! label, the session and attempt ids, both names, both SPAKE2 messages and
//! both TLS certificate fingerprints as each side saw them, so a machine in
//! the middle (which necessarily shows each side a different certificate)
//! makes every confirmation fail.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::protocol::{Fingerprint, Id, PROTOCOL_LABEL};

type HmacSha256 = Hmac<Sha256>;

/// A 32-byte authentication tag.
pub type Tag = [u8; 32];

/// Everything both sides must agree on for the keys to match.
pub(crate) struct Transcript<'a> {
    pub session: &'a Id,
    pub attempt: &'a Id,
    pub initiator_name: &'a str,
    pub joiner_name: &'a str,
    pub joiner_pake: &'a [u8],
    pub initiator_pake: &'a [u8],
    pub joiner_cert: &'a Fingerprint,
    pub initiator_cert: &'a Fingerprint,
}

impl Transcript<'_> {
    fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        // Every field is length-prefixed so that no two transcripts collide.
        for field in [
            PROTOCOL_LABEL.as_bytes(),
            &self.session.0,
            &self.attempt.0,
            self.initiator_name.as_bytes(),
            self.joiner_name.as_bytes(),
            self.joiner_pake,
            self.initiator_pake,
            self.joiner_cert.as_bytes(),
            self.initiator_cert.as_bytes(),
        ] {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field);
        }
        h.finalize().into()
    }
}

/// Keys derived from the SPAKE2 secret and the transcript.
/// HMAC-SHA256 keys are one hash block (64 bytes) long, which makes key
/// setup infallible.
type Key = [u8; 64];

pub(crate) struct Keys {
    initiator_confirm: Key,
    joiner_confirm: Key,
    messages: Key,
}

impl Keys {
    pub fn derive(shared: &[u8], transcript: &Transcript<'_>) -> Keys {
        let salt = transcript.digest();
        let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
        let mut keys = Keys {
            initiator_confirm: [0; 64],
            joiner_confirm: [0; 64],
            messages: [0; 64],
        };
        // 64-byte outputs from HKDF-SHA256 cannot fail (the limit is 255 * 32).
        let _ = hk.expand(b"initiator confirmation", &mut keys.initiator_confirm);
        let _ = hk.expand(b"joiner confirmation", &mut keys.joiner_confirm);
        let _ = hk.expand(b"message authentication", &mut keys.messages);
        keys
    }

    pub fn initiator_confirmation(&self) -> Tag {
        mac(&self.initiator_confirm, b"initiator")
    }

    pub fn joiner_confirmation(&self) -> Tag {
        mac(&self.joiner_confirm, b"joiner")
    }

    /// MAC over a message body, with a label naming the message kind.
    pub fn seal(&self, label: &str, body: &[u8]) -> Tag {
        let mut m = new_mac(&self.messages);
        m.update(label.as_bytes());
        m.update(&[0]);
        m.update(body);
        m.finalize().into_bytes().into()
    }

    /// Constant-time check of a tag made by [`Keys::seal`].
    pub fn verify(&self, label: &str, body: &[u8], tag: &Tag) -> bool {
        let mut m = new_mac(&self.messages);
        m.update(label.as_bytes());
        m.update(&[0]);
        m.update(body);
        m.verify_slice(tag).is_ok()
    }
}

fn new_mac(key: &Key) -> HmacSha256 {
    <HmacSha256 as hmac::digest::KeyInit>::new(key.into())
}

fn mac(key: &Key, label: &[u8]) -> Tag {
    let mut m = new_mac(key);
    m.update(label);
    m.finalize().into_bytes().into()
}

/// Constant-time comparison of two tags.
pub(crate) fn tags_equal(a: &Tag, b: &Tag) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}
