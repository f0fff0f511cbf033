//! `bootstrap-bench`: bootstrap wall time against cluster size on the
//! simulators, under the versioned latency model, at a time scale.
//!
//! For every size, `--runs` times each: a fresh simulated cluster formed
//! with our schedule, and another formed in MicroCloud's order (one
//! machine at a time, disks one after the other: `serial_peers`). Only the
//! apply is timed (collection and planning are not). Times are divided by
//! the time scale, so the table reads at scale 1; the lower bound comes
//! from the same model (`bench::bound`). Prints one table; `--json` adds
//! one JSON object per size.
//!
//! ```text
//! cargo run --release -p bench --bin bootstrap-bench -- --sizes 3,10,25,50 --scale 0.1 --runs 3
//! ```

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use bench::{bound, cluster, median, parse_list};
use clap::Parser;
use simulators::LatencyModel;

/// Bootstrap wall time against cluster size (simulated, latency model).
#[derive(Debug, Parser)]
#[command(name = "bootstrap-bench")]
struct Args {
    /// Cluster sizes, comma separated.
    #[arg(long, default_value = "3,10,25,50", value_parser = parse_list)]
    sizes: std::vec::Vec<usize>,
    /// Time scale of the simulation (figures are reported at scale 1).
    #[arg(long, default_value_t = 0.1)]
    scale: f64,
    /// Runs per size and schedule (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Steps at once, for both schedules (the executor's default otherwise).
    #[arg(long)]
    max_parallel: Option<usize>,
    /// Latency model file (default: the embedded model-v1.yaml).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Only our schedule (skip MicroCloud's order, which is slow).
    #[arg(long)]
    skip_serial: bool,
    /// Also print one JSON object per size.
    #[arg(long)]
    json: bool,
    /// Print each step's start and end (scale 1) of the first run of our
    /// schedule, per size, to standard error.
    #[arg(long)]
    timeline: bool,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !(args.scale > 0.0 && args.scale <= 1.0) {
        anyhow::bail!("--scale must be in (0, 1] (got {})", args.scale);
    }
    let model = match &args.model {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read latency model {}", p.display()))?;
            LatencyModel::parse(&text, &p.display().to_string())?
        }
        None => LatencyModel::v1()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let defaults = executor::Options::default();
    let ours = executor::Options {
        max_parallel: args.max_parallel.unwrap_or(defaults.max_parallel),
        ..defaults
    };
    let serial = executor::Options {
        serial_peers: true,
        ..ours.clone()
    };
    let runs = args.runs.max(1);
    println!(
        "latency model v{}, time scale {} (figures at scale 1 = measured / {}), {} run(s) each, median; max_parallel {}",
        model.version, args.scale, args.scale, runs, ours.max_parallel
    );
    println!(
        "{:>5} {:>6} {:>10} {:>10} {:>10} {:>11} {:>12}  bound decided by",
        "nodes", "steps", "ours s", "serial s", "bound s", "ours/bound", "serial/ours"
    );
    let scale_up = |d: Duration| d.div_f64(args.scale);
    for &n in &args.sizes {
        let mut ours_t = Vec::new();
        let mut serial_t = Vec::new();
        let mut retries = 0;
        let mut plan = None;
        for _ in 0..runs {
            let f = runtime.block_on(cluster::form(n, &model, args.scale, &ours))?;
            if args.timeline && ours_t.is_empty() {
                let mut steps = f.timeline.clone();
                steps.sort_by_key(|(_, from, _)| *from);
                for (id, from, to) in steps {
                    eprintln!(
                        "{n:>4} {:>8.2} {:>8.2}  {id}",
                        secs(scale_up(from)),
                        secs(scale_up(to))
                    );
                }
            }
            ours_t.push(scale_up(f.elapsed));
            retries += f.retries;
            plan = Some(f.plan);
            if !args.skip_serial {
                let f = runtime.block_on(cluster::form(n, &model, args.scale, &serial))?;
                serial_t.push(scale_up(f.elapsed));
                retries += f.retries;
            }
        }
        let Some(plan) = plan else { continue };
        let b = bound::lower_bound(&plan, &model);
        let (o, s, lb) = (median(&ours_t), median(&serial_t), b.value());
        let serial_cell = if args.skip_serial {
            "-".to_owned()
        } else {
            format!("{:.1}", secs(s))
        };
        let speedup = if args.skip_serial {
            "-".to_owned()
        } else {
            format!("{:.2}x", secs(s) / secs(o))
        };
        println!(
            "{n:>5} {:>6} {:>10.1} {serial_cell:>10} {:>10.1} {:>10.2}x {speedup:>12}  {}{}",
            plan.steps.len(),
            secs(o),
            secs(lb),
            secs(o) / secs(lb),
            b.decided_by(),
            if retries > 0 {
                format!(" ({retries} retried attempts)")
            } else {
                String::new()
            }
        );
        if args.json {
            let all = |v: &[Duration]| v.iter().map(|d| secs(*d)).collect::<Vec<_>>();
            println!(
                "{}",
                serde_json::json!({
                    "nodes": n,
                    "steps": plan.steps.len(),
                    "scale": args.scale,
                    "max_parallel": ours.max_parallel,
                    "ours_s": all(&ours_t),
                    "serial_s": all(&serial_t),
                    "bound_s": secs(lb),
                    "critical_path_s": secs(b.critical_path),
                    "bound_decided_by": b.decided_by(),
                    "retried_attempts": retries,
                })
            );
        }
    }
    Ok(())
}
