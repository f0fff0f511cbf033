//! The network shell of the trust session: HTTPS carrying the
//! [`protocol`](crate::protocol) messages between the initiator and the
//! joiners. It contains no protocol logic: it moves JSON messages between
//! TLS connections and the state machines, and reports the TLS peer's
//! certificate fingerprint with every message.
//!
//! # Endpoints (the initiator's session listener)
//!
//! HTTPS (TLS 1.3) on the initiator's address, port 9443 by default
//! ([`DEFAULT_PORT`]). The listener presents the initiator's
//! [`Identity`](clients::Identity), **requires a client certificate and
//! accepts any** (checking the handshake signature), and hands the
//! fingerprint of the certificate the connection presented to the protocol
//! with every message. Bodies are JSON, at most [`MAX_MESSAGE_BYTES`]
//! (64 KiB).
//!
//! | endpoint                  | body      | 200 answer  |
//! |---------------------------|-----------|-------------|
//! | `POST /1.0/trust/hello`   | `Hello`   | `Challenge` |
//! | `POST /1.0/trust/proof`   | `Proof`   | `Verdict`   |
//! | `POST /1.0/trust/abandon` | `Abandon` | `{}`        |
//!
//! (the message types of [`crate::protocol`]). Any refusal before a key is
//! shared is an HTTP error whose body is the
//! [`Rejection`](crate::protocol::Rejection) JSON: 400 malformed or wrong
//! version, 403 proof failed, 409 unknown attempt, 410 session closed, 413
//! body too large; unknown endpoints get 404 and other methods 405 (with a
//! `malformed` rejection). An authenticated refusal is a 200 `Verdict`
//! whose outcome is `refused`.
//!
//! [`serve_session`] binds the listener and returns a [`SessionHandle`]:
//! [`SessionHandle::wait`] resolves once every listed joiner is admitted
//! (the [`AdmittedJoiner`]s: name, address, certificate, intent, source
//! address) or the session closed (session timeout, too many failed
//! attempts, [`SessionStopper::stop`]) with a [`SessionFailure`] naming the
//! missing joiners and the recent [`Incident`]s (wrong passphrases,
//! refusals, rejected messages); [`SessionHandle::progress`] follows
//! admissions, failures and incidents live. The protocol state is one
//! [`Initiator`](crate::protocol::Initiator) behind a mutex, never held
//! across an await.
//!
//! Failure behaviour of the listener: at most 64 connections at once
//! (more wait in the backlog), 10 s for the TLS handshake and for each
//! request's headers, 60 s per connection. When the session closes and the
//! caller collects the result, the listener stops accepting, exchanges in
//! progress finish within 5 s (so the last joiner receives its verdict),
//! and the listener goes away; until then late joiners are told the session
//! is closed and why. Dropping the handle stops everything at once.
//!
//! # The joiner
//!
//! [`join_session`] connects to the initiator presenting its own
//! [`Identity`](clients::Identity) and **accepting any server certificate**
//! (checking the handshake signature), records that certificate's
//! fingerprint, and runs one protocol attempt on one connection: hello,
//! challenge, proof, verdict, so the proof travels on the TLS session
//! whose certificates the confirmation bound. Nothing is sent after a
//! challenge whose confirmation does not verify except an `Abandon` for
//! that attempt, so a fake initiator learns nothing more than that its
//! guess was wrong (which not proving tells it anyway), and the real
//! initiator can count and report the failure at once.
//!
//! Failure behaviour: while the initiator is not reachable (refused, reset,
//! no answer within the attempt timeout, 5xx), the joiner retries with
//! capped exponential backoff until its session timeout, so machines may be
//! started in any order; at the deadline it reports the last failure. It
//! stops at once, with the protocol's message, when the initiator fails to
//! prove the passphrase (wrong passphrase or a machine in the middle;
//! [`NetError::is_authentication_failure`]), refuses this machine
//! (authenticated), or rejects the attempt (session closed, wrong
//! version...); a server that does not speak this protocol is reported as
//! such. Only a rejected *attempt id* (evicted under load) is retried. A
//! joiner admitted whose verdict was lost on the way retries; while the
//! session is open it is admitted again (same name, same certificate),
//! after it closed it is told so and stops, and the initiator's first call
//! to its agent then fails naming the machine.
//!
//! # Pinning
//!
//! After `admitted`, each side pins the other's certificate fingerprint
//! for the rest of the run: the joiner's [`agent`](crate::agent) accepts
//! only the initiator's certificate, and the initiator reaches the agent
//! with `clients`' pinned-server transport. Before that, "any certificate"
//! is safe because the protocol's key confirmation binds both fingerprints
//! as each side saw them: a relay that terminates TLS shows each side its
//! own certificate and fails the confirmation (see [`tls`]).

mod http;
mod initiator;
mod joiner;
mod seek;
pub mod tls;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clients::cert::Fingerprint;

pub use http::MAX_MESSAGE_BYTES;
pub use initiator::{
    AdmittedJoiner, Incident, IncidentKind, Notice, Progress, SessionEnd, SessionHandle,
    SessionSettings, SessionStopper, serve_session,
};
pub use joiner::{AttemptError, JoinSettings, join_session};
pub use seek::{Announcer, AnnouncerState, MAX_ANNOUNCERS, SeekError, SeekSettings, seek_and_join};

pub(crate) use http::{Limits, Peer, accept_loop, json, read_body};

use crate::protocol::JoinError;

/// The port MicroCloud's daemon listens on (9443); used for the session
/// and the agent unless configured otherwise.
pub const DEFAULT_PORT: u16 = clients::paths::MICROCLOUD_PORT;

/// `POST` path of a [`Hello`](crate::protocol::Hello).
pub const HELLO_PATH: &str = "/1.0/trust/hello";
/// `POST` path of a [`Proof`](crate::protocol::Proof).
pub const PROOF_PATH: &str = "/1.0/trust/proof";
/// `POST` path of an [`Abandon`](crate::protocol::Abandon).
pub const ABANDON_PATH: &str = "/1.0/trust/abandon";

/// MicroCloud's default session timeout (1 hour).
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(3600);

/// Failures of the network shell (session listener, joiner, agent).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The settings contradict each other.
    #[error("invalid settings: {what}")]
    InvalidSettings {
        /// What is wrong.
        what: String,
    },

    /// The identity's key cannot be used.
    #[error("the TLS identity cannot be used")]
    Identity {
        /// The clients error.
        #[source]
        source: clients::Error,
    },

    /// rustls refused the configuration built from the identity.
    #[error("cannot build a TLS configuration from the identity {fingerprint}")]
    TlsConfig {
        /// The identity's fingerprint.
        fingerprint: Fingerprint,
        /// The rustls error.
        #[source]
        source: rustls::Error,
    },

    /// The listener could not be opened.
    #[error(
        "cannot listen on {address} for the {what}; check that this address belongs to this machine and that nothing else uses the port"
    )]
    Bind {
        /// `trust session` or `agent`.
        what: &'static str,
        /// The address.
        address: SocketAddr,
        /// The system error.
        #[source]
        source: std::io::Error,
    },

    /// The initiator's session closed before every listed joiner was
    /// admitted.
    #[error("{0}")]
    SessionEnded(Box<SessionFailure>),

    /// No trust session answered at the initiator's address in time.
    #[error(
        "no trust session answered at {address} in {:.1} s of trying ({attempts} attempts, until the session timeout); check that `microcloud preseed` runs on the initiator with the same file, that it listens on {address}, and that no firewall blocks the port",
        waited.as_secs_f64()
    )]
    InitiatorUnreachable {
        /// The initiator's address.
        address: SocketAddr,
        /// How long it tried (the session timeout, give or take the
        /// scheduler).
        waited: Duration,
        /// Attempts made.
        attempts: u32,
        /// The last attempt's failure.
        #[source]
        last: AttemptError,
    },

    /// The trust exchange failed for a reason retrying cannot fix.
    #[error("the trust exchange with the initiator at {address} failed")]
    Trust {
        /// The initiator's address.
        address: SocketAddr,
        /// The protocol's reason.
        #[source]
        source: Box<JoinError>,
    },

    /// Something answered that does not speak the trust protocol.
    #[error(
        "the server at {address} answered {method} {path} with HTTP {status} ({body:?}), which is not the microcloud trust protocol; check the initiator's address and port"
    )]
    NotATrustSession {
        /// The address.
        address: SocketAddr,
        /// The request method.
        method: &'static str,
        /// The request path.
        path: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },

    /// The agent heard nothing from the initiator for too long.
    #[error(
        "the initiator went silent: the agent on {name} received no request from it (certificate {initiator}) for {}; it may have stopped or lost the network; check the initiator's output, then run `microcloud preseed` again",
        seconds(idle)
    )]
    InitiatorSilent {
        /// This machine's name.
        name: String,
        /// The initiator's pinned certificate.
        initiator: Fingerprint,
        /// The idle timeout that expired.
        idle: Duration,
    },
}

impl NetError {
    /// Whether the peer failed to prove the passphrase (wrong passphrase or
    /// a machine in the middle). A joiner that found the initiator by
    /// discovery should look again, excluding that address.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(
            self,
            NetError::Trust { source, .. } if **source == JoinError::InitiatorNotAuthenticated
        )
    }
}

/// Seconds, to the millisecond at most and without trailing zeros (`3 s`,
/// `0.5 s`, `9.896 s`; never the float's full expansion).
pub(crate) fn seconds(d: &Duration) -> String {
    let text = format!("{:.3}", d.as_secs_f64());
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} s")
}

/// Why and how an initiator's session ended without every joiner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFailure {
    /// The session's address.
    pub address: SocketAddr,
    /// Why it closed.
    pub reason: SessionEnd,
    /// Listed joiners that were not admitted, sorted.
    pub missing: Vec<String>,
    /// Joiners admitted before it closed, sorted (their agents wait for a
    /// `finish`).
    pub admitted: Vec<AdmittedJoiner>,
    /// The most recent incidents, oldest first.
    pub incidents: Vec<Incident>,
    /// Every incident, by source.
    pub summary: crate::incidents::IncidentSummary,
}

impl fmt::Display for SessionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the trust session on {} ended before every system joined: {}; still missing: {}",
            self.address,
            self.reason,
            self.missing.join(", ")
        )?;
        if !self.summary.is_empty() {
            write!(f, "; {}", self.summary)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod seconds_tests {
    use super::seconds;
    use std::time::Duration;

    #[test]
    fn seconds_have_a_fixed_precision() {
        for (d, text) in [
            (Duration::from_secs(3), "3 s"),
            (Duration::from_millis(500), "0.5 s"),
            (Duration::from_nanos(9_896_393_529), "9.896 s"),
            (Duration::from_secs_f64(9.896_393_529_000_001), "9.896 s"),
            (Duration::from_millis(10_000), "10 s"),
        ] {
            assert_eq!(seconds(&d), text);
        }
    }
}
