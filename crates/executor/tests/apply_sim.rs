//! The whole chain against the simulators, over real unix sockets and TLS:
//! collect the inventory, plan, apply; then collect, plan and apply again,
//! which must change nothing. Three and ten nodes, and adding a fourth
//! machine to a formed cluster (add mode), on LXD 5.0.2 and current LXD.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use executor::Outcome;
use planner::plan::Action;
use simulators::LxdProfile;

async fn form_and_rerun(profile: LxdProfile) {
    let sim = start(3, profile).await;
    let seed = Seed::bootstrap(&sim, 3);
    let first = run(&sim, &seed).await;
    first.assert_succeeded("the first run");
    assert!(
        first.todo() > 30,
        "a fresh cluster needs many steps, planned {}",
        first.todo()
    );
    assert_eq!(
        with_outcome(&first.report, Outcome::AlreadyDone),
        ["lxd.await-members"],
        "a fresh cluster has nothing already done but the member check, which changes nothing"
    );
    let before = state(&sim).await;
    // Each member's switch has the underlay address the preseed gave it.
    assert_eq!(
        before["ovn_encap_ips"],
        serde_json::json!({"node1": "10.20.0.1", "node2": "10.20.0.2", "node3": "10.20.0.3"})
    );
    assert!(
        before["cluster"]["lxd"]["storage_pools"]
            .as_array()
            .is_some_and(|p| p.len() == 2),
        "{before:#}"
    );

    // The same file again: everything is already done and nothing changes.
    let again = run(&sim, &seed).await;
    again.assert_succeeded("the re-run");
    assert_eq!(again.todo(), 0, "the planner must see a formed cluster");
    assert_eq!(again.report.count(Outcome::Changed), 0);
    assert_eq!(state(&sim).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_current_lxd_form_and_rerun_changes_nothing() {
    form_and_rerun(LxdProfile::Current).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lxd_5_0_2_form_and_rerun_changes_nothing() {
    form_and_rerun(LxdProfile::Legacy).await;
}

/// The check between the joins and the per-member definitions changes
/// nothing: done when LXD lists every member, else an error naming the
/// missing ones and saying what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_check_names_the_missing_members() {
    let sim = start(3, LxdProfile::Current).await;
    let formed = run(&sim, &Seed::bootstrap(&sim, 3)).await;
    formed.assert_succeeded("the formation");
    let check = |members: &[&str]| {
        let mut plan = formed.plan.clone();
        let mut step = plan
            .step(&executor::StepId::new("lxd.await-members"))
            .unwrap()
            .clone();
        step.depends_on.clear();
        step.action = Action::AwaitLxdMembers {
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        };
        plan.steps = vec![step];
        plan
    };

    let all = check(&["node1", "node2", "node3"]);
    let ok = apply_plan(&sim, all, &options(), StopAt::Never).await;
    ok.assert_succeeded("the check of a formed cluster");
    assert_eq!(
        with_outcome(&ok.report, Outcome::AlreadyDone),
        ["lxd.await-members"]
    );

    let some_missing = check(&["ghost", "node1", "node2", "node3", "phantom"]);
    let failed = apply_plan(&sim, some_missing, &options(), StopAt::Never).await;
    assert_eq!(
        failures(&failed.report),
        "lxd.await-members: step lxd.await-members on node1: 2 of 5 members missing from \
         the LXD cluster: ghost, phantom; their joins are done, so a member may have been \
         removed during the run: check `lxc cluster list` on node1, then run again to join \
         the missing members"
    );
    assert_eq!(failed.attempts("lxd.await-members"), 1, "a permanent error");
}

/// Members of `service` ("lxd", "microceph", "microovn") as `node`'s
/// inventory lists them, sorted.
fn members(state: &serde_json::Value, node: usize, service: &str) -> Vec<String> {
    state["systems"][node]["services"][service]["cluster_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

async fn ten_nodes(profile: LxdProfile) {
    let sim = start(10, profile).await;
    let seed = Seed::bootstrap(&sim, 10);
    let first = run(&sim, &seed).await;
    first.assert_succeeded("the 10-node formation");
    let names: Vec<String> = (1..=10).map(|i| format!("node{i}")).collect();
    let mut sorted = names.clone();
    sorted.sort();
    let state_after = state(&sim).await;
    for (i, _) in names.iter().enumerate() {
        for service in ["lxd", "microceph", "microovn"] {
            assert_eq!(
                members(&state_after, i, service),
                sorted,
                "{service} on node{}",
                i + 1
            );
        }
    }
    let cluster = &state_after["cluster"];
    assert_eq!(cluster["microceph"]["osds"].as_array().unwrap().len(), 20);
    assert_eq!(cluster["lxd"]["volumes"].as_array().unwrap().len(), 20);
    for pool in cluster["lxd"]["storage_pools"].as_array().unwrap() {
        assert_eq!(pool["status"], "Created", "{pool}");
        assert_eq!(pool["members"].as_object().unwrap().len(), 10, "{pool}");
    }

    let again = run(&sim, &seed).await;
    again.assert_succeeded("the 10-node re-run");
    assert_eq!(again.todo(), 0, "the planner must see a formed cluster");
    assert_eq!(again.report.count(Outcome::Changed), 0);
    assert_eq!(state(&sim).await, state_after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_nodes_current_lxd_form_and_rerun_changes_nothing() {
    ten_nodes(LxdProfile::Current).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_nodes_lxd_5_0_2_form_and_rerun_changes_nothing() {
    ten_nodes(LxdProfile::Legacy).await;
}

async fn add_a_fourth_node(profile: LxdProfile) {
    // Four machines; the first three form the cluster, the fourth is
    // left alone.
    let sim = start(4, profile).await;
    let formed = run(&sim, &Seed::bootstrap(&sim, 3)).await;
    formed.assert_succeeded("the 3-node formation");
    let three = state(&sim).await;
    assert_eq!(members(&three, 0, "lxd"), ["node1", "node2", "node3"]);
    assert!(
        three["systems"][3]["services"]["lxd"]["cluster_members"]
            .as_array()
            .unwrap()
            .is_empty(),
        "node4 is left alone: {:#}",
        three["systems"][3]["services"]
    );

    // A preseed listing only node4, initiator node1: add mode.
    let seed = Seed::add(&sim, &["node4"]);
    let plan = plan(&sim, &seed).await;
    assert_eq!(plan.mode, planner::plan::PlanMode::Add);
    let added = apply_plan(&sim, plan, &options(), StopAt::Never).await;
    added.assert_succeeded("adding node4");
    let after = state(&sim).await;
    for node in 0..4 {
        for service in ["lxd", "microceph", "microovn"] {
            assert_eq!(
                members(&after, node, service),
                ["node1", "node2", "node3", "node4"],
                "{service} on node{}",
                node + 1
            );
        }
    }
    let cluster = &after["cluster"];
    for pool in cluster["lxd"]["storage_pools"].as_array().unwrap() {
        assert!(pool["members"]["node4"].is_object(), "{pool}");
    }
    for net in cluster["lxd"]["networks"].as_array().unwrap() {
        assert!(net["members"]["node4"].is_object(), "{net}");
    }
    let on_node4 = |what: &str| {
        cluster[if what == "osds" { "microceph" } else { "lxd" }][what]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["location"] == "node4" || o["member"] == "node4")
            .count()
    };
    assert_eq!(on_node4("osds"), 2);
    assert_eq!(on_node4("volumes"), 2);
    assert_eq!(
        after["systems"][3]["services"]["lxd"]["config"]["storage.images_volume"],
        "local/images"
    );
    // The first three are as they were, apart from the new member.
    assert_eq!(after["systems"][0]["disks"], three["systems"][0]["disks"]);

    // The same add file again changes nothing.
    let again = run(&sim, &seed).await;
    again.assert_succeeded("re-running the add");
    assert_eq!(again.todo(), 0, "the planner must see node4 as a member");
    assert_eq!(again.report.count(Outcome::Changed), 0);
    assert_eq!(state(&sim).await, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_a_fourth_node_current_lxd_and_rerun_changes_nothing() {
    add_a_fourth_node(LxdProfile::Current).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_a_fourth_node_lxd_5_0_2_and_rerun_changes_nothing() {
    add_a_fourth_node(LxdProfile::Legacy).await;
}
