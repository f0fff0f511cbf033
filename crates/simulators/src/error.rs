//! The one error type of this crate, for the Rust API (starting nodes,
//! binding listeners, loading fixtures and fault scripts). Errors that a
//! simulated service reports to its clients are not Rust errors: they are
//! API error envelopes (see [`crate::http`]).

use std::net::SocketAddr;
use std::path::PathBuf;

/// What went wrong while building or driving a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A unix socket or TCP port could not be bound.
    #[error("node {node}: {service}: cannot listen on {what}")]
    Bind {
        /// Node name.
        node: String,
        /// Service name (`lxd`, `microceph`, `microovn`).
        service: &'static str,
        /// The socket path or address.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A state directory could not be created or cleaned.
    #[error("cannot prepare state directory {path}")]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("cannot generate a certificate for {subject}")]
    Certificate {
        /// The certificate's common name.
        subject: String,
        /// The generator's error.
        #[source]
        source: rcgen::Error,
    },
    /// A PEM certificate or key could not be read.
    #[error("invalid PEM {what}: {detail}")]
    Pem {
        /// What was being read.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// TLS configuration failed.
    #[error("cannot configure TLS for {what}")]
    Tls {
        /// What was being configured.
        what: String,
        /// The rustls error.
        #[source]
        source: rustls::Error,
    },
    /// An inventory fixture is invalid.
    #[error("inventory fixture {origin}: {detail}")]
    Inventory {
        /// File name or `embedded`.
        origin: String,
        /// What is wrong.
        detail: String,
    },
    /// A fault script is invalid.
    #[error("fault script {origin}: {detail}")]
    FaultScript {
        /// File name or `inline`.
        origin: String,
        /// What is wrong, including the key path when known.
        detail: String,
    },
    /// A latency model file is invalid.
    #[error("latency model {origin}: {detail}")]
    LatencyModel {
        /// File name, or the embedded file's name.
        origin: String,
        /// What is wrong, with the key path when known.
        detail: String,
    },
    /// No node with that name exists in the simulation.
    #[error("no simulated node named {name:?} (known: {known})")]
    UnknownNode {
        /// The requested name.
        name: String,
        /// The names that exist, comma separated.
        known: String,
    },
    /// No free loopback address block was found for the nodes.
    #[error(
        "no free loopback addresses for {count} nodes after {attempts} attempts (last tried {last})"
    )]
    NoAddresses {
        /// How many nodes were requested.
        count: usize,
        /// How many blocks were tried.
        attempts: usize,
        /// The last address tried.
        last: SocketAddr,
    },
    /// An option of the simulation is invalid.
    #[error("invalid configuration of {what}: {detail}")]
    Config {
        /// Which option.
        what: String,
        /// What is wrong.
        detail: String,
    },
}
