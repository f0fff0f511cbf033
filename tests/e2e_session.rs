//! End to end, the trust session under abuse, across network-namespace
//! hosts with real `microcloud preseed` processes (see `testbed.rs`):
//! multicast joiners that meet a liar and a second initiator of the same
//! name, and an initiator under a hello flood while a listed machine tries
//! a wrong passphrase. `lab-probe` plays the other parties.
//!
//! Needs root, and `cargo build -p microcloud -p simulators` first (as
//! `e2e_preseed`); with `MICROCLOUD_SKIP_NETNS=1` every test says it was
//! skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use microcloud_tests::lab::{report_skip, skip_requested};
use microcloud_tests::testbed::{Contact, Process, Seed, SimOptions, Testbed, wait_all};
use std::time::{Duration, Instant};

const PROBE: &str = env!("CARGO_BIN_EXE_lab-probe");
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const TRUST_FAILURE: i32 = 4;

fn testbed(nodes: usize) -> Option<Testbed> {
    if skip_requested() {
        report_skip();
        return None;
    }
    Some(Testbed::start(nodes, &SimOptions::default()).unwrap_or_else(|e| panic!("{e}")))
}

fn probe(tb: &Testbed, host: &str, args: &[&str]) -> Process {
    let mut command = tb.lab.host(host).unwrap().command(PROBE);
    command.args(args);
    Process::spawn(&format!("lab-probe@{host}"), command)
}

/// node4 lies (announces `node1` at a dead address), node5 is another
/// team's initiator also called `node1` with another passphrase. A joiner
/// alone gives up at its session timeout listing both and why; then the
/// real team forms its cluster anyway.
#[test]
fn multicast_joiners_skip_a_liar_and_a_foreign_initiator_of_the_same_name() {
    let Some(tb) = testbed(5) else { return };
    let dead = tb.lab.address(250).to_string();
    let liar_ip = tb.lab.address(4).to_string();
    let other_ip = tb.lab.address(5).to_string();
    let mut liar = probe(&tb, "node4", &["respond", &liar_ip, "node1", "9444", &dead]);
    let mut other = probe(
        &tb,
        "node5",
        &[
            "impostor",
            &other_ip,
            "node1",
            "9444",
            "another team's passphrase",
            "90",
        ],
    );
    assert!(
        other.wait_for_output("impostor listening", Duration::from_secs(10)),
        "the second initiator did not start:\n{}{}",
        other.stdout(),
        other.stderr()
    );

    // Alone: no real initiator. It gives up at its session timeout (8 s),
    // says so while waiting, and lists every announcer with the reason.
    let short = Seed {
        session_timeout: 8,
        ..Seed::bootstrap(Contact::Multicast, 3)
    };
    let file = tb.write("short.yaml", &short.render(&tb.lab));
    let started = Instant::now();
    let alone = wait_all(vec![tb.preseed("node2", &file, &[])], RUN_TIMEOUT).remove(0);
    let took = started.elapsed();
    assert_eq!(alone.code, Some(TRUST_FAILURE), "{alone}");
    assert!(
        took >= Duration::from_secs(8) && took < Duration::from_secs(8 + 20),
        "the joiner must wait its whole session timeout, and not much longer (took {took:?}):\n{alone}"
    );
    assert!(
        alone
            .stdout
            .matches("Still waiting for the initiator node1 (multicast from ")
            .count()
            >= 2,
        "the joiner must say that it waits, at a steady rate:\n{alone}"
    );
    let progress = alone
        .stdout
        .lines()
        .find(|l| l.starts_with("Still waiting"))
        .unwrap();
    assert!(
        progress.contains(" s so far, at most ") && progress.contains(" s left"),
        "{progress}"
    );
    assert!(
        alone.stderr.contains("error: cannot join the initiator node1 (multicast from ")
            && alone
                .stderr
                .contains("no announcer of the initiator \"node1\" proved the session passphrase within ")
            && alone.stderr.contains(&format!("{dead} (did not answer"))
            && alone.stderr.contains(&format!(
                "{other_ip} (did not prove the session passphrase: another passphrase (another team's initiator?) or someone intercepting)"
            ))
            && alone.stderr.contains("  = help: give every machine the same passphrase"),
        "the error must list every announcer and why it was skipped:\n{alone}"
    );

    // The team: joiners first, so that they meet both impostors before the
    // real initiator answers; everyone forms the cluster.
    let file = tb.write(
        "cluster.yaml",
        &Seed::bootstrap(Contact::Multicast, 3).render(&tb.lab),
    );
    let mut runs = vec![
        tb.preseed("node2", &file, &[]),
        tb.preseed("node3", &file, &[]),
    ];
    std::thread::sleep(Duration::from_secs(3));
    runs.insert(0, tb.preseed("node1", &file, &[]));
    let runs = wait_all(runs, RUN_TIMEOUT);
    for run in &runs {
        assert_eq!(run.code, Some(0), "{run}");
    }
    for joiner in &runs[1..] {
        assert!(
            joiner.stdout.contains(&format!(
                "  skipped the announcer {other_ip} (did not prove the session passphrase"
            )),
            "{} must say it skipped the other team's initiator:\n{joiner}",
            joiner.label
        );
        assert!(
            joiner.stdout.contains("Trusted by the initiator node1;"),
            "{joiner}"
        );
    }
    liar.kill();
    other.kill();
    // The other team's initiator learnt nothing but that the joiners could
    // not verify it: it admitted nobody.
    assert!(
        !other.stdout().contains("impostor admitted"),
        "{}",
        other.stdout()
    );
}

/// An unlisted host floods the initiator with hellos (rejected ones, then
/// ones never completed) and a listed machine tries a wrong passphrase:
/// the listed machine's attempt is printed live after more than 32
/// incidents, and the final error sums up both sources with their
/// addresses and certificates.
#[test]
fn a_hello_flood_and_a_wrong_passphrase_are_each_traced_to_their_source() {
    let Some(tb) = testbed(4) else { return };
    let seed = Seed {
        session_timeout: 20,
        ..Seed::bootstrap(Contact::Unicast, 3)
    };
    let good = tb.write("cluster.yaml", &seed.render(&tb.lab));
    let bad = tb.write(
        "wrong.yaml",
        &seed.with_passphrase("not the passphrase").render(&tb.lab),
    );
    let initiator_ip = tb.lab.address(1).to_string();
    let flood_ip = tb.lab.address(4).to_string();
    let node3_ip = tb.lab.address(3).to_string();
    let mut initiator = tb.preseed("node1", &good, &[]);
    assert!(
        initiator.wait_for_output("waiting for 2 machine(s)", Duration::from_secs(20)),
        "{}{}",
        initiator.stdout(),
        initiator.stderr()
    );
    // 40 rejected hellos and 11 left open: 51 incidents without reaching
    // the limit of 10 failed attempts (10 open attempts fit; 1 evicted).
    let flood = wait_all(
        vec![probe(
            &tb,
            "node4",
            &["flood", &flood_ip, &initiator_ip, "40", "11"],
        )],
        RUN_TIMEOUT,
    )
    .remove(0);
    assert_eq!(flood.code, Some(0), "{flood}");
    let flood_cert = flood
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("certificate "))
        .unwrap()
        .to_owned();
    let wrong = wait_all(vec![tb.preseed("node3", &bad, &[])], RUN_TIMEOUT).remove(0);
    assert_eq!(wrong.code, Some(TRUST_FAILURE), "{wrong}");
    let runs = wait_all(vec![initiator], RUN_TIMEOUT);
    let initiator = &runs[0];
    assert_eq!(initiator.code, Some(TRUST_FAILURE), "{initiator}");
    let out = &initiator.stdout;
    assert!(
        out.lines().any(
            |l| l.starts_with(&format!("  attempt by \"node3\" from {node3_ip}:"))
                && l.contains("could not verify this initiator's passphrase confirmation")
        ),
        "the listed machine's attempt must be printed live:\n{initiator}"
    );
    assert!(
        out.lines().any(
            |l| l.starts_with(&format!("  attempt by \"intruder\" from {flood_ip}:"))
                && l.contains(&flood_cert)
                && l.contains("opened an attempt and never completed it")
        ),
        "the eviction must be printed live with its source:\n{initiator}"
    );
    assert!(
        out.lines()
            .filter(|l| l.contains(&format!("from {flood_ip}:")))
            .count()
            <= 4,
        "the flood's live lines are rate-limited per source:\n{initiator}"
    );
    let err = &initiator.stderr;
    assert!(
        err.contains(&format!("{flood_ip}: 42 incidents between "))
            && err.contains(&flood_cert)
            && err.contains("40× was rejected: ")
            && err.contains("2× opened an attempt and never completed it"),
        "the summary must name the flood's source, certificate and reasons:\n{initiator}"
    );
    assert!(
        err.contains(&format!("{node3_ip}: 1 incident between "))
            && err.contains(
                "as \"node3\": 1× could not verify this initiator's passphrase confirmation"
            ),
        "the summary must name the listed machine's attempt:\n{initiator}"
    );
}
