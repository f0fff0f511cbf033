//! The MicroCeph steps against the simulated MicroCeph, which answers as
//! v19.2.0+squid does: the replication step reads only what MicroCeph
//! reports, a public network on a second subnet forms (monitor addresses
//! taken there), and OSD encryption is checked from what the machines
//! keep, not from our journal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use executor::{Outcome, StepResult};
use simulators::{FaultRule, LxdProfile, Service, Sim};

/// `common::preseed`'s file with `ceph_extra` appended to the Ceph disk
/// filter and `tail` at the end.
fn preseed_with(sim: &Sim, seed: &Seed, ceph_extra: &str, tail: &str) -> config_loader::Preseed {
    let ip = |name: &str| sim.node(name).unwrap().ip();
    let mut yaml = format!(
        "initiator_address: {}\nsession_passphrase: sim\nsystems:\n",
        ip(&seed.initiator)
    );
    for (index, name) in seed.systems.iter().enumerate() {
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {}\n    ovn_uplink_interface: enp6s0\n    ovn_underlay_ip: 10.20.0.{}\n",
            ip(name),
            index + 1
        ));
    }
    yaml.push_str(&format!(
        "ovn:\n  ipv4_gateway: 192.0.2.1/24\n  ipv4_range: 192.0.2.100-192.0.2.254\n  dns_servers: 192.0.2.1\n\
         lxd:\n  local_pool_driver: btrfs\n\
         storage:\n  local:\n    - find: type == nvme\n      wipe: true\n  ceph:\n    - find: type == scsi\n      wipe: true\n{ceph_extra}{tail}"
    ));
    let report = config_loader::load(&yaml, &config_loader::FakeEnvironment::default());
    report
        .preseed()
        .cloned()
        .unwrap_or_else(|| panic!("{}", report.render("sim.yaml")))
}

async fn plan_with(sim: &Sim, preseed: &config_loader::Preseed) -> planner::Plan {
    planner::plan(preseed, &inventory(sim).await).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replication_step_never_asks_microceph_for_its_configuration() {
    // Real MicroCeph refuses `osd_pool_default_size` (not in its config
    // table, microceph/ceph/config.go), so the step must not read
    // `/1.0/configs` at all: every such read fails here, permanently.
    let sim = start(3, LxdProfile::Current).await;
    let seed = Seed::bootstrap(&sim, 3);
    let plan = plan(&sim, &seed).await;
    for n in sim.nodes() {
        sim.add_fault(
            n.name(),
            FaultRule::on(Service::Microceph, "GET", "/1.0/configs").error_with(
                500,
                "requested key osd_pool_default_size is not a MicroCeph supported cluster config",
            ),
        )
        .unwrap();
    }
    let run = apply_plan(&sim, plan, &options(), StopAt::Never).await;
    run.assert_succeeded("a run whose MicroCeph refuses every configuration read");
    assert!(matches!(
        run.report.results["microceph.replication"],
        StepResult::Done {
            outcome: Outcome::Changed,
            attempts: 1,
            ..
        }
    ));
    // `lxd_remote` shows the default the step set.
    sim.clear_faults("node1").unwrap();
    let state = state(&sim).await;
    let pools = &state["cluster"]["microceph"]["pools"];
    assert!(
        pools
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "lxd_remote" && p["size"] == 3),
        "{pools}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_network_on_a_second_subnet_forms_with_monitors_there_and_encryption_is_kept() {
    let sim = start(3, LxdProfile::Current).await;
    let seed = Seed::bootstrap(&sim, 3);
    let preseed = preseed_with(
        &sim,
        &seed,
        "      encrypt: true\n",
        "ceph:\n  public_network: 10.20.0.0/24\n",
    );
    let plan = plan_with(&sim, &preseed).await;
    let run = apply_plan(&sim, plan, &options(), StopAt::Never).await;
    run.assert_succeeded("a formation with the public network on 10.20.0.0/24");
    for (i, n) in sim.nodes().iter().enumerate() {
        // FindIpOnSubnet's choice: enp7s0's 10.20.0.<index>.
        assert_eq!(
            n.ceph_mon_address(),
            Some(format!("10.20.0.{}", i + 1).parse().unwrap()),
            "{}",
            n.name()
        );
        // What the machines keep: every OSD encrypted, as planned.
        let osds = n.ceph_osds();
        assert_eq!(osds.len(), 2, "{}: {osds:?}", n.name());
        assert!(osds.iter().all(|o| o.encrypted), "{}: {osds:?}", n.name());
    }
    // A re-run changes nothing.
    let again = plan_with(&sim, &preseed).await;
    let rerun = apply_plan(&sim, again, &options(), StopAt::Never).await;
    rerun.assert_succeeded("the re-run");
    assert!(
        with_outcome(&rerun.report, Outcome::Changed).is_empty(),
        "{:?}",
        with_outcome(&rerun.report, Outcome::Changed)
    );
}
