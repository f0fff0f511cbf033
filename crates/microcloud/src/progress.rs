//! Progress and the final report of `microcloud preseed`, as people and
//! programs see them.

use executor::apply::ApplyError;
use executor::{Event, NotStarted, Outcome, Report, StepResult};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use crate::Format;

/// Renders progress: one line per event for people, or one JSON object per
/// line (`"v": 1`) for programs.
pub struct Progress {
    format: Format,
    start: Instant,
    done: usize,
    total: usize,
    nodes: BTreeMap<String, (String, String)>,
}

impl Progress {
    pub fn new(format: Format, plan: &planner::Plan) -> Progress {
        let nodes = plan
            .steps
            .iter()
            .map(|s| {
                (
                    s.id.0.clone(),
                    (s.member().to_owned(), planner::render::summary(s)),
                )
            })
            .collect();
        Progress {
            format,
            start: Instant::now(),
            done: 0,
            total: plan.steps.len(),
            nodes,
        }
    }

    fn secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn emit_json(&self, value: serde_json::Value) {
        let mut v = value;
        if let Some(o) = v.as_object_mut() {
            o.insert("v".into(), 1.into());
            o.insert(
                "t".into(),
                serde_json::json!((self.secs() * 1000.0).round() / 1000.0),
            );
        }
        println!("{v}");
    }

    pub fn line(&self, text: &str) {
        match self.format {
            Format::Human => println!("{text}"),
            Format::Json => {
                self.emit_json(serde_json::json!({"event": "message", "message": text}))
            }
        }
    }

    pub fn event(&mut self, e: &Event) {
        let describe = |step: &str| self.nodes.get(step).cloned().unwrap_or_default();
        match (self.format, e) {
            (Format::Json, Event::Started { step, attempt }) => {
                let (node, _) = describe(&step.0);
                self.emit_json(serde_json::json!({"event": "started", "step": step.0, "node": node, "attempt": attempt}));
            }
            (
                Format::Json,
                Event::Retrying {
                    step,
                    attempt,
                    delay,
                    error,
                },
            ) => {
                self.emit_json(serde_json::json!({"event": "retrying", "step": step.0, "attempt": attempt, "delay_s": delay.as_secs_f64(), "error": error}));
            }
            (
                Format::Json,
                Event::Finished {
                    step,
                    outcome,
                    elapsed,
                },
            ) => {
                self.done += 1;
                let (node, _) = describe(&step.0);
                let outcome = if *outcome == Outcome::Changed {
                    "changed"
                } else {
                    "already_done"
                };
                self.emit_json(serde_json::json!({"event": "finished", "step": step.0, "node": node, "outcome": outcome, "elapsed_s": elapsed.as_secs_f64(), "done": self.done, "total": self.total}));
            }
            (Format::Json, Event::Failed { step, error }) => {
                let (node, _) = describe(&step.0);
                self.emit_json(serde_json::json!({"event": "failed", "step": step.0, "node": node, "error": error}));
            }
            (Format::Json, Event::Stopping { reason }) => {
                self.emit_json(serde_json::json!({"event": "stopping", "reason": reason}));
            }
            (Format::Human, Event::Finished { step, outcome, .. }) => {
                self.done += 1;
                let (node, what) = describe(&step.0);
                let mark = if *outcome == Outcome::Changed {
                    "ok"
                } else {
                    "--"
                };
                let note = if *outcome == Outcome::AlreadyDone {
                    " (already done)"
                } else {
                    ""
                };
                println!(
                    "[{:>6.1}s] {:>3}/{} {mark} {node}: {what}{note}",
                    self.secs(),
                    self.done,
                    self.total
                );
            }
            (
                Format::Human,
                Event::Retrying {
                    step,
                    attempt,
                    delay,
                    error,
                },
            ) => {
                println!(
                    "[{:>6.1}s]         retry {} (attempt {attempt} failed: {error}; next in {:.1}s)",
                    self.secs(),
                    step,
                    delay.as_secs_f64()
                );
            }
            (Format::Human, Event::Failed { step, error }) => {
                let (node, what) = describe(&step.0);
                println!(
                    "[{:>6.1}s]         FAILED {node}: {what}: {error}",
                    self.secs()
                );
            }
            (Format::Human, Event::Stopping { reason }) => {
                println!("[{:>6.1}s] stopping: {reason}", self.secs())
            }
            (Format::Human, Event::Started { .. }) => {}
        }
    }

    pub fn report(&self, report: &Report<ApplyError>, plan: &planner::Plan, journal: &Path) {
        let changed = report.count(Outcome::Changed);
        let already = report.count(Outcome::AlreadyDone);
        let failed: Vec<(String, String, String)> = report
            .results
            .iter()
            .filter_map(|(id, r)| match r {
                StepResult::Failed { failure, .. } => {
                    let node = plan
                        .step(&planner::plan::StepId(id.0.clone()))
                        .map(|s| s.node.clone())
                        .unwrap_or_default();
                    Some((id.0.clone(), node, failure.full_message()))
                }
                _ => None,
            })
            .collect();
        let not_started: Vec<String> = report
            .results
            .iter()
            .filter(|(_, r)| matches!(r, StepResult::NotStarted(_)))
            .map(|(id, _)| id.0.clone())
            .collect();
        let cancelled = report
            .results
            .values()
            .any(|r| matches!(r, StepResult::NotStarted(NotStarted::Cancelled)));
        match self.format {
            Format::Json => self.emit_json(serde_json::json!({
                "event": "report",
                "succeeded": report.succeeded(),
                "changed": changed,
                "already_done": already,
                "failed": failed.iter().map(|(s, n, e)| serde_json::json!({"step": s, "node": n, "error": e})).collect::<Vec<_>>(),
                "not_started": not_started,
                "elapsed_s": report.elapsed.as_secs_f64(),
                "journal": journal,
            })),
            Format::Human => {
                println!();
                if report.succeeded() {
                    println!(
                        "MicroCloud is ready: {changed} step(s) changed something, {already} were already done ({:.1}s).",
                        report.elapsed.as_secs_f64()
                    );
                } else {
                    let why = if cancelled { "interrupted" } else { "failed" };
                    println!("The run {why}: {changed} step(s) changed something, {already} were already done.");
                    for (step, node, error) in &failed {
                        println!("  failed: {step} on {node}: {error}");
                    }
                    if !not_started.is_empty() {
                        println!("  not started: {} step(s): {}", not_started.len(), not_started.join(", "));
                    }
                    println!("Fix the cause and run the same command again: finished steps are not repeated.");
                }
                println!("Journal: {}", journal.display());
            }
        }
    }
}
