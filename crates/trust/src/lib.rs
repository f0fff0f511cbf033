//! Trust establishment between the machines of one `microcloud preseed`
//! run, as pure code: no I/O, no clock, no async runtime, randomness
//! injected.
//!
//! Every machine runs the same preseed with a shared passphrase. Before
//! any service call crosses machines, the initiator and each joiner prove
//! to each other that they know the passphrase, using a PAKE (SPAKE2)
//! whose key confirmation binds both sides' TLS certificate fingerprints;
//! afterwards they talk over mutual TLS with both certificates pinned.
//!
//! - [`protocol`] is the whole protocol as two state machines (typed
//!   messages in and out).
//! - `crypto` is its key schedule and transcript.
//! - [`Fingerprint`] is the SHA-256 certificate fingerprint, the one type
//!   every crate of the workspace uses for it (`clients::cert` re-exports
//!   it).
//!
//! The network shell that carries the messages over HTTPS, and the agent a
//! joiner runs once admitted, are in the `session` crate; the TLS
//! certificate verifiers are in `clients::tls`.

mod crypto;
mod fingerprint;
pub mod protocol;

pub use fingerprint::{Fingerprint, InvalidFingerprint};
pub use protocol::{
    Abandon, Admitted, Challenge, CloseReason, Evicted, Hello, Id, Initiator, InitiatorConfig,
    Intent, JoinError, Joiner, JoinerConfig, Outcome, Passphrase, Proof, Refusal, Rejection,
    Trusted, Verdict,
};
