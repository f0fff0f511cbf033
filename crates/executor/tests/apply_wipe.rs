//! Wiping only the disk the plan selected, against the simulators: a disk
//! pulled, resized or mounted between planning and applying (the
//! simulated hardware is changed while the nodes run) is not wiped; the
//! step fails naming the machine, the disk and what changed, the run
//! stops, and once the disks are what should be wiped a re-run converges.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use executor::StepResult;
use executor::apply::ApplyError;
use planner::plan::Plan;
use simulators::LxdProfile;
use simulators::inventory::Partition;

const HELP: &str = "nothing was wiped. Check the disks of";

/// The failure of `step`, which must be a refused wipe.
fn refused(run: &Run, step: &str) -> String {
    match &run.report.results[step] {
        StepResult::Failed {
            failure: executor::Failure::Permanent(e @ ApplyError::WipeRefused { .. }),
            attempts: 1,
            ..
        } => e.to_string(),
        other => panic!("{step}: expected a refused wipe, got {other:?}"),
    }
}

fn wipes(plan: &Plan, step: &str) -> Vec<String> {
    plan.step(&executor::StepId::new(step))
        .unwrap_or_else(|| panic!("no step {step}"))
        .wipes
        .iter()
        .map(|w| format!("{} {} {} {}", w.member, w.path, w.serial, w.size))
        .collect()
}

/// Runs the same preseed again until it converges: it succeeds, and a
/// further run changes nothing.
async fn converges(sim: &simulators::Sim, seed: &Seed, what: &str) {
    run(sim, seed).await.assert_succeeded(what);
    let again = run(sim, seed).await;
    again.assert_succeeded(&format!("{what}, run again"));
    assert_eq!(again.report.count(executor::Outcome::Changed), 0, "{what}");
}

async fn pulled_ceph_disk(profile: LxdProfile) {
    let sim = start(3, profile).await;
    let seed = Seed::bootstrap(&sim, 3);
    let plan = plan(&sim, &seed).await;
    let path = "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-a-2";
    let step = format!("microceph.disk[{path}]@node2");
    assert_eq!(
        wipes(&plan, &step),
        [format!("node2 {path} ceph-a-2 214748364800")]
    );
    sim.node("node2")
        .unwrap()
        .edit_inventory(|inv| inv.disks.retain(|d| d.id != "sda"));

    let first = apply_plan(&sim, plan, &options(), StopAt::Never).await;
    assert!(!first.report.succeeded());
    assert_eq!(
        refused(&first, &step),
        format!(
            "step {step}: refusing to wipe {path} on node2: LXD on node2 no longer reports a disk at {path} (it was sda when planning); {HELP} node2 (`lxc info --resources`); run again once the disk is the one to wipe: the next run plans from the disks as they are then"
        )
    );
    // Planned again, node2 offers its remaining Ceph disk.
    converges(&sim, &seed, "the run after the disk was pulled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pulled_ceph_disk_is_not_wiped() {
    pulled_ceph_disk(LxdProfile::Current).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pulled_ceph_disk_is_not_wiped_5_0_2() {
    pulled_ceph_disk(LxdProfile::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resized_disk_is_another_disk() {
    let sim = start(3, LxdProfile::Current).await;
    let seed = Seed::bootstrap(&sim, 3);
    let plan = plan(&sim, &seed).await;
    let node3 = sim.node("node3").unwrap();
    node3.edit_inventory(|inv| {
        for d in inv.disks.iter_mut().filter(|d| d.id == "sdb") {
            d.size = 400 << 30;
        }
    });
    let first = apply_plan(&sim, plan, &options(), StopAt::Never).await;
    let path = "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_ceph-b-3";
    let step = format!("microceph.disk[{path}]@node3");
    assert_eq!(
        refused(&first, &step),
        format!(
            "step {step}: refusing to wipe {path} on node3: {path} on node3 is not the disk the plan selected (sdb): size was 214748364800 bytes, now 429496729600 bytes; {HELP} node3 (`lxc info --resources`); run again once the disk is the one to wipe: the next run plans from the disks as they are then"
        )
    );
    assert_eq!(node3.disk_holder("sdb"), None, "sdb was not touched");
    converges(&sim, &seed, "the run after the disk was resized").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_disk_mounted_after_planning_is_not_wiped_on_any_member() {
    let sim = start(3, LxdProfile::Current).await;
    let seed = Seed::bootstrap(&sim, 3);
    let plan = plan(&sim, &seed).await;
    // One cluster-wide creation wipes every member's local disk.
    assert_eq!(
        wipes(&plan, "lxd.pool.local"),
        (1..=3)
            .map(|i| format!(
                "node{i} /dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_local{i} local{i} 107374182400"
            ))
            .collect::<Vec<_>>()
    );
    let node3 = sim.node("node3").unwrap();
    let mount = |mounted: bool| {
        node3.edit_inventory(|inv| {
            for d in inv.disks.iter_mut().filter(|d| d.id == "nvme1n1") {
                d.mounted = mounted;
            }
        });
    };
    mount(true);
    let first = apply_plan(&sim, plan, &options(), StopAt::Never).await;
    let path = "/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_local3";
    assert_eq!(
        refused(&first, "lxd.pool.local"),
        format!(
            "step lxd.pool.local: refusing to wipe {path} on node3: {path} (nvme1n1) on node3 is in use: it is mounted; {HELP} node3 (`lxc info --resources`); run again once the disk is the one to wipe: the next run plans from the disks as they are then"
        )
    );
    for n in sim.nodes() {
        assert_eq!(n.disk_holder("nvme1n1"), None, "{}", n.name());
    }
    // Unmounted, the same file forms exactly the clean cluster.
    mount(false);
    run(&sim, &seed)
        .await
        .assert_succeeded("the run after unmounting");
    assert_clean(&sim, LxdProfile::Current, "after unmounting and a re-run").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_whose_local_disk_got_a_mounted_partition_is_not_joined() {
    let sim = start(4, LxdProfile::Current).await;
    run(&sim, &Seed::bootstrap(&sim, 3))
        .await
        .assert_succeeded("the 3-node formation");
    let seed = Seed::add(&sim, &["node4"]);
    let plan = plan(&sim, &seed).await;
    // In add mode the join creates the local pool on the new member.
    assert_eq!(
        wipes(&plan, "lxd.join@node4"),
        ["node4 /dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_local4 local4 107374182400"]
    );
    let node4 = sim.node("node4").unwrap();
    let partition = Partition {
        id: "nvme1n1p1".into(),
        device: "259:4".into(),
        read_only: false,
        size: 1 << 30,
        partition: 1,
        mounted: true,
        device_fs_uuid: String::new(),
    };
    node4.edit_inventory(|inv| {
        for d in inv.disks.iter_mut().filter(|d| d.id == "nvme1n1") {
            d.partitions.push(partition.clone());
        }
    });
    let first = apply_plan(&sim, plan, &options(), StopAt::Never).await;
    let path = "/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_local4";
    assert_eq!(
        refused(&first, "lxd.join@node4"),
        format!(
            "step lxd.join@node4: refusing to wipe {path} on node4: {path} (nvme1n1) on node4 is in use: its partition nvme1n1p1 is mounted; {HELP} node4 (`lxc info --resources`); run again once the disk is the one to wipe: the next run plans from the disks as they are then"
        )
    );
    assert_eq!(node4.disk_holder("nvme1n1"), None);
    node4.edit_inventory(|inv| {
        for d in inv.disks.iter_mut().filter(|d| d.id == "nvme1n1") {
            d.partitions.clear();
        }
    });
    run(&sim, &seed)
        .await
        .assert_succeeded("the add after the partition was removed");
    let now = state(&sim).await;
    let clean = clean_add_state(LxdProfile::Current).await;
    assert!(now == clean, "{}", diff(&now, &clean));
}
