//! The scale benchmark (`bin/scale-bench.rs`, BENCHMARKS.md part 7) at
//! its smallest size, so that it keeps working: three lab machines, one
//! `microcloud preseed` each, in both orders. Its figures are not judged
//! here (speed goals live in BENCHMARKS.md); what must hold is what no
//! measurement can break: every run succeeded, no formation beat the lower
//! bound of its plan, and the parts fit inside the whole.
//!
//! Needs root, and `cargo build -p microcloud -p simulators` first (as
//! `e2e_preseed`); with `MICROCLOUD_SKIP_NETNS=1` it says it was skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use microcloud_tests::lab::{report_skip, skip_requested};
use serde_json::Value;

#[test]
fn three_machines_form_in_both_orders_and_none_beats_the_bound() {
    if skip_requested() {
        report_skip();
        return;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scale-bench"))
        .args([
            "--sizes",
            "3",
            "--scale",
            "0.05",
            "--json",
            "--timeout",
            "300",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scale-bench failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in:\n{stdout}"));
    let v: Value = serde_json::from_str(line).unwrap();
    let num = |key: &str| v[key][0].as_f64().unwrap_or_else(|| panic!("{key} in {v}"));
    assert_eq!(v["nodes"], 3);
    assert!(v["steps"].as_u64().unwrap() > 40, "{v}");
    let bound = v["bound_s"].as_f64().unwrap();
    let (wall, serial) = (num("wall_s"), num("serial_wall_s"));
    assert!(wall >= bound, "ours beat the lower bound: {v}");
    assert!(
        serial >= bound,
        "MicroCloud's order beat the lower bound: {v}"
    );
    assert!(num("admission_s") < wall && num("apply_s") < wall, "{v}");
    assert!(num("initiator_cpu_s") > 0.0, "{v}");
    assert!(v["initiator_peak_kib"][0].as_u64().unwrap() > 1024, "{v}");
    assert_eq!(
        v["session_incidents"],
        serde_json::json!([0, 0]),
        "every joiner gets in at its first attempt: {v}"
    );
}
