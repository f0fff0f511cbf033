//! The whole chain against the simulators, over real unix sockets and TLS:
//! collect the inventory, plan, apply; then collect, plan and apply again,
//! which must change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use executor::Outcome;
use simulators::LxdProfile;
use std::net::Ipv4Addr;

async fn form_and_rerun(profile: LxdProfile, base: Ipv4Addr) {
    let sim = start_on(3, profile, base).await;
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
        Vec::<String>::new(),
        "a fresh cluster has nothing already done"
    );
    let before = state(&sim).await;
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
    form_and_rerun(LxdProfile::Current, Ipv4Addr::new(127, 0, 61, 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lxd_5_0_2_form_and_rerun_changes_nothing() {
    form_and_rerun(LxdProfile::Legacy, Ipv4Addr::new(127, 0, 62, 1)).await;
}
