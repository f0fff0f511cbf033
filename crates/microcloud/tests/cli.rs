//! The command-line contract: exit codes, stdin, formats, and the schema.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use support::{microcloud, root, run, text};

/// Runs `command` with `input` on its standard input.
fn with_stdin(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn microcloud");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("wait")
}

#[test]
fn valid_file_exits_zero() {
    let out = run(["validate", "examples/multicast-3-nodes.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "examples/multicast-3-nodes.yaml: valid\n"
    );
}

#[test]
fn invalid_file_exits_two_with_every_error() {
    let out = run(["validate", "examples/invalid/unknown-keys.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("error: unknown key `sesion_passphrase` at the top level"),
        "{stdout}"
    );
    assert!(
        stdout.contains("--> examples/invalid/unknown-keys.yaml:4:1 (sesion_passphrase)"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("examples/invalid/unknown-keys.yaml: invalid, 6 errors\n"),
        "{stdout}"
    );
}

#[test]
fn unreadable_file_exits_one() {
    let out = run(["validate", "does/not/exist.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: cannot read does/not/exist.yaml: No such file or directory (os error 2)\n"
    );
}

#[test]
fn reads_stdin_without_a_file_or_with_a_dash() {
    let yaml = std::fs::read(root().join("examples/single-node.yaml")).unwrap();
    for args in [&["validate"][..], &["validate", "-"][..]] {
        let out = with_stdin(&mut microcloud(args), &yaml);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
        assert_eq!(text(&out.stdout), "<stdin>: valid\n");
    }
    let out = with_stdin(&mut microcloud(["validate"]), b"systems: 1\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("--> <stdin>:1:10 (systems)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn json_format_is_one_object() {
    let out = run([
        "validate",
        "--format",
        "json",
        "examples/invalid/timeouts.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["valid"], false);
    let first = &v["diagnostics"][0];
    for key in ["severity", "message", "path", "line", "column"] {
        assert!(first.get(key).is_some(), "missing {key} in {first}");
    }
    assert_eq!(first["path"], "lookup_timeout");
    assert_eq!(first["line"], 4);

    let out = run(["validate", "--format", "json", "examples/single-node.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, serde_json::json!({"valid": true, "diagnostics": []}));
}

#[test]
fn passphrase_from_the_environment_satisfies_validation() {
    let yaml = b"initiator: a\nlookup_subnet: 10.0.0.0/24\nsystems:\n  - name: a\n  - name: b\n";
    assert_eq!(
        with_stdin(&mut microcloud(["validate"]), yaml)
            .status
            .code(),
        Some(2)
    );
    let out = with_stdin(
        microcloud(["validate"]).env("MICROCLOUD_SESSION_PASSPHRASE", "from the environment"),
        yaml,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = run(["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(root().join("schemas/preseed.schema.json")).unwrap();
    assert_eq!(text(&out.stdout), committed);
}

#[test]
fn usage_errors_exit_two_like_clap() {
    let out = run(["validate", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid value 'yaml' for '--format <FORMAT>'"));
}

// --- plan -------------------------------------------------------------------

#[test]
fn plan_prints_the_plan_and_exits_zero() {
    let out = run([
        "plan",
        "examples/single-node.yaml",
        "--inventory",
        "tests/fixtures/inventory/single-node",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("Plan: form a new cluster (initiator micro01)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("lxd.pool.local.pending@micro01"),
        "{stdout}"
    );
    assert!(stdout.contains("\nCritical path (6 steps):\n"), "{stdout}");
}

#[test]
fn plan_json_is_versioned() {
    let out = run([
        "plan",
        "examples/add-one-node.yaml",
        "--inventory",
        "tests/fixtures/inventory/add-one-node",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["mode"], "add");
    assert_eq!(json["steps"][0]["id"], "microceph.token@micro04");
}

#[test]
fn plan_reports_every_planning_error_with_its_line_and_exits_two() {
    let out = run([
        "plan",
        "examples/multicast-3-nodes.yaml",
        "--inventory",
        "tests/fixtures/inventory/single-node",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "error: system `micro02` is not in the inventory\n  --> examples/multicast-3-nodes.yaml:19:5 (systems[1])\n"
        ),
        "{stdout}"
    );
    // micro01's inventory has none of the disks the file wipes.
    assert!(
        stdout.contains(
            "error: refusing to plan a wipe of /dev/disk/by-id/nvme-ceph-micro01 on `micro01`: its LXD does not report that disk, so it could not be checked just before it is wiped\n  --> examples/multicast-3-nodes.yaml:17:17 (systems[0].storage.ceph[0].path)\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("examples/multicast-3-nodes.yaml: invalid, 7 errors\n"),
        "{stdout}"
    );
}

#[test]
fn plan_of_an_invalid_preseed_exits_two() {
    let out = run([
        "plan",
        "examples/invalid/ovn-range.yaml",
        "--inventory",
        "tests/fixtures/inventory/single-node",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false);
}

#[test]
fn plan_without_a_readable_inventory_exits_one() {
    let out = run([
        "plan",
        "examples/single-node.yaml",
        "--inventory",
        "does/not/exist",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: cannot read the inventory directory does/not/exist: No such file or directory (os error 2)\n"
    );
}
