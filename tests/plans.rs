//! Golden plans for every example, a re-run where everything already
//! exists, and adding a machine to an existing cluster.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use microcloud_tests::{assert_snapshot, example, inventory_dir, workspace_root, yaml_files};
use planner::plan::{Action, MemberConfigKey, TokenField};
use planner::{PlanMode, Status};

#[test]
fn every_example_has_an_inventory_and_golden_plans() {
    let files = yaml_files("examples");
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = format!("tests/fixtures/inventory/{stem}");
        assert!(
            workspace_root().join(&dir).is_dir(),
            "examples/{stem}.yaml has no inventory fixture in {dir}"
        );
        let preseed = example(&stem);
        let plan = planner::plan(&preseed, &inventory_dir(&dir))
            .unwrap_or_else(|e| panic!("{stem}: {:#?}", e.0));
        assert_snapshot(
            &format!("tests/snapshots/plans/{stem}.txt"),
            &plan.render_text(),
        );
        assert_snapshot(
            &format!("tests/snapshots/plans/{stem}.json"),
            &plan.to_json(),
        );
        // The JSON form reads back into the same plan.
        let back: planner::Plan = serde_json::from_str(&plan.to_json()).unwrap();
        assert_eq!(back, plan, "{stem}");
    }
}

#[test]
fn a_formed_cluster_makes_every_step_already_done() {
    let preseed = example("multicast-3-nodes");
    let fresh = planner::plan(
        &preseed,
        &inventory_dir("tests/fixtures/inventory/multicast-3-nodes"),
    )
    .unwrap();
    let rerun = planner::plan(
        &preseed,
        &inventory_dir("tests/fixtures/inventory-rerun/multicast-3-nodes"),
    )
    .unwrap();
    // The same steps are planned (marked, not dropped)...
    let ids = |p: &planner::Plan| p.steps.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&fresh), ids(&rerun));
    assert!(fresh.steps.iter().all(|s| s.status == Status::ToDo));
    // ...and every one of them is already done.
    let todo: Vec<String> = rerun
        .steps
        .iter()
        .filter(|s| !s.status.is_done())
        .map(|s| s.id.to_string())
        .collect();
    assert!(todo.is_empty(), "steps still to do: {todo:?}");
    let why = |id: &str| match &rerun.steps.iter().find(|s| s.id == id).unwrap().status {
        Status::AlreadyDone { why } => why.clone(),
        Status::ToDo => unreachable!(),
    };
    assert_eq!(
        why("lxd.join@micro02"),
        "micro02 is already a member of the LXD cluster"
    );
    assert_eq!(
        why("microceph.disk[/dev/disk/by-id/nvme-ceph-micro03]@micro03"),
        "/dev/disk/by-id/nvme-ceph-micro03 already is osd.3 on micro03"
    );
    assert_eq!(why("lxd.pool.remote"), "pool remote already exists");
    assert_eq!(why("lxd.await-members"), "LXD already lists all 3 members");
    // The disks already in use as planned are selected again, not excluded.
    let micro02 = &rerun.disks.systems[1];
    assert_eq!(
        micro02.local.as_ref().unwrap().already.as_deref(),
        Some("pool local")
    );
    assert_eq!(micro02.ceph[0].already.as_deref(), Some("osd.2"));
}

#[test]
fn adding_a_machine_joins_it_with_member_config() {
    let preseed = example("add-one-node");
    let plan = planner::plan(
        &preseed,
        &inventory_dir("tests/fixtures/inventory/add-one-node"),
    )
    .unwrap();
    assert_eq!(plan.mode, PlanMode::Add);
    assert_eq!(plan.initiator, "micro01");
    // Nothing is bootstrapped and no pool or network is created: the join
    // carries the member-specific config instead.
    assert!(!plan.steps.iter().any(|s| matches!(
        s.action,
        Action::BootstrapLxd { .. }
            | Action::BootstrapMicrocluster { .. }
            | Action::CreatePool { .. }
            | Action::CreatePendingPool { .. }
            | Action::CreateNetwork { .. }
            | Action::EnsureProfile { .. }
    )));
    let join = plan
        .steps
        .iter()
        .find(|s| s.id == "lxd.join@micro04")
        .unwrap();
    assert_eq!(join.node, "micro04");
    assert_eq!(join.serial_group.as_deref(), Some("lxd.join"));
    // The join creates the existing Ceph pool and OVN network on the new
    // member: its MicroCeph and MicroOVN join first, as in MicroCloud.
    let mut deps: Vec<&str> = join.depends_on.iter().map(|d| d.as_str()).collect();
    deps.sort_unstable();
    assert_eq!(
        deps,
        [
            "lxd.token@micro04",
            "microceph.join@micro04",
            "microovn.join@micro04"
        ]
    );
    let Action::JoinLxd {
        cluster_address,
        token_field,
        member_config,
        ..
    } = &join.action
    else {
        panic!("{join:?}")
    };
    assert_eq!(cluster_address.to_string(), "10.0.0.1:8443");
    assert_eq!(*token_field, TokenField::ClusterToken);
    let key = |entity: &str, name: &str, key: &str, value: &str| MemberConfigKey {
        entity: entity.into(),
        name: name.into(),
        key: key.into(),
        value: value.into(),
    };
    assert_eq!(
        member_config,
        &vec![
            key("network", "UPLINK", "parent", "enp6s0"),
            key(
                "storage-pool",
                "local",
                "source",
                "/dev/disk/by-id/nvme-local-micro04"
            ),
        ]
    );
    // Tokens come from the existing member; volumes only for the new one.
    let token = plan
        .steps
        .iter()
        .find(|s| s.id == "lxd.token@micro04")
        .unwrap();
    assert_eq!(
        (token.node.as_str(), token.depends_on.len()),
        ("micro01", 0)
    );
    let volumes: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::CreateVolume { .. }))
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(
        volumes,
        [
            "lxd.volume.local/images@micro04",
            "lxd.volume.local/backups@micro04"
        ]
    );
    // Four OSDs after the join: size stays 3, which the cluster already has.
    let repl = plan
        .steps
        .iter()
        .find(|s| s.id == "microceph.replication")
        .unwrap();
    assert!(matches!(
        repl.action,
        Action::SetReplication { size: 3, .. }
    ));
    assert!(repl.status.is_done());
}

#[test]
fn critical_path_follows_the_cost_model() {
    let preseed = example("unicast-3-nodes-ovn-ceph");
    let plan = planner::plan(
        &preseed,
        &inventory_dir("tests/fixtures/inventory/unicast-3-nodes-ovn-ceph"),
    )
    .unwrap();
    let ids =
        |path: Vec<planner::StepId>| path.into_iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // By step count the longest chain runs through the OVN network.
    assert_eq!(
        ids(plan.critical_path()),
        [
            "lxd.config.bootstrap@micro01",
            "lxd.bootstrap@micro01",
            "lxd.token@micro02",
            "lxd.join@micro02",
            "lxd.config.join@micro02",
            "lxd.await-members",
            "lxd.network.UPLINK.pending@micro01",
            "lxd.network.UPLINK",
            "lxd.network.default",
            "lxd.profile.default",
        ]
    );
    // When adding an OSD is expensive, it goes through the OSDs instead.
    let slow_osds = |s: &planner::Step| match s.action {
        Action::AddCephDisk { .. } => 100,
        _ => 1,
    };
    assert_eq!(
        ids(plan.critical_path_with(slow_osds)),
        [
            "microceph.bootstrap@micro01",
            "microceph.token@micro02",
            "microceph.join@micro02",
            "microceph.disk[/dev/disk/by-id/nvme-big-micro02]@micro02",
            "microceph.replication",
            "lxd.pool.remote",
            "lxd.pool.remote-fs",
        ]
    );
}

#[test]
fn per_member_definitions_wait_for_every_join_through_one_step() {
    let preseed = example("unicast-3-nodes-ovn-ceph");
    let plan = planner::plan(
        &preseed,
        &inventory_dir("tests/fixtures/inventory/unicast-3-nodes-ovn-ceph"),
    )
    .unwrap();
    let barrier = plan
        .step(&planner::StepId::new("lxd.await-members"))
        .unwrap();
    assert_eq!(
        (barrier.node.as_str(), barrier.phase, barrier.status.clone()),
        ("micro01", planner::Phase::Join, Status::ToDo)
    );
    assert_eq!(
        barrier.action,
        Action::AwaitLxdMembers {
            members: vec!["micro01".into(), "micro02".into(), "micro03".into()]
        }
    );
    let deps: Vec<&str> = barrier.depends_on.iter().map(|d| d.as_str()).collect();
    assert_eq!(
        deps,
        [
            "lxd.bootstrap@micro01",
            "lxd.config.join@micro02",
            "lxd.config.join@micro03",
            "microceph.join@micro02",
            "microceph.join@micro03",
            "microovn.join@micro02",
            "microovn.join@micro03",
        ]
    );
    // Forming a new cluster, a joiner's LXD joins with its token only,
    // beside its MicroCeph and MicroOVN joins (nothing exists in LXD yet);
    // the barrier above waits for both.
    let join = plan
        .step(&planner::StepId::new("lxd.join@micro02"))
        .unwrap();
    let deps: Vec<&str> = join.depends_on.iter().map(|d| d.as_str()).collect();
    assert_eq!(deps, ["lxd.token@micro02"]);
    // Every per-member definition waits for that one step, and only for it.
    let pending: Vec<&planner::Step> = plan
        .steps
        .iter()
        .filter(|s| {
            matches!(
                s.action,
                Action::CreatePendingPool { .. } | Action::CreatePendingNetwork { .. }
            )
        })
        .collect();
    assert_eq!(pending.len(), 3 * 4, "local, remote, remote-fs and UPLINK");
    for s in pending {
        assert_eq!(s.depends_on, std::slice::from_ref(&barrier.id), "{}", s.id);
    }

    // A lone initiator needs no barrier: its definitions wait for its
    // bootstrap.
    let single = planner::plan(
        &example("single-node"),
        &inventory_dir("tests/fixtures/inventory/single-node"),
    )
    .unwrap();
    assert!(
        !single
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::AwaitLxdMembers { .. }))
    );
    let first = single
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::CreatePendingPool { .. }))
        .unwrap();
    assert_eq!(
        first.depends_on,
        [planner::StepId::new(format!(
            "lxd.bootstrap@{}",
            single.initiator
        ))]
    );
}
