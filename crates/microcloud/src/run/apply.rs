//! Applying a plan: the journal, the executor with its events shown as
//! progress, Ctrl-C and lost machines stopping it, the final report, and
//! how the run ended.

use anyhow::{Context, Result};
use executor::apply::ApplyError;
use executor::apply::PlanRunner;
use executor::journal::{Journal, JournalFile, RunEnd, StepRecord, timestamp};
use executor::{Event, Options, StepResult};
use planner::plan::Plan;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::{mpsc, watch};

use super::{Ending, Run};
use crate::exit::Exit;
use crate::liveness::{self, Lost};
use crate::machine::Clients;
use crate::output::progress::Progress;
use crate::output::report::{self, Final};

type RunReport = executor::Report<ApplyError>;
type Runner = PlanRunner<
    clients::lxd::LxdClient,
    clients::microceph::MicroCephClient,
    clients::microovn::MicroOvnClient,
>;

/// Why the executor was told to stop starting steps.
#[derive(Default)]
struct Stops {
    interrupted: bool,
    lost: Option<Lost>,
}

/// Applies `plan` with progress and the final report; see the module docs.
pub(super) async fn apply(
    run: &Run,
    plan: Plan,
    clients: BTreeMap<String, Clients>,
    lost: Option<&mut mpsc::UnboundedReceiver<Lost>>,
) -> Result<Ending> {
    let settings = &run.settings;
    let warnings = report::warnings(&run.report, &run.name, &plan);
    let total = plan.steps.len();
    let todo = plan.steps.iter().filter(|s| !s.status.is_done()).count();
    let mut progress = Progress::new(settings.format, &plan);
    progress.line(&format!(
        "Plan: {total} steps, {todo} to do ({} already done)",
        total - todo
    ));
    let (journal_file, mut journal) = open_journal(run, &plan, &progress)?;

    let runner = Arc::new(PlanRunner::new(plan, clients));
    let options = Options {
        max_parallel: settings.max_parallel.max(1),
        serial_peers: settings.serial_peers,
        deadlines: executor::apply::deadlines(
            &settings.run_options.timeouts(&run.preseed.timeouts),
        ),
        ..Options::default()
    };
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let task = tokio::spawn({
        let runner = runner.clone();
        async move { executor::apply::apply(runner, &options, Some(event_tx), cancel_rx).await }
    });
    let stops = supervise(
        event_rx,
        &cancel_tx,
        lost,
        &mut progress,
        &journal_file,
        &mut journal,
    )
    .await;
    let report = task
        .await
        .context("the executor stopped abnormally")?
        .context("the plan is not a valid graph")?;
    close_journal(&journal_file, &mut journal, &report)?;
    let state = report::gather_through(&runner).await;
    let stopped = stops.interrupted || stops.lost.is_some();
    let summary = Final::new(runner.plan(), &report, state, warnings, stopped)
        .with_journal(journal_file.path());
    progress.report(&summary);
    if let Some(path) = &settings.run_options.report {
        summary.write(path)?;
    }
    Ok(ending(&runner, &report, stops))
}

/// Opens the journal for this run (saying when the previous run stopped
/// midway) and writes its start.
fn open_journal(run: &Run, plan: &Plan, progress: &Progress) -> Result<(JournalFile, Journal)> {
    let journal_file = JournalFile::new(run.settings.journal.clone());
    if let Ok(Some(previous)) = journal_file.load() {
        let interrupted = previous.interrupted_steps();
        if !interrupted.is_empty() {
            progress.line(&format!(
                "The previous run stopped during {}; planning from the live state again.",
                interrupted.join(", ")
            ));
        }
    }
    let mut journal = Journal::new(
        hex_digest(&run.bytes),
        serde_json::from_str(&plan.to_json()).unwrap_or(serde_json::Value::Null),
    );
    journal_file
        .save(&mut journal)
        .with_context(|| format!("cannot write the journal {}", journal_file.path().display()))?;
    Ok((journal_file, journal))
}

/// Records and shows every event until the executor is done; Ctrl-C or a
/// lost machine tells it to start nothing new.
async fn supervise(
    mut events: mpsc::UnboundedReceiver<Event>,
    cancel: &watch::Sender<bool>,
    mut lost: Option<&mut mpsc::UnboundedReceiver<Lost>>,
    progress: &mut Progress,
    journal_file: &JournalFile,
    journal: &mut Journal,
) -> Stops {
    let mut stops = Stops::default();
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(e) => {
                    journal.record(&e, SystemTime::now());
                    if matches!(e, Event::Finished { .. } | Event::Failed { .. }) {
                        let _ = journal_file.save(journal);
                    }
                    progress.event(&e);
                }
                None => break,
            },
            _ = &mut ctrl_c, if !stops.interrupted => {
                stops.interrupted = true;
                progress.line("Interrupted: letting running steps finish, starting nothing new.");
                let _ = cancel.send(true);
            }
            gone = liveness::next_lost(&mut lost), if stops.lost.is_none() => {
                progress.line(&format!("{gone}: stopping, letting running steps finish, starting nothing new."));
                stops.lost = Some(gone);
                let _ = cancel.send(true);
            }
        }
    }
    stops
}

/// Writes the journal's end: the outcome and the steps never started.
fn close_journal(
    journal_file: &JournalFile,
    journal: &mut Journal,
    report: &RunReport,
) -> Result<()> {
    journal.finished = Some(RunEnd {
        at: timestamp(SystemTime::now()),
        succeeded: report.succeeded(),
    });
    for (id, r) in &report.results {
        if let StepResult::NotStarted(why) = r {
            journal.steps.insert(
                id.to_string(),
                StepRecord::NotStarted {
                    reason: format!("{why:?}"),
                },
            );
        }
    }
    journal_file
        .save(journal)
        .with_context(|| format!("cannot write the journal {}", journal_file.path().display()))
}

/// How an applied run ended.
fn ending(runner: &Runner, report: &RunReport, stops: Stops) -> Ending {
    if report.succeeded() {
        return Ending::new(
            Exit::Success,
            format!(
                "the cluster is formed: {} step(s) changed something, {} were already done",
                report.count(executor::Outcome::Changed),
                report.count(executor::Outcome::AlreadyDone)
            ),
        );
    }
    if let Some(gone) = stops.lost {
        return Ending::new(Exit::Peer, format!("the run stopped: {gone}"));
    }
    if stops.interrupted {
        return Ending::new(
            Exit::Interrupted,
            "the run was interrupted on the initiator",
        );
    }
    let first = report.results.iter().find_map(|(id, r)| match r {
        StepResult::Failed { failure, .. } => {
            let node = runner
                .plan()
                .step(id)
                .map(|s| s.node.clone())
                .unwrap_or_default();
            Some(format!(
                "step {} on {node} failed: {}",
                id,
                failure.full_message()
            ))
        }
        _ => None,
    });
    Ending::new(
        Exit::Failed,
        format!(
            "the run failed: {}",
            first.unwrap_or_else(|| "see the initiator's output".to_owned())
        ),
    )
}

fn hex_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
