//! One tiny run of each benchmark command, so that they keep working;
//! the figures themselves are not checked (BENCHMARKS.md holds them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn run(exe: &str, args: &[&str]) -> String {
    let out = Command::new(exe).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{exe} {args:?}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn bootstrap_bench_forms_three_machines_both_ways() {
    let out = run(
        env!("CARGO_BIN_EXE_bootstrap-bench"),
        &["--sizes", "3", "--scale", "0.01", "--runs", "1", "--json"],
    );
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("3 "))
        .unwrap_or_else(|| panic!("no row for 3 machines:\n{out}"));
    assert!(row.contains('x'), "{row}");
    let json: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(json["nodes"], 3);
    assert_eq!(json["serial_s"].as_array().unwrap().len(), 1);
    // No schedule beats the lower bound.
    assert!(json["ours_s"][0].as_f64().unwrap() >= json["bound_s"].as_f64().unwrap());
}

#[test]
fn trust_bench_admits_and_counts_guesses() {
    let out = run(
        env!("CARGO_BIN_EXE_trust-bench"),
        &["--joiners", "2", "--runs", "1", "--guesses", "2"],
    );
    assert!(
        out.contains("the session closed for everyone after 10 failed attempts"),
        "{out}"
    );
}
