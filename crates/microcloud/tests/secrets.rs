//! The session passphrase never leaves the preseed, and no private key is
//! ever written: both are searched for in everything the commands print
//! and write (standard output and error in human and JSON output, the
//! dry-run plan and `plan` JSON, progress events, the final and failure
//! reports, the journal and every other file the runs leave behind), for
//! a formation on one simulated cluster and one across three machines
//! (three processes: trust session and agents).
//!
//! Every verbosity is covered (`-v`, `-vv`, and `RUST_LOG=trace`, which
//! logs every crate, the TLS and HTTP libraries included), and `--report`
//! files. Each command is one line below, so that a new output is covered
//! by adding a line: the search takes every file under the test's
//! directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use simulators::{FaultRule, Service};
use std::path::{Path, PathBuf};
use std::process::Output;
use support::{example_at, microcloud, spawn, start_sim, strings};

/// The passphrase, distinctive enough that any occurrence is a leak.
const SECRET: &str = "Tr0ub4dor&3 correct horse 7a1f";

/// The shipped simulated example on `base`, with the test's passphrase.
fn preseed_file(dir: &Path, base: [u8; 3]) -> PathBuf {
    example_at(dir, base, |yaml| {
        let yaml = yaml.replace(
            "session_passphrase: simulated cluster",
            &format!("session_passphrase: \"{SECRET}\""),
        );
        assert!(yaml.contains(SECRET));
        yaml
    })
}

/// What must never appear.
fn leaks(text: &str) -> Vec<&'static str> {
    [SECRET, "PRIVATE KEY"]
        .into_iter()
        .filter(|s| text.contains(s))
        .collect()
}

/// Asserts that neither output of `out` leaks; returns stdout.
fn check(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stdout.is_empty() || !stderr.is_empty(),
        "{what} printed nothing"
    );
    assert_eq!(
        leaks(&stdout),
        Vec::<&str>::new(),
        "{what}, stdout:\n{stdout}"
    );
    assert_eq!(
        leaks(&stderr),
        Vec::<&str>::new(),
        "{what}, stderr:\n{stderr}"
    );
    stdout
}

/// Every file under `dir` except the preseeds, which must hold no secret:
/// journals, locks, anything a run left behind. Returns how many were read.
fn check_files(dir: &Path, preseeds: &[&Path]) -> usize {
    let mut count = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && !preseeds.contains(&path.as_path()) {
                let bytes = std::fs::read(&path).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert_eq!(
                    leaks(&text),
                    Vec::<&str>::new(),
                    "{} holds a secret",
                    path.display()
                );
                count += 1;
            }
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_passphrase_and_keys_appear_in_no_output_of_a_simulated_formation() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(3, [127, 0, 74], dir.path()).await;
    let file = preseed_file(dir.path(), [127, 0, 74]);
    let f = file.display().to_string();
    let d = dir.path().display().to_string();
    // An invalid copy: the passphrase given twice, so that an error
    // points at a line holding it.
    let invalid = dir.path().join("invalid.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &invalid,
        format!("{text}session_passphrase: \"{SECRET}\"\n"),
    )
    .unwrap();
    let bad = invalid.display().to_string();

    let report = |n: u8| dir.path().join(format!("report-{n}")).display().to_string();
    let (r1, r2, r3) = (report(1), report(2), report(3));
    // (arguments, RUST_LOG, expected exit status).
    let cases: Vec<(Vec<String>, Option<&str>, i32)> = vec![
        (strings(&["validate", &bad]), None, 2),
        (
            strings(&["validate", &bad, "--format", "json", "-vv"]),
            None,
            2,
        ),
        (
            strings(&["validate", &f, "--format", "json"]),
            Some("trace"),
            0,
        ),
        (strings(&["plan", &f, "--sim-dir", &d, "-v"]), None, 0),
        (
            strings(&["plan", &f, "--sim-dir", &d, "--format", "json"]),
            None,
            0,
        ),
        (
            strings(&["preseed", &f, "--sim-dir", &d, "--dry-run", "-vv"]),
            None,
            0,
        ),
        (
            strings(&[
                "preseed",
                &f,
                "--sim-dir",
                &d,
                "--dry-run",
                "--output",
                "json",
            ]),
            None,
            0,
        ),
        // A run that fails (a permanent fault on a MicroCeph join): the
        // failure report and the journal of a failed run.
        (
            strings(&["preseed", &f, "--sim-dir", &d, "-vv", "--report", &r1]),
            None,
            1,
        ),
        (
            strings(&[
                "preseed",
                &f,
                "--sim-dir",
                &d,
                "--output",
                "json",
                "--report",
                &r2,
            ]),
            Some("trace"),
            0,
        ),
        (
            strings(&["preseed", &f, "--sim-dir", &d, "-v", "--report", &r3]),
            None,
            0,
        ),
    ];
    sim.add_fault(
        "node2",
        FaultRule::on(Service::Microceph, "POST", "/core/control")
            .error_with(403, "refused by the test")
            .times(1),
    )
    .unwrap();
    let mut printed = 0;
    for (args, log, code) in cases {
        let what = format!("{} (RUST_LOG={log:?})", args.join(" "));
        let mut command = microcloud(&args);
        if let Some(directives) = log {
            command.env("RUST_LOG", directives);
        }
        let out = spawn(command).await.unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{what}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        printed += check(&what, &out).len();
    }
    assert!(printed > 10_000, "the commands printed {printed} bytes");
    let journal = dir.path().join("microcloud-journal.json");
    assert!(journal.exists());
    for r in [&r1, &r2, &r3] {
        assert!(Path::new(r).exists(), "{r} was written");
    }
    assert!(check_files(dir.path(), &[&file, &invalid]) > 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_passphrase_and_keys_appear_in_no_output_of_a_formation_across_machines() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = start_sim(3, [127, 0, 75], dir.path()).await;
    let file = preseed_file(dir.path(), [127, 0, 75]);
    let children: Vec<_> = (1..=3)
        .map(|i| {
            let node = format!("node{i}");
            let mut command = microcloud(["preseed"]);
            command
                .arg(&file)
                .arg("--name")
                .arg(&node)
                .arg("--address")
                .arg(format!("127.0.75.{i}"))
                .arg("--sockets")
                .arg(dir.path().join(&node))
                .arg("--journal")
                .arg(dir.path().join(format!("journal-{node}.json")))
                .arg("--report")
                .arg(dir.path().join(format!("report-{node}")))
                .args(match i {
                    1 => &["-vv"][..],
                    2 => &["--output", "json", "-v"],
                    _ => &[],
                })
                // node3 logs everything every crate logs.
                .env("RUST_LOG", if i == 3 { "trace" } else { "" });
            spawn(command)
        })
        .collect();
    let mut runs = Vec::new();
    for child in children {
        runs.push(child.await.unwrap());
    }
    for (i, out) in runs.iter().enumerate() {
        let what = format!("node{}", i + 1);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{what}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        check(&what, out);
    }
    assert!(dir.path().join("journal-node1.json").exists());
    assert!(check_files(dir.path(), &[&file]) > 1);
}
