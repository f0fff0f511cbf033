//! Progress and the final report of `microcloud preseed`, as people and
//! programs see them.
//!
//! Three ways, chosen once per run:
//!
//! - **live** (`--output human` with standard output on a terminal): the
//!   view of [`crate::live`], finished steps scrolling above it, colour
//!   unless `NO_COLOR` is set;
//! - **plain** (`--output human` otherwise, e.g. in CI or piped): one line
//!   per finished step, retry, failure or stop, never coloured;
//! - **JSON** (`--output json`): one JSON object per line. Every line has
//!   `"v": 1` (the event format's version), `"event"` and `"t"` (seconds
//!   since the plan started running); the fields of each event are listed
//!   in the README ("Machine-readable output") and pinned by the tests.
//!
//! Either way the run ends with the final report ([`crate::report`]): tables
//! for people, or a `report` event carrying the JSON report.

use executor::{Event, Outcome};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::Format;
use crate::live::Live;
use crate::report::Final;
use crate::report::render::{Style, paint};

/// Version of the JSON event lines (`"v"`).
pub const EVENT_VERSION: u32 = 1;

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
            steps,
            live: live.then(|| Live::start(plan, color)),
            color: color && live,
        }
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn emit_json(&self, value: serde_json::Value) {
        println!("{}", json_line(value, self.elapsed()));
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
                self.emit_json(serde_json::json!({"event": "message", "message": text}));
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
                if let Some(v) = event_json(e, &self.steps, self.done, self.total) {
                    self.emit_json(v);
                }
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
            Format::Json => self.emit_json(serde_json::json!({
                "event": "report",
                "report": report.to_json(),
            })),
            Format::Human => {
                println!();
                print!("{}", crate::report::render::human(report, self.color));
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

/// `value` with the version and the time added.
pub fn json_line(value: serde_json::Value, at: Duration) -> serde_json::Value {
    let mut v = value;
    if let Some(o) = v.as_object_mut() {
        o.insert("v".into(), EVENT_VERSION.into());
        o.insert(
            "t".into(),
            serde_json::json!((at.as_secs_f64() * 1000.0).round() / 1000.0),
        );
    }
    v
}

/// The JSON form of an event (without `v` and `t`); `done` counts the
/// finished steps including this one.
pub fn event_json(
    e: &Event,
    steps: &BTreeMap<String, (String, String)>,
    done: usize,
    total: usize,
) -> Option<serde_json::Value> {
    let node = |step: &str| steps.get(step).map(|(n, _)| n.clone()).unwrap_or_default();
    Some(match e {
        Event::Started { step, attempt } => {
            serde_json::json!({"event": "started", "step": step.0, "node": node(&step.0), "attempt": attempt})
        }
        Event::Retrying {
            step,
            attempt,
            delay,
            error,
        } => serde_json::json!({
            "event": "retrying", "step": step.0, "node": node(&step.0), "attempt": attempt,
            "delay_s": delay.as_secs_f64(), "error": error,
        }),
        Event::Finished {
            step,
            outcome,
            elapsed,
        } => serde_json::json!({
            "event": "finished", "step": step.0, "node": node(&step.0),
            "outcome": if *outcome == Outcome::Changed { "changed" } else { "already_done" },
            "elapsed_s": elapsed.as_secs_f64(), "done": done, "total": total,
        }),
        Event::Failed { step, error } => {
            serde_json::json!({"event": "failed", "step": step.0, "node": node(&step.0), "error": error})
        }
        Event::Stopping { reason } => serde_json::json!({"event": "stopping", "reason": reason}),
    })
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
            let (node, what) = describe(&step.0);
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
            let (node, what) = describe(&step.0);
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
        let step = || StepId("lxd.join@node2".into());
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
            if let Some(v) = event_json(e, &steps, 3, 48) {
                out.push_str(&json_line(v, at).to_string());
                out.push('\n');
            }
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
