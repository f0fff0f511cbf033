//! Data-driven validation cases, one folder per case in `tests/rule-cases/`
//! (named after the rule it shows; `about.txt`, when present, has the
//! comments of the test it came from): `preseed.yaml`, optionally `env.json`
//! (the environment: `{"vars": [[name, value]], "files": [[path,
//! contents]]}`), and `expected.txt`: every diagnostic with its severity,
//! key path, line, message and help, then whether the preseed is valid.
//! One runner walks every folder and reports every case that differs.
//! `UPDATE_SNAPSHOTS=1` rewrites the expectations (review the diff).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "a test: it reads its cases from files and fails loudly"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use config_loader::{FakeEnvironment, load};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rule-cases")
}

fn environment(dir: &Path) -> FakeEnvironment {
    let Ok(text) = std::fs::read_to_string(dir.join("env.json")) else {
        return FakeEnvironment::default();
    };
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Env {
        #[serde(default)]
        vars: Vec<(String, String)>,
        #[serde(default)]
        files: Vec<(String, String)>,
    }
    let env: Env =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}/env.json: {e}", dir.display()));
    FakeEnvironment {
        vars: env.vars,
        files: env.files,
    }
}

/// What validating the case in `dir` reports.
fn output(dir: &Path) -> String {
    let yaml = std::fs::read_to_string(dir.join("preseed.yaml")).unwrap();
    let report = load(&yaml, &environment(dir));
    let mut out = String::new();
    for d in report.diagnostics().iter() {
        let line = d.line().map_or_else(|| "-".to_owned(), |l| l.to_string());
        writeln!(
            out,
            "{:?} at `{}` line {line}: {}",
            d.severity, d.path, d.message
        )
        .unwrap();
        if let Some(help) = &d.help {
            writeln!(out, "  help: {help}").unwrap();
        }
    }
    out.push_str(if report.is_valid() {
        "=> valid\n"
    } else {
        "=> invalid\n"
    });
    out
}

#[test]
fn every_case_validates_as_expected() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no cases in {}", cases_dir().display());
    let mut failed = Vec::new();
    for dir in &dirs {
        let got = output(dir);
        let expected_path = dir.join("expected.txt");
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e}; run with UPDATE_SNAPSHOTS=1 to create it",
                expected_path.display()
            )
        });
        if got != expected {
            failed.push(format!(
                "{}:\n--- expected\n{expected}\n--- got\n{got}",
                dir.display()
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases differ (UPDATE_SNAPSHOTS=1 rewrites them if intended; review the diff):\n\n{}",
        failed.len(),
        dirs.len(),
        failed.join("\n\n")
    );
}
