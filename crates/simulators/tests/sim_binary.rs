//! The `microcloud-sim` binary: starts nodes, runs a command against them,
//! stops, and exits with the command's status.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn sim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_microcloud-sim"));
    c.env("RUST_BACKTRACE", "0");
    c
}

#[test]
fn run_sees_every_nodes_sockets_and_passes_the_exit_status_on() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let check = format!(
        "for n in node1 node2; do for s in lxd/unix.socket microceph/control.socket microovn/control.socket; do \
         test -S {state}/$n/$s || exit 9; done; done; exit 3"
    );
    let out = sim()
        .args([
            "--nodes",
            "2",
            "--base-ip",
            "127.0.96.1",
            "--time-scale",
            "0.01",
            "--state-dir",
            state,
            "--run",
            "--",
            "sh",
            "-c",
            &check,
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("microcloud-sim: 2 simulated node(s) on 127.0.96.1")
    );
}

#[test]
fn services_left_out_get_no_socket() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let check = format!(
        "for n in node1 node2; do test -e {state}/$n/lxd/unix.socket && exit 8; \
         for s in microceph/control.socket microovn/control.socket; do \
         test -S {state}/$n/$s || exit 9; done; done; exit 0"
    );
    let out = sim()
        .args([
            "--nodes",
            "2",
            "--base-ip",
            "127.0.95.1",
            "--services",
            "microceph,microovn",
            "--state-dir",
            state,
            "--run",
            "--",
            "sh",
            "-c",
            &check,
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sim()
        .args(["--services", "lxd,ovn", "--run", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid value 'ovn' for '--services"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    let out = sim()
        .args(["--nodes", "0", "--run", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--nodes must be between 1 and 250 (got 0)")
    );
    let out = sim()
        .args([
            "--nodes",
            "2",
            "--node-profile",
            "node7=legacy",
            "--run",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--node-profile names \"node7\", but the nodes are node1..node2")
    );
}
