//! Multicast discovery between hosts in network namespaces.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use microcloud_tests::lab::{Lab, report_skip, skip_requested};
use std::process::Stdio;

const PROBE: &str = env!("CARGO_BIN_EXE_lab-probe");

fn lab(names: &[&str]) -> Option<Lab> {
    if skip_requested() {
        report_skip();
        return None;
    }
    Some(Lab::create(names).unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn a_joiner_discovers_the_initiator_across_the_bridge_and_not_outside_its_lab() {
    let Some(lab) = lab(&["micro01", "micro02", "micro03"]) else {
        return;
    };
    let [a, b, c] = [&lab.hosts[0], &lab.hosts[1], &lab.hosts[2]];
    let mut responder = a
        .command(PROBE)
        .args(["respond", &a.address.to_string(), "micro01", "9444"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for joiner in [b, c] {
        let out = joiner
            .command(PROBE)
            .args([
                "discover",
                &joiner.address.to_string(),
                "micro01",
                "9444",
                "10000",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(found["name"], "micro01");
        assert_eq!(found["address"], a.address.to_string());
    }
    responder.kill().unwrap();
    let _ = responder.wait();
    // With the responder gone, a query times out and says why.
    let out = b
        .command(PROBE)
        .args(["discover", &b.address.to_string(), "micro01", "9444", "600"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no announcement from the initiator \"micro01\"")
    );
}

#[test]
fn lab_hosts_have_no_route_out() {
    let Some(lab) = lab(&["solo"]) else { return };
    let h = &lab.hosts[0];
    let out = h
        .command("ip")
        .args(["route", "show", "default"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "",
        "a lab host must have no default route"
    );
    assert_eq!(lab.subnet(), format!("10.{}.0.0/24", h.address.octets()[1]));
}
