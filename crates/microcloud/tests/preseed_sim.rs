//! `microcloud preseed` forms simulated clusters: the real binary against
//! the simulators over their unix sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use simulators::{Sim, SimBuilder};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn start(nodes: usize, base: Ipv4Addr, dir: &Path) -> Sim {
    SimBuilder::new()
        .nodes(nodes)
        .base_ip(base)
        .time_scale(0.05)
        .state_dir(dir)
        .start()
        .await
        .unwrap()
}

fn preseed(args: &[&str], stdin_file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_microcloud"))
        .arg("preseed")
        .args(args)
        .arg(stdin_file)
        .current_dir(root())
        .env_remove("MICROCLOUD_SESSION_PASSPHRASE")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The shipped simulated example, moved to `base` (the simulators of
/// parallel tests need distinct addresses).
fn example_at(base: [u8; 3], dir: &Path) -> PathBuf {
    let yaml = std::fs::read_to_string(root().join("examples/simulated/three-nodes.yaml")).unwrap();
    let yaml = yaml.replace(
        "127.0.99.",
        &format!("{}.{}.{}.", base[0], base[1], base[2]),
    );
    let path = dir.join("cluster.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_three_simulated_machines_and_a_rerun_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = start(3, Ipv4Addr::new(127, 0, 71, 1), dir.path()).await;
    let file = example_at([127, 0, 71], dir.path());
    let sim_dir = dir.path().to_str().unwrap();

    let first = tokio::task::spawn_blocking({
        let file = file.clone();
        let sim_dir = sim_dir.to_owned();
        move || preseed(&["--sim-dir", &sim_dir], &file)
    })
    .await
    .unwrap();
    let out = text(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{out}\n{}",
        text(&first.stderr)
    );
    assert!(
        out.starts_with("Plan: 48 steps, 48 to do (0 already done)\n"),
        "{out}"
    );
    assert!(
        out.contains("ok node2: join LXD at 127.0.71.2:8443 via 127.0.71.1:8443"),
        "{out}"
    );
    assert!(
        out.contains("MicroCloud is ready: 48 step(s) changed something, 0 were already done"),
        "{out}"
    );

    let again = tokio::task::spawn_blocking({
        let file = file.clone();
        let sim_dir = sim_dir.to_owned();
        move || preseed(&["--sim-dir", &sim_dir, "--output", "json"], &file)
    })
    .await
    .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let lines: Vec<serde_json::Value> = text(&again.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|l| l["v"] == 1));
    let report = lines.last().unwrap();
    assert_eq!(report["event"], "report");
    assert_eq!(report["succeeded"], true);
    assert_eq!(
        report["changed"], 0,
        "a formed cluster needs nothing: {report}"
    );
    assert_eq!(report["already_done"], 48);
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
    let sim = start(1, Ipv4Addr::new(127, 0, 72, 1), dir.path()).await;
    let node = sim.node("node1").unwrap();
    let yaml = "initiator: node1\nlookup_subnet: 127.0.72.0/24\nlxd:\n  local_pool_driver: btrfs\n\
                systems:\n  - name: node1\n    ovn_uplink_interface: enp6s0\n\
                ovn:\n  ipv4_gateway: 192.0.2.1/24\n  ipv4_range: 192.0.2.10-192.0.2.20\n\
                storage:\n  local:\n    - find: type == nvme\n";
    let file = dir.path().join("single.yaml");
    std::fs::write(&file, yaml).unwrap();
    let args: Vec<String> = vec![
        "--name".into(),
        "node1".into(),
        "--lxd-socket".into(),
        node.lxd_socket().display().to_string(),
        "--microceph-socket".into(),
        node.microceph_socket().display().to_string(),
        "--microovn-socket".into(),
        node.microovn_socket().display().to_string(),
        "--journal".into(),
        dir.path().join("journal.json").display().to_string(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        preseed(&args, &file)
    })
    .await
    .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("MicroCloud is ready"), "{stdout}");
}

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
        ],
        &root().join("examples/multicast-3-nodes.yaml"),
    );
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
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.json");
    let lock_path = dir.path().join("journal.json.lock");
    let holder = std::fs::File::create(&lock_path).unwrap();
    holder.try_lock().unwrap();
    let args = [
        "--name",
        "micro01",
        "--lxd-socket",
        "/nonexistent/unix.socket",
        "--journal",
        journal.to_str().unwrap(),
    ];
    let out = preseed(&args, &root().join("examples/multicast-3-nodes.yaml"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("another `microcloud preseed` is running on this machine"),
        "{stderr}"
    );
    assert!(stderr.contains(lock_path.to_str().unwrap()), "{stderr}");

    // Once released, the run gets past the lock (and fails on the socket),
    // and a lock it creates is private.
    drop(holder);
    std::fs::remove_file(&lock_path).unwrap();
    let out = preseed(&args, &root().join("examples/multicast-3-nodes.yaml"));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("through its LXD"), "{stderr}");
    let mode = std::fs::metadata(&lock_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn an_invalid_preseed_exits_two_before_touching_anything() {
    let out = preseed(
        &["--name", "micro01"],
        &root().join("examples/invalid/timeouts.yaml"),
    );
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_dry_run_read_a_simulated_cluster_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = start(3, Ipv4Addr::new(127, 0, 73, 1), dir.path()).await;
    let file = example_at([127, 0, 73], dir.path());
    let sim_dir = dir.path().to_str().unwrap().to_owned();
    let (plan, dry) = tokio::task::spawn_blocking(move || {
        let plan = Command::new(env!("CARGO_BIN_EXE_microcloud"))
            .args(["plan", "--sim-dir", &sim_dir])
            .arg(&file)
            .output()
            .unwrap();
        let dry = preseed(&["--sim-dir", &sim_dir, "--dry-run"], &file);
        (plan, dry)
    })
    .await
    .unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    let plan_text = text(&plan.stdout);
    assert!(
        plan_text.starts_with("Plan: form a new cluster (initiator node1)"),
        "{plan_text}"
    );
    assert!(
        plan_text.contains("Steps (48 in all, 0 already done)"),
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
