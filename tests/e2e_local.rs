//! End to end, one machine's own guarantees (issue 17, items 4 and 5):
//! one `microcloud preseed` per machine at a time, whatever the journal
//! path, and a re-run that can start as soon as the old processes are gone.
//!
//! Same set-up as `e2e_preseed.rs` (root, `MICROCLOUD_SKIP_NETNS=1` skips;
//! build `microcloud` and `microcloud-sim` first). Each lab host has its
//! own run lock file (`Testbed::lock_file`, through `MICROCLOUD_LOCK_FILE`):
//! the hosts share this machine's file system.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use microcloud_tests::lab::{report_skip, skip_requested};
use microcloud_tests::testbed::{
    Contact, Finished, Process, Seed, SimOptions, Testbed, node, transcript, wait_all,
};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// `microcloud preseed`'s exit status when another run holds the lock.
const LOCKED: i32 = 7;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn testbed(nodes: usize) -> Option<Testbed> {
    testbed_with(nodes, &SimOptions::default())
}

fn testbed_with(nodes: usize, options: &SimOptions) -> Option<Testbed> {
    if skip_requested() {
        report_skip();
        return None;
    }
    Some(Testbed::start(nodes, options).unwrap_or_else(|e| panic!("{e}")))
}

fn names(n: usize) -> Vec<String> {
    (1..=n).map(node).collect()
}

fn assert_all_succeeded(runs: &[Finished]) {
    for r in runs {
        assert_eq!(
            r.code,
            Some(0),
            "{} should succeed:\n{}",
            r.label,
            transcript(runs)
        );
    }
}

#[test]
fn a_second_run_on_one_machine_with_another_journal_is_refused_naming_the_holder() {
    let _serial = serial();
    let Some(tb) = testbed(3) else {
        return;
    };
    let file = tb.write(
        "cluster.yaml",
        &Seed::bootstrap(Contact::Unicast, 3).render(&tb.lab),
    );
    // node1 (the initiator) waits for node2 and node3, which are not
    // started yet: it holds the lock and has changed nothing.
    let mut first = tb.preseed("node1", &file, &[]);
    assert!(
        first.wait_for_output("machine(s) to join", Duration::from_secs(30)),
        "the initiator never started waiting:\n{}{}",
        first.stdout(),
        first.stderr()
    );
    let holder = first.pid();
    let before = tb.state_of(&names(3));
    let other_journal = tb.dir().join("another-journal.json");
    let started = Instant::now();
    let second = tb.preseed_with_journal("node1", &file, &other_journal, &[]);
    let second = wait_all(vec![second], Duration::from_secs(60)).remove(0);
    assert_eq!(
        second.code,
        Some(LOCKED),
        "{}",
        transcript(std::slice::from_ref(&second))
    );
    // It waited for the holder to end (12 s: the idle timeout of a joiner's
    // agent plus one check), then gave up.
    assert!(
        started.elapsed() >= Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    let lock = tb.lock_file("node1");
    assert_eq!(
        second.stderr,
        format!(
            "another `microcloud preseed` (PID {holder}) holds {lock}; waiting up to 12 s for it to end (a machine's part of a run whose initiator is gone ends within 10 s)\n\
             error: another `microcloud preseed` (PID {holder}) is running on this machine: it holds {lock}; nothing was changed. Wait for it to end, or stop it, then run again\n",
            lock = lock.display()
        ),
        "the refusal must name the holder's PID and the lock"
    );
    assert!(second.stdout.is_empty(), "{}", second.stdout);
    assert!(
        !other_journal.exists(),
        "the refused run must not start a journal"
    );
    assert_eq!(
        tb.state_of(&names(3)),
        before,
        "the refused run changed something"
    );
    // The first run still forms the cluster once the others start.
    let runs = vec![
        first,
        tb.preseed("node2", &file, &[]),
        tb.preseed("node3", &file, &[]),
    ];
    assert_all_succeeded(&wait_all(runs, RUN_TIMEOUT));
}

#[test]
fn a_rerun_right_after_every_process_was_killed_succeeds_at_once() {
    let _serial = serial();
    let Some(tb) = testbed(3) else {
        return;
    };
    let file = tb.write(
        "cluster.yaml",
        &Seed::bootstrap(Contact::Unicast, 3).render(&tb.lab),
    );
    let hosts = names(3);
    let mut runs: Vec<Process> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let extra: &[&str] = if i == 0 { &["--output", "json"] } else { &[] };
            tb.preseed(h, &file, extra)
        })
        .collect();
    // Every joiner admitted and its agent serving: the run is under way.
    let under_way = runs[0].wait_until(|text| text.contains("\"event\":\"started\""), RUN_TIMEOUT);
    if !under_way {
        let runs: Vec<Finished> = runs.into_iter().map(Process::finish).collect();
        panic!("the run never started a step:\n{}", transcript(&runs));
    }
    for r in &mut runs {
        r.kill();
    }
    let killed: Vec<Finished> = runs.into_iter().map(Process::finish).collect();
    let started = Instant::now();
    let rerun: Vec<Process> = hosts.iter().map(|h| tb.preseed(h, &file, &[])).collect();
    let rerun = wait_all(rerun, RUN_TIMEOUT);
    assert_all_succeeded(&rerun);
    // At once: nowhere near a session timeout or the agents' idle timeout
    // of the old run adding up; the formation itself takes a few seconds.
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "the re-run took {took:?}:\n{}\n--- the killed run\n{}",
        transcript(&rerun),
        transcript(&killed)
    );
    eprintln!("re-run after SIGKILL of every process took {took:.1?}");
}

#[test]
fn a_rerun_right_after_the_initiator_was_killed_waits_for_the_old_joiners_and_succeeds() {
    let _serial = serial();
    let Some(tb) = testbed(3) else {
        return;
    };
    let file = tb.write(
        "cluster.yaml",
        &Seed::bootstrap(Contact::Unicast, 3).render(&tb.lab),
    );
    let hosts = names(3);
    let mut old: Vec<Process> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let extra: &[&str] = if i == 0 { &["--output", "json"] } else { &[] };
            tb.preseed(h, &file, extra)
        })
        .collect();
    let under_way = old[0].wait_until(|text| text.contains("\"event\":\"started\""), RUN_TIMEOUT);
    if !under_way {
        let runs: Vec<Finished> = old.into_iter().map(Process::finish).collect();
        panic!("the run never started a step:\n{}", transcript(&runs));
    }
    // Only the initiator dies: the joiners' agents still hold their
    // machines' locks until the initiator has been silent for 10 s.
    old[0].kill();
    let rerun: Vec<Process> = hosts.iter().map(|h| tb.preseed(h, &file, &[])).collect();
    let rerun = wait_all(rerun, RUN_TIMEOUT);
    let old: Vec<Finished> = wait_all(old, Duration::from_secs(30));
    assert_all_succeeded(&rerun);
    for joiner in &old[1..] {
        assert_eq!(joiner.code, Some(5), "{}", transcript(&old));
    }
    for joiner in &rerun[1..] {
        assert!(
            joiner.stderr.contains("waiting up to 12 s for it to end"),
            "{} must say that it waits for the old run:\n{}",
            joiner.label,
            transcript(&rerun)
        );
    }
}

#[test]
fn a_joiner_killed_during_the_pre_flight_checks_is_reported_as_gone() {
    let _serial = serial();
    // node3's LXD answers its resources slowly (2 s, from the simulator's
    // fault rules), so that the kill lands while the initiator reads them
    // through node3's agent.
    let options = SimOptions {
        faults: Some(
            "rules:\n  - node: node3\n    service: lxd\n    method: GET\n    path: /1.0/resources\n    \
             times: 5\n    action: { kind: latency, ms: 100000 }\n"
                .to_owned(),
        ),
        ..SimOptions::default()
    };
    let Some(tb) = testbed_with(3, &options) else {
        return;
    };
    let file = tb.write(
        "cluster.yaml",
        &Seed::bootstrap(Contact::Unicast, 3).render(&tb.lab),
    );
    let before = tb.state_of(&names(3));
    let mut runs: Vec<Process> = names(3).iter().map(|h| tb.preseed(h, &file, &[])).collect();
    let checking = runs[0].wait_for_output("checking them before any change", RUN_TIMEOUT);
    if !checking {
        let runs: Vec<Finished> = runs.into_iter().map(Process::finish).collect();
        panic!(
            "the initiator never reached the pre-flight checks:\n{}",
            transcript(&runs)
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    runs[2].kill();
    let runs = wait_all(runs, Duration::from_secs(60));
    assert_eq!(runs[0].code, Some(5), "{}", transcript(&runs));
    assert_eq!(runs[1].code, Some(5), "{}", transcript(&runs));
    let stderr = &runs[0].stderr;
    assert!(
        stderr.contains("error: machine node3 went away during the pre-flight checks (its agent no longer answers: ")
            && stderr.contains("nothing was changed. Check that `microcloud preseed` still runs there, then run it again on every machine"),
        "the initiator must say that node3 went away:\n{}",
        transcript(&runs)
    );
    assert!(
        !stderr.contains("check that LXD is running")
            && !stderr.contains("check that MicroCeph is running"),
        "{stderr}"
    );
    assert_eq!(tb.state_of(&names(3)), before, "nothing may change");
}
