//! The whole chain against the simulators, over real unix sockets and TLS:
//! collect the inventory, plan, apply; then collect, plan and apply again,
//! which must change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clients::cert::Identity;
use clients::lxd::LxdClient;
use clients::microceph::MicroCephClient;
use clients::microovn::MicroOvnClient;
use clients::transport::Transport;
use executor::apply::{NodeClients, PlanRunner, apply};
use executor::{Options, Outcome, Report, StepResult};
use planner::inventory::Inventory;
use simulators::{LxdProfile, Sim, SimBuilder};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use tokio::sync::watch;

type Clients = NodeClients<LxdClient, MicroCephClient, MicroOvnClient>;

fn clients(sim: &Sim) -> BTreeMap<String, Clients> {
    sim.nodes()
        .iter()
        .map(|n| {
            let name = n.name().to_owned();
            let c = NodeClients {
                lxd: LxdClient::new(Transport::unix(n.lxd_socket()), &name),
                microceph: Some(MicroCephClient::new(
                    Transport::unix(n.microceph_socket()),
                    &name,
                )),
                microovn: Some(MicroOvnClient::new(
                    Transport::unix(n.microovn_socket()),
                    &name,
                )),
            };
            (name, c)
        })
        .collect()
}

/// A preseed for the simulated nodes: OVN uplink on enp6s0, underlay on
/// enp7s0 (10.20.0.x), local disk by filter, Ceph on the SCSI disks.
fn preseed(sim: &Sim, wipe_local: bool) -> config_loader::Preseed {
    let nodes = sim.nodes();
    let mut yaml = format!(
        "initiator_address: {}\nsession_passphrase: sim\nsystems:\n",
        nodes[0].ip()
    );
    for (i, n) in nodes.iter().enumerate() {
        yaml.push_str(&format!(
            "  - name: {}\n    address: {}\n    ovn_uplink_interface: enp6s0\n    ovn_underlay_ip: 10.20.0.{}\n",
            n.name(),
            n.ip(),
            i + 1
        ));
    }
    yaml.push_str(&format!(
        "ovn:\n  ipv4_gateway: 192.0.2.1/24\n  ipv4_range: 192.0.2.100-192.0.2.254\n  dns_servers: 192.0.2.1\n\
         lxd:\n  local_pool_driver: btrfs\n\
         storage:\n  local:\n    - find: type == nvme\n      wipe: {wipe_local}\n  ceph:\n    - find: type == scsi\n      wipe: true\n",
    ));
    let report = config_loader::load(&yaml, &config_loader::FakeEnvironment::default());
    report
        .preseed()
        .cloned()
        .unwrap_or_else(|| panic!("{}", report.render("sim.yaml")))
}

async fn inventory(sim: &Sim, clients: &BTreeMap<String, Clients>) -> Inventory {
    let mut systems = Vec::new();
    for n in sim.nodes() {
        let c = &clients[n.name()];
        let s = collect::collect_system(
            n.name(),
            n.ip(),
            &c.lxd,
            c.microceph.as_ref(),
            c.microovn.as_ref(),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("collecting {}: {e}", n.name()));
        systems.push(s);
    }
    let first = &clients[sim.nodes()[0].name()];
    let members: Vec<String> = systems[0]
        .services
        .lxd
        .as_ref()
        .map(|l| l.cluster_members.clone())
        .unwrap_or_default();
    let cluster = if members.is_empty() {
        None
    } else {
        Some(
            collect::collect_cluster(&first.lxd, first.microceph.as_ref(), &members)
                .await
                .unwrap(),
        )
    };
    Inventory::new(systems, cluster).unwrap()
}

async fn run(sim: &Sim, wipe_local: bool) -> (Report<executor::apply::ApplyError>, usize) {
    let clients = clients(sim);
    let inventory = inventory(sim, &clients).await;
    let plan = planner::plan(&preseed(sim, wipe_local), &inventory).unwrap_or_else(|e| {
        panic!(
            "planning failed: {}",
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    });
    let todo_ids: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| matches!(s.status, planner::plan::Status::ToDo))
        .map(|s| s.id.0.as_str())
        .collect();
    let todo = todo_ids.len();
    let runner = PlanRunner::new(
        plan,
        clients,
        Identity::generate("microcloud-test", &[]).unwrap(),
    );
    let (_tx, cancel) = watch::channel(false);
    let (etx, mut erx) = tokio::sync::mpsc::unbounded_channel();
    let report = apply(Arc::new(runner), &Options::default(), Some(etx), cancel)
        .await
        .unwrap();
    // Every retry is visible in the test output, to spot flaky behaviour.
    while let Ok(e) = erx.try_recv() {
        if let executor::Event::Retrying { step, error, .. } = e {
            eprintln!("retried {step}: {error}");
        }
    }
    (report, todo)
}

fn failures(report: &Report<executor::apply::ApplyError>) -> String {
    report
        .results
        .iter()
        .filter_map(|(id, r)| match r {
            StepResult::Failed { failure, .. } => Some(format!("{id}: {failure:?}")),
            StepResult::NotStarted(why) => Some(format!("{id}: not started ({why:?})")),
            StepResult::Done { .. } => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The observable state of the whole simulated cluster.
async fn state(sim: &Sim) -> serde_json::Value {
    let clients = clients(sim);
    let inv = inventory(sim, &clients).await;
    serde_json::to_value(inv.cluster()).unwrap()
}

async fn form_and_rerun(profile: LxdProfile, base: Ipv4Addr) {
    // LXD 5.0.2 cannot wipe a local pool's disk (the planner refuses it).
    let wipe_local = profile == LxdProfile::Current;
    let sim = SimBuilder::new()
        .nodes(3)
        .profile(profile)
        .base_ip(base)
        .start()
        .await
        .unwrap();
    let (report, todo) = run(&sim, wipe_local).await;
    assert!(
        report.succeeded(),
        "first run failed:\n{}",
        failures(&report)
    );
    assert!(
        todo > 30,
        "a fresh cluster needs many steps, planned {todo}"
    );
    let already: Vec<String> = report
        .results
        .iter()
        .filter(|(_, r)| {
            matches!(
                r,
                StepResult::Done {
                    outcome: Outcome::AlreadyDone,
                    ..
                }
            )
        })
        .map(|(id, r)| format!("{id} {r:?}"))
        .collect();
    assert_eq!(
        already,
        Vec::<String>::new(),
        "a fresh cluster has nothing already done"
    );
    let before = state(&sim).await;
    assert!(
        before["lxd"]["storage_pools"]
            .as_array()
            .is_some_and(|p| p.len() == 2),
        "{before:#}"
    );

    // The same file again: everything is already done and nothing changes.
    let (again, todo_again) = run(&sim, wipe_local).await;
    assert!(again.succeeded(), "re-run failed:\n{}", failures(&again));
    assert_eq!(todo_again, 0, "the planner must see a formed cluster");
    assert_eq!(again.count(Outcome::Changed), 0);
    assert_eq!(state(&sim).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_current_lxd_form_and_rerun_changes_nothing() {
    form_and_rerun(LxdProfile::Current, Ipv4Addr::new(127, 0, 61, 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lxd_5_0_2_form_and_rerun_changes_nothing() {
    form_and_rerun(LxdProfile::Legacy, Ipv4Addr::new(127, 0, 62, 1)).await;
}
