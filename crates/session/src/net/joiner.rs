//! The joiner's side of the session (see the [module docs](super)).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use clients::cert::{Fingerprint, Identity};
use http::header::{CONTENT_TYPE, HOST};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::StatusCode;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rand_core::OsRng;
use rustls::pki_types::ServerName;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

use super::{
    ABANDON_PATH, DEFAULT_SESSION_TIMEOUT, HELLO_PATH, MAX_MESSAGE_BYTES, NetError, PROOF_PATH,
    seconds, tls,
};
use crate::protocol::{
    Abandon, Challenge, Intent, JoinError, Joiner, JoinerConfig, Passphrase, Rejection, Trusted,
    Verdict,
};

/// Settings of a joiner.
#[derive(Debug, Clone)]
pub struct JoinSettings {
    /// The initiator's session address and port.
    pub initiator: SocketAddr,
    /// The client certificate this machine presents; its fingerprint must
    /// be `protocol.certificate`.
    pub identity: Identity,
    /// The protocol's settings (name, passphrase, intent).
    pub protocol: JoinerConfig,
    /// How long to keep trying to reach the initiator (default 1 hour).
    pub session_timeout: Duration,
    /// How long one attempt (connect, hello, proof) may take (default 30 s).
    pub attempt_timeout: Duration,
    /// The first pause between attempts (default 100 ms); doubled after
    /// every failed attempt up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest pause between attempts (default 5 s).
    pub max_backoff: Duration,
}

impl JoinSettings {
    /// Settings with the defaults and the identity's fingerprint.
    pub fn new(
        initiator: SocketAddr,
        identity: Identity,
        name: String,
        passphrase: Passphrase,
        intent: Intent,
    ) -> Self {
        let protocol = JoinerConfig {
            name,
            certificate: identity.fingerprint(),
            passphrase,
            intent,
        };
        JoinSettings {
            initiator,
            identity,
            protocol,
            session_timeout: DEFAULT_SESSION_TIMEOUT,
            attempt_timeout: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Why the last attempt to reach the initiator failed (transient).
#[derive(Debug, thiserror::Error)]
#[error("the last attempt failed while {step}")]
pub struct AttemptError {
    /// What the joiner was doing.
    pub step: &'static str,
    /// The failure.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl AttemptError {
    fn new(
        step: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        AttemptError {
            step,
            source: source.into(),
        }
    }
}

/// How an attempt ended, when not with trust.
pub(super) enum Stop {
    /// Worth another attempt.
    Retry(AttemptError),
    /// Final.
    Fail(NetError),
}

impl From<AttemptError> for Stop {
    fn from(e: AttemptError) -> Self {
        Stop::Retry(e)
    }
}

/// Joins the initiator's session; see the [module docs](super) for the
/// retry rules. Returns the initiator's name and pinned certificate.
pub async fn join_session(settings: JoinSettings) -> Result<Trusted, NetError> {
    if settings.protocol.certificate != settings.identity.fingerprint() {
        return Err(NetError::InvalidSettings {
            what: format!(
                "the joiner's protocol certificate {} is not its client certificate {}",
                settings.protocol.certificate,
                settings.identity.fingerprint()
            ),
        });
    }
    let connector = TlsConnector::from(tls::joiner_client_config(&settings.identity)?);
    let started = tokio::time::Instant::now();
    let deadline = started + settings.session_timeout;
    let mut backoff = settings.initial_backoff;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let limit = settings.attempt_timeout.min(remaining);
        let last = match attempt_within(&settings, &connector, limit).await {
            Ok(trusted) => return Ok(trusted),
            Err(Stop::Fail(error)) => return Err(error),
            Err(Stop::Retry(error)) => error,
        };
        // The pause is cut to the time left, so the last attempt starts
        // right at the deadline's edge rather than one pause early.
        let now = tokio::time::Instant::now();
        if now < deadline {
            tokio::time::sleep_until((now + backoff).min(deadline)).await;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(NetError::InitiatorUnreachable {
                address: settings.initiator,
                waited: now.saturating_duration_since(started),
                attempts,
                last,
            });
        }
        backoff = (backoff * 2).min(settings.max_backoff);
    }
}

/// One attempt on one connection, given at most `limit`; running out of
/// time is worth another attempt.
pub(super) async fn attempt_within(
    settings: &JoinSettings,
    connector: &TlsConnector,
    limit: Duration,
) -> Result<Trusted, Stop> {
    let mut step = "connecting";
    match tokio::time::timeout(limit, attempt(settings, connector, &mut step)).await {
        Ok(outcome) => outcome,
        Err(_elapsed) => Err(Stop::Retry(AttemptError::new(
            step,
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {}", seconds(&limit)),
            ),
        ))),
    }
}

/// One attempt on one connection.
async fn attempt(
    settings: &JoinSettings,
    connector: &TlsConnector,
    step: &mut &'static str,
) -> Result<Trusted, Stop> {
    let address = settings.initiator;
    *step = "connecting";
    let mut exchange = Exchange::connect(connector, address, step).await?;
    let (mut joiner, hello) = Joiner::start(settings.protocol.clone(), &mut OsRng);

    *step = "sending the hello";
    let challenge: Challenge = match exchange.post(HELLO_PATH, &hello).await? {
        Answer::Message(challenge) => challenge,
        Answer::Rejected(rejection) => return Err(rejected(&mut joiner, rejection, address)),
    };

    let proof = match joiner.on_challenge(exchange.server, &challenge) {
        Ok(proof) => proof,
        Err(error) => {
            if error == JoinError::InitiatorNotAuthenticated {
                // Best effort: lets the initiator count and report it now.
                *step = "abandoning the attempt";
                let abandon = Abandon {
                    attempt: challenge.attempt,
                };
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    exchange.post::<serde_json::Value, _>(ABANDON_PATH, &abandon),
                )
                .await;
            }
            return Err(Stop::Fail(NetError::Trust {
                address,
                source: Box::new(error),
            }));
        }
    };

    *step = "sending the proof";
    let verdict: Verdict = match exchange.post(PROOF_PATH, &proof).await? {
        Answer::Message(verdict) => verdict,
        Answer::Rejected(rejection) => return Err(rejected(&mut joiner, rejection, address)),
    };
    joiner.on_verdict(&verdict).map_err(|source| {
        Stop::Fail(NetError::Trust {
            address,
            source: Box::new(source),
        })
    })
}

/// An unknown attempt (evicted under load, or expired) is worth a fresh
/// attempt; every other rejection is final.
fn rejected(joiner: &mut Joiner, rejection: Rejection, address: SocketAddr) -> Stop {
    if rejection == Rejection::UnknownAttempt {
        return Stop::Retry(AttemptError::new("proving", rejection));
    }
    Stop::Fail(NetError::Trust {
        address,
        source: Box::new(joiner.on_rejection(rejection)),
    })
}

enum Answer<T> {
    Message(T),
    Rejected(Rejection),
}

/// Aborts the connection task when the exchange is dropped.
struct ConnectionTask(JoinHandle<()>);

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Exchange {
    address: SocketAddr,
    server: Fingerprint,
    sender: SendRequest<Full<Bytes>>,
    _connection: ConnectionTask,
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("address", &self.address)
            .field("server", &self.server)
            .finish()
    }
}

impl Exchange {
    async fn connect(
        connector: &TlsConnector,
        address: SocketAddr,
        step: &mut &'static str,
    ) -> Result<Exchange, AttemptError> {
        *step = "connecting";
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|e| AttemptError::new("connecting", e))?;
        let _ = tcp.set_nodelay(true);
        *step = "completing the TLS handshake";
        let server_name = ServerName::IpAddress(address.ip().into());
        let tls = connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| AttemptError::new("completing the TLS handshake", e))?;
        let server = tls::peer_fingerprint(tls.get_ref().1).ok_or_else(|| {
            AttemptError::new(
                "completing the TLS handshake",
                "the server presented no certificate",
            )
        })?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| AttemptError::new("starting HTTP", e))?;
        let task = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Exchange {
            address,
            server,
            sender,
            _connection: ConnectionTask(task),
        })
    }

    async fn post<T: DeserializeOwned, B: Serialize>(
        &mut self,
        path: &'static str,
        body: &B,
    ) -> Result<Answer<T>, Stop> {
        let step = match path {
            HELLO_PATH => "sending the hello",
            PROOF_PATH => "sending the proof",
            _ => "abandoning the attempt",
        };
        let body = serde_json::to_vec(body).map_err(|e| AttemptError::new(step, e))?;
        let request = http::Request::post(path)
            .header(HOST, self.address.to_string())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| AttemptError::new(step, e))?;
        self.sender
            .ready()
            .await
            .map_err(|e| AttemptError::new(step, e))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| AttemptError::new(step, e))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_MESSAGE_BYTES)
            .collect()
            .await
            .map_err(|e| AttemptError::new(step, e))?
            .to_bytes();
        let not_protocol = || {
            let start = body.get(..body.len().min(200)).unwrap_or_default();
            Stop::Fail(NetError::NotATrustSession {
                address: self.address,
                method: "POST",
                path,
                status: status.as_u16(),
                body: String::from_utf8_lossy(start).into_owned(),
            })
        };
        if status == StatusCode::OK {
            return serde_json::from_slice(&body)
                .map(Answer::Message)
                .map_err(|_| not_protocol());
        }
        if let Ok(rejection) = serde_json::from_slice::<Rejection>(&body) {
            return Ok(Answer::Rejected(rejection));
        }
        if status.is_server_error() {
            return Err(Stop::Retry(AttemptError::new(
                step,
                format!("the initiator answered HTTP {status}"),
            )));
        }
        Err(not_protocol())
    }
}
