//! The one error type of this crate.
//!
//! Every variant says where (which system, or the existing cluster), which
//! service and which call, and what to do. A failed call keeps the client
//! error as its `#[source]` (which itself names the node, method and path
//! and says what went wrong); `Display` never repeats it.

use std::fmt;

use clients::Service;

/// What was being collected: one system, or the existing cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One machine, by its name.
    System(String),
    /// The existing cluster (add mode, re-runs).
    Cluster,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::System(name) => write!(f, "system {name}"),
            Scope::Cluster => f.write_str("the existing cluster"),
        }
    }
}

/// Why an inventory could not be collected or saved.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A service call failed.
    #[error(
        "cannot read {what} of {scope} from {service} ({call}); check that {service} is running on {scope} and trusts this machine, then collect again"
    )]
    Call {
        /// Where.
        scope: Scope,
        /// The service called.
        service: Service,
        /// The call, e.g. `GET /1.0/storage-pools/local?target=node2`.
        call: String,
        /// What was being read, e.g. `the disks`.
        what: String,
        /// The client error (node, method, path and cause); boxed to keep
        /// the error small.
        #[source]
        source: Box<clients::Error>,
    },

    /// A service answered something the inventory cannot hold.
    #[error(
        "{service} on {scope} gave an unusable answer to {call}: {detail}; check {service}'s state there before planning"
    )]
    Invalid {
        /// Where.
        scope: Scope,
        /// The service.
        service: Service,
        /// The call.
        call: String,
        /// What is wrong with the answer.
        detail: String,
    },

    /// LXD answered `GET /1.0` as to an untrusted client.
    #[error(
        "LXD on {scope} does not trust this client (GET /1.0 answered auth \"untrusted\"); add this machine's certificate to LXD's trust store or use its unix socket, then collect again"
    )]
    Untrusted {
        /// Where.
        scope: Scope,
    },

    /// A system's name cannot be an inventory file name.
    #[error("cannot save the inventory of system {name:?}: {reason}; rename the machine")]
    UnsavableName {
        /// The system's name.
        name: String,
        /// Why.
        reason: &'static str,
    },

    /// An inventory could not be encoded as JSON.
    #[error("cannot encode the inventory file {file}")]
    Encode {
        /// The file.
        file: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

impl CollectError {
    /// The client error of a failed call.
    pub fn client_error(&self) -> Option<&clients::Error> {
        match self {
            CollectError::Call { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Whether collecting again later may succeed: a failed call whose
    /// client error is transient (daemon starting, timeout, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            CollectError::Call { source, .. } => source.is_transient(),
            CollectError::Invalid { .. }
            | CollectError::Untrusted { .. }
            | CollectError::UnsavableName { .. }
            | CollectError::Encode { .. } => false,
        }
    }
}

/// Builds the `map_err` closure for a failed call.
pub(crate) fn call_failed(
    scope: &Scope,
    service: Service,
    call: &str,
    what: &str,
) -> impl FnOnce(clients::Error) -> CollectError {
    let scope = scope.clone();
    let call = call.to_owned();
    let what = what.to_owned();
    move |source| CollectError::Call {
        scope,
        service,
        call,
        what,
        source: Box::new(source),
    }
}

/// An [`CollectError::Invalid`].
pub(crate) fn invalid(
    scope: &Scope,
    service: Service,
    call: &str,
    detail: impl Into<String>,
) -> CollectError {
    CollectError::Invalid {
        scope: scope.clone(),
        service,
        call: call.to_owned(),
        detail: detail.into(),
    }
}
