//! How machines of one run watch each other (the timings both sides and
//! the run lock rely on), and the joiner that stopped answering.
//!
//! The initiator asks every admitted joiner's agent for its facts every
//! [`PING_EVERY`] from the moment it is admitted; a joiner whose agent has
//! not answered for [`LOST_AFTER`] is [`Lost`], which stops the run
//! everywhere (exit [`crate::exit::Exit::Peer`]). A joiner's agent that
//! hears nothing from the initiator for [`AGENT_IDLE`] stops its machine's
//! part, so a killed initiator leaves nobody waiting for long.

use std::fmt;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the initiator checks on every joiner's agent.
pub const PING_EVERY: Duration = Duration::from_secs(2);
/// Silence after which a joiner counts as lost.
pub const LOST_AFTER: Duration = Duration::from_secs(6);
/// Silence after which a joiner's agent gives up on the initiator (five
/// missed checks).
pub const AGENT_IDLE: Duration = Duration::from_secs(10);

/// A joiner that stopped answering.
#[derive(Debug, Clone)]
pub struct Lost {
    /// The machine.
    pub name: String,
    /// Why its last check failed.
    pub reason: String,
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "machine {} stopped answering for {} s ({}); check that `microcloud preseed` still runs there",
            self.name,
            LOST_AFTER.as_secs(),
            self.reason
        )
    }
}

/// Waits for the next lost joiner; never, without a watch.
pub async fn next_lost(lost: &mut Option<&mut mpsc::UnboundedReceiver<Lost>>) -> Lost {
    match lost {
        Some(rx) => match rx.recv().await {
            Some(lost) => lost,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}
