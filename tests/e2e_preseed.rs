//! End to end: real `microcloud preseed` processes, one per lab host
//! (network namespaces on one bridge), forming clusters of simulated
//! services, and the final state of every node compared with the golden
//! state of a clean run (`tests/snapshots/e2e/`). See `testbed.rs`.
//!
//! Needs root for namespaces; with `MICROCLOUD_SKIP_NETNS=1` every test
//! prints that it was skipped instead. The binaries `microcloud` and
//! `microcloud-sim` must be built (`cargo test --workspace` does it; with
//! `-p microcloud-tests` alone, run `cargo build -p microcloud -p simulators`
//! first).
//!
//! Exit codes of `microcloud preseed`: 0 success, 1 apply failed, 2 invalid,
//! 3 interrupted, 4 trust failure, 5 a peer was lost or told us to stop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use microcloud_tests::assert_snapshot;
use microcloud_tests::lab::{report_skip, skip_requested};
use microcloud_tests::testbed::{
    Contact, Finished, Process, Seed, SimOptions, Testbed, node, transcript, wait_all,
};
use serde_json::Value;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// Deadline for a whole run of every host (a hung run fails with the
/// output of every process instead of hanging CI).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// One end-to-end test at a time: each runs a simulator and a process per
/// host, and the kill points depend on timing that a loaded machine blurs.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const SUCCESS: i32 = 0;
const TRUST_FAILURE: i32 = 4;
const PEER_LOST: i32 = 5;

fn testbed(nodes: usize, options: &SimOptions) -> Option<Testbed> {
    if skip_requested() {
        report_skip();
        return None;
    }
    Some(Testbed::start(nodes, options).unwrap_or_else(|e| panic!("{e}")))
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `microcloud preseed` with `file` on every host in `hosts` (in that
/// order, `gap` apart) and waits for all of them.
fn run_all(tb: &Testbed, file: &Path, hosts: &[String], gap: Duration) -> Vec<Finished> {
    let mut runs = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(gap);
        }
        runs.push(tb.preseed(h, file, &[]));
    }
    wait_all(runs, RUN_TIMEOUT)
}

fn names(range: std::ops::RangeInclusive<usize>) -> Vec<String> {
    range.map(node).collect()
}

/// Asserts every run's exit code.
fn assert_codes(runs: &[Finished], expected: &[(&str, i32)]) {
    for (label, code) in expected {
        let run = runs
            .iter()
            .find(|r| r.label == *label)
            .unwrap_or_else(|| panic!("no run of {label}"));
        assert_eq!(
            run.code,
            Some(*code),
            "{label} should exit {code} (what every process printed is above)"
        );
    }
}

fn all_succeeded(runs: &[Finished]) {
    let expected: Vec<(&str, i32)> = runs.iter().map(|r| (r.label.as_str(), SUCCESS)).collect();
    assert_codes(runs, &expected);
}

/// Joiners print no progress of their own: only that they joined (and
/// that they still wait, if the initiator is slow), and at the end the
/// outcome the initiator sent them (the first run is the
/// initiator's).
fn assert_joiners_print_only_the_outcome(runs: &[Finished]) {
    const BEFORE: [&str; 4] = [
        "Looking for the initiator node1 ",
        "Joining the initiator at ",
        // Progress while waiting for the initiator (a loaded machine).
        "Still waiting for the initiator ",
        "Trusted by the initiator node1;",
    ];
    for joiner in &runs[1..] {
        let lines: Vec<&str> = joiner.stdout.lines().collect();
        let (last, before) = lines.split_last().unwrap_or((&"", &[]));
        assert!(
            last.starts_with("Done: the cluster is formed: ")
                && before
                    .iter()
                    .all(|l| BEFORE.iter().any(|start| l.starts_with(start))),
            "{} must print that it joined and, at the end, the outcome (output above)",
            joiner.label
        );
    }
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap();
    s.push('\n');
    s
}

/// The state of the given nodes equals the golden state `name`.
fn assert_state(tb: &mut Testbed, nodes: &[String], name: &str) {
    tb.assert_running();
    let state = tb.state_of(nodes);
    assert_snapshot(&format!("tests/snapshots/e2e/{name}.json"), &pretty(&state));
}

/// A re-run of `file` on `hosts` changes nothing and leaves the state as it was.
fn assert_rerun_changes_nothing(
    tb: &Testbed,
    file: &Path,
    hosts: &[String],
    state_nodes: &[String],
) {
    let before = tb.state_of(state_nodes);
    let runs = run_all(tb, file, hosts, Duration::ZERO);
    all_succeeded(&runs);
    let initiator = &runs[0];
    assert!(
        initiator.stdout.contains(" 0 step(s) changed something"),
        "a re-run must change nothing (what every process printed is above)"
    );
    assert_eq!(
        tb.state_of(state_nodes),
        before,
        "a re-run changed the state (what every process printed is above)"
    );
}

#[test]
fn one_machine_in_a_lab_host_forms_its_cluster_and_a_rerun_changes_nothing() {
    let _serial = serial();
    let Some(mut tb) = testbed(1, &SimOptions::default()) else {
        return;
    };
    let file = tb.write(
        "one.yaml",
        &format!(
            "initiator: node1\nlookup_subnet: {}\n\nsystems:\n  - name: node1\n\n\
             lxd:\n  local_pool_driver: btrfs\n\n\
             storage:\n  local:\n    - find: type == nvme\n      wipe: true\n",
            tb.lab.subnet()
        ),
    );
    let hosts = names(1..=1);
    let runs = run_all(&tb, &file, &hosts, Duration::ZERO);
    all_succeeded(&runs);
    assert!(
        runs[0].stdout.contains("MicroCloud is ready"),
        "no final report (the output is above)"
    );
    assert_state(&mut tb, &hosts, "one-node");
    assert_rerun_changes_nothing(&tb, &file, &hosts, &hosts);
}

/// Forms node1..node3 with `contact`, every host started at once, and
/// checks the golden state and a re-run.
fn three_nodes(contact: Contact) {
    let _serial = serial();
    let Some(mut tb) = testbed(3, &SimOptions::default()) else {
        return;
    };
    let file = tb.write("cluster.yaml", &Seed::bootstrap(contact, 3).render(&tb.lab));
    let hosts = names(1..=3);
    let runs = run_all(&tb, &file, &hosts, Duration::ZERO);
    all_succeeded(&runs);
    assert_joiners_print_only_the_outcome(&runs);
    assert_state(&mut tb, &hosts, "three-nodes");
    assert_rerun_changes_nothing(&tb, &file, &hosts, &hosts);
}

#[test]
fn three_hosts_form_a_cluster_over_unicast() {
    three_nodes(Contact::Unicast);
}

/// With MicroCeph reef (microcluster's older `/cluster` endpoints, through
/// the agents' proxies for the joiners) the same preseed forms the same
/// cluster: the golden state is the squid one (`three-nodes.json`) but for
/// MicroCeph's version, which reef's server info does not carry.
#[test]
fn three_hosts_with_microceph_reef_form_the_same_cluster() {
    let _serial = serial();
    let options = SimOptions {
        microceph_reef: true,
        ..SimOptions::default()
    };
    let Some(mut tb) = testbed(3, &options) else {
        return;
    };
    let file = tb.write(
        "cluster.yaml",
        &Seed::bootstrap(Contact::Unicast, 3).render(&tb.lab),
    );
    let hosts = names(1..=3);
    let runs = run_all(&tb, &file, &hosts, Duration::ZERO);
    all_succeeded(&runs);
    assert_state(&mut tb, &hosts, "three-nodes-reef");
    assert_rerun_changes_nothing(&tb, &file, &hosts, &hosts);
}

#[test]
fn three_hosts_form_a_cluster_over_multicast() {
    three_nodes(Contact::Multicast);
}

#[test]
fn joiners_started_before_the_initiator_wait_for_it() {
    let _serial = serial();
    let Some(mut tb) = testbed(3, &SimOptions::default()) else {
        return;
    };
    let file = tb.write(
        "cluster.yaml",
        &Seed::bootstrap(Contact::Unicast, 3).render(&tb.lab),
    );
    let joiners = vec![
        tb.preseed("node2", &file, &[]),
        tb.preseed("node3", &file, &[]),
    ];
    // Long enough for the joiners' first attempts to find nobody listening.
    std::thread::sleep(Duration::from_secs(2));
    let mut runs = joiners;
    for r in &mut runs {
        assert!(
            r.try_status().is_none(),
            "{} gave up before the initiator started:\n{}{}",
            r.label,
            r.stdout(),
            r.stderr()
        );
    }
    runs.insert(0, tb.preseed("node1", &file, &[]));
    let runs = wait_all(runs, RUN_TIMEOUT);
    all_succeeded(&runs);
    assert_state(&mut tb, &names(1..=3), "three-nodes");
}

#[test]
fn a_fourth_host_joins_a_formed_cluster_and_rerunning_the_add_changes_nothing() {
    let _serial = serial();
    let Some(mut tb) = testbed(4, &SimOptions::default()) else {
        return;
    };
    let three = names(1..=3);
    let file = tb.write(
        "cluster.yaml",
        &Seed::bootstrap(Contact::Unicast, 3).render(&tb.lab),
    );
    let runs = run_all(&tb, &file, &three, Duration::ZERO);
    all_succeeded(&runs);
    assert_state(&mut tb, &three, "three-nodes");

    let add = tb.write(
        "add.yaml",
        &Seed::add(Contact::Unicast, &["node4"]).render(&tb.lab),
    );
    let pair = vec![node(1), node(4)];
    let runs = run_all(&tb, &add, &pair, Duration::ZERO);
    all_succeeded(&runs);
    let four = names(1..=4);
    assert_state(&mut tb, &four, "four-nodes-after-add");
    assert_rerun_changes_nothing(&tb, &add, &pair, &four);
}

#[test]
fn a_wrong_passphrase_fails_on_both_sides_with_a_clear_error() {
    let _serial = serial();
    let Some(mut tb) = testbed(3, &SimOptions::default()) else {
        return;
    };
    // The initiator waits for node3 (which may be restarted with the right
    // file) until the session times out.
    let seed = Seed {
        session_timeout: 5,
        ..Seed::bootstrap(Contact::Unicast, 3)
    };
    let good = tb.write("cluster.yaml", &seed.render(&tb.lab));
    let bad = tb.write(
        "wrong.yaml",
        &seed.with_passphrase("not the passphrase").render(&tb.lab),
    );
    let hosts = names(1..=3);
    let before = tb.state_of(&hosts);
    let runs = wait_all(
        vec![
            tb.preseed("node1", &good, &[]),
            tb.preseed("node2", &good, &[]),
            tb.preseed("node3", &bad, &[]),
        ],
        RUN_TIMEOUT,
    );
    assert_codes(
        &runs,
        &[
            ("node1", TRUST_FAILURE),
            ("node3", TRUST_FAILURE),
            // Admitted, then told the overall result.
            ("node2", TRUST_FAILURE),
        ],
    );
    for who in ["node1", "node3"] {
        let run = runs.iter().find(|r| r.label == who).unwrap();
        assert!(
            run.output().to_lowercase().contains("passphrase"),
            "{who} must say that the passphrases differ (what every process printed is above)"
        );
        assert!(
            !run.output().contains("not the passphrase")
                && !run.output().contains(&seed.passphrase),
            "{who} must not print a passphrase:\n{run}"
        );
    }
    let initiator = &runs[0];
    assert!(
        initiator.output().contains("node3"),
        "the initiator must name the joiner that failed:\n{initiator}"
    );
    // Nothing was changed.
    tb.assert_running();
    assert_eq!(
        tb.state_of(&hosts),
        before,
        "a failed trust session must change nothing (what every process printed is above)"
    );
}

#[test]
fn a_joiner_the_file_does_not_list_is_refused_and_the_others_form_the_cluster() {
    let _serial = serial();
    let Some(mut tb) = testbed(4, &SimOptions::default()) else {
        return;
    };
    let seed = Seed::bootstrap(Contact::Unicast, 3);
    let file = tb.write("cluster.yaml", &seed.render(&tb.lab));
    // node4 has a file that lists it; the initiator's does not.
    let intruder = tb.write(
        "with-node4.yaml",
        &Seed {
            systems: names(1..=4),
            ..seed.clone()
        }
        .render(&tb.lab),
    );
    let node4 = vec![node(4)];
    let node4_before = tb.state_of(&node4);
    // The session is open from the initiator's start until every listed
    // machine has joined: node4 knocks in between, and is refused at once.
    let mut initiator = tb.preseed("node1", &file, &[]);
    let open = initiator.wait_for_output("waiting for 2 machine(s) to join", RUN_TIMEOUT);
    let mut intruder = tb.preseed("node4", &intruder, &[]);
    let refused_in_time = intruder.wait_exit(Duration::from_secs(10)).is_some();
    let mut runs = vec![initiator, intruder];
    assert!(
        open && refused_in_time,
        "node1 must open its session and node4 must be refused at once:\n{}",
        transcript(&runs.into_iter().map(Process::finish).collect::<Vec<_>>())
    );
    runs.push(tb.preseed("node2", &file, &[]));
    runs.push(tb.preseed("node3", &file, &[]));
    let runs = wait_all(runs, RUN_TIMEOUT);
    assert_codes(
        &runs,
        &[
            ("node1", SUCCESS),
            ("node2", SUCCESS),
            ("node3", SUCCESS),
            ("node4", TRUST_FAILURE),
        ],
    );
    let refused = runs.iter().find(|r| r.label == "node4").unwrap();
    assert!(
        refused.output().contains("not listed"),
        "node4 must say that it is not listed:\n{refused}"
    );
    assert_state(&mut tb, &names(1..=3), "three-nodes");
    assert_eq!(
        tb.state_of(&node4),
        node4_before,
        "node4 must be left alone"
    );
}

/// A simulator fault: the first `times` `method path` calls of `service`
/// on `node` take 2 s (100 s of simulated time), so that a kill lands
/// while such a call runs.
fn slow(node: &str, service: &str, method: &str, path: &str, times: u32) -> SimOptions {
    SimOptions {
        faults: Some(format!(
            "rules:\n  - node: {node}\n    service: {service}\n    method: {method}\n    path: {path}\n    \
             times: {times}\n    action: {{ kind: latency, ms: 100000 }}\n"
        )),
        ..SimOptions::default()
    }
}

/// Whether the initiator's JSON progress `text` has an `event` (`started`,
/// `finished`) for `step`.
fn progress_shows(text: &str, event: &str, step: &str) -> bool {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .any(|e| e["event"] == event && e["step"] == step)
}

/// Starts node1..node3 with the initiator's progress as JSON lines, waits
/// until that progress satisfies `kill_point`, then kills host `victim`
/// and waits (at most `stop_within`) for the others to stop.
fn kill_mid_bootstrap(
    tb: &Testbed,
    file: &Path,
    kill_point: impl Fn(&str) -> bool,
    victim: usize,
    stop_within: Duration,
) -> Vec<Finished> {
    let mut runs = vec![
        tb.preseed("node1", file, &["--output", "json"]),
        tb.preseed("node2", file, &[]),
        tb.preseed("node3", file, &[]),
    ];
    if !runs[0].wait_until(kill_point, RUN_TIMEOUT) {
        let runs: Vec<Finished> = runs.into_iter().map(Process::finish).collect();
        panic!(
            "the initiator never reached the kill point:\n{}",
            transcript(&runs)
        );
    }
    // The slowed-down call is sent right after its step starts.
    std::thread::sleep(Duration::from_millis(300));
    runs[victim - 1].kill();
    wait_all(runs, stop_within)
}

#[test]
fn a_joiner_killed_during_its_join_stops_everyone_and_a_rerun_converges() {
    let _serial = serial();
    let Some(mut tb) = testbed(3, &slow("node3", "lxd", "PUT", "/1.0/cluster", 1)) else {
        return;
    };
    let file = tb.write(
        "cluster.yaml",
        &Seed::bootstrap(Contact::Unicast, 3).render(&tb.lab),
    );
    // node3 dies while its LXD join, proxied by its agent, is in flight;
    // the initiator finds it lost (6 s without an answer) and stops everyone.
    let runs = kill_mid_bootstrap(
        &tb,
        &file,
        |text| progress_shows(text, "started", "lxd.join@node3"),
        3,
        Duration::from_secs(60),
    );
    assert_codes(&runs, &[("node1", PEER_LOST), ("node2", PEER_LOST)]);
    assert!(
        runs[0]
            .stdout
            .lines()
            .any(|l| l.contains("\"retrying\"") && l.contains("PUT /1.0/cluster")),
        "the kill must cut node3's join request (what every process printed is above)"
    );
    for run in &runs[..2] {
        assert!(
            run.stderr.contains("machine node3 stopped answering"),
            "{} must say that node3 was lost (what every process printed is above)",
            run.label
        );
    }

    let hosts = names(1..=3);
    let rerun = run_all(&tb, &file, &hosts, Duration::ZERO);
    all_succeeded(&rerun);
    assert_state(&mut tb, &hosts, "three-nodes");
}

#[test]
fn the_initiator_killed_mid_bootstrap_stops_the_joiners_and_a_rerun_converges() {
    let _serial = serial();
    let disk = "microceph.disk[/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-a-2]@node2";
    let Some(mut tb) = testbed(3, &slow("node2", "microceph", "POST", "/1.0/disks", 2)) else {
        return;
    };
    let file = tb.write(
        "cluster.yaml",
        &Seed::bootstrap(Contact::Unicast, 3).render(&tb.lab),
    );
    // node1 dies after every join, while it adds a Ceph disk on node2
    // through node2's agent. The joiners stop when the initiator has been
    // silent for 10 s, not after the agent's default idle timeout.
    let runs = kill_mid_bootstrap(
        &tb,
        &file,
        |text| {
            progress_shows(text, "started", disk)
                && (2..=3).all(|i| progress_shows(text, "finished", &format!("lxd.join@node{i}")))
        },
        1,
        Duration::from_secs(30),
    );
    assert_codes(&runs, &[("node2", PEER_LOST), ("node3", PEER_LOST)]);
    for run in &runs[1..] {
        assert!(
            run.stderr.contains("the initiator went silent"),
            "{} must say that it lost the initiator (what every process printed is above)",
            run.label
        );
    }

    let hosts = names(1..=3);
    let rerun = run_all(&tb, &file, &hosts, Duration::ZERO);
    all_succeeded(&rerun);
    assert_state(&mut tb, &hosts, "three-nodes");
}

#[test]
fn ten_hosts_form_a_cluster() {
    let _serial = serial();
    let Some(mut tb) = testbed(10, &SimOptions::default()) else {
        return;
    };
    let file = tb.write(
        "cluster.yaml",
        &Seed::bootstrap(Contact::Unicast, 10).render(&tb.lab),
    );
    let hosts = names(1..=10);
    let started = std::time::Instant::now();
    let runs = run_all(&tb, &file, &hosts, Duration::ZERO);
    all_succeeded(&runs);
    assert_joiners_print_only_the_outcome(&runs);
    eprintln!(
        "10-node bootstrap took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_state(&mut tb, &hosts, "ten-nodes");
}
