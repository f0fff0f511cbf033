//! The final report, rendered from a fixed plan, executor report and
//! cluster state: golden files for people and for programs.

use super::*;
use executor::{NotStarted, StepId};

fn plan() -> Plan {
    let preseed = microcloud_tests::example("multicast-3-nodes");
    let inventory = microcloud_tests::inventory_dir("tests/fixtures/inventory/multicast-3-nodes");
    planner::plan(&preseed, &inventory).unwrap()
}

/// The cluster of the re-run fixture (the formed version of the plan's
/// cluster), with its members as LXD, MicroCeph and MicroOVN list them.
fn state() -> ClusterState {
    let formed =
        microcloud_tests::inventory_dir("tests/fixtures/inventory-rerun/multicast-3-nodes");
    let cluster = formed.cluster().cloned().unwrap();
    let names = ["micro01", "micro02", "micro03"];
    let members = names
        .iter()
        .enumerate()
        .map(|(i, n)| Member {
            name: (*n).to_owned(),
            url: format!("https://10.0.0.{}:8443", i + 1),
            roles: if i == 0 {
                vec!["database-leader".into(), "database".into()]
            } else {
                vec!["database".into()]
            },
            status: "Online".into(),
            message: "Fully operational".into(),
        })
        .collect();
    let service = |port: u16| {
        Some(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| ServiceMember {
                    name: (*n).to_owned(),
                    address: format!("10.0.0.{}:{port}", i + 1),
                    role: "voter".into(),
                    status: "ONLINE".into(),
                })
                .collect(),
        )
    };
    ClusterState {
        members,
        microceph: service(7443),
        microovn: service(6443),
        lxd: cluster.lxd,
        ceph: cluster.microceph,
    }
}

/// Step `i` of the plan starts at `i` × 250 ms.
fn start_of(i: usize) -> Duration {
    Duration::from_millis(250 * i as u64)
}

fn all_done(plan: &Plan, outcome: Outcome) -> Report<ApplyError> {
    Report {
        results: plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    s.id.clone(),
                    StepResult::Done {
                        outcome,
                        attempts: 1,
                        started: start_of(i),
                        elapsed: Duration::from_millis(300),
                    },
                )
            })
            .collect(),
        finish_order: Vec::new(),
        elapsed: Duration::from_millis(15_432),
    }
}

#[test]
fn a_formed_cluster_for_people_and_programs() {
    let plan = plan();
    let report = all_done(&plan, Outcome::Changed);
    let warnings = vec![
        "cluster.yaml:3: lookup_timeout: 0 means the default (60 s), as in MicroCloud".to_owned(),
    ];
    let f = Final::new(&plan, &report, Ok(state()), warnings, false)
        .with_journal(Path::new("/var/lib/microcloud/journal.json"));
    assert!(f.succeeded());
    let view = f.cluster.as_ref().unwrap();
    assert!(view.members.iter().all(|(_, c)| *c == Change::Created));
    assert!(view.osds.iter().all(|o| o.change == Change::Created));
    assert_eq!(
        view.profile.as_ref().map(|p| p.change),
        Some(Change::Updated)
    );
    microcloud_tests::assert_snapshot(
        "crates/microcloud/tests/snapshots/report-formed.txt",
        &render::human(&f, false),
    );
    microcloud_tests::assert_snapshot(
        "crates/microcloud/tests/snapshots/report-formed.json",
        &(serde_json::to_string_pretty(&f.to_json()).unwrap() + "\n"),
    );
    // Colour only when asked for.
    assert!(!render::human(&f, false).contains('\x1b'));
    assert!(render::human(&f, true).contains("\x1b[32mjoined\x1b[0m"));
}

#[test]
fn a_rerun_marks_everything_already_present() {
    let plan = plan();
    let report = all_done(&plan, Outcome::AlreadyDone);
    let f = Final::new(&plan, &report, Ok(state()), Vec::new(), false);
    let view = f.cluster.as_ref().unwrap();
    assert!(
        view.members
            .iter()
            .all(|(_, c)| *c == Change::AlreadyPresent)
    );
    assert!(
        view.pools
            .iter()
            .all(|p| p.change == Change::AlreadyPresent)
    );
    assert!(
        view.networks
            .iter()
            .all(|n| n.change == Change::AlreadyPresent)
    );
    assert_eq!(f.totals.already_done, plan.steps.len());
    assert_eq!(f.totals.changed, 0);
}

#[test]
fn a_failed_run_names_the_step_the_class_and_what_to_do() {
    let plan = plan();
    let mut report = all_done(&plan, Outcome::Changed);
    let osd = plan
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::AddCephDisk { .. }))
        .unwrap();
    report.results.insert(
        osd.id.clone(),
        StepResult::Failed {
            failure: Failure::DeadlineExceeded {
                class: executor::StepClass::Ceph,
                deadline: Duration::from_secs(30),
                last: None,
                hung: None,
            },
            attempts: 1,
            started: Duration::from_secs(2),
            elapsed: Duration::from_secs(30),
        },
    );
    let later: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| s.depends_on.contains(&osd.id))
        .map(|s| s.id.to_string())
        .collect();
    for id in &later {
        report.results.insert(
            StepId::new(id.clone()),
            StepResult::NotStarted(NotStarted::DependencyNotDone),
        );
    }
    let f = Final::new(
        &plan,
        &report,
        Err("cannot read whether LXD is clustered: LXD on node micro01, GET /1.0/cluster: connection refused".into()),
        Vec::new(),
        false,
    );
    assert_eq!(f.outcome, RunOutcome::Failed);
    assert_eq!(f.failures.len(), 1);
    let failure = &f.failures[0];
    assert_eq!(failure.class, "ceph");
    assert_eq!(
        failure.error,
        "did not finish within 30 s (the deadline of `ceph` steps)"
    );
    assert_eq!(
        failure.hint.as_deref(),
        Some(
            "if the service is only slow, give `ceph` steps more time: --timeout ceph=1m, or `timeouts: {ceph: 1m}` in the preseed"
        )
    );
    assert_eq!(f.totals.failed, 1);
    assert_eq!(f.totals.not_started, later.len());
    microcloud_tests::assert_snapshot(
        "crates/microcloud/tests/snapshots/report-failed.txt",
        &render::human(&f, false),
    );
    let json = f.to_json();
    assert_eq!(json["outcome"], "failed");
    assert_eq!(json["cluster"], Value::Null);
    assert!(
        json["cluster_error"]
            .as_str()
            .unwrap()
            .contains("connection refused")
    );
    let interrupted = Final::new(&plan, &report, Ok(state()), Vec::new(), true);
    assert_eq!(interrupted.outcome, RunOutcome::Interrupted);
    assert!(render::human(&interrupted, false).starts_with("The run was interrupted: "));
}

#[test]
fn phase_times_span_first_start_to_last_end() {
    let plan = plan();
    let report = all_done(&plan, Outcome::Changed);
    let times = phase_times(&plan, &report);
    for phase in [Phase::Bootstrap, Phase::Join, Phase::Ceph] {
        let steps: Vec<usize> = (0..plan.steps.len())
            .filter(|i| plan.steps[*i].phase == phase)
            .collect();
        let first = start_of(steps[0]);
        let last = start_of(*steps.last().unwrap()) + Duration::from_millis(300);
        assert_eq!(times[&phase], last - first, "{phase:?}");
    }
    // A step that did not run takes no time.
    let mut report = report;
    for s in plan.steps.iter().filter(|s| s.phase == Phase::Profile) {
        report
            .results
            .insert(s.id.clone(), StepResult::NotStarted(NotStarted::Stopped));
    }
    assert_eq!(phase_times(&plan, &report).get(&Phase::Profile), None);
}

#[test]
fn the_report_file_is_replaced_whole() {
    let plan = plan();
    let report = all_done(&plan, Outcome::Changed);
    let f = Final::new(&plan, &report, Ok(state()), Vec::new(), false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    std::fs::write(&path, "old").unwrap();
    f.write(&path).unwrap();
    let back: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(back, f.to_json());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
    let err = f
        .write(&dir.path().join("missing/report.json"))
        .unwrap_err();
    assert!(
        format!("{err:#}").starts_with("cannot write the report "),
        "{err:#}"
    );
}
