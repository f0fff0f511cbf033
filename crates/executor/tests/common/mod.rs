//! Shared helpers of the executor's simulator tests: start a simulated
//! cluster, write a preseed for it, collect → plan → apply over the real
//! sockets, and read back the whole observable state in a form that two
//! simulations on the same addresses can be compared in.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use clients::lxd::LxdClient;
use clients::microceph::MicroCephClient;
use clients::microovn::MicroOvnClient;
use clients::transport::Transport;
use executor::apply::{ApplyError, NodeClients, PlanRunner, apply};
use executor::{Event, NotStarted, Options, Outcome, Report, RetryPolicy, StepResult};
use planner::inventory::Inventory;
use planner::plan::{Plan, Status};
use serde_json::Value;
use simulators::{LxdProfile, Sim, SimBuilder};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Typed clients of one node.
pub type Clients = NodeClients<LxdClient, MicroCephClient, MicroOvnClient>;

/// Simulated durations are multiplied by this: a 4.6 s Ceph pool creation
/// takes 46 ms, so that operations still overlap as they do for real.
pub const TIME_SCALE: f64 = 0.01;

/// Starts `nodes` simulated nodes with `profile` on a free random
/// `127.x.y.0/24` block (so that parallel tests, and test runs of other
/// checkouts on the same machine, never collide).
pub async fn start(nodes: usize, profile: LxdProfile) -> Sim {
    SimBuilder::new()
        .nodes(nodes)
        .profile(profile)
        .time_scale(TIME_SCALE)
        .start()
        .await
        .unwrap()
}

/// Clients for every node of `sim`, over the unix sockets.
pub fn clients(sim: &Sim) -> BTreeMap<String, Clients> {
    sim.nodes()
        .iter()
        .map(|n| {
            let name = n.name().to_owned();
            let c = NodeClients {
                lxd: LxdClient::new(Transport::unix(n.lxd_socket()), &name),
                microceph: Some(MicroCephClient::new(
                    Transport::unix(n.microceph_socket()),
                    &name,
                )),
                microovn: Some(MicroOvnClient::new(
                    Transport::unix(n.microovn_socket()),
                    &name,
                )),
            };
            (name, c)
        })
        .collect()
}

/// The preseed of one run.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The initiator (by node name).
    pub initiator: String,
    /// The listed systems (by node name): the initiator among them means
    /// bootstrap mode, else add mode.
    pub systems: Vec<String>,
    /// Whether the local pool's disk is wiped (LXD 5.0.2 cannot).
    pub wipe_local: bool,
}

impl Seed {
    /// Bootstrap with the first `n` nodes of `sim`, `node1` initiating.
    pub fn bootstrap(sim: &Sim, n: usize) -> Seed {
        Seed {
            initiator: sim.nodes()[0].name().to_owned(),
            systems: sim.nodes()[..n]
                .iter()
                .map(|s| s.name().to_owned())
                .collect(),
            wipe_local: sim.nodes()[0].lxd_profile() == LxdProfile::Current,
        }
    }

    /// Add `systems` to the cluster `node1` belongs to.
    pub fn add(sim: &Sim, systems: &[&str]) -> Seed {
        Seed {
            initiator: sim.nodes()[0].name().to_owned(),
            systems: systems.iter().map(|s| (*s).to_owned()).collect(),
            wipe_local: sim.nodes()[0].lxd_profile() == LxdProfile::Current,
        }
    }
}

/// A preseed for the simulated nodes: OVN uplink on enp6s0, underlay on
/// enp7s0 (10.20.0.<node index>), local disk by filter, Ceph on the SCSI
/// disks.
pub fn preseed(sim: &Sim, seed: &Seed) -> config_loader::Preseed {
    let ip = |name: &str| sim.node(name).unwrap().ip();
    let mut yaml = format!(
        "initiator_address: {}\nsession_passphrase: sim\nsystems:\n",
        ip(&seed.initiator)
    );
    for name in &seed.systems {
        let index = sim.nodes().iter().position(|n| n.name() == name).unwrap();
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {}\n    ovn_uplink_interface: enp6s0\n    ovn_underlay_ip: 10.20.0.{}\n",
            ip(name),
            index + 1
        ));
    }
    yaml.push_str(&format!(
        "ovn:\n  ipv4_gateway: 192.0.2.1/24\n  ipv4_range: 192.0.2.100-192.0.2.254\n  dns_servers: 192.0.2.1\n\
         lxd:\n  local_pool_driver: btrfs\n\
         storage:\n  local:\n    - find: type == nvme\n      wipe: {}\n  ceph:\n    - find: type == scsi\n      wipe: true\n",
        seed.wipe_local
    ));
    let report = config_loader::load(&yaml, &config_loader::FakeEnvironment::default());
    report
        .preseed()
        .cloned()
        .unwrap_or_else(|| panic!("{}", report.render("sim.yaml")))
}

/// The planner's inventory, collected from every node of `sim`; the
/// cluster state is read through `node1` when it is clustered.
pub async fn inventory(sim: &Sim) -> Inventory {
    let clients = clients(sim);
    let mut systems = Vec::new();
    for n in sim.nodes() {
        let c = &clients[n.name()];
        let s = collect::collect_system(
            n.name(),
            n.ip(),
            &c.lxd,
            c.microceph.as_ref(),
            c.microovn.as_ref(),
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("collecting {}: {e}", n.name()));
        systems.push(s);
    }
    let first = &clients[sim.nodes()[0].name()];
    let members: Vec<String> = systems[0]
        .services
        .lxd
        .as_ref()
        .map(|l| l.cluster_members.clone())
        .unwrap_or_default();
    let cluster = if members.is_empty() {
        None
    } else {
        Some(
            collect::collect_cluster(&first.lxd, first.microceph.as_ref(), &members)
                .await
                .unwrap(),
        )
    };
    Inventory::new(systems, cluster).unwrap()
}

/// Collects and plans.
pub async fn plan(sim: &Sim, seed: &Seed) -> Plan {
    let inventory = inventory(sim).await;
    planner::plan(&preseed(sim, seed), &inventory).unwrap_or_else(|e| {
        panic!(
            "planning failed: {}",
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })
}

/// Scheduler options for the tests: short retry delays (the simulated
/// services recover at once), fixed seed.
pub fn options() -> Options {
    Options {
        deadlines: executor::Deadlines {
            per_class: BTreeMap::new(),
            default: Duration::from_secs(20),
        },
        retry: RetryPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            multiplier: 2.0,
            jitter: 0.3,
        },
        ..Options::default()
    }
}

/// What one apply did.
#[derive(Debug)]
pub struct Run {
    /// The plan applied.
    pub plan: Plan,
    /// Its report.
    pub report: Report<ApplyError>,
    /// Every event, in order.
    pub events: Vec<Event>,
}

impl Run {
    /// Steps the plan had left to do.
    pub fn todo(&self) -> usize {
        self.plan
            .steps
            .iter()
            .filter(|s| matches!(s.status, Status::ToDo))
            .count()
    }

    /// Attempts of `step` (0 when it did not start).
    pub fn attempts(&self, step: &str) -> u32 {
        match &self.report.results[step] {
            StepResult::Done { attempts, .. } | StepResult::Failed { attempts, .. } => *attempts,
            StepResult::NotStarted(_) => 0,
        }
    }

    /// Retry events, rendered (printed by the tests to spot flakiness).
    pub fn retries(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Retrying { step, error, .. } => Some(format!("{step}: {error}")),
                _ => None,
            })
            .collect()
    }

    /// Asserts that every step succeeded.
    pub fn assert_succeeded(&self, what: &str) {
        assert!(
            self.report.succeeded(),
            "{what} failed:\n{}",
            failures(&self.report)
        );
    }
}

/// When to cancel a run.
#[derive(Debug, Clone, Default)]
pub enum StopAt {
    /// Never.
    #[default]
    Never,
    /// As soon as this step's `Finished` event arrives.
    Finished(String),
    /// As soon as any step's first `Retrying` event arrives.
    FirstRetry,
}

/// Applies `plan` to `sim` with `options`, cancelling as `stop` says.
pub async fn apply_plan(sim: &Sim, plan: Plan, options: &Options, stop: StopAt) -> Run {
    let runner = PlanRunner::new(plan.clone(), clients(sim));
    let (cancel_tx, cancel) = watch::channel(false);
    let (etx, mut erx) = tokio::sync::mpsc::unbounded_channel();
    let consume = async move {
        let mut events = Vec::new();
        while let Some(e) = erx.recv().await {
            let hit = match (&stop, &e) {
                (StopAt::Finished(id), Event::Finished { step, .. }) => *step == id.as_str(),
                (StopAt::FirstRetry, Event::Retrying { .. }) => true,
                _ => false,
            };
            if hit {
                let _ = cancel_tx.send(true);
            }
            events.push(e);
        }
        events
    };
    let (report, events) =
        tokio::join!(apply(Arc::new(runner), options, Some(etx), cancel), consume);
    let run = Run {
        plan,
        report: report.unwrap(),
        events,
    };
    for r in run.retries() {
        eprintln!("retried {r}");
    }
    run
}

/// Collect, plan and apply `seed` once.
pub async fn run(sim: &Sim, seed: &Seed) -> Run {
    let plan = plan(sim, seed).await;
    apply_plan(sim, plan, &options(), StopAt::Never).await
}

/// Every step that did not succeed, one a line.
pub fn failures(report: &Report<ApplyError>) -> String {
    report
        .results
        .iter()
        .filter_map(|(id, r)| match r {
            StepResult::Failed { failure, .. } => Some(format!("{id}: {}", failure_chain(failure))),
            StepResult::NotStarted(why) => Some(format!("{id}: not started ({why:?})")),
            StepResult::Done { .. } => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An error and its sources, joined by ": ".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}

/// A failure with the whole chain of its error.
pub fn failure_chain(f: &executor::Failure<ApplyError>) -> String {
    match f {
        executor::Failure::Permanent(e) => chain(e),
        executor::Failure::DeadlineExceeded { last: Some(e), .. } => {
            format!("{f}; chain: {}", chain(e))
        }
        executor::Failure::Cancelled { last } => format!("{f}; chain: {}", chain(last)),
        executor::Failure::DeadlineExceeded { last: None, .. } => f.to_string(),
    }
}

/// Steps whose outcome was `outcome`.
pub fn with_outcome(report: &Report<ApplyError>, outcome: Outcome) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|(_, r)| matches!(r, StepResult::Done { outcome: o, .. } if *o == outcome))
        .map(|(id, _)| id.to_string())
        .collect()
}

/// Steps that did not start, and why.
pub fn not_started(report: &Report<ApplyError>) -> BTreeMap<String, NotStarted> {
    report
        .results
        .iter()
        .filter_map(|(id, r)| match r {
            StepResult::NotStarted(why) => Some((id.to_string(), *why)),
            _ => None,
        })
        .collect()
}

/// Every step that depends on `step`, directly or not.
pub fn dependants(plan: &Plan, step: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut grew = true;
    while grew {
        grew = false;
        for s in &plan.steps {
            if out.contains(s.id.as_str()) {
                continue;
            }
            if s.depends_on
                .iter()
                .any(|d| *d == step || out.contains(d.as_str()))
            {
                out.insert(s.id.to_string());
                grew = true;
            }
        }
    }
    out
}

/// The observable state of the whole simulation: every node's inventory
/// (membership of each service, server configuration, disks and what
/// holds them, interfaces) and the cluster state read through `node1`
/// (pools and networks with per-member configuration, profiles, volumes,
/// MicroCeph networks, OSDs and pools).
///
/// OSD numbers and the order of members and OSDs depend on the order in
/// which parallel steps joined nodes and added disks, so OSD numbers are
/// left out and those lists are sorted; LXD's API extensions are left out
/// (fixed by the profile, and long). Everything else is kept as the
/// services report it.
///
/// Nodes live on one `127.x.y.0/24` block per simulation: `127.x.y.` is
/// written `<net>.` so that the states of two simulations compare.
pub async fn state(sim: &Sim) -> Value {
    let inv = inventory(sim).await;
    // What each member's Open vSwitch keeps as its OVN encapsulation IP
    // (MicroOVN sets it at bootstrap or join and no API returns it), read
    // from the simulator rather than from what the tool meant to send.
    let encap_ips: BTreeMap<String, Option<String>> = sim
        .nodes()
        .iter()
        .map(|n| (n.name().to_owned(), n.ovn_encap_ip()))
        .collect();
    let mut v = serde_json::json!({
        "systems": inv.systems().collect::<Vec<_>>(),
        "cluster": inv.cluster(),
        "ovn_encap_ips": encap_ips,
    });
    let IpAddr::V4(first) = sim.nodes()[0].ip() else {
        panic!("simulated nodes have IPv4 addresses")
    };
    let [a, b, c, _] = first.octets();
    normalise(&mut v, &format!("{a}.{b}.{c}."));
    v
}

fn normalise(v: &mut Value, net: &str) {
    match v {
        Value::String(s) => *s = s.replace(net, "<net>."),
        Value::Object(map) => {
            map.remove("ceph_osd");
            map.remove("api_extensions");
            if let Some(Value::Array(members)) = map.get_mut("cluster_members") {
                members.sort_by_key(ToString::to_string);
            }
            if let Some(Value::Array(osds)) = map.get_mut("osds") {
                for o in osds.iter_mut() {
                    if let Value::Object(o) = o {
                        o.remove("osd");
                    }
                }
                osds.sort_by_key(ToString::to_string);
            }
            for x in map.values_mut() {
                normalise(x, net);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| normalise(x, net)),
        _ => {}
    }
}

/// The state of a 3-node cluster formed without faults with `profile`,
/// computed once per test binary and profile (and normalised like
/// [`state`], so any simulation's state compares with it).
pub async fn clean_state(profile: LxdProfile) -> Value {
    static CURRENT: tokio::sync::OnceCell<Value> = tokio::sync::OnceCell::const_new();
    static LEGACY: tokio::sync::OnceCell<Value> = tokio::sync::OnceCell::const_new();
    let cell = match profile {
        LxdProfile::Current => &CURRENT,
        LxdProfile::Legacy => &LEGACY,
    };
    cell.get_or_init(|| async {
        let sim = start(3, profile).await;
        let run = run(&sim, &Seed::bootstrap(&sim, 3)).await;
        run.assert_succeeded("the clean run");
        state(&sim).await
    })
    .await
    .clone()
}

/// The state after forming a 3-node cluster out of 4 machines and then
/// adding the fourth (add mode) without faults, with `profile`; computed
/// once per test binary and profile.
pub async fn clean_add_state(profile: LxdProfile) -> Value {
    static CURRENT: tokio::sync::OnceCell<Value> = tokio::sync::OnceCell::const_new();
    static LEGACY: tokio::sync::OnceCell<Value> = tokio::sync::OnceCell::const_new();
    let cell = match profile {
        LxdProfile::Current => &CURRENT,
        LxdProfile::Legacy => &LEGACY,
    };
    cell.get_or_init(|| async {
        let sim = start(4, profile).await;
        run(&sim, &Seed::bootstrap(&sim, 3))
            .await
            .assert_succeeded("the clean 3-node run");
        run(&sim, &Seed::add(&sim, &["node4"]))
            .await
            .assert_succeeded("the clean add");
        state(&sim).await
    })
    .await
    .clone()
}

/// Asserts that `sim` is in the state of a clean formation.
pub async fn assert_clean(sim: &Sim, profile: LxdProfile, what: &str) {
    let clean = clean_state(profile).await;
    let now = state(sim).await;
    assert!(
        now == clean,
        "{what}: the state differs from a clean run's:\n{}",
        diff(&now, &clean)
    );
}

/// A readable difference between two states (first differing paths).
pub fn diff(a: &Value, b: &Value) -> String {
    let mut out = Vec::new();
    diff_into(a, b, String::new(), &mut out);
    out.truncate(20);
    out.join("\n")
}

fn diff_into(a: &Value, b: &Value, path: String, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                diff_into(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    format!("{path}.{k}"),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff_into(p, q, format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}
