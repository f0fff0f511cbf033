//! Errors a person can act on: for each class of failure, what the user
//! sees (standard output and error as printed, with temporary paths,
//! ports and times normalised), pinned as snapshots under
//! `tests/snapshots/errors/`. Each says what went wrong, where, and what
//! to do next. (Validation errors are pinned for every file of
//! `examples/invalid/` by `tests/examples.rs`; a service that is not ready
//! by `ready.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use simulators::{FaultRule, Service};
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use support::{example_at, normalise_times, root, spawn, start_sim, text};

/// `microcloud ARGS` as a person runs it: without backtraces.
fn microcloud<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = support::microcloud(args);
    c.env("RUST_BACKTRACE", "0");
    c
}

/// What a person sees: standard output, then standard error.
fn shown(out: &Output, dir: &Path) -> String {
    let all = format!(
        "exit status: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    normalise_times(&all.replace(dir.to_str().unwrap(), "<dir>"))
}

/// The times in an incident summary (`between 0.3 s and 1.2 s into the
/// session`) as `<t>`.
fn normalise_session_clock(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("between ") {
        let (before, from) = rest.split_at(i + "between ".len());
        out.push_str(before);
        match from.split_once(" into the session") {
            Some((times, after)) if times.len() < 40 && times.contains(" s and ") => {
                out.push_str("<t> s and <t> s into the session");
                rest = after;
            }
            _ => rest = from,
        }
    }
    out.push_str(rest);
    out
}

/// Source ports (`127.0.0.1:33352`) as `:<port>` and certificate
/// fingerprints (64 hex digits) as `<fingerprint>`.
fn normalise_peers(text: &str) -> String {
    let mut out = String::new();
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let bare = word.trim_end_matches(|c: char| !c.is_ascii_hexdigit());
        let tail = &word[bare.len()..];
        if bare.len() == 64 && bare.chars().all(|c| c.is_ascii_hexdigit()) {
            out.push_str(&format!("<fingerprint>{tail}"));
        } else if let Some(port) = bare
            .strip_prefix("127.0.0.1:")
            .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
        {
            let _ = port;
            out.push_str(&format!("127.0.0.1:<port>{tail}"));
        } else {
            out.push_str(word);
        }
    }
    out
}

/// Planning: a disk the file names that a machine does not have. The
/// diagnostic points at the line, names the machine and says what to do.
#[test]
fn planning_a_disk_the_machine_does_not_have() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = std::fs::read_to_string(root().join("examples/multicast-3-nodes.yaml"))
        .unwrap()
        .replace(
            "path: /dev/disk/by-id/nvme-local-micro02",
            "path: /dev/disk/by-id/nvme-typo-micro02",
        );
    let file = dir.path().join("cluster.yaml");
    std::fs::write(&file, yaml).unwrap();
    std::fs::copy(
        root().join("examples/passphrase.txt"),
        dir.path().join("passphrase.txt"),
    )
    .unwrap();
    let out = microcloud([
        "plan",
        file.to_str().unwrap(),
        "--inventory",
        "tests/fixtures/inventory/multicast-3-nodes",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    microcloud_tests::assert_snapshot(
        "crates/microcloud/tests/snapshots/errors/planning-missing-disk.txt",
        &shown(&out, dir.path()),
    );
}

/// Pre-flight: the machine is not one of the preseed's systems. Nothing
/// is changed; the message names the machine and its addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_a_machine_the_preseed_does_not_list() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = start_sim(1, [127, 0, 83], dir.path()).await;
    let file = example_at(dir.path(), [127, 0, 83], |y| y);
    let node = dir.path().join("node1");
    let args = [
        "preseed".into(),
        file.into_os_string(),
        "--name".into(),
        "stranger".into(),
        "--sockets".into(),
        node.into_os_string(),
        "--journal".into(),
        dir.path().join("journal.json").into_os_string(),
    ];
    let out = spawn(microcloud(args)).await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    microcloud_tests::assert_snapshot(
        "crates/microcloud/tests/snapshots/errors/preflight-not-listed.txt",
        &shown(&out, dir.path()),
    );
}

/// Apply: a service refuses a step. The report names the step, the
/// machine, the service's own message, what did not start, and what to
/// do. One step at a time, so that what ran before is the same every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_a_service_refusing_a_step() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(3, [127, 0, 84], dir.path()).await;
    sim.add_fault(
        "node2",
        FaultRule::on(Service::Microovn, "POST", "/core/control")
            .error_with(403, "simulated: this machine may not join"),
    )
    .unwrap();
    let file = example_at(dir.path(), [127, 0, 84], |y| y);
    let args = [
        "preseed".into(),
        file.into_os_string(),
        "--sim-dir".into(),
        dir.path().as_os_str().to_owned(),
        "--max-parallel".into(),
        "1".into(),
    ];
    let out = spawn(microcloud(args)).await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    // From the failure to the advice (the tables below are the formation's).
    let all = shown(&out, dir.path());
    let from = all.find("FAILED").expect("a failed step");
    let line_start = all[..from].rfind('\n').map_or(0, |i| i + 1);
    let advice = "Fix the cause and run the same command again: finished steps are not repeated.\n";
    let until = all
        .find(advice)
        .unwrap_or_else(|| panic!("no advice:\n{all}"))
        + advice.len();
    let stderr = &all[all.find("--- stderr").unwrap()..];
    microcloud_tests::assert_snapshot(
        "crates/microcloud/tests/snapshots/errors/apply-refused.txt",
        &format!("{}\n{stderr}", &all[line_start..until]),
    );
}

/// Trust: a joiner with another passphrase. Both sides stop with exit 4,
/// say that the passphrases differ, and print neither passphrase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_a_joiner_with_the_wrong_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = start_sim(2, [127, 0, 85], dir.path()).await;
    let file = example_at(dir.path(), [127, 0, 85], |y| {
        let cut = y.find("  - name: node3").unwrap();
        let rest = &y[y.find("\novn:").unwrap()..];
        format!(
            "{}{}\nlookup_timeout: 5\nsession_timeout: 5\n",
            &y[..cut],
            &rest[1..]
        )
    });
    let run = |node: &str, passphrase: Option<&str>| {
        let mut c = microcloud([
            "preseed",
            file.to_str().unwrap(),
            "--name",
            node,
            "--address",
            if node == "node1" {
                "127.0.85.1"
            } else {
                "127.0.85.2"
            },
            "--sockets",
            dir.path().join(node).to_str().unwrap(),
            "--journal",
            dir.path()
                .join(format!("journal-{node}.json"))
                .to_str()
                .unwrap(),
        ]);
        if let Some(p) = passphrase {
            c.env("MICROCLOUD_SESSION_PASSPHRASE", p);
        }
        spawn(c)
    };
    let initiator = run("node1", None);
    let joiner = run("node2", Some("not the passphrase"));
    let joiner = joiner.await.unwrap();
    let initiator = initiator.await.unwrap();
    assert_eq!(
        joiner.status.code(),
        Some(4),
        "{}",
        shown(&joiner, dir.path())
    );
    assert_eq!(
        initiator.status.code(),
        Some(4),
        "{}",
        shown(&initiator, dir.path())
    );
    for out in [&initiator, &joiner] {
        let all = shown(out, dir.path());
        assert!(!all.contains("not the passphrase") && !all.contains("simulated cluster"));
    }
    let both = format!(
        "=== initiator (node1)\n{}=== joiner (node2)\n{}",
        shown(&initiator, dir.path()),
        shown(&joiner, dir.path())
    );
    microcloud_tests::assert_snapshot(
        "crates/microcloud/tests/snapshots/errors/trust-wrong-passphrase.txt",
        &normalise_session_clock(&normalise_peers(&both)),
    );
}
