//! The journal on disk: atomic, versioned, private, readable after a crash.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use executor::journal::*;
use std::os::unix::fs::PermissionsExt;

fn sample() -> Journal {
    let mut j = Journal::new(
        "ab".repeat(32),
        serde_json::json!({"format_version": 1, "steps": []}),
    );
    j.steps.insert(
        "lxd.bootstrap@micro01".into(),
        StepRecord::Done {
            outcome: RecordedOutcome::Changed,
            attempts: 1,
            finished_at: "2026-11-21T05:00:00Z".into(),
        },
    );
    j.steps.insert(
        "lxd.join@micro02".into(),
        StepRecord::Running {
            started_at: "2026-11-21T05:00:01Z".into(),
            attempts: 2,
        },
    );
    j
}

#[test]
fn round_trip_with_private_mode_and_growing_generation() {
    let dir = tempfile::tempdir().unwrap();
    let file = JournalFile::new(dir.path().join("state/journal.json"));
    assert_eq!(file.load().unwrap(), None);
    let mut j = sample();
    file.save(&mut j).unwrap();
    file.save(&mut j).unwrap();
    assert_eq!(j.generation, 2);
    let back = file.load().unwrap().unwrap();
    assert_eq!(back, j);
    let mode = std::fs::metadata(file.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path().join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["journal.json"]);
}

#[test]
fn an_unfinished_run_names_the_steps_it_was_in() {
    let mut j = sample();
    assert_eq!(j.interrupted_steps(), ["lxd.join@micro02"]);
    j.finished = Some(RunEnd {
        at: "2026-11-21T05:01:00Z".into(),
        succeeded: false,
    });
    assert!(j.interrupted_steps().is_empty());
}

#[test]
fn unknown_versions_and_garbage_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.json");
    let file = JournalFile::new(&path);
    let mut newer = serde_json::to_value(sample()).unwrap();
    newer["version"] = 9.into();
    std::fs::write(&path, newer.to_string()).unwrap();
    let err = file.load().unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "the journal {} is not readable (format version 9 is newer than this microcloud understands (1)); move it away to start a fresh record",
            path.display()
        )
    );
    std::fs::write(&path, "{not json").unwrap();
    assert!(
        file.load()
            .unwrap_err()
            .to_string()
            .contains("is not readable (key must be a string")
    );
    std::fs::write(&path, "{\"version\":1,\"extra\":true}").unwrap();
    assert!(
        file.load()
            .unwrap_err()
            .to_string()
            .contains("is not readable")
    );
}

#[test]
fn a_torn_temporary_file_does_not_affect_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.json");
    let file = JournalFile::new(&path);
    let mut j = sample();
    file.save(&mut j).unwrap();
    // A crash in the middle of a later write leaves only a partial temp file.
    std::fs::write(
        dir.path().join(".journal.json.tmp-999"),
        "{\"version\":1,\"gen",
    )
    .unwrap();
    assert_eq!(file.load().unwrap().unwrap().generation, 1);
}

#[test]
fn events_become_step_records_with_their_attempts() {
    use executor::{Event, Outcome, StepId};
    use std::time::{Duration, SystemTime};
    let mut j = Journal::new(String::new(), serde_json::Value::Null);
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(60);
    let step = || StepId::new("lxd.join@micro02");
    j.record(
        &Event::Started {
            step: step(),
            attempt: 1,
        },
        at,
    );
    j.record(
        &Event::Started {
            step: step(),
            attempt: 2,
        },
        at,
    );
    assert_eq!(j.interrupted_steps(), ["lxd.join@micro02"]);
    j.record(
        &Event::Finished {
            step: step(),
            outcome: Outcome::Changed,
            elapsed: Duration::ZERO,
        },
        at,
    );
    assert_eq!(
        j.steps["lxd.join@micro02"],
        StepRecord::Done {
            outcome: RecordedOutcome::Changed,
            attempts: 2,
            finished_at: "1970-01-01T00:01:00Z".into()
        }
    );
    j.record(
        &Event::Failed {
            step: StepId::new("x"),
            error: "refused".into(),
        },
        at,
    );
    assert_eq!(
        j.steps["x"],
        StepRecord::Failed {
            error: "refused".into(),
            attempts: 1,
            finished_at: "1970-01-01T00:01:00Z".into()
        }
    );
    j.record(
        &Event::Stopping {
            reason: "x failed".into(),
        },
        at,
    );
    assert_eq!(j.steps.len(), 2);
}
