//! Data-driven planning cases. Each folder of `tests/plan-cases/` holds a
//! preseed (`preseed.yaml`, whose leading comments say what the case
//! shows), an inventory directory as `microcloud plan --inventory` reads
//! it (`inventory/<system>.json`, optionally `cluster.json`) and the
//! expected output, `expected.txt`: the plan's JSON when it plans, else
//! every planning error with its key path, system and help. One runner
//! walks every folder and reports every case that differs.
//! `UPDATE_SNAPSHOTS=1` rewrites the expectations (review the diff).
//!
//! The base inventory of most cases: micro0<i> at 10.0.0.<i>, LXD 6.9,
//! MicroCeph 19.2.1, MicroOVN 24.03.2; interfaces enp5s0 (10.0.0.<i>/24),
//! enp6s0 (free), enp7s0 (10.10.0.<i>/24); disks nvme0n1 (512 GiB),
//! nvme1n1 (2 TiB), sda (ssd, 1 TiB).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "a test: it reads its cases from files and fails loudly"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use config_loader::FakeEnvironment;
use planner::{Inventory, PlanErrors};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plan-cases")
}

/// The inventory directory's files, as `(file name, contents)`.
fn inventory_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn render_errors(errors: &PlanErrors) -> String {
    let mut out = String::new();
    for e in errors.iter() {
        write!(out, "error at {}", e.path).unwrap();
        if let Some(system) = &e.system {
            write!(out, " (system {system})").unwrap();
        }
        writeln!(out, ": {}", e.message).unwrap();
        if let Some(help) = &e.help {
            writeln!(out, "  help: {help}").unwrap();
        }
    }
    out
}

/// What planning the case in `dir` prints.
fn output(dir: &Path) -> String {
    let yaml = std::fs::read_to_string(dir.join("preseed.yaml")).unwrap();
    let report = config_loader::load(&yaml, &FakeEnvironment::default());
    let Some(preseed) = report.preseed() else {
        panic!(
            "{}: the preseed does not load:\n{}",
            dir.display(),
            report.render("preseed.yaml")
        );
    };
    let inventory = Inventory::from_files(inventory_files(&dir.join("inventory")))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    match planner::plan(preseed, &inventory) {
        Ok(plan) => plan.to_json(),
        Err(errors) => render_errors(&errors),
    }
}

#[test]
fn every_case_plans_as_expected() {
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
