//! The JSON lines of `--output json` (`microcloud preseed` and
//! `microcloud wait-ready`): typed events, and their JSON Schema generated
//! from the same types (`schemas/events.schema.json`).
//!
//! Every line is one object: the event's own fields, `"event"` (its kind),
//! `"v"` ([`EVENT_VERSION`]) and, from the plan on, `"t"` (seconds since the
//! plan started running). Objects keep their keys sorted (they go through
//! [`serde_json::Value`]), so the bytes do not depend on field order here.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::machine::ServiceKind;
use crate::output::report::document::Document;

/// Version of the JSON event lines (`"v"`): fields may be added, never
/// removed or changed, without a new version.
pub const EVENT_VERSION: u32 = 1;

/// One event of `--output json`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
#[schemars(deny_unknown_fields)]
pub enum Event {
    /// A message for people: the plan summary, a previous run that stopped
    /// half-way, an interruption, the trust session's progress, an error
    /// before the plan.
    Message {
        /// The text.
        message: String,
    },
    /// Still waiting for one of this machine's services (at most every few
    /// seconds per service, and whenever its state changes).
    Waiting {
        /// The service.
        service: ServiceKind,
        /// Its unix socket.
        socket: PathBuf,
        /// What it is doing: `socket missing`, `not answering: ...`,
        /// `not ready: ...`.
        state: String,
        /// Seconds since the wait began.
        elapsed_s: f64,
        /// How long the wait may last in all, in seconds.
        timeout_s: f64,
    },
    /// A service that was waited for answers and is ready.
    Ready {
        /// The service.
        service: ServiceKind,
        /// Its unix socket.
        socket: PathBuf,
        /// Seconds since the wait began.
        elapsed_s: f64,
    },
    /// The wait ended without every service ready; nothing was changed.
    NotReady {
        /// What is not ready and what to do, for people.
        message: String,
        /// How long the wait lasted, in seconds.
        waited_s: f64,
        /// The services that are not ready, with what each was doing.
        services: Vec<PendingService>,
    },
    /// An attempt of a step started.
    Started {
        /// Step id (`lxd.join@node2`).
        step: String,
        /// The machine the step is about.
        node: String,
        /// 1, 2, ...
        attempt: u32,
    },
    /// An attempt failed transiently; the step will be tried again.
    Retrying {
        /// Step id.
        step: String,
        /// The machine the step is about.
        node: String,
        /// The attempt that failed.
        attempt: u32,
        /// Seconds before the next attempt.
        delay_s: f64,
        /// The error with its whole cause chain.
        error: String,
    },
    /// A step succeeded.
    Finished {
        /// Step id.
        step: String,
        /// The machine the step is about.
        node: String,
        /// What it did.
        outcome: StepOutcome,
        /// Seconds from its first start.
        elapsed_s: f64,
        /// Finished steps so far, this one included.
        done: usize,
        /// Steps in the plan.
        total: usize,
    },
    /// A step failed for good.
    Failed {
        /// Step id.
        step: String,
        /// The machine the step is about.
        node: String,
        /// The error with its whole cause chain.
        error: String,
    },
    /// No new step will start.
    Stopping {
        /// Why: a failed step, or `cancelled`.
        reason: String,
    },
    /// The final report, the same document `--report FILE` writes.
    Report {
        /// The report.
        report: Box<Document>,
    },
}

/// What a finished step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// It changed something.
    Changed,
    /// Its desired state already held.
    AlreadyDone,
}

/// A service that was not ready when a wait ended.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PendingService {
    /// The service.
    pub service: ServiceKind,
    /// Its unix socket.
    pub socket: PathBuf,
    /// What it was doing.
    pub state: String,
}

/// Seconds with millisecond precision.
pub fn seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// The JSON line of `event`: its fields with `v`, and `t` when given.
pub fn line(event: &Event, t: Option<Duration>) -> Value {
    let mut v = serde_json::to_value(event).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("v".into(), EVENT_VERSION.into());
        if let Some(t) = t {
            o.insert("t".into(), seconds(t).into());
        }
    }
    v
}

/// Prints `event` as one line on standard output.
pub fn print(event: &Event, t: Option<Duration>) {
    println!("{}", line(event, t));
}

/// The JSON Schema of one event line: the events' generated schema, with
/// `v` and `t`, which [`line`] adds to every event, added to each kind.
pub fn schema() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Event)).unwrap_or(Value::Null);
    let v = serde_json::json!({
        "description": "Version of the event format.",
        "type": "integer",
        "const": EVENT_VERSION,
    });
    let t = serde_json::json!({
        "description": "Seconds since the plan started running (absent before the plan).",
        "type": "number",
        "minimum": 0,
    });
    if let Some(kinds) = schema.get_mut("oneOf").and_then(Value::as_array_mut) {
        for kind in kinds {
            if let Some(properties) = kind.get_mut("properties").and_then(Value::as_object_mut) {
                properties.insert("v".into(), v.clone());
                properties.insert("t".into(), t.clone());
            }
            if let Some(required) = kind.get_mut("required").and_then(Value::as_array_mut) {
                required.push("v".into());
            }
        }
    }
    schema
}
