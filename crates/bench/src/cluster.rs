//! Forming a simulated cluster for the bootstrap benchmark: N machines,
//! each with one local disk (NVMe) and three Ceph disks (SCSI), under a
//! latency model at a time scale; collect → plan → apply, in one process,
//! over the simulators' real unix sockets and TLS.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use clients::lxd::LxdClient;
use clients::microceph::MicroCephClient;
use clients::microovn::MicroOvnClient;
use clients::transport::Transport;
use executor::apply::{ApplyError, NodeClients, PlanRunner};
use executor::{Event, Options, Report, StepResult};
use planner::Inventory;
use planner::plan::Plan;
use simulators::{LatencyModel, NodeSpec, Sim, SimBuilder};

/// The clients of one simulated machine.
pub type Clients = NodeClients<LxdClient, MicroCephClient, MicroOvnClient>;

/// The simulators' default machine with a third Ceph disk (`sdc`, like
/// `sdb`): one local NVMe disk, three SCSI disks for Ceph.
///
/// # Errors
///
/// Only if the embedded fixture changes shape.
pub fn fixture() -> anyhow::Result<String> {
    let mut doc: serde_json::Value = serde_json::from_str(simulators::inventory::DEFAULT_FIXTURE)?;
    let disks = doc["disks"]
        .as_array_mut()
        .ok_or_else(|| anyhow!("the default fixture has no disks"))?;
    let sdb = disks
        .iter()
        .find(|d| d["id"] == "sdb")
        .cloned()
        .ok_or_else(|| anyhow!("the default fixture has no sdb"))?;
    let mut sdc = sdb;
    for (key, value) in [
        ("id", "sdc"),
        ("device", "8:32"),
        ("device_path", "pci-0000:06:00.0-scsi-0:0:0:3"),
        ("serial", "ceph-c-{index}"),
        ("device_id", "scsi-0QEMU_QEMU_HARDDISK_ceph-c-{index}"),
        ("wwn", "0x5000c500000c000{index}"),
    ] {
        sdc[key] = value.into();
    }
    disks.push(sdc);
    Ok(doc.to_string())
}

/// Starts `n` simulated machines (current LXD) under `model` at `scale`.
///
/// # Errors
///
/// The simulators' error (no free loopback block, a socket that cannot be
/// bound).
pub async fn start(n: usize, model: &LatencyModel, scale: f64) -> anyhow::Result<Sim> {
    let inventory = fixture()?;
    let mut builder = SimBuilder::new().time_scale(scale).latency_model(model);
    for i in 1..=n {
        builder = builder.node(NodeSpec::new(&format!("node{i}")).inventory(&inventory));
    }
    builder.start().await.context("starting the simulators")
}

/// Clients for every machine of `sim`, over the unix sockets.
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

/// The preseed: every machine, `node1` initiating; OVN uplink on enp6s0,
/// underlay 10.20.0.<n> (the fixture's enp7s0; so at most 254 machines); the NVMe disk local, the SCSI disks for Ceph.
pub fn preseed_yaml(sim: &Sim) -> String {
    let mut yaml = String::new();
    let first = sim.nodes().first().map(|n| n.ip().to_string());
    let _ = writeln!(
        yaml,
        "initiator_address: {}\nsession_passphrase: bench\nsystems:",
        first.unwrap_or_default()
    );
    for (i, n) in sim.nodes().iter().enumerate() {
        let _ = writeln!(
            yaml,
            "  - name: {}\n    address: {}\n    ovn_uplink_interface: enp6s0\n    ovn_underlay_ip: 10.20.0.{}",
            n.name(),
            n.ip(),
            i + 1,
        );
    }
    yaml.push_str(
        "ovn:\n  ipv4_gateway: 192.0.2.1/24\n  ipv4_range: 192.0.2.100-192.0.2.254\n  dns_servers: 192.0.2.1\n\
         lxd:\n  local_pool_driver: btrfs\n\
         storage:\n  local:\n    - find: type == nvme\n      wipe: true\n  ceph:\n    - find: type == scsi\n      wipe: true\n",
    );
    yaml
}

/// Collects every machine (all at once) and plans.
///
/// # Errors
///
/// A collection, validation or planning failure, with its messages.
pub async fn plan(sim: &Sim) -> anyhow::Result<Plan> {
    let clients = clients(sim);
    let mut systems = Vec::new();
    let reads = sim.nodes().iter().map(|n| {
        let c = &clients[n.name()];
        collect::collect_system(
            n.name(),
            n.ip(),
            &c.lxd,
            c.microceph.as_ref(),
            c.microovn.as_ref(),
            None,
        )
    });
    for r in join_all(reads).await {
        systems.push(r.context("collecting")?);
    }
    let inventory = Inventory::new(systems, None).map_err(|e| anyhow!("inventory: {e}"))?;
    let yaml = preseed_yaml(sim);
    let report = config_loader::load(&yaml, &config_loader::FakeEnvironment::default());
    let Some(preseed) = report.preseed() else {
        bail!(
            "the generated preseed is invalid:\n{}",
            report.render("bench.yaml")
        );
    };
    planner::plan(preseed, &inventory).map_err(|errors| {
        anyhow!(
            "planning failed: {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })
}

/// Awaits futures that borrow from the caller, all at once, in order.
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// One formation.
#[derive(Debug)]
pub struct Formation {
    /// The plan applied.
    pub plan: Plan,
    /// Wall time of the apply (collection and planning excluded).
    pub elapsed: Duration,
    /// Attempts beyond the first, over all steps.
    pub retries: u32,
    /// Each step's first start and its end, from the start of the apply.
    pub timeline: Vec<(String, Duration, Duration)>,
}

/// Applies `plan` to `sim` with `options` and times it.
///
/// # Errors
///
/// Any step that did not succeed, with its error.
pub async fn apply(sim: &Sim, plan: Plan, options: &Options) -> anyhow::Result<Formation> {
    let runner = Arc::new(PlanRunner::new(plan.clone(), clients(sim)));
    let (_cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now();
    let record = async move {
        let mut started = BTreeMap::new();
        let mut timeline = Vec::new();
        while let Some(e) = events.recv().await {
            match e {
                Event::Started { step, attempt: 1 } => {
                    started.insert(step.to_string(), start.elapsed());
                }
                Event::Finished { step, .. } => {
                    let from = started.get(step.as_str()).copied().unwrap_or_default();
                    timeline.push((step.to_string(), from, start.elapsed()));
                }
                _ => {}
            }
        }
        timeline
    };
    let (report, timeline) = tokio::join!(
        executor::apply::apply(runner, options, Some(events_tx), cancel),
        record
    );
    let report = report.context("the plan's graph")?;
    let elapsed = start.elapsed();
    check(&report)?;
    let retries = report
        .results
        .values()
        .map(|r| match r {
            StepResult::Done { attempts, .. } => attempts.saturating_sub(1),
            _ => 0,
        })
        .sum();
    Ok(Formation {
        plan,
        elapsed,
        retries,
        timeline,
    })
}

fn check(report: &Report<ApplyError>) -> anyhow::Result<()> {
    let failed: Vec<String> = report
        .results
        .iter()
        .filter_map(|(id, r)| match r {
            StepResult::Done { .. } => None,
            StepResult::Failed { failure, .. } => Some(format!("{id}: {}", failure.full_message())),
            StepResult::NotStarted(why) => Some(format!("{id}: not started ({why:?})")),
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("the formation failed:\n{}", failed.join("\n"))
    }
}

/// Starts `n` machines, plans and applies with `options`.
///
/// # Errors
///
/// As [`start`], [`plan`] and [`apply`].
pub async fn form(
    n: usize,
    model: &LatencyModel,
    scale: f64,
    options: &Options,
) -> anyhow::Result<Formation> {
    let sim = start(n, model, scale).await?;
    let plan = plan(&sim).await?;
    apply(&sim, plan, options).await
}
