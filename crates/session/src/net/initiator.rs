//! The initiator's session listener (see the [module docs](super)).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use clients::cert::{Fingerprint, Identity};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use rand_core::OsRng;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::http::BodyError;
use super::{
    ABANDON_PATH, DEFAULT_SESSION_TIMEOUT, HELLO_PATH, Limits, MAX_MESSAGE_BYTES, NetError,
    PROOF_PATH, Peer, SessionFailure, accept_loop, json, read_body, seconds, tls,
};
pub use crate::incidents::{Incident, IncidentKind};
use crate::incidents::{IncidentLog, IncidentSummary};
use crate::protocol::{
    Abandon, CloseReason, Hello, Id, Initiator, InitiatorConfig, Intent, Outcome, Passphrase,
    Proof, Rejection,
};

/// Raw incidents kept (the most recent ones; the summary counts them all).
const MAX_INCIDENTS: usize = 32;
/// Live incident lines kept in [`Progress::notices`].
const MAX_NOTICES: usize = 32;

/// Settings of the initiator's session listener.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Where to listen: the initiator's address and port ([`super::DEFAULT_PORT`]).
    pub listen: SocketAddr,
    /// The certificate the listener presents; its fingerprint must be
    /// `protocol.certificate`.
    pub identity: Identity,
    /// The protocol's settings (names, passphrase, limits, services).
    pub protocol: InitiatorConfig,
    /// How long the session waits for every joiner (default 1 hour).
    pub session_timeout: Duration,
}

impl SessionSettings {
    /// Settings with the protocol's defaults and the identity's fingerprint.
    pub fn new(
        listen: SocketAddr,
        identity: Identity,
        name: String,
        passphrase: Passphrase,
        joiners: BTreeSet<String>,
    ) -> Self {
        let protocol = InitiatorConfig::new(name, identity.fingerprint(), passphrase, joiners);
        SessionSettings {
            listen,
            identity,
            protocol,
            session_timeout: DEFAULT_SESSION_TIMEOUT,
        }
    }
}

/// A joiner the session admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmittedJoiner {
    /// Its name.
    pub name: String,
    /// The address it gave for the rest of the run (`intent.address`).
    pub address: String,
    /// Its certificate, to pin when reaching its agent.
    pub certificate: Fingerprint,
    /// What it said it has.
    pub intent: Intent,
    /// Where its proof came from (TCP source address).
    pub connected_from: SocketAddr,
}

/// A snapshot of the session, published after every message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Progress {
    /// Admitted joiners, sorted.
    pub admitted: Vec<String>,
    /// The admitted joiners as the listener saw them, sorted by name (so
    /// that the caller can reach their agents before the session ends).
    pub joiners: Vec<AdmittedJoiner>,
    /// Listed joiners not admitted yet, sorted.
    pub missing: Vec<String>,
    /// Failed attempts so far.
    pub failures: u32,
    /// The most recent incidents (at most 32), oldest first.
    pub incidents: Vec<Incident>,
    /// Every incident so far, by source.
    pub summary: IncidentSummary,
    /// The most recent incident lines to show live (at most 32, rate-limited
    /// per source), oldest first.
    pub notices: Vec<Notice>,
    /// Why the session closed, once it has.
    pub closed: Option<CloseReason>,
}

/// A line to show live about an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// 1 for the session's first notice, then 2, 3...; a gap after the last
    /// one seen means that notices were missed.
    pub seq: u64,
    /// The text.
    pub text: String,
}

/// Why a session ended without every joiner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The session timeout passed.
    TimedOut {
        /// The session timeout.
        after: Duration,
    },
    /// Too many attempts failed to prove the passphrase.
    TooManyFailures {
        /// How many.
        failures: u32,
    },
    /// [`SessionStopper::stop`] was called.
    Stopped {
        /// The caller's reason.
        reason: String,
    },
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEnd::TimedOut { after } => write!(
                f,
                "the session timed out after {} (session_timeout); start `microcloud preseed` with the same file on the missing machines and check that they can reach this address",
                seconds(after)
            ),
            SessionEnd::TooManyFailures { failures } => write!(
                f,
                "{failures} attempts failed to prove the passphrase; check that every machine uses the same session passphrase (or look for someone guessing it)"
            ),
            SessionEnd::Stopped { reason } => write!(f, "stopped: {reason}"),
        }
    }
}

struct State {
    initiator: Initiator,
    incidents: VecDeque<Incident>,
    log: IncidentLog,
    notices: VecDeque<Notice>,
    next_notice: u64,
    /// Where each open attempt's hello came from (to report evictions).
    open_from: BTreeMap<Id, SocketAddr>,
    started: tokio::time::Instant,
    /// Admitted joiners as the shell saw them (with the proof's source).
    admitted: BTreeMap<String, AdmittedJoiner>,
}

struct Shared {
    state: Mutex<State>,
    progress: watch::Sender<Progress>,
}

impl Shared {
    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let result = f(&mut state);
        self.progress.send_replace(Progress {
            admitted: state.initiator.admitted().keys().cloned().collect(),
            joiners: state.admitted.values().cloned().collect(),
            missing: state
                .initiator
                .missing()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            failures: state.initiator.failures(),
            incidents: state.incidents.iter().cloned().collect(),
            summary: state.log.summary(),
            notices: state.notices.iter().cloned().collect(),
            closed: state.initiator.closed().cloned(),
        });
        result
    }
}

impl State {
    fn incident(&mut self, joiner: String, peer: Peer, kind: IncidentKind) {
        self.record(Incident {
            joiner,
            from: peer.remote,
            certificate: peer.certificate,
            kind,
        });
    }

    fn record(&mut self, incident: Incident) {
        if let Some(text) = self.log.record(&incident, self.started.elapsed()) {
            if self.notices.len() >= MAX_NOTICES {
                self.notices.pop_front();
            }
            self.next_notice += 1;
            self.notices.push_back(Notice {
                seq: self.next_notice,
                text,
            });
        }
        if self.incidents.len() >= MAX_INCIDENTS {
            self.incidents.pop_front();
        }
        self.incidents.push_back(incident);
    }

    /// Reports the attempts the protocol evicted, each from where its
    /// hello came, and forgets attempts that cannot complete any more.
    fn sweep(&mut self) {
        for evicted in self.initiator.take_evicted() {
            let from = self
                .open_from
                .remove(&evicted.attempt)
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
            self.record(Incident {
                joiner: evicted.joiner_name,
                from,
                certificate: evicted.peer,
                kind: IncidentKind::Evicted,
            });
        }
        if self.initiator.closed().is_some() {
            self.open_from.clear();
        }
    }
}

/// Stops a session from anywhere (for example on Ctrl-C); cheap to clone.
#[derive(Clone)]
pub struct SessionStopper {
    shared: Arc<Shared>,
}

impl fmt::Debug for SessionStopper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionStopper")
    }
}

impl SessionStopper {
    /// Closes the session: later messages are rejected with `reason`, and
    /// [`SessionHandle::wait`] returns [`SessionEnd::Stopped`] (unless the
    /// session had already closed).
    pub fn stop(&self, reason: &str) {
        self.shared
            .with_state(|state| state.initiator.close(reason.to_owned()));
    }
}

/// A running session listener. Dropping it stops the listener at once.
pub struct SessionHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
    timeout: Duration,
    deadline: tokio::time::Instant,
}

impl fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionHandle")
            .field("local_addr", &self.local_addr)
            .field("progress", &*self.shared.progress.borrow())
            .finish()
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Binds the session listener and starts serving; see the
/// [module docs](super). The session timeout starts now.
pub async fn serve_session(settings: SessionSettings) -> Result<SessionHandle, NetError> {
    if settings.protocol.certificate != settings.identity.fingerprint() {
        return Err(NetError::InvalidSettings {
            what: format!(
                "the session's protocol certificate {} is not the listener's certificate {}",
                settings.protocol.certificate,
                settings.identity.fingerprint()
            ),
        });
    }
    let config = tls::session_server_config(&settings.identity)?;
    let bind_error = |source| NetError::Bind {
        what: "trust session",
        address: settings.listen,
        source,
    };
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    let deadline = tokio::time::Instant::now() + settings.session_timeout;

    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            initiator: Initiator::new(settings.protocol, &mut OsRng),
            incidents: VecDeque::new(),
            log: IncidentLog::new(),
            notices: VecDeque::new(),
            next_notice: 0,
            open_from: BTreeMap::new(),
            started: tokio::time::Instant::now(),
            admitted: BTreeMap::new(),
        }),
        progress: watch::Sender::new(Progress::default()),
    });
    shared.with_state(|_| ());

    let (stop, stop_rx) = watch::channel(false);
    let limits = Limits {
        connections: 64,
        handshake: Duration::from_secs(10),
        lifetime: Some(Duration::from_secs(60)),
        grace: Duration::from_secs(5),
    };
    let serving = Arc::clone(&shared);
    let server = tokio::spawn(accept_loop(
        listener,
        TlsAcceptor::from(config),
        limits,
        stop_rx,
        move |peer| {
            let shared = Arc::clone(&serving);
            service_fn(move |request| handle(Arc::clone(&shared), peer, request))
        },
    ));
    Ok(SessionHandle {
        local_addr,
        shared,
        stop,
        server: Some(server),
        timeout: settings.session_timeout,
        deadline,
    })
}

impl SessionHandle {
    /// The address the listener is bound to (with the actual port when port
    /// 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Follows the session: a new [`Progress`] after every message.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.shared.progress.subscribe()
    }

    /// A handle that can stop the session while [`SessionHandle::wait`]
    /// runs.
    pub fn stopper(&self) -> SessionStopper {
        SessionStopper {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Waits until every listed joiner is admitted, or the session closes
    /// (session timeout, too many failed attempts, stopped). Then the
    /// listener stops accepting and finishes the exchanges in progress.
    ///
    /// Returns the admitted joiners sorted by name, or
    /// [`NetError::SessionEnded`] with the missing joiners, those admitted
    /// before it closed and the recent incidents.
    pub async fn wait(mut self) -> Result<Vec<AdmittedJoiner>, NetError> {
        let mut progress = self.shared.progress.subscribe();
        let mut timed_out = false;
        loop {
            if progress.borrow_and_update().closed.is_some() {
                break;
            }
            tokio::select! {
                changed = progress.changed() => {
                    // The sender lives in `shared`, which `self` holds.
                    if changed.is_err() {
                        break;
                    }
                }
                _ = tokio::time::sleep_until(self.deadline) => {
                    let timeout = self.timeout;
                    timed_out = self.shared.with_state(|state| {
                        if state.initiator.closed().is_some() {
                            return false;
                        }
                        state.initiator.close(format!(
                            "the session timed out after {}",
                            seconds(&timeout)
                        ));
                        true
                    });
                    break;
                }
            }
        }
        self.stop.send_replace(true);
        if let Some(server) = self.server.take() {
            // The accept loop ends by itself within its grace period.
            let _ = server.await;
        }
        self.shared.with_state(|state| {
            let admitted: Vec<AdmittedJoiner> = state.admitted.values().cloned().collect();
            let reason = match state.initiator.closed() {
                Some(CloseReason::Complete) | None => return Ok(admitted),
                Some(CloseReason::TooManyFailures { failures }) => SessionEnd::TooManyFailures {
                    failures: *failures,
                },
                Some(CloseReason::Stopped { .. }) if timed_out => SessionEnd::TimedOut {
                    after: self.timeout,
                },
                Some(CloseReason::Stopped { reason }) => SessionEnd::Stopped {
                    reason: reason.clone(),
                },
            };
            Err(NetError::SessionEnded(Box::new(SessionFailure {
                address: self.local_addr,
                reason,
                missing: state
                    .initiator
                    .missing()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                admitted,
                incidents: state.incidents.iter().cloned().collect(),
                summary: state.log.summary(),
            })))
        })
    }
}

/// The HTTP status of an unauthenticated rejection.
fn rejection_status(rejection: &Rejection) -> StatusCode {
    match rejection {
        Rejection::SessionClosed { .. } => StatusCode::GONE,
        Rejection::WrongVersion { .. } | Rejection::Malformed { .. } => StatusCode::BAD_REQUEST,
        Rejection::UnknownAttempt => StatusCode::CONFLICT,
        Rejection::ProofFailed => StatusCode::FORBIDDEN,
    }
}

fn reject(rejection: &Rejection) -> Response<Full<Bytes>> {
    json(rejection_status(rejection), rejection)
}

fn malformed(status: StatusCode, what: String) -> Response<Full<Bytes>> {
    json(status, &Rejection::Malformed { what })
}

fn parse<T: DeserializeOwned>(body: &[u8], path: &str, what: &str) -> Result<T, String> {
    serde_json::from_slice(body)
        .map_err(|e| format!("the body of POST {path} is not a valid {what}: {e}"))
}

async fn handle(
    shared: Arc<Shared>,
    peer: Peer,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(route(&shared, peer, request).await)
}

async fn route(shared: &Shared, peer: Peer, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let known = [HELLO_PATH, PROOF_PATH, ABANDON_PATH];
    let Some(path) = known.into_iter().find(|p| *p == path) else {
        return malformed(
            StatusCode::NOT_FOUND,
            format!("no endpoint {} {path}", parts.method),
        );
    };
    if parts.method != Method::POST {
        return malformed(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{path} accepts POST, not {}", parts.method),
        );
    }
    let body = match read_body(body, MAX_MESSAGE_BYTES).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return malformed(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body of POST {path} is larger than {MAX_MESSAGE_BYTES} bytes"),
            );
        }
        Err(BodyError::Broken) => {
            return malformed(
                StatusCode::BAD_REQUEST,
                format!("the body of POST {path} was cut off"),
            );
        }
    };
    match path {
        HELLO_PATH => {
            let hello: Hello = match parse(&body, path, "Hello") {
                Ok(hello) => hello,
                Err(what) => return malformed(StatusCode::BAD_REQUEST, what),
            };
            shared.with_state(|state| {
                let answer = state
                    .initiator
                    .on_hello(peer.certificate, &hello, &mut OsRng);
                state.sweep();
                match answer {
                    Ok(challenge) => {
                        state.open_from.insert(challenge.attempt, peer.remote);
                        json(StatusCode::OK, &challenge)
                    }
                    Err(rejection) => {
                        if !matches!(rejection, Rejection::SessionClosed { .. }) {
                            state.incident(
                                hello.joiner_name.clone(),
                                peer,
                                IncidentKind::Rejected(rejection.clone()),
                            );
                        }
                        reject(&rejection)
                    }
                }
            })
        }
        PROOF_PATH => {
            let proof: Proof = match parse(&body, path, "Proof") {
                Ok(proof) => proof,
                Err(what) => return malformed(StatusCode::BAD_REQUEST, what),
            };
            shared.with_state(|state| {
                let joiner = state
                    .initiator
                    .attempt_joiner(&proof.attempt)
                    .map(str::to_owned);
                let answer = state.initiator.on_proof(peer.certificate, &proof);
                if joiner.is_some() {
                    state.open_from.remove(&proof.attempt);
                }
                state.sweep();
                match answer {
                    Ok(verdict) => {
                        let name = joiner.unwrap_or_default();
                        match &verdict.outcome {
                            Outcome::Admitted => {
                                state.admitted.insert(
                                    name.clone(),
                                    AdmittedJoiner {
                                        name,
                                        address: proof.intent.address.clone(),
                                        certificate: peer.certificate,
                                        intent: proof.intent.clone(),
                                        connected_from: peer.remote,
                                    },
                                );
                            }
                            Outcome::Refused { reason } => {
                                state.incident(name, peer, IncidentKind::Refused(reason.clone()));
                            }
                        }
                        json(StatusCode::OK, &verdict)
                    }
                    Err(rejection) => {
                        let kind = match rejection {
                            Rejection::ProofFailed => Some(IncidentKind::ProofFailed),
                            Rejection::SessionClosed { .. } => None,
                            ref other => Some(IncidentKind::Rejected(other.clone())),
                        };
                        if let Some(kind) = kind {
                            let name = joiner.unwrap_or_else(|| "(unknown attempt)".to_owned());
                            state.incident(name, peer, kind);
                        }
                        reject(&rejection)
                    }
                }
            })
        }
        _ => {
            let abandon: Abandon = match parse(&body, path, "Abandon") {
                Ok(abandon) => abandon,
                Err(what) => return malformed(StatusCode::BAD_REQUEST, what),
            };
            shared.with_state(|state| {
                let answer = state.initiator.on_abandon(peer.certificate, &abandon);
                if answer.is_ok() {
                    state.open_from.remove(&abandon.attempt);
                }
                state.sweep();
                match answer {
                    Ok(name) => {
                        state.incident(name, peer, IncidentKind::ConfirmationNotVerified);
                        json(StatusCode::OK, &serde_json::json!({}))
                    }
                    Err(rejection) => reject(&rejection),
                }
            })
        }
    }
}
