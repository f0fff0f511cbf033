//! `microcloud schema [--kind preseed|events|report]`: the JSON Schemas of
//! what the tool reads and writes, generated from the types, and committed
//! under `schemas/` (drift tests below and in `tests/schema.rs`).

use serde_json::Value;

/// Which schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The preseed format (`schemas/preseed.schema.json`).
    Preseed,
    /// One line of `--output json` (`schemas/events.schema.json`).
    Events,
    /// The `--report FILE` document (`schemas/report.schema.json`).
    Report,
}

/// The schema of `kind`.
pub fn schema(kind: Kind) -> Value {
    match kind {
        Kind::Preseed => config_loader::shape::schema().clone(),
        Kind::Events => crate::output::events::schema(),
        Kind::Report => report(),
    }
}

/// The report's schema, generated from [`crate::output::report::document::Document`].
fn report() -> Value {
    serde_json::to_value(schemars::schema_for!(
        crate::output::report::document::Document
    ))
    .unwrap_or(Value::Null)
}

/// The schema of `kind` as pretty JSON (what is committed, less the final
/// newline).
pub fn text(kind: Kind) -> String {
    serde_json::to_string_pretty(&schema(kind)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schemas are exactly what the types generate.
    #[test]
    fn committed_schemas_match_the_generated_ones() {
        for (kind, path) in [
            (Kind::Events, "schemas/events.schema.json"),
            (Kind::Report, "schemas/report.schema.json"),
        ] {
            microcloud_tests::assert_snapshot(path, &(text(kind) + "\n"));
        }
    }

    fn read(path: &str) -> String {
        let full = microcloud_tests::workspace_root().join(path);
        std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
    }

    /// Every problem `instance` has against the schema of `kind`.
    pub(crate) fn problems(kind: Kind, instance: &Value) -> Vec<String> {
        let validator = jsonschema::validator_for(&schema(kind)).unwrap();
        validator
            .iter_errors(instance)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect()
    }

    /// The outputs pinned by the snapshot tests are valid against the
    /// schemas, so that schema and output cannot drift apart.
    #[test]
    fn pinned_outputs_validate_against_the_schemas() {
        let events = read("crates/microcloud/tests/snapshots/events.txt");
        let lines: Vec<&str> = events.lines().take_while(|l| *l != "--- plain").collect();
        assert_eq!(lines.len(), 6);
        for line in lines {
            let event: Value = serde_json::from_str(line).unwrap();
            assert_eq!(
                problems(Kind::Events, &event),
                Vec::<String>::new(),
                "{line}"
            );
        }
        for path in [
            "crates/microcloud/tests/snapshots/report-formed.json",
            "crates/microcloud/tests/snapshots/sim-rerun.json",
        ] {
            let mut report: Value = serde_json::from_str(&read(path)).unwrap();
            // The re-run snapshot has its OSD numbers normalised to "#".
            for osd in report["cluster"]["osds"].as_array_mut().unwrap() {
                if osd["osd"] == "#" {
                    osd["osd"] = 0.into();
                }
            }
            assert_eq!(
                problems(Kind::Report, &report),
                Vec::<String>::new(),
                "{path}"
            );
            let event = serde_json::json!({"v": 1, "t": 1.5, "event": "report", "report": report});
            assert_eq!(
                problems(Kind::Events, &event),
                Vec::<String>::new(),
                "{path}"
            );
        }
    }

    /// The schemas are strict: an unknown field, a missing one or a wrong
    /// value is a problem, so a change to the output that the schema does
    /// not describe fails the test above.
    #[test]
    fn the_schemas_reject_what_the_tool_does_not_write() {
        let report: Value =
            serde_json::from_str(&read("crates/microcloud/tests/snapshots/sim-rerun.json"))
                .unwrap();
        let mut extra = report.clone();
        extra["cluster"]["members"][0]["colour"] = "blue".into();
        assert!(
            problems(Kind::Report, &extra)
                .iter()
                .any(|p| p.contains("/cluster/members/0") && p.contains("colour")),
            "{:?}",
            problems(Kind::Report, &extra)
        );
        let mut missing = report.clone();
        missing.as_object_mut().unwrap().remove("journal");
        assert!(!problems(Kind::Report, &missing).is_empty());
        let mut wrong = report;
        wrong["outcome"] = "done".into();
        assert!(!problems(Kind::Report, &wrong).is_empty());

        let ok = serde_json::json!({"v": 1, "t": 0.5, "event": "stopping", "reason": "cancelled"});
        assert!(problems(Kind::Events, &ok).is_empty());
        for bad in [
            serde_json::json!({"v": 2, "t": 0.5, "event": "stopping", "reason": "cancelled"}),
            serde_json::json!({"v": 1, "event": "stopping"}),
            serde_json::json!({"v": 1, "event": "stopping", "reason": "x", "why": "y"}),
            serde_json::json!({"v": 1, "event": "paused"}),
        ] {
            assert!(!problems(Kind::Events, &bad).is_empty(), "{bad}");
        }
    }
}
