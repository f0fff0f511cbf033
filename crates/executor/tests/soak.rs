//! The chaos soak: many bootstraps of 3 to 7 simulated machines under
//! random transient faults, a third of them with the tool or a machine
//! crashing at a random step. Not part of the default test command
//! (`#[ignore]`); run it with
//!
//! ```sh
//! cargo test -p executor --release --test soak -- --ignored --nocapture
//! ```
//!
//! Environment: `MICROCLOUD_SOAK_RUNS` (default 200), `MICROCLOUD_SOAK_SEED`
//! (default: the clock; printed, so a failing run can be repeated with
//! `MICROCLOUD_SOAK_SEED=<seed> MICROCLOUD_SOAK_FIRST=<run>`),
//! `MICROCLOUD_SOAK_FIRST` (index of the first run, default 0) and
//! `MICROCLOUD_SOAK_MINUTES` (stop starting runs after this long, default
//! 60; the summary says when it stopped early).
//!
//! Each run draws from its own generator (seeded with the seed and the
//! run's index): the number of machines, LXD 5.0.2 or current, up to four
//! transient faults (503 error envelopes, dropped connections, latency
//! spikes of up to 8 simulated seconds) on random services of random
//! machines after a random number of requests, over the unix sockets or
//! between members, and one disruption in a third of the runs:
//!
//! * the tool crashes: the apply is dropped where it stands (in-flight
//!   requests abandoned, no cancellation) when a random step starts;
//! * a machine crashes (all three services at once) on a random request,
//!   from the tool or from another member, and is restarted before the
//!   re-run (a join it cut half-way is repaired by the re-run's token
//!   step).
//!
//! Every run must end in the state of a fault-free formation of the same
//! size and LXD (the simulators' whole state, compared as the other
//! executor tests do): either the first run succeeds and is there, or it
//! fails with a report naming each failed step, and one re-run (faults
//! gone, crashed machines restarted) succeeds and is there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use executor::apply::{PlanRunner, apply};
use executor::{Event, Options, StepResult};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::Value;
use simulators::{FaultRule, LxdProfile, Service, Sim, Transport};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

struct Dice(ChaCha8Rng);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n.max(1)
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[usize::try_from(self.below(items.len() as u64)).unwrap()].clone()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disruption {
    None,
    ToolCrash { at_start: u64 },
    NodeCrash { node: usize, after: u32 },
}

/// The soak's scheduler options: short deadlines, so that a step on a
/// crashed machine gives up in seconds (the faults are transient and
/// clear within a few retries).
fn soak_options(seed: u64) -> Options {
    let mut o = options();
    o.deadlines.default = Duration::from_secs(5);
    o.seed = seed;
    o
}

/// Applies `plan`; with `abort_at`, the apply is dropped where it stands
/// when that many steps have started (the tool crashing).
async fn apply_or_crash(
    sim: &Sim,
    plan: planner::Plan,
    options: Options,
    abort_at: Option<u64>,
) -> (Option<Run>, usize) {
    let runner = Arc::new(PlanRunner::new(plan.clone(), clients(sim)));
    let (_cancel_tx, cancel) = watch::channel(false);
    let (etx, mut erx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move { apply(runner, &options, Some(etx), cancel).await });
    let mut events = Vec::new();
    let mut started = 0;
    let mut aborted = false;
    while let Some(e) = erx.recv().await {
        if matches!(e, Event::Started { .. }) {
            started += 1;
            if abort_at == Some(started) {
                task.abort();
                aborted = true;
            }
        }
        events.push(e);
    }
    let retries = events
        .iter()
        .filter(|e| matches!(e, Event::Retrying { .. }))
        .count();
    match task.await {
        Ok(report) if !aborted => (
            Some(Run {
                plan,
                report: report.unwrap(),
                events,
            }),
            retries,
        ),
        // Aborted (possibly after it had finished anyway).
        _ => (None, retries),
    }
}

/// [`state`], with what depends on the order in which the machines
/// joined left out (beyond what [`state`] already leaves out): MicroOVN
/// runs `central` on the first three members to join, so under faults
/// and crashes another three may run it, and LXD's northbound connection
/// lists those. Only how many members it lists is kept.
async fn soak_state(sim: &Sim) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, x) in map.iter_mut() {
                    if k == "network.ovn.northbound_connection"
                        && let Value::String(s) = x
                    {
                        *s = format!("{} central members", s.split(',').count());
                    } else {
                        strip(x);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = state(sim).await;
    strip(&mut v);
    v
}

/// Collects and plans, returning planning errors instead of panicking.
async fn try_plan(sim: &Sim, seed: &Seed) -> Result<planner::Plan, String> {
    let inventory = inventory(sim).await;
    planner::plan(&preseed(sim, seed), &inventory).map_err(|e| {
        e.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// The clean state of `n` machines on `profile`, computed once per pair.
async fn clean(cache: &mut BTreeMap<(usize, bool), Value>, n: usize, profile: LxdProfile) -> Value {
    let key = (n, profile == LxdProfile::Current);
    if let Some(v) = cache.get(&key) {
        return v.clone();
    }
    let sim = start(n, profile).await;
    let seed = Seed::bootstrap(&sim, n);
    let p = plan(&sim, &seed).await;
    apply_plan(&sim, p, &soak_options(0), StopAt::Never)
        .await
        .assert_succeeded("a fault-free formation");
    let v = soak_state(&sim).await;
    cache.insert(key, v.clone());
    v
}

#[derive(Default, Debug)]
struct Tally {
    runs: u64,
    by_size: BTreeMap<usize, u64>,
    legacy: u64,
    faults: u64,
    retries: usize,
    tool_crashes: u64,
    node_crashes: u64,
    node_crashes_fired: u64,
    first_clean: u64,
    first_failed_then_converged: u64,
    diverged: Vec<String>,
    failure_kinds: BTreeMap<String, u64>,
}

/// A failure message reduced to its kind, for the summary: the step's
/// action and the service's own words, without the step id, numbers or
/// operation ids (`step X on nodeN: <what>: <service, method, path>: <why>`).
fn kind_of(message: &str) -> String {
    let mut parts = message.splitn(2, ": ");
    let _step = parts.next();
    let rest = parts.next().unwrap_or(message);
    let masked: String = rest
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    let mut words: Vec<&str> = masked.split(' ').collect();
    for w in &mut words {
        if w.len() > 24 && w.contains('-') {
            *w = "<id>";
        }
    }
    words.join(" ").chars().take(200).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the chaos soak takes minutes; see the module documentation"]
async fn chaos_soak() {
    let runs = env_u64("MICROCLOUD_SOAK_RUNS").unwrap_or(200);
    let first = env_u64("MICROCLOUD_SOAK_FIRST").unwrap_or(0);
    let minutes = env_u64("MICROCLOUD_SOAK_MINUTES").unwrap_or(60);
    let seed = env_u64("MICROCLOUD_SOAK_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    eprintln!(
        "chaos soak: seed {seed}, runs {first}..{} (repeat with MICROCLOUD_SOAK_SEED={seed})",
        first + runs
    );
    let began = Instant::now();
    let mut cache = BTreeMap::new();
    let mut t = Tally::default();
    let services = [Service::Lxd, Service::Microceph, Service::Microovn];

    for i in first..first + runs {
        if i > first && (i - first).is_multiple_of(10) {
            eprintln!(
                "… {} runs in {:.0} s, {} diverged",
                t.runs,
                began.elapsed().as_secs_f64(),
                t.diverged.len()
            );
        }
        if began.elapsed() > Duration::from_secs(minutes * 60) {
            eprintln!("stopping early: {minutes} minutes elapsed");
            break;
        }
        let mut d = Dice(ChaCha8Rng::seed_from_u64(
            seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        ));
        let n = usize::try_from(3 + d.below(5)).unwrap();
        let profile = if d.below(4) == 0 {
            LxdProfile::Legacy
        } else {
            LxdProfile::Current
        };
        let disruption = match d.below(6) {
            0 => Disruption::ToolCrash {
                at_start: 1 + d.below(60),
            },
            1 => {
                // A joiner gets a dozen requests or more, the initiator
                // several dozen: the crash nearly always fires.
                let node = usize::try_from(d.below(n as u64)).unwrap();
                let calls = if node == 0 { 40 } else { 12 };
                Disruption::NodeCrash {
                    node,
                    after: u32::try_from(d.below(calls)).unwrap(),
                }
            }
            _ => Disruption::None,
        };
        let clean_state = clean(&mut cache, n, profile).await;

        let sim = start(n, profile).await;
        let names: Vec<String> = sim.nodes().iter().map(|x| x.name().to_owned()).collect();
        // Collection and planning run before the faults are armed: a
        // failure there changes nothing (the binary exits 2), and the
        // soak is about applying.
        let seed_file = Seed::bootstrap(&sim, n);
        let p = plan(&sim, &seed_file).await;
        let faults = d.below(5);
        let mut described = Vec::new();
        for _ in 0..faults {
            let node = d.pick(&names);
            let service = d.pick(&services);
            let after = u32::try_from(d.below(40)).unwrap();
            let transport = d.pick(&[Transport::Any, Transport::Unix, Transport::Https]);
            let rule = FaultRule::any();
            let rule = FaultRule {
                service: Some(service),
                ..rule
            }
            .after(after)
            .over(transport);
            let (rule, what) = match d.below(3) {
                0 => {
                    let times = u32::try_from(1 + d.below(2)).unwrap();
                    (rule.error(503).times(times), format!("503×{times}"))
                }
                1 => (rule.drop_connection().times(1), "drop".to_owned()),
                _ => {
                    let ms = 500 + d.below(7500);
                    (
                        rule.latency(Duration::from_millis(ms)).times(3),
                        format!("latency {ms} ms×3"),
                    )
                }
            };
            described.push(format!(
                "{what} on {node} {service:?} after {after} ({transport:?})"
            ));
            sim.add_fault(&node, rule).unwrap();
        }
        t.faults += faults;
        if let Disruption::NodeCrash { node, after } = disruption {
            sim.add_fault(
                &names[node],
                FaultRule::any().after(after).times(1).crash_node(),
            )
            .unwrap();
        }
        let abort_at = match disruption {
            Disruption::ToolCrash { at_start } => Some(at_start),
            _ => None,
        };
        let what = format!(
            "run {i} (seed {seed}): {n} machines, LXD {profile:?}, faults [{}], {disruption:?}",
            described.join("; ")
        );

        let (outcome, retries) = apply_or_crash(&sim, p, soak_options(i), abort_at).await;
        t.retries += retries;
        let mut crashed = false;
        for x in sim.nodes() {
            if !x.is_alive() {
                crashed = true;
            }
        }
        match disruption {
            Disruption::ToolCrash { .. } => t.tool_crashes += 1,
            Disruption::NodeCrash { .. } => {
                t.node_crashes += 1;
                if crashed {
                    t.node_crashes_fired += 1;
                }
            }
            Disruption::None => {}
        }
        *t.by_size.entry(n).or_default() += 1;
        if profile == LxdProfile::Legacy {
            t.legacy += 1;
        }
        t.runs += 1;

        // Faults left unfired must not disturb reading the state.
        for x in &names {
            sim.clear_faults(x).unwrap();
        }
        let first_ok = outcome.as_ref().is_some_and(|r| r.report.succeeded());
        if first_ok {
            let now = soak_state(&sim).await;
            if now == clean_state {
                t.first_clean += 1;
            } else {
                t.diverged.push(format!(
                    "{what}: succeeded but differs from a clean formation:\n{}",
                    diff(&now, &clean_state)
                ));
            }
            continue;
        }
        // A clear report: every failed step is named with its error.
        if let Some(r) = &outcome {
            for (id, result) in &r.report.results {
                if let StepResult::Failed { failure, .. } = result {
                    let message = failure_chain(failure);
                    assert!(!message.is_empty(), "{what}: {id} failed without a message");
                    *t.failure_kinds.entry(kind_of(&message)).or_default() += 1;
                }
            }
        } else {
            *t.failure_kinds
                .entry("the tool crashed".to_owned())
                .or_default() += 1;
        }
        // The operator runs the command again some time later: by then
        // the services have finished the requests a killed tool left in
        // flight (they run to their end, as real daemons do). Re-running
        // while they still do can fail (a join half-way looks like another
        // cluster); two simulated minutes are plenty.
        tokio::time::sleep(Duration::from_secs(120).mul_f64(TIME_SCALE)).await;
        for x in &names {
            if !sim.node(x).unwrap().is_alive() {
                sim.restart(x).unwrap();
            }
        }
        let again = match try_plan(&sim, &seed_file).await {
            Ok(p) => apply_plan(&sim, p, &soak_options(i), StopAt::Never).await,
            Err(e) => {
                t.diverged
                    .push(format!("{what}: the re-run cannot plan: {e}"));
                eprintln!("DIVERGED {what}: the re-run cannot plan: {e}");
                continue;
            }
        };
        let now = soak_state(&sim).await;
        if again.report.succeeded() && now == clean_state {
            t.first_failed_then_converged += 1;
        } else if again.report.succeeded() {
            eprintln!("DIVERGED {what}: the re-run differs from a clean formation");
            t.diverged.push(format!(
                "{what}: the re-run differs from a clean formation:\n{}",
                diff(&now, &clean_state)
            ));
        } else {
            eprintln!(
                "DIVERGED {what}: the re-run failed:\n{}",
                failures(&again.report)
            );
            t.diverged.push(format!(
                "{what}: the re-run failed:\n{}",
                failures(&again.report)
            ));
        }
    }

    eprintln!(
        "chaos soak, seed {seed}: {} runs in {:.0} s\n  machines per run: {:?}\n  on LXD 5.0.2: {}\n  transient faults injected: {} (retries seen: {})\n  tool crashes: {}\n  machine crashes: {} ({} fired)\n  first run clean: {}\n  first run failed, re-run converged: {}\n  diverged: {}\n  failures seen in first runs (kind: count): {:#?}",
        t.runs,
        began.elapsed().as_secs_f64(),
        t.by_size,
        t.legacy,
        t.faults,
        t.retries,
        t.tool_crashes,
        t.node_crashes,
        t.node_crashes_fired,
        t.first_clean,
        t.first_failed_then_converged,
        t.diverged.len(),
        t.failure_kinds
    );
    assert!(
        t.diverged.is_empty(),
        "{} runs did not converge:\n{}",
        t.diverged.len(),
        t.diverged.join("\n\n")
    );
}
