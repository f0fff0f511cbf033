//! The one error type of this crate, and its transient/permanent split.
//!
//! Every error that comes from talking to a service carries a
//! [`RequestContext`]: which service, on which node, which method and path.
//! Its `Display` starts with that context and then says what went wrong;
//! the underlying cause (an I/O error, a TLS alert, a JSON decode error) is
//! available through [`std::error::Error::source`] and is never repeated in
//! the message, so that `{:#}`-style chain printing shows each part once.
//!
//! [`Error::is_transient`] sorts failures for a retry loop:
//!
//! | transient (retry with backoff)                     | permanent (stop)                                   |
//! |----------------------------------------------------|----------------------------------------------------|
//! | connection refused / reset / socket not there yet  | permission denied on the socket                    |
//! | no answer within the request timeout               | TLS failure, pinned fingerprint mismatch           |
//! | HTTP 502, 503 "not ready", 504 and other 5xx       | HTTP 4xx, 501 Not Implemented, 505                 |
//! | HTTP 500 naming a passing condition (see below)    | any other HTTP 500                                 |
//! | operation still running at the polling deadline   | an operation that ran and failed (unless 503)      |
//! | connection dropped mid-exchange                    | undecodable or unexpected responses                |
//! | 503 from a microcluster bootstrap/join             | other bootstrap/join failures (may be half done)   |
//! |                                                    | the server rejecting the client certificate        |
//! |                                                    | MicroCeph `validation_error` and per-disk failures |
//! |                                                    | invalid certificates, fingerprints, tokens         |
//!
//! HTTP 500 is how LXD and microcluster answer almost every failure, most
//! of which do not pass: observed on LXD 5.0.2, `Failed to run: btrfs
//! subvolume create …: not a btrfs filesystem`, `Failed to format block
//! device: … appears to contain an existing filesystem`, `Config key
//! "source.wipe" may not be used as member-specific key`, `Pool not pending
//! on any node`. Retrying those for minutes hides the cause and, for
//! creations, can add half-made objects. So a 500 is transient only when
//! its message names a condition that passes by itself
//! ([`TRANSIENT_500_MESSAGES`]: a busy or leaderless cluster database,
//! another member or service not answering yet), and never when it names
//! a refusal that cannot pass ([`PERMANENT_500_MESSAGES`]: MicroCeph's
//! "requested key … is not a MicroCeph supported cluster config").

use std::fmt;
use std::io;
use std::time::Duration;

use crate::Service;

/// Where a request went: the service, the node (as the caller named it),
/// the HTTP method and the path (without any proxy prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The service that was called.
    pub service: Service,
    /// The node the service runs on, as named by the caller.
    pub node: String,
    /// The HTTP method.
    pub method: http::Method,
    /// The path and query, as the typed client built it.
    pub path: String,
}

impl fmt::Display for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on node {}, {} {}",
            self.service, self.node, self.method, self.path
        )
    }
}

/// One failed MicroCeph disk from a `POST /1.0/disks` report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFailure {
    /// The device path as reported by MicroCeph.
    pub path: String,
    /// The `report` field (normally `Failure`).
    pub report: String,
    /// The `error` field.
    pub error: String,
}

impl fmt::Display for DiskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.error.is_empty() {
            write!(f, "{}: {}", self.path, self.report)
        } else {
            write!(f, "{}: {}", self.path, self.error)
        }
    }
}

fn join_failures(failures: &[DiskFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection could not be opened.
    #[error(
        "{ctx}: cannot connect to {endpoint}; check that the service is running there and that the socket path or address is right"
    )]
    Connect {
        /// The request.
        ctx: Box<RequestContext>,
        /// The socket path or address.
        endpoint: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The TLS handshake failed for a reason other than the pinned
    /// fingerprint (see [`Error::FingerprintMismatch`]).
    #[error(
        "{ctx}: TLS handshake with {endpoint} failed; check that the address belongs to the service and that this client's certificate is acceptable to it"
    )]
    Tls {
        /// The request.
        ctx: Box<RequestContext>,
        /// The address.
        endpoint: String,
        /// The I/O error wrapping the TLS error.
        #[source]
        source: io::Error,
    },

    /// The server presented a certificate whose SHA-256 fingerprint is not
    /// the pinned one.
    #[error(
        "{ctx}: the server at {endpoint} presented a certificate with fingerprint {actual}, not the expected {expected}; refusing to talk to it (wrong address, or the certificate was replaced: re-check the fingerprint)"
    )]
    FingerprintMismatch {
        /// The request.
        ctx: Box<RequestContext>,
        /// The address.
        endpoint: String,
        /// The pinned fingerprint.
        expected: String,
        /// The fingerprint the server presented.
        actual: String,
    },

    /// The server ended the TLS session with an alert after the handshake,
    /// which in TLS 1.3 is how a server rejects the client certificate.
    #[error(
        "{ctx}: {endpoint} ended the TLS session ({alert}); check that this client's certificate is trusted by the service"
    )]
    TlsRejected {
        /// The request.
        ctx: Box<RequestContext>,
        /// The address.
        endpoint: String,
        /// The TLS error as rustls reports it.
        alert: String,
    },

    /// No complete answer within the request timeout.
    #[error(
        "{ctx}: no answer from {endpoint} within {}s; the service may be starting, overloaded or stuck",
        after.as_secs_f64()
    )]
    Timeout {
        /// The request.
        ctx: Box<RequestContext>,
        /// The socket path or address.
        endpoint: String,
        /// The timeout that expired.
        after: Duration,
    },

    /// The HTTP exchange broke (connection closed early, malformed HTTP).
    #[error("{ctx}: the HTTP exchange with {endpoint} failed")]
    Http {
        /// The request.
        ctx: Box<RequestContext>,
        /// The socket path or address.
        endpoint: String,
        /// The hyper error.
        #[source]
        source: hyper::Error,
    },

    /// The service answered with an error: an `error` envelope, or a
    /// non-success HTTP status.
    #[error("{ctx}: the service answered {status}: {message}")]
    Status {
        /// The request.
        ctx: Box<RequestContext>,
        /// The HTTP status, or the envelope's `error_code` when it has one.
        status: u16,
        /// The envelope's `error`, or the start of the body.
        message: String,
    },

    /// A microcluster `POST /core/control` (bootstrap or join) failed. Not
    /// retried blindly: the daemon may already be (partly) initialised.
    #[error(
        "{ctx}: the daemon refused to initialise ({status}): {message}; it may already be (partly) initialised: check `GET {public}` and `GET {public}/cluster` before retrying",
        public = public_prefix(ctx)
    )]
    ControlFailed {
        /// The request.
        ctx: Box<RequestContext>,
        /// The HTTP status or envelope `error_code`.
        status: u16,
        /// The error message.
        message: String,
    },

    /// A request body could not be encoded.
    #[error("{ctx}: cannot encode the request body")]
    Encode {
        /// The request.
        ctx: Box<RequestContext>,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },

    /// A response could not be decoded into the expected type.
    #[error("{ctx}: cannot decode the {what} of the response")]
    Decode {
        /// The request.
        ctx: Box<RequestContext>,
        /// What was being decoded (`envelope`, `metadata`, `operation`…).
        what: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },

    /// The response was well-formed but not what this call expects.
    #[error("{ctx}: unexpected response: {detail}")]
    Protocol {
        /// The request.
        ctx: Box<RequestContext>,
        /// What was unexpected.
        detail: String,
    },

    /// A background operation finished with `Failure` or `Cancelled`, or
    /// `/wait` reported it failed.
    #[error("{ctx}: background operation {operation} ended with {status}: {err}")]
    OperationFailed {
        /// The request that started the operation.
        ctx: Box<RequestContext>,
        /// The operation URL.
        operation: String,
        /// The final status (`Failure`, `Cancelled`, or `error` when only
        /// an error envelope was available).
        status: String,
        /// The operation's `err_code` or the envelope's `error_code`.
        code: Option<u16>,
        /// The error text.
        err: String,
    },

    /// A background operation was still running when the polling deadline
    /// passed. It may still complete on the server.
    #[error(
        "{ctx}: background operation {operation} was still running after {}s; it may still finish on the server, check it before retrying",
        waited.as_secs_f64()
    )]
    OperationTimeout {
        /// The request that started the operation.
        ctx: Box<RequestContext>,
        /// The operation URL.
        operation: String,
        /// How long it was polled.
        waited: Duration,
    },

    /// MicroCeph rejected a disk request as a whole (`validation_error`).
    #[error("{ctx}: MicroCeph rejected the disk request: {message}")]
    DiskValidation {
        /// The request.
        ctx: Box<RequestContext>,
        /// The `validation_error`.
        message: String,
    },

    /// MicroCeph reported that some disks could not be added.
    #[error("{ctx}: MicroCeph could not add {} disk(s): {}", failures.len(), join_failures(failures))]
    DiskFailures {
        /// The request.
        ctx: Box<RequestContext>,
        /// Every disk that failed, in report order.
        failures: Vec<DiskFailure>,
    },

    /// PEM text did not contain the expected item.
    #[error("invalid {what} PEM: {reason}")]
    InvalidPem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },

    /// A certificate could not be generated.
    #[error("cannot generate a self-signed certificate for {common_name:?}")]
    CertificateGeneration {
        /// The requested common name.
        common_name: String,
        /// The rcgen error.
        #[source]
        source: rcgen::Error,
    },

    /// The TLS client configuration could not be built (for example, the
    /// private key does not match the certificate or is of an unsupported
    /// type).
    #[error("cannot build the TLS client configuration from the identity {fingerprint}")]
    TlsConfig {
        /// The identity's certificate fingerprint.
        fingerprint: String,
        /// The rustls error.
        #[source]
        source: rustls::Error,
    },

    /// An address cannot be used for TLS.
    #[error("invalid HTTPS address {address:?}: {reason}")]
    InvalidAddress {
        /// The rejected address.
        address: String,
        /// Why.
        reason: String,
    },

    /// A join or trust token could not be decoded or is incomplete.
    #[error("invalid {kind} token: {reason}")]
    InvalidToken {
        /// Which token (`LXD join`, `LXD certificate`, `microcluster`).
        kind: &'static str,
        /// Why.
        reason: String,
    },

    /// Invalid input to a helper (not a service answer).
    #[error("{what}: {reason}")]
    InvalidInput {
        /// What was invalid.
        what: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// Whether retrying the same request later may succeed. See the module
    /// documentation for the table.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connect { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::NotFound
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::Interrupted
                    | io::ErrorKind::HostUnreachable
                    | io::ErrorKind::NetworkUnreachable
                    | io::ErrorKind::AddrNotAvailable
            ),
            Error::Tls { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::TimedOut
            ),
            Error::Timeout { .. } | Error::OperationTimeout { .. } => true,
            Error::Http { source, .. } => !source.is_parse() && !source.is_user(),
            Error::Status {
                status, message, ..
            } => status_is_transient(*status, message),
            Error::ControlFailed { status, .. } => *status == 503,
            Error::OperationFailed { code, .. } => *code == Some(503),
            Error::FingerprintMismatch { .. }
            | Error::TlsRejected { .. }
            | Error::Encode { .. }
            | Error::Decode { .. }
            | Error::Protocol { .. }
            | Error::DiskValidation { .. }
            | Error::DiskFailures { .. }
            | Error::InvalidPem { .. }
            | Error::CertificateGeneration { .. }
            | Error::TlsConfig { .. }
            | Error::InvalidAddress { .. }
            | Error::InvalidToken { .. }
            | Error::InvalidInput { .. } => false,
        }
    }

    /// The HTTP-level status of a [`Error::Status`] error (for example 404
    /// or 409), or the code of a failed operation, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } | Error::ControlFailed { status, .. } => Some(*status),
            Error::OperationFailed { code, .. } => *code,
            _ => None,
        }
    }

    /// The request this error belongs to, when it came from a request.
    pub fn context(&self) -> Option<&RequestContext> {
        match self {
            Error::Connect { ctx, .. }
            | Error::Tls { ctx, .. }
            | Error::FingerprintMismatch { ctx, .. }
            | Error::TlsRejected { ctx, .. }
            | Error::Timeout { ctx, .. }
            | Error::Http { ctx, .. }
            | Error::Status { ctx, .. }
            | Error::ControlFailed { ctx, .. }
            | Error::Encode { ctx, .. }
            | Error::Decode { ctx, .. }
            | Error::Protocol { ctx, .. }
            | Error::OperationFailed { ctx, .. }
            | Error::OperationTimeout { ctx, .. }
            | Error::DiskValidation { ctx, .. }
            | Error::DiskFailures { ctx, .. } => Some(ctx),
            Error::InvalidPem { .. }
            | Error::CertificateGeneration { .. }
            | Error::TlsConfig { .. }
            | Error::InvalidAddress { .. }
            | Error::InvalidToken { .. }
            | Error::InvalidInput { .. } => None,
        }
    }
}

/// Texts (matched case-insensitively anywhere in the message) that make an
/// HTTP 500 transient: conditions of LXD's and microcluster's cluster
/// database (dqlite, SQLite) and of reaching another member or a local
/// service that is still starting or went away. A message ending in `: EOF`
/// (Go's `net/http` for a member that closed the connection without
/// answering, e.g. `Post "https://…": EOF`) is transient too. Anything else
/// in a 500 is permanent.
pub const TRANSIENT_500_MESSAGES: &[&str] = &[
    "database is locked",
    "database is busy",
    "no available dqlite leader server found",
    "not leader",
    "leadership lost",
    "not yet initialized",
    "not ready",
    "connection refused",
    "connection reset",
    "i/o timeout",
    "context deadline exceeded",
    "temporarily unavailable",
    "broken pipe",
    "unexpected eof",
];

/// Parts of HTTP 500 messages that are permanent whatever else the message
/// says (checked before [`TRANSIENT_500_MESSAGES`]): MicroCeph's refusal of
/// a configuration key outside its table (`getClusterConfigDefinition`,
/// `canSetConfig` in `microceph/ceph/config.go`, v19.2.0+squid and later;
/// answered through `response.SmartError` as a 500). Asking again gets the
/// same answer.
pub const PERMANENT_500_MESSAGES: &[&str] = &[
    "is not a microceph supported cluster config",
    "does not support write operation",
];

/// The microcluster public prefix of the family a control request went to
/// (`/cluster/control` → `/cluster/1.0`, else `/core/1.0`).
fn public_prefix(ctx: &RequestContext) -> &'static str {
    if ctx.path.starts_with("/cluster/") {
        "/cluster/1.0"
    } else {
        "/core/1.0"
    }
}

/// Transient: 502, 503, 504 and the other 5xx, except 501 Not Implemented
/// (LXD's answer to the removed `password` field) and 505, which will not
/// change on retry, and 500 unless its message names a passing condition
/// ([`TRANSIENT_500_MESSAGES`]) and no permanent one
/// ([`PERMANENT_500_MESSAGES`]).
fn status_is_transient(status: u16, message: &str) -> bool {
    match status {
        500 => {
            let message = message.trim_end().to_lowercase();
            if PERMANENT_500_MESSAGES.iter().any(|m| message.contains(m)) {
                return false;
            }
            message.ends_with(": eof") || TRANSIENT_500_MESSAGES.iter().any(|m| message.contains(m))
        }
        501 | 505 => false,
        _ => (500..600).contains(&status),
    }
}
