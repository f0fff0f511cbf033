//! Interrupted runs converge: a run stopped right after a given step
//! (cancelled through the executor's watch channel when that step's
//! `Finished` event arrives), or cut by a whole-node crash of the
//! simulator (after which the node is restarted), is followed by a fresh
//! collect → plan → apply with the same preseed, and the final state must
//! equal that of a clean, uninterrupted formation (or, for an interrupted
//! add of a fourth machine, that of a clean add).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clients::cert::Identity;
use clients::microcluster::{JoinToken, MicroclusterApi};
use clients::rest::{CallOptions, RestClient};
use common::*;
use executor::{Event, Outcome, StepResult};
use simulators::{FaultRule, LxdProfile, Service, Sim, Transport};
use std::time::Duration;

/// Collects, plans and applies `seed` again and checks the result is the
/// clean formation.
async fn resume(sim: &Sim, seed: &Seed, profile: LxdProfile, what: &str) {
    let again = run(sim, seed).await;
    again.assert_succeeded(&format!("the run after {what}"));
    assert_clean(sim, profile, &format!("after {what} and a re-run")).await;
    // And a third run finds nothing to do.
    let third = run(sim, seed).await;
    third.assert_succeeded(&format!("the second run after {what}"));
    assert_eq!(third.todo(), 0, "after {what}, a formed cluster");
    assert_eq!(third.report.count(Outcome::Changed), 0, "after {what}");
}

/// Cancels the formation when `step` finishes, then resumes it.
async fn stop_after(profile: LxdProfile, step: &str) {
    let sim = start(3, profile).await;
    let seed = Seed::bootstrap(&sim, 3);
    let plan = plan(&sim, &seed).await;
    assert!(
        plan.steps.iter().any(|s| s.id == step),
        "the plan has no step {step}"
    );
    let first = apply_plan(&sim, plan, &options(), StopAt::Finished(step.to_owned())).await;
    assert!(
        matches!(
            first.report.results[step],
            StepResult::Done {
                outcome: Outcome::Changed,
                ..
            }
        ),
        "{step} ran"
    );
    assert!(
        first
            .events
            .iter()
            .any(|e| matches!(e, Event::Stopping { reason } if reason == "cancelled")),
        "the run was cancelled"
    );
    // Nothing starts once the run is stopping. (When `step` is among the
    // last, the steps left may all have started already: the run then
    // ends complete, which is right.)
    let stopping = first
        .events
        .iter()
        .position(|e| matches!(e, Event::Stopping { .. }))
        .unwrap();
    let late: Vec<_> = first.events[stopping..]
        .iter()
        .filter_map(|e| match e {
            Event::Started { step, .. } => Some(step.to_string()),
            _ => None,
        })
        .collect();
    assert!(late.is_empty(), "started after the stop: {late:?}");
    resume(&sim, &seed, profile, &format!("stopping after {step}")).await;
}

macro_rules! stop_after_tests {
    ($($name:ident: $profile:ident, $step:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            stop_after(LxdProfile::$profile, $step).await;
        }
    )*};
}

stop_after_tests! {
    stop_after_microceph_bootstrap: Current, "microceph.bootstrap@node1";
    stop_after_lxd_bootstrap_config: Current, "lxd.config.bootstrap@node1";
    stop_after_lxd_bootstrap: Current, "lxd.bootstrap@node1";
    stop_after_microceph_token: Current, "microceph.token@node2";
    stop_after_lxd_token: Current, "lxd.token@node2";
    stop_after_microovn_join: Current, "microovn.join@node2";
    stop_after_lxd_join: Current, "lxd.join@node2";
    stop_after_lxd_join_config: Current, "lxd.config.join@node3";
    stop_after_ceph_disk: Current, "microceph.disk[/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-a-1]@node1";
    stop_after_replication: Current, "microceph.replication";
    stop_after_pending_pool: Current, "lxd.pool.remote.pending@node2";
    stop_after_pool: Current, "lxd.pool.local";
    stop_after_pending_network: Current, "lxd.network.UPLINK.pending@node3";
    stop_after_uplink: Current, "lxd.network.UPLINK";
    stop_after_ovn_network: Current, "lxd.network.default";
    stop_after_volume: Current, "lxd.volume.local/images@node3";
    stop_after_lxd_token_5_0_2: Legacy, "lxd.token@node3";
    stop_after_ovn_northbound_5_0_2: Legacy, "lxd.ovn-northbound";
    stop_after_pool_5_0_2: Legacy, "lxd.pool.local";
}

/// A run stopped after node3's LXD token leaves that token unused; the
/// re-run's token step cancels it, then fails once to issue a new one. Its
/// retry finds the cancelled operation still listed (LXD keeps finished
/// operations for a while) and must leave it alone: cancelling it again is
/// refused ("Only running operations can be cancelled").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_token_step_leaves_the_token_it_cancelled_alone() {
    let profile = LxdProfile::Current;
    let sim = start(3, profile).await;
    let seed = Seed::bootstrap(&sim, 3);
    let plan = plan(&sim, &seed).await;
    let step = "lxd.token@node3";
    let first = apply_plan(&sim, plan, &options(), StopAt::Finished(step.to_owned())).await;
    assert!(!first.report.succeeded(), "the run stopped after {step}");
    sim.add_fault(
        "node1",
        FaultRule::on(Service::Lxd, "POST", "/1.0/cluster/members")
            .error(503)
            .times(1),
    )
    .unwrap();
    resume(
        &sim,
        &seed,
        profile,
        "a token step retried after cancelling the earlier token",
    )
    .await;
}

/// Adds node4 to a formed 3-node cluster, cancels the add when `step`
/// finishes, then runs the add again: the result is that of a clean add.
async fn stop_add_after(profile: LxdProfile, step: &str) {
    let sim = start(4, profile).await;
    run(&sim, &Seed::bootstrap(&sim, 3))
        .await
        .assert_succeeded("the 3-node formation");
    let seed = Seed::add(&sim, &["node4"]);
    let plan = plan(&sim, &seed).await;
    assert_eq!(plan.mode, planner::plan::PlanMode::Add);
    let first = apply_plan(&sim, plan, &options(), StopAt::Finished(step.to_owned())).await;
    assert!(!first.report.succeeded(), "the add stopped after {step}");
    let again = run(&sim, &seed).await;
    again.assert_succeeded(&format!("the add after stopping after {step}"));
    let now = state(&sim).await;
    let clean = clean_add_state(profile).await;
    assert!(
        now == clean,
        "the add stopped after {step} and run again differs from a clean add:\n{}",
        diff(&now, &clean)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_add_after_microceph_join() {
    stop_add_after(LxdProfile::Current, "microceph.join@node4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_add_after_lxd_token() {
    stop_add_after(LxdProfile::Current, "lxd.token@node4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_add_after_lxd_join_5_0_2() {
    stop_add_after(LxdProfile::Legacy, "lxd.join@node4").await;
}

/// Crashes `node` when the rule matches, stops the run at its first
/// retry (or failure), restarts the node and resumes. A crash of a joiner
/// while another of its joins is in flight may cut that join half-way; the
/// re-run repairs it (see `a_half_finished_microcluster_join_…`).
async fn crash(profile: LxdProfile, node: &str, rule: FaultRule, what: &str) {
    let sim = start(3, profile).await;
    let seed = Seed::bootstrap(&sim, 3);
    sim.add_fault(node, rule.times(1).crash_node()).unwrap();
    let plan = plan(&sim, &seed).await;
    let first = apply_plan(&sim, plan, &options(), StopAt::FirstRetry).await;
    assert!(!sim.node(node).unwrap().is_alive(), "{node} crashed");
    assert!(!first.report.succeeded(), "the crash stopped the run");
    sim.clear_faults(node).unwrap();
    sim.restart(node).unwrap();
    resume(&sim, &seed, profile, what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_of_a_joiner_on_its_lxd_join() {
    crash(
        LxdProfile::Current,
        "node3",
        FaultRule::on(Service::Lxd, "PUT", "/1.0/cluster"),
        "node3 crashed on its LXD join",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_of_a_joiner_on_its_microceph_join() {
    crash(
        LxdProfile::Current,
        "node2",
        FaultRule::on(Service::Microceph, "POST", "/core/control"),
        "node2 crashed on its MicroCeph join",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_of_a_joiner_while_adding_an_osd() {
    crash(
        LxdProfile::Current,
        "node3",
        FaultRule::on(Service::Microceph, "POST", "/1.0/disks"),
        "node3 crashed while adding an OSD",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_of_the_initiator_on_a_pending_pool() {
    crash(
        LxdProfile::Current,
        "node1",
        FaultRule::on(Service::Lxd, "POST", "/1.0/storage-pools"),
        "node1 crashed on defining a pending pool",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_of_a_member_notified_of_a_pool_creation() {
    crash(
        LxdProfile::Current,
        "node2",
        FaultRule::on(Service::Lxd, "POST", "/1.0/storage-pools").over(Transport::Https),
        "node2 crashed when notified of a pool creation",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_of_a_member_notified_of_a_network_creation_5_0_2() {
    crash(
        LxdProfile::Legacy,
        "node3",
        FaultRule::on(Service::Lxd, "POST", "/1.0/networks").over(Transport::Https),
        "node3 crashed when notified of a network creation",
    )
    .await;
}

/// The fourth operation node1 is waited on comes after the LXD bootstrap
/// (the first), so after the joins: the crash cuts a pending definition
/// or creation while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_of_the_initiator_while_an_operation_runs() {
    crash(
        LxdProfile::Current,
        "node1",
        FaultRule::on(Service::Lxd, "GET", "/1.0/operations/*/wait").after(3),
        "node1 crashed while waiting for an operation",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_of_a_member_on_its_forwarded_storage_settings() {
    crash(
        LxdProfile::Current,
        "node3",
        FaultRule::on(Service::Lxd, "PATCH", "/1.0").over(Transport::Https),
        "node3 crashed on its storage settings",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_of_the_initiator_on_the_profile() {
    crash(
        LxdProfile::Current,
        "node1",
        FaultRule::on(Service::Lxd, "PUT", "/1.0/profiles/default"),
        "node1 crashed on updating the profile",
    )
    .await;
}

/// Crashes the initiator after `n` requests to any of its services, one
/// step at a time.
async fn initiator_crash_after(n: u32) {
    crash(
        LxdProfile::Current,
        "node1",
        FaultRule::any().after(n),
        &format!("node1 crashed after {n} requests"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_of_the_initiator_after_20_requests() {
    initiator_crash_after(20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_of_the_initiator_after_50_requests() {
    initiator_crash_after(50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_of_the_initiator_after_80_requests() {
    initiator_crash_after(80).await;
}

/// node3 is recorded as a MicroOVN member by node1 (the member side of the
/// join handshake ran), but its own MicroOVN never finished joining, as
/// when node3 crashes between the two. A re-run removes the record and
/// joins node3 again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_finished_microcluster_join_is_removed_and_joined_again() {
    let sim = start(3, LxdProfile::Current).await;
    let seed = Seed::bootstrap(&sim, 3);
    let plan = plan(&sim, &seed).await;
    let bootstrap = plan
        .step(&executor::StepId::new("microovn.bootstrap@node1"))
        .unwrap();
    let planner::plan::Action::BootstrapMicrocluster {
        name,
        address,
        config,
    } = &bootstrap.action
    else {
        panic!("{bootstrap:?}")
    };
    let mut all = clients(&sim);
    let ovn1 = all.remove("node1").unwrap().microovn.unwrap();
    ovn1.bootstrap(name, *address, config).await.unwrap();
    let token = ovn1
        .issue_token("node3", Duration::from_secs(3600))
        .await
        .unwrap();
    let token = JoinToken::decode(&token).unwrap();
    // The joiner's half of the handshake, with a certificate for node3.
    let node3 = Identity::generate("node3", &["node3".to_owned()]).unwrap();
    let transport = clients::Transport::https(
        &token.join_addresses[0],
        &node3,
        token.fingerprint.parse().unwrap(),
    )
    .unwrap();
    let ip3 = sim.node("node3").unwrap().ip();
    let body = serde_json::json!({
        "name": "node3",
        "address": format!("{ip3}:6443"),
        "certificate": node3.cert_pem(),
        "secret": token.secret,
    });
    RestClient::new(transport, clients::Service::MicroOvn, "node3")
        .call(
            http::Method::POST,
            "/core/internal/cluster",
            Some(&body),
            CallOptions::default(),
        )
        .await
        .unwrap();
    let members: Vec<String> = ovn1
        .cluster_members()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(members, ["node1", "node3"]);

    let again = run(&sim, &seed).await;
    again.assert_succeeded("the run after a half-finished MicroOVN join");
    assert!(
        matches!(
            again.report.results["microovn.token@node3"],
            StepResult::Done {
                outcome: Outcome::Changed,
                ..
            }
        ),
        "the token step removed the record and issued a new token"
    );
    resume(
        &sim,
        &seed,
        LxdProfile::Current,
        "a half-finished MicroOVN join",
    )
    .await;
}
