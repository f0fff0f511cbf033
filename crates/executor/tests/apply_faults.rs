//! Faults on every step class, against the simulators over real sockets.
//!
//! For each planner action kind, a fault is injected on the service
//! endpoint the steps of that kind call (their write, on the node whose API
//! they call, or on the member LXD notifies while creating a pool or
//! network cluster-wide):
//!
//! * transient (503 error envelopes, dropped connections) for the first
//!   calls: the run succeeds, exactly the steps of that kind were retried,
//!   as often as the fault fired, and the final state equals a clean run's;
//! * permanent (403 with a message of the test's own): the run stops with
//!   one failure naming the step, the node and the service's message, the
//!   steps that depend on it did not start for that reason, the others did
//!   not start because the run stopped, nothing started after the failure;
//!   and once the fault is gone, planning and applying the same preseed
//!   again reaches the clean run's state.
//!
//! Most classes are tested with current LXD, the classes whose calls differ
//! on LXD 5.0.2 (joins, synchronous pool and network creation, the OVN
//! northbound connection) with 5.0.2 too; one test adds a machine (add
//! mode) with transient faults on its joins, OSDs and volumes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use executor::{Event, NotStarted, StepResult};
use planner::plan::{Action, Step};
use simulators::{FaultRule, LxdProfile, Service, Transport};
use std::collections::BTreeMap;

/// Transient faults for the steps of `class`, as (node, rule), and how
/// many times they fire in all. `case` is the class, or the class and a
/// variant after a `/`.
fn transient_faults(case: &str) -> (Vec<(&'static str, FaultRule)>, u32) {
    let e503 =
        |service, method, path, times| FaultRule::on(service, method, path).error(503).times(times);
    let drop = |service, method, path| {
        FaultRule::on(service, method, path)
            .drop_connection()
            .times(1)
    };
    match case {
        "bootstrap_microcluster" => (
            vec![
                (
                    "node1",
                    e503(Service::Microceph, "POST", "/core/control", 2),
                ),
                ("node1", drop(Service::Microovn, "POST", "/core/control")),
            ],
            3,
        ),
        "bootstrap_lxd" => (
            vec![("node1", e503(Service::Lxd, "PUT", "/1.0/cluster", 2))],
            2,
        ),
        // The bootstrap config on node1 and the joiner's own config on
        // node2 (over its unix socket: node1 forwards node2's storage
        // settings to it over HTTPS).
        "set_server_config" => (
            vec![
                ("node1", e503(Service::Lxd, "PATCH", "/1.0", 1)),
                (
                    "node2",
                    e503(Service::Lxd, "PATCH", "/1.0", 1).over(Transport::Unix),
                ),
            ],
            2,
        ),
        "issue_token" => (
            vec![
                (
                    "node1",
                    e503(Service::Lxd, "POST", "/1.0/cluster/members", 2),
                ),
                (
                    "node1",
                    drop(Service::Microceph, "POST", "/core/control/tokens"),
                ),
            ],
            3,
        ),
        "join_microcluster" => (
            vec![
                (
                    "node2",
                    e503(Service::Microceph, "POST", "/core/control", 2),
                ),
                ("node3", drop(Service::Microovn, "POST", "/core/control")),
            ],
            3,
        ),
        "join_lxd" => (
            vec![
                ("node2", e503(Service::Lxd, "PUT", "/1.0/cluster", 2)),
                ("node3", drop(Service::Lxd, "PUT", "/1.0/cluster")),
            ],
            3,
        ),
        // The LXD token steps list the members first (two calls over
        // node1's unix socket), then the member check.
        "await_lxd_members" => (
            vec![(
                "node1",
                e503(Service::Lxd, "GET", "/1.0/cluster/members", 2)
                    .over(Transport::Unix)
                    .after(2),
            )],
            2,
        ),
        "add_ceph_disk" => (
            vec![
                ("node2", e503(Service::Microceph, "POST", "/1.0/disks", 2)),
                ("node3", drop(Service::Microceph, "POST", "/1.0/disks")),
            ],
            3,
        ),
        "set_replication" => (
            vec![("node1", e503(Service::Microceph, "PUT", "/1.0/pools-op", 2))],
            2,
        ),
        // Every pending definition comes before the cluster-wide creation
        // of its pool, so the first calls are pending definitions.
        "create_pending_pool" => (
            vec![("node1", e503(Service::Lxd, "POST", "/1.0/storage-pools", 2))],
            2,
        ),
        "create_pending_network" => (
            vec![("node1", e503(Service::Lxd, "POST", "/1.0/networks", 2))],
            2,
        ),
        // node1 creates the pool and notifies node2 over HTTPS: only the
        // cluster-wide creation sends that request.
        "create_pool" => (
            vec![(
                "node2",
                e503(Service::Lxd, "POST", "/1.0/storage-pools", 1).over(Transport::Https),
            )],
            1,
        ),
        // The second notification: the remote pool, whose global config
        // LXD keeps from the failed attempt (the local pool has none).
        "create_pool/remote" => (
            vec![(
                "node2",
                e503(Service::Lxd, "POST", "/1.0/storage-pools", 1)
                    .over(Transport::Https)
                    .after(1),
            )],
            1,
        ),
        "create_network" => (
            vec![(
                "node2",
                e503(Service::Lxd, "POST", "/1.0/networks", 1).over(Transport::Https),
            )],
            1,
        ),
        "ensure_profile" => (
            vec![(
                "node1",
                e503(Service::Lxd, "PUT", "/1.0/profiles/default", 2),
            )],
            2,
        ),
        "create_volume" => (
            vec![(
                "node1",
                e503(
                    Service::Lxd,
                    "POST",
                    "/1.0/storage-pools/local/volumes/custom",
                    2,
                ),
            )],
            2,
        ),
        // Only this step asks MicroOVN for its services.
        "configure_ovn_northbound" => (
            vec![("node1", e503(Service::Microovn, "GET", "/1.0/services", 2))],
            2,
        ),
        other => panic!("no transient fault for {other}"),
    }
}

fn class_of(run: &Run, step: &str) -> String {
    run.plan
        .steps
        .iter()
        .find(|s| s.id == step)
        .map(|s| s.action.kind_name().to_owned())
        .unwrap()
}

async fn transient(profile: LxdProfile, case: &str) {
    let class = case.split('/').next().unwrap();
    let sim = start(3, profile).await;
    let (faults, fired) = transient_faults(case);
    for (node, rule) in faults {
        sim.add_fault(node, rule).unwrap();
    }
    let run = run(&sim, &Seed::bootstrap(&sim, 3)).await;
    run.assert_succeeded(&format!("the run with transient faults on {class}"));
    let retried: BTreeMap<String, u32> = run
        .report
        .results
        .iter()
        .filter_map(|(id, r)| match r {
            StepResult::Done { attempts, .. } if *attempts > 1 => {
                Some((id.to_string(), attempts - 1))
            }
            _ => None,
        })
        .collect();
    let classes: BTreeMap<&String, String> =
        retried.keys().map(|id| (id, class_of(&run, id))).collect();
    assert!(
        classes.values().all(|c| c == class),
        "only {class} steps may have been retried: {classes:?}"
    );
    assert_eq!(
        retried.values().sum::<u32>(),
        fired,
        "each injected fault costs one retry: {retried:?}"
    );
    assert_clean(&sim, profile, &format!("after transient faults on {class}")).await;
}

macro_rules! transient_tests {
    ($($name:ident: $profile:ident, $class:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            transient(LxdProfile::$profile, $class).await;
        }
    )*};
}

transient_tests! {
    transient_bootstrap_microcluster: Current, "bootstrap_microcluster";
    transient_bootstrap_lxd: Current, "bootstrap_lxd";
    transient_set_server_config: Current, "set_server_config";
    transient_issue_token: Current, "issue_token";
    transient_join_microcluster: Current, "join_microcluster";
    transient_join_lxd: Current, "join_lxd";
    transient_await_lxd_members: Current, "await_lxd_members";
    transient_add_ceph_disk: Current, "add_ceph_disk";
    transient_set_replication: Current, "set_replication";
    transient_create_pending_pool: Current, "create_pending_pool";
    transient_create_pool: Current, "create_pool";
    transient_create_pool_remote: Current, "create_pool/remote";
    transient_create_pending_network: Current, "create_pending_network";
    transient_create_network: Current, "create_network";
    transient_ensure_profile: Current, "ensure_profile";
    transient_create_volume: Current, "create_volume";
    transient_join_lxd_5_0_2: Legacy, "join_lxd";
    transient_create_pool_5_0_2: Legacy, "create_pool";
    transient_create_pool_remote_5_0_2: Legacy, "create_pool/remote";
    transient_create_network_5_0_2: Legacy, "create_network";
    transient_configure_ovn_northbound_5_0_2: Legacy, "configure_ovn_northbound";
}

/// The text of the permanent faults.
const REFUSAL: &str = "refused by the test";

/// A permanent fault for one step of `class`: the node it is installed
/// on, the rule, and the node whose API the failing step calls.
fn permanent_fault(class: &str) -> (&'static str, FaultRule, &'static str) {
    let e403 = |service, method, path| {
        FaultRule::on(service, method, path)
            .error_with(403, REFUSAL)
            .times(1)
    };
    let on = |node, rule| (node, rule, node);
    match class {
        "bootstrap_microcluster" => on("node1", e403(Service::Microovn, "POST", "/core/control")),
        "bootstrap_lxd" => on("node1", e403(Service::Lxd, "PUT", "/1.0/cluster")),
        "set_server_config" => on(
            "node2",
            e403(Service::Lxd, "PATCH", "/1.0").over(Transport::Unix),
        ),
        "issue_token" => on(
            "node1",
            e403(Service::Microceph, "POST", "/core/control/tokens"),
        ),
        "join_microcluster" => on("node3", e403(Service::Microceph, "POST", "/core/control")),
        "join_lxd" => on("node2", e403(Service::Lxd, "PUT", "/1.0/cluster")),
        "await_lxd_members" => on(
            "node1",
            e403(Service::Lxd, "GET", "/1.0/cluster/members")
                .over(Transport::Unix)
                .after(2),
        ),
        "add_ceph_disk" => on("node3", e403(Service::Microceph, "POST", "/1.0/disks")),
        "set_replication" => on("node1", e403(Service::Microceph, "PUT", "/1.0/pools-op")),
        "create_pending_pool" => on("node1", e403(Service::Lxd, "POST", "/1.0/storage-pools")),
        "create_pending_network" => on("node1", e403(Service::Lxd, "POST", "/1.0/networks")),
        // node3 refuses node1's notification: node1's creation fails.
        "create_pool" => (
            "node3",
            e403(Service::Lxd, "POST", "/1.0/storage-pools").over(Transport::Https),
            "node1",
        ),
        "create_network" => (
            "node3",
            e403(Service::Lxd, "POST", "/1.0/networks").over(Transport::Https),
            "node1",
        ),
        "ensure_profile" => on("node1", e403(Service::Lxd, "PUT", "/1.0/profiles/default")),
        "create_volume" => on(
            "node1",
            e403(
                Service::Lxd,
                "POST",
                "/1.0/storage-pools/local/volumes/custom",
            ),
        ),
        "configure_ovn_northbound" => on("node1", e403(Service::Microovn, "GET", "/1.0/services")),
        other => panic!("no permanent fault for step class {other}"),
    }
}

/// `error` with LXD operation ids written `{op}`.
fn operation_ids_elided(error: &str) -> String {
    let marker = "/1.0/operations/";
    let mut out = String::new();
    let mut rest = error;
    while let Some(i) = rest.find(marker) {
        out.push_str(&rest[..i + marker.len()]);
        out.push_str("{op}");
        rest = &rest[i + marker.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
            .unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// What a step is about: the joiner, disk, pool, network or volume.
fn object(step: &Step) -> String {
    match &step.action {
        Action::IssueToken { joiner, .. } => joiner.clone(),
        Action::AddCephDisk { path, .. } => path.clone(),
        Action::CreatePendingPool { name, .. }
        | Action::CreatePool { name, .. }
        | Action::CreatePendingNetwork { name, .. }
        | Action::CreateNetwork { name, .. }
        | Action::EnsureProfile { name, .. }
        | Action::CreateVolume { name, .. } => name.clone(),
        _ => String::new(),
    }
}

async fn permanent(profile: LxdProfile, class: &str, expected: &str) {
    let sim = start(3, profile).await;
    let (fault_node, rule, node) = permanent_fault(class);
    sim.add_fault(fault_node, rule).unwrap();
    let seed = Seed::bootstrap(&sim, 3);
    let run = run(&sim, &seed).await;

    let failed: Vec<_> = run.report.failures().collect();
    assert_eq!(failed.len(), 1, "one failure: {}", failures(&run.report));
    let (id, failure) = failed[0];
    let step = run.plan.step(id).unwrap();
    assert_eq!(step.action.kind_name(), class, "{id} failed");
    assert_eq!(step.node, node, "{id} calls the node");
    let executor::Failure::Permanent(error) = failure else {
        panic!("{id} failed permanently, not {failure:?}")
    };
    let expected = expected
        .replace("{step}", id.as_str())
        .replace("{member}", step.member())
        .replace("{object}", &object(step))
        .replace("{ip3}", &sim.node("node3").unwrap().ip().to_string());
    assert_eq!(operation_ids_elided(&chain(error)), expected);
    // What depends on the failed step did not start because of it; of the
    // rest that did not run, a step whose dependencies were all done did
    // not start because the run stopped, any other because a dependency
    // was not done.
    let blocked = dependants(&run.plan, id.as_str());
    let done = |d: &str| matches!(run.report.results[d], StepResult::Done { .. });
    for (other, why) in not_started(&run.report) {
        let deps_done = run
            .plan
            .step(&executor::StepId::new(other.clone()))
            .unwrap()
            .depends_on
            .iter()
            .all(|d| done(d.as_str()));
        let want = if deps_done {
            NotStarted::Stopped
        } else {
            NotStarted::DependencyNotDone
        };
        assert_eq!(why, want, "{other}");
    }
    for d in &blocked {
        assert_eq!(
            not_started(&run.report).get(d).copied(),
            Some(NotStarted::DependencyNotDone),
            "{d} depends on {id}"
        );
    }
    let failed_at = run
        .events
        .iter()
        .position(|e| matches!(e, Event::Failed { step, .. } if step == id))
        .unwrap();
    let late: Vec<&Event> = run.events[failed_at..]
        .iter()
        .filter(|e| matches!(e, Event::Started { .. }))
        .collect();
    assert_eq!(
        late,
        Vec::<&Event>::new(),
        "nothing starts after {id} failed"
    );

    // Without the fault, the same preseed completes the cluster.
    sim.clear_faults(node).unwrap();
    let again = common::run(&sim, &seed).await;
    again.assert_succeeded(&format!("the re-run after a permanent fault on {class}"));
    assert_clean(
        &sim,
        profile,
        &format!("after a permanent fault on {class} and a re-run"),
    )
    .await;
}

macro_rules! permanent_tests {
    ($($name:ident: $profile:ident, $class:literal, $expected:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            permanent(LxdProfile::$profile, $class, $expected).await;
        }
    )*};
}

const ANSWERED: &str = "the service answered 403: refused by the test";
const REFUSED_INIT: &str = "the daemon refused to initialise (403): refused by the test; it may already be (partly) initialised: check `GET /core/1.0` and `GET /core/1.0/cluster` before retrying";

permanent_tests! {
    permanent_bootstrap_microcluster: Current, "bootstrap_microcluster",
        &format!("step microovn.bootstrap@node1 on node1: bootstrapping: MicroOVN on node node1, POST /core/control: {REFUSED_INIT}");
    permanent_bootstrap_lxd: Current, "bootstrap_lxd",
        &format!("step lxd.bootstrap@node1 on node1: enabling clustering: LXD on node node1, PUT /1.0/cluster: {ANSWERED}");
    permanent_set_server_config: Current, "set_server_config",
        &format!("step lxd.config.join@node2 on node2: setting the server config: LXD on node node2, PATCH /1.0: {ANSWERED}");
    permanent_issue_token: Current, "issue_token",
        &format!("step {{step}} on node1: issuing a token for {{object}}: MicroCeph on node node1, POST /core/control/tokens: {ANSWERED}");
    permanent_join_microcluster: Current, "join_microcluster",
        &format!("step microceph.join@node3 on node3: joining MicroCeph: MicroCeph on node node3, POST /core/control: {REFUSED_INIT}");
    permanent_join_lxd: Current, "join_lxd",
        &format!("step lxd.join@node2 on node2: joining the LXD cluster: LXD on node node2, PUT /1.0/cluster: {ANSWERED}");
    permanent_await_lxd_members: Current, "await_lxd_members",
        &format!("step lxd.await-members on node1: listing LXD members: LXD on node node1, GET /1.0/cluster/members?recursion=1: {ANSWERED}");
    permanent_add_ceph_disk: Current, "add_ceph_disk",
        &format!("step {{step}} on node3: adding disk {{object}}: MicroCeph on node node3, POST /1.0/disks: {ANSWERED}");
    permanent_set_replication: Current, "set_replication",
        &format!("step microceph.replication on node1: setting replication to 3: MicroCeph on node node1, PUT /1.0/pools-op: {ANSWERED}");
    permanent_create_pending_pool: Current, "create_pending_pool",
        &format!("step {{step}} on node1: defining pool {{object}} on {{member}}: LXD on node node1, POST /1.0/storage-pools?target={{member}}: {ANSWERED}");
    permanent_create_pool: Current, "create_pool",
        "step lxd.pool.local on node1: creating pool local: LXD on node node1, POST /1.0/storage-pools: background operation /1.0/operations/{op} ended with Failure: refused by the test";
    permanent_create_pending_network: Current, "create_pending_network",
        &format!("step {{step}} on node1: defining network UPLINK on {{member}}: LXD on node node1, POST /1.0/networks?target={{member}}: {ANSWERED}");
    permanent_create_network: Current, "create_network",
        "step lxd.network.UPLINK on node1: creating network UPLINK: LXD on node node1, POST /1.0/networks: background operation /1.0/operations/{op} ended with Failure: refused by the test";
    permanent_ensure_profile: Current, "ensure_profile",
        &format!("step lxd.profile.default on node1: updating profile default: LXD on node node1, PUT /1.0/profiles/default: {ANSWERED}");
    permanent_create_volume: Current, "create_volume",
        &format!("step {{step}} on node1: creating volume local/{{object}}: LXD on node node1, POST /1.0/storage-pools/local/volumes/custom?target={{member}}: {ANSWERED}");
    permanent_join_lxd_5_0_2: Legacy, "join_lxd",
        &format!("step lxd.join@node2 on node2: joining the LXD cluster: LXD on node node2, PUT /1.0/cluster: {ANSWERED}");
    permanent_create_pool_5_0_2: Legacy, "create_pool",
        &format!("step lxd.pool.local on node1: creating pool local: LXD on node node1, POST /1.0/storage-pools: {ANSWERED}");
    permanent_create_network_5_0_2: Legacy, "create_network",
        &format!("step lxd.network.UPLINK on node1: creating network UPLINK: LXD on node node1, POST /1.0/networks: {ANSWERED}");
    permanent_configure_ovn_northbound_5_0_2: Legacy, "configure_ovn_northbound",
        &format!("step lxd.ovn-northbound on node1: listing MicroOVN services: MicroOVN on node node1, GET /1.0/services: {ANSWERED}");
}

/// Add mode with transient faults on the new machine's joins, its OSDs and
/// its volumes: the add succeeds and ends as a clean add.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_while_adding_a_machine() {
    let profile = LxdProfile::Current;
    let sim = start(4, profile).await;
    run(&sim, &Seed::bootstrap(&sim, 3))
        .await
        .assert_succeeded("the 3-node formation");
    for (node, rule) in [
        (
            "node4",
            FaultRule::on(Service::Microceph, "POST", "/core/control"),
        ),
        ("node4", FaultRule::on(Service::Lxd, "PUT", "/1.0/cluster")),
        (
            "node4",
            FaultRule::on(Service::Microceph, "POST", "/1.0/disks"),
        ),
        (
            "node1",
            FaultRule::on(
                Service::Lxd,
                "POST",
                "/1.0/storage-pools/local/volumes/custom",
            ),
        ),
    ] {
        sim.add_fault(node, rule.error(503).times(1)).unwrap();
    }
    let added = run(&sim, &Seed::add(&sim, &["node4"])).await;
    added.assert_succeeded("the add with transient faults");
    let retried: BTreeMap<String, u32> = added
        .report
        .results
        .iter()
        .filter_map(|(id, r)| match r {
            StepResult::Done { attempts, .. } if *attempts > 1 => {
                Some((class_of(&added, id.as_str()), attempts - 1))
            }
            _ => None,
        })
        .fold(BTreeMap::new(), |mut m, (class, n)| {
            *m.entry(class).or_default() += n;
            m
        });
    assert_eq!(
        retried,
        BTreeMap::from([
            ("add_ceph_disk".to_owned(), 1),
            ("create_volume".to_owned(), 1),
            ("join_lxd".to_owned(), 1),
            ("join_microcluster".to_owned(), 1),
        ])
    );
    let now = state(&sim).await;
    let clean = clean_add_state(profile).await;
    assert!(
        now == clean,
        "differs from a clean add:\n{}",
        diff(&now, &clean)
    );
}

/// Found by the chaos soak: an LXD join that used its token (the member's
/// certificate was added) and then failed (the cluster refused to accept
/// the member) leaves a token operation that is no longer running. The
/// re-run's token step must not try to cancel it (LXD refuses: "Only
/// running operations can be cancelled"), and completes the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_that_used_its_token_and_failed_is_given_a_new_one() {
    let sim = start(3, LxdProfile::Current).await;
    sim.add_fault(
        "node1",
        FaultRule::on(Service::Lxd, "POST", "/internal/cluster/accept")
            .over(Transport::Https)
            .error_with(403, "refused by the test")
            .times(1),
    )
    .unwrap();
    let seed = Seed::bootstrap(&sim, 3);
    let first = run(&sim, &seed).await;
    let failed: Vec<String> = first
        .report
        .failures()
        .map(|(id, _)| id.to_string())
        .collect();
    assert_eq!(failed.len(), 1, "{}", failures(&first.report));
    assert!(failed[0].starts_with("lxd.join@"), "{failed:?}");
    sim.clear_faults("node1").unwrap();
    let again = run(&sim, &seed).await;
    again.assert_succeeded("the re-run after a join that used its token");
    assert_clean(
        &sim,
        LxdProfile::Current,
        "after a join that used its token",
    )
    .await;
}
