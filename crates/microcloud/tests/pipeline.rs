//! The example CI pipeline (`examples/pipeline/ci-provision.sh`) against
//! simulated clusters: a formation that succeeds, and one whose apply
//! fails, as a pipeline sees them (output and exit status).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use simulators::{FaultRule, Service};
use std::path::PathBuf;
use std::process::{Command, Output};
use support::{example_at, root, start_sim, text};

/// The script needs jq; without it the test fails saying how to get it
/// (`.ci/run` installs it).
fn require_jq() {
    let found = Command::new("jq")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "the pipeline example needs jq, which is not installed: run `apt-get install -y jq` \
         (as root; `.ci/run` does it before the tests)"
    );
}

/// Forms the shipped simulated example at `base` with the script; returns
/// its output with the temporary directory shown as `<dir>`.
async fn provision(base: [u8; 3], fault: Option<FaultRule>) -> (Output, String, PathBuf) {
    require_jq();
    let dir = tempfile::tempdir().unwrap().keep();
    let sim = start_sim(3, base, &dir).await;
    if let Some(rule) = fault {
        sim.add_fault("node2", rule).unwrap();
    }
    let file = example_at(&dir, base, |yaml| yaml);
    let out = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || {
            Command::new("bash")
                .arg(root().join("examples/pipeline/ci-provision.sh"))
                .arg(&file)
                .arg("--sim-dir")
                .arg(&dir)
                .env("MICROCLOUD", env!("CARGO_BIN_EXE_microcloud"))
                .env("OUT", dir.join("out"))
                .env_remove("MICROCLOUD_SESSION_PASSPHRASE")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    drop(sim);
    let shown = format!("{}--- stderr\n{}", text(&out.stdout), text(&out.stderr))
        .replace(dir.to_str().unwrap(), "<dir>");
    (out, shown, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_forms_a_cluster_and_reads_the_report() {
    let (out, shown, dir) = provision([127, 0, 81], None).await;
    assert_eq!(out.status.code(), Some(0), "{shown}");
    microcloud_tests::assert_snapshot(
        "crates/microcloud/tests/snapshots/pipeline-formed.txt",
        &shown,
    );
    // It kept what a pipeline would archive.
    for file in ["plan.json", "events.jsonl", "report.json"] {
        assert!(dir.join("out").join(file).exists(), "{file}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_reports_a_failed_step_and_exits_one() {
    let rule = FaultRule::on(Service::Lxd, "PUT", "/1.0/cluster")
        .error_with(403, "simulated: joining is forbidden here");
    let (out, shown, dir) = provision([127, 0, 82], Some(rule)).await;
    assert_eq!(out.status.code(), Some(1), "{shown}");
    // How many steps ran beside the failed one depends on timing: the
    // lines that do not are pinned.
    let error = "step lxd.join@node2 on node2: joining the LXD cluster: LXD on node node2, \
                 PUT /1.0/cluster: the service answered 403: simulated: joining is forbidden here";
    for expected in [
        "== plan (dry run)\n  bootstrap with initiator node1: 49 steps, 49 to do\n== apply\n",
        &format!("  failed (node2): {error}\n"),
        "  stopping: step lxd.join@node2 failed\n== report\n  outcome failed: ",
        &format!("  FAILED lxd.join@node2 on node2: {error}\n"),
        "--- stderr\nci-provision: the run failed; the report names the step and what to do\n",
    ] {
        assert!(shown.contains(expected), "{expected}\nnot in\n{shown}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
