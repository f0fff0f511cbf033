//! `microcloud-sim`: runs N simulated nodes (LXD + MicroCeph + MicroOVN
//! each, or a subset with `--services`) on this machine until Ctrl-C, and
//! prints what it started.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};
use simulators::{
    CephCli, FaultScript, LatencyModel, LxdProfile, McFamily, NodeSpec, Service, SimBuilder,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Profile {
    /// LXD 5.0.2 (Debian bookworm).
    Legacy,
    /// LXD 6.8+.
    Current,
}

/// Which microcluster MicroCeph is built on.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum MicroCeph {
    /// squid and newer: microcluster v2+, `/core` endpoints.
    Squid,
    /// reef (18.2): microcluster from before the rename, `/cluster`
    /// endpoints.
    Reef,
}

impl From<MicroCeph> for McFamily {
    fn from(m: MicroCeph) -> Self {
        match m {
            MicroCeph::Squid => McFamily::Core,
            MicroCeph::Reef => McFamily::Cluster,
        }
    }
}

impl From<Profile> for LxdProfile {
    fn from(p: Profile) -> Self {
        match p {
            Profile::Legacy => LxdProfile::Legacy,
            Profile::Current => LxdProfile::Current,
        }
    }
}

/// A simulated service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ServiceArg {
    Lxd,
    Microceph,
    Microovn,
}

impl From<ServiceArg> for Service {
    fn from(s: ServiceArg) -> Self {
        match s {
            ServiceArg::Lxd => Service::Lxd,
            ServiceArg::Microceph => Service::Microceph,
            ServiceArg::Microovn => Service::Microovn,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Simulated LXD, MicroCeph and MicroOVN nodes for testing microcloud.
#[derive(Debug, Parser)]
#[command(name = "microcloud-sim", version)]
struct Args {
    /// Number of nodes (named node1, node2, …).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Directory for the unix sockets (`<dir>/<node>/<service>/…`).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Address of node1; the others follow (127.0.0.2, …).
    #[arg(long, default_value = "127.0.0.1")]
    base_ip: Ipv4Addr,
    /// LXD behaviour profile of every node.
    #[arg(long, value_enum, default_value = "current")]
    profile: Profile,
    /// MicroCeph's microcluster endpoint family on every node: `reef`
    /// serves `/cluster/1.0` and `/cluster/control`, `squid` (and newer)
    /// `/core/...`.
    #[arg(long, value_enum, default_value = "squid")]
    microceph: MicroCeph,
    /// Per-node profile override, `NODE=legacy|current` (repeatable).
    #[arg(long = "node-profile", value_name = "NODE=PROFILE")]
    node_profile: Vec<String>,
    /// Inventory fixture (JSON, `{ip}`/`{index}`/`{name}` placeholders)
    /// for every node; the embedded default otherwise.
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// Fault script (JSON or YAML).
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Services every node serves (comma-separated). Leave one out to use
    /// a real daemon in its place, e.g. `--services microceph,microovn`
    /// next to a real LXD per machine: the left-out service gets no socket.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "lxd,microceph,microovn"
    )]
    services: Vec<ServiceArg>,
    /// Answer MicroCeph's pool calls (list, replication) from a real Ceph
    /// cluster by running this command as its `ceph` CLI, e.g.
    /// `ip netns exec NS ceph --conf PATH` (split on whitespace).
    #[arg(long, value_name = "COMMAND")]
    ceph_cli: Option<String>,
    /// Multiplier for simulated durations and injected latencies.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Latency model (YAML, e.g. crates/simulators/latency/model-v1.yaml):
    /// operation durations and a cost added to every request; `v1` for the
    /// embedded version 1. Without it, the built-in durations and no
    /// per-request cost.
    #[arg(long, value_name = "FILE|v1")]
    latency_model: Option<PathBuf>,
    /// Output format of the start-up summary.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Instead of waiting for Ctrl-C: run this command (after `--`) against
    /// the started nodes, then stop them and exit with its status.
    #[arg(long, num_args = 1.., allow_hyphen_values = true, value_name = "COMMAND")]
    run: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.nodes == 0 || args.nodes > 250 {
        bail!("--nodes must be between 1 and 250 (got {})", args.nodes);
    }
    let inventory = match &args.inventory {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read inventory fixture {}", p.display()))?,
        ),
        None => None,
    };
    let mut overrides = Vec::new();
    for o in &args.node_profile {
        let Some((node, profile)) = o.split_once('=') else {
            bail!("--node-profile {o:?}: expected NODE=legacy|current");
        };
        let profile = Profile::from_str(profile, true).map_err(|_| {
            anyhow::anyhow!("--node-profile {o:?}: profile must be legacy or current")
        })?;
        overrides.push((node.to_string(), LxdProfile::from(profile)));
    }
    let services: Vec<Service> = args.services.iter().map(|s| Service::from(*s)).collect();
    let mut builder = SimBuilder::new()
        .base_ip(args.base_ip)
        .time_scale(args.time_scale)
        .services(&services);
    if let Some(command) = &args.ceph_cli {
        builder = builder.ceph_cli(CephCli::parse(command)?);
    }
    if let Some(path) = &args.latency_model {
        let model = if path.as_os_str() == "v1" {
            LatencyModel::v1()?
        } else {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read latency model {}", path.display()))?;
            LatencyModel::parse(&text, &path.display().to_string())?
        };
        builder = builder.latency_model(&model);
    }
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("microcloud-sim"));
    builder = builder.state_dir(&state_dir);
    for i in 1..=args.nodes {
        let name = format!("node{i}");
        let profile = overrides
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
            .unwrap_or(args.profile.into());
        let mut spec = NodeSpec::new(&name)
            .profile(profile)
            .microceph_family(args.microceph.into());
        if let Some(inv) = &inventory {
            spec = spec.inventory(inv);
        }
        builder = builder.node(spec);
    }
    for (node, _) in &overrides {
        let known = (1..=args.nodes).any(|i| format!("node{i}") == *node);
        if !known {
            bail!(
                "--node-profile names {node:?}, but the nodes are node1..node{}",
                args.nodes
            );
        }
    }
    let sim = builder
        .start()
        .await
        .context("cannot start the simulated nodes")?;
    if let Some(path) = &args.faults {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read fault script {}", path.display()))?;
        let script = FaultScript::parse(&text, &path.display().to_string())?;
        sim.apply_script(&script)?;
    }
    let command = match args.run.first().map(String::as_str) {
        Some("--") => &args.run[1..],
        _ => &args.run[..],
    };
    if let Some((program, rest)) = command.split_first() {
        eprintln!(
            "microcloud-sim: {} simulated node(s) on {} (state in {})",
            sim.nodes().len(),
            args.base_ip,
            sim.state_dir().display()
        );
        let status = tokio::process::Command::new(program)
            .args(rest)
            .status()
            .await
            .with_context(|| format!("cannot run {program}"))?;
        drop(sim);
        std::process::exit(status.code().unwrap_or(1));
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&sim.summary())?),
        Format::Text => print_text(&sim),
    }
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    eprintln!("stopping");
    Ok(())
}

fn print_text(sim: &simulators::Sim) {
    println!("state directory: {}", sim.state_dir().display());
    for n in sim.nodes() {
        if n.serves(Service::Lxd) {
            println!(
                "{} ({}), LXD {} ({:?})",
                n.name(),
                n.ip(),
                n.lxd_profile().server_version(),
                n.lxd_profile()
            );
        } else {
            println!("{} ({})", n.name(), n.ip());
        }
        let services = [
            (Service::Lxd, n.lxd_socket(), n.lxd_server_fingerprint()),
            (
                Service::Microceph,
                n.microceph_socket(),
                n.microceph_server_fingerprint(),
            ),
            (
                Service::Microovn,
                n.microovn_socket(),
                n.microovn_server_fingerprint(),
            ),
        ];
        for (service, socket, fingerprint) in services {
            if n.serves(service) {
                println!("  {:<10} {}", service.name(), socket.display());
                println!("             server certificate {fingerprint}");
            } else {
                println!("  {:<10} not simulated", service.name());
            }
        }
        println!(
            "  HTTPS: set LXD core.https_address / microcluster address to {}:<port>",
            n.ip()
        );
    }
    println!("Ctrl-C to stop.");
}
