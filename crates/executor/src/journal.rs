//! The run journal: what was planned and what happened, on disk.
//!
//! The journal is a record, not the source of truth. A re-run never trusts
//! it to skip work: it re-plans from the live state of the services, and
//! every step checks its desired state before acting. The journal serves to
//! tell the operator what an interrupted run had done, to detect that a run
//! was interrupted, and to keep a machine-readable history.
//!
//! Format: one JSON document, `version` first (see [`JOURNAL_VERSION`]),
//! with a `generation` that increases on every write. Writes are atomic: a
//! temporary file in the same directory, created with mode 0600, written,
//! flushed to disk, then renamed over the journal, and the directory synced.
//! A crash leaves either the previous or the new journal, never a torn one.
//! It holds no secrets: the plan and step records carry names, addresses,
//! paths and service errors, never the passphrase.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::run::{Event, Outcome};
use planner::StepId;

/// Current journal format.
pub const JOURNAL_VERSION: u32 = 1;

/// The journal document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    /// Format version.
    pub version: u32,
    /// Increases by one on every write.
    pub generation: u64,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// When this generation was written.
    pub updated_at: String,
    /// SHA-256 of the preseed file, to tell runs of different files apart.
    pub preseed_sha256: String,
    /// The plan as rendered JSON.
    pub plan: serde_json::Value,
    /// What happened to each step, by step id.
    pub steps: BTreeMap<String, StepRecord>,
    /// Set once the run ended (successfully or not); absent while running.
    pub finished: Option<RunEnd>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunEnd {
    /// When.
    pub at: String,
    /// Whether every step succeeded.
    pub succeeded: bool,
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepRecord {
    /// Started, not finished (when found in a journal: the run was interrupted here).
    Running {
        /// When it started.
        started_at: String,
        /// Attempts so far.
        attempts: u32,
    },
    /// Succeeded.
    Done {
        /// Changed or already done.
        outcome: RecordedOutcome,
        /// Attempts made.
        attempts: u32,
        /// When it finished.
        finished_at: String,
    },
    /// Failed for good.
    Failed {
        /// The error, rendered.
        error: String,
        /// Attempts made.
        attempts: u32,
        /// When it failed.
        finished_at: String,
    },
    /// Did not start.
    NotStarted {
        /// Why.
        reason: String,
    },
}

/// [`Outcome`] as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordedOutcome {
    /// The step changed the system.
    Changed,
    /// The desired state already held.
    AlreadyDone,
}

impl From<Outcome> for RecordedOutcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Changed => RecordedOutcome::Changed,
            Outcome::AlreadyDone => RecordedOutcome::AlreadyDone,
        }
    }
}

impl Journal {
    /// A new journal for a run starting now.
    pub fn new(preseed_sha256: String, plan: serde_json::Value) -> Journal {
        let now = timestamp(SystemTime::now());
        Journal {
            version: JOURNAL_VERSION,
            generation: 0,
            started_at: now.clone(),
            updated_at: now,
            preseed_sha256,
            plan,
            steps: BTreeMap::new(),
            finished: None,
        }
    }

    /// Records what `event` says about a step, at `now`.
    pub fn record(&mut self, event: &Event, now: SystemTime) {
        let now = timestamp(now);
        // Attempts counted so far (the last `Started` event said how many).
        let attempts =
            |steps: &BTreeMap<String, StepRecord>, step: &StepId| match steps.get(step.as_str()) {
                Some(StepRecord::Running { attempts, .. }) => *attempts,
                _ => 1,
            };
        let (step, record) = match event {
            Event::Started { step, attempt } => (
                step,
                StepRecord::Running {
                    started_at: now,
                    attempts: *attempt,
                },
            ),
            Event::Finished { step, outcome, .. } => (
                step,
                StepRecord::Done {
                    outcome: RecordedOutcome::from(*outcome),
                    attempts: attempts(&self.steps, step),
                    finished_at: now,
                },
            ),
            Event::Failed { step, error } => (
                step,
                StepRecord::Failed {
                    error: error.clone(),
                    attempts: attempts(&self.steps, step),
                    finished_at: now,
                },
            ),
            Event::Retrying { .. } | Event::Stopping { .. } => return,
        };
        self.steps.insert(step.to_string(), record);
    }

    /// Steps that were running when the run that wrote this journal ended
    /// without finishing (it crashed, lost power, or was killed).
    pub fn interrupted_steps(&self) -> Vec<&str> {
        if self.finished.is_some() {
            return Vec::new();
        }
        self.steps
            .iter()
            .filter(|(_, r)| matches!(r, StepRecord::Running { .. }))
            .map(|(id, _)| id.as_str())
            .collect()
    }
}

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file operation failed.
    #[error("cannot {action} the journal {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The file is not a journal this version understands.
    #[error("the journal {} is not readable ({reason}); move it away to start a fresh record", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A journal at a path.
#[derive(Debug, Clone)]
pub struct JournalFile {
    path: PathBuf,
}

impl JournalFile {
    /// The journal at `path` (not read or created yet).
    pub fn new(path: impl Into<PathBuf>) -> JournalFile {
        JournalFile { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the journal; `None` when there is none yet.
    pub fn load(&self) -> Result<Option<Journal>, JournalError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(JournalError::Io {
                    action: "read",
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let unreadable = |reason: String| JournalError::Unreadable {
            path: self.path.clone(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        match version {
            Some(v) if v == u64::from(JOURNAL_VERSION) => serde_json::from_value(value)
                .map(Some)
                .map_err(|e| unreadable(e.to_string())),
            Some(v) if v > u64::from(JOURNAL_VERSION) => Err(unreadable(format!(
                "format version {v} is newer than this microcloud understands ({JOURNAL_VERSION})"
            ))),
            Some(v) => Err(unreadable(format!("format version {v} is not supported"))),
            None => Err(unreadable("no format version".into())),
        }
    }

    /// Writes `journal` atomically, increasing its generation.
    pub fn save(&self, journal: &mut Journal) -> Result<(), JournalError> {
        journal.generation += 1;
        journal.updated_at = timestamp(SystemTime::now());
        let io_err = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| JournalError::Io {
                action,
                path,
                source,
            }
        };
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io_err("create the directory of", &self.path))?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "journal".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let bytes = serde_json::to_vec_pretty(journal).map_err(|e| JournalError::Unreadable {
            path: self.path.clone(),
            reason: format!("cannot encode: {e}"),
        })?;
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err("create a temporary file for", &self.path))?;
        file.write_all(&bytes)
            .map_err(io_err("write", &self.path))?;
        file.write_all(b"\n").map_err(io_err("write", &self.path))?;
        file.sync_all().map_err(io_err("flush", &self.path))?;
        drop(file);
        fs::rename(&tmp, &self.path).map_err(io_err("replace", &self.path))?;
        if let Ok(d) = File::open(dir) {
            // Best effort: some file systems do not support syncing directories.
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// RFC 3339 UTC timestamp with seconds, e.g. `2026-11-21T05:31:19Z`.
pub fn timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t =
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_219_200 + 5 * 3600 + 31 * 60 + 19);
        assert_eq!(timestamp(t), "2026-11-21T05:31:19Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00Z");
    }
}
