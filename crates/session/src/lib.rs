//! Trust establishment between the machines of one `microcloud preseed` run.
//!
//! Every machine runs the same preseed with a shared passphrase. Before any
//! service call crosses machines, the initiator and each joiner prove to
//! each other that they know the passphrase, using a PAKE (SPAKE2) whose key
//! confirmation binds both sides' TLS certificate fingerprints; afterwards
//! they talk over mutual TLS with both certificates pinned. The protocol
//! itself is the pure `trust` crate, re-exported here as [`protocol`]; this
//! crate carries it over the network.
//!
//! [`discovery`] finds the initiator by multicast, in MicroCloud's format.
//!
//! [`incidents`] aggregates a session's failed and refused attempts by
//! source, with bounded memory and per-source rate-limited live lines.
//!
//! [`protocol`] (the `trust` crate) is the whole protocol as sans-I/O state
//! machines (typed messages in and out, randomness injected).
//!
//! [`net`] is the network shell that carries the messages over HTTPS (the
//! initiator's listener, the joiner's retrying client, the TLS verifiers);
//! it contains no protocol logic.
//!
//! [`agent`] is what a joiner runs once admitted: an HTTPS server that
//! accepts only the initiator's pinned certificate, proxies the local
//! services' sockets, reports local facts and ends when the initiator says
//! the run is over (or goes silent). It also reads the machine's IPv4
//! default route ([`agent::default_route_interface_from_proc`]), for the
//! agent's facts and for the local machine's.

pub mod agent;
pub mod discovery;
pub mod incidents;
pub mod net;

pub use trust::protocol;
pub use trust::{
    Abandon, Admitted, Challenge, CloseReason, Evicted, Fingerprint, Hello, Initiator,
    InitiatorConfig, Intent, JoinError, Joiner, JoinerConfig, Outcome, Passphrase, Proof, Refusal,
    Rejection, Trusted, Verdict,
};
