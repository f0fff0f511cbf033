//! MicroCloud's ordering (`Options::serial_peers`), against the
//! simulators: the cluster forms, the joining machines take part strictly
//! one after the other, and no two disk additions overlap; our own
//! ordering, on the same cluster, does overlap them (so the check can see
//! overlap at all).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use executor::Event;
use executor::apply::{dag_of, dag_of_serial_peers};
use planner::plan::{Action, Phase, Plan, Role};
use simulators::LxdProfile;

/// The machine whose unit a step belongs to in MicroCloud's ordering: a
/// joiner for its join-phase steps and disks, the initiator for its disks.
fn unit(plan: &Plan, step: &str) -> Option<String> {
    let s = plan.steps.iter().find(|s| s.id == step)?;
    let disk = matches!(s.action, Action::AddCephDisk { .. });
    let joiner = plan
        .systems
        .iter()
        .any(|m| m.name == s.node && m.role == Role::Joiner);
    ((joiner && (s.phase == Phase::Join || disk)) || (disk && s.node == plan.initiator))
        .then(|| s.node.clone())
}

/// Per key, the span of event positions from its first start to its last
/// finish.
fn spans(
    events: &[Event],
    key: impl Fn(&str) -> Option<String>,
) -> BTreeMap<String, (usize, usize)> {
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (at, e) in events.iter().enumerate() {
        let step = match e {
            Event::Started { step, .. } | Event::Finished { step, .. } => step,
            _ => continue,
        };
        if let Some(k) = key(step.as_str()) {
            let span = out.entry(k).or_insert((at, at));
            span.0 = span.0.min(at);
            span.1 = span.1.max(at);
        }
    }
    out
}

fn overlapping(spans: &BTreeMap<String, (usize, usize)>) -> Vec<(String, String)> {
    let mut sorted: Vec<_> = spans.iter().collect();
    sorted.sort_by_key(|(_, (start, _))| *start);
    sorted
        .windows(2)
        .filter(|w| w[1].1.0 < w[0].1.1)
        .map(|w| (w[0].0.clone(), w[1].0.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_peers_forms_the_cluster_one_machine_and_one_disk_at_a_time() {
    let sim = start(4, LxdProfile::Current).await;
    let planned = plan(&sim, &Seed::bootstrap(&sim, 4)).await;

    // The graph keeps every dependency of the plan and only adds edges.
    let ours = dag_of(&planned).unwrap();
    let serial = dag_of_serial_peers(&planned).unwrap();
    for (a, b) in ours.nodes().iter().zip(serial.nodes()) {
        assert_eq!(a.id, b.id);
        assert!(a.deps.iter().all(|d| b.deps.contains(d)), "{}", a.id);
        assert_eq!(a.group, b.group);
    }

    let serial_options = executor::Options {
        serial_peers: true,
        ..options()
    };
    let run = apply_plan(&sim, planned.clone(), &serial_options, StopAt::Never).await;
    run.assert_succeeded("the serial run");

    let units = spans(&run.events, |s| unit(&planned, s));
    assert_eq!(
        units.keys().cloned().collect::<Vec<_>>(),
        ["node1", "node2", "node3", "node4"],
        "every machine has a unit (node1: its own disks)"
    );
    assert_eq!(overlapping(&units), Vec::<(String, String)>::new());
    // In plan order, the initiator's disks last.
    let mut order: Vec<_> = units.iter().collect();
    order.sort_by_key(|(_, (start, _))| *start);
    let order: Vec<&str> = order.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(order, ["node2", "node3", "node4", "node1"]);

    let disk = |s: &str| s.starts_with("microceph.disk[").then(|| s.to_owned());
    let disks = spans(&run.events, disk);
    assert_eq!(disks.len(), 8, "two Ceph disks on each of four machines");
    assert_eq!(overlapping(&disks), Vec::<(String, String)>::new());

    // Our own ordering on a fresh cluster does overlap machines and disks.
    let sim = start(4, LxdProfile::Current).await;
    let planned = plan(&sim, &Seed::bootstrap(&sim, 4)).await;
    let run = apply_plan(&sim, planned.clone(), &options(), StopAt::Never).await;
    run.assert_succeeded("our run");
    assert!(!overlapping(&spans(&run.events, |s| unit(&planned, s))).is_empty());
    assert!(!overlapping(&spans(&run.events, disk)).is_empty());
}
