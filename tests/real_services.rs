//! The real-services tier: `microcloud preseed` against Debian's LXD
//! 5.0.2, OVN 23.03 and Ceph 16 running in network namespaces, with
//! simulated MicroCeph and MicroOVN (see `real_lab.rs` for what is real and
//! what is simulated).
//!
//! These tests are `#[ignore]`d in the ordinary test run: they need root,
//! the Debian packages and a couple of minutes. `bash tests/real/run.sh`
//! (which `.ci/run` runs as its second stage) installs the packages and
//! runs them with `--ignored`; without root or packages they fail saying
//! what is missing, never skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Instant;

use microcloud_tests::real_cluster::{check_cluster, preseed, run_all, start};
use microcloud_tests::real_lab::RealLab;
use microcloud_tests::testbed::Finished;

/// `microcloud preseed --dry-run` on node1 with `text` as the preseed.
fn dry_run(lab: &RealLab, name: &str, text: &str) -> (Option<i32>, String) {
    let path = lab.work.join(name);
    std::fs::write(&path, text).unwrap();
    let out = lab
        .microcloud("node1", &path)
        .arg("--dry-run")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// What MicroCloud would ask of LXD but 5.0.2 cannot do is refused by the
/// planner, from the real LXD's API extensions (dry runs: nothing is
/// sent); and disks chosen by filters get a warning, as 5.0.2 does not
/// report mounts (its root disk looks free).
fn refusals_on_lxd_5_0_2(lab: &RealLab, file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let local = format!(
        "      local:\n        path: {}\n",
        lab.machine("node1").local_disk
    );
    assert!(text.contains(&local), "{text}");

    let wipe = text.replace(&local, &format!("{local}        wipe: true\n"));
    let (code, out) = dry_run(lab, "wipe.yaml", &wipe);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(
            "error: wiping the local disk of `node1` needs the LXD API extension \
             storage_pool_source_wipe, which its LXD 5.0.2 lacks"
        ),
        "{out}"
    );

    let cephfs = text.replace(
        "ceph:\n  public_network",
        "ceph:\n  cephfs: true\n  public_network",
    );
    let (code, out) = dry_run(lab, "cephfs.yaml", &cephfs);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(
            "error: CephFS needs the LXD API extension storage_cephfs_create_missing, \
             which LXD 5.0.2 on `node1` lacks"
        ),
        "{out}"
    );

    let filter = text.replace(&local, "").replace(
        "lxd:\n",
        "storage:\n  local:\n    - find: size > 1GiB\n\nlxd:\n",
    );
    let (code, out) = dry_run(lab, "filter.yaml", &filter);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "LXD 5.0.2 on node1 does not report whether a disk is mounted (it lacks the API \
             extension resources_disk_mounted), so the filters may have chosen a disk in use"
        ),
        "{out}"
    );
}

/// The initiator's final line says nothing changed.
fn assert_nothing_changed(runs: &[Finished]) {
    assert!(
        runs[0]
            .stdout
            .contains("MicroCloud is ready: 0 step(s) changed something"),
        "a re-run must change nothing (what every machine printed is above)"
    );
}

#[test]
#[ignore = "needs root, Debian's lxd, ovn and ceph packages and about 2 minutes: run by tests/real/run.sh"]
fn three_machines_form_a_cluster_on_real_services_then_a_fourth_joins() {
    let lab = start(4);
    let [n1, n2, n3, n4] = ["node1", "node2", "node3", "node4"].map(|n| lab.machine(n));

    // What 5.0.2 cannot do is refused before anything is sent.
    let t = Instant::now();
    let one = preseed(&lab, "one.yaml", n1, &[n1]);
    refusals_on_lxd_5_0_2(&lab, &one);
    eprintln!("dry runs: {:.1} s", t.elapsed().as_secs_f64());

    // Every machine runs the same file; node1 initiates.
    let three = preseed(&lab, "three.yaml", n1, &[n1, n2, n3]);
    let runs = run_all(&lab, &three, &["node1", "node2", "node3"]);
    assert!(runs[0].stdout.contains("MicroCloud is ready"));
    check_cluster(&lab, &[n1, n2, n3]);

    let runs = run_all(&lab, &three, &["node1", "node2", "node3"]);
    assert_nothing_changed(&runs);
    check_cluster(&lab, &[n1, n2, n3]);

    // Add mode: node1 (a member, not listed) brings node4 in.
    let add = preseed(&lab, "add.yaml", n1, &[n4]);
    run_all(&lab, &add, &["node1", "node4"]);
    check_cluster(&lab, &[n1, n2, n3, n4]);

    let runs = run_all(&lab, &add, &["node1", "node4"]);
    assert_nothing_changed(&runs);
}
