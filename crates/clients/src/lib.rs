//! Typed clients for LXD and the microcluster daemons (MicroCloud-like
//! agents, MicroCeph, MicroOVN).
//!
//! # Layers
//!
//! 1. [`transport`]: one HTTP/1.1 request over a unix socket, over TLS 1.3
//!    with a client certificate and a pinned server fingerprint, or over
//!    that TLS to a remote agent under a path prefix (proxy mode). Every
//!    request has a timeout.
//! 2. [`rest`]: the shared JSON [envelope] (`sync` / `async` /
//!    `error`), background operations and their polling, ETags.
//! 3. Service modules with the wire types (field names exactly as the
//!    services spell them) and one consumer-owned trait each, implemented by
//!    the HTTP client: [`lxd::LxdApi`], [`microcluster::MicroclusterApi`],
//!    [`microceph::MicroCephApi`], [`microovn::MicroOvnApi`]. The executor
//!    depends on the traits, so it can be tested with in-memory fakes.
//!    Trait methods return `Send` futures, usable from any tokio task.
//!
//! [`cert`] generates self-signed identities and computes fingerprints;
//! [`tls`] holds the pinned-certificate verifier; [`paths`] the default
//! socket locations.
//!
//! # Failure behaviour
//!
//! Every call returns [`Error`], which names the service, node, method and
//! path, and says what to check. [`Error::is_transient`] separates failures
//! worth retrying (connection refused, timeouts, 5xx such as 503 before a
//! daemon is ready, an operation still running) from permanent ones (4xx,
//! fingerprint mismatch, decode errors, a failed operation, MicroCeph disk
//! failures). No call retries on its own: retry policy belongs to the
//! caller. Nothing a service reports as a failure is ignored: error
//! envelopes inside HTTP 200, `status: Failure` operations, MicroCeph's
//! `validation_error` and per-disk reports all become errors.
//!
//! Wire types accept unknown fields and default missing ones, because the
//! services add fields across versions; version differences that matter
//! (LXD's join-token field names, sync vs async creates) are decided from
//! the advertised API extensions, never from version strings.

pub mod cert;
pub mod envelope;
pub mod error;
pub mod inflight;
pub mod lxd;
pub mod microceph;
pub mod microcluster;
pub mod microovn;
pub mod paths;
pub mod rest;
pub mod tls;
pub mod transport;
mod wire;

use std::fmt;

pub use cert::{Fingerprint, Identity};
pub use error::{Error, RequestContext};
pub use rest::{RestClient, Timeouts};
pub use transport::Transport;

/// The services this crate talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// LXD.
    Lxd,
    /// The per-machine MicroCloud(-like) agent, a microcluster daemon.
    MicroCloud,
    /// MicroCeph, a microcluster daemon.
    MicroCeph,
    /// MicroOVN, a microcluster daemon.
    MicroOvn,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Lxd => "LXD",
            Service::MicroCloud => "MicroCloud",
            Service::MicroCeph => "MicroCeph",
            Service::MicroOvn => "MicroOVN",
        })
    }
}

/// Appends `?target=<member>` (or `&target=`) when a target is given.
pub(crate) fn with_target(path: &str, target: Option<&str>) -> String {
    match target {
        Some(t) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}target={}", encode_component(t))
        }
        None => path.to_owned(),
    }
}

/// Percent-encodes a path segment or query value (everything except
/// unreserved characters).
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
