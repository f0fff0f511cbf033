//! The Fan path in simulation: machines whose inventory has an IPv4 default
//! route (`default_route`, written by the simulator as
//! `<state>/<node>/proc/net/route`) and a preseed without OVN form a
//! cluster whose network is the Fan bridge `lxdfan0` on the default-route
//! interface's subnet, as MicroCloud does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::Ipv4Addr;

use simulators::{NodeSpec, SimBuilder};
use support::{example_at, microcloud, spawn, text};

const BASE: [u8; 3] = [127, 0, 86];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ovn_a_default_route_gives_a_fan_network() {
    let dir = tempfile::tempdir().unwrap();
    // The embedded fixture, with the default route through the management
    // port enp5s0 (which carries the node's address, {ip}/24).
    let mut fixture: serde_json::Value =
        serde_json::from_str(simulators::inventory::DEFAULT_FIXTURE).unwrap();
    fixture["default_route"] = "enp5s0".into();
    let fixture = fixture.to_string();
    let mut builder = SimBuilder::new()
        .base_ip(Ipv4Addr::new(BASE[0], BASE[1], BASE[2], 1))
        .time_scale(0.05)
        .state_dir(dir.path());
    for n in ["node1", "node2", "node3"] {
        builder = builder.node(NodeSpec::new(n).inventory(&fixture));
    }
    let _sim = builder.start().await.unwrap();
    let route = std::fs::read_to_string(dir.path().join("node1/proc/net/route")).unwrap();
    assert!(
        route
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("enp5s0\t00000000\t"),
        "{route}"
    );

    // The shipped example without any OVN setting.
    let file = example_at(dir.path(), BASE, |yaml| {
        let kept: Vec<&str> = yaml
            .lines()
            .take_while(|l| !l.starts_with("ovn:"))
            .filter(|l| !l.contains("ovn_uplink_interface") && !l.contains("ovn_underlay_ip"))
            .collect();
        let tail: Vec<&str> = yaml
            .lines()
            .skip_while(|l| !l.starts_with("lxd:"))
            .collect();
        format!("{}\n{}\n", kept.join("\n"), tail.join("\n"))
    });
    let sim_dir = dir.path().to_str().unwrap();

    let mut plan = microcloud(["plan", "--sim-dir", sim_dir]);
    plan.arg(&file);
    let planned = spawn(plan).await.unwrap();
    let out = text(&planned.stdout);
    assert_eq!(
        planned.status.code(),
        Some(0),
        "{out}\n{}",
        text(&planned.stderr)
    );
    let underlay = format!("{}.{}.{}.0/24", BASE[0], BASE[1], BASE[2]);
    assert!(
        out.contains(&format!("network: Fan bridge lxdfan0 on {underlay}")),
        "{out}"
    );

    let mut preseed = microcloud(["preseed", "--sim-dir", sim_dir, "--output", "json"]);
    preseed.arg(&file);
    let formed = spawn(preseed).await.unwrap();
    let stdout = text(&formed.stdout);
    assert_eq!(
        formed.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&formed.stderr)
    );
    let report: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["event"] == "report")
        .unwrap()["report"]
        .clone();
    assert_eq!(report["outcome"], "succeeded", "{report}");
    let networks = report["cluster"]["networks"].as_array().unwrap();
    let fan = networks
        .iter()
        .find(|n| n["name"] == "lxdfan0")
        .unwrap_or_else(|| panic!("no lxdfan0 in {networks:?}"));
    assert_eq!(fan["type"], "bridge", "{fan}");
    assert_eq!(fan["status"], "Created", "{fan}");
    assert_eq!(fan["config"]["bridge.mode"], "fan", "{fan}");
    assert_eq!(
        fan["config"]["fan.underlay_subnet"],
        underlay.as_str(),
        "{fan}"
    );
    assert!(
        networks.iter().all(|n| n["type"] != "ovn"),
        "no OVN network: {networks:?}"
    );
}
