//! Progress and the final report of `microcloud preseed`, as people and
//! programs see them.
//!
//! Three ways, chosen once per run:
//!
//! - **live** (`--output human` with standard output on a terminal): the
//!   view of [`crate::output::live`], finished steps scrolling above it, colour
//!   unless `NO_COLOR` is set;
//! - **plain** (`--output human` otherwise, e.g. in CI or piped): one line
//!   per finished step, retry, failure or stop, never coloured;
//! - **JSON** (`--output json`): one JSON object per line, typed in
//!   [`crate::output::events`] (schema: `schemas/events.schema.json`). Every line
//!   has `"v": 1` (the event format's version), `"event"` and `"t"`
//!   (seconds since the plan started running).
//!
//! Either way the run ends with the final report ([`crate::output::report`]): tables
//! for people, or a `report` event carrying the JSON report.

use executor::{Event, Outcome};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::output::Format;
use crate::output::events::{self, Event as JsonEvent, StepOutcome};
use crate::output::live::Live;
use crate::output::report::Final;
use crate::output::report::render::{Style, paint};

/// Renders progress and the final report.
pub struct Progress {
    format: Format,
    start: Instant,
    done: usize,
    total: usize,
    /// Per step: the machine it is about and its one-line summary.
    steps: BTreeMap<String, (String, String)>,
    live: Option<Live>,
    color: bool,
}

impl Progress {
    /// Progress for `plan`: live on a terminal, plain lines otherwise, or
    /// JSON lines.
    pub fn new(format: Format, plan: &planner::Plan) -> Progress {
        let live = format == Format::Human && crate::logging::stdout_is_terminal();
        Progress::with_display(format, plan, live, crate::logging::stdout_color())
    }

    /// Progress with the display chosen by the caller (tests).
    pub fn with_display(format: Format, plan: &planner::Plan, live: bool, color: bool) -> Progress {
        let steps = plan
            .steps
            .iter()
            .map(|s| {
                (
                    s.id.to_string(),
                    (s.member().to_owned(), planner::render::summary(s)),
                )
            })
            .collect();
        Progress {
            format,
            start: Instant::now(),
            done: 0,
            total: plan.steps.len(),
            steps,
            live: live.then(|| Live::start(plan, color)),
            color: color && live,
        }
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn emit_json(&self, event: &JsonEvent) {
        events::print(event, Some(self.elapsed()));
    }

    fn human(&self, text: &str) {
        match &self.live {
            Some(live) => live.println(text),
            None => println!("{text}"),
        }
    }

    /// A message for people (a `message` event in JSON).
    pub fn line(&self, text: &str) {
        match self.format {
            Format::Human => self.human(text),
            Format::Json => {
                self.emit_json(&JsonEvent::Message {
                    message: text.to_owned(),
                });
            }
        }
    }

    /// Shows one executor event.
    pub fn event(&mut self, e: &Event) {
        let at = self.elapsed();
        if matches!(e, Event::Finished { .. }) {
            self.done += 1;
        }
        match self.format {
            Format::Json => {
                self.emit_json(&event_json(e, &self.steps, self.done, self.total));
            }
            Format::Human => {
                if let Some(line) =
                    event_line(e, &self.steps, self.done, self.total, at, self.color)
                {
                    self.human(&line);
                }
                if let Some(live) = &mut self.live {
                    live.event(e);
                }
            }
        }
    }

    /// Ends the live view and shows the final report: tables for people, a
    /// `report` event carrying the JSON report for programs.
    pub fn report(&mut self, report: &Final) {
        if let Some(live) = self.live.take() {
            live.finish();
        }
        match self.format {
            Format::Json => self.emit_json(&JsonEvent::Report {
                report: Box::new(report.document()),
            }),
            Format::Human => {
                println!();
                print!(
                    "{}",
                    crate::output::report::render::human(report, self.color)
                );
            }
        }
    }
}

impl Drop for Progress {
    /// A run that ends early (an error) still takes the live view off the
    /// screen.
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            live.finish();
        }
    }
}

/// The JSON event of an executor event; `done` counts the finished steps
/// including this one.
pub fn event_json(
    e: &Event,
    steps: &BTreeMap<String, (String, String)>,
    done: usize,
    total: usize,
) -> JsonEvent {
    let node = |step: &str| steps.get(step).map(|(n, _)| n.clone()).unwrap_or_default();
    match e {
        Event::Started { step, attempt } => JsonEvent::Started {
            step: step.to_string(),
            node: node(step.as_str()),
            attempt: *attempt,
        },
        Event::Retrying {
            step,
            attempt,
            delay,
            error,
        } => JsonEvent::Retrying {
            step: step.to_string(),
            node: node(step.as_str()),
            attempt: *attempt,
            delay_s: delay.as_secs_f64(),
            error: error.clone(),
        },
        Event::Finished {
            step,
            outcome,
            elapsed,
        } => JsonEvent::Finished {
            step: step.to_string(),
            node: node(step.as_str()),
            outcome: if *outcome == Outcome::Changed {
                StepOutcome::Changed
            } else {
                StepOutcome::AlreadyDone
            },
            elapsed_s: elapsed.as_secs_f64(),
            done,
            total,
        },
        Event::Failed { step, error } => JsonEvent::Failed {
            step: step.to_string(),
            node: node(step.as_str()),
            error: error.clone(),
        },
        Event::Stopping { reason } => JsonEvent::Stopping {
            reason: reason.clone(),
        },
    }
}

/// The plain line of an event, if it has one (starts have none).
pub fn event_line(
    e: &Event,
    steps: &BTreeMap<String, (String, String)>,
    done: usize,
    total: usize,
    at: Duration,
    color: bool,
) -> Option<String> {
    let describe = |step: &str| steps.get(step).cloned().unwrap_or_default();
    let secs = at.as_secs_f64();
    match e {
        Event::Started { .. } => None,
        Event::Finished { step, outcome, .. } => {
            let (node, what) = describe(step.as_str());
            let (mark, note) = if *outcome == Outcome::Changed {
                (paint("ok", Style::Green, color), "")
            } else {
                (paint("--", Style::Dim, color), " (already done)")
            };
            Some(format!(
                "[{secs:>6.1}s] {done:>3}/{total} {mark} {node}: {what}{note}"
            ))
        }
        Event::Retrying {
            step,
            attempt,
            delay,
            error,
        } => Some(format!(
            "[{secs:>6.1}s]         {} {step} (attempt {attempt} failed: {error}; next in {:.1}s)",
            paint("retry", Style::Yellow, color),
            delay.as_secs_f64()
        )),
        Event::Failed { step, error } => {
            let (node, what) = describe(step.as_str());
            Some(format!(
                "[{secs:>6.1}s]         {} {node}: {what}: {error}",
                paint("FAILED", Style::Red, color)
            ))
        }
        Event::Stopping { reason } => Some(format!("[{secs:>6.1}s] stopping: {reason}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use executor::StepId;

    /// Every kind of event line, as programs and people see it.
    #[test]
    fn event_lines_in_json_and_for_people() {
        let steps: BTreeMap<String, (String, String)> = [(
            "lxd.join@node2".to_owned(),
            ("node2".to_owned(), "join LXD".to_owned()),
        )]
        .into();
        let step = || StepId::new("lxd.join@node2");
        let events = [
            Event::Started {
                step: step(),
                attempt: 1,
            },
            Event::Retrying {
                step: step(),
                attempt: 1,
                delay: Duration::from_millis(250),
                error: "LXD on node node2, PUT /1.0/cluster: 503 Service unavailable".into(),
            },
            Event::Finished {
                step: step(),
                outcome: Outcome::Changed,
                elapsed: Duration::from_millis(1500),
            },
            Event::Finished {
                step: step(),
                outcome: Outcome::AlreadyDone,
                elapsed: Duration::from_millis(20),
            },
            Event::Failed {
                step: step(),
                error: "did not finish within 1 s (the deadline of `join` steps)".into(),
            },
            Event::Stopping {
                reason: "step lxd.join@node2 failed".into(),
            },
        ];
        let at = Duration::from_millis(2345);
        let mut out = String::new();
        for e in &events {
            out.push_str(&events::line(&event_json(e, &steps, 3, 48), Some(at)).to_string());
            out.push('\n');
        }
        out.push_str("--- plain\n");
        for e in &events {
            if let Some(line) = event_line(e, &steps, 3, 48, at, false) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        microcloud_tests::assert_snapshot("crates/microcloud/tests/snapshots/events.txt", &out);
        // Colour only when asked for.
        let coloured = event_line(&events[2], &steps, 3, 48, at, true).unwrap();
        assert!(coloured.contains("\x1b[32mok\x1b[0m"), "{coloured}");
        assert!(!out.contains('\x1b'));
    }
}
