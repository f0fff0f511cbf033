//! Waiting for the services: `microcloud wait-ready` and `microcloud
//! preseed --wait-ready` against simulated services over real unix
//! sockets that appear late, never, or without a daemon behind them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;
use support::{microcloud, one_machine_yaml, root, sim_builder, spawn, start_sim, text};
use tokio::task::JoinHandle;

/// Starts `microcloud preseed EXTRA FILE` as `node1` on the sockets under
/// `dir/node1`, waiting up to `wait` for its services.
fn preseed_node1(dir: &Path, file: &Path, wait: &str, extra: &[&str]) -> JoinHandle<Output> {
    let mut command = microcloud([
        "preseed",
        "--name",
        "node1",
        "--sockets",
        dir.join("node1").to_str().unwrap(),
        "--journal",
        dir.join("journal.json").to_str().unwrap(),
        "--wait-ready",
        wait,
    ]);
    command.args(extra).arg(file);
    spawn(command)
}

/// Every problem `line` has against the committed events schema.
fn schema_problems(line: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/events.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator.iter_errors(line).map(|e| e.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_ready_waits_for_sockets_that_appear_late_and_reports_json_events() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("node1");
    let run = spawn(microcloud([
        "wait-ready",
        "--sockets",
        node.to_str().unwrap(),
        "--services",
        "lxd,microceph,microovn",
        "--timeout",
        "60s",
        "--output",
        "json",
    ]));
    // The services come up after the command started.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _sim = start_sim(1, [127, 0, 76], dir.path()).await;
    let out = run.await.unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for line in &lines {
        assert_eq!(schema_problems(line), Vec::<String>::new(), "{line}");
    }
    let lxd_socket = node.join("lxd/unix.socket").display().to_string();
    let first = &lines[0];
    assert_eq!(first["event"], "waiting", "{stdout}");
    assert_eq!(first["service"], "lxd");
    assert_eq!(first["socket"], lxd_socket.as_str());
    assert_eq!(first["state"], "socket missing");
    assert_eq!(first["timeout_s"], 60.0);
    for service in ["lxd", "microceph", "microovn"] {
        assert!(
            lines
                .iter()
                .any(|l| l["event"] == "ready" && l["service"] == service),
            "{service} never reported ready:\n{stdout}"
        );
    }
    // Nothing is said more than needed: one line per state change, and a
    // repeat at most every 5 s per service.
    let waiting = lines.iter().filter(|l| l["event"] == "waiting").count();
    assert!(waiting <= 3 * 2, "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_ready_gives_up_after_the_timeout_naming_what_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    // MicroCeph's socket exists but nothing listens on it any more.
    let ceph = dir.path().join("microceph/control.socket");
    std::fs::create_dir_all(ceph.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&ceph).unwrap());
    let started = std::time::Instant::now();
    let out = spawn(microcloud([
        "wait-ready",
        "--sockets",
        dir.path().to_str().unwrap(),
        "--services",
        "lxd,microceph",
        "--timeout",
        "2s",
    ]))
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the wait is bounded"
    );
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr).replace(dir.path().to_str().unwrap(), "<dir>");
    // The progress lines carry seconds; the snapshot keeps the last line.
    assert!(
        stderr.starts_with(
            "waiting for LXD at <dir>/lxd/unix.socket (socket missing) ... 0s of 2s\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "waiting for MicroCeph at <dir>/microceph/control.socket (not answering: Connection refused (os error 111)) ... 0s of 2s\n"
        ),
        "{stderr}"
    );
    let last = stderr.lines().last().unwrap().to_owned() + "\n";
    microcloud_tests::assert_snapshot(
        "crates/microcloud/tests/snapshots/errors/not-ready.txt",
        &last,
    );

    // The same in JSON: a `not_ready` event naming each service.
    let out = spawn(microcloud([
        "wait-ready",
        "--sockets",
        dir.path().to_str().unwrap(),
        "--services",
        "microceph",
        "--timeout",
        "0",
        "--output",
        "json",
    ]))
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(6));
    let last: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(schema_problems(&last), Vec::<String>::new());
    assert_eq!(last["event"], "not_ready");
    assert_eq!(last["services"][0]["service"], "microceph");
    assert_eq!(
        last["services"][0]["state"],
        "not answering: Connection refused (os error 111)"
    );
}

/// `preseed` started before its services waits for them, says so, and
/// then forms the cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preseed_waits_for_its_services_then_forms_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = one_machine_yaml(
        [127, 0, 77],
        "storage:\n  local:\n    - find: type == nvme\n",
    );
    let file = dir.path().join("single.yaml");
    std::fs::write(&file, yaml).unwrap();
    let run = preseed_node1(dir.path(), &file, "1m", &[]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _sim = start_sim(1, [127, 0, 77], dir.path()).await;
    let out = run.await.unwrap();
    let stdout = text(&out.stdout).replace(dir.path().to_str().unwrap(), "<dir>");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.starts_with(
            "waiting for LXD at <dir>/node1/lxd/unix.socket (socket missing) ... 0s of 1m\n"
        ),
        "{stdout}"
    );
    // OVN is asked for: MicroOVN is waited for too.
    assert!(
        stdout.contains(
            "waiting for MicroOVN at <dir>/node1/microovn/control.socket (socket missing)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("LXD at <dir>/node1/lxd/unix.socket is ready (after "),
        "{stdout}"
    );
    assert!(stdout.contains("MicroCloud is ready"), "{stdout}");
}

/// A preseed that does not ask for Ceph does not wait for a MicroCeph
/// that is not installed; one that asks for it does, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preseed_waits_only_for_the_services_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = sim_builder(1, [127, 0, 78], dir.path())
        .services(&[simulators::Service::Lxd, simulators::Service::Microovn])
        .start()
        .await
        .unwrap();
    let without = dir.path().join("without-ceph.yaml");
    std::fs::write(&without, one_machine_yaml([127, 0, 78], "")).unwrap();
    let out = preseed_node1(dir.path(), &without, "1m", &["--dry-run"])
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("Plan: form a new cluster"),
        "{}",
        text(&out.stdout)
    );

    let with = dir.path().join("with-ceph.yaml");
    std::fs::write(
        &with,
        one_machine_yaml(
            [127, 0, 78],
            "storage:\n  ceph:\n    - find: type == nvme\n",
        ),
    )
    .unwrap();
    let out = preseed_node1(dir.path(), &with, "1s", &["--dry-run"])
        .await
        .unwrap();
    let stdout = text(&out.stdout).replace(dir.path().to_str().unwrap(), "<dir>");
    assert_eq!(out.status.code(), Some(6), "{stdout}");
    assert!(
        stdout.ends_with(
            "error: not ready after 1s: MicroCeph at <dir>/node1/microceph/control.socket (socket missing); \
             check that it is installed and started (e.g. `snap services microceph`) and that the socket path is right, \
             then run again (a longer wait: --wait-ready, or wait-ready --timeout)\n"
        ),
        "{stdout}"
    );
}
