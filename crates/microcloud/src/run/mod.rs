//! One run: collect what the machines have ([`collect`]), plan, and apply
//! the plan ([`apply`]), returning a typed [`Outcome`]. Nothing here
//! prints on its own: the progress and the final report of an applied plan
//! go through [`crate::output`], and what an outcome that applied nothing
//! shows (diagnostics, a dry run's plan) is up to the caller
//! ([`crate::multi::drive`]).

pub mod apply;
pub mod collect;

use config_loader::model::Preseed;
use planner::PlanErrors;
use planner::plan::Plan;
use std::path::PathBuf;
use tokio::sync::mpsc;

use crate::exit::Exit;
use crate::liveness::Lost;
use crate::machine::Machine;
use crate::options::RunOptions;
use crate::output::Format;

pub use collect::{AddressOverrides, sim_inventory};

/// How a run behaves (from the command line).
pub struct Settings {
    /// Output format.
    pub format: Format,
    /// Collect and plan, change nothing.
    pub dry_run: bool,
    /// Steps running at once.
    pub max_parallel: usize,
    /// Join machines and add disks one at a time.
    pub serial_peers: bool,
    /// Where the run journal is kept.
    pub journal: PathBuf,
    /// Deadlines, the report file.
    pub run_options: RunOptions,
}

/// Everything a run knows before it reaches any machine.
pub struct Run {
    /// How it behaves.
    pub settings: Settings,
    /// The loaded preseed.
    pub preseed: Preseed,
    /// The loader's report on the preseed (its source, for diagnostics).
    pub report: config_loader::Report,
    /// The preseed's name for messages (its path, or `<stdin>`).
    pub name: String,
    /// The preseed's bytes (their digest goes into the journal).
    pub bytes: Vec<u8>,
}

/// How a run ended: the exit status and a one-line summary (what joiners
/// are told).
#[derive(Debug, Clone)]
pub struct Ending {
    /// The exit status.
    pub exit: Exit,
    /// The summary.
    pub message: String,
}

impl Ending {
    /// An ending with its status and summary.
    pub fn new(exit: Exit, message: impl Into<String>) -> Ending {
        Ending {
            exit,
            message: message.into(),
        }
    }
}

/// What [`drive`] came to.
pub enum Outcome {
    /// What a machine has could not be collected; nothing was planned.
    NotCollected(anyhow::Error),
    /// The preseed cannot be applied to these machines; nothing changed.
    Unplannable {
        /// Every problem.
        errors: PlanErrors,
        /// What joiners are told.
        ending: Ending,
    },
    /// A dry run: the plan, nothing changed.
    DryRun(Plan),
    /// The plan was applied (its progress and report were shown).
    Applied(Ending),
}

/// Collects, plans and applies against `machines` (this one first when it
/// is the initiator); `lost` reports the other machines that stopped
/// answering while the plan runs: losing one stops the run.
///
/// # Errors
/// When the journal cannot be written, or the executor stops abnormally.
pub async fn drive(
    run: &Run,
    machines: Vec<Machine>,
    overrides: &AddressOverrides,
    lost: Option<&mut mpsc::UnboundedReceiver<Lost>>,
) -> anyhow::Result<Outcome> {
    let (inventory, clients) = match collect::collect(&run.preseed, machines, overrides).await {
        Ok(collected) => collected,
        Err(e) => return Ok(Outcome::NotCollected(e)),
    };
    let plan = match planner::plan(&run.preseed, &inventory) {
        Ok(plan) => plan,
        Err(errors) => {
            let ending = unplannable(&errors);
            return Ok(Outcome::Unplannable { errors, ending });
        }
    };
    if run.settings.dry_run {
        return Ok(Outcome::DryRun(plan));
    }
    apply::apply(run, plan, clients, lost)
        .await
        .map(Outcome::Applied)
}

/// What joiners are told when the preseed cannot be planned.
fn unplannable(errors: &PlanErrors) -> Ending {
    let first = errors
        .iter()
        .next()
        .map(ToString::to_string)
        .unwrap_or_default();
    Ending::new(
        Exit::Invalid,
        format!(
            "the preseed cannot be applied to these machines ({} problem(s), first: {first}); see the initiator's output",
            errors.iter().count()
        ),
    )
}
