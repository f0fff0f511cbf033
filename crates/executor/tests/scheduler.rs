//! The scheduler against a scripted runner, in paused (virtual) time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use executor::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
struct TestError {
    message: String,
    transient: bool,
}

impl StepError for TestError {
    fn is_transient(&self) -> bool {
        self.transient
    }
}

/// What one attempt of a step does.
#[derive(Debug, Clone)]
enum Act {
    Ok(Outcome, u64),
    Transient(u64),
    Permanent(u64),
    Hang,
}

#[derive(Default)]
struct Script {
    acts: Mutex<BTreeMap<String, VecDeque<Act>>>,
    /// (virtual ms, step, "start" | "end") in the order they happened.
    log: Mutex<Vec<(u128, String, &'static str)>>,
    running: Mutex<usize>,
    peak: Mutex<usize>,
    t0: Mutex<Option<tokio::time::Instant>>,
}

impl Script {
    fn new(acts: &[(&str, Vec<Act>)]) -> Arc<Script> {
        let s = Script::default();
        *s.acts.lock().unwrap() = acts
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().cloned().collect()))
            .collect();
        Arc::new(s)
    }
    fn now(&self) -> u128 {
        let mut t0 = self.t0.lock().unwrap();
        t0.get_or_insert_with(tokio::time::Instant::now)
            .elapsed()
            .as_millis()
    }
}

impl Runner for Script {
    type Error = TestError;
    async fn run(&self, step: &StepId, _attempt: u32) -> Result<Outcome, TestError> {
        let act = self
            .acts
            .lock()
            .unwrap()
            .get_mut(step.as_str())
            .and_then(VecDeque::pop_front)
            .unwrap_or(Act::Ok(Outcome::Changed, 10));
        let t = self.now();
        self.log
            .lock()
            .unwrap()
            .push((t, step.to_string(), "start"));
        {
            let mut r = self.running.lock().unwrap();
            *r += 1;
            let mut p = self.peak.lock().unwrap();
            *p = (*p).max(*r);
        }
        let (ms, result) = match act {
            Act::Ok(o, ms) => (ms, Ok(o)),
            Act::Transient(ms) => (
                ms,
                Err(TestError {
                    message: format!("{} is not ready", step),
                    transient: true,
                }),
            ),
            Act::Permanent(ms) => (
                ms,
                Err(TestError {
                    message: format!("{} was refused", step),
                    transient: false,
                }),
            ),
            Act::Hang => (u64::MAX / 4, Ok(Outcome::Changed)),
        };
        tokio::time::sleep(Duration::from_millis(ms)).await;
        *self.running.lock().unwrap() -= 1;
        let t = self.now();
        self.log.lock().unwrap().push((t, step.to_string(), "end"));
        result
    }
}

fn node(id: &str, deps: &[&str], group: Option<&str>) -> Node {
    Node {
        id: StepId::new(id),
        deps: deps.iter().map(|d| StepId::new(*d)).collect(),
        group: group.map(str::to_owned),
        // Any class: the tests give it no deadline of its own but the
        // default, unless they say otherwise.
        class: StepClass::Settings,
    }
}

fn options(max_parallel: usize) -> Options {
    Options {
        max_parallel,
        retry: RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: 0.0,
        },
        deadlines: Deadlines {
            per_class: BTreeMap::new(),
            default: Duration::from_secs(5),
        },
        seed: 7,
        serial_peers: false,
    }
}

async fn run(dag: &Dag, script: &Arc<Script>, opts: &Options) -> (Report<TestError>, Vec<Event>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_cancel_tx, cancel) = watch::channel(false);
    let report = execute(dag, script.clone(), opts, Some(tx), cancel).await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (report, events)
}

fn done(report: &Report<TestError>, id: &str) -> Option<(Outcome, u32)> {
    match &report.results[id] {
        StepResult::Done {
            outcome, attempts, ..
        } => Some((*outcome, *attempts)),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn dependencies_order_the_work_and_independent_steps_overlap() {
    let dag = Dag::new(vec![
        node("a", &[], None),
        node("b", &["a"], None),
        node("c", &["a"], None),
        node("d", &["b", "c"], None),
    ])
    .unwrap();
    let script = Script::new(&[("a", vec![Act::Ok(Outcome::AlreadyDone, 10)])]);
    let (report, _) = run(&dag, &script, &options(4)).await;
    assert!(report.succeeded());
    assert_eq!(done(&report, "a"), Some((Outcome::AlreadyDone, 1)));
    assert_eq!(report.count(Outcome::Changed), 3);
    assert_eq!(*script.peak.lock().unwrap(), 2, "b and c run together");
    let ids: Vec<&str> = report.finish_order.iter().map(StepId::as_str).collect();
    assert_eq!((ids[0], ids[3]), ("a", "d"));
    assert_eq!(report.elapsed, Duration::from_millis(30));
    // Each step's start, from the start of the run: after what it needs.
    let started = |id: &str| match &report.results[id] {
        StepResult::Done { started, .. } => *started,
        other => panic!("{other:?}"),
    };
    let at = |ms| Duration::from_millis(ms);
    assert_eq!(
        [started("a"), started("b"), started("c"), started("d")],
        [at(0), at(10), at(10), at(20)]
    );
}

#[tokio::test(start_paused = true)]
async fn max_parallel_one_is_strictly_serial() {
    let dag = Dag::new((0..5).map(|i| node(&format!("s{i}"), &[], None)).collect()).unwrap();
    let script = Script::new(&[]);
    let (report, _) = run(&dag, &script, &options(1)).await;
    assert!(report.succeeded());
    assert_eq!(*script.peak.lock().unwrap(), 1);
    assert_eq!(report.elapsed, Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn a_group_never_runs_two_steps_at_once() {
    let dag = Dag::new(vec![
        node("join-2", &[], Some("lxd-join")),
        node("join-3", &[], Some("lxd-join")),
        node("disk-2", &[], None),
        node("join-4", &[], Some("lxd-join")),
    ])
    .unwrap();
    let script = Script::new(&[]);
    let (report, _) = run(&dag, &script, &options(8)).await;
    assert!(report.succeeded());
    let log = script.log.lock().unwrap().clone();
    let joins: Vec<_> = log
        .iter()
        .filter(|(_, s, _)| s.starts_with("join"))
        .map(|(_, s, e)| format!("{s}:{e}"))
        .collect();
    assert_eq!(
        joins,
        [
            "join-2:start",
            "join-2:end",
            "join-3:start",
            "join-3:end",
            "join-4:start",
            "join-4:end"
        ]
    );
    assert_eq!(
        *script.peak.lock().unwrap(),
        2,
        "the disk step overlaps the joins"
    );
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_with_growing_delays() {
    let dag = Dag::new(vec![node("a", &[], None)]).unwrap();
    let script = Script::new(&[(
        "a",
        vec![
            Act::Transient(10),
            Act::Transient(10),
            Act::Ok(Outcome::Changed, 10),
        ],
    )]);
    let (report, events) = run(&dag, &script, &options(2)).await;
    assert_eq!(done(&report, "a"), Some((Outcome::Changed, 3)));
    let delays: Vec<Duration> = events
        .iter()
        .filter_map(|e| match e {
            Event::Retrying { delay, error, .. } => {
                assert_eq!(error, "a is not ready");
                Some(*delay)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        delays,
        [Duration::from_millis(100), Duration::from_millis(200)]
    );
    assert_eq!(report.elapsed, Duration::from_millis(330));
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_deadline_with_the_last_error() {
    let dag = Dag::new(vec![node("a", &[], None)]).unwrap();
    let script = Script::new(&[("a", vec![Act::Transient(10); 100])]);
    let (report, _) = run(&dag, &script, &options(2)).await;
    let StepResult::Failed {
        failure, attempts, ..
    } = &report.results["a"]
    else {
        panic!()
    };
    assert!(*attempts > 3);
    assert_eq!(
        failure.to_string(),
        "gave up after 5 s of retries (the deadline of `settings` steps); last error: a is not ready"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_step_is_cut_off_at_its_deadline() {
    let dag = Dag::new(vec![node("a", &[], None), node("b", &["a"], None)]).unwrap();
    let script = Script::new(&[("a", vec![Act::Hang])]);
    let (report, _) = run(&dag, &script, &options(2)).await;
    let StepResult::Failed { failure, .. } = &report.results["a"] else {
        panic!()
    };
    assert_eq!(
        failure.to_string(),
        "did not finish within 5 s (the deadline of `settings` steps)"
    );
    assert!(matches!(
        report.results["b"],
        StepResult::NotStarted(NotStarted::DependencyNotDone)
    ));
    assert_eq!(report.elapsed, Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_step_that_fails_then_hangs_at_the_deadline_still_names_its_error() {
    let dag = Dag::new(vec![node("a", &[], None)]).unwrap();
    let script = Script::new(&[("a", vec![Act::Transient(10), Act::Hang])]);
    let (report, _) = run(&dag, &script, &options(2)).await;
    let StepResult::Failed {
        failure, attempts, ..
    } = &report.results["a"]
    else {
        panic!()
    };
    assert_eq!(*attempts, 2);
    assert_eq!(
        failure.to_string(),
        "gave up after 5 s of retries (the deadline of `settings` steps); last error: a is not ready"
    );
    assert_eq!(report.elapsed, Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn each_class_has_its_own_deadline() {
    let mut quick = node("quick", &[], None);
    quick.class = StepClass::Token;
    let slow = node("slow", &[], None);
    let dag = Dag::new(vec![quick, slow]).unwrap();
    let script = Script::new(&[("quick", vec![Act::Hang]), ("slow", vec![Act::Hang])]);
    let mut opts = options(2);
    opts.deadlines
        .per_class
        .insert(StepClass::Token, Duration::from_secs(2));
    let (report, _) = run(&dag, &script, &opts).await;
    let message = |id: &str| match &report.results[id] {
        StepResult::Failed {
            failure, elapsed, ..
        } => (failure.to_string(), *elapsed),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        message("quick"),
        (
            "did not finish within 2 s (the deadline of `token` steps)".to_owned(),
            Duration::from_secs(2)
        )
    );
    assert_eq!(
        message("slow"),
        (
            "did not finish within 5 s (the deadline of `settings` steps)".to_owned(),
            Duration::from_secs(5)
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_stops_new_work_but_lets_running_steps_finish() {
    let dag = Dag::new(vec![
        node("fails", &[], None),
        node("slow", &[], None),
        node("after-fails", &["fails"], None),
        node("after-slow", &["slow"], None),
    ])
    .unwrap();
    let script = Script::new(&[
        ("fails", vec![Act::Permanent(10)]),
        ("slow", vec![Act::Ok(Outcome::Changed, 100)]),
    ]);
    let (report, events) = run(&dag, &script, &options(4)).await;
    let StepResult::Failed {
        failure,
        attempts: 1,
        ..
    } = &report.results["fails"]
    else {
        panic!()
    };
    assert_eq!(failure.to_string(), "fails was refused");
    assert_eq!(
        done(&report, "slow"),
        Some((Outcome::Changed, 1)),
        "in-flight work finishes"
    );
    assert!(matches!(
        report.results["after-fails"],
        StepResult::NotStarted(NotStarted::DependencyNotDone)
    ));
    assert!(matches!(
        report.results["after-slow"],
        StepResult::NotStarted(NotStarted::Stopped)
    ));
    assert!(events.contains(&Event::Stopping {
        reason: "step fails failed".into()
    }));
    assert!(!report.succeeded());
}

#[tokio::test(start_paused = true)]
async fn cancellation_ends_retries_and_starts_nothing_new() {
    let dag = Dag::new(vec![
        node("retrying", &[], None),
        node("running", &[], None),
        node("later", &["running"], None),
    ])
    .unwrap();
    let script = Script::new(&[
        ("retrying", vec![Act::Transient(10); 100]),
        ("running", vec![Act::Ok(Outcome::Changed, 500)]),
    ]);
    let (cancel_tx, cancel) = watch::channel(false);
    let handle = tokio::spawn({
        let script = script.clone();
        async move { execute(&dag, script, &options(4), None, cancel).await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    cancel_tx.send(true).unwrap();
    let report = handle.await.unwrap();
    assert!(matches!(
        &report.results["retrying"],
        StepResult::Failed {
            failure: Failure::Cancelled { .. },
            ..
        }
    ));
    assert_eq!(done(&report, "running"), Some((Outcome::Changed, 1)));
    assert!(matches!(
        report.results["later"],
        StepResult::NotStarted(NotStarted::Cancelled)
    ));
}

#[test]
fn invalid_graphs_are_refused_with_the_step_named() {
    let dup = Dag::new(vec![node("a", &[], None), node("a", &[], None)]).unwrap_err();
    assert_eq!(dup.to_string(), "step a appears twice in the plan");
    let unknown = Dag::new(vec![node("a", &["z"], None)]).unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "step a depends on z, which is not in the plan"
    );
    let cycle = Dag::new(vec![
        node("a", &["b"], None),
        node("b", &["a"], None),
        node("c", &[], None),
    ])
    .unwrap_err();
    assert!(matches!(cycle, DagError::Cycle(_)), "{cycle}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// For random graphs and random failures: one result per step; no step
    /// starts before its dependencies are done; concurrency and groups are
    /// respected; nothing starts after the run began stopping.
    #[test]
    fn scheduling_invariants(
        edges in proptest::collection::vec((0usize..12, 0usize..12), 0..30),
        acts in proptest::collection::vec(0u8..10, 12),
        groups in proptest::collection::vec(proptest::option::of(0u8..2), 12),
        max_parallel in 1usize..5,
    ) {
        let n = 12;
        let nodes: Vec<Node> = (0..n).map(|i| {
            let deps: Vec<String> = edges.iter().filter(|(a, b)| *b == i && a < b).map(|(a, _)| format!("s{a}")).collect();
            let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
            let group = groups[i].map(|g| format!("g{g}"));
            node(&format!("s{i}"), &deps, group.as_deref())
        }).collect();
        let dag = Dag::new(nodes.clone()).unwrap();
        let script_acts: Vec<(String, Vec<Act>)> = (0..n).map(|i| {
            let act = match acts[i] {
                0 => vec![Act::Permanent(5)],
                1 => vec![Act::Transient(5), Act::Ok(Outcome::Changed, 5)],
                2 => vec![Act::Ok(Outcome::AlreadyDone, 3)],
                k => vec![Act::Ok(Outcome::Changed, u64::from(k) * 3)],
            };
            (format!("s{i}"), act)
        }).collect();
        let acts_ref: Vec<(&str, Vec<Act>)> = script_acts.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let script = Script::new(&acts_ref);
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let (report, events) = rt.block_on(run(&dag, &script, &options(max_parallel)));

        prop_assert_eq!(report.results.len(), n);
        prop_assert!(*script.peak.lock().unwrap() <= max_parallel);
        let log = script.log.lock().unwrap().clone();
        // Dependencies end before dependents start.
        for node in &nodes {
            let start = log.iter().position(|(_, s, e)| node.id == s.as_str() && *e == "start");
            if let Some(start) = start {
                for d in &node.deps {
                    let ended = log.iter().take(start).any(|(_, s, e)| *d == s.as_str() && *e == "end");
                    prop_assert!(ended, "{} started before {} ended", node.id, d);
                    let dep_done = matches!(report.results[d], StepResult::Done { .. });
                    prop_assert!(dep_done, "dependency {} of {} not done", d, node.id);
                }
            }
        }
        // Groups never overlap.
        let mut active: BTreeMap<String, usize> = BTreeMap::new();
        for (_, s, e) in &log {
            let i: usize = s[1..].parse().unwrap();
            if let Some(g) = &nodes[i].group {
                let c = active.entry(g.clone()).or_default();
                if *e == "start" { *c += 1; prop_assert!(*c <= 1, "group {} overlaps", g); } else { *c -= 1; }
            }
        }
        // Nothing new starts once stopping was announced.
        if let Some(stop) = events.iter().position(|e| matches!(e, Event::Stopping { .. })) {
            let started_after = events[stop..].iter().any(|e| matches!(e, Event::Started { attempt: 1, .. }));
            prop_assert!(!started_after, "a step started after stopping");
        }
        // With no permanent failure, every step ran.
        if !acts.contains(&0) {
            prop_assert!(report.succeeded());
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_dependency_listed_twice_is_one_dependency() {
    let dag = Dag::new(vec![node("a", &[], None), node("b", &["a", "a"], None)]).unwrap();
    let (report, _) = run(&dag, &Script::new(&[]), &options(2)).await;
    assert!(report.succeeded());
}

#[derive(Debug, thiserror::Error)]
#[error("step failed")]
struct Wrapped {
    #[source]
    cause: TestError,
}

impl StepError for Wrapped {
    fn is_transient(&self) -> bool {
        self.cause.transient
    }
}

struct Chained;

impl Runner for Chained {
    type Error = Wrapped;
    async fn run(&self, _step: &StepId, attempt: u32) -> Result<Outcome, Wrapped> {
        let transient = attempt == 1;
        Err(Wrapped {
            cause: TestError {
                message: format!("the service said no ({attempt})"),
                transient,
            },
        })
    }
}

#[tokio::test(start_paused = true)]
async fn events_and_failures_carry_the_whole_cause_chain() {
    let dag = Dag::new(vec![node("a", &[], None)]).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_c, cancel) = watch::channel(false);
    let report = execute(&dag, Arc::new(Chained), &options(1), Some(tx), cancel).await;
    let mut errors = Vec::new();
    while let Ok(e) = rx.try_recv() {
        match e {
            Event::Retrying { error, .. } | Event::Failed { error, .. } => errors.push(error),
            _ => {}
        }
    }
    assert_eq!(
        errors,
        [
            "step failed: the service said no (1)",
            "step failed: the service said no (2)"
        ]
    );
    let (_, failure) = report.failures().next().unwrap();
    assert_eq!(
        failure.full_message(),
        "step failed: the service said no (2)"
    );
}

/// A runner whose step sends one request to a service that accepts the
/// connection and never answers.
struct Unanswered {
    socket: std::path::PathBuf,
}

impl Runner for Unanswered {
    type Error = TestError;
    async fn run(&self, _step: &StepId, _attempt: u32) -> Result<Outcome, TestError> {
        let ctx = clients::error::RequestContext {
            service: clients::Service::Lxd,
            node: "node3".into(),
            method: http::Method::PUT,
            path: "/1.0/cluster".into(),
        };
        let request = clients::transport::Request {
            method: http::Method::PUT,
            path: "/1.0/cluster".into(),
            body: None,
            if_match: None,
            timeout: Duration::from_secs(3600),
        };
        clients::transport::Transport::unix(&self.socket)
            .send(&ctx, request)
            .await
            .map(|_| Outcome::Changed)
            .map_err(|e| TestError {
                message: e.to_string(),
                transient: false,
            })
    }
}

#[tokio::test]
async fn a_step_cut_off_at_its_deadline_names_the_request_that_hung() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("unix.socket");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            open.push(conn);
        }
    });
    let dag = Dag::new(vec![node("a", &[], None)]).unwrap();
    let mut opts = options(1);
    opts.deadlines.default = Duration::from_secs(1);
    let (_cancel_tx, cancel) = watch::channel(false);
    let report = execute(&dag, Arc::new(Unanswered { socket }), &opts, None, cancel).await;
    let StepResult::Failed { failure, .. } = &report.results["a"] else {
        panic!("{:?}", report.results)
    };
    assert_eq!(
        failure.to_string(),
        "did not finish within 1 s (the deadline of `settings` steps): no answer to LXD on node node3, PUT /1.0/cluster"
    );
}
