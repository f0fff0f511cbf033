//! `microcloud preseed` forms simulated clusters: the real binary against
//! the simulators over their unix sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use support::{
    example_at, microcloud, normalise_times, one_machine_yaml, root, spawn, start_sim, text,
};

/// `microcloud preseed ARGS FILE`.
fn preseed<S: AsRef<OsStr>>(args: &[S], file: &Path) -> Command {
    let mut command = microcloud(["preseed"]);
    command.args(args).arg(file);
    command
}

/// Runs `microcloud preseed ARGS FILE` off the async runtime.
async fn preseed_async<S: AsRef<OsStr>>(args: &[S], file: &Path) -> Output {
    spawn(preseed(args, file)).await.unwrap()
}

/// The human report of a run (from the summary line on), with times, the
/// temporary directory and OSD numbers (which depend on the order the
/// disks were added in) normalised.
fn human_report(stdout: &str, dir: &Path) -> String {
    let start = stdout
        .find("\nMicroCloud is ready")
        .expect("a final report")
        + 1;
    let report = normalise_times(&stdout[start..]).replace(dir.to_str().unwrap(), "<dir>");
    report
        .lines()
        .map(|line| {
            // `  node1    3    /dev/disk/...` in the OSD table.
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(m), Some(n), Some(disk))
                    if m.starts_with("node")
                        && n.chars().all(|c| c.is_ascii_digit())
                        && disk.starts_with("/dev/") =>
                {
                    line.replacen(&format!(" {n} "), &format!(" {} ", "#".repeat(n.len())), 1)
                }
                _ => line.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The JSON report with times, the journal path and OSD numbers normalised.
fn normalise_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key.ends_with("_s") && v.is_number() {
                    *v = serde_json::json!(0);
                } else if key == "osd" || key == "journal" {
                    *v = serde_json::json!("#");
                } else {
                    normalise_json(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(normalise_json),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_three_simulated_machines_and_a_rerun_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = start_sim(3, [127, 0, 71], dir.path()).await;
    let file = example_at(dir.path(), [127, 0, 71], |yaml| yaml);
    let sim_dir = dir.path().to_str().unwrap();

    let first = preseed_async(&["--sim-dir", sim_dir], &file).await;
    let out = text(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{out}\n{}",
        text(&first.stderr)
    );
    assert!(
        out.starts_with("Plan: 49 steps, 49 to do (0 already done)\n"),
        "{out}"
    );
    assert!(
        out.contains("ok node2: join LXD at 127.0.71.2:8443 via 127.0.71.1:8443"),
        "{out}"
    );
    // Not a terminal: plain lines, never colour, then the final report.
    assert!(!out.contains('\x1b'), "{out}");
    assert!(
        out.contains("MicroCloud is ready: 48 step(s) changed something, 1 were already done"),
        "{out}"
    );
    microcloud_tests::assert_snapshot(
        "crates/microcloud/tests/snapshots/sim-formed.txt",
        &human_report(&out, dir.path()),
    );

    let report_file = dir.path().join("report.json");
    let again = preseed_async(
        &[
            "--sim-dir",
            sim_dir,
            "--output",
            "json",
            "--report",
            report_file.to_str().unwrap(),
        ],
        &file,
    )
    .await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let lines: Vec<serde_json::Value> = text(&again.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|l| l["v"] == 1 && l["t"].is_number()));
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "report");
    let report = &last["report"];
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["outcome"], "succeeded");
    assert_eq!(
        report["steps"]["changed"], 0,
        "a formed cluster needs nothing: {report}"
    );
    assert_eq!(report["steps"]["already_done"], 49);
    // The report file holds the same document.
    let from_file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    assert_eq!(&from_file, report);
    let mut normalised = report.clone();
    normalise_json(&mut normalised);
    microcloud_tests::assert_snapshot(
        "crates/microcloud/tests/snapshots/sim-rerun.json",
        &(serde_json::to_string_pretty(&normalised).unwrap() + "\n"),
    );

    let journal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("microcloud-journal.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(journal["version"], 1);
    assert_eq!(journal["finished"]["succeeded"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_machine_against_its_own_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(1, [127, 0, 72], dir.path()).await;
    let node = sim.node("node1").unwrap();
    let yaml = one_machine_yaml(
        [127, 0, 72],
        "storage:\n  local:\n    - find: type == nvme\n",
    );
    let file = dir.path().join("single.yaml");
    std::fs::write(&file, yaml).unwrap();
    let args = [
        "--name".into(),
        "node1".into(),
        "--lxd-socket".into(),
        node.lxd_socket(),
        "--microceph-socket".into(),
        node.microceph_socket(),
        "--microovn-socket".into(),
        node.microovn_socket(),
        "--journal".into(),
        dir.path().join("journal.json"),
    ];
    let out = preseed_async(&args, &file).await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("MicroCloud is ready"), "{stdout}");
}

/// Without waiting (`--wait-ready 0`), a missing LXD fails at once.
#[test]
fn a_machine_without_a_reachable_lxd_says_which_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("lxd/unix.socket");
    let out = preseed(
        &[
            "--name",
            "micro01",
            "--lxd-socket",
            &socket.display().to_string(),
            "--wait-ready",
            "0",
        ],
        &root().join("examples/multicast-3-nodes.yaml"),
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot read what this machine (micro01) has through its LXD"),
        "{stderr}"
    );
    assert!(stderr.contains(&socket.display().to_string()), "{stderr}");
}

#[test]
fn a_second_run_on_the_same_machine_is_refused_by_the_lock() {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.json");
    // The machine's lock (`MICROCLOUD_LOCK_FILE` stands for
    // /run/microcloud/preseed.lock), not one beside the journal.
    let lock_path = dir.path().join("run/preseed.lock");
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let mut holder = std::fs::File::create(&lock_path).unwrap();
    holder.try_lock().unwrap();
    writeln!(holder, "4242").unwrap();
    let args = [
        "--name",
        "micro01",
        "--lxd-socket",
        "/nonexistent/unix.socket",
        "--wait-ready",
        "0",
        "--journal",
        journal.to_str().unwrap(),
    ];
    let run = || {
        preseed(&args, &root().join("examples/multicast-3-nodes.yaml"))
            .env("MICROCLOUD_LOCK_FILE", &lock_path)
            .output()
            .unwrap()
    };
    let started = std::time::Instant::now();
    let out = run();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    // It first waited for the holder to end (the grace), then gave up.
    assert!(started.elapsed() >= std::time::Duration::from_secs(12));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr,
        format!(
            "another `microcloud preseed` (PID 4242) holds {lock}; waiting up to 12 s for it to end (a machine's part of a run whose initiator is gone ends within 10 s)\n\
             error: another `microcloud preseed` (PID 4242) is running on this machine: it holds {lock}; nothing was changed. Wait for it to end, or stop it, then run again\n",
            lock = lock_path.display()
        )
    );
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
    assert!(
        !journal.exists(),
        "the refused run must not start a journal"
    );

    // Once released, the run gets past the lock (and fails on the socket),
    // and a lock it creates is private and names it.
    drop(holder);
    std::fs::remove_file(&lock_path).unwrap();
    let out = run();
    let stderr = text(&out.stderr);
    assert!(stderr.contains("through its LXD"), "{stderr}");
    let mode = std::fs::metadata(&lock_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let pid: u32 = std::fs::read_to_string(&lock_path)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid > 0);
}

#[test]
fn an_invalid_preseed_exits_two_before_touching_anything() {
    let out = preseed(
        &["--name", "micro01"],
        &root().join("examples/invalid/timeouts.yaml"),
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_dry_run_read_a_simulated_cluster_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = start_sim(3, [127, 0, 73], dir.path()).await;
    let file = example_at(dir.path(), [127, 0, 73], |yaml| yaml);
    let sim_dir = dir.path().to_str().unwrap();
    let mut plan = microcloud(["plan", "--sim-dir", sim_dir]);
    plan.arg(&file);
    let plan = spawn(plan).await.unwrap();
    let dry = preseed_async(&["--sim-dir", sim_dir, "--dry-run"], &file).await;
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    let plan_text = text(&plan.stdout);
    assert!(
        plan_text.starts_with("Plan: form a new cluster (initiator node1)"),
        "{plan_text}"
    );
    assert!(
        plan_text.contains("Steps (49 in all, 0 already done)"),
        "{plan_text}"
    );
    assert_eq!(
        text(&dry.stdout),
        plan_text,
        "--dry-run prints the same plan"
    );
    // Nothing was applied: no journal, and planning again gives the same plan.
    assert!(!dir.path().join("microcloud-journal.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_deadlines_come_from_the_preseed_and_the_command_line_wins() {
    use simulators::{FaultRule, Service};
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(3, [127, 0, 74], dir.path()).await;
    // node1's MicroCeph never answers a disk addition.
    sim.add_fault(
        "node1",
        FaultRule::on(Service::Microceph, "POST", "/1.0/disks").hang(),
    )
    .unwrap();
    let file = example_at(dir.path(), [127, 0, 74], |yaml| yaml);
    let yaml = std::fs::read_to_string(&file).unwrap();
    let sim_dir = dir.path().to_str().unwrap();

    let expect_ceph_deadline = |out: &Output, what: &str| {
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}\n{stdout}\n{}",
            text(&out.stderr)
        );
        assert!(
            stdout.contains("on node1: did not finish within 1 s (the deadline of `ceph` steps)"),
            "{what}\n{stdout}"
        );
        assert!(
            stdout.contains(
                "hint: if the service is only slow, give `ceph` steps more time: --timeout ceph=2s, or `timeouts: {ceph: 2s}` in the preseed"
            ),
            "{what}\n{stdout}"
        );
    };

    // The preseed's `timeouts:` sets the deadline...
    std::fs::write(&file, format!("{yaml}\ntimeouts:\n  ceph: 1s\n")).unwrap();
    let out = preseed_async(&["--sim-dir", sim_dir], &file).await;
    expect_ceph_deadline(&out, "from the preseed");

    // ...and --timeout overrides it.
    std::fs::write(&file, format!("{yaml}\ntimeouts:\n  ceph: 1h\n")).unwrap();
    let out = preseed_async(&["--sim-dir", sim_dir, "--timeout", "ceph=1s"], &file).await;
    expect_ceph_deadline(&out, "from the command line");

    // A bad override is refused before anything runs.
    let out = preseed_async(&["--sim-dir", sim_dir, "--timeout", "disks=1s"], &file).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("unknown step class `disks`; classes (and defaults): bootstrap (5m)"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs `microcloud preseed ARGS FILE` on a pseudo-terminal (util-linux
/// `script`), so that standard output is a terminal.
fn preseed_on_a_terminal(args: &[String], file: &Path, no_color: bool) -> (Option<i32>, String) {
    let mut command = format!("{} preseed", env!("CARGO_BIN_EXE_microcloud"));
    for a in args
        .iter()
        .map(String::as_str)
        .chain([file.to_str().unwrap()])
    {
        command.push_str(&format!(" '{a}'"));
    }
    let mut script = Command::new("script");
    script
        .args(["-qefc", &command, "/dev/null"])
        .current_dir(root())
        .env("TERM", "xterm-256color")
        .env("COLUMNS", "160")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG");
    if no_color {
        script.env("NO_COLOR", "1");
    }
    let out = script
        .output()
        .expect("util-linux `script` runs the command on a terminal");
    (out.status.code(), text(&out.stdout))
}

/// Whether `text` sets a colour or style (SGR), as opposed to moving the
/// cursor (which the live view does either way).
fn has_sgr(text: &str) -> bool {
    text.split('\x1b').skip(1).any(|rest| {
        rest.strip_prefix('[').is_some_and(|r| {
            let end = r.find(|c: char| !(c.is_ascii_digit() || c == ';'));
            end.is_some_and(|e| r[e..].starts_with('m') && e > 0 && &r[..e] != "0")
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_a_live_view_in_colour_unless_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = start_sim(3, [127, 0, 75], dir.path()).await;
    let file = example_at(dir.path(), [127, 0, 75], |yaml| yaml);
    let args = vec!["--sim-dir".to_owned(), dir.path().display().to_string()];

    let (code, screen) = tokio::task::spawn_blocking({
        let (args, file) = (args.clone(), file.clone());
        move || preseed_on_a_terminal(&args, &file, true)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{screen}");
    assert!(!has_sgr(&screen), "NO_COLOR, yet colour:\n{screen:?}");
    // The live view drew its bars (header with step N of M, a line per
    // machine), then made way for the report.
    assert!(screen.contains("/49 steps"), "{screen}");
    assert!(screen.contains("node2"), "{screen}");
    assert!(
        screen.contains("MicroCloud is ready: 48 step(s) changed something"),
        "{screen}"
    );
    assert!(screen.contains("LXD cluster members"), "{screen}");

    let (code, screen) =
        tokio::task::spawn_blocking(move || preseed_on_a_terminal(&args, &file, false))
            .await
            .unwrap();
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        has_sgr(&screen),
        "a terminal without NO_COLOR gets colour:\n{screen:?}"
    );
    assert!(screen.contains("already present"), "{screen}");
}
