//! The scheduler: runs a [`Dag`] of steps through a [`Runner`].
//!
//! - A step starts when all its dependencies succeeded (changed something or
//!   found their desired state already there), at most
//!   [`Options::max_parallel`] at a time, never two of the same group.
//!   Among ready steps, plan order decides.
//! - A transient failure is retried after a capped, jittered exponential
//!   backoff, as long as the step's class deadline allows; each attempt is
//!   also cut off at that deadline.
//! - A permanent failure (or a deadline reached) stops new work: steps
//!   already running finish (their outcome is recorded), nothing else
//!   starts. Cancellation does the same, and also ends retry waits.
//! - The report has exactly one result per step: done (changed or already
//!   done), failed (with the step's own typed error), or not started (and
//!   why).

use rand_core::{RngCore, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use config_loader::model::StepClass;

use planner::StepId;

use crate::dag::Dag;
use crate::retry::{Deadlines, RetryPolicy};

/// What a successful step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// It changed the system to reach its desired state.
    Changed,
    /// The desired state already held; nothing was changed.
    AlreadyDone,
}

/// Errors a runner returns say whether trying again may help.
pub trait StepError: std::error::Error + Send + Sync + 'static {
    /// Connection refused/reset, 5xx, timeouts, "not ready yet": retry.
    fn is_transient(&self) -> bool;
}

/// Carries out one step. Implementations read the current state first and
/// act only if the desired state does not hold ("ensure" semantics), so that
/// a retry or a re-run is harmless.
pub trait Runner: Send + Sync + 'static {
    /// The runner's error.
    type Error: StepError;
    /// Runs `step`; `attempt` starts at 1.
    fn run(
        &self,
        step: &StepId,
        attempt: u32,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;
}

/// How the scheduler behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Steps running at once (1 = strictly one after the other).
    pub max_parallel: usize,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Total time per step class, retries included.
    pub deadlines: Deadlines,
    /// Seed of the jitter (deterministic runs in tests).
    pub seed: u64,
    /// MicroCloud's ordering instead of ours: joining machines one at a
    /// time, each machine's disks one after the other. Read by
    /// [`crate::apply::apply`] when it turns a plan into the graph (see
    /// [`crate::apply::dag_of_serial_peers`]); [`execute`] runs whatever
    /// graph it is given and ignores it.
    pub serial_peers: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            // Enough for a 50-machine formation: joins, each machine's disk
            // additions and the resources overlap (BENCHMARKS.md: 8 cost
            // up to a fifth of the wall time at 50 machines).
            max_parallel: 32,
            retry: RetryPolicy::default(),
            deadlines: Deadlines::default(),
            seed: 0,
            serial_peers: false,
        }
    }
}

/// Progress, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An attempt of a step started.
    Started {
        /// The step.
        step: StepId,
        /// 1-based attempt.
        attempt: u32,
    },
    /// An attempt failed transiently; the step will be tried again.
    Retrying {
        /// The step.
        step: StepId,
        /// The attempt that failed.
        attempt: u32,
        /// Wait before the next attempt.
        delay: Duration,
        /// The error, rendered.
        error: String,
    },
    /// A step succeeded.
    Finished {
        /// The step.
        step: StepId,
        /// What it did.
        outcome: Outcome,
        /// Time from its first start.
        elapsed: Duration,
    },
    /// A step failed for good.
    Failed {
        /// The step.
        step: StepId,
        /// The error, rendered.
        error: String,
    },
    /// No new step will start.
    Stopping {
        /// Why.
        reason: String,
    },
}

/// How a step failed for good.
#[derive(Debug)]
pub enum Failure<E> {
    /// A permanent error from the step.
    Permanent(E),
    /// The class deadline passed; the last error if there was one.
    DeadlineExceeded {
        /// The step's deadline class.
        class: StepClass,
        /// The deadline.
        deadline: Duration,
        /// The error of the latest failed attempt, if any attempt failed
        /// (the last attempt itself may have been cut off).
        last: Option<E>,
        /// The service request the cut-off attempt was waiting on, if any:
        /// "LXD on node node3, PUT /1.0/cluster".
        hung: Option<String>,
    },
    /// Retrying was abandoned because the run was cancelled.
    Cancelled {
        /// The last transient error.
        last: E,
    },
}

impl<E: std::fmt::Display> std::fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Permanent(e) => write!(f, "{e}"),
            Failure::DeadlineExceeded {
                class,
                deadline,
                last,
                hung,
            } => {
                match hung {
                    Some(request) => write!(
                        f,
                        "did not finish within {} (the deadline of `{class}` steps): no answer to {request}",
                        seconds(*deadline)
                    )?,
                    None if last.is_some() => write!(
                        f,
                        "gave up after {} of retries (the deadline of `{class}` steps)",
                        seconds(*deadline)
                    )?,
                    None => write!(
                        f,
                        "did not finish within {} (the deadline of `{class}` steps)",
                        seconds(*deadline)
                    )?,
                }
                match last {
                    Some(e) if hung.is_some() => write!(f, "; the attempt before failed: {e}"),
                    Some(e) => write!(f, "; last error: {e}"),
                    None => Ok(()),
                }
            }
            Failure::Cancelled { last } => {
                write!(f, "cancelled while retrying; last error: {last}")
            }
        }
    }
}

impl<E: std::error::Error + 'static> Failure<E> {
    /// The failure with every underlying cause, joined by ": " (the
    /// service's own message is usually the last one).
    pub fn full_message(&self) -> String {
        let inner = match self {
            Failure::Permanent(e)
            | Failure::Cancelled { last: e }
            | Failure::DeadlineExceeded { last: Some(e), .. } => e.source(),
            Failure::DeadlineExceeded { last: None, .. } => None,
        };
        with_sources(self.to_string(), inner)
    }
}

/// `5 s`, or `1.5 s` for a deadline that is not a whole number of seconds.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// `top`, followed by each error in the `source` chain.
pub fn with_sources(top: String, mut source: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut text = top;
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Why a step did not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStarted {
    /// A step it depends on failed or did not run.
    DependencyNotDone,
    /// The run stopped after another step failed.
    Stopped,
    /// The run was cancelled.
    Cancelled,
}

/// The result of one step.
#[derive(Debug)]
pub enum StepResult<E> {
    /// Succeeded.
    Done {
        /// What it did.
        outcome: Outcome,
        /// Attempts made.
        attempts: u32,
        /// When it first started, from the start of the run.
        started: Duration,
        /// Time from its first start.
        elapsed: Duration,
    },
    /// Failed for good.
    Failed {
        /// How.
        failure: Failure<E>,
        /// Attempts made.
        attempts: u32,
        /// When it first started, from the start of the run.
        started: Duration,
        /// Time from its first start.
        elapsed: Duration,
    },
    /// Never started.
    NotStarted(NotStarted),
}

/// The outcome of a whole run.
#[derive(Debug)]
pub struct Report<E> {
    /// One result per step.
    pub results: BTreeMap<StepId, StepResult<E>>,
    /// Steps in the order they finished (succeeded or failed).
    pub finish_order: Vec<StepId>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl<E> Report<E> {
    /// Whether every step succeeded.
    pub fn succeeded(&self) -> bool {
        self.results
            .values()
            .all(|r| matches!(r, StepResult::Done { .. }))
    }

    /// The steps that failed.
    pub fn failures(&self) -> impl Iterator<Item = (&StepId, &Failure<E>)> {
        self.results.iter().filter_map(|(id, r)| match r {
            StepResult::Failed { failure, .. } => Some((id, failure)),
            _ => None,
        })
    }

    /// Number of steps with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.results
            .values()
            .filter(|r| matches!(r, StepResult::Done { outcome: o, .. } if *o == outcome))
            .count()
    }
}

type Finished<E> = (usize, Result<(Outcome, u32), (Failure<E>, u32)>, Duration);

/// Runs `dag` through `runner`. `events` receives progress; `cancel`
/// becoming `true` stops the run (running steps finish).
pub async fn execute<R: Runner>(
    dag: &Dag,
    runner: Arc<R>,
    options: &Options,
    events: Option<mpsc::UnboundedSender<Event>>,
    mut cancel: watch::Receiver<bool>,
) -> Report<R::Error> {
    let started = Instant::now();
    let nodes = dag.nodes();
    let dependents = dag.dependents();
    let mut waiting = dag.dep_counts();
    let mut ready: BTreeSet<usize> = (0..nodes.len()).filter(|i| waiting[*i] == 0).collect();
    let mut busy_groups: BTreeSet<String> = BTreeSet::new();
    let mut running: JoinSet<Finished<R::Error>> = JoinSet::new();
    let mut started_at: BTreeMap<usize, Duration> = BTreeMap::new();
    let mut results: BTreeMap<usize, StepResult<R::Error>> = BTreeMap::new();
    let mut finish_order = Vec::new();
    let mut stop: Option<NotStarted> = None;
    let send = |e: Event| {
        if let Some(tx) = &events {
            let _ = tx.send(e);
        }
    };
    let max_parallel = options.max_parallel.max(1);

    loop {
        if stop.is_none() && *cancel.borrow() {
            stop = Some(NotStarted::Cancelled);
            send(Event::Stopping {
                reason: "cancelled".into(),
            });
        }
        if stop.is_none() {
            let startable: Vec<usize> = ready
                .iter()
                .copied()
                .filter(|i| {
                    nodes[*i]
                        .group
                        .as_ref()
                        .is_none_or(|g| !busy_groups.contains(g))
                })
                .collect();
            for i in startable {
                if running.len() >= max_parallel {
                    break;
                }
                if let Some(g) = &nodes[i].group {
                    if busy_groups.contains(g) {
                        continue;
                    }
                    busy_groups.insert(g.clone());
                }
                ready.remove(&i);
                let node = &nodes[i];
                // The first start is announced here, in scheduling order, so
                // that no `Started` can follow a `Stopping` in the stream.
                send(Event::Started {
                    step: node.id.clone(),
                    attempt: 1,
                });
                let deadline = options.deadlines.of(node.class);
                let seed = options.seed ^ fnv(node.id.as_str());
                tracing::debug!(step = %node.id, class = %node.class, deadline_s = deadline.as_secs_f64(), "starting step");
                started_at.insert(i, started.elapsed());
                running.spawn(attempt_loop(
                    i,
                    node.id.clone(),
                    node.class,
                    runner.clone(),
                    options.retry.clone(),
                    deadline,
                    seed,
                    events.clone(),
                    cancel.clone(),
                ));
            }
        }
        if running.is_empty() {
            break;
        }
        let joined = tokio::select! {
            joined = running.join_next() => joined,
            changed = cancel.changed(), if stop.is_none() => {
                if changed.is_err() {
                    // The sender is gone: nobody can cancel any more.
                    cancel = watch::channel(false).1;
                }
                continue;
            }
        };
        let Some(joined) = joined else { break };
        let (i, result, elapsed) = match joined {
            Ok(finished) => finished,
            // A runner that panics is a bug; it is reported, not propagated.
            Err(join_error) => {
                tracing_panic(&join_error);
                continue;
            }
        };
        if let Some(g) = &nodes[i].group {
            busy_groups.remove(g);
        }
        finish_order.push(nodes[i].id.clone());
        match result {
            Ok((outcome, attempts)) => {
                tracing::debug!(step = %nodes[i].id, ?outcome, attempts, elapsed_s = elapsed.as_secs_f64(), "step done");
                send(Event::Finished {
                    step: nodes[i].id.clone(),
                    outcome,
                    elapsed,
                });
                results.insert(
                    i,
                    StepResult::Done {
                        outcome,
                        attempts,
                        started: started_at.get(&i).copied().unwrap_or_default(),
                        elapsed,
                    },
                );
                for &d in &dependents[i] {
                    waiting[d] -= 1;
                    if waiting[d] == 0 {
                        ready.insert(d);
                    }
                }
            }
            Err((failure, attempts)) => {
                tracing::debug!(step = %nodes[i].id, attempts, elapsed_s = elapsed.as_secs_f64(), "step failed");
                send(Event::Failed {
                    step: nodes[i].id.clone(),
                    error: failure.full_message(),
                });
                let cancelled = matches!(failure, Failure::Cancelled { .. });
                results.insert(
                    i,
                    StepResult::Failed {
                        failure,
                        attempts,
                        started: started_at.get(&i).copied().unwrap_or_default(),
                        elapsed,
                    },
                );
                if stop.is_none() && !cancelled {
                    stop = Some(NotStarted::Stopped);
                    send(Event::Stopping {
                        reason: format!("step {} failed", nodes[i].id),
                    });
                }
            }
        }
    }

    // Everything without a result did not start: because something it needs
    // is not done, or because the run stopped first.
    let mut by_id = BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let result = match results.remove(&i) {
            Some(r) => r,
            None if waiting[i] > 0 => StepResult::NotStarted(NotStarted::DependencyNotDone),
            None => StepResult::NotStarted(stop.unwrap_or(NotStarted::Stopped)),
        };
        by_id.insert(node.id.clone(), result);
    }
    Report {
        results: by_id,
        finish_order,
        elapsed: started.elapsed(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn attempt_loop<R: Runner>(
    index: usize,
    step: StepId,
    class: StepClass,
    runner: Arc<R>,
    retry: RetryPolicy,
    deadline: Duration,
    seed: u64,
    events: Option<mpsc::UnboundedSender<Event>>,
    mut cancel: watch::Receiver<bool>,
) -> Finished<R::Error> {
    let start = Instant::now();
    let end = start + deadline;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut attempt = 0u32;
    // The error of the latest failed attempt: reported if a later attempt
    // is cut off by the deadline (a hang after failures still names them).
    let mut previous: Option<R::Error> = None;
    let send = |e: Event| {
        if let Some(tx) = &events {
            let _ = tx.send(e);
        }
    };
    loop {
        attempt += 1;
        if attempt > 1 {
            send(Event::Started {
                step: step.clone(),
                attempt,
            });
        }
        tracing::trace!(step = %step, attempt, "attempt");
        let slot = clients::inflight::Slot::new();
        let result = tokio::time::timeout_at(
            end,
            clients::inflight::track(slot.clone(), runner.run(&step, attempt)),
        )
        .await;
        let error = match result {
            Ok(Ok(outcome)) => return (index, Ok((outcome, attempt)), start.elapsed()),
            Ok(Err(e)) if !e.is_transient() => {
                return (
                    index,
                    Err((Failure::Permanent(e), attempt)),
                    start.elapsed(),
                );
            }
            Ok(Err(e)) => e,
            Err(_) => {
                tracing::debug!(step = %step, attempt, "attempt cut off at the deadline");
                let failure = Failure::DeadlineExceeded {
                    class,
                    deadline,
                    last: previous,
                    hung: slot.current().map(|ctx| ctx.to_string()),
                };
                return (index, Err((failure, attempt)), start.elapsed());
            }
        };
        let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let delay = retry.delay(attempt, unit);
        if Instant::now() + delay >= end {
            let failure = Failure::DeadlineExceeded {
                class,
                deadline,
                last: Some(error),
                hung: None,
            };
            return (index, Err((failure, attempt)), start.elapsed());
        }
        send(Event::Retrying {
            step: step.clone(),
            attempt,
            delay,
            error: with_sources(error.to_string(), std::error::Error::source(&error)),
        });
        if *cancel.borrow() {
            return (
                index,
                Err((Failure::Cancelled { last: error }, attempt)),
                start.elapsed(),
            );
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = cancel.wait_for(|c| *c) => {
                return (index, Err((Failure::Cancelled { last: error }, attempt)), start.elapsed());
            }
        }
        previous = Some(error);
    }
}

fn tracing_panic(error: &tokio::task::JoinError) {
    tracing::error!("internal error: a step task ended abnormally: {error}");
}

/// FNV-1a, to derive a per-step jitter seed from its id.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
