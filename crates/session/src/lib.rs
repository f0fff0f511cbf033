//! Trust establishment between the machines of one `microcloud preseed` run.
//!
//! Every machine runs the same preseed with a shared passphrase. Before any
//! service call crosses machines, the initiator and each joiner prove to
//! each other that they know the passphrase, using a PAKE (SPAKE2) whose key
//! confirmation binds both sides' TLS certificate fingerprints; afterwards
//! they talk over mutual TLS with both certificates pinned.
//!
//! [`role`] decides, purely from the preseed and the machine's identity,
//! whether this machine is the initiator or a joiner, in bootstrap or add
//! mode, and which address it uses.
//!
//! [`discovery`] finds the initiator by multicast, in MicroCloud's format.
//!
//! [`protocol`] is the whole protocol as sans-I/O state machines (typed
//! messages in and out, randomness injected); the network shell that carries
//! the messages over HTTPS lives beside it and contains no protocol logic.

mod crypto;
pub mod discovery;
pub mod protocol;
pub mod role;

pub use protocol::{
    Admitted, Challenge, CloseReason, Fingerprint, Hello, Initiator, InitiatorConfig, Intent,
    JoinError, Joiner, JoinerConfig, Outcome, Passphrase, Proof, Refusal, Rejection, Trusted,
    Verdict,
};
