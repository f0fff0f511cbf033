//! The trust protocol as two state machines: typed messages in, typed
//! messages out, no I/O. Randomness is injected; the TLS layer below reports
//! the peer's certificate fingerprint with every message.
//!
//! ```text
//!  joiner (SPAKE2 side B)                          initiator (SPAKE2 side A)
//!  Hello { version, joiner_name, pake_b }  ───────►  counts an open attempt
//!                                          ◄───────  Challenge { session, attempt,
//!                                                      initiator_name, pake_a,
//!                                                      initiator_confirmation }
//!  checks the confirmation (wrong passphrase
//!  or a machine in the middle ⇒ stop here)
//!  Proof { attempt, joiner_confirmation,   ───────►  checks the confirmation (failure
//!          intent, mac }                               counts against the limit), then
//!                                                      the policy: listed name, one
//!                                                      certificate per name, services
//!                                          ◄───────  Verdict { attempt, outcome, mac }
//! ```
//!
//! A joiner whose check of the initiator's confirmation fails may send
//! `Abandon { attempt }`, so that the initiator counts the failure at once
//! and can say which joiner failed (otherwise the open attempt counts only
//! when it is evicted).
//!
//! Both confirmations and both MACs are keyed from the SPAKE2 secret and a
//! transcript that includes both TLS certificate fingerprints as each side
//! saw them (see [`crate::crypto`]). After a `Verdict` of `Admitted`, each
//! side knows the other's certificate fingerprint and pins it for mutual TLS
//! for the rest of the run.
//!
//! Properties:
//! - **No offline guessing.** A recording of the traffic gives an attacker
//!   nothing to test passphrases against: SPAKE2 messages are uniformly
//!   distributed whatever the passphrase.
//! - **One online guess per attempt.** An active attacker posing as a joiner
//!   learns whether one guessed passphrase is right per `Hello`; every
//!   attempt that does not end in a valid `Proof` counts as a failure, and
//!   after [`InitiatorConfig::max_failed_attempts`] failures the session is
//!   closed for everyone. Open attempts are capped
//!   ([`InitiatorConfig::max_open_attempts`]); evicting one counts as a failure.
//!   An attacker posing as the initiator learns nothing from a joiner: the
//!   joiner checks the initiator's confirmation before it proves anything.
//! - **No machine in the middle.** Relaying between two TLS connections shows
//!   each side a different certificate, so the transcripts differ and the
//!   first confirmation fails.
//! - **No replay.** Every attempt has fresh SPAKE2 scalars on both sides, a
//!   fresh attempt id and a per-session id; an old `Proof` matches no open
//!   attempt, and an attempt id is removed once used.

use rand_core::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::crypto::{Keys, Tag, Transcript, tags_equal};

/// Label mixed into every transcript; changes with incompatible revisions.
pub const PROTOCOL_LABEL: &str = "microcloud-trust/1";
/// Version number carried in `Hello`.
pub const PROTOCOL_VERSION: u32 = 1;

const SPAKE_ID_INITIATOR: &[u8] = b"microcloud initiator";
const SPAKE_ID_JOINER: &[u8] = b"microcloud joiner";

pub use crate::fingerprint::Fingerprint;

/// A random 128-bit identifier (sessions and attempts).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Id(#[serde(with = "hex::serde")] pub [u8; 16]);

impl Id {
    fn random(rng: &mut (impl RngCore + CryptoRng)) -> Id {
        let mut id = [0; 16];
        rng.fill_bytes(&mut id);
        Id(id)
    }
}

/// The shared secret. No `Display`; `Debug` is redacted.
#[derive(Clone)]
pub struct Passphrase(Vec<u8>);

impl Passphrase {
    /// Wraps the passphrase bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Passphrase {
        Passphrase(secret.into())
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// What a joiner says about itself once authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    /// The joiner's address for the rest of the run.
    pub address: String,
    /// Installed services and their versions, e.g. `LXD` → `5.0.2`.
    pub services: BTreeMap<String, String>,
}

impl Intent {
    /// Unambiguous byte encoding for MACs (length-prefixed fields).
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut put = |b: &[u8]| {
            out.extend_from_slice(&(b.len() as u64).to_be_bytes());
            out.extend_from_slice(b);
        };
        put(self.address.as_bytes());
        put(&(self.services.len() as u64).to_be_bytes());
        for (k, v) in &self.services {
            put(k.as_bytes());
            put(v.as_bytes());
        }
        out
    }
}

/// Joiner → initiator: opens an attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u32,
    /// The joiner's host name.
    pub joiner_name: String,
    /// SPAKE2 message (side B), hex.
    #[serde(with = "hex::serde")]
    pub pake: Vec<u8>,
}

/// Initiator → joiner: its SPAKE2 message and key confirmation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    /// This session.
    pub session: Id,
    /// This attempt; echoed in the `Proof`.
    pub attempt: Id,
    /// The initiator's host name.
    pub initiator_name: String,
    /// SPAKE2 message (side A), hex.
    #[serde(with = "hex::serde")]
    pub pake: Vec<u8>,
    /// Proof that the initiator derived the same key.
    #[serde(with = "hex::serde")]
    pub confirmation: Tag,
}

/// Joiner → initiator: its key confirmation and authenticated intent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// The attempt from the `Challenge`.
    pub attempt: Id,
    /// Proof that the joiner derived the same key.
    #[serde(with = "hex::serde")]
    pub confirmation: Tag,
    /// What the joiner has.
    pub intent: Intent,
    /// MAC over the intent.
    #[serde(with = "hex::serde")]
    pub mac: Tag,
}

/// Initiator → joiner: the authenticated decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// The attempt decided.
    pub attempt: Id,
    /// Admitted, or refused with the reason.
    pub outcome: Outcome,
    /// MAC over the outcome.
    #[serde(with = "hex::serde")]
    pub mac: Tag,
}

/// Joiner → initiator: the joiner gives up on an attempt because the
/// initiator's confirmation did not verify. Unauthenticated (no key is
/// shared); it only makes the initiator count the failure now instead of
/// when the open attempt is evicted, and say which joiner failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Abandon {
    /// The attempt from the `Challenge`.
    pub attempt: Id,
}

/// The initiator's decision about an authenticated joiner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    /// The joiner is trusted for the rest of the run.
    Admitted,
    /// The joiner knows the passphrase but cannot take part.
    Refused {
        /// Why.
        reason: Refusal,
    },
}

/// Why an authenticated joiner was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Refusal {
    /// Its name is not in the initiator's preseed.
    #[error(
        "system {name:?} is not listed in the initiator's preseed; add it to `systems` or run the file meant for it"
    )]
    NotListed {
        /// The joiner's name.
        name: String,
    },
    /// Another certificate was already admitted under this name.
    #[error(
        "system {name:?} already joined this session with another certificate; two machines may be using the same host name"
    )]
    NameTaken {
        /// The joiner's name.
        name: String,
    },
    /// A service the cluster needs is not installed on the joiner.
    #[error("system {name:?} is missing {service}; install it (version {required}) before joining")]
    MissingService {
        /// The joiner's name.
        name: String,
        /// The service.
        service: String,
        /// The version the initiator has.
        required: String,
    },
    /// A service version differs from the initiator's.
    #[error(
        "system {name:?} has {service} {found}, but the initiator has {required}; install the same version on every machine"
    )]
    VersionMismatch {
        /// The joiner's name.
        name: String,
        /// The service.
        service: String,
        /// The initiator's version.
        required: String,
        /// The joiner's version.
        found: String,
    },
}

/// An unauthenticated refusal: sent when no key is shared (yet), so it can
/// carry no secret and a joiner treats it as a hint, not as proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rejection {
    /// The session is not accepting joiners.
    #[error("the initiator's session is closed ({reason})")]
    SessionClosed {
        /// Why it closed.
        reason: String,
    },
    /// The joiner speaks another protocol version.
    #[error(
        "the initiator speaks trust protocol version {expected}, this machine {found}; use the same microcloud release on every machine"
    )]
    WrongVersion {
        /// The initiator's version.
        expected: u32,
        /// The joiner's version.
        found: u32,
    },
    /// The attempt id is unknown (expired, evicted, already used or forged).
    #[error(
        "the initiator does not know this attempt (it expired or was already used); start again"
    )]
    UnknownAttempt,
    /// The joiner's confirmation did not verify.
    #[error(
        "the initiator rejected the passphrase proof: the passphrases differ, or the connection is intercepted"
    )]
    ProofFailed,
    /// A message field is malformed.
    #[error("malformed message: {what}")]
    Malformed {
        /// What was wrong.
        what: String,
    },
}

/// Why the initiator's session closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Every listed joiner was admitted.
    Complete,
    /// Too many attempts failed to prove the passphrase.
    TooManyFailures {
        /// How many failed.
        failures: u32,
    },
    /// The caller closed it (timeout, planning error, Ctrl-C...).
    Stopped {
        /// Why.
        reason: String,
    },
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Complete => f.write_str("every listed system has joined"),
            CloseReason::TooManyFailures { failures } => {
                write!(f, "stopped after {failures} failed passphrase attempts")
            }
            CloseReason::Stopped { reason } => f.write_str(reason),
        }
    }
}

/// Settings of the initiator's session.
#[derive(Clone, Debug)]
pub struct InitiatorConfig {
    /// The initiator's host name.
    pub name: String,
    /// Fingerprint of the certificate the initiator's TLS listener presents.
    pub certificate: Fingerprint,
    /// The shared secret.
    pub passphrase: Passphrase,
    /// Names of the systems expected to join (the initiator excluded).
    pub joiners: BTreeSet<String>,
    /// Services a joiner must have, with the exact version required.
    pub required_services: BTreeMap<String, String>,
    /// Failed attempts after which the session closes.
    pub max_failed_attempts: u32,
    /// Attempts that may be open (challenged, not yet proven) at once.
    pub max_open_attempts: usize,
}

impl InitiatorConfig {
    /// Defaults: 10 failed attempts; open attempts for every joiner plus 8.
    pub fn new(
        name: String,
        certificate: Fingerprint,
        passphrase: Passphrase,
        joiners: BTreeSet<String>,
    ) -> Self {
        let max_open_attempts = joiners.len() + 8;
        InitiatorConfig {
            name,
            certificate,
            passphrase,
            joiners,
            required_services: BTreeMap::new(),
            max_failed_attempts: 10,
            max_open_attempts,
        }
    }
}

/// A joiner the initiator has admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// Its certificate, to pin for mutual TLS.
    pub certificate: Fingerprint,
    /// What it said it has.
    pub intent: Intent,
}

struct OpenAttempt {
    joiner_name: String,
    peer: Fingerprint,
    keys: Keys,
    /// Order of creation, for evicting the oldest.
    serial: u64,
}

/// The initiator's side of the session.
pub struct Initiator {
    config: InitiatorConfig,
    session: Id,
    open: BTreeMap<Id, OpenAttempt>,
    next_serial: u64,
    failures: u32,
    admitted: BTreeMap<String, Admitted>,
    closed: Option<CloseReason>,
    /// Attempts evicted since the shell last asked (bounded).
    evicted: Vec<Evicted>,
}

/// Most evicted attempts kept until [`Initiator::take_evicted`].
const MAX_EVICTED_KEPT: usize = 64;

/// An open attempt that was evicted to make room (a failed attempt).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evicted {
    /// Its attempt id.
    pub attempt: Id,
    /// The name its `Hello` gave.
    pub joiner_name: String,
    /// The certificate its `Hello` came with.
    pub peer: Fingerprint,
}

impl fmt::Debug for Initiator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Initiator")
            .field("name", &self.config.name)
            .field("open_attempts", &self.open.len())
            .field("failures", &self.failures)
            .field("admitted", &self.admitted.keys().collect::<Vec<_>>())
            .field("closed", &self.closed)
            .finish()
    }
}

impl Initiator {
    /// Opens a session.
    pub fn new(config: InitiatorConfig, rng: &mut (impl RngCore + CryptoRng)) -> Initiator {
        let closed = config.joiners.is_empty().then_some(CloseReason::Complete);
        Initiator {
            config,
            session: Id::random(rng),
            open: BTreeMap::new(),
            next_serial: 0,
            failures: 0,
            admitted: BTreeMap::new(),
            closed,
            evicted: Vec::new(),
        }
    }

    /// Handles a `Hello` received over a TLS connection whose client
    /// certificate has fingerprint `peer`.
    pub fn on_hello(
        &mut self,
        peer: Fingerprint,
        hello: &Hello,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Challenge, Rejection> {
        self.check_open()?;
        if hello.version != PROTOCOL_VERSION {
            return Err(Rejection::WrongVersion {
                expected: PROTOCOL_VERSION,
                found: hello.version,
            });
        }
        if hello.joiner_name.is_empty() || hello.joiner_name.len() > 253 {
            return Err(Rejection::Malformed {
                what: "joiner_name must be 1 to 253 bytes".into(),
            });
        }
        while self.open.len() >= self.config.max_open_attempts.max(1) {
            self.evict_oldest();
            self.check_open()?;
        }
        let (spake, pake) = Spake2::<Ed25519Group>::start_a_with_rng(
            &Password::new(&self.config.passphrase.0),
            &Identity::new(SPAKE_ID_INITIATOR),
            &Identity::new(SPAKE_ID_JOINER),
            &mut *rng,
        );
        let shared = spake
            .finish(&hello.pake)
            .map_err(|e| Rejection::Malformed {
                what: format!("SPAKE2 message: {e:?}"),
            })?;
        let attempt = Id::random(rng);
        let keys = Keys::derive(
            &shared,
            &Transcript {
                session: &self.session,
                attempt: &attempt,
                initiator_name: &self.config.name,
                joiner_name: &hello.joiner_name,
                joiner_pake: &hello.pake,
                initiator_pake: &pake,
                joiner_cert: &peer,
                initiator_cert: &self.config.certificate,
            },
        );
        let confirmation = keys.initiator_confirmation();
        self.open.insert(
            attempt,
            OpenAttempt {
                joiner_name: hello.joiner_name.clone(),
                peer,
                keys,
                serial: self.next_serial,
            },
        );
        self.next_serial += 1;
        Ok(Challenge {
            session: self.session,
            attempt,
            initiator_name: self.config.name.clone(),
            pake,
            confirmation,
        })
    }

    /// Handles a `Proof` received over a TLS connection whose client
    /// certificate has fingerprint `peer`.
    pub fn on_proof(&mut self, peer: Fingerprint, proof: &Proof) -> Result<Verdict, Rejection> {
        self.check_open()?;
        let attempt = self
            .open
            .remove(&proof.attempt)
            .ok_or(Rejection::UnknownAttempt)?;
        if attempt.peer != peer
            || !tags_equal(&attempt.keys.joiner_confirmation(), &proof.confirmation)
        {
            self.fail();
            return Err(Rejection::ProofFailed);
        }
        if !attempt
            .keys
            .verify("intent", &proof.intent.encode(), &proof.mac)
        {
            self.fail();
            return Err(Rejection::ProofFailed);
        }
        let name = attempt.joiner_name;
        let outcome = match self.policy(&name, peer, &proof.intent) {
            Ok(()) => {
                self.admitted.insert(
                    name,
                    Admitted {
                        certificate: peer,
                        intent: proof.intent.clone(),
                    },
                );
                if self
                    .config
                    .joiners
                    .iter()
                    .all(|j| self.admitted.contains_key(j))
                {
                    self.closed = Some(CloseReason::Complete);
                }
                Outcome::Admitted
            }
            Err(reason) => Outcome::Refused { reason },
        };
        let mac = attempt
            .keys
            .seal("verdict", &outcome_bytes(&proof.attempt, &outcome));
        Ok(Verdict {
            attempt: proof.attempt,
            outcome,
            mac,
        })
    }

    /// Handles an `Abandon` received over a TLS connection whose client
    /// certificate has fingerprint `peer`: the open attempt is removed and
    /// counts as a failed attempt (exactly as if its `Proof` had failed).
    /// Returns the name the joiner gave in its `Hello`. An attempt opened
    /// under another certificate is left alone and reported as unknown,
    /// so nobody can abandon somebody else's attempt.
    pub fn on_abandon(
        &mut self,
        peer: Fingerprint,
        abandon: &Abandon,
    ) -> Result<String, Rejection> {
        self.check_open()?;
        match self.open.get(&abandon.attempt) {
            Some(attempt) if attempt.peer == peer => {}
            _ => return Err(Rejection::UnknownAttempt),
        }
        let name = self
            .open
            .remove(&abandon.attempt)
            .map(|attempt| attempt.joiner_name)
            .unwrap_or_default();
        self.fail();
        Ok(name)
    }

    /// The name a joiner gave in the `Hello` of an open attempt (for the
    /// network shell's messages); `None` for an unknown attempt.
    pub fn attempt_joiner(&self, attempt: &Id) -> Option<&str> {
        self.open.get(attempt).map(|a| a.joiner_name.as_str())
    }

    fn policy(&self, name: &str, peer: Fingerprint, intent: &Intent) -> Result<(), Refusal> {
        if !self.config.joiners.contains(name) {
            return Err(Refusal::NotListed {
                name: name.to_owned(),
            });
        }
        if let Some(existing) = self.admitted.get(name)
            && existing.certificate != peer
        {
            return Err(Refusal::NameTaken {
                name: name.to_owned(),
            });
        }
        for (service, required) in &self.config.required_services {
            match intent.services.get(service) {
                None => {
                    return Err(Refusal::MissingService {
                        name: name.to_owned(),
                        service: service.clone(),
                        required: required.clone(),
                    });
                }
                Some(found) if found != required => {
                    return Err(Refusal::VersionMismatch {
                        name: name.to_owned(),
                        service: service.clone(),
                        required: required.clone(),
                        found: found.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn check_open(&self) -> Result<(), Rejection> {
        match &self.closed {
            None => Ok(()),
            Some(reason) => Err(Rejection::SessionClosed {
                reason: reason.to_string(),
            }),
        }
    }

    fn fail(&mut self) {
        self.failures += 1;
        if self.failures >= self.config.max_failed_attempts {
            self.open.clear();
            self.closed = Some(CloseReason::TooManyFailures {
                failures: self.failures,
            });
        }
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .open
            .iter()
            .min_by_key(|(_, a)| a.serial)
            .map(|(id, _)| *id);
        let Some((id, attempt)) = oldest.and_then(|id| self.open.remove(&id).map(|a| (id, a)))
        else {
            return;
        };
        if self.evicted.len() >= MAX_EVICTED_KEPT {
            self.evicted.remove(0);
        }
        self.evicted.push(Evicted {
            attempt: id,
            joiner_name: attempt.joiner_name,
            peer: attempt.peer,
        });
        self.fail();
    }

    /// The attempts evicted since the last call (at most the last 64), so
    /// that the shell can report each as an incident with its source.
    pub fn take_evicted(&mut self) -> Vec<Evicted> {
        std::mem::take(&mut self.evicted)
    }

    /// Closes the session; later messages are rejected with `reason`.
    pub fn close(&mut self, reason: String) {
        self.open.clear();
        if self.closed.is_none() {
            self.closed = Some(CloseReason::Stopped { reason });
        }
    }

    /// The admitted joiners, by name.
    pub fn admitted(&self) -> &BTreeMap<String, Admitted> {
        &self.admitted
    }

    /// Listed joiners that have not been admitted yet, sorted.
    pub fn missing(&self) -> Vec<&str> {
        self.config
            .joiners
            .iter()
            .filter(|j| !self.admitted.contains_key(*j))
            .map(String::as_str)
            .collect()
    }

    /// Why the session is closed, if it is.
    pub fn closed(&self) -> Option<&CloseReason> {
        self.closed.as_ref()
    }

    /// Failed attempts so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

fn outcome_bytes(attempt: &Id, outcome: &Outcome) -> Vec<u8> {
    let mut out = attempt.0.to_vec();
    match outcome {
        Outcome::Admitted => out.push(1),
        Outcome::Refused { reason } => {
            out.push(0);
            out.extend_from_slice(reason.to_string().as_bytes());
        }
    }
    out
}

/// Settings of a joiner.
#[derive(Clone, Debug)]
pub struct JoinerConfig {
    /// The joiner's host name.
    pub name: String,
    /// Fingerprint of the client certificate the joiner presents.
    pub certificate: Fingerprint,
    /// The shared secret.
    pub passphrase: Passphrase,
    /// What it tells the initiator once authenticated.
    pub intent: Intent,
}

/// What a joiner knows once admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trusted {
    /// The initiator's host name.
    pub initiator_name: String,
    /// The initiator's certificate, to pin for mutual TLS.
    pub initiator_certificate: Fingerprint,
}

/// Why a joiner's attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The initiator could not prove it knows the passphrase.
    #[error(
        "the initiator did not prove that it knows the passphrase: the passphrases differ, or someone is intercepting the connection"
    )]
    InitiatorNotAuthenticated,
    /// The initiator refused this machine (authenticated).
    #[error("the initiator refused this machine")]
    Refused(#[source] Refusal),
    /// The initiator rejected the attempt (unauthenticated).
    #[error("the initiator rejected the attempt")]
    Rejected(#[source] Rejection),
    /// A message did not fit the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
}

enum JoinerState {
    AwaitChallenge {
        spake: Spake2<Ed25519Group>,
        pake: Vec<u8>,
    },
    AwaitVerdict {
        keys: Keys,
        attempt: Id,
        trusted: Trusted,
    },
    Finished,
}

/// The joiner's side of one attempt. Start a new one to retry.
pub struct Joiner {
    config: JoinerConfig,
    state: JoinerState,
}

impl fmt::Debug for Joiner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            JoinerState::AwaitChallenge { .. } => "awaiting challenge",
            JoinerState::AwaitVerdict { .. } => "awaiting verdict",
            JoinerState::Finished => "finished",
        };
        f.debug_struct("Joiner")
            .field("name", &self.config.name)
            .field("state", &state)
            .finish()
    }
}

impl Joiner {
    /// Starts an attempt: returns the joiner and the `Hello` to send.
    pub fn start(config: JoinerConfig, rng: &mut (impl RngCore + CryptoRng)) -> (Joiner, Hello) {
        let (spake, pake) = Spake2::<Ed25519Group>::start_b_with_rng(
            &Password::new(&config.passphrase.0),
            &Identity::new(SPAKE_ID_INITIATOR),
            &Identity::new(SPAKE_ID_JOINER),
            rng,
        );
        let hello = Hello {
            version: PROTOCOL_VERSION,
            joiner_name: config.name.clone(),
            pake: pake.clone(),
        };
        (
            Joiner {
                config,
                state: JoinerState::AwaitChallenge { spake, pake },
            },
            hello,
        )
    }

    /// Handles the initiator's `Challenge`, received over a TLS connection
    /// whose server certificate has fingerprint `server`.
    pub fn on_challenge(
        &mut self,
        server: Fingerprint,
        challenge: &Challenge,
    ) -> Result<Proof, JoinError> {
        let JoinerState::AwaitChallenge { spake, pake } =
            std::mem::replace(&mut self.state, JoinerState::Finished)
        else {
            return Err(JoinError::Protocol("unexpected challenge".into()));
        };
        let shared = spake.finish(&challenge.pake).map_err(|e| {
            JoinError::Protocol(format!("bad SPAKE2 message from the initiator: {e:?}"))
        })?;
        let keys = Keys::derive(
            &shared,
            &Transcript {
                session: &challenge.session,
                attempt: &challenge.attempt,
                initiator_name: &challenge.initiator_name,
                joiner_name: &self.config.name,
                joiner_pake: &pake,
                initiator_pake: &challenge.pake,
                joiner_cert: &self.config.certificate,
                initiator_cert: &server,
            },
        );
        if !tags_equal(&keys.initiator_confirmation(), &challenge.confirmation) {
            return Err(JoinError::InitiatorNotAuthenticated);
        }
        let proof = Proof {
            attempt: challenge.attempt,
            confirmation: keys.joiner_confirmation(),
            intent: self.config.intent.clone(),
            mac: keys.seal("intent", &self.config.intent.encode()),
        };
        let trusted = Trusted {
            initiator_name: challenge.initiator_name.clone(),
            initiator_certificate: server,
        };
        self.state = JoinerState::AwaitVerdict {
            keys,
            attempt: challenge.attempt,
            trusted,
        };
        Ok(proof)
    }

    /// Handles the initiator's `Verdict`.
    pub fn on_verdict(&mut self, verdict: &Verdict) -> Result<Trusted, JoinError> {
        let JoinerState::AwaitVerdict {
            keys,
            attempt,
            trusted,
        } = std::mem::replace(&mut self.state, JoinerState::Finished)
        else {
            return Err(JoinError::Protocol("unexpected verdict".into()));
        };
        if verdict.attempt != attempt
            || !keys.verify(
                "verdict",
                &outcome_bytes(&attempt, &verdict.outcome),
                &verdict.mac,
            )
        {
            return Err(JoinError::Protocol(
                "the verdict is not authenticated by the session key".into(),
            ));
        }
        match &verdict.outcome {
            Outcome::Admitted => Ok(trusted),
            Outcome::Refused { reason } => Err(JoinError::Refused(reason.clone())),
        }
    }

    /// Turns an unauthenticated rejection into the joiner's error.
    pub fn on_rejection(&mut self, rejection: Rejection) -> JoinError {
        self.state = JoinerState::Finished;
        JoinError::Rejected(rejection)
    }
}
